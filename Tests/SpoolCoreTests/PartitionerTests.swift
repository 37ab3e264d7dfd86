import SpoolCore
import Testing

@Suite("Kafka's default partitioner, bit for bit")
struct PartitionerTests {
    /// Kafka's own vectors: org.apache.kafka.common.utils.UtilsTest.testMurmur2.
    @Test(arguments: [
        ("21", Int32(-973_932_308)),
        ("foobar", -790_332_482),
        ("a-little-bit-long-string", -985_981_536),
        ("a-little-bit-longer-string", -1_486_304_829),
        ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
        ("abc", 479_470_107),
    ])
    func murmur2MatchesKafka(input: String, expected: Int32) {
        #expect(Partitioner.murmur2(Array(input.utf8)) == expected)
        Array(input.utf8).withUnsafeBytes { #expect(Partitioner.murmur2Buffer($0) == expected) }
    }

    @Test func toPositiveClearsTheSignBitLikeKafka() {
        #expect(Partitioner.toPositive(-1) == 0x7fff_ffff)
        #expect(Partitioner.toPositive(Int32.min) == 0)
        #expect(Partitioner.toPositive(5) == 5)
    }

    @Test func keyedPartitionIsToPositiveMurmur2ModuloCount() {
        // murmur2("21") = -973932308 → toPositive = 1173551340 → % 3 = 0, % 7 = 5, % 16 = 12.
        #expect(Partitioner.partition(forKey: Array("21".utf8), partitionCount: 3) == PartitionID(Int(1_173_551_340 % 3)))
        #expect(Partitioner.partition(forKey: Array("21".utf8), partitionCount: 7) == PartitionID(Int(1_173_551_340 % 7)))
        #expect(Partitioner.partition(forKey: Array("21".utf8), partitionCount: 16) == PartitionID(Int(1_173_551_340 % 16)))
        // Every tail length (0...3 leftover bytes): the three entry points agree (contiguous
        // bytes, a raw buffer, and a collection without contiguous storage, which is copied),
        // and the partition is toPositive(murmur2) % count.
        for length in 0..<64 {
            let key = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37) }
            let hash = key.withUnsafeBytes { Partitioner.murmur2Buffer($0) }
            #expect(Partitioner.murmur2(key) == hash)
            #expect(Partitioner.murmur2(key.lazy.map { $0 }) == hash)
            let partition = Partitioner.partition(forKey: key, partitionCount: 5)
            #expect(partition == PartitionID(Int(Partitioner.toPositive(hash)) % 5))
            #expect(key.withUnsafeBytes { Partitioner.partition(forKey: $0, partitionCount: 5) } == partition)
        }
    }
}

@Suite("Core value types")
struct CoreTypesTests {
    @Test(arguments: ["orders", "a", "Orders_2024.v1-x", String(repeating: "x", count: 249)])
    func legalTopicNames(name: String) {
        #expect(TopicName(name)?.value == name)
    }

    @Test(arguments: ["", ".", "..", "has space", "slash/name", "semi;colon", "é", String(repeating: "x", count: 250)])
    func illegalTopicNames(name: String) {
        #expect(TopicName(name) == nil)
    }

    @Test func utf8CheckAcceptsTextAndRejectsBrokenSequences() {
        func check(_ bytes: [UInt8]) -> (Bool, Bool) {
            bytes.withUnsafeBytes { (UTF8Check.isValid($0), UTF8Check.isText($0)) }
        }
        #expect(check(Array("plain ascii that is longer than eight bytes".utf8)) == (true, true))
        #expect(check(Array("héllo wörld ✓ 𝄞".utf8)) == (true, true))
        #expect(check([0x68, 0x00, 0x69]) == (true, false))  // NUL: valid UTF-8, not text
        #expect(check(Array("0123456789\u{0}abcdef".utf8)) == (true, false))  // NUL in the word loop
        #expect(check([0xC0, 0x80]).0 == false)  // overlong
        #expect(check([0xED, 0xA0, 0x80]).0 == false)  // surrogate
        #expect(check([0xF4, 0x90, 0x80, 0x80]).0 == false)  // past U+10FFFF
        #expect(check([0xE2, 0x9C]).0 == false)  // truncated
        #expect(check([0xFF]).0 == false)
        #expect(check([]) == (true, true))
    }
}
