/*
 * test_target_update.c - build targets through the requester calls
 * (api/api.h: create, add an artifact, send finish) and the target's
 * update worker (worker/target_update.c), drained in this thread.
 *
 * Each test gets a temp directory, a migrated store, a worker and a host
 * blueprint with one host of four slots, so that leases become active.
 * Nothing sleeps: a deadline is tested with one already passed.
 */
#include "testutil.h"

#include "api/api.h"
#include "queue/task.h"
#include "worker/worker.h"

#define OWNER "token:ci"

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
	(void)test_host_pool(x->env.store, x->root, 4);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;

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

static long long target_new(struct fx *x, double ttl)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_target_request req = {.name = "build 1", .ttl = ttl,
					.owner = OWNER};
	struct dd_target t = {0};
	long long id;

	assert_ok(dd_api_target_create(x->env.store, &req, &t, &err), &err);
	assert_int_equal(t.status, DD_TARGET_BUILDING);
	id = t.id;
	dd_target_release(&t);
	return id;
}

static struct dd_target target_get(struct fx *x, long long id)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_target t = {0};

	assert_ok(dd_store_target_get(x->env.store, id, &t, &err), &err);
	return t;
}

static enum dd_target_status target_status(struct fx *x, long long id)
{
	struct dd_target t = target_get(x, id);
	enum dd_target_status st = t.status;

	dd_target_release(&t);
	return st;
}

/* An active lease of `owner`. */
static long long lease_new(struct fx *x, const char *owner)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease_request req = {.type = "host", .owner = owner};
	struct dd_lease l = {0};
	long long id;

	assert_ok(dd_api_lease_create(x->env.store, &req, &l, &err), &err);
	id = l.id;
	dd_lease_release(&l);
	drain(x);
	assert_ok(dd_store_lease_get(x->env.store, id, &l, &err), &err);
	assert_int_equal(l.status, DD_LEASE_ACTIVE);
	dd_lease_release(&l);
	return id;
}

/* Add an artifact; returns the call's code, err filled on refusal. */
static int artifact_add(struct fx *x, long long target, const char *key,
			const char *type, const char *data, bool any_lease,
			struct dd_error *err)
{
	struct dd_artifact_request req = {.target = target, .key = key,
					  .type = type,
					  .any_lease = any_lease};
	struct dd_artifact a = {0};
	int rc;

	req.data = data ? json_loads(data, 0, NULL) : NULL;
	rc = dd_api_artifact_add(x->env.store, &req, &a, err);
	json_decref(req.data);
	dd_artifact_release(&a);
	return rc;
}

static int finish(struct fx *x, long long target, const char *result,
		  struct dd_error *err)
{
	json_t *d = json_pack("{s:s}", "result", result);
	int rc = dd_api_send(x->env.store,
			     (struct dd_ref){DD_OBJ_TARGET, target}, "finish",
			     OWNER, d, NULL, err);

	json_decref(d);
	return rc;
}

static size_t count_log(struct fx *x, long long target, long long lease,
			const char *type)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {.target_id = target, .lease = lease,
			      .type = type};
	struct dd_log_entry_list l = {0};
	size_t n;

	assert_ok(dd_store_log_list(x->env.store, &f, &l, &err), &err);
	n = l.n;
	dd_log_entry_list_release(&l);
	return n;
}

static size_t artifacts(struct fx *x, long long target, size_t *released)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {.target_id = target};
	struct dd_artifact_list l = {0};
	size_t n;

	assert_ok(dd_store_artifact_list(x->env.store, &f, &l, &err), &err);
	n = l.n;
	*released = 0;
	for (size_t i = 0; i < l.n; i++)
		*released += l.items[i].released;
	dd_artifact_list_release(&l);
	return n;
}

/*
 * Finishing applies in one pass: the status, every artifact released, one
 * release command per lease artifact's lease (whose own worker releases
 * it), and the log.  Finish is taken once: refused while one waits, and
 * after.
 */
