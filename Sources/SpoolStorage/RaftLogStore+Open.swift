import Raft

extension RaftLogStore {
    /// Opens (creating if needed) the partition database at `path` with its own writer connection
    /// (WAL, synchronous=FULL, migrated to the partition schema) and the store over it: what a
    /// replica driver that owns its partition file uses. The caller closes `connection` when done.
    public static func openPartition(path: String, voters: [NodeID]) throws(StorageError) -> RaftLogStore {
        let connection = try ConnectionFactory.openWriter(path: path, migrations: .partition)
        do {
            return try RaftLogStore(connection: connection, voters: voters)
        } catch {
            connection.close()
            throw error
        }
    }
}
