import CSQLite
import Raft
import SpoolCore

/// A partition's Raft log in its SQLite database (docs/replication.md §4, docs/schema.md):
/// `raft_log` has one row per entry, `raft_state` the hard state and the snapshot, and the
/// records of a record-batch entry are rows of `records`, stored once, at their offsets.
///
/// It works over a connection it is given (the partition's writer connection, to be shared with
/// the partition's other writes) and never opens its own. It has one serial owner, the thread of
/// the partition's `RaftNode`. `firstIndex`, `lastIndex`, the hard state, the snapshot and the
/// applied offset-commit mark are cached in memory, so the store must be the only writer of
/// `raft_log` and `raft_state` on its connection while it is in use.
///
/// Offset commits are stored as entries when persisted and written into `consumer_offsets` only
/// when the driver applies them committed (`applyOffsetCommits`).
///
/// Every write is one transaction (`BEGIN IMMEDIATE` … `COMMIT`, one fsync with
/// synchronous=FULL), so each `RaftStorageWriter` call, and `persist(snapshot:entries:hardState:)`
/// for a whole `Ready`, is atomic and durable when it returns. An SQLite error inside a write
/// (I/O, a failed fsync, full disk, a lock held for longer than `busyWaitMs`) throws
/// `RaftStorageError.writeFailed`, after a ROLLBACK: the driver, not Raft, calls the writes, and
/// it stops the replica (docs/replication.md §11). The store then refuses every later write with
/// the same error: after a failed fsync the kernel may have dropped the dirty pages and a retried
/// fsync can succeed without them (the "fsyncgate" lesson), so nothing written through this
/// connection is trusted again; recovery is reopening the file. Whether the failed transaction
/// is on disk is unknown (its WAL frames may have reached the disk without the sync being
/// confirmed); either way it was never reported durable, which Raft's restart handles. The
/// cache keeps what the last successful write left. An SQLite error inside a *read* is not
/// handled: Raft reads in the middle of its own steps and cannot take an error there, so, as
/// RaftStorage.swift requires, the store stops the process (`preconditionFailure`) and the
/// broker restarts from disk.
///
/// Entries of kind `.record` must carry a `RecordBatch` payload whose first offset continues the
/// records already stored (a gap or a malformed batch is a bug: `precondition`).
public final class RaftLogStore: RaftStorageWriter, @unchecked Sendable {
    public let connection: SQLiteConnection
    private let statements: Statements
    /// The statements on `records` and `consumer_offsets`; nil in a database without them (the
    /// broker database, whose metadata group has no records: docs/replication.md §10).
    private let partitionStatements: PartitionStatements?
    private var cache: Cache

    /// How long a write waits for a lock held by another connection (an operator's sqlite3
    /// shell) before it throws `.busy` (nothing written, the store still usable), in
    /// milliseconds. 0: at once, without sleeping (a broker's partitions: the storage threads are
    /// shared, so the driver retries from a timer instead, `ReplicaConfig.lockWaitMs`).
    public var busyWaitMs: Int32 = 10_000

    /// TEST-ONLY: runs inside every write transaction just before its COMMIT (crash tests copy
    /// the files there: what a crash at that moment leaves on disk). An error it throws fails the
    /// write as a failed COMMIT would (rolled back, `writeFailed`).
    var beforeCommit: (() throws(StorageError) -> Void)?
    /// The first failed write's error: every later write throws it again (see the type's comment).
    public private(set) var writeFailure: StorageError?

    /// What the store keeps in memory, replaced as a whole when a transaction commits.
    struct Cache {
        var hardState: HardState
        var snapshot: Snapshot
        var lastIndex: LogIndex
        var lastTerm: Term
        /// The offset after the newest record row; nil when `records` is empty and no batch since
        /// told it (after a snapshot install), so the next batch may start anywhere.
        var nextOffset: Offset?
        /// `raft_state.offsets_applied_index`: every offset commit at or below it is in
        /// `consumer_offsets` (0 in a database without records).
        var offsetsApplied: LogIndex
    }

