import NIOCore
import SpoolCore

/// Parses requests from a connection's inbound bytes, one at a time.
///
/// A pure value with no I/O: feed it the connection's cumulative buffer and it returns the next
/// request, `nil` when it needs more bytes, or a failure to answer with `ERR`. The grammar is
/// docs/protocol.md; every limit comes from `SpoolLimits`.
///
/// Contract:
/// - Pass the same cumulative buffer on every call (new bytes appended at its end). The parser
///   consumes exactly the bytes of what it returns; when it returns nil it has consumed only bytes
///   that are never needed again (blank lines, a payload being skipped).
/// - A byte-counted `PUB` returns nothing until its whole payload and line end are buffered; the
///   value is then a slice of the input (no copy).
/// - After a failure with `closeConnection: true` the parser is finished: every later call
///   discards all buffered bytes and returns nil, so nothing after the failure can run.
public struct RequestParser: Sendable {
    /// The limits this parser enforces.
    public let limits: SpoolLimits

    private enum State: Sendable {
        /// Reading a request line.
        case line
        /// A `PUB` header was read; waiting for `count` value bytes and a line end.
        case payload(PublishRequest, count: Int)
        /// Discarding the rest of a refused payload, then its line end.
        case skipping(remaining: Int)
        case skippingLineEnd
        /// A fatal failure was returned; the connection is closing.
        case closed
    }

    private var state: State = .line
    /// The last `PUB` topic, so a stream of `PUB`s to one topic validates its name once.
    private var topics = TopicCache()
    /// The token array of the last line, kept for the next one (see `RequestLine.init`).
    private var tokenScratch: [Range<Int>] = []
    /// How many bytes after the reader index are already known to hold no `\n`, so a long line
    /// arriving in many small reads is searched once, not once per read.
    private(set) var searchedBytes = 0

    /// A parser enforcing `limits`.
    public init(limits: SpoolLimits) {
        self.limits = limits
    }

    /// False while a request is partly consumed: its payload is being read or skipped. With an
    /// empty buffer and this true, no request is partly received (the connection's timeouts need
    /// to know).
    public var isBetweenRequests: Bool {
        if case .line = state { return true }
        if case .closed = state { return true }
        return false
    }

    /// The next request or failure in `buffer`, consuming its bytes; nil when more bytes are needed.
    public mutating func next(from buffer: inout ByteBuffer) -> ParseOutcome? {
        while true {
            switch state {
            case .closed:
                buffer.moveReaderIndex(to: buffer.writerIndex)
                return nil
            case .skipping(let remaining):
                // Streaming: drop what is here and remember the rest, never buffer a refused payload.
                let dropped = min(remaining, buffer.readableBytes)
                buffer.moveReaderIndex(forwardBy: dropped)
                guard dropped == remaining else {
                    state = .skipping(remaining: remaining - dropped)
                    return nil
                }
                state = .skippingLineEnd
            case .skippingLineEnd:
                switch Self.lineEnd(in: buffer, at: buffer.readerIndex) {
                case nil: return nil
                case 0?: return fail(SpoolError(.badPayload, "payload not followed by a line end; closing"), &buffer)
                case let length?:
                    buffer.moveReaderIndex(forwardBy: length)
                    state = .line
                }
            case .payload(var request, let count):
                guard buffer.readableBytes > count else { return nil }
                switch Self.lineEnd(in: buffer, at: buffer.readerIndex + count) {
                case nil: return nil
                case 0?:
                    return fail(
                        SpoolError(.badPayload, "the \(count) payload bytes are not followed by a line end; closing"), &buffer)
                case let length?:
                    request.value = buffer.readSlice(length: count)!
                    buffer.moveReaderIndex(forwardBy: length)
                    state = .line
                    return .request(.publish(request))
                }
            case .line:
                guard let line = nextLine(from: &buffer) else {
                    if isTooLong(unterminated: buffer) {
                        return fail(SpoolError(.lineTooLong, lineTooLongMessage), &buffer)
                    }
                    return nil
                }
                guard let line else {
                    return fail(SpoolError(.lineTooLong, lineTooLongMessage), &buffer)
                }
                // The token array goes back to the scratch once parsed, so the next line reuses its
                // storage instead of allocating one per request.
                defer { tokenScratch = line.tokens }
                if line.tokens.isEmpty { continue }  // blank lines are ignored
                // PUB to its own grammar, with this connection's topic cache.
                let parsed =
                    line.isWord(line.tokens[0], "pub")
                    ? PublishGrammar.parse(line, limits: limits, topics: &topics) : CommandGrammar.parse(line, limits: limits)
                switch parsed {
                case .request(let request):
                    return .request(request)
                case .failure(let error, closeConnection: let close):
                    return close ? fail(error, &buffer) : .failure(error, closeConnection: false)
                case .awaitPayload(let request, let count):
                    state = .payload(request, count: count)
                case .skipPayload(let error, let count):
                    state = .skipping(remaining: count)
                    return .failure(error, closeConnection: false)
                }
            }
        }
    }

    private var lineTooLongMessage: String {
        "request line longer than \(limits.lineBytes) bytes; closing"
    }

    /// Consumes the next line. Returns nil when no `\n` is buffered yet, `.some(nil)` when the line
    /// is longer than `lineBytes`, else the line without its line end.
    private mutating func nextLine(from buffer: inout ByteBuffer) -> RequestLine?? {
        let from = min(searchedBytes, buffer.readableBytes)
        let newline = buffer.withUnsafeReadableBytes { raw in
            raw[from...].firstIndex(of: UInt8(ascii: "\n"))
        }
        guard let newline else {
            searchedBytes = buffer.readableBytes
            return nil
        }
        searchedBytes = 0
        var length = newline
        if length > 0, buffer.getInteger(at: buffer.readerIndex + length - 1, as: UInt8.self) == UInt8(ascii: "\r") {
            length -= 1
        }
        guard length <= limits.lineBytes else { return .some(nil) }
        let bytes = buffer.getSlice(at: buffer.readerIndex, length: length)!
        buffer.moveReaderIndex(forwardBy: newline + 1)
        return .some(RequestLine(bytes: bytes, reusing: &tokenScratch))
    }

    /// True when the buffered bytes without a `\n` already make a line longer than `lineBytes`,
    /// whatever comes next (a final `\r` may still be the start of a `\r\n`).
    private func isTooLong(unterminated buffer: ByteBuffer) -> Bool {
        var length = buffer.readableBytes
        if length > 0, buffer.getInteger(at: buffer.writerIndex - 1, as: UInt8.self) == UInt8(ascii: "\r") {
            length -= 1
        }
        return length > limits.lineBytes
    }

    /// The length of the line end at `index`: 1 for `\n`, 2 for `\r\n`, 0 for anything else,
    /// nil when more bytes are needed to tell.
    private static func lineEnd(in buffer: ByteBuffer, at index: Int) -> Int? {
        guard let first = buffer.getInteger(at: index, as: UInt8.self) else { return nil }
        if first == UInt8(ascii: "\n") { return 1 }
        guard first == UInt8(ascii: "\r") else { return 0 }
        guard let second = buffer.getInteger(at: index + 1, as: UInt8.self) else { return nil }
        return second == UInt8(ascii: "\n") ? 2 : 0
    }

    /// A fatal failure: the parser stops and drops everything, because it can no longer tell where
    /// the next request starts.
    private mutating func fail(_ error: SpoolError, _ buffer: inout ByteBuffer) -> ParseOutcome {
        state = .closed
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .failure(error, closeConnection: true)
    }
}
