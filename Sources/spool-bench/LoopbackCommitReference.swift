import Foundation
import SpoolCore

#if canImport(Glibc)
import Glibc
#endif

/// The best a networked server can do on this machine when every request is its own
/// transaction: a client sends one `PUB`-sized request over loopback TCP and waits for the
/// answer, the server commits one row (`RawSQLiteTable`, so the same SQLite work as the raw
/// reference) and answers, and so on. Blocking sockets and bare threads, no parsing, no event
/// loop: nothing a real broker could do with less.
///
/// It separates what the broker's one-record-per-transaction figure pays for the network round
/// trip and thread wake-ups of the machine (which no server avoids) from what the broker itself
/// adds. Two variants:
/// - `inline`: the socket thread commits itself. The lower bound of any TCP server.
/// - `handoff`: the socket thread hands each row to a storage thread and waits for it, the
///   broker's rule (SQLite never runs on a network thread), still without any event loop.
struct LoopbackCommitReference {
    enum Variant: String, CaseIterable, Sendable, Codable {
        case inline
        case handoff

        var text: String {
            switch self {
            case .inline: "socket thread commits"
            case .handoff: "socket thread hands off to a storage thread"
            }
        }
    }

    struct Result: Sendable, Codable {
        var variant: Variant
        var records: Int
        var seconds: Double
        var recordsPerSecond: Double
        /// recordsPerSecond over the raw 1-row rate of the same run, when it was measured.
        var ratioToRaw: Double?

        enum CodingKeys: String, CodingKey {
            case variant, records, seconds
            case recordsPerSecond = "records_per_s"
            case ratioToRaw = "ratio_to_raw_1_row"
        }

        var text: String {
            "loopback round trip + 1-row commit, \(variant.text): \(fixed(recordsPerSecond, 0)) records/s"
                + (ratioToRaw.map { " = \(fixed($0, 2)) x raw 1-row" } ?? "") + " (\(records) in \(fixed(seconds, 2)) s)"
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    var directory: String
    var valueBytes: Int
    /// Each variant runs until this many seconds have passed or `maxRecords` records are in.
    var seconds: Double
    var maxRecords: Int

    func run(_ variant: Variant, rawRate: Double?) throws -> Result {
        let table = try RawSQLiteTable(path: "\(directory)/loopback-\(variant.rawValue).sqlite3", valueBytes: valueBytes, keys: 0)
        let shape = RecordShape(topic: "bench", valueBytes: valueBytes, keys: 0, acks: "leader")
        let request = shape.prefix + shape.suffix + shape.value + [UInt8(ascii: "\n")]

        let listener = try Socket.listenOnLoopback()
        defer {
            // shutdown wakes a server thread still blocked in accept (if connecting failed).
            shutdown(listener.fd, Int32(SHUT_RDWR))
            close(listener.fd)
        }
        let server = Server(listener: listener.fd, table: table, requestBytes: request.count, variant: variant)
        let serverDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            server.serve()
            serverDone.signal()
        }
        let client = try Socket.connectToLoopback(port: listener.port)
        var reply = [UInt8](repeating: 0, count: 256)
        var records = 0
        let start = WallClock.monotonicNs()
        let deadline = start + UInt64(seconds * 1e9)
        do {
            while records < maxRecords && (records == 0 || WallClock.monotonicNs() < deadline) {
                try Socket.writeAll(client, request)
                try Socket.readLine(client, into: &reply)
                records += 1
            }
        } catch {
            close(client)
            serverDone.wait()
            throw Failure(description: "loopback \(variant.rawValue): \(error) (server: \(server.failure ?? "no error"))")
        }
        let elapsed = Double(WallClock.monotonicNs() - start) / 1e9
        close(client)
        serverDone.wait()
        if let failure = server.failure { throw Failure(description: "loopback \(variant.rawValue): \(failure)") }
        guard Int(table.nextOffset) == records else {
            throw Failure(description: "loopback \(variant.rawValue): \(records) answered but \(table.nextOffset) stored")
        }
        let rate = Double(records) / elapsed
        return Result(variant: variant, records: records, seconds: elapsed, recordsPerSecond: rate, ratioToRaw: rawRate.map { rate / $0 })
    }

    /// Accepts one connection and answers each fixed-size request after committing one row.
    /// `@unchecked Sendable`: `failure` is written only by the server thread and read only after
    /// that thread has signalled that it finished.
    private final class Server: @unchecked Sendable {
        let listener: Int32
        let table: RawSQLiteTable
        let requestBytes: Int
        let variant: Variant
        private(set) var failure: String?

