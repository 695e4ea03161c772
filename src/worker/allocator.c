/*
 * allocator.c - finding a resource for a pending lease.
 *
 * Runs as part of the lease's update pass, under the lease's lock:
 *   1. candidate blueprints: enabled, of the lease's type, on the lease's
 *      allow-list if it has one, able to serve its attributes ever, and,
 *      if they require authorization, approved for the lease's requester
 *      (auth/authorization.h).  None: the lease breaks at once with the
 *      reason in its log; if authorizations ruled some out, they are
 *      requested in the same transaction and the reason says so;
 *   2. one allocation in flight: if the lease is building a resource that
 *      is still pending, wait for it (its activation wakes the lease);
 *   3. reuse: place the lease on an active resource whose blueprint accepts
 *      it and whose slot locks are free, but never on one that failed
 *      under it before (its host stopped answering: lease_update.c);
 *   4. allocate: ask each blueprint for a new resource whose slot locks
 *      are free; insert it pending and wait for its activation;
 *   5. reclaim: ask an idle active resource that could not take this lease
 *      (or failed under it) to go away, freeing capacity;
 *   6. else wait.  Nothing polls: a destroyed lease or resource, or a new
 *      or re-enabled blueprint, queues the updates of the leases waiting
 *      for capacity; a lease waiting behind an equal older one is woken
 *      when that one stops waiting (see find_equal).
 * Slot locks are taken in the same transaction as the state change they
 * protect, so two leases can never both win one slot.
 */
#include "worker/internal.h"
#include "auth/authorization.h"
#include "core/util.h"

#include <stdio.h>
#include <string.h>

/* Resources built for one lease that may break before it gives up. */
#define DD_ALLOCATION_ATTEMPTS 3

struct candidates {
	struct dd_bp_handle *h;
	size_t n;
	/*
	 * The lease's requester ("" until a blueprint that requires
	 * authorization asks, or when the lease has none: `no_requester`
	 * says why), and the blueprints left out for want of an approval.
	 */
	char requester[DD_REQUESTER_MAX];
	struct dd_error no_requester;
	struct dd_blueprint_list denied;
	/* an approval went away between the look and the placement */
	bool stale;
	/*
	 * A slot, or a host's key for a new resource, was passed over
	 * because another pass was taking it at that moment (DD_ERR_BUSY
	 * from slot_acquire): whether it did is not known yet, so a lease
	 * that found no room looks again soon (look_again()) instead of
	 * waiting for a capacity event that may never come.
	 */
	bool contended;
};

static void candidates_release(struct candidates *c)
{
	for (size_t i = 0; i < c->n; i++)
		dd_bp_handle_release(&c->h[i]);
	dd_free(c->h);
	dd_blueprint_list_release(&c->denied);
	c->h = NULL;
	c->n = 0;
}

/*
 * May `bp` serve `l`?  Yes when it requires no authorization or the
 * lease's requester is approved; a read, before any write transaction
 * (the placement re-checks: still_authorized()).
 */
static int authorized(struct dd_worker *w, const struct dd_lease *l,
		      const struct dd_blueprint *bp, struct candidates *c,
		      bool *yes, struct dd_error *err)
{
	struct dd_authorization_list found = {0};
	struct dd_filter f = {0};
	int rc;

	*yes = !dd_authorization_required(bp);
	if (*yes || c->no_requester.code)
		return 0;
	if (!c->requester[0]) {
		rc = dd_authorization_requester(w->store, l->owner,
						c->requester,
						sizeof(c->requester),
						&c->no_requester);
		if (rc == DD_ERR_INVALID)
			return 0;
		if (rc) {
			*err = c->no_requester;
			return rc;
		}
	}
	f.blueprint = bp->id;
	f.owner = c->requester;
	f.limit = 1;
	rc = dd_store_authorization_list(w->store, &f, &found, err);
	*yes = !rc && found.n &&
	       found.items[0].state == DD_AUTHORIZATION_APPROVED;
	dd_authorization_list_release(&found);
	return rc;
}

/*
 * In the write transaction that places `l` with `h`'s blueprint: is the
 * requester still approved?  The row stays locked until the transaction
 * ends, so a decline either came first (and is seen here) or waits for
 * the placement, which then happened before it.  False marks the
 * candidates stale: the pass looks again.
 */
static int still_authorized(struct dd_worker *w, struct candidates *c,
			    const struct dd_bp_handle *h, bool *yes,
			    struct dd_error *err)
{
	enum dd_authorization_state state = DD_AUTHORIZATION_REQUESTED;
	int rc;

	*yes = true;
	if (!dd_authorization_required(&h->bp))
		return 0;
	rc = dd_store_authorization_hold(w->store, h->bp.id, c->requester,
					 &state, err);
	if (rc && rc != DD_ERR_NOTFOUND)
		return rc;
	*yes = !rc && state == DD_AUTHORIZATION_APPROVED;
	c->stale = c->stale || !*yes;
	return 0;
}

