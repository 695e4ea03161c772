/*
 * lease_update.c - the lease's update worker: its only writer once queued.
 *
 * One pass, under the lease's lock:
 *   1. expiry: a commandable lease past `until` gets a release command;
 *   2. commands, oldest first, each consumed exactly once in the same
 *      transaction as the change it makes, as the command table says
 *      (worker/command.c; "release" and "extend" are applied below).  A
 *      command the lease can no longer take is consumed as "ignored: ..."
 *      and never left pending;
 *   3. the state handler: pending -> allocate (allocator.c); acquired ->
 *      activate (or, when the resource failed under it, back to pending
 *      and its resource checked at once); active on a broken resource ->
 *      broken, with the resource's reason; released -> release and
 *      destroy hooks -> destroyed; broken -> destroy hook -> destroyed.
 * Release and destroy hooks run once per lease: only the lock holder runs
 * them, and the state change that follows is fenced by the lock grant.
 */
#include "worker/internal.h"
#include "core/util.h"

#include <stdio.h>
#include <string.h>

static json_t *str_data(const char *key, const char *value)
{
	return json_pack("{s:s}", key, value ? value : "");
}

/* Queue a live lease's expiry: a task due at `until`. */
static int schedule_expiry(struct dd_worker *w, const struct dd_lease *l,
			   struct dd_error *err)
{
	if (!dd_lease_status_live(l->status) || l->until <= 0)
		return 0;
	return dd_pass_schedule(w, (struct dd_ref){DD_OBJ_LEASE, l->id},
				l->until, err);
}

int dd_lease_changed(struct dd_worker *w, const struct dd_lease *l,
		     struct dd_error *err)
{
	return dd_pass_tell_resumers(w, (struct dd_ref){DD_OBJ_LEASE, l->id},
				     l->owner, err);
}

/*
 * Write the lease and a log entry in one fenced transaction, the pass's
 * last (dd_pass_commit_final): whatever it leads to, the pass ends here.
 */
static int save_final(struct dd_worker *w, const struct dd_lock_grant *g,
		      struct dd_lease *l, const char *log_type, json_t *data,
		      struct dd_error *err)
{
	int rc = dd_pass_begin(w, g, err);

	if (rc) {
		json_decref(data);
		return rc;
	}
	rc = dd_store_lease_update(w->store, l, err);
	if (!rc && log_type)
		rc = dd_store_log(w->store, 0, l->resource, l->id, log_type,
				  data, err);
	else
		json_decref(data);
	if (!rc)
		rc = dd_lease_changed(w, l, err);
	if (!rc)
		rc = schedule_expiry(w, l, err);
	if (rc) {
		dd_store_rollback(w->store);
		return rc;
	}
	return dd_pass_commit_final(w, err);
}

int dd_lease_break(struct dd_worker *w, const struct dd_lock_grant *g,
		   struct dd_lease *lease, const char *log_type,
		   const char *reason, struct dd_error *err)
{
	enum dd_lease_status old = lease->status;
	int rc;

	rc = dd_lease_transition(lease->id, &lease->status, DD_LEASE_BROKEN,
				 err);
	if (rc)
		return rc;
	lease->waiting = false;
	rc = dd_pass_begin(w, g, err);
	if (!rc && log_type)
		rc = dd_store_log(w->store, 0, lease->resource, lease->id,
				  log_type, str_data("reason", reason), err);
	if (!rc)
		rc = dd_store_lease_update(w->store, lease, err);
	if (!rc)
		rc = dd_store_log(w->store, 0, lease->resource, lease->id,
				  "lease.broken", str_data("reason", reason),
				  err);
	if (!rc)
		rc = dd_lease_changed(w, lease, err);
	if (rc) {
		dd_store_rollback(w->store);
		lease->status = old;
		return rc;
	}
	return dd_pass_commit(w, err);
}

