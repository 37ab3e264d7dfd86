import Foundation
import NIOCore
import SpoolClient
import SpoolCore
import Synchronization
import Testing

/// The pieces of the crash tests: pipelined producers that note every acknowledgement until the
/// broker dies under them, and a reader of everything a restarted broker holds.
enum CrashWorkload {
    struct Acked: Sendable {
        var partition: Int
        var offset: Int64
        var value: String
    }

    final class AckLog: Sendable {
        private let records = Mutex<[Acked]>([])
        func withLock<R>(_ body: (inout [Acked]) -> R) -> R { records.withLock { body(&$0) } }
    }

    /// Creates `topic` on a broker started for the purpose and stopped with SIGKILL.
    static func createTopic(_ topic: String, partitions: Int, directory: String, environment: [String: String]) async throws {
        try await withSpoold(on: directory, environment: environment) { spoold in
            let client = try await SpoolClient.connect(port: spoold.port)
            try await client.createTopic(topic, partitions: partitions)
            await client.close()
            spoold.kill()
        }
    }

    /// Four producers pipeline windows of 50 acks=leader records into `spoold`; once
    /// `acknowledgedBeforeKill` are acknowledged, `spoold` gets SIGKILL. Returns every record the
    /// broker acknowledged. Values are `<tag>-p<producer>-<n>`, unique per tag.
    static func produceUntilKilled(
        _ spoold: SpooldProcess, topic: String, partitions: Int, tag: String, acknowledgedBeforeKill: Int
    ) async throws -> [Acked] {
        let acked = AckLog()
        let producers = (0..<4).map { producer in
            Task {
                guard let client = try? await SpoolClient.connect(port: spoold.port) else { return }
                var sequence = 0
                produce: while !Task.isCancelled {
                    let records = (0..<50).map { index in
                        OutgoingRecord(
                            topic: topic, key: nil, value: ByteBuffer(string: "\(tag)-p\(producer)-\(sequence + index)"),
                            partition: (sequence + index) % partitions, acks: .leader)
                    }
                    sequence += 50
                    guard let results = try? await client.publishResults(batch: records) else { break produce }
                    var stop = false
                    for (record, result) in zip(records, results) {
                        guard case .success(let ack) = result, let offset = ack.offset else {
                            stop = true
                            continue
                        }
                        acked.withLock { $0.append(Acked(partition: ack.partition, offset: offset, value: String(buffer: record.value))) }
                    }
                    if stop { break produce }
                }
                await client.close()
            }
        }
        defer { for producer in producers { producer.cancel() } }
        try await eventually(timeout: .seconds(60), "acknowledged writes before the kill") {
            acked.withLock { $0.count } >= acknowledgedBeforeKill
        }
        spoold.kill()
        for producer in producers { _ = await producer.value }
        return acked.withLock { $0 }
    }

    /// Every record of `topic` on the broker at `port`, by partition and offset; checks the
    /// offsets are gapless from 0.
    static func storedRecords(port: Int, topic: String, partitions: Int) async throws -> [[Int64: String]] {
        let client = try await SpoolClient.connect(port: port)
        var stored: [[Int64: String]] = Array(repeating: [:], count: partitions)
        for partition in 0..<partitions {
            var next: Int64 = 0
            while true {
                let batch = try await client.fetch(topic: topic, partition: partition, from: .offset(Offset(next)))
                for message in batch.messages {
                    // Offsets have no gaps: reading from 0, each record sits at the next offset.
                    #expect(message.offset.rawValue == Int64(stored[partition].count), "partition \(partition) offsets are gapless from 0")
                    stored[partition][message.offset.rawValue] = message.valueString
                }
                if batch.next == batch.high { break }
                next = batch.next
            }
        }
        await client.close()
        return stored
    }

    /// How many of `acked` are not in `stored` at their offset with their value.
    static func missing(_ acked: [Acked], from stored: [[Int64: String]]) -> Int {
        acked.filter { stored[$0.partition][$0.offset] != $0.value }.count
    }
}
