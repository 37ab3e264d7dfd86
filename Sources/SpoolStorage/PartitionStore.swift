import CSQLite
import SpoolCore

/// The write side of one partition's database: appends records at the next offsets.
///
/// Exactly one serial owner uses it (the engine's flush loop for the partition). Readers use
/// their own `PartitionReader` connections; WAL lets them read while this writes.
public final class PartitionStore: @unchecked Sendable {
    public let path: String
    /// Internal (not private) so tests can check the pragmas of the connection that writes.
    let connection: SQLiteConnection
    private var statements: Statements?

    /// The prepared statements of the hot path, released together on close.
    private final class Statements {
        let insert: SQLiteStatement
        let begin: SQLiteStatement
        let commit: SQLiteStatement
        let rollback: SQLiteStatement
        let commitOffset: SQLiteStatement
        let logBatch: SQLiteStatement
        let commitIndex: SQLiteStatement

        init(_ connection: SQLiteConnection) throws(StorageError) {
            insert = try connection.prepare("INSERT INTO records (offset, term, timestamp_ms, key, value) VALUES (?, ?, ?, ?, ?)")
            begin = try connection.prepare("BEGIN IMMEDIATE")
            commit = try connection.prepare("COMMIT")
            rollback = try connection.prepare("ROLLBACK")
            commitOffset = try connection.prepare(
                """
                INSERT INTO consumer_offsets (group_name, next_offset, generation, member, committed_ms) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (group_name) DO UPDATE SET next_offset = excluded.next_offset, generation = excluded.generation,
                    member = excluded.member, committed_ms = excluded.committed_ms
                """)
            logBatch = try connection.prepare(
                "INSERT INTO raft_log (raft_index, term, kind, first_offset, record_count) VALUES (?, ?, 0, ?, ?)")
            commitIndex = try connection.prepare("UPDATE raft_state SET commit_index = ?1, term = max(term, ?2)")
        }
    }

    /// The offset the next appended record gets (the high watermark on a single broker).
    public private(set) var nextOffset: Offset
    /// The earliest retained offset (== nextOffset when the partition is empty).
    public private(set) var earliestOffset: Offset
    /// The newest append timestamp; append times never go below it.
    public private(set) var lastTimestamp: TimestampMs
    /// The Raft index of the newest entry (`raft_log`, or the snapshot's when the log is empty).
    /// This single-voter path writes one entry per batch and commits it on its own fsync
    /// (docs/replication.md §4); `RaftLogStore` is the replicated path over the same tables.
    public private(set) var lastRaftIndex: Int64

    /// Opens (creating if needed) the partition database at `path` and brings it to the newest
    /// schema. The folder must exist.
    public init(path: String) throws(StorageError) {
        self.path = path
        connection = try ConnectionFactory.openWriter(path: path, migrations: .partition)
        // No busy wait on the writer: it runs on a storage thread shared by every partition, so
        // a lock held by someone else (an operator's sqlite3 shell without -readonly) must not
        // make it sleep. BEGIN IMMEDIATE answers SQLITE_BUSY at once and the engine retries this
        // partition's batch later from a timer (PartitionLog).
        try connection.setPragma("busy_timeout", "0")
        statements = try Statements(connection)
        (earliestOffset, nextOffset, lastTimestamp, lastRaftIndex) = try Self.readBounds(connection)
    }

    /// The offsets, newest timestamp and newest Raft index as the file has them.
    private static func readBounds(
        _ connection: SQLiteConnection
    ) throws(StorageError) -> (earliest: Offset, next: Offset, lastTimestamp: TimestampMs, lastRaftIndex: Int64) {
        let bounds = try connection.prepare("SELECT min(offset), max(offset) FROM records")
        try bounds.step()
        let earliest = bounds.columnIsNull(1) ? Offset.zero : Offset(bounds.columnInt64(0))
        let next = bounds.columnIsNull(1) ? Offset.zero : Offset(bounds.columnInt64(1) + 1)
        let lastTimestamp = TimestampMs(try connection.scalarInt("SELECT timestamp_ms FROM records ORDER BY offset DESC LIMIT 1") ?? 0)
        let lastRaftIndex =
            try connection.scalarInt("SELECT coalesce((SELECT max(raft_index) FROM raft_log), snapshot_index) FROM raft_state") ?? 0
        return (earliest, next, lastTimestamp, lastRaftIndex)
    }

