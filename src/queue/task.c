/*
 * task.c - the durable task queue (task.h): scheduling an object's update,
 * waking the leases that wait for capacity, backoff, and running a task:
 * claim, handler, then finish, retry or hand back, chained to the claim of
 * the next task where it can be.
 */
#include "queue/task.h"
#include "core/metrics.h"
#include "core/util.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void dd_task_options_default(struct dd_task_options *o)
{
	o->worker = "worker";
	o->machine = NULL;
	o->claim_ttl = 60;
	o->busy_retry = 0.02;
	o->backoff_base = 1;
	o->backoff_max = 300;
	o->max_failures = 8;
	o->report = NULL;
	o->claimed = NULL;
	o->stopping = NULL;
}

double dd_task_backoff(const struct dd_task_options *o, int failures)
{
	double d = o->backoff_base;

	for (int i = 1; i < failures && d < o->backoff_max; i++)
		d *= 2;
	if (d > o->backoff_max)
		d = o->backoff_max;
	/* full jitter in [d/2, d): spreads retries of a common failure */
	return d * (0.5 + dd_random() / 2);
}

int dd_task_schedule_update(struct dd_store *s, struct dd_ref object,
			    double when, struct dd_error *err)
{
	const char *kind = object.kind == DD_OBJ_LEASE	? DD_TASK_LEASE_UPDATE
			   : object.kind == DD_OBJ_TARGET ? DD_TASK_TARGET_UPDATE
			   : object.kind == DD_OBJ_BLUEPRINT
				   ? DD_TASK_BLUEPRINT_UPDATE
				   : DD_TASK_RESOURCE_UPDATE;

	return dd_store_task_schedule(s, kind, object, when > 0 ? when : dd_now(),
				      err);
}

int dd_task_wake_waiting(struct dd_store *s, const char *type, size_t limit,
			 int *woken, struct dd_error *err)
{
	struct dd_filter f = {0};
	struct dd_lease_list l = {0};
	int rc;

	*woken = 0;
	rc = dd_store_counter_bump(s, "capacity", err);
	/*
	 * Only a pending lease is marked waiting.  No status filter: with
	 * one, SQLite reads every pending lease of the type (lease_by_status)
	 * instead of only the waiting ones (lease_waiting), and a backlog of
	 * N leases made each capacity event cost O(N).
	 */
	f.type = type;
	f.waiting_only = true;
	f.limit = limit;
	if (!rc)
		rc = dd_store_lease_list(s, &f, &l, err);
	for (size_t i = 0; !rc && i < l.n; i++) {
		rc = dd_task_schedule_update(
			s, (struct dd_ref){DD_OBJ_LEASE, l.items[i].id}, 0, err);
		if (!rc)
			(*woken)++;
	}
	dd_lease_list_release(&l);
	return rc;
}

static const struct dd_task_kind *find_kind(const struct dd_task_kind *kinds,
					    const char *name)
{
	for (; kinds->name; kinds++)
		if (!strcmp(kinds->name, name))
			return kinds;
	return NULL;
}

/* How a run ends: archived (finish) or handed back (retry). */
struct task_end {
	bool finish;
	const char *outcome;  /* finish: "done" or "failed" */
	double duration;      /* finish */
	double not_before;    /* retry */
	int failures;	      /* retry */
	const char *error;
};

static int end_one(struct dd_store *s, const struct dd_task *t,
		   const struct task_end *e, struct dd_error *err)
{
	if (e->finish)
		return dd_store_task_finish(s, t, e->outcome, e->duration,
					    dd_now(), e->error, err);
	return dd_store_task_retry(s, t, e->not_before, e->failures, e->error,
				   err);
}

/*
 * End `t` and, with `next`, claim the next due task in the same (lazy)
 * transaction.  If the claim fails, the task is ended on its own as
 * before, so a claim's error never costs a finish.
 */
static int end_task(struct dd_store *s, const struct dd_task_options *o,
		    const struct dd_task *t, const struct task_end *e,
		    struct dd_task *next, struct dd_error *err)
{
	struct dd_error cerr = DD_ERROR_INIT;
	int rc;

