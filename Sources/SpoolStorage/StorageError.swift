import CSQLite

/// A failure reported by SQLite or the file system, with SQLite's result code and message.
///
/// The engine answers these with `ERR STORAGE`; they are values, never crashes. `message` may
/// name files (it goes to the log); `summary` never does (it goes to clients).
public struct StorageError: Error, Sendable, CustomStringConvertible {
    /// SQLite's (extended) result code, or -1 for errors raised by Spool itself.
    public var code: Int32
    public var message: String

    public init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    /// A file found unsound by Spool's own checks (a failed `quick_check`, acknowledged records
    /// missing): reported as SQLite's SQLITE_CORRUPT, so `isDamaged` holds.
    public static func damaged(_ message: String) -> StorageError {
        StorageError(code: SQLITE_CORRUPT, message: message)
    }

    /// True when the disk (or a quota) is full: an operator problem, not a bug.
    public var isDiskFull: Bool { code & 0xff == SQLITE_FULL }

    /// True when another connection (an operator's `sqlite3` shell without `-readonly`, say)
    /// holds the lock this call needed: a reason to retry later, not a broken file.
    public var isBusy: Bool { code & 0xff == SQLITE_BUSY || code & 0xff == SQLITE_LOCKED }

    /// True when the file is not a sound SQLite database (a garbage page, a corrupt header):
    /// writing or reading more of it cannot help, so the partition is taken out of service.
    public var isDamaged: Bool { code & 0xff == SQLITE_CORRUPT || code & 0xff == SQLITE_NOTADB }

    /// What went wrong without any file path, for clients: SQLite's text for the result code
    /// ("database disk image is malformed"), or, for Spool's own errors, the message when it
    /// names no file.
    public var summary: String {
        if code != -1 { return String(cString: sqlite3_errstr(code)) }
        return message.contains("/") ? "a file operation failed (the broker's log names the file)" : message
    }

    public var description: String { code == -1 ? message : "sqlite error \(code): \(message)" }
}
