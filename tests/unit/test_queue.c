/*
 * test_queue.c - the durable task queue (store task_* calls and
 * queue/task.h's runner) and the named locks with their fencing tokens.
 *
 * The store calls take `now` explicitly, so claim expiry and lock expiry
 * are tested by passing later times instead of sleeping.  The runner uses
 * the real clock; its tests bound times between readings taken around it.
 */
#include "testutil.h"

#include "queue/task.h"


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

#define KIND "test.update"
#define T0 1000000.0

static const struct dd_ref obj1 = {DD_OBJ_LEASE, 1};
static const struct dd_ref obj2 = {DD_OBJ_LEASE, 2};

/* Every task row, oldest first. */
static void tasks(struct dd_store *s, struct dd_task_list *out)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {0};

	memset(out, 0, sizeof(*out));
	assert_ok(dd_store_task_list(s, &f, out, &err), &err);
}

static size_t task_count(struct dd_store *s)
{
	struct dd_task_list l;
	size_t n;

	tasks(s, &l);
	n = l.n;
	dd_task_list_release(&l);
	return n;
}

/* How many unclaimed rows there are for `kind` and `o`. */
static size_t queued_for(struct dd_store *s, const char *kind,
			 struct dd_ref o)
{
	struct dd_task_list l;
	size_t n = 0;

	tasks(s, &l);
	for (size_t i = 0; i < l.n; i++)
		if (!l.items[i].claimed_by && !strcmp(l.items[i].kind, kind) &&
		    l.items[i].object.kind == o.kind &&
		    l.items[i].object.id == o.id)
			n++;
	dd_task_list_release(&l);
	return n;
}

/* The one row for `id` (fails the test if it is gone). */
static void task_get(struct dd_store *s, long long id, struct dd_task *out)
{
	struct dd_task_list l;
	bool found = false;

	tasks(s, &l);
	for (size_t i = 0; i < l.n; i++) {
		if (l.items[i].id == id) {
			*out = l.items[i];
			memset(&l.items[i], 0, sizeof(l.items[i]));
			found = true;
		}
	}
	dd_task_list_release(&l);
	if (!found)
		fail_msg("task %lld is not queued or claimed", id);
}

static void archive(struct dd_store *s, struct dd_task_archive_list *out)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {0};

	memset(out, 0, sizeof(*out));
	assert_ok(dd_store_task_archive_list(s, &f, out, &err), &err);
}

static void schedule(struct dd_store *s, const char *kind, struct dd_ref o,
		     double when)
{
	struct dd_error err = DD_ERROR_INIT;

	assert_ok(dd_store_task_schedule(s, kind, o, when, &err), &err);
}

static void claim(struct dd_store *s, const char *worker, double now,
		  double ttl, struct dd_task *out)
{
	struct dd_error err = DD_ERROR_INIT;

	memset(out, 0, sizeof(*out));
	assert_ok(dd_store_task_claim(s, worker, NULL, now, ttl, out, &err),
		  &err);
}

static void claim_none(struct dd_store *s, double now)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_task t = {0};

	assert_int_equal(dd_store_task_claim(s, "w", NULL, now, 10, &t, &err),
			 DD_ERR_NOTFOUND);
	assert_null(t.kind);
}

/* ---- schedule and claim ----------------------------------------------- */

static void test_schedule_dedupes(void **state)
{
	struct test_env *e = *state;
	struct dd_task_list l;

	schedule(e->store, KIND, obj1, T0 + 10);
	schedule(e->store, KIND, obj1, T0 + 5);
	schedule(e->store, KIND, obj1, T0 + 20);
	tasks(e->store, &l);
	assert_int_equal(l.n, 1);
	/* scheduling again only ever moves the task earlier */
	assert_float_equal(l.items[0].not_before, T0 + 5, 1e-9);
	assert_string_equal(l.items[0].kind, KIND);
	assert_int_equal(l.items[0].object.kind, DD_OBJ_LEASE);
	assert_int_equal(l.items[0].object.id, 1);
	assert_null(l.items[0].claimed_by);
	assert_int_equal(l.items[0].failures, 0);
	dd_task_list_release(&l);

	/* another object, another kind or another object kind is separate */
	schedule(e->store, KIND, obj2, T0);
	schedule(e->store, "test.other", obj1, T0);
	schedule(e->store, KIND, (struct dd_ref){DD_OBJ_RESOURCE, 1}, T0);
	assert_int_equal(task_count(e->store), 4);
	assert_int_equal(queued_for(e->store, KIND, obj1), 1);
}

static void test_claim_takes_due_tasks_only(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_task t;
	double due = -1;

	/* an empty queue has nothing due */
	assert_ok(dd_store_task_next_due(e->store, NULL, &due, &err), &err);
	assert_float_equal(due, 0, 0);
	claim_none(e->store, T0);

	schedule(e->store, KIND, obj1, T0 + 30);
	claim_none(e->store, T0);
	claim_none(e->store, T0 + 29.999);
	assert_ok(dd_store_task_next_due(e->store, NULL, &due, &err), &err);
	assert_float_equal(due, T0 + 30, 1e-9);

	/* an earlier one comes first whatever the insertion order */
	schedule(e->store, KIND, obj2, T0 + 20);
	assert_ok(dd_store_task_next_due(e->store, NULL, &due, &err), &err);
	assert_float_equal(due, T0 + 20, 1e-9);
	claim(e->store, "w1", T0 + 40, 60, &t);
	assert_int_equal(t.object.id, 2);
	assert_string_equal(t.claimed_by, "w1");
	assert_true(t.claim_token >= 1);
	assert_float_equal(t.claim_expires, T0 + 100, 1e-9);
	dd_task_release(&t);
	claim(e->store, "w1", T0 + 40, 60, &t);
	assert_int_equal(t.object.id, 1);
	dd_task_release(&t);

	/* both are claimed and unexpired: nothing to take */
	claim_none(e->store, T0 + 40);
	/* and the next moment one could be taken is the first expiry */
	assert_ok(dd_store_task_next_due(e->store, NULL, &due, &err), &err);
	assert_float_equal(due, T0 + 100, 1e-9);

	/* the claim is stored, not only returned */
	{
		struct dd_task_list l;

		tasks(e->store, &l);
		assert_int_equal(l.n, 2);
		for (size_t i = 0; i < l.n; i++) {
			assert_string_equal(l.items[i].claimed_by, "w1");
			assert_float_equal(l.items[i].claim_expires, T0 + 100,
					   1e-9);
		}
		dd_task_list_release(&l);
	}
}

