/*
 * api_files.c - file artifacts' bytes over the API: the streamed upload
 * (POST /api/v1/targets/{id}/artifacts?key=K with the file as the body)
 * and GET /api/v1/artifacts/{id}/content, with ETag and Range (also at
 * /artifacts/{id}/content, the web UI's download link, for a signed-in
 * browser).
 *
 * The upload is a stream route (http.h) on the path where a JSON body
 * adds a uri or host artifact (api_targets.c): a request with ?key= (or
 * Content-Type: application/octet-stream) is a file's.  The server hands
 * it the body a piece at a time, and api/file.h stores each piece as a
 * chunk, hashing it, so no file is whole in memory.  The key and the
 * optional name come in the query (?key=K&name=N), since the body is the
 * file itself.  The download reads a chunk at a time as the client takes
 * the bytes.  A client may add to and read only its own targets; a
 * viewer reads all; an admin does anything.
 */
#include "api/file.h"
#include "core/target.h"
#include "http/api_v1.h"

#include <stdio.h>
#include <string.h>

/* ---- upload -------------------------------------------------------- */

static const char *const upload_args[] = {"key", "name", "type", NULL};

/* The target r->params[0], which the caller may do `a` to; or answered. */
static bool target_allowed(struct dd_http_req *r, long long id,
			   enum dd_action a, const char *what)
{
	struct dd_target t = {0};
	struct dd_error err = DD_ERROR_INIT;
	char doing[96];
	bool ok;

	if (dd_store_target_get(r->store, id, &t, &err)) {
		dd_http_fail(r, &err);
		return false;
	}
	snprintf(doing, sizeof(doing), "%s target %lld", what, id);
	ok = dd_v1_allowed(r, a, t.owner, doing);
	dd_target_release(&t);
	return ok;
}

static bool upload_begin(struct dd_http_req *r, void **state)
{
	const char *key = dd_http_query(r, "key");
	const char *type = dd_http_query(r, "type");
	struct dd_error err = DD_ERROR_INIT;
	struct dd_file_upload *u;

	if (!dd_http_query_known(r, upload_args))
		return false;
	if (type && strcmp(type, "file")) {
		dd_http_error(r, 400, "invalid",
			      "a streamed body makes a file artifact, not "
			      "'%.64s': send a %s artifact as JSON "
			      "(Content-Type: application/json)",
			      type, type);
		return false;
	}
	if (!key) {
		dd_http_error(r, 400, "invalid",
			      "a file artifact needs a key: "
			      "POST .../artifacts?key=KEY");
		return false;
	}
	if (!target_allowed(r, r->params[0], DD_ACTION_TARGET_WRITE,
			    "add artifacts to"))
		return false;
	u = dd_calloc(1, sizeof(*u));
	if (!u) {
		dd_http_error(r, 500, "out_of_memory", "out of memory");
		return false;
	}
	if (dd_file_begin(r->store, r->params[0], key,
			  dd_http_query(r, "name"), u, &err)) {
		dd_free(u);
		dd_http_fail(r, &err);
		return false;
	}
	*state = u;
	return true;
}

static void upload_scan(void *state, const void *data, size_t n)
{
	dd_file_hash(state, data, n);
}

static bool upload_write(struct dd_http_req *r, void *state, const void *data,
			 size_t n)
{
	struct dd_error err = DD_ERROR_INIT;

	if (dd_file_write(r->store, state, data, n, &err)) {
		dd_http_fail(r, &err);
		return false;
	}
	return true;
}

static void upload_abort(struct dd_http_req *r, void *state)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_file_upload *u = state;

	/* without the store, or on failure, prune removes it later */
	if (r->store && dd_file_abort(r->store, u, &err))
		fprintf(stderr,
			"drydock: http: cannot delete incomplete artifact "
			"%lld: %s\n",
			u->id, err.msg);
	dd_free(u);
}

static void upload_end(struct dd_http_req *r, void *state)
{
	struct dd_file_upload *u = state;
	struct dd_artifact a = {0};
	struct dd_error err = DD_ERROR_INIT;

	if (dd_file_end(r->store, u, &a, &err)) {
		dd_http_fail(r, &err);
		upload_abort(r, u);
		return;
	}
	snprintf(r->location, sizeof(r->location), "/api/v1/artifacts/%lld",
		 a.id);
	dd_http_json(r, 201, dd_artifact_to_json(&a));
	dd_artifact_release(&a);
	dd_free(u);
}

static const struct dd_http_stream file_upload = {
	upload_begin,
	upload_scan,
	upload_write,
	upload_end,
	upload_abort,
};

