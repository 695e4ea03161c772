/*
 * api_v1.c - the JSON API under /api/v1.
 *
 * Every handler checks the caller's role first, then its input, and
 * changes nothing when it refuses.  Like the CLI, the API never writes a
 * lease or resource that exists: creating a lease inserts it pending, and
 * release and extend append a command for the object's update worker, so
 * they answer 202 with the queued command.  docs/http-api.md documents
 * each endpoint with an example.
 */
#include "api/api.h"
#include "api/idem.h"
#include "core/input.h"
#include "http/exec.h"
#include "http/http.h"
#include "http/internal.h"
#include "http/objects.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The query arguments each endpoint takes; any other is refused. */
static const char *const no_args[] = {NULL};
static const char *const blueprint_list_args[] = {"type", "limit", "cursor",
						  NULL};
static const char *const resource_list_args[] = {
	"status", "blueprint", "type", "limit", "cursor", NULL};
static const char *const page_only_args[] = {"limit", "cursor", NULL};
static const char *const lease_list_args[] = {
	"status", "owner", "type", "resource", "limit", "cursor", NULL};
static const char *const lease_show_args[] = {"wait", "timeout", NULL};

#define PAGE_DEFAULT 50
#define PAGE_MAX 500
#define LONG_POLL_MAX 60.0

static bool allowed(struct dd_http_req *r, enum dd_action a, const char *owner,
		    const char *what)
{
	if (dd_principal_can(&r->who, a, owner))
		return true;
	dd_http_error(r, 403, "forbidden", "%s (role %s) may not %s",
		      r->who.identity, dd_role_name(r->who.role), what);
	return false;
}

/* ---- query arguments ----------------------------------------------- */

/* A positive integer argument; 0 when absent, -1 (answered) when bad. */
static long long arg_id(struct dd_http_req *r, const char *key)
{
	const char *v = dd_http_query(r, key);
	char *end;
	long long id;

	if (!v)
		return 0;
	errno = 0;
	id = strtoll(v, &end, 10);
	if (!*v || *end || errno || id <= 0) {
		dd_http_error(r, 400, "invalid",
			      "'%s' must be a positive integer, not '%.64s'",
			      key, v);
		return -1;
	}
	return id;
}

/*
 * The page a list asks for: ?limit=N (1..PAGE_MAX) and ?cursor=C, the
 * next_cursor of the previous page.  Returns false when answered.
 */
static bool page_args(struct dd_http_req *r, struct dd_filter *f,
		      bool newest_first)
{
	long long limit = PAGE_DEFAULT, cursor = 0;
	const char *v = dd_http_query(r, "limit");

	if (v) {
		char *end;

		errno = 0;
		limit = strtoll(v, &end, 10);
		if (!*v || *end || errno || limit < 1 || limit > PAGE_MAX) {
			dd_http_error(r, 400, "invalid",
				      "'limit' must be a number from 1 to "
				      "%d, not '%.64s'",
				      PAGE_MAX, v);
			return false;
		}
	}
	cursor = arg_id(r, "cursor");
	if (cursor < 0)
		return false;
	f->limit = (size_t)limit + 1; /* one more tells if there is more */
	f->descending = newest_first;
	if (newest_first)
		f->before_id = cursor;
	else
		f->after_id = cursor;
	return true;
}

/* ?status=a,b as a mask, with `parse` for one name; false when answered. */
static bool status_arg(struct dd_http_req *r, int (*parse)(const char *),
		       const char *valid, unsigned *mask)
{
	const char *v = dd_http_query(r, "status");
	char name[32];

	*mask = 0;
	if (!v)
		return true;
	/* every name counts: "active," must not read as "active" or all */
	for (const char *p = v;; p++) {
		size_t n = strcspn(p, ",");
		int st = -1;

		if (n < sizeof(name)) {
			memcpy(name, p, n);
			name[n] = '\0';
			st = parse(name);
		}
		if (st < 0) {
			dd_http_error(r, 400, "invalid",
				      "unknown status '%.*s' (known: %s)",
				      (int)(n < 64 ? n : 64), p, valid);
			return false;
		}
		*mask |= 1u << st;
		p += n;
		if (!*p)
			return true;
	}
}