	if (!next)
		return end_one(s, t, e, err);
	rc = dd_store_begin(s, err);
	if (rc)
		return rc;
	rc = end_one(s, t, e, err);
	if (rc) {
		dd_store_rollback(s);
		return rc;
	}
	rc = dd_store_task_claim(s, o->worker, o->machine, dd_now(),
				 o->claim_ttl, next, &cerr);
	if (rc && rc != DD_ERR_NOTFOUND) {
		dd_store_rollback(s);
		return end_one(s, t, e, err);
	}
	next->looked = rc == DD_ERR_NOTFOUND;
	rc = dd_store_commit_lazy(s, err);
	if (rc)
		dd_task_release(next);
	return rc;
}

/*
 * end_task(), tried again while the store refuses it.  A run whose end
 * the store did not take (a full disk, an I/O error: often the very
 * failure the run itself met) leaves its task claimed and its object
 * locked, and nobody else takes them before the claim expires
 * (DRYDOCK_CLAIM_TTL, 60 s by default), however soon the store works
 * again and whatever backoff the failure asked for.  So the runner keeps
 * trying, in jittered naps from 50 ms doubling to 1 s.  It stops when
 * the end is written; when the claim turns out to be gone (fenced: the
 * task expired and somebody else took it, whose run stands); when the
 * claim expires, since then anybody may take the task; or when the
 * caller stops.  It never runs the task again: only a new claim does,
 * so the pass still never runs twice at once.  A retry does not chain
 * a claim: the next run claims on its own.
 */
static int end_task_retrying(struct dd_store *s,
			     const struct dd_task_options *o,
			     const struct dd_task *t, const struct task_end *e,
			     struct dd_task *next, struct dd_error *err)
{
	double nap = 0.05;
	int rc = end_task(s, o, t, e, next, err);

	while (rc && rc != DD_ERR_FENCED && dd_now() + nap < t->claim_expires &&
	       !(o->stopping && o->stopping())) {
		dd_sleep(nap * (0.5 + dd_random()));
		nap = nap * 2 < 1 ? nap * 2 : 1;
		rc = end_task(s, o, t, e, NULL, err);
	}
	return rc;
}

int dd_task_end_within(struct dd_store *s, struct dd_task_run *run,
		       struct dd_error *err)
{
	struct dd_error cerr = DD_ERROR_INIT;
	int rc;

	assert(!run->ending && !run->ended);
	rc = dd_store_task_finish(s, run->task, "done",
				  dd_monotonic() - run->started, dd_now(),
				  NULL, err);
	if (rc)
		return rc;
	if (run->next) {
		rc = dd_store_task_claim(s, run->opt->worker,
					 run->opt->machine, dd_now(),
					 run->opt->claim_ttl, &run->claimed,
					 &cerr);
		if (rc == DD_ERR_NOTFOUND) {
			double due = run->claimed.next_due;

			memset(&run->claimed, 0, sizeof(run->claimed));
			run->claimed.next_due = due;
			run->claimed.looked = true;
		} else if (rc) {
			/* it spoilt the transaction: the handler's too */
			return dd_error_set(err, rc, "%s", cerr.msg);
		}
	}
	run->ending = true;
	return 0;
}

void dd_task_end_committed(struct dd_task_run *run, bool ok)
{
	if (!run->ending)
		return;
	run->ending = false;
	if (ok) {
		run->ended = true;
		if (run->next)
			*run->next = run->claimed;
	} else {
		dd_task_release(&run->claimed);
	}
	memset(&run->claimed, 0, sizeof(run->claimed));
}

int dd_task_hand_back(struct dd_store *s, struct dd_task *t,
		      struct dd_error *err)
{
	int rc = 0;

	if (t->id)
		rc = dd_store_task_retry(s, t, dd_now(), t->failures, NULL,
					 err);
	dd_task_release(t);
	return rc == DD_ERR_FENCED ? 0 : rc;
}

int dd_task_run_chained(struct dd_store *s, const struct dd_task_kind *kinds,
			const struct dd_task_options *o, void *arg,
			struct dd_task *next, bool *ran, struct dd_error *err)
{
	struct dd_task t = {0};
	struct dd_task_run run = {0};
	struct dd_error herr = DD_ERROR_INIT;
	struct task_end e = {0};
	const struct dd_task_kind *k;
	double start, retry_at = 0;
	int rc;

