/*
 * worker.c - what every update pass shares, and the task kinds table.
 */
#include "worker/internal.h"
#include "core/util.h"
#include "queue/wake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double env_seconds(const char *name, double def)
{
	const char *v = getenv(name);
	double d;

	if (!v || !*v)
		return def;
	d = strtod(v, NULL);
	return d > 0 ? d : def;
}

int dd_worker_init(struct dd_worker *w, const char *store_path,
		   const char *name, struct dd_error *err)
{
	int rc;
	struct dd_store_options opt;
	const char *state_dir;

	memset(w, 0, sizeof(*w));
	rc = dd_machine(w->machine, err);
	if (rc)
		return rc;
	dd_store_options_from_env(&opt);
	/* DRYDOCK_GROUP_COMMIT=0 turns it off, to measure what it brings */
	opt.group_commit = !getenv("DRYDOCK_GROUP_COMMIT") ||
			   strcmp(getenv("DRYDOCK_GROUP_COMMIT"), "0");
	opt.plan_once = true;
	opt.machine = w->machine;
	rc = dd_store_open_ready(store_path, &opt, &w->store, err);
	if (rc)
		return rc;
	w->store_path = dd_strdup(store_path);
	if (!w->store_path) {
		dd_store_close(w->store);
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	}
	/* made 0700 where missing, as init does */
	state_dir = dd_store_state_dir(w->store, err);
	if (!state_dir || dd_mkdir_p(state_dir)) {
		rc = state_dir ? dd_error_set(err, DD_ERR_IO,
					      "cannot create the state "
					      "directory '%s'",
					      state_dir)
			       : DD_ERR_INVALID;
		dd_worker_release(w);
		return rc;
	}
	snprintf(w->state_dir, sizeof(w->state_dir), "%s", state_dir);
	snprintf(w->name, sizeof(w->name), "%s", name);
	dd_task_options_default(&w->topt);
	w->topt.worker = w->name;
	w->topt.machine = w->machine;
	/* a claim holds its object's lock: one lifetime for both */
	w->topt.claim_ttl = env_seconds("DRYDOCK_CLAIM_TTL", 60);
	w->lock_ttl = w->topt.claim_ttl;
	return 0;
}

void dd_worker_release(struct dd_worker *w)
{
	/* a task claimed but not run goes back to the queue, due now */
	dd_task_hand_back(w->store, &w->next, NULL);
	dd_keeper_free(w->keeper);
	dd_store_close(w->store);
	dd_free(w->store_path);
	memset(w, 0, sizeof(*w));
}

/*
 * A pass that ended on a lazy commit tells nobody until it is durable:
 * whoever is woken may act on what it reads.  Returns `rc`, or the sync's
 * failure.
 */
static int settle(struct dd_worker *w, int rc, struct dd_error *err)
{
	if (w->unsynced) {
		int src = dd_store_sync(w->store, rc ? NULL : err);

		w->unsynced = false;
		if (!rc)
			rc = src;
	}
	return rc;
}

int dd_worker_cancel_fd(const struct dd_worker *w)
{
	return w->keeper ? dd_keeper_cancel_fd(w->keeper) : -1;
}

/*
 * Have the keeper renew what the pass holds (a task's claim with its
 * object's lock, or a lock taken directly) until keep_end().
 */
static int keep(struct dd_worker *w, const struct dd_task *t,
		const struct dd_lock_grant *g, double expires,
		struct dd_error *err)
{
	if (!w->keeper) {
		int rc = dd_keeper_new(w->store_path, w->lock_ttl, &w->keeper,
				       err);

		if (rc)
			return rc;
	}
	dd_keeper_arm(w->keeper, t, g, expires);
	return 0;
}

static void keep_end(struct dd_worker *w)
{
	dd_keeper_disarm(w->keeper);
}

