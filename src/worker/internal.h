/*
 * internal.h - what the update passes share; not for use outside worker/.
 */
#ifndef DD_WORKER_INTERNAL_H
#define DD_WORKER_INTERNAL_H

#include "blueprint/blueprint.h"
#include "blueprint/prewarm.h"
#include "core/command.h"
#include "worker/worker.h"

/*
 * Drop an object's lock.  A store too busy to take the release is retried
 * for a while; failing that, the grant simply expires.
 */
void dd_worker_unlock(struct dd_worker *w, const struct dd_lock_grant *g);

/* The update passes, run under a lock the caller already holds. */
int dd_lease_update_locked(struct dd_worker *w, const struct dd_lock_grant *g,
			   long long id, double *retry_at,
			   struct dd_error *err);
int dd_resource_update_locked(struct dd_worker *w,
			      const struct dd_lock_grant *g, long long id,
			      double *retry_at, struct dd_error *err);

int dd_target_update_locked(struct dd_worker *w,
			    const struct dd_lock_grant *g, long long id,
			    double *retry_at, struct dd_error *err);
/* A blueprint's maintenance: its pool of pre-warmed resources. */
int dd_blueprint_update_locked(struct dd_worker *w,
			       const struct dd_lock_grant *g, long long id,
			       double *retry_at, struct dd_error *err);

/* Start a write transaction fenced by `g`, waiting out a busy store. */
int dd_pass_begin(struct dd_worker *w, const struct dd_lock_grant *g,
		  struct dd_error *err);
/*
 * A hook failed with `rc`, its message in *err, and the pass fails with
 * it (its task retried with backoff): the failure goes on the log of the
 * objects named as `type` with its reason, in a transaction of its own
 * (best effort), so its owner sees why.  Returns rc.  A yield, a busy
 * lock or a lost fence is no failure: those are returned untouched.
 */
int dd_pass_hook_failed(struct dd_worker *w, const struct dd_lock_grant *g,
			long long blueprint, long long resource, long long lease,
			const char *type, int rc, struct dd_error *err);
/*
 * The lease or resource a pass works on, for what is done alike to both
 * (an operation in progress, a teardown hook's failure): `lease` when it
 * is a lease, with its resource (NULL when it has none loaded) for the
 * log; else `resource`.  The object saved is the lease if there is one.
 */
struct dd_pass_obj {
	struct dd_lease *lease;
	struct dd_resource *resource;
};

/*
 * A teardown hook (destroy_resource, release_lease, destroy_lease)
 * failed with `rc`, its message in *err: what it was to remove may still
 * exist outside drydock, and only this object's update will ever remove
 * it, so its task is retried for as long as it fails, with backoff, never
 * given up (run->keep_trying).  The failure goes on the object's log as
 * `type` with its reason, and the object is saved with its operation no
 * longer in progress (what the hook put in its attributes kept), so the
 * next try is a new operation with a deadline of its own; in a
 * transaction of its own, best effort.  Returns rc.  A busy lock or a
 * lost fence is no failure: those are returned untouched.
 */
int dd_pass_teardown_failed(struct dd_worker *w, const struct dd_lock_grant *g,
			    struct dd_pass_obj o, const char *type, int rc,
			    struct dd_error *err);
/*
 * Commit and note that watchers should be woken.  dd_pass_commit() returns
 * once the commit is durable.  dd_pass_commit_lazy() returns once it is
 * committed and visible; the pass's next durable commit covers it.  A
 * pass commits lazily only what a power cut may take back without harm,
 * because losing it merely replays part of the pass: acquiring a lease
 * (it is acquired again; its activation left nothing outside the
 * resource) and consuming a release (the command is pending again, and
 * the idempotent release hooks run again, as after any crash).  What must
 * not leak (a resource about to be built) is committed durably before the
 * hook that builds it, and a pass that ends on a lazy commit tells its
 * watchers only once it is durable (dd_worker_run_one).  A lazy commit is
 * visible at once, like any commit before its sync: a reader (the API,
 * the event log line) may see it before it is durable, as it may see a
 * durable commit a moment before its sync ends.
 */
int dd_pass_commit(struct dd_worker *w, struct dd_error *err);
int dd_pass_commit_lazy(struct dd_worker *w, struct dd_error *err);
/*
 * Commit the last transaction of a pass, ending its task in it
 * (dd_task_end_within): the state change, the task's end and the claim
 * of the thread's next task commit together, or none does.  Once it
 * succeeds (w->ended) the pass writes nothing more.  The commit is lazy:
 * the thread goes on to its next task, which the WAL orders after it,
 * and the watchers are told only once it is durable
 * (dd_worker_run_one(), dd_store_sync_then()).  Outside a task
 * (dd_lease_update() and friends) the caller syncs before telling.
 */
