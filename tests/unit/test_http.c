/*
 * test_http.c - the HTTP server's pure parts: route matching and its ids,
 * the listen address, the request log's path quoting, UTF-8 repair, the
 * long poll's "reached" test, request bodies and error answers.  The
 * server itself is tested end to end by tests/integration/http_*.sh.
 */
#include "testutil.h"

#include "core/input.h"
#include "http/http.h"
#include "http/internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>

static bool fits(const char *pattern, const char *path, long long *p0,
		 long long *p1)
{
	long long params[DD_HTTP_MAX_PARAMS] = {0};
	bool ok = dd_http_match(pattern, path, params, NULL);

	if (p0)
		*p0 = params[0];
	if (p1)
		*p1 = params[1];
	return ok;
}

/* A pattern's trailing {path} takes the rest, slashes and all. */
static void test_match_path_tail(void **state)
{
	static const char pat[] = "/api/v1/leases/{id}/files/{path}";
	long long params[DD_HTTP_MAX_PARAMS] = {0};
	const char *tail = NULL;

	(void)state;
	assert_true(dd_http_match(pat, "/api/v1/leases/3/files/a/b.txt", params,
				  &tail));
	assert_int_equal(params[0], 3);
	assert_string_equal(tail, "a/b.txt");
	assert_true(dd_http_match(pat, "/api/v1/leases/3/files//etc/x", params,
				  &tail));
	assert_string_equal(tail, "/etc/x");
	assert_true(dd_http_match(pat, "/api/v1/leases/3/files/", params,
				  &tail));
	assert_string_equal(tail, "");
	assert_true(dd_http_match(pat, "/api/v1/leases/3/files/d/", params,
				  &tail));
	assert_string_equal(tail, "d/");
	/* the part before it must still fit */
	assert_false(dd_http_match(pat, "/api/v1/leases/3/files", params,
				   &tail));
	assert_false(dd_http_match(pat, "/api/v1/leases/x/files/a", params,
				   &tail));
	assert_false(dd_http_match(pat, "/api/v1/leases/3/file/a", params,
				   &tail));
	/* without a place for it, {path} is a literal segment */
	assert_false(dd_http_match(pat, "/api/v1/leases/3/files/a", params,
				   NULL));
}

static void test_match_routes(void **state)
{
	long long a, b;

	(void)state;
	assert_true(fits("/api/v1/leases", "/api/v1/leases", NULL, NULL));
	assert_true(fits("/", "/", NULL, NULL));
	assert_true(fits("/api/v1/leases/{id}", "/api/v1/leases/12", &a, NULL));
	assert_int_equal(a, 12);
	assert_true(fits("/api/v1/leases/{id}/log", "/api/v1/leases/7/log", &a,
			 NULL));
	assert_int_equal(a, 7);
	assert_true(fits("/x/{id}/y/{id}", "/x/3/y/4", &a, &b));
	assert_int_equal(a, 3);
	assert_int_equal(b, 4);

	/* near misses */
	assert_false(fits("/api/v1/leases", "/api/v1/lease", NULL, NULL));
	assert_false(fits("/api/v1/leases", "/api/v1/leasesx", NULL, NULL));
	assert_false(fits("/api/v1/leases", "/api/v1/leases/", NULL, NULL));
	assert_false(fits("/api/v1/leases", "/api/v1//leases", NULL, NULL));
	assert_false(fits("/api/v1/leases", "/api/v1", NULL, NULL));
	assert_false(fits("/api/v1/leases", "", NULL, NULL));
	assert_false(fits("/api/v1/leases/{id}", "/api/v1/leases/", NULL, NULL));
	assert_false(fits("/api/v1/leases/{id}", "/api/v1/leases", NULL, NULL));
	assert_false(
		fits("/api/v1/leases/{id}", "/api/v1/leases/1/", NULL, NULL));
	assert_false(fits("/api/v1/leases/{id}", "/api/v1/leases/1/log", NULL,
			  NULL));
	assert_false(fits("/api/v1/leases/{id}/log", "/api/v1/leases/1", NULL,
			  NULL));
	assert_false(fits("/api/v1/leases/{id}/log", "/api/v1/leases/1/logs",
			  NULL, NULL));
	/* more ids than a route may have */
	assert_false(fits("/{id}/{id}/{id}", "/1/2/3", NULL, NULL));
}

