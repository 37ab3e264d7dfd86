// A TEST-ONLY SQLite VFS that simulates power loss; see include/CSpoolTestVFS.h and
// docs/testing.md. Modelled on SQLite's own crash VFS (src/test6.c): a shim over the default VFS
// that holds unsynced writes in memory.
//
// What it simulates, exactly:
// - Writes and truncates of a main database, WAL or rollback journal stay in memory (in 4 KiB
//   blocks shared by every handle on the same path, as the page cache is shared by every file
//   descriptor) until an xSync of that file, which writes them through and then syncs.
//   Reads and xFileSize see them. Closing a file keeps them pending (closing is no fsync).
// - Other files (temporary files, sub-journals) pass straight through.
// - The -shm file (xShm*) passes straight through: SQLite rebuilds the WAL index from the WAL
//   after a crash, as it does after a power cut.
// - Deletes pass straight through at once and drop the file's pending writes, as in test6.c: a
//   lost unlink is not simulated. (SQLite deletes a WAL only on close, after checkpointing it into
//   a synced database, so a WAL that came back would only repeat pages the database holds.)
// - File creation is immediate. Locks pass through.
// - The io methods are version 2 (no xFetch), so SQLite never memory-maps a file and every read
//   comes through xRead, which overlays the pending writes.
// - One global mutex guards all state: this is a test tool, simplicity beats concurrency. It is
//   released around the real fsync so partitions still sync in parallel.
// - Injected faults (spool_powerloss_set_fault_file, SPOOL_TEST_VFS_FAIL): while a control file
//   exists, xSync and/or xWrite (and xTruncate) of the held files it selects fail with
//   SQLITE_IOERR_FSYNC / SQLITE_IOERR_WRITE. A failed sync keeps the file's pending writes, as a
//   kernel may keep dirty pages after a failed fsync: they can still reach the disk later (with
//   the next sync that succeeds) or be lost at a power cut. Nothing else changes.
#include "CSpoolTestVFS.h"

#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK_BYTES 4096
#define SECTOR_BYTES 512

// The pending state of one path, shared by every handle open on it. Bytes of the file's logical
// content are: a pending block where one exists; else the disk's bytes below `lowWater`; else 0.
typedef struct PendingFile PendingFile;
struct PendingFile {
    char *path;
    int openHandles;
    int dirty;                 // nonzero: the fields below describe the file, not the disk
    sqlite3_int64 size;        // logical size
    sqlite3_int64 lowWater;    // disk bytes below this are still current (a truncate lowers it)
    unsigned char **blocks;    // pending blocks by index (NULL: none)
    sqlite3_int64 blockCount;  // length of `blocks`
    sqlite3_int64 lastWriteOffset, lastWriteBytes;  // for torn writes
    PendingFile *next;
};

typedef struct Handle {
    sqlite3_file base;
    sqlite3_file *real;   // the unix VFS's file, allocated right after this struct
    PendingFile *file;    // NULL when the file passes straight through
} Handle;

static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static PendingFile *files = NULL;
static int dead = 0;
static unsigned long long tornSeed = 0;
static sqlite3_vfs *realVfs = NULL;

// MARK: Injected faults.

#define FAULT_SYNC 1
#define FAULT_WRITE 2

// The control file and what its content asked for, re-read whenever the file changes (a stat per
// call: cheap next to a test's fsync). Guarded by its own mutex, taken inside `mutex` or alone.
static pthread_mutex_t faultMutex = PTHREAD_MUTEX_INITIALIZER;
static char *faultPath = NULL;
static struct {
    int valid;                  // the fields below describe the control file as last read
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    int ops;                    // FAULT_SYNC | FAULT_WRITE
    char match[1024];           // a path substring; empty: every held file
} faultCache;

