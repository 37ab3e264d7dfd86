import Foundation
import SpoolClient
import SpoolStorage
import Testing

/// Proof that the power-loss crash tests see what SIGKILL cannot (docs/testing.md): a broker
/// that acknowledges without fsync (the test-only SPOOL_TEST_SYNC=off) passes a plain SIGKILL
/// test, and loses acknowledged records on the power-loss VFS.
@Suite("Power-loss VFS sees a missing fsync", .timeLimit(.minutes(3)))
struct PowerLossProofTests {
    static let noFsync = [StorageTestMode.vfsVariable: "unix", StorageTestMode.syncVariable: "off"]
    static let noFsyncOnPowerLoss = [StorageTestMode.vfsVariable: "powerloss", StorageTestMode.syncVariable: "off"]

    @Test func withoutFsyncSIGKILLKeepsEverythingAndPowerLossLosesAcknowledgedRecords() async throws {
        try await withTemporaryFolder { directory in
            try await CrashWorkload.createTopic("proof", partitions: 2, directory: directory, environment: [:])

            // No fsync, plain SIGKILL: the kernel still holds every write, nothing is lost.
            let ackedPlain = try await withSpoold(on: directory, environment: Self.noFsync) { plain in
                try await CrashWorkload.produceUntilKilled(plain, topic: "proof", partitions: 2, tag: "plain", acknowledgedBeforeKill: 1000)
            }
            let missingPlain = try await withSpoold(on: directory) { afterPlain in
                let storedPlain = try await CrashWorkload.storedRecords(port: afterPlain.port, topic: "proof", partitions: 2)
                let missingPlain = CrashWorkload.missing(ackedPlain, from: storedPlain)
                #expect(afterPlain.terminate() == 0)
                return missingPlain
            }
            #expect(ackedPlain.count >= 1000)
            #expect(missingPlain == 0, "SIGKILL alone cannot see the missing fsync")

            // No fsync, SIGKILL on the power-loss VFS: acknowledged records are gone.
            let ackedPowerLoss = try await withSpoold(on: directory, environment: Self.noFsyncOnPowerLoss) { powerLoss in
                try await CrashWorkload.produceUntilKilled(
                    powerLoss, topic: "proof", partitions: 2, tag: "powerloss", acknowledgedBeforeKill: 1000)
            }
            for partition in 0..<2 {
                let connection = try SQLiteConnection(path: directory + "/topics/proof/\(partition).sqlite3", mode: .readOnly)
                #expect(try connection.integrityCheck() == "ok", "partition \(partition) after the power cut")
                connection.close()
            }
            let (storedPowerLoss, missingPowerLoss) = try await withSpoold(on: directory) { afterPowerLoss in
                let storedPowerLoss = try await CrashWorkload.storedRecords(port: afterPowerLoss.port, topic: "proof", partitions: 2)
                let missingPowerLoss = CrashWorkload.missing(ackedPowerLoss, from: storedPowerLoss)
                #expect(afterPowerLoss.terminate() == 0)
                return (storedPowerLoss, missingPowerLoss)
            }
            #expect(ackedPowerLoss.count >= 1000)
            #expect(missingPowerLoss > 0, "the power-loss VFS sees the missing fsync")
            // What survived the first crash is still there: the loss is exactly the unsynced writes.
            #expect(CrashWorkload.missing(ackedPlain, from: storedPowerLoss) == 0)
            print(
                "power-loss proof (synchronous=OFF): plain SIGKILL lost \(missingPlain) of \(ackedPlain.count) acknowledged records;"
                    + " power-loss VFS lost \(missingPowerLoss) of \(ackedPowerLoss.count)")
        }
    }

    /// The same for consumer commits: 30 acknowledged `COMMIT`s on a broker without fsync survive
    /// a plain SIGKILL and are lost on the power-loss VFS.
    @Test(arguments: [false, true])
    func withoutFsyncSIGKILLKeepsCommitsAndPowerLossLosesThem(_ powerLoss: Bool) async throws {
        try await withTemporaryFolder { directory in
            // A durable topic with records, made by a normal broker.
            try await withSpoold(on: directory) { spoold in
                let admin = try await SpoolClient.connect(port: spoold.port)
                try await admin.createTopic("ledger", partitions: 1)
                _ = try await admin.publish(batch: (0..<50).map { OutgoingRecord(topic: "ledger", value: "e\($0)") })
                await admin.close()
                #expect(spoold.terminate() == 0)
            }
            try await withSpoold(on: directory, environment: powerLoss ? Self.noFsyncOnPowerLoss : Self.noFsync) { spoold in
                let member = try await SpoolClient.connect(port: spoold.port)
                let inbox = Inbox(member)
                try await member.subscribe(topics: ["ledger"], group: "acct", from: .earliest, autoCommit: false)
                try await eventually("all 50 delivered") { inbox.received.count == 50 }
                for offset in Int64(1)...30 {
                    #expect(try await member.commit(topic: "ledger", partition: 0, offset: offset) == "OK committed ledger 0 \(offset)")
                }
                spoold.kill()
                await member.close()
            }
            let committed = try await withSpoold(on: directory) { spoold in
                let admin = try await SpoolClient.connect(port: spoold.port)
                let committed = try await admin.describeGroup("acct").lag.first?.committed
                await admin.close()
                return committed
            }
            if powerLoss {
                #expect(committed == nil, "the power-loss VFS sees the commits' missing fsync: none of the 30 survives")
            } else {
                #expect(committed == 30, "SIGKILL alone cannot see it")
            }
        }
    }

    /// The no-fsync switch alone is refused: spoold exits before it opens anything.
    @Test func theNoFsyncSwitchWithoutATestVFSIsRefused() async throws {
        try await withTemporaryFolder { directory in
            await #expect(throws: TimeoutError.self) {
                try await withSpoold(on: directory, environment: [StorageTestMode.syncVariable: "off"]) { _ in }
            }
            #expect(!FileManager.default.fileExists(atPath: directory + "/broker.sqlite3"))
        }
    }
}
