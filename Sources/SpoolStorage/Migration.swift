/// One numbered schema step from migrations/<set>/NNNN_name.sql, embedded at build time by the
/// MigrationEmbedder plugin (the .sql files are the only source of the schema).
public struct Migration: Sendable {
    public var version: Int
    public var name: String
    public var sql: String
}

/// The ordered migrations of one kind of database (`partition` or `broker`).
public struct MigrationSet: Sendable {
    public var name: String
    public var migrations: [Migration]

    /// The newest schema version this binary knows.
    public var latestVersion: Int { migrations.last?.version ?? 0 }
}

extension MigrationSet {
    /// The partition schema as it stood at `version`: tests write files as older brokers did.
    public static func partition(through version: Int) -> MigrationSet {
        MigrationSet(name: "partition", migrations: partition.migrations.filter { $0.version <= version })
    }
}
