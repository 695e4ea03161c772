/*
 * target_update.c - the build target's update worker: its only writer once
 * created.
 *
 * One pass, under the target's lock ("target:ID"):
 *   1. deadline: a building target past its deadline gets a finish command
 *      with result aborted, unless a finish already waits (that one is
 *      applied instead: it was accepted first);
 *   2. commands, oldest first, each consumed exactly once in the
 *      transaction that applies it, as the command table says
 *      (worker/command.c).  Applying "finish" is one transaction: the
 *      status, the finished time, every artifact marked released, a
 *      "release" command appended to the lease of every lease artifact
 *      with that lease's update queued, and the target's log entries.
 *      Each lease's own update worker then releases it; it stays that
 *      lease's only writer.  A second finish can only be ignored, and the
 *      API refuses to queue one (dd_command_accept_another()), so each
 *      lease is sent one release by its target;
 *   3. a target still building with a deadline has its update queued at
 *      the deadline: the task queue honours the delay, nothing polls.
 */
#include "worker/command.h"
#include "worker/internal.h"
#include "core/target.h"
#include "core/util.h"

#include <stdio.h>

#define DEADLINE_AUTHOR "drydock:deadline"

/* The leases a target's artifacts hold, collected before writing. */
struct lease_ids {
	long long *ids;
	size_t n, cap;
};

static int visit_artifact(void *arg, struct dd_artifact *a,
			  struct dd_error *err)
{
	struct lease_ids *l = arg;
	long long id = dd_artifact_lease(a->type, a->data);

	if (id <= 0)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		long long *ids = dd_realloc(l->ids, cap * sizeof(*ids));

		if (!ids)
			return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
		l->ids = ids;
		l->cap = cap;
	}
	l->ids[l->n++] = id;
	return 0;
}

/*
 * Send "release" to lease `id`, which an artifact of target `t` holds, and
 * queue its update; a lease that no longer takes it (released by hand,
 * broken, gone) is only noted in the target's log.
 */
static int release_lease(struct dd_apply *a, const struct dd_target *t,
			 long long id, struct dd_error *err)
{
	struct dd_ref ref = {DD_OBJ_LEASE, id};
	struct dd_lease l = {0};
	struct dd_error why = DD_ERROR_INIT;
	struct dd_command c = {0};
	char author[48];
	int rc;

	rc = dd_store_lease_get(a->w->store, id, &l, err);
	if (rc == DD_ERR_NOTFOUND)
		return dd_store_target_log(a->w->store, t->id,
					   "target.lease-gone",
					   json_pack("{s:I}", "lease", id),
					   err);
	if (rc)
		return rc;
	rc = dd_command_accept(dd_command_kind_name(DD_CMD_RELEASE), ref,
			       (int)l.status, NULL, &why);
	if (rc) {
		rc = dd_store_target_log(
			a->w->store, t->id, "target.lease-not-released",
			json_pack("{s:I, s:s}", "lease", id, "status",
				  dd_lease_status_name(l.status)),
			err);
		dd_lease_release(&l);
		return rc;
	}
	dd_lease_release(&l);
	snprintf(author, sizeof(author), "target:%lld", t->id);
	c.target = ref;
	c.kind = (char *)dd_command_kind_name(DD_CMD_RELEASE);
	c.author = author;
	rc = dd_store_command_insert(a->w->store, &c, err);
	if (!rc)
		rc = dd_pass_schedule(a->w, ref, 0, err);
	if (!rc)
		rc = dd_store_target_log(a->w->store, t->id,
					 "target.lease-released",
					 json_pack("{s:I, s:I}", "lease", id,
						   "command", c.id),
					 err);
	return rc;
}

int dd_target_apply_finish(struct dd_apply *a, struct dd_error *err)
{
	struct dd_target *t = a->target;
	json_t *reason = json_object_get(a->c->data, "reason");
	int to = dd_target_status_parse(
		json_string_value(json_object_get(a->c->data, "result")));
	struct dd_filter f = {0};
	struct lease_ids leases = {0};
	long long released = 0;
	int rc;

	/* checked when appended; a row written around the API is refused */
	if (to < 0)
		return dd_error_set(err, DD_ERR_INVALID,
				    "cannot finish target %lld: command %lld "
				    "has no result",
				    t->id, a->c->id);
	rc = dd_target_transition(t->id, &t->status,
				  (enum dd_target_status)to, err);
	if (rc)
		return rc;
	t->finished = dd_now();
	rc = dd_store_target_update(a->w->store, t, err);
	if (!rc) {
		f.target_id = t->id;
		rc = dd_store_artifact_each(a->w->store, &f, visit_artifact,
					    &leases, err);
	}
	if (!rc)
		rc = dd_store_artifact_release_all(a->w->store, t->id,
						   &released, err);
	for (size_t i = 0; !rc && i < leases.n; i++)
		rc = release_lease(a, t, leases.ids[i], err);
	if (!rc) {
		json_t *data = json_pack("{s:s, s:I, s:I}", "result",
					 dd_target_status_name(t->status),
					 "command", a->c->id,
					 "artifacts_released", released);

		if (reason)
			json_object_set(data, "reason", reason);
		if (a->c->author)
			json_object_set_new(data, "author",
					    json_string(a->c->author));
		rc = dd_store_target_log(a->w->store, t->id,
					 "target.finished", data, err);
	}
	dd_free(leases.ids);
	return rc;
}

