/*
 * test_prewarm.c - pre-warmed pools: the decision (dd_prewarm_plan: how
 * many to build, which idle resources go and why, when to look again),
 * the settings and their check, and the maintenance pass driven by a
 * worker in this thread: a pool fills with no lease, refills after a
 * lease takes a ready resource, stays within the blueprint's hosts, and
 * a disabled blueprint builds nothing.
 */
#include "testutil.h"

#include "api/api.h"
#include "blueprint/blueprint.h"
#include "blueprint/prewarm.h"
#include "queue/task.h"

#include <sqlite3.h>

static const struct dd_prewarm_settings none = {0, -1, 0};

/* idle resources 1..n, resource i idle since `since[i-1]` */
static void fill(struct dd_prewarm_idle *x, const double *since, size_t n)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (struct dd_prewarm_idle){(long long)i + 1, since[i],
						DD_PREWARM_KEEP};
}

static enum dd_prewarm_verdict verdict(const struct dd_prewarm_idle *x,
				       size_t n, long long id)
{
	for (size_t i = 0; i < n; i++)
		if (x[i].id == id)
			return x[i].verdict;
	fail_msg("resource %lld not in the plan", id);
	return DD_PREWARM_KEEP;
}

static void test_plan_builds_up_to_min_ready(void **state)
{
	struct dd_prewarm_settings s = {3, -1, 0};
	struct dd_prewarm_idle x[2];
	struct dd_prewarm_plan p;
	const double since[] = {100, 90};

	(void)state;
	dd_prewarm_plan(&s, true, 1000, NULL, 0, 0, &p);
	assert_int_equal(p.build, 3);
	assert_int_equal(p.destroy, 0);
	assert_true(p.next == 0);
	/* building ones count: no second build for them */
	dd_prewarm_plan(&s, true, 1000, NULL, 0, 2, &p);
	assert_int_equal(p.build, 1);
	fill(x, since, 2);
	dd_prewarm_plan(&s, true, 1000, x, 2, 0, &p);
	assert_int_equal(p.build, 1);
	dd_prewarm_plan(&s, true, 1000, x, 2, 1, &p);
	assert_int_equal(p.build, 0);
	dd_prewarm_plan(&s, true, 1000, x, 2, 5, &p);
	assert_int_equal(p.build, 0);
	/* nothing asked: nothing built, nothing let go */
	dd_prewarm_plan(&none, true, 1000, x, 2, 0, &p);
	assert_int_equal(p.build, 0);
	assert_int_equal(p.destroy, 0);
}

static void test_plan_disabled_builds_nothing(void **state)
{
	struct dd_prewarm_settings s = {2, -1, 10};
	struct dd_prewarm_idle x[2];
	struct dd_prewarm_plan p;
	const double since[] = {100, 995};

	(void)state;
	dd_prewarm_plan(&s, false, 1000, NULL, 0, 0, &p);
	assert_int_equal(p.build, 0);
	/* and keeps no minimum: the old one's idle_ttl ran out */
	fill(x, since, 2);
	dd_prewarm_plan(&s, false, 1000, x, 2, 0, &p);
	assert_int_equal(p.build, 0);
	assert_int_equal(p.destroy, 1);
	assert_int_equal(verdict(x, 2, 1), DD_PREWARM_EXPIRED);
	assert_int_equal(verdict(x, 2, 2), DD_PREWARM_KEEP);
	assert_true(p.next == 1005);
}

static void test_plan_idle_ttl_spares_min_ready_newest(void **state)
{
	struct dd_prewarm_settings s = {1, -1, 60};
	struct dd_prewarm_idle x[4];
	struct dd_prewarm_plan p;
	/* 1 and 2 expired, 3 expires at 1030, 4 is the newest */
	const double since[] = {100, 900, 970, 990};

	(void)state;
	fill(x, since, 4);
	dd_prewarm_plan(&s, true, 1000, x, 4, 0, &p);
	assert_int_equal(p.build, 0);
	assert_int_equal(p.destroy, 2);
	assert_int_equal(verdict(x, 4, 1), DD_PREWARM_EXPIRED);
	assert_int_equal(verdict(x, 4, 2), DD_PREWARM_EXPIRED);
	assert_int_equal(verdict(x, 4, 3), DD_PREWARM_KEEP);
	assert_int_equal(verdict(x, 4, 4), DD_PREWARM_KEEP);
	/* the newest is within min_ready: only 3's expiry is a deadline */
	assert_true(p.next == 1030);
	/* sorted newest first */
	assert_int_equal(x[0].id, 4);
	assert_int_equal(x[3].id, 1);
	/* all expired: min_ready of them stay, the newest */
	{
		const double old[] = {10, 30, 20};

		fill(x, old, 3);
		s.min_ready = 2;
		dd_prewarm_plan(&s, true, 1000, x, 3, 0, &p);
		assert_int_equal(p.destroy, 1);
		assert_int_equal(verdict(x, 3, 1), DD_PREWARM_EXPIRED);
		assert_true(p.next == 0);
	}
	/* exactly at the expiry counts as expired */
	{
		const double edge[] = {940};

		fill(x, edge, 1);
		s.min_ready = 0;
		dd_prewarm_plan(&s, true, 1000, x, 1, 0, &p);
		assert_int_equal(verdict(x, 1, 1), DD_PREWARM_EXPIRED);
	}
}