// Parses the control file's first line: `<ops> [<path substring>]`, ops `sync`, `write` or
// `sync,write`; an empty file means `sync` on every held file.
static void readFaultFile(void) {
    faultCache.ops = 0;
    faultCache.match[0] = 0;
    char text[1200] = {0};
    FILE *file = fopen(faultPath, "r");
    if (!file) return;
    size_t bytes = fread(text, 1, sizeof text - 1, file);
    fclose(file);
    text[bytes] = 0;
    char *end = strpbrk(text, "\r\n");
    if (end) *end = 0;
    char *ops = text;
    while (*ops == ' ' || *ops == '\t') ops++;
    char *rest = strpbrk(ops, " \t");
    if (rest) {
        *rest++ = 0;
        while (*rest == ' ' || *rest == '\t') rest++;
        size_t length = strlen(rest);
        while (length > 0 && (rest[length - 1] == ' ' || rest[length - 1] == '\t')) rest[--length] = 0;
        snprintf(faultCache.match, sizeof faultCache.match, "%s", rest);
    }
    if (*ops == 0 || strcmp(ops, "sync") == 0) faultCache.ops = FAULT_SYNC;
    else if (strcmp(ops, "write") == 0) faultCache.ops = FAULT_WRITE;
    else if (strcmp(ops, "sync,write") == 0 || strcmp(ops, "write,sync") == 0) faultCache.ops = FAULT_SYNC | FAULT_WRITE;
    else fprintf(stderr, "spool-powerloss: %s: unknown fault '%s' (sync, write or sync,write); none injected\n", faultPath, ops);
}

// Nonzero when `op` (FAULT_SYNC or FAULT_WRITE) on the held file `path` must fail now.
static int faultInjected(const char *path, int op) {
    pthread_mutex_lock(&faultMutex);
    int fail = 0;
    struct stat info;
    if (faultPath && stat(faultPath, &info) == 0) {
        if (!faultCache.valid || faultCache.dev != info.st_dev || faultCache.ino != info.st_ino ||
            faultCache.size != info.st_size || faultCache.mtime.tv_sec != info.st_mtim.tv_sec ||
            faultCache.mtime.tv_nsec != info.st_mtim.tv_nsec) {
            readFaultFile();
            faultCache.valid = 1;
            faultCache.dev = info.st_dev;
            faultCache.ino = info.st_ino;
            faultCache.size = info.st_size;
            faultCache.mtime = info.st_mtim;
        }
        fail = (faultCache.ops & op) && (faultCache.match[0] == 0 || strstr(path, faultCache.match) != NULL);
    } else {
        faultCache.valid = 0;
    }
    pthread_mutex_unlock(&faultMutex);
    return fail;
}

// MARK: Pending state (call with the mutex held).

static PendingFile *findFile(const char *path) {
    for (PendingFile *f = files; f; f = f->next) {
        if (strcmp(f->path, path) == 0) return f;
    }
    return NULL;
}

static void dropBlocks(PendingFile *f) {
    for (sqlite3_int64 i = 0; i < f->blockCount; i++) free(f->blocks[i]);
    free(f->blocks);
    f->blocks = NULL;
    f->blockCount = 0;
    f->dirty = 0;
    f->lastWriteBytes = 0;
}

static void forgetFile(PendingFile *f) {
    PendingFile **link = &files;
    while (*link != f) link = &(*link)->next;
    *link = f->next;
    dropBlocks(f);
    free(f->path);
    free(f);
}

static long long unsyncedBytes(void) {
    long long total = 0;
    for (PendingFile *f = files; f; f = f->next) {
        for (sqlite3_int64 i = 0; i < f->blockCount; i++) total += f->blocks[i] ? BLOCK_BYTES : 0;
    }
    return total;
}

// The first change since the file was last clean: the disk describes the file until now.
static int makeDirty(PendingFile *f, sqlite3_file *real) {
    if (f->dirty) return SQLITE_OK;
    sqlite3_int64 size = 0;
    int rc = real->pMethods->xFileSize(real, &size);
    if (rc != SQLITE_OK) return rc;
    f->size = size;
    f->lowWater = size;
    f->dirty = 1;
    return SQLITE_OK;
}

