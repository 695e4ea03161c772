/*
 * resource_update.c - the resource's update worker: its only writer after
 * the allocator inserts it.
 *
 * One pass, under the resource's lock:
 *   1. commands, oldest first, consumed exactly once, as the command
 *      table says (worker/command.c; "release" and "reclaim" are applied
 *      below; anything the resource can no longer take is "ignored");
 *   2. pending -> activate hook -> active, waking the lease that built it;
 *      active -> the check hook (is it still usable?), again when the
 *      hook says; a failed check breaks it;
 *   3. released or broken -> once no lease on it is left undestroyed, the
 *      destroy hook, its slot locks dropped -> destroyed.
 * Releasing a resource sends "release" to every live lease on it.  Breaking
 * one wakes its leases: active ones see the broken resource and break with
 * its reason, acquired ones go back to pending and reacquire elsewhere,
 * which the original forgot to do.
 */
#include "worker/internal.h"
#include "blueprint/prewarm.h"
#include "core/util.h"

#include <stdio.h>
#include <string.h>

/* `r` changed status: wake whoever waits for it (inside the transaction). */
static int changed(struct dd_worker *w, const struct dd_resource *r,
		   struct dd_error *err)
{
	return dd_pass_tell_resumers(w, (struct dd_ref){DD_OBJ_RESOURCE, r->id},
				     NULL, err);
}

static int wake_allocators(struct dd_worker *w, long long rid,
			   struct dd_error *err)
{
	struct dd_filter f = {0};
	struct dd_lease_list l = {0};
	int rc;

	f.allocating = rid;
	f.status_mask = 1u << DD_LEASE_PENDING;
	rc = dd_store_lease_list(w->store, &f, &l, err);
	for (size_t i = 0; !rc && i < l.n; i++)
		rc = dd_pass_schedule(
			w, (struct dd_ref){DD_OBJ_LEASE, l.items[i].id}, 0,
			err);
	dd_lease_list_release(&l);
	return rc;
}

/*
 * Inside the caller's transaction: tell the leases on `r` that it is going
 * away.  Active leases (and, on release, acquired ones) get a release
 * command; acquired leases on a broken resource are woken to reacquire.
 */
static int cascade(struct dd_worker *w, const struct dd_resource *r,
		   bool broken, struct dd_error *err)
{
	struct dd_filter f = {0};
	struct dd_lease_list l = {0};
	char author[48];
	int rc;

	snprintf(author, sizeof(author), "resource:%lld", r->id);
	f.resource = r->id;
	f.status_mask = (1u << DD_LEASE_ACQUIRED) | (1u << DD_LEASE_ACTIVE);
	rc = dd_store_lease_list(w->store, &f, &l, err);
	for (size_t i = 0; !rc && i < l.n; i++) {
		struct dd_ref ref = {DD_OBJ_LEASE, l.items[i].id};

		/* broken: the lease's own pass breaks it, with the reason */
		if (!broken) {
			struct dd_command c = {0};

			c.target = ref;
			c.kind = (char *)dd_command_kind_name(DD_CMD_RELEASE);
			c.author = author;
			rc = dd_store_command_insert(w->store, &c, err);
		}
		if (!rc)
			rc = dd_pass_schedule(w, ref, 0, err);
	}
	dd_lease_list_release(&l);
	if (!rc)
		rc = wake_allocators(w, r->id, err);
	return rc;
}

static int live_leases(struct dd_worker *w, long long rid, long long *n,
		       struct dd_error *err)
{
	struct dd_filter f = {0};

	f.resource = rid;
	f.status_mask = ~(1u << DD_LEASE_DESTROYED) &
			((1u << DD_LEASE_STATUS_COUNT) - 1);
	return dd_store_lease_count(w->store, &f, n, err);
}

/*
 * Release a->resource and tell its leases.  A reclaim logs
 * resource.reclaimed, with the command's author, before resource.released.
 */
static int release(struct dd_apply *a, bool reclaim, struct dd_error *err)
{
	struct dd_resource *r = a->resource;
	const struct dd_command *c = a->c;
	int rc;

	rc = dd_resource_transition(r->id, &r->status, DD_RESOURCE_RELEASED,
				    err);
	if (!rc)
		rc = dd_store_resource_update(a->w->store, r, err);
	if (!rc)
		rc = dd_store_log(a->w->store, r->blueprint, r->id, 0,
				  reclaim ? "resource.reclaimed"
					  : "resource.released",
				  json_pack("{s:I, s:s?, s:O?}", "command", c->id,
					    "author", c->author, "reason",
					    json_object_get(c->data, "reason")),
				  err);
	if (!rc && reclaim)
		rc = dd_store_log(a->w->store, r->blueprint, r->id, 0,
				  "resource.released",
				  json_pack("{s:I}", "command", c->id), err);
	if (!rc)
		rc = cascade(a->w, r, false, err);
	if (!rc)
		rc = changed(a->w, r, err);
	return rc;
}