static void test_match_ids(void **state)
{
	static const char *const bad[] = {
		"0",	"00",	 "01",	"-1",	"+1",  " 1",	"1 ",
		"1e3",	"0x10",	 "1.0", "abc",	"1a",  "9007199254740993",
		"99999999999999999999", "18446744073709551617",
		"9223372036854775807",	"12345678901234567",
	};
	char path[64];
	long long id;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		snprintf(path, sizeof(path), "/leases/%s", bad[i]);
		if (fits("/leases/{id}", path, NULL, NULL))
			fail_msg("'%s' was taken for an id", bad[i]);
	}
	assert_true(fits("/leases/{id}", "/leases/1", &id, NULL));
	assert_int_equal(id, 1);
	assert_true(fits("/leases/{id}", "/leases/9007199254740992", &id, NULL));
	assert_int_equal(id, 9007199254740992LL);
	assert_true(fits("/leases/{id}", "/leases/1000000000000000", &id, NULL));
	assert_int_equal(id, 1000000000000000LL);
}

static void listen_ok(const char *spec, int family, const char *host,
		      unsigned port)
{
	struct sockaddr_storage ss;
	struct dd_error err = DD_ERROR_INIT;
	socklen_t len = 0;
	char got[64];

	if (dd_http_parse_listen(spec, &ss, &len, &err))
		fail_msg("'%s' refused: %s", spec, err.msg);
	assert_int_equal(ss.ss_family, family);
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		assert_int_equal(len, sizeof(*a));
		inet_ntop(AF_INET, &a->sin_addr, got, sizeof(got));
		assert_int_equal(ntohs(a->sin_port), port);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		assert_int_equal(len, sizeof(*a));
		inet_ntop(AF_INET6, &a->sin6_addr, got, sizeof(got));
		assert_int_equal(ntohs(a->sin6_port), port);
	}
	assert_string_equal(got, host);
}

static void test_parse_listen(void **state)
{
	static const char *const bad[] = {
		"",		   "8150",	       ":8150",
		"127.0.0.1",	   "127.0.0.1:",       "127.0.0.1:65536",
		"127.0.0.1:-1",	   "127.0.0.1:80x",    "127.0.0.1:0x50",
		"127.0.0.1:99999999999999999999",	"1.2.3:80",
		"256.0.0.1:80",	   "example.org:80",   "::1:80",
		"[::1]80",	   "[::1]",	       "[::1]:",
		"[::1:80",	   "[]:80",	       "[127.0.0.1]:80",
		"[fe80::1%eth0]:80",
		"a-very-long-host-name-that-does-not-fit-in-the-buffer-at-all-x:1",
	};
	struct sockaddr_storage ss;
	struct dd_error err = DD_ERROR_INIT;
	socklen_t len;

	(void)state;
	listen_ok("127.0.0.1:8150", AF_INET, "127.0.0.1", 8150);
	listen_ok("0.0.0.0:0", AF_INET, "0.0.0.0", 0);
	listen_ok("10.1.2.3:65535", AF_INET, "10.1.2.3", 65535);
	listen_ok("localhost:80", AF_INET, "127.0.0.1", 80);
	listen_ok("[::1]:8150", AF_INET6, "::1", 8150);
	listen_ok("[::]:0", AF_INET6, "::", 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		dd_error_clear(&err);
		if (!dd_http_parse_listen(bad[i], &ss, &len, &err))
			fail_msg("'%s' was taken for a listen address", bad[i]);
		assert_int_equal(err.code, DD_ERR_INVALID);
		assert_non_null(strstr(err.msg, "bad listen address"));
	}
}

static void test_log_path(void **state)
{
	char out[256];

	(void)state;
	dd_http_log_path("/api/v1/leases/1", out, sizeof(out));
	assert_string_equal(out, "/api/v1/leases/1");
	dd_http_log_path("/a b\"c\\d\te\nf", out, sizeof(out));
	assert_string_equal(out, "/a%20b%22c%5Cd%09e%0Af");
	dd_http_log_path("/\xff\x7f\xc3\xa9", out, sizeof(out));
	assert_string_equal(out, "/%FF%7F%C3%A9");
	dd_http_log_path("", out, sizeof(out));
	assert_string_equal(out, "");
}

