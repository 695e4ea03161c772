/*
 * test_resource_failure.c - a lease whose resource fails under its
 * activation (a host that died between two checks) is not broken: it
 * goes back to pending, is placed elsewhere and never again on that
 * resource, and the resource is checked at once.  Driven synchronously
 * by a worker in this thread, through a fake blueprint type ("flaky",
 * resource type "flaky") registered by this test alone:
 *
 *   - each resource is one of `hosts` hosts (attribute "host", slot lock
 *     "flaky:host:N"), with four lease slots; a lease may ask for a host
 *     ("host": N);
 *   - a host marked dead fails every hook that reaches it with
 *     DD_ERR_REMOTE "cannot reach host N", as host_ssh.c does when ssh
 *     cannot connect: activate_resource, check_resource, activate_lease,
 *     destroy_resource;
 *   - `flaps` makes that many lease activations fail the same way while
 *     the host answers its check (a host that dropped one connection);
 *   - a lease with "bad": true fails its own activation (DD_ERR_IO);
 *   - a lease with "slow": true has its activation in progress for an
 *     hour (DD_ERR_AGAIN), and so stays acquired.
 *
 * Without the change every one of these leases ended broken.
 */
#include "testutil.h"

#include "api/api.h"
#include "blueprint/blueprint.h"

/* ---- the fake type ------------------------------------------------------ */

#define HOSTS_MAX 4

static int hosts;	      /* how many hosts the blueprint has */
static bool dead[HOSTS_MAX];  /* which do not answer */
static int flaps;	      /* lease activations still to fail alone */
static int lease_activations; /* activate_lease calls */

static long long host_of(const json_t *attrs)
{
	json_t *h = json_object_get(attrs, "host");

	return json_is_integer(h) ? json_integer_value(h) : -1;
}

static int unreachable(long long host, struct dd_error *err)
{
	return dd_error_set(err, DD_ERR_REMOTE, "cannot reach host %lld",
			    host);
}

static int flaky_allocate(const struct dd_bp_ctx *ctx,
			  const struct dd_lease *lease, size_t n,
			  struct dd_resource *r, struct dd_slot_keys *keys,
			  struct dd_error *err)
{
	long long want = host_of(lease->attributes);
	long long host = want >= 0 ? want : (long long)n;

	(void)ctx;
	(void)err;
	if ((want >= 0 && n > 0) || host >= hosts)
		return DD_ERR_NOTFOUND;
	r->attributes = json_pack("{s:I}", "host", host);
	return dd_slot_keys_add(keys, "flaky:host:%lld", host);
}

static int flaky_activate_resource(const struct dd_bp_ctx *ctx,
				   struct dd_resource *r, struct dd_error *err)
{
	long long host = host_of(r->attributes);

	(void)ctx;
	return dead[host] ? unreachable(host, err) : 0;
}

static int flaky_check_resource(const struct dd_bp_ctx *ctx,
				const struct dd_resource *r, double *next,
				struct dd_error *err)
{
	long long host = host_of(r->attributes);

	(void)ctx;
	*next = 0; /* checked only when a pass runs: no timer */
	return dead[host] ? unreachable(host, err) : 0;
}

static int flaky_destroy_resource(const struct dd_bp_ctx *ctx,
				  struct dd_resource *r, struct dd_error *err)
{
	long long host = host_of(r->attributes);

	(void)ctx;
	return dead[host] ? unreachable(host, err) : 0;
}

static bool flaky_can_acquire(const struct dd_bp_ctx *ctx,
			      const struct dd_resource *r,
			      const struct dd_lease *lease)
{
	long long want = host_of(lease->attributes);

	(void)ctx;
	return want < 0 || want == host_of(r->attributes);
}

static int flaky_acquire(const struct dd_bp_ctx *ctx,
			 const struct dd_resource *r, struct dd_lease *lease,
			 size_t n, struct dd_slot_keys *keys,
			 struct dd_error *err)
{
	(void)ctx;
	(void)lease;
	(void)err;
	if (n >= 4)
		return DD_ERR_NOTFOUND;
	return dd_slot_keys_add(keys, "resource:%lld:slot:%zu", r->id, n);
}