/* Take the lease's lock, run its pass, drop the lock. */
int dd_lease_update(struct dd_worker *w, long long id, double *retry_at,
		    struct dd_error *err)
{
	struct dd_lock_grant g;
	double now;
	int rc;

	w->ended = false;
	dd_task_lock_name((struct dd_ref){DD_OBJ_LEASE, id}, &g);
	now = dd_now();
	rc = dd_store_lock_acquire(w->store, w->name, now, w->lock_ttl, &g,
				   err);
	if (rc)
		return rc;
	rc = keep(w, NULL, &g, now + w->lock_ttl, err);
	if (!rc) {
		rc = dd_lease_update_locked(w, &g, id, retry_at, err);
		keep_end(w);
	}
	rc = settle(w, rc, err);
	dd_worker_unlock(w, &g);
	return rc;
}

/* Take the target's lock, run its pass, drop the lock. */
int dd_target_update(struct dd_worker *w, long long id, struct dd_error *err)
{
	struct dd_lock_grant g;
	double retry_at = 0, now;
	int rc;

	w->ended = false;
	dd_task_lock_name((struct dd_ref){DD_OBJ_TARGET, id}, &g);
	now = dd_now();
	rc = dd_store_lock_acquire(w->store, w->name, now, w->lock_ttl, &g,
				   err);
	if (rc)
		return rc;
	rc = keep(w, NULL, &g, now + w->lock_ttl, err);
	if (!rc) {
		rc = dd_target_update_locked(w, &g, id, &retry_at, err);
		keep_end(w);
	}
	rc = settle(w, rc, err);
	dd_worker_unlock(w, &g);
	return rc;
}

/* Each object kind's update pass, run under the lock its task took. */
typedef int update_pass_fn(struct dd_worker *w, const struct dd_lock_grant *g,
			   long long id, double *retry_at,
			   struct dd_error *err);

static const struct {
	enum dd_obj_kind object;
	update_pass_fn *pass;
} passes[] = {
	{DD_OBJ_LEASE, dd_lease_update_locked},
	{DD_OBJ_RESOURCE, dd_resource_update_locked},
	{DD_OBJ_TARGET, dd_target_update_locked},
	{DD_OBJ_BLUEPRINT, dd_blueprint_update_locked},
};

/* Every task kind: the update pass of the task's object, under its lock. */
static int run_update(void *arg, struct dd_task_run *run, double *retry_at,
		      struct dd_error *err)
{
	struct dd_worker *w = arg;
	const struct dd_task *t = run->task;
	int rc = dd_error_set(err, DD_ERR_INVALID,
			      "a task for a %s, which has no update pass",
			      dd_obj_kind_name(t->object.kind));

	w->object = t->object;
	w->run = run;
	w->ended = false;
	for (size_t i = 0; i < sizeof(passes) / sizeof(passes[0]); i++) {
		if (passes[i].object != t->object.kind)
			continue;
		rc = keep(w, t, NULL, t->claim_expires, err);
		if (rc)
			break;
		rc = passes[i].pass(w, &t->lock, t->object.id, retry_at, err);
		keep_end(w);
	}
	w->run = NULL;
	return rc;
}

static const struct dd_task_kind kinds[] = {
	{DD_TASK_LEASE_UPDATE, run_update},
	{DD_TASK_RESOURCE_UPDATE, run_update},
	{DD_TASK_TARGET_UPDATE, run_update},
	{DD_TASK_BLUEPRINT_UPDATE, run_update},
	{NULL, NULL},
};

/* Wake whoever watches `object` (or, without one, every watcher). */
static void tell_watchers(const char *store_path, struct dd_ref object)
{
	if (object.kind != DD_OBJ_NONE) {
		struct dd_lock_grant name;

		dd_task_lock_name(object, &name);
		dd_wake_notify_about(store_path, name.name);
	} else {
		dd_wake_notify(store_path, DD_WAKE_WATCHER);
	}
}

