import CSQLite

/// A prepared statement. Hot paths prepare once and reuse it: bind, step, reset.
public final class SQLiteStatement: @unchecked Sendable {
    let handle: OpaquePointer
    unowned let connection: SQLiteConnection

    init(connection: SQLiteConnection, sql: String) throws(StorageError) {
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v3(connection.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard rc == SQLITE_OK, let statement else {
            throw connection.error(rc, "prepare \(sql)")
        }
        self.handle = statement
        self.connection = connection
    }

    deinit {
        sqlite3_finalize(handle)
    }

    /// Steps once: true when a row is ready, false when done.
    @discardableResult
    public func step() throws(StorageError) -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw connection.error(rc, "step")
        }
    }

    /// Resets for the next use and drops the bindings (so no borrowed pointer outlives its call).
    public func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    // MARK: Binding (1-based indexes, as SQLite counts them)

    public func bind(_ index: Int32, _ value: Int64) throws(StorageError) {
        try check(sqlite3_bind_int64(handle, index, value), "bind")
    }

    public func bindNull(_ index: Int32) throws(StorageError) {
        try check(sqlite3_bind_null(handle, index), "bind")
    }

    /// Binds borrowed bytes without copying (SQLITE_STATIC): the caller keeps them alive and
    /// unchanged until the statement is stepped and reset. Valid UTF-8 goes in as TEXT, the rest
    /// as BLOB, so people at the sqlite3 prompt can compare and read text naturally.
    public func bindBytes(_ index: Int32, _ bytes: UnsafeRawBufferPointer, asText: Bool) throws(StorageError) {
        // An empty buffer may have a nil base address; SQLite reads a nil blob as NULL, so give
        // it a valid pointer to zero bytes instead.
        let base = bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
        let rc: Int32
        if asText {
            rc = sqlite3_bind_text(handle, index, base.assumingMemoryBound(to: CChar.self), Int32(bytes.count), nil)
        } else {
            rc = sqlite3_bind_blob(handle, index, base, Int32(bytes.count), nil)
        }
        try check(rc, "bind")
    }

    /// Binds a copy of `bytes` as a BLOB (SQLITE_TRANSIENT), so nothing borrowed outlives this
    /// call: for small payloads bound long before the step. Zero bytes bind an empty BLOB, not NULL.
    public func bindBlobCopy(_ index: Int32, _ bytes: [UInt8]) throws(StorageError) {
        let transient = unsafeBitCast(Int(-1), to: sqlite3_destructor_type.self)
        let rc = bytes.withUnsafeBytes { raw in
            sqlite3_bind_blob(handle, index, raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, Int32(raw.count), transient)
        }
        try check(rc, "bind")
    }

    public func bindText(_ index: Int32, _ text: String) throws(StorageError) {
        // SQLITE_TRANSIENT (-1): SQLite copies the string, which is only borrowed for this call.
        let transient = unsafeBitCast(Int(-1), to: sqlite3_destructor_type.self)
        try check(sqlite3_bind_text(handle, index, text, -1, transient), "bind")
    }

    // MARK: Columns (0-based)

    public func columnInt64(_ index: Int32) -> Int64 { sqlite3_column_int64(handle, index) }

    public func columnIsNull(_ index: Int32) -> Bool { sqlite3_column_type(handle, index) == SQLITE_NULL }

    public func columnText(_ index: Int32) -> String? {
        guard let text = sqlite3_column_text(handle, index) else { return nil }
        return String(cString: text)
    }

    /// The column's bytes, borrowed until the next step/reset. TEXT and BLOB alike, no conversion.
    public func columnBytes(_ index: Int32) -> UnsafeRawBufferPointer {
        // sqlite3_column_blob before sqlite3_column_bytes, as SQLite's docs require.
        let pointer = sqlite3_column_blob(handle, index)
        let count = Int(sqlite3_column_bytes(handle, index))
        guard let pointer, count > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: pointer, count: count)
    }

    private func check(_ rc: Int32, _ context: String) throws(StorageError) {
        if rc != SQLITE_OK { throw connection.error(rc, context) }
    }
}