/*
 * A task whose object's lock is held (a direct update pass has it) waits
 * its turn, whatever the object's kind: it is neither claimed nor due
 * until the lock goes.  The claim must name each kind's lock as
 * dd_task_lock_name() does ("target:7", not "blueprint:7").
 */
static void test_claim_skips_locked_object_of_every_kind(void **state)
{
	static const struct dd_ref objs[] = {
		{DD_OBJ_LEASE, 7},
		{DD_OBJ_RESOURCE, 7},
		{DD_OBJ_TARGET, 7},
		{DD_OBJ_BLUEPRINT, 7},
	};
	struct test_env *e = *state;

	for (size_t i = 0; i < sizeof(objs) / sizeof(*objs); i++) {
		struct dd_error err = DD_ERROR_INIT;
		struct dd_lock_grant g;
		struct dd_task t;
		double now = dd_now(), due = 0;

		dd_task_lock_name(objs[i], &g);
		assert_ok(dd_store_lock_acquire(e->store, "direct", now, 60, &g,
						&err),
			  &err);
		schedule(e->store, "x.update", objs[i], now - 1);
		claim_none(e->store, now);
		assert_ok(dd_store_task_next_due(e->store, NULL, &due, &err),
			  &err);
		assert_float_equal(due, 0, 0);
		assert_ok(dd_store_lock_release(e->store, &g, &err), &err);
		claim(e->store, "w", now, 60, &t);
		assert_int_equal(t.object.kind, objs[i].kind);
		assert_ok(dd_store_task_finish(e->store, &t, "done", 0, now,
					       NULL, &err),
			  &err);
		dd_task_release(&t);
	}
}

static void test_schedule_while_claimed_queues_one_more(void **state)
{
	struct test_env *e = *state;
	struct dd_task t;

	schedule(e->store, KIND, obj1, T0);
	claim(e->store, "w1", T0, 60, &t);
	/* a claimed task is not queued: a new schedule needs its own row */
	schedule(e->store, KIND, obj1, T0 + 1);
	schedule(e->store, KIND, obj1, T0 + 2);
	assert_int_equal(task_count(e->store), 2);
	assert_int_equal(queued_for(e->store, KIND, obj1), 1);
	dd_task_release(&t);
}

static void test_expired_claim_is_taken_over(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_task a, b, row;
	struct dd_task_archive_list arch;

	schedule(e->store, KIND, obj1, T0);
	claim(e->store, "wa", T0, 10, &a);
	claim_none(e->store, T0 + 9.999);
	/* past its expiry the claimant is presumed dead */
	claim(e->store, "wb", T0 + 10.5, 10, &b);
	assert_int_equal(b.id, a.id);
	assert_string_equal(b.claimed_by, "wb");
	assert_true(b.claim_token > a.claim_token);
	task_get(e->store, a.id, &row);
	assert_string_equal(row.claimed_by, "wb");
	assert_int_equal(row.claim_token, b.claim_token);
	dd_task_release(&row);

	/* the stale claimant can neither finish nor retry */
	assert_int_equal(dd_store_task_finish(e->store, &a, "done", 0.1,
					      T0 + 11, NULL, &err),
			 DD_ERR_FENCED);
	assert_int_equal(err.code, DD_ERR_FENCED);
	assert_int_equal(dd_store_task_retry(e->store, &a, T0 + 50, 1, "late",
					     &err),
			 DD_ERR_FENCED);
	/* neither touched the row */
	task_get(e->store, a.id, &row);
	assert_string_equal(row.claimed_by, "wb");
	assert_int_equal(row.failures, 0);
	assert_null(row.last_error);
	dd_task_release(&row);
	archive(e->store, &arch);
	assert_int_equal(arch.n, 0);
	dd_task_archive_list_release(&arch);

	/* the current claimant can */
	assert_ok(dd_store_task_finish(e->store, &b, "done", 0.1, T0 + 11,
				       NULL, &err),
		  &err);
	assert_int_equal(task_count(e->store), 0);
	dd_task_release(&a);
	dd_task_release(&b);
}

static void test_stale_retry_does_not_touch_queued_task(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_task a, b;
	struct dd_task_list l;

	schedule(e->store, KIND, obj1, T0);
	claim(e->store, "wa", T0, 10, &a);
	claim(e->store, "wb", T0 + 20, 10, &b);
	/* somebody queues the object again, for later */
	schedule(e->store, KIND, obj1, T0 + 500);
	/*
	 * The stale claimant's retry would fold into that queued task; it
	 * must be refused as a whole, leaving the queued task as it was.
	 */
	assert_int_equal(dd_store_task_retry(e->store, &a, T0 + 1, 3, "x",
					     &err),
			 DD_ERR_FENCED);
	tasks(e->store, &l);
	assert_int_equal(l.n, 2);
	for (size_t i = 0; i < l.n; i++) {
		if (l.items[i].claimed_by)
			continue;
		assert_float_equal(l.items[i].not_before, T0 + 500, 1e-9);
		assert_int_equal(l.items[i].failures, 0);
	}
	dd_task_list_release(&l);
	dd_task_release(&a);
	dd_task_release(&b);
}

static void test_finish_archives(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_task t;
	struct dd_task_archive_list arch;
	struct dd_filter f = {0};

	schedule(e->store, KIND, obj1, T0);
	schedule(e->store, KIND, obj2, T0);
	claim(e->store, "w", T0, 60, &t);
	assert_ok(dd_store_task_finish(e->store, &t, "done", 0.25, T0 + 1,
				       NULL, &err),
		  &err);
	dd_task_release(&t);
	claim(e->store, "w", T0, 60, &t);
	assert_ok(dd_store_task_finish(e->store, &t, "failed", 1.5, T0 + 2,
				       "it broke", &err),
		  &err);
	/* finishing twice is refused: the row is gone */
	assert_int_equal(dd_store_task_finish(e->store, &t, "done", 0, T0 + 3,
					      NULL, &err),
			 DD_ERR_FENCED);
	dd_task_release(&t);
	assert_int_equal(task_count(e->store), 0);

	archive(e->store, &arch);
	assert_int_equal(arch.n, 2);
	assert_string_equal(arch.items[0].kind, KIND);
	assert_int_equal(arch.items[0].object.id, 1);
	assert_string_equal(arch.items[0].outcome, "done");
	assert_float_equal(arch.items[0].duration, 0.25, 1e-9);
	assert_float_equal(arch.items[0].finished, T0 + 1, 1e-9);
	assert_null(arch.items[0].error);
	assert_int_equal(arch.items[1].object.id, 2);
	assert_string_equal(arch.items[1].outcome, "failed");
	assert_string_equal(arch.items[1].error, "it broke");
	dd_task_archive_list_release(&arch);

	/* archive filters: by object and by outcome */
	f.target = obj2;
	assert_ok(dd_store_task_archive_list(e->store, &f, &arch, &err), &err);
	assert_int_equal(arch.n, 1);
	assert_int_equal(arch.items[0].object.id, 2);
	dd_task_archive_list_release(&arch);
	memset(&f, 0, sizeof(f));
	f.type = "done";
	assert_ok(dd_store_task_archive_list(e->store, &f, &arch, &err), &err);
	assert_int_equal(arch.n, 1);
	assert_int_equal(arch.items[0].object.id, 1);
	dd_task_archive_list_release(&arch);
}