static bool allowed(const struct dd_lease *l, long long bp)
{
	size_t i;
	json_t *v;

	if (!json_is_array(l->blueprints))
		return true;
	json_array_foreach(l->blueprints, i, v)
	{
		if (json_integer_value(v) == bp)
			return true;
	}
	return false;
}

static int find_candidates(struct dd_worker *w, const struct dd_lease *l,
			   struct candidates *c, struct dd_buf *why,
			   struct dd_error *err)
{
	struct dd_blueprint_list all = {0};
	struct dd_filter f = {0};
	size_t of_type = 0, enabled = 0, listed = 0;
	bool ok;
	int rc;

	rc = dd_store_blueprint_list(w->store, &f, &all, err);
	if (rc)
		return rc;
	c->h = dd_calloc(all.n ? all.n : 1, sizeof(*c->h));
	if (!c->h) {
		dd_blueprint_list_release(&all);
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < all.n; i++) {
		struct dd_blueprint *bp = &all.items[i];
		const struct dd_blueprint_type *t =
			dd_blueprint_type_find(bp->type);
		struct dd_bp_handle *h = &c->h[c->n];

		if (!t || strcmp(dd_bp_resource_type(t, bp->config), l->type))
			continue;
		of_type++;
		if (!bp->enabled)
			continue;
		enabled++;
		if (!allowed(l, bp->id))
			continue;
		listed++;
		if (dd_bp_handle_init(h, bp, w->store, w->state_dir, NULL))
			continue; /* cannot be: its type was found above */
		h->ctx.cancel_fd = dd_worker_cancel_fd(w);
		if (!dd_bp_can_ever_allocate(t, &h->ctx, l)) {
			dd_bp_handle_release(h);
			continue;
		}
		rc = authorized(w, l, &h->bp, c, &ok, err);
		if (!rc && !ok)
			rc = dd_blueprint_list_push(&c->denied, &h->bp);
		if (rc || !ok)
			dd_bp_handle_release(h);
		if (rc) {
			dd_blueprint_list_release(&all);
			return rc == DD_ERR_NOMEM
				       ? dd_error_set(err, rc, "out of memory")
				       : rc;
		}
		if (ok)
			c->n++;
	}
	dd_blueprint_list_release(&all);
	if (c->n == 0) {
		if (!of_type)
			dd_buf_addf(why, "no blueprint builds '%s' resources",
				    l->type);
		else if (!enabled)
			dd_buf_addf(why,
				    "every blueprint for '%s' is disabled",
				    l->type);
		else if (!listed)
			dd_buf_addf(why, "none of the lease's allowed "
					 "blueprints is an enabled '%s' "
					 "blueprint",
				    l->type);
		else
			dd_buf_addf(why, "no allowed blueprint can ever serve "
					 "the lease's attributes");
	}
	return 0;
}

/*
 * First come, first served among equal requests: leases asking for exactly
 * the same thing (type, attributes, allowed blueprints) are served in id
 * order, so a stream of newcomers cannot starve a waiting lease.  A lease
 * defers to an older equal one that is waiting (it already found no room)
 * and waits *behind* it; only the oldest of each such queue waits for
 * capacity, and only those are woken when capacity frees
 * (dd_task_wake_waiting), so a backlog of N equal leases costs one pass
 * per capacity event, not N.  A lease that stops waiting (it acquires,
 * starts building a resource, or goes away) hands its turn on to the
 * next equal lease (dd_lease_hand_on), so deferring never strands a lease
 * beside free capacity.
 *
 * Returns the id of the oldest equal waiting lease older than `l` (older
 * = true) or newer than `l` (older = false), or 0: one indexed look-up,
 * whatever the length of the queue.  Only waiting leases count: one
 * still on its first pass will get its turn at once, and waiting for it
 * would cost every newcomer a wake-up; one building a resource wakes up
 * when it is built.
 */
static long long find_equal(struct dd_worker *w, const struct dd_lease *l,
			    bool older, struct dd_error *err, int *rc)
{
	struct dd_filter f = {0};
	struct dd_lease_list found = {0};
	long long id = 0;

	f.status_mask = 1u << DD_LEASE_PENDING;
	f.type = l->type;
	f.same_request = l;
	f.waiting_any = true;
	f.limit = 1;
	if (older)
		f.before_id = l->id;
	else
		f.after_id = l->id;
	*rc = dd_store_lease_list(w->store, &f, &found, err);
	if (!*rc && found.n)
		id = found.items[0].id;
	dd_lease_list_release(&found);
	return id;
}

