#ifndef CSPOOL_TEST_VFS_H
#define CSPOOL_TEST_VFS_H

// A TEST-ONLY SQLite VFS that simulates power loss (docs/testing.md). It wraps the default unix
// VFS and keeps every write, and every truncate, to a main database, WAL or rollback journal in
// this process's memory until that file's xSync, and writes it through only then, the way an
// operating system's page cache holds dirty pages until fsync. A SIGKILL of a process running on
// it therefore loses exactly what a power cut would lose. Nothing in a production path uses it:
// spoold registers it only when started with SPOOL_TEST_VFS=powerloss.

/// The name the VFS is registered under (never as the default VFS).
#define SPOOL_POWERLOSS_VFS_NAME "spool-powerloss"

/// Registers the VFS (idempotent; thread-safe). Returns an SQLite result code.
int spool_powerloss_register(void);

/// Simulated power cut inside this process: drops every write and truncate not yet synced, on
/// every file, and then plays dead: writes, truncates, syncs and deletes through handles still
/// open are accepted and discarded, like a machine that has lost power. The caller then closes
/// every connection it had and calls spool_powerloss_restart() before opening new ones.
void spool_powerloss_crash(void);

/// Ends the dead phase of spool_powerloss_crash(): the "machine" is back on.
void spool_powerloss_restart(void);

/// Turns torn writes on (seed != 0) or off (seed == 0). When on, a crash writes a seeded choice
/// of a prefix of whole 512-byte sectors of each file's last unsynced write through to the disk
/// before dropping the rest, as a disk that lost power in the middle of a write might.
void spool_powerloss_set_torn_write_seed(unsigned long long seed);

/// Bytes held in memory, not yet synced, over every file (for tests).
long long spool_powerloss_unsynced_bytes(void);

/// Injected faults, for tests of failed writes (docs/testing.md): while the file at `path` exists,
/// syncs and/or writes of the held files (main databases, WALs, rollback journals) it selects
/// fail. Its first line is `<ops> [<path substring>]`: ops `sync` (xSync answers
/// SQLITE_IOERR_FSYNC and keeps the file's pending writes), `write` (xWrite answers
/// SQLITE_IOERR_WRITE, xTruncate SQLITE_IOERR_TRUNCATE, nothing is stored) or `sync,write`; only
/// files whose path contains the substring fail (every held file without one). An empty file is
/// `sync` on every held file. The file is checked on every call, so another process can switch
/// faults on and off while this one runs. NULL turns the check off.
void spool_powerloss_set_fault_file(const char *path);

#endif
