import Logging
import SpoolStorage

extension Spoold {
    /// TEST-ONLY: honours SPOOL_TEST_VFS / SPOOL_TEST_SYNC (docs/testing.md) before any database
    /// opens, and says so loudly. Without them this does nothing and the broker runs as always.
    func installTestStorageMode(logger: Logger) throws {
        let mode: StorageTestMode?
        do {
            mode = try StorageTestMode.fromProcessEnvironment()
            if let mode { try StorageTestMode.install(mode) }
        } catch {
            throw Failure("spoold: \(error)")
        }
        if let mode { logger.critical("\(mode.warning)") }
    }
}
