import CSQLite
import SpoolCore

/// The raw SQLite limit on this machine: the rows the broker stores (offset, term, timestamp,
/// key, value), inserted through one reused prepared statement into a WAL database with
/// synchronous=FULL, in transactions of a fixed size. No network, no parsing, no threads: what
/// the disk and SQLite allow, against which the broker's figures are reported as ratios.
///
/// The table is the broker's own `records` table (migrations/partition/0001_records.sql: the
/// rowid-aliased offset and the timestamp index), so both pay for the same B-tree work.
struct RawSQLiteReference {
    struct Result: Sendable, Codable {
        var transactionRows: Int
        var rows: Int
        var seconds: Double
        var rowsPerSecond: Double
        var transactionsPerSecond: Double

        enum CodingKeys: String, CodingKey {
            case transactionRows = "transaction_rows"
            case rows, seconds
            case rowsPerSecond = "rows_per_s"
            case transactionsPerSecond = "transactions_per_s"
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    var directory: String
    var valueBytes: Int
    var keys: Int
    /// Each size runs until this many seconds have passed or `maxRows` rows are in.
    var secondsPerSize: Double
    var maxRows: Int

    static let schema = """
        CREATE TABLE records (
            offset INTEGER PRIMARY KEY, term INTEGER NOT NULL DEFAULT 0, timestamp_ms INTEGER NOT NULL,
            key ANY, value ANY NOT NULL) STRICT;
        CREATE INDEX records_by_timestamp ON records (timestamp_ms);
        """

    func run(transactionRows: Int) throws -> Result {
        let path = "\(directory)/raw-sqlite-\(transactionRows).sqlite3"
        defer { for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) } }
        var db: OpaquePointer?
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK, let db
        else { throw Failure(description: "cannot open \(path)") }
        defer { sqlite3_close_v2(db) }
        // The broker's writer pragmas (SpoolStorage/ConnectionFactory.swift).
        try exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=1000; PRAGMA journal_size_limit=67108864; PRAGMA temp_store=MEMORY")
        for (pragma, expected) in [("journal_mode", "wal"), ("synchronous", "2")] {
            let got = try scalar(db, "PRAGMA \(pragma)")
            guard got.lowercased() == expected else { throw Failure(description: "PRAGMA \(pragma) is \(got), not \(expected)") }
        }
        try exec(db, Self.schema)

        var insert: OpaquePointer?
        let sql = "INSERT INTO records (offset, term, timestamp_ms, key, value) VALUES (?, ?, ?, ?, ?)"
        guard sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &insert, nil) == SQLITE_OK, let insert else {
            throw Failure(description: "prepare: \(String(cString: sqlite3_errmsg(db)))")
        }
        defer { sqlite3_finalize(insert) }
        var begin: OpaquePointer?
        var commit: OpaquePointer?
        sqlite3_prepare_v3(db, "BEGIN IMMEDIATE", -1, UInt32(SQLITE_PREPARE_PERSISTENT), &begin, nil)
        sqlite3_prepare_v3(db, "COMMIT", -1, UInt32(SQLITE_PREPARE_PERSISTENT), &commit, nil)
        defer {
            sqlite3_finalize(begin)
            sqlite3_finalize(commit)
        }

        let value = RecordShape(topic: "", valueBytes: valueBytes, keys: keys, acks: "leader").value
        var key = [UInt8](repeating: 0, count: 24)
        var offset: Int64 = 0
        var transactions = 0
        let start = WallClock.monotonicNs()
        let deadline = start + UInt64(secondsPerSize * 1e9)
        try value.withUnsafeBytes { valueBytes in
            while Int(offset) < maxRows && (transactions == 0 || WallClock.monotonicNs() < deadline) {
                try step(begin, db)
                let stamp = WallClock.nowMs()
                for _ in 0..<transactionRows {
                    sqlite3_bind_int64(insert, 1, offset)
                    sqlite3_bind_int64(insert, 2, 0)
                    sqlite3_bind_int64(insert, 3, stamp)
                    if keys > 0 {
                        let count = Self.renderKey(Int(offset) % keys, into: &key)
                        sqlite3_bind_text(insert, 4, key.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self) }, Int32(count), Self.transient)
                    } else {
                        sqlite3_bind_null(insert, 4)
                    }
                    sqlite3_bind_text(insert, 5, valueBytes.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(valueBytes.count), nil)
                    try step(insert, db)
                    offset += 1
                }
                try step(commit, db)
                transactions += 1
            }
        }
        let seconds = Double(WallClock.monotonicNs() - start) / 1e9
        return Result(
            transactionRows: transactionRows, rows: Int(offset), seconds: seconds, rowsPerSecond: Double(offset) / seconds,
            transactionsPerSecond: Double(transactions) / seconds)
    }

    private static let transient = unsafeBitCast(Int(-1), to: sqlite3_destructor_type.self)

    /// `k<n>` into `buffer`; returns its length.
    private static func renderKey(_ number: Int, into buffer: inout [UInt8]) -> Int {
        let digits = Array(String(number).utf8)
        buffer[0] = UInt8(ascii: "k")
        for (index, digit) in digits.enumerated() { buffer[index + 1] = digit }
        return digits.count + 1
    }

    private func step(_ statement: OpaquePointer?, _ db: OpaquePointer) throws {
        let rc = sqlite3_step(statement)
        sqlite3_reset(statement)
        guard rc == SQLITE_DONE || rc == SQLITE_ROW else {
            throw Failure(description: "step: \(String(cString: sqlite3_errmsg(db)))")
        }
    }

    private func scalar(_ db: OpaquePointer, _ sql: String) throws -> String {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw Failure(description: "\(sql): \(String(cString: sqlite3_errmsg(db)))")
        }
        defer { sqlite3_finalize(statement) }
        guard sqlite3_step(statement) == SQLITE_ROW, let text = sqlite3_column_text(statement, 0) else { return "" }
        return String(cString: text)
    }

    private func exec(_ db: OpaquePointer, _ sql: String) throws {
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else {
            throw Failure(description: "\(sql): \(String(cString: sqlite3_errmsg(db)))")
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