int dd_pass_commit_final(struct dd_worker *w, struct dd_error *err);

/*
 * A resource `h`'s allocate hook proposed, about to be inserted: if its
 * type says it exists only on the machine that builds it, record this
 * worker's machine in r->machine (whose daemons alone then run its
 * hooks and its leases').
 */
void dd_pass_bind_machine(const struct dd_worker *w,
			  const struct dd_bp_handle *h, struct dd_resource *r);
/*
 * Does `r` live on another machine than this worker's?  Then its hooks,
 * and those of leases on it, are not this worker's to run: see
 * dd_pass_hand_off().
 */
bool dd_pass_elsewhere(const struct dd_worker *w, const struct dd_resource *r);
/*
 * The pass of `obj` would run hooks of resource `r`, which lives on
 * another machine (dd_pass_elsewhere()): queue the object's update again,
 * due now, in a fenced transaction, for a daemon on that machine to
 * claim (the task claim routes it there), and run nothing of it here.
 */
int dd_pass_hand_off(struct dd_worker *w, const struct dd_lock_grant *g,
		     struct dd_ref obj, struct dd_error *err);

/* Queue an object's update (inside the caller's transaction). */
int dd_pass_schedule(struct dd_worker *w, struct dd_ref obj, double when,
		     struct dd_error *err);
/*
 * Capacity for leases of `type` may have been freed: queue the updates of
 * the leases waiting for capacity, one per distinct request (those waiting
 * behind an equal request follow their queue's head; see allocator.c).
 */
int dd_pass_wake_waiting(struct dd_worker *w, const char *type,
			 struct dd_error *err);

/*
 * The claim keeper (keeper.c): a thread with a store handle of its own
 * that renews what the worker holds, every third of `ttl`, from arm to
 * disarm: a task's claim and its object's lock (arm with the task), or
 * a lock taken directly (arm with the grant and no task).  `expires` is
 * when what is held runs out now.  If a renewal fails (the grant is gone,
 * or the store refuses until it runs out), the cancel descriptor turns
 * readable until the next arm.
 */
struct dd_keeper;
int dd_keeper_new(const char *store_path, double ttl, struct dd_keeper **out,
		  struct dd_error *err);
void dd_keeper_free(struct dd_keeper *k);
void dd_keeper_arm(struct dd_keeper *k, const struct dd_task *t,
		   const struct dd_lock_grant *g, double expires);
void dd_keeper_disarm(struct dd_keeper *k);
int dd_keeper_cancel_fd(const struct dd_keeper *k);

/* The hooks' cancel_fd: the keeper's, or -1 before it started. */
int dd_worker_cancel_fd(const struct dd_worker *w);

/*
 * `e` happened to a resource of blueprint `bp` (it was acquired,
 * activated, freed by its last lease or destroyed): if the blueprint is
 * pooled and its settings make `e` matter (dd_prewarm_wants()), queue
 * its maintenance pass (inside the caller's transaction).  Nothing for a
 * blueprint without pool settings, so leases on other blueprints pay
 * nothing.
 */
int dd_pass_pool_event(struct dd_worker *w, const struct dd_blueprint *bp,
		       enum dd_prewarm_event e, struct dd_error *err);

/*
 * Load blueprint `id` for a pass's hooks (dd_bp_handle_load()), their
 * cancel descriptor the worker's.
 */
int dd_pass_blueprint(struct dd_worker *w, long long id,
		      struct dd_bp_handle *h, struct dd_error *err);

/*
 * Operations in progress.  Before calling operation hook `hook` on
 * object `obj`, whose progress is `p`, dd_pass_progress_ctx() tells the
 * hook's context which object it works on, when the operation began
 * (now, unless `p` is this hook's) and where to answer "in progress".
 * When the hook answered DD_ERR_AGAIN, dd_pass_in_progress() records the
 * answer in the object's progress and saves the object, attributes and
 * all, with a log entry when the operation was not in progress before
 * ("lease.in-progress", "resource.in-progress"), in one fenced
 * transaction, and sets *retry_at: the time the hook asked for, or its
 * deadline, whichever comes first; an object to wait for schedules the
 * pass sooner when it changes (dd_pass_tell_resumers()).  A hook that
 * named neither is called again after as long as its operation has been
 * in progress, at least topt.backoff_base and at most topt.backoff_max
 * seconds (1, 1, 2, 4, 8, ... up to 300 by default): a backoff, not a
 * poll, never past the deadline.  Any other answer ends the operation:
 * dd_pass_progress_clear().  Activate hooks and teardown hooks
 * (release_lease, destroy_lease, destroy_resource) alike.
 */