/* What a pass that ended on a lazy commit tells once it is durable. */
struct news {
	char *store_path;
	struct dd_ref object;
};

static void tell_when_durable(void *arg, int rc, const struct dd_error *err)
{
	struct news *n = arg;

	/*
	 * After a failed sync the store refuses every later commit, which
	 * the worker reports; the change may be lost, so nobody is told.
	 */
	(void)err;
	if (!rc)
		tell_watchers(n->store_path, n->object);
	dd_free(n->store_path);
	dd_free(n);
}

int dd_worker_run_one(struct dd_worker *w, bool *ran, struct dd_error *err)
{
	struct news *n;
	int rc;

	w->changed = w->scheduled = w->unsynced = w->ended = false;
	w->object.kind = DD_OBJ_NONE;
	rc = dd_task_run_chained(w->store, kinds, &w->topt, w, &w->next, ran,
				 err);
	/*
	 * Wake-ups go out after the commits they announce, never before, so
	 * a woken thread always finds the change.  The daemon's own threads
	 * may act on a commit not yet durable: whatever they write, the WAL
	 * orders after it.
	 */
	if (w->scheduled)
		dd_wake_notify_on(w->store, DD_WAKE_DAEMON);
	if (!w->changed)
		return settle(w, rc, err);
	/*
	 * Watchers act outside drydock on what they read, so they hear of
	 * a change only once it is durable.  A pass that ended on a lazy
	 * commit leaves that wait to the store (dd_store_sync_then()) and
	 * the worker goes on to its next task at once.
	 */
	n = w->unsynced && !rc ? dd_calloc(1, sizeof(*n)) : NULL;
	if (n && (n->store_path = dd_strdup(w->store_path))) {
		n->object = w->object;
		w->unsynced = false;
		dd_store_sync_then(w->store, tell_when_durable, n);
		return rc;
	}
	dd_free(n);
	rc = settle(w, rc, err);
	tell_watchers(w->store_path, w->object);
	return rc;
}

bool dd_worker_found_nothing(const struct dd_worker *w)
{
	return !w->next.id && w->next.looked;
}

int dd_worker_next_due(struct dd_worker *w, double *out, struct dd_error *err)
{
	if (w->next.next_due >= 0) {
		*out = w->next.next_due;
		return 0;
	}
	return dd_store_task_next_due(w->store, w->machine, out, err);
}

int dd_worker_drain(struct dd_worker *w, int max_tasks, struct dd_error *err)
{
	bool ran = true;
	int rc = 0;

	for (int i = 0; ran && i < max_tasks && !rc; i++)
		rc = dd_worker_run_one(w, &ran, err);
	/* stopped with the next task claimed: give it back, unrun */
	if (w->next.id) {
		int hrc = dd_task_hand_back(w->store, &w->next, err);

		if (!rc)
			rc = hrc;
	}
	return rc;
}

/*
 * A pass that gives up on a busy store must run its hooks again on the
 * next try, so while it still holds the object's lock it keeps trying to
 * start its transaction (each try already waits the store's busy
 * timeout).  The fence stops it once the lock is no longer its own.
 */
int dd_pass_begin(struct dd_worker *w, const struct dd_lock_grant *g,
		  struct dd_error *err)
{
	double give_up = dd_monotonic() + w->lock_ttl / 2;
	int rc;

	while ((rc = dd_store_begin_fenced(w->store, g, err)) == DD_ERR_BUSY &&
	       dd_monotonic() < give_up)
		dd_sleep(0.02 * (0.5 + dd_random()));
	return rc;
}

/* What `o` is, for its log entries: (blueprint, resource, lease). */
static void obj_ids(struct dd_pass_obj o, long long *blueprint,
		    long long *resource, long long *lease)
{
	*blueprint = o.resource ? o.resource->blueprint : 0;
	*resource = o.resource ? o.resource->id : o.lease->resource;
	*lease = o.lease ? o.lease->id : 0;
}

