/*
 * test_run.c - the library behind `drydock run` (api/run.h): the one
 * transaction that starts a run, the output kept a chunk at a time, a
 * file uploaded, and the finish that releases the lease.
 *
 * Each test gets a temp directory, a migrated store, a worker drained in
 * this thread and a host blueprint with one host of two slots.
 */
#include "testutil.h"

#include "api/run.h"
#include "core/sha256.h"

#include <fcntl.h>

#define OWNER "cli:ci@build1"

struct fx {
	struct test_env env;
	struct dd_worker w;
	char root[PATH_MAX + 16];
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct dd_error err = DD_ERROR_INIT;
	struct dd_blueprint bp = {0};
	json_t *cfg;

	if (!x)
		return -1;
	test_env_init(&x->env);
	snprintf(x->root, sizeof(x->root), "%s/hosts", x->env.dir);
	if (dd_worker_init(&x->w, x->env.path, "t", &err))
		fail_msg("worker init: %s", err.msg);
	cfg = json_pack("{s:[{s:s, s:i}], s:s}", "hosts", "name", "a",
			"slots", 2, "root", x->root);
	assert_ok(dd_api_blueprint_create(x->env.store, "host", "pool", cfg,
					  true, &bp, &err),
		  &err);
	json_decref(cfg);
	dd_blueprint_release(&bp);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;

	dd_store_fail_after(-1, 0);
	dd_worker_release(&x->w);
	test_env_release(&x->env);
	free(x);
	return 0;
}

static void drain(struct fx *x)
{
	struct dd_error err = DD_ERROR_INIT;

	assert_ok(dd_worker_drain(&x->w, 1000, &err), &err);
}

static const struct dd_run_uri uris[] = {
	{"report", "https://ci.example/r/1"},
	{"log", "http://ci.example/l/1"},
};

static struct dd_run_request request(void)
{
	struct dd_run_request r = {.name = "build 1",
				   .ttl = 60,
				   .owner = OWNER,
				   .lease = {.type = "host"},
				   .uris = uris,
				   .n_uris = 2};
	return r;
}

static bool target_exists(struct fx *x, long long id)
{
	struct dd_target t = {0};
	int rc = dd_store_target_get(x->env.store, id, &t, NULL);

	dd_target_release(&t);
	return rc == 0;
}

static bool lease_exists(struct fx *x, long long id)
{
	struct dd_lease l = {0};
	int rc = dd_store_lease_get(x->env.store, id, &l, NULL);

	dd_lease_release(&l);
	return rc == 0;
}

static int count_artifact(void *arg, struct dd_artifact *a,
			  struct dd_error *err)
{
	(void)a;
	(void)err;
	(*(int *)arg)++;
	return 0;
}

static int artifacts(struct fx *x, long long target)
{
	struct dd_filter f = {.target_id = target};
	struct dd_error err = DD_ERROR_INIT;
	int n = 0;

	assert_ok(dd_store_artifact_each(x->env.store, &f, count_artifact, &n,
					 &err),
		  &err);
	return n;
}

static enum dd_lease_status lease_status(struct fx *x, long long id)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease l = {0};
	enum dd_lease_status st;

	assert_ok(dd_store_lease_get(x->env.store, id, &l, &err), &err);
	st = l.status;
	dd_lease_release(&l);
	return st;
}

/* The target, its lease and its artifacts, all there and tied together. */
static void test_start_creates_all(void **state)
{
	struct fx *x = *state;
	struct dd_run_request r = request();
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {.type = "host"};
	struct dd_target t = {0};
	long long target, lease;
	int holding = 0;

	assert_ok(dd_run_start(x->env.store, &r, &target, &lease, &err), &err);
	assert_ok(dd_store_target_get(x->env.store, target, &t, &err), &err);
	assert_string_equal(t.owner, OWNER);
	assert_true(t.deadline > dd_now() + 50);
	dd_target_release(&t);
	assert_int_equal(lease_status(x, lease), DD_LEASE_PENDING);
	assert_int_equal(artifacts(x, target), 3);
	f.target_id = target;
	assert_ok(dd_store_artifact_each(x->env.store, &f, count_artifact,
					 &holding, &err),
		  &err);
	assert_int_equal(holding, 1);
	drain(x);
	assert_int_equal(lease_status(x, lease), DD_LEASE_ACTIVE);
}

