import Foundation
import SpoolStorage
import Testing

@Suite("Backpressure on produced bytes", .timeLimit(.minutes(2)))
struct BackpressureTests {
    static let recordBytes = 16 * 1024
    static let records = 12 * 1024  // 192 MiB of values

    /// One client floods acks=none PUBs (192 MiB, reading its replies) faster than the group
    /// commits can write them. The broker must stop reading that socket while its queued bytes
    /// are at their bound, so its peak resident set grows by far less than the flood (it grew by
    /// most of it; bounded, it grows by about 40 MiB in a debug build: SQLite's cache, read
    /// buffers the queued records are slices of, allocator arenas), and every record is still
    /// stored, in order.
    /// Each bound holds on its own: the connection's (the partition's is larger than the whole
    /// flood) and the partition's (the connection's is).
    @Test(arguments: [(perConnection: 1 << 20, perPartition: 1 << 30), (perConnection: 1 << 30, perPartition: 1 << 20)])
    func anAcksNoneFloodStaysBoundedAndArrivesInOrder(bounds: (perConnection: Int, perPartition: Int)) async throws {
        let arguments = [
            "--queued-bytes-per-connection", "\(bounds.perConnection)", "--queued-bytes-per-partition", "\(bounds.perPartition)",
            // Small transactions: each costs an fsync, so the writer is slower than the socket.
            "--commit-batch-bytes", "\(256 * 1024)",
        ]
        try await withSpoold(arguments: arguments) { spoold in
            let control = try RawSocket(port: spoold.port, timeoutSeconds: 30)
            try control.send("CREATE flood\n")
            #expect(try control.readLine().hasPrefix("OK flood"))
            let baselineKB = try ProcessProbe.statusKB(spoold.pid, "VmHWM")

            let producer = SocketBox(try RawSocket(port: spoold.port, timeoutSeconds: 30))
            let replies = Task.detached { () throws -> Int in
                var ok = 0
                for _ in 0..<Self.records where try producer.socket.readLine() == "OK flood 0 -" { ok += 1 }
                return ok
            }
            let sent = Task.detached { () throws in
                let header = Array("PUB flood acks=none \(Self.recordBytes)\n".utf8)
                let filler = [UInt8](repeating: UInt8(ascii: "v"), count: Self.recordBytes - 12)
                var chunk: [UInt8] = []
                chunk.reserveCapacity(512 * 1024)
                for index in 0..<Self.records {
                    chunk.append(contentsOf: header)
                    chunk.append(contentsOf: Self.number(index))
                    chunk.append(contentsOf: filler)
                    chunk.append(UInt8(ascii: "\n"))
                    if chunk.count >= 256 * 1024 || index == Self.records - 1 {
                        try producer.socket.send(chunk)
                        chunk.removeAll(keepingCapacity: true)
                    }
                }
            }
            try await sent.value
            #expect(try await replies.value == Self.records)
            let growthMB = (try ProcessProbe.statusKB(spoold.pid, "VmHWM") - baselineKB) / 1024
            #expect(growthMB < 72, "spoold's peak RSS grew by \(growthMB) MiB during a 192 MiB flood")

            // Every record is stored, at its offset and whole (checked in SQL, as an operator
            // would), and a consumer reads them in order (a sample at each end, over the wire).
            try await eventually(timeout: .seconds(60), pollEvery: .milliseconds(100), "the flood to be written") {
                try control.send("OFFSETS flood 0\n")
                return try control.readLine().hasSuffix("latest=\(Self.records)")
            }
            let database = try SQLiteConnection(path: spoold.dataDirectory + "/topics/flood/0.sqlite3", mode: .readOnly)
            let inPlace = try database.scalarInt(
                "SELECT count(*) FROM records WHERE CAST(substr(value, 1, 12) AS INTEGER) = offset AND length(value) = \(Self.recordBytes)")
            #expect(inPlace == Int64(Self.records))
            database.close()
            for start in [0, Self.records - 50] {
                try control.send("FETCH flood 0 \(start) max=50\n")
                for offset in start..<(start + 50) {
                    let header = try control.readLine().split(separator: " ")
                    #expect(header.count == 7 && header[3] == "\(offset)")
                    let value = try control.readBytes(Self.recordBytes + 1)
                    #expect(Array(value.prefix(12)) == Self.number(offset), "record \(offset)")
                }
                #expect(try control.readLine().hasPrefix("END flood 0 next=\(start + 50) "))
            }
        }
    }

    /// Record `index`'s first 12 bytes: its number.
    static func number(_ index: Int) -> [UInt8] {
        Array(String(format: "%012d", index).utf8)
    }
}
/// One socket used by a sending and a reading task at once: `send` touches only the descriptor,
/// `readLine` only the read buffer, so the two never share state.
final class SocketBox: @unchecked Sendable {
    let socket: RawSocket
    init(_ socket: RawSocket) { self.socket = socket }
}
