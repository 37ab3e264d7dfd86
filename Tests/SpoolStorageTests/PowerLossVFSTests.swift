import CSpoolTestVFS
import Foundation
import Testing

@testable import SpoolStorage

/// The power-loss VFS (docs/testing.md) keeps what a power cut keeps: synced writes, and nothing
/// else. Serialized: a simulated crash is process-wide, like a real one.
@Suite("Power-loss VFS", .serialized, .timeLimit(.minutes(1)))
struct PowerLossVFSTests {
    /// A folder with one database path in it, removed when the test ends.
    final class Scratch {
        let folder: String
        var path: String { folder + "/db.sqlite3" }

        init() throws {
            try StorageTestMode.registerPowerLossVFS()
            folder = NSTemporaryDirectory() + "spool-vfs-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }

        deinit {
            // A test that failed half-way must not leave the VFS dead for the next one.
            spool_powerloss_restart()
            try? FileManager.default.removeItem(atPath: folder)
        }

        /// A connection on the power-loss VFS, in WAL mode like the broker's.
        func open(synchronous: String = "FULL") throws -> SQLiteConnection {
            let connection = try SQLiteConnection(path: path, mode: .readWrite, vfs: SPOOL_POWERLOSS_VFS_NAME)
            try connection.setPragma("journal_mode", "WAL")
            try connection.execute("PRAGMA synchronous = \(synchronous)")
            return connection
        }

        /// The simulated power cut: unsynced writes vanish, the connections die with the machine.
        func crash(_ connections: [SQLiteConnection]) {
            spool_powerloss_crash()
            for connection in connections { connection.close() }
            spool_powerloss_restart()
        }

        /// The file as the disk has it after the crash, through SQLite's default VFS.
        func afterCrash() throws -> SQLiteConnection {
            try SQLiteConnection(path: path, mode: .readWrite, vfs: nil)
        }

        func fileSize(_ suffix: String = "") -> Int {
            ((try? FileManager.default.attributesOfItem(atPath: path + suffix))?[.size] as? Int) ?? 0
        }
    }

    func count(_ connection: SQLiteConnection) throws -> Int64 {
        try connection.scalarInt("SELECT count(*) FROM t") ?? -1
    }

    @Test func aWriteNotFollowedByASyncIsGoneAfterACrash() throws {
        let scratch = try Scratch()
        let writer = try scratch.open()
        try writer.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, v TEXT)")
        let synced = spool_powerloss_unsynced_bytes()
        #expect(synced == 0, "a synchronous=FULL commit leaves nothing in memory")
        try writer.execute("PRAGMA synchronous = OFF")
        for n in 0..<50 { try writer.execute("INSERT INTO t (v) VALUES ('row \(n)')") }
        #expect(try count(writer) == 50, "the writer reads its own unsynced writes")
        let reader = try SQLiteConnection(path: scratch.path, mode: .readOnly, vfs: SPOOL_POWERLOSS_VFS_NAME)
        #expect(try count(reader) == 50, "another connection sees them too (one page cache)")
        #expect(spool_powerloss_unsynced_bytes() > 0)
        let walOnDisk = scratch.fileSize("-wal")

        scratch.crash([reader, writer])

        #expect(scratch.fileSize("-wal") == walOnDisk, "closing dead connections wrote nothing")
        let after = try scratch.afterCrash()
        #expect(try count(after) == 0, "the table survived (it was synced), its unsynced rows did not")
        #expect(try after.integrityCheck() == "ok")
        after.close()
    }

    @Test func aSyncedWriteStays() throws {
        let scratch = try Scratch()
        let writer = try scratch.open()
        try writer.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, v TEXT)")
        for n in 0..<50 { try writer.execute("INSERT INTO t (v) VALUES ('row \(n)')") }
        #expect(spool_powerloss_unsynced_bytes() == 0)

        scratch.crash([writer])

