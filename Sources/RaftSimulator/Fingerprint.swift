import Raft

/// Stable 64-bit FNV-1a hashing: Swift's `Hasher` is randomly seeded per process, so it cannot be
/// used for digests that must match across runs.
public struct Fingerprint: Sendable, Hashable {
    public private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    public init() {}

    public mutating func mix(_ word: UInt64) {
        var w = word
        for _ in 0 ..< 8 {
            value ^= w & 0xFF
            value &*= 0x0000_0100_0000_01B3
            w >>= 8
        }
    }

    public mutating func mix(_ bytes: [UInt8]) {
        mix(UInt64(bytes.count))
        for byte in bytes {
            value ^= UInt64(byte)
            value &*= 0x0000_0100_0000_01B3
        }
    }

    /// A digest of an entry's content and position.
    public static func of(_ entry: Entry) -> UInt64 {
        var f = Fingerprint()
        f.mix(entry.index.rawValue)
        f.mix(entry.term.rawValue)
        f.mix(UInt64(entry.kind.rawValue))
        f.mix(entry.payload)
        return f.value
    }

    /// The state machine's running hash after applying `entry` on top of `previous`.
    public static func chain(_ previous: UInt64, _ entry: Entry) -> UInt64 {
        var f = Fingerprint()
        f.mix(previous)
        f.mix(Fingerprint.of(entry))
        return f.value
    }
}