int dd_lease_hand_on(struct dd_worker *w, const struct dd_lease *l,
		     struct dd_error *err)
{
	int rc;
	long long next = find_equal(w, l, false, err, &rc);

	if (!rc && next)
		rc = dd_pass_schedule(w, (struct dd_ref){DD_OBJ_LEASE, next}, 0,
				      err);
	return rc;
}

/* Resources whose slot locks stood in the way of a new resource. */
struct blockers {
	long long id[16];
	size_t n;
};

static bool blocks(const struct blockers *b, long long id)
{
	for (size_t i = 0; b && i < b->n; i++)
		if (b->id[i] == id)
			return true;
	return false;
}

/*
 * Are these keys free right now?  A read, to skip hopeless write
 * transactions; resources holding them are noted in `b` (may be NULL).
 */
static bool keys_free(struct dd_worker *w, const struct dd_slot_keys *k,
		      struct blockers *b)
{
	bool all_free = true;

	for (size_t i = 0; i < k->n; i++) {
		struct dd_filter f = {0};
		struct dd_slot_lock_list l = {0};

		f.key = k->key[i];
		if (dd_store_slot_list(w->store, &f, &l, NULL))
			continue;
		if (l.n) {
			all_free = false;
			if (b && l.items[0].owner.kind == DD_OBJ_RESOURCE &&
			    b->n < sizeof(b->id) / sizeof(b->id[0]) &&
			    !blocks(b, l.items[0].owner.id))
				b->id[b->n++] = l.items[0].owner.id;
		}
		dd_slot_lock_list_release(&l);
	}
	return all_free;
}

static const char *const *key_ptrs(const struct dd_slot_keys *k,
				   const char *out[DD_MAX_SLOT_KEYS])
{
	for (size_t i = 0; i < k->n; i++)
		out[i] = k->key[i];
	return out;
}

/*
 * Try to place `l` on `r`.  Returns 0 when acquired, DD_ERR_NOTFOUND when
 * `r` has no room, another code on failure.
 */
static int try_acquire(struct dd_worker *w, const struct dd_lock_grant *g,
		       struct dd_lease *l, struct candidates *c,
		       struct dd_bp_handle *h, const struct dd_resource *r,
		       struct dd_error *err)
{
	const char *ptrs[DD_MAX_SLOT_KEYS];
	struct dd_slot_keys keys;
	json_t *saved = json_deep_copy(l->attributes);
	int rc = 0;

	if (!saved)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	for (size_t n = 0;; n++) {
		struct dd_resource now = {0};
		struct dd_error serr = DD_ERROR_INIT;
		bool ok = true;

		json_decref(l->attributes);
		l->attributes = json_deep_copy(saved);
		rc = dd_bp_acquire(h->type, &h->ctx, r, l, n, &keys, err);
		if (rc && rc != DD_ERR_NOTFOUND)
			rc = dd_pass_hook_failed(w, g, h->bp.id, r->id, l->id,
						 "lease.acquire-failure", rc,
						 err);
		if (rc)
			break;
		if (!keys_free(w, &keys, NULL))
			continue;
		rc = dd_pass_begin(w, g, err);
		if (rc)
			break;
		/*
		 * Re-read the resource inside the write transaction, holding
		 * its row (resource_hold): its own worker releases it in a
		 * transaction too, so either we see it released here, or the
		 * release waits for our commit and its cascade sees our lease.
		 */
		rc = dd_store_resource_hold(w->store, r->id, &now, err);
		if (!rc && (now.status != DD_RESOURCE_ACTIVE || now.draining))
			rc = DD_ERR_NOTFOUND;
		dd_resource_release(&now);
		if (!rc)
			rc = still_authorized(w, c, h, &ok, err);
		if (!rc && !ok)
			rc = DD_ERR_NOTFOUND;
		if (!rc) {
			rc = dd_store_slot_acquire(
				w->store, key_ptrs(&keys, ptrs), keys.n,
				(struct dd_ref){DD_OBJ_LEASE, l->id}, &serr);
			/* being taken by another transaction: as if held */
			if (rc == DD_ERR_BUSY) {
				c->contended = true;
				rc = DD_ERR_SLOT;
			}
		}
		if (rc == DD_ERR_SLOT) {
			dd_store_rollback(w->store);
			continue;
		}
		if (!rc) {
			l->resource = r->id;
			l->allocating = 0;
			l->waiting = false;
			l->acquired = dd_now();
			rc = dd_lease_transition(l->id, &l->status,
						 DD_LEASE_ACQUIRED, err);
		}
		if (!rc)
			rc = dd_store_lease_update(w->store, l, err);
		if (!rc)
			rc = dd_lease_changed(w, l, err);
		/*
		 * The next equal lease queued behind this one goes next;
		 * compared with the request, not what the hook added.
		 */
		if (!rc) {
			struct dd_lease asked = *l;

			asked.attributes = saved;
			rc = dd_lease_hand_on(w, &asked, err);
		}
		/* a ready resource taken: its pool may want another */
		if (!rc)
			rc = dd_pass_pool_event(w, &h->bp, DD_PREWARM_TAKEN,
						err);
		if (!rc)
			rc = dd_store_log(w->store, h->bp.id, r->id, l->id,
					  "lease.acquired",
					  json_pack("{s:I, s:I, s:f}", "resource",
						    r->id, "blueprint",
						    h->bp.id, "waited",
						    dd_now() - l->created),
					  err);
		if (!rc)
			rc = dd_pass_commit_lazy(w, err);
		else
			dd_store_rollback(w->store);
		if (rc) {
			l->status = DD_LEASE_PENDING;
			l->resource = 0;
		}
		break;
	}
	if (rc) {
		json_decref(l->attributes);
		l->attributes = saved;
	} else {
		json_decref(saved);
	}
	return rc;
}

