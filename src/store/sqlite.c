/*
 * sqlite.c - the embedded store: one SQLite file in WAL mode.
 *
 * This file is what the SQLite backend does its own way: it opens,
 * checks and migrates the store, runs transactions, group commit and the
 * background syncer, takes object locks, checks fences and claims tasks
 * (what SQLite's single writer makes safe), and answers health and
 * check.  The objects' data access is shared SQL (sql_*.c over the
 * driver in sqlite_driver.c), the bytes of file artifacts are in
 * sqlite_chunks.c, and the helpers all of them use in sqlite_internal.h.
 *
 * Write transactions start with BEGIN IMMEDIATE so that two writers never
 * deadlock on a lock upgrade; a busy store is waited for up to the
 * configured busy timeout and then reported as DD_ERR_BUSY.  Statements
 * with fixed SQL are prepared once per handle and cached; list queries
 * build their WHERE clause from the filter with bound parameters only.
 */
#include "store/sqlite.h"
#include "store/schema_sqlite.h"
#include "store/sqlite_vfs.h"
#include "store/sqlite_internal.h"
#include "store/sql_ops.h"
#include "core/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <string.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

/* Every SQLite commit counts (a group's batch is one). */
static int count_commit(void *arg)
{
	(void)arg;
	dd_store_count_commit();
	return 0;
}

static atomic_bool fail_syncs;

void dd_sqlite_fail_syncs(bool fail)
{
	atomic_store(&fail_syncs, fail);
}

/* ---- damage and identity ----------------------------------------------
 *
 * A store is damaged when SQLite finds that it is not a database or
 * meets a page it cannot make sense of (SQLITE_NOTADB, SQLITE_CORRUPT),
 * when an integrity check finds problems, or when the file at its path
 * is empty or does not start like a database.  Every such failure is one
 * error, DD_ERR_DAMAGED, with one message, "store 'PATH' is damaged:
 * WHAT", whoever meets it.  The first one met is also recorded for the
 * path, for the whole process, so that a readiness probe reports it
 * (store.h: health) without reading the file again: the damage stays on
 * show until the process restarts.
 */
struct damage {
	struct damage *next;
	char *path;
	char msg[384];
};

static pthread_mutex_t damage_mu = PTHREAD_MUTEX_INITIALIZER;
static struct damage *damages;

/* The damage recorded for `path`, copied into msg; false if none. */
static bool damage_find(const char *path, char *msg, size_t n)
{
	bool found = false;

	pthread_mutex_lock(&damage_mu);
	for (struct damage *d = damages; d && !found; d = d->next) {
		if (!strcmp(d->path, path)) {
			snprintf(msg, n, "%s", d->msg);
			found = true;
		}
	}
	pthread_mutex_unlock(&damage_mu);
	return found;
}

/*
 * Fail with DD_ERR_DAMAGED: "store 'PATH' is damaged: WHAT; run 'drydock
 * check'", and with `record`, record it for the path unless one is
 * recorded already: damage met in the store in use, not a look at
 * whatever file is at the path now (header_check()).
 */
static int damaged(const char *path, struct dd_error *err, bool record,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int damaged(const char *path, struct dd_error *err, bool record,
		   const char *fmt, ...)
{
	char what[200], msg[384];
	struct damage *d;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg),
		 "store '%.100s' is damaged: %s; run 'drydock check'", path,
		 what);
	if (!record)
		return dd_error_set(err, DD_ERR_DAMAGED, "%s", msg);
	pthread_mutex_lock(&damage_mu);
	for (d = damages; d && strcmp(d->path, path); d = d->next)
		;
	if (!d && (d = dd_calloc(1, sizeof(*d)))) {
		d->path = dd_strdup(path);
		if (d->path) {
			snprintf(d->msg, sizeof(d->msg), "%s", msg);
			d->next = damages;
			damages = d;
		} else {
			dd_free(d); /* it is only news: the error still goes */
		}
	}
	pthread_mutex_unlock(&damage_mu);
	return dd_error_set(err, DD_ERR_DAMAGED, "%s", msg);
}

static bool is_damage(int rc)
{
	return (rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB;
}

/*
 * Does the store's file still look like a SQLite database?  An empty file
 * or one with another header is damaged.  The size is looked at before
 * SQLite opens an existing store (which would make an empty file into a
 * new, empty database), the header once it has, through SQLite's own
 * descriptor (`db`, or NULL for the size alone): a descriptor of our own
 * on the file, once closed, would drop every POSIX lock this process
 * holds on it, and another process could then delete the WAL under us.
 */
static int header_check(const char *path, sqlite3 *db, struct dd_error *err)
{
	static const char magic[16] = "SQLite format 3";
	char head[16];
	sqlite3_file *f = NULL;
	struct stat st;

	if (stat(path, &st))
		return dd_error_set(err, DD_ERR_STORE,
				    errno == ENOENT
					    ? "store '%s' does not exist: run "
					      "'drydock init' first"
					    : "cannot open store '%s': %s",
				    path, strerror(errno));
	if (!st.st_size)
		return damaged(path, err, false, "the file is empty");
	if (!db)
		return 0;
	if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &f) ||
	    !f || !f->pMethods)
		return 0; /* not opened yet: SQLite will look itself */
	if (f->pMethods->xRead(f, head, sizeof(head), 0) != SQLITE_OK ||
	    memcmp(head, magic, sizeof(magic)))
		return damaged(path, err, false, "the file is not a database");
	return 0;
}

/*
 * Is the file at the store's path still the one this handle opened?
 * Deleted (and maybe made anew by 'drydock init') or replaced, it is
 * not: a commit went to a file nobody else will ever see, and must not
 * be reported done.  One stat() per commit (sq_commit() and
 * group_commit_batch()); a file moved away and back is the same file
 * again, and its commits are accepted again.
 */
static int identity_check(struct sq *q, struct dd_error *err)
{
	struct stat st;

	if (!stat(q->base.location, &st)) {
		if (st.st_dev == q->dev && st.st_ino == q->ino)
			return 0;
	} else if (errno != ENOENT && errno != ENOTDIR) {
		return 0; /* cannot tell: it is not known to be gone */
	}
	return dd_error_set(err, DD_ERR_STORE,
			    "store '%s' was deleted or replaced while in use: "
			    "the write is refused; restart drydock",
			    q->base.location);
}

/* Translate a SQLite failure into a drydock error. */
static int fail(struct sq *q, int rc, struct dd_error *err, const char *what)
{
	int prim = rc & 0xff;

	if (is_damage(rc))
		return damaged(q->base.location, err, true, "%s (%s)",
			       sqlite3_errmsg(q->db), what);
	if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED)
		return dd_error_set(err, DD_ERR_BUSY,
				    "store '%s' is locked (%s)", q->base.location,
				    what);
	if (prim == SQLITE_FULL)
		return dd_error_set(err, DD_ERR_STORE,
				    "store '%s' is full (%s)", q->base.location,
				    what);
	if (prim == SQLITE_NOMEM)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory (%s)",
				    what);
	if (prim == SQLITE_CONSTRAINT)
		return dd_error_set(err, DD_ERR_EXISTS, "%s: %s", what,
				    sqlite3_errmsg(q->db));
	return dd_error_set(err, DD_ERR_STORE, "store '%s': %s: %s",
			    q->base.location, what, sqlite3_errmsg(q->db));
}

