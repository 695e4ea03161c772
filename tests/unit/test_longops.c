/*
 * test_longops.c - blueprint operations that take long, through a fake
 * blueprint type ("fake", resource type "fake") registered by this test
 * alone (dd_blueprint_type_add_for_tests).  Its activate_resource hook
 * does what the test asks of it: run a program (`sleep`) through
 * dd_exec_run() with the hook's deadline and cancel descriptor, and
 * count how often it ran and how its program ended.
 *
 *   - a hook that outlasts the claim's lifetime (DRYDOCK_CLAIM_TTL is
 *     0.5 s here) runs once, not twice, with two workers racing for the
 *     task: the claim keeper renews the claim while it runs;
 *   - a hook whose lock is stolen (its row deleted behind the worker's
 *     back) has its program killed through ctx->cancel_fd;
 *   - a hook past its deadline (config "timeouts") fails the operation:
 *     the resource is broken with "activate_resource timed out after
 *     0.5 s";
 *   - a hook answers "in progress" (activate and teardown hooks alike):
 *     resumed at the time or on the event it asked for, not before and
 *     not by a poll, with the state it saved in the object's attributes,
 *     failed at its deadline counting from its first call; one that
 *     names neither backs off;
 *   - a hook builds on a lease of its own, and gives it back in its
 *     destroy hook, waiting for it to go.
 *
 * The hooks' programs are the work that takes long; nothing in the test
 * sleeps to wait for something to happen, it polls for it with a
 * generous deadline.
 */
#include "testutil.h"

#include <pthread.h>
#include <spawn.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <time.h>

#include "api/api.h"
#include "blueprint/blueprint.h"
#include "blueprint/services.h"
#include "core/exec.h"
#include "queue/task.h"

/* ---- the fake type ------------------------------------------------------ */

/* What activate_resource does, set by each test. */
static enum {
	RUN_SLEEP,	 /* run `sleep sleep_for` */
	YIELD_FOR_EVENT, /* "in progress" until lease `watched` changes */
	YIELD_FOREVER,	 /* "in progress" for ever, waiting for `watched` */
	USE_SUBLEASE,	 /* lease a host, wait for it, run a command on it */
} mode;
static const char *sleep_for = "0";
static long long watched;
/* Calls after the first fail at once, without a program (see steal). */
static bool only_once;

static atomic_int activations;	 /* activate_resource calls */
static atomic_int programs_started;
static atomic_int programs_ended;
static atomic_int programs_cancelled; /* stopped through cancel_fd */

static int spawn_argv(void *arg, const struct dd_exec_io *io, pid_t *pid,
		      struct dd_error *err)
{
	char *const *argv = arg;
	posix_spawnattr_t attr;
	int rc;

	posix_spawnattr_init(&attr);
	if (io->own_group) {
		posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
		posix_spawnattr_setpgroup(&attr, 0);
	}
	rc = posix_spawnp(pid, argv[0], NULL, &attr, argv, NULL);
	posix_spawnattr_destroy(&attr);
	return rc ? dd_error_set(err, DD_ERR_IO, "cannot run '%s'", argv[0])
		  : 0;
}

/*
 * Build on a lease of its own (blueprint/services.h): ask for a host,
 * wait for it by event, run a command on it.  The first call forgets
 * what it asked for, as a crash before its attributes were saved would:
 * the next call must find the same lease again, not ask for a second.
 */
static int use_sublease(const struct dd_bp_ctx *ctx, struct dd_resource *r,
			struct dd_error *err)
{
	struct dd_bp_lease_want want = {.name = "host", .type = "host"};
	char *argv[] = {"touch", "built-by-hook", NULL};
	struct dd_exec_result res = {0};
	long long id;
	int rc = dd_bp_lease_request(ctx, r->attributes, &want, &id, err);

	if (rc)
		return rc;
	if (atomic_load(&activations) == 1)
		json_object_del(r->attributes, "leases");
	rc = dd_bp_lease_await(ctx, id, err);
	if (rc)
		return rc; /* DD_ERR_AGAIN: in progress until the host is */
	rc = dd_bp_lease_exec(ctx, id, argv, &res, err);
	if (!rc && res.exit_status)
		rc = dd_error_set(err, DD_ERR_IO, "touch exited with %d",
				  res.exit_status);
	dd_exec_result_release(&res);
	return rc;
}

static int fake_activate_resource(const struct dd_bp_ctx *ctx,
				  struct dd_resource *r, struct dd_error *err)
{
	char *argv[] = {"sleep", (char *)sleep_for, NULL};
	struct dd_exec_options o = {0};
	struct dd_exec_result res = {0};
	int rc;

	if (atomic_fetch_add(&activations, 1) > 0 && only_once)
		return dd_error_set(err, DD_ERR_IO, "only once");
	if (mode == USE_SUBLEASE)
		return use_sublease(ctx, r, err);
	if (mode != RUN_SLEEP) {
		/* its state lives in the resource's attributes */
		if (mode == YIELD_FOR_EVENT &&
		    json_object_get(r->attributes, "step"))
			return 0;
		json_object_set_new(r->attributes, "step", json_integer(1));
		ctx->resume->on = (struct dd_ref){DD_OBJ_LEASE, watched};
		return DD_ERR_AGAIN;
	}
	dd_bp_exec_options(ctx, &o);
	o.out = o.err = DD_EXEC_CAPTURE;
	atomic_fetch_add(&programs_started, 1);
	rc = dd_exec_run(spawn_argv, argv, &o, &res, err);
	if (res.cancelled)
		atomic_fetch_add(&programs_cancelled, 1);
	atomic_fetch_add(&programs_ended, 1);
	if (!rc && res.exit_status)
		rc = dd_error_set(err, DD_ERR_IO, "sleep exited with %d",
				  res.exit_status);
	dd_exec_result_release(&res);
	return rc;
}

/*
 * What the teardown hook under test (`torn`) does, set by each test; the
 * other teardown hooks are done at once.
 */
