/*
 * test_store_sqlite.c - what only the SQLite backend does, beyond the
 * store conformance suite (test_store.c): a location's form picking the
 * backend (a path is SQLite), schema versions read and written with
 * sqlite3 (a newer store refused, a version 1 store upgraded), group
 * commit and its syncs failing (dd_sqlite_fail_syncs()), the single
 * writer (a second write transaction waits, then is refused), WAL writes
 * failing after the commit, and the store's file deleted, emptied or
 * damaged, and page reads counted through drydock's VFS.
 *
 * Each test gets its own temporary directory and migrated SQLite store
 * (store_test.h's SQLite backend), whose location is its file's path.
 */
#include "store_test.h"
#include "store/schema_sqlite.h"
#include "store/sqlite.h"
#include "store/sqlite_vfs.h"

#include <sqlite3.h>
#include <sys/stat.h>

static int setup(void **state)
{
	*state = (void *)&sqlite_backend;
	return store_env_setup(state);
}

static int teardown(void **state)
{
	/* a failing test must not leave the syncs failing for the next one */
	dd_sqlite_fail_syncs(false);
	return store_env_teardown(state);
}

/*
 * A location names its backend by its form: PostgreSQL's URI and
 * keyword forms go to PostgreSQL (here, servers nobody answers at: a
 * clear failure to connect, and no file of that name made); a file path,
 * even one with '=' in it, is SQLite.
 */
static void test_open_location_forms(void **state)
{
	static const char *const postgres[] = {
		"postgres://drydock@db1.invalid/drydock",
		"postgresql:///drydock?host=/nonexistent",
		"host=db1.invalid dbname=drydock",
		"dbname = drydock host = /nonexistent",
	};
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *s = NULL;
	char path[PATH_MAX + 32], dir[PATH_MAX + 32];
	struct stat st;

	for (size_t i = 0; i < sizeof(postgres) / sizeof(*postgres); i++) {
		err = (struct dd_error)DD_ERROR_INIT;
		assert_int_equal(dd_store_open(postgres[i], NULL, &s, &err),
				 DD_ERR_STORE);
		assert_null(s);
		assert_non_null(strstr(err.msg, "cannot connect to store '"));
		assert_int_equal(dd_store_open_ready(postgres[i], NULL, &s,
						     &err),
				 DD_ERR_STORE);
		assert_false(dd_store_local_dir(postgres[i], dir, sizeof(dir)));
		assert_string_equal(dir, "");
		assert_int_not_equal(stat(postgres[i], &st), 0);
	}
	assert_int_equal(dd_store_open("", NULL, &s, &err), DD_ERR_INVALID);
	assert_null(s);

	snprintf(path, sizeof(path), "%s/dbname=x.db", e->dir);
	assert_ok(dd_store_open(path, NULL, &s, &err), &err);
	assert_string_equal(s->location, path);
	dd_store_close(s);
	assert_true(dd_store_local_dir(path, dir, sizeof(dir)));
	assert_string_equal(dir, e->dir);
	assert_true(dd_store_local_dir("dd.db", dir, sizeof(dir)));
	assert_string_equal(dir, ".");
	assert_true(dd_store_local_dir("/dd.db", dir, sizeof(dir)));
	assert_string_equal(dir, "/");

	/* a password in a location is not repeated in a message */
	assert_int_equal(dd_store_open("postgres://dd:s3cret@db1.invalid/drydock",
				       NULL, &s, &err),
			 DD_ERR_STORE);
	assert_null(strstr(err.msg, "s3cret"));
	assert_non_null(
		strstr(err.msg, "'postgres://dd:***@db1.invalid/drydock'"));
	assert_int_equal(dd_store_open("host=db1.invalid password='s3 cr\\'et' "
				       "dbname=drydock",
				       NULL, &s, &err),
			 DD_ERR_STORE);
	assert_null(strstr(err.msg, "s3"));
	assert_non_null(strstr(err.msg, "'host=db1.invalid password=*** "
					"dbname=drydock'"));
}

/*
 * A store that is no file here has no state directory unless one is
 * given: asking for it says how to give one (and no password).
 */