/* fail(), for the helpers in sqlite_internal.h, the driver and the chunks. */
int dd_sq_fail(struct sq *q, int rc, struct dd_error *err, const char *what)
{
	return fail(q, rc, err, what);
}

/* ---- open, close, schema ---------------------------------------------- */

/*
 * A busy store says "store 'PATH' is locked (VERB)" wherever it is met, VERB
 * the statement's first word in lower case ("begin", "pragma"), so that
 * the message the docs give is the one printed.
 */
static int fail_locked(struct sq *q, int rc, struct dd_error *err,
		       const char *sql)
{
	char verb[16];
	size_t n = strcspn(sql, " ;\n");

	if (n >= sizeof(verb))
		n = sizeof(verb) - 1;
	for (size_t i = 0; i < n; i++)
		verb[i] = (char)tolower((unsigned char)sql[i]);
	verb[n] = '\0';
	return fail(q, rc, err, verb);
}

static int exec_sql(struct sq *q, const char *sql, struct dd_error *err)
{
	char *msg = NULL;
	int rc = sqlite3_exec(q->db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		int prim = rc & 0xff;

		if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED ||
		    is_damage(rc)) {
			sqlite3_free(msg);
			return fail_locked(q, rc, err, sql);
		}
		dd_error_set(err, DD_ERR_STORE, "store '%s': %s", q->base.location,
			     msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return DD_ERR_STORE;
	}
	return 0;
}

/*
 * exec_sql() for one statement that runs all the time (BEGIN, SAVEPOINT,
 * RELEASE, COMMIT): prepared once, not parsed again on every transaction.
 * `sql` is a string literal, as for prep().
 */
static int exec_stmt(struct sq *q, const char *sql, struct dd_error *err)
{
	sqlite3_stmt *st;
	int rc = prep(q, sql, &st, NULL);

	if (rc)
		return exec_sql(q, sql, err);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		int prim = rc & 0xff;
		int code = (prim == SQLITE_BUSY || prim == SQLITE_LOCKED ||
			    is_damage(rc))
				   ? fail_locked(q, rc, err, sql)
				   : dd_error_set(err, DD_ERR_STORE,
						  "store '%s': %s", q->base.location,
						  sqlite3_errmsg(q->db));

		sqlite3_reset(st);
		return code;
	}
	sqlite3_reset(st);
	return 0;
}

/*
 * Durable commits without holding the write lock through the fsync.  With
 * synchronous=FULL, SQLite fsyncs the WAL inside COMMIT, while it holds the
 * store's write lock, so no other writer can even start until the disk
 * answers.  Instead drydock commits with synchronous=NORMAL (the frames are
 * written to the WAL, not synced) and then, after the lock is released,
 * syncs the WAL file itself before reporting the commit.  A commit is
 * reported only once durable, as before; meanwhile the next writer is
 * already at work, and the file system folds concurrent syncs of one file
 * into one flush.  While this connection is open nobody can delete the
 * WAL, and SQLite syncs the WAL before a checkpoint copies it and the
 * database after, so syncing the WAL is enough.  Other connections can
 * see a commit before it is synced: after a power loss such a commit may
 * be missing, but it was never reported done to its writer.
 */
/* fdatasync(), or EIO while a test says so (dd_sqlite_fail_syncs). */
static int wal_fdatasync(int fd)
{
	if (atomic_load(&fail_syncs)) {
		errno = EIO;
		return -1;
	}
	return fdatasync(fd);
}

static int sync_wal(struct sq *q, struct dd_error *err)
{
	if (q->sync_failed)
		return dd_error_set(err, DD_ERR_IO,
				    "store '%s' failed to sync earlier (%s); "
				    "the outcome of commits since is unknown: "
				    "restart drydock",
				    q->base.location, q->sync_error);
	if (q->wal_fd < 0) {
		/* SQLite's own name for it: a symlinked store's WAL is
		 * beside the real file */
		const char *wal = sqlite3_filename_wal(
			sqlite3_db_filename(q->own_db, "main"));

		q->wal_fd = wal ? open(wal, O_RDONLY | O_CLOEXEC) : -1;
		if (q->wal_fd < 0)
			return dd_error_set(err, DD_ERR_IO,
					    "cannot open the WAL of store "
					    "'%s': %s",
					    q->base.location, strerror(errno));
	}
	/*
	 * One descriptor for the connection's life, so that a write-back
	 * error is reported to it; after a failed sync the pages are marked
	 * clean and a retry would lie, so the handle refuses every later
	 * commit instead.
	 */
	if (wal_fdatasync(q->wal_fd)) {
		snprintf(q->sync_error, sizeof(q->sync_error), "%s",
			 strerror(errno));
		q->sync_failed = true;
		return dd_error_set(err, DD_ERR_IO,
				    "cannot sync store '%s': %s; the outcome "
				    "of this commit is unknown",
				    q->base.location, strerror(errno));
	}
	return 0;
}

/*
 * A commit SQLite reported done whose frames did not all reach the WAL
 * (dd_sqlite_vfs_lost()): fail it, and refuse every later commit, as
 * after a failed sync.
 */
static int check_lost(struct sq *q, struct dd_error *err)
{
	int lost = dd_sqlite_vfs_lost(q->db);

	if (!lost)
		return 0;
	snprintf(q->sync_error, sizeof(q->sync_error), "%s",
		 sqlite3_errstr(lost));
	q->sync_failed = true;
	return dd_error_set(err, DD_ERR_IO,
			    "cannot write store '%s': %s; the outcome of this "
			    "commit is unknown",
			    q->base.location, sqlite3_errstr(lost));
}

static void group_put(struct group *g);

static void group_lock(struct group *g);
static void group_unlock(struct group *g);

static void sq_close(struct dd_store *s)
{
	struct sq *q = SQ(s);

	/* statements on the group's connection: only under its mutex */
	if (q->group)
		group_lock(q->group);
	for (size_t i = 0; i < q->ncache; i++)
		sqlite3_finalize(q->cache[i].st);
	for (size_t i = 0; i < q->ndyn; i++) {
		sqlite3_finalize(q->dyn[i].st);
		dd_free(q->dyn[i].sql);
	}
	if (q->group)
		group_unlock(q->group);
	if (q->wal_fd >= 0)
		close(q->wal_fd);
	sqlite3_close(q->own_db ? q->own_db : q->db);
	if (q->group)
		group_put(q->group);
	dd_free(q->base.location);
	dd_free(q);
}

/*
 * Wait for a locked store in short, jittered naps.  SQLite's own busy
 * handler sleeps up to 100 ms at a time once it has waited a while, which
 * puts a long tail on every latency when writers contend; the lock is
 * usually free again within a millisecond.
 */
static int busy_wait(void *arg, int count)
{
	struct sq *q = arg;
	double now = dd_monotonic(), nap;

	if (count == 0)
		q->busy_since = now;
	if (now - q->busy_since >= q->busy_timeout)
		return 0;
	nap = 100e-6 * (double)(1 << (count < 6 ? count : 6));
	dd_sleep(nap * (0.5 + dd_random()));
	return 1;
}

