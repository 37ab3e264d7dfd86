import CSQLite

/// A failure reported by SQLite or the file system, with SQLite's result code and message.
///
/// The engine answers these with `ERR STORAGE`; they are values, never crashes.
public struct StorageError: Error, Sendable, CustomStringConvertible {
    /// SQLite's (extended) result code, or -1 for errors raised by Spool itself.
    public var code: Int32
    public var message: String

    public init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    /// True when the disk (or a quota) is full: an operator problem, not a bug.
    public var isDiskFull: Bool { code & 0xff == SQLITE_FULL }

    public var description: String { code == -1 ? message : "sqlite error \(code): \(message)" }
}
