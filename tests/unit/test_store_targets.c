/*
 * test_store_targets.c - build targets, artifacts and file chunks in the
 * store (store/store.h, store/sql_targets.c, store/sqlite_chunks.c):
 * every operation, paging newest first with filters, a target's log
 * and commands, unique keys, no artifact added to a finished target,
 * releasing in the caller's transaction, a few MB written and read back
 * in chunks with the SHA-256 checked and reads at any offset, uploads
 * cut off leaving nothing, the figures for /metrics, and injected store
 * faults.  What every backend must do with file chunks is also in the
 * conformance suite's test_store_chunks.c.
 *
 * Each test gets its own temp directory and migrated store (testutil.h).
 */
#include "testutil.h"

#include <sqlite3.h>

#include "core/model.h"
#include "core/sha256.h"
#include "store/schema_sqlite.h"
#include "store/store.h"

static int setup(void **state)
{
	struct test_env *e = calloc(1, sizeof(*e));

	if (!e)
		return -1;
	test_env_init(e);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct test_env *e = *state;

	dd_store_fail_after(-1, 0);
	test_env_release(e);
	free(e);
	return 0;
}

/* ---- helpers ---------------------------------------------------------- */

static long long add_target(struct dd_store *s, const char *name,
			    const char *owner)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_target t = {0};

	t.name = (char *)name;
	t.owner = (char *)owner;
	t.status = DD_TARGET_BUILDING;
	assert_ok(dd_store_target_insert(s, &t, &err), &err);
	assert_true(t.id > 0);
	return t.id;
}

static void finish_target(struct dd_store *s, long long id,
			  enum dd_target_status to)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_target t = {0};

	assert_ok(dd_store_target_get(s, id, &t, &err), &err);
	assert_ok(dd_target_transition(t.id, &t.status, to, &err), &err);
	t.finished = dd_now();
	assert_ok(dd_store_target_update(s, &t, &err), &err);
	dd_target_release(&t);
}

/* Insert an artifact: the store's return code, and its id in *id. */
static int try_artifact(struct dd_store *s, long long target, const char *key,
			const char *type, const char *data, long long *id,
			struct dd_error *err)
{
	struct dd_artifact a = {0};
	int rc;

	a.target = target;
	a.key = (char *)key;
	a.type = (char *)type;
	a.data = data ? json_loads(data, 0, NULL) : NULL;
	/* a type with content starts incomplete (core/target.h) */
	a.complete = strcmp(type, "file") != 0;
	rc = dd_store_artifact_insert(s, &a, err);
	json_decref(a.data);
	if (!rc && id)
		*id = a.id;
	return rc;
}

static long long add_artifact(struct dd_store *s, long long target,
			      const char *key, const char *type,
			      const char *data)
{
	struct dd_error err = DD_ERROR_INIT;
	long long id = 0;

	assert_ok(try_artifact(s, target, key, type, data, &id, &err), &err);
	assert_true(id > 0);
	return id;
}

