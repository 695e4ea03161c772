/*
 * http.h - what a request handler sees: one HTTP request, its caller, a
 * store handle, and the response it builds.
 *
 * The server (server.c) accepts connections with libmicrohttpd, reads
 * the body up to a limit, has the router (router.c) find the route and
 * authenticate the caller, lends the handler a store handle from its
 * pool and sends what the handler built.  Handlers (api_*.c, ops.c,
 * session.c, web*.c) never touch libmicrohttpd or the server themselves:
 * they read req->method, req->path, the query and headers through the
 * request functions below (request.c), and answer with exactly one of
 * dd_http_json(), dd_http_error(), dd_http_html() or dd_http_text().
 */
#ifndef DD_HTTP_H
#define DD_HTTP_H

#include "auth/token.h"
#include "core/error.h"
#include "core/input.h"
#include "core/util.h"
#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>

/* The largest request body the server reads; larger ones get 413. */
#define DD_HTTP_MAX_BODY (64 * 1024)
/* How deeply arrays and objects may nest in a request body. */
#define DD_HTTP_MAX_NESTING DD_JSON_MAX_NESTING
/* How many path parameters ({id}) a route may have. */
#define DD_HTTP_MAX_PARAMS 2

struct dd_http_server;
struct dd_http_req;

/*
 * An answer's body read a piece at a time instead of built in r->out (a
 * file artifact's content): `read` copies up to `cap` bytes of the body
 * at offset `pos` (0 is the first byte sent) into buf, with a store
 * handle the server lends it, and returns how many, or -1 on an error
 * (the connection is then closed: the client sees a short body).  It runs
 * on the server's I/O thread, as the client takes the bytes: it must not
 * wait for anything but the store's read.  `free` releases `arg` once the
 * answer is sent or dropped (also on the I/O thread: it must not wait).
 *
 * A body that a program writes as it runs (a lease's file, read through
 * a pipe) sets `waits`: `read` is then lent no store, and may return 0
 * when nothing has come yet; the server then waits, holding no thread,
 * until `wait_fd` (the reader's) turns readable, and asks again.  A body
 * whose length is not known (`size` -1, sent chunked) ends when `read`
 * returns DD_HTTP_READ_END.
 */
#define DD_HTTP_READ_END (-2)
struct dd_http_reader {
	long long size; /* the body's length; -1: not known */
	long (*read)(void *arg, struct dd_store *st, long long pos, char *buf,
		     size_t cap);
	void (*free)(void *arg);
	void *arg;
	bool waits;
	int wait_fd;
};

/*
 * What the server does for a request's long poll and long-running
 * handler (server.c fills it in).  Handlers call dd_http_wait() and
 * dd_http_long_running(), which go through these, and never the server
 * itself: the server calls the handlers, not the other way round.
 */
struct dd_http_hooks {
	void (*wait)(struct dd_http_req *r, const char *object,
		     double deadline);
	bool (*long_running)(struct dd_http_req *r);
};

struct dd_http_req {
	struct dd_http_server *server;
	const struct dd_http_hooks *hooks;
	void *conn; /* libmicrohttpd's connection, for the accessors */
	const char *method;
	const char *path;
	const char *body; /* NUL-terminated; "" when there is none */
	size_t body_len;
	long long params[DD_HTTP_MAX_PARAMS]; /* the route's {id}s */
	const char *tail; /* what a route's trailing {path} took, or NULL */
	struct dd_store *store;		     /* lent for this request */
	const char *store_path;
	/* Who is asking: set for authenticated routes. */
	bool authenticated;
	struct dd_principal who;
	/* Web UI sessions (web.c): the session's CSRF token, or "". */
	char csrf[48];

	/* The response the handler builds. */
	int status;
	const char *content_type;
	struct dd_buf out;
	char location[256];   /* a Location header, or "" */
	char allow[64];	      /* an Allow header (405), or "" */
	char set_cookie[256]; /* a Set-Cookie header, or "" */
	char etag[72];	      /* an ETag header (quoted), or "" */
	char content_range[80]; /* a Content-Range header, or "" */
	struct dd_http_reader reader; /* a body read as it is sent */
	char error_code[32];  /* for the request log */
	double started;	      /* dd_monotonic() at arrival */
	/* A long poll's run after its deadline, or as the server stops. */
	bool wait_over;
};