// Reads the disk's still-current bytes of [offset, offset+amount) into `buffer`, zeros elsewhere.
static int readDisk(PendingFile *f, sqlite3_file *real, unsigned char *buffer, int amount, sqlite3_int64 offset) {
    memset(buffer, 0, (size_t)amount);
    sqlite3_int64 end = offset + amount;
    if (end > f->lowWater) end = f->lowWater;
    if (end <= offset) return SQLITE_OK;
    int rc = real->pMethods->xRead(real, buffer, (int)(end - offset), offset);
    return rc == SQLITE_IOERR_SHORT_READ ? SQLITE_OK : rc;  // a short read zero-fills
}

static unsigned char *blockFor(PendingFile *f, sqlite3_file *real, sqlite3_int64 index, int *rc) {
    if (index >= f->blockCount) {
        sqlite3_int64 count = f->blockCount ? f->blockCount : 16;
        while (count <= index) count *= 2;
        unsigned char **grown = realloc(f->blocks, (size_t)count * sizeof *grown);
        if (!grown) { *rc = SQLITE_NOMEM; return NULL; }
        memset(grown + f->blockCount, 0, (size_t)(count - f->blockCount) * sizeof *grown);
        f->blocks = grown;
        f->blockCount = count;
    }
    if (!f->blocks[index]) {
        unsigned char *block = malloc(BLOCK_BYTES);
        if (!block) { *rc = SQLITE_NOMEM; return NULL; }
        *rc = readDisk(f, real, block, BLOCK_BYTES, index * BLOCK_BYTES);
        if (*rc != SQLITE_OK) { free(block); return NULL; }
        f->blocks[index] = block;
    }
    *rc = SQLITE_OK;
    return f->blocks[index];
}

static void truncateTo(PendingFile *f, sqlite3_int64 size) {
    if (size < f->lowWater) f->lowWater = size;
    for (sqlite3_int64 i = 0; i < f->blockCount; i++) {
        if (!f->blocks[i]) continue;
        sqlite3_int64 start = i * BLOCK_BYTES;
        if (start >= size) {
            free(f->blocks[i]);
            f->blocks[i] = NULL;
        } else if (start + BLOCK_BYTES > size) {
            memset(f->blocks[i] + (size - start), 0, (size_t)(start + BLOCK_BYTES - size));
        }
    }
    f->size = size;
    f->lastWriteBytes = 0;
}

// Writes the pending state through to the disk (not yet synced); the file is clean after.
static int writeThrough(PendingFile *f, sqlite3_file *real) {
    if (!f->dirty) return SQLITE_OK;
    sqlite3_int64 diskSize = 0;
    int rc = real->pMethods->xFileSize(real, &diskSize);
    // Stale bytes above a truncate must not reappear: cut the disk file to the low-water mark
    // first, then write the blocks, then set the final size (which may extend with zeros).
    if (rc == SQLITE_OK && f->lowWater < diskSize) rc = real->pMethods->xTruncate(real, f->lowWater);
    for (sqlite3_int64 i = 0; rc == SQLITE_OK && i < f->blockCount; i++) {
        if (!f->blocks[i]) continue;
        sqlite3_int64 start = i * BLOCK_BYTES;
        sqlite3_int64 bytes = f->size - start;
        if (bytes > BLOCK_BYTES) bytes = BLOCK_BYTES;
        if (bytes > 0) rc = real->pMethods->xWrite(real, f->blocks[i], (int)bytes, start);
    }
    if (rc == SQLITE_OK) rc = real->pMethods->xFileSize(real, &diskSize);
    if (rc == SQLITE_OK && diskSize != f->size) rc = real->pMethods->xTruncate(real, f->size);
    if (rc == SQLITE_OK) dropBlocks(f);
    return rc;
}

// MARK: io methods.

static int ioClose(sqlite3_file *file) {
    Handle *h = (Handle *)file;
    int rc = h->real->pMethods ? h->real->pMethods->xClose(h->real) : SQLITE_OK;
    if (h->file) {
        pthread_mutex_lock(&mutex);
        // A closed file keeps its pending writes (close is no fsync); a clean one is forgotten.
        if (--h->file->openHandles == 0 && !h->file->dirty) forgetFile(h->file);
        pthread_mutex_unlock(&mutex);
        h->file = NULL;
    }
    return rc;
}

