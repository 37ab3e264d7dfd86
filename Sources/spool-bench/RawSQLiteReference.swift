import SpoolCore

/// The raw SQLite limit on this machine: the rows the broker stores (offset, term, timestamp,
/// key, value), inserted through one reused prepared statement into a WAL database with
/// synchronous=FULL, in transactions of a fixed size. No network, no parsing, no threads: what
/// the disk and SQLite allow, against which the broker's figures are reported as ratios.
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

    var directory: String
    var valueBytes: Int
    var keys: Int
    /// Each size runs until this many seconds have passed or `maxRows` rows are in.
    var secondsPerSize: Double
    var maxRows: Int

    func run(transactionRows: Int) throws -> Result {
        let table = try RawSQLiteTable(path: "\(directory)/raw-sqlite-\(transactionRows).sqlite3", valueBytes: valueBytes, keys: keys)
        var transactions = 0
        let start = WallClock.monotonicNs()
        let deadline = start + UInt64(secondsPerSize * 1e9)
        while Int(table.nextOffset) < maxRows && (transactions == 0 || WallClock.monotonicNs() < deadline) {
            try table.appendTransaction(rows: transactionRows)
            transactions += 1
        }
        let seconds = Double(WallClock.monotonicNs() - start) / 1e9
        let rows = Int(table.nextOffset)
        return Result(
            transactionRows: transactionRows, rows: rows, seconds: seconds, rowsPerSecond: Double(rows) / seconds,
            transactionsPerSecond: Double(transactions) / seconds)
    }
}