    /// Opens the store over `connection`, which must be migrated to the partition schema
    /// (`ConnectionFactory.openWriter(path:migrations: .partition)`), or to the broker schema for
    /// the metadata group (`raft_log` and `raft_state` without records). `voters` are the group's
    /// voters, remembered in `raft_state` if the database does not know them yet (a new or a
    /// migrated partition).
    public init(connection: SQLiteConnection, voters: [NodeID]) throws(StorageError) {
        self.connection = connection
        statements = try Statements(connection)
        let hasRecords = try connection.scalarInt("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'records'") == 1
        partitionStatements = hasRecords ? try PartitionStatements(connection) : nil
        let state = try connection.prepare(
            "SELECT term, vote, commit_index, snapshot_index, snapshot_term, voters, snapshot_data FROM raft_state WHERE id = 1")
        guard try state.step() else {
            throw StorageError(code: -1, message: "\(connection.path): raft_state has no row (schema too old?)")
        }
        let hardState = HardState(
            term: Term(UInt64(state.columnInt64(0))), vote: NodeID(UInt64(state.columnInt64(1))),
            commit: LogIndex(UInt64(state.columnInt64(2))))
        var storedVoters = Self.decodeVoters(state.columnText(5) ?? "")
        let snapshotIndex = LogIndex(UInt64(state.columnInt64(3)))
        let snapshotTerm = Term(UInt64(state.columnInt64(4)))
        let data = Array(state.columnBytes(6))
        state.reset()
        if storedVoters.isEmpty {
            storedVoters = voters.sorted()
            let update = try connection.prepare("UPDATE raft_state SET voters = ?")
            try update.bindText(1, Self.encodeVoters(storedVoters))
            try update.step()
        }
        let snapshot = Snapshot(index: snapshotIndex, term: snapshotTerm, voters: storedVoters, data: data)
        let last = try connection.prepare("SELECT raft_index, term FROM raft_log ORDER BY raft_index DESC LIMIT 1")
        var lastIndex = snapshotIndex
        var lastTerm = snapshotTerm
        if try last.step() {
            lastIndex = LogIndex(UInt64(last.columnInt64(0)))
            lastTerm = Term(UInt64(last.columnInt64(1)))
        }
        let maxOffset = hasRecords ? try connection.scalarInt("SELECT max(offset) FROM records") : nil
        let offsetsApplied = hasRecords ? try connection.scalarInt("SELECT offsets_applied_index FROM raft_state WHERE id = 1") ?? 0 : 0
        cache = Cache(
            hardState: hardState, snapshot: snapshot, lastIndex: lastIndex, lastTerm: lastTerm,
            nextOffset: maxOffset.map { Offset($0 + 1) }, offsetsApplied: LogIndex(UInt64(offsetsApplied)))
        if hasRecords { try reapplyOffsetCommits() }
    }

    // MARK: RaftStorage

    public func hardState() -> HardState { cache.hardState }

    public func firstIndex() -> LogIndex { cache.snapshot.index + 1 }

    public func lastIndex() -> LogIndex { cache.lastIndex }

    /// The offset after the newest stored record (nil: no record stored since a snapshot install).
    public var nextOffset: Offset? { cache.nextOffset }

    /// Every offset commit of an entry at or below this index is in `consumer_offsets`
    /// (`applyOffsetCommits`); 0 in a database without records.
    public var offsetsAppliedIndex: LogIndex { cache.offsetsApplied }

    /// The offset a record batch appended at `index` must start at: the first offset of the
    /// first batch at or after `index` when there is one (an append there replaces it), else
    /// `nextOffset`. What a leader's offset assignment must agree with.
    public func expectedOffset(forEntryAt index: LogIndex) -> Offset? {
        guard index <= cache.lastIndex else { return cache.nextOffset }
        do {
            return try firstRecordOffset(atOrAfter: index) ?? cache.nextOffset
        } catch {
            stop("expectedOffset(forEntryAt: \(index))", error)
        }
    }

    public func term(at index: LogIndex) throws(RaftStorageError) -> Term {
        if index < cache.snapshot.index { throw .compacted }
        if index > cache.lastIndex { throw .unavailable }
        if index == cache.snapshot.index { return cache.snapshot.term }
        if index == cache.lastIndex { return cache.lastTerm }
        let query = statements.termAt
        defer { query.reset() }
        do {
            try query.bind(1, Int64(index.rawValue))
            guard try query.step() else { preconditionFailure("\(connection.path): raft_log has no row \(index) inside the log") }
            return Term(UInt64(query.columnInt64(0)))
        } catch {
            stop("term(at: \(index))", error)
        }
    }

