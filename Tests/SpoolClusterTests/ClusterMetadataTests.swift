import Raft
import SpoolCluster
import SpoolCore
import Testing

@Suite("Cluster metadata state machine")
struct ClusterMetadataTests {
    static let orders = TopicName("orders")!

    @Test func createPlaceAndDrop() throws {
        var metadata = ClusterMetadata(voters: [3, 1, 2])
        #expect(metadata.voters == [1, 2, 3])
        let replicas = try Placement.place(partitions: 3, replication: 3, brokers: metadata.voters, load: metadata.load)
        guard case .created(let topic) = metadata.apply(.createTopic(name: Self.orders, replicas: replicas, createdMs: 5), at: 1) else {
            Issue.record("not created")
            return
        }
        #expect(topic.id == TopicID(1) && topic.partitions == 3 && topic.replication == 3)
        #expect(metadata.groups(on: 2) == (0..<3).map { RaftGroupID(topic: TopicID(1), partition: PartitionID($0)) })
        #expect(metadata.load[1] == BrokerLoad(replicas: 3, preferredLeaders: 1))

        // A second CREATE of the name (two brokers raced) is committed but changes nothing.
        let before = metadata
        #expect(metadata.apply(.createTopic(name: Self.orders, replicas: replicas, createdMs: 6), at: 2)
            == .rejected(SpoolError(.topicExists, "topic orders already exists")))
        #expect(metadata.topics == before.topics && metadata.nextTopicID == before.nextTopicID)
        #expect(metadata.appliedIndex == 2)

        guard case .dropped = metadata.apply(.dropTopic(Self.orders), at: 3) else {
            Issue.record("not dropped")
            return
        }
        #expect(metadata.topics.isEmpty && metadata.groups(on: 2).isEmpty)
        #expect(metadata.apply(.dropTopic(Self.orders), at: 4) == .rejected(SpoolError(.unknownTopic, "no topic named orders")))

        // Ids are never reused: the same name again is another topic.
        guard case .created(let again) = metadata.apply(.createTopic(name: Self.orders, replicas: replicas, createdMs: 7), at: 5) else {
            Issue.record("not created again")
            return
        }
        #expect(again.id == TopicID(2))
    }

    @Test func placementsNamingStrangersOrDuplicatesAreRejected() {
        var metadata = ClusterMetadata(voters: [1, 2, 3])
        let bad: [[[NodeID]]] = [[[1, 4]], [[1, 1]], [[1, 2], [3]], [[]]]
        for (i, replicas) in bad.enumerated() {
            guard case .rejected(let error) = metadata.apply(.createTopic(name: Self.orders, replicas: replicas, createdMs: 0), at: LogIndex(UInt64(i + 1)))
            else {
                Issue.record("accepted \(replicas)")
                continue
            }
            #expect(error.code == .badArgument)
        }
        #expect(metadata.topics.isEmpty)
    }

    @Test func brokersRegisterTheirAddressesOnlyIfMembers() {
        var metadata = ClusterMetadata(voters: [1, 2, 3])
        #expect(metadata.apply(.registerBroker(BrokerRecord(id: 2, clientAddress: "127.0.0.1:7072")), at: 1)
            == .registered(BrokerRecord(id: 2, clientAddress: "127.0.0.1:7072")))
        #expect(metadata.brokers[2]?.clientAddress == "127.0.0.1:7072")
        guard case .rejected = metadata.apply(.registerBroker(BrokerRecord(id: 9, clientAddress: "x")), at: 2) else {
            Issue.record("a stranger registered")
            return
        }
        #expect(metadata.brokers[9] == nil)
    }

    /// Two brokers applying the same entries hold the same value.
    @Test func sameEntriesSameState() throws {
        let commands: [MetadataCommand] = [
            .registerBroker(BrokerRecord(id: 1, clientAddress: "a")),
            .createTopic(name: Self.orders, replicas: try Placement.place(partitions: 4, replication: 2, brokers: [1, 2, 3]), createdMs: 1),
            .createTopic(name: TopicName("clicks")!, replicas: [[2]], createdMs: 2),
            .dropTopic(Self.orders),
        ]
        var a = ClusterMetadata(voters: [1, 2, 3])
        var b = ClusterMetadata(voters: [2, 3, 1])
        for (i, command) in commands.enumerated() {
            // b applies what it decoded from the entry payload, as a follower would.
            let decoded = try #require(MetadataCommand(payload: command.payload))
            #expect(decoded == command)
            a.apply(command, at: LogIndex(UInt64(i + 1)))
            b.apply(decoded, at: LogIndex(UInt64(i + 1)))
        }
        #expect(a == b)
    }

    @Test func payloadsThisBuildCannotReadAreRefused() {
        let good = MetadataCommand.dropTopic(Self.orders).payload
        #expect(MetadataCommand(payload: []) == nil)
        #expect(MetadataCommand(payload: [2] + good.dropFirst()) == nil)  // a newer encoding version
        #expect(MetadataCommand(payload: good + [0]) == nil)  // trailing bytes
        #expect(MetadataCommand(payload: Array(good.dropLast())) == nil)  // truncated
        let create = MetadataCommand.createTopic(name: Self.orders, replicas: [[1, 2]], createdMs: 0).payload
        #expect(MetadataCommand(payload: create) != nil)
        #expect(MetadataCommand(payload: Array(create.dropLast(8))) == nil)  // a replica missing
        var random = SpoolCore.SplitMix64(seed: 3)
        for _ in 0..<2_000 {
            var bytes = create
            bytes[random.below(bytes.count)] = UInt8(truncatingIfNeeded: random.next())
            _ = MetadataCommand(payload: bytes)  // never traps
        }
    }
}
