import NIOCore

/// A byte-level reader of the broker's reply stream, for the load generator: it finds reply lines
/// and `MSG` frames without building strings, so the generator's own cost per record stays far
/// below the broker's (both share the same two cores).
///
/// Feed it every inbound buffer; it calls back once per complete frame. A `MSG` frame is delivered
/// only once its payload and line end are buffered.
struct ReplyScanner {
    enum Frame {
        /// `MSG <topic> <partition> <offset> <timestamp_ms> <key|-> <nbytes>` + payload: the header
        /// line (no line end) and the payload, both borrowed for the callback.
        case message(header: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer)
        /// Any other line (`OK ...`, `ERR ...`, `END ...`), without its line end.
        case line(UnsafeRawBufferPointer)
    }

    private var pending = ByteBuffer()

    /// Appends `incoming` and visits every complete frame. `visit` returns false to stop early
    /// (the rest stays buffered for the next call).
    mutating func feed(_ incoming: inout ByteBuffer, _ visit: (Frame) -> Bool) {
        if pending.readableBytes == 0 {
            pending = incoming
        } else {
            pending.writeBuffer(&incoming)
        }
        let consumed = pending.withUnsafeReadableBytes { raw -> Int in
            var at = 0
            while at < raw.count {
                guard let newline = Self.index(of: UInt8(ascii: "\n"), in: raw, from: at) else { break }
                let line = UnsafeRawBufferPointer(rebasing: raw[at..<newline])
                if Self.isMessage(line) {
                    let count = Self.lastNumber(line)
                    let payloadStart = newline + 1
                    guard payloadStart + count + 1 <= raw.count else { break }
                    let payload = UnsafeRawBufferPointer(rebasing: raw[payloadStart..<(payloadStart + count)])
                    at = payloadStart + count + 1
                    if !visit(.message(header: line, payload: payload)) { break }
                } else {
                    at = newline + 1
                    if !visit(.line(line)) { break }
                }
            }
            return at
        }
        pending.moveReaderIndex(forwardBy: consumed)
        if pending.readableBytes == 0 {
            pending.clear()
        } else if pending.readerIndex > 1 << 20 {
            pending.discardReadBytes()
        }
    }

    static func index(of byte: UInt8, in raw: UnsafeRawBufferPointer, from start: Int) -> Int? {
        guard start < raw.count, let base = raw.baseAddress else { return nil }
        guard let found = memchr(base + start, Int32(byte), raw.count - start) else { return nil }
        return UnsafeRawPointer(found) - base
    }

    static func isMessage(_ line: UnsafeRawBufferPointer) -> Bool {
        line.count > 4 && line[0] == UInt8(ascii: "M") && line[1] == UInt8(ascii: "S") && line[2] == UInt8(ascii: "G")
            && line[3] == UInt8(ascii: " ")
    }

    static func startsWithOK(_ line: UnsafeRawBufferPointer) -> Bool {
        line.count >= 2 && line[0] == UInt8(ascii: "O") && line[1] == UInt8(ascii: "K")
    }

    /// The decimal number that ends `line` (the byte count of a `MSG` header).
    static func lastNumber(_ line: UnsafeRawBufferPointer) -> Int {
        var index = line.count - 1
        while index > 0 && line[index] != UInt8(ascii: " ") { index -= 1 }
        return number(line, from: index + 1)
    }

    /// The decimal digits of `line` starting at `from`, up to the first non-digit.
    static func number(_ line: UnsafeRawBufferPointer, from: Int) -> Int {
        var value = 0
        var index = from
        while index < line.count, line[index] >= UInt8(ascii: "0"), line[index] <= UInt8(ascii: "9") {
            value = value * 10 + Int(line[index] - UInt8(ascii: "0"))
            index += 1
        }
        return value
    }

    /// The value of `name=` in a line such as `END t 0 next=10 high=10`, or nil.
    static func field(_ name: String, in line: UnsafeRawBufferPointer) -> Int? {
        let key = Array((name + "=").utf8)
        guard line.count >= key.count else { return nil }
        var index = 0
        while index + key.count <= line.count {
            if (index == 0 || line[index - 1] == UInt8(ascii: " ")) && line[index..<(index + key.count)].elementsEqual(key) {
                return number(line, from: index + key.count)
            }
            index += 1
        }
        return nil
    }
}

#if canImport(Glibc)
import Glibc
#endif
