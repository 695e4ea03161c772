/*
 * task.h - running the durable task queue.
 *
 * A task says "run the update worker of this object".  dd_task_run_one()
 * claims the next due task (with a claim that expires, so a dead worker's
 * task is taken again), runs its handler and records the result:
 *
 *   0             done: the task is archived with its duration;
 *   DD_ERR_AGAIN  a yield: retried at *retry_at, not counted as a failure;
 *   DD_ERR_BUSY   the object's lock is busy: also a yield, retried soon;
 *   DD_ERR_FENCED the object's lock was lost mid-pass: its writes were
 *                 refused, and the task is handed back to run again soon;
 *   other         a failure: retried with exponential backoff and jitter,
 *                 and archived as failed, reason kept, after max_failures,
 *                 unless the handler set run->keep_trying: then retried
 *                 for as long as it fails, at most backoff_max apart.
 */
#ifndef DD_TASK_H
#define DD_TASK_H

#include <stdbool.h>

#include "core/model.h"
#include "store/store.h"

#define DD_TASK_LEASE_UPDATE "lease.update"
#define DD_TASK_RESOURCE_UPDATE "resource.update"
#define DD_TASK_TARGET_UPDATE "target.update"
#define DD_TASK_BLUEPRINT_UPDATE "blueprint.update"

struct dd_task_options {
	const char *worker;	 /* claimant name, e.g. "host:pid:thread" */
	/*
	 * The claimant's machine (core/machine.h): it takes no task that
	 * must run on another machine; NULL takes only tasks that touch no
	 * machine's resources (store.h, task_claim).
	 */
	const char *machine;
	double claim_ttl;	 /* seconds a claim lasts */
	double busy_retry;	 /* seconds before retrying a busy lock */
	double backoff_base;	 /* first failure waits about this long */
	double backoff_max;	 /* and no failure waits longer */
	int max_failures;	 /* then the task fails for good */
	/*
	 * Called, when set, for every failed run: `retry_in` seconds until
	 * the next try, 0 when the run's writes were fenced off, or a
	 * negative value when the task failed for good.
	 */
	void (*report)(const struct dd_task *t, const char *error,
		       double retry_in);
	/*
	 * Called, when set, once a task is claimed and before it runs, if
	 * its claim saw another task due (struct dd_task's `more`): the
	 * daemon's pool wakes another idle thread for it.
	 */
	void (*claimed)(void);
	/*
	 * Polled, when set, while the runner waits to try again to write a
	 * task's end that the store refused: true makes it give up (the
	 * daemon's pool is stopping), leaving the task claimed.
	 */
	bool (*stopping)(void);
};

void dd_task_options_default(struct dd_task_options *o);

/*
 * One run of a task, as its handler sees it.  Only `task` is for the
 * handler to read; the rest belongs to the runner.
 */
struct dd_task_run {
	const struct dd_task *task;
	const struct dd_task_options *opt;
	double started;		/* dd_monotonic() */
	struct dd_task *next;	/* where a chained claim goes, or NULL */
	struct dd_task claimed; /* claimed in the handler's transaction */
	bool ending;		/* dd_task_end_within() wrote the end */
	bool ended;		/* and the handler's commit made it so */
	/*
	 * Set by the handler before it fails: this failure must never be
	 * given up on (something outside drydock still exists and only
	 * this task will tear it down), so max_failures does not apply.
	 */
	bool keep_trying;
};

/*
 * A handler runs one task.  It may set *retry_at when it returns
 * DD_ERR_AGAIN.  `arg` is the runner's context (the worker).
 */
typedef int dd_task_handler_fn(void *arg, struct dd_task_run *run,
			       double *retry_at, struct dd_error *err);

/*
 * A handler whose last write transaction is its last word may end its
 * task in that transaction, instead of the runner ending it in one of its
 * own: inside the handler's open transaction, dd_task_end_within() ends
 * the task as done and, for a chained runner, claims the next due task.
 * Right after committing (or failing to), the handler calls
 * dd_task_end_committed() with the outcome: the task is then ended, and
 * the handler must write nothing more under its claim; or, on failure,
 * nothing happened and the runner ends the task as usual.  A store error
 * in the claim fails the handler's whole transaction (transactions nest
 * flat), so the pass is retried; finding nothing to claim is no error.
 */
int dd_task_end_within(struct dd_store *s, struct dd_task_run *run,
		       struct dd_error *err);
void dd_task_end_committed(struct dd_task_run *run, bool ok);

struct dd_task_kind {
	const char *name;
	dd_task_handler_fn *run;
};

/*
 * Claim and run one due task.  Sets *ran to whether a task was found.
 * Returns 0 unless the store failed.  A store that fails to take the
 * task's end (a full disk) is tried again, in naps from 50 ms doubling to
 * 1 s, until it takes it, the claim turns out to be someone else's, the
 * claim expires or opt->stopping() says so: so the task goes on at the
 * time its outcome asked for once the store works again, not when its
 * claim runs out.  Only if the runner gives up does the task stay
 * claimed until its claim expires, and is then taken again.
 */
int dd_task_run_one(struct dd_store *s, const struct dd_task_kind *kinds,
		    const struct dd_task_options *o, void *arg, bool *ran,
		    struct dd_error *err);

/*
 * The same for a thread that runs task after task: the task's finish or
 * retry also claims the next due task, in the same transaction, into
 * `*next` (left zeroed when none is due), and the next call runs that one
 * instead of claiming: one transaction between two tasks instead of two.
 * A task left in `*next` is claimed and holds its object's lock; a caller
 * that stops must hand it back with dd_task_hand_back().  When there was
 * no task to run (*ran false), next->next_due is what the claim said of
 * the next one (struct dd_task); so it is too when the chained claim found
 * none (next->looked): the caller may then sleep without a look of its
 * own.
 */
int dd_task_run_chained(struct dd_store *s, const struct dd_task_kind *kinds,
			const struct dd_task_options *o, void *arg,
			struct dd_task *next, bool *ran, struct dd_error *err);

/*
 * Hand a claimed task that has not run back to the queue, due now, and
 * release `*t`.  Does nothing for a zeroed `*t`.
 */
int dd_task_hand_back(struct dd_store *s, struct dd_task *t,
		      struct dd_error *err);

/* The backoff before retry number `failures` (1-based), with jitter. */
double dd_task_backoff(const struct dd_task_options *o, int failures);

/*
 * Capacity for leases of `type` may have been freed (inside the caller's
 * transaction): bump the "capacity" counter and queue the updates of the
 * oldest `limit` (0: all) leases waiting for capacity.  A lease waiting
 * behind an older one that asks for the same is not among them: it gets
 * its turn when that one stops waiting.  Sets *woken to how many.
 */
int dd_task_wake_waiting(struct dd_store *s, const char *type, size_t limit,
			 int *woken, struct dd_error *err);

/* Queue the update worker of `object` to run at `when` (0: now). */
int dd_task_schedule_update(struct dd_store *s, struct dd_ref object,
			    double when, struct dd_error *err);

#endif
