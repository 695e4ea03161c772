/*
 * internal.h - the HTTP server's pure helpers: route matching, the
 * listen address, the request log's path quoting and the long poll's
 * "has the lease got there" test.  Shared by router.c, server.c and
 * api_leases.c and their unit tests (tests/unit/test_http.c); not part
 * of http.h, which is what handlers see.
 */
#ifndef DD_HTTP_INTERNAL_H
#define DD_HTTP_INTERNAL_H

#include "core/error.h"
#include "core/state.h"
#include "http/http.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/*
 * Does `path` fit `pattern` ("/api/v1/leases/{id}/log")?  Each {id} takes
 * a positive decimal without sign or leading zeros, at most 2^53, into
 * params in order; anything else does not fit.  A pattern ending in
 * "{path}" takes the rest of the path, slashes and all, maybe empty, into
 * *tail (a pointer into `path`; tail may be NULL for other patterns).
 */
bool dd_http_match(const char *pattern, const char *path,
		   long long params[DD_HTTP_MAX_PARAMS], const char **tail);

/*
 * Parse a listen address, "HOST:PORT" (numeric IPv4, or "localhost") or
 * "[V6]:PORT", port 0 to 65535, into *ss and *len.  DD_ERR_INVALID with
 * the reason otherwise.
 */
int dd_http_parse_listen(const char *spec, struct sockaddr_storage *ss,
			 socklen_t *len, struct dd_error *err);

/*
 * Is the path of a request target as sent ("/api/v1/leases%00?x=1") free
 * of control characters, raw or %-escaped?  The query is not looked at.
 */
bool dd_http_target_ok(const char *target);

/*
 * Copy `path` into out (n bytes, NUL-terminated, truncated to fit) with
 * spaces, controls, quotes, backslashes and bytes past ASCII as %XX, so a
 * request log line stays one line of key=value.
 */
void dd_http_log_path(const char *path, char *out, size_t n);

/*
 * Has a lease in status `now` reached `want`, or ended so that it never
 * will?  A long poll (?wait=STATE) answers as soon as this holds.
 */
bool dd_http_lease_reached(enum dd_lease_status now,
			   enum dd_lease_status want);

#endif
