/*
 * sqlite_vfs.h - the VFS every drydock SQLite connection opens its store
 * through: the system's own, except that a commit's WAL frames reach the
 * file in one write.
 *
 * SQLite writes each WAL frame as two writes, the 24-byte frame header
 * and then the page, so a commit of 40 pages costs 80 system calls, all
 * of them made while the store's one write lock is held.  This VFS
 * gathers the frames of one commit in memory, as the contiguous run they
 * form in the file, and writes the run with one call when SQLite writes
 * the commit frame: the commit's outcome, including a failed write, is
 * still reported by the commit itself, before any other connection can
 * see it.  Frames that are not part of a commit yet (a transaction too
 * big for the page cache spills some early) stay gathered until the
 * commit frame, or are written the moment anything else touches the WAL
 * or the database's shared memory (a read, a sync, a lock change), so
 * nothing ever depends on frames still in memory.
 *
 * Every other file (the database itself, journals) goes straight to the
 * system's VFS.
 */
#ifndef DD_STORE_SQLITE_VFS_H
#define DD_STORE_SQLITE_VFS_H

#include <sqlite3.h>
#include <stdbool.h>

/*
 * Register the VFS with SQLite (once per process; later calls only
 * return the result of the first) and return its name for
 * sqlite3_open_v2(), or NULL if SQLite refused it, in which case callers
 * use the default VFS.
 */
const char *dd_sqlite_vfs_register(void);

/* Write calls this VFS made to WAL files since the process started. */
long long dd_sqlite_vfs_wal_writes(void);

/*
 * Read calls made to database and WAL files since the process started:
 * pages a connection had to fetch, for tests that bound a query's work.
 */
long long dd_sqlite_vfs_reads(void);

/*
 * The error of a write that failed where SQLite could not be told (a
 * shared-memory barrier or lock, after the commit frame), for `db`'s main
 * database, or 0.  Once set, every later use of the WAL fails with it, and
 * the commit it belonged to may be reported done yet be missing from the
 * file: the caller must treat the store as failed, as after a failed sync.
 */
int dd_sqlite_vfs_lost(sqlite3 *db);

/* For tests: make the writes of those late flushes fail with EIO. */
void dd_sqlite_vfs_fail_late_writes(bool fail);

/*
 * For tests: let the next `after` commits reach their WAL, then fail the
 * write of the `count` commits after them with SQLite error `code`
 * (SQLITE_FULL is what a full disk gives), as the system would: the
 * commit reports the error and nothing of it is in the file.  Counts
 * commits of every connection in the process.
 */
void dd_sqlite_vfs_fail_commits(int after, int count, int code);

#endif
