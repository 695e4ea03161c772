/*
 * test_file.c - file artifacts' bytes in and out of the store (api/file.h):
 * an upload in uneven pieces read back intact with its SHA-256, key and
 * name checks and refusals that store nothing, an abort and a store fault
 * halfway that leave no artifact and no chunk, and every form of Range
 * header, satisfiable, unsatisfiable and ignored.
 *
 * Each test gets its own temp directory and migrated store (testutil.h).
 */
#include "testutil.h"

#include <sqlite3.h>

#include "api/file.h"
#include "core/sha256.h"

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

static long long add_target(struct dd_store *s)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_target t = {0};

	t.owner = (char *)"token:ci";
	t.status = DD_TARGET_BUILDING;
	assert_ok(dd_store_target_insert(s, &t, &err), &err);
	return t.id;
}

/* The rows of `table` ("artifact", "chunk"), read past the store. */
static long long count(struct test_env *e, const char *table)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char sql[64];
	long long n = -1;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	assert_int_equal(sqlite3_open(e->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
			 SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* Upload `n` pseudo-random bytes in uneven pieces; the hex hash in sum. */
static long long upload(struct dd_store *s, long long target, const char *key,
			size_t n, char sum[65])
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_file_upload u;
	struct dd_artifact a = {0};
	unsigned char *buf = malloc(n ? n : 1);
	uint32_t x = 7;
	long long id;

	assert_non_null(buf);
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (unsigned char)(x >> 16);
	}
	dd_sha256_hex(buf, n, sum);
	assert_ok(dd_file_begin(s, target, key, "out.bin", &u, &err), &err);
	for (size_t at = 0, piece = 1; at < n; at += piece) {
		piece = piece * 3 % 300007 + 1;
		if (piece > n - at)
			piece = n - at;
		dd_file_hash(&u, buf + at, piece);
		assert_ok(dd_file_write(s, &u, buf + at, piece, &err), &err);
	}
	assert_ok(dd_file_end(s, &u, &a, &err), &err);
	assert_true(a.complete);
	assert_int_equal(a.size, (long long)n);
	assert_string_equal(a.sha256, sum);
	assert_string_equal(json_string_value(json_object_get(a.data, "name")),
			    "out.bin");
	id = a.id;
	dd_artifact_release(&a);
	free(buf);
	return id;
}

/* A few MB in uneven pieces, read back a chunk at a time: the same hash. */
static void test_upload_round_trip(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_sha256_ctx c;
	char sum[65], again[65];
	char *buf = malloc(DD_CHUNK_MAX);
	long long t = add_target(e->store), id, pos = 0;
	size_t n;

	assert_non_null(buf);
	id = upload(e->store, t, "a", 3 * 1024 * 1024 + 17, sum);
	dd_sha256_init(&c);
	do {
		assert_ok(dd_store_artifact_read(e->store, id, pos, buf,
						 DD_CHUNK_MAX, &n, &err),
			  &err);
		dd_sha256_update(&c, buf, n);
		pos += (long long)n;
	} while (n);
	dd_sha256_final_hex(&c, again);
	assert_string_equal(sum, again);
	assert_int_equal(pos, 3 * 1024 * 1024 + 17);
	/* an empty file is a file too */
	upload(e->store, t, "empty", 0, sum);
	assert_string_equal(sum, "e3b0c44298fc1c149afbf4c8996fb924"
				 "27ae41e4649b934ca495991b7852b855");
	free(buf);
}

/* Bad keys and names, a missing target, a taken key: nothing stored. */
static void test_begin_refusals(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_file_upload u;
	long long t = add_target(e->store);
	char sum[65];

	assert_int_equal(dd_file_begin(e->store, t, "", NULL, &u, &err),
			 DD_ERR_INVALID);
	assert_int_equal(dd_file_begin(e->store, t, "a\nb", NULL, &u, &err),
			 DD_ERR_INVALID);
	assert_int_equal(dd_file_begin(e->store, t, "k", "x\001y", &u, &err),
			 DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "name"));
	assert_int_equal(dd_file_begin(e->store, t + 1, "k", NULL, &u, &err),
			 DD_ERR_NOTFOUND);
	assert_int_equal(count(e, "artifact"), 0);
	upload(e->store, t, "k", 10, sum);
	assert_int_equal(dd_file_begin(e->store, t, "k", NULL, &u, &err),
			 DD_ERR_EXISTS);
	assert_int_equal(count(e, "artifact"), 1);
}