    public func entries(from lo: LogIndex, upTo hi: LogIndex, maxBytes: UInt64) throws(RaftStorageError) -> [Entry] {
        precondition(lo <= hi, "entries(from:upTo:) with lo > hi")
        if lo < firstIndex() { throw .compacted }
        if hi > cache.lastIndex + 1 { throw .unavailable }
        if lo == hi { return [] }
        do {
            return try readEntries(from: lo, upTo: hi, maxBytes: maxBytes)
        } catch {
            stop("entries(from: \(lo), upTo: \(hi))", error)
        }
    }

    public func snapshot() throws(RaftStorageError) -> Snapshot { cache.snapshot }

    // MARK: RaftStorageWriter

    public func append(_ entries: [Entry]) throws(RaftStorageError) {
        try persist(snapshot: nil, entries: entries, hardState: nil)
    }

    public func setHardState(_ state: HardState) throws(RaftStorageError) {
        try persist(snapshot: nil, entries: [], hardState: state)
    }

    public func applySnapshot(_ snapshot: Snapshot) throws(RaftStorageError) {
        try persist(snapshot: snapshot, entries: [], hardState: nil)
    }

    public func compact(through index: LogIndex, snapshotData: [UInt8]) throws(RaftStorageError) {
        let dummy = cache.snapshot.index
        if index < dummy { throw .compacted }
        if index > cache.lastIndex { throw .unavailable }
        if index == dummy { return }
        let term = try self.term(at: index)
        var next = cache
        next.snapshot = Snapshot(index: index, term: term, voters: cache.snapshot.voters, data: snapshotData)
        try write("compact(through: \(index))") { () throws(StorageError) in
            // Raft log compaction only: the records stay, they are the partition's data (record
            // retention is a separate decision).
            try run(statements.deleteLogThrough, Int64(index.rawValue))
            try storeSnapshot(next.snapshot)
        }
        cache = next
    }

    /// Persists one `Ready`'s durable part in ONE transaction with one fsync, in the order the
    /// Ready contract gives: the snapshot (as `applySnapshot`), the entries (as `append`), the
    /// hard state (as `setHardState`). `.snapshotOutOfDate` before anything is written.
    ///
    /// `sync: false` commits the transaction without an fsync (WAL with synchronous=NORMAL for
    /// that one transaction): atomic, and durable with the next synced write or checkpoint. Only
    /// for what the Ready contract allows to be lost (a `Ready` whose `mustSync` is false: a
    /// commit index that moved, which a restart learns again from the leader).
    public func persist(snapshot: Snapshot?, entries: [Entry], hardState: HardState?, sync: Bool = true) throws(RaftStorageError) {
        if let snapshot, snapshot.index < cache.snapshot.index { throw .snapshotOutOfDate }
        var next = cache
        if let snapshot {
            next.snapshot = snapshot
            next.lastIndex = snapshot.index
            next.lastTerm = snapshot.term
            next.nextOffset = nil
        }
        let usable = Self.usable(entries, after: next)
        if snapshot == nil && usable.isEmpty && hardState == nil { return }
        try write("persist", sync: sync || snapshot != nil || !usable.isEmpty) { () throws(StorageError) in
            if let snapshot {
                // The snapshot replaces the whole log and the state it covers.
                try run(statements.deleteAllLog)
                if let partition = partitionStatements { try run(partition.deleteAllRecords) }
                try storeSnapshot(snapshot)
            }
            if !usable.isEmpty { try appendRows(usable, into: &next) }
            if let hardState {
                let update = statements.setHardState
                defer { update.reset() }
                try update.bind(1, Int64(hardState.term.rawValue))
                try update.bind(2, Int64(hardState.vote.rawValue))
                try update.bind(3, Int64(hardState.commit.rawValue))
                try update.step()
                next.hardState = hardState
            }
        }
        cache = next
    }

    /// Persists a whole `Ready` (snapshot, entries, hard state) in one transaction, synced to
    /// disk when the Ready says `mustSync` (term, vote, entries or a snapshot changed).
    public func persist(_ ready: Ready) throws(RaftStorageError) {
        try persist(snapshot: ready.snapshot, entries: ready.entries, hardState: ready.hardState, sync: ready.mustSync)
    }