/* A query-string argument or header, or NULL when absent. */
const char *dd_http_query(struct dd_http_req *r, const char *key);
const char *dd_http_header(struct dd_http_req *r, const char *key);
const char *dd_http_cookie(struct dd_http_req *r, const char *key);
/* How many times the request has header `key` (in any case). */
unsigned dd_http_header_count(struct dd_http_req *r, const char *key);
/*
 * Are all the query-string arguments in `known` (NULL-terminated), each
 * given once with a value free of control characters?  A misspelt, empty
 * or garbled filter must not silently widen a list: answers 400 and
 * returns false on the first bad one.
 */
bool dd_http_query_known(struct dd_http_req *r, const char *const *known);

/*
 * Long poll: call before reading what the client waits for.  If the
 * handler then returns without an answer, the request is parked, holding
 * no thread, and the handler runs again from the start when `object`
 * ("lease:12") changes or at `deadline` (monotonic), with r->wait_over
 * set on a run at or past the deadline or as the server stops: then it
 * must answer with what is.  A new long poll past the server's cap is
 * answered 503 instead of parked.
 */
void dd_http_wait(struct dd_http_req *r, const char *object, double deadline);
/*
 * A handler that may run for minutes (exec) calls this first: it may go
 * on while fewer than three quarters of the server's handler threads do
 * the same; otherwise it is answered 503 busy and this returns false, so
 * that ordinary requests always find a thread.
 */
bool dd_http_long_running(struct dd_http_req *r);

/* Answer with JSON (takes the reference to `body`). */
void dd_http_json(struct dd_http_req *r, int status, json_t *body);
/*
 * Answer with {"error": {"code": CODE, "message": ...}}.  `code` is a
 * short machine-readable word ("not_found", "conflict").
 */