static enum dd_bp_hook torn;
static enum {
	TD_RESUME_AT,	 /* "in progress" once, resume at TD_LATER s on */
	TD_RESUME_ON,	 /* "in progress" once, until lease `watched` changes */
	TD_FOREVER,	 /* "in progress" for ever, waiting for `watched` */
	TD_NAME_NOTHING, /* "in progress" for ever, naming nothing */
	TD_GIVE_BACK,	 /* give its host lease back and wait for it to go */
} td_mode;
/* Later than the one-second poll "in progress" used to be. */
#define TD_LATER 1.5
#define TD_MAX_CALLS 16
static atomic_int td_calls;
static double td_call_at[TD_MAX_CALLS]; /* when each call came */
static long long td_seen[TD_MAX_CALLS]; /* the "step" each call found */
static double td_resume_at;		/* what TD_RESUME_AT asked for */

/* A teardown hook: its state is `*state` (the object's attributes). */
static int fake_teardown(enum dd_bp_hook hook, const struct dd_bp_ctx *ctx,
			 json_t **state, struct dd_error *err)
{
	int n;

	if (hook != torn)
		return 0;
	if (!ctx->resume)
		return dd_error_set(err, DD_ERR_STATE,
				    "%s cannot answer in progress here",
				    dd_bp_hook_name(hook));
	if (!*state)
		*state = json_object();
	n = atomic_fetch_add(&td_calls, 1);
	if (n < TD_MAX_CALLS) {
		td_call_at[n] = dd_now();
		td_seen[n] = json_integer_value(json_object_get(*state, "step"));
	}
	if (td_mode == TD_GIVE_BACK)
		return dd_bp_lease_release(ctx, *state, "host", err);
	json_object_set_new(*state, "step", json_integer(n + 1));
	switch (td_mode) {
	case TD_RESUME_AT:
		if (n > 0)
			return 0;
		td_resume_at = ctx->resume->at = dd_now() + TD_LATER;
		return DD_ERR_AGAIN;
	case TD_RESUME_ON:
		if (n > 0)
			return 0;
		/* fall through */
	case TD_FOREVER:
		ctx->resume->on = (struct dd_ref){DD_OBJ_LEASE, watched};
		return DD_ERR_AGAIN;
	case TD_NAME_NOTHING:
	case TD_GIVE_BACK:
		break;
	}
	return DD_ERR_AGAIN;
}

static int fake_destroy_resource(const struct dd_bp_ctx *ctx,
				 struct dd_resource *r, struct dd_error *err)
{
	return fake_teardown(DD_BP_HOOK_DESTROY_RESOURCE, ctx, &r->attributes,
			     err);
}

static int fake_release_lease(const struct dd_bp_ctx *ctx,
			      const struct dd_resource *r,
			      struct dd_lease *lease, struct dd_error *err)
{
	(void)r;
	return fake_teardown(DD_BP_HOOK_RELEASE_LEASE, ctx, &lease->attributes,
			     err);
}

static int fake_destroy_lease(const struct dd_bp_ctx *ctx,
			      const struct dd_resource *r,
			      struct dd_lease *lease, struct dd_error *err)
{
	(void)r;
	return fake_teardown(DD_BP_HOOK_DESTROY_LEASE, ctx, &lease->attributes,
			     err);
}

static int fake_allocate(const struct dd_bp_ctx *ctx,
			 const struct dd_lease *lease, size_t n,
			 struct dd_resource *r, struct dd_slot_keys *keys,
			 struct dd_error *err)
{
	(void)ctx;
	(void)err;
	if (n > 0)
		return DD_ERR_NOTFOUND;
	r->attributes = json_object();
	return dd_slot_keys_add(keys, "fake:for-lease:%lld", lease->id);
}

static int fake_acquire(const struct dd_bp_ctx *ctx,
			const struct dd_resource *r, struct dd_lease *lease,
			size_t n, struct dd_slot_keys *keys,
			struct dd_error *err)
{
	(void)ctx;
	(void)lease;
	(void)err;
	if (n > 0)
		return DD_ERR_NOTFOUND;
	return dd_slot_keys_add(keys, "resource:%lld:slot:0", r->id);
}

static const struct dd_blueprint_type fake_type = {
	.version = DD_BLUEPRINT_TYPE_VERSION,
	.name = "fake",
	.resource_type = "fake",
	.summary = "a test's fake",
	.allocate = fake_allocate,
	.activate_resource = fake_activate_resource,
	.destroy_resource = fake_destroy_resource,
	.acquire = fake_acquire,
	.release_lease = fake_release_lease,
	.destroy_lease = fake_destroy_lease,
};

/* ---- fixture ------------------------------------------------------------ */

struct fx {
	struct test_env env;
	long long bp;
	enum dd_bp_hook hook; /* the teardown hook a test is run for */
};

/* The teardown hooks, each a test's initial state (TEARDOWN_TESTS). */
static enum dd_bp_hook teardown_hooks[] = {
	DD_BP_HOOK_DESTROY_RESOURCE,
	DD_BP_HOOK_RELEASE_LEASE,
	DD_BP_HOOK_DESTROY_LEASE,
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));

	if (!x)
		return -1;
	/* a test run for each teardown hook starts with that hook */
	x->hook = *state ? *(enum dd_bp_hook *)*state : DD_BP_HOOK_COUNT;
	test_env_init(&x->env);
	atomic_store(&activations, 0);
	atomic_store(&programs_started, 0);
	atomic_store(&programs_ended, 0);
	atomic_store(&programs_cancelled, 0);
	only_once = false;
	mode = RUN_SLEEP;
	sleep_for = "0";
	torn = DD_BP_HOOK_COUNT; /* none */
	td_mode = TD_RESUME_AT;
	atomic_store(&td_calls, 0);
	td_resume_at = 0;
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;

	test_env_release(&x->env);
	free(x);
	return 0;
}

