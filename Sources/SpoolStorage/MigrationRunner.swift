import SpoolCore

/// Brings a database to the newest schema: applies each missing migration once, in order, each
/// in its own transaction, and refuses a database written by a newer binary (as GRDB's
/// DatabaseMigrator does). `PRAGMA user_version` holds the applied version; the
/// `spool_migrations` table records when each step ran, for people.
enum MigrationRunner {
    /// Returns the version the database had before (0: a new file).
    @discardableResult
    static func migrate(_ connection: SQLiteConnection, _ set: MigrationSet) throws(StorageError) -> Int {
        precondition(
            zip(set.migrations, set.migrations.dropFirst()).allSatisfy { $0.version < $1.version },
            "migrations of \(set.name) must have increasing versions")
        let current = Int(try connection.scalarInt("PRAGMA user_version") ?? 0)
        guard current <= set.latestVersion else {
            throw StorageError(
                code: -1,
                message: "\(connection.path) has \(set.name) schema version \(current), newer than this binary's \(set.latestVersion); refusing to open it")
        }
        for migration in set.migrations where migration.version > current {
            try connection.execute("BEGIN IMMEDIATE")
            do {
                try connection.execute(
                    """
                    CREATE TABLE IF NOT EXISTS spool_migrations (
                        version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms INTEGER NOT NULL) STRICT;
                    """)
                try connection.execute(migration.sql)
                let record = try connection.prepare("INSERT INTO spool_migrations (version, name, applied_ms) VALUES (?, ?, ?)")
                try record.bind(1, Int64(migration.version))
                try record.bindText(2, migration.name)
                try record.bind(3, WallClock.nowMs())
                try record.step()
                try connection.execute("PRAGMA user_version = \(migration.version)")
                try connection.execute("COMMIT")
            } catch {
                try? connection.execute("ROLLBACK")
                throw StorageError(code: error.code, message: "migration \(set.name)/\(migration.version)_\(migration.name): \(error.message)")
            }
        }
        return current
    }
}
