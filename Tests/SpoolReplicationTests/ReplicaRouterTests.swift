import Raft
import SpoolCluster
import SpoolCore
import SpoolReplication
import Testing

/// What the router does with messages no driver here can take (the cluster tests cover the rest:
/// every message between their replicas goes through a router).
@Suite("Replica router", .timeLimit(.minutes(1)))
struct ReplicaRouterTests {
    @Test func messagesForAnUnknownGroupAreHeldWithinBoundsAndThoseWithoutATransportDropped() {
        let router = ReplicaRouter()
        let other = RaftGroupID(topic: TopicID(9), partition: PartitionID(1))
        router.receive(from: 2, [
            AddressedMessage(group: other, message: Message(kind: .heartbeat, from: 2, to: 1, term: 1)),
            AddressedMessage(group: .metadata, message: Message(kind: .heartbeat, from: 2, to: 1, term: 1)),
        ])
        router.send([Message(kind: .heartbeatResponse, from: 1, to: 2, term: 1)], group: other)
        router.send([], group: other)
        var counts = router.counts
        #expect(counts.delivered == 0 && counts.held == 2 && counts.droppedUnknownGroup == 0 && counts.droppedNoTransport == 1, "\(counts)")
        // At most 64 messages are held per group: the rest are dropped (Raft sends again).
        router.receive(from: 2, (0..<70).map { _ in AddressedMessage(group: other, message: Message(kind: .heartbeat, from: 2, to: 1, term: 1)) })
        counts = router.counts
        #expect(counts.held == 65 && counts.droppedUnknownGroup == 7, "\(counts)")
    }
}