static int flaky_activate_lease(const struct dd_bp_ctx *ctx,
				const struct dd_resource *r,
				struct dd_lease *lease, struct dd_error *err)
{
	long long host = host_of(r->attributes);

	lease_activations++;
	if (json_is_true(json_object_get(lease->attributes, "bad")))
		return dd_error_set(err, DD_ERR_IO,
				    "the lease's own failure");
	if (json_is_true(json_object_get(lease->attributes, "slow")) &&
	    !dead[host]) {
		ctx->resume->at = dd_now() + 3600;
		return DD_ERR_AGAIN;
	}
	if (flaps > 0) {
		flaps--;
		return unreachable(host, err);
	}
	return dead[host] ? unreachable(host, err) : 0;
}

static const struct dd_blueprint_type flaky_type = {
	.version = DD_BLUEPRINT_TYPE_VERSION,
	.name = "flaky",
	.resource_type = "flaky",
	.summary = "a test's hosts that die",
	.allocate = flaky_allocate,
	.activate_resource = flaky_activate_resource,
	.check_resource = flaky_check_resource,
	.destroy_resource = flaky_destroy_resource,
	.can_acquire = flaky_can_acquire,
	.acquire = flaky_acquire,
	.activate_lease = flaky_activate_lease,
};

/* ---- fixture and helpers ------------------------------------------------ */

struct fx {
	struct test_env env;
	struct dd_worker w;
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct dd_error err = DD_ERROR_INIT;
	struct dd_blueprint bp = {0};
	json_t *cfg = json_object();

	if (!x || !cfg)
		return -1;
	test_env_init(&x->env);
	if (dd_worker_init(&x->w, x->env.path, "t", &err))
		fail_msg("worker init: %s", err.msg);
	assert_ok(dd_api_blueprint_create(x->env.store, "flaky", "pool", cfg,
					  true, &bp, &err),
		  &err);
	json_decref(cfg);
	dd_blueprint_release(&bp);
	hosts = 2;
	memset(dead, 0, sizeof(dead));
	flaps = 0;
	lease_activations = 0;
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

/*
 * Run every due task.  A failing destroy (a dead host's) is retried with
 * backoff, later: not due now, so the drain ends; the test says whether
 * the queue must be quiet.
 */
static void drain(struct fx *x)
{
	struct dd_error err = DD_ERROR_INIT;

	assert_ok(dd_worker_drain(&x->w, 200, &err), &err);
}

/* Nothing is due now: no pass loops on its own. */
static void assert_quiet(struct fx *x)
{
	struct dd_error err = DD_ERROR_INIT;
	double due = -1;

	assert_ok(dd_store_task_next_due(x->env.store, NULL, &due, &err), &err);
	if (due > 0 && due <= dd_now())
		fail_msg("a task is still due after the drain");
}

/* Queue a lease with `attrs` (JSON text or NULL). */
static long long lease_new(struct fx *x, const char *attrs)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease_request req = {.type = "flaky", .owner = "test:unit"};
	struct dd_lease out = {0};
	long long id;

	req.attributes = attrs ? json_loads(attrs, 0, NULL) : NULL;
	assert_ok(dd_api_lease_create(x->env.store, &req, &out, &err), &err);
	id = out.id;
	dd_lease_release(&out);
	json_decref(req.attributes);
	return id;
}

static void lease_get(struct fx *x, long long id, struct dd_lease *l)
{
	struct dd_error err = DD_ERROR_INIT;

	memset(l, 0, sizeof(*l));
	assert_ok(dd_store_lease_get(x->env.store, id, l, &err), &err);
}

static void assert_lease(struct fx *x, long long id,
			 enum dd_lease_status want)
{
	struct dd_lease l;