/* Count rows straight from the file, behind the store's back. */
static long long count_rows(struct test_env *e, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long long n = -1;

	assert_int_equal(sqlite3_open_v2(e->path, &db, SQLITE_OPEN_READONLY,
					 NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
			 SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* Deterministic bytes that differ at every offset of a few MB. */
static void fill(unsigned char *p, size_t n, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
}

/* Upload n bytes as chunks of `chunk` bytes and complete the file. */
static void upload(struct dd_store *s, long long id, const unsigned char *p,
		   size_t n, size_t chunk, char hex[65])
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_sha256_ctx c;

	dd_sha256_init(&c);
	for (size_t at = 0; at < n; at += chunk) {
		size_t len = n - at < chunk ? n - at : chunk;

		assert_ok(dd_store_artifact_append(s, id, p + at, len, &err),
			  &err);
		dd_sha256_update(&c, p + at, len);
	}
	dd_sha256_final_hex(&c, hex);
	assert_ok(dd_store_artifact_complete(s, id, (long long)n, hex, &err),
		  &err);
}

/* Read a whole file back in pieces of `cap` bytes, hashing it. */
static long long read_back(struct dd_store *s, long long id, size_t cap,
			   const unsigned char *want, char hex[65])
{
	struct dd_error err = DD_ERROR_INIT;
	unsigned char *buf = malloc(cap);
	struct dd_sha256_ctx c;
	long long pos = 0;
	size_t n;

	assert_non_null(buf);
	dd_sha256_init(&c);
	for (;;) {
		assert_ok(dd_store_artifact_read(s, id, pos, buf, cap, &n,
						 &err),
			  &err);
		if (!n)
			break;
		assert_true(n <= cap);
		if (want && memcmp(buf, want + pos, n))
			fail_msg("bytes differ in [%lld, %lld)", pos,
				 pos + (long long)n);
		dd_sha256_update(&c, buf, n);
		pos += (long long)n;
	}
	dd_sha256_final_hex(&c, hex);
	free(buf);
	return pos;
}

/* ---- targets ---------------------------------------------------------- */

static void test_target_round_trip(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_target t = {0}, got = {0};
	double before = dd_now();

	t.name = "nightly";
	t.owner = "token:ci";
	t.deadline = before + 1800;
	assert_ok(dd_store_target_insert(e->store, &t, &err), &err);
	assert_true(t.created >= before);
	assert_ok(dd_store_target_get(e->store, t.id, &got, &err), &err);
	assert_string_equal(got.name, "nightly");
	assert_string_equal(got.owner, "token:ci");
	assert_int_equal(got.status, DD_TARGET_BUILDING);
	assert_true(got.deadline > before + 1799);
	assert_true(got.finished == 0);
	assert_true(got.created == t.created);
	dd_target_release(&got);

	/* a target without a name or deadline */
	t = (struct dd_target){0};
	assert_ok(dd_store_target_insert(e->store, &t, &err), &err);
	assert_ok(dd_store_target_get(e->store, t.id, &got, &err), &err);
	assert_null(got.name);
	assert_null(got.owner);
	assert_true(got.deadline == 0);

	/* the worker's write: status and finished time */
	assert_ok(dd_target_transition(got.id, &got.status, DD_TARGET_FAILED,
				       &err),
		  &err);
	got.finished = dd_now();
	assert_ok(dd_store_target_update(e->store, &got, &err), &err);
	dd_target_release(&got);
	assert_ok(dd_store_target_get(e->store, t.id, &got, &err), &err);
	assert_int_equal(got.status, DD_TARGET_FAILED);
	assert_true(got.finished >= before);
	dd_target_release(&got);

	assert_int_equal(dd_store_target_get(e->store, 999, &got, &err),
			 DD_ERR_NOTFOUND);
	assert_string_equal(err.msg, "no such target: 999");
	got.id = 999;
	assert_int_equal(dd_store_target_update(e->store, &got, &err),
			 DD_ERR_NOTFOUND);
}

struct collect {
	long long ids[64];
	size_t n;
};

static int collect_target(void *arg, struct dd_target *t,
			  struct dd_error *err)
{
	struct collect *c = arg;

	(void)err;
	c->ids[c->n++] = t->id;
	return 0;
}

static void page(struct dd_store *s, struct dd_filter f, struct collect *c)
{
	struct dd_error err = DD_ERROR_INIT;

	c->n = 0;
	assert_ok(dd_store_target_each(s, &f, collect_target, c, &err), &err);
}

/*
 * Ten targets of two owners, some finished: pages newest first with a
 * cursor (before_id), by status and by owner, each row once.
 */
static void test_target_each_pages_and_filters(void **state)
{
	struct test_env *e = *state;
	struct dd_filter f = {0};
	struct collect c;
	long long id[10];
	size_t total = 0;

	for (int i = 0; i < 10; i++)
		id[i] = add_target(e->store, "t", i % 2 ? "token:b" : "token:a");
	finish_target(e->store, id[1], DD_TARGET_PASSED);
	finish_target(e->store, id[4], DD_TARGET_ABORTED);
	finish_target(e->store, id[7], DD_TARGET_FAILED);

	/* newest first, 3 a page, until a short page */
	f.descending = true;
	f.limit = 3;
	for (;;) {
		page(e->store, f, &c);
		for (size_t i = 0; i < c.n; i++) {
			assert_int_equal(c.ids[i], id[9 - total]);
			total++;
		}
		if (c.n < 3)
			break;
		f.before_id = c.ids[c.n - 1];
	}
	assert_int_equal(total, 10);

	/* building only */
	f = (struct dd_filter){.status_mask = 1u << DD_TARGET_BUILDING,
			       .descending = true};
	page(e->store, f, &c);
	assert_int_equal(c.n, 7);
	for (size_t i = 0; i < c.n; i++)
		assert_true(c.ids[i] != id[1] && c.ids[i] != id[4] &&
			    c.ids[i] != id[7]);
	/* finished ones */
	f.status_mask = (1u << DD_TARGET_PASSED) | (1u << DD_TARGET_FAILED) |
			(1u << DD_TARGET_ABORTED);
	page(e->store, f, &c);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.ids[0], id[7]);
	assert_int_equal(c.ids[1], id[4]);
	assert_int_equal(c.ids[2], id[1]);
	/* one owner's, and one owner's unfinished */
	f = (struct dd_filter){.owner = "token:b", .descending = true};
	page(e->store, f, &c);
	assert_int_equal(c.n, 5);
	for (size_t i = 0; i < c.n; i++)
		assert_int_equal((c.ids[i] - id[0]) % 2, 1);
	f.status_mask = 1u << DD_TARGET_BUILDING;
	page(e->store, f, &c);
	assert_int_equal(c.n, 3); /* 1 and 7 are finished */
	/* oldest first by default, after a cursor */
	f = (struct dd_filter){.after_id = id[7]};
	page(e->store, f, &c);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.ids[0], id[8]);
}