static int ioRead(sqlite3_file *file, void *buffer, int amount, sqlite3_int64 offset) {
    Handle *h = (Handle *)file;
    if (!h->file) return h->real->pMethods->xRead(h->real, buffer, amount, offset);
    pthread_mutex_lock(&mutex);
    PendingFile *f = h->file;
    int rc;
    if (!f->dirty) {
        rc = h->real->pMethods->xRead(h->real, buffer, amount, offset);
    } else {
        unsigned char *out = buffer;
        rc = readDisk(f, h->real, out, amount, offset);
        for (sqlite3_int64 position = offset; rc == SQLITE_OK && position < offset + amount;) {
            sqlite3_int64 index = position / BLOCK_BYTES;
            sqlite3_int64 within = position % BLOCK_BYTES;
            sqlite3_int64 bytes = BLOCK_BYTES - within;
            if (bytes > offset + amount - position) bytes = offset + amount - position;
            if (index < f->blockCount && f->blocks[index]) {
                memcpy(out + (position - offset), f->blocks[index] + within, (size_t)bytes);
            }
            position += bytes;
        }
        if (rc == SQLITE_OK && offset + amount > f->size) {
            // SQLite's contract: zero-fill past the end and say so.
            sqlite3_int64 valid = f->size > offset ? f->size - offset : 0;
            memset(out + valid, 0, (size_t)(amount - valid));
            rc = SQLITE_IOERR_SHORT_READ;
        }
    }
    pthread_mutex_unlock(&mutex);
    return rc;
}

static int ioWrite(sqlite3_file *file, const void *data, int amount, sqlite3_int64 offset) {
    Handle *h = (Handle *)file;
    if (!h->file) return h->real->pMethods->xWrite(h->real, data, amount, offset);
    pthread_mutex_lock(&mutex);
    PendingFile *f = h->file;
    if (!dead && faultInjected(f->path, FAULT_WRITE)) {
        pthread_mutex_unlock(&mutex);
        return SQLITE_IOERR_WRITE;
    }
    int rc = dead ? SQLITE_OK : makeDirty(f, h->real);
    const unsigned char *in = data;
    for (sqlite3_int64 position = offset; !dead && rc == SQLITE_OK && position < offset + amount;) {
        sqlite3_int64 index = position / BLOCK_BYTES;
        sqlite3_int64 within = position % BLOCK_BYTES;
        sqlite3_int64 bytes = BLOCK_BYTES - within;
        if (bytes > offset + amount - position) bytes = offset + amount - position;
        unsigned char *block = blockFor(f, h->real, index, &rc);
        if (block) memcpy(block + within, in + (position - offset), (size_t)bytes);
        position += bytes;
    }
    if (!dead && rc == SQLITE_OK) {
        if (offset + amount > f->size) f->size = offset + amount;
        f->lastWriteOffset = offset;
        f->lastWriteBytes = amount;
    }
    pthread_mutex_unlock(&mutex);
    return rc;
}

static int ioTruncate(sqlite3_file *file, sqlite3_int64 size) {
    Handle *h = (Handle *)file;
    if (!h->file) return h->real->pMethods->xTruncate(h->real, size);
    pthread_mutex_lock(&mutex);
    if (!dead && faultInjected(h->file->path, FAULT_WRITE)) {
        pthread_mutex_unlock(&mutex);
        return SQLITE_IOERR_TRUNCATE;
    }
    int rc = dead ? SQLITE_OK : makeDirty(h->file, h->real);
    if (!dead && rc == SQLITE_OK) truncateTo(h->file, size);
    pthread_mutex_unlock(&mutex);
    return rc;
}

