import NIOCore
import Raft
import SpoolCluster
import SpoolCore
import Testing

@Suite("Peer frames")
struct PeerFrameTests {
    static let group = RaftGroupID(topic: TopicID(7), partition: PartitionID(3))

    static let samples: [PeerFrame] = [
        .hello(PeerHello(clusterID: "c-1f2e", node: 2, clientAddress: "127.0.0.1:7072")),
        .refused(reason: "cluster id c-9 is not c-1f2e"),
        .raft([]),
        .raft(
            MessageKind.allCases.map { kind in
                AddressedMessage(group: group, message: Message(kind: kind, from: 1, to: 2, term: 5, logTerm: 4, index: 99, commit: 90))
            }),
        .raft([
            AddressedMessage(
                group: .metadata,
                message: Message(
                    kind: .append, from: 3, to: 1, term: 9, logTerm: 8, index: 41,
                    entries: [
                        Entry(index: 42, term: 9, kind: .record, payload: Array("hello".utf8)),
                        Entry(index: 43, term: 9, kind: .offsetCommit, payload: [0, 255, 7]),
                        Entry(index: 44, term: 9, kind: .noOp),
                    ],
                    commit: 40)),
            AddressedMessage(
                group: group,
                message: Message(kind: .appendResponse, from: 2, to: 1, term: 9, logTerm: 3, index: 17, reject: true, rejectHint: 12)),
            AddressedMessage(
                group: group,
                message: Message(
                    kind: .snapshot, from: 1, to: 3, term: 9,
                    snapshot: Snapshot(index: 100, term: 8, voters: [1, 2, 3], data: [1, 2, 3, 4]))),
            AddressedMessage(group: group, message: Message(kind: .vote, from: 2, to: 3, term: 10, isLeaderTransfer: true)),
            AddressedMessage(group: group, message: Message(kind: .transferLeader, from: 2, to: 1, term: 10, transferee: 3)),
        ]),
        .request(PeerRequest(id: 1, service: .proposeMetadata, payload: [])),
        .request(PeerRequest(id: .max, service: .command, payload: Array("PUB t 5\r\nhello\r\n".utf8))),
        .response(PeerResponse(id: 7, served: true, payload: Array("OK 3\r\n".utf8))),
        .response(PeerResponse(id: 8, served: false, payload: [])),
    ]

    @Test func everyFrameRoundTrips() throws {
        let decoder = PeerFrameDecoder()
        for frame in Self.samples {
            var buffer = PeerFrameEncoder.encode(frame)
            #expect(try decoder.next(from: &buffer) == frame)
            #expect(buffer.readableBytes == 0)
        }
    }

    /// Frames back to back, fed one byte at a time: nothing until a frame is whole, then exactly it.
    @Test func framesSplitAtEveryByteComeOutWhole() throws {
        var stream = ByteBuffer()
        for frame in Self.samples { PeerFrameEncoder.encode(frame, into: &stream) }
        let decoder = PeerFrameDecoder()
        var received = ByteBuffer()
        var decoded: [PeerFrame] = []
        for byte in stream.readableBytesView {
            received.writeInteger(byte)
            while let frame = try decoder.next(from: &received) { decoded.append(frame) }
        }
        #expect(decoded == Self.samples)
        #expect(received.readableBytes == 0)
    }

    @Test func aFlippedBitIsACheckumMismatch() throws {
        let frame = Self.samples[4]
        let clean = PeerFrameEncoder.encode(frame)
        for position in PeerLimits.headerBytes..<clean.readableBytes {
            var damaged = clean
            damaged.setInteger(damaged.getInteger(at: position, as: UInt8.self)! ^ 0x10, at: position)
            do {
                let frame = try PeerFrameDecoder().next(from: &damaged)
                Issue.record("byte \(position) flipped: decoded \(String(describing: frame))")
            } catch {
                if case .checksumMismatch = error {} else { Issue.record("byte \(position) flipped: \(error)") }
            }
        }
    }