    /// Appends `records` at consecutive offsets and stores `commits` (consumer positions) in one
    /// transaction, then commits, which with synchronous=FULL returns only after fsync. All or
    /// nothing: on error nothing is written and the offsets are not used up.
    ///
    /// Inlinable so the record loop is specialised for the caller's record type (the engine's
    /// `PendingAppend`): unspecialised, each element went through generic value witnesses and
    /// one heap allocation. The SQLite work is in the concrete `appendBegin` / `appendRecord` /
    /// `appendCommit` / `appendRollback` below.
    ///
    /// `expectedFirst` is the first offset the caller assigned to the batch (the engine assigns
    /// offsets when it cuts a batch): it must be the file's next offset, or the caller's view of
    /// the log and the file have parted, which no write may paper over (precondition).
    ///
    /// - Returns: the offset of the first record (the next offset when `records` is empty).
    @inlinable
    @discardableResult
    public func append<Records: Collection>(
        _ records: Records, commits: [OffsetCommit] = [], at expectedFirst: Offset? = nil, term: Int64 = 1, timestamp: TimestampMs
    ) throws(StorageError) -> Offset
    where Records.Element: AppendRecord {
        precondition(!records.isEmpty || !commits.isEmpty, "append needs a record or a commit")
        let first = nextOffset
        if let expectedFirst {
            precondition(expectedFirst == first, "\(path): a batch assigned offset \(expectedFirst) but the file's next is \(first)")
        }
        let stamp = try appendBegin(timestamp)
        do {
            var offset = first
            for record in records {
                try record.withKeyAndValue { key, value in
                    try appendRecord(at: offset, term: term, stamp: stamp, key: key, value: value)
                }
                offset = offset + 1
            }
            try appendCommit(commits, first: first, next: offset, term: term, stamp: stamp)
            return first
        } catch {
            appendRollback()
            if let error = error as? StorageError { throw error }
            throw StorageError(code: -1, message: "append: \(error)")
        }
    }

    /// Starts an append's transaction; returns the timestamp its records get. Append time never
    /// goes backwards, so OFFSETS time= can use the timestamp index as an order on offsets even
    /// if the wall clock steps back.
    @usableFromInline
    func appendBegin(_ timestamp: TimestampMs) throws(StorageError) -> TimestampMs {
        guard let statements else { preconditionFailure("\(path): append after close") }
        try run(statements.begin)
        return max(timestamp, lastTimestamp)
    }

    /// Inserts one record inside the transaction `appendBegin` opened. The bytes are bound
    /// without a copy and released by the reset before this returns.
    @usableFromInline
    func appendRecord(
        at offset: Offset, term: Int64, stamp: TimestampMs, key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer
    ) throws(StorageError) {
        guard let insert = statements?.insert else { preconditionFailure("\(path): append after close") }
        defer { insert.reset() }
        try insert.bind(1, offset.rawValue)
        try insert.bind(2, term)
        try insert.bind(3, stamp.rawValue)
        if let key {
            try insert.bindBytes(4, key, asText: UTF8Check.isText(key))
        } else {
            try insert.bindNull(4)
        }
        try insert.bindBytes(5, value, asText: UTF8Check.isText(value))
        try insert.step()
    }

    /// Stores the consumer positions and, when records `first ..< next` were inserted, their
    /// Raft entry (one `raft_log` row for the batch, committed at once: a single voter commits
    /// on its own fsync); then commits (fsync with synchronous=FULL) and moves the next offset
    /// on to `next`. Offset commits stay out of `raft_log` on this path.
    @usableFromInline
    func appendCommit(_ commits: [OffsetCommit], first: Offset, next: Offset, term: Int64, stamp: TimestampMs) throws(StorageError) {
        guard let statements else { preconditionFailure("\(path): append after close") }
        let wroteRecords = next > first
        if wroteRecords {
            let index = lastRaftIndex + 1
            let row = statements.logBatch
            defer { row.reset() }
            try row.bind(1, index)
            try row.bind(2, term)
            try row.bind(3, first.rawValue)
            try row.bind(4, next - first)
            try row.step()
            let update = statements.commitIndex
            defer { update.reset() }
            try update.bind(1, index)
            try update.bind(2, term)
            try update.step()
        }
        for commit in commits {
            let upsert = statements.commitOffset
            defer { upsert.reset() }
            try upsert.bindText(1, commit.group)
            try upsert.bind(2, commit.nextOffset.rawValue)
            try upsert.bind(3, commit.generation)
            try upsert.bindText(4, commit.member)
            try upsert.bind(5, commit.committedMs)
            try upsert.step()
        }
        try run(statements.commit)
        nextOffset = next
        if wroteRecords {
            lastTimestamp = stamp
            lastRaftIndex += 1
        }
    }

