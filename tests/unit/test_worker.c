/*
 * test_worker.c - allocation and the single-writer update passes, driven
 * synchronously: requests go in through the requester API (api/api.h),
 * and a struct dd_worker drains the task queue in this thread.
 *
 * Each test gets a temp directory, a migrated store, a worker on it and a
 * "host" blueprint "pool" with one host "a" of two slots whose resource
 * directories live under the test's directory.  Nothing sleeps except the
 * expiry test, which waits for a half-second lease to run out.
 */
#include "testutil.h"

#include <errno.h>
#include <math.h>
#include <sys/stat.h>
#include <time.h>

#include "api/api.h"
#include "core/metrics.h"
#include "queue/task.h"
#include "store/sqlite_vfs.h"
#include "worker/worker.h"

struct fx {
	struct test_env env;
	struct dd_worker w;
	long long bp;		/* the "pool" blueprint */
	char root[PATH_MAX + 16];
	char trace[PATH_MAX + 16];
};

static long long make_blueprint(struct fx *x, const char *name,
				const char *hosts_json)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_blueprint bp = {0};
	json_error_t jerr;
	json_t *hosts = json_loads(hosts_json, 0, &jerr);
	json_t *cfg;
	long long id;

	if (!hosts)
		fail_msg("bad hosts JSON in test: %s", jerr.text);
	cfg = json_pack("{s:o, s:s}", "hosts", hosts, "root", x->root);
	assert_ok(dd_api_blueprint_create(x->env.store, "host", name, cfg, true,
					  &bp, &err),
		  &err);
	json_decref(cfg);
	id = bp.id;
	dd_blueprint_release(&bp);
	return id;
}

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct dd_error err = DD_ERROR_INIT;

	if (!x)
		return -1;
	test_env_init(&x->env);
	snprintf(x->root, sizeof(x->root), "%s/hosts", x->env.dir);
	snprintf(x->trace, sizeof(x->trace), "%s/hooks.trace", x->env.dir);
	/* every release and destroy hook appends a line here */
	setenv("DRYDOCK_HOOK_TRACE", x->trace, 1);
	if (dd_worker_init(&x->w, x->env.path, "t", &err))
		fail_msg("worker init: %s", err.msg);
	x->bp = make_blueprint(x, "pool", "[{\"name\":\"a\",\"slots\":2}]");
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;

	unsetenv("DRYDOCK_HOOK_TRACE");
	dd_worker_release(&x->w);
	test_env_release(&x->env);
	free(x);
	return 0;
}

/* ---- helpers ---------------------------------------------------------- */

static json_t *json_or_die(const char *text)
{
	json_error_t jerr;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);

	if (!v)
		fail_msg("bad JSON in test: %s", jerr.text);
	return v;
}

/* Queue a lease; attrs and bps are JSON text or NULL. */
static long long lease_new(struct fx *x, const char *attrs, const char *bps,
			   double until)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease_request req = {0};
	struct dd_lease out = {0};
	long long id;

	req.type = "host";
	req.attributes = attrs ? json_or_die(attrs) : NULL;
	req.blueprints = bps ? json_or_die(bps) : NULL;
	req.until = until;
	req.owner = "test:unit";
	assert_ok(dd_api_lease_create(x->env.store, &req, &out, &err), &err);
	assert_int_equal(out.status, DD_LEASE_PENDING);
	id = out.id;
	dd_lease_release(&out);
	json_decref(req.attributes);
	json_decref(req.blueprints);
	return id;
}

/* Run every task that is due, and insist that none of them failed. */
static void drain(struct fx *x)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {0};
	struct dd_task_archive_list arch = {0};
	struct dd_task_list tl = {0};

	assert_ok(dd_worker_drain(&x->w, 1000, &err), &err);
	f.type = "failed";
	assert_ok(dd_store_task_archive_list(x->env.store, &f, &arch, &err),
		  &err);
	if (arch.n)
		fail_msg("task %s for %s %lld failed: %s", arch.items[0].kind,
			 dd_obj_kind_name(arch.items[0].object.kind),
			 arch.items[0].object.id,
			 arch.items[0].error ? arch.items[0].error : "?");
	dd_task_archive_list_release(&arch);
	memset(&f, 0, sizeof(f));
	assert_ok(dd_store_task_list(x->env.store, &f, &tl, &err), &err);
	for (size_t i = 0; i < tl.n; i++)
		if (tl.items[i].last_error)
			fail_msg("task %s for %lld is retrying after: %s",
				 tl.items[i].kind, tl.items[i].object.id,
				 tl.items[i].last_error);
	dd_task_list_release(&tl);
}

static void lease_get(struct fx *x, long long id, struct dd_lease *out)
{
	struct dd_error err = DD_ERROR_INIT;

	memset(out, 0, sizeof(*out));
	assert_ok(dd_store_lease_get(x->env.store, id, out, &err), &err);
}

#define assert_lease(x, id, want)                                              \
	do {                                                                   \
		enum dd_lease_status got_ =                                    \
			test_lease_status((x)->env.store, (id));               \
		if (got_ != (want))                                            \
			fail_msg("lease %lld is %s, want %s", (long long)(id), \
				 dd_lease_status_name(got_),                   \
				 dd_lease_status_name(want));                  \
	} while (0)

static long long lease_resource(struct fx *x, long long id)
{
	struct dd_lease l;
	long long r;

	lease_get(x, id, &l);
	r = l.resource;
	dd_lease_release(&l);
	return r;
}

static enum dd_resource_status resource_status(struct fx *x, long long id)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_resource r = {0};
	enum dd_resource_status st;

	assert_ok(dd_store_resource_get(x->env.store, id, &r, &err), &err);
	st = r.status;
	dd_resource_release(&r);
	return st;
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

static long long lease_rows(struct fx *x)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {0};
	long long n = -1;

	assert_ok(dd_store_lease_count(x->env.store, &f, &n, &err), &err);
	return n;
}

/* Log entries of `type` about lease `lease` (or, if 0, resource `res`). */
static size_t log_count(struct fx *x, long long lease, long long res,
			const char *type)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {0};
	struct dd_log_entry_list l = {0};
	size_t n;

	f.lease = lease;
	f.resource = lease ? 0 : res;
	f.type = type;
	assert_ok(dd_store_log_list(x->env.store, &f, &l, &err), &err);
	n = l.n;
	dd_log_entry_list_release(&l);
	return n;
}

/* The data of the last log entry of `type` for `lease` (caller decrefs). */
static json_t *log_data(struct fx *x, long long lease, const char *type)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {0};
	struct dd_log_entry_list l = {0};
	json_t *d;

	f.lease = lease;
	f.type = type;
	f.descending = true;
	f.limit = 1;
	assert_ok(dd_store_log_list(x->env.store, &f, &l, &err), &err);
	if (!l.n)
		fail_msg("lease %lld has no '%s' log entry", lease, type);
	d = json_incref(l.items[0].data);
	dd_log_entry_list_release(&l);
	return d;
}