int dd_resource_apply_release(struct dd_apply *a, struct dd_error *err)
{
	return release(a, false, err);
}

int dd_resource_apply_reclaim(struct dd_apply *a, struct dd_error *err)
{
	char pool[48], counter[48];
	struct dd_resource row = {0};
	long long n = 0;
	/*
	 * Lock our own row before counting (resource_lock): a lease being
	 * placed here holds it (allocator.c), so it either committed first
	 * and is counted, or waits and then finds the resource released.
	 * Counted first, it could be placed between the count and the
	 * release, and be released at once by the cascade.
	 */
	int rc = dd_store_resource_lock(a->w->store, a->resource->id, &row,
					err);

	dd_resource_release(&row);
	if (!rc)
		rc = live_leases(a->w, a->resource->id, &n, err);
	if (rc)
		return rc;
	/* accepted while idle; a lease may have taken it since */
	if (n > 0) {
		snprintf(a->outcome, sizeof(a->outcome),
			 "ignored: resource has %lld lease%s", n,
			 n == 1 ? "" : "s");
		return 0;
	}
	rc = release(a, true, err);
	/* its own blueprint's pool let it go: counted for /metrics */
	snprintf(pool, sizeof(pool), "blueprint:%lld",
		 a->resource->blueprint);
	if (!rc && a->c->author && !strcmp(a->c->author, pool))
		rc = dd_store_counter_bump(
			a->w->store,
			dd_prewarm_counter_destroyed(a->resource->blueprint,
						     counter, sizeof(counter)),
			err);
	return rc;
}

/*
 * Drain: the resource keeps its leases, takes no new one, and stays
 * until released (a host stays out of use, its slot held).  The
 * allocator reads the flag in the transaction that would place a lease.
 * For its blueprint's pool it is one ready resource fewer, as if taken.
 */
int dd_resource_apply_drain(struct dd_apply *a, struct dd_error *err)
{
	struct dd_resource *r = a->resource;
	struct dd_blueprint bp = {0};
	int rc;

	if (r->draining) {
		snprintf(a->outcome, sizeof(a->outcome),
			 "ignored: resource is already draining");
		return 0;
	}
	r->draining = true;
	rc = dd_store_resource_update(a->w->store, r, err);
	if (!rc)
		rc = dd_store_log(a->w->store, r->blueprint, r->id, 0,
				  "resource.draining",
				  json_pack("{s:I, s:s?}", "command", a->c->id,
					    "author", a->c->author),
				  err);
	if (!rc)
		rc = dd_store_blueprint_get(a->w->store, r->blueprint, &bp,
					    err);
	if (!rc)
		rc = dd_pass_pool_event(a->w, &bp, DD_PREWARM_TAKEN, err);
	dd_blueprint_release(&bp);
	if (rc)
		r->draining = false;
	return rc;
}

/* Consume one command in the transaction that applies it. */
static int apply_command(struct dd_worker *w, const struct dd_lock_grant *g,
			 struct dd_resource *r, const struct dd_command *c,
			 struct dd_error *err)
{
	struct dd_apply a = {.w = w, .g = g, .c = c, .resource = r};
	struct dd_resource before = *r;
	int rc;

	rc = dd_pass_begin(w, g, err);
	if (rc)
		return rc;
	rc = dd_command_apply(&a, r->status, err);
	if (!rc)
		rc = dd_store_command_consume(w->store, c->id, a.outcome,
					      dd_now(), err);
	if (rc)
		dd_store_rollback(w->store);
	else
		rc = dd_pass_commit(w, err);
	if (rc)
		*r = before; /* the apply changed no owned member */
	return rc;
}

static int break_resource(struct dd_worker *w, const struct dd_lock_grant *g,
			  struct dd_resource *r, const char *reason,
			  struct dd_error *err)
{
	enum dd_resource_status old = r->status;
	int rc = dd_resource_transition(r->id, &r->status, DD_RESOURCE_BROKEN,
					err);