static struct dd_progress *obj_progress(struct dd_pass_obj o)
{
	return o.lease ? &o.lease->progress : &o.resource->progress;
}

/* Save `o` (inside the caller's transaction). */
static int obj_save(struct dd_worker *w, struct dd_pass_obj o,
		    struct dd_error *err)
{
	return o.lease ? dd_store_lease_update(w->store, o.lease, err)
		       : dd_store_resource_update(w->store, o.resource, err);
}

/*
 * Log the failure `rc` of a hook as `type` on the objects named, saving
 * `o` first when given, in a transaction of its own (best effort).
 */
static void log_failure(struct dd_worker *w, const struct dd_lock_grant *g,
			const struct dd_pass_obj *o, long long blueprint,
			long long resource, long long lease, const char *type,
			int rc, const struct dd_error *err)
{
	if (dd_pass_begin(w, g, NULL))
		return;
	if ((o && obj_save(w, *o, NULL)) ||
	    dd_store_log(w->store, blueprint, resource, lease, type,
			 json_pack("{s:s}", "reason",
				   err && err->msg[0] ? err->msg
						      : dd_strerror(rc)),
			 NULL))
		dd_store_rollback(w->store);
	else
		dd_pass_commit(w, NULL);
}

int dd_pass_hook_failed(struct dd_worker *w, const struct dd_lock_grant *g,
			long long blueprint, long long resource, long long lease,
			const char *type, int rc, struct dd_error *err)
{
	if (rc == DD_ERR_AGAIN || rc == DD_ERR_BUSY || rc == DD_ERR_FENCED)
		return rc;
	log_failure(w, g, NULL, blueprint, resource, lease, type, rc, err);
	return rc;
}

int dd_pass_teardown_failed(struct dd_worker *w, const struct dd_lock_grant *g,
			    struct dd_pass_obj o, const char *type, int rc,
			    struct dd_error *err)
{
	long long bp, resource, lease;

	if (rc == DD_ERR_BUSY || rc == DD_ERR_FENCED)
		return rc;
	if (w->run)
		w->run->keep_trying = true;
	dd_pass_progress_clear(obj_progress(o));
	obj_ids(o, &bp, &resource, &lease);
	log_failure(w, g, &o, bp, resource, lease, type, rc, err);
	return rc;
}

void dd_worker_unlock(struct dd_worker *w, const struct dd_lock_grant *g)
{
	for (int i = 0; i < 20; i++) {
		if (dd_store_lock_release(w->store, g, NULL) != DD_ERR_BUSY)
			return;
		dd_sleep(0.02 * (0.5 + dd_random()));
	}
}

int dd_pass_commit_lazy(struct dd_worker *w, struct dd_error *err)
{
	int rc = dd_store_commit_lazy(w->store, err);

	if (!rc)
		w->changed = w->unsynced = true;
	return rc;
}

int dd_pass_commit(struct dd_worker *w, struct dd_error *err)
{
	int rc = dd_store_commit(w->store, err);

	if (!rc) {
		w->changed = true;
		w->unsynced = false;
	}
	return rc;
}

int dd_pass_commit_final(struct dd_worker *w, struct dd_error *err)
{
	int rc = 0;

	if (w->run)
		rc = dd_task_end_within(w->store, w->run, err);
	if (rc) {
		dd_store_rollback(w->store);
		return rc;
	}
	/* the pass ends here: whoever is told waits for the disk, not it */
	rc = dd_pass_commit_lazy(w, err);
	if (w->run)
		dd_task_end_committed(w->run, rc == 0);
	if (!rc) {
		w->run = NULL;
		w->ended = true;
	}
	return rc;
}

int dd_pass_schedule(struct dd_worker *w, struct dd_ref obj, double when,
		     struct dd_error *err)
{
	int rc = dd_task_schedule_update(w->store, obj, when, err);

	if (!rc)
		w->scheduled = true;
	return rc;
}