/* Who holds slot lock `key`; {0, 0} when nobody. */
static struct dd_ref slot_holder(struct fx *x, const char *key)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {0};
	struct dd_slot_lock_list l = {0};
	struct dd_ref r = {DD_OBJ_NONE, 0};

	f.key = key;
	assert_ok(dd_store_slot_list(x->env.store, &f, &l, &err), &err);
	if (l.n)
		r = l.items[0].owner;
	dd_slot_lock_list_release(&l);
	return r;
}

static size_t slots_of(struct fx *x, struct dd_ref owner)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {0};
	struct dd_slot_lock_list l = {0};
	size_t n;

	f.target = owner;
	assert_ok(dd_store_slot_list(x->env.store, &f, &l, &err), &err);
	n = l.n;
	dd_slot_lock_list_release(&l);
	return n;
}

/* Lease `id` holds slot `n` of resource `res`. */
static void assert_slot(struct fx *x, enum dd_obj_kind kind, long long id,
			long long res, int n)
{
	char key[128];
	struct dd_ref r;

	snprintf(key, sizeof(key), "resource:%lld:slot:%d", res, n);
	r = slot_holder(x, key);
	if (r.kind != kind || r.id != id)
		fail_msg("slot lock '%s' is held by %s %lld, want %s %lld",
			 key, dd_obj_kind_name(r.kind), r.id,
			 dd_obj_kind_name(kind), id);
}

static void commands(struct fx *x, struct dd_ref target,
		     struct dd_command_list *out)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {0};

	memset(out, 0, sizeof(*out));
	f.target = target;
	assert_ok(dd_store_command_list(x->env.store, &f, out, &err), &err);
}

static size_t command_count(struct fx *x, struct dd_ref target)
{
	struct dd_command_list l;
	size_t n;

	commands(x, target, &l);
	n = l.n;
	dd_command_list_release(&l);
	return n;
}

static size_t task_rows(struct fx *x)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {0};
	struct dd_task_list l = {0};
	size_t n;

	assert_ok(dd_store_task_list(x->env.store, &f, &l, &err), &err);
	n = l.n;
	dd_task_list_release(&l);
	return n;
}

static void send(struct fx *x, struct dd_ref target, const char *kind,
		 json_t *data)
{
	struct dd_error err = DD_ERROR_INIT;

	assert_ok(dd_api_send(x->env.store, target, kind, "test:unit", data,
			      NULL, &err),
		  &err);
}

static struct dd_ref lease_ref(long long id)
{
	return (struct dd_ref){DD_OBJ_LEASE, id};
}

static struct dd_ref resource_ref(long long id)
{
	return (struct dd_ref){DD_OBJ_RESOURCE, id};
}

/* Lines "HOOK KIND ID" in the hook trace. */
static int hook_count(struct fx *x, const char *hook, const char *kind,
		      long long id)
{
	char line[256], want[128];
	FILE *f = fopen(x->trace, "r");
	int n = 0;

	if (!f)
		return 0;
	snprintf(want, sizeof(want), "%s %s %lld\n", hook, kind, id);
	while (fgets(line, sizeof(line), f))
		if (!strcmp(line, want))
			n++;
	fclose(f);
	return n;
}

static bool path_exists(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0;
}

/* The lease's working directory, as the host blueprint recorded it. */
static void lease_path(struct fx *x, long long id, char *buf, size_t n)
{
	struct dd_lease l;
	const char *p;

	lease_get(x, id, &l);
	p = json_string_value(json_object_get(l.attributes, "path"));
	if (!p)
		fail_msg("lease %lld has no path", id);
	snprintf(buf, n, "%s", p);
	dd_lease_release(&l);
}

/* ---- allocation ------------------------------------------------------- */

static void test_lease_becomes_active_on_new_resource(void **state)
{
	struct fx *x = *state;
	struct dd_lease l;
	char path[PATH_MAX];
	long long id = lease_new(x, NULL, NULL, 0), r;

	assert_lease(x, id, DD_LEASE_PENDING);
	drain(x);
	lease_get(x, id, &l);
	assert_int_equal(l.status, DD_LEASE_ACTIVE);
	assert_true(l.resource > 0);
	assert_true(l.acquired > 0);
	assert_true(l.activated >= l.acquired);
	assert_int_equal(l.allocating, 0);
	assert_string_equal(
		json_string_value(json_object_get(l.attributes, "host")), "a");
	dd_lease_release(&l);
	r = lease_resource(x, id);
	assert_int_equal(resource_status(x, r), DD_RESOURCE_ACTIVE);
	assert_int_equal(resource_count(x), 1);

	/* the lease holds slot 0 of the resource; the resource holds host a */
	assert_slot(x, DD_OBJ_LEASE, id, r, 0);
	{
		char key[128];

		snprintf(key, sizeof(key), "blueprint:%lld:host:a", x->bp);
		assert_int_equal(slot_holder(x, key).kind, DD_OBJ_RESOURCE);
		assert_int_equal(slot_holder(x, key).id, r);
	}
	assert_int_equal(slots_of(x, lease_ref(id)), 1);
	assert_int_equal(slots_of(x, resource_ref(r)), 1);

	/* the story is in the log */
	assert_int_equal(log_count(x, id, 0, "lease.queued"), 1);
	assert_int_equal(log_count(x, id, 0, "resource.allocated"), 1);
	assert_int_equal(log_count(x, id, 0, "lease.acquired"), 1);
	assert_int_equal(log_count(x, id, 0, "lease.activated"), 1);
	assert_int_equal(log_count(x, 0, r, "resource.activated"), 1);

	/* and the lease got its own directory inside the host's */
	lease_path(x, id, path, sizeof(path));
	assert_true(path_exists(path));
	assert_non_null(strstr(path, x->root));
	/* nothing is left to do */
	assert_int_equal(task_rows(x), 0);
}

static void test_second_lease_reuses_free_slot(void **state)
{
	struct fx *x = *state;
	long long a = lease_new(x, NULL, NULL, 0), b, r;

	drain(x);
	r = lease_resource(x, a);
	b = lease_new(x, NULL, NULL, 0);
	drain(x);
	assert_lease(x, b, DD_LEASE_ACTIVE);
	assert_int_equal(lease_resource(x, b), r);
	assert_int_equal(resource_count(x), 1);
	assert_slot(x, DD_OBJ_LEASE, a, r, 0);
	assert_slot(x, DD_OBJ_LEASE, b, r, 1);
	/* reuse allocates nothing */
	assert_int_equal(log_count(x, b, 0, "resource.allocated"), 0);
}

