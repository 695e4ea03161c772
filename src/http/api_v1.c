/*
 * api_v1.c - what the JSON API's resources share (api_v1.h): the role
 * check, query arguments, pages of lists, idempotency keys, typed body
 * fields, and the log and command queue endpoints of leases and
 * resources.  Each resource is a file of its own (api_leases.c,
 * api_resources.c, api_blueprints.c, api_tasks.c, api_whoami.c) with its
 * route table.
 */
#include "api/api.h"
#include "http/api_v1.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The query arguments each endpoint takes; any other is refused. */
const char *const dd_v1_no_args[] = {NULL};
const char *const dd_v1_page_only_args[] = {"limit", "cursor", NULL};

#define PAGE_DEFAULT 50

#define PAGE_MAX 500

bool dd_v1_allowed(struct dd_http_req *r, enum dd_action a, const char *owner,
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
long long dd_v1_arg_id(struct dd_http_req *r, const char *key)
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
bool dd_v1_page_args(struct dd_http_req *r, struct dd_filter *f,
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
	cursor = dd_v1_arg_id(r, "cursor");
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
bool dd_v1_status_arg(struct dd_http_req *r, int (*parse)(const char *),
		      const char *valid, unsigned *mask)
{
	return dd_v1_mask_arg(r, "status", parse, valid, mask);
}

bool dd_v1_mask_arg(struct dd_http_req *r, const char *key,
		    int (*parse)(const char *), const char *valid,
		    unsigned *mask)
{
	const char *v = dd_http_query(r, key);
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
				      "unknown %s '%.*s' (known: %s)", key,
				      (int)(n < 64 ? n : 64), p, valid);
			return false;
		}
		*mask |= 1u << st;
		p += n;
		if (!*p)
			return true;
	}
}

/* A page ends once its objects take this much JSON (api_v1.h). */
#define PAGE_BYTES (1024 * 1024)

/* Start the page `f` asks for (dd_v1_page_args); false without memory. */
bool dd_v1_page_init(struct dd_v1_page *p, const struct dd_filter *f)
{
	*p = (struct dd_v1_page){.items = json_array(), .limit = f->limit - 1};
	return p->items != NULL;
}

/*
 * Is there room for one more object?  When not, that object shows there
 * is more: the walk should stop.
 */
bool dd_v1_page_room(struct dd_v1_page *p)
{
	if (json_array_size(p->items) < p->limit && p->bytes < PAGE_BYTES)
		return true;
	p->more = true;
	return false;
}

/* Append `item` (taken over), the rendering of object `id`. */
void dd_v1_page_add(struct dd_v1_page *p, json_t *item, long long id)
{
	p->bytes += json_dumpb(item, NULL, 0, JSON_COMPACT);
	p->last = id;
	json_array_append_new(p->items, item);
}

/* Answer {"items": [...], "next_cursor": "ID" or null}. */
void dd_v1_page_answer(struct dd_http_req *r, struct dd_v1_page *p)
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

/* Answer the page `f` asks for, read by `walk`. */
void dd_v1_walk_answer(struct dd_http_req *r, const struct dd_filter *f,
		       int (*walk)(struct dd_store *, const struct dd_filter *,
		       struct dd_v1_page *, struct dd_error *))
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_v1_page p;

	if (!dd_v1_page_init(&p, f))
		return dd_http_error(r, 500, "out_of_memory", "out of memory");
	if (walk(r->store, f, &p, &err) < 0) {
		json_decref(p.items);
		return dd_http_fail(r, &err);
	}
	dd_v1_page_answer(r, &p);
}

/* ---- idempotency keys ---------------------------------------------- */

/*
 * The create's Idempotency-Key header, bound to the caller, the method and
 * path, and the parsed body `b` (api/idem.h): *out is `k` when there is
 * one, NULL when there is none.  Returns false when answered (400 for a
 * key that is empty, too long, not printable ASCII or sent twice).
 */
bool dd_v1_idem_key(struct dd_http_req *r, json_t *b, struct dd_idem *k,
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

/* A string field, or NULL; *bad is set (and answered) on a wrong type. */
const char *dd_v1_get_string(struct dd_http_req *r, json_t *o,
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

int dd_v1_get_bool(struct dd_http_req *r, json_t *o, const char *key,
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

/* The slot locks `owner` holds, as a JSON array of keys. */
json_t *dd_v1_locks_json(struct dd_store *s, struct dd_ref owner)
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

/* Append `kind` to `target` and answer 202 with the command. */
void dd_v1_send_command(struct dd_http_req *r, struct dd_ref target,
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

/* ---- logs and command queues --------------------------------------- */

/* Newest first, as `drydock show` and the web pages: the recent past. */
void dd_v1_log_list(struct dd_http_req *r, enum dd_obj_kind kind)
{
	struct dd_filter f = {0};
	struct dd_log_entry_list l = {0};
	struct dd_error err = DD_ERROR_INIT;

	if (kind == DD_OBJ_LEASE)
		f.lease = r->params[0];
	else if (kind == DD_OBJ_TARGET)
		f.target_id = r->params[0];
	else
		f.resource = r->params[0];
	if (!dd_v1_page_args(r, &f, true))
		return;
	if (dd_store_log_list(r->store, &f, &l, &err))
		return dd_http_fail(r, &err);
	DD_V1_LIST_ANSWER(r, l, f, dd_log_entry_to_json);
	dd_log_entry_list_release(&l);
}

void dd_v1_command_list(struct dd_http_req *r, enum dd_obj_kind kind)
{
	struct dd_filter f = {.target = {kind, r->params[0]}};
	struct dd_command_list l = {0};
	struct dd_error err = DD_ERROR_INIT;

	if (!dd_v1_page_args(r, &f, false))
		return;
	if (dd_store_command_list(r->store, &f, &l, &err))
		return dd_http_fail(r, &err);
	DD_V1_LIST_ANSWER(r, l, f, dd_command_to_json);
	dd_command_list_release(&l);
}

/* The object must exist for its log or queue to be asked for. */
bool dd_v1_exists(struct dd_http_req *r, enum dd_obj_kind kind)
{
	struct dd_error err = DD_ERROR_INIT;
	int rc;

	if (kind == DD_OBJ_LEASE) {
		struct dd_lease l = {0};

		rc = dd_store_lease_get(r->store, r->params[0], &l, &err);
		dd_lease_release(&l);
	} else if (kind == DD_OBJ_TARGET) {
		struct dd_target t = {0};

		rc = dd_store_target_get(r->store, r->params[0], &t, &err);
		dd_target_release(&t);
	} else {
		struct dd_resource x = {0};

		rc = dd_store_resource_get(r->store, r->params[0], &x, &err);
		dd_resource_release(&x);
	}
	if (rc)
		dd_http_fail(r, &err);
	return !rc;
}
