import Foundation
import SpoolCore
import SpoolFaultProxy
import SpoolStorage
import Testing

/// Issue 9 item 7: another connection holding the write lock of partition files (an operator's
/// sqlite3 shell without -readonly) slows only those partitions.
@Suite("A partition locked by another connection", .timeLimit(.minutes(1)))
struct PartitionLockTests {
    /// Takes the write lock of each file (BEGIN IMMEDIATE) as `sqlite3` would.
    private func lock(_ paths: [String]) throws -> [SQLiteConnection] {
        try paths.map { path in
            let connection = try SQLiteConnection(path: path, mode: .readWrite)
            try connection.execute("BEGIN IMMEDIATE")
            return connection
        }
    }

    @Test func lockedPartitionsDoNotStallOtherTopicsAndCommitAfterRelease() async throws {
        try await withTemporaryFolder { directory in
            // TestBroker runs 4 storage threads; lock more partitions than that.
            try await withTestBroker(on: directory) { broker in
                let admin = try broker.socket()
                let locked = (0..<6).map { "locked\($0)" }
                for topic in locked + ["free"] { #expect(try admin.ask("CREATE \(topic)").hasPrefix("OK")) }
                let holders = try lock(locked.map { directory + "/topics/\($0)/0.sqlite3" })
                let producer = try broker.socket()
                for topic in locked { try producer.send("PUB \(topic) :waits\n") }

                let other = try broker.socket()
                let start = ContinuousClock.now
                #expect(try other.ask("PUB free :prompt") == "OK free 0 0")
                #expect(try other.ask("PUB free :prompt") == "OK free 0 1")
                // The old writer slept in SQLite's 5 s busy timeout on every storage thread.
                #expect(ContinuousClock.now - start < .seconds(2), "took \(ContinuousClock.now - start)")

                for holder in holders { try holder.execute("ROLLBACK") }
                for topic in locked { #expect(try producer.readLine() == "OK \(topic) 0 0") }
                let fetched = try admin.askBlock("FETCH locked5 0 0")
                #expect(fetched.last == "END locked5 0 next=1 high=1", "\(fetched)")
            }
        }
    }

    @Test func writesFailClearlyWhenTheLockIsHeldPastTheBound() async throws {
        try await withTemporaryFolder { directory in
            var limits = SpoolLimits()
            limits.partitionLockWaitMs = 300
            try await withTestBroker(limits: limits, on: directory) { broker in
                let socket = try broker.socket()
                #expect(try socket.ask("CREATE held").hasPrefix("OK"))
                let holders = try lock([directory + "/topics/held/0.sqlite3"])
                let start = ContinuousClock.now
                let reply = try socket.ask("PUB held :x")
                #expect(reply.hasPrefix("ERR STORAGE partition 0 of held stayed locked"), "\(reply)")
                #expect(ContinuousClock.now - start >= .milliseconds(300))
                // Given up on, the write is treated as a failed one: the partition stops taking
                // writes and recovers from its file, which waits for the lock too.
                let during = try socket.ask("PUB held :z")
                #expect(during.hasPrefix("ERR PARTITION_OFFLINE partition 0 of held is recovering"), "\(during)")
                for holder in holders { try holder.execute("ROLLBACK") }
                // Nothing of it was written; the partition writes again once the lock is gone.
                var next = ""
                try await eventually(timeout: .seconds(20), "the partition writes again") {
                    next = try socket.ask("PUB held :y")
                    return next.hasPrefix("OK")
                }
                #expect(next == "OK held 0 0")
            }
        }
    }
}