    /// Applies the committed entries of one `Ready` (in index order, all persisted) to
    /// `consumer_offsets`: the positions of every offset-commit entry above
    /// `offsetsAppliedIndex`, and the mark moved to the last of them, in one transaction. Only a
    /// committed entry may be applied: a persisted one may still be truncated by a later leader,
    /// and an upsert cannot be undone. Entries at or below the mark are skipped, so applying the
    /// same entries again changes nothing.
    ///
    /// Without an fsync (`persist`'s `sync: false`): atomic, and durable with the next synced
    /// write. A crash may lose it; the entries stay in the log, and what the file says is
    /// committed is applied again when the store opens (the rest Raft commits and hands out
    /// again). A list without an offset-commit entry above the mark (every produce batch) writes
    /// nothing.
    ///
    /// - Returns: whether it wrote (a transaction).
    @discardableResult
    public func applyOffsetCommits(_ committed: [Entry]) throws(RaftStorageError) -> Bool {
        let mark = cache.offsetsApplied
        guard let last = committed.last(where: { $0.kind == .offsetCommit && $0.index > mark })?.index else { return false }
        precondition(last <= cache.lastIndex, "\(connection.path): applying entry \(last) past the log's last index \(cache.lastIndex)")
        try write("applyOffsetCommits(through: \(last))", sync: false) { () throws(StorageError) in
            try storeOffsetCommits(of: committed.lazy.filter { $0.kind == .offsetCommit && $0.index > mark }, through: last)
        }
        cache.offsetsApplied = last
        return true
    }

    /// The offset of the oldest retained record, nil when there is none.
    public func earliestOffset() -> Offset? {
        guard partitionStatements != nil else { return nil }
        do {
            return try connection.scalarInt("SELECT min(offset) FROM records").map { Offset($0) }
        } catch {
            stop("earliestOffset()", error)
        }
    }

    /// After a failed write, on a connection to the reopened file (before a store is built over
    /// it): removes every entry after `index` (the last one a successful write left, so none of
    /// them was ever reported durable) with its records, in one transaction that is committed
    /// with an fsync even when nothing was there to remove (a row written and removed again), so
    /// the commit also proves the disk takes writes again. A failed COMMIT whose pages reached
    /// the WAL comes back when the file is reopened; this is what takes it out again.
    ///
    /// The applied mark is bounded by the kept log, not by the kept commit index. It is at or below
    /// `index` already (an apply follows the successful write of its entries, and committed
    /// entries are never removed), so the bound only makes sure a removed index is never taken
    /// for applied; the `consumer_offsets` rows stay, as they came from committed entries.
    /// Lowered to the kept commit index, which may lag the apply (the replica defers a
    /// commit-only hard state), the mark would let those entries be applied again as Raft hands
    /// them out, showing older positions for a moment.
    ///
    /// - Returns: how many records were removed.
    @discardableResult
    public static func discardEntries(after index: LogIndex, on connection: SQLiteConnection) throws(StorageError) -> Int64 {
        try connection.execute("BEGIN IMMEDIATE")
        do {
            let first = try connection.prepare(
                "SELECT first_offset FROM raft_log WHERE raft_index > ? AND kind = 0 ORDER BY raft_index LIMIT 1")
            try first.bind(1, Int64(index.rawValue))
            var removed: Int64 = 0
            if try first.step() {
                let offset = first.columnInt64(0)
                removed = try connection.scalarInt("SELECT count(*) FROM records WHERE offset >= \(offset)") ?? 0
                try connection.execute("DELETE FROM records WHERE offset >= \(offset)")
            }
            first.reset()
            try connection.execute(
                """
                DELETE FROM raft_log WHERE raft_index > \(index.rawValue);
                UPDATE raft_state SET commit_index = min(commit_index, max(\(index.rawValue), snapshot_index)),
                    offsets_applied_index = min(offsets_applied_index, max(\(index.rawValue), snapshot_index));
                INSERT INTO consumer_offsets (group_name, next_offset, generation, member, committed_ms)
                    VALUES ('spool write probe', 0, 0, '', 0);
                DELETE FROM consumer_offsets WHERE group_name = 'spool write probe'
                """)
            try connection.execute("COMMIT")
            return removed
        } catch {
            try? connection.execute("ROLLBACK")
            throw error
        }
    }

    /// The timestamp of the newest stored record, nil when there is none (a leader stamps new
    /// records no earlier than it, so append times never go back across a restart).
    public func lastRecordTimestamp() -> TimestampMs? {
        guard partitionStatements != nil else { return nil }
        do {
            return try connection.scalarInt("SELECT timestamp_ms FROM records ORDER BY offset DESC LIMIT 1").map { TimestampMs($0) }
        } catch {
            stop("lastRecordTimestamp()", error)
        }
    }

