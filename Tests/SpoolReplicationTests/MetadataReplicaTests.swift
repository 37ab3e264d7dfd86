import Raft
import SpoolCluster
import SpoolCore
import SpoolFaultProxy
import SpoolReplication
import Testing

/// The cluster's metadata group run for real: three brokers in this process, each a
/// `MetadataReplica` over its own SQLite file, talking over TCP (through `FaultProxy`).
@Suite("The metadata group over real TCP and files", .timeLimit(.minutes(2)))
struct MetadataReplicaTests {
    static func name(_ text: String) -> TopicName { TopicName(text, maxBytes: 255)! }

    /// A CREATE the way a broker proposes it: placement computed by the proposer.
    static func create(_ topic: String, partitions: Int, replication: Int, on metadata: ClusterMetadata) throws -> MetadataCommand {
        let replicas = try Placement.place(partitions: partitions, replication: replication, brokers: metadata.voters, load: metadata.load)
        return .createTopic(name: name(topic), replicas: replicas, createdMs: 1_000)
    }

    @Test func everyBrokerAppliesTheSameCommandsAndTheProposerHearsItsOutcome() async throws {
        try await ReplicaTestCluster.with(nodes: 3, metadataGroup: true) { cluster in
            let leader = try await cluster.waitForLeader()
            let replica = cluster.metadata(leader)
            let created = try await replica.propose(Self.create("orders", partitions: 3, replication: 3, on: replica.metadata), timeoutMs: 10_000)
            guard case .created(let placement) = created else {
                Issue.record("created: \(created)")
                return
            }
            #expect(placement.id == TopicID(1) && placement.replicas.count == 3)
            #expect(placement.replicas.allSatisfy { Set($0) == Set(cluster.ids) })
            // The same name again: committed, and rejected alike everywhere.
            let again = try await replica.propose(Self.create("orders", partitions: 1, replication: 1, on: replica.metadata), timeoutMs: 10_000)
            #expect(again == .rejected(SpoolError(.topicExists, "topic orders already exists")))
            _ = try await replica.propose(.registerBroker(BrokerRecord(id: leader, clientAddress: "127.0.0.1:7071")), timeoutMs: 10_000)
            let dropped = try await replica.propose(.dropTopic(Self.name("orders")), timeoutMs: 10_000)
            guard case .dropped = dropped else {
                Issue.record("dropped: \(dropped)")
                return
            }
            _ = try await replica.propose(Self.create("audit", partitions: 2, replication: 2, on: replica.metadata), timeoutMs: 10_000)
            try await eventually("every broker applied the same metadata") {
                cluster.ids.allSatisfy { cluster.metadata($0).metadata == replica.metadata }
            }
            let applied = replica.metadata
            #expect(applied.topics.keys.map(\.value) == ["audit"])
            #expect(applied.topics[Self.name("audit")]?.id == TopicID(2), "topic ids are never reused")
            #expect(applied.brokers[leader]?.clientAddress == "127.0.0.1:7071")
            // A follower does not take proposals: the caller forwards them to the leader.
            let follower = cluster.ids.first { $0 != leader }!
            await #expect(throws: ReplicaError.notLeader(leaderHint: leader)) {
                _ = try await cluster.metadata(follower).propose(.dropTopic(Self.name("audit")), timeoutMs: 10_000)
            }
        }
    }

    /// The metadata is applied in memory: a broker that restarts rebuilds it from the committed
    /// entries in its file, and catches up with what was committed while it was away.
    @Test func aRestartedBrokerRebuildsTheMetadataFromItsFileAndCatchesUp() async throws {
        try await ReplicaTestCluster.with(nodes: 3, metadataGroup: true) { cluster in
            let leader = try await cluster.waitForLeader()
            for topic in ["a", "b"] {
                let replica = cluster.metadata(leader)
                _ = try await replica.propose(Self.create(topic, partitions: 2, replication: 3, on: replica.metadata), timeoutMs: 10_000)
            }
            let away = cluster.ids.first { $0 != leader }!
            try await eventually("\(away) applied both topics") { cluster.metadata(away).metadata.topics.count == 2 }
            await cluster.stop(away)
            let replica = cluster.metadata(leader)
            _ = try await replica.propose(Self.create("c", partitions: 1, replication: 3, on: replica.metadata), timeoutMs: 10_000)
            let expected = replica.metadata
            // Alone (the others stopped), it can only have what its own file committed.
            let others = cluster.ids.filter { $0 != away }
            for id in others { await cluster.stop(id) }
            try await cluster.start(away)
            #expect(cluster.metadata(away).metadata.sortedTopics.map(\.name.value) == ["a", "b"], "rebuilt from its own file")
            for id in others { try await cluster.start(id) }
            do {
                // Topics, not the whole value: the restarted group's new leader appended a no-op,
                // so every broker's applied index is past `expected`'s.
                try await eventually("\(away) caught up") { cluster.metadata(away).metadata.topics == expected.topics }
            } catch {
                Issue.record("statuses: \(cluster.describe())")
                throw error
            }
            #expect(cluster.metadata(away).metadata.sortedTopics.map(\.name.value) == ["a", "b", "c"])
        }
    }
}
