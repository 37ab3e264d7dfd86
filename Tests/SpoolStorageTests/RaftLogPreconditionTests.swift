import Foundation
import Raft
import SpoolCore
import Testing

@testable import SpoolStorage

/// The bugs RaftLogStore refuses to write stop the process (`precondition`): each runs in an exit
/// test (a child process). The child's database lives under a folder named after this process,
/// removed here afterwards, since a stopped child cannot clean up.
@Suite("Raft log preconditions (exit tests)", .timeLimit(.minutes(1)))
struct RaftLogPreconditionTests {
    /// What the child writes into (exit-test bodies capture nothing, so they call this): `<tmp>/spool-exit-<parent pid>/<uuid>/0.sqlite3`.
    static func childStore() throws -> RaftLogStore {
        let folder = NSTemporaryDirectory() + "spool-exit-\(getppid())/" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let connection = try ConnectionFactory.openWriter(path: folder + "/0.sqlite3", migrations: .partition)
        return try RaftLogStore(connection: connection, voters: [1])
    }

    static func removeChildFolders() {
        try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + "spool-exit-\(getpid())")
    }

    @Test func aGapInOffsetsStopsTheProcess() async {
        defer { Self.removeChildFolders() }
        await #expect(processExitsWith: .failure) {
            let store = try RaftLogPreconditionTests.childStore()
            try store.append([batchEntry(1, term: 1, first: 0, count: 2)])
            try store.append([batchEntry(2, term: 1, first: 3, count: 1)])  // offset 2 skipped
        }
    }

    @Test func aRecordEntryThatIsNotABatchStopsTheProcess() async {
        defer { Self.removeChildFolders() }
        await #expect(processExitsWith: .failure) {
            let store = try RaftLogPreconditionTests.childStore()
            try store.append([Entry(index: 1, term: 1, kind: .record, payload: [1, 2, 3])])
        }
    }

    @Test func theSameWritesWithoutTheBugSucceedInAChildToo() async {
        defer { Self.removeChildFolders() }
        await #expect(processExitsWith: .success) {
            let store = try RaftLogPreconditionTests.childStore()
            try store.append([batchEntry(1, term: 1, first: 0, count: 2)])
            try store.append([batchEntry(2, term: 1, first: 2, count: 1)])
        }
    }
}