static int stop_at_two(void *arg, struct dd_target *t, struct dd_error *err)
{
	struct collect *c = arg;

	c->ids[c->n++] = t->id;
	if (c->n == 2)
		return dd_error_set(err, DD_ERR_INVALID, "enough");
	return 0;
}

static void test_target_list_and_visitor_stop(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {0};
	struct dd_target_list l = {0};
	struct collect c = {0};

	for (int i = 0; i < 4; i++)
		add_target(e->store, NULL, "token:a");
	assert_ok(dd_store_target_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 4);
	assert_int_equal(l.items[0].id + 3, l.items[3].id);
	dd_target_list_release(&l);
	/* a visitor's refusal ends the walk and is returned as it is */
	assert_int_equal(dd_store_target_each(e->store, &f, stop_at_two, &c,
					      &err),
			 DD_ERR_INVALID);
	assert_int_equal(c.n, 2);
	assert_string_equal(err.msg, "enough");
	/* and the statement is ready for the next walk */
	assert_ok(dd_store_target_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 4);
	dd_target_list_release(&l);
}

/* A target's log and commands, apart from any lease's. */
static void test_target_log_and_commands(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_log_entry_list l = {0};
	struct dd_command_list cl = {0};
	struct dd_filter f = {0};
	struct dd_command cmd = {0};
	long long t1 = add_target(e->store, "a", NULL);
	long long t2 = add_target(e->store, "b", NULL);

	for (int i = 0; i < 5; i++)
		assert_ok(dd_store_target_log(e->store, t1, "target.note",
					      json_pack("{s:i}", "i", i), &err),
			  &err);
	assert_ok(dd_store_target_log(e->store, t2, "target.created", NULL,
				      &err),
		  &err);
	/* a lease 1's entry, which a target's log must not show */
	assert_ok(dd_store_log(e->store, 0, 0, t1, "lease.queued", NULL, &err),
		  &err);

	f.target_id = t1;
	f.descending = true;
	f.limit = 2;
	assert_ok(dd_store_log_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.items[0].target, t1);
	assert_int_equal(l.items[0].lease, 0);
	assert_int_equal(json_integer_value(json_object_get(l.items[0].data,
							    "i")),
			 4);
	assert_int_equal(json_integer_value(json_object_get(l.items[1].data,
							    "i")),
			 3);
	f.before_id = l.items[1].id;
	dd_log_entry_list_release(&l);
	f.limit = 10;
	assert_ok(dd_store_log_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 3);
	{
		json_t *o = dd_log_entry_to_json(&l.items[0]);

		assert_int_equal(json_integer_value(json_object_get(o,
								    "target")),
				 t1);
		json_decref(o);
	}
	dd_log_entry_list_release(&l);
	/* a lease's log has no target entries, and renders no target */
	f = (struct dd_filter){.lease = t1};
	assert_ok(dd_store_log_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.items[0].type, "lease.queued");
	{
		json_t *o = dd_log_entry_to_json(&l.items[0]);

		assert_null(json_object_get(o, "target"));
		json_decref(o);
	}
	dd_log_entry_list_release(&l);

	/* finish is a command on the target, found by its kind and id */
	cmd.target = (struct dd_ref){DD_OBJ_TARGET, t2};
	cmd.kind = "finish";
	cmd.author = "token:ci";
	cmd.data = json_pack("{s:s}", "result", "passed");
	assert_ok(dd_store_command_insert(e->store, &cmd, &err), &err);
	json_decref(cmd.data);
	f = (struct dd_filter){.target = {DD_OBJ_TARGET, t2},
			       .pending_only = true};
	assert_ok(dd_store_command_list(e->store, &f, &cl, &err), &err);
	assert_int_equal(cl.n, 1);
	assert_string_equal(cl.items[0].kind, "finish");
	dd_command_list_release(&cl);
	f.target.kind = DD_OBJ_LEASE;
	assert_ok(dd_store_command_list(e->store, &f, &cl, &err), &err);
	assert_int_equal(cl.n, 0);
	{
		struct dd_lock_grant g;

		dd_task_lock_name((struct dd_ref){DD_OBJ_TARGET, 12}, &g);
		assert_string_equal(g.name, "target:12");
	}
}

/* ---- artifacts -------------------------------------------------------- */