static void test_retry_requeues(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_task t, row;

	schedule(e->store, KIND, obj1, T0);
	claim(e->store, "w", T0, 60, &t);
	assert_ok(dd_store_task_retry(e->store, &t, T0 + 30, 2, "boom", &err),
		  &err);
	task_get(e->store, t.id, &row);
	assert_null(row.claimed_by);
	assert_float_equal(row.not_before, T0 + 30, 1e-9);
	assert_int_equal(row.failures, 2);
	assert_string_equal(row.last_error, "boom");
	dd_task_release(&row);
	/* it is an ordinary queued task again: not due before not_before */
	claim_none(e->store, T0 + 29);
	dd_task_release(&t);
	claim(e->store, "w", T0 + 30, 60, &t);
	assert_int_equal(t.failures, 2);
	dd_task_release(&t);
}

static void test_retry_merges_with_queued(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_task t;
	struct dd_task_list l;

	schedule(e->store, KIND, obj1, T0);
	claim(e->store, "w", T0, 60, &t);
	/* queued again while we run */
	schedule(e->store, KIND, obj1, T0 + 100);
	assert_ok(dd_store_task_retry(e->store, &t, T0 + 40, 3, "x", &err),
		  &err);
	tasks(e->store, &l);
	/* still exactly one queued task, at the earlier of the two times */
	assert_int_equal(l.n, 1);
	assert_null(l.items[0].claimed_by);
	assert_float_equal(l.items[0].not_before, T0 + 40, 1e-9);
	assert_int_equal(l.items[0].failures, 3);
	dd_task_list_release(&l);
	dd_task_release(&t);

	/* and the other way round: the queued task is the earlier one */
	claim(e->store, "w", T0 + 40, 60, &t);
	schedule(e->store, KIND, obj1, T0 + 41);
	assert_ok(dd_store_task_retry(e->store, &t, T0 + 900, 0, NULL, &err),
		  &err);
	tasks(e->store, &l);
	assert_int_equal(l.n, 1);
	assert_float_equal(l.items[0].not_before, T0 + 41, 1e-9);
	dd_task_list_release(&l);
	dd_task_release(&t);
}

static void test_task_list_filters(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {0};
	struct dd_task_list l = {0};

	schedule(e->store, KIND, obj1, T0);
	schedule(e->store, KIND, obj2, T0);
	schedule(e->store, "test.other", obj2, T0);
	f.target = obj2;
	assert_ok(dd_store_task_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 2);
	dd_task_list_release(&l);
	f.type = "test.other";
	assert_ok(dd_store_task_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.items[0].kind, "test.other");
	dd_task_list_release(&l);
}

static void test_schedule_update_kinds(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_task_list l;
	double before = dd_now(), after;

	assert_ok(dd_task_schedule_update(e->store,
					  (struct dd_ref){DD_OBJ_LEASE, 4}, 0,
					  &err),
		  &err);
	after = dd_now();
	assert_ok(dd_task_schedule_update(e->store,
					  (struct dd_ref){DD_OBJ_RESOURCE, 4},
					  T0, &err),
		  &err);
	tasks(e->store, &l);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.items[0].kind, DD_TASK_LEASE_UPDATE);
	/* when = 0 means now */
	assert_true(l.items[0].not_before >= before &&
		    l.items[0].not_before <= after);
	assert_string_equal(l.items[1].kind, DD_TASK_RESOURCE_UPDATE);
	assert_int_equal(l.items[1].object.kind, DD_OBJ_RESOURCE);
	assert_float_equal(l.items[1].not_before, T0, 1e-9);
	dd_task_list_release(&l);
}

/* ---- backoff ---------------------------------------------------------- */

static void check_backoff(double base, double max)
{
	struct dd_task_options o;

	dd_task_options_default(&o);
	o.backoff_base = base;
	o.backoff_max = max;
	for (int n = 1; n <= 20; n++) {
		double full = base;

		for (int i = 1; i < n; i++)
			full *= 2;
		if (full > max)
			full = max;
		for (int k = 0; k < 300; k++) {
			double d = dd_task_backoff(&o, n);

			if (!(d >= full / 2 && d < full))
				fail_msg("backoff(%d) with base %g max %g = "
					 "%g, want [%g, %g)",
					 n, base, max, d, full / 2, full);
		}
	}
}

static void test_backoff_bounds(void **state)
{
	(void)state;
	check_backoff(1, 300);
	check_backoff(0.5, 10);
	check_backoff(2, 2);
	check_backoff(0.001, 1e6);
}

static void test_backoff_has_jitter(void **state)
{
	struct dd_task_options o;
	double first, d;
	bool differs = false;

	(void)state;
	dd_task_options_default(&o);
	first = dd_task_backoff(&o, 3);
	for (int i = 0; i < 50 && !differs; i++) {
		d = dd_task_backoff(&o, 3);
		differs = d != first;
	}
	assert_true(differs);
}

static void test_default_options(void **state)
{
	struct dd_task_options o;

	(void)state;
	dd_task_options_default(&o);
	assert_non_null(o.worker);
	assert_true(o.claim_ttl > 0);
	assert_true(o.busy_retry > 0 && o.busy_retry < 1);
	assert_true(o.backoff_base > 0);
	assert_true(o.backoff_max >= o.backoff_base);
	assert_true(o.max_failures >= 1);
}

/* ---- the runner ------------------------------------------------------- */