static void make_blueprint(struct fx *x, const char *config)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_blueprint bp = {0};
	json_t *cfg = json_loads(config, 0, NULL);

	assert_non_null(cfg);
	assert_ok(dd_api_blueprint_create(x->env.store, "fake", "f", cfg, true,
					  &bp, &err),
		  &err);
	x->bp = bp.id;
	dd_blueprint_release(&bp);
	json_decref(cfg);
}

static int resource_status(struct fx *x, long long id)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_resource r = {0};
	int status;

	assert_ok(dd_store_resource_get(x->env.store, id, &r, &err), &err);
	status = (int)r.status;
	dd_resource_release(&r);
	return status;
}

static void nap(void)
{
	struct timespec ts = {0, 10 * 1000 * 1000};

	nanosleep(&ts, NULL);
}

/* A worker in a thread of its own, running tasks until told to stop. */
struct runner {
	pthread_t thread;
	struct dd_worker w;
	atomic_bool stop;
	int failures; /* store errors met */
};

static void *runner_main(void *arg)
{
	struct runner *r = arg;

	while (!atomic_load(&r->stop)) {
		struct dd_error err = DD_ERROR_INIT;
		bool ran = false;

		if (dd_worker_run_one(&r->w, &ran, &err))
			r->failures++;
		if (!ran)
			nap(); /* polls the queue, as a pool thread would */
	}
	return NULL;
}

static void runner_start(struct runner *r, struct fx *x, const char *name)
{
	struct dd_error err = DD_ERROR_INIT;

	atomic_store(&r->stop, false);
	r->failures = 0;
	assert_ok(dd_worker_init(&r->w, x->env.path, name, &err), &err);
	assert_int_equal(pthread_create(&r->thread, NULL, runner_main, r), 0);
}

static void runner_stop(struct runner *r)
{
	atomic_store(&r->stop, true);
	pthread_join(r->thread, NULL);
	dd_worker_release(&r->w);
}

/* ---- tests -------------------------------------------------------------- */

/*
 * The race: worker A runs activate_resource for 1.6 s, over three
 * lifetimes of its claim (0.5 s).  Unrenewed, the claim and the lock
 * expire at 0.5 s, worker B claims the expired task and runs the hook a
 * second time beside the first.  Renewed, B never gets the task.
 */
static void test_renewal_keeps_hook_single(void **state)
{
	struct fx *x = *state;
	struct runner a, b;
	double give_up;
	long long id;

	sleep_for = "1.6";
	make_blueprint(x, "{}");
	id = test_lease_new(x->env.store, "fake", "test:unit");
	runner_start(&a, x, "a");
	runner_start(&b, x, "b");
	give_up = dd_monotonic() + 60;
	while (test_lease_status(x->env.store, id) != DD_LEASE_ACTIVE &&
	       atomic_load(&activations) < 2 && dd_monotonic() < give_up)
		nap();
	runner_stop(&a);
	runner_stop(&b);
	assert_int_equal(atomic_load(&activations), 1);
	assert_int_equal(test_lease_status(x->env.store, id), DD_LEASE_ACTIVE);
	assert_int_equal(resource_status(x, 1), DD_RESOURCE_ACTIVE);
	assert_int_equal(a.failures + b.failures, 0);
}

/* Take the lock of "resource:1" over, as a second holder would. */
static void steal_lock(struct fx *x)
{
	sqlite3 *db;
	char *msg = NULL;

	assert_int_equal(sqlite3_open(x->env.path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db,
			 "UPDATE lock SET owner = 'thief', token = token + "
			 "1000000 WHERE name = 'resource:1'",
			 NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("cannot steal the lock: %s", msg);
	assert_int_equal(sqlite3_changes(db), 1);
	sqlite3_close(db);
}

/*
 * A hook's claim lost mid-way (the lock taken over): its renewal fails,
 * the keeper makes cancel_fd readable, and dd_exec_run() stops the
 * hook's program at once instead of letting it run its 30 s.
 */
static void test_lost_claim_cancels_hook(void **state)
{
	struct fx *x = *state;
	struct runner a;
	double give_up;

	sleep_for = "30";
	only_once = true;
	make_blueprint(x, "{}");
	test_lease_new(x->env.store, "fake", "test:unit");
	runner_start(&a, x, "a");
	give_up = dd_monotonic() + 30;
	while (!atomic_load(&programs_started) && dd_monotonic() < give_up)
		nap();
	assert_int_equal(atomic_load(&programs_started), 1);
	steal_lock(x);
	give_up = dd_monotonic() + 60;
	while (!atomic_load(&programs_ended) && dd_monotonic() < give_up)
		nap();
	runner_stop(&a);
	assert_int_equal(atomic_load(&programs_ended), 1);
	assert_int_equal(atomic_load(&programs_cancelled), 1);
}

/* Is there a log entry of `type` about resource `id` whose reason has `s`? */
static bool logged(struct fx *x, long long id, const char *type,
		   const char *s)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {0};
	struct dd_log_entry_list l = {0};
	bool found = false;

	f.resource = id;
	f.type = type;
	assert_ok(dd_store_log_list(x->env.store, &f, &l, &err), &err);
	for (size_t i = 0; i < l.n; i++) {
		json_t *why = json_object_get(l.items[i].data, "reason");

		if (json_is_string(why) && strstr(json_string_value(why), s))
			found = true;
	}
	dd_log_entry_list_release(&l);
	return found;
}

/*
 * A hook past its deadline: its program is stopped at the deadline and
 * the operation fails with "timed out", breaking the resource.
 */
static void test_deadline_breaks_resource(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_worker w;

	sleep_for = "30";
	only_once = true;
	make_blueprint(x, "{\"timeouts\": {\"activate_resource\": 0.5}}");
	test_lease_new(x->env.store, "fake", "test:unit");
	assert_ok(dd_worker_init(&w, x->env.path, "t", &err), &err);
	assert_ok(dd_worker_drain(&w, 4, &err), &err);
	dd_worker_release(&w);
	assert_int_equal(atomic_load(&programs_ended), 1);
	/* broken, then destroyed on the same pass */
	assert_int_equal(resource_status(x, 1), DD_RESOURCE_DESTROYED);
	assert_true(logged(x, 1, "resource.broken",
			   "activate_resource timed out after 0.5 s"));
}

/* A host blueprint "h" with one host, under the test's directory. */
static void host_blueprint(struct fx *x)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_blueprint bp = {0};
	char root[PATH_MAX + 16];
	json_t *cfg;

	snprintf(root, sizeof(root), "%s/hosts", x->env.dir);
	cfg = json_pack("{s:[{s:s}], s:s}", "hosts", "name", "a", "root",
			root);
	assert_ok(dd_api_blueprint_create(x->env.store, "host", "h", cfg, true,
					  &bp, &err),
		  &err);
	json_decref(cfg);
	dd_blueprint_release(&bp);
}