/* ---- group commit -------------------------------------------------------
 *
 * The group-commit handles of one store in one process share `conn`.  A
 * write transaction takes the group's mutex, joins the open batch (one
 * SQLite transaction; BEGIN IMMEDIATE if none is open) inside a savepoint,
 * and releases the savepoint when done.  The batch is committed by the
 * transaction that ends while no other writer is waiting to join, or once
 * the batch is 64 transactions or 0.5 ms old; every other transaction of
 * the batch waits for that commit and returns its result.  Transactions
 * run one at a time, in turn, on the shared connection, so each sees the
 * ones before it exactly as a serial execution would.
 *
 * Waiting for a batch's commit or sync does not take the mutex: a member
 * sleeps on a futex word that is bumped when a batch closes (`closed`) or
 * a sync ends (`synced`), and reads its batch's result from a slot the
 * closer filled in before the bump.  With a condition variable every
 * woken member would queue for the mutex again just to read its result,
 * one context switch more per transaction, on the path of every request.
 * The closer wakes the members only once it has unlocked the mutex: a
 * member woken earlier may take the closer's CPU while the closer still
 * holds the mutex, and then every writer waits for the closer to run again.
 */

#define GROUP_MAX 64
#define GROUP_AGE 0.0005
#define GROUP_RESULTS 4096

struct group {
	struct group *next;
	char *path;
	int refs;
	struct sq *conn;
	pthread_mutex_t mu;	  /* the connection and the open batch */
	atomic_int waiting;	  /* writers queued on mu */
	bool open;		  /* a batch (SQLite transaction) is open */
	unsigned long batch;	  /* the open (or last) batch's number */
	int pending;		  /* transactions in the open batch */
	double opened;
	atomic_ulong durable;	  /* every batch up to this one is synced */
	atomic_ulong committed;	  /* the last batch committed, maybe unsynced */
	atomic_bool syncing;	  /* a sync_wal() is running */
	bool wake_closed;	  /* a batch closed: wake its members on unlock */
	_Atomic uint32_t closed;  /* futex: bumped when a batch closes */
	_Atomic uint32_t synced;  /* futex: bumped when a sync ends */
	/* sq_sync_then() calls waiting for a sync, oldest first */
	pthread_mutex_t later_mu;
	struct later *later, **later_tail;
	pthread_t syncer;	      /* runs the syncs they wait for */
	atomic_bool syncer_alive;
	atomic_bool syncer_stop;
	_Atomic uint32_t later_due;   /* futex: bumped when one is queued */
	/*
	 * Each batch's outcome, written once by whoever closes it (mutex
	 * held), `batch` last; slots are reused GROUP_RESULTS batches later,
	 * so a reader checks `batch` again after reading the rest.
	 */
	struct {
		atomic_ulong batch;
		atomic_bool needs_sync; /* committed; durable once synced */
		atomic_int rc;
		char msg[160];
	} result[GROUP_RESULTS];
};

static void group_lock(struct group *g)
{
	pthread_mutex_lock(&g->mu);
}

static void futex_wake_all(_Atomic uint32_t *word);

/*
 * Unlock, then wake the members of a batch closed meanwhile: woken while
 * the mutex was still held, a member could preempt the holder, and every
 * writer would wait for the holder to get a CPU back.
 */
static void group_unlock(struct group *g)
{
	bool wake = g->wake_closed;

	g->wake_closed = false;
	pthread_mutex_unlock(&g->mu);
	if (wake)
		futex_wake_all(&g->closed);
}

/*
 * Sleep while *word is still `seen`, at most `timeout` seconds (0: no
 * limit), or until any wake-up.
 */
static void futex_wait(_Atomic uint32_t *word, uint32_t seen, double timeout)
{
	struct timespec ts = {(time_t)timeout,
			      (long)((timeout - (double)(time_t)timeout) * 1e9)};

	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, seen,
		timeout > 0 ? &ts : NULL, NULL, 0);
}

/* Wake everyone sleeping on *word. */
static void futex_wake_all(_Atomic uint32_t *word)
{
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, INT32_MAX,
		NULL, NULL, 0);
}

/* Bump *word and wake everyone sleeping on it. */
static void futex_bump(_Atomic uint32_t *word)
{
	atomic_fetch_add(word, 1);
	futex_wake_all(word);
}

/*
 * Record the end of the open batch with result `rc` (mutex held).  With
 * `needs_sync` it was committed and its durable members wait for a sync.
 */
static void group_close_batch(struct group *g, int rc, const char *msg,
			      bool needs_sync)
{
	int slot = (int)(g->batch % GROUP_RESULTS);

	atomic_store(&g->result[slot].needs_sync, needs_sync);
	atomic_store(&g->result[slot].rc, rc);
	snprintf(g->result[slot].msg, sizeof(g->result[slot].msg), "%.150s",
		 msg);
	/*
	 * `durable` only ever moves in group_sync(): it means every batch up
	 * to it is synced.  Whoever sees the slot filled must also see
	 * `committed` cover it.
	 */
	if (needs_sync)
		atomic_store(&g->committed, g->batch);
	atomic_store(&g->result[slot].batch, g->batch);
	g->open = false;
	atomic_fetch_add(&g->closed, 1);
	g->wake_closed = true; /* group_unlock() wakes the members */
}

/*
 * Commit (or, if empty, roll back) the open batch and record its outcome
 * (mutex held).
 */
static void group_commit_batch(struct group *g)
{
	struct dd_error cerr = DD_ERROR_INIT;
	bool needs_sync = g->conn->sync_wal && g->pending;
	int rc = 0;

	if (g->pending) {
		rc = exec_stmt(g->conn, "COMMIT", &cerr);
		if (!rc)
			rc = check_lost(g->conn, &cerr);
		/* committed to a file that is gone: nobody will see it */
		if (!rc)
			rc = identity_check(g->conn, &cerr);
		if (rc && !sqlite3_get_autocommit(g->conn->db))
			exec_sql(g->conn, "ROLLBACK", NULL);
		if (rc)
			needs_sync = false; /* nothing to sync */
	} else {
		exec_sql(g->conn, "ROLLBACK", NULL);
	}
	group_close_batch(g, rc, cerr.msg, needs_sync);
}

static void later_run(struct group *g, unsigned long durable, int rc,
		      const struct dd_error *err);

/*
 * Run one sync (the caller won `syncing`): it covers every batch
 * committed before it began.  One sync runs at a time, without the mutex,
 * so the next batches form and commit meanwhile: under load many batches
 * share one flush.  A failed sync moves nothing: its handle refuses every
 * later sync and commit (sync_failed), and the waiters report that.
 * Returns the sync's result.
 */
static int group_sync(struct group *g, struct dd_error *err)
{
	unsigned long upto = atomic_load(&g->committed);
	int rc = sync_wal(g->conn, err);

	if (!rc && atomic_load(&g->durable) < upto)
		atomic_store(&g->durable, upto);
	atomic_store(&g->syncing, false);
	futex_bump(&g->synced);
	if (!rc)
		later_run(g, atomic_load(&g->durable), 0, NULL);
	return rc;
}

/*
 * Wait, without the mutex, until every batch up to `upto` is durable,
 * running the sync unless one is running.
 */