struct fake {
	int rc;		  /* what the handler returns */
	double retry_at;  /* set on DD_ERR_AGAIN */
	const char *msg;  /* error message on failure */
	int calls;
	long long token;  /* the claim token it was called with */
	char worker[32];
	/* end the task in the handler's own transaction, on this store */
	struct dd_store *end_within;
	bool rollback;	  /* ... and then roll that transaction back */
	bool keep_trying; /* set run->keep_trying */
};

static int fake_run(void *arg, struct dd_task_run *run, double *retry_at,
		    struct dd_error *err)
{
	struct fake *f = arg;
	const struct dd_task *t = run->task;

	f->calls++;
	f->token = t->claim_token;
	run->keep_trying = f->keep_trying;
	snprintf(f->worker, sizeof(f->worker), "%s",
		 t->claimed_by ? t->claimed_by : "");
	if (f->end_within) {
		struct dd_store *st = f->end_within;
		int rc = dd_store_begin(st, err);

		if (!rc)
			rc = dd_store_counter_bump(st, "handler", err);
		if (!rc)
			rc = dd_task_end_within(st, run, err);
		if (rc || f->rollback) {
			dd_store_rollback(st);
			dd_task_end_committed(run, false);
			return rc ? rc : dd_error_set(err, DD_ERR_IO, "no");
		}
		rc = dd_store_commit(st, err);
		dd_task_end_committed(run, rc == 0);
		if (rc)
			return rc;
	}
	if (f->rc == DD_ERR_AGAIN)
		*retry_at = f->retry_at;
	if (f->rc && f->msg)
		return dd_error_set(err, f->rc, "%s", f->msg);
	return f->rc;
}

static const struct dd_task_kind fake_kinds[] = {
	{KIND, fake_run},
	{NULL, NULL},
};

static void options(struct dd_task_options *o)
{
	dd_task_options_default(o);
	o->worker = "fake-worker";
	o->backoff_base = 4;
	o->backoff_max = 100;
	o->busy_retry = 10;
	o->max_failures = 3;
}

static void run_one(struct test_env *e, const struct dd_task_options *o,
		    struct fake *f, bool want_ran)
{
	struct dd_error err = DD_ERROR_INIT;
	bool ran = !want_ran;

	assert_ok(dd_task_run_one(e->store, fake_kinds, o, f, &ran, &err),
		  &err);
	assert_int_equal(ran, want_ran);
}

static void test_run_one_empty_queue(void **state)
{
	struct test_env *e = *state;
	struct dd_task_options o;
	struct fake f = {0};

	options(&o);
	run_one(e, &o, &f, false);
	assert_int_equal(f.calls, 0);
	/* a task that is not due yet is not run either */
	schedule(e->store, KIND, obj1, dd_now() + 3600);
	run_one(e, &o, &f, false);
	assert_int_equal(f.calls, 0);
}

static void test_run_one_done(void **state)
{
	struct test_env *e = *state;
	struct dd_task_options o;
	struct fake f = {0};
	struct dd_task_archive_list arch;

	options(&o);
	dd_task_schedule_update(e->store, obj1, 0, NULL);
	schedule(e->store, KIND, obj1, dd_now());
	/* the lease.update task has no handler in this table */
	run_one(e, &o, &f, true);
	run_one(e, &o, &f, true);
	assert_int_equal(f.calls, 1);
	assert_string_equal(f.worker, "fake-worker");
	assert_true(f.token >= 1);
	assert_int_equal(task_count(e->store), 0);
	archive(e->store, &arch);
	assert_int_equal(arch.n, 2);
	for (size_t i = 0; i < arch.n; i++) {
		if (!strcmp(arch.items[i].kind, KIND)) {
			assert_string_equal(arch.items[i].outcome, "done");
			assert_true(arch.items[i].duration >= 0 &&
				    arch.items[i].duration < 5);
			assert_null(arch.items[i].error);
			assert_int_equal(arch.items[i].failures, 0);
		} else {
			/* unknown kinds fail at once, never loop */
			assert_string_equal(arch.items[i].kind,
					    DD_TASK_LEASE_UPDATE);
			assert_string_equal(arch.items[i].outcome, "failed");
			assert_non_null(arch.items[i].error);
			assert_non_null(strstr(arch.items[i].error, "unknown"));
		}
	}
	dd_task_archive_list_release(&arch);
}

static void test_run_one_again_with_retry_at(void **state)
{
	struct test_env *e = *state;
	struct dd_task_options o;
	struct fake f = {0};
	struct dd_task_list l;
	double at = dd_now() + 123.5;

	options(&o);
	f.rc = DD_ERR_AGAIN;
	f.retry_at = at;
	schedule(e->store, KIND, obj1, dd_now());
	run_one(e, &o, &f, true);
	tasks(e->store, &l);
	assert_int_equal(l.n, 1);
	assert_null(l.items[0].claimed_by);
	assert_float_equal(l.items[0].not_before, at, 1e-6);
	/* a yield is not a failure */
	assert_int_equal(l.items[0].failures, 0);
	assert_null(l.items[0].last_error);
	dd_task_list_release(&l);
	/* and it is not due again until then */
	run_one(e, &o, &f, false);
	assert_int_equal(f.calls, 1);
}

static void test_run_one_again_without_retry_at(void **state)
{
	struct test_env *e = *state;
	struct dd_task_options o;
	struct fake f = {0};
	struct dd_task_list l;
	double before, after;

	options(&o);
	f.rc = DD_ERR_AGAIN;
	f.retry_at = 0;
	schedule(e->store, KIND, obj1, dd_now());
	before = dd_now();
	run_one(e, &o, &f, true);
	after = dd_now();
	tasks(e->store, &l);
	assert_int_equal(l.n, 1);
	/* no time given: about a second from now */
	assert_true(l.items[0].not_before >= before + 1 &&
		    l.items[0].not_before <= after + 1);
	assert_int_equal(l.items[0].failures, 0);
	dd_task_list_release(&l);
}

static void test_run_one_busy(void **state)
{
	struct test_env *e = *state;
	struct dd_task_options o;
	struct fake f = {0};
	struct dd_task_list l;
	double before, after;

	options(&o);
	f.rc = DD_ERR_BUSY;
	f.msg = "lock 'lease:1' is held";
	schedule(e->store, KIND, obj1, dd_now());
	before = dd_now();
	run_one(e, &o, &f, true);
	after = dd_now();
	tasks(e->store, &l);
	assert_int_equal(l.n, 1);
	assert_null(l.items[0].claimed_by);
	/* busy_retry is 10 s here: retried within [5, 15) s, no failure */
	assert_true(l.items[0].not_before >= before + 0.5 * o.busy_retry);
	assert_true(l.items[0].not_before <= after + 1.5 * o.busy_retry);
	assert_int_equal(l.items[0].failures, 0);
	assert_null(l.items[0].last_error);
	dd_task_list_release(&l);
}