static void test_plan_max_idle_lets_oldest_go(void **state)
{
	struct dd_prewarm_settings s = {1, 2, 0};
	struct dd_prewarm_idle x[5];
	struct dd_prewarm_plan p;
	const double since[] = {500, 100, 400, 300, 200};

	(void)state;
	fill(x, since, 5);
	dd_prewarm_plan(&s, true, 1000, x, 5, 0, &p);
	assert_int_equal(p.build, 0);
	assert_int_equal(p.destroy, 3);
	assert_int_equal(verdict(x, 5, 1), DD_PREWARM_KEEP);
	assert_int_equal(verdict(x, 5, 3), DD_PREWARM_KEEP);
	assert_int_equal(verdict(x, 5, 2), DD_PREWARM_TOO_MANY);
	assert_int_equal(verdict(x, 5, 4), DD_PREWARM_TOO_MANY);
	assert_int_equal(verdict(x, 5, 5), DD_PREWARM_TOO_MANY);
	assert_true(p.next == 0);
	/* max_idle 0 lets every idle one go */
	s.min_ready = 0;
	s.max_idle = 0;
	fill(x, since, 5);
	dd_prewarm_plan(&s, true, 1000, x, 5, 0, &p);
	assert_int_equal(p.destroy, 5);
	/* equal times: the newer id is kept */
	{
		const double same[] = {100, 100};

		s.max_idle = 1;
		fill(x, same, 2);
		dd_prewarm_plan(&s, true, 1000, x, 2, 0, &p);
		assert_int_equal(verdict(x, 2, 2), DD_PREWARM_KEEP);
		assert_int_equal(verdict(x, 2, 1), DD_PREWARM_TOO_MANY);
	}
}

static void test_plan_both_limits(void **state)
{
	/* beyond max_idle goes as too many, even when also expired */
	struct dd_prewarm_settings s = {0, 1, 10};
	struct dd_prewarm_idle x[3];
	struct dd_prewarm_plan p;
	const double since[] = {100, 995, 50};

	(void)state;
	fill(x, since, 3);
	dd_prewarm_plan(&s, true, 1000, x, 3, 0, &p);
	assert_int_equal(p.destroy, 2);
	assert_int_equal(verdict(x, 3, 2), DD_PREWARM_KEEP);
	assert_int_equal(verdict(x, 3, 1), DD_PREWARM_TOO_MANY);
	assert_int_equal(verdict(x, 3, 3), DD_PREWARM_TOO_MANY);
	assert_true(p.next == 1005);
}

static void test_settings_and_check(void **state)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_prewarm_settings s;
	json_t *c = json_pack("{s:[]}", "hosts");

	(void)state;
	assert_false(dd_prewarm_settings_get(c, &s));
	assert_int_equal(s.min_ready, 0);
	assert_int_equal(s.max_idle, -1);
	assert_int_equal(s.idle_ttl, 0);
	json_object_set_new(c, "idle_ttl", json_integer(30));
	assert_true(dd_prewarm_settings_get(c, &s));
	assert_int_equal(s.idle_ttl, 30);
	json_object_set_new(c, "min_ready", json_integer(3));
	json_object_set_new(c, "max_idle", json_integer(2));
	assert_int_equal(dd_prewarm_check_max_idle(NULL, c, &err),
			 DD_ERR_INVALID);
	assert_string_equal(err.msg, "must be at least min_ready (3)");
	json_object_set_new(c, "max_idle", json_integer(3));
	assert_int_equal(dd_prewarm_check_max_idle(NULL, c, NULL), 0);
	/* which events call for a pass: a lease coming or a resource going
	 * only for min_ready, a lease going or a resource coming only for
	 * max_idle and idle_ttl */
	{
		const struct dd_prewarm_settings min = {2, -1, 0},
						 idle = {0, 3, 0}, ttl = {0, -1, 60};

		assert_true(dd_prewarm_wants(&min, DD_PREWARM_TAKEN));
		assert_true(dd_prewarm_wants(&min, DD_PREWARM_GONE));
		assert_false(dd_prewarm_wants(&min, DD_PREWARM_FREED));
		assert_false(dd_prewarm_wants(&min, DD_PREWARM_READY));
		assert_false(dd_prewarm_wants(&idle, DD_PREWARM_TAKEN));
		assert_false(dd_prewarm_wants(&idle, DD_PREWARM_GONE));
		assert_true(dd_prewarm_wants(&idle, DD_PREWARM_FREED));
		assert_true(dd_prewarm_wants(&ttl, DD_PREWARM_READY));
		assert_false(dd_prewarm_wants(&none, DD_PREWARM_TAKEN));
		assert_false(dd_prewarm_wants(&none, DD_PREWARM_FREED));
	}
	json_decref(c);
}