/* A host blueprint and an active lease on it, for a hook to wait for. */
static long long host_lease(struct fx *x, struct dd_worker *w)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease_request req = {.type = "host", .owner = "test:unit"};
	struct dd_lease out = {0};
	long long id;

	host_blueprint(x);
	assert_ok(dd_api_lease_create(x->env.store, &req, &out, &err), &err);
	id = out.id;
	dd_lease_release(&out);
	assert_ok(dd_worker_drain(w, 100, &err), &err);
	assert_int_equal(test_lease_status(x->env.store, id), DD_LEASE_ACTIVE);
	return id;
}

/* The resource the fake lease `id` is built on (or being built). */
static long long resource_of(struct fx *x, long long id)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease l = {0};
	long long r;

	assert_ok(dd_store_lease_get(x->env.store, id, &l, &err), &err);
	r = l.resource ? l.resource : l.allocating;
	dd_lease_release(&l);
	return r;
}

/* Is the update of `obj` queued and due now? */
static bool due_now(struct fx *x, struct dd_ref obj)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {.target = obj};
	struct dd_task_list tl = {0};
	bool due = false;

	assert_ok(dd_store_task_list(x->env.store, &f, &tl, &err), &err);
	for (size_t i = 0; i < tl.n; i++)
		due = due || tl.items[i].not_before <= dd_now();
	dd_task_list_release(&tl);
	return due;
}

/*
 * "In progress, resume me when lease W changes": the hook's state (its
 * attributes) is saved with the answer, nothing polls, and W's release
 * resumes the hook, which finds its state and finishes.
 */
static void test_in_progress_resumed_by_event(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_resource r = {0};
	struct dd_worker w;
	long long id, rid;

	assert_ok(dd_worker_init(&w, x->env.path, "t", &err), &err);
	watched = host_lease(x, &w);
	mode = YIELD_FOR_EVENT;
	make_blueprint(x, "{}");
	id = test_lease_new(x->env.store, "fake", "test:unit");
	assert_ok(dd_worker_drain(&w, 100, &err), &err);
	rid = resource_of(x, id);
	assert_int_equal(atomic_load(&activations), 1);
	assert_int_equal(resource_status(x, rid), DD_RESOURCE_PENDING);
	assert_int_equal(test_lease_status(x->env.store, id), DD_LEASE_PENDING);
	/* saved with the answer: the hook's state and what resumes it */
	assert_ok(dd_store_resource_get(x->env.store, rid, &r, &err), &err);
	assert_int_equal(json_integer_value(json_object_get(r.attributes,
							    "step")),
			 1);
	assert_string_equal(r.progress.hook, "activate_resource");
	assert_true(r.progress.since > 0);
	{
		json_t *j = dd_resource_to_json(&r);
		json_t *p = json_object_get(j, "progress");
		char on[64];

		snprintf(on, sizeof(on), "lease:%lld", watched);
		assert_string_equal(json_string_value(json_object_get(p,
								      "hook")),
				    "activate_resource");
		assert_string_equal(json_string_value(json_object_get(
					    p, "resume_on")),
				    on);
		assert_true(json_is_string(json_object_get(p, "since")));
		json_decref(j);
	}
	dd_resource_release(&r);
	/* waiting for the event, not a timer */
	assert_false(due_now(x, (struct dd_ref){DD_OBJ_RESOURCE, rid}));

	assert_ok(dd_api_send(x->env.store,
			      (struct dd_ref){DD_OBJ_LEASE, watched},
			      "release", "test", NULL, NULL, &err),
		  &err);
	assert_ok(dd_worker_drain(&w, 100, &err), &err);
	dd_worker_release(&w);
	assert_int_equal(test_lease_status(x->env.store, watched),
			 DD_LEASE_DESTROYED);
	assert_int_equal(atomic_load(&activations), 2);
	assert_int_equal(resource_status(x, rid), DD_RESOURCE_ACTIVE);
	assert_int_equal(test_lease_status(x->env.store, id), DD_LEASE_ACTIVE);
	assert_ok(dd_store_resource_get(x->env.store, rid, &r, &err), &err);
	assert_string_equal(r.progress.hook, "");
	assert_string_equal(r.progress.resume_on, "");
	{
		json_t *j = dd_resource_to_json(&r);

		assert_null(json_object_get(j, "progress"));
		json_decref(j);
	}
	dd_resource_release(&r);
}

/*
 * "In progress" cannot last for ever: an operation whose event never
 * comes is resumed at its deadline, which counts from its first call,
 * and times out there.
 */
