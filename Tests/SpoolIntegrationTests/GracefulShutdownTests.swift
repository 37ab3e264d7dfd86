import Foundation
import NIOCore
import SpoolClient
import SpoolCore
import SpoolStorage
import Testing

@Suite("Graceful shutdown of the real spoold", .timeLimit(.minutes(2)))
struct GracefulShutdownTests {
    @Test func sigtermLetsAcknowledgedWritesStayAndClosesFilesCleanly() async throws {
        let directory = TestBroker.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spoold = try SpooldProcess.start(dataDirectory: directory)
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
        try await eventually("some writes acknowledged") { (try? await SpoolClient.connect(port: spoold.port).stats()["records_in_total"]) ?? 0 > 200 }
        #expect(spoold.terminate() == 0, "spoold exits 0 on SIGTERM")
        let acknowledged = await producer.value
        await client.close()
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
    }
}
