/// Opens connections with every pragma set explicitly and checked: durability must not depend on
/// SQLite's compile-time defaults or on a pragma that was silently refused.
public enum ConnectionFactory {
    /// The writer: WAL, synchronous=FULL (a COMMIT returns only after fsync), migrated to the
    /// newest schema of `set`.
    public static func openWriter(path: String, migrations set: MigrationSet) throws(StorageError) -> SQLiteConnection {
        try openWriterReportingVersion(path: path, migrations: set).connection
    }

    /// `openWriter`, also saying which schema version the file had before it was migrated (0: a
    /// new file), so a caller can tell a folder written by an older binary from a new one.
    public static func openWriterReportingVersion(
        path: String, migrations set: MigrationSet
    ) throws(StorageError) -> (connection: SQLiteConnection, previousVersion: Int) {
        let connection = try SQLiteConnection(path: path, mode: .readWrite)
        try connection.setPragma("journal_mode", "WAL")
        if StorageTestMode.installed?.synchronousOff == true {
            // TEST-ONLY (SPOOL_TEST_SYNC=off with SPOOL_TEST_VFS, docs/testing.md): no fsync at all.
            try connection.setPragma("synchronous", "OFF", expect: "0")
        } else {
            try connection.setPragma("synchronous", "FULL", expect: "2")
        }
        try connection.setPragma("busy_timeout", "5000")
        try connection.setPragma("temp_store", "MEMORY", expect: "2")
        // Checkpoint after ~4 MiB of WAL, and truncate a WAL that grew past 64 MiB once it resets,
        // so a burst does not leave a large file behind.
        try connection.setPragma("wal_autocheckpoint", "1000")
        try connection.setPragma("journal_size_limit", "67108864")
        let previous = try MigrationRunner.migrate(connection, set)
        return (connection, previous)
    }

    /// A reader: read-only, so it can never write; WAL lets it run beside the writer.
    public static func openReader(path: String) throws(StorageError) -> SQLiteConnection {
        let connection = try SQLiteConnection(path: path, mode: .readOnly)
        try connection.setPragma("busy_timeout", "5000")
        try connection.setPragma("query_only", "1")
        try connection.setPragma("temp_store", "MEMORY", expect: "2")
        let journal = try connection.scalarText("PRAGMA journal_mode")
        guard journal?.lowercased() == "wal" else {
            throw StorageError(code: -1, message: "\(path): expected journal_mode wal, found \(journal ?? "nothing")")
        }
        return connection
    }
}