    // MARK: Internals

    /// The statements on `records`: a record batch or an offset commit in a database without
    /// records (the metadata group's) is a bug.
    private var records: PartitionStatements {
        guard let partitionStatements else { preconditionFailure("\(connection.path): a record batch or offset commit in a log without records") }
        return partitionStatements
    }

    /// The entries of a batch that are not below the first index (`append`'s contract), after
    /// checking contiguity and that the batch does not leave a gap.
    private static func usable(_ entries: [Entry], after cache: Cache) -> ArraySlice<Entry> {
        guard let first = entries.first else { return [] }
        for (position, entry) in entries.enumerated() {
            precondition(entry.index == first.index + position, "append: entries are not contiguous")
        }
        precondition(first.index <= cache.lastIndex + 1, "append: gap after last index \(cache.lastIndex)")
        let firstKept = cache.snapshot.index + 1
        guard let start = entries.firstIndex(where: { $0.index >= firstKept }) else { return [] }
        return entries[start...]
    }

    /// Truncates the log at the first new index (one suffix truncation, records included) and
    /// inserts the rows. Updates `next` as the commit will leave the store.
    private func appendRows(_ entries: ArraySlice<Entry>, into next: inout Cache) throws(StorageError) {
        let first = entries[entries.startIndex].index
        if first <= next.lastIndex {
            if let offset = try firstRecordOffset(atOrAfter: first) {
                try run(records.deleteRecordsFrom, offset.rawValue)
                next.nextOffset = offset
            }
            try run(statements.deleteLogFrom, Int64(first.rawValue))
        }
        for entry in entries {
            try insert(entry, nextOffset: &next.nextOffset)
        }
        let last = entries[entries.endIndex - 1]
        next.lastIndex = last.index
        next.lastTerm = last.term
    }

    /// The first offset of the first record batch at or after `index` (where a truncation at
    /// `index` starts deleting records), nil when no record batch is there.
    func firstRecordOffset(atOrAfter index: LogIndex) throws(StorageError) -> Offset? {
        let query = statements.firstOffsetFrom
        defer { query.reset() }
        try query.bind(1, Int64(index.rawValue))
        guard try query.step() else { return nil }
        return Offset(query.columnInt64(0))
    }

    private func insert(_ entry: Entry, nextOffset: inout Offset?) throws(StorageError) {
        let row = statements.insertLog
        defer { row.reset() }
        try row.bind(1, Int64(entry.index.rawValue))
        try row.bind(2, Int64(entry.term.rawValue))
        try row.bind(3, Int64(entry.kind.rawValue))
        if entry.kind == .record {
            let header = try insertRecords(of: entry, expecting: nextOffset)
            try row.bind(4, header.firstOffset.rawValue)
            try row.bind(5, Int64(header.count))
            try row.bindNull(6)
            nextOffset = header.endOffset
        } else {
            try row.bindNull(4)
            try row.bind(5, 0)
            try row.bindBlobCopy(6, entry.payload)
        }
        try row.step()
    }

    /// Writes the consumer positions of committed offset-commit entries (in index order) into
    /// `consumer_offsets` and moves the applied mark to `last`, inside the caller's transaction,
    /// so the positions and the mark are on disk together or not at all. Never at persist: an
    /// entry persisted and then truncated must leave no trace here (docs/replication.md §4).
    private func storeOffsetCommits(of entries: some Sequence<Entry>, through last: LogIndex) throws(StorageError) {
        let upsert = records.upsertOffset
        var previous = cache.offsetsApplied
        for entry in entries {
            precondition(entry.index > previous, "\(connection.path): offset commits applied out of order (\(entry.index) after \(previous))")
            previous = entry.index
            guard let commits = OffsetCommit.decodePayload(entry.payload) else {
                preconditionFailure("\(connection.path): entry \(entry.index) of kind offsetCommit has a malformed payload")
            }
            for commit in commits {
                defer { upsert.reset() }
                try upsert.bindText(1, commit.group)
                try upsert.bind(2, commit.nextOffset.rawValue)
                try upsert.bind(3, commit.generation)
                try upsert.bindText(4, commit.member)
                try upsert.bind(5, commit.committedMs)
                try upsert.step()
            }
        }
        precondition(previous == last, "\(connection.path): the applied mark \(last) is not the last offset commit applied (\(previous))")
        try run(records.setOffsetsApplied, Int64(last.rawValue))
    }

