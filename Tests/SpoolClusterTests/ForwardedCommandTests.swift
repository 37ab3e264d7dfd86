import Raft
import SpoolCluster
import SpoolCore
import Testing

/// The encodings of what brokers forward to each other (`PeerService.command`).
@Suite("Forwarded commands")
struct ForwardedCommandTests {
    let limits = SpoolLimits()
    let topic = TopicName("orders")!

    @Test func everyCommandRoundTrips() {
        let commands: [ForwardedCommand] = [
            .leaderStates(topic: nil), .leaderStates(topic: topic),
            .publish(ForwardedPublish(topic: topic, partition: PartitionID(2), key: Array("k".utf8), value: Array("v".utf8), acks: .all, hops: 1)),
            .publish(ForwardedPublish(topic: topic, partition: PartitionID(0), key: nil, value: [], acks: .leader, hops: 0)),
            .fetch(topic: topic, partition: PartitionID(1), start: .earliest, maxRecords: 10, waitMs: 0),
            .fetch(topic: topic, partition: PartitionID(1), start: .latest, maxRecords: 1, waitMs: 500),
            .fetch(topic: topic, partition: PartitionID(1), start: .offset(Offset(42)), maxRecords: 10_000, waitMs: 0),
            .offsets(topic: topic, partition: PartitionID(3), time: nil), .offsets(topic: topic, partition: PartitionID(3), time: TimestampMs(1_700)),
            .describe(topic: topic, partitions: [PartitionID(0), PartitionID(2)]),
            .verifyBounds(topic: topic, partition: PartitionID(1)),
            .verifyChecksum(topic: topic, partition: PartitionID(1), from: Offset(3), upTo: Offset(90)),
            .groupSync([1, 2, 3]),
            .commitOffset(
                ForwardedOffsetCommit(
                    topic: topic, partition: PartitionID(4), group: GroupName("billing")!, nextOffset: Offset(12), generation: 3_000_002,
                    member: "c7-n2-a1b2", hops: 1)),
            .committedOffset(topic: topic, partition: PartitionID(0), group: GroupName("billing")!),
            .groupInfo(group: nil), .groupInfo(group: GroupName("billing")!),
            .lag(topic: topic, group: GroupName("billing")!, live: true, partitions: [PartitionID(1), PartitionID(5)]),
        ]
        for command in commands { #expect(ForwardedCommand(payload: command.payload, limits: limits) == command, "\(command)") }
    }

    @Test func resultsAndLeaderStatesRoundTrip() {
        let error = SpoolError(.unavailable, "partition 0 of orders: not the leader (leader n2)")
        guard case .appended(let offset)? = ForwardedResult(payload: ForwardedResult.appended(Offset(7)).payload) else {
            Issue.record("appended")
            return
        }
        #expect(offset == Offset(7))
        guard case .failed(let back)? = ForwardedResult(payload: ForwardedResult.failed(error).payload) else {
            Issue.record("failed")
            return
        }
        #expect(back.code == error.code && back.message == error.message)
        guard case .rendered(let bytes)? = ForwardedResult(payload: ForwardedResult.rendered(Array("OK\n".utf8)).payload) else {
            Issue.record("rendered")
            return
        }
        #expect(bytes == Array("OK\n".utf8))
        let states = [
            LeaderState(topic: topic, partition: PartitionID(0), term: Term(3), leader: NodeID(2), inSync: [NodeID(1), NodeID(2)], high: Offset(9)),
            LeaderState(topic: topic, partition: PartitionID(1), term: Term(1), leader: NodeID(2), inSync: [NodeID(2)], high: Offset(0)),
        ]
        #expect(LeaderState.states(payload: LeaderState.payload(states), limits: limits) == states)
        #expect(LeaderState.states(payload: LeaderState.payload([]), limits: limits) == [])
    }

    @Test func bytesThisBuildCannotReadAreRefused() {
        let publish = ForwardedCommand.publish(
            ForwardedPublish(topic: topic, partition: PartitionID(0), key: nil, value: Array("v".utf8), acks: .all, hops: 1)).payload
        #expect(ForwardedCommand(payload: [], limits: limits) == nil)
        #expect(ForwardedCommand(payload: [2] + publish.dropFirst(), limits: limits) == nil, "another version")
        #expect(ForwardedCommand(payload: [1, 99], limits: limits) == nil, "unknown kind")
        #expect(ForwardedCommand(payload: Array(publish.dropLast()), limits: limits) == nil, "cut short")
        #expect(ForwardedCommand(payload: publish + [0], limits: limits) == nil, "trailing bytes")
        var small = SpoolLimits()
        small.payloadBytes = 0
        #expect(ForwardedCommand(payload: publish, limits: small) == nil, "a value over the payload limit")
        #expect(ForwardedResult(payload: [9]) == nil)
        let backwards = ForwardedCommand.verifyChecksum(topic: topic, partition: PartitionID(0), from: Offset(5), upTo: Offset(5)).payload
        #expect(ForwardedCommand(payload: Array(backwards.dropLast(8)) + [0, 0, 0, 0, 0, 0, 0, 4], limits: limits) == nil, "upto below from")
        #expect(ForwardedResult(payload: [1, 0, 3] + Array("NOPE".utf8)) == nil, "unknown error code")
        #expect(LeaderState.states(payload: [0, 0, 0, 1], limits: limits) == nil)
    }
}