static int group_wait_durable(struct group *g, unsigned long upto,
			      struct dd_error *err)
{
	while (atomic_load(&g->durable) < upto) {
		uint32_t seen = atomic_load(&g->synced);

		if (g->conn->sync_failed)
			return sync_wal(g->conn, err); /* refuses, with the reason */
		if (!atomic_exchange(&g->syncing, true)) {
			int rc = group_sync(g, err);

			if (rc)
				return rc;
		} else if (atomic_load(&g->durable) < upto) {
			futex_wait(&g->synced, seen, 0);
		}
	}
	return 0;
}

/*
 * Wait, without the mutex, until batch `my` is committed and, unless
 * `lazy`, durable: a member that needs its batch durable runs the sync
 * itself unless one is running, so a lazy member never pays for one.
 *
 * The batch is normally closed by a later member of it; if none comes
 * (the writer expected to join gave up, or was refused), a member that
 * has waited a while closes it itself.
 */
static int group_wait(struct group *g, unsigned long my, bool lazy,
		      struct dd_error *err)
{
	int slot = (int)(my % GROUP_RESULTS);
	bool needs_sync;
	int rc;

	for (;;) {
		uint32_t seen = atomic_load(&g->closed);
		unsigned long b = atomic_load(&g->result[slot].batch);

		if (b >= my)
			break;
		futex_wait(&g->closed, seen, 4 * GROUP_AGE);
		if (atomic_load(&g->result[slot].batch) >= my)
			break;
		group_lock(g);
		if (g->open && g->batch == my &&
		    dd_monotonic() - g->opened > 2 * GROUP_AGE)
			group_commit_batch(g);
		group_unlock(g);
	}
	needs_sync = atomic_load(&g->result[slot].needs_sync);
	rc = atomic_load(&g->result[slot].rc);
	if (rc)
		dd_error_set(err, rc, "%s", g->result[slot].msg);
	if (atomic_load(&g->result[slot].batch) != my)
		return dd_error_set(err, DD_ERR_STORE,
				    "the outcome of a commit was lost");
	if (rc || lazy || !needs_sync)
		return rc;
	return group_wait_durable(g, my, err);
}

/*
 * Wait, without the mutex, until every batch committed so far is durable.
 */
static int group_barrier(struct group *g, struct dd_error *err)
{
	return group_wait_durable(g, atomic_load(&g->committed), err);
}

/* ---- waiting for a sync in the background ---------------------------------
 *
 * A worker's pass ends on a lazy commit and hands what it has to tell
 * (the wake-ups of whoever watches the lease) to sq_sync_then(), instead
 * of waiting for the sync itself: the worker goes straight on to its next
 * task, which the WAL orders after the commit anyway.  The group's syncer
 * thread makes sure a sync comes: it waits until every queued call's
 * batches are durable, running a sync unless one is running, and whoever
 * finishes a sync runs the calls it covers.
 */

struct later {
	struct later *next;
	unsigned long upto; /* durable once every batch up to it is */
	dd_store_durable_fn *done;
	void *arg;
};

/*
 * Run the queued calls covered by `durable`, or, with `rc`, every queued
 * call, as failed.  The queue is in order of `upto` (sq_sync_then()
 * reads it under later_mu), but nothing here depends on that.
 */
static void later_run(struct group *g, unsigned long durable, int rc,
		      const struct dd_error *err)
{
	struct later *due = NULL, **tail = &due, *l, **pp;

	pthread_mutex_lock(&g->later_mu);
	g->later_tail = &g->later;
	for (pp = &g->later; (l = *pp);) {
		if (rc || l->upto <= durable) {
			*pp = l->next;
			*tail = l;
			tail = &l->next;
		} else {
			pp = &l->next;
			g->later_tail = pp;
		}
	}
	*tail = NULL;
	pthread_mutex_unlock(&g->later_mu);
	while ((l = due)) {
		due = l->next;
		l->done(l->arg, rc, rc ? err : NULL);
		dd_free(l);
	}
}

static void *group_syncer(void *arg)
{
	struct group *g = arg;

	for (;;) {
		uint32_t due = atomic_load(&g->later_due);
		struct dd_error err = DD_ERROR_INIT;
		unsigned long want = 0;
		int rc;

		pthread_mutex_lock(&g->later_mu);
		for (struct later *l = g->later; l; l = l->next)
			if (l->upto > want)
				want = l->upto;
		pthread_mutex_unlock(&g->later_mu);
		if (!want) {
			if (atomic_load(&g->syncer_stop))
				break;
			futex_wait(&g->later_due, due, 0);
			continue;
		}
		rc = group_wait_durable(g, want, &err);
		/* what an earlier sync made durable, or we did */
		later_run(g, atomic_load(&g->durable), 0, NULL);
		if (rc)
			later_run(g, 0, rc, &err);
	}
	return NULL;
}

/* Start a group's syncer; without one, sq_sync_then() syncs itself. */
static void group_syncer_start(struct group *g)
{
	pthread_mutex_init(&g->later_mu, NULL);
	g->later_tail = &g->later;
	if (!g->conn->sync_wal)
		return; /* nothing is ever waited for */
	if (!pthread_create(&g->syncer, NULL, group_syncer, g))
		atomic_store(&g->syncer_alive, true);
}

/* Stop it once every queued call has run. */
static void group_syncer_stop(struct group *g)
{
	if (atomic_load(&g->syncer_alive)) {
		atomic_store(&g->syncer_stop, true);
		futex_bump(&g->later_due);
		pthread_join(g->syncer, NULL);
	}
	pthread_mutex_destroy(&g->later_mu);
}

static int sq_sync(struct dd_store *s, struct dd_error *err);

static void sq_sync_then(struct dd_store *s, dd_store_durable_fn *then,
			 void *arg)
{
	struct group *g = SQ(s)->group;
	struct dd_error err = DD_ERROR_INIT;
	struct later *l;
	int rc;

	l = g && atomic_load(&g->syncer_alive) && !g->conn->sync_failed
		    ? dd_malloc(sizeof(*l))
		    : NULL;
	if (l) {
		/* read under the mutex, so that the queue stays in order */
		pthread_mutex_lock(&g->later_mu);
		l->next = NULL;
		l->upto = atomic_load(&g->committed);
		l->done = then;
		l->arg = arg;
		if (atomic_load(&g->durable) >= l->upto) {
			pthread_mutex_unlock(&g->later_mu);
			dd_free(l);
			then(arg, 0, NULL);
			return;
		}
		*g->later_tail = l;
		g->later_tail = &l->next;
		pthread_mutex_unlock(&g->later_mu);
		futex_bump(&g->later_due);
		return;
	}
	rc = sq_sync(s, &err);
	then(arg, rc, rc ? &err : NULL);
}

/*
 * After an I/O error, a full disk or running out of memory, SQLite may
 * roll the whole transaction back, not just one savepoint: then the batch
 * is gone and every transaction in it failed.
 */
static void group_check_lost(struct group *g)
{
	if (g->open && sqlite3_get_autocommit(g->conn->db))
		group_close_batch(g, DD_ERR_STORE,
				  "the store rolled the transaction back", false);
}

static pthread_mutex_t groups_mu = PTHREAD_MUTEX_INITIALIZER;
static struct group *groups;

static int sq_open(const char *path, const struct dd_store_options *opt,
		   struct dd_store **out, struct dd_error *err);

static int group_get(const char *path, const struct dd_store_options *opt,
		     struct group **out, struct dd_error *err)
{
	struct dd_store_options plain = *opt;
	struct dd_store *conn;
	struct group *g;
	int rc = 0;