static void test_full_host_waits_then_gets_freed_slot(void **state)
{
	struct fx *x = *state;
	long long a = lease_new(x, NULL, NULL, 0);
	long long b = lease_new(x, NULL, NULL, 0);
	long long c = lease_new(x, NULL, NULL, 0), r;

	drain(x);
	assert_lease(x, a, DD_LEASE_ACTIVE);
	assert_lease(x, b, DD_LEASE_ACTIVE);
	assert_lease(x, c, DD_LEASE_PENDING);
	r = lease_resource(x, a);
	assert_int_equal(lease_resource(x, c), 0);
	assert_int_equal(slots_of(x, lease_ref(c)), 0);
	assert_int_equal(log_count(x, c, 0, "lease.waiting-for-resources"), 1);
	assert_int_equal(resource_count(x), 1);
	/* waiting is not a retry loop: no task is queued for it */
	assert_int_equal(task_rows(x), 0);
	/* being woken without news logs the wait once, not every time */
	for (int i = 0; i < 3; i++) {
		struct dd_error err = DD_ERROR_INIT;

		assert_ok(dd_task_schedule_update(x->env.store, lease_ref(c),
						  0, &err),
			  &err);
		drain(x);
	}
	assert_lease(x, c, DD_LEASE_PENDING);
	assert_int_equal(log_count(x, c, 0, "lease.waiting-for-resources"), 1);

	/* freeing a slot wakes the waiting lease; no sleeps, no polling */
	send(x, lease_ref(a), "release", NULL);
	drain(x);
	assert_lease(x, a, DD_LEASE_DESTROYED);
	assert_lease(x, c, DD_LEASE_ACTIVE);
	assert_int_equal(lease_resource(x, c), r);
	assert_slot(x, DD_OBJ_LEASE, c, r, 0);
	assert_int_equal(resource_count(x), 1);
}

static void test_new_blueprint_wakes_waiting_lease(void **state)
{
	struct fx *x = *state;
	long long a = lease_new(x, NULL, NULL, 0);
	long long b = lease_new(x, NULL, NULL, 0);
	long long c = lease_new(x, NULL, NULL, 0), bp2;

	drain(x);
	assert_lease(x, c, DD_LEASE_PENDING);
	/* capacity appears: the waiting lease is queued by the create */
	bp2 = make_blueprint(x, "pool2", "[{\"name\":\"b\"}]");
	drain(x);
	assert_lease(x, c, DD_LEASE_ACTIVE);
	{
		struct dd_error err = DD_ERROR_INIT;
		struct dd_resource r = {0};

		assert_ok(dd_store_resource_get(x->env.store,
						lease_resource(x, c), &r,
						&err),
			  &err);
		assert_int_equal(r.blueprint, bp2);
		dd_resource_release(&r);
	}
	assert_lease(x, a, DD_LEASE_ACTIVE);
	assert_lease(x, b, DD_LEASE_ACTIVE);
}

/* Release every active lease and run the queue, until none is active. */
static void serve_all(struct fx *x)
{
	for (;;) {
		struct dd_error err = DD_ERROR_INIT;
		struct dd_filter f = {0};
		struct dd_lease_list on = {0};
		size_t n;

		f.status_mask = 1u << DD_LEASE_ACTIVE;
		assert_ok(dd_store_lease_list(x->env.store, &f, &on, &err),
			  &err);
		for (size_t i = 0; i < on.n; i++)
			send(x, lease_ref(on.items[i].id), "release", NULL);
		n = on.n;
		dd_lease_list_release(&on);
		if (!n)
			return;
		drain(x);
	}
}

/* The leases in the order they were acquired, from the log. */
static size_t acquired_order(struct fx *x, long long *out, size_t max)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {0};
	struct dd_log_entry_list l = {0};
	size_t n;

	f.type = "lease.acquired";
	assert_ok(dd_store_log_list(x->env.store, &f, &l, &err), &err);
	n = l.n < max ? l.n : max;
	for (size_t i = 0; i < n; i++)
		out[i] = l.items[i].lease;
	dd_log_entry_list_release(&l);
	return n;
}

#define BACKLOG 60

/*
 * Regression test: a backlog of waiting leases cost quadratic CPU.  Every
 * capacity event woke every waiting lease of the type, each ran an
 * allocation pass, and all but one found no room: serving 60 leases
 * queued on one host of two slots took 992 update passes, 16 per lease,
 * a figure that grows with the backlog (now: 151, 2.4 per lease).  Equal requests now queue behind
 * the oldest, and only the oldest is woken: a lease costs its release,
 * the pass that takes the slot and the next lease's look, whatever the
 * length of the queue; and they are served first come, first served.
 */
static void test_backlog_costs_passes_per_lease_not_per_waiter(void **state)
{
	struct fx *x = *state;
	long long holders[2], ids[BACKLOG], order[BACKLOG + 2];
	unsigned long long before, passes;
	size_t n;

	holders[0] = lease_new(x, NULL, NULL, 0);
	holders[1] = lease_new(x, NULL, NULL, 0);
	drain(x);
	for (int i = 0; i < BACKLOG; i++)
		ids[i] = lease_new(x, NULL, NULL, 0);
	drain(x);
	for (int i = 0; i < BACKLOG; i++)
		assert_lease(x, ids[i], DD_LEASE_PENDING);

	before = dd_metric_get(DD_METRIC_TASKS_RUN);
	serve_all(x);
	passes = dd_metric_get(DD_METRIC_TASKS_RUN) - before;
	for (int i = 0; i < BACKLOG; i++)
		assert_lease(x, ids[i], DD_LEASE_DESTROYED);
	if (passes > 4 * (BACKLOG + 2))
		fail_msg("%llu update passes to serve %d waiting leases: "
			 "%.1f per lease, want at most 4",
			 passes, BACKLOG, (double)passes / (BACKLOG + 2));

	n = acquired_order(x, order, BACKLOG + 2);
	assert_int_equal(n, BACKLOG + 2);
	assert_int_equal(order[0], holders[0]);
	assert_int_equal(order[1], holders[1]);
	for (int i = 0; i < BACKLOG; i++)
		if (order[i + 2] != ids[i])
			fail_msg("acquisition %d went to lease %lld, want %lld "
				 "(first come, first served)",
				 i + 2, order[i + 2], ids[i]);
}

/*
 * Only the oldest of equal waiting requests waits for capacity; a lease
 * that cannot use the freed capacity (it names another host) must not
 * keep a younger lease that can from it, and is served when its own
 * host frees.
 */
