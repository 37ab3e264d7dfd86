import NIOConcurrencyHelpers
import SpoolStorage

/// Read-only connections to one partition database, checked out by one storage thread at a time.
///
/// Readers are opened on demand (only storage threads read, so at most one per storage thread is
/// in use) and up to `idleLimit` are kept open for reuse.
final class ReaderPool: Sendable {
    private struct State {
        var idle: [PartitionReader] = []
        var closed = false
    }

    private let path: String
    private let idleLimit: Int
    private let state = NIOLockedValueBox(State())

    /// Readers kept open per partition. Each costs two file descriptors (FileHandleBudget), and
    /// a partition rarely has more reads at once than this.
    static let idleReaders = 2

    init(path: String, idleLimit: Int = ReaderPool.idleReaders) {
        self.path = path
        self.idleLimit = idleLimit
    }

    /// Runs `body` with a reader that no other thread uses meanwhile. Call on a storage thread.
    func withReader<R>(_ body: (PartitionReader) throws -> R) throws -> R {
        let reader = try state.withLockedValue { $0.idle.popLast() } ?? PartitionReader(path: path)
        defer {
            state.withLockedValue { state in
                if !state.closed && state.idle.count < idleLimit { state.idle.append(reader) }
            }
        }
        return try body(reader)
    }

    /// Closes the idle readers and keeps taking readers back: a writer that reopens its file
    /// after a failed write then finds no other connection of this process holding the file's
    /// WAL index, so SQLite rebuilds it from the WAL on disk (a reader in use still holds it).
    func closeIdle() {
        state.withLockedValue { $0.idle.removeAll() }
    }

    /// Closes the idle readers and keeps no more (a reader in use closes when its read returns).
    func close() {
        state.withLockedValue { state in
            state.closed = true
            state.idle.removeAll()
        }
    }
}
