/// Standard Base64 (RFC 4648 §4: alphabet `A-Z a-z 0-9 + /`, `=` padding), without Foundation.
///
/// Used for keys that are not safe wire tokens (`key=base64:...` and the key field of `MSG`).
/// Encoding writes straight into caller memory so `MessageRenderer` allocates nothing per record.
public enum Base64 {
    @usableFromInline
    static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// 0...63 for alphabet bytes, 0xFF for everything else (padding is handled separately).
    static let reverse: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }()

    /// The encoded length of `count` input bytes, padding included.
    @inlinable
    public static func encodedCount(_ count: Int) -> Int { (count + 2) / 3 * 4 }

    /// Encodes `input` into `output`, which must hold at least `encodedCount(input.count)` bytes.
    /// Returns the number of bytes written.
    @inlinable
    public static func encode(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int {
        let needed = encodedCount(input.count)
        precondition(output.count >= needed, "Base64 output buffer too small")
        return alphabet.withUnsafeBufferPointer { table in
            var i = 0
            var o = 0
            while i + 3 <= input.count {
                let n = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8 | UInt32(input[i + 2])
                output[o] = table[Int(n >> 18)]
                output[o + 1] = table[Int(n >> 12 & 0x3F)]
                output[o + 2] = table[Int(n >> 6 & 0x3F)]
                output[o + 3] = table[Int(n & 0x3F)]
                i += 3
                o += 4
            }
            let rest = input.count - i
            if rest > 0 {
                let second = rest == 2 ? UInt32(input[i + 1]) : 0
                let n = UInt32(input[i]) << 16 | second << 8
                output[o] = table[Int(n >> 18)]
                output[o + 1] = table[Int(n >> 12 & 0x3F)]
                output[o + 2] = rest == 2 ? table[Int(n >> 6 & 0x3F)] : UInt8(ascii: "=")
                output[o + 3] = UInt8(ascii: "=")
                o += 4
            }
            return o
        }
    }

    /// Encodes bytes into a padded Base64 string.
    public static func encode<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let input = Array(bytes)
        let count = encodedCount(input.count)
        let encoded = [UInt8](unsafeUninitializedCapacity: count) { output, initialized in
            initialized = input.withUnsafeBytes { encode($0, into: UnsafeMutableRawBufferPointer(output)) }
        }
        return String(decoding: encoded, as: UTF8.self)
    }

    /// Decodes padded standard Base64. Returns nil unless the input is canonical: a multiple of 4
    /// characters, only alphabet bytes, `=` only as final padding, and zero unused bits (so every
    /// byte string has exactly one encoding and keys compare equal on the wire iff they are equal).
    public static func decode<Bytes: Collection>(_ text: Bytes) -> [UInt8]? where Bytes.Element == UInt8 {
        let input = Array(text)
        guard input.count % 4 == 0 else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(input.count / 4 * 3)
        var i = 0
        while i < input.count {
            let isLast = i + 4 == input.count
            let a = reverse[Int(input[i])]
            let b = reverse[Int(input[i + 1])]
            guard a != 0xFF, b != 0xFF else { return nil }
            let c3 = input[i + 2]
            let c4 = input[i + 3]
            if isLast, c3 == UInt8(ascii: "="), c4 == UInt8(ascii: "=") {
                guard b & 0x0F == 0 else { return nil }
                output.append(a << 2 | b >> 4)
            } else if isLast, c4 == UInt8(ascii: "=") {
                let c = reverse[Int(c3)]
                guard c != 0xFF, c & 0x03 == 0 else { return nil }
                output.append(a << 2 | b >> 4)
                output.append(b << 4 | c >> 2)
            } else {
                let c = reverse[Int(c3)]
                let d = reverse[Int(c4)]
                guard c != 0xFF, d != 0xFF else { return nil }
                output.append(a << 2 | b >> 4)
                output.append(b << 4 | c >> 2)
                output.append(c << 6 | d)
            }
            i += 4
        }
        return output
    }
}