static int ioSync(sqlite3_file *file, int flags) {
    Handle *h = (Handle *)file;
    if (!h->file) return h->real->pMethods->xSync(h->real, flags);
    pthread_mutex_lock(&mutex);
    int isDead = dead;
    if (!isDead && faultInjected(h->file->path, FAULT_SYNC)) {
        // The pending writes stay pending: they may still reach the disk with a later sync.
        pthread_mutex_unlock(&mutex);
        return SQLITE_IOERR_FSYNC;
    }
    int rc = isDead ? SQLITE_OK : writeThrough(h->file, h->real);
    pthread_mutex_unlock(&mutex);
    // The fsync itself runs unlocked: what was written through is in the kernel now, and the
    // caller learns of its durability only when this returns.
    if (!isDead && rc == SQLITE_OK) rc = h->real->pMethods->xSync(h->real, flags);
    return rc;
}

static int ioFileSize(sqlite3_file *file, sqlite3_int64 *size) {
    Handle *h = (Handle *)file;
    if (!h->file) return h->real->pMethods->xFileSize(h->real, size);
    pthread_mutex_lock(&mutex);
    int rc = SQLITE_OK;
    if (h->file->dirty) *size = h->file->size;
    else rc = h->real->pMethods->xFileSize(h->real, size);
    pthread_mutex_unlock(&mutex);
    return rc;
}

static int ioLock(sqlite3_file *file, int level) {
    Handle *h = (Handle *)file;
    return h->real->pMethods->xLock(h->real, level);
}

static int ioUnlock(sqlite3_file *file, int level) {
    Handle *h = (Handle *)file;
    return h->real->pMethods->xUnlock(h->real, level);
}

static int ioCheckReservedLock(sqlite3_file *file, int *out) {
    Handle *h = (Handle *)file;
    return h->real->pMethods->xCheckReservedLock(h->real, out);
}

static int ioFileControl(sqlite3_file *file, int op, void *argument) {
    Handle *h = (Handle *)file;
    // Size hints and chunk sizes make the unix VFS extend the file on disk directly, around the
    // pending state; they are only hints, so a held file ignores them.
    if (h->file && (op == SQLITE_FCNTL_SIZE_HINT || op == SQLITE_FCNTL_CHUNK_SIZE)) return SQLITE_OK;
    return h->real->pMethods->xFileControl(h->real, op, argument);
}

static int ioSectorSize(sqlite3_file *file) {
    Handle *h = (Handle *)file;
    return h->real->pMethods->xSectorSize(h->real);
}

static int ioDeviceCharacteristics(sqlite3_file *file) {
    Handle *h = (Handle *)file;
    // No atomic batch writes: the pending state must see every page SQLite writes.
    return h->real->pMethods->xDeviceCharacteristics(h->real) & ~SQLITE_IOCAP_BATCH_ATOMIC;
}

static int ioShmMap(sqlite3_file *file, int region, int bytes, int extend, void volatile **out) {
    Handle *h = (Handle *)file;
    return h->real->pMethods->xShmMap(h->real, region, bytes, extend, out);
}

static int ioShmLock(sqlite3_file *file, int offset, int n, int flags) {
    Handle *h = (Handle *)file;
    return h->real->pMethods->xShmLock(h->real, offset, n, flags);
}

static void ioShmBarrier(sqlite3_file *file) {
    Handle *h = (Handle *)file;
    h->real->pMethods->xShmBarrier(h->real);
}

static int ioShmUnmap(sqlite3_file *file, int deleteFlag) {
    Handle *h = (Handle *)file;
    return h->real->pMethods->xShmUnmap(h->real, deleteFlag);
}

static const sqlite3_io_methods ioMethods = {
    2,  // version 2: shared memory, but no xFetch, so no memory-mapped reads around xRead
    ioClose, ioRead, ioWrite, ioTruncate, ioSync, ioFileSize, ioLock, ioUnlock,
    ioCheckReservedLock, ioFileControl, ioSectorSize, ioDeviceCharacteristics,
    ioShmMap, ioShmLock, ioShmBarrier, ioShmUnmap,
    NULL, NULL,
};