/* A control character in a request's path, raw or %-escaped, is refused. */
static void test_target_ok(void **state)
{
	(void)state;
	assert_true(dd_http_target_ok("/api/v1/leases"));
	assert_true(dd_http_target_ok("/api/v1/leases/12?status=active"));
	assert_true(dd_http_target_ok("/a%20b/%c3%a9/%7e/%2f"));
	assert_true(dd_http_target_ok("/100%"));
	assert_true(dd_http_target_ok("/%zz%1"));
	/* the query is the argument checks' business */
	assert_true(dd_http_target_ok("/api/v1/leases?status=%00"));
	assert_false(dd_http_target_ok("/api/v1/leases%00"));
	assert_false(dd_http_target_ok("/api/v1/leases%00?x=1"));
	assert_false(dd_http_target_ok("/x%0a"));
	assert_false(dd_http_target_ok("/x%0D%0A"));
	assert_false(dd_http_target_ok("/x%1f"));
	assert_false(dd_http_target_ok("/x%7F"));
	assert_false(dd_http_target_ok("/x\x01"));
	assert_false(dd_http_target_ok("/x\ty"));
	assert_false(dd_http_target_ok("/x\x7f"));
}

static void test_log_path_truncates(void **state)
{
	char path[1000], out[16];

	(void)state;
	/* the guard bytes after out must survive every length */
	for (size_t n = 1; n < 12; n++) {
		memset(out, '#', sizeof(out));
		memset(path, '\xff', sizeof(path) - 1);
		path[sizeof(path) - 1] = '\0';
		dd_http_log_path(path, out, n);
		assert_true(strlen(out) < n);
		for (size_t i = n; i < sizeof(out); i++)
			assert_int_equal(out[i], '#');
		/* never half an escape */
		assert_int_equal(strlen(out) % 3, 0);
	}
	memset(path, 'a', sizeof(path) - 1);
	dd_http_log_path(path, out, sizeof(out));
	assert_true(strlen(out) < sizeof(out));
}

static void lossy(const char *in, size_t n, const char *want)
{
	json_t *j = dd_json_string_lossy(in, n);

	assert_non_null(j);
	assert_string_equal(json_string_value(j), want);
	json_decref(j);
}

#define R "\xef\xbf\xbd" /* U+FFFD */