int dd_lease_resource_failures(struct dd_worker *w, const struct dd_lease *l,
			       struct dd_resource_failures *out,
			       struct dd_error *err)
{
	struct dd_filter f = {0};
	struct dd_log_entry_list log = {0};
	int rc;

	memset(out, 0, sizeof(*out));
	f.lease = l->id;
	f.type = "lease.resource-failure";
	rc = dd_store_log_list(w->store, &f, &log, err);
	for (size_t i = 0; !rc && i < log.n; i++) {
		json_t *r = json_object_get(log.items[i].data, "resource");

		if (out->n < DD_RESOURCE_FAILURES)
			out->id[out->n] = json_integer_value(r);
		out->n++;
	}
	dd_log_entry_list_release(&log);
	return rc;
}

static bool failed_under(const struct dd_resource_failures *failed,
			 long long id)
{
	for (size_t i = 0; i < failed->n && i < DD_RESOURCE_FAILURES; i++)
		if (failed->id[i] == id)
			return true;
	return false;
}

/*
 * After reuse() or allocate() found no room: is that not final yet?
 * Then *retry_at says when to look again.  An approval went meanwhile:
 * at once, without it.  A slot (or a host's key) was being taken by
 * another pass: once that is decided, with jitter (two leases taking the
 * same keys in another order each refused the other), and the idle
 * threads are told, so that whichever is free then takes the look.
 */
static bool look_again(struct dd_worker *w, const struct candidates *c,
		       double *retry_at)
{
	if (c->stale)
		*retry_at = dd_now();
	else if (c->contended)
		*retry_at = dd_now() + w->topt.busy_retry * (0.5 + dd_random());
	else
		return false;
	w->scheduled |= c->contended;
	return true;
}

/*
 * Returns 0 when acquired, DD_ERR_NOTFOUND when nothing had room.  A
 * resource that failed under the lease is passed over like one that
 * refuses it: if it is idle and in the way, reclaim() asks it to go, and
 * its blueprint may build the lease a new one.
 */
static int reuse(struct dd_worker *w, const struct dd_lock_grant *g,
		 struct dd_lease *l, struct candidates *c,
		 const struct dd_resource_failures *failed,
		 struct dd_resource_list *refused, struct dd_error *err)
{
	int rc = DD_ERR_NOTFOUND;

	for (size_t i = 0; i < c->n && rc == DD_ERR_NOTFOUND; i++) {
		struct dd_resource_list rs = {0};
		struct dd_filter f = {0};

		f.status_mask = 1u << DD_RESOURCE_ACTIVE;
		f.blueprint = c->h[i].bp.id;
		rc = dd_store_resource_list(w->store, &f, &rs, err);
		if (rc)
			return rc;
		rc = DD_ERR_NOTFOUND;
		for (size_t j = 0; j < rs.n && rc == DD_ERR_NOTFOUND; j++) {
			if (rs.items[j].draining)
				continue; /* takes no new lease */
			if (failed_under(failed, rs.items[j].id) ||
			    !dd_bp_can_acquire(c->h[i].type, &c->h[i].ctx,
					       &rs.items[j], l)) {
				dd_resource_list_push(refused, &rs.items[j]);
				continue;
			}
			rc = try_acquire(w, g, l, c, &c->h[i], &rs.items[j],
					 err);
		}
		dd_resource_list_release(&rs);
	}
	return rc;
}

/* Returns 0 when a resource was started, DD_ERR_NOTFOUND when none fit. */
static int allocate(struct dd_worker *w, const struct dd_lock_grant *g,
		    struct dd_lease *l, struct candidates *c, struct blockers *b,
		    struct dd_error *err)
{
	const char *ptrs[DD_MAX_SLOT_KEYS];