// MARK: vfs methods.

static int vfsOpen(sqlite3_vfs *vfs, const char *path, sqlite3_file *file, int flags, int *outFlags) {
    (void)vfs;
    Handle *h = (Handle *)file;
    h->real = (sqlite3_file *)&h[1];
    h->file = NULL;
    h->base.pMethods = NULL;
    int rc = realVfs->xOpen(realVfs, path, h->real, flags, outFlags);
    if (rc != SQLITE_OK) {
        // SQLite calls xClose only when pMethods is set; the real file may need closing itself.
        if (h->real->pMethods) h->real->pMethods->xClose(h->real);
        return rc;
    }
    h->base.pMethods = &ioMethods;
    int held = SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL;
    if (path && (flags & held)) {
        pthread_mutex_lock(&mutex);
        PendingFile *f = findFile(path);
        if (!f) {
            f = calloc(1, sizeof *f);
            char *copy = f ? strdup(path) : NULL;
            if (!copy) {
                free(f);
                pthread_mutex_unlock(&mutex);
                return SQLITE_NOMEM;  // pMethods is set, so SQLite closes the real file
            }
            f->path = copy;
            f->next = files;
            files = f;
        }
        f->openHandles++;
        h->file = f;
        pthread_mutex_unlock(&mutex);
    }
    return SQLITE_OK;
}

static int vfsDelete(sqlite3_vfs *vfs, const char *path, int dirSync) {
    (void)vfs;
    pthread_mutex_lock(&mutex);
    if (dead) {
        pthread_mutex_unlock(&mutex);
        return SQLITE_OK;
    }
    PendingFile *f = findFile(path);
    if (f) {
        dropBlocks(f);
        if (f->openHandles == 0) forgetFile(f);
    }
    pthread_mutex_unlock(&mutex);
    return realVfs->xDelete(realVfs, path, dirSync);
}

static int vfsAccess(sqlite3_vfs *vfs, const char *path, int flags, int *out) {
    (void)vfs;
    return realVfs->xAccess(realVfs, path, flags, out);
}

static int vfsFullPathname(sqlite3_vfs *vfs, const char *path, int bytes, char *out) {
    (void)vfs;
    return realVfs->xFullPathname(realVfs, path, bytes, out);
}

static void *vfsDlOpen(sqlite3_vfs *vfs, const char *path) {
    (void)vfs;
    return realVfs->xDlOpen(realVfs, path);
}

static void vfsDlError(sqlite3_vfs *vfs, int bytes, char *out) {
    (void)vfs;
    realVfs->xDlError(realVfs, bytes, out);
}

static void (*vfsDlSym(sqlite3_vfs *vfs, void *library, const char *symbol))(void) {
    (void)vfs;
    return realVfs->xDlSym(realVfs, library, symbol);
}

static void vfsDlClose(sqlite3_vfs *vfs, void *library) {
    (void)vfs;
    realVfs->xDlClose(realVfs, library);
}

static int vfsRandomness(sqlite3_vfs *vfs, int bytes, char *out) {
    (void)vfs;
    return realVfs->xRandomness(realVfs, bytes, out);
}

static int vfsSleep(sqlite3_vfs *vfs, int microseconds) {
    (void)vfs;
    return realVfs->xSleep(realVfs, microseconds);
}

static int vfsCurrentTime(sqlite3_vfs *vfs, double *out) {
    (void)vfs;
    return realVfs->xCurrentTime(realVfs, out);
}

static int vfsGetLastError(sqlite3_vfs *vfs, int bytes, char *out) {
    (void)vfs;
    return realVfs->xGetLastError ? realVfs->xGetLastError(realVfs, bytes, out) : 0;
}

static int vfsCurrentTimeInt64(sqlite3_vfs *vfs, sqlite3_int64 *out) {
    (void)vfs;
    return realVfs->xCurrentTimeInt64(realVfs, out);
}

