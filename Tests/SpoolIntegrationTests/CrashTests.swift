import Foundation
import NIOCore
import SpoolClient
import SpoolCore
import SpoolStorage
import Synchronization
import Testing

/// What a crash of the broker's machine keeps: SIGKILL alone keeps the kernel's page cache (every
/// write the broker made, synced or not); the power-loss VFS (docs/testing.md) keeps only what
/// was fsynced, as a power cut would.
enum CrashKind: String, CustomTestStringConvertible, Sendable, CaseIterable {
    case sigkill
    case powerLoss

    /// The environment spoold runs with.
    var environment: [String: String] {
        switch self {
        case .sigkill: [:]
        case .powerLoss: [StorageTestMode.vfsVariable: "powerloss"]
        }
    }

    var testDescription: String { self == .sigkill ? "SIGKILL" : "SIGKILL on the power-loss VFS" }
}

/// Nothing acknowledged is lost: kill the real spoold with SIGKILL while producers pipeline
/// acks=leader writes, restart it, and check every acknowledged record. Each test runs twice:
/// plain SIGKILL, and SIGKILL of a broker on the power-loss VFS, where an fsync missing before an
/// OK would lose the record.
@Suite("Crash safety (SIGKILL on the real spoold)", .timeLimit(.minutes(3)))
struct CrashTests {
    @Test(arguments: CrashKind.allCases)
    func everyAcknowledgedRecordSurvivesSIGKILL(_ crash: CrashKind) async throws {
        try await withTemporaryFolder { directory in
            let partitions = 2
            try await CrashWorkload.createTopic("crash", partitions: partitions, directory: directory, environment: crash.environment)

            var acked: [CrashWorkload.Acked] = []
            for round in 0..<3 {
                // Kill it mid-stream, once a good number of writes have been acknowledged.
                acked += try await withSpoold(on: directory, environment: crash.environment) { spoold in
                    try await CrashWorkload.produceUntilKilled(
                        spoold, topic: "crash", partitions: partitions, tag: "r\(round)", acknowledgedBeforeKill: 1500 + round * 500)
                }
            }

            // The files as the last SIGKILL left them pass SQLite's own check (read-only, before any
            // broker opens them again, on SQLite's default VFS: what the disk holds).
            for partition in 0..<partitions {
                let connection = try SQLiteConnection(path: directory + "/topics/crash/\(partition).sqlite3", mode: .readOnly)
                #expect(try connection.integrityCheck() == "ok", "partition \(partition) right after SIGKILL")
                connection.close()
            }

            // Restart and check every acknowledged record, the offsets and the files.
            try await withSpoold(on: directory, environment: crash.environment) { spoold in
                // A restarted broker serves reads once its replica committed again, or after
                // `PartitionLog.servingWaitMs` (5 s) if that takes longer: under a loaded CI a
                // read may come before the last records are committed again. A record that is
                // lost never shows, so the check below still fails for it after this bounded wait.
                var stored = try await CrashWorkload.storedRecords(port: spoold.port, topic: "crash", partitions: partitions)
                try? await eventually(timeout: .seconds(30), pollEvery: .milliseconds(200), "every acknowledged record readable after the restart") {
                    stored = try await CrashWorkload.storedRecords(port: spoold.port, topic: "crash", partitions: partitions)
                    return CrashWorkload.missing(acked, from: stored) == 0
                }
                #expect(acked.count >= 4500)
                let missing = CrashWorkload.missing(acked, from: stored)
                #expect(missing == 0, "\(missing) of \(acked.count) acknowledged records were lost or changed")
                // Every acknowledged value appears exactly once.
                let values = stored.flatMap { $0.values }
                #expect(Set(values).count == values.count, "no record was stored twice")
                #expect(spoold.terminate() == 0, "spoold exits 0 on SIGTERM")
            }

            for partition in 0..<partitions {
                let connection = try SQLiteConnection(path: directory + "/topics/crash/\(partition).sqlite3", mode: .readOnly)
                #expect(try connection.integrityCheck() == "ok")
                connection.close()
            }
        }
    }

    /// A consumer group's acknowledged commits survive a crash: commits go through the partition's
    /// own transaction and fsync, so the group resumes exactly after its last `OK committed`.
    @Test(arguments: CrashKind.allCases)
    func everyAcknowledgedCommitSurvivesSIGKILL(_ crash: CrashKind) async throws {
        try await withTemporaryFolder { directory in
            var lastCommitted: [Int: Int64] = [:]
            try await withSpoold(on: directory, environment: crash.environment) { spoold in
                let admin = try await SpoolClient.connect(port: spoold.port)
                try await admin.createTopic("ledger", partitions: 2)
                _ = try await admin.publish(batch: (0..<400).map { OutgoingRecord(topic: "ledger", value: "e\($0)", partition: $0 % 2) })
                let member = try await SpoolClient.connect(port: spoold.port)
                let inbox = Inbox(member)
                try await member.subscribe(topics: ["ledger"], group: "acct", from: .earliest, autoCommit: false)
                try await eventually("all 400 delivered") { inbox.received.count == 400 }
                // Commit after every few records, as a careful consumer does; then the machine dies.
                for offset in stride(from: Int64(1), through: 150, by: 1) {
                    for partition in 0..<2 where offset % Int64(partition + 2) == 0 {
                        #expect(try await member.commit(topic: "ledger", partition: partition, offset: offset) == "OK committed ledger \(partition) \(offset)")
                        lastCommitted[partition] = offset
                    }
                }
                spoold.kill()
                await member.close()
                await admin.close()
            }

            try await withSpoold(on: directory, environment: crash.environment) { spoold in
                let admin = try await SpoolClient.connect(port: spoold.port)
                #expect(try await admin.describeGroup("acct").lag.map(\.committed) == [lastCommitted[0], lastCommitted[1]])
                let resumed = try await SpoolClient.connect(port: spoold.port)
                let inbox = Inbox(resumed)
                try await resumed.subscribe(topics: ["ledger"], group: "acct", from: .earliest, autoCommit: false)
                let expected = (200 - Int(lastCommitted[0]!)) + (200 - Int(lastCommitted[1]!))
                try await eventually("the uncommitted records to arrive") { inbox.received.count == expected }
                let firstOffsets = Dictionary(grouping: inbox.received, by: \.partition.rawValue).mapValues { $0.map(\.offset.rawValue).min() }
                #expect(firstOffsets == [0: lastCommitted[0], 1: lastCommitted[1]])
                await resumed.close()
                await admin.close()
            }
        }
    }
}
