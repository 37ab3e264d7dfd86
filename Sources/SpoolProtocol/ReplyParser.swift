import NIOCore
import SpoolCore

/// Splits a client's inbound bytes into reply lines and `MSG` records.
///
/// Pass the same cumulative buffer on every call. Returns nil until a whole frame is buffered
/// (for `MSG`: header, `nbytes` bytes and the line end) and consumes exactly the bytes of the
/// frame it returns. After it throws, every later call throws the same error.
public struct ReplyParser: Sendable {
    /// Longest line accepted, in bytes, excluding the line end.
    public let maxLineBytes: Int
    /// Largest `MSG` payload accepted, in bytes.
    public let maxPayloadBytes: Int

    private enum State: Sendable {
        case line
        /// A `MSG` header was read; waiting for the value and its line end.
        case payload(Message, count: Int)
        case failed(ReplyParseError)
    }

    private var state: State = .line
    /// Bytes after the reader index already searched for `\n` (see `RequestParser`).
    private var searchedBytes = 0

    public init(maxLineBytes: Int = 1 << 20, maxPayloadBytes: Int = 64 << 20) {
        self.maxLineBytes = maxLineBytes
        self.maxPayloadBytes = maxPayloadBytes
    }

    /// The next frame in `buffer`, or nil when more bytes are needed. Throws `ReplyParseError`.
    public mutating func next(from buffer: inout ByteBuffer) throws -> ReplyFrame? {
        try frame(from: &buffer)
    }

    private mutating func frame(from buffer: inout ByteBuffer) throws(ReplyParseError) -> ReplyFrame? {
        switch state {
        case .failed(let error):
            throw error
        case .payload(var message, let count):
            guard buffer.readableBytes > count else { return nil }
            let end: Int
            switch buffer.getInteger(at: buffer.readerIndex + count, as: UInt8.self) {
            case UInt8(ascii: "\n"): end = 1
            case UInt8(ascii: "\r"):
                guard let second = buffer.getInteger(at: buffer.readerIndex + count + 1, as: UInt8.self) else { return nil }
                guard second == UInt8(ascii: "\n") else { throw fail(.badPayloadEnd, "MSG payload not followed by a line end") }
                end = 2
            default:
                throw fail(.badPayloadEnd, "MSG payload not followed by a line end")
            }
            message.value = buffer.readSlice(length: count)!
            buffer.moveReaderIndex(forwardBy: end)
            state = .line
            return .message(message)
        case .line:
            let from = min(searchedBytes, buffer.readableBytes)
            let newline = buffer.withUnsafeReadableBytes { $0[from...].firstIndex(of: UInt8(ascii: "\n")) }
            guard let newline else {
                searchedBytes = buffer.readableBytes
                var length = buffer.readableBytes
                if length > 0, buffer.getInteger(at: buffer.writerIndex - 1, as: UInt8.self) == UInt8(ascii: "\r") { length -= 1 }
                if length > maxLineBytes { throw fail(.lineTooLong, "reply line longer than \(maxLineBytes) bytes") }
                return nil
            }
            searchedBytes = 0
            var length = newline
            if length > 0, buffer.getInteger(at: buffer.readerIndex + length - 1, as: UInt8.self) == UInt8(ascii: "\r") {
                length -= 1
            }
            if length > maxLineBytes { throw fail(.lineTooLong, "reply line longer than \(maxLineBytes) bytes") }
            let line = buffer.getBytes(at: buffer.readerIndex, length: length)!
            buffer.moveReaderIndex(forwardBy: newline + 1)
            guard line.starts(with: Self.messageWord) else {
                return .line(String(decoding: line, as: UTF8.self))
            }
            let (message, count) = try header(line)
            state = .payload(message, count: count)
            return try frame(from: &buffer)
        }
    }

    private static let messageWord: [UInt8] = Array("MSG ".utf8)

    /// Parses `MSG <topic> <partition> <offset> <timestamp_ms> <key|-> <nbytes>`.
    private mutating func header(_ line: [UInt8]) throws(ReplyParseError) -> (Message, Int) {
        let fields = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true)
        guard fields.count == 7 else { throw malformed(line, "expected 7 fields") }
        guard let partition = Self.decimal(fields[2]), partition <= Int64(Int32.max) else {
            throw malformed(line, "bad partition")
        }
        guard let offset = Self.decimal(fields[3]) else { throw malformed(line, "bad offset") }
        guard let timestamp = Self.decimal(fields[4]) else { throw malformed(line, "bad timestamp") }
        let key: [UInt8]?
        do {
            key = try KeyCodec.parse(fields[5])
        } catch {
            throw malformed(line, "bad key")
        }
        guard let count = Self.decimal(fields[6]) else { throw malformed(line, "bad byte count") }
        guard count <= Int64(maxPayloadBytes) else {
            throw fail(.payloadTooLarge, "MSG payload of \(count) bytes is more than \(maxPayloadBytes)")
        }
        let message = Message(
            topic: String(decoding: fields[1], as: UTF8.self), partition: PartitionID(Int32(partition)),
            offset: Offset(offset), timestamp: TimestampMs(timestamp), key: key, value: ByteBuffer())
        return (message, Int(count))
    }

    /// Digits only, no sign, at most `Int64.max`.
    private static func decimal(_ bytes: ArraySlice<UInt8>) -> Int64? {
        guard !bytes.isEmpty else { return nil }
        var value: Int64 = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            value = sum
        }
        return value
    }

    private mutating func malformed(_ line: [UInt8], _ problem: String) -> ReplyParseError {
        fail(.malformedMessageHeader, "\(problem): \(String(decoding: line.prefix(200), as: UTF8.self))")
    }

    private mutating func fail(_ kind: ReplyParseError.Kind, _ message: String) -> ReplyParseError {
        let error = ReplyParseError(kind, message)
        state = .failed(error)
        return error
    }
}
