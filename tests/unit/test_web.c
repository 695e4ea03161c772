/*
 * test_web.c - the pieces the web UI's pages are made of (http/html.h):
 * the HTML escaper every stored string goes through, times shown as
 * "3 s ago", query-string encoding, form decoding and JSON shown as
 * text, sizes, which URLs may be links; which statuses make a page reload
 * itself (http/web.h); and the build target pages' artifact rows and
 * finish buttons (web_targets.c), by role and state.
 *
 * The pages themselves are tested in a real browser and with curl by
 * tests/integration/web_ui.sh.
 */
#include "testutil.h"

#include <math.h>

#include "http/html.h"
#include "http/web.h"

/* What dd_html_esc() makes of `in`, as a string the test owns. */
static char *escaped(const char *in)
{
	struct dd_buf b = DD_BUF_INIT;

	dd_html_esc(&b, in);
	dd_buf_addstr(&b, ""); /* an empty result is "", not NULL */
	return dd_buf_detach(&b);
}

static void expect_esc(const char *in, const char *want)
{
	char *got = escaped(in);

	assert_string_equal(got, want);
	dd_free(got);
}

static void test_esc_specials(void **state)
{
	(void)state;
	expect_esc("<script>alert('x')</script>",
		   "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
	expect_esc("a & b", "a &amp; b");
	expect_esc("\"quoted\"", "&quot;quoted&quot;");
	expect_esc("&amp;", "&amp;amp;"); /* escaped again, not trusted */
	expect_esc("<<>>", "&lt;&lt;&gt;&gt;");
}

static void test_esc_plain_text_unchanged(void **state)
{
	(void)state;
	expect_esc("", "");
	expect_esc("token:ci-01@example.org", "token:ci-01@example.org");
	/* UTF-8 passes through byte for byte */
	expect_esc("h\xc3\xa9llo \xe2\x9c\x93", "h\xc3\xa9llo \xe2\x9c\x93");
	expect_esc("tab\there\nnewline", "tab\there\nnewline");
}

static void test_esc_null_appends_nothing(void **state)
{
	struct dd_buf b = DD_BUF_INIT;

	(void)state;
	dd_buf_addstr(&b, "x");
	dd_html_esc(&b, NULL);
	assert_string_equal(b.buf, "x");
	dd_buf_release(&b);
}

static void test_esc_long_string(void **state)
{
	char in[5001], *got;

	(void)state;
	for (int i = 0; i < 5000; i++)
		in[i] = i % 2 ? '<' : 'a';
	in[5000] = '\0';
	got = escaped(in);
	assert_int_equal(strlen(got), 2500 + 2500 * 4);
	assert_memory_equal(got, "a&lt;a&lt;", 10);
	assert_null(strchr(got, '<'));
	dd_free(got);
}

static void expect_rel(double ago, const char *want)
{
	char buf[40];
	double now = 1.8e9;

	dd_html_reltime(now - ago, now, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void test_reltime_past(void **state)
{
	(void)state;
	expect_rel(0, "just now");
	expect_rel(0.999, "just now");
	expect_rel(1, "1 s ago");
	expect_rel(3.7, "3 s ago");
	expect_rel(59.99, "59 s ago");
	expect_rel(60, "1 min ago");
	expect_rel(119, "1 min ago");
	expect_rel(3599, "59 min ago");
	expect_rel(3600, "1 h ago");
	expect_rel(47 * 3600 + 3599, "47 h ago");
	expect_rel(48 * 3600, "2 d ago");
	expect_rel(400 * 86400.0, "400 d ago");
}

static void test_reltime_future(void **state)
{
	(void)state;
	expect_rel(-0.5, "now");
	expect_rel(-3, "in 3 s");
	expect_rel(-300, "in 5 min");
	expect_rel(-7200, "in 2 h");
	expect_rel(-5 * 86400.0, "in 5 d");
}

static void test_reltime_small_buffer_and_nonsense(void **state)
{
	char buf[4] = "xyz";
	double nan = NAN;

	(void)state;
	dd_html_reltime(1000, 1003, buf, sizeof(buf));
	assert_string_equal(buf, "3 s"); /* cut, still terminated */
	dd_html_reltime(1000, 1003, buf, 0);
	assert_string_equal(buf, "3 s"); /* n = 0 writes nothing */
	dd_html_reltime(nan, 1003, buf, sizeof(buf));
	assert_string_equal(buf, "jus");
}

static void test_time_element(void **state)
{
	struct dd_buf b = DD_BUF_INIT;
	double t = 1798761600.0; /* 2027-01-01T00:00:00Z */

	(void)state;
	dd_html_time(&b, t, t + 5 * 60 + 10, NULL);
	assert_string_equal(b.buf,
			    "<time datetime=\"2027-01-01T00:00:00.000Z\" "
			    "title=\"2027-01-01T00:00:00.000Z\">5 min "
			    "ago</time>");
	dd_buf_release(&b);

	dd_html_time(&b, 0, t, "<never>");
	assert_string_equal(b.buf,
			    "<span class=\"muted\">&lt;never&gt;</span>");
	dd_buf_release(&b);
	dd_html_time(&b, 0, t, NULL);
	assert_string_equal(b.buf, "<span class=\"muted\">-</span>");
	dd_buf_release(&b);
}

static void expect_urlenc(const char *in, const char *want)
{
	struct dd_buf b = DD_BUF_INIT;

	dd_buf_addstr(&b, "");
	dd_html_urlenc(&b, in);
	assert_string_equal(b.buf, want);
	dd_buf_release(&b);
}

static void test_urlenc(void **state)
{
	(void)state;
	expect_urlenc("token:admin", "token%3Aadmin");
	expect_urlenc("AZaz09-._~", "AZaz09-._~");
	expect_urlenc("a b&c=d/\"<", "a%20b%26c%3Dd%2F%22%3C");
	expect_urlenc("\xc3\xa9", "%C3%A9");
	expect_urlenc("", "");
}

static void expect_form(const char *body, const char *key, const char *want)
{
	char out[16] = "junk";
	bool found = dd_html_form_value(body, key, out, sizeof(out));

	if (!want) {
		assert_false(found);
		assert_string_equal(out, "");
		return;
	}
	assert_true(found);
	assert_string_equal(out, want);
}

static void test_form_value(void **state)
{
	(void)state;
	expect_form("csrf=abc&token=ddt_x", "csrf", "abc");
	expect_form("csrf=abc&token=ddt_x", "token", "ddt_x");
	expect_form("a=1+2%2B3%3d", "a", "1 2+3=");
	expect_form("csrf=", "csrf", "");
	/* a key is matched whole, not as a prefix or suffix */
	expect_form("csrfx=1&xcsrf=2&csrf=3", "csrf", "3");
	expect_form("csrf&csrf=4", "csrf", "4");
	expect_form("token=x", "csrf", NULL);
	expect_form("", "csrf", NULL);
	/* the first of two wins */
	expect_form("csrf=1&csrf=2", "csrf", "1");
}

static void test_form_value_refuses_malformed(void **state)
{
	(void)state;
	expect_form("csrf=%4", "csrf", NULL);
	expect_form("csrf=%4&x=1", "csrf", NULL); /* never reads past '&' */
	expect_form("csrf=%zz", "csrf", NULL);
	expect_form("csrf=%+1", "csrf", NULL);
	expect_form("csrf=a%00b", "csrf", NULL);
	expect_form("csrf=0123456789abcdef", "csrf", NULL); /* too long */
	expect_form("csrf=0123456789abcde", "csrf", "0123456789abcde");
}

static void test_json_escaped(void **state)
{
	struct dd_buf b = DD_BUF_INIT;
	json_t *v = json_pack("{s:s,s:i}", "<b>", "</pre><script>x</script>",
			      "n", 1);

	(void)state;
	dd_html_json(&b, v, false);
	assert_string_equal(b.buf, "{&quot;&lt;b&gt;&quot;:&quot;&lt;/pre&gt;"
				   "&lt;script&gt;x&lt;/script&gt;&quot;,"
				   "&quot;n&quot;:1}");
	dd_buf_release(&b);
	dd_html_json(&b, v, true);
	assert_non_null(strchr(b.buf, '\n'));
	assert_null(strchr(b.buf, '<'));
	dd_buf_release(&b);
	dd_html_json(&b, NULL, true);
	assert_string_equal(b.buf, "null");
	dd_buf_release(&b);
	json_decref(v);

	v = json_pack("{s:f}", "waited", 0.027619838714599609);
	dd_html_json(&b, v, false);
	assert_string_equal(b.buf, "{&quot;waited&quot;:0.0276198}");
	dd_buf_release(&b);
	json_decref(v);
}

/* Pages reload while their object changes by itself, not when it rests. */
static void test_changing_statuses(void **state)
{
	(void)state;
	assert_true(dd_web_lease_changing(DD_LEASE_PENDING));
	assert_true(dd_web_lease_changing(DD_LEASE_ACQUIRED));
	assert_false(dd_web_lease_changing(DD_LEASE_ACTIVE));
	assert_true(dd_web_lease_changing(DD_LEASE_RELEASED));
	assert_true(dd_web_lease_changing(DD_LEASE_BROKEN));
	assert_false(dd_web_lease_changing(DD_LEASE_DESTROYED));
	assert_true(dd_web_resource_changing(DD_RESOURCE_PENDING));
	assert_false(dd_web_resource_changing(DD_RESOURCE_ACTIVE));
	assert_true(dd_web_resource_changing(DD_RESOURCE_RELEASED));
	assert_true(dd_web_resource_changing(DD_RESOURCE_BROKEN));
	assert_false(dd_web_resource_changing(DD_RESOURCE_DESTROYED));

	assert_int_equal(dd_web_sooner(0, 0), 0);
	assert_int_equal(dd_web_sooner(0, 10), 10);
	assert_int_equal(dd_web_sooner(2, 0), 2);
	assert_int_equal(dd_web_sooner(10, 2), 2);
}

/* ---- build targets (web_targets.c) --------------------------------- */

static void test_link_ok(void **state)
{
	(void)state;
	assert_true(dd_html_link_ok("https://example.org/r?a=1&b=2"));
	assert_true(dd_html_link_ok("http://ci.example/build/12"));
	assert_true(dd_html_link_ok("HTTPS://EXAMPLE.ORG/"));
	assert_false(dd_html_link_ok(NULL));
	assert_false(dd_html_link_ok(""));
	assert_false(dd_html_link_ok("javascript:alert(1)"));
	assert_false(dd_html_link_ok("JavaScript:alert(1)"));
	assert_false(dd_html_link_ok("data:text/html,<script>x</script>"));
	assert_false(dd_html_link_ok("//evil.example/"));
	assert_false(dd_html_link_ok("/leases/1"));
	/* what a browser would trim into another scheme, or a space */
	assert_false(dd_html_link_ok(" javascript:alert(1)"));
	assert_false(dd_html_link_ok("\tjavascript:alert(1)"));
	assert_false(dd_html_link_ok("https://a.example/\nx"));
	assert_false(dd_html_link_ok("https://a.example/ x"));
	assert_false(dd_html_link_ok("https:x"));
}

static void test_size(void **state)
{
	char buf[32];

	(void)state;
	dd_html_size(0, buf, sizeof(buf));
	assert_string_equal(buf, "0 B");
	dd_html_size(1023, buf, sizeof(buf));
	assert_string_equal(buf, "1023 B");
	dd_html_size(1536, buf, sizeof(buf));
	assert_string_equal(buf, "1.5 KiB");
	dd_html_size(200LL << 20, buf, sizeof(buf));
	assert_string_equal(buf, "200.0 MiB");
	dd_html_size(1LL << 30, buf, sizeof(buf));
	assert_string_equal(buf, "1.0 GiB");
	dd_html_size(5LL << 40, buf, sizeof(buf));
	assert_string_equal(buf, "5.0 TiB");
}

/* dd_web_artifact_row() of an artifact, as a string the test owns. */
static char *artifact_row(const char *key, const char *type, const char *data,
			  const char *lease_status)
{
	struct dd_artifact a = {.id = 7, .target = 3, .complete = true,
				.created = 1000};
	struct dd_buf b = DD_BUF_INIT;

	a.key = (char *)key;
	a.type = (char *)type;
	a.data = json_loads(data, 0, NULL);
	assert_non_null(a.data);
	if (!strcmp(type, "file")) {
		a.size = 1536;
		memset(a.sha256, 'a', 64);
	}
	dd_web_artifact_row(&b, &a, lease_status, 1010);
	json_decref(a.data);
	return dd_buf_detach(&b);
}

static void test_artifact_uri(void **state)
{
	char *row;

	(void)state;
	row = artifact_row("<b>docs</b>", "uri",
			   "{\"uri\": \"https://x.example/?a=1&b=\\\"q\\\"\", "
			   "\"name\": \"<em>r</em>\", \"external\": true}",
			   NULL);
	assert_non_null(strstr(row, "<code>&lt;b&gt;docs&lt;/b&gt;</code>"));
	assert_non_null(strstr(
		row, "<a href=\"https://x.example/?a=1&amp;b=&quot;q&quot;\" "
		     "rel=\"noopener noreferrer\">&lt;em&gt;r&lt;/em&gt;</a>"));
	assert_non_null(strstr(row, "s-external"));
	assert_null(strstr(row, "<b>"));
	dd_free(row);
	/* no name: the URI is the text; not external: no badge */
	row = artifact_row("k", "uri", "{\"uri\": \"http://a.example/\"}", NULL);
	assert_non_null(strstr(row, "<a href=\"http://a.example/\" rel=\"noopener "
				    "noreferrer\">http://a.example/</a>"));
	assert_null(strstr(row, "external"));
	dd_free(row);
}

static void test_artifact_uri_never_javascript(void **state)
{
	const char *bad[] = {
		"{\"uri\": \"javascript:alert(1)\"}",
		"{\"uri\": \"JAVASCRIPT:alert(1)\", \"name\": \"click\"}",
		"{\"uri\": \"data:text/html,<script>alert(1)</script>\"}",
		"{\"uri\": \" javascript:alert(1)\"}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		char *row = artifact_row("k", "uri", bad[i], NULL);

		assert_null(strstr(row, "href"));
		assert_null(strstr(row, "<script"));
		assert_non_null(strstr(row, "<code>"));
		dd_free(row);
	}
}

static void test_artifact_file_and_host(void **state)
{
	char *row;

	(void)state;
	row = artifact_row("log", "file", "{\"name\": \"out\\\"put.log\"}", NULL);
	assert_non_null(strstr(row, "<a href=\"/artifacts/7/content\" "
				    "download=\"out&quot;put.log\">"
				    "out&quot;put.log</a>"));
	assert_non_null(strstr(row, "title=\"1536 bytes\">1.5 KiB</span>"));
	assert_non_null(strstr(row, "<code class=\"sha256\" title=\"SHA-256\">"
				    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
				    "aaaaaaaaaaaaaaaaaaaaaaaa</code>"));
	dd_free(row);
	row = artifact_row("host", "host", "{\"lease\": 12}", "active");
	assert_non_null(strstr(row, "<a href=\"/leases/12\">lease 12</a> "
				    "<span class=\"badge s-active\">active</span>"));
	dd_free(row);
	row = artifact_row("host", "host", "{\"lease\": 12}", NULL);
	assert_null(strstr(row, "badge"));
	dd_free(row);
}

static void test_artifact_file_incomplete(void **state)
{
	struct dd_artifact a = {.id = 7, .key = "big", .type = "file",
				.size = 2048};
	struct dd_buf b = DD_BUF_INIT;

	(void)state;
	a.data = json_object();
	dd_web_artifact_row(&b, &a, NULL, 0);
	assert_null(strstr(b.buf, "href"));
	assert_non_null(strstr(b.buf, "uploading: 2.0 KiB (2048 bytes)"));
	json_decref(a.data);
	dd_buf_release(&b);
}

/* The finish buttons `role` (as `identity`) sees on target `t`. */
static char *buttons(enum dd_role role, const char *identity,
		     enum dd_target_status status, bool finishing,
		     struct dd_web_target_finish *fin)
{
	struct dd_principal who = {.role = role};
	struct dd_target t = {.id = 5, .owner = "token:ci", .status = status};
	struct dd_buf b = DD_BUF_INIT;

	snprintf(who.identity, sizeof(who.identity), "%s", identity);
	dd_web_target_finish_state(&who, &t, finishing, fin);
	dd_web_target_finish_buttons(&b, fin);
	dd_buf_addstr(&b, "");
	return dd_buf_detach(&b);
}

static void test_finish_buttons_by_role(void **state)
{
	struct dd_web_target_finish fin;
	char *html;

	(void)state;
	/* the owner and an admin see all three */
	html = buttons(DD_ROLE_CLIENT, "token:ci", DD_TARGET_BUILDING, false,
		       &fin);
	assert_int_equal(fin.refused, 0);
	assert_non_null(strstr(html, "id=\"finish-passed\" "
				     "href=\"/targets/5/finish?result=passed\""));
	assert_non_null(strstr(html, "id=\"finish-failed\" "
				     "href=\"/targets/5/finish?result=failed\""));
	assert_non_null(strstr(html, "class=\"button danger\" id=\"abort\" "
				     "href=\"/targets/5/finish?result=aborted\""));
	dd_free(html);
	html = buttons(DD_ROLE_ADMIN, "token:root", DD_TARGET_BUILDING, false,
		       &fin);
	assert_int_equal(fin.refused, 0);
	assert_non_null(strstr(html, "id=\"abort\""));
	dd_free(html);
	/* another client and a viewer see none, and are told why */
	html = buttons(DD_ROLE_CLIENT, "token:other", DD_TARGET_BUILDING, false,
		       &fin);
	assert_string_equal(html, "");
	assert_int_equal(fin.refused, 403);
	assert_string_equal(fin.why, "only its owner, token:ci, or an admin "
				     "may finish it");
	dd_free(html);
	html = buttons(DD_ROLE_VIEWER, "token:ci", DD_TARGET_BUILDING, false,
		       &fin);
	assert_string_equal(html, "");
	assert_int_equal(fin.refused, 403);
	assert_non_null(strstr(fin.why, "viewer"));
	dd_free(html);
}

static void test_finish_buttons_by_state(void **state)
{
	static const enum dd_target_status done[] = {
		DD_TARGET_PASSED, DD_TARGET_FAILED, DD_TARGET_ABORTED};
	struct dd_web_target_finish fin;
	char *html, why[64];

	(void)state;
	for (size_t i = 0; i < sizeof(done) / sizeof(*done); i++) {
		html = buttons(DD_ROLE_ADMIN, "token:root", done[i], false,
			       &fin);
		assert_string_equal(html, "");
		assert_int_equal(fin.refused, 409);
		snprintf(why, sizeof(why), "it is already %s",
			 dd_target_status_name(done[i]));
		assert_string_equal(fin.why, why);
		dd_free(html);
	}
	/* a finish waiting in the queue: no second one */
	html = buttons(DD_ROLE_CLIENT, "token:ci", DD_TARGET_BUILDING, true,
		       &fin);
	assert_string_equal(html, "");
	assert_true(fin.finishing);
	assert_true(fin.allowed);
	assert_int_equal(fin.refused, 409);
	assert_string_equal(fin.why, "a finish is already queued");
	dd_free(html);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_esc_specials),
		cmocka_unit_test(test_esc_plain_text_unchanged),
		cmocka_unit_test(test_esc_null_appends_nothing),
		cmocka_unit_test(test_esc_long_string),
		cmocka_unit_test(test_reltime_past),
		cmocka_unit_test(test_reltime_future),
		cmocka_unit_test(test_reltime_small_buffer_and_nonsense),
		cmocka_unit_test(test_time_element),
		cmocka_unit_test(test_urlenc),
		cmocka_unit_test(test_form_value),
		cmocka_unit_test(test_form_value_refuses_malformed),
		cmocka_unit_test(test_json_escaped),
		cmocka_unit_test(test_changing_statuses),
		cmocka_unit_test(test_link_ok),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_artifact_uri),
		cmocka_unit_test(test_artifact_uri_never_javascript),
		cmocka_unit_test(test_artifact_file_and_host),
		cmocka_unit_test(test_artifact_file_incomplete),
		cmocka_unit_test(test_finish_buttons_by_role),
		cmocka_unit_test(test_finish_buttons_by_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