    /// At open: applies again the offset commits of the entries the file says are committed,
    /// above the applied mark. Their apply was written without an fsync (`applyOffsetCommits`),
    /// so a crash can have lost it while the commit index covering them survived (synced with
    /// the entries, before the apply), and Raft hands out again only the entries above the
    /// stored commit index: nothing else would apply them. One transaction, and only when there
    /// is something to apply.
    private func reapplyOffsetCommits() throws(StorageError) {
        let mark = cache.offsetsApplied
        let commit = cache.hardState.commit
        guard commit > mark else { return }
        // The partial index raft_log_offset_commits (migration 0004): only offset-commit rows are read.
        let rows = try connection.prepare(
            "SELECT raft_index, term, payload FROM raft_log WHERE kind = 1 AND raft_index > ? AND raft_index <= ? ORDER BY raft_index")
        try rows.bind(1, Int64(mark.rawValue))
        try rows.bind(2, Int64(commit.rawValue))
        var entries: [Entry] = []
        while try rows.step() {
            entries.append(
                Entry(
                    index: LogIndex(UInt64(rows.columnInt64(0))), term: Term(UInt64(rows.columnInt64(1))), kind: .offsetCommit,
                    payload: Array(rows.columnBytes(2))))
        }
        rows.reset()
        guard let last = entries.last?.index else { return }
        try connection.execute("BEGIN IMMEDIATE")
        do {
            try storeOffsetCommits(of: entries, through: last)
            try connection.execute("COMMIT")
        } catch {
            try? connection.execute("ROLLBACK")
            throw error
        }
        cache.offsetsApplied = last
    }

    /// Inserts a record batch's records, bound straight from the payload's bytes.
    private func insertRecords(of entry: Entry, expecting nextOffset: Offset?) throws(StorageError) -> RecordBatch.Header {
        let insert = records.insertRecord
        let term = Int64(entry.term.rawValue)
        let result: Result<RecordBatch.Header, StorageError> = entry.payload.withUnsafeBytes { bytes in
            guard let header = RecordBatch.header(of: bytes) else {
                preconditionFailure("\(connection.path): entry \(entry.index) of kind record is not a RecordBatch")
            }
            if let nextOffset {
                precondition(
                    header.firstOffset == nextOffset,
                    "\(connection.path): entry \(entry.index) starts at offset \(header.firstOffset), expected \(nextOffset) (offsets must be consecutive)")
            }
            do {
                try RecordBatch.forEachRecord(in: bytes) { record in
                    defer { insert.reset() }
                    try insert.bind(1, record.offset.rawValue)
                    try insert.bind(2, term)
                    try insert.bind(3, record.timestamp.rawValue)
                    if let key = record.key {
                        try insert.bindBytes(4, key, asText: UTF8Check.isText(key))
                    } else {
                        try insert.bindNull(4)
                    }
                    try insert.bindBytes(5, record.value, asText: UTF8Check.isText(record.value))
                    try insert.step()
                }
            } catch let error as StorageError {
                return .failure(error)
            } catch {
                return .failure(StorageError(code: -1, message: "\(error)"))
            }
            return .success(header)
        }
        return try result.get()
    }

    private func readEntries(from lo: LogIndex, upTo hi: LogIndex, maxBytes: UInt64) throws(StorageError) -> [Entry] {
        let rows = statements.logRange
        defer { rows.reset() }
        try rows.bind(1, Int64(lo.rawValue))
        try rows.bind(2, Int64(hi.rawValue))
        var result: [Entry] = []
        var total: UInt64 = 0
        var cut = false
        while try rows.step() {
            let index = LogIndex(UInt64(rows.columnInt64(0)))
            precondition(index == lo + result.count, "\(connection.path): raft_log has a hole before \(index)")
            let term = Term(UInt64(rows.columnInt64(1)))
            guard let kind = EntryKind(rawValue: UInt8(truncatingIfNeeded: rows.columnInt64(2))) else {
                preconditionFailure("\(connection.path): raft_log row \(index) has unknown kind \(rows.columnInt64(2))")
            }
            let payload: [UInt8]
            if kind == .record {
                payload = try rebuildBatch(first: Offset(rows.columnInt64(3)), count: Int(rows.columnInt64(4)), index: index)
            } else {
                payload = Array(rows.columnBytes(5))
            }
            let entry = Entry(index: index, term: term, kind: kind, payload: payload)
            total += entry.sizeBytes
            if !result.isEmpty && total > maxBytes {
                cut = true
                break
            }
            result.append(entry)
        }
        precondition(
            cut || result.count == hi.distance(from: lo),
            "\(connection.path): raft_log misses entries in \(lo)..<\(hi)")
        return result
    }

