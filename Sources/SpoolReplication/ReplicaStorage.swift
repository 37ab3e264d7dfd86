import Raft
import SpoolStorage

/// What the replica's `RaftNode` reads: its `RaftLogStore`, plus the entries persisted and not yet
/// applied, kept in memory as they were written.
///
/// Why: once the node has persisted an entry it drops it from its unstable tail, and when the
/// entry commits a cycle later it reads it back from storage to hand it to the application, so
/// without this every committed batch would be read back out of `records` (one row per record,
/// the payload rebuilt) on every replica. The window is small (what is between the fsync and the
/// commit) and bounded by `maxBytes`; anything outside it, such as a lagging follower's catch-up,
/// is read from the file as before. The cached entries are the very values persisted, so a read
/// from either place returns the same entries.
final class ReplicaStorage: RaftStorage {
    let store: RaftLogStore
    private let maxBytes: UInt64
    /// Contiguous, in index order: `entries[0].index ... entries.last!.index`, all in the store.
    private var entries: [Entry] = []
    private var start = 0
    private var bytes: UInt64 = 0

    init(store: RaftLogStore, maxBytes: UInt64) {
        self.store = store
        self.maxBytes = maxBytes
    }

    // MARK: RaftStorage

    func hardState() -> HardState { store.hardState() }
    func firstIndex() -> LogIndex { store.firstIndex() }
    func lastIndex() -> LogIndex { store.lastIndex() }
    func snapshot() throws(RaftStorageError) -> Snapshot { try store.snapshot() }

    func term(at index: LogIndex) throws(RaftStorageError) -> Term {
        if let entry = cached(index) { return entry.term }
        return try store.term(at: index)
    }

    func entries(from lo: LogIndex, upTo hi: LogIndex, maxBytes limit: UInt64) throws(RaftStorageError) -> [Entry] {
        guard lo >= store.firstIndex(), hi <= store.lastIndex() + 1, lo < hi, let first = cachedFirstIndex,
            lo >= first, hi <= first + (entries.count - start)
        else {
            // Out of the window (or out of range: the store throws what the contract says).
            return try store.entries(from: lo, upTo: hi, maxBytes: limit)
        }
        var result: [Entry] = []
        var total: UInt64 = 0
        for position in start + lo.distance(from: first) ..< start + hi.distance(from: first) {
            let entry = entries[position]
            total += entry.sizeBytes
            if !result.isEmpty && total > limit { break }
            result.append(entry)
        }
        return result
    }

    // MARK: Writes

    /// Persists `ready` in one transaction (`RaftLogStore.persist`) and keeps its entries.
    func persist(_ ready: Ready) throws(RaftStorageError) {
        try store.persist(ready)
        if ready.snapshot != nil { clear() }
        // The store ignores entries at or below its snapshot; so does the window.
        let kept = ready.entries.drop { $0.index < store.firstIndex() }
        guard let newFirst = kept.first?.index else { return }
        if let first = cachedFirstIndex, newFirst >= first, newFirst <= first + (entries.count - start) {
            // A suffix replaced (a follower's truncation) or entries that follow.
            let cut = start + newFirst.distance(from: first)
            for entry in entries[cut...] { bytes -= entry.sizeBytes }
            entries.removeSubrange(cut...)
        } else {
            clear()
        }
        for entry in kept { bytes += entry.sizeBytes }
        entries.append(contentsOf: kept)
        while bytes > maxBytes && start < entries.count { dropFirst() }
        compactIfSparse()
    }

    /// The application has applied through `index`: those entries leave the window (a lagging
    /// follower that still needs them gets them from the file).
    func applied(through index: LogIndex) {
        while start < entries.count && entries[start].index <= index { dropFirst() }
        compactIfSparse()
    }

    /// Entries held now, in bytes (`Entry.sizeBytes`).
    var cachedBytes: UInt64 { bytes }

    // MARK: Internals

    private var cachedFirstIndex: LogIndex? { start < entries.count ? entries[start].index : nil }

    private func cached(_ index: LogIndex) -> Entry? {
        guard let first = cachedFirstIndex, index >= first, index.distance(from: first) < entries.count - start else { return nil }
        return entries[start + index.distance(from: first)]
    }

    private func dropFirst() {
        bytes -= entries[start].sizeBytes
        start += 1
    }

    private func clear() {
        entries.removeAll(keepingCapacity: true)
        start = 0
        bytes = 0
    }

    /// Dropping from the front only moves `start`; the array is shifted once half of it is dead.
    private func compactIfSparse() {
        if start == entries.count {
            clear()
        } else if start > 64 && start * 2 > entries.count {
            entries.removeFirst(start)
            start = 0
        }
    }
}