/*
 * A page of a list, built an object at a time.  It ends at `limit`
 * objects or once its objects take PAGE_BYTES as JSON, whichever comes
 * first: an object can hold 64 KiB (a lease's attributes, a blueprint's
 * config), and 500 of them made a 33 MB answer that cost serve 100 MB of
 * memory while it was built.  The object after the page tells that there
 * is more, and next_cursor goes on from the last object the page holds,
 * so paging by the cursor still gives every object once.
 */
#define PAGE_BYTES (1024 * 1024)

struct page {
	json_t *items;
	size_t limit;	/* objects at most */
	size_t bytes;	/* the items as compact JSON */
	long long last; /* the last item's id */
	bool more;	/* an object follows the page */
};

/* Start the page `f` asks for (page_args); false when out of memory. */
static bool page_init(struct page *p, const struct dd_filter *f)
{
	*p = (struct page){.items = json_array(), .limit = f->limit - 1};
	return p->items != NULL;
}

/*
 * Is there room for one more object?  When not, that object shows there
 * is more: the walk should stop.
 */
static bool page_room(struct page *p)
{
	if (json_array_size(p->items) < p->limit && p->bytes < PAGE_BYTES)
		return true;
	p->more = true;
	return false;
}

/* Append `item` (taken over), the rendering of object `id`. */
static void page_add(struct page *p, json_t *item, long long id)
{
	p->bytes += json_dumpb(item, NULL, 0, JSON_COMPACT);
	p->last = id;
	json_array_append_new(p->items, item);
}

/* Answer {"items": [...], "next_cursor": "ID" or null}. */
static void page_answer(struct dd_http_req *r, struct page *p)
{
	char cursor[32];
	json_t *next = json_null();

	if (p->more) {
		snprintf(cursor, sizeof(cursor), "%lld", p->last);
		next = json_string(cursor);
	}
	dd_http_json(r, 200,
		     json_pack("{s:o,s:o}", "items", p->items, "next_cursor",
			       next));
}

/* Answer a collected list as a page of `to_json` renderings. */
#define LIST_ANSWER(r, list, f, to_json)                                       \
	do {                                                                   \
		struct page p_;                                                \
		if (!page_init(&p_, &(f))) {                                   \
			dd_http_error(r, 500, "out_of_memory",                 \
				      "out of memory");                        \
			break;                                                 \
		}                                                              \
		for (size_t i_ = 0; i_ < (list).n && page_room(&p_); i_++)     \
			page_add(&p_, to_json(&(list).items[i_]),              \
				 (list).items[i_].id);                         \
		page_answer(r, &p_);                                           \
	} while (0)

/*
 * Leases and resources are read a row at a time (dd_store_*_each), so a
 * page costs the memory of what it holds, not of `limit` rows.
 */
static int visit_lease(void *arg, struct dd_lease *l, struct dd_error *err)
{
	(void)err;
	if (!page_room(arg))
		return 1;
	page_add(arg, dd_lease_to_json(l), l->id);
	return 0;
}

static int visit_resource(void *arg, struct dd_resource *x,
			  struct dd_error *err)
{
	(void)err;
	if (!page_room(arg))
		return 1;
	page_add(arg, dd_resource_to_json(x), x->id);
	return 0;
}

static int walk_leases(struct dd_store *s, const struct dd_filter *f,
		       struct page *p, struct dd_error *err)
{
	return dd_store_lease_each(s, f, visit_lease, p, err);
}

static int walk_resources(struct dd_store *s, const struct dd_filter *f,
			  struct page *p, struct dd_error *err)
{
	return dd_store_resource_each(s, f, visit_resource, p, err);
}

/* Answer the page `f` asks for, read by `walk`. */
static void walk_answer(struct dd_http_req *r, const struct dd_filter *f,
			int (*walk)(struct dd_store *, const struct dd_filter *,
				    struct page *, struct dd_error *))
{
	struct dd_error err = DD_ERROR_INIT;
	struct page p;

	if (!page_init(&p, f))
		return dd_http_error(r, 500, "out_of_memory", "out of memory");
	if (walk(r->store, f, &p, &err) < 0) {
		json_decref(p.items);
		return dd_http_fail(r, &err);
	}
	page_answer(r, &p);
}

