/*
 * test_openapi.c - the API's description (docs/openapi.json, as built into
 * the binary) and the router agree: every route under /api and every
 * probe has its path and method in the description, every operation the
 * description has is a route, and an operation needs a token exactly when
 * its route does.  The routes come from the router's own tables, so a new
 * endpoint fails here until it is described (docs/testing.md).  That the
 * description is valid OpenAPI, and that the API's real answers fit it,
 * is checked by tests/integration/openapi.sh and tests/run.sh.
 */
#include "testutil.h"

#include "http/http.h"
#include "http/openapi.h"
#include "http/router.h"

#include <jansson.h>
#include <strings.h>

/* The operations a path item of OpenAPI 3.0 may have. */
static const char *const methods[] = {
	"get", "put", "post", "delete", "options", "head", "patch", "trace", NULL,
};

static json_t *description(void)
{
	json_error_t jerr;
	json_t *doc = json_loadb((const char *)dd_openapi_json,
				 dd_openapi_json_len, 0, &jerr);

	if (!doc)
		fail_msg("docs/openapi.json is not JSON: %s (line %d)",
			 jerr.text, jerr.line);
	return doc;
}

/*
 * The routes the description covers: the JSON API and the probes.  The
 * web UI's pages and sign-in are HTML for browsers, not part of it.
 */
static bool described(const struct dd_http_route *table,
		      const struct dd_http_route *rt)
{
	return !strncmp(rt->pattern, "/api/", 5) || table == dd_ops_routes;
}

/* `path` with every {name} as {}: the router says {id}, OpenAPI names. */
static void shape(const char *path, char *out, size_t n)
{
	size_t o = 0;

	for (const char *p = path; *p && o + 3 < n; p++) {
		out[o++] = *p;
		if (*p == '{') {
			out[o++] = '}';
			p = strchr(p, '}');
			if (!p)
				break;
		}
	}
	out[o] = '\0';
}

/* The description's operation for a route's method and pattern, or NULL. */
static json_t *operation(json_t *doc, const char *method, const char *pattern)
{
	char want[256], have[256], lower[16];
	const char *path;
	json_t *item;
	size_t i;

	for (i = 0; method[i] && i + 1 < sizeof(lower); i++)
		lower[i] = (char)(method[i] | 0x20);
	lower[i] = '\0';
	shape(pattern, want, sizeof(want));
	json_object_foreach(json_object_get(doc, "paths"), path, item)
	{
		shape(path, have, sizeof(have));
		if (!strcmp(want, have))
			return json_object_get(item, lower);
	}
	return NULL;
}

/* Is there a described route for this method and description path? */
static bool route(const char *method, const char *path)
{
	const struct dd_http_route *const *tables;
	const struct dd_http_stream_route *const *streams;
	char want[256], have[256];
	size_t n;

	shape(path, want, sizeof(want));
	tables = dd_http_route_tables(&n);
	for (size_t t = 0; t < n; t++) {
		for (const struct dd_http_route *rt = tables[t]; rt->method;
		     rt++) {
			shape(rt->pattern, have, sizeof(have));
			if (described(tables[t], rt) &&
			    !strcasecmp(rt->method, method) &&
			    !strcmp(want, have))
				return true;
		}
	}
	/* a route that takes its body as a stream (uploads) */
	streams = dd_http_stream_route_tables(&n);
	for (size_t t = 0; t < n; t++) {
		for (const struct dd_http_stream_route *sr = streams[t];
		     sr->method; sr++) {
			shape(sr->pattern, have, sizeof(have));
			if (!strcasecmp(sr->method, method) &&
			    !strcmp(want, have))
				return true;
		}
	}
	return false;
}

static void test_description_parses(void **state)
{
	json_t *doc = description();

	(void)state;
	assert_string_equal(json_string_value(json_object_get(doc, "openapi")),
			    "3.0.3");
	assert_true(json_object_size(json_object_get(doc, "paths")) > 0);
	/* the bytes are the file's, NUL-terminated, without a stray NUL */
	assert_int_equal(strlen((const char *)dd_openapi_json),
			 dd_openapi_json_len);
	json_decref(doc);
}

static void test_every_route_described(void **state)
{
	const struct dd_http_route *const *tables;
	json_t *doc = description();
	size_t n, routes = 0, missing = 0;

	(void)state;
	tables = dd_http_route_tables(&n);
	for (size_t t = 0; t < n; t++) {
		for (const struct dd_http_route *rt = tables[t]; rt->method;
		     rt++) {
			if (!described(tables[t], rt))
				continue;
			routes++;
			if (operation(doc, rt->method, rt->pattern))
				continue;
			print_error("route %s %s is not in docs/openapi.json: "
				    "describe it there (docs/testing.md)\n",
				    rt->method, rt->pattern);
			missing++;
		}
	}
	/* and every stream route (uploads), which are all under /api */
	{
		const struct dd_http_stream_route *const *streams =
			dd_http_stream_route_tables(&n);

		for (size_t t = 0; t < n; t++) {
			for (const struct dd_http_stream_route *sr =
				     streams[t];
			     sr->method; sr++) {
				routes++;
				if (operation(doc, sr->method, sr->pattern))
					continue;
				print_error("stream route %s %s is not in "
					    "docs/openapi.json\n",
					    sr->method, sr->pattern);
				missing++;
			}
		}
	}
	json_decref(doc);
	assert_true(routes >= 20); /* the tables were found */
	assert_int_equal(missing, 0);
}

static void test_every_operation_routed(void **state)
{
	json_t *doc = description(), *item;
	const char *path;
	size_t stray = 0;

	(void)state;
	json_object_foreach(json_object_get(doc, "paths"), path, item)
	{
		for (int m = 0; methods[m]; m++) {
			if (!json_object_get(item, methods[m]) ||
			    route(methods[m], path))
				continue;
			print_error("docs/openapi.json describes %s %s, which "
				    "the router does not have\n",
				    methods[m], path);
			stray++;
		}
	}
	json_decref(doc);
	assert_int_equal(stray, 0);
}

/*
 * A route that takes a bearer token inherits the description's global
 * security; a public one says "security": [].  The web UI's session
 * cookie is not for API routes.
 */
static void test_security_agrees(void **state)
{
	const struct dd_http_route *const *tables;
	json_t *doc = description(), *global;
	size_t n, wrong = 0;

	(void)state;
	global = json_object_get(doc, "security");
	assert_int_equal(json_array_size(global), 1);
	assert_non_null(json_object_get(json_array_get(global, 0), "bearer"));
	tables = dd_http_route_tables(&n);
	for (size_t t = 0; t < n; t++) {
		for (const struct dd_http_route *rt = tables[t]; rt->method;
		     rt++) {
			json_t *op = operation(doc, rt->method, rt->pattern);
			json_t *sec = json_object_get(op, "security");
			bool ok;

			if (!described(tables[t], rt) || !op)
				continue;
			if (rt->auth == DD_HTTP_PUBLIC)
				ok = json_is_array(sec) && !json_array_size(sec);
			else
				ok = rt->auth == DD_HTTP_BEARER && !sec;
			if (ok)
				continue;
			print_error("%s %s: the route is %s, the description "
				    "says otherwise\n",
				    rt->method, rt->pattern,
				    rt->auth == DD_HTTP_PUBLIC ? "public"
							       : "not public");
			wrong++;
		}
	}
	json_decref(doc);
	assert_int_equal(wrong, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_description_parses),
		cmocka_unit_test(test_every_route_described),
		cmocka_unit_test(test_every_operation_routed),
		cmocka_unit_test(test_security_agrees),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