	lease_get(x, id, &l);
	if (l.status != want)
		fail_msg("lease %lld is %s, want %s", id,
			 dd_lease_status_name(l.status),
			 dd_lease_status_name(want));
	dd_lease_release(&l);
}

static long long resource_of(struct fx *x, long long lease)
{
	struct dd_lease l;
	long long r;

	lease_get(x, lease, &l);
	r = l.resource;
	dd_lease_release(&l);
	return r;
}

static void resource_get(struct fx *x, long long id, struct dd_resource *r)
{
	struct dd_error err = DD_ERROR_INIT;

	memset(r, 0, sizeof(*r));
	assert_ok(dd_store_resource_get(x->env.store, id, r, &err), &err);
}

static void assert_resource(struct fx *x, long long id,
			    enum dd_resource_status want)
{
	struct dd_resource r;

	resource_get(x, id, &r);
	if (r.status != want)
		fail_msg("resource %lld is %s, want %s", id,
			 dd_resource_status_name(r.status),
			 dd_resource_status_name(want));
	dd_resource_release(&r);
}

static long long host_of_resource(struct fx *x, long long id)
{
	struct dd_resource r;
	long long h;

	resource_get(x, id, &r);
	h = host_of(r.attributes);
	dd_resource_release(&r);
	return h;
}

static size_t resource_count(struct fx *x)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {0};
	struct dd_resource_list l = {0};
	size_t n;

	assert_ok(dd_store_resource_list(x->env.store, &f, &l, &err), &err);
	n = l.n;
	dd_resource_list_release(&l);
	return n;
}

/*
 * The log entries of `type` about lease `lease` (or, if 0, resource
 * `res`): how many, and the "reason" of the newest in `reason`.
 */
static size_t logged(struct fx *x, long long lease, long long res,
		     const char *type, char *reason, size_t n)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {0};
	struct dd_log_entry_list l = {0};
	size_t count;

	f.lease = lease;
	f.resource = lease ? 0 : res;
	f.type = type;
	assert_ok(dd_store_log_list(x->env.store, &f, &l, &err), &err);
	count = l.n;
	if (reason && n) {
		json_t *why = l.n ? json_object_get(l.items[l.n - 1].data,
						    "reason")
				  : NULL;

		snprintf(reason, n, "%s",
			 json_is_string(why) ? json_string_value(why) : "");
	}
	dd_log_entry_list_release(&l);
	return count;
}

/* A lease on each host, active: both resources built and answering. */
static void two_busy_hosts(struct fx *x, long long *r0, long long *r1,
			   long long *l0, long long *l1)
{
	*l0 = lease_new(x, "{\"host\": 0}");
	*l1 = lease_new(x, "{\"host\": 1}");
	drain(x);
	assert_lease(x, *l0, DD_LEASE_ACTIVE);
	assert_lease(x, *l1, DD_LEASE_ACTIVE);
	*r0 = resource_of(x, *l0);
	*r1 = resource_of(x, *l1);
	assert_int_equal(host_of_resource(x, *r0), 0);
	assert_int_equal(host_of_resource(x, *r1), 1);
}

/* ---- tests -------------------------------------------------------------- */

/*
 * Host 0 dies after its resource was built and checked.  A new lease is
 * placed on it first (the lowest id), its activation cannot reach the
 * host, and it goes to host 1 instead: active there, never broken.  The
 * failure queued host 0's check, which breaks its resource, and its
 * lease with the reason.
 */