static void test_in_progress_times_out(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_worker w;
	struct runner a;
	double give_up;
	long long rid;

	assert_ok(dd_worker_init(&w, x->env.path, "t", &err), &err);
	watched = host_lease(x, &w);
	dd_worker_release(&w);
	mode = YIELD_FOREVER;
	make_blueprint(x, "{\"timeouts\": {\"activate_resource\": 0.3}}");
	rid = resource_of(x, test_lease_new(x->env.store, "fake", "test:unit"));
	assert_int_equal(rid, 0); /* not built yet */
	runner_start(&a, x, "a");
	give_up = dd_monotonic() + 30;
	while (dd_monotonic() < give_up &&
	       !logged(x, 2, "resource.broken", "timed out"))
		nap();
	runner_stop(&a);
	assert_true(logged(x, 2, "resource.broken",
			   "activate_resource timed out after 0.3 s"));
}

/* The leases `owner` holds ("resource:2"), into *l. */
static void owned(struct fx *x, const char *owner, struct dd_lease_list *l)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {.owner = owner};

	assert_ok(dd_store_lease_list(x->env.store, &f, l, &err), &err);
}

/*
 * A hook builds on a lease of its own: it asks for a host (owned by its
 * resource), is resumed by the host lease's changes until it is active,
 * runs a command on it, and finishes; one host lease, even though the
 * hook's first call lost the record of it.  Destroying the resource
 * releases the host lease.
 */
static void test_hook_uses_a_lease_of_its_own(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease_list l = {0};
	struct dd_worker w;
	char owner[64], marker[PATH_MAX + 64];
	long long id, rid, host;

	host_blueprint(x);
	mode = USE_SUBLEASE;
	make_blueprint(x, "{}");
	id = test_lease_new(x->env.store, "fake", "test:unit");
	assert_ok(dd_worker_init(&w, x->env.path, "t", &err), &err);
	assert_ok(dd_worker_drain(&w, 100, &err), &err);
	rid = resource_of(x, id);
	assert_int_equal(test_lease_status(x->env.store, id), DD_LEASE_ACTIVE);
	assert_int_equal(resource_status(x, rid), DD_RESOURCE_ACTIVE);
	assert_true(atomic_load(&activations) >= 2);

	snprintf(owner, sizeof(owner), "resource:%lld", rid);
	owned(x, owner, &l);
	assert_int_equal(l.n, 1);
	host = l.items[0].id;
	assert_string_equal(l.items[0].type, "host");
	assert_int_equal(l.items[0].status, DD_LEASE_ACTIVE);
	snprintf(marker, sizeof(marker), "%s/built-by-hook",
		 json_string_value(json_object_get(l.items[0].attributes,
						   "path")));
	assert_int_equal(access(marker, F_OK), 0);
	dd_lease_list_release(&l);

	/* the resource goes, and its host lease with it */
	assert_ok(dd_api_send(x->env.store,
			      (struct dd_ref){DD_OBJ_RESOURCE, rid}, "release",
			      "test", NULL, NULL, &err),
		  &err);
	assert_ok(dd_worker_drain(&w, 100, &err), &err);
	dd_worker_release(&w);
	assert_int_equal(resource_status(x, rid), DD_RESOURCE_DESTROYED);
	assert_int_equal(test_lease_status(x->env.store, host),
			 DD_LEASE_DESTROYED);
}

/* How many resource.update tasks for `rid` ran to their end. */
static size_t resource_passes(struct fx *x, long long rid)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {.target = {DD_OBJ_RESOURCE, rid}};
	struct dd_task_archive_list arch = {0};
	size_t n;

	assert_ok(dd_store_task_archive_list(x->env.store, &f, &arch, &err),
		  &err);
	n = arch.n;
	dd_task_archive_list_release(&arch);
	return n;
}

/*
 * A lease owned by an object tells its owner of every status change: the
 * host lease of an active resource released by somebody else queues the
 * resource's update, though no hook waits for it.
 */
static void test_owned_lease_wakes_owner(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease_list l = {0};
	struct dd_worker w;
	char owner[64];
	long long id, rid, host;
	size_t before;

	host_blueprint(x);
	mode = USE_SUBLEASE;
	make_blueprint(x, "{}");
	id = test_lease_new(x->env.store, "fake", "test:unit");
	assert_ok(dd_worker_init(&w, x->env.path, "t", &err), &err);
	assert_ok(dd_worker_drain(&w, 100, &err), &err);
	rid = resource_of(x, id);
	assert_int_equal(resource_status(x, rid), DD_RESOURCE_ACTIVE);
	snprintf(owner, sizeof(owner), "resource:%lld", rid);
	owned(x, owner, &l);
	assert_int_equal(l.n, 1);
	host = l.items[0].id;
	dd_lease_list_release(&l);
	before = resource_passes(x, rid);

	assert_ok(dd_api_send(x->env.store,
			      (struct dd_ref){DD_OBJ_LEASE, host}, "release",
			      "test", NULL, NULL, &err),
		  &err);
	assert_ok(dd_worker_drain(&w, 100, &err), &err);
	dd_worker_release(&w);
	assert_int_equal(test_lease_status(x->env.store, host),
			 DD_LEASE_DESTROYED);
	/* released, then destroyed: each change queued the owner's pass */
	assert_true(resource_passes(x, rid) > before);
}

/*
 * The services called from outside a pass, as a hook would: a request
 * refused for a bad name or without an owning object, and a lease given
 * back (a release, forgotten in the state; again: nothing to do, also
 * once the lease is gone); asked for again after that, a new lease.
 */