    /// A record batch's payload, rebuilt from its records rows.
    private func rebuildBatch(first: Offset, count: Int, index: LogIndex) throws(StorageError) -> [UInt8] {
        let records = self.records.recordRange
        defer { records.reset() }
        try records.bind(1, first.rawValue)
        try records.bind(2, (first + Int64(count)).rawValue)
        var builder = RecordBatch.Builder(firstOffset: first, capacity: RecordBatch.headerBytes + count * (RecordBatch.recordOverheadBytes + 64))
        while try records.step() {
            precondition(records.columnInt64(0) == (first + Int64(builder.count)).rawValue, "\(connection.path): records of entry \(index) have a gap")
            let key: UnsafeRawBufferPointer? = records.columnIsNull(2) ? nil : records.columnBytes(2)
            builder.append(timestamp: TimestampMs(records.columnInt64(1)), key: key, value: records.columnBytes(3))
        }
        precondition(builder.count == count, "\(connection.path): entry \(index) has \(builder.count) of its \(count) records")
        return builder.finish()
    }

    private func storeSnapshot(_ snapshot: Snapshot) throws(StorageError) {
        let update = statements.setSnapshot
        defer { update.reset() }
        try update.bind(1, Int64(snapshot.index.rawValue))
        try update.bind(2, Int64(snapshot.term.rawValue))
        try update.bindText(3, Self.encodeVoters(snapshot.voters))
        try update.bindBlobCopy(4, snapshot.data)
        try update.step()
    }

    /// Runs `body` in one write transaction and commits it (one fsync). A failure rolls back and
    /// throws `writeFailed`, and so does every write after it: see the type's documentation.
    private func write(_ what: String, sync: Bool = true, _ body: () throws(StorageError) -> Void) throws(RaftStorageError) {
        if let writeFailure { throw failed(what, writeFailure, first: false) }
        // Outside the transaction: SQLite refuses to change the setting inside one. Executed, not
        // prepared once: SQLite applies this pragma when it compiles the statement, not when it
        // steps it. The test mode without any fsync (StorageTestMode) is left alone.
        let unsynced = !sync && StorageTestMode.installed?.synchronousOff != true
        do {
            if unsynced { try connection.execute("PRAGMA synchronous = NORMAL") }
            try begin()
        } catch let error where error.isBusy {
            // BEGIN IMMEDIATE found the write lock taken: nothing was written, so the store stays
            // usable once the setting is back.
            if unsynced {
                do {
                    try connection.execute("PRAGMA synchronous = FULL")
                } catch {
                    throw failed(what + " (restoring synchronous=FULL)", error, first: true)
                }
            }
            throw .busy
        } catch {
            throw failed(what, error, first: true)
        }
        do {
            try body()
            try beforeCommit?()
            try run(statements.commit)
        } catch {
            // A COMMIT that failed on an I/O error may have rolled back already; one that failed
            // otherwise leaves the transaction open. Either way nothing of it is kept in the cache.
            try? run(statements.rollback)
            throw failed(what, error, first: true)
        }
        do {
            // Left at NORMAL, every later write would skip its fsync: the store must stop.
            if unsynced { try connection.execute("PRAGMA synchronous = FULL") }
        } catch {
            throw failed(what + " (restoring synchronous=FULL)", error, first: true)
        }
    }

    /// Remembers the first failed write and describes it for Raft's error.
    private func failed(_ what: String, _ error: StorageError, first: Bool) -> RaftStorageError {
        if first { writeFailure = error }
        let prefix = first ? "" : "refused after an earlier failure: "
        return .writeFailed("\(connection.path): Raft storage \(what) \(prefix)failed: \(error)")
    }