static void test_artifact_round_trip_and_keys(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_artifact a = {0};
	long long t1 = add_target(e->store, "a", "token:a");
	long long t2 = add_target(e->store, "b", "token:a");
	long long u, h, f, id = 0;

	u = add_artifact(e->store, t1, "docs", "uri",
			 "{\"uri\":\"https://x/docs\",\"external\":true}");
	h = add_artifact(e->store, t1, "host", "host", "{\"lease\":7}");
	f = add_artifact(e->store, t1, "out.tar", "file", NULL);

	assert_ok(dd_store_artifact_get(e->store, u, &a, &err), &err);
	assert_int_equal(a.target, t1);
	assert_string_equal(a.key, "docs");
	assert_string_equal(a.type, "uri");
	assert_string_equal(json_string_value(json_object_get(a.data, "uri")),
			    "https://x/docs");
	assert_true(a.complete);
	assert_false(a.released);
	assert_int_equal(a.size, 0);
	assert_string_equal(a.sha256, "");
	assert_true(a.created > 0);
	dd_artifact_release(&a);
	assert_ok(dd_store_artifact_get(e->store, f, &a, &err), &err);
	assert_false(a.complete);
	assert_true(json_is_object(a.data)); /* none given: {} */
	dd_artifact_release(&a);

	/* a key is unique within its target, not across targets */
	assert_int_equal(try_artifact(e->store, t1, "docs", "uri",
				      "{\"uri\":\"http://y\"}", &id, &err),
			 DD_ERR_EXISTS);
	assert_string_equal(err.msg, "target 1 already has an artifact 'docs'");
	assert_int_equal(try_artifact(e->store, t1, "docs", "file", NULL, &id,
				      &err),
			 DD_ERR_EXISTS);
	add_artifact(e->store, t2, "docs", "uri", "{\"uri\":\"http://y\"}");
	assert_int_equal(count_rows(e, "SELECT count(*) FROM artifact"), 4);

	/* no such target; a finished target takes no more */
	assert_int_equal(try_artifact(e->store, 99, "k", "uri",
				      "{\"uri\":\"http://y\"}", &id, &err),
			 DD_ERR_NOTFOUND);
	assert_string_equal(err.msg, "no such target: 99");
	finish_target(e->store, t2, DD_TARGET_PASSED);
	assert_int_equal(try_artifact(e->store, t2, "late", "host",
				      "{\"lease\":3}", &id, &err),
			 DD_ERR_STATE);
	assert_string_equal(err.msg, "cannot add artifact 'late' to target 2: "
				     "it is passed");
	assert_int_equal(count_rows(e, "SELECT count(*) FROM artifact"), 4);

	assert_int_equal(dd_store_artifact_get(e->store, 1234, &a, &err),
			 DD_ERR_NOTFOUND);
	assert_string_equal(err.msg, "no such artifact: 1234");
	(void)h;
}

static void test_artifact_list_filters(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_artifact_list l = {0};
	struct dd_filter f = {0};
	long long t1 = add_target(e->store, "a", NULL);
	long long t2 = add_target(e->store, "b", NULL);
	long long ids[6];
	char key[16];

	for (int i = 0; i < 6; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ids[i] = add_artifact(e->store, i < 5 ? t1 : t2, key,
				      i % 2 ? "host" : "uri",
				      i % 2 ? "{\"lease\":1}"
					    : "{\"uri\":\"http://x\"}");
	}
	f.target_id = t1;
	assert_ok(dd_store_artifact_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 5);
	for (size_t i = 0; i < l.n; i++)
		assert_int_equal(l.items[i].id, ids[i]); /* oldest first */
	dd_artifact_list_release(&l);

	f.type = "host";
	assert_ok(dd_store_artifact_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.items[0].id, ids[1]);
	assert_int_equal(l.items[1].id, ids[3]);
	dd_artifact_list_release(&l);

	f = (struct dd_filter){.target_id = t1, .key = "k2"};
	assert_ok(dd_store_artifact_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.items[0].id, ids[2]);
	dd_artifact_list_release(&l);

	/* a page of two, newest first, then the next */
	f = (struct dd_filter){.target_id = t1, .limit = 2, .descending = true};
	assert_ok(dd_store_artifact_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.items[0].id, ids[4]);
	f.before_id = l.items[1].id;
	dd_artifact_list_release(&l);
	assert_ok(dd_store_artifact_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.items[0].id, ids[2]);
	assert_int_equal(l.items[1].id, ids[1]);
	dd_artifact_list_release(&l);
}

/*
 * Releasing runs in the caller's transaction: rolled back, nothing is
 * released; committed, every artifact of that target is, once.
 */
