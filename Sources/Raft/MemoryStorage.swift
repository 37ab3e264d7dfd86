/// An in-memory `RaftStorageWriter` for tests and the simulator (etcd-io/raft's MemoryStorage).
/// `entries[0]` is the dummy entry at `firstIndex() - 1` that remembers the snapshot's term.
public final class MemoryStorage: RaftStorageWriter {
    private var state = HardState.empty
    private var currentSnapshot: Snapshot
    private var entries: [Entry]

    /// A new, empty log for a group of `voters`.
    public init(voters: [NodeID]) {
        currentSnapshot = Snapshot(index: .zero, term: .zero, voters: voters)
        entries = [Entry(index: .zero, term: .zero, kind: .noOp)]
    }

    // MARK: RaftStorage

    public func hardState() -> HardState { state }

    public func firstIndex() -> LogIndex { entries[0].index + 1 }

    public func lastIndex() -> LogIndex { entries[0].index + (entries.count - 1) }

    public func term(at index: LogIndex) throws(RaftStorageError) -> Term {
        let dummy = entries[0].index
        if index < dummy { throw .compacted }
        if index > lastIndex() { throw .unavailable }
        return entries[index.distance(from: dummy)].term
    }

    public func entries(from lo: LogIndex, upTo hi: LogIndex, maxBytes: UInt64) throws(RaftStorageError) -> [Entry] {
        precondition(lo <= hi, "entries(from:upTo:) with lo > hi")
        if lo < firstIndex() { throw .compacted }
        if hi > lastIndex() + 1 { throw .unavailable }
        let dummy = entries[0].index
        if lo == hi { return [] }
        return Array(entries[lo.distance(from: dummy) ..< hi.distance(from: dummy)]).limited(toBytes: maxBytes)
    }

    public func snapshot() throws(RaftStorageError) -> Snapshot { currentSnapshot }

    // MARK: RaftStorageWriter

    public func append(_ newEntries: [Entry]) throws(RaftStorageError) {
        guard let first = newEntries.first else { return }
        for (offset, entry) in newEntries.enumerated() {
            precondition(entry.index == first.index + offset, "append: entries are not contiguous")
        }
        precondition(first.index <= lastIndex() + 1, "append: gap after last index \(lastIndex())")
        let firstKept = firstIndex()
        let lastNew = newEntries[newEntries.count - 1].index
        if lastNew < firstKept { return }
        // Entries below firstIndex() are already compacted: ignore them.
        let usable = first.index < firstKept ? Array(newEntries[firstKept.distance(from: first.index)...]) : newEntries
        let start = usable[0].index.distance(from: entries[0].index)
        // One suffix truncation, then the append.
        entries.removeSubrange(start...)
        entries.append(contentsOf: usable)
    }

    public func setHardState(_ newState: HardState) throws(RaftStorageError) {
        state = newState
    }

    public func applySnapshot(_ snapshot: Snapshot) throws(RaftStorageError) {
        if snapshot.index < currentSnapshot.index { throw .snapshotOutOfDate }
        currentSnapshot = snapshot
        entries = [Entry(index: snapshot.index, term: snapshot.term, kind: .noOp)]
    }

    public func compact(through index: LogIndex, snapshotData: [UInt8]) throws(RaftStorageError) {
        let dummy = entries[0].index
        if index < dummy { throw .compacted }
        if index > lastIndex() { throw .unavailable }
        if index == dummy { return }
        let offset = index.distance(from: dummy)
        let term = entries[offset].term
        currentSnapshot = Snapshot(index: index, term: term, voters: currentSnapshot.voters, data: snapshotData)
        entries.removeSubrange(0..<offset)
        entries[0] = Entry(index: index, term: term, kind: .noOp)
    }
}