static void test_finish_releases_each_lease_once(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	long long t = target_new(x, 0);
	long long l1 = lease_new(x, OWNER), l2 = lease_new(x, OWNER);
	struct dd_command_list cmds = {0};
	struct dd_filter f = {0};
	struct dd_target got;
	size_t released;
	char data[64];

	snprintf(data, sizeof(data), "{\"lease\": %lld}", l1);
	assert_ok(artifact_add(x, t, "host1", "host", data, false, &err),
		  &err);
	snprintf(data, sizeof(data), "{\"lease\": %lld}", l2);
	assert_ok(artifact_add(x, t, "host2", "host", data, false, &err),
		  &err);
	assert_ok(artifact_add(x, t, "ci", "uri",
			       "{\"uri\": \"https://ci.example/1\"}", false,
			       &err),
		  &err);

	assert_ok(finish(x, t, "passed", &err), &err);
	/* a second finish waits behind none: refused, nothing queued */
	assert_int_equal(finish(x, t, "failed", &err), DD_ERR_STATE);
	assert_string_equal(err.msg,
			    "cannot finish target 1: it is already finishing");
	/* a command is a request: nothing has changed yet */
	assert_int_equal(target_status(x, t), DD_TARGET_BUILDING);

	drain(x);
	got = target_get(x, t);
	assert_int_equal(got.status, DD_TARGET_PASSED);
	assert_true(got.finished > 0);
	dd_target_release(&got);
	assert_int_equal(artifacts(x, t, &released), 3);
	assert_int_equal(released, 3);
	assert_int_equal(test_lease_status(x->env.store, l1),
			 DD_LEASE_DESTROYED);
	assert_int_equal(test_lease_status(x->env.store, l2),
			 DD_LEASE_DESTROYED);
	assert_int_equal(count_log(x, 0, l1, "lease.released"), 1);
	assert_int_equal(count_log(x, 0, l2, "lease.released"), 1);
	assert_int_equal(count_log(x, t, 0, "target.finished"), 1);
	assert_int_equal(count_log(x, t, 0, "target.lease-released"), 2);

	/* the release came from the target */
	f.target = (struct dd_ref){DD_OBJ_LEASE, l1};
	assert_ok(dd_store_command_list(x->env.store, &f, &cmds, &err), &err);
	assert_int_equal(cmds.n, 1);
	assert_string_equal(cmds.items[0].author, "target:1");
	assert_string_equal(cmds.items[0].outcome, "done");
	dd_command_list_release(&cmds);

	/* finished: no finish, no artifact */
	assert_int_equal(finish(x, t, "aborted", &err), DD_ERR_STATE);
	assert_string_equal(err.msg,
			    "cannot finish target 1: it is already passed");
	assert_int_equal(artifact_add(x, t, "late", "uri",
				      "{\"uri\": \"https://x.example/\"}",
				      false, &err),
			 DD_ERR_STATE);
	assert_string_equal(err.msg, "cannot add an artifact to target 1: it "
				     "is already passed");
	/* more passes change nothing */
	assert_ok(dd_target_update(&x->w, t, &err), &err);
	drain(x);
	assert_int_equal(count_log(x, t, 0, "target.finished"), 1);
	assert_int_equal(count_log(x, 0, l1, "lease.released"), 1);
}

/* A lease released by hand before the finish gets no second release. */
static void test_finish_skips_a_lease_already_released(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	long long t = target_new(x, 0), l = lease_new(x, OWNER);
	char data[64];

	snprintf(data, sizeof(data), "{\"lease\": %lld}", l);
	assert_ok(artifact_add(x, t, "host", "host", data, false, &err),
		  &err);
	assert_ok(dd_api_send(x->env.store, (struct dd_ref){DD_OBJ_LEASE, l},
			      "release", OWNER, NULL, NULL, &err),
		  &err);
	drain(x);
	assert_ok(finish(x, t, "failed", &err), &err);
	drain(x);
	assert_int_equal(target_status(x, t), DD_TARGET_FAILED);
	assert_int_equal(count_log(x, 0, l, "lease.released"), 1);
	assert_int_equal(count_log(x, t, 0, "target.lease-not-released"), 1);
}