static void test_artifact_release_all(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_artifact_list l = {0};
	struct dd_filter f = {0};
	long long t1 = add_target(e->store, "a", NULL);
	long long t2 = add_target(e->store, "b", NULL);
	long long n = -1;

	add_artifact(e->store, t1, "h", "host", "{\"lease\":1}");
	add_artifact(e->store, t1, "u", "uri", "{\"uri\":\"http://x\"}");
	add_artifact(e->store, t1, "f", "file", NULL);
	add_artifact(e->store, t2, "h", "host", "{\"lease\":2}");

	assert_ok(dd_store_begin(e->store, &err), &err);
	assert_ok(dd_store_artifact_release_all(e->store, t1, &n, &err), &err);
	assert_int_equal(n, 3);
	dd_store_rollback(e->store);
	assert_int_equal(count_rows(e, "SELECT count(*) FROM artifact"
				       " WHERE released = 1"),
			 0);

	assert_ok(dd_store_begin(e->store, &err), &err);
	finish_target(e->store, t1, DD_TARGET_ABORTED);
	assert_ok(dd_store_artifact_release_all(e->store, t1, &n, &err), &err);
	assert_int_equal(n, 3);
	assert_ok(dd_store_commit(e->store, &err), &err);

	f.target_id = t1;
	assert_ok(dd_store_artifact_list(e->store, &f, &l, &err), &err);
	for (size_t i = 0; i < l.n; i++)
		assert_true(l.items[i].released);
	dd_artifact_list_release(&l);
	f.target_id = t2;
	assert_ok(dd_store_artifact_list(e->store, &f, &l, &err), &err);
	assert_false(l.items[0].released);
	dd_artifact_list_release(&l);
	/* again: nothing more to release */
	assert_ok(dd_store_artifact_release_all(e->store, t1, &n, &err), &err);
	assert_int_equal(n, 0);
	assert_ok(dd_store_artifact_release_all(e->store, t1, NULL, &err),
		  &err);
}

/* ---- file chunks ------------------------------------------------------ */

/*
 * 3 MB and a bit, in 256 KiB chunks and a short last one: read back in
 * pieces that do not line up with chunks, every byte and the SHA-256 as
 * written; then reads at offsets inside, at the edges of and past chunks.
 */
static void test_file_chunks_round_trip(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	size_t size = 3 * 1024 * 1024 + 12345;
	unsigned char *data = malloc(size), buf[1000];
	char wrote[65], got[65], whole[65];
	struct dd_artifact a = {0};
	long long t = add_target(e->store, "big", NULL);
	long long id = add_artifact(e->store, t, "blob.bin", "file", NULL);
	size_t n;

	assert_non_null(data);
	fill(data, size, 1);
	upload(e->store, id, data, size, DD_CHUNK_SIZE, wrote);
	dd_sha256_hex(data, size, whole);
	assert_string_equal(wrote, whole);

	assert_ok(dd_store_artifact_get(e->store, id, &a, &err), &err);
	assert_true(a.complete);
	assert_int_equal(a.size, (long long)size);
	assert_string_equal(a.sha256, whole);
	dd_artifact_release(&a);
	assert_int_equal(count_rows(e, "SELECT count(*) FROM chunk"),
			 (long long)(size + DD_CHUNK_SIZE - 1) / DD_CHUNK_SIZE);

	assert_int_equal(read_back(e->store, id, 100000, data, got),
			 (long long)size);
	assert_string_equal(got, whole);
	assert_int_equal(read_back(e->store, id, DD_CHUNK_MAX, data, got),
			 (long long)size);
	assert_string_equal(got, whole);

	/* a read stops at the end of its chunk */
	assert_ok(dd_store_artifact_read(e->store, id, DD_CHUNK_SIZE - 10, buf,
					 sizeof(buf), &n, &err),
		  &err);
	assert_int_equal(n, 10);
	assert_memory_equal(buf, data + DD_CHUNK_SIZE - 10, 10);
	/* and goes on at the next chunk's first byte */
	assert_ok(dd_store_artifact_read(e->store, id, DD_CHUNK_SIZE, buf,
					 sizeof(buf), &n, &err),
		  &err);
	assert_int_equal(n, sizeof(buf));
	assert_memory_equal(buf, data + DD_CHUNK_SIZE, sizeof(buf));
	/* inside a chunk, as a Range request may ask */
	assert_ok(dd_store_artifact_read(e->store, id, 2000001, buf, 7, &n,
					 &err),
		  &err);
	assert_int_equal(n, 7);
	assert_memory_equal(buf, data + 2000001, 7);
	/* the last byte, then nothing at and past the end */
	assert_ok(dd_store_artifact_read(e->store, id, (long long)size - 1,
					 buf, sizeof(buf), &n, &err),
		  &err);
	assert_int_equal(n, 1);
	assert_int_equal(buf[0], data[size - 1]);
	assert_ok(dd_store_artifact_read(e->store, id, (long long)size, buf,
					 sizeof(buf), &n, &err),
		  &err);
	assert_int_equal(n, 0);
	assert_ok(dd_store_artifact_read(e->store, id, (long long)size * 9,
					 buf, sizeof(buf), &n, &err),
		  &err);
	assert_int_equal(n, 0);
	assert_int_equal(dd_store_artifact_read(e->store, id, -1, buf,
						sizeof(buf), &n, &err),
			 DD_ERR_INVALID);
	assert_int_equal(dd_store_artifact_read(e->store, 777, 0, buf,
						sizeof(buf), &n, &err),
			 DD_ERR_NOTFOUND);
	free(data);
}

