import CSpoolTestVFS
import Foundation
import Raft
import Testing

@testable import SpoolStorage

extension PowerLossVFSTests {
    /// A real failed fsync (or write) inside a Raft write, on the power-loss VFS's injected faults:
    /// `RaftLogStore` throws `writeFailed` instead of stopping the process, keeps what the last
    /// good write left, refuses every later write even once the disk heals, and after a power cut
    /// the file is sound and holds exactly what committed before the fault. (In this suite: the
    /// VFS's fault switch and power cut are process-wide.)
    @Test(arguments: ["sync", "write"])
    func aFailedRaftWriteThrowsRefusesLaterWritesAndLeavesWhatCommitted(_ op: String) throws {
        let scratch = try Scratch()
        let control = scratch.folder + "/fail"
        spool_powerloss_set_fault_file(control)
        defer { spool_powerloss_set_fault_file(nil) }
        let connection = try scratch.open()
        _ = try MigrationRunner.migrate(connection, .partition)
        var store: RaftLogStore? = try RaftLogStore(connection: connection, voters: [1])
        try store!.persist(
            snapshot: nil, entries: [batchEntry(1, term: 1, first: 0, count: 3)], hardState: HardState(term: 1, vote: 1, commit: 1))

        try "\(op) /db.sqlite3\n".write(toFile: control, atomically: true, encoding: .utf8)
        let failed = #expect(throws: RaftStorageError.self) {
            try store!.persist(
                snapshot: nil, entries: [batchEntry(2, term: 1, first: 3, count: 2)], hardState: HardState(term: 1, vote: 1, commit: 2))
        }
        guard case .writeFailed(let description)? = failed else {
            Issue.record("\(op): \(String(describing: failed))")
            return
        }
        #expect(description.contains("db.sqlite3"), "\(description)")
        #expect(store!.lastIndex() == 1 && store!.hardState() == HardState(term: 1, vote: 1, commit: 1), "the cache keeps the last good write")
        #expect(store!.writeFailure != nil)

        try FileManager.default.removeItem(atPath: control)
        let refused = #expect(throws: RaftStorageError.self) { try store!.setHardState(HardState(term: 2, vote: 1, commit: 1)) }
        if case .writeFailed(let again)? = refused { #expect(again.contains("refused after an earlier failure")) }

        store = nil  // its statements first, so the connection really closes
        scratch.crash([connection])
        let after = try scratch.afterCrash()
        #expect(try after.integrityCheck() == "ok")
        #expect(try after.scalarInt("SELECT count(*) FROM records") == 3)
        #expect(try after.scalarInt("SELECT count(*) FROM raft_log") == 1)
        #expect(try after.scalarInt("SELECT commit_index FROM raft_state") == 1)
        #expect(try after.scalarInt("SELECT term FROM raft_state") == 1)
        after.close()
    }
}