	for (size_t i = 0; i < c->n; i++) {
		struct dd_bp_handle *h = &c->h[i];

		for (size_t n = 0;; n++) {
			struct dd_resource r = {0};
			struct dd_slot_keys keys;
			struct dd_error herr = DD_ERROR_INIT;
			bool ok = true;
			int rc;

			r.blueprint = h->bp.id;
			r.type = (char *)dd_bp_resource_type(h->type,
							    h->bp.config);
			r.status = DD_RESOURCE_PENDING;
			rc = dd_bp_allocate(h->type, &h->ctx, l, n, &r, &keys,
					    &herr);
			if (rc) {
				json_decref(r.attributes);
				if (rc != DD_ERR_NOTFOUND &&
				    !dd_pass_begin(w, g, NULL)) {
					if (dd_store_log(
						    w->store, h->bp.id, 0,
						    l->id,
						    "resource.allocation-failure",
						    json_pack("{s:s}", "reason",
							      herr.msg),
						    NULL))
						dd_store_rollback(w->store);
					else
						dd_pass_commit(w, NULL);
				}
				break;
			}
			if (!keys_free(w, &keys, b)) {
				json_decref(r.attributes);
				continue;
			}
			dd_pass_bind_machine(w, h, &r);
			rc = dd_pass_begin(w, g, err);
			if (!rc)
				rc = still_authorized(w, c, h, &ok, err);
			if (!rc && !ok) {
				dd_store_rollback(w->store);
				json_decref(r.attributes);
				break; /* the next blueprint, then a new look */
			}
			if (!rc)
				rc = dd_store_resource_insert(w->store, &r, err);
			if (!rc)
				rc = dd_store_slot_acquire(
					w->store, key_ptrs(&keys, ptrs), keys.n,
					(struct dd_ref){DD_OBJ_RESOURCE, r.id},
					&herr);
			/* being taken by another transaction: as if held */
			if (rc == DD_ERR_BUSY) {
				c->contended = true;
				rc = DD_ERR_SLOT;
			}
			if (rc == DD_ERR_SLOT) {
				dd_store_rollback(w->store);
				json_decref(r.attributes);
				continue;
			}
			if (!rc) {
				l->allocating = r.id;
				l->waiting = false;
				rc = dd_store_lease_update(w->store, l, err);
			}
			if (!rc)
				rc = dd_store_log(
					w->store, h->bp.id, r.id, l->id,
					"resource.allocated",
					json_pack("{s:I}", "lease", l->id),
					err);
			if (!rc)
				rc = dd_pass_schedule(
					w,
					(struct dd_ref){DD_OBJ_RESOURCE, r.id},
					0, err);
			/* an equal lease queued behind this one may build too */
			if (!rc)
				rc = dd_lease_hand_on(w, l, err);
			if (!rc)
				rc = dd_pass_commit(w, err);
			else
				dd_store_rollback(w->store);
			if (rc)
				l->allocating = 0;
			json_decref(r.attributes);
			return rc;
		}
	}
	return DD_ERR_NOTFOUND;
}

/*
 * Ask one idle resource to go away, if that frees room for this lease:
 * it must have refused the lease (another shape) and hold a slot lock
 * that one of the lease's allocation proposals needs.
 */
/*
 * When idle resource `r` may be reclaimed: once it has been idle (since
 * its last lease ended, or since it was built) for its blueprint's grace
 * period (dd_bp_reclaim_grace()).
 */
static double reclaimable_at(struct dd_worker *w, const struct dd_resource *r)
{
	struct dd_filter f = {0};
	struct dd_lease_list last = {0};
	struct dd_blueprint bp = {0};
	double since = r->modified, grace = 0;

	if (!dd_store_blueprint_get(w->store, r->blueprint, &bp, NULL))
		grace = dd_bp_reclaim_grace(dd_blueprint_type_find(bp.type),
					    bp.config);
	dd_blueprint_release(&bp);
	if (grace <= 0)
		return 0;
	f.resource = r->id;
	f.descending = true;
	f.limit = 1;
	if (!dd_store_lease_list(w->store, &f, &last, NULL) && last.n &&
	    last.items[0].modified > since)
		since = last.items[0].modified;
	dd_lease_list_release(&last);
	return since + grace;
}

/*
 * ... unless it has not been idle for its grace period yet: then
 * *later is set to the earliest time one may be (0: none waits).
 */
static int reclaim(struct dd_worker *w, const struct dd_lock_grant *g,
		   struct dd_lease *l, struct dd_resource_list *refused,
		   const struct blockers *b, double *later,
		   struct dd_error *err)
{
	char author[48];
	double at;