/* ---- download ------------------------------------------------------ */

struct content {
	long long id;
	long long first; /* the first byte sent */
};

static long content_read(void *arg, struct dd_store *st, long long pos,
			 char *buf, size_t cap)
{
	struct content *c = arg;
	struct dd_error err = DD_ERROR_INIT;
	size_t n = 0;

	if (dd_store_artifact_read(st, c->id, c->first + pos, buf, cap, &n,
				   &err) ||
	    n == 0)
		return -1;
	return (long)n;
}

/* Does an If-None-Match value ("a", "b" or *) name the ETag `etag`? */
static bool etag_listed(const char *list, const char *etag)
{
	size_t n = strlen(etag);

	if (!strcmp(list, "*"))
		return true;
	for (const char *p = list; (p = strstr(p, etag)); p += n) {
		const char *q = p + n;

		/* a whole entry, weak or not: W/"x" matches "x" */
		if ((p == list || p[-1] == ' ' || p[-1] == ',' ||
		     p[-1] == '/') &&
		    (!*q || *q == ',' || *q == ' '))
			return true;
	}
	return false;
}

static void content_get(struct dd_http_req *r)
{
	struct dd_artifact a = {0};
	struct dd_error err = DD_ERROR_INIT;
	const struct dd_artifact_type *type;
	struct dd_file_range range = {0, 0};
	struct dd_http_reader reader = {0};
	struct content *c;
	const char *h;
	int status = 200;

	if (!dd_http_query_known(r, dd_v1_no_args))
		return;
	if (dd_store_artifact_get(r->store, r->params[0], &a, &err))
		return dd_http_fail(r, &err);
	if (!target_allowed(r, a.target, DD_ACTION_TARGET_READ, "read"))
		goto out;
	type = dd_artifact_type_find(a.type);
	if (!type || !type->content) {
		dd_http_error(r, 409, "conflict",
			      "artifact %lld is a %s artifact: it has no "
			      "content",
			      a.id, a.type);
		goto out;
	}
	if (!a.complete) {
		dd_http_error(r, 409, "conflict",
			      "artifact %lld is still being uploaded (%lld "
			      "bytes so far)",
			      a.id, a.size);
		goto out;
	}
	snprintf(r->etag, sizeof(r->etag), "\"%s\"", a.sha256);
	h = dd_http_header(r, "If-None-Match");
	if (h && etag_listed(h, r->etag)) {
		dd_http_text(r, 304, "application/octet-stream");
		goto out;
	}
	range.length = a.size;
	h = dd_http_header(r, "Range");
	/* If-Range: the range only of the bytes the client has part of */
	if (h && (!dd_http_header(r, "If-Range") ||
		  !strcmp(dd_http_header(r, "If-Range"), r->etag))) {
		int fit = dd_file_range(h, a.size, &range);

		if (fit < 0) {
			snprintf(r->content_range, sizeof(r->content_range),
				 "bytes */%lld", a.size);
			dd_http_error(r, 416, "range_not_satisfiable",
				      "range '%.64s' is outside the %lld "
				      "bytes of artifact %lld",
				      h, a.size, a.id);
			goto out;
		}
		if (fit > 0) {
			status = 206;
			snprintf(r->content_range, sizeof(r->content_range),
				 "bytes %lld-%lld/%lld", range.first,
				 range.first + range.length - 1, a.size);
		} else {
			range.first = 0;
			range.length = a.size;
		}
	}
	c = dd_calloc(1, sizeof(*c));
	if (!c) {
		dd_http_error(r, 500, "out_of_memory", "out of memory");
		goto out;
	}
	c->id = a.id;
	c->first = range.first;
	reader.size = range.length;
	reader.read = content_read;
	reader.free = dd_free;
	reader.arg = c;
	dd_http_stream(r, status, "application/octet-stream", &reader);
out:
	dd_artifact_release(&a);
}

const struct dd_http_route dd_v1_file_routes[] = {
	{"GET", "/api/v1/artifacts/{id}/content", DD_HTTP_BEARER, content_get,
	 false},
	/*
	 * The web UI's download link (web_targets.c): the same answer to a
	 * signed-in browser, whose session says who it is, as a token does.
	 */
	{"GET", "/artifacts/{id}/content", DD_HTTP_SESSION, content_get,
	 false},
	{NULL, NULL, 0, NULL, false},
};

const struct dd_http_stream_route dd_v1_file_streams[] = {
	{"POST", "/api/v1/targets/{id}/artifacts", DD_HTTP_BEARER,
	 &file_upload, "key", false},
	{NULL, NULL, 0, NULL, NULL, false},
};
