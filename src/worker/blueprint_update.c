/*
 * blueprint_update.c - a blueprint's maintenance pass: keeping its pool
 * of pre-warmed resources (blueprint/prewarm.h).
 *
 * Runs as task kind blueprint.update under the blueprint's lock
 * ("blueprint:ID"), so one pass at a time per blueprint.  It writes no
 * resource row and no blueprint row:
 *   - it lets idle resources go by sending each a `reclaim` (author
 *     "blueprint:ID"); the resource's own worker releases and destroys
 *     it, or ignores the command if a lease took it meanwhile;
 *   - it builds what is missing as the allocator builds for a lease:
 *     the type's allocate hook proposes a resource for an empty request
 *     (lease id 0, no attributes: the type's default), and one fenced
 *     transaction inserts it pending with its slot locks and queues its
 *     update, whose worker activates it.  Slot locks keep the pool and
 *     the leases' own allocations within the blueprint's limit.
 * A build that broke makes the pool wait before the next one: 2 s after
 * the first, doubling to 300 s, counted in the `attempt` of each
 * `resource.allocated` entry, so a blueprint whose resources cannot be
 * built does not spin.
 *
 * The pass is queued by events (prewarm.h) and by itself, in its last
 * transaction, at the next idle_ttl expiry or the end of a wait.
 */
#include "blueprint/prewarm.h"
#include "core/util.h"
#include "worker/internal.h"

#include <stdio.h>
#include <string.h>

#define BACKOFF_MAX 300

/* A read, to skip hopeless write transactions: is any key held? */
static bool keys_held(struct dd_worker *w, const struct dd_slot_keys *k)
{
	for (size_t i = 0; i < k->n; i++) {
		struct dd_filter f = {0};
		struct dd_slot_lock_list l = {0};
		bool held;

		f.key = k->key[i];
		if (dd_store_slot_list(w->store, &f, &l, NULL))
			continue;
		held = l.n > 0;
		dd_slot_lock_list_release(&l);
		if (held)
			return true;
	}
	return false;
}

/* Send an idle resource a reclaim, saying why, in one transaction. */
static int let_go(struct dd_worker *w, const struct dd_lock_grant *g,
		  const struct dd_bp_handle *h, const struct dd_prewarm_idle *x,
		  double now, struct dd_error *err)
{
	const char *why = x->verdict == DD_PREWARM_TOO_MANY ? "max_idle"
							     : "idle_ttl";
	struct dd_command c = {0};
	char author[48];
	int rc;

	snprintf(author, sizeof(author), "blueprint:%lld", h->bp.id);
	c.target = (struct dd_ref){DD_OBJ_RESOURCE, x->id};
	c.kind = (char *)dd_command_kind_name(DD_CMD_RECLAIM);
	c.author = author;
	c.data = json_pack("{s:s}", "reason", why);
	rc = c.data ? dd_pass_begin(w, g, err)
		    : dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	if (!rc)
		rc = dd_store_command_insert(w->store, &c, err);
	if (!rc)
		rc = dd_pass_schedule(w, c.target, 0, err);
	if (!rc)
		rc = dd_store_log(w->store, h->bp.id, x->id, 0,
				  "blueprint.reclaim",
				  json_pack("{s:I, s:s, s:f}", "resource",
					    x->id, "reason", why, "idle",
					    now - x->since),
				  err);
	json_decref(c.data);
	if (rc) {
		dd_store_rollback(w->store);
		return rc;
	}
	return dd_pass_commit(w, err);
}

/*
 * How many builds in a row broke, from the blueprint's newest resource:
 * if it broke, one more than the `attempt` it was built as.  *at is when
 * it broke.  Reads a few log entries, whatever the blueprint's history.
 */