	/*
	 * A blocker on its way out (released or broken, not yet destroyed: an
	 * earlier pass's reclaim, say) frees its keys when it is destroyed,
	 * a capacity event: reclaiming another now would tear down two
	 * resources for one lease.
	 */
	for (size_t i = 0; i < b->n; i++) {
		struct dd_resource r = {0};
		bool going = !dd_store_resource_get(w->store, b->id[i], &r,
						    NULL) &&
			     (r.status == DD_RESOURCE_RELEASED ||
			      r.status == DD_RESOURCE_BROKEN);

		dd_resource_release(&r);
		if (going)
			return 0;
	}
	snprintf(author, sizeof(author), "lease:%lld", l->id);
	for (size_t i = 0; i < refused->n; i++) {
		struct dd_filter f = {0};
		struct dd_command cmd = {0};
		long long n = 0;
		int rc;

		if (!blocks(b, refused->items[i].id))
			continue;
		f.resource = refused->items[i].id;
		f.status_mask = ~(1u << DD_LEASE_DESTROYED);
		rc = dd_store_lease_count(w->store, &f, &n, err);
		if (rc)
			return rc;
		if (n > 0)
			continue;
		at = reclaimable_at(w, &refused->items[i]);
		if (at > dd_now()) {
			if (!*later || at < *later)
				*later = at;
			continue;
		}
		cmd.target = (struct dd_ref){DD_OBJ_RESOURCE,
					     refused->items[i].id};
		cmd.kind = (char *)dd_command_kind_name(DD_CMD_RECLAIM);
		cmd.author = author;
		rc = dd_pass_begin(w, g, err);
		if (!rc)
			rc = dd_store_command_insert(w->store, &cmd, err);
		if (!rc)
			rc = dd_pass_schedule(w, cmd.target, 0, err);
		if (!rc)
			rc = dd_store_log(w->store, 0, cmd.target.id, l->id,
					  "lease.reclaim",
					  json_pack("{s:I}", "resource",
						    cmd.target.id),
					  err);
		if (rc) {
			dd_store_rollback(w->store);
			return rc;
		}
		rc = dd_pass_commit(w, err);
		return rc;
	}
	return 0;
}

/*
 * A resource this lease built broke before it could be used: forget it and
 * note why, in one fenced transaction, so the failure is counted once.
 */
static int note_allocation_failure(struct dd_worker *w,
				   const struct dd_lock_grant *g,
				   struct dd_lease *l, struct dd_error *err)
{
	struct dd_filter f = {0};
	struct dd_log_entry_list broke = {0};
	long long rid = l->allocating;
	const char *reason = "it broke";
	int rc;

	f.resource = rid;
	f.type = "resource.broken";
	f.limit = 1;
	rc = dd_store_log_list(w->store, &f, &broke, err);
	if (rc)
		return rc;
	if (broke.n) {
		json_t *r = json_object_get(broke.items[0].data, "reason");

		if (json_is_string(r))
			reason = json_string_value(r);
	} else {
		/* released, not broken (an operator took it): no failure */
		dd_log_entry_list_release(&broke);
		l->allocating = 0;
		return 0;
	}
	l->allocating = 0;
	rc = dd_pass_begin(w, g, err);
	if (!rc)
		rc = dd_store_lease_update(w->store, l, err);
	if (!rc)
		rc = dd_store_log(w->store, 0, rid, l->id,
				  "lease.allocation-failure",
				  json_pack("{s:I, s:s}", "resource", rid,
					    "reason", reason),
				  err);
	dd_log_entry_list_release(&broke);
	if (rc) {
		dd_store_rollback(w->store);
		l->allocating = rid;
		return rc;
	}
	return dd_pass_commit(w, err);
}

/*
 * How many resources built for this lease broke, and when the last did:
 * the allocator backs off between attempts and gives up after
 * DD_ALLOCATION_ATTEMPTS, instead of building broken resources forever.
 */
static int allocation_failures(struct dd_worker *w, const struct dd_lease *l,
			       size_t *n, double *last, char *reason,
			       size_t reason_size, struct dd_error *err)
{
	struct dd_filter f = {0};
	struct dd_log_entry_list fails = {0};
	int rc;

	f.lease = l->id;
	f.type = "lease.allocation-failure";
	rc = dd_store_log_list(w->store, &f, &fails, err);
	if (rc)
		return rc;
	*n = fails.n;
	*last = 0;
	if (fails.n) {
		json_t *r = json_object_get(fails.items[fails.n - 1].data,
					    "reason");

		*last = fails.items[fails.n - 1].time;
		snprintf(reason, reason_size, "%s",
			 json_is_string(r) ? json_string_value(r) : "");
	}
	dd_log_entry_list_release(&fails);
	return 0;
}

/* Log a waiting reason once, not on every wake-up. */
static int log_waiting(struct dd_worker *w, const struct dd_lock_grant *g,
		       struct dd_lease *l, const char *type, json_t *data,
		       struct dd_error *err)
{
	struct dd_filter f = {0};
	struct dd_log_entry_list last = {0};
	bool same;
	int rc;

