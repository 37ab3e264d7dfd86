import Raft
import SpoolCluster
import SpoolCore
import SpoolGroups
import Testing

/// The reports brokers send the groups' coordinator and its answers (docs/cluster.md "Consumer
/// groups in a cluster").
@Suite("Group reports between brokers")
struct GroupSyncTests {
    let limits = SpoolLimits()

    func tp(_ topic: String, _ partition: Int32) -> TopicPartition { TopicPartition(topic: TopicName(topic)!, partition: PartitionID(partition)) }

    @Test func reportsAndAnswersRoundTrip() {
        let request = GroupSyncRequest(
            broker: NodeID(2), incarnation: 0xBEEF, sequence: 1 << 40,
            members: [
                MemberReport(
                    member: "c1-n2-a1b2", group: GroupName("billing")!, topics: [TopicName("orders")!, TopicName("refunds")!], sessionTimeoutMs: 6_000,
                    autoCommit: true, generation: Generation(3_000_004), held: [tp("orders", 0), tp("refunds", 3)]),
                MemberReport(
                    member: "c2-n2-a1b2", group: GroupName("audit")!, topics: [TopicName("orders")!], sessionTimeoutMs: 30_000, autoCommit: false,
                    generation: .initial, held: []),
            ])
        #expect(GroupSyncRequest(payload: request.payload, limits: limits) == request)
        #expect(GroupSyncRequest(payload: GroupSyncRequest(broker: NodeID(3), members: []).payload, limits: limits)?.members == [])
        let answers: [GroupSyncReply] = [
            .notCoordinator(leader: NodeID(1)), .notCoordinator(leader: .none),
            .targets([
                MemberTarget(member: "c1-n2-a1b2", state: .active(Generation(3_000_005), [tp("orders", 0), tp("orders", 1)])),
                MemberTarget(member: "c2-n2-a1b2", state: .removed(.sessionExpired)),
                MemberTarget(member: "c3-n2-a1b2", state: .refused("the cluster has its limit of 1 groups with members")),
            ]),
        ]
        for answer in answers { #expect(GroupSyncReply(payload: answer.payload, limits: limits) == answer, "\(answer)") }
    }

    @Test func bytesThisBuildCannotReadAreRefusedNotGuessed() {
        let good = GroupSyncRequest(
            broker: NodeID(1),
            members: [
                MemberReport(
                    member: "c1", group: GroupName("g")!, topics: [TopicName("t")!], sessionTimeoutMs: 1_000, autoCommit: true, generation: Generation(1),
                    held: [tp("t", 0)])
            ]
        ).payload
        // Every truncation, a trailing byte, another version.
        for length in 0..<good.count { #expect(GroupSyncRequest(payload: Array(good[..<length]), limits: limits) == nil, "cut at \(length)") }
        #expect(GroupSyncRequest(payload: good + [0], limits: limits) == nil)
        #expect(GroupSyncRequest(payload: [1] + good.dropFirst(), limits: limits) == nil, "another version")
        let answer = GroupSyncReply.targets([MemberTarget(member: "c1", state: .active(Generation(2), [tp("t", 0)]))]).payload
        for length in 0..<answer.count { #expect(GroupSyncReply(payload: Array(answer[..<length]), limits: limits) == nil, "cut at \(length)") }
        #expect(GroupSyncReply(payload: answer + [9], limits: limits) == nil)
    }
}