/* ---- idempotency keys ---------------------------------------------- */

/*
 * The create's Idempotency-Key header, bound to the caller, the method and
 * path, and the parsed body `b` (api/idem.h): *out is `k` when there is
 * one, NULL when there is none.  Returns false when answered (400 for a
 * key that is empty, too long, not printable ASCII or sent twice).
 */
static bool idem_key(struct dd_http_req *r, json_t *b, struct dd_idem *k,
		     struct dd_idem **out)
{
	const char *key = dd_http_header(r, "Idempotency-Key");
	struct dd_error err = DD_ERROR_INIT;
	char request[64];

	*out = NULL;
	if (!key)
		return true;
	/* two keys: which one a proxy passes on, or joins, is anyone's guess */
	if (dd_http_header_count(r, "Idempotency-Key") > 1) {
		dd_http_error(r, 400, "invalid",
			      "the Idempotency-Key header is given twice");
		return false;
	}
	snprintf(request, sizeof(request), "%s %s", r->method, r->path);
	if (dd_idem_init(k, key, r->who.identity, request, b, &err)) {
		dd_http_fail(r, &err);
		return false;
	}
	*out = k;
	return true;
}

/* ---- who am I ------------------------------------------------------ */

static void whoami(struct dd_http_req *r)
{
	if (!dd_http_query_known(r, no_args))
		return;
	dd_http_json(r, 200,
		     json_pack("{s:s,s:s,s:I}", "identity", r->who.identity,
			       "role", dd_role_name(r->who.role), "token",
			       (json_int_t)r->who.token_id));
}

/* ---- blueprints ---------------------------------------------------- */

static void blueprint_list(struct dd_http_req *r)
{
	struct dd_filter f = {0};
	struct dd_blueprint_list l = {0};
	struct dd_error err = DD_ERROR_INIT;

	if (!dd_http_query_known(r, blueprint_list_args))
		return;
	f.type = dd_http_query(r, "type");
	if (!page_args(r, &f, true))
		return;
	if (dd_store_blueprint_list(r->store, &f, &l, &err))
		return dd_http_fail(r, &err);
	LIST_ANSWER(r, l, f, dd_blueprint_to_json);
	dd_blueprint_list_release(&l);
}

static void blueprint_show(struct dd_http_req *r)
{
	struct dd_blueprint bp = {0};
	struct dd_error err = DD_ERROR_INIT;

	if (!dd_http_query_known(r, no_args))
		return;
	if (dd_store_blueprint_get(r->store, r->params[0], &bp, &err))
		return dd_http_fail(r, &err);
	dd_http_json(r, 200, dd_blueprint_to_json(&bp));
	dd_blueprint_release(&bp);
}

/* A string field, or NULL; *bad is set (and answered) on a wrong type. */
static const char *get_string(struct dd_http_req *r, json_t *o,
			      const char *key, bool *bad)
{
	json_t *v = json_object_get(o, key);

	if (!v || *bad)
		return NULL;
	if (!json_is_string(v) ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		dd_http_error(r, 400, "invalid",
			      "'%s' must be a string without NUL characters",
			      key);
		*bad = true;
		return NULL;
	}
	return json_string_value(v);
}