	pthread_mutex_lock(&groups_mu);
	for (g = groups; g; g = g->next)
		if (!strcmp(g->path, path))
			break;
	if (!g) {
		plain.group_commit = false;
		rc = sq_open(path, &plain, &conn, err);
		g = rc ? NULL : dd_calloc(1, sizeof(*g));
		if (!rc && (!g || !(g->path = dd_strdup(path)))) {
			dd_free(g);
			g = NULL;
			sq_close(conn);
			rc = dd_error_set(err, DD_ERR_NOMEM, "out of memory");
		}
		if (!rc) {
			g->conn = SQ(conn);
			pthread_mutex_init(&g->mu, NULL);
			group_syncer_start(g);
			g->next = groups;
			groups = g;
		}
	}
	if (g)
		g->refs++;
	pthread_mutex_unlock(&groups_mu);
	*out = g;
	return rc;
}

static void group_put(struct group *g)
{
	struct group **p;
	bool last;

	pthread_mutex_lock(&groups_mu);
	last = --g->refs == 0;
	if (last)
		for (p = &groups; *p; p = &(*p)->next)
			if (*p == g) {
				*p = g->next;
				break;
			}
	pthread_mutex_unlock(&groups_mu);
	if (!last)
		return;
	/* off the list: opening the store meanwhile starts a new group */
	group_syncer_stop(g); /* may sync first: not under groups_mu */
	sq_close(&g->conn->base);
	pthread_mutex_destroy(&g->mu);
	dd_free(g->path);
	dd_free(g);
}

static int group_end(struct group *g, bool mine, bool lazy,
		     struct dd_error *err);

static int group_begin(struct sq *q, struct dd_error *err)
{
	struct group *g = q->group;
	struct timespec ts;
	double until = dd_now() + q->busy_timeout;
	int rc = 0;

	ts.tv_sec = (time_t)until;
	ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
	atomic_fetch_add(&g->waiting, 1);
	/* timed, like the direct path: a second transaction in the same
	 * thread gets DD_ERR_BUSY rather than waiting for itself */
	rc = pthread_mutex_timedlock(&g->mu, &ts);
	atomic_fetch_sub(&g->waiting, 1);
	if (rc)
		return dd_error_set(err, DD_ERR_BUSY,
				    "store '%s' is locked (begin)",
				    q->base.location);
	if (g->conn->sync_failed) {
		rc = sync_wal(g->conn, err); /* refuses, with the reason */
		/* the open batch cannot be made durable: end it, failed */
		if (g->open) {
			exec_sql(g->conn, "ROLLBACK", NULL);
			group_close_batch(g, rc, err ? err->msg : "", false);
		}
		group_unlock(g);
		return rc;
	}
	group_check_lost(g);
	if (!g->open) {
		rc = exec_stmt(g->conn, "BEGIN IMMEDIATE", err);
		if (!rc) {
			g->open = true;
			g->batch++;
			g->pending = 0;
			g->opened = dd_monotonic();
		}
	}
	if (rc) {
		group_unlock(g);
		return rc;
	}
	rc = exec_stmt(g->conn, "SAVEPOINT lt", err);
	if (rc) {
		/* leave no batch open that nobody would commit */
		group_end(g, false, false, NULL);
		return rc;
	}
	q->db = g->conn->db;
	return 0;
}

/*
 * End this thread's part of the batch (with the mutex held): commit the
 * batch if nobody else is about to join it, unlock the mutex, then, if
 * `mine` is set, wait for the batch's result (group_wait).
 */
static int group_end(struct group *g, bool mine, bool lazy,
		     struct dd_error *err)
{
	unsigned long my = g->batch;

	group_check_lost(g);
	if (g->open && (atomic_load(&g->waiting) == 0 ||
			g->pending >= GROUP_MAX ||
			dd_monotonic() - g->opened > GROUP_AGE))
		group_commit_batch(g);
	group_unlock(g);
	return mine ? group_wait(g, my, lazy, err) : 0;
}

static int group_commit(struct sq *q, bool lazy, struct dd_error *err)
{
	struct group *g = q->group;
	int rc = exec_stmt(g->conn, "RELEASE lt", err);

	q->db = q->own_db;
	if (rc) {
		exec_sql(g->conn, "ROLLBACK TO lt; RELEASE lt", NULL);
		group_end(g, false, false, NULL);
		return rc;
	}
	g->pending++;
	return group_end(g, true, lazy, err);
}

static void group_rollback(struct sq *q)
{
	struct group *g = q->group;

	exec_sql(g->conn, "ROLLBACK TO lt; RELEASE lt", NULL);
	q->db = q->own_db;
	group_end(g, false, false, NULL);
}

/*
 * SQLite's memory statistics take a global mutex on every allocation, and
 * with a dozen threads in SQLite at once that mutex is contended on every
 * statement.  Nothing here reads the statistics.  This must run before
 * SQLite initializes; if the program already used SQLite, it fails
 * harmlessly.
 */
static void sqlite_setup(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/*
 * The store holds every token's hash, every lease and its log: whoever
 * can read it, or its WAL, learns them.  SQLite makes a new database with
 * mode 0644 less the umask, and its -wal and -shm files with the mode
 * of the database.  So a missing store file is made here, 0600 whatever
 * the umask, before SQLite opens it (to SQLite an empty file is a new
 * database), and its -wal and -shm files follow.  An existing store, WAL,
 * shared memory or store directory that other users may open is not
 * changed (the operator may have a reason) but warned about, once per
 * process.
 */
static void keep_private(const char *path)
{
	static atomic_bool warned;
	static const char *const suffixes[] = {"", "-wal", "-shm"};
	char file[PATH_MAX];
	struct stat st;
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		      0600);

	if (fd >= 0) {
		fchmod(fd, 0600);
		close(fd);
	}
	if (atomic_exchange(&warned, true))
		return;
	dd_store_local_dir(path, file, sizeof(file));
	if (!stat(file, &st) && (st.st_mode & 077))
		fprintf(stderr,
			"drydock: warning: the store's directory '%s' is "
			"open to other users (mode %04o); it should be "
			"0700\n",
			file, (unsigned)(st.st_mode & 07777));
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(*suffixes); i++) {
		snprintf(file, sizeof(file), "%s%s", path, suffixes[i]);
		if (!stat(file, &st) && (st.st_mode & 077))
			fprintf(stderr,
				"drydock: warning: '%s' is open to other "
				"users (mode %04o); it should be 0600\n",
				file, (unsigned)(st.st_mode & 07777));
	}
}

