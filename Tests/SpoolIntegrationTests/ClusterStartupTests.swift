import Foundation
import SpoolStorage
import Testing

/// Starting brokers as a cluster (docs/cluster.md): the options, what the data folder remembers,
/// the peer handshake, METADATA. Real spoold processes on 127.0.0.1, temporary folders.
@Suite("Cluster start-up", .timeLimit(.minutes(1)))
struct ClusterStartupTests {
    func spoold(_ arguments: [String]) async throws -> ChildProcess.Result {
        let binary = try #require(ChildProcess.builtProduct("spoold"), "spoold is built by swift test")
        return try await ChildProcess.run(binary, ["--listen", "127.0.0.1:0", "--log-level", "warning"] + arguments)
    }

    @Test("three brokers connect: METADATA on each lists all three up at their client addresses, and they agree")
    func threeBrokersConnect() async throws {
        try await withLocalCluster(size: 3) { cluster in
            // Node 1 with every peer-transport limit given (docs/cluster.md, Options).
            try cluster.start(
                1,
                extra: [
                    "--peer-queued-bytes", "8388608", "--peer-reconnect-initial-ms", "20", "--peer-reconnect-max-ms", "400",
                    "--peer-hello-timeout-ms", "2000",
                ])
            try cluster.start(2)
            try cluster.start(3)
            let expected = (1...3).map { MetadataBroker(id: $0, address: "127.0.0.1:\(cluster.port($0))", up: true) }
            for id in 1...3 {
                try await eventually(timeout: .seconds(15), "node \(id) to see every broker up") {
                    try metadataBrokers(port: cluster.port(id)) == expected
                }
            }
            let replies = try (1...3).map { try metadata(port: cluster.port($0)) }
            #expect(replies.allSatisfy { $0 == expected.map(\.description) + ["END METADATA"] }, "\(replies)")

            // A topic created through one broker is every broker's; more replicas than brokers is refused.
            let socket = try RawSocket(port: cluster.port(2))
            try socket.send("CREATE orders partitions=3 replication=4\nCREATE orders partitions=1\nTOPICS\nPING\n")
            #expect(try socket.readLine() == "ERR BAD_ARGUMENT replication=4 needs 4 brokers; the cluster has 3")
            #expect(try socket.readLine() == "OK orders partitions=1 replication=3")
            #expect(try socket.readLine() == "TOPIC orders partitions=1")
            #expect(try socket.readLine() == "END TOPICS 1")
            #expect(try socket.readLine() == "PONG")

            // A graceful stop closes the peer listener too; the others see it go.
            #expect(cluster.terminate(3) == 0)
            try await eventually(timeout: .seconds(10), "node 1 to see node 3 down") {
                try metadataBrokers(port: cluster.port(1)).last == MetadataBroker(id: 3, address: expected[2].address, up: false)
            }
        }
    }

    @Test("a restart whose --peers, --node-id or cluster options disagree with the folder is refused, saying what each is")
    func mismatchedRestartIsRefused() async throws {
        try await withLocalCluster(size: 3) { cluster in
            try cluster.start(1)
            #expect(cluster.terminate(1) == 0)
            let folder = cluster.folders[0]
            let remembered = cluster.peers

            var moved = cluster.peerPorts
            moved[2] += 1
            let otherPeers = moved.enumerated().map { "\($0.offset + 1)=127.0.0.1:\($0.element)" }.joined(separator: ",")
            let peers = try await spoold(["--data-dir", folder, "--node-id", "1", "--peers", otherPeers, "--cluster-id", "c"])
            #expect(peers.status == 1)
            #expect(peers.err.contains("--peers: the folder has \(remembered), given \(otherPeers)"), "\(peers.err)")

            let node = try await spoold(["--data-dir", folder, "--node-id", "2", "--peers", remembered])
            #expect(node.status == 1)
            #expect(node.err.contains("--node-id: the folder has 1, given 2"), "\(node.err)")

            let alone = try await spoold(["--data-dir", folder])
            #expect(alone.status == 1)
            #expect(alone.err.contains("belongs to node 1 of cluster spool-") && alone.err.contains("--node-id 1 --peers \(remembered)"), "\(alone.err)")

            // The options it was made with still start it.
            try cluster.start(1)
            #expect(cluster.terminate(1) == 0)
        }
    }