static int get_bool(struct dd_http_req *r, json_t *o, const char *key,
		    bool *bad)
{
	json_t *v = json_object_get(o, key);

	if (!v || *bad)
		return -1;
	if (!json_is_boolean(v)) {
		dd_http_error(r, 400, "invalid", "'%s' must be true or false",
			      key);
		*bad = true;
		return -1;
	}
	return json_is_true(v);
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

	if (!dd_http_query_known(r, no_args))
		return;
	if (!allowed(r, DD_ACTION_BLUEPRINT_WRITE, NULL,
		     "create blueprints"))
		return;
	b = dd_http_body_object(r, fields);
	if (!b)
		return;
	type = get_string(r, b, "type", &bad);
	name = get_string(r, b, "name", &bad);
	enabled = get_bool(r, b, "enabled", &bad);
	config = json_object_get(b, "config");
	if (bad)
		goto out;
	if (!type || !name || !config) {
		dd_http_error(r, 400, "invalid",
			      "a blueprint needs 'type', 'name' and 'config'");
		goto out;
	}
	if (!idem_key(r, b, &key, &idem))
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

	if (!dd_http_query_known(r, no_args))
		return;
	if (!allowed(r, DD_ACTION_BLUEPRINT_WRITE, NULL, "edit blueprints"))
		return;
	b = dd_http_body_object(r, fields);
	if (!b)
		return;
	name = get_string(r, b, "name", &bad);
	enabled = get_bool(r, b, "enabled", &bad);
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

/* ---- resources ----------------------------------------------------- */

static int resource_status_parse(const char *s)
{
	return dd_resource_status_parse(s);
}

static void resource_list(struct dd_http_req *r)
{
	struct dd_filter f = {0};

	if (!dd_http_query_known(r, resource_list_args))
		return;
	if (!status_arg(r, resource_status_parse,
			"pending, active, released, broken, destroyed",
			&f.status_mask))
		return;
	f.blueprint = arg_id(r, "blueprint");
	if (f.blueprint < 0)
		return;
	f.type = dd_http_query(r, "type");
	if (!page_args(r, &f, true))
		return;
	walk_answer(r, &f, walk_resources);
}

/* The slot locks `owner` holds, as a JSON array of keys. */
static json_t *locks_json(struct dd_store *s, struct dd_ref owner)
{
	struct dd_filter f = {.target = owner};
	struct dd_slot_lock_list l = {0};
	json_t *a = json_array();

	if (dd_store_slot_list(s, &f, &l, NULL))
		return a;
	for (size_t i = 0; i < l.n; i++)
		json_array_append_new(a, json_string(l.items[i].key));
	dd_slot_lock_list_release(&l);
	return a;
}

static void resource_show(struct dd_http_req *r)
{
	struct dd_ref ref = {DD_OBJ_RESOURCE, r->params[0]};
	struct dd_resource res = {0};
	struct dd_error err = DD_ERROR_INIT;
	json_t *o;

	if (!dd_http_query_known(r, no_args))
		return;
	if (dd_store_resource_get(r->store, ref.id, &res, &err))
		return dd_http_fail(r, &err);
	o = dd_resource_to_json(&res);
	json_object_set_new(o, "releasing",
			    json_boolean(dd_http_release_queued(r->store,
								ref)));
	json_object_set_new(o, "slot_locks", locks_json(r->store, ref));
	dd_http_json(r, 200, o);
	dd_resource_release(&res);
}

/* Append `kind` to `target` and answer 202 with the command. */
static void send_command(struct dd_http_req *r, struct dd_ref target,
			 const char *kind, json_t *data)
{
	struct dd_command c = {0};
	struct dd_error err = DD_ERROR_INIT;

	if (dd_api_send(r->store, target, kind, r->who.identity, data, &c,
			&err))
		return dd_http_fail(r, &err);
	dd_http_json(r, 202,
		     json_pack("{s:o}", "command", dd_command_to_json(&c)));
	dd_command_release(&c);
}

static void resource_release(struct dd_http_req *r)
{
	static const char *const fields[] = {NULL};
	json_t *b;

	if (!dd_http_query_known(r, no_args))
		return;
	if (!allowed(r, DD_ACTION_RESOURCE_RELEASE, NULL,
		     "release resources"))
		return;
	b = dd_http_body_object(r, fields);
	if (!b)
		return;
	json_decref(b);
	send_command(r, (struct dd_ref){DD_OBJ_RESOURCE, r->params[0]},
		     "release", NULL);
}

/* ---- logs and command queues --------------------------------------- */

/* Newest first, as `drydock show` and the web pages: the recent past. */
static void log_list(struct dd_http_req *r, enum dd_obj_kind kind)
{
	struct dd_filter f = {0};
	struct dd_log_entry_list l = {0};
	struct dd_error err = DD_ERROR_INIT;

	if (kind == DD_OBJ_LEASE)
		f.lease = r->params[0];
	else
		f.resource = r->params[0];
	if (!page_args(r, &f, true))
		return;
	if (dd_store_log_list(r->store, &f, &l, &err))
		return dd_http_fail(r, &err);
	LIST_ANSWER(r, l, f, dd_log_entry_to_json);
	dd_log_entry_list_release(&l);
}

static void command_list(struct dd_http_req *r, enum dd_obj_kind kind)
{
	struct dd_filter f = {.target = {kind, r->params[0]}};
	struct dd_command_list l = {0};
	struct dd_error err = DD_ERROR_INIT;

	if (!page_args(r, &f, false))
		return;
	if (dd_store_command_list(r->store, &f, &l, &err))
		return dd_http_fail(r, &err);
	LIST_ANSWER(r, l, f, dd_command_to_json);
	dd_command_list_release(&l);
}

/* The object must exist for its log or queue to be asked for. */
static bool exists(struct dd_http_req *r, enum dd_obj_kind kind)
{
	struct dd_error err = DD_ERROR_INIT;
	int rc;

	if (kind == DD_OBJ_LEASE) {
		struct dd_lease l = {0};

		rc = dd_store_lease_get(r->store, r->params[0], &l, &err);
		dd_lease_release(&l);
	} else {
		struct dd_resource x = {0};

		rc = dd_store_resource_get(r->store, r->params[0], &x, &err);
		dd_resource_release(&x);
	}
	if (rc)
		dd_http_fail(r, &err);
	return !rc;
}

static void lease_log(struct dd_http_req *r)
{
	if (!dd_http_query_known(r, page_only_args))
		return;
	if (exists(r, DD_OBJ_LEASE))
		log_list(r, DD_OBJ_LEASE);
}

static void resource_log(struct dd_http_req *r)
{
	if (!dd_http_query_known(r, page_only_args))
		return;
	if (exists(r, DD_OBJ_RESOURCE))
		log_list(r, DD_OBJ_RESOURCE);
}

static void lease_commands(struct dd_http_req *r)
{
	if (!dd_http_query_known(r, page_only_args))
		return;
	if (exists(r, DD_OBJ_LEASE))
		command_list(r, DD_OBJ_LEASE);
}

static void resource_commands(struct dd_http_req *r)
{
	if (!dd_http_query_known(r, page_only_args))
		return;
	if (exists(r, DD_OBJ_RESOURCE))
		command_list(r, DD_OBJ_RESOURCE);
}

/* ---- leases -------------------------------------------------------- */

static int lease_status_parse(const char *s)
{
	return dd_lease_status_parse(s);
}

#define LEASE_STATES "pending, acquired, active, released, broken, destroyed"

/*
 * A lease expiry from "until" (a time as core/input.h reads them) or "ttl"
 * (a number of seconds from now); 0 for none.  Returns false when answered.
 */
static bool expiry_fields(struct dd_http_req *r, json_t *b, double *until,
			  bool required)
{
	json_t *u = json_object_get(b, "until"), *t = json_object_get(b, "ttl");
	struct dd_error err = DD_ERROR_INIT;
	double now = dd_now();

	*until = 0;
	if (u && t) {
		dd_http_error(r, 400, "invalid",
			      "give 'until' or 'ttl', not both");
		return false;
	}
	if (u && !json_is_string(u)) {
		dd_http_error(r, 400, "invalid",
			      "'until' must be a string such as "
			      "\"2026-12-01T10:00:00Z\" or \"+2h\"");
		return false;
	}
	if (t && !json_is_number(t)) {
		dd_http_error(r, 400, "invalid",
			      "'ttl' must be a number of seconds");
		return false;
	}
	if ((u && (dd_time_parse(json_string_value(u), now, until, &err) ||
		   dd_expiry_check(*until, now, &err))) ||
	    (t && dd_duration_check(json_number_value(t), &err))) {
		dd_http_error(r, 400, "invalid", "'%s': %s",
			      u ? "until" : "ttl", err.msg);
		return false;
	}
	if (t)
		*until = now + json_number_value(t);
	else if (!u && required) {
		dd_http_error(r, 400, "invalid", "give 'until' or 'ttl'");
		return false;
	}
	return true;
}

static void lease_create(struct dd_http_req *r)
{
	static const char *const fields[] = {"type", "attributes",
					     "blueprints", "until", "ttl",
					     NULL};
	struct dd_lease_request req = {0};
	struct dd_lease l = {0};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_idem key;
	bool bad = false;
	long long id;
	json_t *b;
	int rc;

	if (!dd_http_query_known(r, no_args))
		return;
	if (!allowed(r, DD_ACTION_LEASE_CREATE, NULL, "create leases"))
		return;
	b = dd_http_body_object(r, fields);
	if (!b)
		return;
	if (!idem_key(r, b, &key, &req.idem))
		goto out;
	/* a retry gets its lease even if its expiry has passed since */
	if (req.idem) {
		rc = dd_idem_find(r->store, req.idem, &id, &err);
		if (!rc)
			rc = dd_store_lease_get(r->store, id, &l, &err);
		if (!rc)
			goto created;
		if (rc != DD_ERR_NOTFOUND) {
			dd_http_fail(r, &err);
			goto out;
		}
	}
	req.type = get_string(r, b, "type", &bad);
	if (bad)
		goto out;
	if (!req.type) {
		dd_http_error(r, 400, "invalid",
			      "a lease needs a resource 'type', e.g. "
			      "{\"type\": \"host\"}");
		goto out;
	}
	req.attributes = json_object_get(b, "attributes");
	req.blueprints = json_object_get(b, "blueprints");
	if (req.attributes && json_is_null(req.attributes))
		req.attributes = NULL;
	if (req.blueprints && json_is_null(req.blueprints))
		req.blueprints = NULL;
	if (!expiry_fields(r, b, &req.until, false))
		goto out;
	req.owner = r->who.identity;
	if (dd_api_lease_create(r->store, &req, &l, &err)) {
		/* a blueprint the body names that does not exist: 400 */
		if (err.code == DD_ERR_NOTFOUND)
			err.code = DD_ERR_INVALID;
		dd_http_fail(r, &err);
		goto out;
	}
created:
	snprintf(r->location, sizeof(r->location), "/api/v1/leases/%lld",
		 l.id);
	dd_http_json(r, 201, dd_lease_to_json(&l));
	dd_lease_release(&l);
out:
	json_decref(b);
}

static void lease_list(struct dd_http_req *r)
{
	struct dd_filter f = {0};

	if (!dd_http_query_known(r, lease_list_args))
		return;
	if (!status_arg(r, lease_status_parse, LEASE_STATES, &f.status_mask))
		return;
	f.owner = dd_http_query(r, "owner");
	f.type = dd_http_query(r, "type");
	f.resource = arg_id(r, "resource");
	if (f.resource < 0)
		return;
	if (!page_args(r, &f, true))
		return;
	walk_answer(r, &f, walk_leases);
}

/*
 * Has a lease in `now` reached `want`, or ended so that it never will?
 * Leases go pending, acquired, active, released, destroyed; broken ends a
 * lease early.
 */
bool dd_http_lease_reached(enum dd_lease_status now,
			   enum dd_lease_status want)
{
	static const int rank[] = {
		[DD_LEASE_PENDING] = 0,	 [DD_LEASE_ACQUIRED] = 1,
		[DD_LEASE_ACTIVE] = 2,	 [DD_LEASE_RELEASED] = 3,
		[DD_LEASE_BROKEN] = 3,	 [DD_LEASE_DESTROYED] = 4,
	};

	if (now == want || now == DD_LEASE_DESTROYED)
		return true;
	if (now == DD_LEASE_BROKEN) /* it ends here, then is destroyed */
		return want != DD_LEASE_DESTROYED;
	return rank[now] >= rank[want] && want != DD_LEASE_BROKEN;
}

static json_t *lease_detail(struct dd_http_req *r, const struct dd_lease *l)
{
	struct dd_ref ref = {DD_OBJ_LEASE, l->id};
	json_t *o = dd_lease_to_json(l);

	json_object_set_new(o, "releasing",
			    json_boolean(dd_http_release_queued(r->store,
								ref)));
	json_object_set_new(o, "slot_locks", locks_json(r->store, ref));
	return o;
}

static void lease_show(struct dd_http_req *r)
{
	const char *wait = dd_http_query(r, "wait");
	const char *tmo = dd_http_query(r, "timeout");
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease l = {0};
	char object[48];
	double timeout = 30;
	int want = -1;

	if (!dd_http_query_known(r, lease_show_args))
		return;
	if (wait) {
		want = dd_lease_status_parse(wait);
		if (want < 0)
			return dd_http_error(r, 400, "invalid",
					     "'wait' must be a lease status "
					     "(%s), not '%.64s'",
					     LEASE_STATES, wait);
	}
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
		if (want < 0)
			return dd_http_error(r, 400, "invalid",
					     "'timeout' needs 'wait'");
	}
	/* armed before the read: a change in between is not missed */
	if (want >= 0 && !r->wait_over) {
		snprintf(object, sizeof(object), "lease:%lld", r->params[0]);
		dd_http_wait(r, object, r->started + timeout);
	}
	if (dd_store_lease_get(r->store, r->params[0], &l, &err))
		return dd_http_fail(r, &err);
	if (want >= 0 && !r->wait_over &&
	    !dd_http_lease_reached(l.status, want)) {
		dd_lease_release(&l);
		return; /* parked: this runs again when the lease changes */
	}
	dd_http_json(r, 200, lease_detail(r, &l));
	dd_lease_release(&l);
}

