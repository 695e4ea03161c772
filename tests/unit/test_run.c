/*
 * test_run.c - the library behind `drydock run` (api/run.h): the one
 * transaction that starts a run, the output kept a chunk at a time, a
 * file uploaded, and the finish that releases the lease; the globs of
 * --artifact matched and their files uploaded through a lease's files
 * interface, on a type whose leases have no directory here.
 *
 * Each test gets a temp directory, a migrated store, a worker drained in
 * this thread and a host blueprint with one host of two slots.
 */
#include "testutil.h"

#include "api/run.h"
#include "core/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

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

	if (!x)
		return -1;
	test_env_init(&x->env);
	snprintf(x->root, sizeof(x->root), "%s/hosts", x->env.dir);
	if (dd_worker_init(&x->w, x->env.path, "t", &err))
		fail_msg("worker init: %s", err.msg);
	(void)test_host_pool(x->env.store, x->root, 2);
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
	assert_int_equal(test_lease_status(x->env.store, lease),
			 DD_LEASE_PENDING);
	assert_int_equal(artifacts(x, target), 3);
	f.target_id = target;
	assert_ok(dd_store_artifact_each(x->env.store, &f, count_artifact,
					 &holding, &err),
		  &err);
	assert_int_equal(holding, 1);
	drain(x);
	assert_int_equal(test_lease_status(x->env.store, lease),
			 DD_LEASE_ACTIVE);
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
	assert_int_equal(test_lease_status(x->env.store, lease),
			 DD_LEASE_DESTROYED);
}

/*
 * "box": a type whose leases have no "path" attribute; its commands run
 * in a directory only its spawn knows, as on a remote machine.  Its
 * files interface is the generic one, over that spawn.
 */
static void box_dir(const struct dd_bp_ctx *ctx, long long lease, char *buf,
		    size_t n)
{
	snprintf(buf, n, "%s/box-%lld", ctx->state_dir, lease);
}

static int box_allocate(const struct dd_bp_ctx *ctx,
			const struct dd_lease *lease, size_t n,
			struct dd_resource *r, struct dd_slot_keys *keys,
			struct dd_error *err)
{
	(void)ctx;
	(void)err;
	if (n > 0)
		return DD_ERR_NOTFOUND;
	r->attributes = json_object();
	return dd_slot_keys_add(keys, "box:for-lease:%lld", lease->id);
}

static int box_acquire(const struct dd_bp_ctx *ctx, const struct dd_resource *r,
		       struct dd_lease *lease, size_t n,
		       struct dd_slot_keys *keys, struct dd_error *err)
{
	(void)ctx;
	(void)lease;
	(void)err;
	if (n > 0)
		return DD_ERR_NOTFOUND;
	return dd_slot_keys_add(keys, "resource:%lld:slot:0", r->id);
}

static int box_activate_lease(const struct dd_bp_ctx *ctx,
			      const struct dd_resource *r,
			      struct dd_lease *lease, struct dd_error *err)
{
	char dir[PATH_MAX + 32];

	(void)r;
	box_dir(ctx, lease->id, dir, sizeof(dir));
	if (mkdir(dir, 0700) && errno != EEXIST)
		return dd_error_set(err, DD_ERR_IO, "mkdir '%s'", dir);
	return 0;
}

static int box_spawn(const struct dd_bp_ctx *ctx, const struct dd_resource *r,
		     const struct dd_lease *lease, char *const argv[],
		     char *const env[], const struct dd_exec_io *io,
		     pid_t *pid, struct dd_error *err)
{
	char dir[PATH_MAX + 32];
	char **e = dd_exec_environ(NULL, env);
	struct dd_exec_spec sp = {.argv = argv, .env = e, .dir = dir};
	int rc;

	(void)r;
	box_dir(ctx, lease->id, dir, sizeof(dir));
	rc = dd_exec_spawn(&sp, io, pid, NULL, err);
	dd_free(e);
	return rc;
}

static const struct dd_command_interface box_command = {box_spawn};

static const struct dd_blueprint_type box_type = {
	.version = DD_BLUEPRINT_TYPE_VERSION,
	.name = "box",
	.resource_type = "box",
	.summary = "a test's type without a local directory",
	.allocate = box_allocate,
	.acquire = box_acquire,
	.activate_lease = box_activate_lease,
	.command = &box_command,
};