static void test_backlog_unfit_lease_does_not_block_younger(void **state)
{
	struct fx *x = *state;
	long long a1, a2, b1, wb1, wa1, wb2, wa2;

	make_blueprint(x, "pool2", "[{\"name\":\"b\"}]");
	a1 = lease_new(x, "{\"host\":\"a\"}", NULL, 0);
	a2 = lease_new(x, "{\"host\":\"a\"}", NULL, 0);
	b1 = lease_new(x, "{\"host\":\"b\"}", NULL, 0);
	drain(x);
	assert_lease(x, a1, DD_LEASE_ACTIVE);
	assert_lease(x, a2, DD_LEASE_ACTIVE);
	assert_lease(x, b1, DD_LEASE_ACTIVE);
	wb1 = lease_new(x, "{\"host\":\"b\"}", NULL, 0);
	wa1 = lease_new(x, "{\"host\":\"a\"}", NULL, 0);
	wb2 = lease_new(x, "{\"host\":\"b\"}", NULL, 0);
	wa2 = lease_new(x, "{\"host\":\"a\"}", NULL, 0);
	drain(x);
	/* the younger of each pair queues behind the older */
	{
		json_t *d = log_data(x, wb2, "lease.waiting-for-resources");

		assert_int_equal(json_integer_value(json_object_get(d,
								    "behind")),
				 wb1);
		json_decref(d);
	}

	/* a slot of host a frees: wb1, older, cannot use it */
	send(x, lease_ref(a1), "release", NULL);
	drain(x);
	assert_lease(x, wa1, DD_LEASE_ACTIVE);
	assert_lease(x, wb1, DD_LEASE_PENDING);
	assert_lease(x, wb2, DD_LEASE_PENDING);
	assert_lease(x, wa2, DD_LEASE_PENDING);
	/* host b frees: its oldest waiting lease takes it */
	send(x, lease_ref(b1), "release", NULL);
	drain(x);
	assert_lease(x, wb1, DD_LEASE_ACTIVE);
	assert_lease(x, wb2, DD_LEASE_PENDING);
	send(x, lease_ref(a2), "release", NULL);
	send(x, lease_ref(wb1), "release", NULL);
	drain(x);
	assert_lease(x, wa2, DD_LEASE_ACTIVE);
	assert_lease(x, wb2, DD_LEASE_ACTIVE);
}

/*
 * A waiting lease that goes away before it is served hands its turn on:
 * the equal lease queued behind it waits for capacity in its place, and
 * takes the next freed slot, ahead of the one behind it.
 */
static void test_backlog_head_going_away_hands_on(void **state)
{
	struct fx *x = *state;
	long long a1 = lease_new(x, NULL, NULL, 0);
	long long a2 = lease_new(x, NULL, NULL, 0);
	long long w1, w2, w3;

	drain(x);
	w1 = lease_new(x, NULL, NULL, 0);
	w2 = lease_new(x, NULL, NULL, 0);
	w3 = lease_new(x, NULL, NULL, 0);
	drain(x);
	send(x, lease_ref(w1), "release", NULL);
	drain(x);
	assert_lease(x, w1, DD_LEASE_DESTROYED);
	assert_lease(x, w2, DD_LEASE_PENDING);
	send(x, lease_ref(a1), "release", NULL);
	drain(x);
	assert_lease(x, w2, DD_LEASE_ACTIVE);
	assert_lease(x, w3, DD_LEASE_PENDING);
	send(x, lease_ref(a2), "release", NULL);
	drain(x);
	assert_lease(x, w3, DD_LEASE_ACTIVE);
}

static void test_allow_list_of_disabled_blueprint_breaks(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	char bps[64];
	const char *reason;
	json_t *d;
	long long off, id;

	off = make_blueprint(x, "off", "[{\"name\":\"z\"}]");
	assert_ok(dd_api_blueprint_edit(x->env.store, off, NULL, NULL, 0, NULL,
					&err),
		  &err);
	snprintf(bps, sizeof(bps), "[%lld]", off);
	id = lease_new(x, NULL, bps, 0);
	drain(x);
	/* broken at once and cleaned up: never a resource, never waiting */
	assert_lease(x, id, DD_LEASE_DESTROYED);
	assert_int_equal(resource_count(x), 0);
	assert_int_equal(log_count(x, id, 0, "lease.broken"), 1);
	assert_int_equal(log_count(x, id, 0, "lease.destroyed"), 1);
	assert_int_equal(log_count(x, id, 0, "lease.waiting-for-resources"),
			 0);
	d = log_data(x, id, "lease.no-blueprints");
	reason = json_string_value(json_object_get(d, "reason"));
	assert_non_null(reason);
	assert_non_null(strstr(reason, "allowed"));
	assert_non_null(strstr(reason, "enabled"));
	json_decref(d);
}

static void test_every_blueprint_disabled_breaks(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	const char *reason;
	json_t *d;
	long long id;

	assert_ok(dd_api_blueprint_edit(x->env.store, x->bp, NULL, NULL, 0,
					NULL, &err),
		  &err);
	id = lease_new(x, NULL, NULL, 0);
	drain(x);
	assert_lease(x, id, DD_LEASE_DESTROYED);
	d = log_data(x, id, "lease.no-blueprints");
	reason = json_string_value(json_object_get(d, "reason"));
	assert_non_null(reason);
	assert_non_null(strstr(reason, "disabled"));
	json_decref(d);
}

static void test_unservable_host_attribute_breaks(void **state)
{
	struct fx *x = *state;
	const char *reason;
	json_t *d;
	long long id = lease_new(x, "{\"host\":\"zzz\"}", NULL, 0);

	drain(x);
	assert_lease(x, id, DD_LEASE_DESTROYED);
	assert_int_equal(resource_count(x), 0);
	d = log_data(x, id, "lease.no-blueprints");
	reason = json_string_value(json_object_get(d, "reason"));
	assert_non_null(reason);
	assert_non_null(strstr(reason, "attributes"));
	json_decref(d);

	/* the host it names exists: that one is served */
	id = lease_new(x, "{\"host\":\"a\"}", NULL, 0);
	drain(x);
	assert_lease(x, id, DD_LEASE_ACTIVE);
}

/* ---- release and destruction ------------------------------------------ */

static void test_release_destroys_once(void **state)
{
	struct fx *x = *state;
	char path[PATH_MAX];
	long long id = lease_new(x, NULL, NULL, 0), r;
	json_t *d;

	drain(x);
	r = lease_resource(x, id);
	lease_path(x, id, path, sizeof(path));
	assert_true(path_exists(path));

	send(x, lease_ref(id), "release", NULL);
	/* a command is only a request: nothing changes before the worker */
	assert_lease(x, id, DD_LEASE_ACTIVE);
	drain(x);
	assert_lease(x, id, DD_LEASE_DESTROYED);
	assert_int_equal(log_count(x, id, 0, "lease.released"), 1);
	assert_int_equal(log_count(x, id, 0, "lease.destroyed"), 1);
	d = log_data(x, id, "lease.released");
	assert_string_equal(json_string_value(json_object_get(d, "author")),
			    "test:unit");
	json_decref(d);
	/* the lease's slot lock is gone; the idle resource stays */
	assert_int_equal(slots_of(x, lease_ref(id)), 0);
	assert_int_equal(resource_status(x, r), DD_RESOURCE_ACTIVE);
	assert_int_equal(slots_of(x, resource_ref(r)), 1);
	/* its directory is removed, by hooks that ran exactly once */
	assert_false(path_exists(path));
	assert_int_equal(hook_count(x, "release_lease", "lease", id), 1);
	assert_int_equal(hook_count(x, "destroy_lease", "lease", id), 1);
	assert_int_equal(task_rows(x), 0);

	/* more passes change nothing */
	{
		struct dd_error err = DD_ERROR_INIT;

		assert_ok(dd_task_schedule_update(x->env.store, lease_ref(id),
						  0, &err),
			  &err);
	}
	drain(x);
	assert_int_equal(log_count(x, id, 0, "lease.destroyed"), 1);
	assert_int_equal(hook_count(x, "destroy_lease", "lease", id), 1);
}