    @Test("a single broker's folder cannot join a cluster: neither one started before clusters existed nor one started alone since")
    func singleBrokerFolderCannotJoin() async throws {
        try await withTemporaryFolder { folder in
            let peers = "1=127.0.0.1:\(try FreePorts.pick(1)[0]),2=127.0.0.1:1"
            try await withSpoold(on: folder) { single in
                let socket = try RawSocket(port: single.port)
                try socket.send("CREATE kept\n")
                #expect(try socket.readLine() == "OK kept partitions=1 replication=1")
                #expect(single.terminate() == 0)
            }

            let joined = try await spoold(["--data-dir", folder, "--node-id", "1", "--peers", peers])
            #expect(joined.status == 1)
            #expect(joined.err.contains("belongs to a single broker (first started without --peers)"), "\(joined.err)")

            // As a folder of a binary from before clusters: no cluster table, schema version 1.
            let connection = try SQLiteConnection(path: folder + "/broker.sqlite3", mode: .readWrite)
            try connection.execute("DROP TABLE cluster; DROP TABLE raft_log; DROP TABLE raft_state; DELETE FROM spool_migrations WHERE version >= 2; PRAGMA user_version = 1")
            let old = try await spoold(["--data-dir", folder, "--node-id", "1", "--peers", peers])
            #expect(old.status == 1)
            #expect(old.err.contains("written by a single broker (a version from before clusters)"), "\(old.err)")

            // Alone it still opens, with its topic.
            try await withSpoold(on: folder) { again in
                let lines = try metadata(port: again.port)
                #expect(lines == ["BROKER 1 127.0.0.1:\(again.port) up", "PARTITION kept 0 leader=1 replicas=1 isr=1 high=0", "END METADATA"])
                #expect(again.terminate() == 0)
            }
        }
    }

