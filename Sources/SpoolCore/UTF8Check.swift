/// Fast UTF-8 validity check over raw bytes.
///
/// Storage keeps valid UTF-8 keys and values as SQLite TEXT and everything else as BLOB, so that
/// `sqlite3` users can write `WHERE key = 'user-42'` and read values as text. ASCII, the common
/// case, is checked eight bytes at a time.
public enum UTF8Check {
    /// True for valid UTF-8 with no NUL byte: what SQLite should store as TEXT. (A NUL would cut
    /// the value short in the sqlite3 shell and in C string functions, so such values stay BLOB.)
    public static func isText(_ bytes: UnsafeRawBufferPointer) -> Bool {
        isValid(bytes, allowNUL: false)
    }

    /// True for valid UTF-8 (overlong forms, surrogates and values past U+10FFFF are invalid).
    public static func isValid(_ bytes: UnsafeRawBufferPointer, allowNUL: Bool = true) -> Bool {
        let count = bytes.count
        var i = 0
        while i + 8 <= count {
            let word = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            if word & 0x8080_8080_8080_8080 != 0 { break }
            // The classic "has a zero byte" test: some byte is 0 iff this is non-zero.
            if !allowNUL && (word &- 0x0101_0101_0101_0101) & ~word & 0x8080_8080_8080_8080 != 0 { return false }
            i += 8
        }
        while i < count {
            let b0 = bytes[i]
            if b0 < 0x80 {
                if b0 == 0 && !allowNUL { return false }
                i += 1
                continue
            }
            let needed: Int
            let minimum: UInt32
            var scalar: UInt32
            switch b0 {
            case 0xC2...0xDF: needed = 1; minimum = 0x80; scalar = UInt32(b0 & 0x1F)
            case 0xE0...0xEF: needed = 2; minimum = 0x800; scalar = UInt32(b0 & 0x0F)
            case 0xF0...0xF4: needed = 3; minimum = 0x10000; scalar = UInt32(b0 & 0x07)
            default: return false
            }
            guard i + needed < count else { return false }
            for j in 1...needed {
                let b = bytes[i + j]
                guard b & 0xC0 == 0x80 else { return false }
                scalar = scalar << 6 | UInt32(b & 0x3F)
            }
            guard scalar >= minimum, scalar <= 0x10FFFF, !(0xD800...0xDFFF).contains(scalar) else { return false }
            i += needed + 1
        }
        return true
    }
}