static void test_lease_leaves_dead_host(void **state)
{
	struct fx *x = *state;
	long long r0, r1, l0, l1, id;
	char reason[512];

	two_busy_hosts(x, &r0, &r1, &l0, &l1);
	dead[0] = true;
	id = lease_new(x, NULL);
	drain(x);

	assert_lease(x, id, DD_LEASE_ACTIVE);
	assert_int_equal(resource_of(x, id), r1);
	assert_int_equal(logged(x, id, 0, "lease.broken", NULL, 0), 0);
	/* why it moved, on the lease's log and the resource's */
	assert_int_equal(logged(x, id, 0, "lease.resource-failure", reason,
				sizeof(reason)),
			 1);
	assert_string_equal(reason, "cannot reach host 0");
	assert_int_equal(logged(x, 0, r0, "lease.resource-failure", NULL, 0),
			 1);
	/* the dead host's resource broke with its reason */
	assert_resource(x, r0, DD_RESOURCE_BROKEN);
	assert_int_equal(logged(x, 0, r0, "resource.broken", reason,
				sizeof(reason)),
			 1);
	assert_string_equal(reason, "cannot reach host 0");
	/* and so did the lease that was on it, saying why */
	assert_int_equal(logged(x, l0, 0, "lease.broken", reason,
				sizeof(reason)),
			 1);
	assert_non_null(strstr(reason, "broke: cannot reach host 0"));
	assert_lease(x, l1, DD_LEASE_ACTIVE);
	assert_resource(x, r1, DD_RESOURCE_ACTIVE);
}

/* A lease's own failure is still the lease's: it breaks, with its reason. */
static void test_own_failure_breaks_the_lease(void **state)
{
	struct fx *x = *state;
	long long r0, r1, l0, l1, id;
	char reason[512];

	two_busy_hosts(x, &r0, &r1, &l0, &l1);
	id = lease_new(x, "{\"bad\": true}");
	drain(x);
	assert_lease(x, id, DD_LEASE_DESTROYED);
	assert_int_equal(logged(x, id, 0, "lease.broken", reason,
				sizeof(reason)),
			 1);
	assert_string_equal(reason, "the lease's own failure");
	assert_int_equal(logged(x, id, 0, "lease.resource-failure", NULL, 0),
			 0);
	assert_resource(x, r0, DD_RESOURCE_ACTIVE);
	assert_resource(x, r1, DD_RESOURCE_ACTIVE);
}

/*
 * Every host dead: the lease waits like any lease without room, woken by
 * an event, not by polling.  When host 0 answers again, its broken
 * resource's destruction (retried with backoff; run here at once) frees
 * the host, and the lease is served on a new resource there.  A second
 * waiting lease is released cleanly meanwhile.
 */
static void test_no_live_host_waits_then_served(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease l;
	long long r0, r1, l0, l1, id, other, r;

	two_busy_hosts(x, &r0, &r1, &l0, &l1);
	dead[0] = dead[1] = true;
	id = lease_new(x, NULL);
	other = lease_new(x, NULL);
	drain(x);
	assert_quiet(x);

	lease_get(x, id, &l);
	assert_int_equal(l.status, DD_LEASE_PENDING);
	assert_true(l.waiting);
	dd_lease_release(&l);
	assert_lease(x, other, DD_LEASE_PENDING);
	assert_resource(x, r0, DD_RESOURCE_BROKEN);
	assert_resource(x, r1, DD_RESOURCE_BROKEN);
	assert_int_equal(logged(x, id, 0, "lease.broken", NULL, 0), 0);
	/* at most one failure on each dead host, none again */
	assert_true(logged(x, id, 0, "lease.resource-failure", NULL, 0) <= 2);

	assert_ok(dd_api_send(x->env.store,
			      (struct dd_ref){DD_OBJ_LEASE, other}, "release",
			      "test:unit", NULL, NULL, &err),
		  &err);
	drain(x);
	assert_lease(x, other, DD_LEASE_DESTROYED);

	dead[0] = false;
	assert_ok(dd_api_schedule_update(
			  x->env.store, (struct dd_ref){DD_OBJ_RESOURCE, r0},
			  &err),
		  &err);
	drain(x);
	assert_resource(x, r0, DD_RESOURCE_DESTROYED);
	assert_lease(x, id, DD_LEASE_ACTIVE);
	r = resource_of(x, id);
	assert_true(r != r0 && r != r1);
	assert_int_equal(host_of_resource(x, r), 0);
}

