import CSpoolTestVFS
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// TEST-ONLY storage switches that spoold reads from its environment (docs/testing.md). A broker
/// started without `SPOOL_TEST_VFS` never builds one, and every connection then opens on SQLite's
/// default VFS with synchronous=FULL.
///
/// - `SPOOL_TEST_VFS=powerloss`: every database (partitions, broker metadata, readers) opens on
///   the power-loss VFS, which keeps each write in memory until that file's fsync, so a SIGKILL
///   loses what a power cut would.
/// - `SPOOL_TEST_VFS=unix`: SQLite's default VFS, named explicitly; it exists so that the next
///   switch can be tried without the power-loss VFS.
/// - `SPOOL_TEST_SYNC=off`: writers open with synchronous=OFF (no fsync at all), to prove the
///   power-loss tests see a missing fsync. Honoured only together with `SPOOL_TEST_VFS`; alone
///   it is refused, so no single stray variable can turn durability off.
/// - `SPOOL_TEST_VFS_FAIL=<absolute path of a control file>`: with `SPOOL_TEST_VFS=powerloss`
///   only, injected faults: while that file exists, the fsyncs (or writes) of the database files
///   it selects fail (`spool_powerloss_set_fault_file`), so a test can make one partition's disk
///   fail and heal from outside a running spoold.
public struct StorageTestMode: Sendable, Equatable {
    public enum VFS: String, Sendable {
        case unix
        case powerloss
    }

    public static let vfsVariable = "SPOOL_TEST_VFS"
    public static let syncVariable = "SPOOL_TEST_SYNC"
    public static let faultVariable = "SPOOL_TEST_VFS_FAIL"

    public var vfs: VFS
    public var synchronousOff: Bool
    /// The control file of injected faults (power-loss VFS only), or nil for none.
    public var faultFile: String?

    public init(vfs: VFS, synchronousOff: Bool = false, faultFile: String? = nil) {
        self.vfs = vfs
        self.synchronousOff = synchronousOff
        self.faultFile = faultFile
    }

    /// The mode `environment` asks for: nil when neither variable is set (production), an error
    /// for any value other than the fixed words, or for `SPOOL_TEST_SYNC` without `SPOOL_TEST_VFS`.
    public static func from(environment: [String: String]) throws(StorageError) -> StorageTestMode? {
        let vfsWord = environment[vfsVariable]
        let syncWord = environment[syncVariable]
        let faultFile = environment[faultVariable]
        guard let vfsWord else {
            for name in [syncVariable, faultVariable] where environment[name] != nil {
                throw StorageError(code: -1, message: "\(name) is honoured only together with \(vfsVariable) (docs/testing.md)")
            }
            return nil
        }
        guard let vfs = VFS(rawValue: vfsWord) else {
            throw StorageError(code: -1, message: "\(vfsVariable) must be powerloss or unix, got \(vfsWord)")
        }
        guard syncWord == nil || syncWord == "off" else {
            throw StorageError(code: -1, message: "\(syncVariable) must be off, got \(syncWord ?? "")")
        }
        if let faultFile {
            guard vfs == .powerloss else {
                throw StorageError(code: -1, message: "\(faultVariable) needs \(vfsVariable)=powerloss (the faults are the power-loss VFS's)")
            }
            guard faultFile.hasPrefix("/") else {
                throw StorageError(code: -1, message: "\(faultVariable) must be an absolute path, got \(faultFile)")
            }
        }
        return StorageTestMode(vfs: vfs, synchronousOff: syncWord == "off", faultFile: faultFile)
    }

    /// The mode this process's environment asks for (see `from(environment:)`).
    public static func fromProcessEnvironment() throws(StorageError) -> StorageTestMode? {
        var environment: [String: String] = [:]
        for name in [vfsVariable, syncVariable, faultVariable] {
            if let value = getenv(name) { environment[name] = String(cString: value) }
        }
        return try from(environment: environment)
    }

    /// What a broker running in this mode must say loudly at start.
    public var warning: String {
        var text = "TESTING ONLY: \(Self.vfsVariable)=\(vfs.rawValue)"
        if vfs == .powerloss { text += ": every database runs on the power-loss VFS (writes stay in memory until fsync)" }
        if synchronousOff { text += "; \(Self.syncVariable)=off: NO FSYNC, acknowledged writes are NOT durable" }
        if let faultFile { text += "; \(Self.faultVariable)=\(faultFile): while that file exists, the writes or fsyncs it names FAIL" }
        return text + ". Never run a real broker like this (docs/testing.md)."
    }

    /// The mode every connection of this process opens with; nil (production) until `install`.
    static var installed: StorageTestMode? { current.withLock { $0 } }

    private static let current = Mutex<StorageTestMode?>(nil)

    /// Makes every connection opened from now on use `mode`. Call once, before any database opens.
    public static func install(_ mode: StorageTestMode) throws(StorageError) {
        if mode.vfs == .powerloss { try registerPowerLossVFS() }
        spool_powerloss_set_fault_file(mode.faultFile)
        current.withLock { $0 = mode }
    }

    /// The SQLite VFS name a connection opens with: nil is SQLite's default.
    static var vfsName: String? {
        installed?.vfs == .powerloss ? SPOOL_POWERLOSS_VFS_NAME : nil
    }

    /// Registers the power-loss VFS under its name (not as the default), so a connection can ask
    /// for it. Tests of the VFS itself call this and then open connections by that name.
    static func registerPowerLossVFS() throws(StorageError) {
        SQLiteConnection.applyProcessSettings()  // before SQLite initializes, which registering does
        let rc = spool_powerloss_register()
        guard rc == 0 else { throw StorageError(code: rc, message: "cannot register the power-loss VFS") }
    }
}