    @Test("a broker started with another --cluster-id is refused by the others: it sees them down, they never see it up")
    func anotherClusterIsRefused() async throws {
        try await withLocalCluster(size: 3) { cluster in
            try cluster.start(1)
            try cluster.start(2, extra: ["--cluster-id", "another-cluster"])
            try cluster.start(3)
            try await eventually(timeout: .seconds(15), "nodes 1 and 3 to see each other") {
                try metadataBrokers(port: cluster.port(1))[2].up && metadataBrokers(port: cluster.port(3))[0].up
            }
            // Node 1 dials 2, and 2 dials 3, every second at most: over 2 s each link is tried again
            // and again, and refused every time.
            let until = ContinuousClock.now + .seconds(2)
            while ContinuousClock.now < until {
                #expect(try metadataBrokers(port: cluster.port(1))[1] == MetadataBroker(id: 2, address: "-", up: false))
                #expect(try metadataBrokers(port: cluster.port(3))[1] == MetadataBroker(id: 2, address: "-", up: false))
                let seenBy2 = try metadataBrokers(port: cluster.port(2))
                #expect(seenBy2.filter(\.up).map(\.id) == [2], "\(seenBy2)")
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    @Test("usage errors say what is wrong and exit 2 before anything is created", arguments: [
        (["--node-id", "1"], "--node-id needs --peers"),
        (["--cluster-id", "c"], "--cluster-id needs --peers"),
        (["--peer-listen", "127.0.0.1:7171"], "--peer-listen needs --peers"),
        (["--peers", "1=127.0.0.1:7171"], "--peers needs --node-id"),
        (["--node-id", "0", "--peers", "1=127.0.0.1:7171"], "--node-id must be a positive integer, got 0"),
        (["--node-id", "one", "--peers", "1=127.0.0.1:7171"], "--node-id must be a positive integer, got one"),
        (["--node-id", "3", "--peers", "1=127.0.0.1:7171,2=127.0.0.1:7172"], "--node-id 3 is not in --peers (1=127.0.0.1:7171,2=127.0.0.1:7172)"),
        (["--node-id", "1", "--peers", "1=127.0.0.1:7171,1=127.0.0.1:7172"], "--peers: node 1 is listed twice"),
        (["--node-id", "1", "--peers", "1=127.0.0.1:7171,2=127.0.0.1:7171"], "--peers: nodes 1 and 2 have the same address 127.0.0.1:7171"),
        (["--node-id", "1", "--peers", "0=127.0.0.1:7171"], "--peers: node ids are positive integers, got \"0\""),
        (["--node-id", "1", "--peers", "1=127.0.0.1"], "--peers: node 1's address must be HOST:PORT"),
        (["--node-id", "1", "--peers", "1=127.0.0.1:0"], "--peers: node 1's address must be HOST:PORT with a port from 1 to 65535"),
        (["--node-id", "1", "--peers", "1-127.0.0.1:7171"], "--peers entries are ID=HOST:PORT, got \"1-127.0.0.1:7171\""),
        (["--node-id", "1", "--peers", "1=127.0.0.1:7171,"], "--peers entries are ID=HOST:PORT, got \"\""),
        (["--node-id", "1", "--peers", "1=127.0.0.1:7171", "--peer-listen", "127.0.0.1:7172"],
            "--peer-listen 127.0.0.1:7172 is not node 1's entry in --peers (127.0.0.1:7171); they must be equal"),
        (["--node-id", "1", "--peers", "1=127.0.0.1:7171", "--peer-listen", "nowhere"], "--peer-listen must be HOST:PORT, got nowhere"),
        (["--node-id", "1", "--peers", "1=127.0.0.1:7171", "--cluster-id", "two words"], "--cluster-id must be 1 to 128 printable ASCII characters"),
        (["--peer-queued-bytes", "1000"], "--peer-queued-bytes must be at least 1048576 (one Raft append), got 1000"),
        (["--peer-reconnect-initial-ms", "0"], "--peer-reconnect-initial-ms must be positive, got 0"),
        (["--peer-reconnect-initial-ms", "500", "--peer-reconnect-max-ms", "100"],
            "--peer-reconnect-max-ms (100) must be at least --peer-reconnect-initial-ms (500)"),
        (["--peer-hello-timeout-ms=-1"], "--peer-hello-timeout-ms must be positive, got -1"),
        (["--peer-keepalive-ms=0"], "--peer-keepalive-ms must be positive, got 0"),
        (["--peer-liveness-timeout-ms", "100"], "--peer-liveness-timeout-ms (100) must be more than --peer-keepalive-ms (100)"),
    ])
    func usageErrors(arguments: [String], message: String) async throws {
        let folder = NSTemporaryDirectory() + "spool-test-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try await spoold(["--data-dir", folder] + arguments)
        #expect(result.status == 2, "\(arguments): \(result.err)")
        #expect(result.err.contains(message), "\(arguments): \(result.err)")
        #expect(!FileManager.default.fileExists(atPath: folder))
    }

    @Test("a peer port in use: one plain line that names --peer-listen, and exit 1")
    func peerPortInUse() async throws {
        let (result, port) = try await withTestBroker { holder in
            try await withTemporaryFolder { folder in
                (try await spoold(["--data-dir", folder, "--node-id", "1", "--peers", "1=127.0.0.1:\(holder.port)"]), holder.port)
            }
        }
        #expect(result.status == 1)
        #expect(result.err.contains("spoold: 127.0.0.1:\(port) is already in use") && result.err.contains("choose another with --peer-listen"), "\(result.err)")
    }

    @Test("a cluster of one with --peers naming only itself creates topics and shows them in METADATA")
    func clusterOfOne() async throws {
        try await withLocalCluster(size: 1) { cluster in
            let broker = try cluster.start(1)
            let socket = try RawSocket(port: broker.port)
            try socket.send("CREATE t partitions=2\nPUB t partition=1 :a\n")
            #expect(try socket.readLine() == "OK t partitions=2 replication=1")
            #expect(try socket.readLine() == "OK t 1 0")
            #expect(try metadata(port: broker.port) == [
                "BROKER 1 127.0.0.1:\(broker.port) up",
                "PARTITION t 0 leader=1 replicas=1 isr=1 high=0",
                "PARTITION t 1 leader=1 replicas=1 isr=1 high=1",
                "END METADATA",
            ])
            #expect(cluster.terminate(1) == 0)
        }
    }
}