/*
 * The deadline is a task queued at creation, due at the deadline; its
 * pass finishes the target as aborted with the reason in the log.  The
 * target here is stored with a deadline already passed, so nothing waits.
 */
static void test_deadline_aborts(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {0};
	struct dd_task_list tl = {0};
	struct dd_log_entry_list log = {0};
	struct dd_target t = {.name = "late", .owner = OWNER,
			      .status = DD_TARGET_BUILDING};
	long long later = target_new(x, 3600), l = lease_new(x, OWNER);
	char data[64];

	/* the deadline's task is queued, due at the deadline */
	f.target = (struct dd_ref){DD_OBJ_TARGET, later};
	assert_ok(dd_store_task_list(x->env.store, &f, &tl, &err), &err);
	assert_int_equal(tl.n, 1);
	assert_string_equal(tl.items[0].kind, DD_TASK_TARGET_UPDATE);
	assert_true(tl.items[0].not_before > dd_now() + 3500);
	dd_task_list_release(&tl);

	t.deadline = dd_now() - 1;
	assert_ok(dd_store_target_insert(x->env.store, &t, &err), &err);
	snprintf(data, sizeof(data), "{\"lease\": %lld}", l);
	assert_ok(artifact_add(x, t.id, "host", "host", data, false, &err),
		  &err);
	assert_ok(dd_task_schedule_update(x->env.store,
					  (struct dd_ref){DD_OBJ_TARGET,
							  t.id},
					  0, &err),
		  &err);
	drain(x);
	assert_int_equal(target_status(x, t.id), DD_TARGET_ABORTED);
	assert_int_equal(test_lease_status(x->env.store, l),
			 DD_LEASE_DESTROYED);
	assert_int_equal(count_log(x, t.id, 0, "target.deadline"), 1);
	f = (struct dd_filter){.target_id = t.id, .type = "target.finished"};
	assert_ok(dd_store_log_list(x->env.store, &f, &log, &err), &err);
	assert_int_equal(log.n, 1);
	assert_string_equal(json_string_value(json_object_get(log.items[0].data,
							      "author")),
			    "drydock:deadline");
	assert_non_null(strstr(json_string_value(json_object_get(
					   log.items[0].data, "reason")),
				"passed"));
	dd_log_entry_list_release(&log);
	/* the other target's deadline has not come: still building */
	assert_int_equal(target_status(x, later), DD_TARGET_BUILDING);
}

/* A finish already queued when the deadline passes is the one applied. */
static void test_deadline_after_a_queued_finish(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_target t = {.owner = OWNER, .status = DD_TARGET_BUILDING};

	t.deadline = dd_now() - 1;
	assert_ok(dd_store_target_insert(x->env.store, &t, &err), &err);
	assert_ok(finish(x, t.id, "passed", &err), &err);
	drain(x);
	assert_int_equal(target_status(x, t.id), DD_TARGET_PASSED);
	assert_int_equal(count_log(x, t.id, 0, "target.deadline"), 0);
}