/* Aborted halfway, or a store fault halfway: no artifact, no chunk. */
static void test_abort_leaves_nothing(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_file_upload u;
	long long t = add_target(e->store);
	static char piece[DD_CHUNK_SIZE];

	assert_ok(dd_file_begin(e->store, t, "cut", NULL, &u, &err), &err);
	for (int i = 0; i < 4; i++)
		assert_ok(dd_file_write(e->store, &u, piece, sizeof(piece),
					&err),
			  &err);
	assert_int_equal(count(e, "chunk"), 4);
	assert_ok(dd_file_abort(e->store, &u, &err), &err);
	assert_int_equal(count(e, "artifact"), 0);
	assert_int_equal(count(e, "chunk"), 0);

	assert_ok(dd_file_begin(e->store, t, "fault", NULL, &u, &err), &err);
	assert_ok(dd_file_write(e->store, &u, piece, sizeof(piece), &err),
		  &err);
	dd_store_fail_after(0, DD_ERR_STORE);
	assert_int_not_equal(
		dd_file_write(e->store, &u, piece, sizeof(piece), &err), 0);
	dd_store_fail_after(-1, 0);
	assert_int_equal(u.size, (long long)sizeof(piece));
	assert_int_equal(count(e, "chunk"), 1);
	assert_ok(dd_file_abort(e->store, &u, &err), &err);
	assert_int_equal(count(e, "artifact"), 0);
	assert_int_equal(count(e, "chunk"), 0);
}

/* Every form of Range: satisfiable, unsatisfiable, ignored. */
static void test_range(void **state)
{
	static const struct {
		const char *header;
		long long size;
		int fit;
		long long first, length;
	} cases[] = {
		{"bytes=0-9", 100, 1, 0, 10},
		{"bytes=10-", 100, 1, 10, 90},
		{"bytes=-5", 100, 1, 95, 5},
		{"bytes=-500", 100, 1, 0, 100},
		{"bytes=90-200", 100, 1, 90, 10},
		{"bytes=99-99", 100, 1, 99, 1},
		{"bytes=100-", 100, -1, 0, 0},
		{"bytes=100-200", 100, -1, 0, 0},
		{"bytes=-0", 100, -1, 0, 0},
		{"bytes=-1", 0, -1, 0, 0},
		{"bytes=0-", 0, -1, 0, 0},
		{"bytes=5-4", 100, 0, 0, 0},
		{"bytes=0-1,5-6", 100, 0, 0, 0},
		{"items=0-1", 100, 0, 0, 0},
		{"bytes=x-1", 100, 0, 0, 0},
		{"bytes=1-x", 100, 0, 0, 0},
		{"bytes=+1-2", 100, 0, 0, 0},
		{"bytes=1", 100, 0, 0, 0},
		{"bytes=-", 100, 0, 0, 0},
		{"bytes=99999999999999999999-", 100, 0, 0, 0},
		{NULL, 100, 0, 0, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct dd_file_range r = {-1, -1};
		int fit = dd_file_range(cases[i].header, cases[i].size, &r);

		if (fit != cases[i].fit)
			fail_msg("'%s' of %lld: %d, want %d",
				 cases[i].header ? cases[i].header : "(none)",
				 cases[i].size, fit, cases[i].fit);
		if (fit == 1 && (r.first != cases[i].first ||
				 r.length != cases[i].length))
			fail_msg("'%s': %lld+%lld, want %lld+%lld",
				 cases[i].header, r.first, r.length,
				 cases[i].first, cases[i].length);
	}
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_upload_round_trip),
		T(test_begin_refusals),
		T(test_abort_leaves_nothing),
		cmocka_unit_test(test_range),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