        let after = try scratch.afterCrash()
        #expect(try count(after) == 50)
        #expect(try after.integrityCheck() == "ok")
        after.close()
    }

    /// N commits synced (synchronous=FULL syncs the WAL on each), then more written unsynced: the
    /// recovered WAL holds exactly the first N commits' frames, byte for byte what was synced.
    @Test func aWALSyncedUpToFrameNRecoversToExactlyFrameN() throws {
        let scratch = try Scratch()
        let writer = try scratch.open()
        try writer.execute("PRAGMA wal_autocheckpoint = 0")  // keep every frame in the WAL
        try writer.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, v TEXT)")
        for n in 0..<20 { try writer.execute("INSERT INTO t (v) VALUES ('synced \(n)')") }
        let pageSize = Int(try writer.scalarInt("PRAGMA page_size") ?? 0)
        let syncedWAL = try Data(contentsOf: URL(fileURLWithPath: scratch.path + "-wal"))
        let syncedFrames = (syncedWAL.count - 32) / (24 + pageSize)
        #expect(syncedFrames >= 21)
        try writer.execute("PRAGMA synchronous = OFF")
        for n in 0..<20 { try writer.execute("INSERT INTO t (v) VALUES ('unsynced \(n)')") }
        #expect(try count(writer) == 40)

        scratch.crash([writer])

        #expect(try Data(contentsOf: URL(fileURLWithPath: scratch.path + "-wal")) == syncedWAL)
        let after = try scratch.afterCrash()
        // wal_checkpoint's second column is the number of frames in the (recovered) WAL.
        let walFrames = try after.prepare("PRAGMA wal_checkpoint(PASSIVE)")
        #expect(try walFrames.step())
        #expect(walFrames.columnInt64(1) == Int64(syncedFrames))
        #expect(try count(after) == 20)
        #expect(try after.scalarText("SELECT v FROM t ORDER BY n DESC LIMIT 1") == "synced 19")
        #expect(try after.integrityCheck() == "ok")
        after.close()
    }

    /// A checkpoint that shrinks the database without syncing it (synchronous=OFF) must leave
    /// the disk as it was: the truncate is held like a write.
    @Test func aTruncateNotFollowedByASyncIsUndoneByACrash() throws {
        for synchronous in ["OFF", "FULL"] {
            let scratch = try Scratch()
            let writer = try scratch.open()
            try writer.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, v TEXT)")
            try writer.execute("INSERT INTO t (v) WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 400) SELECT printf('%.500d', x) FROM c")
            try writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            let fullSize = scratch.fileSize()
            #expect(fullSize > 100_000)
            try writer.execute("PRAGMA synchronous = \(synchronous)")
            try writer.execute("DELETE FROM t")
            try writer.execute("VACUUM")
            try writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")

            scratch.crash([writer])

            let after = try scratch.afterCrash()
            if synchronous == "OFF" {
                #expect(scratch.fileSize() == fullSize, "the unsynced truncate did not reach the disk")
                #expect(try count(after) == 400)
            } else {
                #expect(scratch.fileSize() < fullSize, "the synced truncate did")
                #expect(try count(after) == 0)
            }
            #expect(try after.integrityCheck() == "ok", "synchronous=\(synchronous)")
            after.close()
        }
    }

    /// Torn writes: a crash also writes a seeded prefix of whole sectors of each file's last
    /// unsynced write. SQLite's WAL checksums must reject the torn frames, for every seed.
    @Test func aTornLastWriteLosesOnlyUnsyncedCommits() throws {
        defer { spool_powerloss_set_torn_write_seed(0) }
        var torn = 0
        for seed in UInt64(1)...12 {
            let scratch = try Scratch()
            spool_powerloss_set_torn_write_seed(seed)
            let writer = try scratch.open()
            try writer.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, v TEXT)")
            for n in 0..<10 { try writer.execute("INSERT INTO t (v) VALUES (printf('%.3000d', \(n)))") }
            try writer.execute("PRAGMA synchronous = OFF")
            for n in 0..<5 { try writer.execute("INSERT INTO t (v) VALUES (printf('%.3000d', \(n + 100)))") }
            let syncedWAL = scratch.fileSize("-wal")

            scratch.crash([writer])

            if scratch.fileSize("-wal") > syncedWAL { torn += 1 }

            let after = try scratch.afterCrash()
            #expect(try count(after) == 10, "seed \(seed)")
            #expect(try after.integrityCheck() == "ok", "seed \(seed)")
            after.close()
        }
        #expect(torn > 0, "some seeds tore a write onto the disk")
    }

    @Test func theTestModeIsReadFromFixedWordsOnly() throws {
        #expect(try StorageTestMode.from(environment: [:]) == nil)
        #expect(try StorageTestMode.from(environment: ["SPOOL_TEST_VFS": "powerloss"]) == StorageTestMode(vfs: .powerloss))
        #expect(
            try StorageTestMode.from(environment: ["SPOOL_TEST_VFS": "unix", "SPOOL_TEST_SYNC": "off"])
                == StorageTestMode(vfs: .unix, synchronousOff: true))
        for refused in [["SPOOL_TEST_SYNC": "off"], ["SPOOL_TEST_VFS": "PowerLoss"], ["SPOOL_TEST_VFS": "powerloss", "SPOOL_TEST_SYNC": "0"]] {
            #expect(throws: StorageError.self, "\(refused)") { try StorageTestMode.from(environment: refused) }
        }
        #expect(StorageTestMode(vfs: .powerloss, synchronousOff: true).warning.contains("NOT durable"))
        // Injected faults: the power-loss VFS's, with an absolute control path.
        #expect(
            try StorageTestMode.from(environment: ["SPOOL_TEST_VFS": "powerloss", "SPOOL_TEST_VFS_FAIL": "/tmp/fail"])
                == StorageTestMode(vfs: .powerloss, faultFile: "/tmp/fail"))
        for refused in [
            ["SPOOL_TEST_VFS_FAIL": "/tmp/fail"], ["SPOOL_TEST_VFS": "unix", "SPOOL_TEST_VFS_FAIL": "/tmp/fail"],
            ["SPOOL_TEST_VFS": "powerloss", "SPOOL_TEST_VFS_FAIL": "fail"],
        ] {
            #expect(throws: StorageError.self, "\(refused)") { try StorageTestMode.from(environment: refused) }
        }
        #expect(StorageTestMode(vfs: .powerloss, faultFile: "/tmp/fail").warning.contains("SPOOL_TEST_VFS_FAIL=/tmp/fail"))
    }

    /// The fault switch: while the control file exists, a COMMIT of a selected file fails
    /// (SQLITE_IOERR_FSYNC for `sync`, SQLITE_IOERR_WRITE for `write`), other files commit, and
    /// once it is gone the same connection commits again.
    @Test(arguments: [("sync", Int32(1034)), ("write", Int32(778))])
    func anInjectedFaultFailsCommitsOfTheSelectedFilesWhileItsFileExists(_ op: String, _ code: Int32) throws {
        let scratch = try Scratch()
        let control = scratch.folder + "/fail"
        spool_powerloss_set_fault_file(control)
        defer { spool_powerloss_set_fault_file(nil) }
        let writer = try scratch.open()
        try writer.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, v TEXT)")
        let other = try SQLiteConnection(path: scratch.folder + "/other.sqlite3", mode: .readWrite, vfs: SPOOL_POWERLOSS_VFS_NAME)
        try other.setPragma("journal_mode", "WAL")
        try other.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, v TEXT)")

        try "\(op) /db.sqlite3\n".write(toFile: control, atomically: true, encoding: .utf8)
        let failed = #expect(throws: StorageError.self) { try writer.execute("INSERT INTO t (v) VALUES ('a')") }
        #expect(failed?.code == code, "\(String(describing: failed))")
        try other.execute("INSERT INTO t (v) VALUES ('a')")  // not selected: it commits

        try FileManager.default.removeItem(atPath: control)
        try? writer.execute("ROLLBACK")
        try writer.execute("INSERT INTO t (v) VALUES ('b')")
        #expect(try writer.scalarText("SELECT group_concat(v) FROM t") == "b")
        #expect(try count(other) == 1)
        writer.close()
        other.close()
    }
}
