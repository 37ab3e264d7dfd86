import Foundation
import SpoolStorage
import Testing

/// Issue 10 item 9 in a cluster: three real spoold on the power-loss VFS with injected faults
/// (SPOOL_TEST_VFS_FAIL, docs/testing.md), a partition with replication=3, and the disk of one
/// replica failing. A failed write is never acknowledged; the other replicas go on (a new leader
/// if the failed one led); once the disk heals the replica recovers from its own file and catches
/// up through change batches, and every acknowledged record is on every replica at its offset.
@Suite("A failed write in a replicated partition", .timeLimit(.minutes(3)))
struct ReplicatedFailedWriteTests {
    static let failing = "/topics/bad/0.sqlite3"

    /// Starts the three brokers, each on the power-loss VFS whose faults its own control file
    /// (`<folder>/fail`, absent: no fault) switches, with a short recovery back-off and its log in
    /// `<folder>/spoold.log`.
    private func startFaulty(_ cluster: LocalCluster) throws -> [String] {
        let controls = cluster.folders.map { "\($0)/fail" }
        for id in 1...3 {
            try cluster.start(
                id, extra: ["--write-recovery-retry-ms", "100", "--log-level", "info"], logFile: "\(cluster.folders[id - 1])/spoold.log",
                environment: [StorageTestMode.vfsVariable: "powerloss", StorageTestMode.faultVariable: controls[id - 1]])
        }
        return controls
    }

    /// Broker `id`'s log so far.
    private func log(_ cluster: LocalCluster, _ id: Int) -> String {
        (try? String(contentsOfFile: "\(cluster.folders[id - 1])/spoold.log", encoding: .utf8)) ?? ""
    }

    /// Publishes `value` through `port` with acks=all; an OK is remembered at its offset.
    private func publish(_ port: Int, _ value: String, _ acknowledged: inout [Int64: String]) throws -> String {
        let reply = try RawSocket(port: port, timeoutSeconds: 15).ask("PUB bad partition=0 acks=all :\(value)")
        if reply.hasPrefix("OK bad 0 "), let offset = Int64(reply.dropFirst("OK bad 0 ".count)) {
            #expect(acknowledged[offset] == nil, "offset \(offset) acknowledged twice")
            acknowledged[offset] = value
        } else {
            #expect(reply.hasPrefix("ERR "), "\(reply)")
        }
        #expect(!reply.contains("/topics/") && !reply.contains(".sqlite3"), "no path for clients: \(reply)")
        return reply
    }

    /// Every replica's file holds exactly `acknowledged` (and agrees with the others), once all
    /// three have the same records.
    private func expectEveryReplica(_ cluster: LocalCluster, holds acknowledged: [Int64: String]) async throws {
        let total = try await ReplicatedCluster.waitForEqualHigh(cluster, topic: "bad", partitions: 1)
        #expect(total == acknowledged.count, "every record on the replicas was acknowledged, and every acknowledged one is there")
        #expect(acknowledged.keys.sorted() == Array(0..<Int64(acknowledged.count)), "gap-free offsets")
        for folder in cluster.folders {
            let rows = try ReplicatedCluster.rows(folder: folder, topic: "bad", partition: 0)
            #expect(Dictionary(uniqueKeysWithValues: rows) == acknowledged, "\(folder)")
        }
        try ReplicatedCluster.expectReplicasAgree(cluster, topic: "bad", partitions: 1, records: acknowledged.count)
    }

    /// The isr METADATA on `port` gives partition 0 of `bad`.
    private func isr(_ port: Int) throws -> [Int] {
        let line = try metadata(port: port, topic: "bad").first { $0.hasPrefix("PARTITION bad 0 ") } ?? ""
        let field = line.split(separator: " ").first { $0.hasPrefix("isr=") } ?? "isr="
        return field.dropFirst(4).split(separator: ",").compactMap { Int($0) }.sorted()
    }

