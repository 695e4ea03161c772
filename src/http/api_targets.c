/*
 * api_targets.c - /api/v1/targets and /api/v1/artifacts: create build
 * targets (with an idempotency key and an optional deadline), list and
 * show them (?wait=finished long-polls until the target is finished),
 * their logs, add and list their artifacts, show one artifact, and
 * finish a target (a command for its update worker, answered 202).
 *
 * A client sees and changes only its own targets; a viewer sees every
 * target; an admin does anything (DD_ACTION_TARGET_* in auth/token.h).
 * An artifact is seen by whoever sees its target.
 */
#include "api/api.h"
#include "core/input.h"
#include "http/api_v1.h"
#include "http/internal.h"
#include "http/objects.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const target_list_args[] = {"status", "owner", "limit",
					       "cursor", NULL};
static const char *const target_show_args[] = {"wait", "timeout", NULL};

#define TARGET_STATES "building, passed, failed, aborted"
#define LONG_POLL_MAX 60.0
/* A target's page shows this many of its artifacts and log entries. */
#define SHOW_ITEMS 50

/* ---- targets ------------------------------------------------------- */

static int target_status_parse(const char *s)
{
	return dd_target_status_parse(s);
}

/* The target r->params[0], if the caller may `a` it; answers if not. */
static bool target_for(struct dd_http_req *r, enum dd_action a,
		       const char *what, struct dd_target *t)
{
	struct dd_error err = DD_ERROR_INIT;
	char msg[128];

	if (dd_store_target_get(r->store, r->params[0], t, &err)) {
		dd_http_fail(r, &err);
		return false;
	}
	snprintf(msg, sizeof(msg), "%s target %lld, which %s owns", what,
		 t->id, t->owner ? t->owner : "nobody");
	if (!dd_v1_allowed(r, a, t->owner, msg)) {
		dd_target_release(t);
		return false;
	}
	return true;
}

/*
 * A deadline from "ttl": a number of seconds, or a duration as the CLI
 * takes it ("30m", "1h30m").  0 for none; false when answered.
 */
static bool ttl_field(struct dd_http_req *r, json_t *b, double *ttl)
{
	json_t *t = json_object_get(b, "ttl");
	struct dd_error err = DD_ERROR_INIT;

	*ttl = 0;
	if (!t)
		return true;
	if (json_is_number(t))
		*ttl = json_number_value(t);
	else if (!json_is_string(t) ||
		 dd_duration_parse(json_string_value(t), ttl, &err)) {
		dd_http_error(r, 400, "invalid",
			      "'ttl' must be a number of seconds or a "
			      "duration such as \"30m\"%s%s",
			      err.msg[0] ? ": " : "", err.msg);
		return false;
	}
	if (dd_duration_check(*ttl, &err)) {
		dd_http_error(r, 400, "invalid", "'ttl': %s", err.msg);
		return false;
	}
	return true;
}

static void target_create(struct dd_http_req *r)
{
	static const char *const fields[] = {"name", "ttl", NULL};
	struct dd_target_request req = {0};
	struct dd_target t = {0};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_idem key;
	bool bad = false;
	json_t *b;

	if (!dd_http_query_known(r, dd_v1_no_args))
		return;
	if (!dd_v1_allowed(r, DD_ACTION_TARGET_CREATE, NULL,
			   "create build targets"))
		return;
	b = dd_http_body_object(r, fields);
	if (!b)
		return;
	if (!dd_v1_idem_key(r, b, &key, &req.idem))
		goto out;
	req.name = dd_v1_get_string(r, b, "name", &bad);
	if (bad || !ttl_field(r, b, &req.ttl))
		goto out;
	req.owner = r->who.identity;
	if (dd_api_target_create(r->store, &req, &t, &err)) {
		dd_http_fail(r, &err);
		goto out;
	}
	snprintf(r->location, sizeof(r->location), "/api/v1/targets/%lld",
		 t.id);
	dd_http_json(r, 201, dd_target_to_json(&t));
	dd_target_release(&t);
out:
	json_decref(b);
}