/* Pull the queued task for obj1 forward so that it is due now. */
static void make_due(struct test_env *e)
{
	schedule(e->store, KIND, obj1, dd_now() - 1);
}

/* A yield after a failure keeps the failure's reason on show. */
static void test_yield_keeps_last_error(void **state)
{
	struct test_env *e = *state;
	struct dd_task_options o;
	struct fake f = {0};
	struct dd_task_list l;

	options(&o);
	f.rc = DD_ERR_IO;
	f.msg = "disk on fire";
	schedule(e->store, KIND, obj1, dd_now());
	run_one(e, &o, &f, true);
	make_due(e);
	f.rc = DD_ERR_AGAIN;
	f.msg = NULL;
	f.retry_at = dd_now() + 60;
	run_one(e, &o, &f, true);
	tasks(e->store, &l);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.items[0].failures, 1);
	assert_non_null(l.items[0].last_error);
	assert_string_equal(l.items[0].last_error, "disk on fire");
	dd_task_list_release(&l);
}

static void test_run_one_failure_backoff(void **state)
{
	struct test_env *e = *state;
	struct dd_task_options o;
	struct fake f = {0};
	struct dd_task_list l;

	options(&o);
	o.max_failures = 5;
	f.rc = DD_ERR_IO;
	f.msg = "disk on fire";
	schedule(e->store, KIND, obj1, dd_now());
	for (int n = 1; n <= 4; n++) {
		double before, after, full = o.backoff_base;

		for (int i = 1; i < n; i++)
			full *= 2;
		if (full > o.backoff_max)
			full = o.backoff_max;
		before = dd_now();
		run_one(e, &o, &f, true);
		after = dd_now();
		tasks(e->store, &l);
		assert_int_equal(l.n, 1);
		assert_null(l.items[0].claimed_by);
		assert_int_equal(l.items[0].failures, n);
		assert_string_equal(l.items[0].last_error, "disk on fire");
		if (!(l.items[0].not_before >= before + full / 2 &&
		      l.items[0].not_before < after + full))
			fail_msg("failure %d: retry in %g s, want [%g, %g)",
				 n, l.items[0].not_before - before, full / 2,
				 full);
		dd_task_list_release(&l);
		/* not due before its backoff */
		run_one(e, &o, &f, false);
		make_due(e);
	}
	assert_int_equal(f.calls, 4);
}

static void test_run_one_gives_up_after_max_failures(void **state)
{
	struct test_env *e = *state;
	struct dd_task_options o;
	struct fake f = {0};
	struct dd_task_archive_list arch;

	options(&o);
	f.rc = DD_ERR_INVALID;
	f.msg = "bad config 'x'";
	schedule(e->store, KIND, obj1, dd_now());
	for (int i = 1; i < o.max_failures; i++) {
		run_one(e, &o, &f, true);
		assert_int_equal(task_count(e->store), 1);
		make_due(e);
	}
	run_one(e, &o, &f, true);
	assert_int_equal(f.calls, o.max_failures);
	/* archived as failed, with the handler's reason, and not retried */
	assert_int_equal(task_count(e->store), 0);
	archive(e->store, &arch);
	assert_int_equal(arch.n, 1);
	assert_string_equal(arch.items[0].outcome, "failed");
	assert_string_equal(arch.items[0].error, "bad config 'x'");
	assert_int_equal(arch.items[0].object.id, 1);
	dd_task_archive_list_release(&arch);
	run_one(e, &o, &f, false);
}

/*
 * A handler that sets run->keep_trying (a teardown that failed) is never
 * given up on: past max_failures it is retried, its failures counted,
 * the backoff at most backoff_max; done once it succeeds.
 */
static void test_run_one_keep_trying(void **state)
{
	struct test_env *e = *state;
	struct dd_task_options o;
	struct fake f = {0};
	struct dd_task_archive_list arch;
	struct dd_task_list l;

	options(&o);
	f.rc = DD_ERR_IO;
	f.msg = "cannot destroy 'x'";
	f.keep_trying = true;
	schedule(e->store, KIND, obj1, dd_now());
	for (int i = 1; i <= 2 * o.max_failures; i++) {
		double before = dd_now();

		run_one(e, &o, &f, true);
		tasks(e->store, &l);
		assert_int_equal(l.n, 1);
		assert_int_equal(l.items[0].failures, i);
		assert_true(l.items[0].not_before < before + o.backoff_max + 1);
		dd_task_list_release(&l);
		make_due(e);
	}
	archive(e->store, &arch);
	assert_int_equal(arch.n, 0);
	dd_task_archive_list_release(&arch);
	f.rc = 0;
	run_one(e, &o, &f, true);
	assert_int_equal(task_count(e->store), 0);
	archive(e->store, &arch);
	assert_int_equal(arch.n, 1);
	assert_string_equal(arch.items[0].outcome, "done");
	dd_task_archive_list_release(&arch);
}

/*
 * Regression test (a bug once found in src/queue/task.c): when a task fails for the last time,
 * dd_task_run_one() archives it with dd_store_task_finish(s, &t, ...)
 * where t.failures is the count from before this failure, so a task that
 * failed max_failures times is archived with max_failures - 1 failures
 * (the daemon's own stderr report in worker/pool.c says "after
 * failures + 1 failures" for the same task).  A task archived "done"
 * after two failed tries records 2; one that failed three times out of
 * three records 2 as well.
 */
static void test_run_one_failed_archive_counts_every_failure(void **state)
{
	struct test_env *e = *state;
	struct dd_task_options o;
	struct fake f = {0};
	struct dd_task_archive_list arch;
	int recorded;

	options(&o);
	f.rc = DD_ERR_IO;
	f.msg = "nope";
	schedule(e->store, KIND, obj1, dd_now());
	for (int i = 0; i < o.max_failures; i++) {
		run_one(e, &o, &f, true);
		make_due(e);
	}
	archive(e->store, &arch);
	assert_int_equal(arch.n, 1);
	assert_string_equal(arch.items[0].outcome, "failed");
	recorded = arch.items[0].failures;
	/* released before the check, so the known failure leaks nothing */
	dd_task_archive_list_release(&arch);
	assert_int_equal(f.calls, o.max_failures);
	assert_int_equal(recorded, o.max_failures);
}