static void test_release_sent_five_times_consumed_once(void **state)
{
	struct fx *x = *state;
	struct dd_command_list l;
	long long id = lease_new(x, NULL, NULL, 0);
	int done = 0, ignored = 0;

	drain(x);
	for (int i = 0; i < 5; i++)
		send(x, lease_ref(id), "release", NULL);
	/* five sends, still one queued update */
	assert_int_equal(task_rows(x), 1);
	drain(x);
	assert_lease(x, id, DD_LEASE_DESTROYED);
	commands(x, lease_ref(id), &l);
	assert_int_equal(l.n, 5);
	for (size_t i = 0; i < l.n; i++) {
		assert_true(l.items[i].consumed);
		assert_non_null(l.items[i].outcome);
		if (!strcmp(l.items[i].outcome, "done"))
			done++;
		else if (!strncmp(l.items[i].outcome, "ignored:", 8))
			ignored++;
		else
			fail_msg("unexpected outcome '%s'",
				 l.items[i].outcome);
	}
	/* the oldest one is the one that did it */
	assert_string_equal(l.items[0].outcome, "done");
	dd_command_list_release(&l);
	assert_int_equal(done, 1);
	assert_int_equal(ignored, 4);
	assert_int_equal(log_count(x, id, 0, "lease.released"), 1);
	assert_int_equal(log_count(x, id, 0, "lease.destroyed"), 1);
	assert_int_equal(hook_count(x, "release_lease", "lease", id), 1);
	assert_int_equal(hook_count(x, "destroy_lease", "lease", id), 1);
}

static void test_release_pending_lease(void **state)
{
	struct fx *x = *state;
	long long id = lease_new(x, NULL, NULL, 0);

	/* released before any worker saw it: it never gets a resource */
	send(x, lease_ref(id), "release", NULL);
	drain(x);
	assert_lease(x, id, DD_LEASE_DESTROYED);
	assert_int_equal(lease_resource(x, id), 0);
	assert_int_equal(log_count(x, id, 0, "lease.acquired"), 0);
	assert_int_equal(log_count(x, id, 0, "lease.released"), 1);
}

static void test_send_refusals_add_nothing(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	long long id = lease_new(x, NULL, NULL, 0);
	size_t before;
	json_t *past;

	drain(x);
	send(x, lease_ref(id), "release", NULL);
	drain(x);
	assert_lease(x, id, DD_LEASE_DESTROYED);
	before = command_count(x, lease_ref(id));

	assert_int_equal(dd_api_send(x->env.store, lease_ref(id), "release",
				     "test", NULL, NULL, &err),
			 DD_ERR_STATE);
	assert_int_equal(err.code, DD_ERR_STATE);
	assert_non_null(strstr(err.msg, "destroyed"));
	assert_int_equal(command_count(x, lease_ref(id)), before);
	assert_int_equal(task_rows(x), 0);

	assert_int_equal(dd_api_send(x->env.store, lease_ref(id), "extend",
				     "test", NULL, NULL, &err),
			 DD_ERR_STATE);
	assert_int_equal(dd_api_send(x->env.store, lease_ref(4242), "release",
				     "test", NULL, NULL, &err),
			 DD_ERR_NOTFOUND);
	assert_int_equal(command_count(x, lease_ref(4242)), 0);

	/* a live lease still refuses nonsense */
	id = lease_new(x, NULL, NULL, 0);
	drain(x);
	before = command_count(x, lease_ref(id));
	assert_int_equal(dd_api_send(x->env.store, lease_ref(id), "explode",
				     "test", NULL, NULL, &err),
			 DD_ERR_INVALID);
	past = json_pack("{s:f}", "until", dd_now() - 10);
	assert_int_equal(dd_api_send(x->env.store, lease_ref(id), "extend",
				     "test", past, NULL, &err),
			 DD_ERR_INVALID);
	json_decref(past);
	assert_int_equal(dd_api_send(x->env.store, lease_ref(id), "reclaim",
				     "test", NULL, NULL, &err),
			 DD_ERR_INVALID);
	assert_int_equal(dd_api_send(x->env.store,
				     (struct dd_ref){DD_OBJ_BLUEPRINT, x->bp},
				     "release", "test", NULL, NULL, &err),
			 DD_ERR_INVALID);
	assert_int_equal(command_count(x, lease_ref(id)), before);
	assert_int_equal(task_rows(x), 0);
}

static void test_resource_release_cascades(void **state)
{
	struct fx *x = *state;
	char key[128];
	long long a = lease_new(x, NULL, NULL, 0);
	long long b = lease_new(x, NULL, NULL, 0), r;
	json_t *d;
	char author[64];

	drain(x);
	r = lease_resource(x, a);
	assert_int_equal(lease_resource(x, b), r);
	send(x, resource_ref(r), "release", NULL);
	drain(x);
	assert_int_equal(resource_status(x, r), DD_RESOURCE_DESTROYED);
	assert_lease(x, a, DD_LEASE_DESTROYED);
	assert_lease(x, b, DD_LEASE_DESTROYED);
	/* each lease released once, by the resource */
	snprintf(author, sizeof(author), "resource:%lld", r);
	for (int i = 0; i < 2; i++) {
		long long id = i ? b : a;

		assert_int_equal(log_count(x, id, 0, "lease.released"), 1);
		assert_int_equal(log_count(x, id, 0, "lease.destroyed"), 1);
		d = log_data(x, id, "lease.released");
		assert_string_equal(
			json_string_value(json_object_get(d, "author")),
			author);
		json_decref(d);
		assert_int_equal(hook_count(x, "destroy_lease", "lease", id),
				 1);
	}
	assert_int_equal(log_count(x, 0, r, "resource.released"), 1);
	assert_int_equal(log_count(x, 0, r, "resource.destroyed"), 1);
	assert_int_equal(hook_count(x, "destroy_resource", "resource", r), 1);
	/* every slot lock is gone: the host can be built again */
	assert_int_equal(slots_of(x, resource_ref(r)), 0);
	assert_int_equal(slots_of(x, lease_ref(a)), 0);
	assert_int_equal(slots_of(x, lease_ref(b)), 0);
	snprintf(key, sizeof(key), "blueprint:%lld:host:a", x->bp);
	assert_int_equal(slot_holder(x, key).kind, DD_OBJ_NONE);
	{
		long long c = lease_new(x, NULL, NULL, 0);

		drain(x);
		assert_lease(x, c, DD_LEASE_ACTIVE);
		assert_int_not_equal(lease_resource(x, c), r);
	}
}

