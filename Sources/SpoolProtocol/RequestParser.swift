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
///   that are never needed again (blank lines, a payload being skipped, telnet commands).
/// - A request line is edited in place for telnet (`TelnetLineEditor`): telnet commands, BS and
///   DEL are removed from the unconsumed bytes of the line being typed, so the buffer may shrink
///   at its reader or its writer end. `.telnet` carries the answers to those commands.
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
    /// How many bytes after the reader index are already known to hold no `\n` and nothing to
    /// edit, so a long line arriving in many small reads is searched once, not once per read.
    private(set) var searchedBytes = 0
    /// Telnet commands and line editing in the line being typed.
    private var telnet = TelnetLineEditor()
    /// Bytes of the current line that editing removed (telnet commands, erased characters): the
    /// line limit counts the line as it was sent, so a split into reads cannot change a result.
    private var editedBytes = 0

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
                let line: RequestLine
                switch nextLine(from: &buffer) {
                case .needMore:
                    if isTooLong(unterminated: buffer) {
                        return fail(SpoolError(.lineTooLong, lineTooLongMessage), &buffer)
                    }
                    return nil
                case .tooLong:
                    return fail(SpoolError(.lineTooLong, lineTooLongMessage), &buffer)
                case .telnet(let replies):
                    return .telnet(replies)
                case .line(let next):
                    line = next
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

    /// What `nextLine` found.
    private enum LineScan {
        /// No `\n` is buffered yet.
        case needMore
        /// The line is longer than `lineBytes`.
        case tooLong
        /// A line, without its line end.
        case line(RequestLine)
        /// Telnet commands in the line being typed were answered; the line itself is not done.
        case telnet([UInt8])
    }

    /// Consumes the next line, or the telnet commands typed so far in it (see `TelnetLineEditor`).
    ///
    /// The fast path is one scan for `\n`, `IAC`, BS and DEL, and a line without the last three
    /// costs nothing more. At such a byte the editor rewrites the rest of the line in place, and
    /// the bytes it removed are cut out of `buffer` by moving the shorter side: the edited start
    /// of the line forward, or what follows it back.
    private mutating func nextLine(from buffer: inout ByteBuffer) -> LineScan {
        while true {
            let from = min(searchedBytes, buffer.readableBytes)
            var editFrom = from
            if telnet.isIdle {
                let found = buffer.withUnsafeReadableBytes { raw in
                    raw[from...].firstIndex(where: TelnetLineEditor.stopsScan)
                }
                guard let found else {
                    searchedBytes = buffer.readableBytes
                    return .needMore
                }
                if buffer.getInteger(at: buffer.readerIndex + found, as: UInt8.self) == UInt8(ascii: "\n") {
                    return takeLine(from: &buffer, newline: found)
                }
                editFrom = found
            }
            var replies: [UInt8] = []
            var editor = telnet
            let (edit, movedStart) = buffer.withUnsafeMutableReadableBytes { raw in
                let edit = editor.edit(raw, from: editFrom, rawOffset: editedBytes, lineBytes: limits.lineBytes, replies: &replies)
                return (edit, Self.closeGap(raw, edit))
            }
            telnet = editor
            let gap = edit.read - edit.cooked
            if movedStart {
                buffer.moveReaderIndex(forwardBy: gap)
            } else {
                buffer.moveWriterIndex(to: buffer.writerIndex - gap)
            }
            searchedBytes = edit.cooked
            editedBytes += gap
            if !replies.isEmpty { return .telnet(replies) }
            // Without a line end, wait for more; with one, the scan finds it at `edit.cooked`.
            if !edit.foundLineEnd { return .needMore }
        }
    }

    /// Removes the edit's garbage, `raw[cooked..<read]`, by moving the shorter side over it.
    /// Returns true when the edited start moved forward (the reader index must follow it), false
    /// when what follows moved back (the writer index must).
    private static func closeGap(_ raw: UnsafeMutableRawBufferPointer, _ edit: TelnetLineEditor.Edit) -> Bool {
        let gap = edit.read - edit.cooked
        let tail = raw.count - edit.read
        guard gap > 0, let base = raw.baseAddress else { return true }
        // copyMemory allows overlapping regions (memmove).
        if edit.cooked <= tail {
            (base + gap).copyMemory(from: base, byteCount: edit.cooked)
            return true
        }
        (base + edit.cooked).copyMemory(from: base + edit.read, byteCount: tail)
        return false
    }

    /// Consumes the line that ends at the `\n` at `newline` (relative to the reader index).
    private mutating func takeLine(from buffer: inout ByteBuffer, newline: Int) -> LineScan {
        searchedBytes = 0
        let edited = editedBytes
        editedBytes = 0
        var length = newline
        if length > 0, buffer.getInteger(at: buffer.readerIndex + length - 1, as: UInt8.self) == UInt8(ascii: "\r") {
            length -= 1
        }
        guard edited + length <= limits.lineBytes else { return .tooLong }
        let bytes = buffer.getSlice(at: buffer.readerIndex, length: length)!
        buffer.moveReaderIndex(forwardBy: newline + 1)
        return .line(RequestLine(bytes: bytes, reusing: &tokenScratch))
    }

    /// True when the buffered bytes without a `\n` (and the bytes editing removed from them)
    /// already make a line longer than `lineBytes`, whatever comes next (a final `\r` may still
    /// be the start of a `\r\n`).
    private func isTooLong(unterminated buffer: ByteBuffer) -> Bool {
        var length = editedBytes + buffer.readableBytes
        if buffer.readableBytes > 0, buffer.getInteger(at: buffer.writerIndex - 1, as: UInt8.self) == UInt8(ascii: "\r") {
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