int dd_lease_apply_release(struct dd_apply *a, struct dd_error *err)
{
	struct dd_lease *l = a->lease;
	int rc;

	rc = dd_lease_transition(l->id, &l->status, DD_LEASE_RELEASED, err);
	if (rc)
		return rc;
	l->waiting = false;
	rc = dd_store_lease_update(a->w->store, l, err);
	if (!rc)
		rc = dd_store_log(a->w->store, 0, l->resource, l->id,
				  "lease.released",
				  json_pack("{s:I, s:s?}", "command", a->c->id,
					    "author", a->c->author),
				  err);
	if (!rc)
		rc = dd_lease_changed(a->w, l, err);
	return rc;
}

int dd_lease_apply_extend(struct dd_apply *a, struct dd_error *err)
{
	struct dd_lease *l = a->lease;
	json_t *u = json_object_get(a->c->data, "until");
	double until = json_is_number(u) ? json_number_value(u) : 0;
	double old = l->until;
	json_t *data;
	int rc;

	/* accepted when it was in the future; it may have passed since */
	if (until <= dd_now()) {
		snprintf(a->outcome, sizeof(a->outcome),
			 "ignored: new expiry is in the past");
		return 0;
	}
	l->until = until;
	rc = dd_store_lease_update(a->w->store, l, err);
	if (!rc) {
		data = json_pack("{s:I}", "command", a->c->id);
		dd_json_set_time(data, "until", until);
		rc = dd_store_log(a->w->store, 0, l->resource, l->id,
				  "lease.extended", data, err);
	}
	if (!rc && until != old)
		rc = dd_pass_schedule(a->w,
				      (struct dd_ref){DD_OBJ_LEASE, l->id},
				      until, err);
	return rc;
}

/* Consume one command in the transaction that applies it. */
static int apply_command(struct dd_worker *w, const struct dd_lock_grant *g,
			 struct dd_lease *l, const struct dd_command *c,
			 struct dd_error *err)
{
	struct dd_apply a = {.w = w, .g = g, .c = c, .lease = l};
	struct dd_lease before = *l;
	int rc;

	rc = dd_pass_begin(w, g, err);
	if (rc)
		return rc;
	rc = dd_command_apply(&a, l->status, err);
	if (!rc)
		rc = dd_store_command_consume(w->store, c->id, a.outcome,
					      dd_now(), err);
	if (rc)
		dd_store_rollback(w->store);
	else
		rc = dd_pass_commit_lazy(w, err);
	if (rc)
		*l = before; /* the apply changed no owned member */
	return rc;
}

static int consume_commands(struct dd_worker *w,
			    const struct dd_lock_grant *g, struct dd_lease *l,
			    struct dd_error *err)
{
	struct dd_filter f = {0};
	struct dd_command_list cmds = {0};
	int rc = 0;

	if (dd_lease_status_commandable(l->status) && l->until > 0 &&
	    l->until <= dd_now()) {
		struct dd_command c = {0};

		c.target = (struct dd_ref){DD_OBJ_LEASE, l->id};
		c.kind = (char *)dd_command_kind_name(DD_CMD_RELEASE);
		c.author = "drydock:expiry";
		rc = dd_pass_begin(w, g, err);
		if (!rc)
			rc = dd_store_command_insert(w->store, &c, err);
		if (!rc)
			rc = dd_store_log(w->store, 0, l->resource, l->id,
					  "lease.expired", NULL, err);
		if (rc) {
			dd_store_rollback(w->store);
			return rc;
		}
		rc = dd_pass_commit(w, err);
		if (rc)
			return rc;
	}

	f.target = (struct dd_ref){DD_OBJ_LEASE, l->id};
	f.pending_only = true;
	rc = dd_store_command_list(w->store, &f, &cmds, err);
	for (size_t i = 0; !rc && i < cmds.n; i++) {
		DD_CHAOS_POINT("lease_command");
		rc = apply_command(w, g, l, &cmds.items[i], err);
	}
	dd_command_list_release(&cmds);
	return rc;
}