void dd_pass_bind_machine(const struct dd_worker *w,
			  const struct dd_bp_handle *h, struct dd_resource *r)
{
	if (dd_bp_machine_bound(h->type, &h->ctx, r))
		memcpy(r->machine, w->machine, sizeof(r->machine));
	else
		r->machine[0] = 0;
}

bool dd_pass_elsewhere(const struct dd_worker *w, const struct dd_resource *r)
{
	return r->machine[0] && strcmp(r->machine, w->machine);
}

int dd_pass_hand_off(struct dd_worker *w, const struct dd_lock_grant *g,
		     struct dd_ref obj, struct dd_error *err)
{
	int rc = dd_pass_begin(w, g, err);

	if (!rc)
		rc = dd_pass_schedule(w, obj, 0, err);
	if (rc) {
		dd_store_rollback(w->store);
		return rc;
	}
	return dd_pass_commit(w, err);
}

int dd_pass_wake_waiting(struct dd_worker *w, const char *type,
			 struct dd_error *err)
{
	int woken = 0;
	int rc = dd_task_wake_waiting(w->store, type, 0, &woken, err);

	if (woken)
		w->scheduled = true;
	return rc;
}

void dd_pass_progress_ctx(struct dd_bp_ctx *ctx, struct dd_ref obj,
			  const struct dd_progress *p, enum dd_bp_hook hook,
			  struct dd_bp_resume *resume)
{
	ctx->object = obj;
	ctx->started = !strcmp(p->hook, dd_bp_hook_name(hook)) ? p->since
							       : dd_now();
	ctx->resume = resume;
}

/*
 * Record in `p` that `hook` answered "in progress" as ctx->resume says,
 * and set *retry_at to when to call it again (dd_pass_in_progress()).
 * True for an operation that was not in progress before.
 */
static bool progress_note(const struct dd_worker *w, struct dd_progress *p,
			  enum dd_bp_hook hook, const struct dd_bp_ctx *ctx,
			  double *retry_at)
{
	const struct dd_bp_resume *resume = ctx->resume;
	const char *name = dd_bp_hook_name(hook);
	bool fresh = strcmp(p->hook, name) != 0;
	double now = dd_now(), at = resume->deadline;

	if (fresh) {
		snprintf(p->hook, sizeof(p->hook), "%s", name);
		p->since = ctx->started;
	}
	p->resume_on[0] = 0;
	if (resume->on.kind != DD_OBJ_NONE) {
		snprintf(p->resume_on, sizeof(p->resume_on), "%s:%lld",
			 dd_obj_kind_name(resume->on.kind), resume->on.id);
	} else if (resume->at <= 0) {
		/*
		 * A hook that named nothing: back off, waiting as long as
		 * it has been in progress, within the task queue's bounds.
		 */
		double wait = now - p->since;

		if (wait < w->topt.backoff_base)
			wait = w->topt.backoff_base;
		if (wait > w->topt.backoff_max)
			wait = w->topt.backoff_max;
		if (now + wait < at)
			at = now + wait;
	}
	if (resume->at > 0 && resume->at < at)
		at = resume->at;
	*retry_at = at;
	return fresh;
}

int dd_pass_in_progress(struct dd_worker *w, const struct dd_lock_grant *g,
			struct dd_pass_obj o, enum dd_bp_hook hook,
			const struct dd_bp_ctx *ctx, double *retry_at,
			struct dd_error *err)
{
	struct dd_progress *p = obj_progress(o);
	struct dd_progress before = *p;
	long long bp, resource, lease;
	double at = 0;
	bool fresh = progress_note(w, p, hook, ctx, &at);
	int rc = dd_pass_begin(w, g, err);