    @Test("the leader's disk fails: its write is refused, never acknowledged; a new leader takes writes; healed, the failed replica recovers and catches up")
    func leaderDiskFails() async throws {
        try await withLocalCluster(size: 3) { cluster in
            let controls = try startFaulty(cluster)
            try await ReplicatedCluster.waitUntilConnected(cluster)
            #expect(try RawSocket(port: cluster.port(1)).ask("CREATE bad partitions=1 replication=3") == "OK bad partitions=1 replication=3")
            let victim = try #require(try await ReplicatedCluster.waitForLeaders(cluster, topic: "bad", partitions: 1)[0])
            let survivor = victim % 3 + 1
            var acknowledged: [Int64: String] = [:]
            for index in 0..<5 { #expect(try publish(cluster.port(survivor), "before-\(index)", &acknowledged) == "OK bad 0 \(index)") }

            try "sync \(Self.failing)\n".write(toFile: controls[victim - 1], atomically: true, encoding: .utf8)
            let failed = try publish(cluster.port(victim), "lost-0", &acknowledged)
            #expect(failed.hasPrefix("ERR STORAGE "), "the leader's failed fsync: \(failed)")

            // The others elect a leader and take writes; through any broker a retry gets OK.
            var round = 0
            try await eventually(timeout: .seconds(20), pollEvery: .milliseconds(50), "a new leader takes writes") {
                round += 1
                return try publish(cluster.port(survivor), "during-\(round)", &acknowledged).hasPrefix("OK ")
            }
            let leader = try #require(try ReplicatedCluster.leaders(port: cluster.port(survivor), topic: "bad")[0])
            #expect(leader != victim)
            for index in 0..<5 { #expect(try publish(cluster.port(survivor), "more-\(index)", &acknowledged).hasPrefix("OK ")) }

            // Healed: the replica reopens its file, follows the new leader and catches up.
            try FileManager.default.removeItem(atPath: controls[victim - 1])
            for index in 0..<5 {
                var attempt = 0
                try await eventually(timeout: .seconds(20), pollEvery: .milliseconds(50), "PUB through node \(victim) after the heal") {
                    attempt += 1
                    return try publish(cluster.port(victim), "after-\(index)-\(attempt)", &acknowledged).hasPrefix("OK ")
                }
            }
            try await expectEveryReplica(cluster, holds: acknowledged)
        }
    }

    @Test("a follower's disk fails: the leader keeps committing on the other majority; healed, the follower recovers and catches up")
    func followerDiskFails() async throws {
        try await withLocalCluster(size: 3) { cluster in
            let controls = try startFaulty(cluster)
            try await ReplicatedCluster.waitUntilConnected(cluster)
            #expect(try RawSocket(port: cluster.port(2)).ask("CREATE bad partitions=1 replication=3") == "OK bad partitions=1 replication=3")
            let leader = try #require(try await ReplicatedCluster.waitForLeaders(cluster, topic: "bad", partitions: 1)[0])
            let follower = leader % 3 + 1
            var acknowledged: [Int64: String] = [:]
            for index in 0..<5 { #expect(try publish(cluster.port(leader), "before-\(index)", &acknowledged) == "OK bad 0 \(index)") }

            try "sync \(Self.failing)\n".write(toFile: controls[follower - 1], atomically: true, encoding: .utf8)
            for index in 0..<20 {
                #expect(try publish(cluster.port(leader), "during-\(index)", &acknowledged) == "OK bad 0 \(5 + index)")
            }
            // The failed replica stopped (its append failed; no client write of its own was in
            // flight) and fell out of the in-sync set.
            try await eventually(timeout: .seconds(10), "node \(follower) logs its failed write") {
                log(cluster, follower).contains("a write of the partition failed")
            }
            try await eventually(timeout: .seconds(10), "node \(follower) out of the isr") { try !isr(cluster.port(leader)).contains(follower) }
            try FileManager.default.removeItem(atPath: controls[follower - 1])
            try await eventually(timeout: .seconds(20), "node \(follower) recovers") {
                log(cluster, follower).contains("partition recovered from its failed write")
            }
            try await eventually(timeout: .seconds(20), "node \(follower) back in the isr") { try isr(cluster.port(leader)) == [1, 2, 3] }
            for index in 0..<5 { #expect(try publish(cluster.port(leader), "after-\(index)", &acknowledged) == "OK bad 0 \(25 + index)") }
            try await expectEveryReplica(cluster, holds: acknowledged)
        }
    }
}