/*
 * Inside the caller's transaction, which took a lease off resource `rid`
 * (destroyed it, or sent it to be placed again): a resource going away
 * waits for its last lease, so a released or broken one is woken.  Its
 * row is held (resource_hold) until the transaction ends, so either we
 * see its release here, or the release waits for our commit and its
 * count of live leases, after that, sees this lease gone.  A plain read
 * would let both miss the other under PostgreSQL's READ COMMITTED, and
 * the resource would wait for ever.
 */
static int wake_resource_if_going(struct dd_worker *w, long long rid,
				  struct dd_error *err)
{
	struct dd_resource now = {0};
	int rc = dd_store_resource_hold(w->store, rid, &now, err);

	if (rc == DD_ERR_NOTFOUND)
		return 0;
	if (!rc && now.status != DD_RESOURCE_ACTIVE &&
	    now.status != DD_RESOURCE_DESTROYED)
		rc = dd_pass_schedule(w, (struct dd_ref){DD_OBJ_RESOURCE, rid},
				      0, err);
	dd_resource_release(&now);
	return rc;
}

/*
 * Back to pending, off the lease's resource, in one fenced transaction:
 * its slot locks dropped, `resource` and `acquired` cleared.  Either the
 * resource went away (`failed` NULL: logs lease.reacquire), or it failed
 * under the lease's activation (`failed`, the resource: logs
 * lease.resource-failure, about the lease and the resource, and queues
 * the resource's update now, whose check finds out whether it is dead).
 * The allocator then places the lease elsewhere: never again on a
 * resource it failed on (allocator.c).
 */
static int reacquire(struct dd_worker *w, const struct dd_lock_grant *g,
		     struct dd_lease *l, const struct dd_resource *failed,
		     const char *why, struct dd_error *err)
{
	long long old_resource = l->resource;
	double old_acquired = l->acquired;
	int rc;

	rc = dd_lease_transition(l->id, &l->status, DD_LEASE_PENDING, err);
	if (rc)
		return rc;
	l->resource = 0;
	l->acquired = 0;
	rc = dd_pass_begin(w, g, err);
	/*
	 * A resource going away may have waited for this lease to leave:
	 * first, so that its row's hold is taken before this transaction
	 * holds any other row.  A failed one is checked in any case.
	 */
	if (!rc && failed)
		rc = dd_pass_schedule(
			w, (struct dd_ref){DD_OBJ_RESOURCE, old_resource}, 0,
			err);
	else if (!rc && old_resource)
		rc = wake_resource_if_going(w, old_resource, err);
	if (!rc)
		rc = dd_store_slot_release(
			w->store, (struct dd_ref){DD_OBJ_LEASE, l->id}, err);
	if (!rc)
		rc = dd_store_lease_update(w->store, l, err);
	if (!rc)
		rc = dd_store_log(w->store, failed ? failed->blueprint : 0,
				  old_resource, l->id,
				  failed ? "lease.resource-failure"
					 : "lease.reacquire",
				  json_pack("{s:I, s:s}", "resource",
					    old_resource, "reason", why),
				  err);
	if (!rc)
		rc = dd_lease_changed(w, l, err);
	/* its slot is free for whoever waits */
	if (!rc)
		rc = dd_pass_wake_waiting(w, l->type, err);
	if (rc) {
		dd_store_rollback(w->store);
		l->status = DD_LEASE_ACQUIRED;
		l->resource = old_resource;
		l->acquired = old_acquired;
		return rc;
	}
	return dd_pass_commit(w, err);
}

/*
 * The resource failed under the lease's activation (the hook answered
 * DD_ERR_REMOTE, blueprint.h): the lease goes back to be placed
 * elsewhere, unless DD_RESOURCE_FAILURES resources have now failed under
 * it, when it breaks saying so, instead of going from host to host for
 * ever.
 */