/*
 * A store failure at any step of the start leaves nothing: no target
 * without its lease, and above all no lease without the artifact that
 * releases it.
 */
static void test_start_all_or_nothing(void **state)
{
	struct fx *x = *state;
	struct dd_run_request r = request();
	struct dd_error err = DD_ERROR_INIT;
	long long target = 0, lease = 0;
	int rc;
	long n;

	for (n = 0;; n++) {
		dd_error_clear(&err);
		dd_store_fail_after(n, DD_ERR_STORE);
		rc = dd_run_start(x->env.store, &r, &target, &lease, &err);
		dd_store_fail_after(-1, 0);
		assert_int_equal(x->env.store->depth, 0);
		if (!rc)
			break;
		assert_int_equal(rc, DD_ERR_STORE);
		assert_false(target_exists(x, 1));
		assert_false(lease_exists(x, 1));
	}
	assert_true(n > 3);
	assert_int_equal(target, 1);
	assert_int_equal(lease, 1);
	assert_int_equal(artifacts(x, 1), 3);
}

/* Refusals inside the transaction and before it create nothing. */
static void test_start_refusals(void **state)
{
	struct fx *x = *state;
	struct dd_run_request r = request();
	struct dd_error err = DD_ERROR_INIT;
	struct dd_run_uri bad[] = {{"x", "ftp://example.com/f"}};
	struct dd_run_uri twice[] = {{"x", "http://a"}, {"x", "http://b"}};
	json_t *bps = json_pack("[i]", 99);
	long long target, lease;

	r.uris = bad;
	r.n_uris = 1;
	assert_int_equal(dd_run_start(x->env.store, &r, &target, &lease, &err),
			 DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "scheme"));
	r.uris = twice;
	r.n_uris = 2;
	assert_int_equal(dd_run_start(x->env.store, &r, &target, &lease, &err),
			 DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "two URIs named 'x'"));
	/* found only inside the transaction, after the target was made */
	r = request();
	r.lease.blueprints = bps;
	assert_int_equal(dd_run_start(x->env.store, &r, &target, &lease, &err),
			 DD_ERR_NOTFOUND);
	json_decref(bps);
	r = request();
	r.lease.type = "vm";
	assert_int_equal(dd_run_start(x->env.store, &r, &target, &lease, &err),
			 DD_ERR_INVALID);
	r = request();
	r.ttl = 0;
	assert_int_equal(dd_run_start(x->env.store, &r, &target, &lease, &err),
			 DD_ERR_INVALID);
	assert_false(target_exists(x, 1));
	assert_false(lease_exists(x, 1));
}

/* Read a file artifact whole (small ones, in tests). */
static size_t read_all(struct fx *x, long long id, char *buf, size_t cap)
{
	struct dd_error err = DD_ERROR_INIT;
	size_t got = 0, n;

	do {
		assert_ok(dd_store_artifact_read(x->env.store, id,
						 (long long)got, buf + got,
						 cap - got, &n, &err),
			  &err);
		got += n;
	} while (n && got < cap);
	return got;
}

/*
 * Output given in small and large pieces is stored as given, a chunk at
 * a time, and completed with its size and hash.
 */