/* ---- extend and expiry ------------------------------------------------ */

static void test_extend_moves_until(void **state)
{
	struct fx *x = *state;
	struct dd_lease l;
	struct dd_command_list cl;
	double now = dd_now();
	long long id = lease_new(x, NULL, NULL, now + 3600);
	json_t *data;

	drain(x);
	assert_lease(x, id, DD_LEASE_ACTIVE);
	data = json_pack("{s:f}", "until", now + 7200);
	send(x, lease_ref(id), "extend", data);
	json_decref(data);
	drain(x);
	lease_get(x, id, &l);
	assert_int_equal(l.status, DD_LEASE_ACTIVE);
	assert_float_equal(l.until, now + 7200, 1e-3);
	dd_lease_release(&l);
	assert_int_equal(log_count(x, id, 0, "lease.extended"), 1);
	commands(x, lease_ref(id), &cl);
	assert_int_equal(cl.n, 1);
	assert_string_equal(cl.items[0].outcome, "done");
	dd_command_list_release(&cl);
}

static void test_lease_expires(void **state)
{
	struct fx *x = *state;
	struct dd_command_list cl;
	/* a second of margin so that slow sanitizer builds activate first */
	double until = dd_now() + 1.0, left;
	long long id = lease_new(x, NULL, NULL, until);
	long long keep = lease_new(x, NULL, NULL, 0);
	long long waiting = lease_new(x, NULL, NULL, until);

	drain(x);
	assert_lease(x, id, DD_LEASE_ACTIVE);
	assert_lease(x, keep, DD_LEASE_ACTIVE);
	assert_lease(x, waiting, DD_LEASE_PENDING);
	/* their updates are queued for the moment they run out */
	assert_int_equal(task_rows(x), 2);
	left = until + 0.1 - dd_now();
	if (left > 0) {
		struct timespec ts = {(time_t)left,
				      (long)((left - (double)(time_t)left) *
					     1e9)};

		nanosleep(&ts, NULL);
	}
	drain(x);
	assert_lease(x, id, DD_LEASE_DESTROYED);
	assert_int_equal(log_count(x, id, 0, "lease.expired"), 1);
	assert_int_equal(log_count(x, id, 0, "lease.released"), 1);
	assert_int_equal(log_count(x, id, 0, "lease.destroyed"), 1);
	assert_int_equal(hook_count(x, "destroy_lease", "lease", id), 1);
	/* expiry went through the command queue like any release */
	commands(x, lease_ref(id), &cl);
	assert_int_equal(cl.n, 1);
	assert_string_equal(cl.items[0].kind, "release");
	assert_string_equal(cl.items[0].author, "drydock:expiry");
	assert_string_equal(cl.items[0].outcome, "done");
	dd_command_list_release(&cl);

	/* a lease that never got a resource expires all the same */
	assert_lease(x, waiting, DD_LEASE_DESTROYED);
	assert_int_equal(log_count(x, waiting, 0, "lease.expired"), 1);
	assert_int_equal(log_count(x, waiting, 0, "lease.acquired"), 0);
	/* and one without an expiry is left alone */
	assert_lease(x, keep, DD_LEASE_ACTIVE);
	assert_int_equal(log_count(x, keep, 0, "lease.expired"), 0);
	assert_int_equal(task_rows(x), 0);
}

/* ---- reclaim ---------------------------------------------------------- */

static void test_reclaim_idle_resource(void **state)
{
	struct fx *x = *state;
	char key[128];
	long long id = lease_new(x, NULL, NULL, 0), r;

	drain(x);
	r = lease_resource(x, id);
	send(x, lease_ref(id), "release", NULL);
	drain(x);
	assert_int_equal(resource_status(x, r), DD_RESOURCE_ACTIVE);
	send(x, resource_ref(r), "reclaim", NULL);
	drain(x);
	assert_int_equal(resource_status(x, r), DD_RESOURCE_DESTROYED);
	assert_int_equal(log_count(x, 0, r, "resource.reclaimed"), 1);
	assert_int_equal(log_count(x, 0, r, "resource.destroyed"), 1);
	assert_int_equal(hook_count(x, "destroy_resource", "resource", r), 1);
	snprintf(key, sizeof(key), "blueprint:%lld:host:a", x->bp);
	assert_int_equal(slot_holder(x, key).kind, DD_OBJ_NONE);
	/* reclaiming it again is refused up front */
	{
		struct dd_error err = DD_ERROR_INIT;

		assert_int_equal(dd_api_send(x->env.store, resource_ref(r),
					     "reclaim", "t", NULL, NULL, &err),
				 DD_ERR_STATE);
	}
}

static void test_reclaim_busy_resource_ignored(void **state)
{
	struct fx *x = *state;
	struct dd_command_list cl;
	long long id = lease_new(x, NULL, NULL, 0), r;

	drain(x);
	r = lease_resource(x, id);
	send(x, resource_ref(r), "reclaim", NULL);
	drain(x);
	assert_int_equal(resource_status(x, r), DD_RESOURCE_ACTIVE);
	assert_lease(x, id, DD_LEASE_ACTIVE);
	commands(x, resource_ref(r), &cl);
	assert_int_equal(cl.n, 1);
	assert_true(cl.items[0].consumed);
	assert_non_null(cl.items[0].outcome);
	assert_true(!strncmp(cl.items[0].outcome, "ignored:", 8));
	dd_command_list_release(&cl);
	assert_int_equal(log_count(x, 0, r, "resource.reclaimed"), 0);
	assert_int_equal(hook_count(x, "destroy_resource", "resource", r), 0);
}

/* ---- a resource that cannot be built ---------------------------------- */

/*
 * Regression test (a bug once found in src/worker/allocator.c,
 * src/worker/resource_update.c:200 and :255): when the resource a lease is
 * building fails to activate, break_resource() wakes the lease at once
 * (cascade -> wake_allocators) and destroying the broken resource wakes it
 * again (dd_pass_wake_waiting).  dd_allocate() then sees its `allocating`
 * resource is no longer pending, forgets it ("active or gone") and
 * allocates a new one straight away, with no failure count, no backoff and
 * no limit.  A blueprint whose activation always fails (here: its root is
 * under a regular file) makes one lease build and break resources in a hot
 * loop for ever: 25 resources in 50 tasks, and the queue never goes quiet.
 * Expected: the lease backs off or breaks with the activation failure as
 * its reason.
 */
