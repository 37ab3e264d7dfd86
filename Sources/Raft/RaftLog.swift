/// Raft's view of the log: durable entries in storage plus the unstable tail, with the commit and
/// applied indexes (etcd-io/raft's `raftLog`).
struct RaftLog {
    let storage: any RaftStorage
    var unstable: UnstableLog
    /// Highest index known committed (Raft §5.3). Never decreases.
    private(set) var committed: LogIndex
    /// Highest index the application has applied. `applied ≤ committed`.
    private(set) var applied: LogIndex

    init(storage: any RaftStorage) {
        self.storage = storage
        let first = storage.firstIndex()
        let last = storage.lastIndex()
        precondition(first >= 1 && last + 1 >= first, "storage reports an invalid range \(first)...\(last)")
        unstable = UnstableLog(offset: last + 1)
        committed = first - 1
        applied = first - 1
    }

    func firstIndex() -> LogIndex { unstable.maybeFirstIndex ?? storage.firstIndex() }

    func lastIndex() -> LogIndex { unstable.maybeLastIndex ?? storage.lastIndex() }

    /// Highest index known to be durable and part of this log: everything before the unstable tail.
    var durableIndex: LogIndex { unstable.snapshot == nil ? unstable.offset - 1 : .zero }

    func term(at index: LogIndex) throws(RaftStorageError) -> Term {
        let dummy = firstIndex() - 1
        if index < dummy { throw .compacted }
        if index > lastIndex() { throw .unavailable }
        if let term = unstable.maybeTerm(at: index) { return term }
        return try storage.term(at: index)
    }

    func lastTerm() -> Term {
        do { return try term(at: lastIndex()) } catch { preconditionFailure("term of last index unreadable: \(error)") }
    }

    func matchTerm(index: LogIndex, term: Term) -> Bool {
        (try? self.term(at: index)) == term
    }

    /// Raft §5.4.1: a candidate's log is at least as up-to-date as ours.
    func isUpToDate(lastIndex candidateIndex: LogIndex, term candidateTerm: Term) -> Bool {
        let ourTerm = lastTerm()
        return candidateTerm > ourTerm || (candidateTerm == ourTerm && candidateIndex >= lastIndex())
    }

    /// Raft §5.3 (AppendEntries receiver rules 2–5). Returns the index of the last new entry, or nil
    /// when the log does not contain an entry at `index` with `logTerm`.
    mutating func maybeAppend(index: LogIndex, logTerm: Term, commit: LogIndex, entries: [Entry]) -> LogIndex? {
        guard matchTerm(index: index, term: logTerm) else { return nil }
        let lastNew = index + entries.count
        if let conflict = findConflict(entries) {
            precondition(conflict > committed, "entry \(conflict) conflicts with committed entry (commit \(committed))")
            append(Array(entries[conflict.distance(from: index + 1)...]))
        }
        self.commit(to: min(commit, lastNew))
        return lastNew
    }

    /// Appends entries that follow or replace a suffix above the commit index.
    mutating func append(_ entries: [Entry]) {
        guard let first = entries.first else { return }
        precondition(first.index > committed, "append at \(first.index) would overwrite committed \(committed)")
        unstable.truncateAndAppend(entries)
    }

    /// The first entry whose term differs from our log, or nil when all match (new entries beyond
    /// our last index count as conflicts).
    func findConflict(_ entries: [Entry]) -> LogIndex? {
        entries.first { !matchTerm(index: $0.index, term: $0.term) }?.index
    }

    /// The highest index ≤ `index` whose term is ≤ `term` (etcd-io/raft's fast log probing): every
    /// entry between the result and `index` has a larger term and cannot match.
    func findConflictByTerm(index: LogIndex, term: Term) -> (index: LogIndex, term: Term) {
        var probe = index
        while true {
            guard let found = try? self.term(at: probe) else { return (probe, .zero) }
            if found <= term || probe == .zero { return (probe, found) }
            probe = probe - 1
        }
    }

    func hasPendingSnapshot() -> Bool { unstable.snapshot != nil }

    func snapshot() throws(RaftStorageError) -> Snapshot {
        if let snapshot = unstable.snapshot { return snapshot }
        return try storage.snapshot()
    }

    /// Entries `lo ..< hi`, limited to `maxBytes` (at least one entry).
    func slice(from lo: LogIndex, upTo hi: LogIndex, maxBytes: UInt64) throws(RaftStorageError) -> [Entry] {
        if lo >= hi { return [] }
        if lo < firstIndex() { throw .compacted }
        precondition(hi <= lastIndex() + 1, "slice beyond last index")
        var result: [Entry] = []
        if lo < unstable.offset {
            let storedHi = min(hi, unstable.offset)
            let stored: [Entry]
            do {
                stored = try storage.entries(from: lo, upTo: storedHi, maxBytes: maxBytes)
            } catch .compacted {
                throw .compacted
            } catch {
                preconditionFailure("storage lost entries \(lo)..<\(storedHi): \(error)")
            }
            if stored.count < storedHi.distance(from: lo) { return stored }
            result = stored
        }
        if hi > unstable.offset {
            result.append(contentsOf: unstable.slice(from: max(lo, unstable.offset), upTo: hi))
        }
        return result.limited(toBytes: maxBytes)
    }

    /// Committed entries not yet handed to the application.
    func nextCommittedEntries(maxBytes: UInt64) -> [Entry] {
        if hasPendingSnapshot() { return [] }
        let lo = max(applied + 1, firstIndex())
        guard committed + 1 > lo else { return [] }
        do {
            return try slice(from: lo, upTo: committed + 1, maxBytes: maxBytes)
        } catch {
            preconditionFailure("committed entries \(lo)...\(committed) unreadable: \(error)")
        }
    }

    func hasNextCommittedEntries() -> Bool {
        !hasPendingSnapshot() && committed + 1 > max(applied + 1, firstIndex())
    }

    mutating func commit(to index: LogIndex) {
        guard index > committed else { return }
        precondition(index <= lastIndex(), "commit \(index) is beyond last index \(lastIndex()): log lost or corrupted")
        committed = index
    }

    /// Raft §5.4.2: only an entry of the leader's current term is committed by counting replicas.
    mutating func maybeCommit(index: LogIndex, term: Term) -> Bool {
        guard index > committed, matchTerm(index: index, term: term) else { return false }
        commit(to: index)
        return true
    }

    mutating func applied(to index: LogIndex) {
        guard index != .zero else { return }
        precondition(index <= committed && index >= applied, "applied(\(index)) outside [\(applied), \(committed)]")
        applied = index
    }

    mutating func stableTo(index: LogIndex, term: Term) { unstable.stableTo(index: index, term: term) }

    mutating func stableSnapshotTo(index: LogIndex) { unstable.stableSnapshotTo(index: index) }

    mutating func restore(_ snapshot: Snapshot) {
        committed = snapshot.index
        unstable.restore(snapshot)
    }
}