static int failed_builds(struct dd_worker *w, long long bp, int *failures,
			 double *at, struct dd_error *err)
{
	struct dd_filter f = {0};
	struct dd_resource_list newest = {0};
	struct dd_log_entry_list l = {0};
	long long rid;
	int rc;

	*failures = 0;
	*at = 0;
	f.blueprint = bp;
	f.limit = 1;
	f.descending = true;
	rc = dd_store_resource_list(w->store, &f, &newest, err);
	if (rc || !newest.n ||
	    (newest.items[0].status != DD_RESOURCE_BROKEN &&
	     newest.items[0].status != DD_RESOURCE_DESTROYED)) {
		dd_resource_list_release(&newest);
		return rc;
	}
	rid = newest.items[0].id;
	dd_resource_list_release(&newest);
	/*
	 * A broken resource never had a lease: its log is a few entries,
	 * and after resource.broken come at most its resource.destroyed
	 * and the lease.allocation-failure of the lease that built it.
	 */
	memset(&f, 0, sizeof(f));
	f.resource = rid;
	f.limit = 4;
	f.descending = true;
	rc = dd_store_log_list(w->store, &f, &l, err);
	for (size_t i = 0; !rc && i < l.n; i++)
		if (!strcmp(l.items[i].type, "resource.broken"))
			*at = l.items[i].time;
	dd_log_entry_list_release(&l);
	if (rc || !*at)
		return rc;
	memset(&f, 0, sizeof(f));
	f.resource = rid;
	f.type = "resource.allocated";
	f.limit = 1;
	rc = dd_store_log_list(w->store, &f, &l, err);
	if (!rc) {
		json_t *a = l.n ? json_object_get(l.items[0].data, "attempt")
				: NULL;

		*failures = 1 + (json_is_integer(a) ? (int)json_integer_value(a)
						    : 0);
	}
	dd_log_entry_list_release(&l);
	return rc;
}

/*
 * Insert one pending resource for the pool from proposal `n`: 0 when
 * built, DD_ERR_SLOT when its keys are taken, DD_ERR_NOTFOUND when the
 * type has no more proposals (the blueprint's limit).
 */
static int build_one(struct dd_worker *w, const struct dd_lock_grant *g,
		     struct dd_bp_handle *h, const struct dd_lease *req,
		     size_t n, int attempt, struct dd_error *err)
{
	const char *ptrs[DD_MAX_SLOT_KEYS];
	struct dd_resource r = {0};
	struct dd_slot_keys keys;
	struct dd_error herr = DD_ERROR_INIT;
	char counter[48];
	int rc;

	r.blueprint = h->bp.id;
	r.type = (char *)dd_bp_resource_type(h->type, h->bp.config);
	r.status = DD_RESOURCE_PENDING;
	rc = dd_bp_allocate(h->type, &h->ctx, req, n, &r, &keys, &herr);
	if (rc == DD_ERR_NOTFOUND) {
		json_decref(r.attributes);
		return rc;
	}
	if (rc) {
		/* as for a lease: noted on the blueprint, not a pass failure */
		json_decref(r.attributes);
		rc = dd_pass_begin(w, g, err);
		if (!rc)
			rc = dd_store_log(w->store, h->bp.id, 0, 0,
					  "resource.allocation-failure",
					  json_pack("{s:s, s:b}", "reason",
						    herr.msg, "pool", 1),
					  err);
		if (rc)
			dd_store_rollback(w->store);
		else
			rc = dd_pass_commit(w, err);
		return rc ? rc : DD_ERR_NOTFOUND;
	}
	if (keys_held(w, &keys)) {
		json_decref(r.attributes);
		return DD_ERR_SLOT;
	}
	for (size_t i = 0; i < keys.n; i++)
		ptrs[i] = keys.key[i];
	dd_pass_bind_machine(w, h, &r);
	rc = dd_pass_begin(w, g, err);
	if (!rc)
		rc = dd_store_resource_insert(w->store, &r, err);
	if (!rc)
		rc = dd_store_slot_acquire(
			w->store, ptrs, keys.n,
			(struct dd_ref){DD_OBJ_RESOURCE, r.id}, &herr);
	if (!rc)
		rc = dd_store_log(w->store, h->bp.id, r.id, 0,
				  "resource.allocated",
				  json_pack("{s:b, s:i}", "pool", 1, "attempt",
					    attempt),
				  err);
	if (!rc)
		rc = dd_pass_schedule(w, (struct dd_ref){DD_OBJ_RESOURCE, r.id},
				      0, err);
	if (!rc)
		rc = dd_store_counter_bump(
			w->store,
			dd_prewarm_counter_built(h->bp.id, counter,
						 sizeof(counter)),
			err);
	json_decref(r.attributes);
	if (rc) {
		dd_store_rollback(w->store);
		return rc;
	}
	/* durable before its worker runs the hook that builds it */
	return dd_pass_commit(w, err);
}