static int resource_failed(struct dd_worker *w, const struct dd_lock_grant *g,
			   struct dd_lease *l, const struct dd_resource *r,
			   const char *why, struct dd_error *err)
{
	struct dd_resource_failures before = {0};
	char msg[700];
	int rc = dd_lease_resource_failures(w, l, &before, err);

	if (rc)
		return rc;
	if (before.n + 1 < DD_RESOURCE_FAILURES)
		return reacquire(w, g, l, r, why, err);
	/* its resource is checked all the same */
	rc = dd_pass_begin(w, g, err);
	if (rc)
		return rc;
	rc = dd_pass_schedule(w, (struct dd_ref){DD_OBJ_RESOURCE, r->id}, 0,
			      err);
	if (rc) {
		dd_store_rollback(w->store);
		return rc;
	}
	rc = dd_pass_commit(w, err);
	snprintf(msg, sizeof(msg),
		 "%zu resources failed under it; the last, resource %lld: %s",
		 before.n + 1, r->id, why);
	return rc ? rc : dd_lease_break(w, g, l, NULL, msg, err);
}

static int activate(struct dd_worker *w, const struct dd_lock_grant *g,
		    struct dd_lease *l, double *retry_at,
		    struct dd_error *err)
{
	struct dd_resource r = {0};
	struct dd_bp_handle h;
	struct dd_bp_resume resume;
	struct dd_error herr = DD_ERROR_INIT;
	int rc;

	rc = dd_store_resource_get(w->store, l->resource, &r, err);
	if (rc == DD_ERR_NOTFOUND)
		return reacquire(w, g, l, NULL, "resource is gone", err);
	if (rc)
		return rc;
	if (r.status != DD_RESOURCE_ACTIVE) {
		char why[64];

		snprintf(why, sizeof(why), "resource is %s",
			 dd_resource_status_name(r.status));
		dd_resource_release(&r);
		return reacquire(w, g, l, NULL, why, err);
	}
	/* placed here on another machine's resource: activated there */
	if (dd_pass_elsewhere(w, &r)) {
		dd_resource_release(&r);
		return dd_pass_hand_off(
			w, g, (struct dd_ref){DD_OBJ_LEASE, l->id}, err);
	}
	rc = dd_pass_blueprint(w, r.blueprint, &h, err);
	if (rc) {
		dd_resource_release(&r);
		return rc;
	}
	dd_pass_progress_ctx(&h.ctx, (struct dd_ref){DD_OBJ_LEASE, l->id},
			     &l->progress, DD_BP_HOOK_ACTIVATE_LEASE, &resume);
	rc = dd_bp_activate_lease(h.type, &h.ctx, &r, l, &herr);
	if (rc != DD_ERR_AGAIN)
		dd_pass_progress_clear(&l->progress);
	if (rc == DD_ERR_AGAIN) {
		rc = dd_pass_in_progress(w, g,
					 (struct dd_pass_obj){l, &r},
					 DD_BP_HOOK_ACTIVATE_LEASE, &h.ctx,
					 retry_at, err);
	} else if (rc == DD_ERR_REMOTE) {
		rc = resource_failed(w, g, l, &r, herr.msg, err);
	} else if (rc) {
		rc = dd_lease_break(w, g, l, "lease.activation-failure",
				    herr.msg, err);
	} else {
		rc = dd_lease_transition(l->id, &l->status, DD_LEASE_ACTIVE,
					 err);
		if (!rc) {
			l->activated = dd_now();
			rc = save_final(w, g, l, "lease.activated",
					json_pack("{s:I}", "resource", r.id),
					err);
		}
	}
	dd_bp_handle_release(&h);
	dd_resource_release(&r);
	return rc;
}

/*
 * An active lease whose resource broke (its host stopped answering) breaks
 * too, saying why the resource did: the resource's newest
 * "resource.broken" entry.
 */
static int follow_resource(struct dd_worker *w, const struct dd_lock_grant *g,
			   struct dd_lease *l, struct dd_error *err)
{
	struct dd_resource r = {0};
	struct dd_filter f = {0};
	struct dd_log_entry_list log = {0};
	char reason[512];
	int rc;