void dd_pass_progress_ctx(struct dd_bp_ctx *ctx, struct dd_ref obj,
			  const struct dd_progress *p, enum dd_bp_hook hook,
			  struct dd_bp_resume *resume);
int dd_pass_in_progress(struct dd_worker *w, const struct dd_lock_grant *g,
			struct dd_pass_obj o, enum dd_bp_hook hook,
			const struct dd_bp_ctx *ctx, double *retry_at,
			struct dd_error *err);
void dd_pass_progress_clear(struct dd_progress *p);

/*
 * Object `obj` changed status (inside the caller's transaction): queue
 * the update of every lease and resource waiting for it to change (its
 * hook answered "in progress" naming it), and that of its owner when
 * `owner` names a lease or resource ("resource:5": a lease requested by
 * a hook, see blueprint/services.h).
 */
int dd_pass_tell_resumers(struct dd_worker *w, struct dd_ref obj,
			  const char *owner, struct dd_error *err);

/*
 * `owner` goes away (inside the caller's transaction, the one that
 * destroys it): send "release" to every lease it still owns that is
 * pending, acquired or active (leases a hook asked for, services.h).
 */
int dd_pass_release_owned(struct dd_worker *w, struct dd_ref owner,
			  struct dd_error *err);

/* Lease `l` changed status: dd_pass_tell_resumers() for it. */
int dd_lease_changed(struct dd_worker *w, const struct dd_lease *l,
		     struct dd_error *err);

/* The allocator: move a pending lease towards acquired, or wait. */
int dd_allocate(struct dd_worker *w, const struct dd_lock_grant *g,
		struct dd_lease *lease, double *retry_at,
		struct dd_error *err);

/*
 * A lease breaks once this many resources have failed under its
 * activation (lease_update.c: the activate_lease hook answered
 * DD_ERR_REMOTE); until then the allocator places it on none of them
 * again.
 */
#define DD_RESOURCE_FAILURES 3

/* The resources that failed under a lease, oldest first. */
struct dd_resource_failures {
	long long id[DD_RESOURCE_FAILURES];
	size_t n; /* how many failed (ids beyond the array are not kept) */
};

/* Read them from the lease's "lease.resource-failure" log entries. */
int dd_lease_resource_failures(struct dd_worker *w, const struct dd_lease *l,
			       struct dd_resource_failures *out,
			       struct dd_error *err);

/*
 * `l` stops waiting, or never will (it acquired, started building a
 * resource, or goes away): queue the update of the oldest waiting lease
 * newer than `l` that asks for the same, so that a lease queued behind
 * it gets its turn (inside the caller's transaction).
 */
int dd_lease_hand_on(struct dd_worker *w, const struct dd_lease *l,
		     struct dd_error *err);

/*
 * One command being applied by its object's update worker, inside a
 * transaction the worker opened (dd_pass_begin) and that also consumes
 * the command with `outcome`.
 */
struct dd_apply {
	struct dd_worker *w;
	const struct dd_lock_grant *g;
	const struct dd_command *c;
	union { /* the command's target, loaded; the table's row says which */
		struct dd_lease *lease;
		struct dd_resource *resource;
		struct dd_target *target;
	};
	char outcome[160]; /* "done", or "ignored: REASON" */
};

/*
 * Apply a->c to its object, whose status is `status`, through the command
 * table (worker/command.c): a kind the object does not take, or no longer
 * takes in this status, only sets a->outcome to "ignored: REASON";
 * otherwise the row's apply function writes its change.  Either way the
 * caller then consumes the command in the same transaction.  The apply
 * function may change the loaded object; if the transaction then fails,
 * the caller puts it back as it was.
 */
int dd_command_apply(struct dd_apply *a, int status, struct dd_error *err);

/* The table's apply functions, one per row. */
int dd_lease_apply_release(struct dd_apply *a, struct dd_error *err);
int dd_lease_apply_extend(struct dd_apply *a, struct dd_error *err);
int dd_resource_apply_release(struct dd_apply *a, struct dd_error *err);
int dd_resource_apply_reclaim(struct dd_apply *a, struct dd_error *err);
int dd_resource_apply_drain(struct dd_apply *a, struct dd_error *err);
int dd_target_apply_finish(struct dd_apply *a, struct dd_error *err);

/* Break a lease with `reason` (it is destroyed on the same pass). */
int dd_lease_break(struct dd_worker *w, const struct dd_lock_grant *g,
		   struct dd_lease *lease, const char *log_type,
		   const char *reason, struct dd_error *err);

#endif
