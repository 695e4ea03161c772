/*
 * test_sqlite_vfs.c - the VFS that writes a commit's WAL frames in one
 * call: fewer writes, the same bytes on disk, at the same moments.
 *
 * Each test drives SQLite directly through the VFS, with plain
 * connections in WAL mode, as the store opens them.
 */
#include "testutil.h"
#include "store/sqlite_vfs.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>

static const char *vfs;

/* the numbers 1 to N as rows of `s(value)` */
#define SERIES(n)                                                              \
	"WITH RECURSIVE s(value) AS (SELECT 1 UNION ALL SELECT value + 1"      \
	" FROM s WHERE value < " #n ") "

static int setup(void **state)
{
	struct test_env *e = calloc(1, sizeof(*e));
	const char *tmp = getenv("TMPDIR");

	snprintf(e->dir, sizeof(e->dir), "%s/dd-unit-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->path, sizeof(e->path), "%s/v.db", e->dir);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct test_env *e = *state;

	dd_remove_tree(e->dir);
	free(e);
	return 0;
}

static sqlite3 *open_db(const char *path)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db,
					 SQLITE_OPEN_READWRITE |
						 SQLITE_OPEN_CREATE,
					 vfs),
			 SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "PRAGMA journal_mode=WAL;"
				      " PRAGMA synchronous=NORMAL;"
				      " PRAGMA wal_autocheckpoint=0;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	return db;
}

static void exec_ok(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg ? msg : "?");
}

static long long one_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	long long v;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/*
 * Open a copy of the store's database and WAL as they are on disk now:
 * what a crash at this moment would leave.
 */
static sqlite3 *open_crash_copy(struct test_env *e)
{
	char cmd[5 * PATH_MAX], copy[PATH_MAX + 16];

	snprintf(copy, sizeof(copy), "%s/copy.db", e->dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && cp '%s-wal' '%s-wal'",
		 e->path, copy, e->path, copy);
	assert_int_equal(system(cmd), 0);
	return open_db(copy);
}

/*
 * A commit of a dozen pages is one write, and another connection sees
 * all of it as soon as the commit returns.
 */
static void test_commit_is_one_write(void **state)
{
	struct test_env *e = *state;
	sqlite3 *w = open_db(e->path), *r;
	long long before;

	exec_ok(w, "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)");
	r = open_db(e->path);
	before = dd_sqlite_vfs_wal_writes();
	exec_ok(w, "BEGIN; INSERT INTO t " SERIES(12)
		   "SELECT value, randomblob(3000) FROM s; COMMIT");
	/* 12 overflowing rows: a dozen pages or more, one call */
	assert_int_equal(dd_sqlite_vfs_wal_writes() - before, 1);
	assert_int_equal(one_int(r, "SELECT count(*) FROM t"), 12);
	assert_int_equal(one_int(r, "SELECT sum(length(v)) FROM t"), 36000);
	sqlite3_close(r);
	sqlite3_close(w);
}

/*
 * A commit bigger than one call may write goes out in parts, and reads
 * back intact, through another connection and after reopening.
 */
static void test_big_commit_in_parts(void **state)
{
	struct test_env *e = *state;
	sqlite3 *w = open_db(e->path), *r;
	long long before, writes;

	exec_ok(w, "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)");
	before = dd_sqlite_vfs_wal_writes();
	exec_ok(w, "BEGIN; INSERT INTO t " SERIES(300)
		   "SELECT value, randomblob(3000) FROM s;"
		   " COMMIT");
	writes = dd_sqlite_vfs_wal_writes() - before;
	/* about 1 MB of frames: 8 or 9 calls of at most 128 KiB */
	assert_true(writes >= 7 && writes <= 12);
	r = open_db(e->path);
	assert_int_equal(one_int(r, "SELECT count(*) FROM t"), 300);
	assert_int_equal(one_int(r, "SELECT sum(length(v)) FROM t"), 900000);
	sqlite3_close(r);
	sqlite3_close(w);
	r = open_db(e->path);
	assert_int_equal(one_int(r, "SELECT count(*) FROM t"), 300);
	sqlite3_close(r);
}

/*
 * Frames spilled by a transaction that then rolls back must not land on
 * top of what the next writer commits in the same place of the WAL.
 */
static void test_spilled_rollback_leaves_no_trace(void **state)
{
	struct test_env *e = *state;
	sqlite3 *a = open_db(e->path), *b, *r;

	exec_ok(a, "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)");
	b = open_db(e->path);
	/* a page cache of 10 pages: a big transaction spills frames */
	exec_ok(a, "PRAGMA cache_size=10");
	exec_ok(a, "BEGIN; INSERT INTO t " SERIES(200)
		   "SELECT value, randomblob(3000) FROM s");
	exec_ok(a, "ROLLBACK");
	exec_ok(b, "INSERT INTO t VALUES(1, 'kept')");
	/* a's WAL is touched again: anything it still held would go out */
	exec_ok(a, "INSERT INTO t VALUES(2, 'also kept')");
	sqlite3_close(a);
	sqlite3_close(b);
	r = open_db(e->path);
	assert_int_equal(one_int(r, "SELECT count(*) FROM t"), 2);
	assert_int_equal(one_int(r, "SELECT count(*) FROM t WHERE k = 1"
				    " AND v = 'kept'"),
			 1);
	assert_int_equal(one_int(r, "SELECT count(*) FROM pragma_integrity_check"
				    " WHERE integrity_check = 'ok'"),
			 1);
	sqlite3_close(r);
}