/* Chunks of uneven sizes, many per transaction, read back whole. */
static void test_file_chunks_in_one_transaction(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	size_t size = 1000003;
	unsigned char *data = malloc(size);
	char wrote[65], got[65];
	long long t = add_target(e->store, "t", NULL);
	long long id = add_artifact(e->store, t, "f", "file", NULL);

	assert_non_null(data);
	fill(data, size, 2);
	assert_ok(dd_store_begin(e->store, &err), &err);
	upload(e->store, id, data, size, 77777, wrote);
	assert_ok(dd_store_commit(e->store, &err), &err);
	assert_int_equal(read_back(e->store, id, 4096, data, got),
			 (long long)size);
	assert_string_equal(got, wrote);
	free(data);
}

static void test_file_refusals(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	unsigned char b[16] = "0123456789abcdef";
	char hex[65];
	long long t = add_target(e->store, "t", NULL);
	long long f = add_artifact(e->store, t, "f", "file", NULL);
	long long u = add_artifact(e->store, t, "u", "uri",
				   "{\"uri\":\"http://x\"}");
	static unsigned char big[DD_CHUNK_MAX + 1];

	/* a chunk is 1 byte to DD_CHUNK_MAX */
	assert_int_equal(dd_store_artifact_append(e->store, f, b, 0, &err),
			 DD_ERR_INVALID);
	assert_int_equal(dd_store_artifact_append(e->store, f, big,
						  sizeof(big), &err),
			 DD_ERR_INVALID);
	assert_ok(dd_store_artifact_append(e->store, f, big, DD_CHUNK_MAX,
					   &err),
		  &err);
	/* no bytes for a type without content, or for no artifact */
	assert_int_equal(dd_store_artifact_append(e->store, u, b, 4, &err),
			 DD_ERR_STATE);
	assert_string_equal(err.msg,
			    "cannot append to artifact 2: it is complete");
	assert_int_equal(dd_store_artifact_append(e->store, 99, b, 4, &err),
			 DD_ERR_NOTFOUND);
	/* the hash is 64 lower-case hex digits */
	dd_sha256_hex(big, DD_CHUNK_MAX, hex);
	assert_int_equal(dd_store_artifact_complete(e->store, f, DD_CHUNK_MAX,
						    "abc", &err),
			 DD_ERR_INVALID);
	hex[0] = 'A';
	assert_int_equal(dd_store_artifact_complete(e->store, f, DD_CHUNK_MAX,
						    hex, &err),
			 DD_ERR_INVALID);
	dd_sha256_hex(big, DD_CHUNK_MAX, hex);
	/* the size is what is stored: a chunk lost on the way shows */
	assert_int_equal(dd_store_artifact_complete(e->store, f,
						    DD_CHUNK_MAX + 16, hex,
						    &err),
			 DD_ERR_STATE);
	assert_non_null(strstr(err.msg, "1048576 are stored"));
	assert_ok(dd_store_artifact_complete(e->store, f, DD_CHUNK_MAX, hex,
					     &err),
		  &err);
	/* complete is final */
	assert_int_equal(dd_store_artifact_complete(e->store, f, DD_CHUNK_MAX,
						    hex, &err),
			 DD_ERR_STATE);
	assert_int_equal(dd_store_artifact_append(e->store, f, b, 4, &err),
			 DD_ERR_STATE);
	assert_int_equal(dd_store_artifact_delete(e->store, f, &err),
			 DD_ERR_STATE);
	assert_int_equal(dd_store_artifact_delete(e->store, u, &err),
			 DD_ERR_STATE);
	assert_int_equal(dd_store_artifact_delete(e->store, 99, &err),
			 DD_ERR_NOTFOUND);
	assert_int_equal(count_rows(e, "SELECT count(*) FROM chunk"), 1);
}

/*
 * An upload cut off halfway: deleting the incomplete artifact leaves no
 * artifact and no chunk, and the key is free for a second try.
 */