/* ---- the pass, on a store ---------------------------------------------- */

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

/* A host blueprint with `hosts` hosts and `extra` config (JSON text). */
static long long pool(struct fx *x, int hosts, const char *extra,
		      bool enabled)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_blueprint bp = {0};
	json_t *cfg = json_loads(extra, 0, NULL);
	json_t *list = json_array();
	long long id;

	assert_non_null(cfg);
	for (int i = 0; i < hosts; i++) {
		char name[16];

		snprintf(name, sizeof(name), "h%d", i);
		json_array_append_new(list, json_pack("{s:s}", "name", name));
	}
	json_object_set_new(cfg, "hosts", list);
	json_object_set_new(cfg, "root", json_string(x->root));
	assert_ok(dd_api_blueprint_create(x->env.store, "host", "p", cfg,
					  enabled, &bp, &err),
		  &err);
	json_decref(cfg);
	id = bp.id;
	dd_blueprint_release(&bp);
	return id;
}

static void drain(struct fx *x)
{
	struct dd_error err = DD_ERROR_INIT;

	assert_ok(dd_worker_drain(&x->w, 1000, &err), &err);
}

static struct dd_prewarm_survey look(struct fx *x, long long bp)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_prewarm_survey v;

	assert_ok(dd_prewarm_survey(x->env.store, bp, true, &v, &err), &err);
	return v;
}

static long long counter(struct fx *x, const char *name)
{
	long long n = 0;

	dd_store_counter_get(x->env.store, name, &n, NULL);
	return n;
}

static void test_pool_fills_with_no_lease(void **state)
{
	struct fx *x = *state;
	long long bp = pool(x, 3, "{\"min_ready\": 2}", true);
	struct dd_prewarm_survey v;
	char name[48];

	drain(x);
	v = look(x, bp);
	assert_int_equal(v.n_idle, 2);
	assert_int_equal(v.building, 0);
	assert_int_equal(v.busy, 0);
	dd_prewarm_survey_release(&v);
	assert_int_equal(counter(x, dd_prewarm_counter_built(bp, name,
							     sizeof(name))),
			 2);
	/* a pass with nothing to do builds nothing more */
	assert_ok(dd_api_blueprint_edit(x->env.store, bp, NULL, NULL, 1, NULL,
					NULL),
		  &(struct dd_error){0});
	drain(x);
	v = look(x, bp);
	assert_int_equal(v.n_idle, 2);
	dd_prewarm_survey_release(&v);
}

static void test_pool_refills_after_lease_within_limit(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease_request req = {.type = "host"};
	struct dd_lease l1 = {0}, l2 = {0}, l3 = {0};
	long long bp = pool(x, 3, "{\"min_ready\": 2}", true);
	struct dd_prewarm_survey v;

	drain(x);
	assert_ok(dd_api_lease_create(x->env.store, &req, &l1, &err), &err);
	drain(x);
	v = look(x, bp);
	assert_int_equal(v.busy, 1);
	assert_int_equal(v.n_idle, 2);
	dd_prewarm_survey_release(&v);
	/* the third host goes to the second lease: no more to pre-warm */
	assert_ok(dd_api_lease_create(x->env.store, &req, &l2, &err), &err);
	assert_ok(dd_api_lease_create(x->env.store, &req, &l3, &err), &err);
	drain(x);
	v = look(x, bp);
	assert_int_equal(v.busy, 3);
	assert_int_equal(v.n_idle, 0);
	assert_int_equal(v.building, 0);
	dd_prewarm_survey_release(&v);
	dd_lease_release(&l1);
	dd_lease_release(&l2);
	dd_lease_release(&l3);
}