	if (!l->resource)
		return 0;
	rc = dd_store_resource_get(w->store, l->resource, &r, err);
	if (rc == DD_ERR_NOTFOUND)
		return 0;
	if (rc || r.status != DD_RESOURCE_BROKEN) {
		dd_resource_release(&r);
		return rc;
	}
	snprintf(reason, sizeof(reason), "resource %lld broke", r.id);
	f.resource = r.id;
	f.descending = true;
	f.limit = 20;
	rc = dd_store_log_list(w->store, &f, &log, err);
	for (size_t i = 0; !rc && i < log.n; i++) {
		json_t *why = json_object_get(log.items[i].data, "reason");

		if (!strcmp(log.items[i].type, "resource.broken") &&
		    json_is_string(why)) {
			snprintf(reason, sizeof(reason),
				 "resource %lld broke: %s", r.id,
				 json_string_value(why));
			break;
		}
	}
	dd_log_entry_list_release(&log);
	dd_resource_release(&r);
	return rc ? rc : dd_lease_break(w, g, l, NULL, reason, err);
}

/*
 * Call teardown hook `hook` (release_lease or destroy_lease) of lease `l`
 * on `r`: 0 once it is done; an answer "in progress" saved as such
 * (*retry_at set: the pass waits); or its failure, logged, the lease's
 * task retried with backoff for as long as it fails.
 */
static int teardown_hook(struct dd_worker *w, const struct dd_lock_grant *g,
			 struct dd_lease *l, struct dd_resource *r,
			 struct dd_bp_handle *h, enum dd_bp_hook hook,
			 double *retry_at, struct dd_error *err)
{
	struct dd_pass_obj o = {l, r};
	struct dd_bp_resume resume;
	int rc;

	dd_pass_progress_ctx(&h->ctx, (struct dd_ref){DD_OBJ_LEASE, l->id},
			     &l->progress, hook, &resume);
	rc = hook == DD_BP_HOOK_RELEASE_LEASE
		     ? dd_bp_release_lease(h->type, &h->ctx, r, l, err)
		     : dd_bp_destroy_lease(h->type, &h->ctx, r, l, err);
	if (rc == DD_ERR_AGAIN)
		return dd_pass_in_progress(w, g, o, hook, &h->ctx, retry_at,
					   err);
	dd_pass_progress_clear(&l->progress);
	if (rc)
		return dd_pass_teardown_failed(w, g, o, "lease.destroy-failure",
					       rc, err);
	return 0;
}

/*
 * The release hook (if released), then the destroy hook, then destroyed.
 * A release hook is not called again once the destroy hook is in
 * progress; either may answer "in progress" (teardown_hook()).
 */
static int destroy(struct dd_worker *w, const struct dd_lock_grant *g,
		   struct dd_lease *l, double *retry_at, struct dd_error *err)
{
	struct dd_resource r = {0};
	struct dd_bp_handle h;
	enum dd_lease_status old = l->status;
	bool have_resource = false, have_bp = false;
	bool destroying = !strcmp(l->progress.hook,
				  dd_bp_hook_name(DD_BP_HOOK_DESTROY_LEASE));
	int rc = 0;

