import CSQLite

/// One SQLite connection. Not thread-safe: it has exactly one serial owner at a time (the
/// partition's flush loop, or one reader checked out of a pool). `@unchecked Sendable` only so
/// that owner can hand it to a storage thread; the owners enforce the serial use.
public final class SQLiteConnection: @unchecked Sendable {
    private var openHandle: OpaquePointer?
    public let path: String

    /// The open connection. Using a closed connection is a bug in its owner.
    var handle: OpaquePointer {
        guard let openHandle else { preconditionFailure("\(path): connection used after close") }
        return openHandle
    }

    public enum Mode: Sendable {
        case readWrite
        case readOnly
    }

    /// Process-wide SQLite settings, applied once before the first connection opens: no memory
    /// statistics (they lock a global mutex around every allocation: ≈ 10 % of the raw insert
    /// rate on the development machine).
    private static let processSettings: Void = {
        _ = spool_sqlite_disable_memstatus()
    }()

    static func applyProcessSettings() { _ = processSettings }

    /// Opens `path` on the VFS named `vfs`; the default (nil) is SQLite's own unless a test mode
    /// is installed (`StorageTestMode`, docs/testing.md).
    public convenience init(path: String, mode: Mode) throws(StorageError) {
        try self.init(path: path, mode: mode, vfs: StorageTestMode.vfsName)
    }

    init(path: String, mode: Mode, vfs: String?) throws(StorageError) {
        Self.applyProcessSettings()
        var db: OpaquePointer?
        // NOMUTEX: our owners serialize access, so SQLite's own mutexes would be pure cost.
        let flags: Int32 =
            switch mode {
            case .readWrite: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
            case .readOnly: SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX
            }
        let rc = sqlite3_open_v2(path, &db, flags, vfs)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            if let db { sqlite3_close_v2(db) }
            throw StorageError(code: rc, message: "\(path): \(message)")
        }
        self.openHandle = db
        self.path = path
        sqlite3_extended_result_codes(db, 1)
        if mode == .readOnly {
            spool_sqlite_no_checkpoint_on_close(db)
        }
    }

    deinit {
        if let openHandle { sqlite3_close_v2(openHandle) }
    }

    /// Closes now. Statements still alive keep the file open until they are released
    /// (sqlite3_close_v2), so owners release their statements first.
    public func close() {
        if let openHandle { sqlite3_close_v2(openHandle) }
        openHandle = nil
    }

    /// Closes without checkpointing the WAL (a connection whose write failed: its state is
    /// unknown, and the next open replays the WAL and drops what was never committed).
    public func abandon() {
        guard let openHandle else { return }
        spool_sqlite_no_checkpoint_on_close(openHandle)
        close()
    }

    /// Runs one or more statements that return no rows.
    public func execute(_ sql: String) throws(StorageError) {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
        if rc != SQLITE_OK {
            let message = errorMessage.map { String(cString: $0) } ?? lastErrorMessage
            sqlite3_free(errorMessage)
            throw StorageError(code: rc, message: message)
        }
    }

    public func prepare(_ sql: String) throws(StorageError) -> SQLiteStatement {
        try SQLiteStatement(connection: self, sql: sql)
    }

    /// The first column of the first row of `sql`, as text (nil when there is no row or NULL).
    public func scalarText(_ sql: String) throws(StorageError) -> String? {
        let statement = try prepare(sql)
        guard try statement.step() else { return nil }
        return statement.columnText(0)
    }

    /// The first column of the first row of `sql`, as an integer (nil when no row or NULL).
    public func scalarInt(_ sql: String) throws(StorageError) -> Int64? {
        let statement = try prepare(sql)
        guard try statement.step(), !statement.columnIsNull(0) else { return nil }
        return statement.columnInt64(0)
    }

    /// Sets a pragma and asserts that SQLite took it: some pragmas are silently ignored (a
    /// journal mode a file system cannot do, a value out of range), and durability depends on them.
    public func setPragma(_ name: String, _ value: String, expect: String? = nil) throws(StorageError) {
        var got = try scalarText("PRAGMA \(name) = \(value)")
        if got == nil { got = try scalarText("PRAGMA \(name)") }
        let wanted = (expect ?? value).lowercased()
        guard let got, got.lowercased() == wanted else {
            throw StorageError(code: -1, message: "PRAGMA \(name) = \(value) did not take effect (got \(got ?? "nothing"))")
        }
    }

    /// `PRAGMA integrity_check`: "ok" when the file is sound, else SQLite's list of problems.
    public func integrityCheck() throws(StorageError) -> String {
        let statement = try prepare("PRAGMA integrity_check")
        var lines: [String] = []
        while try statement.step() {
            lines.append(statement.columnText(0) ?? "")
        }
        return lines.joined(separator: "\n")
    }

    var lastErrorMessage: String { String(cString: sqlite3_errmsg(handle)) }

    func error(_ rc: Int32, _ context: String) -> StorageError {
        StorageError(code: rc, message: "\(context): \(lastErrorMessage)")
    }
}
