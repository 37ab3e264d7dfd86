import NIOCore
import SpoolCore

/// One request line without its line end, split into tokens (runs of non-blank bytes).
///
/// `bytes` is a slice of the parser's input (no copy), so the key and inline value of a `PUB`
/// can be slices of it too. Token ranges index into `bytes`, whose reader index is 0.
struct RequestLine {
    var bytes: ByteBuffer
    var tokens: [Range<Int>]

    /// Splits `bytes`, storing the tokens in `scratch`'s storage (taken, emptied and kept) when
    /// no one else holds it: a parser hands back each line's array, so steady-state parsing
    /// allocates no token array per request.
    init(bytes: ByteBuffer, reusing scratch: inout [Range<Int>]) {
        self.bytes = bytes
        var tokens = scratch
        scratch = []
        tokens.removeAll(keepingCapacity: true)
        bytes.withUnsafeReadableBytes { raw in
            var start: Int? = nil
            for index in 0..<raw.count {
                let blank = raw[index] == UInt8(ascii: " ") || raw[index] == UInt8(ascii: "\t")
                if blank, let begin = start {
                    tokens.append(begin..<index)
                    start = nil
                } else if !blank, start == nil {
                    start = index
                }
            }
            if let begin = start { tokens.append(begin..<raw.count) }
        }
        self.tokens = tokens
    }

    /// The bytes of a range.
    func bytes(_ range: Range<Int>) -> [UInt8] {
        bytes.getBytes(at: range.lowerBound, length: range.count) ?? []
    }

    /// The first byte of a range (which is never empty for a token).
    func first(_ range: Range<Int>) -> UInt8 {
        bytes.getInteger(at: range.lowerBound, as: UInt8.self) ?? 0
    }

    /// The text of a range, lossy for bytes that are not UTF-8.
    func string(_ range: Range<Int>) -> String {
        String(decoding: bytes.readableBytesView[range], as: UTF8.self)
    }

    /// The text of a range with ASCII letters upper-cased, for case-insensitive words. Only ASCII
    /// is folded: Unicode case mapping would turn `pıng` (dotless i) into `PING`.
    func upper(_ range: Range<Int>) -> String { folded(range, from: UInt8(ascii: "a"), by: -32) }

    /// The text of a range with ASCII letters lower-cased, for option names and word values.
    func lower(_ range: Range<Int>) -> String { folded(range, from: UInt8(ascii: "A"), by: 32) }

    private func folded(_ range: Range<Int>, from first: UInt8, by delta: Int16) -> String {
        let bytes = bytes.readableBytesView[range].map { byte in
            byte >= first && byte <= first + 25 ? UInt8(Int16(byte) + delta) : byte
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A range for quoting in an error message: one line of printable ASCII, at most 40 bytes,
    /// because messages go back on the wire as `ERR <CODE> <message>`.
    func quoted(_ range: Range<Int>) -> String {
        var text = "'"
        for byte in bytes.readableBytesView[range].prefix(40) {
            if byte > 0x20, byte < 0x7F {
                text.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                text += "\\x" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        if range.count > 40 { text += "..." }
        return text + "'"
    }

    /// A decimal number of digits only (no sign), nil when empty, not digits, or above `Int64.max`.
    func unsigned(_ range: Range<Int>) -> Int64? {
        guard !range.isEmpty else { return nil }
        var value: Int64 = 0
        for byte in bytes.readableBytesView[range] {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
        }
        return value
    }

    /// Whether a range holds only ASCII digits (and is not empty).
    func isDigits(_ range: Range<Int>) -> Bool {
        !range.isEmpty && bytes.readableBytesView[range].allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    /// Whether a token looks like an attempt at a number: it starts with a digit or a sign.
    func looksNumeric(_ range: Range<Int>) -> Bool {
        guard !range.isEmpty else { return false }
        let byte = first(range)
        return (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "+")
            || byte == UInt8(ascii: "-")
    }

    /// The position of `=` in a token, nil when it is not an option.
    func equalsIndex(_ range: Range<Int>) -> Int? {
        bytes.readableBytesView[range].firstIndex(of: UInt8(ascii: "="))
    }
}
