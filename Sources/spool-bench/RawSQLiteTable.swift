import CSQLite
import SpoolCore

/// The broker's `records` table in a database of its own, written through SQLite's C API with
/// nothing in between: the raw references (`RawSQLiteReference`, `LoopbackCommitReference`) all
/// write through it, so they pay for exactly the same SQLite work.
///
/// The schema is the broker's (migrations/partition/0001_records.sql: the rowid-aliased offset
/// and the timestamp index), and so are the writer pragmas (SpoolStorage/ConnectionFactory.swift)
/// and the process-wide settings (SpoolStorage/SQLiteConnection.swift).
/// One serial owner at a time; `@unchecked Sendable` only so a reference can hand it to the
/// thread that writes.
final class RawSQLiteTable: @unchecked Sendable {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static let schema = """
        CREATE TABLE records (
            offset INTEGER PRIMARY KEY, term INTEGER NOT NULL DEFAULT 0, timestamp_ms INTEGER NOT NULL,
            key ANY, value ANY NOT NULL) STRICT;
        CREATE INDEX records_by_timestamp ON records (timestamp_ms);
        """

    let path: String
    private let db: OpaquePointer
    private let insert: OpaquePointer
    private let begin: OpaquePointer
    private let commit: OpaquePointer
    private let value: [UInt8]
    private let keys: Int
    private var key = [UInt8](repeating: 0, count: 24)
    /// The offset the next row gets; also the number of rows written.
    private(set) var nextOffset: Int64 = 0

    /// Creates a fresh database at `path` (removing any old one) with rows of `valueBytes`
    /// printable bytes and `keys` distinct keys (0: keyless).
    /// The broker's process-wide setting (SpoolStorage/SQLiteConnection.swift): no memory
    /// statistics, so no global mutex around SQLite's allocations.
    private static let processSettings: Void = {
        _ = spool_sqlite_disable_memstatus()
    }()

    init(path: String, valueBytes: Int, keys: Int) throws {
        _ = Self.processSettings
        self.path = path
        for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
        var handle: OpaquePointer?
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK,
            let handle
        else {
            if let handle { sqlite3_close_v2(handle) }
            throw Failure(description: "cannot open \(path)")
        }
        db = handle
        do {
            try Self.exec(
                db,
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=1000; PRAGMA journal_size_limit=67108864; PRAGMA temp_store=MEMORY"
            )
            for (pragma, expected) in [("journal_mode", "wal"), ("synchronous", "2")] {
                let got = try Self.scalar(db, "PRAGMA \(pragma)")
                guard got.lowercased() == expected else { throw Failure(description: "PRAGMA \(pragma) is \(got), not \(expected)") }
            }
            try Self.exec(db, Self.schema)
            insert = try Self.prepare(db, "INSERT INTO records (offset, term, timestamp_ms, key, value) VALUES (?, ?, ?, ?, ?)")
            begin = try Self.prepare(db, "BEGIN IMMEDIATE")
            commit = try Self.prepare(db, "COMMIT")
        } catch {
            sqlite3_close_v2(db)
            for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
            throw error
        }
        value = RecordShape(topic: "", valueBytes: valueBytes, keys: keys, acks: "leader").value
        self.keys = keys
    }

    deinit {
        sqlite3_finalize(insert)
        sqlite3_finalize(begin)
        sqlite3_finalize(commit)
        sqlite3_close_v2(db)
        for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
    }

    /// One transaction of `rows` rows at the next offsets; returns once COMMIT (and with it the
    /// fsync of synchronous=FULL) is done.
    func appendTransaction(rows: Int) throws {
        try step(begin)
        let stamp = WallClock.nowMs()
        try value.withUnsafeBytes { valueBytes in
            for _ in 0..<rows {
                sqlite3_bind_int64(insert, 1, nextOffset)
                sqlite3_bind_int64(insert, 2, 0)
                sqlite3_bind_int64(insert, 3, stamp)
                if keys > 0 {
                    let count = Self.renderKey(Int(nextOffset) % keys, into: &key)
                    key.withUnsafeBufferPointer { buffer in
                        _ = sqlite3_bind_text(
                            insert, 4, UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self), Int32(count),
                            Self.transient)
                    }
                } else {
                    sqlite3_bind_null(insert, 4)
                }
                sqlite3_bind_text(insert, 5, valueBytes.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(valueBytes.count), nil)
                try step(insert)
                nextOffset += 1
            }
        }
        try step(commit)
    }

    private static let transient = unsafeBitCast(Int(-1), to: sqlite3_destructor_type.self)

    /// `k<n>` into `buffer`; returns its length.
    private static func renderKey(_ number: Int, into buffer: inout [UInt8]) -> Int {
        let digits = Array(String(number).utf8)
        buffer[0] = UInt8(ascii: "k")
        for (index, digit) in digits.enumerated() { buffer[index + 1] = digit }
        return digits.count + 1
    }

    private func step(_ statement: OpaquePointer) throws {
        let rc = sqlite3_step(statement)
        sqlite3_reset(statement)
        guard rc == SQLITE_DONE || rc == SQLITE_ROW else {
            throw Failure(description: "step: \(String(cString: sqlite3_errmsg(db)))")
        }
    }

    private static func prepare(_ db: OpaquePointer, _ sql: String) throws -> OpaquePointer {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil) == SQLITE_OK, let statement else {
            throw Failure(description: "prepare \(sql): \(String(cString: sqlite3_errmsg(db)))")
        }
        return statement
    }

    private static func scalar(_ db: OpaquePointer, _ sql: String) throws -> String {
        let statement = try prepare(db, sql)
        defer { sqlite3_finalize(statement) }
        guard sqlite3_step(statement) == SQLITE_ROW, let text = sqlite3_column_text(statement, 0) else { return "" }
        return String(cString: text)
    }

    private static func exec(_ db: OpaquePointer, _ sql: String) throws {
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else {
            throw Failure(description: "\(sql): \(String(cString: sqlite3_errmsg(db)))")
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
