/*
 * api_whoami.c - GET /api/v1/whoami: who the caller's token says it is.
 */
#include "http/api_v1.h"

/* ---- who am I ------------------------------------------------------ */

static void whoami(struct dd_http_req *r)
{
	if (!dd_http_query_known(r, dd_v1_no_args))
		return;
	dd_http_json(r, 200,
		     json_pack("{s:s,s:s,s:I}", "identity", r->who.identity,
			       "role", dd_role_name(r->who.role), "token",
			       (json_int_t)r->who.token_id));
}

const struct dd_http_route dd_v1_whoami_routes[] = {
	{"GET", "/api/v1/whoami", DD_HTTP_BEARER, whoami, false},
	{NULL, NULL, 0, NULL, false},
};
