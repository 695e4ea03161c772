/*
 * api_openapi.c - GET /api/v1/openapi.json: the API's OpenAPI 3
 * description (openapi.h), from which users generate clients.  It needs
 * no token, like a public schema anywhere: it tells what the API takes
 * and answers, nothing about who owns what.  It is the file as written,
 * built into the binary, so it needs no store either.
 */
#include "http/api_v1.h"
#include "http/openapi.h"

static void openapi(struct dd_http_req *r)
{
	if (!dd_http_query_known(r, dd_v1_no_args))
		return;
	if (dd_buf_add(&r->out, (const char *)dd_openapi_json,
		       dd_openapi_json_len))
		return dd_http_error(r, 500, "out_of_memory", "out of memory");
	dd_http_text(r, 200, "application/json");
}

const struct dd_http_route dd_v1_openapi_routes[] = {
	{"GET", "/api/v1/openapi.json", DD_HTTP_PUBLIC, openapi, true},
	{NULL, NULL, 0, NULL, false},
};