static void test_lease_services_request_and_release(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_bp_ctx ctx = {.store = x->env.store, .cancel_fd = -1};
	struct dd_bp_lease_want want = {.name = "host", .type = "host"};
	struct dd_bp_lease_want bad = {.name = "a b", .type = "host"};
	struct dd_worker w;
	json_t *st = json_object();
	long long id, again;

	host_blueprint(x);
	/* only a lease's or a resource's hook may hold leases */
	assert_int_equal(dd_bp_lease_request(&ctx, st, &want, &id, &err),
			 DD_ERR_INVALID);
	ctx.object = (struct dd_ref){DD_OBJ_RESOURCE, 99};
	assert_int_equal(dd_bp_lease_request(&ctx, st, &bad, &id, &err),
			 DD_ERR_INVALID);
	assert_ok(dd_bp_lease_request(&ctx, st, &want, &id, &err), &err);
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(st, "leases"), "host")),
			 id);
	/* asked again: the same lease */
	assert_ok(dd_bp_lease_request(&ctx, st, &want, &again, &err), &err);
	assert_int_equal(again, id);
	assert_int_equal(dd_bp_lease_await(&ctx, id, &err), DD_ERR_AGAIN);

	assert_ok(dd_worker_init(&w, x->env.path, "t", &err), &err);
	assert_ok(dd_worker_drain(&w, 100, &err), &err);
	assert_ok(dd_bp_lease_await(&ctx, id, &err), &err);
	/* given back: in progress until it is destroyed */
	assert_int_equal(dd_bp_lease_release(&ctx, st, "host", &err),
			 DD_ERR_AGAIN);
	assert_null(json_object_get(json_object_get(st, "leases"), "host"));
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(st, "leases_returning"),
				 "host")),
			 id);
	/* asked again before it went: still waiting, nothing sent twice */
	assert_int_equal(dd_bp_lease_release(&ctx, st, "host", &err),
			 DD_ERR_AGAIN);
	assert_ok(dd_worker_drain(&w, 100, &err), &err);
	dd_worker_release(&w);
	assert_int_equal(test_lease_status(x->env.store, id),
			 DD_LEASE_DESTROYED);
	assert_ok(dd_bp_lease_release(&ctx, st, "host", &err), &err);
	assert_null(json_object_get(json_object_get(st, "leases_returning"),
				    "host"));
	assert_int_equal(dd_bp_lease_await(&ctx, id, &err), DD_ERR_BROKEN);
	assert_non_null(strstr(err.msg, "is destroyed"));
	/* nothing remembered: nothing to do */
	assert_ok(dd_bp_lease_release(&ctx, st, "host", &err), &err);
	/* remembered but gone already: given back all the same */
	json_object_set_new(json_object_get(st, "leases"), "host",
			    json_integer(id));
	assert_ok(dd_bp_lease_release(&ctx, st, "host", &err), &err);
	/* asked for again after a release: a new lease, not the old one */
	assert_ok(dd_bp_lease_request(&ctx, st, &want, &again, &err), &err);
	assert_int_not_equal(again, id);
	assert_int_equal(dd_bp_lease_await(&ctx, again, &err), DD_ERR_AGAIN);
	/* and asked again before its release: that same new lease */
	assert_ok(dd_bp_lease_request(&ctx, st, &want, &id, &err), &err);
	assert_int_equal(id, again);
	json_decref(st);
}

static bool object_destroyed(struct fx *x, struct dd_ref ref)
{
	if (ref.kind == DD_OBJ_LEASE)
		return test_lease_status(x->env.store, ref.id) ==
		       DD_LEASE_DESTROYED;
	return resource_status(x, ref.id) == DD_RESOURCE_DESTROYED;
}

/* When the update of `obj` is next due (0: none queued). */
static double due_at(struct fx *x, struct dd_ref obj)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {.target = obj};
	struct dd_task_list tl = {0};
	double at = 0;

	assert_ok(dd_store_task_list(x->env.store, &f, &tl, &err), &err);
	for (size_t i = 0; i < tl.n; i++)
		if (!at || tl.items[i].not_before < at)
			at = tl.items[i].not_before;
	dd_task_list_release(&tl);
	return at;
}

/*
 * A fake lease, active, then the teardown of the object whose hook
 * `hook` is under test begun: the lease released (release_lease,
 * destroy_lease) or its resource (destroy_resource).  Returns that
 * object.  With `w`, the worker has run until nothing is due.
 */
static struct dd_ref start_teardown(struct fx *x, struct dd_worker *w,
				    enum dd_bp_hook hook, const char *config)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_worker own;
	struct dd_ref ref;
	long long id;

	torn = hook;
	make_blueprint(x, config);
	id = test_lease_new(x->env.store, "fake", "test:unit");
	assert_ok(dd_worker_init(&own, x->env.path, "setup", &err), &err);
	assert_ok(dd_worker_drain(&own, 100, &err), &err);
	dd_worker_release(&own);
	assert_int_equal(test_lease_status(x->env.store, id), DD_LEASE_ACTIVE);
	ref = hook == DD_BP_HOOK_DESTROY_RESOURCE
		      ? (struct dd_ref){DD_OBJ_RESOURCE, resource_of(x, id)}
		      : (struct dd_ref){DD_OBJ_LEASE, id};
	assert_ok(dd_api_send(x->env.store, ref, "release", "test", NULL,
			      NULL, &err),
		  &err);
	if (w)
		assert_ok(dd_worker_drain(w, 100, &err), &err);
	return ref;
}

/*
 * "In progress, resume me at T" from a teardown hook: called again at
 * or after T (1.5 s on), not before (the one-second poll it used to
 * be), finding the state it saved; then the object is destroyed.
 */
static void test_teardown_resumed_at(void **state)
{
	struct fx *x = *state;
	enum dd_bp_hook hook = x->hook;
	struct runner a;
	struct dd_ref ref;
	double give_up;

	td_mode = TD_RESUME_AT;
	ref = start_teardown(x, NULL, hook, "{}");
	runner_start(&a, x, "a");
	give_up = dd_monotonic() + 30;
	while (!object_destroyed(x, ref) && dd_monotonic() < give_up)
		nap();
	runner_stop(&a);
	assert_true(object_destroyed(x, ref));
	assert_int_equal(atomic_load(&td_calls), 2);
	assert_true(td_call_at[1] >= td_resume_at);
	assert_int_equal(td_seen[0], 0);
	assert_int_equal(td_seen[1], 1); /* its state reached the next call */
	assert_int_equal(a.failures, 0);
}

/*
 * "In progress, resume me when lease W changes" from a teardown hook:
 * nothing is due meanwhile (its deadline, ten minutes on, is the only
 * time queued), W's release resumes it, it finds its state and the
 * object is destroyed.
 */
