import Raft

extension RaftLogStore {
    /// Opens (creating if needed) the partition database at `path` with its own writer connection
    /// (WAL, synchronous=FULL, migrated to the partition schema) and the store over it: what a
    /// replica driver that owns its partition file uses. The caller closes `connection` when done.
    ///
    /// `busyWaitMs` 0 (a broker's partitions): writes never sleep on another connection's lock,
    /// neither in SQLite's busy handler nor in the store's; they throw `.busy` at once.
    public static func openPartition(path: String, voters: [NodeID], busyWaitMs: Int32 = 10_000) throws(StorageError) -> RaftLogStore {
        let connection = try ConnectionFactory.openWriter(path: path, migrations: .partition)
        do {
            if busyWaitMs == 0 { try connection.setPragma("busy_timeout", "0") }
            let store = try RaftLogStore(connection: connection, voters: voters)
            store.busyWaitMs = busyWaitMs
            return store
        } catch {
            connection.close()
            throw error
        }
    }

    /// Creates (or migrates) the partition database at `path` and closes it: a new topic's
    /// files, made before they are renamed into place.
    public static func createPartitionFile(path: String) throws(StorageError) {
        let connection = try ConnectionFactory.openWriter(path: path, migrations: .partition)
        try? connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.close()
    }

    /// The partition database's writer connection alone (WAL, synchronous=FULL, migrated), with
    /// no busy wait: what the recovery after a failed write reopens, checks and cleans before it
    /// builds a store over it.
    public static func openPartitionConnection(path: String) throws(StorageError) -> SQLiteConnection {
        let connection = try ConnectionFactory.openWriter(path: path, migrations: .partition)
        do {
            try connection.setPragma("busy_timeout", "0")
        } catch {
            connection.close()
            throw error
        }
        return connection
    }

    /// The metadata group's store in the broker database at `path` (WAL, synchronous=FULL,
    /// migrated to the broker schema, which holds `raft_log` and `raft_state` but no records),
    /// over a writer connection of its own beside `MetadataStore`'s. The caller closes `connection`.
    public static func openMetadata(path: String, voters: [NodeID]) throws(StorageError) -> RaftLogStore {
        let connection = try ConnectionFactory.openWriter(path: path, migrations: .broker)
        do {
            return try RaftLogStore(connection: connection, voters: voters)
        } catch {
            connection.close()
            throw error
        }
    }
}