/* Every refusal of an artifact changes nothing. */
static void test_artifact_refusals(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	long long t = target_new(x, 0);
	long long mine = lease_new(x, OWNER), theirs = lease_new(x, "token:x");
	long long gone = lease_new(x, OWNER);
	size_t released;
	char data[64];

	assert_ok(dd_api_send(x->env.store,
			      (struct dd_ref){DD_OBJ_LEASE, gone}, "release",
			      OWNER, NULL, NULL, &err),
		  &err);
	drain(x);

	snprintf(data, sizeof(data), "{\"lease\": %lld}", theirs);
	assert_int_equal(artifact_add(x, t, "h", "host", data, false, &err),
			 DD_ERR_INVALID);
	assert_string_equal(err.msg, "host artifact: lease 2 belongs to "
				     "'token:x', not to target 1's owner "
				     "'token:ci'");
	snprintf(data, sizeof(data), "{\"lease\": %lld}", gone);
	assert_int_equal(artifact_add(x, t, "h", "host", data, false, &err),
			 DD_ERR_STATE);
	assert_string_equal(err.msg,
			    "host artifact: lease 3 is already destroyed");
	assert_int_equal(artifact_add(x, t, "h", "host", "{\"lease\": 99}",
				      false, &err),
			 DD_ERR_INVALID);
	assert_string_equal(err.msg, "host artifact: lease 99 does not exist");
	assert_int_equal(artifact_add(x, t, "h", "host", "{}", false, &err),
			 DD_ERR_INVALID);
	assert_string_equal(err.msg, "host artifact: missing field 'lease'");
	assert_int_equal(artifact_add(x, t, "u", "uri",
				      "{\"uri\": \"javascript:alert(1)\"}",
				      false, &err),
			 DD_ERR_INVALID);
	assert_int_equal(artifact_add(x, 42, "u", "uri",
				      "{\"uri\": \"https://a.example/\"}",
				      false, &err),
			 DD_ERR_NOTFOUND);
	assert_int_equal(artifact_add(x, t, "", "uri",
				      "{\"uri\": \"https://a.example/\"}",
				      false, &err),
			 DD_ERR_INVALID);
	assert_int_equal(artifacts(x, t, &released), 0);
	assert_int_equal(count_log(x, t, 0, "artifact.added"), 0);

	/* an admin may name anybody's lease; keys are unique per target */
	snprintf(data, sizeof(data), "{\"lease\": %lld}", theirs);
	assert_ok(artifact_add(x, t, "h", "host", data, true, &err), &err);
	snprintf(data, sizeof(data), "{\"lease\": %lld}", mine);
	assert_int_equal(artifact_add(x, t, "h", "host", data, false, &err),
			 DD_ERR_EXISTS);
	assert_string_equal(err.msg, "target 1 already has an artifact with "
				     "key 'h'");
	assert_int_equal(artifacts(x, t, &released), 1);
}

/* A create with an idempotency key retried makes one target. */
static void test_create_idempotent(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_idem k;
	json_t *params = json_pack("{s:s}", "name", "b");
	struct dd_target_request req = {.name = "b", .owner = OWNER,
					.idem = &k};
	struct dd_target a = {0}, b = {0};

	assert_ok(dd_idem_init(&k, "key-1", OWNER, "POST /api/v1/targets",
			       params, &err),
		  &err);
	assert_ok(dd_api_target_create(x->env.store, &req, &a, &err), &err);
	assert_ok(dd_idem_init(&k, "key-1", OWNER, "POST /api/v1/targets",
			       params, &err),
		  &err);
	assert_ok(dd_api_target_create(x->env.store, &req, &b, &err), &err);
	assert_true(k.replayed);
	assert_int_equal(a.id, b.id);
	dd_target_release(&a);
	dd_target_release(&b);
	json_decref(params);

	req = (struct dd_target_request){.name = "bad\n", .owner = OWNER};
	assert_int_equal(dd_api_target_create(x->env.store, &req, NULL, &err),
			 DD_ERR_INVALID);
	req = (struct dd_target_request){.ttl = -5, .owner = OWNER};
	assert_int_equal(dd_api_target_create(x->env.store, &req, NULL, &err),
			 DD_ERR_INVALID);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_finish_releases_each_lease_once),
		T(test_finish_skips_a_lease_already_released),
		T(test_deadline_aborts),
		T(test_deadline_after_a_queued_finish),
		T(test_artifact_refusals),
		T(test_create_idempotent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