	if (rc) {
		*p = before;
		return rc;
	}
	obj_ids(o, &bp, &resource, &lease);
	rc = obj_save(w, o, err);
	if (!rc && fresh)
		rc = dd_store_log(w->store, bp, resource, lease,
				  o.lease ? "lease.in-progress"
					  : "resource.in-progress",
				  json_pack("{s:s, s:s?}", "hook", p->hook,
					    "resume_on",
					    p->resume_on[0] ? p->resume_on
							    : NULL),
				  err);
	if (rc) {
		dd_store_rollback(w->store);
		*p = before;
		return rc;
	}
	rc = dd_pass_commit(w, err);
	if (!rc)
		*retry_at = at;
	return rc;
}

void dd_pass_progress_clear(struct dd_progress *p)
{
	memset(p, 0, sizeof(*p));
}

/* dd_pass_tell_resumers()'s visitors: queue the waiter's update. */
static int resume_lease(void *arg, struct dd_lease *l, struct dd_error *err)
{
	return dd_pass_schedule(arg, (struct dd_ref){DD_OBJ_LEASE, l->id}, 0,
				err);
}

static int resume_resource(void *arg, struct dd_resource *r,
			   struct dd_error *err)
{
	return dd_pass_schedule(arg, (struct dd_ref){DD_OBJ_RESOURCE, r->id},
				0, err);
}

int dd_pass_tell_resumers(struct dd_worker *w, struct dd_ref obj,
			  const char *owner, struct dd_error *err)
{
	struct dd_lease_list leases = {0};
	struct dd_resource_list resources = {0};
	struct dd_filter f = {0};
	struct dd_lock_grant name;
	struct dd_ref o = {DD_OBJ_NONE, 0};
	int rc;

	dd_task_lock_name(obj, &name);
	f.resume_on = name.name;
	/* collected first: a visitor may not use the store while it walks */
	rc = dd_store_lease_list(w->store, &f, &leases, err);
	if (!rc)
		rc = dd_store_resource_list(w->store, &f, &resources, err);
	for (size_t i = 0; !rc && i < leases.n; i++)
		rc = resume_lease(w, &leases.items[i], err);
	for (size_t i = 0; !rc && i < resources.n; i++)
		rc = resume_resource(w, &resources.items[i], err);
	dd_lease_list_release(&leases);
	dd_resource_list_release(&resources);
	if (!rc && owner && dd_ref_parse(owner, &o) == 0 &&
	    (o.kind == DD_OBJ_LEASE || o.kind == DD_OBJ_RESOURCE))
		rc = dd_pass_schedule(w, o, 0, err);
	return rc;
}

int dd_pass_release_owned(struct dd_worker *w, struct dd_ref owner,
			  struct dd_error *err)
{
	struct dd_lease_list l = {0};
	struct dd_filter f = {0};
	char name[64];
	int rc;

	snprintf(name, sizeof(name), "%s:%lld", dd_obj_kind_name(owner.kind),
		 owner.id);
	f.owner = name;
	f.status_mask = (1u << DD_LEASE_PENDING) | (1u << DD_LEASE_ACQUIRED) |
			(1u << DD_LEASE_ACTIVE);
	rc = dd_store_lease_list(w->store, &f, &l, err);
	for (size_t i = 0; !rc && i < l.n; i++) {
		struct dd_command c = {0};

		c.target = (struct dd_ref){DD_OBJ_LEASE, l.items[i].id};
		c.kind = (char *)dd_command_kind_name(DD_CMD_RELEASE);
		c.author = name;
		rc = dd_store_command_insert(w->store, &c, err);
		if (!rc)
			rc = dd_pass_schedule(w, c.target, 0, err);
	}
	dd_lease_list_release(&l);
	return rc;
}

int dd_pass_blueprint(struct dd_worker *w, long long id,
		      struct dd_bp_handle *h, struct dd_error *err)
{
	int rc = dd_bp_handle_load(h, w->store, w->state_dir, id, err);

	if (!rc)
		h->ctx.cancel_fd = dd_worker_cancel_fd(w);
	return rc;
}
