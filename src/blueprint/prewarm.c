/*
 * prewarm.c - pre-warmed pools (prewarm.h): the settings, the decision
 * and the survey of a blueprint's resources it decides on.
 */
#include "blueprint/prewarm.h"
#include "core/model.h"
#include "core/util.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long long get_int(const json_t *config, const char *key, long long def)
{
	json_t *v = json_object_get(config, key);

	return json_is_integer(v) ? json_integer_value(v) : def;
}

bool dd_prewarm_settings_get(const json_t *config,
			     struct dd_prewarm_settings *s)
{
	s->min_ready = get_int(config, "min_ready", 0);
	s->max_idle = get_int(config, "max_idle", -1);
	s->idle_ttl = get_int(config, "idle_ttl", 0);
	return json_object_get(config, "min_ready") ||
	       json_object_get(config, "max_idle") ||
	       json_object_get(config, "idle_ttl");
}

int dd_prewarm_check_max_idle(const json_t *value, const json_t *config,
			      struct dd_error *err)
{
	struct dd_prewarm_settings s;

	(void)value;
	dd_prewarm_settings_get(config, &s);
	if (s.max_idle >= 0 && s.max_idle < s.min_ready)
		return dd_error_set(err, DD_ERR_INVALID,
				    "must be at least min_ready (%lld)",
				    s.min_ready);
	return 0;
}

bool dd_prewarm_wants(const struct dd_prewarm_settings *s,
		      enum dd_prewarm_event e)
{
	switch (e) {
	case DD_PREWARM_TAKEN:
	case DD_PREWARM_GONE:
		return s->min_ready > 0;
	case DD_PREWARM_FREED:
	case DD_PREWARM_READY:
		return s->max_idle >= 0 || s->idle_ttl > 0;
	}
	return true;
}

/* Newest idle first; equal times by id, newest first. */
static int newest_first(const void *a, const void *b)
{
	const struct dd_prewarm_idle *x = a, *y = b;

	if (x->since != y->since)
		return x->since < y->since ? 1 : -1;
	return x->id < y->id ? 1 : x->id > y->id ? -1 : 0;
}

void dd_prewarm_plan(const struct dd_prewarm_settings *s, bool enabled,
		     double now, struct dd_prewarm_idle *idle, size_t n,
		     size_t building, struct dd_prewarm_plan *out)
{
	size_t keep_min = enabled && s->min_ready > 0 ? (size_t)s->min_ready
						      : 0;
	size_t kept = 0;

	out->build = out->destroy = 0;
	out->next = 0;
	if (n > 1)
		qsort(idle, n, sizeof(*idle), newest_first);
	for (size_t i = 0; i < n; i++) {
		double expires = idle[i].since + (double)s->idle_ttl;

		if (s->max_idle >= 0 && i >= (size_t)s->max_idle)
			idle[i].verdict = DD_PREWARM_TOO_MANY;
		else if (i < keep_min || s->idle_ttl <= 0)
			idle[i].verdict = DD_PREWARM_KEEP;
		else if (expires <= now)
			idle[i].verdict = DD_PREWARM_EXPIRED;
		else
			idle[i].verdict = DD_PREWARM_KEEP;
		if (idle[i].verdict != DD_PREWARM_KEEP) {
			out->destroy++;
			continue;
		}
		kept++;
		/* one within min_ready never expires: only newer idle ones
		 * could push it out, and each such comes with a pass */
		if (i >= keep_min && s->idle_ttl > 0 &&
		    (!out->next || expires < out->next))
			out->next = expires;
	}
	if (kept + building < keep_min)
		out->build = keep_min - kept - building;
}

/* When `r` went idle: its last lease's destruction, else its activation. */
static int idle_since(struct dd_store *s, const struct dd_resource *r,
		      double *since, struct dd_error *err)
{
	static const char *const marks[] = {"lease.destroyed",
					    "resource.activated"};
	bool found = false;
	int rc = 0;

	*since = r->modified; /* not reached: an active resource has both */
	for (size_t i = 0; !found && i < sizeof(marks) / sizeof(*marks); i++) {
		struct dd_filter f = {0};
		struct dd_log_entry_list l = {0};

		f.resource = r->id;
		f.type = marks[i];
		f.limit = 1;
		f.descending = true;
		rc = dd_store_log_list(s, &f, &l, err);
		if (!rc && l.n) {
			*since = l.items[0].time;
			found = true;
		}
		dd_log_entry_list_release(&l);
		if (rc)
			break;
	}
	return rc;
}

/* Classify one active resource into the survey. */
static int survey_active(struct dd_store *s, const struct dd_resource *r,
			 bool since, struct dd_prewarm_survey *v, size_t cap,
			 struct dd_error *err)
{
	struct dd_filter f = {0};
	struct dd_command_list cmds = {0};
	struct dd_resource now = {0};
	struct dd_prewarm_idle *x;
	long long leases = 0;
	int rc;