    /// Rolls back a failed append: nothing of it stays and its offsets are not used up.
    @usableFromInline
    func appendRollback() {
        guard let statements else { return }
        try? run(statements.rollback)
    }

    /// Moves the WAL's contents into the database file and truncates the WAL to zero bytes.
    public func checkpoint() throws(StorageError) {
        try connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    }

    /// Checkpoints (best effort) and closes the database. Only this writer ever removes the WAL,
    /// so after `close` returns the files can be deleted or reopened safely.
    public func close() {
        guard statements != nil else { return }
        // Closing is rare (shutdown, drop): here waiting a moment for a reader to finish is
        // better than leaving the WAL behind.
        try? connection.setPragma("busy_timeout", "2000")
        try? checkpoint()
        statements = nil
        connection.close()
    }

    /// Closes a connection whose write failed, without a checkpoint and without waiting for any
    /// lock: its state is unknown, so nothing more is written through it, and the WAL stays for
    /// the next open to replay (SQLite rolls back what was never committed).
    public func abandon() {
        guard statements != nil else { return }
        statements = nil
        spool_sqlite_no_checkpoint_on_close(connection.handle)
        connection.close()
    }

    /// `PRAGMA quick_check`: "ok" when the file's pages and records are sound (integrity_check
    /// without the index cross-checks, so a reopen after a failed write does not read each index).
    public func quickCheck() throws(StorageError) -> String {
        let statement = try connection.prepare("PRAGMA quick_check")
        var lines: [String] = []
        while try statement.step() { lines.append(statement.columnText(0) ?? "") }
        return lines.joined(separator: "\n")
    }

    /// After a failed write: removes every record at or past `first` (the first offset of the
    /// write that failed, so never acknowledged) with its Raft entries, in one transaction, and
    /// commits it, which fsyncs even when nothing was there to remove: that commit is also the
    /// proof that the disk takes writes again. Then re-reads the bounds from the file.
    ///
    /// - Returns: how many records were removed (a failed COMMIT whose pages reached the WAL
    ///   comes back when the WAL is replayed).
    @discardableResult
    public func discardUnacknowledged(from first: Offset) throws(StorageError) -> Int64 {
        guard let statements else { preconditionFailure("\(path): discard after close") }
        try run(statements.begin)
        let removed: Int64
        do {
            let deleteRecords = try connection.prepare("DELETE FROM records WHERE offset >= ?")
            try deleteRecords.bind(1, first.rawValue)
            try deleteRecords.step()
            removed = Int64(sqlite3_changes64(connection.handle))
            let deleteEntries = try connection.prepare("DELETE FROM raft_log WHERE kind = 0 AND first_offset >= ?")
            try deleteEntries.bind(1, first.rawValue)
            try deleteEntries.step()
            try connection.execute(
                """
                UPDATE raft_state SET commit_index = min(commit_index,
                    coalesce((SELECT max(raft_index) FROM raft_log), snapshot_index))
                """)
            // A row written and removed again: its page goes to the WAL, so the COMMIT below
            // writes and fsyncs even when there was nothing to remove (SQLite skips a commit that
            // changed no page). The name is no valid group name (it has spaces).
            try connection.execute(
                """
                INSERT INTO consumer_offsets (group_name, next_offset, generation, member, committed_ms)
                    VALUES ('spool write probe', 0, 0, '', 0);
                DELETE FROM consumer_offsets WHERE group_name = 'spool write probe'
                """)
            try run(statements.commit)
        } catch {
            appendRollback()
            throw error
        }
        (earliestOffset, nextOffset, lastTimestamp, lastRaftIndex) = try Self.readBounds(connection)
        return removed
    }

    /// Bytes of the partition's files on disk (database and WAL).
    public func diskBytes() -> Int64 { FileSystem.diskBytes(ofDatabase: path) }

    public func integrityCheck() throws(StorageError) -> String { try connection.integrityCheck() }

    private func run(_ statement: SQLiteStatement) throws(StorageError) {
        defer { statement.reset() }
        try statement.step()
    }
}
