import SpoolCore
import Testing

@Suite("CRC-32C")
struct CRC32CTests {
    /// The check value of the Castagnoli CRC, and RFC 3720 (iSCSI) appendix B.4's vectors.
    @Test func publishedVectors() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }) == 0x113F_DB5C)
        #expect(CRC32C.checksum([UInt8]()) == 0)
    }

    /// The slicing-by-8 loop against the plain bit-by-bit definition, at every length and
    /// alignment around the 8-byte stride, and continued in pieces.
    @Test func slicedLoopMatchesTheDefinition() {
        var random = SplitMix64(seed: 42)
        for length in 0..<100 {
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            let expected = Self.bitwise(bytes)
            #expect(CRC32C.checksum(bytes) == expected, "length \(length)")
            for cut in [0, 1, 7, 8, 9, length / 2, length] where cut <= length {
                let first = CRC32C.checksum(bytes[..<cut])
                #expect(CRC32C.checksum(bytes[cut...], continuing: first) == expected, "length \(length) cut \(cut)")
            }
        }
    }

    static func bitwise(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return ~crc
    }
}
