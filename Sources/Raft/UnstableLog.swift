/// The tail of the log that Raft holds but storage does not yet (etcd-io/raft's `unstable`):
/// entries at `offset...` and possibly an incoming snapshot. Everything here is handed out in the
/// next `Ready` and dropped once the driver reports it persisted (`stableTo`).
struct UnstableLog: Sendable {
    var snapshot: Snapshot?
    var entries: [Entry] = []
    /// Index of `entries[0]` (or of the next entry, when `entries` is empty).
    var offset: LogIndex

    init(offset: LogIndex) { self.offset = offset }

    var maybeFirstIndex: LogIndex? { snapshot.map { $0.index + 1 } }

    var maybeLastIndex: LogIndex? {
        if !entries.isEmpty { return offset + (entries.count - 1) }
        return snapshot?.index
    }

    func maybeTerm(at index: LogIndex) -> Term? {
        if index < offset {
            if let snapshot, snapshot.index == index { return snapshot.term }
            return nil
        }
        guard let last = maybeLastIndex, index <= last else { return nil }
        return entries[index.distance(from: offset)].term
    }

    /// Entries up to `(index, term)` reached storage. Ignored if the log changed since the `Ready`
    /// was produced (a newer leader replaced that entry): the newer entry is still unstable.
    mutating func stableTo(index: LogIndex, term: Term) {
        guard let current = maybeTerm(at: index), current == term, index >= offset else { return }
        entries.removeFirst(index.distance(from: offset) + 1)
        offset = index + 1
    }

    mutating func stableSnapshotTo(index: LogIndex) {
        if let snapshot, snapshot.index == index { self.snapshot = nil }
    }

    mutating func restore(_ snapshot: Snapshot) {
        offset = snapshot.index + 1
        entries = []
        self.snapshot = snapshot
    }

    mutating func truncateAndAppend(_ newEntries: [Entry]) {
        guard let after = newEntries.first?.index else { return }
        if after == offset + entries.count {
            entries.append(contentsOf: newEntries)
        } else if after <= offset {
            // Raft §5.3: the new entries replace everything from `after`; storage still holds the
            // old suffix until the next Ready is persisted, and reads below `offset` only.
            offset = after
            entries = newEntries
        } else {
            entries = Array(entries[0 ..< after.distance(from: offset)]) + newEntries
        }
    }

    func slice(from lo: LogIndex, upTo hi: LogIndex) -> ArraySlice<Entry> {
        precondition(lo >= offset && hi <= offset + entries.count && lo <= hi, "unstable slice out of range")
        return entries[lo.distance(from: offset) ..< hi.distance(from: offset)]
    }
}