/*
 * A drained resource takes no lease: it is not one of the ready ones
 * (the pool builds another) and not the pool's to let go, even past
 * max_idle: it stays until released.
 */
static void test_pool_drained_resource_is_not_ready(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	long long bp = pool(x, 3, "{\"min_ready\": 1, \"max_idle\": 1}",
			    true);
	struct dd_prewarm_survey v;
	long long drained;

	drain(x);
	v = look(x, bp);
	assert_int_equal(v.n_idle, 1);
	drained = v.idle[0].id;
	dd_prewarm_survey_release(&v);
	assert_ok(dd_api_send(x->env.store,
			      (struct dd_ref){DD_OBJ_RESOURCE, drained},
			      "drain", "test", NULL, NULL, &err),
		  &err);
	drain(x);
	v = look(x, bp);
	assert_int_equal(v.n_idle, 1);
	assert_true(v.idle[0].id != drained);
	assert_int_equal(v.busy, 1);
	dd_prewarm_survey_release(&v);
	{
		struct dd_resource r = {0};

		assert_ok(dd_store_resource_get(x->env.store, drained, &r,
						&err),
			  &err);
		assert_int_equal(r.status, DD_RESOURCE_ACTIVE);
		assert_true(r.draining);
		dd_resource_release(&r);
	}
}

static void test_pool_disabled_builds_nothing(void **state)
{
	struct fx *x = *state;
	long long bp = pool(x, 3, "{\"min_ready\": 2}", false);
	struct dd_prewarm_survey v;

	drain(x);
	v = look(x, bp);
	assert_int_equal(v.n_idle + v.building + v.busy, 0);
	dd_prewarm_survey_release(&v);
	/* enabling it fills it */
	assert_ok(dd_api_blueprint_edit(x->env.store, bp, NULL, NULL, 1, NULL,
					NULL),
		  &(struct dd_error){0});
	drain(x);
	v = look(x, bp);
	assert_int_equal(v.n_idle, 2);
	dd_prewarm_survey_release(&v);
}

static void test_pool_max_idle_on_edit(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	long long bp = pool(x, 4, "{\"min_ready\": 3}", true);
	json_t *cfg;
	struct dd_blueprint b = {0};
	struct dd_prewarm_survey v;
	char name[48];

	drain(x);
	v = look(x, bp);
	assert_int_equal(v.n_idle, 3);
	dd_prewarm_survey_release(&v);
	assert_ok(dd_store_blueprint_get(x->env.store, bp, &b, &err), &err);
	cfg = json_deep_copy(b.config);
	json_object_set_new(cfg, "min_ready", json_integer(1));
	json_object_set_new(cfg, "max_idle", json_integer(1));
	assert_ok(dd_api_blueprint_edit(x->env.store, bp, NULL, cfg, -1, NULL,
					&err),
		  &err);
	drain(x);
	v = look(x, bp);
	assert_int_equal(v.n_idle, 1);
	assert_int_equal(v.going, 0);
	dd_prewarm_survey_release(&v);
	assert_int_equal(counter(x, dd_prewarm_counter_destroyed(
					    bp, name, sizeof(name))),
			 2);
	json_decref(cfg);
	dd_blueprint_release(&b);
}

/*
 * A resource a lease built is the lease's, not idle, until the lease
 * takes it: a pool with max_idle 0 must not reclaim it in between.
 */
static void test_pool_leaves_a_lease_its_build(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease_request req = {.type = "host"};
	struct dd_lease l = {0};
	struct dd_resource_list rs = {0};
	struct dd_filter f = {0};
	long long bp = pool(x, 2, "{\"max_idle\": 0}", true), id;
	bool ran = true;

	drain(x);
	assert_ok(dd_api_lease_create(x->env.store, &req, &l, &err), &err);
	id = l.id;
	dd_lease_release(&l);
	/* task by task: whenever the pool's pass runs, nothing is idle */
	for (int i = 0; ran && i < 100; i++) {
		struct dd_prewarm_survey v = look(x, bp);

		assert_int_equal(v.n_idle, 0);
		dd_prewarm_survey_release(&v);
		assert_ok(dd_worker_run_one(&x->w, &ran, &err), &err);
	}
	assert_false(ran);
	assert_ok(dd_store_lease_get(x->env.store, id, &l, &err), &err);
	assert_int_equal(l.status, DD_LEASE_ACTIVE);
	dd_lease_release(&l);
	f.blueprint = bp;
	assert_ok(dd_store_resource_list(x->env.store, &f, &rs, &err), &err);
	assert_int_equal(rs.n, 1);
	dd_resource_list_release(&rs);
}