    /// An oversized length is refused from the header alone, before the body is awaited.
    @Test func anOversizedLengthIsRefusedAtOnce() {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(1 << 30))
        buffer.writeInteger(UInt32(0))
        #expect(throws: PeerFrameError.frameTooLarge(bytes: 1 << 30, limit: PeerLimits().frameBytes)) {
            try PeerFrameDecoder().next(from: &buffer)
        }
    }

    /// A body with a correct checksum that lies about its contents: every such body is refused
    /// with an error, never a crash or an allocation of what it claims.
    @Test func wellChecksummedNonsenseIsMalformed() {
        let cases: [(String, [UInt8], PeerFrameError?)] = [
            ("unknown kind", [9], .unknownKind(9)),
            ("truncated hello", [1, 0, 1], nil),
            ("count over the limit", [3, 0xFF, 0xFF, 0xFF, 0xFF], nil),
            ("string over the limit", [2, 0xFF, 0xFF] + [UInt8](repeating: 65, count: 10), nil),
            ("not UTF-8", [2, 0, 2, 0xC3, 0x28], nil),
            ("leftover bytes", [2, 0, 1, 65, 66], nil),
            ("metadata group with a partition", [3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1], nil),
            ("unknown service", [4] + [UInt8](repeating: 0, count: 8) + [99, 0, 0, 0, 0], .malformed("service 99")),
            ("request payload past the body", [4] + [UInt8](repeating: 0, count: 8) + [1, 0, 0, 0, 9, 1], nil),
            ("served flag not 0 or 1", [5] + [UInt8](repeating: 0, count: 8) + [2, 0, 0, 0, 0], .malformed("served flag 2")),
        ]
        for (name, body, expected) in cases {
            var buffer = Self.framed(body)
            do {
                let frame = try PeerFrameDecoder().next(from: &buffer)
                Issue.record("\(name): decoded \(String(describing: frame))")
            } catch {
                if let expected { #expect(error == expected, "\(name)") }
                if case .checksumMismatch = error { Issue.record("\(name): checksum") }
            }
        }
    }

    /// Random bodies with valid checksums, and random mutations of real frames: the decoder
    /// answers a frame or an error, and never traps.
    @Test func fuzzedBodiesNeverCrash() {
        var random = SpoolCore.SplitMix64(seed: 7)
        let real = Self.samples.map { Array(PeerFrameEncoder.encode($0).readableBytesView.dropFirst(PeerLimits.headerBytes)) }
        for round in 0..<5_000 {
            var body: [UInt8]
            if round % 2 == 0 {
                body = (0..<random.below(64)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                if !body.isEmpty { body[0] = UInt8(1 + random.below(3)) }
            } else {
                body = real[random.below(real.count)]
                for _ in 0...random.below(4) where !body.isEmpty {
                    body[random.below(body.count)] = UInt8(truncatingIfNeeded: random.next())
                }
                if random.below(4) == 0 { body = Array(body.prefix(random.below(body.count + 1))) }
            }
            var buffer = Self.framed(body)
            _ = try? PeerFrameDecoder(limits: PeerLimits(frameBytes: 4096, messagesPerFrame: 16, entriesPerMessage: 16)).next(from: &buffer)
        }
    }

    static func framed(_ body: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(body.count))
        buffer.writeInteger(CRC32C.checksum(body))
        buffer.writeBytes(body)
        return buffer
    }

    @Test func groupIDsPackAndRefuseNonsense() {
        let group = RaftGroupID(topic: TopicID(0xABCD), partition: PartitionID(1023))
        #expect(RaftGroupID(rawValue: group.rawValue) == group)
        #expect(RaftGroupID(rawValue: 0) == .metadata)
        #expect(RaftGroupID(rawValue: 5) == nil)  // the metadata group has no partition 5
        #expect(RaftGroupID(rawValue: 1 << 32 | 0xFFFF_FFFF) == nil)  // negative partition
    }
}