static int sq_open(const char *path, const struct dd_store_options *opt,
		   struct dd_store **out, struct dd_error *err)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct sq *q;
	char pragmas[256];
	int rc;

	pthread_once(&once, sqlite_setup);
	q = dd_calloc(1, sizeof(*q));

	if (!q)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	q->wal_fd = -1;
	q->base.ops = &dd_sqlite_store_ops;
	q->sql.drv = &dd_sqlite_sql_driver;
	q->base.location = dd_strdup(path);
	if (!q->base.location) {
		dd_free(q);
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	}
	/* never make an empty store where a store should be */
	rc = opt->must_exist ? header_check(path, NULL, err) : 0;
	if (rc) {
		sq_close(&q->base);
		return rc;
	}
	keep_private(path);
	rc = sqlite3_open_v2(path, &q->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
				     (opt->must_exist ? 0 : SQLITE_OPEN_CREATE),
			     /* the system's own VFS, for comparison */
			     getenv("DRYDOCK_SQLITE_PLAIN_VFS")
				     ? NULL
				     : dd_sqlite_vfs_register());
	if (rc != SQLITE_OK) {
		dd_error_set(err, DD_ERR_STORE, "cannot open store '%s': %s",
			     path,
			     q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
		sq_close(&q->base);
		return DD_ERR_STORE;
	}
	q->own_db = q->db;
	q->busy_timeout = opt->busy_timeout_ms / 1000.0;
	if (getenv("DRYDOCK_SQLITE_BUSY"))
		sqlite3_busy_timeout(q->db, opt->busy_timeout_ms);
	else
		sqlite3_busy_handler(q->db, busy_wait, q);
	sqlite3_commit_hook(q->db, count_commit, NULL);
	/* durable commits are synced by sync_wal(), outside the lock */
	q->sync_wal = opt->durability == DD_DURABILITY_FULL &&
		      !getenv("DRYDOCK_SQLITE_SYNC_FULL");
	snprintf(pragmas, sizeof(pragmas),
		 "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s;"
		 " PRAGMA foreign_keys=OFF; PRAGMA temp_store=MEMORY;",
		 opt->durability == DD_DURABILITY_FULL && !q->sync_wal
			 ? "FULL"
			 : "NORMAL");
	rc = opt->must_exist ? header_check(path, q->db, err) : 0;
	if (!rc)
		rc = exec_sql(q, pragmas, err);
	if (!rc) {
		struct stat st;

		if (stat(path, &st))
			rc = dd_error_set(err, DD_ERR_STORE,
					  "cannot open store '%s': %s", path,
					  strerror(errno));
		q->dev = rc ? 0 : st.st_dev;
		q->ino = rc ? 0 : st.st_ino;
	}
	if (!rc && opt->group_commit)
		rc = group_get(path, opt, &q->group, err);
	if (rc) {
		sq_close(&q->base);
		return rc;
	}
	*out = &q->base;
	return 0;
}

static int user_version(struct sq *q, int *out, struct dd_error *err)
{
	sqlite3_stmt *st;
	int rc = prep(q, "PRAGMA user_version", &st, err);

	if (rc)
		return rc;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		done(q, st);
		return fail(q, rc, err, "read schema version");
	}
	*out = sqlite3_column_int(st, 0);
	done(q, st);
	return 0;
}

static int sq_schema_version(struct dd_store *s, int *current, int *newest,
			     struct dd_error *err)
{
	*newest = DD_SQLITE_SCHEMA_VERSION;
	return user_version(SQ(s), current, err);
}

static int sq_migrate(struct dd_store *s, struct dd_error *err)
{
	struct sq *q = SQ(s);
	int v, rc;
	char sql[64];

	rc = exec_stmt(q, "BEGIN IMMEDIATE", err);
	if (rc)
		return rc;
	rc = user_version(q, &v, err);
	if (!rc && v > DD_SQLITE_SCHEMA_VERSION)
		rc = dd_error_set(err, DD_ERR_STORE,
				  "store '%s' has schema version %d, newer "
				  "than this drydock's %d",
				  q->base.location, v, DD_SQLITE_SCHEMA_VERSION);
	for (; !rc && v < DD_SQLITE_SCHEMA_VERSION; v++) {
		rc = exec_sql(q, dd_sqlite_migrations[v], err);
		if (!rc) {
			snprintf(sql, sizeof(sql), "PRAGMA user_version=%d",
				 v + 1);
			rc = exec_sql(q, sql, err);
		}
	}
	if (rc) {
		exec_sql(q, "ROLLBACK", NULL);
		return rc;
	}
	rc = exec_stmt(q, "COMMIT", err);
	if (!rc && q->sync_wal)
		rc = sync_wal(q, err);
	return rc;
}

/* ---- transactions -------------------------------------------------------- */

/*
 * Writers in one process queue on this mutex rather than on SQLite's write
 * lock: SQLite makes a waiting writer sleep and poll, so under contention
 * the lock goes to whoever polls at the right moment, and the unlucky ones
 * wait tens of milliseconds.  The mutex hands it over in turn, at once.
 * Writers in other processes still meet at SQLite's lock (busy_wait).
 */
static pthread_mutex_t write_mu = PTHREAD_MUTEX_INITIALIZER;

static int lock_write_mu(struct sq *q)
{
	struct timespec ts;
	double until = dd_now() + q->busy_timeout;

	ts.tv_sec = (time_t)until;
	ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
	return pthread_mutex_timedlock(&write_mu, &ts);
}

static int sq_begin(struct dd_store *s, struct dd_error *err)
{
	int rc;

	if (SQ(s)->group)
		return group_begin(SQ(s), err);
	if (SQ(s)->sync_failed)
		return sync_wal(SQ(s), err); /* refuses, with the reason */
	/* a second handle in the same thread must not wait for ever */
	if (lock_write_mu(SQ(s)))
		return dd_error_set(err, DD_ERR_BUSY,
				    "store '%s' is locked (begin)",
				    s->location);
	rc = exec_stmt(SQ(s), "BEGIN IMMEDIATE", err);
	if (rc)
		pthread_mutex_unlock(&write_mu);
	return rc;
}

static int sq_commit(struct dd_store *s, struct dd_error *err)
{
	struct sq *q = SQ(s);
	bool lazy = q->lazy;
	int rc;

	q->lazy = false;
	if (q->group)
		return group_commit(q, lazy, err);
	rc = exec_stmt(q, "COMMIT", err);
	if (!rc)
		rc = check_lost(q, err);
	/* committed to a file that is gone: nobody will see it */
	if (!rc)
		rc = identity_check(q, err);
	if (rc && !sqlite3_get_autocommit(q->db))
		exec_sql(q, "ROLLBACK", NULL);
	pthread_mutex_unlock(&write_mu);
	if (!rc && q->sync_wal && !lazy)
		rc = sync_wal(q, err);
	return rc;
}

static void sq_rollback(struct dd_store *s)
{
	struct sq *q = SQ(s);

	if (q->group) {
		group_rollback(q);
		return;
	}
	if (!sqlite3_get_autocommit(q->db))
		exec_sql(q, "ROLLBACK", NULL);
	pthread_mutex_unlock(&write_mu);
}

/*
 * Commit the outermost transaction without waiting for the disk: it is in
 * the store and visible to everyone at once, and the next durable commit
 * of any handle (the WAL is synced as a whole, in order) makes it durable
 * too.  Only for writes whose loss in a power cut the queue already
 * survives: a task's claim, finish and retry (see store.h).
 */
static int sq_commit_lazy(struct dd_store *s, struct dd_error *err)
{
	SQ(s)->lazy = true;
	return sq_commit(s, err);
}

static int sq_sync(struct dd_store *s, struct dd_error *err)
{
	struct sq *q = SQ(s);

	if (q->group)
		return group_barrier(q->group, err);
	return q->sync_wal ? sync_wal(q, err) : 0;
}