static void test_teardown_resumed_on(void **state)
{
	struct fx *x = *state;
	enum dd_bp_hook hook = x->hook;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_worker w;
	struct dd_ref ref;
	char on[64];

	assert_ok(dd_worker_init(&w, x->env.path, "t", &err), &err);
	watched = host_lease(x, &w);
	td_mode = TD_RESUME_ON;
	ref = start_teardown(x, &w, hook, "{}");
	assert_int_equal(atomic_load(&td_calls), 1);
	assert_false(object_destroyed(x, ref));
	assert_true(due_at(x, ref) > dd_now() + 60);
	/* saved with the answer: what resumes it */
	snprintf(on, sizeof(on), "lease:%lld", watched);
	if (ref.kind == DD_OBJ_LEASE) {
		struct dd_lease l = {0};

		assert_ok(dd_store_lease_get(x->env.store, ref.id, &l, &err),
			  &err);
		assert_string_equal(l.progress.hook, dd_bp_hook_name(hook));
		assert_string_equal(l.progress.resume_on, on);
		dd_lease_release(&l);
	} else {
		struct dd_resource r = {0};

		assert_ok(dd_store_resource_get(x->env.store, ref.id, &r,
						&err),
			  &err);
		assert_string_equal(r.progress.hook, dd_bp_hook_name(hook));
		assert_string_equal(r.progress.resume_on, on);
		dd_resource_release(&r);
	}

	assert_ok(dd_api_send(x->env.store,
			      (struct dd_ref){DD_OBJ_LEASE, watched},
			      "release", "test", NULL, NULL, &err),
		  &err);
	assert_ok(dd_worker_drain(&w, 100, &err), &err);
	dd_worker_release(&w);
	assert_int_equal(atomic_load(&td_calls), 2);
	assert_int_equal(td_seen[1], 1);
	assert_true(object_destroyed(x, ref));
}

/*
 * The time of the first entry of `type` on the log of `ref` whose reason
 * has `s`, or 0.
 */
static double logged_at(struct fx *x, struct dd_ref ref, const char *type,
			const char *s)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {0};
	struct dd_log_entry_list l = {0};
	double at = 0;

	if (ref.kind == DD_OBJ_LEASE)
		f.lease = ref.id;
	else
		f.resource = ref.id;
	f.type = type;
	assert_ok(dd_store_log_list(x->env.store, &f, &l, &err), &err);
	for (size_t i = 0; i < l.n && !at; i++) {
		json_t *why = json_object_get(l.items[i].data, "reason");

		if (json_is_string(why) && strstr(json_string_value(why), s))
			at = l.items[i].time;
	}
	dd_log_entry_list_release(&l);
	return at;
}

/*
 * A teardown hook in progress for ever fails at its deadline, counting
 * from its first call: resumed there, it is not called again, and the
 * failure is logged (its task then retried with backoff, a new
 * operation).  Before, each one-second poll was a new call with a new
 * deadline, and it never timed out.
 */
static void test_teardown_times_out(void **state)
{
	struct fx *x = *state;
	enum dd_bp_hook hook = x->hook;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_worker w;
	struct runner a;
	struct dd_ref ref;
	char config[96], reason[64];
	double give_up, failed = 0;
	int before = 0;

	assert_ok(dd_worker_init(&w, x->env.path, "t", &err), &err);
	watched = host_lease(x, &w);
	dd_worker_release(&w);
	td_mode = TD_FOREVER;
	snprintf(config, sizeof(config), "{\"timeouts\": {\"%s\": 0.3}}",
		 dd_bp_hook_name(hook));
	snprintf(reason, sizeof(reason), "%s timed out after 0.3 s",
		 dd_bp_hook_name(hook));
	ref = start_teardown(x, NULL, hook, config);
	runner_start(&a, x, "a");
	give_up = dd_monotonic() + 30;
	while (dd_monotonic() < give_up &&
	       !(failed = logged_at(x, ref,
				    ref.kind == DD_OBJ_LEASE
					    ? "lease.destroy-failure"
					    : "resource.destroy-failure",
				    reason)))
		nap();
	runner_stop(&a);
	assert_true(failed > 0);
	for (int i = 0; i < atomic_load(&td_calls) && i < TD_MAX_CALLS; i++)
		before += td_call_at[i] < failed;
	assert_int_equal(before, 1);
	assert_true(failed - td_call_at[0] >= 0.3);
	assert_false(object_destroyed(x, ref));
}

/*
 * A teardown hook in progress that names neither a time nor an event is
 * called again after as long as it has been in progress: a backoff, not
 * a one-second poll.  Its operation made to look 100 s old, the next
 * call after it is queued about 100 s on.
 */
static void test_teardown_naming_nothing_backs_off(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_resource r = {0};
	struct dd_worker w;
	struct dd_ref ref;
	double at;

	td_mode = TD_NAME_NOTHING;
	assert_ok(dd_worker_init(&w, x->env.path, "t", &err), &err);
	ref = start_teardown(x, &w, DD_BP_HOOK_DESTROY_RESOURCE, "{}");
	assert_int_equal(atomic_load(&td_calls), 1);
	at = due_at(x, ref);
	assert_true(at > dd_now() && at <= dd_now() + 1.5);

	assert_ok(dd_store_resource_get(x->env.store, ref.id, &r, &err), &err);
	assert_string_equal(r.progress.hook, "destroy_resource");
	r.progress.since -= 100;
	assert_ok(dd_store_resource_update(x->env.store, &r, &err), &err);
	dd_resource_release(&r);
	assert_ok(dd_api_schedule_update(x->env.store, ref, &err), &err);
	assert_ok(dd_worker_drain(&w, 100, &err), &err);
	dd_worker_release(&w);
	assert_int_equal(atomic_load(&td_calls), 2);
	assert_int_equal(td_seen[1], 1);
	assert_true(due_at(x, ref) >= dd_now() + 90);
}