        init(listener: Int32, table: RawSQLiteTable, requestBytes: Int, variant: Variant) {
            self.listener = listener
            self.table = table
            self.requestBytes = requestBytes
            self.variant = variant
        }

        func serve() {
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else {
                failure = "accept: errno \(errno)"
                return
            }
            defer { close(fd) }
            Socket.setNoDelay(fd)
            let storage = variant == .handoff ? StorageThread(table: table) : nil
            defer { storage?.stop() }
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            var reply = [UInt8](repeating: 0, count: 64)
            var buffered = 0
            while true {
                // One whole request (the client sends the next only after the answer).
                while buffered < requestBytes {
                    let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + buffered, $0.count - buffered) }
                    if count == 0 { return }
                    if count < 0 {
                        if errno == EINTR { continue }
                        failure = "read: errno \(errno)"
                        return
                    }
                    buffered += count
                }
                buffered -= requestBytes
                precondition(buffered == 0, "the client waits for each answer")
                let offset = table.nextOffset
                do {
                    if let storage { try storage.appendOne() } else { try table.appendTransaction(rows: 1) }
                } catch {
                    failure = "\(error)"
                    return
                }
                let length = Self.render(offset: offset, into: &reply)
                do { try Socket.writeAll(fd, reply[..<length]) } catch { return }
            }
        }

        /// `OK bench 0 <offset>\n`, the broker's answer to the same request.
        private static func render(offset: Int64, into buffer: inout [UInt8]) -> Int {
            let head: StaticString = "OK bench 0 "
            var length = 0
            head.withUTF8Buffer { for byte in $0 { buffer[length] = byte; length += 1 } }
            var digits: [UInt8] = []
            var rest = offset
            repeat {
                digits.append(UInt8(ascii: "0") + UInt8(rest % 10))
                rest /= 10
            } while rest > 0
            for digit in digits.reversed() { buffer[length] = digit; length += 1 }
            buffer[length] = UInt8(ascii: "\n")
            return length + 1
        }
    }

    /// A thread that owns the table and commits one row whenever asked (mutex and condition
    /// variable, the cheapest hand-off between two sleeping threads).
    private final class StorageThread: @unchecked Sendable {
        private let condition = NSCondition()
        private var requested = false
        private var finished = false
        private var stopping = false
        private var failure: (any Error)?
        private let exited = DispatchSemaphore(value: 0)

        init(table: RawSQLiteTable) {
            Thread.detachNewThread { [self] in
                loop(table)
                exited.signal()
            }
        }

        private func loop(_ table: RawSQLiteTable) {
            condition.lock()
            while true {
                while !requested && !stopping { condition.wait() }
                if !requested {
                    condition.unlock()
                    return
                }
                requested = false
                condition.unlock()
                var error: (any Error)?
                do { try table.appendTransaction(rows: 1) } catch let caught { error = caught }
                condition.lock()
                failure = error
                finished = true
                condition.broadcast()
            }
        }

        /// Commits one row on the storage thread; returns once it is durable.
        func appendOne() throws {
            condition.lock()
            requested = true
            condition.broadcast()
            while !finished { condition.wait() }
            finished = false
            let error = failure
            condition.unlock()
            if let error { throw error }
        }

        func stop() {
            condition.lock()
            stopping = true
            condition.broadcast()
            condition.unlock()
            exited.wait()
        }
    }
}

/// Blocking loopback sockets for the references.
enum Socket {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func listenOnLoopback() throws -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 1) == 0 else {
            close(fd)
            throw Failure(description: "bind/listen on 127.0.0.1: errno \(errno)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, UInt16(bigEndian: address.sin_port))
    }

    static func connectToLoopback(port: UInt16) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        var address = loopback(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw Failure(description: "connect to 127.0.0.1:\(port): errno \(errno)")
        }
        setNoDelay(fd)
        return fd
    }

    static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    static func writeAll<Bytes: Collection<UInt8>>(_ fd: Int32, _ bytes: Bytes) throws {
        let written: Bool = bytes.withContiguousStorageIfAvailable { buffer in
            var done = 0
            while done < buffer.count {
                let count = write(fd, buffer.baseAddress! + done, buffer.count - done)
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { return false }
                done += count
            }
            return true
        } ?? false
        guard written else { throw Failure(description: "write: errno \(errno)") }
    }

    /// Reads one answer line (the peer sends nothing else until asked again).
    static func readLine(_ fd: Int32, into buffer: inout [UInt8]) throws {
        var length = 0
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + length, $0.count - length) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw Failure(description: "the server closed the connection") }
            length += count
            if buffer[length - 1] == UInt8(ascii: "\n") { return }
            guard length < buffer.count else { throw Failure(description: "answer too long") }
        }
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }
}
