/*
 * api_resources.c - /api/v1/resources: list and show resources, their
 * logs and command queues, and release one (a command for its update
 * worker, answered 202).
 */
#include "api/api.h"
#include "http/api_v1.h"
#include "http/objects.h"

static const char *const resource_list_args[] = {
	"status", "blueprint", "type", "limit", "cursor", NULL};

/* ---- resources ----------------------------------------------------- */

static int resource_status_parse(const char *s)
{
	return dd_resource_status_parse(s);
}

/* Resources are read a row at a time too: see visit_lease(). */
static int visit_resource(void *arg, struct dd_resource *x,
			  struct dd_error *err)
{
	(void)err;
	if (!dd_v1_page_room(arg))
		return 1;
	dd_v1_page_add(arg, dd_resource_to_json(x), x->id);
	return 0;
}

static int walk_resources(struct dd_store *s, const struct dd_filter *f,
			  struct dd_v1_page *p, struct dd_error *err)
{
	return dd_store_resource_each(s, f, visit_resource, p, err);
}

static void resource_list(struct dd_http_req *r)
{
	struct dd_filter f = {0};

	if (!dd_http_query_known(r, resource_list_args))
		return;
	if (!dd_v1_status_arg(r, resource_status_parse,
			      "pending, active, released, broken, destroyed",
			      &f.status_mask))
		return;
	f.blueprint = dd_v1_arg_id(r, "blueprint");
	if (f.blueprint < 0)
		return;
	f.type = dd_http_query(r, "type");
	if (!dd_v1_page_args(r, &f, true))
		return;
	dd_v1_walk_answer(r, &f, walk_resources);
}

static void resource_show(struct dd_http_req *r)
{
	struct dd_ref ref = {DD_OBJ_RESOURCE, r->params[0]};
	struct dd_resource res = {0};
	struct dd_error err = DD_ERROR_INIT;
	json_t *o;

	if (!dd_http_query_known(r, dd_v1_no_args))
		return;
	if (dd_store_resource_get(r->store, ref.id, &res, &err))
		return dd_http_fail(r, &err);
	o = dd_resource_to_json(&res);
	json_object_set_new(o, "releasing",
			    json_boolean(dd_http_release_queued(r->store,
								ref)));
	json_object_set_new(o, "slot_locks", dd_v1_locks_json(r->store, ref));
	dd_http_json(r, 200, o);
	dd_resource_release(&res);
}

static void resource_release(struct dd_http_req *r)
{
	static const char *const fields[] = {NULL};
	json_t *b;

	if (!dd_http_query_known(r, dd_v1_no_args))
		return;
	if (!dd_v1_allowed(r, DD_ACTION_RESOURCE_RELEASE, NULL,
			   "release resources"))
		return;
	b = dd_http_body_object(r, fields);
	if (!b)
		return;
	json_decref(b);
	dd_v1_send_command(r, (struct dd_ref){DD_OBJ_RESOURCE, r->params[0]},
			   "release", NULL);
}

static void resource_drain(struct dd_http_req *r)
{
	static const char *const fields[] = {NULL};
	json_t *b;

	if (!dd_http_query_known(r, dd_v1_no_args))
		return;
	if (!dd_v1_allowed(r, DD_ACTION_RESOURCE_RELEASE, NULL,
			   "drain resources"))
		return;
	b = dd_http_body_object(r, fields);
	if (!b)
		return;
	json_decref(b);
	dd_v1_send_command(r, (struct dd_ref){DD_OBJ_RESOURCE, r->params[0]},
			   dd_command_kind_name(DD_CMD_DRAIN), NULL);
}

static void resource_log(struct dd_http_req *r)
{
	if (!dd_http_query_known(r, dd_v1_page_only_args))
		return;
	if (dd_v1_exists(r, DD_OBJ_RESOURCE))
		dd_v1_log_list(r, DD_OBJ_RESOURCE);
}

static void resource_commands(struct dd_http_req *r)
{
	if (!dd_http_query_known(r, dd_v1_page_only_args))
		return;
	if (dd_v1_exists(r, DD_OBJ_RESOURCE))
		dd_v1_command_list(r, DD_OBJ_RESOURCE);
}

const struct dd_http_route dd_v1_resource_routes[] = {
	{"GET", "/api/v1/resources", DD_HTTP_BEARER, resource_list, false},
	{"GET", "/api/v1/resources/{id}", DD_HTTP_BEARER, resource_show, false},
	{"POST", "/api/v1/resources/{id}/release", DD_HTTP_BEARER,
	 resource_release, false},
	{"POST", "/api/v1/resources/{id}/drain", DD_HTTP_BEARER,
	 resource_drain, false},
	{"GET", "/api/v1/resources/{id}/log", DD_HTTP_BEARER, resource_log, false},
	{"GET", "/api/v1/resources/{id}/commands", DD_HTTP_BEARER,
	 resource_commands, false},
	{NULL, NULL, 0, NULL, false},
};