static int visit_target(void *arg, struct dd_target *t, struct dd_error *err)
{
	(void)err;
	if (!dd_v1_page_room(arg))
		return 1;
	dd_v1_page_add(arg, dd_target_to_json(t), t->id);
	return 0;
}

static int walk_targets(struct dd_store *s, const struct dd_filter *f,
			struct dd_v1_page *p, struct dd_error *err)
{
	return dd_store_target_each(s, f, visit_target, p, err);
}

static void target_list(struct dd_http_req *r)
{
	struct dd_filter f = {0};

	if (!dd_http_query_known(r, target_list_args))
		return;
	if (!dd_v1_status_arg(r, target_status_parse, TARGET_STATES,
			      &f.status_mask))
		return;
	f.owner = dd_http_query(r, "owner");
	/* one who may not see every target sees its own */
	if (!dd_principal_can(&r->who, DD_ACTION_TARGET_READ, NULL)) {
		char msg[128];

		snprintf(msg, sizeof(msg), "see the targets of %.64s",
			 f.owner ? f.owner : "everyone");
		if (f.owner && !dd_v1_allowed(r, DD_ACTION_TARGET_READ,
					      f.owner, msg))
			return;
		f.owner = r->who.identity;
	}
	if (!dd_v1_page_args(r, &f, true))
		return;
	dd_v1_walk_answer(r, &f, walk_targets);
}

/*
 * The target with its newest artifacts and log entries (SHOW_ITEMS of
 * each, with a cursor to the rest) and whether a finish waits.
 */
static json_t *target_detail(struct dd_http_req *r, const struct dd_target *t,
			     struct dd_error *err)
{
	struct dd_filter af = {.target_id = t->id, .limit = SHOW_ITEMS + 1};
	struct dd_filter lf = {.target_id = t->id, .limit = SHOW_ITEMS + 1,
			       .descending = true};
	struct dd_artifact_list al = {0};
	struct dd_log_entry_list ll = {0};
	struct dd_ref ref = {DD_OBJ_TARGET, t->id};
	json_t *o, *items;
	char cursor[32];
	int rc;

	rc = dd_store_artifact_list(r->store, &af, &al, err);
	if (!rc)
		rc = dd_store_log_list(r->store, &lf, &ll, err);
	if (rc) {
		dd_artifact_list_release(&al);
		return NULL;
	}
	o = dd_target_to_json(t);
	json_object_set_new(
		o, "finishing",
		json_boolean(t->status == DD_TARGET_BUILDING &&
			     dd_http_command_queued(r->store, ref,
						    DD_CMD_FINISH)));
	items = json_array();
	for (size_t i = 0; i < al.n && i < SHOW_ITEMS; i++)
		json_array_append_new(items, dd_artifact_to_json(&al.items[i]));
	json_object_set_new(o, "artifacts", items);
	snprintf(cursor, sizeof(cursor), "%lld",
		 al.n > SHOW_ITEMS ? al.items[SHOW_ITEMS - 1].id : 0);
	json_object_set_new(o, "artifacts_next_cursor",
			    al.n > SHOW_ITEMS ? json_string(cursor)
					      : json_null());
	items = json_array();
	for (size_t i = 0; i < ll.n && i < SHOW_ITEMS; i++)
		json_array_append_new(items,
				      dd_log_entry_to_json(&ll.items[i]));
	json_object_set_new(o, "log", items);
	snprintf(cursor, sizeof(cursor), "%lld",
		 ll.n > SHOW_ITEMS ? ll.items[SHOW_ITEMS - 1].id : 0);
	json_object_set_new(o, "log_next_cursor",
			    ll.n > SHOW_ITEMS ? json_string(cursor)
					      : json_null());
	dd_artifact_list_release(&al);
	dd_log_entry_list_release(&ll);
	return o;
}