static sqlite3_vfs powerLossVfs = {
    2, 0, 0, NULL, SPOOL_POWERLOSS_VFS_NAME, NULL,
    vfsOpen, vfsDelete, vfsAccess, vfsFullPathname,
    vfsDlOpen, vfsDlError, vfsDlSym, vfsDlClose,
    vfsRandomness, vfsSleep, vfsCurrentTime, vfsGetLastError, vfsCurrentTimeInt64,
    NULL, NULL, NULL,
};

// MARK: Public entry points.

int spool_powerloss_register(void) {
    pthread_mutex_lock(&mutex);
    int rc = SQLITE_OK;
    if (!realVfs) {
        sqlite3_vfs *base = sqlite3_vfs_find("unix");
        if (!base) base = sqlite3_vfs_find(NULL);
        if (!base) {
            rc = SQLITE_ERROR;
        } else {
            powerLossVfs.szOsFile = (int)sizeof(Handle) + base->szOsFile;
            powerLossVfs.mxPathname = base->mxPathname;
            realVfs = base;
            rc = sqlite3_vfs_register(&powerLossVfs, 0);
            if (rc != SQLITE_OK) realVfs = NULL;
        }
    }
    pthread_mutex_unlock(&mutex);
    return rc;
}

// SplitMix64: a seeded choice that a failing test can repeat.
static unsigned long long nextRandom(unsigned long long *state) {
    unsigned long long z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

// Writes a seeded prefix of whole sectors of `f`'s last write to the disk. Plain POSIX calls, not
// the unix VFS: it runs during the crash, when no SQLite lock or handle matters any more.
static void tearLastWrite(PendingFile *f, unsigned long long *state) {
    if (f->lastWriteBytes <= 0 || !f->blocks) return;
    sqlite3_int64 sectors = (f->lastWriteBytes + SECTOR_BYTES - 1) / SECTOR_BYTES;
    sqlite3_int64 keep = (sqlite3_int64)(nextRandom(state) % (unsigned long long)(sectors + 1));
    sqlite3_int64 bytes = keep * SECTOR_BYTES;
    if (bytes > f->lastWriteBytes) bytes = f->lastWriteBytes;
    if (bytes == 0) return;
    unsigned char *copy = malloc((size_t)bytes);
    int fd = copy ? open(f->path, O_WRONLY) : -1;
    if (fd >= 0) {
        for (sqlite3_int64 i = 0; i < bytes; i++) {
            sqlite3_int64 position = f->lastWriteOffset + i;
            copy[i] = f->blocks[position / BLOCK_BYTES][position % BLOCK_BYTES];
        }
        ssize_t written = pwrite(fd, copy, (size_t)bytes, (off_t)f->lastWriteOffset);
        (void)written;  // best effort: a tear that did not happen is still a legal outcome
        close(fd);
    }
    free(copy);
}

void spool_powerloss_crash(void) {
    pthread_mutex_lock(&mutex);
    unsigned long long state = tornSeed;
    PendingFile *f = files;
    while (f) {
        PendingFile *next = f->next;
        if (tornSeed && f->dirty) tearLastWrite(f, &state);
        if (f->openHandles == 0) forgetFile(f);
        else dropBlocks(f);
        f = next;
    }
    dead = 1;
    pthread_mutex_unlock(&mutex);
}

void spool_powerloss_restart(void) {
    pthread_mutex_lock(&mutex);
    dead = 0;
    pthread_mutex_unlock(&mutex);
}

void spool_powerloss_set_torn_write_seed(unsigned long long seed) {
    pthread_mutex_lock(&mutex);
    tornSeed = seed;
    pthread_mutex_unlock(&mutex);
}

long long spool_powerloss_unsynced_bytes(void) {
    pthread_mutex_lock(&mutex);
    long long total = unsyncedBytes();
    pthread_mutex_unlock(&mutex);
    return total;
}

void spool_powerloss_set_fault_file(const char *path) {
    pthread_mutex_lock(&faultMutex);
    free(faultPath);
    faultPath = path ? strdup(path) : NULL;
    faultCache.valid = 0;
    pthread_mutex_unlock(&faultMutex);
}