/*
 * The host dropped one connection but answers its check: the resource
 * stays, the lease is not put on it again (that could go on for ever);
 * with no other room, the idle resource is reclaimed and the lease gets
 * a new one on the same host.
 */
static void test_transient_failure_rebuilds(void **state)
{
	struct fx *x = *state;
	long long id, first, r;

	hosts = 1;
	flaps = 1;
	id = lease_new(x, NULL);
	drain(x);
	assert_quiet(x);
	assert_lease(x, id, DD_LEASE_ACTIVE);
	assert_int_equal(logged(x, id, 0, "lease.resource-failure", NULL, 0),
			 1);
	first = 1; /* the first resource built */
	r = resource_of(x, id);
	assert_true(r != first);
	assert_resource(x, first, DD_RESOURCE_DESTROYED);
	assert_int_equal(logged(x, 0, first, "resource.reclaimed", NULL, 0),
			 1);
	assert_int_equal(lease_activations, 2);
}

/*
 * A host that keeps failing leases while answering its checks: after
 * DD_RESOURCE_FAILURES (3) resources failed under it, the lease breaks,
 * saying so, and nothing is left due.
 */
static void test_failures_are_bounded(void **state)
{
	struct fx *x = *state;
	long long id;
	char reason[512];

	hosts = 1;
	flaps = 1000;
	id = lease_new(x, NULL);
	drain(x);
	assert_quiet(x);
	assert_lease(x, id, DD_LEASE_DESTROYED);
	assert_int_equal(lease_activations, 3);
	assert_int_equal(resource_count(x), 3);
	assert_int_equal(logged(x, id, 0, "lease.resource-failure", NULL, 0),
			 2);
	assert_int_equal(logged(x, id, 0, "lease.broken", reason,
				sizeof(reason)),
			 1);
	assert_non_null(strstr(reason, "3 resources failed under it; the "
				       "last, resource 3: cannot reach host 0"));
}

/*
 * A resource breaks under a lease still acquired (its activation in
 * progress): the lease goes back to be placed again, and the broken
 * resource, which waited for its last lease to leave, is woken to be
 * destroyed.  Before, only a lease's destruction woke it, and it stayed
 * broken, its host's slot held, with nothing queued.
 */
static void test_broken_under_acquired_lease(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {0};
	struct dd_task_list tasks = {0};
	long long id, r;

	hosts = 1;
	id = lease_new(x, "{\"slow\": true}");
	drain(x);
	assert_lease(x, id, DD_LEASE_ACQUIRED);
	r = resource_of(x, id);

	dead[0] = true;
	assert_ok(dd_api_schedule_update(
			  x->env.store, (struct dd_ref){DD_OBJ_RESOURCE, r},
			  &err),
		  &err);
	drain(x);
	assert_resource(x, r, DD_RESOURCE_BROKEN);
	assert_lease(x, id, DD_LEASE_PENDING);
	assert_int_equal(resource_of(x, id), 0);
	/* its destruction, failing on the dead host, is queued to retry */
	f.target = (struct dd_ref){DD_OBJ_RESOURCE, r};
	assert_ok(dd_store_task_list(x->env.store, &f, &tasks, &err), &err);
	assert_int_equal(tasks.n, 1);
	dd_task_list_release(&tasks);

	dead[0] = false;
	assert_ok(dd_api_schedule_update(
			  x->env.store, (struct dd_ref){DD_OBJ_RESOURCE, r},
			  &err),
		  &err);
	drain(x);
	assert_resource(x, r, DD_RESOURCE_DESTROYED);
	assert_lease(x, id, DD_LEASE_ACQUIRED);
	assert_true(resource_of(x, id) != r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lease_leaves_dead_host,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_own_failure_breaks_the_lease, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_no_live_host_waits_then_served, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transient_failure_rebuilds,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_failures_are_bounded,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_broken_under_acquired_lease, setup, teardown),
	};

	if (dd_blueprint_type_add_for_tests(&flaky_type))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