static void test_state_dir_of_a_server_store(void **state)
{
	struct dd_store fake = {.location = "postgres://dd:s3cret@db1/x"};
	struct dd_error err = DD_ERROR_INIT;

	(void)state;
	assert_null(dd_store_state_dir(&fake, &err));
	assert_int_equal(err.code, DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "--state-dir DIR or "
					"DRYDOCK_STATE_DIR"));
	assert_null(strstr(err.msg, "s3cret"));
	fake.state_dir = "/var/lib/drydock";
	assert_string_equal(dd_store_state_dir(&fake, &err),
			    "/var/lib/drydock");
}

/*
 * An SQLite store's state directory is the directory holding its file,
 * unless one is given.
 */
static void test_state_dir_default(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store_options opt;
	struct dd_store *s = NULL;

	unsetenv("DRYDOCK_STATE_DIR");
	assert_string_equal(dd_store_state_dir(e->store, &err), e->dir);
	dd_store_options_from_env(&opt);
	assert_null(opt.state_dir);
	assert_int_equal(setenv("DRYDOCK_STATE_DIR", "", 1), 0);
	dd_store_options_from_env(&opt);
	assert_null(opt.state_dir); /* empty: the default */
	assert_ok(dd_store_open_ready(e->location, &opt, &s, &err), &err);
	assert_string_equal(dd_store_state_dir(s, &err), e->dir);
	dd_store_close(s);
	unsetenv("DRYDOCK_STATE_DIR");
}

