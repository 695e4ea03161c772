/*
 * api_v1.h - what the files of the JSON API under /api/v1 share.
 *
 * One file per resource (api_leases.c, api_resources.c,
 * api_blueprints.c, api_tasks.c, api_whoami.c) holds its handlers and
 * exports its route table (http.h); api_v1.c holds what they share.
 * Every handler checks the caller's role first, then its input, and
 * changes nothing when it refuses.  Like the CLI, the API never writes a
 * lease or resource that exists: creating a lease inserts it pending, and
 * release and extend append a command for the object's update worker, so
 * they answer 202 with the queued command.  docs/http-api.md documents
 * each endpoint with an example.
 *
 * Each function that answers on failure returns false (or -1, or NULL)
 * after answering; the handler then returns.
 */
#ifndef DD_HTTP_API_V1_H
#define DD_HTTP_API_V1_H

#include "api/idem.h"
#include "auth/token.h"
#include "http/http.h"

#include <jansson.h>
#include <stdbool.h>

/* The query arguments of endpoints that take none, or only a page's. */
extern const char *const dd_v1_no_args[];
extern const char *const dd_v1_page_only_args[];

/* May the caller `a` (an object of `owner`)?  Answers 403 if not. */
bool dd_v1_allowed(struct dd_http_req *r, enum dd_action a, const char *owner,
		   const char *what);

/*
 * Lease r->params[0] into *l, if the caller may `a` it ("run commands
 * on" is `what` in the refusal); answers and returns false if not.
 */
bool dd_v1_lease_for(struct dd_http_req *r, enum dd_action a,
		     const char *what, struct dd_lease *l);

/* A positive integer argument; 0 when absent, -1 (answered) when bad. */
long long dd_v1_arg_id(struct dd_http_req *r, const char *key);
/*
 * The page a list asks for: ?limit=N (1 to 500, default 50) and
 * ?cursor=C, the next_cursor of the previous page, into `f`.
 */
bool dd_v1_page_args(struct dd_http_req *r, struct dd_filter *f,
		     bool newest_first);
/* ?status=a,b as a mask, with `parse` for one name; `valid` lists them. */
bool dd_v1_status_arg(struct dd_http_req *r, int (*parse)(const char *),
		      const char *valid, unsigned *mask);
/* The same for the argument `key` ("state"). */
bool dd_v1_mask_arg(struct dd_http_req *r, const char *key,
		    int (*parse)(const char *), const char *valid,
		    unsigned *mask);
/*
 * A page of a list, built an object at a time.  It ends at `limit`
 * objects or once its objects take 1 MiB as JSON, whichever comes
 * first: an object can hold 64 KiB (a lease's attributes, a blueprint's
 * config), and 500 of them made a 33 MB answer that cost serve 100 MB of
 * memory while it was built.  The object after the page tells that there
 * is more, and next_cursor goes on from the last object the page holds,
 * so paging by the cursor still gives every object once.
 */
struct dd_v1_page {
	json_t *items;
	size_t limit;	/* objects at most */
	size_t bytes;	/* the items as compact JSON */
	long long last; /* the last item's id */
	bool more;	/* an object follows the page */
};

/* Start the page `f` asks for (dd_v1_page_args); false without memory. */
bool dd_v1_page_init(struct dd_v1_page *p, const struct dd_filter *f);
/*
 * Is there room for one more object?  When not, that object shows there
 * is more: the walk should stop.
 */
bool dd_v1_page_room(struct dd_v1_page *p);
/* Append `item` (taken over), the rendering of object `id`. */
void dd_v1_page_add(struct dd_v1_page *p, json_t *item, long long id);
/* Answer {"items": [...], "next_cursor": "ID" or null}. */
void dd_v1_page_answer(struct dd_http_req *r, struct dd_v1_page *p);
/*
 * Answer the page `f` asks for, read by `walk` (which visits rows with
 * dd_v1_page_room() and dd_v1_page_add()).
 */
void dd_v1_walk_answer(struct dd_http_req *r, const struct dd_filter *f,
		       int (*walk)(struct dd_store *, const struct dd_filter *,
				   struct dd_v1_page *, struct dd_error *));
/* Answer a collected list as a page of `to_json` renderings. */
#define DD_V1_LIST_ANSWER(r, list, f, to_json)                                 \
	do {                                                                   \
		struct dd_v1_page p_;                                          \
		if (!dd_v1_page_init(&p_, &(f))) {                             \
			dd_http_error(r, 500, "out_of_memory",                 \
				      "out of memory");                        \
			break;                                                 \
		}                                                              \
		for (size_t i_ = 0;                                            \
		     i_ < (list).n && dd_v1_page_room(&p_); i_++)              \
			dd_v1_page_add(&p_, to_json(&(list).items[i_]),        \
				       (list).items[i_].id);                   \
		dd_v1_page_answer(r, &p_);                                     \
	} while (0)

/*
 * The create's Idempotency-Key header, bound to the caller, the method and
 * path, and the parsed body `b` (api/idem.h): *out is `k` when there is
 * one, NULL when there is none.  Returns false when answered (400 for a
 * key that is empty, too long, not printable ASCII or sent twice).
 */
bool dd_v1_idem_key(struct dd_http_req *r, json_t *b, struct dd_idem *k,
		    struct dd_idem **out);

/*
 * Body fields: a string (or NULL when absent) and a boolean (-1 when
 * absent).  *bad is set, after answering, on a wrong type; once set, the
 * later calls read nothing.
 */
const char *dd_v1_get_string(struct dd_http_req *r, json_t *o,
			     const char *key, bool *bad);
int dd_v1_get_bool(struct dd_http_req *r, json_t *o, const char *key,
		   bool *bad);

/* The slot locks `owner` holds, as a JSON array of keys. */
json_t *dd_v1_locks_json(struct dd_store *s, struct dd_ref owner);
/* Append `kind` to `target` and answer 202 with the command. */
void dd_v1_send_command(struct dd_http_req *r, struct dd_ref target,
			const char *kind, json_t *data);

/*
 * The log (newest first) and the command queue (oldest first) of the
 * lease, resource or build target r->params[0], a page at a time; dd_v1_exists()
 * answers 404 first when it does not exist.
 */
void dd_v1_log_list(struct dd_http_req *r, enum dd_obj_kind kind);
void dd_v1_command_list(struct dd_http_req *r, enum dd_obj_kind kind);
bool dd_v1_exists(struct dd_http_req *r, enum dd_obj_kind kind);

#endif