/*
 * Nothing waits in memory once a commit returns: a copy of the files
 * taken right then (what a crash would leave) holds the commit.
 */
static void test_commit_is_on_disk_when_it_returns(void **state)
{
	struct test_env *e = *state;
	sqlite3 *w = open_db(e->path), *r;

	exec_ok(w, "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)");
	exec_ok(w, "INSERT INTO t " SERIES(40)
		   "SELECT value, randomblob(500) FROM s");
	r = open_crash_copy(e);
	assert_int_equal(one_int(r, "SELECT count(*) FROM t"), 40);
	sqlite3_close(r);
	sqlite3_close(w);
}

/*
 * A write that fails is reported by the commit, and the commit is not
 * seen by anyone: the file size limit makes the WAL write fail.  The
 * commit's frames fit in one gathered run, so only the write made when
 * the commit frame arrives can report it.
 */
static void test_failed_write_fails_the_commit(void **state)
{
	struct test_env *e = *state;
	sqlite3 *w = open_db(e->path), *r;
	struct rlimit old, lim;
	char wal[PATH_MAX + 32];
	struct stat st;
	void (*prev)(int);
	int rc;

	exec_ok(w, "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)");
	exec_ok(w, "INSERT INTO t VALUES(1, 'before')");
	r = open_db(e->path);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	/* room for a page more than the WAL holds; the commit needs ten */
	snprintf(wal, sizeof(wal), "%s-wal", e->path);
	assert_int_equal(stat(wal, &st), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)st.st_size + 4096;
	prev = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	rc = sqlite3_exec(w, "INSERT INTO t " SERIES(10)
			     "SELECT value + 1, randomblob(3000) FROM s",
			  NULL, NULL, NULL);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, prev);
	assert_int_not_equal(rc, SQLITE_OK);
	assert_int_equal(one_int(r, "SELECT count(*) FROM t"), 1);
	/* and the store goes on once the disk has room again */
	exec_ok(w, "INSERT INTO t VALUES(2, 'after')");
	assert_int_equal(one_int(r, "SELECT count(*) FROM t"), 2);
	sqlite3_close(r);
	sqlite3_close(w);
}

/*
 * A transaction that spills and then changes a spilled page makes SQLite
 * rewrite the frame headers after the commit frame, and the last of them
 * goes out at the shared-memory barrier: intact when that write works;
 * when it fails, the WAL is marked lost and refuses everything after.
 */
static void spill_and_rewrite(sqlite3 *w)
{
	exec_ok(w, "PRAGMA cache_size=10");
	exec_ok(w, "BEGIN");
	exec_ok(w, "INSERT INTO t " SERIES(200)
		   "SELECT value, randomblob(3000) FROM s");
	exec_ok(w, "UPDATE t SET v = randomblob(3000) WHERE k <= 10");
}

static void test_late_write(void **state)
{
	struct test_env *e = *state;
	sqlite3 *w = open_db(e->path), *r;

	exec_ok(w, "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)");
	spill_and_rewrite(w);
	exec_ok(w, "COMMIT");
	assert_int_equal(dd_sqlite_vfs_lost(w), 0);
	/* what a crash right now would leave holds all of it */
	r = open_crash_copy(e);
	assert_int_equal(one_int(r, "SELECT count(*) FROM t"), 200);
	sqlite3_close(r);

	exec_ok(w, "DELETE FROM t");
	spill_and_rewrite(w);
	dd_sqlite_vfs_fail_late_writes(true);
	/* SQLite cannot hear of it: the store asks (check_lost()) */
	sqlite3_exec(w, "COMMIT", NULL, NULL, NULL);
	dd_sqlite_vfs_fail_late_writes(false);
	assert_int_not_equal(dd_sqlite_vfs_lost(w), 0);
	assert_int_not_equal(sqlite3_exec(w, "INSERT INTO t VALUES(1000, 'x')",
					  NULL, NULL, NULL),
			     SQLITE_OK);
	sqlite3_close(w);
}

/* The store itself opens its connections through the VFS. */
static void test_store_uses_the_vfs(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *s;
	long long before = dd_sqlite_vfs_wal_writes();

	assert_ok(dd_store_open(e->path, NULL, &s, &err), &err);
	assert_ok(dd_store_migrate(s, &err), &err);
	/* the migrations are one commit of many pages */
	assert_true(dd_sqlite_vfs_wal_writes() - before >= 1);
	assert_true(dd_sqlite_vfs_wal_writes() - before <= 3);
	dd_store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_commit_is_one_write,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_commit_in_parts,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_spilled_rollback_leaves_no_trace, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_commit_is_on_disk_when_it_returns, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_failed_write_fails_the_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_write, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_store_uses_the_vfs, setup,
						teardown),
	};

	vfs = dd_sqlite_vfs_register();
	if (!vfs) {
		fprintf(stderr, "the drydock VFS could not be registered\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