	if (l->resource) {
		rc = dd_store_resource_get(w->store, l->resource, &r, err);
		if (rc && rc != DD_ERR_NOTFOUND)
			return rc;
		have_resource = rc == 0;
		rc = 0;
	}
	/* its teardown hooks run where its resource lives */
	if (have_resource && dd_pass_elsewhere(w, &r)) {
		dd_resource_release(&r);
		return dd_pass_hand_off(
			w, g, (struct dd_ref){DD_OBJ_LEASE, l->id}, err);
	}
	if (have_resource) {
		rc = dd_pass_blueprint(w, r.blueprint, &h, err);
		have_bp = rc == 0;
		if (rc == DD_ERR_NOTFOUND)
			rc = 0;
	}
	if (!rc && have_bp && l->status == DD_LEASE_RELEASED && !destroying)
		rc = teardown_hook(w, g, l, &r, &h, DD_BP_HOOK_RELEASE_LEASE,
				   retry_at, err);
	if (!rc && have_bp && !*retry_at)
		rc = teardown_hook(w, g, l, &r, &h, DD_BP_HOOK_DESTROY_LEASE,
				   retry_at, err);
	if (rc || *retry_at)
		goto out;
	/* an activation in progress when it was released is not resumed */
	dd_pass_progress_clear(&l->progress);
	rc = dd_lease_transition(l->id, &l->status, DD_LEASE_DESTROYED, err);
	DD_CHAOS_POINT("lease_destroy_commit");
	if (!rc)
		rc = dd_pass_begin(w, g, err);
	if (!rc) {
		/*
		 * A released or broken resource waits for its last lease to
		 * go: wake it.  First, so that its row's hold is taken before
		 * this transaction holds any other row.
		 */
		if (l->resource)
			rc = wake_resource_if_going(w, l->resource, err);
		if (!rc)
			rc = dd_store_slot_release(
				w->store, (struct dd_ref){DD_OBJ_LEASE, l->id},
				err);
		if (!rc)
			rc = dd_store_lease_update(w->store, l, err);
		if (!rc)
			rc = dd_store_log(w->store, 0, l->resource, l->id,
					  "lease.destroyed", NULL, err);
		if (!rc)
			rc = dd_lease_changed(w, l, err);
		/* the leases its hooks asked for go with it */
		if (!rc)
			rc = dd_pass_release_owned(
				w, (struct dd_ref){DD_OBJ_LEASE, l->id}, err);
		/* its resource may be idle now: its pool looks */
		if (!rc && have_bp)
			rc = dd_pass_pool_event(w, &h.bp, DD_PREWARM_FREED,
						err);
		/*
		 * Capacity was freed for whoever waits; and a lease that goes
		 * away without ever holding a resource may have had equal
		 * requests queued behind it: the next one takes its place.
		 */
		if (!rc)
			rc = dd_pass_wake_waiting(w, l->type, err);
		if (!rc && !l->resource)
			rc = dd_lease_hand_on(w, l, err);
		if (rc)
			dd_store_rollback(w->store);
		else
			rc = dd_pass_commit_final(w, err);
		if (rc)
			l->status = old;
	}
out:
	if (have_bp)
		dd_bp_handle_release(&h);
	if (have_resource)
		dd_resource_release(&r);
	return rc;
}

static int lease_pass(struct dd_worker *w, const struct dd_lock_grant *g,
		      long long id, double *retry_at, struct dd_error *err)
{
	struct dd_lease l = {0};
	enum dd_lease_status before;
	int rc;

	rc = dd_store_lease_get(w->store, id, &l, err);
	if (rc == DD_ERR_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	rc = consume_commands(w, g, &l, err);
	do {
		before = l.status;
		if (rc)
			break;
		switch (l.status) {
		case DD_LEASE_PENDING:
			rc = dd_allocate(w, g, &l, retry_at, err);
			break;
		case DD_LEASE_ACQUIRED:
			rc = activate(w, g, &l, retry_at, err);
			break;
		case DD_LEASE_RELEASED:
		case DD_LEASE_BROKEN:
			rc = destroy(w, g, &l, retry_at, err);
			break;
		case DD_LEASE_ACTIVE:
			rc = follow_resource(w, g, &l, err);
			break;
		case DD_LEASE_DESTROYED:
		case DD_LEASE_STATUS_COUNT:
			break;
		}
		/* a yield or a wait leaves the status where it is */
	} while (!rc && l.status != before && !*retry_at);

	/*
	 * Expiry is just a task due at `until`.  A pass that ended its task
	 * in its last write queued it there, and may write nothing more.
	 */
	if (!rc && !w->ended)
		rc = schedule_expiry(w, &l, err);
	if (!rc && *retry_at)
		rc = DD_ERR_AGAIN;
	dd_lease_release(&l);
	return rc;
}

int dd_lease_update_locked(struct dd_worker *w, const struct dd_lock_grant *g,
			   long long id, double *retry_at, struct dd_error *err)
{
	*retry_at = 0;
	return lease_pass(w, g, id, retry_at, err);
}