/* ---- what a single writer makes safe: locks, fences, the claim ---------
 *
 * These are this backend's, not shared SQL (sql_*.c), because they are
 * sound only because SQLite has one writer at a time (BEGIN IMMEDIATE):
 * take_lock() reads a lock row, then deletes and inserts it; the fence
 * check reads the grant without locking its row, relying on nobody
 * being able to take the lock over before this transaction commits; and
 * the claim looks for a task before it takes the write lock, then looks
 * again inside it.  docs/architecture.md (Store) says how each must work
 * on a backend with concurrent writers.
 */

/* Is grant `g` still current?  Inside the write transaction it fences. */
static int sq_fence_check(struct dd_store *s, const struct dd_lock_grant *g,
			  double now, struct dd_error *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	int rc = prep(q,
		      "SELECT 1 FROM lock WHERE token = ?1 AND name = ?2"
		      " AND expires > ?3",
		      &st, err);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, g->token);
	sqlite3_bind_text(st, 2, g->name, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 3, now);
	rc = sqlite3_step(st);
	done(q, st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc != SQLITE_DONE)
		return fail(q, rc, err, "fence check");
	return dd_error_set(err, DD_ERR_FENCED,
			    "lock '%s' grant %lld expired or was taken over",
			    g->name, g->token);
}

/*
 * Take lock `g->name` for `owner` unless it is held (in a transaction):
 * an expired holder's row is deleted and a new row, with a new token,
 * inserted.
 */
static int take_lock(struct sq *q, struct dd_lock_grant *g, const char *owner,
		     double now, double ttl, struct dd_error *err)
{
	sqlite3_stmt *st;
	bool held = false;
	int rc;

	rc = prep(q, "SELECT expires FROM lock WHERE name = ?1", &st, err);
	if (!rc) {
		sqlite3_bind_text(st, 1, g->name, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		held = rc == SQLITE_ROW && sqlite3_column_double(st, 0) > now;
		done(q, st);
		rc = (rc == SQLITE_ROW || rc == SQLITE_DONE)
			     ? 0
			     : fail(q, rc, err, "read lock");
	}
	if (!rc && held)
		rc = dd_error_set(err, DD_ERR_BUSY, "lock '%s' is held",
				  g->name);
	if (!rc)
		rc = prep(q, "DELETE FROM lock WHERE name = ?1", &st, err);
	if (!rc) {
		sqlite3_bind_text(st, 1, g->name, -1, SQLITE_STATIC);
		rc = step_done(q, st, err, "take over lock");
	}
	if (!rc)
		rc = prep(q,
			  "INSERT INTO lock(name, owner, expires)"
			  " VALUES(?1, ?2, ?3)",
			  &st, err);
	if (!rc) {
		sqlite3_bind_text(st, 1, g->name, -1, SQLITE_STATIC);
		if (owner)
			sqlite3_bind_text(st, 2, owner, -1, SQLITE_TRANSIENT);
		sqlite3_bind_double(st, 3, now + ttl);
		rc = step_done(q, st, err, "acquire lock");
	}
	if (!rc)
		g->token = sqlite3_last_insert_rowid(q->db);
	return rc;
}

static int sq_lock_acquire(struct dd_store *s, const char *owner, double now,
			   double ttl, struct dd_lock_grant *grant,
			   struct dd_error *err)
{
	int rc = dd_store_begin(s, err);

	if (rc)
		return rc;
	rc = take_lock(SQ(s), grant, owner, now, ttl, err);
	if (rc) {
		dd_store_rollback(s);
		return rc;
	}
	return dd_store_commit(s, err);
}

static int claim_first(struct sq *q, const char *sql, const char *machine,
		       double now, struct dd_task *out, bool *found,
		       struct dd_error *err)
{
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(&q->sql, sql, &st, err);

	if (rc)
		return rc;
	dd_sql_double(&q->sql, st, 1, now);
	dd_sql_text_or_null(&q->sql, st, 2, machine);
	rc = dd_sql_get(&q->sql, st, dd_sql_task_row, out, err, "claim task");
	*found = !rc;
	return rc == DD_ERR_NOTFOUND ? 0 : rc;
}

#define CLAIM_QUEUED                                                           \
	"SELECT " DD_SQL_TASK_COLS " FROM task WHERE claimed_by IS NULL"       \
	" AND not_before <= ?1 AND " DD_SQL_OBJECT_UNLOCKED                    \
	" AND " DD_SQL_TASK_ON_MACHINE                                         \
	" ORDER BY not_before, id LIMIT 1"
#define CLAIM_EXPIRED                                                          \
	"SELECT " DD_SQL_TASK_COLS " FROM task WHERE claimed_by IS NOT NULL"   \
	" AND claim_expires <= ?1 AND " DD_SQL_OBJECT_UNLOCKED                 \
	" AND " DD_SQL_TASK_ON_MACHINE                                         \
	" ORDER BY claim_expires, id LIMIT 1"

static int sq_task_claim(struct dd_store *s, const char *worker,
			 const char *machine, double now, double claim_ttl,
			 struct dd_task *out, struct dd_error *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	bool found = false;
	int rc;

	/*
	 * Look before taking the write lock: idle workers woken together
	 * must not each pay for a durable empty transaction.
	 */
	if (s->depth == 0) {
		rc = claim_first(q, CLAIM_QUEUED, machine, now, out, &found,
				 err);
		if (!rc && !found)
			rc = claim_first(q, CLAIM_EXPIRED, machine, now, out,
					 &found, err);
		if (found)
			dd_task_release(out);
		if (rc)
			return rc;
		if (!found)
			return DD_ERR_NOTFOUND;
		found = false;
	}
	rc = dd_store_begin(s, err);
	if (rc)
		return rc;
	rc = claim_first(q, CLAIM_QUEUED, machine, now, out, &found, err);
	if (!rc && !found)
		rc = claim_first(q, CLAIM_EXPIRED, machine, now, out, &found,
				 err);
	if (!rc && found) {
		dd_task_lock_name(out->object, &out->lock);
		rc = take_lock(q, &out->lock, worker, now, claim_ttl, err);
	}
	if (!rc && found)
		rc = prep(q,
			  "UPDATE task SET claimed_by = ?2, claim_token ="
			  " claim_token + 1, claim_expires = ?3 WHERE id = ?1",
			  &st, err);
	if (!rc && found) {
		sqlite3_bind_int64(st, 1, out->id);
		sqlite3_bind_text(st, 2, worker, -1, SQLITE_STATIC);
		sqlite3_bind_double(st, 3, now + claim_ttl);
		rc = step_done(q, st, err, "claim task");
	}
	if (!rc && found) {
		/*
		 * A claimed task no longer counts as queued, so a task that
		 * is re-claimed after its claimant died may meet a newer
		 * queued one for the same object; that is fine, the object
		 * lock serializes them.
		 */
		dd_free(out->claimed_by);
		out->claimed_by = dd_strdup(worker);
		out->claim_token++;
		out->claim_expires = now + claim_ttl;
		out->more = true; /* not looked for */
	}
	if (rc) {
		if (found)
			dd_task_release(out);
		dd_store_rollback(s);
		return rc;
	}
	if (!found) {
		/*
		 * Somebody else was quicker: nothing was written.  Inside a
		 * caller's transaction (a finish that claims the next task)
		 * that must not fail the caller's writes.
		 */
		if (s->depth > 1)
			dd_store_commit(s, NULL);
		else
			dd_store_rollback(s);
		return DD_ERR_NOTFOUND;
	}
	rc = dd_store_commit_lazy(s, err);
	if (rc) {
		dd_task_release(out);
		return rc;
	}
	return 0;
}

/* ---- health and integrity ---------------------------------------------- */

/*
 * For a readiness probe, without a query on the store: the file at the
 * path still looks like a database (header_check), the process's group
 * connection to it, the one every write of the daemon's workers and the
 * API goes through, still has that very file open and refuses nothing,
 * and nobody in the process met damage in it.
 */
static int sq_health(struct dd_store *s, struct dd_error *err)
{
	struct sq *q = SQ(s);
	char msg[384];
	struct group *g;
	int rc = header_check(q->base.location, q->own_db, err);

	if (!rc)
		rc = identity_check(q, err);
	pthread_mutex_lock(&groups_mu);
	for (g = groups; g && strcmp(g->path, q->base.location); g = g->next)
		;
	if (!rc && g)
		rc = g->conn->sync_failed ? sync_wal(g->conn, err)
					  : identity_check(g->conn, err);
	pthread_mutex_unlock(&groups_mu);
	if (!rc && damage_find(q->base.location, msg, sizeof(msg)))
		rc = dd_error_set(err, DD_ERR_DAMAGED, "%s", msg);
	return rc;
}

static int check_progress(void *arg)
{
	struct dd_store_check *c = arg;

	return c->cancelled && c->cancelled(c->arg);
}

/*
 * SQLite's own checks, on this handle's connection: integrity_check
 * reads every page and checks every index against its table;
 * quick_check leaves out the indexes' contents.  At most 100 problems
 * are listed.  Found problems are damage, recorded like any other.
 */
static int sq_check(struct dd_store *s, struct dd_store_check *c,
		    struct dd_error *err)
{
	struct sq *q = SQ(s);
	const char *what = c->quick ? "quick_check" : "integrity_check";
	char first[160] = "";
	sqlite3_stmt *st;
	int rc;

	c->problems = 0;
	c->what = what;
	rc = sqlite3_prepare_v2(q->own_db,
				c->quick ? "PRAGMA quick_check(100)"
					 : "PRAGMA integrity_check(100)",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return fail(q, rc, err, what);
	sqlite3_progress_handler(q->own_db, 10000, check_progress, c);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);

		if (t && !strcmp(t, "ok"))
			continue;
		if (!c->problems++)
			snprintf(first, sizeof(first), "%s", t ? t : "?");
		if (c->problem)
			c->problem(c->arg, t ? t : "?");
	}
	sqlite3_progress_handler(q->own_db, 0, NULL, NULL);
	if (rc == SQLITE_INTERRUPT) {
		sqlite3_finalize(st);
		return dd_error_set(err, DD_ERR_INTERRUPTED,
				    "the %s of store '%s' was stopped", what,
				    q->base.location);
	}
	/* SQLite may give up on a page after listing some problems */
	rc = rc == SQLITE_DONE || c->problems ? 0 : fail(q, rc, err, what);
	sqlite3_finalize(st);
	if (!rc && c->problems)
		rc = damaged(q->base.location, err, true, "%s found %lld problem%s: %s",
			     what, c->problems, c->problems == 1 ? "" : "s",
			     first);
	return rc;
}

