/*
 * router.h - what the server asks the router (router.c): which route
 * answers a request, and whether its caller may call it.  Both answer
 * the request themselves when the answer is no.
 */
#ifndef DD_HTTP_ROUTER_H
#define DD_HTTP_ROUTER_H

#include "http/http.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * The route for r->method and r->path, with r->params filled; NULL after
 * answering 404 (a page outside /api, JSON under it) or 405 with Allow.
 * HEAD takes a GET route.  Reads no store: runs on libmicrohttpd's
 * thread.
 */
const struct dd_http_route *dd_http_route_find(struct dd_http_req *r);
/*
 * The stream route (http.h) for the request if it takes its body as a
 * stream: one fits its method and path, with r->params filled, and its
 * Content-Type is application/octet-stream or its query has the route's
 * `query_key`.  NULL otherwise, answering nothing: the request then goes
 * the usual way, its body read whole.
 */
const struct dd_http_stream_route *
dd_http_route_streaming(struct dd_http_req *r);
/*
 * Authenticate the caller as a route's `auth` asks (a bearer token, the web UI's
 * session, or nobody), filling r->who; false after answering (401, or
 * the redirect to sign in).  Needs r->store.
 */
bool dd_http_authorize(struct dd_http_req *r, enum dd_http_auth auth);
/*
 * The route tables the router searches, in the order it searches them,
 * and how many (*n): tests/unit/test_openapi.c holds every API route
 * against docs/openapi.json with them.
 */
const struct dd_http_route *const *dd_http_route_tables(size_t *n);
/* The same for the stream routes. */
const struct dd_http_stream_route *const *
dd_http_stream_route_tables(size_t *n);

#endif