static void test_run_one_done_after_failures_keeps_count(void **state)
{
	struct test_env *e = *state;
	struct dd_task_options o;
	struct fake f = {0};
	struct dd_task_archive_list arch;

	options(&o);
	f.rc = DD_ERR_IO;
	f.msg = "flaky";
	schedule(e->store, KIND, obj1, dd_now());
	run_one(e, &o, &f, true);
	make_due(e);
	run_one(e, &o, &f, true);
	make_due(e);
	f.rc = 0;
	run_one(e, &o, &f, true);
	archive(e->store, &arch);
	assert_int_equal(arch.n, 1);
	assert_string_equal(arch.items[0].outcome, "done");
	assert_int_equal(arch.items[0].failures, 2);
	assert_null(arch.items[0].error);
	dd_task_archive_list_release(&arch);
}

static void test_run_one_fenced_handler(void **state)
{
	struct test_env *e = *state;
	struct dd_task_options o;
	struct fake f = {0};
	struct dd_task_list l;
	struct dd_task_archive_list arch;

	options(&o);
	f.rc = DD_ERR_FENCED;
	schedule(e->store, KIND, obj1, dd_now());
	run_one(e, &o, &f, true);
	/*
	 * A fenced handler lost the object's lock mid-pass: its writes were
	 * refused.  The runner hands the task back (unclaimed, due soon, not
	 * counted as a failure) so the object is looked at again, rather
	 * than leaving it claimed until the claim runs out.
	 */
	tasks(e->store, &l);
	assert_int_equal(l.n, 1);
	assert_null(l.items[0].claimed_by);
	assert_int_equal(l.items[0].failures, 0);
	assert_true(l.items[0].not_before <= dd_now() + o.busy_retry + 0.001);
	dd_task_list_release(&l);
	archive(e->store, &arch);
	assert_int_equal(arch.n, 0);
	dd_task_archive_list_release(&arch);
}

/*
 * The store refuses the task's end (a full disk) once: the runner tries
 * again and hands the task back, rather than leaving it claimed until
 * its claim runs out.
 */
static void test_run_one_store_failure_retries_end(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_task_options o;
	struct fake f = {.rc = DD_ERR_IO, .msg = "disk full"};
	struct dd_task_list l;
	bool ran = false;

	options(&o);
	schedule(e->store, KIND, obj1, dd_now());
	/* claim = wrapper + its begin; the third call is the retry's */
	dd_store_fail_after(2, DD_ERR_STORE);
	assert_ok(dd_task_run_one(e->store, fake_kinds, &o, &f, &ran, &err),
		  &err);
	dd_store_fail_after(-1, 0);
	assert_true(ran);
	assert_int_equal(f.calls, 1);
	tasks(e->store, &l);
	assert_int_equal(l.n, 1);
	assert_null(l.items[0].claimed_by);
	assert_int_equal(l.items[0].failures, 1);
	assert_string_equal(l.items[0].last_error, "disk full");
	dd_task_list_release(&l);
}

static bool always_stopping(void)
{
	return true;
}

/*
 * A store that keeps refusing, while the caller stops: the runner gives
 * up at once and the task stays claimed until its claim runs out, as
 * after a crash.
 */
static void test_run_one_store_failure_stopping_keeps_claim(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_task_options o;
	struct fake f = {0};
	struct dd_task_list l;
	bool ran = false;
	int rc;

	options(&o);
	o.stopping = always_stopping;
	schedule(e->store, KIND, obj1, dd_now());
	dd_store_fail_after(2, DD_ERR_STORE);
	rc = dd_task_run_one(e->store, fake_kinds, &o, &f, &ran, &err);
	dd_store_fail_after(-1, 0);
	assert_int_equal(rc, DD_ERR_STORE);
	assert_true(ran);
	assert_int_equal(f.calls, 1);
	tasks(e->store, &l);
	assert_int_equal(l.n, 1);
	assert_non_null(l.items[0].claimed_by);
	dd_task_list_release(&l);
}

/* ---- named locks ------------------------------------------------------ */

static void grant_init(struct dd_lock_grant *g, const char *name)
{
	memset(g, 0, sizeof(*g));
	snprintf(g->name, sizeof(g->name), "%s", name);
}

/*
 * A thread that runs task after task claims the next one in the same
 * transaction as the last one's finish: one commit between two tasks.
 */
static void test_run_chained_claims_next(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_task_options o;
	struct dd_task next = {0};
	struct dd_task_archive_list arch;
	struct dd_task_list l;
	struct dd_lock_grant g;
	struct fake f = {0};
	long long commits;
	bool ran = false;

	options(&o);
	schedule(e->store, KIND, obj1, dd_now());
	schedule(e->store, KIND, obj2, dd_now());
	commits = dd_store_commit_count();
	assert_ok(dd_task_run_chained(e->store, fake_kinds, &o, &f, &next,
				      &ran, &err),
		  &err);
	assert_true(ran);
	assert_int_equal(f.calls, 1);
	/* the claim of the first, then its finish with the next's claim */
	assert_int_equal(dd_store_commit_count() - commits, 2);
	archive(e->store, &arch);
	assert_int_equal(arch.n, 1);
	assert_int_equal(arch.items[0].object.id, obj1.id);
	dd_task_archive_list_release(&arch);
	assert_true(next.id > 0);
	assert_int_equal(next.object.id, obj2.id);
	assert_string_equal(next.claimed_by, "fake-worker");
	/* the next task is claimed and holds its object's lock */
	tasks(e->store, &l);
	assert_int_equal(l.n, 1);
	assert_non_null(l.items[0].claimed_by);
	dd_task_list_release(&l);
	grant_init(&g, "lease:2");
	assert_int_equal(dd_store_lock_acquire(e->store, "other", dd_now(), 10,
					       &g, &err),
			 DD_ERR_BUSY);

	/* the next call runs it without claiming; nothing is left */
	assert_ok(dd_task_run_chained(e->store, fake_kinds, &o, &f, &next,
				      &ran, &err),
		  &err);
	assert_true(ran);
	assert_int_equal(f.calls, 2);
	assert_int_equal(next.id, 0);
	assert_int_equal(task_count(e->store), 0);
	archive(e->store, &arch);
	assert_int_equal(arch.n, 2);
	dd_task_archive_list_release(&arch);
	assert_ok(dd_task_run_chained(e->store, fake_kinds, &o, &f, &next,
				      &ran, &err),
		  &err);
	assert_false(ran);
}

/*
 * A handler that ends its task in its own last transaction: the state
 * change, the finish and the next claim are one commit, and the runner
 * does not end the task again.
 */