static void test_upload_cut_off_leaves_nothing(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	size_t size = 700000;
	unsigned char *data = malloc(size);
	struct dd_artifact a = {0};
	char hex[65];
	long long t = add_target(e->store, "t", NULL);
	long long keep = add_artifact(e->store, t, "keep", "file", NULL);
	long long id = add_artifact(e->store, t, "f", "file", NULL);
	struct dd_store_stats st;

	assert_non_null(data);
	fill(data, size, 3);
	upload(e->store, keep, data, 1000, 1000, hex);
	assert_ok(dd_store_artifact_append(e->store, id, data, DD_CHUNK_SIZE,
					   &err),
		  &err);
	assert_ok(dd_store_artifact_append(e->store, id, data + DD_CHUNK_SIZE,
					   DD_CHUNK_SIZE, &err),
		  &err);
	assert_ok(dd_store_artifact_get(e->store, id, &a, &err), &err);
	assert_int_equal(a.size, 2 * DD_CHUNK_SIZE);
	assert_false(a.complete);
	dd_artifact_release(&a);

	assert_ok(dd_store_artifact_delete(e->store, id, &err), &err);
	assert_int_equal(dd_store_artifact_get(e->store, id, &a, &err),
			 DD_ERR_NOTFOUND);
	assert_int_equal(count_rows(e, "SELECT count(*) FROM chunk"
				       " WHERE artifact != 1"),
			 0);
	assert_int_equal(count_rows(e, "SELECT count(*) FROM chunk"), 1);
	assert_ok(dd_store_stats(e->store, dd_now(), &st, &err), &err);
	assert_int_equal(st.artifact_bytes, 1000);

	/* the same key again, all the way this time */
	id = add_artifact(e->store, t, "f", "file", NULL);
	upload(e->store, id, data, size, DD_CHUNK_SIZE, hex);
	{
		char got[65];

		assert_int_equal(read_back(e->store, id, 65536, data, got),
				 (long long)size);
		assert_string_equal(got, hex);
	}
	free(data);
}

/* Uploads whose writer died are pruned by the time of their last chunk. */
static void test_prune_stale_uploads(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	unsigned char b[100] = {1};
	char hex[65];
	long long t = add_target(e->store, "t", NULL);
	long long old1 = add_artifact(e->store, t, "a", "file", NULL);
	long long old2 = add_artifact(e->store, t, "b", "file", NULL);
	long long done_ = add_artifact(e->store, t, "c", "file", NULL);
	long long fresh;
	double cut;
	int n = -1;

	assert_ok(dd_store_artifact_append(e->store, old1, b, 100, &err), &err);
	upload(e->store, done_, b, 100, 100, hex);
	/* wait for the clock to move past every write so far */
	cut = dd_now();
	while (dd_now() <= cut)
		;
	cut = dd_now();
	while (dd_now() <= cut)
		;
	fresh = add_artifact(e->store, t, "d", "file", NULL);
	assert_ok(dd_store_artifact_append(e->store, fresh, b, 100, &err),
		  &err);

	assert_ok(dd_store_artifact_prune(e->store, cut, 1, &n, &err), &err);
	assert_int_equal(n, 1);
	assert_ok(dd_store_artifact_prune(e->store, cut, 10, &n, &err), &err);
	assert_int_equal(n, 1);
	assert_ok(dd_store_artifact_prune(e->store, cut, 10, &n, &err), &err);
	assert_int_equal(n, 0);
	/* the complete one and the one still written to are kept */
	assert_int_equal(count_rows(e, "SELECT count(*) FROM artifact"), 2);
	assert_int_equal(count_rows(e, "SELECT count(*) FROM chunk"), 2);
	assert_int_equal(count_rows(e, "SELECT count(*) FROM artifact"
				       " WHERE id IN (1, 2)"),
			 0);
	(void)old2;
}

/* ---- figures for /metrics --------------------------------------------- */