/* dd_run_glob()'s matches, as "path:kind;" each. */
static int collect(void *arg, const char *path, char type)
{
	return dd_buf_addf(arg, "%s:%c;", path, type);
}

static void glob_is(const struct dd_api_lease *h, const char *pattern,
		    const char *want)
{
	struct dd_file_options o = {0, -1};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_buf got = DD_BUF_INIT;
	size_t n;

	assert_ok(dd_run_glob(h, pattern, &o, collect, &got, &n, &err), &err);
	assert_string_equal(got.buf ? got.buf : "", want);
	dd_buf_release(&got);
}

static void test_artifacts_through_files(void **state)
{
	struct fx *x = *state;
	struct dd_run_request r = request();
	struct dd_error err = DD_ERROR_INIT;
	struct dd_exec_options eo = {.cancel_fd = -1,
				     .null_input = true,
				     .out = DD_EXEC_CAPTURE,
				     .err = DD_EXEC_CAPTURE};
	struct dd_file_options o = {0, -1};
	struct dd_exec_result res;
	struct dd_artifact a = {0};
	struct dd_api_lease h;
	long long target, lease;
	char *argv[] = {"sh", "-c",
			"mkdir -p dist/sub dist/d.bin && printf abc >dist/a.bin "
			"&& head -c 700000 /dev/zero >dist/big.bin && "
			"echo x >dist/.hidden.bin && echo t >dist/c.txt && "
			"ln -s a.bin dist/link.bin && printf s >dist/sub/s.bin",
			NULL};
	json_t *cfg = json_object();
	char zeros[65];
	int before;

	assert_ok(dd_api_blueprint_create(x->env.store, "box", "boxes", cfg,
					  true, NULL, &err),
		  &err);
	json_decref(cfg);
	r.lease.type = "box";
	assert_ok(dd_run_start(x->env.store, &r, &target, &lease, &err), &err);
	drain(x);
	assert_int_equal(test_lease_status(x->env.store, lease),
			 DD_LEASE_ACTIVE);
	assert_ok(dd_api_exec(x->env.store, lease, argv, NULL, &eo, &res, &err),
		  &err);
	assert_int_equal(res.exit_status, 0);
	dd_exec_result_release(&res);
	assert_ok(dd_api_lease_open(x->env.store, lease, "take artifacts from",
				    &h, &err),
		  &err);
	/* no directory here to glob in: only the files interface knows */
	assert_null(json_object_get(h.lease.attributes, "path"));
	/* in name order; a leading '.' only for a '.'; kinds as listed */
	glob_is(&h, "dist/*.bin", "dist/a.bin:f;dist/big.bin:f;dist/d.bin:d;"
				  "dist/link.bin:l;");
	glob_is(&h, "*/sub/?.bin", "dist/sub/s.bin:f;");
	glob_is(&h, "dist/c.txt", "dist/c.txt:f;");
	glob_is(&h, "dist/.*.bin", "dist/.hidden.bin:f;");
	glob_is(&h, "nothing/*", "");
	glob_is(&h, "dist/nope", "");
	/* a file read through the interface, stored as it comes */
	assert_ok(dd_run_upload_lease_file(x->env.store, target, &h,
					   "dist/big.bin", &o, &a, &err),
		  &err);
	assert_int_equal(a.size, 700000);
	{
		char *z = calloc(1, 700000);

		dd_sha256_hex(z, 700000, zeros);
		free(z);
	}
	assert_string_equal(a.sha256, zeros);
	dd_artifact_release(&a);
	/* a read that fails leaves no artifact, complete or not */
	before = artifacts(x, target);
	assert_int_equal(dd_run_upload_lease_file(x->env.store, target, &h,
						  "dist/nope", &o, &a, &err),
			 DD_ERR_NOTFOUND);
	assert_int_equal(dd_run_upload_lease_file(x->env.store, target, &h,
						  "dist/sub", &o, &a, &err),
			 DD_ERR_INVALID);
	assert_int_equal(artifacts(x, target), before);
	dd_api_lease_close(&h);
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
		T(test_artifacts_through_files),
	};

	if (dd_blueprint_type_add_for_tests(&box_type))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