static void test_open_ready_newer_store(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *s = NULL;
	sqlite3 *db;

	/* a store from a future drydock: this one must not touch it */
	assert_int_equal(sqlite3_open(e->location, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=999", NULL,
				      NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(dd_store_open_ready(e->location, NULL, &s, &err),
			 DD_ERR_STORE);
	assert_null(s);
	assert_non_null(strstr(err.msg, "newer"));
	assert_int_equal(dd_store_migrate(e->store, &err), DD_ERR_STORE);
	assert_non_null(strstr(err.msg, "newer"));
}

/*
 * A store made by an older drydock (schema version 1, with a lease in it)
 * is refused until `drydock init` upgrades it, and keeps its rows.
 */
static void test_upgrade_from_version_1(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *s = NULL;
	struct dd_lease l = {0};
	char path[PATH_MAX + 32];
	sqlite3 *db;
	int current = 0, newest = 0;

	snprintf(path, sizeof(path), "%s/old.db", e->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, dd_sqlite_migrations[0], NULL, NULL,
				      NULL),
			 SQLITE_OK);
	assert_int_equal(
		sqlite3_exec(db,
			     "PRAGMA user_version = 1;"
			     "INSERT INTO lease(type, status, attributes,"
			     " created, modified) VALUES('host', 2, '{}', 1, 1)",
			     NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(dd_store_open_ready(path, NULL, &s, &err),
			 DD_ERR_STORE);
	assert_non_null(strstr(err.msg, "run 'drydock init'"));
	assert_ok(dd_store_open(path, NULL, &s, &err), &err);
	assert_ok(dd_store_migrate(s, &err), &err);
	assert_ok(dd_store_migrate(s, &err), &err); /* idempotent */
	assert_ok(dd_store_schema_version(s, &current, &newest, &err), &err);
	assert_int_equal(current, newest);
	assert_int_equal(current, DD_SQLITE_SCHEMA_VERSION);
	assert_ok(dd_store_lease_get(s, 1, &l, &err), &err);
	assert_int_equal(l.status, DD_LEASE_ACTIVE);
	assert_false(l.waiting);
	dd_lease_release(&l);
	/* and the tables of later versions are there */
	add_token(s, "after-upgrade", "admin", 'u');
	dd_store_close(s);
}

/* Group commit: a second transaction in the same thread is refused, not hung. */
static void test_group_second_transaction_busy(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store_options opt = {
		.durability = DD_DURABILITY_FULL,
		.busy_timeout_ms = 50,
		.group_commit = true,
	};
	struct dd_store *a = NULL, *b = NULL;
	struct dd_blueprint bp = {0};

	assert_ok(dd_store_open(e->location, &opt, &a, &err), &err);
	assert_ok(dd_store_open(e->location, &opt, &b, &err), &err);
	assert_ok(dd_store_begin(a, &err), &err);
	assert_int_equal(dd_store_begin(b, &err), DD_ERR_BUSY);
	/* and the first goes on: its commit is durable and visible */
	bp.type = "host";
	bp.name = "g";
	bp.config = json_object();
	bp.enabled = true;
	assert_ok(dd_store_blueprint_insert(a, &bp, &err), &err);
	assert_ok(dd_store_commit(a, &err), &err);
	json_decref(bp.config);
	bp.config = NULL;
	memset(&bp, 0, sizeof(bp));
	assert_ok(dd_store_blueprint_get(e->store, 1, &bp, &err), &err);
	assert_string_equal(bp.name, "g");
	dd_blueprint_release(&bp);
	dd_store_close(b);
	dd_store_close(a);
}

/*
 * A WAL sync that fails while group members commit: nobody hangs, every
 * commit from then on is refused with the reason, and every commit that
 * was reported done is in the store.
 */
#define FAIL_THREADS 6
#define FAIL_BUMPS 120

struct sync_failer {
	const char *path;
	int index;
	int ok, refused, ok_after_refusal;
	char msg[600];
};

static void *sync_failer_main(void *arg)
{
	struct sync_failer *sf = arg;
	struct dd_store_options opt = {
		.durability = DD_DURABILITY_FULL,
		.busy_timeout_ms = 5000,
		.group_commit = true,
	};
	struct dd_store *s = NULL;
	struct dd_error err = DD_ERROR_INIT;

	if (dd_store_open(sf->path, &opt, &s, &err))
		return NULL;
	for (int i = 0; i < FAIL_BUMPS; i++) {
		int rc;

		if (sf->index == 0 && i == FAIL_BUMPS / 3)
			dd_sqlite_fail_syncs(true);
		rc = dd_store_begin(s, &err);
		if (!rc) {
			rc = dd_store_counter_bump(s, "bumps", &err);
			if (rc)
				dd_store_rollback(s);
			else
				rc = dd_store_commit(s, &err);
		}
		if (!rc && sf->refused)
			sf->ok_after_refusal++;
		if (!rc)
			sf->ok++;
		else if (!sf->refused++)
			snprintf(sf->msg, sizeof(sf->msg), "%s", err.msg);
	}
	dd_store_close(s);
	return NULL;
}

static void test_group_commit_sync_failure(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct sync_failer sf[FAIL_THREADS];
	pthread_t tid[FAIL_THREADS];
	struct timespec deadline;
	long long n = 0;
	int ok = 0;

	for (int i = 0; i < FAIL_THREADS; i++) {
		sf[i] = (struct sync_failer){.path = e->location, .index = i};
		assert_int_equal(pthread_create(&tid[i], NULL,
						sync_failer_main, &sf[i]),
				 0);
	}
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 60;
	for (int i = 0; i < FAIL_THREADS; i++) {
		/* a member left waiting for ever is the bug this catches */
		assert_int_equal(pthread_timedjoin_np(tid[i], NULL, &deadline),
				 0);
		assert_true(sf[i].refused > 0);
		assert_int_equal(sf[i].ok_after_refusal, 0);
		assert_non_null(strstr(sf[i].msg, "sync"));
		ok += sf[i].ok;
	}
	dd_sqlite_fail_syncs(false);
	assert_true(ok >= FAIL_BUMPS / 3);
	assert_ok(dd_store_counter_get(e->store, "bumps", &n, &err), &err);
	assert_true(n >= ok);
}

static void test_second_writer_waits_then_busy(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store_options opt = {
		.durability = DD_DURABILITY_NORMAL,
		.busy_timeout_ms = 50,
		.group_commit = false,
	};
	struct dd_store *other = NULL;

	/* a write transaction holds the store's write lock at once */
	assert_ok(dd_store_open(e->location, &opt, &other, &err), &err);
	assert_ok(dd_store_begin(e->store, &err), &err);
	assert_int_equal(dd_store_begin(other, &err), DD_ERR_BUSY);
	assert_int_equal(other->depth, 0);
	dd_store_rollback(other);
	/* readers still read the last committed state */
	assert_int_equal(lease_count_all(other), 0);
	dd_store_rollback(e->store);
	assert_ok(dd_store_begin(other, &err), &err);
	assert_ok(dd_store_commit(other, &err), &err);
	dd_store_close(other);
}

/* A failed sync is reported to the call, which is made exactly once. */
static void test_sync_then_failed_sync(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store_options group = {
		.durability = DD_DURABILITY_FULL,
		.busy_timeout_ms = 1000,
		.group_commit = true,
	};
	struct dd_store *g = NULL;
	struct told t;

	assert_ok(dd_store_open(e->location, &group, &g, &err), &err);
	told_init(&t);
	lazy_bump(g, "then");
	dd_sqlite_fail_syncs(true);
	dd_store_sync_then(g, told_fn, &t);
	assert_int_equal(told_wait(&t), 1);
	dd_sqlite_fail_syncs(false);
	assert_int_equal(t.rc, DD_ERR_IO);
	assert_non_null(strstr(t.msg, "sync"));
	/* the handle refuses what follows, and so does the next call */
	assert_int_equal(dd_store_begin(g, &err), DD_ERR_IO);
	told_reset(&t);
	dd_store_sync_then(g, told_fn, &t);
	assert_int_equal(t.calls, 1);
	assert_int_equal(t.rc, DD_ERR_IO);
	dd_store_close(g);
	assert_int_equal(t.calls, 1);
	told_release(&t);
}

/*
 * A transaction bigger than SQLite's page cache (about 2 MB) spills pages
 * to the WAL before its commit; changing a spilled page again makes SQLite
 * rewrite frame headers after the commit frame, and the last of them only
 * reaches the file at the shared-memory barrier.  When that write fails,
 * the commit fails and the store refuses what follows, as after a failed
 * sync, although SQLite itself reported the commit done.
 */
static void test_late_wal_write_fails_commit(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease l = {0};
	char *big = calloc(4001, 1);
	long long first = 0;
	int rc;

	assert_non_null(big);
	memset(big, 'x', 4000);
	assert_ok(dd_store_begin(e->store, &err), &err);
	for (int i = 0; i < 700; i++) {
		memset(&l, 0, sizeof(l));
		l.type = "host";
		l.status = DD_LEASE_PENDING;
		l.attributes = json_pack("{s:s}", "pad", big);
		assert_ok(dd_store_lease_insert(e->store, &l, &err), &err);
		json_decref(l.attributes);
		if (!first)
			first = l.id;
	}
	assert_ok(dd_store_lease_get(e->store, first, &l, &err), &err);
	l.status = DD_LEASE_BROKEN;
	assert_ok(dd_store_lease_update(e->store, &l, &err), &err);
	dd_lease_release(&l);
	dd_sqlite_vfs_fail_late_writes(true);
	rc = dd_store_commit(e->store, &err);
	dd_sqlite_vfs_fail_late_writes(false);
	free(big);
	assert_int_equal(rc, DD_ERR_IO);
	assert_non_null(strstr(err.msg, "outcome of this commit is unknown"));
	assert_int_equal(dd_store_begin(e->store, &err), DD_ERR_IO);
	assert_non_null(strstr(err.msg, "restart drydock"));
}

/* A blueprint insert in its own transaction on `s`; returns its result. */
static int insert_one(struct dd_store *s, const char *name,
		      struct dd_error *err)
{
	struct dd_blueprint bp = {0};
	int rc = dd_store_begin(s, err);

	bp.type = "host";
	bp.name = (char *)name;
	bp.config = json_object();
	bp.enabled = true;
	if (!rc)
		rc = dd_store_blueprint_insert(s, &bp, err);
	if (rc)
		dd_store_rollback(s);
	else
		rc = dd_store_commit(s, err);
	json_decref(bp.config);
	return rc;
}

/*
 * Issue 10, item 6: a store deleted under open handles took their writes
 * (into the deleted file) and reported them done, also after 'drydock
 * init' made a new store at the path.  Every commit, on a plain handle
 * and through group commit, must now be refused, and a readiness check
 * must say so; a file moved away and back is the same store again.
 */
static void test_deleted_store_refuses_commits(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store_options group = {
		.durability = DD_DURABILITY_FULL,
		.busy_timeout_ms = 1000,
		.group_commit = true,
	};
	struct dd_store *g = NULL, *fresh = NULL;
	char away[PATH_MAX + 64];

	assert_ok(dd_store_open(e->location, &group, &g, &err), &err);
	assert_ok(insert_one(e->store, "before", &err), &err);
	assert_ok(insert_one(g, "before-g", &err), &err);
	assert_ok(dd_store_health(e->store, &err), &err);

	/* moved away: refused; moved back: the same file, taken again */
	snprintf(away, sizeof(away), "%s/away.db", e->dir);
	assert_int_equal(rename(e->location, away), 0);
	assert_int_equal(insert_one(e->store, "away", &err), DD_ERR_STORE);
	assert_non_null(strstr(err.msg, "was deleted or replaced while in use"));
	assert_int_equal(rename(away, e->location), 0);
	assert_ok(insert_one(e->store, "back", &err), &err);

	/* deleted, and a new store made at the path */
	assert_int_equal(unlink(e->location), 0);
	snprintf(away, sizeof(away), "%s-wal", e->location);
	unlink(away);
	snprintf(away, sizeof(away), "%s-shm", e->location);
	unlink(away);
	assert_int_equal(insert_one(e->store, "gone", &err), DD_ERR_STORE);
	assert_int_equal(insert_one(g, "gone-g", &err), DD_ERR_STORE);
	assert_non_null(strstr(err.msg, "was deleted or replaced while in use"));
	assert_ok(dd_store_open(e->location, NULL, &fresh, &err), &err);
	assert_ok(dd_store_migrate(fresh, &err), &err);
	assert_int_equal(insert_one(e->store, "new", &err), DD_ERR_STORE);
	assert_int_equal(insert_one(g, "new-g", &err), DD_ERR_STORE);
	/* the process's group connection still has the old file open */
	assert_int_equal(dd_store_health(fresh, &err), DD_ERR_STORE);
	assert_non_null(strstr(err.msg, "was deleted or replaced while in use"));
	dd_store_close(g);
	/* with it closed, the new store is fit, and takes writes */
	assert_ok(dd_store_health(fresh, &err), &err);
	assert_ok(insert_one(fresh, "new", &err), &err);
	dd_store_close(fresh);
}

/*
 * Issue 10, item 9: a store truncated to 0 bytes made the CLI wait for a
 * lock and exit 6, or make a new, empty database of it.  Opening it is
 * now refused as damaged, and the file is left as it was.
 */
static void test_empty_store_is_damaged(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *s = NULL;
	struct stat st;
	FILE *f;

	dd_store_close(e->store);
	e->store = NULL;
	f = fopen(e->location, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(dd_store_open_ready(e->location, NULL, &s, &err),
			 DD_ERR_DAMAGED);
	assert_null(s);
	assert_non_null(strstr(err.msg, "is damaged: the file is empty"));
	assert_int_equal(dd_err_exit_status(DD_ERR_DAMAGED), 15);
	assert_int_equal(dd_err_http_status(DD_ERR_DAMAGED), 503);
	assert_int_equal(stat(e->location, &st), 0);
	assert_int_equal(st.st_size, 0);
	/* and a file that is not a database at all */
	f = fopen(e->location, "w");
	assert_non_null(f);
	fputs("just text, long enough to have a header's worth of bytes\n", f);
	fclose(f);
	assert_int_equal(dd_store_open_ready(e->location, NULL, &s, &err),
			 DD_ERR_DAMAGED);
	assert_non_null(strstr(err.msg, "is damaged: the file is not a "
					"database"));
}

static void count_problem(void *arg, const char *text)
{
	(*(int *)arg)++;
	assert_non_null(text);
}

/*
 * Issue 10, item 9: a page overwritten inside the file was found by
 * integrity_check, but nothing in drydock reported it.  The check op
 * lists the problems and fails with DD_ERR_DAMAGED, and the damage is
 * recorded for the process: a health check (readiness) reports it.
 */
static void test_check_finds_damaged_page(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store_check c = {.quick = false};
	struct dd_store *s = NULL;
	char junk[4096];
	int problems = 0;
	FILE *f;

	assert_ok(dd_store_check(e->store, &c, &err), &err);
	assert_int_equal(c.problems, 0);
	assert_ok(dd_store_health(e->store, &err), &err);
	for (int i = 0; i < 40; i++) {
		char name[256];

		snprintf(name, sizeof(name), "bp-%03d-%0200d", i, i);
		assert_ok(insert_one(e->store, name, &err), &err);
	}
	dd_store_close(e->store);
	e->store = NULL;
	/* a page of blueprint rows, after the schema's pages */
	memset(junk, 0x5a, sizeof(junk));
	f = fopen(e->location, "r+b");
	assert_non_null(f);
	{
		long size;

		assert_int_equal(fseek(f, 0, SEEK_END), 0);
		size = ftell(f);
		assert_true(size >= 8 * 4096);
		assert_int_equal(fseek(f, size - 2 * 4096, SEEK_SET), 0);
	}
	assert_int_equal(fwrite(junk, 1, sizeof(junk), f), sizeof(junk));
	fclose(f);

	assert_ok(dd_store_open_ready(e->location, NULL, &s, &err), &err);
	c.problem = count_problem;
	c.arg = &problems;
	assert_int_equal(dd_store_check(s, &c, &err), DD_ERR_DAMAGED);
	assert_true(c.problems > 0);
	assert_int_equal(problems, c.problems);
	assert_non_null(strstr(err.msg, "is damaged: integrity_check found"));
	assert_int_equal(dd_store_health(s, &err), DD_ERR_DAMAGED);
	assert_non_null(strstr(err.msg, "is damaged: "));
	dd_store_close(s);
}

/*
 * Issue 10, item 12: /metrics counted every lease and resource by status
 * at each scrape, 133 ms on a store of a million finished leases.  The
 * finished ones are now kept in counters (migration 5's triggers) and
 * only the live ones counted: the pages a scrape reads must not grow
 * with the history.  Measured in pages fetched by a fresh connection
 * (the VFS counts its reads), not in time.
 */
static void test_stats_do_not_read_the_history(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store_stats st;
	struct dd_store *s = NULL;
	int current, newest;
	long long before, bp = add_blueprint(e->store, "b", "host", true);
	char sql[1024];
	sqlite3 *db;

	add_lease(e->store, "host", DD_LEASE_ACTIVE, 0, "t");
	add_lease(e->store, "host", DD_LEASE_DESTROYED, 0, "t");
	add_resource(e->store, bp, "host", DD_RESOURCE_ACTIVE);
	/* a long history, written as the bench's scale fixture writes it */
	assert_int_equal(sqlite3_open(e->location, &db), SQLITE_OK);
	snprintf(sql, sizeof(sql),
		 "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1"
		 " FROM c WHERE x < 60000) INSERT INTO lease(type, status,"
		 " owner, attributes, created, modified) SELECT 'host', 5,"
		 " 'history', '{}', 1, 1 FROM c;"
		 "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1"
		 " FROM c WHERE x < 20000) INSERT INTO resource(blueprint,"
		 " type, status, attributes, created, modified) SELECT %lld,"
		 " 'host', 4, '{}', 1, 1 FROM c;"
		 "UPDATE lease SET status = 5 WHERE status = 2;"
		 "PRAGMA wal_checkpoint(TRUNCATE);",
		 bp);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	assert_ok(dd_store_open_ready(e->location, NULL, &s, &err), &err);
	assert_ok(dd_store_schema_version(s, &current, &newest, &err), &err);
	before = dd_sqlite_vfs_reads();
	assert_ok(dd_store_stats(s, dd_now(), &st, &err), &err);
	if (dd_sqlite_vfs_reads() - before > 20)
		fail_msg("the stats read %lld pages of a store of 60000 "
			 "finished leases",
			 dd_sqlite_vfs_reads() - before);
	assert_int_equal(st.leases[DD_LEASE_DESTROYED], 60002);
	assert_int_equal(st.leases[DD_LEASE_ACTIVE], 0);
	assert_int_equal(st.resources[DD_RESOURCE_DESTROYED], 20000);
	assert_int_equal(st.resources[DD_RESOURCE_ACTIVE], 1);
	dd_store_close(s);
	/* a finished row deleted, or brought back, is counted out */
	assert_int_equal(sqlite3_open(e->location, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "DELETE FROM lease WHERE id = 2;"
				      "UPDATE resource SET status = 1 WHERE id"
				      " = (SELECT max(id) FROM resource);",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_ok(dd_store_stats(e->store, dd_now(), &st, &err), &err);
	assert_int_equal(st.leases[DD_LEASE_DESTROYED], 60001);
	assert_int_equal(st.resources[DD_RESOURCE_DESTROYED], 19999);
	assert_int_equal(st.resources[DD_RESOURCE_ACTIVE], 2);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_open_location_forms),
		T(test_state_dir_default),
		T(test_state_dir_of_a_server_store),
		T(test_open_ready_newer_store),
		T(test_upgrade_from_version_1),
		T(test_group_second_transaction_busy),
		T(test_group_commit_sync_failure),
		T(test_second_writer_waits_then_busy),
		T(test_sync_then_failed_sync),
		T(test_late_wal_write_fails_commit),
		T(test_deleted_store_refuses_commits),
		T(test_empty_store_is_damaged),
		T(test_check_finds_damaged_page),
		T(test_stats_do_not_read_the_history),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