static void target_show(struct dd_http_req *r)
{
	const char *wait = dd_http_query(r, "wait");
	const char *tmo = dd_http_query(r, "timeout");
	struct dd_error err = DD_ERROR_INIT;
	struct dd_target t = {0};
	double timeout = 30;
	char object[48];
	json_t *o;

	if (!dd_http_query_known(r, target_show_args))
		return;
	if (wait && strcmp(wait, "finished"))
		return dd_http_error(r, 400, "invalid",
				     "'wait' must be 'finished', not '%.64s'",
				     wait);
	if (tmo) {
		char *end;

		errno = 0;
		timeout = strtod(tmo, &end);
		if (!*tmo || *end || errno || !isfinite(timeout) ||
		    timeout < 0 || timeout > LONG_POLL_MAX)
			return dd_http_error(r, 400, "invalid",
					     "'timeout' must be a number of "
					     "seconds from 0 to %.0f",
					     LONG_POLL_MAX);
		if (!wait)
			return dd_http_error(r, 400, "invalid",
					     "'timeout' needs 'wait'");
	}
	/* armed before the read: a change in between is not missed */
	if (wait && !r->wait_over) {
		snprintf(object, sizeof(object), "target:%lld", r->params[0]);
		dd_http_wait(r, object, r->started + timeout);
	}
	if (!target_for(r, DD_ACTION_TARGET_READ, "see", &t))
		return;
	if (wait && !r->wait_over && !dd_target_status_finished(t.status)) {
		dd_target_release(&t);
		return; /* parked: this runs again when the target changes */
	}
	o = target_detail(r, &t, &err);
	dd_target_release(&t);
	if (!o)
		return dd_http_fail(r, &err);
	dd_http_json(r, 200, o);
}

static void target_log(struct dd_http_req *r)
{
	struct dd_target t = {0};

	if (!dd_http_query_known(r, dd_v1_page_only_args))
		return;
	if (!target_for(r, DD_ACTION_TARGET_READ, "see", &t))
		return;
	dd_target_release(&t);
	dd_v1_log_list(r, DD_OBJ_TARGET);
}

static void target_finish(struct dd_http_req *r)
{
	static const char *const fields[] = {"result", "reason", NULL};
	struct dd_target t = {0};
	json_t *b;

	if (!dd_http_query_known(r, dd_v1_no_args))
		return;
	if (!target_for(r, DD_ACTION_TARGET_WRITE, "finish", &t))
		return;
	dd_target_release(&t);
	b = dd_http_body_object(r, fields);
	if (!b)
		return;
	/* the command table checks the body and refuses a second finish */
	dd_v1_send_command(r, (struct dd_ref){DD_OBJ_TARGET, r->params[0]},
			   dd_command_kind_name(DD_CMD_FINISH), b);
	json_decref(b);
}

/* ---- artifacts ----------------------------------------------------- */

static int visit_artifact(void *arg, struct dd_artifact *a,
			  struct dd_error *err)
{
	(void)err;
	if (!dd_v1_page_room(arg))
		return 1;
	dd_v1_page_add(arg, dd_artifact_to_json(a), a->id);
	return 0;
}

static int walk_artifacts(struct dd_store *s, const struct dd_filter *f,
			  struct dd_v1_page *p, struct dd_error *err)
{
	return dd_store_artifact_each(s, f, visit_artifact, p, err);
}

/* Oldest first: the order the build recorded them in. */
static void artifact_list(struct dd_http_req *r)
{
	struct dd_filter f = {0};
	struct dd_target t = {0};

	if (!dd_http_query_known(r, dd_v1_page_only_args))
		return;
	if (!target_for(r, DD_ACTION_TARGET_READ, "see", &t))
		return;
	dd_target_release(&t);
	f.target_id = r->params[0];
	if (!dd_v1_page_args(r, &f, false))
		return;
	dd_v1_walk_answer(r, &f, walk_artifacts);
}

/*
 * An artifact described in JSON: {"key", "type", "data"}, for every type
 * whose bytes are not uploaded (uri, host).  The type's row checks the
 * data (core/target.h); the library call checks a lease artifact's lease
 * in the transaction that adds it.
 */