static void test_handler_ends_task_within(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_task_options o;
	struct dd_task next = {0};
	struct dd_task_archive_list arch;
	struct fake f = {0};
	long long commits, bumps = 0;
	bool ran = false;

	options(&o);
	f.end_within = e->store;
	schedule(e->store, KIND, obj1, dd_now());
	schedule(e->store, KIND, obj2, dd_now());
	commits = dd_store_commit_count();
	assert_ok(dd_task_run_chained(e->store, fake_kinds, &o, &f, &next,
				      &ran, &err),
		  &err);
	assert_true(ran);
	/* the claim, then the handler's one transaction */
	assert_int_equal(dd_store_commit_count() - commits, 2);
	assert_ok(dd_store_counter_get(e->store, "handler", &bumps, &err),
		  &err);
	assert_int_equal(bumps, 1);
	archive(e->store, &arch);
	assert_int_equal(arch.n, 1);
	assert_int_equal(arch.items[0].object.id, obj1.id);
	assert_string_equal(arch.items[0].outcome, "done");
	dd_task_archive_list_release(&arch);
	assert_int_equal(next.object.id, obj2.id);
	assert_string_equal(next.claimed_by, "fake-worker");
	/* and without a chain (dd_task_run_one) it only ends its own */
	f.end_within = NULL;
	assert_ok(dd_task_run_chained(e->store, fake_kinds, &o, &f, &next,
				      &ran, &err),
		  &err);
	assert_int_equal(task_count(e->store), 0);
	schedule(e->store, KIND, obj1, dd_now());
	f.end_within = e->store;
	run_one(e, &o, &f, true);
	assert_int_equal(task_count(e->store), 0);
	archive(e->store, &arch);
	assert_int_equal(arch.n, 3);
	dd_task_archive_list_release(&arch);
}

/*
 * A handler whose last transaction (with the task's end) rolls back: the
 * end did not happen, the runner retries the task as a failure, and the
 * claim made inside is not kept.
 */
static void test_handler_end_within_rolled_back(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_task_options o;
	struct dd_task next = {0};
	struct dd_task_archive_list arch;
	struct dd_task_list l;
	struct fake f = {0};
	long long bumps = 0;
	bool ran = false;

	options(&o);
	f.end_within = e->store;
	f.rollback = true;
	schedule(e->store, KIND, obj1, dd_now());
	assert_ok(dd_task_run_chained(e->store, fake_kinds, &o, &f, &next,
				      &ran, &err),
		  &err);
	assert_true(ran);
	assert_int_equal(dd_store_counter_get(e->store, "handler", &bumps,
					      &err),
			 0);
	assert_int_equal(bumps, 0);
	archive(e->store, &arch);
	assert_int_equal(arch.n, 0);
	dd_task_archive_list_release(&arch);
	assert_int_equal(next.id, 0);
	tasks(e->store, &l);
	assert_int_equal(l.n, 1);
	assert_null(l.items[0].claimed_by);
	assert_int_equal(l.items[0].failures, 1);
	dd_task_list_release(&l);
}

/* A claim that fails does not cost the finish before it. */
static void test_run_chained_claim_failure_keeps_finish(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_task_options o;
	struct dd_task next = {0};
	struct dd_task_archive_list arch;
	struct fake f = {0};
	bool ran = false;

	options(&o);
	schedule(e->store, KIND, obj1, dd_now());
	schedule(e->store, KIND, obj2, dd_now());
	/* claim (wrapper, begin), then begin, finish, and the next claim */
	dd_store_fail_after(4, DD_ERR_STORE);
	assert_ok(dd_task_run_chained(e->store, fake_kinds, &o, &f, &next,
				      &ran, &err),
		  &err);
	dd_store_fail_after(-1, 0);
	assert_true(ran);
	assert_int_equal(next.id, 0);
	archive(e->store, &arch);
	assert_int_equal(arch.n, 1);
	assert_int_equal(arch.items[0].object.id, obj1.id);
	dd_task_archive_list_release(&arch);
	assert_int_equal(queued_for(e->store, KIND, obj2), 1);
}

/* A claimed task that will not run goes back to the queue, unlocked. */
static void test_hand_back(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_task_options o;
	struct dd_task next = {0}, t;
	struct fake f = {0};
	bool ran = false;

	options(&o);
	schedule(e->store, KIND, obj1, dd_now());
	schedule(e->store, KIND, obj2, dd_now());
	assert_ok(dd_task_run_chained(e->store, fake_kinds, &o, &f, &next,
				      &ran, &err),
		  &err);
	assert_int_equal(next.object.id, obj2.id);
	assert_ok(dd_task_hand_back(e->store, &next, &err), &err);
	assert_int_equal(next.id, 0);
	assert_int_equal(queued_for(e->store, KIND, obj2), 1);
	/* due now, its lock dropped: another worker takes it at once */
	claim(e->store, "other", dd_now(), 10, &t);
	assert_int_equal(t.object.id, obj2.id);
	assert_int_equal(t.failures, 0);
	dd_task_release(&t);
	/* handing back nothing does nothing */
	assert_ok(dd_task_hand_back(e->store, &next, &err), &err);
	assert_int_equal(f.calls, 1);
}



static void test_lock_acquire_busy_expire(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lock_grant a, b, c, other;

	grant_init(&a, "lease:1");
	assert_ok(dd_store_lock_acquire(e->store, "wa", T0, 10, &a, &err),
		  &err);
	assert_true(a.token > 0);

	grant_init(&b, "lease:1");
	assert_int_equal(dd_store_lock_acquire(e->store, "wb", T0, 10, &b,
					       &err),
			 DD_ERR_BUSY);
	assert_non_null(strstr(err.msg, "lease:1"));
	assert_int_equal(dd_store_lock_acquire(e->store, "wb", T0 + 9.9, 10,
					       &b, &err),
			 DD_ERR_BUSY);
	/* the holder itself cannot take it twice either */
	assert_int_equal(dd_store_lock_acquire(e->store, "wa", T0 + 1, 10, &b,
					       &err),
			 DD_ERR_BUSY);

	/* other names are independent */
	grant_init(&other, "lease:2");
	assert_ok(dd_store_lock_acquire(e->store, "wb", T0, 10, &other, &err),
		  &err);

	/* past expiry it is taken over with a larger token */
	assert_ok(dd_store_lock_acquire(e->store, "wb", T0 + 10.1, 10, &b,
					&err),
		  &err);
	assert_true(b.token > a.token);
	assert_true(b.token > other.token);

	/* released, it is free at once, and the token still grows */
	assert_ok(dd_store_lock_release(e->store, &b, &err), &err);
	grant_init(&c, "lease:1");
	assert_ok(dd_store_lock_acquire(e->store, "wc", T0 + 10.2, 10, &c,
					&err),
		  &err);
	assert_true(c.token > b.token);
}