void dd_http_error(struct dd_http_req *r, int status, const char *code,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Answer with the HTTP status and code that fit a drydock error. */
void dd_http_fail(struct dd_http_req *r, const struct dd_error *err);
/* Answer with HTML or plain text already in r->out. */
void dd_http_html(struct dd_http_req *r, int status);
void dd_http_text(struct dd_http_req *r, int status, const char *type);
/*
 * Answer with a body of `type` that `reader` reads as it is sent (taken
 * over: its free runs when the answer is done with), so a large body
 * never sits whole in memory.
 */
void dd_http_stream(struct dd_http_req *r, int status, const char *type,
		    const struct dd_http_reader *reader);

/*
 * Parse the request body as a JSON object whose keys are all in `known`
 * (NULL-terminated).  Answers 400 itself and returns NULL on malformed
 * JSON, invalid UTF-8, a non-object or an unknown key.  An empty body is
 * an empty object.
 */
json_t *dd_http_body_object(struct dd_http_req *r, const char *const *known);

/* A route: METHOD and a path pattern with {id} for a positive integer. */
typedef void dd_http_handler(struct dd_http_req *r);

enum dd_http_auth {
	DD_HTTP_PUBLIC = 0, /* no caller needed: health, metrics, sign-in */
	DD_HTTP_BEARER = 1, /* Authorization: Bearer TOKEN */
	DD_HTTP_SESSION = 2 /* the web UI's session cookie */
};

/*
 * A route that takes its body as a stream (a file artifact's bytes)
 * rather than whole: the server hands it the body a piece at a time as
 * it arrives, so the body is bounded by the server's upload limit
 * (`drydock serve --max-artifact-size`), not by DD_HTTP_MAX_BODY or
 * memory.  Each method runs on a handler thread with r->store lent and
 * the caller authenticated (except scan); they run one at a time, in
 * this order (scan alongside write):
 *
 *   begin   before a byte of the body is read: check the request and
 *           prepare; *state is the stream's own.  False after answering
 *           (a refusal): the body is then never read.
 *   scan    each piece of the body as it arrives, in order, on the
 *           server's I/O thread, while an earlier piece may be being
 *           written: look at the bytes (hash them) without the store
 *           or waiting, touching only what write does not.  May be NULL.
 *   write   each piece of the body, in order, 1 B to DD_HTTP_PIECE.
 *           False after answering with why it failed: the rest of the
 *           body is read and dropped, then abort runs.
 *   end     the whole body was written: answer, and free *state.
 *   abort   the body will not all arrive (the connection was cut, or
 *           the upload passed the limit) or a write failed: undo what
 *           begin and write did, and free *state.  Its answer, if any,
 *           is not sent.  r->store is NULL when the store cannot be
 *           opened: then it only frees (what is left incomplete is
 *           pruned later).
 */
#define DD_HTTP_PIECE (256 * 1024)
struct dd_http_stream {
	bool (*begin)(struct dd_http_req *r, void **state);
	void (*scan)(void *state, const void *data, size_t n);
	bool (*write)(struct dd_http_req *r, void *state, const void *data,
		      size_t n);
	void (*end)(struct dd_http_req *r, void *state);
	void (*abort)(struct dd_http_req *r, void *state);
};

struct dd_http_route {
	const char *method;
	const char *pattern;
	enum dd_http_auth auth;
	dd_http_handler *handler;
	bool no_store; /* answers without the store (/livez) */
};

/*
 * A route that takes a body as a stream: a request to its method and
 * pattern goes to `stream` when its Content-Type is
 * application/octet-stream or its query has the argument `query_key`
 * (whatever its Content-Type: curl --data-binary sends a form's);
 * any other, to the route of the same method and pattern in the route
 * tables (which takes JSON, with or without its Content-Type), if there
 * is one.  A route marked `always` (a method that only ever takes bytes:
 * PUT of a lease's file) takes every request whatever its Content-Type.
 */
struct dd_http_stream_route {
	const char *method;
	const char *pattern;
	enum dd_http_auth auth;
	const struct dd_http_stream *stream;
	const char *query_key;
	bool always; /* every request to it streams, whatever it says */
};

/*
 * The routes each part of the server contributes, ending in {NULL}: the
 * API's resources (api_whoami.c, api_blueprints.c, api_authorizations.c,
 * api_resources.c,
 * api_leases.c, api_lease_files.c, api_tasks.c, api_targets.c,
 * api_files.c) and its
 * description (api_openapi.c), the probes and metrics (ops.c), sign-in
 * (session.c) and the web UI's pages (web.c).
 */
extern const struct dd_http_route dd_v1_openapi_routes[];
extern const struct dd_http_route dd_v1_whoami_routes[];
extern const struct dd_http_route dd_v1_blueprint_routes[];
extern const struct dd_http_route dd_v1_authorization_routes[];
extern const struct dd_http_route dd_v1_resource_routes[];
extern const struct dd_http_route dd_v1_lease_routes[];
extern const struct dd_http_route dd_v1_task_routes[];
extern const struct dd_http_route dd_v1_target_routes[];
extern const struct dd_http_route dd_v1_file_routes[];
/*
 * A lease's files (api_lease_files.c): listing and download routes, and
 * the upload's stream route.
 */
extern const struct dd_http_route dd_v1_lease_file_routes[];
/*
 * The stream routes, ending in {NULL}: file artifact uploads
 * (api_files.c) and uploads to a lease (api_lease_files.c).
 */
extern const struct dd_http_stream_route dd_v1_file_streams[];
extern const struct dd_http_stream_route dd_v1_lease_file_streams[];
extern const struct dd_http_route dd_ops_routes[];
extern const struct dd_http_route dd_session_routes[];
extern const struct dd_http_route dd_web_routes[];

/*
 * Requests answered, by status, for /metrics: the server counts each
 * answer sent, ops.c reads the counts.
 */
void dd_http_count_answer(int status);
void dd_http_count_requests(void (*fn)(int status, unsigned long long n,
				       void *arg),
			    void *arg);

#endif
