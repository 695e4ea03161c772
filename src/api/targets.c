/*
 * targets.c - the requester's calls for build targets and their artifacts
 * (api.h): creating a target, with its deadline queued as a task, and
 * adding an artifact, a lease artifact's lease checked in the same
 * transaction.  Finishing is a command (dd_api_send()); the target's
 * update worker (worker/target_update.c) applies it.
 */
#include "api/api.h"
#include "core/input.h"
#include "core/util.h"
#include "queue/task.h"
#include "queue/wake.h"

#include <string.h>

static int target_create(struct dd_store *s,
			 const struct dd_target_request *req,
			 struct dd_target *out, struct dd_error *err)
{
	struct dd_target t = {0};
	bool replay = false;
	int rc;

	if (req->idem) {
		rc = dd_idem_find(s, req->idem, &t.id, err);
		if (rc != DD_ERR_NOTFOUND)
			return rc ? rc
				  : out ? dd_store_target_get(s, t.id, out, err)
					: 0;
	}
	rc = dd_target_name_check(req->name, err);
	if (!rc && req->ttl)
		rc = dd_duration_check(req->ttl, err);
	if (rc)
		return rc;
	t.name = (char *)req->name;
	t.owner = (char *)req->owner;
	t.status = DD_TARGET_BUILDING;
	t.deadline = req->ttl ? dd_now() + req->ttl : 0;
	rc = dd_store_begin(s, err);
	/* the look-up that decides: a concurrent retry may have won */
	if (!rc && req->idem) {
		rc = dd_idem_find(s, req->idem, &t.id, err);
		replay = !rc;
		if (rc == DD_ERR_NOTFOUND)
			rc = 0;
	}
	if (!rc && !replay)
		rc = dd_store_target_insert(s, &t, err);
	if (!rc && !replay) {
		json_t *data = json_pack("{s:s?, s:s?}", "name", req->name,
					 "owner", req->owner);

		if (t.deadline)
			dd_json_set_time(data, "deadline", t.deadline);
		rc = dd_store_target_log(s, t.id, "target.created", data, err);
	}
	/* no scan for overdue targets: the task queue holds the delay */
	if (!rc && !replay && t.deadline)
		rc = dd_task_schedule_update(
			s, (struct dd_ref){DD_OBJ_TARGET, t.id}, t.deadline,
			err);
	if (!rc && !replay && req->idem)
		rc = dd_idem_record(s, req->idem, "target", t.id, err);
	if (rc)
		dd_store_rollback(s);
	else
		rc = dd_store_commit(s, err);
	if (rc)
		return rc;
	if (!replay && t.deadline)
		dd_wake_notify_on(s, DD_WAKE_DAEMON);
	return out ? dd_store_target_get(s, t.id, out, err) : 0;
}

/* Run again while a concurrent request with its key wins (idem.h). */
int dd_api_target_create(struct dd_store *s,
			 const struct dd_target_request *req,
			 struct dd_target *out, struct dd_error *err)
{
	int runs = 0, rc;

	do
		rc = target_create(s, req, out, err);
	while (dd_idem_again(req->idem, rc, &runs));
	return rc;
}

/* May target `t` hold lease `id`?  Read in the adding transaction. */
static int check_lease(struct dd_store *s, const struct dd_target *t,
		       const struct dd_artifact_request *req, long long id,
		       struct dd_error *err)
{
	struct dd_lease l = {0};
	int rc = dd_store_lease_get(s, id, &l, err);

	if (rc == DD_ERR_NOTFOUND)
		return dd_error_set(err, DD_ERR_INVALID,
				    "%s artifact: lease %lld does not exist",
				    req->type, id);
	if (rc)
		return rc;
	/*
	 * Finishing the target releases this lease: only the lease's owner
	 * may tie it to a build (the original let any lease be named).
	 */
	if (!req->any_lease &&
	    (!l.owner || !t->owner || strcmp(l.owner, t->owner)))
		rc = dd_error_set(err, DD_ERR_INVALID,
				  "%s artifact: lease %lld belongs to '%s', "
				  "not to target %lld's owner '%s'",
				  req->type, id, l.owner ? l.owner : "nobody",
				  t->id, t->owner ? t->owner : "nobody");
	else if (!dd_lease_status_live(l.status))
		rc = dd_error_set(err, DD_ERR_STATE,
				  "%s artifact: lease %lld is already %s",
				  req->type, id,
				  dd_lease_status_name(l.status));
	dd_lease_release(&l);
	return rc;
}

int dd_api_artifact_add(struct dd_store *s,
			const struct dd_artifact_request *req,
			struct dd_artifact *out, struct dd_error *err)
{
	const struct dd_artifact_type *type = dd_artifact_type_find(req->type);
	struct dd_artifact a = {0};
	struct dd_target t = {0};
	long long lease;
	int rc;

	rc = dd_artifact_key_check(req->key, err);
	if (!rc)
		rc = dd_artifact_data_check(req->type, req->data, req->rules,
					    err);
	if (rc)
		return rc;
	lease = dd_artifact_lease(req->type, req->data);
	rc = dd_store_begin(s, err);
	/* held: a finish either came first or sees this artifact (store.h) */
	if (!rc)
		rc = dd_store_target_hold(s, req->target, &t, err);
	if (!rc && t.status != DD_TARGET_BUILDING)
		rc = dd_error_set(err, DD_ERR_STATE,
				  "cannot add an artifact to target %lld: it "
				  "is already %s",
				  t.id, dd_target_status_name(t.status));
	if (!rc && lease)
		rc = check_lease(s, &t, req, lease, err);
	a.target = req->target;
	a.key = (char *)req->key;
	a.type = (char *)type->name;
	a.data = req->data ? req->data : json_object();
	a.complete = !type->content;
	if (!rc)
		rc = dd_store_artifact_insert(s, &a, err);
	if (rc == DD_ERR_EXISTS)
		rc = dd_error_set(err, DD_ERR_EXISTS,
				  "target %lld already has an artifact with "
				  "key '%s'",
				  req->target, req->key);
	if (!rc)
		rc = dd_store_target_log(s, t.id, "artifact.added",
					 json_pack("{s:I, s:s, s:s}",
						   "artifact", a.id, "key",
						   req->key, "type",
						   type->name),
					 err);
	if (!req->data)
		json_decref(a.data);
	dd_target_release(&t);
	if (rc) {
		dd_store_rollback(s);
		return rc;
	}
	rc = dd_store_commit(s, err);
	if (rc)
		return rc;
	return out ? dd_store_artifact_get(s, a.id, out, err) : 0;
}