	f.resource = r->id;
	f.status_mask = ((1u << DD_LEASE_STATUS_COUNT) - 1) &
			~(1u << DD_LEASE_DESTROYED);
	rc = dd_store_lease_count(s, &f, &leases, err);
	/* built by a pending lease that has yet to take it: that lease's */
	if (!rc && !leases) {
		memset(&f, 0, sizeof(f));
		f.allocating = r->id;
		f.status_mask = 1u << DD_LEASE_PENDING;
		rc = dd_store_lease_count(s, &f, &leases, err);
	}
	if (rc)
		return rc;
	/* a draining resource takes no lease: not ready, and not the
	   pool's to let go (it stays until released) */
	if (leases || r->draining) {
		v->busy++;
		return 0;
	}
	memset(&f, 0, sizeof(f));
	f.target = (struct dd_ref){DD_OBJ_RESOURCE, r->id};
	f.pending_only = true;
	f.limit = 1;
	rc = dd_store_command_list(s, &f, &cmds, err);
	if (!rc && cmds.n)
		v->going++;
	if (rc || cmds.n) {
		dd_command_list_release(&cmds);
		return rc;
	}
	dd_command_list_release(&cmds);
	/*
	 * The list was read before the commands: a reclaim consumed since
	 * (the command done and the resource released in one transaction)
	 * left no pending command, but the resource is no longer active.
	 * Read again, after the commands, so it is not counted idle and
	 * sent a second reclaim while the one meant to stay goes too.
	 * Left out, as the list would have left it out a moment later.
	 */
	rc = dd_store_resource_get(s, r->id, &now, err);
	if (rc == DD_ERR_NOTFOUND || (!rc && now.status != DD_RESOURCE_ACTIVE)) {
		dd_resource_release(&now);
		return 0;
	}
	dd_resource_release(&now);
	if (rc)
		return rc;
	if (v->n_idle >= cap)
		return 0; /* cannot happen: cap is the number listed */
	x = &v->idle[v->n_idle];
	x->id = r->id;
	x->since = 0;
	x->verdict = DD_PREWARM_KEEP;
	rc = since ? idle_since(s, r, &x->since, err) : 0;
	if (!rc)
		v->n_idle++;
	return rc;
}

int dd_prewarm_survey(struct dd_store *s, long long id, bool since,
		      struct dd_prewarm_survey *out, struct dd_error *err)
{
	struct dd_filter f = {0};
	struct dd_resource_list l = {0};
	int rc;

	memset(out, 0, sizeof(*out));
	f.blueprint = id;
	f.status_mask = (1u << DD_RESOURCE_PENDING) |
			(1u << DD_RESOURCE_ACTIVE);
	rc = dd_store_resource_list(s, &f, &l, err);
	if (rc)
		return rc;
	out->idle = dd_calloc(l.n ? l.n : 1, sizeof(*out->idle));
	if (!out->idle) {
		dd_resource_list_release(&l);
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; !rc && i < l.n; i++) {
		if (l.items[i].status == DD_RESOURCE_PENDING)
			out->building++;
		else
			rc = survey_active(s, &l.items[i], since, out, l.n,
					   err);
	}
	dd_resource_list_release(&l);
	if (rc)
		dd_prewarm_survey_release(out);
	return rc;
}

void dd_prewarm_survey_release(struct dd_prewarm_survey *v)
{
	dd_free(v->idle);
	memset(v, 0, sizeof(*v));
}

static json_t *int_or_null(long long v, bool set)
{
	return set ? json_integer(v) : json_null();
}

int dd_prewarm_status(struct dd_store *s, const struct dd_blueprint *bp,
		      json_t **out, struct dd_error *err)
{
	struct dd_prewarm_settings ps;
	struct dd_prewarm_survey v;
	long long built = 0, destroyed = 0;
	char name[48];
	int rc;

	*out = NULL;
	dd_prewarm_settings_get(bp->config, &ps);
	rc = dd_prewarm_survey(s, bp->id, false, &v, err);
	if (!rc)
		rc = dd_store_counter_get(
			s, dd_prewarm_counter_built(bp->id, name, sizeof(name)),
			&built, err);
	if (!rc)
		rc = dd_store_counter_get(
			s,
			dd_prewarm_counter_destroyed(bp->id, name,
						     sizeof(name)),
			&destroyed, err);
	if (rc) {
		dd_prewarm_survey_release(&v);
		return rc;
	}
	*out = json_pack(
		"{s:I, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:I}", "min_ready",
		ps.min_ready, "max_idle",
		int_or_null(ps.max_idle, ps.max_idle >= 0), "idle_ttl",
		int_or_null(ps.idle_ttl, ps.idle_ttl > 0), "ready",
		(json_int_t)v.n_idle, "in_use", (json_int_t)v.busy, "building",
		(json_int_t)v.building, "releasing", (json_int_t)v.going,
		"built", built, "destroyed", destroyed);
	dd_prewarm_survey_release(&v);
	return *out ? 0 : dd_error_set(err, DD_ERR_NOMEM, "out of memory");
}

const char *dd_prewarm_counter_built(long long id, char *buf, size_t n)
{
	snprintf(buf, n, "pool.%lld.built", id);
	return buf;
}

const char *dd_prewarm_counter_destroyed(long long id, char *buf, size_t n)
{
	snprintf(buf, n, "pool.%lld.destroyed", id);
	return buf;
}