/*
 * A destroy hook gives back the host lease its activate asked for and
 * waits for it to go (dd_bp_lease_release()): in progress, resumed by
 * the host lease's changes, done once it is destroyed; the resource is
 * destroyed after its host lease, never before.
 */
static void test_destroy_waits_for_its_lease(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease_list l = {0};
	struct dd_filter f = {0};
	struct dd_log_entry_list log = {0};
	struct dd_worker w;
	char owner[64], on[64];
	long long id, rid, host;
	double host_gone = 0, gone = 0;

	host_blueprint(x);
	mode = USE_SUBLEASE;
	torn = DD_BP_HOOK_DESTROY_RESOURCE;
	td_mode = TD_GIVE_BACK;
	make_blueprint(x, "{}");
	id = test_lease_new(x->env.store, "fake", "test:unit");
	assert_ok(dd_worker_init(&w, x->env.path, "t", &err), &err);
	assert_ok(dd_worker_drain(&w, 100, &err), &err);
	rid = resource_of(x, id);
	assert_int_equal(resource_status(x, rid), DD_RESOURCE_ACTIVE);
	snprintf(owner, sizeof(owner), "resource:%lld", rid);
	owned(x, owner, &l);
	assert_int_equal(l.n, 1);
	host = l.items[0].id;
	dd_lease_list_release(&l);

	assert_ok(dd_api_send(x->env.store,
			      (struct dd_ref){DD_OBJ_RESOURCE, rid}, "release",
			      "test", NULL, NULL, &err),
		  &err);
	assert_ok(dd_worker_drain(&w, 100, &err), &err);
	dd_worker_release(&w);
	assert_int_equal(test_lease_status(x->env.store, host),
			 DD_LEASE_DESTROYED);
	assert_int_equal(resource_status(x, rid), DD_RESOURCE_DESTROYED);
	assert_true(atomic_load(&td_calls) >= 2);
	/* waited for it by event, and went after it */
	snprintf(on, sizeof(on), "lease:%lld", host);
	f.descending = false;
	assert_ok(dd_store_log_list(x->env.store, &f, &log, &err), &err);
	for (size_t i = 0; i < log.n; i++) {
		const struct dd_log_entry *e = &log.items[i];

		if (e->resource == rid && !strcmp(e->type, "resource.in-progress"))
			assert_string_equal(json_string_value(json_object_get(
						    e->data, "resume_on")),
					    on);
		if (e->lease == host && !strcmp(e->type, "lease.destroyed"))
			host_gone = e->time;
		if (e->resource == rid && !e->lease &&
		    !strcmp(e->type, "resource.destroyed"))
			gone = e->time;
	}
	dd_log_entry_list_release(&log);
	assert_true(host_gone > 0 && gone >= host_gone);
}

/* "timeouts" is a key of every type's config, checked once for all. */
static void test_timeouts_config(void **state)
{
	static const struct {
		const char *config, *msg;
	} bad[] = {
		{"{\"timeouts\": {\"activate_lease\": 0}}",
		 "config: timeouts.activate_lease: must be a number of seconds "
		 "from 0.001 to 604800"},
		{"{\"timeouts\": {\"destroy_lease\": \"1m\"}}",
		 "config: timeouts.destroy_lease: must be a number of seconds "
		 "from 0.001 to 604800"},
		{"{\"timeouts\": {\"boot\": 5}}",
		 "config: timeouts: unknown key 'boot' (known: "
		 "activate_resource, destroy_resource, activate_lease, "
		 "release_lease, destroy_lease, check_resource)"},
		{"{\"timeouts\": 5}",
		 "config: timeouts: must be an object of seconds per hook"},
	};
	const struct dd_blueprint_type *host = dd_blueprint_type_find("host");

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct dd_error err = DD_ERROR_INIT;
		json_t *cfg = json_loads(bad[i].config, 0, NULL);

		assert_non_null(cfg);
		assert_int_equal(dd_bp_validate(&fake_type, cfg, &err),
				 DD_ERR_INVALID);
		assert_string_equal(err.msg, bad[i].msg);
		json_decref(cfg);
	}
	{
		struct dd_error err = DD_ERROR_INIT;
		json_t *cfg = json_pack("{s:[{s:s}], s:{s:f, s:i}}", "hosts",
					"name", "a", "timeouts",
					"activate_resource", 0.5,
					"destroy_lease", 604800);

		assert_ok(dd_bp_validate(host, cfg, &err), &err);
		json_decref(cfg);
	}
}

/* Test `f` once for each teardown hook, named "f(hook)". */
#define TEARDOWN_TEST(f, i, hook)                                              \
	{#f "(" hook ")", f, setup, teardown, &teardown_hooks[i]}
#define TEARDOWN_TESTS(f)                                                      \
	TEARDOWN_TEST(f, 0, "destroy_resource"),                               \
		TEARDOWN_TEST(f, 1, "release_lease"),                          \
		TEARDOWN_TEST(f, 2, "destroy_lease")

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_renewal_keeps_hook_single,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_claim_cancels_hook,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadline_breaks_resource,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_in_progress_resumed_by_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_in_progress_times_out,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_hook_uses_a_lease_of_its_own, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owned_lease_wakes_owner,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_lease_services_request_and_release, setup,
			teardown),
		TEARDOWN_TESTS(test_teardown_resumed_at),
		TEARDOWN_TESTS(test_teardown_resumed_on),
		TEARDOWN_TESTS(test_teardown_times_out),
		cmocka_unit_test_setup_teardown(test_teardown_naming_nothing_backs_off, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_destroy_waits_for_its_lease, setup,
						teardown),
		cmocka_unit_test(test_timeouts_config),
	};

	/* claims last half a second, so a hook of 1.6 s outlasts three */
	setenv("DRYDOCK_CLAIM_TTL", "0.5", 1);
	if (dd_blueprint_type_add_for_tests(&fake_type))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