static void test_failing_activation_does_not_spin(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	char file[PATH_MAX + 32], root[PATH_MAX + 48], bps[32];
	json_t *cfg;
	struct dd_blueprint bp = {0};
	double due = -1, now;
	size_t made;
	FILE *f;
	long long id;

	snprintf(file, sizeof(file), "%s/not-a-dir", x->env.dir);
	f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(root, sizeof(root), "%s/hosts", file);
	cfg = json_pack("{s:[{s:s}], s:s}", "hosts", "name", "q", "root",
			root);
	assert_ok(dd_api_blueprint_create(x->env.store, "host", "broken", cfg,
					  true, &bp, &err),
		  &err);
	json_decref(cfg);
	snprintf(bps, sizeof(bps), "[%lld]", bp.id);
	dd_blueprint_release(&bp);
	id = lease_new(x, NULL, bps, 0);

	/* a bounded drain: a correct allocator goes quiet long before */
	assert_ok(dd_worker_drain(&x->w, 60, &err), &err);
	made = resource_count(x);
	now = dd_now();
	assert_ok(dd_store_task_next_due(x->env.store, NULL, &due, &err), &err);
	if (made > 3 || (due > 0 && due <= now))
		fail_msg("lease %lld is still allocating after 60 tasks: "
			 "%zu resources built and broken, next task due in "
			 "%.3f s",
			 id, made, due > 0 ? due - now : 0);
}

/*
 * Regression test (issue 10, item 7): a disk that fills up during a pass
 * fails the pass's commit, and the write of the task's retry right after
 * fails the same way.  The runner left the task claimed, its lease
 * locked, until the claim expired (60 s), although the failure asked to
 * be retried in about a second.  The runner must keep trying to hand the
 * task back, so that the lease goes on once the disk has room again.
 * The disk is full for the pass's commit and the first two tries of the
 * retry (the VFS fails those commits with SQLITE_FULL, as ENOSPC does).
 */
static void test_disk_full_mid_pass_gives_up_claim(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_task_list l = {0};
	struct dd_filter f = {0};
	long long id = lease_new(x, NULL, NULL, 0);
	bool ran = false;
	int rc;

	/* the claim commits; the pass's first commit and two retries fail */
	dd_sqlite_vfs_fail_commits(1, 3, SQLITE_FULL);
	rc = dd_worker_run_one(&x->w, &ran, &err);
	dd_sqlite_vfs_fail_commits(0, 0, 0);
	assert_true(ran);
	assert_ok(dd_store_task_list(x->env.store, &f, &l, &err), &err);
	assert_int_equal(l.n, 1);
	if (l.items[0].claimed_by)
		fail_msg("the task is still claimed by '%s' until its claim "
			 "expires in %.0f s (%s)",
			 l.items[0].claimed_by,
			 l.items[0].claim_expires - dd_now(), err.msg);
	assert_ok(rc, &err);
	assert_int_equal(l.items[0].failures, 1);
	assert_non_null(strstr(l.items[0].last_error, "full"));
	/* due after the backoff of a first failure, not at claim expiry */
	assert_true(l.items[0].not_before < dd_now() + 1);
	dd_task_list_release(&l);

	/* once due, the lease goes on */
	assert_ok(dd_store_task_schedule(x->env.store, DD_TASK_LEASE_UPDATE,
					 lease_ref(id), dd_now(), &err),
		  &err);
	assert_ok(dd_worker_drain(&x->w, 100, &err), &err);
	assert_lease(x, id, DD_LEASE_ACTIVE);
}

/* ---- fencing ---------------------------------------------------------- */

static void test_fencing_lease_lock(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lock_grant stalled, fresh;
	struct dd_filter f = {0};
	struct dd_task_list tl = {0};
	double retry_at = 0, now;
	long long id = lease_new(x, NULL, NULL, 0);

	/*
	 * Somebody else holds the lease's lock.  Its grant is long enough
	 * that the worker cannot outlive it during this test however slow
	 * the build; its expiry is simulated below by taking the lock over
	 * with a later `now`.
	 */
	memset(&stalled, 0, sizeof(stalled));
	snprintf(stalled.name, sizeof(stalled.name), "lease:%lld", id);
	now = dd_now();
	assert_ok(dd_store_lock_acquire(x->env.store, "stalled", now, 30,
					&stalled, &err),
		  &err);

	/* the worker does not wait or fail: it yields and comes back soon */
	assert_int_equal(dd_lease_update(&x->w, id, &retry_at, &err),
			 DD_ERR_BUSY);
	drain(x);
	assert_lease(x, id, DD_LEASE_PENDING);
	assert_ok(dd_store_task_list(x->env.store, &f, &tl, &err), &err);
	assert_int_equal(tl.n, 1);
	assert_int_equal(tl.items[0].failures, 0);
	assert_null(tl.items[0].claimed_by);
	dd_task_list_release(&tl);

	/* the grant runs out and another worker takes the lock over */
	memset(&fresh, 0, sizeof(fresh));
	snprintf(fresh.name, sizeof(fresh.name), "lease:%lld", id);
	assert_ok(dd_store_lock_acquire(x->w.store, "fresh", now + 31, 60,
					&fresh, &err),
		  &err);
	assert_true(fresh.token > stalled.token);

	/* the stalled holder can no longer open a write */
	assert_int_equal(dd_store_begin_fenced(x->env.store, &stalled, &err),
			 DD_ERR_FENCED);
	assert_int_equal(x->env.store->depth, 0);
	assert_ok(dd_store_begin_fenced(x->w.store, &fresh, &err), &err);
	assert_ok(dd_store_commit(x->w.store, &err), &err);
	/* and its late release leaves the new holder's lock alone */
	assert_ok(dd_store_lock_release(x->env.store, &stalled, &err), &err);
	assert_int_equal(dd_lease_update(&x->w, id, &retry_at, &err),
			 DD_ERR_BUSY);

	/* once the lock is free the lease goes on as usual */
	assert_ok(dd_store_lock_release(x->w.store, &fresh, &err), &err);
	assert_ok(dd_task_schedule_update(x->env.store, lease_ref(id), 0,
					  &err),
		  &err);
	drain(x);
	assert_lease(x, id, DD_LEASE_ACTIVE);
}

static void test_fencing_expired_grant_without_takeover(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lock_grant g;
	long long id = lease_new(x, NULL, NULL, 0);

	memset(&g, 0, sizeof(g));
	snprintf(g.name, sizeof(g.name), "lease:%lld", id);
	/* a grant that ran out a while ago, as for a worker that stalled */
	assert_ok(dd_store_lock_acquire(x->w.store, "t", dd_now() - 30, 10, &g,
					&err),
		  &err);
	assert_int_equal(dd_store_begin_fenced(x->w.store, &g, &err),
			 DD_ERR_FENCED);
	assert_int_equal(x->w.store->depth, 0);
	/* an expired grant does not block the next worker */
	drain(x);
	assert_lease(x, id, DD_LEASE_ACTIVE);
}

