import SpoolCore
import SpoolStorage

/// TEST-ONLY: writes a partition file exactly as the broker did before partitions were Raft
/// groups (`PartitionStore`, until issue 10 put every partition on `ReplicaDriver`): schema
/// version 3, every batch one transaction with its records at consecutive offsets (term 1), one
/// `raft_log` row of kind 0 per batch, `raft_state.commit_index` moved to it, and consumer
/// positions upserted into `consumer_offsets` in the same transaction (offset commits were
/// not Raft entries then). Migration tests make folders with it and check that today's broker
/// opens them with every record and every committed position intact. No broker links it.
public final class LegacyPartitionWriter {
    public let path: String
    public let connection: SQLiteConnection
    /// The offset the next appended record gets.
    public private(set) var nextOffset: Offset
    public private(set) var lastTimestamp: TimestampMs
    public private(set) var lastRaftIndex: Int64

    /// The partition schema version this writer wrote.
    public static let schemaVersion = 3

    public init(path: String) throws(StorageError) {
        self.path = path
        connection = try ConnectionFactory.openWriter(path: path, migrations: .partition(through: Self.schemaVersion))
        let max = try connection.scalarInt("SELECT max(offset) FROM records")
        nextOffset = max.map { Offset($0 + 1) } ?? .zero
        lastTimestamp = TimestampMs(try connection.scalarInt("SELECT timestamp_ms FROM records ORDER BY offset DESC LIMIT 1") ?? 0)
        lastRaftIndex = try connection.scalarInt("SELECT coalesce((SELECT max(raft_index) FROM raft_log), snapshot_index) FROM raft_state") ?? 0
    }

    /// Appends `values` (with `keys`, nil for none) at the next offsets and stores `commits`, in
    /// one transaction, as the old broker's group commit did. Returns the first offset.
    @discardableResult
    public func append(
        _ values: [[UInt8]], keys: [[UInt8]?]? = nil, commits: [OffsetCommit] = [], timestamp: TimestampMs
    ) throws(StorageError) -> Offset {
        precondition(!values.isEmpty || !commits.isEmpty, "append needs a record or a commit")
        let first = nextOffset
        let stamp = max(timestamp, lastTimestamp)
        try connection.execute("BEGIN IMMEDIATE")
        do {
            let insert = try connection.prepare("INSERT INTO records (offset, term, timestamp_ms, key, value) VALUES (?, 1, ?, ?, ?)")
            for (index, value) in values.enumerated() {
                defer { insert.reset() }
                try insert.bind(1, (first + Int64(index)).rawValue)
                try insert.bind(2, stamp.rawValue)
                if let key = keys?[index] {
                    try Self.bind(key, at: 3, to: insert)
                } else {
                    try insert.bindNull(3)
                }
                try Self.bind(value, at: 4, to: insert)
                _ = try insert.step()
            }
            if !values.isEmpty {
                let index = lastRaftIndex + 1
                try connection.execute(
                    "INSERT INTO raft_log (raft_index, term, kind, first_offset, record_count) VALUES (\(index), 1, 0, \(first.rawValue), \(values.count))")
                try connection.execute("UPDATE raft_state SET commit_index = \(index), term = max(term, 1)")
            }
            let upsert = try connection.prepare(
                """
                INSERT INTO consumer_offsets (group_name, next_offset, generation, member, committed_ms) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (group_name) DO UPDATE SET next_offset = excluded.next_offset, generation = excluded.generation,
                    member = excluded.member, committed_ms = excluded.committed_ms
                """)
            for commit in commits {
                defer { upsert.reset() }
                try upsert.bindText(1, commit.group)
                try upsert.bind(2, commit.nextOffset.rawValue)
                try upsert.bind(3, commit.generation)
                try upsert.bindText(4, commit.member)
                try upsert.bind(5, commit.committedMs)
                _ = try upsert.step()
            }
            try connection.execute("COMMIT")
        } catch let error as StorageError {
            try? connection.execute("ROLLBACK")
            throw error
        } catch {
            try? connection.execute("ROLLBACK")
            throw StorageError(code: -1, message: "append: \(error)")
        }
        nextOffset = first + Int64(values.count)
        if !values.isEmpty {
            lastTimestamp = stamp
            lastRaftIndex += 1
        }
        return first
    }

    /// TEXT when the bytes are UTF-8 without NUL, BLOB otherwise, as the old broker stored them.
    private static func bind(_ bytes: [UInt8], at index: Int32, to statement: SQLiteStatement) throws(StorageError) {
        let text = bytes.withUnsafeBytes { UTF8Check.isText($0) }
        if text {
            try statement.bindText(index, String(decoding: bytes, as: UTF8.self))
        } else {
            try statement.bindBlobCopy(index, bytes)
        }
    }

    /// Checkpoints and closes, as the old broker did at shutdown.
    public func close() {
        try? connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.close()
    }
}