static void artifact_add_json(struct dd_http_req *r)
{
	static const char *const fields[] = {"key", "type", "data", NULL};
	struct dd_artifact_request req = {0};
	struct dd_artifact_rules rules;
	const struct dd_artifact_type *type;
	struct dd_artifact a = {0};
	struct dd_error err = DD_ERROR_INIT;
	bool bad = false;
	json_t *b;

	b = dd_http_body_object(r, fields);
	if (!b)
		return;
	req.target = r->params[0];
	req.key = dd_v1_get_string(r, b, "key", &bad);
	req.type = dd_v1_get_string(r, b, "type", &bad);
	req.data = json_object_get(b, "data");
	if (bad)
		goto out;
	if (!req.key || !req.type) {
		dd_http_error(r, 400, "invalid",
			      "an artifact needs a 'key' and a 'type', e.g. "
			      "{\"key\": \"report\", \"type\": \"uri\", "
			      "\"data\": {\"uri\": \"https://...\"}}");
		goto out;
	}
	type = dd_artifact_type_find(req.type);
	if (type && type->content) {
		dd_http_error(r, 400, "invalid",
			      "a %s artifact's bytes are the request body: "
			      "send them with a Content-Type other than "
			      "JSON and ?key=",
			      type->name);
		goto out;
	}
	dd_artifact_rules_from_env(&rules);
	req.rules = &rules;
	req.any_lease = dd_principal_can(&r->who, DD_ACTION_TARGET_WRITE,
					 NULL);
	if (dd_api_artifact_add(r->store, &req, &a, &err)) {
		dd_http_fail(r, &err);
		goto out;
	}
	snprintf(r->location, sizeof(r->location), "/api/v1/artifacts/%lld",
		 a.id);
	dd_http_json(r, 201, dd_artifact_to_json(&a));
	dd_artifact_release(&a);
out:
	json_decref(b);
}

static void artifact_create(struct dd_http_req *r)
{
	struct dd_target t = {0};

	if (!target_for(r, DD_ACTION_TARGET_WRITE, "add artifacts to", &t))
		return;
	dd_target_release(&t);
	if (!dd_http_query_known(r, dd_v1_no_args))
		return;
	artifact_add_json(r);
}

static void artifact_show(struct dd_http_req *r)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_artifact a = {0};
	struct dd_target t = {0};
	char msg[96];
	int rc;

	if (!dd_http_query_known(r, dd_v1_no_args))
		return;
	if (dd_store_artifact_get(r->store, r->params[0], &a, &err))
		return dd_http_fail(r, &err);
	rc = dd_store_target_get(r->store, a.target, &t, &err);
	snprintf(msg, sizeof(msg), "see artifact %lld of target %lld", a.id,
		 a.target);
	if (rc)
		dd_http_fail(r, &err);
	else if (dd_v1_allowed(r, DD_ACTION_TARGET_READ, t.owner, msg))
		dd_http_json(r, 200, dd_artifact_to_json(&a));
	dd_target_release(&t);
	dd_artifact_release(&a);
}

const struct dd_http_route dd_v1_target_routes[] = {
	{"POST", "/api/v1/targets", DD_HTTP_BEARER, target_create, false},
	{"GET", "/api/v1/targets", DD_HTTP_BEARER, target_list, false},
	{"GET", "/api/v1/targets/{id}", DD_HTTP_BEARER, target_show, false},
	{"GET", "/api/v1/targets/{id}/log", DD_HTTP_BEARER, target_log, false},
	{"POST", "/api/v1/targets/{id}/finish", DD_HTTP_BEARER, target_finish,
	 false},
	{"POST", "/api/v1/targets/{id}/artifacts", DD_HTTP_BEARER,
	 artifact_create, false},
	{"GET", "/api/v1/targets/{id}/artifacts", DD_HTTP_BEARER,
	 artifact_list, false},
	{"GET", "/api/v1/artifacts/{id}", DD_HTTP_BEARER, artifact_show,
	 false},
	{NULL, NULL, 0, NULL, false},
};