static void test_stats(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store_stats st;
	unsigned char b[5000] = {0};
	char hex[65];
	long long t1 = add_target(e->store, "a", NULL);
	long long t2 = add_target(e->store, "b", NULL);
	long long f;

	add_target(e->store, "c", NULL);
	finish_target(e->store, t2, DD_TARGET_FAILED);
	f = add_artifact(e->store, t1, "f", "file", NULL);
	upload(e->store, f, b, sizeof(b), 3000, hex);
	f = add_artifact(e->store, t1, "g", "file", NULL);
	assert_ok(dd_store_artifact_append(e->store, f, b, 10, &err), &err);
	add_artifact(e->store, t1, "h", "host", "{\"lease\":1}");
	add_artifact(e->store, t1, "u1", "uri", "{\"uri\":\"http://x\"}");
	add_artifact(e->store, t1, "u2", "uri", "{\"uri\":\"http://x\"}");

	assert_ok(dd_store_stats(e->store, dd_now(), &st, &err), &err);
	assert_int_equal(st.targets[DD_TARGET_BUILDING], 2);
	assert_int_equal(st.targets[DD_TARGET_FAILED], 1);
	assert_int_equal(st.targets[DD_TARGET_PASSED], 0);
	assert_int_equal(st.n_artifact_types, 3);
	for (int i = 0; i < st.n_artifact_types; i++) {
		long long want = !strcmp(st.artifacts[i].type, "file")	 ? 2
				 : !strcmp(st.artifacts[i].type, "uri") ? 2
				 : !strcmp(st.artifacts[i].type, "host") ? 1
									  : -1;

		assert_int_equal(st.artifacts[i].count, want);
	}
	/* an upload under way counts with what it has stored */
	assert_int_equal(st.artifact_bytes, 5010);
	/* the counters agree with a count of the rows */
	assert_int_equal(count_rows(e, "SELECT sum(size) FROM artifact"),
			 5010);
	assert_int_equal(count_rows(e, "SELECT count(*) FROM target"
				       " WHERE status = 2"),
			 1);

	/* and follow a deleted upload and a finish */
	assert_ok(dd_store_artifact_delete(e->store, f, &err), &err);
	finish_target(e->store, t1, DD_TARGET_PASSED);
	assert_ok(dd_store_stats(e->store, dd_now(), &st, &err), &err);
	assert_int_equal(st.artifact_bytes, 5000);
	assert_int_equal(st.targets[DD_TARGET_BUILDING], 1);
	assert_int_equal(st.targets[DD_TARGET_PASSED], 1);
	assert_int_equal(st.targets[DD_TARGET_FAILED], 1);
	for (int i = 0; i < st.n_artifact_types; i++)
		if (!strcmp(st.artifacts[i].type, "file"))
			assert_int_equal(st.artifacts[i].count, 1);
}

/* ---- faults ----------------------------------------------------------- */

/*
 * An append on its own is its own transaction: a fault at its begin
 * writes nothing.  Inside the caller's transaction, a refused append
 * (complete artifact) does not fail the caller's other writes.
 */
static void test_append_alone_and_refusal_inside(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	unsigned char b[10] = {9};
	long long t = add_target(e->store, "t", NULL);
	long long f = add_artifact(e->store, t, "f", "file", NULL);
	long long u = add_artifact(e->store, t, "u", "uri",
				   "{\"uri\":\"http://x\"}");
	struct dd_artifact a = {0};

	dd_store_fail_after(0, DD_ERR_BUSY);
	assert_int_equal(dd_store_artifact_append(e->store, f, b, 10, &err),
			 DD_ERR_BUSY);
	dd_store_fail_after(-1, 0);
	assert_int_equal(count_rows(e, "SELECT count(*) FROM chunk"), 0);

	assert_ok(dd_store_begin(e->store, &err), &err);
	assert_ok(dd_store_artifact_append(e->store, f, b, 10, &err), &err);
	assert_int_equal(dd_store_artifact_append(e->store, u, b, 10, &err),
			 DD_ERR_STATE);
	assert_ok(dd_store_artifact_append(e->store, f, b, 5, &err), &err);
	assert_ok(dd_store_commit(e->store, &err), &err);
	assert_ok(dd_store_artifact_get(e->store, f, &a, &err), &err);
	assert_int_equal(a.size, 15);
	dd_artifact_release(&a);
	assert_int_equal(count_rows(e, "SELECT count(*) FROM chunk"), 2);
}

/* A store made before version 6 gets the tables and keeps its log. */
static void test_upgrade_keeps_log(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *s = NULL;
	struct dd_log_entry_list l = {0};
	struct dd_filter f = {.lease = 5};
	char path[PATH_MAX + 32];
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/v5.db", e->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	for (int i = 0; i < 5; i++)
		assert_int_equal(sqlite3_exec(db, dd_sqlite_migrations[i],
					      NULL, NULL, NULL),
				 SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "PRAGMA user_version = 5;"
				      "INSERT INTO log(lease, type, time)"
				      " VALUES(5, 'lease.queued', 1)",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_ok(dd_store_open(path, NULL, &s, &err), &err);
	assert_ok(dd_store_migrate(s, &err), &err);
	assert_ok(dd_store_log_list(s, &f, &l, &err), &err);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.items[0].target, 0);
	dd_log_entry_list_release(&l);
	add_target(s, "after-upgrade", NULL);
	dd_store_close(s);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_target_round_trip),
		T(test_target_each_pages_and_filters),
		T(test_target_list_and_visitor_stop),
		T(test_target_log_and_commands),
		T(test_artifact_round_trip_and_keys),
		T(test_artifact_list_filters),
		T(test_artifact_release_all),
		T(test_file_chunks_round_trip),
		T(test_file_chunks_in_one_transaction),
		T(test_file_refusals),
		T(test_upload_cut_off_leaves_nothing),
		T(test_prune_stale_uploads),
		T(test_stats),
		T(test_append_alone_and_refusal_inside),
		T(test_upgrade_keeps_log),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