	if (!rc)
		rc = dd_pass_begin(w, g, err);
	if (rc) {
		r->status = old;
		return rc;
	}
	rc = dd_store_resource_update(w->store, r, err);
	if (!rc)
		rc = dd_store_log(w->store, r->blueprint, r->id, 0,
				  "resource.broken",
				  json_pack("{s:s}", "reason", reason), err);
	if (!rc)
		rc = changed(w, r, err);
	if (!rc)
		rc = cascade(w, r, true, err);
	if (rc) {
		dd_store_rollback(w->store);
		r->status = old;
		return rc;
	}
	return dd_pass_commit(w, err);
}

static int activate(struct dd_worker *w, const struct dd_lock_grant *g,
		    struct dd_resource *r, double *retry_at,
		    struct dd_error *err)
{
	struct dd_bp_handle h;
	struct dd_bp_resume resume;
	struct dd_error herr = DD_ERROR_INIT;
	int rc = dd_pass_blueprint(w, r->blueprint, &h, err);

	if (rc)
		return rc;
	dd_pass_progress_ctx(&h.ctx, (struct dd_ref){DD_OBJ_RESOURCE, r->id},
			     &r->progress, DD_BP_HOOK_ACTIVATE_RESOURCE,
			     &resume);
	rc = dd_bp_activate_resource(h.type, &h.ctx, r, &herr);
	if (rc == DD_ERR_AGAIN) {
		/* h.ctx holds what the hook asked for until it is noted */
		rc = dd_pass_in_progress(w, g,
					 (struct dd_pass_obj){.resource = r},
					 DD_BP_HOOK_ACTIVATE_RESOURCE, &h.ctx,
					 retry_at, err);
		dd_bp_handle_release(&h);
		return rc;
	}
	dd_pass_progress_clear(&r->progress);
	if (rc) {
		dd_bp_handle_release(&h);
		return break_resource(w, g, r, herr.msg, err);
	}
	rc = dd_resource_transition(r->id, &r->status, DD_RESOURCE_ACTIVE,
				    err);
	if (!rc)
		rc = dd_pass_begin(w, g, err);
	if (rc) {
		dd_bp_handle_release(&h);
		return rc;
	}
	rc = dd_store_resource_update(w->store, r, err);
	if (!rc)
		rc = dd_store_log(w->store, r->blueprint, r->id, 0,
				  "resource.activated", NULL, err);
	if (!rc)
		rc = changed(w, r, err);
	if (!rc)
		rc = wake_allocators(w, r->id, err);
	/* a new resource is capacity for whoever waits */
	if (!rc)
		rc = dd_pass_wake_waiting(w, r->type, err);
	/* and ready in its pool, idle until a lease takes it */
	if (!rc)
		rc = dd_pass_pool_event(w, &h.bp, DD_PREWARM_READY, err);
	dd_bp_handle_release(&h);
	if (rc) {
		dd_store_rollback(w->store);
		r->status = DD_RESOURCE_PENDING;
		return rc;
	}
	return dd_pass_commit(w, err);
}

/*
 * An active resource: is it still usable?  A failed check breaks it; a
 * good one asks for the next pass when the hook says.
 */
static int check(struct dd_worker *w, const struct dd_lock_grant *g,
		 struct dd_resource *r, double *retry_at, struct dd_error *err)
{
	struct dd_error herr = DD_ERROR_INIT;
	struct dd_bp_handle h;
	double next = 0;
	int rc = dd_pass_blueprint(w, r->blueprint, &h, err);

	if (rc)
		return rc;
	rc = dd_bp_check_resource(h.type, &h.ctx, r, &next, &herr);
	dd_bp_handle_release(&h);
	if (rc)
		return break_resource(w, g, r, herr.msg, err);
	if (next > 0)
		*retry_at = dd_now() + next;
	return 0;
}

/*
 * Once no lease on it is left, the destroy hook, then destroyed.  A hook
 * that answers "in progress" is saved as such and resumed as it asked
 * (*retry_at), its deadline counting from its first call; one that fails
 * is logged and tried again with backoff for as long as it fails.
 */
static int destroy(struct dd_worker *w, const struct dd_lock_grant *g,
		   struct dd_resource *r, double *retry_at,
		   struct dd_error *err)
{
	enum dd_resource_status old = r->status;
	struct dd_pass_obj o = {.resource = r};
	struct dd_bp_resume resume;
	struct dd_bp_handle h;
	long long n = 0;
	int rc;

