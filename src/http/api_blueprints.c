/*
 * api_blueprints.c - /api/v1/blueprints: list, show, create (with an
 * idempotency key) and edit blueprints.  Creating and editing need the
 * blueprint-write action (admins).
 */
#include "api/api.h"
#include "blueprint/prewarm.h"
#include "http/api_v1.h"

#include <stdio.h>

static const char *const blueprint_list_args[] = {"type", "limit", "cursor",
						  NULL};

/* ---- blueprints ---------------------------------------------------- */

static void blueprint_list(struct dd_http_req *r)
{
	struct dd_filter f = {0};
	struct dd_blueprint_list l = {0};
	struct dd_error err = DD_ERROR_INIT;

	if (!dd_http_query_known(r, blueprint_list_args))
		return;
	f.type = dd_http_query(r, "type");
	if (!dd_v1_page_args(r, &f, true))
		return;
	if (dd_store_blueprint_list(r->store, &f, &l, &err))
		return dd_http_fail(r, &err);
	DD_V1_LIST_ANSWER(r, l, f, dd_blueprint_to_json);
	dd_blueprint_list_release(&l);
}

/* One blueprint, with its pool (blueprint/prewarm.h); lists leave it out. */
static void blueprint_show(struct dd_http_req *r)
{
	struct dd_blueprint bp = {0};
	struct dd_error err = DD_ERROR_INIT;
	json_t *o, *pool;

	if (!dd_http_query_known(r, dd_v1_no_args))
		return;
	if (dd_store_blueprint_get(r->store, r->params[0], &bp, &err))
		return dd_http_fail(r, &err);
	if (dd_prewarm_status(r->store, &bp, &pool, &err)) {
		dd_blueprint_release(&bp);
		return dd_http_fail(r, &err);
	}
	o = dd_blueprint_to_json(&bp);
	json_object_set_new(o, "pool", pool);
	dd_http_json(r, 200, o);
	dd_blueprint_release(&bp);
}

static void blueprint_create(struct dd_http_req *r)
{
	static const char *const fields[] = {"type", "name", "config",
					     "enabled", NULL};
	struct dd_blueprint bp = {0};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_idem key, *idem;
	const char *type, *name;
	char where[64];
	bool bad = false;
	json_t *b, *config;
	int enabled;

	if (!dd_http_query_known(r, dd_v1_no_args))
		return;
	if (!dd_v1_allowed(r, DD_ACTION_BLUEPRINT_WRITE, NULL,
			   "create blueprints"))
		return;
	b = dd_http_body_object(r, fields);
	if (!b)
		return;
	type = dd_v1_get_string(r, b, "type", &bad);
	name = dd_v1_get_string(r, b, "name", &bad);
	enabled = dd_v1_get_bool(r, b, "enabled", &bad);
	config = json_object_get(b, "config");
	if (bad)
		goto out;
	if (!type || !name || !config) {
		dd_http_error(r, 400, "invalid",
			      "a blueprint needs 'type', 'name' and 'config'");
		goto out;
	}
	if (!dd_v1_idem_key(r, b, &key, &idem))
		goto out;
	/* a retry answers with the blueprint as it is now */
	if (dd_api_blueprint_create_idem(r->store, type, name, config,
					 enabled != 0, idem, &bp, &err)) {
		dd_http_fail(r, &err);
		goto out;
	}
	snprintf(where, sizeof(where), "/api/v1/blueprints/%lld", bp.id);
	snprintf(r->location, sizeof(r->location), "%s", where);
	dd_http_json(r, 201, dd_blueprint_to_json(&bp));
out:
	dd_blueprint_release(&bp);
	json_decref(b);
}

static void blueprint_edit(struct dd_http_req *r)
{
	static const char *const fields[] = {"name", "config", "enabled",
					     NULL};
	struct dd_blueprint bp = {0};
	struct dd_error err = DD_ERROR_INIT;
	bool bad = false;
	const char *name;
	json_t *b, *config;
	int enabled;

	if (!dd_http_query_known(r, dd_v1_no_args))
		return;
	if (!dd_v1_allowed(r, DD_ACTION_BLUEPRINT_WRITE, NULL,
			   "edit blueprints"))
		return;
	b = dd_http_body_object(r, fields);
	if (!b)
		return;
	name = dd_v1_get_string(r, b, "name", &bad);
	enabled = dd_v1_get_bool(r, b, "enabled", &bad);
	config = json_object_get(b, "config");
	if (!bad && !name && !config && enabled < 0)
		dd_http_error(r, 400, "invalid",
			      "nothing to change: give 'name', 'config' or "
			      "'enabled'");
	else if (!bad && dd_api_blueprint_edit(r->store, r->params[0], name,
					       config, enabled, &bp, &err))
		dd_http_fail(r, &err);
	else if (!bad)
		dd_http_json(r, 200, dd_blueprint_to_json(&bp));
	dd_blueprint_release(&bp);
	json_decref(b);
}

const struct dd_http_route dd_v1_blueprint_routes[] = {
	{"GET", "/api/v1/blueprints", DD_HTTP_BEARER, blueprint_list, false},
	{"POST", "/api/v1/blueprints", DD_HTTP_BEARER, blueprint_create, false},
	{"GET", "/api/v1/blueprints/{id}", DD_HTTP_BEARER, blueprint_show, false},
	{"PATCH", "/api/v1/blueprints/{id}", DD_HTTP_BEARER, blueprint_edit, false},
	{NULL, NULL, 0, NULL, false},
};
