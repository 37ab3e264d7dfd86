import Foundation
import Testing

@Suite("Backpressure on produced bytes", .timeLimit(.minutes(2)))
struct BackpressureTests {
    static let recordBytes = 8 * 1024
    static let records = 16 * 1024  // 128 MiB of values

    /// One client floods acks=none PUBs (128 MiB, reading its replies) faster than the group
    /// commits can write them. The broker must stop reading that socket while its queued bytes
    /// are at their bound, so its peak resident set grows by far less than the flood (it grew by
    /// most of it), and every record is still stored, in order.
    /// Each bound holds on its own: the connection's (the partition's is larger than the whole
    /// flood) and the partition's (the connection's is).
    @Test(arguments: [(perConnection: 1 << 20, perPartition: 1 << 30), (perConnection: 1 << 30, perPartition: 1 << 20)])
    func anAcksNoneFloodStaysBoundedAndArrivesInOrder(bounds: (perConnection: Int, perPartition: Int)) async throws {
        let arguments = [
            "--queued-bytes-per-connection", "\(bounds.perConnection)", "--queued-bytes-per-partition", "\(bounds.perPartition)",
            // Small transactions: each costs an fsync, so the writer is slower than the socket.
            "--commit-batch-bytes", "\(64 * 1024)",
        ]
        try await withSpoold(extraArguments: arguments) { spoold in
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
                var chunk: [UInt8] = []
                for index in 0..<Self.records {
                    chunk += Array("PUB flood acks=none \(Self.recordBytes)\n".utf8)
                    chunk += Self.value(index)
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
            #expect(growthMB < 48, "spoold's peak RSS grew by \(growthMB) MiB during a 128 MiB flood")

            // Every record arrives, in order.
            try await eventually(timeout: .seconds(60), pollEvery: .milliseconds(100), "the flood to be written") {
                try control.send("OFFSETS flood 0\n")
                return try control.readLine().hasSuffix("latest=\(Self.records)")
            }
            var next = 0
            while next < Self.records {
                try control.send("FETCH flood 0 \(next) max=1000\n")
                while true {
                    let line = try control.readLine()
                    if line.hasPrefix("END ") { break }
                    let header = line.split(separator: " ")
                    #expect(header.count == 7 && header[3] == "\(next)", "\(line)")
                    let value = try control.readBytes(Self.recordBytes + 1)
                    #expect(Array(value.prefix(12)) == Array(Self.value(next).prefix(12)), "record \(next)")
                    next += 1
                }
            }
            #expect(next == Self.records)
        }
    }

    /// Value `index`: its number in 12 digits, then filler.
    static func value(_ index: Int) -> [UInt8] {
        var bytes = Array(String(format: "%012d", index).utf8)
        bytes += [UInt8](repeating: UInt8(ascii: "v"), count: recordBytes - bytes.count)
        return bytes
    }
}

/// One socket used by a sending and a reading task at once: `send` touches only the descriptor,
/// `readLine` only the read buffer, so the two never share state.
final class SocketBox: @unchecked Sendable {
    let socket: RawSocket
    init(_ socket: RawSocket) { self.socket = socket }
}
