import Raft
import SpoolCluster
import SpoolCore
import SpoolReplication
import Testing

/// What the router does with messages no driver here can take (the cluster tests cover the rest:
/// every message between their replicas goes through a router).
@Suite("Replica router", .timeLimit(.minutes(1)))
struct ReplicaRouterTests {
    @Test func messagesForAnUnknownGroupOrWithoutATransportAreCountedAndDropped() {
        let router = ReplicaRouter()
        let other = RaftGroupID(topic: TopicID(9), partition: PartitionID(1))
        router.receive(from: 2, [
            AddressedMessage(group: other, message: Message(kind: .heartbeat, from: 2, to: 1, term: 1)),
            AddressedMessage(group: .metadata, message: Message(kind: .heartbeat, from: 2, to: 1, term: 1)),
        ])
        router.send([Message(kind: .heartbeatResponse, from: 1, to: 2, term: 1)], group: other)
        router.send([], group: other)
        let counts = router.counts
        #expect(counts.delivered == 0 && counts.droppedUnknownGroup == 2 && counts.droppedNoTransport == 1, "\(counts)")
    }
}