/* The lease, if the caller may `a` it; answers and returns false if not. */
static bool lease_for(struct dd_http_req *r, enum dd_action a,
		      const char *what, struct dd_lease *l)
{
	struct dd_error err = DD_ERROR_INIT;
	char msg[96];

	if (dd_store_lease_get(r->store, r->params[0], l, &err)) {
		dd_http_fail(r, &err);
		return false;
	}
	snprintf(msg, sizeof(msg), "%s lease %lld, which %s owns", what, l->id,
		 l->owner ? l->owner : "nobody");
	if (!allowed(r, a, l->owner, msg)) {
		dd_lease_release(l);
		return false;
	}
	return true;
}

static void lease_release(struct dd_http_req *r)
{
	static const char *const fields[] = {NULL};
	struct dd_lease l = {0};
	json_t *b;

	if (!dd_http_query_known(r, no_args))
		return;
	if (!lease_for(r, DD_ACTION_LEASE_RELEASE, "release", &l))
		return;
	dd_lease_release(&l);
	b = dd_http_body_object(r, fields);
	if (!b)
		return;
	json_decref(b);
	send_command(r, (struct dd_ref){DD_OBJ_LEASE, r->params[0]},
		     "release", NULL);
}

static void lease_extend(struct dd_http_req *r)
{
	static const char *const fields[] = {"until", "ttl", NULL};
	struct dd_lease l = {0};
	double until;
	json_t *b, *data;

	if (!dd_http_query_known(r, no_args))
		return;
	if (!lease_for(r, DD_ACTION_LEASE_EXTEND, "extend", &l))
		return;
	dd_lease_release(&l);
	b = dd_http_body_object(r, fields);
	if (!b)
		return;
	if (expiry_fields(r, b, &until, true)) {
		data = json_pack("{s:f}", "until", until);
		send_command(r, (struct dd_ref){DD_OBJ_LEASE, r->params[0]},
			     "extend", data);
		json_decref(data);
	}
	json_decref(b);
}