/* ---- requests that are refused ---------------------------------------- */

static void assert_refused(struct fx *x, const struct dd_lease_request *req,
			   int want, const char *needle)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease out = {0};
	long long leases = lease_rows(x);
	size_t tasks = task_rows(x);
	int rc = dd_api_lease_create(x->env.store, req, &out, &err);

	if (rc != want)
		fail_msg("lease request gave %s (%s), want %s",
			 dd_err_name(rc), err.msg, dd_err_name(want));
	assert_int_equal(err.code, want);
	if (needle && !strstr(err.msg, needle))
		fail_msg("message '%s' does not mention '%s'", err.msg, needle);
	/* nothing was written: no lease row, no task */
	assert_int_equal(lease_rows(x), leases);
	assert_int_equal(task_rows(x), tasks);
	assert_int_equal(out.id, 0);
}

static void test_lease_create_refusals(void **state)
{
	struct fx *x = *state;
	struct dd_lease_request req = {0};
	json_t *v;

	req.owner = "test";
	req.type = "spaceship";
	assert_refused(x, &req, DD_ERR_INVALID, "spaceship");
	req.type = "";
	assert_refused(x, &req, DD_ERR_INVALID, NULL);
	req.type = NULL;
	assert_refused(x, &req, DD_ERR_INVALID, NULL);

	req.type = "host";
	req.attributes = v = json_or_die("[\"host\",\"a\"]");
	assert_refused(x, &req, DD_ERR_INVALID, "object");
	json_decref(v);
	req.attributes = v = json_string("a");
	assert_refused(x, &req, DD_ERR_INVALID, "object");
	json_decref(v);
	req.attributes = NULL;

	req.blueprints = v = json_or_die("[4242]");
	assert_refused(x, &req, DD_ERR_NOTFOUND, "4242");
	json_decref(v);
	req.blueprints = v = json_or_die("[]");
	assert_refused(x, &req, DD_ERR_INVALID, NULL);
	json_decref(v);
	req.blueprints = v = json_or_die("[\"pool\"]");
	assert_refused(x, &req, DD_ERR_INVALID, NULL);
	json_decref(v);
	req.blueprints = v = json_integer(x->bp);
	assert_refused(x, &req, DD_ERR_INVALID, NULL);
	json_decref(v);
	req.blueprints = NULL;

	req.until = dd_now() - 1;
	assert_refused(x, &req, DD_ERR_INVALID, "past");
	req.until = 0;

	/* and with every field right it is accepted */
	{
		struct dd_error err = DD_ERROR_INIT;
		struct dd_lease out = {0};
		char bps[32];

		snprintf(bps, sizeof(bps), "[%lld]", x->bp);
		req.blueprints = json_or_die(bps);
		req.attributes = json_or_die("{\"host\":\"a\"}");
		req.until = dd_now() + 60;
		assert_ok(dd_api_lease_create(x->env.store, &req, &out, &err),
			  &err);
		assert_int_equal(out.status, DD_LEASE_PENDING);
		assert_string_equal(out.owner, "test");
		assert_true(json_equal(out.blueprints, req.blueprints));
		assert_int_equal(lease_rows(x), 1);
		assert_int_equal(log_count(x, out.id, 0, "lease.queued"), 1);
		assert_int_equal(task_rows(x), 1);
		dd_lease_release(&out);
		json_decref(req.blueprints);
		json_decref(req.attributes);
	}
}

static void test_blueprint_create_refusals(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	static const char *const bad[] = {
		"{}",
		"{\"hosts\":[]}",
		"{\"hosts\":[{\"name\":\"a b\"}]}",
		"{\"hosts\":[{\"name\":\"a\",\"slots\":0}]}",
		"{\"hosts\":[{\"name\":\"a\"},{\"name\":\"a\"}]}",
		"{\"hosts\":[{\"name\":\"a\",\"address\":\"h\"}]}",
		"{\"hosts\":[{\"name\":\"a\"}],\"root\":\"relative\"}",
		"{\"hosts\":[{\"name\":\"a\"}],\"extra\":1}",
		"[]",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *cfg = json_or_die(bad[i]);

		if (dd_api_blueprint_create(x->env.store, "host", "bad", cfg,
					    true, NULL, &err) != DD_ERR_INVALID)
			fail_msg("config %s accepted", bad[i]);
		json_decref(cfg);
	}
	{
		json_t *cfg = json_or_die("{\"hosts\":[{\"name\":\"q\"}]}");

		assert_int_equal(dd_api_blueprint_create(x->env.store, "nope",
							 "bad", cfg, true, NULL,
							 &err),
				 DD_ERR_INVALID);
		assert_int_equal(dd_api_blueprint_create(x->env.store, "host",
							 "", cfg, true, NULL,
							 &err),
				 DD_ERR_INVALID);
		/* the name is taken by the fixture's blueprint */
		assert_int_equal(dd_api_blueprint_create(x->env.store, "host",
							 "pool", cfg, true,
							 NULL, &err),
				 DD_ERR_EXISTS);
		json_decref(cfg);
	}
	{
		struct dd_filter f = {0};
		struct dd_blueprint_list l = {0};

		assert_ok(dd_store_blueprint_list(x->env.store, &f, &l, &err),
			  &err);
		assert_int_equal(l.n, 1);
		dd_blueprint_list_release(&l);
	}
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_lease_becomes_active_on_new_resource),
		T(test_second_lease_reuses_free_slot),
		T(test_full_host_waits_then_gets_freed_slot),
		T(test_new_blueprint_wakes_waiting_lease),
		T(test_backlog_costs_passes_per_lease_not_per_waiter),
		T(test_backlog_unfit_lease_does_not_block_younger),
		T(test_backlog_head_going_away_hands_on),
		T(test_allow_list_of_disabled_blueprint_breaks),
		T(test_every_blueprint_disabled_breaks),
		T(test_unservable_host_attribute_breaks),
		T(test_release_destroys_once),
		T(test_release_sent_five_times_consumed_once),
		T(test_release_pending_lease),
		T(test_send_refusals_add_nothing),
		T(test_resource_release_cascades),
		T(test_extend_moves_until),
		T(test_lease_expires),
		T(test_reclaim_idle_resource),
		T(test_reclaim_busy_resource_ignored),
		T(test_failing_activation_does_not_spin),
		T(test_disk_full_mid_pass_gives_up_claim),
		T(test_fencing_lease_lock),
		T(test_fencing_expired_grant_without_takeover),
		T(test_lease_create_refusals),
		T(test_blueprint_create_refusals),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
