import SpoolCore

/// A read-only connection to one partition's database. One serial owner at a time (readers are
/// checked out of a small pool by the engine). Every read is one statement, so its read
/// transaction ends when the call returns and never holds back checkpoints.
public final class PartitionReader: @unchecked Sendable {
    private let connection: SQLiteConnection
    private let range: SQLiteStatement
    private let byTime: SQLiteStatement
    private let committed: SQLiteStatement
    private let allCommitted: SQLiteStatement
    private let timestampAt: SQLiteStatement

    public init(path: String) throws(StorageError) {
        connection = try ConnectionFactory.openReader(path: path)
        range = try connection.prepare(
            "SELECT offset, timestamp_ms, key, value FROM records WHERE offset >= ? AND offset < ? ORDER BY offset LIMIT ?")
        byTime = try connection.prepare(
            "SELECT offset FROM records WHERE timestamp_ms >= ? ORDER BY timestamp_ms, offset LIMIT 1")
        committed = try connection.prepare(
            "SELECT group_name, next_offset, generation, member, committed_ms FROM consumer_offsets WHERE group_name = ?")
        allCommitted = try connection.prepare(
            "SELECT group_name, next_offset, generation, member, committed_ms FROM consumer_offsets ORDER BY group_name")
        timestampAt = try connection.prepare("SELECT timestamp_ms FROM records WHERE offset = ?")
    }

    /// The group's committed position in this partition, or nil when it never committed.
    public func committedOffset(group: String) throws(StorageError) -> OffsetCommit? {
        defer { committed.reset() }
        try committed.bindText(1, group)
        guard try committed.step() else { return nil }
        return Self.offsetCommit(committed)
    }

    /// Every group's committed position in this partition, by group name.
    public func committedOffsets() throws(StorageError) -> [OffsetCommit] {
        defer { allCommitted.reset() }
        var result: [OffsetCommit] = []
        while try allCommitted.step() { result.append(Self.offsetCommit(allCommitted)) }
        return result
    }

    /// The append time of the record at `offset`, or nil when there is none.
    public func timestamp(at offset: Offset) throws(StorageError) -> TimestampMs? {
        defer { timestampAt.reset() }
        try timestampAt.bind(1, offset.rawValue)
        guard try timestampAt.step() else { return nil }
        return TimestampMs(timestampAt.columnInt64(0))
    }

    private static func offsetCommit(_ row: SQLiteStatement) -> OffsetCommit {
        OffsetCommit(
            group: row.columnText(0) ?? "", nextOffset: Offset(row.columnInt64(1)), generation: row.columnInt64(2),
            member: row.columnText(3) ?? "", committedMs: row.columnInt64(4))
    }

    /// Visits records with `start <= offset < end` in offset order: at most `maxRecords`, and
    /// stopping once `maxBytes` of values have been visited (at least one record is visited if
    /// any is there, so a record larger than `maxBytes` can still be read).
    ///
    /// The `RecordView` bytes are borrowed: valid only inside `visit`.
    /// - Returns: how many records were visited.
    @discardableResult
    public func read(from start: Offset, below end: Offset, maxRecords: Int, maxBytes: Int, _ visit: (RecordView) -> Void) throws(StorageError) -> Int {
        guard start < end, maxRecords > 0 else { return 0 }
        defer { range.reset() }
        try range.bind(1, start.rawValue)
        try range.bind(2, end.rawValue)
        try range.bind(3, Int64(maxRecords))
        var count = 0
        var bytes = 0
        while try range.step() {
            let value = range.columnBytes(3)
            let key: UnsafeRawBufferPointer? = range.columnIsNull(2) ? nil : range.columnBytes(2)
            visit(RecordView(offset: Offset(range.columnInt64(0)), timestamp: TimestampMs(range.columnInt64(1)), key: key, value: value))
            count += 1
            bytes += value.count
            if bytes >= maxBytes { break }
        }
        return count
    }

    /// The first offset whose append time is at or after `time`, or nil when there is none.
    public func firstOffset(atOrAfter time: TimestampMs) throws(StorageError) -> Offset? {
        defer { byTime.reset() }
        try byTime.bind(1, time.rawValue)
        guard try byTime.step() else { return nil }
        return Offset(byTime.columnInt64(0))
    }
}