static void lease_exec(struct dd_http_req *r)
{
	static const char *const fields[] = {"argv", "timeout", NULL};
	struct dd_lease l = {0};
	struct dd_exec_result res = {0};
	struct dd_error err = DD_ERROR_INIT;
	char *argv[DD_EXEC_MAX_ARGS + 1];
	json_t *b, *a, *t, *v;
	double timeout = DD_EXEC_DEFAULT_TIMEOUT;
	size_t i;

	if (!dd_http_query_known(r, no_args))
		return;
	if (!lease_for(r, DD_ACTION_LEASE_EXEC, "run commands on", &l))
		return;
	dd_lease_release(&l);
	b = dd_http_body_object(r, fields);
	if (!b)
		return;
	a = json_object_get(b, "argv");
	t = json_object_get(b, "timeout");
	if (!json_is_array(a) || json_array_size(a) == 0 ||
	    json_array_size(a) > DD_EXEC_MAX_ARGS) {
		dd_http_error(r, 400, "invalid",
			      "'argv' must be a list of 1 to %d strings, "
			      "e.g. [\"make\", \"test\"]",
			      DD_EXEC_MAX_ARGS);
		goto out;
	}
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v) ||
		    strlen(json_string_value(v)) != json_string_length(v)) {
			dd_http_error(r, 400, "invalid",
				      "'argv' must hold only strings "
				      "without NUL characters");
			goto out;
		}
		argv[i] = (char *)json_string_value(v);
	}
	argv[json_array_size(a)] = NULL;
	if (!argv[0][0]) {
		dd_http_error(r, 400, "invalid", "'argv[0]' is empty");
		goto out;
	}
	if (t) {
		timeout = json_number_value(t);
		if (!json_is_number(t) || !isfinite(timeout) || timeout <= 0 ||
		    timeout > DD_EXEC_MAX_TIMEOUT) {
			dd_http_error(r, 400, "invalid",
				      "'timeout' must be a number of seconds "
				      "greater than 0 and at most %d",
				      DD_EXEC_MAX_TIMEOUT);
			goto out;
		}
	}
	/* the command may run for an hour: on a thread it may hold */
	if (!dd_http_long_running(r))
		goto out;
	if (dd_exec_capture(r->store, r->params[0], argv, timeout, &res,
			    &err)) {
		dd_http_fail(r, &err);
		goto out;
	}
	dd_http_json(r, 200, dd_exec_result_to_json(&res));
	dd_exec_result_release(&res);