	f.lease = l->id;
	f.limit = 1;
	f.descending = true;
	rc = dd_store_log_list(w->store, &f, &last, err);
	if (rc) {
		json_decref(data);
		return rc;
	}
	same = last.n && !strcmp(last.items[0].type, type);
	dd_log_entry_list_release(&last);
	if (same) {
		json_decref(data);
		return 0;
	}
	rc = dd_pass_begin(w, g, err);
	if (rc) {
		json_decref(data);
		return rc;
	}
	rc = dd_store_log(w->store, 0, 0, l->id, type, data, err);
	if (rc) {
		dd_store_rollback(w->store);
		return rc;
	}
	return dd_pass_commit(w, err);
}

/*
 * Nothing had room: mark the lease waiting, for capacity (`ahead` 0) or
 * behind the equal older lease `ahead`, so that the next capacity event,
 * or that lease's hand-on, wakes it.  Either could have happened after
 * this pass looked and before this transaction, and would be missed, so
 * the transaction checks first: for capacity, that the capacity counter
 * has not moved since the pass began (`seen`); behind a lease, that the
 * lease still waits (it hands on in the transaction that ends its
 * wait).  If not, look again at once instead (*retry_at = now).  Both
 * reads hold what they read until the commit (dd_store_counter_hold,
 * dd_store_lease_waiting_hold): on a store with several writers at once
 * (PostgreSQL), the bump or hand-on that comes later waits for this
 * commit and then finds this lease waiting; one that came first is seen.
 */
static int wait_for_capacity(struct dd_worker *w, const struct dd_lock_grant *g,
			     struct dd_lease *l, long long seen,
			     long long ahead, double *retry_at,
			     struct dd_error *err)
{
	bool was = l->waiting, was_behind = l->behind;
	bool same = was && was_behind == (ahead != 0), still = false;
	json_t *data = ahead ? json_pack("{s:I}", "behind", ahead) : NULL;
	long long now = 0;
	int rc = dd_pass_begin(w, g, err);

	if (rc) {
		json_decref(data);
		return rc;
	}
	if (ahead) {
		rc = dd_store_lease_waiting_hold(w->store, ahead, &still, err);
	} else {
		rc = dd_store_counter_hold(w->store, "capacity", &now, err);
		still = now == seen;
	}
	if (!rc && !still) {
		dd_store_rollback(w->store);
		json_decref(data);
		*retry_at = dd_now();
		return 0;
	}
	l->waiting = true;
	l->behind = ahead != 0;
	if (!rc && !same)
		rc = dd_store_lease_update(w->store, l, err);
	if (!rc && !was) {
		rc = dd_store_log(w->store, 0, 0, l->id,
				  "lease.waiting-for-resources", data, err);
		data = NULL;
	}
	json_decref(data);
	if (rc) {
		dd_store_rollback(w->store);
		l->waiting = was;
		l->behind = was_behind;
		return rc;
	}
	if (same) {
		dd_store_rollback(w->store); /* already marked: nothing to write */
		return 0;
	}
	return dd_pass_commit(w, err);
}

/*
 * Only blueprints that require an authorization the requester lacks
 * could serve `l`: request each (idempotently: a row per blueprint and
 * requester) and break the lease saying so, in one transaction.
 */
static int refuse_unauthorized(struct dd_worker *w,
			       const struct dd_lock_grant *g,
			       struct dd_lease *l, struct candidates *c,
			       struct dd_error *err)
{
	struct dd_buf why = DD_BUF_INIT;
	int rc = dd_pass_begin(w, g, err);

	for (size_t i = 0; !rc && i < c->denied.n; i++) {
		const struct dd_blueprint *bp = &c->denied.items[i];
		struct dd_authorization a = {0};

		if (i)
			dd_buf_addstr(&why, "; ");
		if (c->no_requester.code) {
			dd_buf_addf(&why,
				    "blueprint %lld '%s' requires "
				    "authorization: %s",
				    bp->id, bp->name, c->no_requester.msg);
			continue;
		}
		rc = dd_store_authorization_request(w->store, bp->id,
						    c->requester, dd_now(), &a,
						    err);
		if (!rc)
			dd_authorization_refusal(&why, bp, &a);
		dd_authorization_release(&a);
	}
	if (!rc && !why.buf)
		rc = dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	if (!rc)
		rc = dd_lease_break(w, g, l, "lease.no-authorization", why.buf,
				    err);
	if (rc)
		dd_store_rollback(w->store);
	else
		rc = dd_pass_commit(w, err);
	dd_buf_release(&why);
	return rc;
}