static void test_lossy_utf8(void **state)
{
	(void)state;
	lossy("", 0, "");
	lossy("plain", 5, "plain");
	lossy("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82", 14,
	      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82");
	lossy("a\xff" "b", 3, "a" R "b");
	lossy("\xc0\xaf", 2, R R);			/* overlong '/' */
	lossy("\xe0\x80\xaf", 3, R R R);		/* overlong, 3 bytes */
	lossy("\xed\xa0\x80", 3, R R R);		/* a surrogate */
	lossy("\xf4\x90\x80\x80", 4, R R R R);	/* past U+10FFFF */
	lossy("\xc3", 1, R);				/* cut short */
	lossy("ok\xe2\x82", 4, "ok" R R);		/* cut short at the end */
	lossy("\x80\xbf", 2, R R);			/* lone continuations */
}

static void test_lease_reached(void **state)
{
	/* want across, now down: did a long poll for `want` end at `now`? */
	static const bool table[DD_LEASE_STATUS_COUNT][DD_LEASE_STATUS_COUNT] = {
		/* want: pending acquired active released broken destroyed */
		[DD_LEASE_PENDING] = {1, 0, 0, 0, 0, 0},
		[DD_LEASE_ACQUIRED] = {1, 1, 0, 0, 0, 0},
		[DD_LEASE_ACTIVE] = {1, 1, 1, 0, 0, 0},
		[DD_LEASE_RELEASED] = {1, 1, 1, 1, 0, 0},
		[DD_LEASE_BROKEN] = {1, 1, 1, 1, 1, 0},
		[DD_LEASE_DESTROYED] = {1, 1, 1, 1, 1, 1},
	};

	(void)state;
	for (int now = 0; now < DD_LEASE_STATUS_COUNT; now++)
		for (int want = 0; want < DD_LEASE_STATUS_COUNT; want++)
			if (dd_http_lease_reached(now, want) != table[now][want])
				fail_msg("now %s, want %s: got %d",
					 dd_lease_status_name(now),
					 dd_lease_status_name(want),
					 !table[now][want]);
}

/* A request with only a body, for the body and error helpers. */
static void req_init(struct dd_http_req *r, const char *body, size_t n)
{
	memset(r, 0, sizeof(*r));
	r->method = "POST";
	r->path = "/api/v1/test";
	r->body = body;
	r->body_len = n;
}

/* The answer must be STATUS with {"error": {"code": CODE, "message"}}. */
static void assert_error(struct dd_http_req *r, int status, const char *code)
{
	json_error_t jerr;
	json_t *o, *e;

	assert_int_equal(r->status, status);
	assert_string_equal(r->content_type, "application/json");
	o = json_loadb(r->out.buf, r->out.len, 0, &jerr);
	if (!o)
		fail_msg("answer is not JSON (%s): %.*s", jerr.text,
			 (int)r->out.len, r->out.buf);
	assert_int_equal(json_object_size(o), 1);
	e = json_object_get(o, "error");
	assert_int_equal(json_object_size(e), 2);
	assert_string_equal(json_string_value(json_object_get(e, "code")),
			    code);
	assert_true(json_string_length(json_object_get(e, "message")) > 0);
	assert_string_equal(r->error_code, code);
	json_decref(o);
}

static void body(const char *text, size_t n, int status, const char *code)
{
	static const char *const known[] = {"type", "ttl", NULL};
	struct dd_http_req r;
	json_t *o;

	req_init(&r, text, n);
	o = dd_http_body_object(&r, known);
	if (!status) {
		if (!o)
			fail_msg("'%.*s' refused: %.*s", (int)n, text,
				 (int)r.out.len, r.out.buf);
		assert_true(json_is_object(o));
		assert_int_equal(r.status, 0);
		json_decref(o);
	} else {
		if (o)
			fail_msg("'%.*s' taken", (int)n, text);
		assert_error(&r, status, code);
	}
	dd_buf_release(&r.out);
}

/* BODY is a string literal: its length includes any NUL inside it. */
#define B(text, status, code) body(text, sizeof(text) - 1, status, code)

static void test_body_object(void **state)
{
	(void)state;
	B("", 0, NULL);
	B("{}", 0, NULL);
	B("{\"type\": \"host\", \"ttl\": 5}", 0, NULL);
	B(" \n{\"type\": \"h\"}\n", 0, NULL);
	B("{", 400, "malformed");
	B("[]", 400, "malformed");
	B("\"x\"", 400, "malformed");
	B("null", 400, "malformed");
	B("{} {}", 400, "malformed");
	B("{\"type\": 1, \"type\": 2}", 400, "malformed");
	B("{\"type\": \"\xff\"}", 400, "malformed");
	B("{\"type\": \"a\\u0000b\"}", 400, "malformed");
	B("{\"type\": \"a\"}\0", 400, "malformed");
	B("{\"ttl\": 1e400}", 400, "malformed");
	B("{\"owner\": \"x\"}", 400, "invalid");
	B("{\"Type\": \"x\"}", 400, "invalid");
	B("{\"\xc3\xa9\": 1}", 400, "invalid");
}

static void test_error_not_utf8(void **state)
{
	char big[1200];
	struct dd_http_req r;
	json_t *o;

	(void)state;
	/* a path that is not UTF-8, quoted back: still the 404 */
	req_init(&r, "", 0);
	dd_http_error(&r, 404, "not_found", "no such page: %s", "/\xff\xfe");
	assert_error(&r, 404, "not_found");
	o = json_loadb(r.out.buf, r.out.len, 0, NULL);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(o, "error"),
						  "message")),
		"no such page: /" R R);
	json_decref(o);
	dd_buf_release(&r.out);

	/* a message cut in the middle of a character by its buffer */
	for (size_t i = 0; i + 2 < sizeof(big); i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	big[sizeof(big) - 2] = '\0';
	for (int shift = 0; shift < 2; shift++) {
		req_init(&r, "", 0);
		dd_http_error(&r, 400, "invalid", "%.*sx'%s'", shift, "ab",
			      big);
		assert_error(&r, 400, "invalid");
		dd_buf_release(&r.out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_routes),
		cmocka_unit_test(test_match_path_tail),
		cmocka_unit_test(test_match_ids),
		cmocka_unit_test(test_parse_listen),
		cmocka_unit_test(test_log_path),
		cmocka_unit_test(test_target_ok),
		cmocka_unit_test(test_log_path_truncates),
		cmocka_unit_test(test_lossy_utf8),
		cmocka_unit_test(test_lease_reached),
		cmocka_unit_test(test_body_object),
		cmocka_unit_test(test_error_not_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
