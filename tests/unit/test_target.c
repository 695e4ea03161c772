/*
 * test_target.c - what build targets and artifacts accept (core/target.h):
 * the artifact type table, every type's data with each kind of bad field
 * (missing, extra, mistyped, empty, too long, a control character, a URI
 * scheme not allowed), keys and target names, and the JSON renderings of
 * targets and artifacts (core/model.h).
 */
#include "testutil.h"

#include "core/model.h"
#include "core/target.h"

static json_t *json_or_die(const char *text)
{
	json_error_t jerr;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);

	if (!v)
		fail_msg("bad JSON in test: %s", jerr.text);
	return v;
}

/*
 * One case: a type and data (JSON text, or NULL for none), and either
 * NULL (accepted) or words the refusal's message must hold (the field).
 */
struct data_case {
	const char *type;
	const char *data;
	const char *refused; /* NULL: accepted */
	const char *rules;   /* uri_schemes, or NULL for the default */
};

static const struct data_case cases[] = {
	/* file */
	{"file", NULL, NULL, NULL},
	{"file", "{}", NULL, NULL},
	{"file", "{\"name\":\"out.tar.gz\"}", NULL, NULL},
	{"file", "{\"name\":7}", "field 'name' must be a string", NULL},
	{"file", "{\"name\":\"\"}", "field 'name' is empty", NULL},
	{"file", "{\"name\":\"a\\nb\"}", "field 'name' holds a control", NULL},
	{"file", "{\"size\":3}", "unknown field 'size'", NULL},
	{"file", "[]", "data must be a JSON object", NULL},
	{"file", "\"x\"", "data must be a JSON object", NULL},
	/* uri */
	{"uri", "{\"uri\":\"https://ci.example.org/b/1\"}", NULL, NULL},
	{"uri", "{\"uri\":\"HTTP://x\",\"name\":\"log\",\"external\":true}",
	 NULL, NULL},
	{"uri", "{\"uri\":\"http://x\",\"external\":false}", NULL, NULL},
	{"uri", NULL, "missing field 'uri'", NULL},
	{"uri", "{}", "missing field 'uri'", NULL},
	{"uri", "{\"name\":\"x\"}", "missing field 'uri'", NULL},
	{"uri", "{\"uri\":5}", "field 'uri' must be a string", NULL},
	{"uri", "{\"uri\":null}", "field 'uri' must be a string", NULL},
	{"uri", "{\"uri\":\"\"}", "field 'uri' is empty", NULL},
	{"uri", "{\"uri\":\"http://x\",\"external\":\"yes\"}",
	 "field 'external' must be a boolean", NULL},
	{"uri", "{\"uri\":\"http://x\",\"external\":1}",
	 "field 'external' must be a boolean", NULL},
	{"uri", "{\"uri\":\"http://x\",\"name\":[]}",
	 "field 'name' must be a string", NULL},
	{"uri", "{\"uri\":\"http://x\",\"ui.external\":true}",
	 "unknown field 'ui.external'", NULL},
	{"uri", "{\"url\":\"http://x\"}", "unknown field 'url'", NULL},
	{"uri", "{\"uri\":\"javascript:alert(1)\"}",
	 "scheme 'javascript' is not allowed (allowed: http,https)", NULL},
	{"uri", "{\"uri\":\"file:///etc/passwd\"}", "scheme 'file'", NULL},
	{"uri", "{\"uri\":\"ftp://x\"}", "scheme 'ftp'", NULL},
	{"uri", "{\"uri\":\"ftp://x\"}", NULL, "http,ftp"},
	{"uri", "{\"uri\":\"https://x\"}", "scheme 'https'", "http,ftp"},
	/* a scheme is a whole word of the list, not a prefix of one */
	{"uri", "{\"uri\":\"htt://x\"}", "scheme 'htt'", NULL},
	{"uri", "{\"uri\":\"httpss://x\"}", "scheme 'httpss'", NULL},
	{"uri", "{\"uri\":\"/relative\"}", "field 'uri' must be an absolute",
	 NULL},
	{"uri", "{\"uri\":\"http:\"}", "field 'uri' must be an absolute", NULL},
	{"uri", "{\"uri\":\"1http://x\"}", "must be an absolute", NULL},
	{"uri", "{\"uri\":\"http://x\\ty\"}", "field 'uri' holds a control",
	 NULL},
	/* host */
	{"host", "{\"lease\":12}", NULL, NULL},
	{"host", NULL, "missing field 'lease'", NULL},
	{"host", "{}", "missing field 'lease'", NULL},
	{"host", "{\"lease\":\"12\"}", "field 'lease' must be an id", NULL},
	{"host", "{\"lease\":0}", "field 'lease' must be an id", NULL},
	{"host", "{\"lease\":-3}", "field 'lease' must be an id", NULL},
	{"host", "{\"lease\":1.5}", "field 'lease' must be an id", NULL},
	{"host", "{\"lease\":true}", "field 'lease' must be an id", NULL},
	{"host", "{\"lease\":1,\"resource\":2}", "unknown field 'resource'",
	 NULL},
	/* working-copy: a lease, like host */
	{"working-copy", "{\"lease\":7}", NULL, NULL},
	{"working-copy", "{}", "missing field 'lease'", NULL},
	{"working-copy", "{\"lease\":\"7\"}", "field 'lease' must be an id",
	 NULL},
	/* no such type */
	{"workingcopy", "{\"lease\":1}",
	 "unknown artifact type 'workingcopy' (known: file, uri, host, "
	 "working-copy)",
	 NULL},
	{"", "{}", "unknown artifact type ''", NULL},
};