const struct dd_store_ops dd_sqlite_store_ops = {
	.version = DD_STORE_OPS_VERSION,
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.migrate = sq_migrate,
	.schema_version = sq_schema_version,
	.health = sq_health,
	.check = sq_check,
	.begin = sq_begin,
	.commit = sq_commit,
	.commit_lazy = sq_commit_lazy,
	.sync = sq_sync,
	.sync_then = sq_sync_then,
	.rollback = sq_rollback,
	.fence_check = sq_fence_check,
	.blueprint_insert = dd_sql_blueprint_insert,
	.blueprint_update = dd_sql_blueprint_update,
	.blueprint_get = dd_sql_blueprint_get,
	.blueprint_lock = dd_sql_blueprint_lock,
	.blueprint_list = dd_sql_blueprint_list,
	.resource_insert = dd_sql_resource_insert,
	.resource_update = dd_sql_resource_update,
	.resource_get = dd_sql_resource_get,
	.resource_hold = dd_sql_resource_hold,
	.resource_lock = dd_sql_resource_lock,
	.resource_each = dd_sql_resource_each,
	.lease_insert = dd_sql_lease_insert,
	.lease_update = dd_sql_lease_update,
	.lease_get = dd_sql_lease_get,
	.lease_waiting_hold = dd_sql_lease_waiting_hold,
	.lease_each = dd_sql_lease_each,
	.lease_count = dd_sql_lease_count,
	.stats = dd_sql_stats,
	.target_insert = dd_sql_target_insert,
	.target_update = dd_sql_target_update,
	.target_get = dd_sql_target_get,
	.target_hold = dd_sql_target_hold,
	.target_lock = dd_sql_target_lock,
	.target_each = dd_sql_target_each,
	.artifact_insert = dd_sql_artifact_insert,
	.artifact_get = dd_sql_artifact_get,
	.artifact_each = dd_sql_artifact_each,
	.artifact_release_all = dd_sql_artifact_release_all,
	.artifact_append = dd_sq_artifact_append,
	.artifact_complete = dd_sq_artifact_complete,
	.artifact_read = dd_sq_artifact_read,
	.artifact_delete = dd_sq_artifact_delete,
	.artifact_prune = dd_sq_artifact_prune,
	.command_insert = dd_sql_command_insert,
	.command_list = dd_sql_command_list,
	.command_consume = dd_sql_command_consume,
	.log_append = dd_sql_log_append,
	.log_list = dd_sql_log_list,
	.slot_acquire = dd_sql_slot_acquire,
	.slot_release = dd_sql_slot_release,
	.slot_list = dd_sql_slot_list,
	.task_schedule = dd_sql_task_schedule,
	.task_claim = sq_task_claim,
	.task_finish = dd_sql_task_finish,
	.task_retry = dd_sql_task_retry,
	.task_next_due = dd_sql_task_next_due,
	.task_list = dd_sql_task_list,
	.task_archive_list = dd_sql_task_archive_list,
	.lock_acquire = sq_lock_acquire,
	.lock_release = dd_sql_lock_release,
	.lock_renew = dd_sql_lock_renew,
	.task_renew = dd_sql_task_renew,
	.counter_get = dd_sql_counter_get,
	.counter_bump = dd_sql_counter_bump,
	.counter_hold = dd_sql_counter_hold,
	.token_insert = dd_sql_token_insert,
	.token_get = dd_sql_token_get,
	.token_get_by_name = dd_sql_token_get_by_name,
	.token_get_by_hash = dd_sql_token_get_by_hash,
	.token_list = dd_sql_token_list,
	.token_revoke = dd_sql_token_revoke,
	.token_touch = dd_sql_token_touch,
	.idem_get = dd_sql_idem_get,
	.idem_insert = dd_sql_idem_insert,
	.idem_prune = dd_sql_idem_prune,
	.authorization_request = dd_sql_authorization_request,
	.authorization_get = dd_sql_authorization_get,
	.authorization_list = dd_sql_authorization_list,
	.authorization_hold = dd_sql_authorization_hold,
	.authorization_decide = dd_sql_authorization_decide,
};
