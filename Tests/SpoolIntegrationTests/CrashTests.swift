import Foundation
import NIOCore
import SpoolClient
import SpoolCore
import SpoolStorage
import Synchronization
import Testing

/// Nothing acknowledged is lost: kill the real spoold with SIGKILL while producers pipeline
/// acks=leader writes, restart it, and check every acknowledged record.
@Suite("Crash safety (SIGKILL on the real spoold)", .timeLimit(.minutes(3)))
struct CrashTests {
    struct Acked: Sendable {
        var partition: Int
        var offset: Int64
        var value: String
    }

    final class AckLog: Sendable {
        private let records = Mutex<[Acked]>([])
        func withLock<R>(_ body: (inout [Acked]) -> R) -> R { records.withLock { body(&$0) } }
    }

    @Test func everyAcknowledgedRecordSurvivesSIGKILL() async throws {
        let directory = TestBroker.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let partitions = 2
        var acked: [Acked] = []

        do {
            let spoold = try SpooldProcess.start(dataDirectory: directory)
            let client = try await SpoolClient.connect(port: spoold.port)
            try await client.createTopic("crash", partitions: partitions)
            await client.close()
            spoold.kill()
        }

        for round in 0..<3 {
            let spoold = try SpooldProcess.start(dataDirectory: directory)
            let ackedThisRound = AckLog()
            // Four producers pipeline windows of 50 records until the broker dies under them.
            let producers = (0..<4).map { producer in
                Task {
                    guard let client = try? await SpoolClient.connect(port: spoold.port) else { return }
                    var sequence = 0
                    while !Task.isCancelled {
                        let records = (0..<50).map { index in
                            OutgoingRecord(
                                topic: "crash", key: nil, value: ByteBuffer(string: "r\(round)-p\(producer)-\(sequence + index)"),
                                partition: (sequence + index) % partitions, acks: .leader)
                        }
                        sequence += 50
                        guard let results = try? await client.publishResults(batch: records) else { return }
                        var stop = false
                        for (record, result) in zip(records, results) {
                            guard case .success(let ack) = result, let offset = ack.offset else {
                                stop = true
                                continue
                            }
                            ackedThisRound.withLock { $0.append(Acked(partition: ack.partition, offset: offset, value: String(buffer: record.value))) }
                        }
                        if stop { return }
                    }
                }
            }
            // Kill it mid-stream, once a good number of writes have been acknowledged.
            try await eventually(timeout: .seconds(60), "acknowledged writes before the kill") {
                ackedThisRound.withLock { $0.count } >= 1500 + round * 500
            }
            spoold.kill()
            for producer in producers { _ = await producer.value }
            acked += ackedThisRound.withLock { $0 }
        }

        // The files as the last SIGKILL left them pass SQLite's own check (read-only, before any
        // broker opens them again).
        for partition in 0..<partitions {
            let connection = try SQLiteConnection(path: directory + "/topics/crash/\(partition).sqlite3", mode: .readOnly)
            #expect(try connection.integrityCheck() == "ok", "partition \(partition) right after SIGKILL")
            connection.close()
        }

        // Restart and check every acknowledged record, the offsets and the files.
        let spoold = try SpooldProcess.start(dataDirectory: directory)
        let client = try await SpoolClient.connect(port: spoold.port)
        var stored: [[Int64: String]] = Array(repeating: [:], count: partitions)
        for partition in 0..<partitions {
            var next: Int64 = 0
            while true {
                let batch = try await client.fetch(topic: "crash", partition: partition, from: .offset(Offset(next)))
                for message in batch.messages {
                    // Offsets have no gaps: reading from 0, each record sits at the next offset.
                    #expect(message.offset.rawValue == Int64(stored[partition].count))
                    stored[partition][message.offset.rawValue] = message.valueString
                }
                if batch.next == batch.high { break }
                next = batch.next
            }
            let offsets = stored[partition].keys.sorted()
            #expect(offsets == Array(0..<Int64(offsets.count)), "partition \(partition) offsets are gapless from 0")
        }
        var missing = 0
        for record in acked where stored[record.partition][record.offset] != record.value {
            missing += 1
        }
        #expect(acked.count >= 4500)
        #expect(missing == 0, "\(missing) of \(acked.count) acknowledged records were lost or changed")
        // Every acknowledged value appears exactly once.
        let values = stored.flatMap { $0.values }
        #expect(Set(values).count == values.count, "no record was stored twice")
        await client.close()
        #expect(spoold.terminate() == 0, "spoold exits 0 on SIGTERM")

        for partition in 0..<partitions {
            let connection = try SQLiteConnection(path: directory + "/topics/crash/\(partition).sqlite3", mode: .readOnly)
            #expect(try connection.integrityCheck() == "ok")
        }
    }
}
