/// How a record key is written as one wire token, in `PUB key=<k>` and in the key field of `MSG`.
///
/// - no key: `-`
/// - a key that is a safe token (non-empty, no byte <= 0x20, no 0x7F and no 0xFF, not exactly
///   `-`, not starting with `base64:`): its raw bytes (UTF-8 or not). 0x7F (DEL) and 0xFF (telnet's
///   IAC) would be edited out of a request line (`TelnetLineEditor`), so they could not come back.
/// - any other key (including the empty key): `base64:` + standard padded Base64
///
/// `parse(render(k)) == k` for every key, so a consumer can hand a key back to `PUB` unchanged.
public enum KeyCodec {
    /// The token that stands for "no key".
    public static let absentToken: [UInt8] = [UInt8(ascii: "-")]
    /// The prefix of a Base64-encoded key token.
    public static let base64Prefix: [UInt8] = Array("base64:".utf8)

    /// Errors from `parse`.
    public enum ParseError: Error, Sendable, Equatable {
        /// The text after `base64:` is not canonical padded standard Base64.
        case invalidBase64
        /// The token is empty; an empty key is written `base64:`.
        case empty
    }

    /// True when `key` can go on the wire as its raw bytes.
    @inlinable
    public static func isSafeToken(_ key: UnsafeRawBufferPointer) -> Bool {
        if key.isEmpty { return false }
        if key.count == 1, key[0] == UInt8(ascii: "-") { return false }
        for byte in key where byte <= 0x20 || byte == 0x7F || byte == 0xFF { return false }
        if key.count >= 7 {
            // "base64:" spelled out: comparing bytes avoids building a collection per record.
            if key[0] == 0x62, key[1] == 0x61, key[2] == 0x73, key[3] == 0x65, key[4] == 0x36,
                key[5] == 0x34, key[6] == 0x3A
            {
                return false
            }
        }
        return true
    }

    /// The length in bytes of the rendered token for `key`.
    @inlinable
    public static func renderedCount(_ key: UnsafeRawBufferPointer?) -> Int {
        guard let key else { return 1 }
        return isSafeToken(key) ? key.count : 7 + Base64.encodedCount(key.count)
    }

    /// Writes the token for `key` into `output` (at least `renderedCount(key)` bytes) and returns
    /// the number of bytes written.
    @inlinable
    public static func render(_ key: UnsafeRawBufferPointer?, into output: UnsafeMutableRawBufferPointer) -> Int {
        guard let key else {
            output[0] = UInt8(ascii: "-")
            return 1
        }
        if isSafeToken(key) {
            output.baseAddress!.copyMemory(from: key.baseAddress!, byteCount: key.count)
            return key.count
        }
        let prefix: StaticString = "base64:"
        output.baseAddress!.copyMemory(from: prefix.utf8Start, byteCount: 7)
        let written = Base64.encode(key, into: UnsafeMutableRawBufferPointer(rebasing: output[7...]))
        return 7 + written
    }

    /// The token for `key` as bytes.
    public static func render<Bytes: Collection>(_ key: Bytes?) -> [UInt8] where Bytes.Element == UInt8 {
        guard let key else { return absentToken }
        let bytes = Array(key)
        return bytes.withUnsafeBytes { raw in
            let count = renderedCount(raw)
            return [UInt8](unsafeUninitializedCapacity: count) { output, initialized in
                initialized = render(raw, into: UnsafeMutableRawBufferPointer(output))
            }
        }
    }

    /// The token for `key` as a string (lossy for a raw non-UTF-8 key; use the byte form to round-trip).
    public static func renderString<Bytes: Collection>(_ key: Bytes?) -> String where Bytes.Element == UInt8 {
        String(decoding: render(key), as: UTF8.self)
    }

    /// The inverse of `render`: `-` is no key (nil), `base64:<b64>` is decoded, anything else is
    /// the token's own bytes.
    public static func parse<Bytes: Collection>(_ token: Bytes) throws(ParseError) -> [UInt8]?
    where Bytes.Element == UInt8 {
        let bytes = Array(token)
        if bytes.isEmpty { throw .empty }
        if bytes == absentToken { return nil }
        if bytes.starts(with: base64Prefix) {
            guard let decoded = Base64.decode(bytes.dropFirst(base64Prefix.count)) else { throw .invalidBase64 }
            return decoded
        }
        return bytes
    }
}
