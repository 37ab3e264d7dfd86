import Foundation
import NIOCore
import SpoolClient
import SpoolCore
import SpoolStorage
import Testing

// Generous deadlines: under a full suite on a loaded 2-core machine a run once timed out (and,
// before `withSpoold`, left its spoold running).
@Suite("Graceful shutdown of the real spoold", .timeLimit(.minutes(3)))
struct GracefulShutdownTests {
    @Test func sigtermLetsAcknowledgedWritesStayAndClosesFilesCleanly() async throws {
        try await withTemporaryFolder { directory in
            let acknowledged = try await withSpoold(on: directory) { spoold in
                let client = try await SpoolClient.connect(port: spoold.port)
                try await client.createTopic("calm", partitions: 1)
                let producer = Task { () -> [Int64] in
                    var offsets: [Int64] = []
                    for round in 0..<1000 {
                        let records = (0..<20).map { OutgoingRecord(topic: "calm", value: "r\(round)-\($0)") }
                        guard let results = try? await client.publishResults(batch: records) else { break }
                        offsets += results.compactMap { try? $0.get().offset }
                        if results.contains(where: { (try? $0.get()) == nil }) { break }
                    }
                    return offsets
                }
                // One watching connection (a new one per poll piled up hundreds of idle connections).
                let watcher = try await SpoolClient.connect(port: spoold.port)
                do {
                    try await eventually(timeout: .seconds(60), pollEvery: .milliseconds(20), "some writes acknowledged") {
                        try await watcher.stats()["records_in_total"] ?? 0 > 200
                    }
                } catch {
                    producer.cancel()
                    throw error
                }
                #expect(spoold.terminate() == 0, "spoold exits 0 on SIGTERM")
                let acknowledged = await producer.value
                await watcher.close()
                await client.close()
                return acknowledged
            }
            #expect(acknowledged.count >= 200)
            // Clean close: the WAL was checkpointed into the database and emptied (or removed).
            let wal = directory + "/topics/calm/0.sqlite3-wal"
            #expect(FileSystem.fileSize(wal) == 0)
            let connection = try SQLiteConnection(path: directory + "/topics/calm/0.sqlite3", mode: .readOnly)
            #expect(try connection.integrityCheck() == "ok")
            let stored = try connection.scalarInt("SELECT count(*) FROM records") ?? 0
            // Queued writes commit and are answered before the broker closes: nothing stored went
            // unacknowledged (writes that arrive after the listener closed are refused, not stored).
            #expect(stored == Int64(acknowledged.count), "stored \(stored), acknowledged \(acknowledged.count)")
            #expect(acknowledged.sorted() == Array(0..<Int64(acknowledged.count)))
            connection.close()
        }
    }
}
