/// Why a partition is out of service. Its word is what `DESCRIBE` and `TOPICS` show
/// (`offline=lost`, `offline=damaged`; docs/protocol.md).
public enum OfflineReason: String, Sendable, Equatable {
    /// broker.sqlite3 lists the partition but its file is missing or empty: the broker never
    /// recreates it as if new (its offsets and its groups' committed offsets would restart at 0).
    case lost
    /// The file is not a sound SQLite database (a corrupt header, a garbage page).
    case damaged
}
