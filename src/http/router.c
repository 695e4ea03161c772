/*
 * router.c - which handler answers a request, and who is asking.
 *
 * The routes are the tables each part of the server contributes (the
 * API's resources, the probes and metrics, sign-in, the web UI's pages);
 * a request with a body of bytes may go to a stream route instead
 * (file uploads); a path that fits none is answered 404 (as JSON under /api, as a page
 * elsewhere) and a method the path lacks 405.  A route that needs a
 * caller gets it from a bearer token or from the web UI's session
 * cookie (session.c) before its handler runs.
 */
#include "http/http.h"
#include "http/internal.h"
#include "http/router.h"
#include "http/web.h"

#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct dd_http_route *const route_tables[] = {
	dd_v1_openapi_routes,
	dd_v1_whoami_routes,
	dd_v1_blueprint_routes,
	dd_v1_authorization_routes,
	dd_v1_resource_routes,
	dd_v1_lease_routes,
	dd_v1_task_routes,
	dd_v1_target_routes,
	dd_v1_file_routes,
	dd_v1_lease_file_routes,
	dd_ops_routes,
	dd_session_routes,
	dd_web_routes,
};

const struct dd_http_route *const *dd_http_route_tables(size_t *n)
{
	*n = sizeof(route_tables) / sizeof(*route_tables);
	return route_tables;
}

/* A positive decimal id, no sign, no leading zeros, at most 2^53. */
static long long parse_id(const char *s, size_t n)
{
	long long v = 0;

	if (n == 0 || n > 16 || s[0] == '0')
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	return v <= (1LL << 53) ? v : 0;
}

/* Does `path` fit `pattern`?  Fills params with its {id}s. */
bool dd_http_match(const char *pattern, const char *path,
		   long long params[DD_HTTP_MAX_PARAMS], const char **tail)
{
	int np = 0;

	for (;;) {
		/* the rest of the path, whatever it is */
		if (!strcmp(pattern, "{path}") && tail) {
			*tail = path;
			return true;
		}
		if (!*pattern || !*path)
			break;
		const char *pe = strchr(pattern, '/');
		const char *se = strchr(path, '/');
		size_t pl = pe ? (size_t)(pe - pattern) : strlen(pattern);
		size_t sl = se ? (size_t)(se - path) : strlen(path);

		if (pl == 4 && !memcmp(pattern, "{id}", 4)) {
			long long id = parse_id(path, sl);

			if (!id || np == DD_HTTP_MAX_PARAMS)
				return false;
			params[np++] = id;
		} else if (pl != sl || memcmp(pattern, path, pl)) {
			return false;
		}
		pattern += pl;
		path += sl;
		if (*pattern != *path)
			return false;
		if (*pattern == '/') {
			pattern++;
			path++;
		}
	}
	return !*pattern && !*path;
}

/*
 * Find the route for method and path.  *path_known tells a wrong method
 * (405) from an unknown path (404); allow lists the methods the path has.
 */
static const struct dd_http_route *route_find(struct dd_http_req *r,
					      bool *path_known,
					      struct dd_buf *allow)
{
	*path_known = false;
	for (size_t t = 0; t < sizeof(route_tables) / sizeof(*route_tables);
	     t++) {
		for (const struct dd_http_route *rt = route_tables[t];
		     rt->method; rt++) {
			long long params[DD_HTTP_MAX_PARAMS] = {0};
			const char *tail = NULL;

			if (!dd_http_match(rt->pattern, r->path, params, &tail))
				continue;
			*path_known = true;
			dd_buf_addf(allow, "%s%s", allow->len ? ", " : "",
				    rt->method);
			/* HEAD is a GET whose body libmicrohttpd drops */
			if (strcmp(rt->method, r->method) &&
			    (strcmp(r->method, "HEAD") ||
			     strcmp(rt->method, "GET")))
				continue;
			memcpy(r->params, params, sizeof(params));
			r->tail = tail;
			return rt;
		}
	}
	return NULL;
}

static bool authenticate_bearer(struct dd_http_req *r)
{
	const char *h = dd_http_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	struct dd_error err = DD_ERROR_INIT;
	int rc;

	if (!h || strncasecmp(h, "Bearer ", 7)) {
		dd_http_error(r, 401, "unauthorized",
			      "this call needs an API token: send "
			      "'Authorization: Bearer TOKEN' (create one "
			      "with 'drydock token create')");
		return false;
	}
	h += 7;
	while (*h == ' ')
		h++;
	rc = dd_token_authenticate(r->store, h, &r->who, &err);
	if (rc == DD_ERR_NOTFOUND || rc == DD_ERR_INVALID) {
		dd_http_error(r, 401, "unauthorized",
			      "invalid or revoked token");
		return false;
	}
	if (rc) {
		dd_http_fail(r, &err);
		return false;
	}
	r->authenticated = true;
	return true;
}

const struct dd_http_route *dd_http_route_find(struct dd_http_req *r)
{
	struct dd_buf allow = DD_BUF_INIT;
	const struct dd_http_route *rt;
	bool path_known;

	rt = route_find(r, &path_known, &allow);
	if (!rt) {
		if (path_known) {
			snprintf(r->allow, sizeof(r->allow), "%s",
				 allow.buf);
			dd_http_error(r, 405, "method_not_allowed",
				      "%s is not allowed on %s (allowed: %s)",
				      r->method, r->path, allow.buf);
		} else if (strncmp(r->path, "/api", 4) ||
			   (r->path[4] && r->path[4] != '/')) {
			dd_web_not_found(r);
		} else {
			dd_http_error(r, 404, "not_found",
				      "no such API endpoint: %s", r->path);
		}
	}
	dd_buf_release(&allow);
	return rt;
}

static const struct dd_http_stream_route *const stream_tables[] = {
	dd_v1_file_streams,
	dd_v1_lease_file_streams,
};

const struct dd_http_stream_route *const *
dd_http_stream_route_tables(size_t *n)
{
	*n = sizeof(stream_tables) / sizeof(*stream_tables);
	return stream_tables;
}

const struct dd_http_stream_route *
dd_http_route_streaming(struct dd_http_req *r)
{
	const char *type = dd_http_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
	bool octets = type && !strncasecmp(type, "application/octet-stream",
					   24) &&
		      (!type[24] || type[24] == ';' || type[24] == ' ');

	for (size_t t = 0; t < sizeof(stream_tables) / sizeof(*stream_tables);
	     t++) {
		for (const struct dd_http_stream_route *sr = stream_tables[t];
		     sr->method; sr++) {
			long long params[DD_HTTP_MAX_PARAMS] = {0};
			const char *tail = NULL;

			if (strcmp(sr->method, r->method) ||
			    !dd_http_match(sr->pattern, r->path, params, &tail))
				continue;
			if (!octets && !sr->always &&
			    !(sr->query_key &&
			      dd_http_query(r, sr->query_key)))
				return NULL;
			memcpy(r->params, params, sizeof(params));
			r->tail = tail;
			return sr;
		}
	}
	return NULL;
}

bool dd_http_authorize(struct dd_http_req *r, enum dd_http_auth auth)
{
	if (auth == DD_HTTP_BEARER && !authenticate_bearer(r))
		return false;
	if (auth == DD_HTTP_SESSION && !dd_web_session(r))
		return false;
	return true;
}