static void test_lock_tokens_always_grow(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	long long last = 0;

	for (int i = 0; i < 20; i++) {
		struct dd_lock_grant g;

		grant_init(&g, "resource:9");
		assert_ok(dd_store_lock_acquire(e->store, "w", T0 + i * 100, 1,
						&g, &err),
			  &err);
		assert_true(g.token > last);
		last = g.token;
		/* half of them released, half left to expire */
		if (i % 2)
			assert_ok(dd_store_lock_release(e->store, &g, &err),
				  &err);
	}
}

static void test_fence_check(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lock_grant old, cur, wrong;
	double now = dd_now();

	/* a grant that expired a minute ago */
	grant_init(&old, "lease:5");
	assert_ok(dd_store_lock_acquire(e->store, "stalled", now - 120, 60,
					&old, &err),
		  &err);
	assert_int_equal(dd_store_begin_fenced(e->store, &old, &err),
			 DD_ERR_FENCED);
	assert_int_equal(err.code, DD_ERR_FENCED);
	assert_non_null(strstr(err.msg, "lease:5"));
	/* a refused fence leaves no transaction open */
	assert_int_equal(e->store->depth, 0);

	/* another worker takes it over */
	grant_init(&cur, "lease:5");
	assert_ok(dd_store_lock_acquire(e->store, "fresh", now, 60, &cur,
					&err),
		  &err);
	assert_int_equal(dd_store_begin_fenced(e->store, &old, &err),
			 DD_ERR_FENCED);
	assert_int_equal(e->store->depth, 0);

	/* the current grant may write */
	assert_ok(dd_store_begin_fenced(e->store, &cur, &err), &err);
	assert_ok(dd_store_log(e->store, 0, 0, 5, "test.fenced-write", NULL,
			       &err),
		  &err);
	assert_ok(dd_store_commit(e->store, &err), &err);

	/* a grant for another name with the same token is not current */
	wrong = cur;
	snprintf(wrong.name, sizeof(wrong.name), "lease:6");
	assert_int_equal(dd_store_begin_fenced(e->store, &wrong, &err),
			 DD_ERR_FENCED);

	/* no grant: a plain transaction */
	assert_ok(dd_store_begin_fenced(e->store, NULL, &err), &err);
	assert_ok(dd_store_commit(e->store, &err), &err);

	/* after release, the released grant is fenced off too */
	assert_ok(dd_store_lock_release(e->store, &cur, &err), &err);
	assert_int_equal(dd_store_begin_fenced(e->store, &cur, &err),
			 DD_ERR_FENCED);
}

static void test_fenced_nested_marks_outer_failed(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lock_grant old;
	struct dd_filter f = {0};
	struct dd_log_entry_list l = {0};

	grant_init(&old, "lease:5");
	assert_ok(dd_store_lock_acquire(e->store, "x", dd_now() - 100, 1,
					&old, &err),
		  &err);
	assert_ok(dd_store_begin(e->store, &err), &err);
	assert_ok(dd_store_log(e->store, 0, 0, 5, "test.outer", NULL, &err),
		  &err);
	assert_int_equal(dd_store_begin_fenced(e->store, &old, &err),
			 DD_ERR_FENCED);
	/* the outer level is still open, and its commit must fail */
	assert_int_equal(e->store->depth, 1);
	assert_int_equal(dd_store_commit(e->store, &err), DD_ERR_STORE);
	assert_ok(dd_store_log_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 0);
	dd_log_entry_list_release(&l);
}

static void test_stale_release_keeps_new_holder(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lock_grant old, cur, third;
	double now = dd_now();

	grant_init(&old, "lease:8");
	assert_ok(dd_store_lock_acquire(e->store, "a", now - 100, 1, &old,
					&err),
		  &err);
	grant_init(&cur, "lease:8");
	assert_ok(dd_store_lock_acquire(e->store, "b", now, 60, &cur, &err),
		  &err);
	/* the stalled worker wakes and releases "its" lock: a no-op */
	assert_ok(dd_store_lock_release(e->store, &old, &err), &err);
	grant_init(&third, "lease:8");
	assert_int_equal(dd_store_lock_acquire(e->store, "c", now, 60, &third,
					       &err),
			 DD_ERR_BUSY);
	assert_ok(dd_store_begin_fenced(e->store, &cur, &err), &err);
	assert_ok(dd_store_commit(e->store, &err), &err);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_schedule_dedupes),
		T(test_claim_takes_due_tasks_only),
		T(test_claim_skips_locked_object_of_every_kind),
		T(test_schedule_while_claimed_queues_one_more),
		T(test_expired_claim_is_taken_over),
		T(test_stale_retry_does_not_touch_queued_task),
		T(test_finish_archives),
		T(test_retry_requeues),
		T(test_retry_merges_with_queued),
		T(test_task_list_filters),
		T(test_schedule_update_kinds),
		cmocka_unit_test(test_backoff_bounds),
		cmocka_unit_test(test_backoff_has_jitter),
		cmocka_unit_test(test_default_options),
		T(test_run_one_empty_queue),
		T(test_run_one_done),
		T(test_run_one_again_with_retry_at),
		T(test_run_one_again_without_retry_at),
		T(test_run_one_busy),
		T(test_run_one_failure_backoff),
		T(test_yield_keeps_last_error),
		T(test_run_one_gives_up_after_max_failures),
		T(test_run_one_keep_trying),
		T(test_run_one_failed_archive_counts_every_failure),
		T(test_run_one_done_after_failures_keeps_count),
		T(test_run_one_fenced_handler),
		T(test_run_one_store_failure_retries_end),
		T(test_run_one_store_failure_stopping_keeps_claim),
		T(test_handler_ends_task_within),
		T(test_handler_end_within_rolled_back),
		T(test_run_chained_claims_next),
		T(test_run_chained_claim_failure_keeps_finish),
		T(test_hand_back),
		T(test_lock_acquire_busy_expire),
		T(test_lock_tokens_always_grow),
		T(test_fence_check),
		T(test_fenced_nested_marks_outer_failed),
		T(test_stale_release_keeps_new_holder),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