/* Build up to `want` resources; *wait_until is set if builds broke. */
static int build(struct dd_worker *w, const struct dd_lock_grant *g,
		 struct dd_bp_handle *h, size_t want, double *wait_until,
		 struct dd_error *err)
{
	struct dd_lease req = {0};
	size_t built = 0;
	double at;
	int failures, rc;

	rc = failed_builds(w, h->bp.id, &failures, &at, err);
	if (rc)
		return rc;
	if (failures) {
		double wait = failures >= 9 ? BACKOFF_MAX
					    : (double)(1 << failures);

		if (wait > BACKOFF_MAX)
			wait = BACKOFF_MAX;
		if (dd_now() < at + wait) {
			*wait_until = at + wait;
			return 0;
		}
	}
	/* the type's default: an empty request, from no lease */
	req.type = (char *)dd_bp_resource_type(h->type, h->bp.config);
	req.status = DD_LEASE_PENDING;
	req.attributes = json_object();
	if (!req.attributes)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	for (size_t n = 0; built < want; n++) {
		rc = build_one(w, g, h, &req, n, failures, err);
		if (rc == DD_ERR_SLOT)
			continue;
		if (rc)
			break;
		built++;
	}
	json_decref(req.attributes);
	return rc == DD_ERR_NOTFOUND ? 0 : rc;
}

/* Queue the next pass at `when`, ending this one's task in the same
 * transaction. */
static int schedule_next(struct dd_worker *w, const struct dd_lock_grant *g,
			 long long id, double when, struct dd_error *err)
{
	int rc = dd_pass_begin(w, g, err);

	if (!rc)
		rc = dd_pass_schedule(w, (struct dd_ref){DD_OBJ_BLUEPRINT, id},
				      when, err);
	if (rc) {
		dd_store_rollback(w->store);
		return rc;
	}
	return dd_pass_commit_final(w, err);
}

int dd_blueprint_update_locked(struct dd_worker *w,
			       const struct dd_lock_grant *g, long long id,
			       double *retry_at, struct dd_error *err)
{
	struct dd_prewarm_settings s;
	struct dd_prewarm_survey v = {0};
	struct dd_prewarm_plan plan;
	struct dd_bp_handle h;
	double now = dd_now(), wait_until = 0, next;
	int rc;

	*retry_at = 0;
	rc = dd_pass_blueprint(w, id, &h, err);
	if (rc == DD_ERR_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	if (!dd_prewarm_settings_get(h.bp.config, &s))
		goto out; /* not pooled: nothing to keep */
	/* when each went idle matters only to max_idle and idle_ttl */
	rc = dd_prewarm_survey(w->store, id, s.max_idle >= 0 || s.idle_ttl > 0,
			       &v, err);
	if (rc)
		goto out;
	dd_prewarm_plan(&s, h.bp.enabled, now, v.idle, v.n_idle, v.building,
			&plan);
	for (size_t i = 0; !rc && i < v.n_idle; i++)
		if (v.idle[i].verdict != DD_PREWARM_KEEP)
			rc = let_go(w, g, &h, &v.idle[i], now, err);
	if (!rc && plan.build)
		rc = build(w, g, &h, plan.build, &wait_until, err);
	next = plan.next;
	if (wait_until && (!next || wait_until < next))
		next = wait_until;
	if (!rc && next)
		rc = schedule_next(w, g, id, next, err);
out:
	dd_prewarm_survey_release(&v);
	dd_bp_handle_release(&h);
	return rc;
}

int dd_pass_pool_event(struct dd_worker *w, const struct dd_blueprint *bp,
		       enum dd_prewarm_event e, struct dd_error *err)
{
	struct dd_prewarm_settings s;

	if (!bp || !dd_prewarm_settings_get(bp->config, &s) ||
	    !dd_prewarm_wants(&s, e))
		return 0;
	return dd_pass_schedule(w, (struct dd_ref){DD_OBJ_BLUEPRINT, bp->id},
				0, err);
}
