import SpoolStorage

/// Reads the documented views of a partition database the way an operator's sqlite3 would.
struct SQLiteView {
    let connection: SQLiteConnection

    init(path: String) throws {
        connection = try SQLiteConnection(path: path, mode: .readOnly)
    }

    func lag(group: String) throws -> Int64? {
        let statement = try connection.prepare("SELECT lag_records FROM consumer_lag WHERE group_name = ?")
        try statement.bindText(1, group)
        guard try statement.step() else { return nil }
        return statement.columnInt64(0)
    }
}
