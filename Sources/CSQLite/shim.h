#include <sqlite3.h>

// sqlite3_db_config is variadic, which Swift cannot call; these wrappers fix the arguments.

/// Keeps a connection from checkpointing (and deleting the WAL) when it closes. Readers use it so
/// that only the writer, whose lifetime the broker controls, ever removes a WAL file.
static inline int spool_sqlite_no_checkpoint_on_close(sqlite3 *db) {
    return sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)0);
}

/// Turns off SQLite's process-wide memory statistics, which take a global mutex around every
/// allocation (SQLite itself recommends SQLITE_DEFAULT_MEMSTATUS=0 for speed). Must run before
/// SQLite initializes, i.e. before the first connection opens; later it returns SQLITE_MISUSE
/// and changes nothing.
static inline int spool_sqlite_disable_memstatus(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