/* Seconds from now until blueprint `bp`'s queued pass; -1: none queued. */
static double next_pass_in(struct fx *x, long long bp)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {0};
	struct dd_task_list l = {0};
	double in = -1;

	f.target = (struct dd_ref){DD_OBJ_BLUEPRINT, bp};
	assert_ok(dd_store_task_list(x->env.store, &f, &l, &err), &err);
	for (size_t i = 0; i < l.n; i++)
		if (!l.items[i].claimed_by)
			in = l.items[i].not_before - dd_now();
	dd_task_list_release(&l);
	return in;
}

static size_t built(struct fx *x, long long bp, long long *attempt)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {0};
	struct dd_log_entry_list l = {0};
	size_t n;

	f.blueprint = bp;
	f.type = "resource.allocated";
	f.descending = true;
	assert_ok(dd_store_log_list(x->env.store, &f, &l, &err), &err);
	n = l.n;
	if (n)
		*attempt = json_integer_value(
			json_object_get(l.items[0].data, "attempt"));
	dd_log_entry_list_release(&l);
	return n;
}

/*
 * Resources that cannot be built (their root is a file) break one after
 * another: the pool waits 2 s after the first, 4 s after the second,
 * instead of building again at once.  The wait is skipped by moving the
 * break into the past, not by sleeping.
 */
static void test_pool_waits_after_broken_builds(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	FILE *f = fopen(x->root, "w");
	long long bp, attempt = -1;
	struct dd_ref ref;
	sqlite3 *db;
	double in;

	assert_non_null(f);
	fclose(f);
	bp = pool(x, 3, "{\"min_ready\": 1}", true);
	ref = (struct dd_ref){DD_OBJ_BLUEPRINT, bp};
	drain(x);
	assert_int_equal(built(x, bp, &attempt), 1);
	assert_int_equal(attempt, 0);
	in = next_pass_in(x, bp);
	assert_true(in > 1 && in <= 2.01);
	/* a pass before then builds nothing, and looks again then */
	assert_ok(dd_store_task_schedule(x->env.store, DD_TASK_BLUEPRINT_UPDATE,
					 ref, dd_now(), &err),
		  &err);
	drain(x);
	assert_int_equal(built(x, bp, &attempt), 1);
	in = next_pass_in(x, bp);
	assert_true(in > 1 && in <= 2.01);
	/* the wait over: attempt 1 breaks too, and the next wait is 4 s */
	assert_int_equal(sqlite3_open(x->env.path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "UPDATE log SET time = time - 10 WHERE "
				      "type = 'resource.broken'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_ok(dd_store_task_schedule(x->env.store, DD_TASK_BLUEPRINT_UPDATE,
					 ref, dd_now(), &err),
		  &err);
	drain(x);
	assert_int_equal(built(x, bp, &attempt), 2);
	assert_int_equal(attempt, 1);
	in = next_pass_in(x, bp);
	assert_true(in > 3 && in <= 4.01);
}

static void test_config_refusals(void **state)
{
	struct fx *x = *state;
	static const char *const bad[] = {
		"{\"min_ready\": -1}",
		"{\"min_ready\": \"2\"}",
		"{\"max_idle\": 1.5}",
		"{\"idle_ttl\": 0}",
		"{\"min_ready\": 3, \"max_idle\": 2}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct dd_error err = DD_ERROR_INIT;
		json_t *cfg = json_loads(bad[i], 0, NULL);

		json_object_set_new(cfg, "hosts",
				    json_pack("[{s:s}]", "name", "a"));
		assert_int_equal(dd_api_blueprint_create(x->env.store, "host",
							 "bad", cfg, true,
							 NULL, &err),
				 DD_ERR_INVALID);
		json_decref(cfg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_builds_up_to_min_ready),
		cmocka_unit_test(test_plan_disabled_builds_nothing),
		cmocka_unit_test(test_plan_idle_ttl_spares_min_ready_newest),
		cmocka_unit_test(test_plan_max_idle_lets_oldest_go),
		cmocka_unit_test(test_plan_both_limits),
		cmocka_unit_test(test_settings_and_check),
		cmocka_unit_test_setup_teardown(test_pool_fills_with_no_lease,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_pool_refills_after_lease_within_limit, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_pool_disabled_builds_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_pool_drained_resource_is_not_ready, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_pool_max_idle_on_edit,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_pool_leaves_a_lease_its_build, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_pool_waits_after_broken_builds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_refusals, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
