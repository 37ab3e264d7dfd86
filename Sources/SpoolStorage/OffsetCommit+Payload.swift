import SpoolCore

/// Offset commits as the payload of one Raft entry of kind `.offsetCommit` (docs/replication.md
/// §4): the commits of one group commit travel and are stored together, in `raft_log.payload`,
/// and `RaftLogStore.applyOffsetCommits` writes them into `consumer_offsets` once the entry is
/// committed.
///
/// Little-endian: a u32 count, then per commit the group (u16 length + UTF-8), the next offset,
/// the generation (i64 each), the member (u16 length + UTF-8) and the commit time (i64 ms).
extension OffsetCommit {
    public static func encodePayload(_ commits: [OffsetCommit]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(4 + commits.reduce(0) { $0 + 28 + $1.group.utf8.count + $1.member.utf8.count })
        append(UInt32(commits.count), to: &bytes)
        for commit in commits {
            appendText(commit.group, to: &bytes)
            append(UInt64(bitPattern: commit.nextOffset.rawValue), to: &bytes)
            append(UInt64(bitPattern: commit.generation), to: &bytes)
            appendText(commit.member, to: &bytes)
            append(UInt64(bitPattern: commit.committedMs), to: &bytes)
        }
        return bytes
    }

    /// Nil when `bytes` is not a payload `encodePayload` made.
    public static func decodePayload(_ bytes: [UInt8]) -> [OffsetCommit]? {
        var reader = Reader(bytes: bytes)
        guard let count = reader.u32() else { return nil }
        var commits: [OffsetCommit] = []
        for _ in 0 ..< count {
            guard let group = reader.text(), let next = reader.u64(), let generation = reader.u64(), let member = reader.text(),
                let committedMs = reader.u64()
            else { return nil }
            commits.append(
                OffsetCommit(
                    group: group, nextOffset: Offset(Int64(bitPattern: next)), generation: Int64(bitPattern: generation), member: member,
                    committedMs: Int64(bitPattern: committedMs)))
        }
        return reader.atEnd ? commits : nil
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    private static func appendText(_ text: String, to bytes: inout [UInt8]) {
        let utf8 = Array(text.utf8.prefix(Int(UInt16.max)))
        append(UInt16(utf8.count), to: &bytes)
        bytes.append(contentsOf: utf8)
    }

    private struct Reader {
        let bytes: [UInt8]
        var position = 0

        var atEnd: Bool { position == bytes.count }

        mutating func integer<T: FixedWidthInteger>(_: T.Type) -> T? {
            let size = MemoryLayout<T>.size
            guard bytes.count - position >= size else { return nil }
            var value: T = 0
            for index in 0 ..< size { value |= T(bytes[position + index]) << (8 * index) }
            position += size
            return value
        }

        mutating func u32() -> UInt32? { integer(UInt32.self) }
        mutating func u64() -> UInt64? { integer(UInt64.self) }

        mutating func text() -> String? {
            guard let length = integer(UInt16.self), bytes.count - position >= Int(length) else { return nil }
            let slice = bytes[position ..< position + Int(length)]
            position += Int(length)
            return String(validating: slice, as: UTF8.self)
        }
    }
}