	rc = live_leases(w, r->id, &n, err);
	if (rc || n > 0)
		return rc; /* each lease's destruction queues this pass */
	rc = dd_pass_blueprint(w, r->blueprint, &h, err);
	if (rc)
		return rc;
	/* an activation in progress when it was released is not resumed */
	dd_pass_progress_ctx(&h.ctx, (struct dd_ref){DD_OBJ_RESOURCE, r->id},
			     &r->progress, DD_BP_HOOK_DESTROY_RESOURCE,
			     &resume);
	rc = dd_bp_destroy_resource(h.type, &h.ctx, r, err);
	if (rc == DD_ERR_AGAIN) {
		rc = dd_pass_in_progress(w, g, o, DD_BP_HOOK_DESTROY_RESOURCE,
					 &h.ctx, retry_at, err);
		dd_bp_handle_release(&h);
		return rc;
	}
	dd_pass_progress_clear(&r->progress);
	if (rc)
		rc = dd_pass_teardown_failed(w, g, o,
					     "resource.destroy-failure", rc,
					     err);
	if (!rc)
		rc = dd_resource_transition(r->id, &r->status,
					    DD_RESOURCE_DESTROYED, err);
	DD_CHAOS_POINT("resource_destroy_commit");
	if (!rc)
		rc = dd_pass_begin(w, g, err);
	if (rc) {
		dd_bp_handle_release(&h);
		r->status = old;
		return rc;
	}
	rc = dd_store_slot_release(w->store,
				   (struct dd_ref){DD_OBJ_RESOURCE, r->id}, err);
	if (!rc)
		rc = dd_store_resource_update(w->store, r, err);
	if (!rc)
		rc = dd_store_log(w->store, r->blueprint, r->id, 0,
				  "resource.destroyed", NULL, err);
	if (!rc)
		rc = changed(w, r, err);
	/* the leases its hooks asked for go with it */
	if (!rc)
		rc = dd_pass_release_owned(
			w, (struct dd_ref){DD_OBJ_RESOURCE, r->id}, err);
	if (!rc)
		rc = dd_pass_wake_waiting(w, r->type, err);
	/* its pool has one fewer */
	if (!rc)
		rc = dd_pass_pool_event(w, &h.bp, DD_PREWARM_GONE, err);
	dd_bp_handle_release(&h);
	if (rc) {
		dd_store_rollback(w->store);
		r->status = old;
		return rc;
	}
	return dd_pass_commit(w, err);
}

static int resource_pass(struct dd_worker *w, const struct dd_lock_grant *g,
			 long long id, double *retry_at, struct dd_error *err)
{
	struct dd_resource r = {0};
	struct dd_filter f = {0};
	struct dd_command_list cmds = {0};
	enum dd_resource_status before;
	int rc;

	rc = dd_store_resource_get(w->store, id, &r, err);
	if (rc == DD_ERR_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	/* the task claim keeps it on its machine; a tool may not */
	if (dd_pass_elsewhere(w, &r)) {
		dd_resource_release(&r);
		return dd_pass_hand_off(
			w, g, (struct dd_ref){DD_OBJ_RESOURCE, id}, err);
	}
	f.target = (struct dd_ref){DD_OBJ_RESOURCE, id};
	f.pending_only = true;
	rc = dd_store_command_list(w->store, &f, &cmds, err);
	for (size_t i = 0; !rc && i < cmds.n; i++) {
		DD_CHAOS_POINT("resource_command");
		rc = apply_command(w, g, &r, &cmds.items[i], err);
	}
	dd_command_list_release(&cmds);
	do {
		before = r.status;
		if (rc)
			break;
		switch (r.status) {
		case DD_RESOURCE_PENDING:
			rc = activate(w, g, &r, retry_at, err);
			break;
		case DD_RESOURCE_RELEASED:
		case DD_RESOURCE_BROKEN:
			rc = destroy(w, g, &r, retry_at, err);
			break;
		case DD_RESOURCE_ACTIVE:
			rc = check(w, g, &r, retry_at, err);
			break;
		case DD_RESOURCE_DESTROYED:
		case DD_RESOURCE_STATUS_COUNT:
			break;
		}
	} while (!rc && r.status != before && !*retry_at);
	if (!rc && *retry_at)
		rc = DD_ERR_AGAIN;
	dd_resource_release(&r);
	return rc;
}

int dd_resource_update_locked(struct dd_worker *w, const struct dd_lock_grant *g,
			   long long id, double *retry_at, struct dd_error *err)
{
	*retry_at = 0;
	return resource_pass(w, g, id, retry_at, err);
}