static void test_output_kept(void **state)
{
	struct fx *x = *state;
	struct dd_run_request r = request();
	struct dd_error err = DD_ERROR_INIT;
	struct dd_run_output o;
	struct dd_filter f = {.key = DD_RUN_OUTPUT_KEY};
	size_t size = 3 * DD_CHUNK_SIZE + 1000, at = 0;
	char *want = malloc(size), *got = malloc(size + 1);
	char hex[DD_SHA256_HEX_LEN + 1];
	struct dd_sha256_ctx sha;
	struct found {
		long long id, size;
		char sha256[65];
	} a = {0};
	long long target, lease;

	assert_non_null(want);
	assert_non_null(got);
	for (size_t i = 0; i < size; i++)
		want[i] = (char)('a' + i % 23);
	assert_ok(dd_run_start(x->env.store, &r, &target, &lease, &err), &err);
	assert_ok(dd_run_output_begin(x->env.store, target, &o, &err), &err);
	/* 1-byte, 7-byte and then chunk-and-a-half pieces */
	dd_run_output_add(x->env.store, &o, want, 1);
	dd_run_output_add(x->env.store, &o, want + 1, 7);
	for (at = 8; at < size;) {
		size_t n = size - at < DD_CHUNK_SIZE * 3 / 2
				   ? size - at
				   : DD_CHUNK_SIZE * 3 / 2;

		dd_run_output_add(x->env.store, &o, want + at, n);
		at += n;
	}
	assert_ok(dd_run_output_end(x->env.store, &o, &err), &err);
	assert_null(o.buf);
	f.target_id = target;
	{
		struct dd_artifact art = {0};
		int n = 0;

		assert_ok(dd_store_artifact_each(x->env.store, &f,
						 count_artifact, &n, &err),
			  &err);
		assert_int_equal(n, 1);
		/* the output is the artifact after the lease's and the URIs' */
		assert_ok(dd_store_artifact_get(x->env.store, 4, &art, &err),
			  &err);
		assert_string_equal(art.key, DD_RUN_OUTPUT_KEY);
		assert_true(art.complete);
		a.id = art.id;
		a.size = art.size;
		memcpy(a.sha256, art.sha256, sizeof(a.sha256));
		dd_artifact_release(&art);
	}
	assert_int_equal(a.size, (long long)size);
	assert_int_equal(read_all(x, a.id, got, size + 1), size);
	assert_memory_equal(got, want, size);
	dd_sha256_init(&sha);
	dd_sha256_update(&sha, want, size);
	dd_sha256_final_hex(&sha, hex);
	assert_string_equal(a.sha256, hex);
	free(want);
	free(got);
}

/* A file uploaded from a descriptor, then the finish releasing the lease. */
static void test_upload_and_finish(void **state)
{
	struct fx *x = *state;
	struct dd_run_request r = request();
	struct dd_error err = DD_ERROR_INIT;
	struct dd_artifact a = {0};
	struct dd_target t = {0};
	char path[PATH_MAX + 32], got[16];
	long long target, lease;
	int fd;

	assert_ok(dd_run_start(x->env.store, &r, &target, &lease, &err), &err);
	drain(x);
	snprintf(path, sizeof(path), "%s/f", x->env.dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "abc", 3), 3);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_ok(dd_run_upload_file(x->env.store, target, fd, "dist/f", &a,
				     &err),
		  &err);
	close(fd);
	assert_int_equal(a.size, 3);
	assert_string_equal(a.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a3"
				      "96177a9cb410ff61f20015ad");
	assert_int_equal(read_all(x, a.id, got, sizeof(got)), 3);
	assert_memory_equal(got, "abc", 3);
	dd_artifact_release(&a);
	/* a key taken is refused and leaves no incomplete artifact */
	fd = open(path, O_RDONLY);
	assert_int_equal(dd_run_upload_file(x->env.store, target, fd, "dist/f",
					    NULL, &err),
			 DD_ERR_EXISTS);
	close(fd);
	assert_int_equal(artifacts(x, target), 4);

	assert_ok(dd_run_finish(x->env.store, target, "passed", NULL, OWNER,
				&err),
		  &err);
	assert_int_equal(dd_run_finish(x->env.store, target, "failed", "again",
				       OWNER, &err),
			 DD_ERR_STATE);
	drain(x);
	assert_ok(dd_store_target_get(x->env.store, target, &t, &err), &err);
	assert_int_equal(t.status, DD_TARGET_PASSED);
	dd_target_release(&t);
	assert_int_equal(lease_status(x, lease), DD_LEASE_DESTROYED);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_start_creates_all),
		T(test_start_all_or_nothing),
		T(test_start_refusals),
		T(test_output_kept),
		T(test_upload_and_finish),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
