import SpoolCore

/// A topic as the broker's metadata database records it.
public struct TopicRecord: Sendable, Equatable {
    public var name: String
    public var partitions: Int
    public var replication: Int
    public var createdMs: Int64

    public init(name: String, partitions: Int, replication: Int = 1, createdMs: Int64) {
        self.name = name
        self.partitions = partitions
        self.replication = replication
        self.createdMs = createdMs
    }
}

/// The broker's own database, `<data-dir>/broker.sqlite3`: the list of topics. One serial owner
/// (the engine's metadata lock).
public final class MetadataStore: @unchecked Sendable {
    private let connection: SQLiteConnection
    /// The schema version broker.sqlite3 had before this open migrated it (0: the file is new).
    public let schemaVersionAtOpen: Int

    public init(path: String) throws(StorageError) {
        (connection, schemaVersionAtOpen) = try ConnectionFactory.openWriterReportingVersion(path: path, migrations: .broker)
    }

    /// The cluster this folder belongs to, or nil before its first start with a binary that
    /// records one.
    public func cluster() throws(StorageError) -> ClusterRecord? {
        let statement = try connection.prepare("SELECT cluster_id, node_id, peers, created_ms FROM cluster WHERE id = 1")
        guard try statement.step() else { return nil }
        return ClusterRecord(
            clusterID: statement.columnText(0) ?? "", nodeID: UInt64(statement.columnInt64(1)), peers: statement.columnText(2) ?? "",
            createdMs: statement.columnInt64(3))
    }

    /// Records the folder's cluster (once: a second call fails on the primary key).
    public func recordCluster(_ record: ClusterRecord) throws(StorageError) {
        let statement = try connection.prepare("INSERT INTO cluster (id, cluster_id, node_id, peers, created_ms) VALUES (1, ?, ?, ?, ?)")
        try statement.bindText(1, record.clusterID)
        try statement.bind(2, Int64(record.nodeID))
        try statement.bindText(3, record.peers)
        try statement.bind(4, record.createdMs)
        try statement.step()
    }

    public func topics() throws(StorageError) -> [TopicRecord] {
        let statement = try connection.prepare("SELECT name, partitions, replication, created_ms FROM topics ORDER BY name")
        var result: [TopicRecord] = []
        while try statement.step() {
            result.append(
                TopicRecord(
                    name: statement.columnText(0) ?? "", partitions: Int(statement.columnInt64(1)),
                    replication: Int(statement.columnInt64(2)), createdMs: statement.columnInt64(3)))
        }
        return result
    }

    public func insert(_ topic: TopicRecord) throws(StorageError) {
        let statement = try connection.prepare("INSERT INTO topics (name, partitions, replication, created_ms) VALUES (?, ?, ?, ?)")
        try statement.bindText(1, topic.name)
        try statement.bind(2, Int64(topic.partitions))
        try statement.bind(3, Int64(topic.replication))
        try statement.bind(4, topic.createdMs)
        try statement.step()
    }

    public func delete(topic name: String) throws(StorageError) {
        let statement = try connection.prepare("DELETE FROM topics WHERE name = ?")
        try statement.bindText(1, name)
        try statement.step()
    }

    public func checkpoint() throws(StorageError) {
        try connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    }
}