int dd_allocate(struct dd_worker *w, const struct dd_lock_grant *g,
		struct dd_lease *l, double *retry_at, struct dd_error *err)
{
	struct candidates c = {0};
	struct dd_resource_list refused = {0};
	struct dd_buf why = DD_BUF_INIT;
	struct blockers blockers = {{0}, 0};
	struct dd_resource_failures failed;
	char reason[512] = "";
	double last_failure = 0, later = 0;
	size_t failures = 0;
	long long ahead, capacity = 0;
	bool built = false;
	int rc;

	/* before looking for room: see wait_for_capacity() */
	rc = dd_store_counter_get(w->store, "capacity", &capacity, err);
	if (!rc)
		rc = find_candidates(w, l, &c, &why, err);
	if (rc)
		goto out;
	if (c.n == 0 && c.denied.n) {
		rc = refuse_unauthorized(w, g, l, &c, err);
		goto out;
	}
	if (c.n == 0) {
		rc = dd_lease_break(w, g, l, "lease.no-blueprints",
				    why.buf ? why.buf : "no blueprints", err);
		goto out;
	}

	if (l->allocating) {
		struct dd_resource r = {0};

		rc = dd_store_resource_get(w->store, l->allocating, &r, err);
		if (rc && rc != DD_ERR_NOTFOUND)
			goto out;
		if (!rc && r.status == DD_RESOURCE_PENDING) {
			dd_resource_release(&r);
			rc = log_waiting(w, g, l, "lease.waiting-for-activation",
					 json_pack("{s:I}", "resource",
						   l->allocating),
					 err);
			goto out;
		}
		if (!rc && (r.status == DD_RESOURCE_BROKEN ||
			    r.status == DD_RESOURCE_DESTROYED)) {
			dd_resource_release(&r);
			rc = note_allocation_failure(w, g, l, err);
			if (rc)
				goto out;
		} else if (!rc && r.status == DD_RESOURCE_ACTIVE) {
			/* the resource this lease built: take it first */
			for (size_t i = 0; i < c.n; i++) {
				if (c.h[i].bp.id != r.blueprint)
					continue;
				rc = try_acquire(w, g, l, &c, &c.h[i], &r, err);
				break;
			}
			dd_resource_release(&r);
			if (rc != DD_ERR_NOTFOUND && l->status != DD_LEASE_PENDING)
				goto out;
			if (rc && rc != DD_ERR_NOTFOUND)
				goto out;
		} else {
			dd_resource_release(&r);
		}
		/* taken by another lease meanwhile, or gone: forget it */
		built = true;
		l->allocating = 0;
		rc = 0;
	}

	/*
	 * A lease that built a resource has had its turn: it does not queue
	 * behind others (it may still reuse whatever is free).
	 */
	ahead = built ? 0 : find_equal(w, l, true, err, &rc);
	if (rc)
		goto out;
	if (ahead) {
		/* queued behind an equal, older lease: it wakes this one */
		rc = wait_for_capacity(w, g, l, capacity, ahead, retry_at, err);
		goto out;
	}
	rc = dd_lease_resource_failures(w, l, &failed, err);
	if (rc)
		goto out;
	rc = reuse(w, g, l, &c, &failed, &refused, err);
	if (rc != DD_ERR_NOTFOUND)
		goto out;
	if (look_again(w, &c, retry_at)) {
		rc = 0;
		goto out;
	}
	rc = allocation_failures(w, l, &failures, &last_failure, reason,
				 sizeof(reason), err);
	if (rc)
		goto out;
	if (failures >= DD_ALLOCATION_ATTEMPTS) {
		char msg[700];

		snprintf(msg, sizeof(msg),
			 "%zu resources built for it broke; the last: %s",
			 failures, reason);
		rc = dd_lease_break(w, g, l, NULL, msg, err);
		goto out;
	}
	if (failures && dd_now() < last_failure + (double)(1 << failures)) {
		/* back off: 2 s, then 4 s, before building again */
		*retry_at = last_failure + (double)(1 << failures);
		goto out;
	}
	rc = allocate(w, g, l, &c, &blockers, err);
	if (rc != DD_ERR_NOTFOUND)
		goto out;
	if (look_again(w, &c, retry_at)) {
		rc = 0;
		goto out;
	}
	rc = reclaim(w, g, l, &refused, &blockers, &later, err);
	if (rc)
		goto out;
	/*
	 * Having asked for a reclaim, wait like any lease without room: the
	 * reclaimed resource's destruction is a capacity event.  An idle
	 * resource still in its grace period is looked at again when the
	 * period ends: no event says so.
	 */
	rc = wait_for_capacity(w, g, l, capacity, 0, retry_at, err);
	if (!rc && later && (!*retry_at || later < *retry_at))
		*retry_at = later;
out:
	dd_buf_release(&why);
	dd_resource_list_release(&refused);
	candidates_release(&c);
	return rc;
}