static void test_artifact_data_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct data_case *c = &cases[i];
		struct dd_artifact_rules rules = {c->rules};
		struct dd_error err = {77, "sentinel"};
		json_t *data = c->data ? json_or_die(c->data) : NULL;
		int rc = dd_artifact_data_check(c->type, data, &rules, &err);

		if (!c->refused && rc)
			fail_msg("%s %s refused: %s", c->type, c->data,
				 err.msg);
		if (!c->refused)
			assert_string_equal(err.msg, "sentinel");
		if (c->refused && rc != DD_ERR_INVALID)
			fail_msg("%s %s: want refused (%s), got %s", c->type,
				 c->data, c->refused, dd_err_name(rc));
		if (c->refused && !strstr(err.msg, c->refused))
			fail_msg("%s %s: message '%s' lacks '%s'", c->type,
				 c->data, err.msg, c->refused);
		json_decref(data);
	}
}

/* Every row of the table has a case accepted and one refused above. */
static void test_every_type_has_cases(void **state)
{
	const struct dd_artifact_type *t;

	(void)state;
	for (size_t i = 0; (t = dd_artifact_type_at(i)); i++) {
		bool ok = false, bad = false;

		assert_ptr_equal(dd_artifact_type_find(t->name), t);
		for (size_t j = 0; j < sizeof(cases) / sizeof(cases[0]); j++) {
			if (strcmp(cases[j].type, t->name))
				continue;
			if (cases[j].refused)
				bad = true;
			else
				ok = true;
		}
		if (!ok || !bad)
			fail_msg("type '%s' lacks test cases", t->name);
	}
	assert_null(dd_artifact_type_find("nope"));
	assert_null(dd_artifact_type_find(NULL));
	assert_null(dd_artifact_type_at(1000));
}

static void test_long_strings(void **state)
{
	struct dd_error err = DD_ERROR_INIT;
	char big[5000];
	json_t *d;

	(void)state;
	memset(big, 'a', sizeof(big));
	big[255] = '\0';
	d = json_pack("{s:s}", "name", big);
	assert_int_equal(dd_artifact_data_check("file", d, NULL, &err), 0);
	json_decref(d);
	big[255] = 'a';
	big[256] = '\0';
	d = json_pack("{s:s}", "name", big);
	assert_int_equal(dd_artifact_data_check("file", d, NULL, &err),
			 DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "field 'name' is too long (1 to 255"));
	json_decref(d);

	memset(big, 'a', sizeof(big));
	memcpy(big, "https://", 8);
	big[4096] = '\0';
	d = json_pack("{s:s}", "uri", big);
	assert_int_equal(dd_artifact_data_check("uri", d, NULL, &err), 0);
	json_decref(d);
	big[4096] = 'a';
	big[4097] = '\0';
	d = json_pack("{s:s}", "uri", big);
	assert_int_equal(dd_artifact_data_check("uri", d, NULL, &err),
			 DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "field 'uri' is too long"));
	json_decref(d);
}