	*ran = false;
	if (next && next->id) {
		t = *next; /* claimed with the previous task's end */
		memset(next, 0, sizeof(*next));
	} else {
		if (next)
			memset(next, 0, sizeof(*next));
		rc = dd_store_task_claim(s, o->worker, o->machine, dd_now(),
					 o->claim_ttl, &t, err);
		if (rc == DD_ERR_NOTFOUND && next)
			next->next_due = t.next_due;
		if (rc == DD_ERR_NOTFOUND)
			return 0;
		if (rc)
			return rc;
	}
	*ran = true;
	dd_metric_inc(DD_METRIC_TASKS_RUN);
	if (o->claimed && t.more)
		o->claimed();
	start = dd_monotonic();
	k = find_kind(kinds, t.kind);
	if (!k) {
		e.finish = true;
		e.outcome = "failed";
		e.error = "unknown task kind";
		rc = end_task_retrying(s, o, &t, &e, next, err);
		dd_task_release(&t);
		return rc;
	}
	run.task = &t;
	run.opt = o;
	run.started = start;
	run.next = next;
	rc = k->run(arg, &run, &retry_at, &herr);
	assert(!run.ending); /* the handler reports its commit's outcome */
	if (run.ended) {
		/* ended in the handler's own last transaction */
		dd_metric_inc(DD_METRIC_TASKS_DONE);
		dd_task_release(&t);
		return 0;
	}
	switch (rc) {
	case 0:
		e.finish = true;
		e.outcome = "done";
		e.duration = dd_monotonic() - start;
		rc = end_task_retrying(s, o, &t, &e, next, err);
		if (!rc)
			dd_metric_inc(DD_METRIC_TASKS_DONE);
		break;
	case DD_ERR_AGAIN:
		dd_metric_inc(DD_METRIC_TASKS_YIELDED);
		if (retry_at <= 0)
			retry_at = dd_now() + 1;
		e.not_before = retry_at;
		e.failures = t.failures;
		rc = end_task_retrying(s, o, &t, &e, next, err);
		break;
	case DD_ERR_BUSY:
		dd_metric_inc(DD_METRIC_TASKS_YIELDED);
		e.not_before = dd_now() + o->busy_retry * (0.5 + dd_random());
		e.failures = t.failures;
		rc = end_task_retrying(s, o, &t, &e, next, err);
		break;
	case DD_ERR_FENCED:
		/*
		 * We lost the object's lock mid-pass (we stalled past its
		 * expiry): the new holder's writes stand, ours were refused.
		 * Hand the task back so the object is looked at again soon;
		 * if the claim is gone too, the retry is refused as well.
		 */
		dd_metric_inc(DD_METRIC_TASKS_FENCED);
		if (o->report)
			o->report(&t, herr.msg, 0);
		e.not_before = dd_now() + o->busy_retry;
		e.failures = t.failures;
		rc = end_task_retrying(s, o, &t, &e, next, err);
		break;
	default:
		if (!herr.msg[0])
			dd_error_set(&herr, rc, "%s", dd_strerror(rc));
		dd_metric_inc(DD_METRIC_TASKS_FAILED);
		if (t.failures + 1 >= o->max_failures && !run.keep_trying) {
			if (o->report)
				o->report(&t, herr.msg, -1);
			t.failures++; /* the archive counts this one too */
			e.finish = true;
			e.outcome = "failed";
			e.duration = dd_monotonic() - start;
			e.error = herr.msg;
			rc = end_task_retrying(s, o, &t, &e, next, err);
			if (!rc)
				dd_metric_inc(DD_METRIC_TASKS_FAILED_FOR_GOOD);
		} else {
			double delay = dd_task_backoff(o, t.failures + 1);

			if (o->report)
				o->report(&t, herr.msg, delay);
			e.not_before = dd_now() + delay;
			e.failures = t.failures + 1;
			e.error = herr.msg;
			rc = end_task_retrying(s, o, &t, &e, next, err);
		}
		break;
	}
	if (rc == DD_ERR_FENCED)
		rc = 0;
	dd_task_release(&t);
	return rc;
}

int dd_task_run_one(struct dd_store *s, const struct dd_task_kind *kinds,
		    const struct dd_task_options *o, void *arg, bool *ran,
		    struct dd_error *err)
{
	return dd_task_run_chained(s, kinds, o, arg, NULL, ran, err);
}
