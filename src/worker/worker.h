/*
 * worker.h - the update workers: the only writers of leases, resources and
 * build targets.
 *
 * A worker runs tasks from the queue.  Each task names one object; the
 * worker takes that object's named lock ("lease:12"), consumes the object's
 * commands in order, and then moves it along its state machine
 * (allocation, activation, release, destruction), writing every change in
 * a transaction fenced by the lock grant.  Requesters, the CLI, expiry and
 * cascades never write these rows; they append commands (api/api.h).
 *
 * A struct dd_worker belongs to one thread and owns its store handle.
 */
#ifndef DD_WORKER_H
#define DD_WORKER_H

#include <limits.h>
#include <stdbool.h>

#include "queue/task.h"
#include "store/store.h"

struct dd_worker {
	struct dd_store *store;
	char *store_path;
	char state_dir[PATH_MAX];
	char name[96];
	/* the machine it runs on: it runs the hooks of resources there only */
	char machine[DD_MACHINE_MAX + 1];
	double lock_ttl;
	struct dd_task_options topt;
	bool changed;	/* a pass committed a change: wake watchers */
	bool unsynced;	/* its last commit was lazy: durable before telling */
	struct dd_ref object; /* the object of the task being run */
	bool scheduled; /* a pass queued tasks: wake daemons */
	/*
	 * The task claimed in the same transaction as the last one's end, to
	 * run next (id 0: none); dd_worker_drain() and dd_worker_release()
	 * hand it back.
	 */
	struct dd_task next;
	/*
	 * The task run now (NULL outside a task, or once ended), and whether
	 * the pass made its last commit (dd_pass_commit_final), ending the
	 * task in it if there is one.
	 */
	struct dd_task_run *run;
	bool ended;
	/*
	 * Renews the claim (or lock) of the task run now while the pass
	 * works, and gives the hooks their cancel_fd (worker/keeper.c);
	 * started with the first task.
	 */
	struct dd_keeper *keeper;
};

/* Open the store at `store_path` for this worker. */
int dd_worker_init(struct dd_worker *w, const char *store_path,
		   const char *name, struct dd_error *err);
void dd_worker_release(struct dd_worker *w);

/*
 * Run one due task, the one claimed with the previous task's end if there
 * is one; *ran says whether there was one.
 */
int dd_worker_run_one(struct dd_worker *w, bool *ran, struct dd_error *err);

/*
 * After a dd_worker_run_one() that ran a task: did the claim chained to
 * that task's end find nothing due?  Then the thread may go to sleep as
 * if it had run none, without another look.
 */
bool dd_worker_found_nothing(const struct dd_worker *w);
/*
 * When the next task falls due for this worker (0: none), after a
 * dd_worker_run_one() that ran none (or found nothing after it): as its
 * claim saw it, or asked.
 */
int dd_worker_next_due(struct dd_worker *w, double *out,
		       struct dd_error *err);

/* Run every task that is due now, until none is; for tests and tools. */
int dd_worker_drain(struct dd_worker *w, int max_tasks, struct dd_error *err);

/*
 * A lease's update pass, for tests and tools: it takes the lease's lock
 * itself (DD_ERR_BUSY when another worker holds it) and drops it after.
 * The task handlers run the same pass under the lock their task claim
 * took.
 */
int dd_lease_update(struct dd_worker *w, long long id, double *retry_at,
		    struct dd_error *err);
/* The same for a build target's update pass. */
int dd_target_update(struct dd_worker *w, long long id, struct dd_error *err);

#endif