static void test_rows(void **state)
{
	const struct dd_artifact_type *file = dd_artifact_type_find("file");
	const struct dd_artifact_type *uri = dd_artifact_type_find("uri");
	const struct dd_artifact_type *host = dd_artifact_type_find("host");
	json_t *d;

	(void)state;
	assert_true(file->content);
	assert_false(uri->content);
	assert_false(host->content);
	assert_null(file->lease_field);
	assert_null(uri->lease_field);
	assert_string_equal(host->lease_field, "lease");

	d = json_or_die("{\"lease\":42}");
	assert_int_equal(dd_artifact_lease("host", d), 42);
	assert_int_equal(dd_artifact_lease("uri", d), 0);
	assert_int_equal(dd_artifact_lease("nope", d), 0);
	assert_int_equal(dd_artifact_lease("host", NULL), 0);
	json_decref(d);
}

static void test_keys_and_names(void **state)
{
	struct dd_error err = DD_ERROR_INIT;
	char big[300];

	(void)state;
	assert_int_equal(dd_artifact_key_check("output.log", &err), 0);
	assert_int_equal(dd_artifact_key_check("build/out dir/x.tar", &err),
			 0);
	assert_int_equal(dd_artifact_key_check("", &err), DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "artifact key is empty"));
	assert_int_equal(dd_artifact_key_check(NULL, &err), DD_ERR_INVALID);
	assert_int_equal(dd_artifact_key_check("a\rb", &err), DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "control character"));
	assert_int_equal(dd_artifact_key_check("a\x7f", &err),
			 DD_ERR_INVALID);
	memset(big, 'k', sizeof(big));
	big[255] = '\0';
	assert_int_equal(dd_artifact_key_check(big, &err), 0);
	big[255] = 'k';
	big[256] = '\0';
	assert_int_equal(dd_artifact_key_check(big, &err), DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "too long"));

	assert_int_equal(dd_target_name_check(NULL, &err), 0);
	assert_int_equal(dd_target_name_check("nightly #12", &err), 0);
	assert_int_equal(dd_target_name_check("", &err), DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "target name is empty"));
	assert_int_equal(dd_target_name_check("a\tb", &err), DD_ERR_INVALID);
	assert_int_equal(dd_target_name_check(big, &err), DD_ERR_INVALID);
}

static void test_json_renderings(void **state)
{
	struct dd_target t = {0};
	struct dd_artifact a = {0};
	json_t *o;

	(void)state;
	t.id = 3;
	t.name = "nightly";
	t.owner = "token:ci";
	t.status = DD_TARGET_ABORTED;
	t.created = 1700000000;
	t.finished = 1700000060;
	o = dd_target_to_json(&t);
	assert_int_equal(json_integer_value(json_object_get(o, "id")), 3);
	assert_string_equal(json_string_value(json_object_get(o, "status")),
			    "aborted");
	assert_string_equal(json_string_value(json_object_get(o, "owner")),
			    "token:ci");
	assert_true(json_is_null(json_object_get(o, "deadline")));
	assert_true(json_is_string(json_object_get(o, "finished")));
	json_decref(o);

	a.id = 8;
	a.target = 3;
	a.key = "out.tar";
	a.type = "file";
	a.complete = true;
	a.size = 1234;
	strcpy(a.sha256, "ab");
	o = dd_artifact_to_json(&a);
	assert_int_equal(json_integer_value(json_object_get(o, "size")), 1234);
	assert_string_equal(json_string_value(json_object_get(o, "sha256")),
			    "ab");
	assert_true(json_is_null(json_object_get(o, "data")));
	json_decref(o);

	/* a URI or a lease has no bytes in drydock: no size, no hash */
	a.type = "uri";
	a.size = 0;
	a.sha256[0] = '\0';
	a.data = json_or_die("{\"uri\":\"http://x\"}");
	o = dd_artifact_to_json(&a);
	assert_null(json_object_get(o, "size"));
	assert_null(json_object_get(o, "sha256"));
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(o, "data"), "uri")),
			    "http://x");
	json_decref(o);
	json_decref(a.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_artifact_data_cases),
		cmocka_unit_test(test_every_type_has_cases),
		cmocka_unit_test(test_long_strings),
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_keys_and_names),
		cmocka_unit_test(test_json_renderings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