    /// BEGIN IMMEDIATE, waiting (bounded) while another connection holds the write lock: the
    /// partition writer runs with busy_timeout=0 (PartitionStore), and a Raft call cannot answer
    /// "busy" to its caller.
    private func begin() throws(StorageError) {
        var waitedMs: Int32 = 0
        while true {
            do {
                try run(statements.begin)
                return
            } catch let error where error.isBusy && waitedMs < busyWaitMs {
                sqlite3_sleep(10)
                waitedMs += 10
            }
        }
    }

    private func run(_ statement: SQLiteStatement, _ value: Int64? = nil) throws(StorageError) {
        defer { statement.reset() }
        if let value { try statement.bind(1, value) }
        try statement.step()
    }

    /// A failed read: not Raft's to handle (see the type's documentation).
    private func stop(_ what: String, _ error: StorageError) -> Never {
        preconditionFailure("\(connection.path): Raft storage \(what) failed, stopping (the broker restarts from disk): \(error)")
    }

    static func encodeVoters(_ voters: [NodeID]) -> String {
        voters.map { String($0.rawValue) }.joined(separator: ",")
    }

    static func decodeVoters(_ text: String) -> [NodeID] {
        text.split(separator: ",").compactMap { UInt64($0).map { NodeID($0) } }.sorted()
    }
}

extension RaftLogStore {
    /// The prepared statements, one per query of the hot paths.
    final class Statements {
        let begin, commit, rollback: SQLiteStatement
        let termAt, logRange, firstOffsetFrom: SQLiteStatement
        let insertLog: SQLiteStatement
        let deleteLogFrom, deleteLogThrough, deleteAllLog: SQLiteStatement
        let setHardState, setSnapshot: SQLiteStatement

        init(_ connection: SQLiteConnection) throws(StorageError) {
            begin = try connection.prepare("BEGIN IMMEDIATE")
            commit = try connection.prepare("COMMIT")
            rollback = try connection.prepare("ROLLBACK")
            termAt = try connection.prepare("SELECT term FROM raft_log WHERE raft_index = ?")
            logRange = try connection.prepare(
                "SELECT raft_index, term, kind, first_offset, record_count, payload FROM raft_log WHERE raft_index >= ? AND raft_index < ? ORDER BY raft_index")
            firstOffsetFrom = try connection.prepare(
                "SELECT first_offset FROM raft_log WHERE raft_index >= ? AND kind = 0 ORDER BY raft_index LIMIT 1")
            insertLog = try connection.prepare(
                "INSERT INTO raft_log (raft_index, term, kind, first_offset, record_count, payload) VALUES (?, ?, ?, ?, ?, ?)")
            deleteLogFrom = try connection.prepare("DELETE FROM raft_log WHERE raft_index >= ?")
            deleteLogThrough = try connection.prepare("DELETE FROM raft_log WHERE raft_index <= ?")
            deleteAllLog = try connection.prepare("DELETE FROM raft_log")
            setHardState = try connection.prepare("UPDATE raft_state SET term = ?, vote = ?, commit_index = ?")
            setSnapshot = try connection.prepare("UPDATE raft_state SET snapshot_index = ?, snapshot_term = ?, voters = ?, snapshot_data = ?")
        }
    }

    /// The statements of a partition's records and consumer positions.
    final class PartitionStatements {
        let recordRange, insertRecord, deleteRecordsFrom, deleteAllRecords, upsertOffset, setOffsetsApplied: SQLiteStatement

        init(_ connection: SQLiteConnection) throws(StorageError) {
            recordRange = try connection.prepare(
                "SELECT offset, timestamp_ms, key, value FROM records WHERE offset >= ? AND offset < ? ORDER BY offset")
            insertRecord = try connection.prepare("INSERT INTO records (offset, term, timestamp_ms, key, value) VALUES (?, ?, ?, ?, ?)")
            deleteRecordsFrom = try connection.prepare("DELETE FROM records WHERE offset >= ?")
            deleteAllRecords = try connection.prepare("DELETE FROM records")
            upsertOffset = try connection.prepare(
                """
                INSERT INTO consumer_offsets (group_name, next_offset, generation, member, committed_ms) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (group_name) DO UPDATE SET next_offset = excluded.next_offset, generation = excluded.generation,
                    member = excluded.member, committed_ms = excluded.committed_ms
                """)
            setOffsetsApplied = try connection.prepare("UPDATE raft_state SET offsets_applied_index = ?")
        }
    }
}