out:
	json_decref(b);
}

/* ---- tasks --------------------------------------------------------- */

static void task_list(struct dd_http_req *r)
{
	struct dd_filter f = {0};
	struct dd_task_list l = {0};
	struct dd_error err = DD_ERROR_INIT;

	if (!dd_http_query_known(r, page_only_args))
		return;
	if (!page_args(r, &f, false))
		return;
	if (dd_store_task_list(r->store, &f, &l, &err))
		return dd_http_fail(r, &err);
	LIST_ANSWER(r, l, f, dd_task_to_json);
	dd_task_list_release(&l);
}

const struct dd_http_route dd_api_v1_routes[] = {
	{"GET", "/api/v1/whoami", DD_HTTP_BEARER, whoami, false},
	{"GET", "/api/v1/blueprints", DD_HTTP_BEARER, blueprint_list, false},
	{"POST", "/api/v1/blueprints", DD_HTTP_BEARER, blueprint_create, false},
	{"GET", "/api/v1/blueprints/{id}", DD_HTTP_BEARER, blueprint_show, false},
	{"PATCH", "/api/v1/blueprints/{id}", DD_HTTP_BEARER, blueprint_edit, false},
	{"GET", "/api/v1/resources", DD_HTTP_BEARER, resource_list, false},
	{"GET", "/api/v1/resources/{id}", DD_HTTP_BEARER, resource_show, false},
	{"POST", "/api/v1/resources/{id}/release", DD_HTTP_BEARER,
	 resource_release, false},
	{"GET", "/api/v1/resources/{id}/log", DD_HTTP_BEARER, resource_log, false},
	{"GET", "/api/v1/resources/{id}/commands", DD_HTTP_BEARER,
	 resource_commands, false},
	{"POST", "/api/v1/leases", DD_HTTP_BEARER, lease_create, false},
	{"GET", "/api/v1/leases", DD_HTTP_BEARER, lease_list, false},
	{"GET", "/api/v1/leases/{id}", DD_HTTP_BEARER, lease_show, false},
	{"POST", "/api/v1/leases/{id}/release", DD_HTTP_BEARER,
	 lease_release, false},
	{"POST", "/api/v1/leases/{id}/extend", DD_HTTP_BEARER, lease_extend, false},
	{"POST", "/api/v1/leases/{id}/exec", DD_HTTP_BEARER, lease_exec, false},
	{"GET", "/api/v1/leases/{id}/log", DD_HTTP_BEARER, lease_log, false},
	{"GET", "/api/v1/leases/{id}/commands", DD_HTTP_BEARER,
	 lease_commands, false},
	{"GET", "/api/v1/tasks", DD_HTTP_BEARER, task_list, false},
	{NULL, NULL, 0, NULL, false},
};