/* Consume one command in the transaction that applies it. */
static int apply_command(struct dd_worker *w, const struct dd_lock_grant *g,
			 struct dd_target *t, const struct dd_command *c,
			 struct dd_error *err)
{
	struct dd_apply a = {.w = w, .g = g, .c = c, .target = t};
	struct dd_target before = *t;
	int rc;

	rc = dd_pass_begin(w, g, err);
	if (rc)
		return rc;
	rc = dd_command_apply(&a, (int)t->status, err);
	if (!rc)
		rc = dd_store_command_consume(w->store, c->id, a.outcome,
					      dd_now(), err);
	if (rc)
		dd_store_rollback(w->store);
	else
		rc = dd_pass_commit(w, err);
	if (rc)
		*t = before; /* the apply changed no owned member */
	return rc;
}

/* Is a finish already waiting in `cmds`? */
static bool finish_queued(const struct dd_command_list *cmds)
{
	for (size_t i = 0; i < cmds->n; i++)
		if (dd_command_kind_parse(cmds->items[i].kind) == DD_CMD_FINISH)
			return true;
	return false;
}

/*
 * The deadline passed: queue a finish as aborted, with the reason, in the
 * target's log.  Appended like anybody's command, so the pass consumes it
 * like any other, in order.
 */
static int deadline_passed(struct dd_worker *w, const struct dd_lock_grant *g,
			   const struct dd_target *t, struct dd_error *err)
{
	struct dd_command c = {0};
	char reason[96], when[32];
	int rc;

	dd_time_format(t->deadline, when);
	snprintf(reason, sizeof(reason), "deadline %s passed", when);
	c.target = (struct dd_ref){DD_OBJ_TARGET, t->id};
	c.kind = (char *)dd_command_kind_name(DD_CMD_FINISH);
	c.author = DEADLINE_AUTHOR;
	c.data = json_pack("{s:s, s:s}", "result",
			   dd_target_status_name(DD_TARGET_ABORTED), "reason",
			   reason);
	rc = dd_pass_begin(w, g, err);
	if (!rc)
		rc = dd_store_command_insert(w->store, &c, err);
	if (!rc)
		rc = dd_store_target_log(w->store, t->id, "target.deadline",
					 json_pack("{s:s}", "reason", reason),
					 err);
	json_decref(c.data);
	if (rc) {
		dd_store_rollback(w->store);
		return rc;
	}
	return dd_pass_commit(w, err);
}

static int target_pass(struct dd_worker *w, const struct dd_lock_grant *g,
		       long long id, struct dd_error *err)
{
	struct dd_target t = {0};
	struct dd_filter f = {0};
	struct dd_command_list cmds = {0};
	int rc;

	rc = dd_store_target_get(w->store, id, &t, err);
	if (rc == DD_ERR_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	f.target = (struct dd_ref){DD_OBJ_TARGET, id};
	f.pending_only = true;
	rc = dd_store_command_list(w->store, &f, &cmds, err);
	if (!rc && t.status == DD_TARGET_BUILDING && t.deadline > 0 &&
	    t.deadline <= dd_now() && !finish_queued(&cmds)) {
		rc = deadline_passed(w, g, &t, err);
		dd_command_list_release(&cmds);
		if (!rc)
			rc = dd_store_command_list(w->store, &f, &cmds, err);
	}
	for (size_t i = 0; !rc && i < cmds.n; i++)
		rc = apply_command(w, g, &t, &cmds.items[i], err);
	dd_command_list_release(&cmds);
	/* the deadline is a task due then (queued first when it was made) */
	if (!rc && t.status == DD_TARGET_BUILDING && t.deadline > 0) {
		rc = dd_pass_begin(w, g, err);
		if (!rc)
			rc = dd_pass_schedule(
				w, (struct dd_ref){DD_OBJ_TARGET, id},
				t.deadline, err);
		if (rc)
			dd_store_rollback(w->store);
		else
			rc = dd_pass_commit(w, err);
	}
	dd_target_release(&t);
	return rc;
}

int dd_target_update_locked(struct dd_worker *w,
			    const struct dd_lock_grant *g, long long id,
			    double *retry_at, struct dd_error *err)
{
	*retry_at = 0;
	return target_pass(w, g, id, err);
}
