/// One Raft log entry: an opaque payload with its kind, its position and the term of the leader that
/// created it. Entries are immutable once appended; a divergent suffix is replaced, never edited.
public struct Entry: Hashable, Sendable, CustomStringConvertible {
    public var index: LogIndex
    public var term: Term
    public var kind: EntryKind
    public var payload: [UInt8]

    /// Fixed per-entry overhead (index, term, kind) counted by every byte limit, in bytes.
    public static let headerBytes: UInt64 = 17

    public init(index: LogIndex, term: Term, kind: EntryKind = .record, payload: [UInt8] = []) {
        self.index = index
        self.term = term
        self.kind = kind
        self.payload = payload
    }

    /// Size counted against `maxBytesPerAppend` and storage byte limits, in bytes.
    public var sizeBytes: UInt64 { Entry.headerBytes + UInt64(payload.count) }

    public var description: String { "\(index)/\(term)/\(kind)(\(payload.count)B)" }
}

extension Array where Element == Entry {
    /// The longest prefix whose total size stays within `maxBytes`, but always at least one entry:
    /// an entry larger than the limit must still be able to move.
    func limited(toBytes maxBytes: UInt64) -> [Entry] {
        guard !isEmpty else { return self }
        var total = self[0].sizeBytes
        var count = 1
        while count < self.count {
            total += self[count].sizeBytes
            if total > maxBytes { break }
            count += 1
        }
        return count == self.count ? self : Array(self[0..<count])
    }
}
