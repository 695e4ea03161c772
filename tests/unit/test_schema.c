/*
 * test_schema.c - the config schema helper (blueprint/schema.h): every
 * kind of field, accepted and refused with its JSON path, keys no table
 * names, several tables at once (a blueprint's common fields and its
 * type's), custom checks, and the host blueprint's table through
 * dd_bp_validate().
 */
#include "testutil.h"

#include <math.h>

#include "blueprint/blueprint.h"
#include "blueprint/schema.h"

static const char *const colours[] = {"red", "green", NULL};

static int check_even(const json_t *v, const json_t *parent,
		      struct dd_error *err)
{
	(void)parent;
	if (json_integer_value(v) % 2)
		return dd_error_set(err, DD_ERR_INVALID, "must be even");
	return 0;
}

/* A rule joining two keys: "max" is at least "min" when both are there. */
static int check_max(const json_t *v, const json_t *parent,
		     struct dd_error *err)
{
	json_t *min = json_object_get(parent, "min");

	if (min && json_integer_value(v) < json_integer_value(min))
		return dd_error_set(err, DD_ERR_INVALID,
				    "is less than 'min' (%lld)",
				    (long long)json_integer_value(min));
	return 0;
}

/* A check may fail with its own code, not only "invalid". */
static int check_io(const json_t *v, const json_t *parent,
		    struct dd_error *err)
{
	(void)parent;
	if (json_is_true(v))
		return dd_error_set(err, DD_ERR_IO, "cannot reach it");
	return 0;
}

static const struct dd_schema_field port_fields[] = {
	{.name = "port",
	 .type = DD_SCHEMA_INTEGER,
	 .required = true,
	 .min = 1,
	 .max = 65535},
	{.name = "name",
	 .type = DD_SCHEMA_STRING,
	 .min_len = 1,
	 .max_len = 8,
	 .charset = "a-z0-9_-",
	 .unique = true},
	{.name = NULL},
};

static const struct dd_schema_field port = {
	.type = DD_SCHEMA_OBJECT,
	.fields = port_fields,
};

static const struct dd_schema_field word = {
	.type = DD_SCHEMA_STRING,
	.min_len = 1,
};

static const struct dd_schema_field inner_fields[] = {
	{.name = "deep", .type = DD_SCHEMA_BOOLEAN, .required = true},
	{.name = NULL},
};

static const struct dd_schema_field fields[] = {
	{.name = "count", .type = DD_SCHEMA_INTEGER, .min = 1, .max = 10},
	{.name = "even", .type = DD_SCHEMA_INTEGER, .check = check_even},
	{.name = "at_least",
	 .type = DD_SCHEMA_INTEGER,
	 .min = 0,
	 .max = LLONG_MAX},
	{.name = "ratio",
	 .type = DD_SCHEMA_NUMBER,
	 .min_number = 0,
	 .max_number = 1},
	{.name = "wait",
	 .type = DD_SCHEMA_NUMBER,
	 .min_number = 0.5,
	 .max_number = INFINITY},
	{.name = "flag", .type = DD_SCHEMA_BOOLEAN},
	{.name = "colour", .type = DD_SCHEMA_STRING, .values = colours},
	{.name = "label", .type = DD_SCHEMA_STRING, .min_len = 1},
	{.name = "short", .type = DD_SCHEMA_STRING, .max_len = 3},
	{.name = "path",
	 .type = DD_SCHEMA_STRING,
	 .what = "an absolute path",
	 .charset = "/a-z"},
	{.name = "inner", .type = DD_SCHEMA_OBJECT, .fields = inner_fields},
	{.name = "free", .type = DD_SCHEMA_OBJECT},
	{.name = "ports",
	 .type = DD_SCHEMA_ARRAY,
	 .min_items = 1,
	 .max_items = 3,
	 .items = &port},
	{.name = "argv", .type = DD_SCHEMA_ARRAY, .min_items = 1, .items = &word},
	{.name = "any", .type = DD_SCHEMA_ARRAY},
	{.name = "env", .type = DD_SCHEMA_MAP, .items = &word},
	{.name = "min", .type = DD_SCHEMA_INTEGER},
	{.name = "max", .type = DD_SCHEMA_INTEGER, .check = check_max},
	{.name = "reach", .type = DD_SCHEMA_BOOLEAN, .check = check_io},
	{.name = "id", .type = DD_SCHEMA_STRING, .required = true},
	{.name = NULL},
};

/* Check `text` (with "id" added) against `fields`: NULL wants it taken. */
static void expect(const char *text, int code, const char *msg)
{
	struct dd_error err = DD_ERROR_INIT;
	json_error_t jerr;
	json_t *v = json_loads(text, JSON_ALLOW_NUL, &jerr);
	int rc;

	if (!v)
		fail_msg("bad test JSON %s: %s", text, jerr.text);
	if (!json_object_get(v, "id"))
		json_object_set_new(v, "id", json_string("x"));
	rc = dd_schema_check(v, fields, "config", &err);
	json_decref(v);
	if (!msg) {
		if (rc)
			fail_msg("%s refused: %s", text, err.msg);
		/* success leaves err alone */
		assert_int_equal(err.code, 0);
		return;
	}
	if (rc != code)
		fail_msg("%s: %s, want %s (%s)", text, dd_err_name(rc),
			 dd_err_name(code), err.msg);
	assert_string_equal(err.msg, msg);
}

static void test_accepted(void **state)
{
	(void)state;
	expect("{}", 0, NULL);
	expect("{\"count\": 1, \"even\": 4, \"at_least\": 0, \"ratio\": 0.5, "
	       "\"flag\": false, \"colour\": \"green\", \"label\": \"x\", "
	       "\"short\": \"\", \"path\": \"/a/b\", \"inner\": {\"deep\": "
	       "true}, \"free\": {\"a\": [1], \"b\": null}, \"ports\": "
	       "[{\"port\": 22, \"name\": \"a\"}, {\"port\": 22, \"name\": "
	       "\"b\"}, {\"port\": 80}], \"argv\": [\"sh\", \"-c\"], \"any\": "
	       "[1, \"x\", {}], \"env\": {\"A\": \"1\"}, \"min\": 2, \"max\": 2, "
	       "\"reach\": false}",
	       0, NULL);
	/* integers are numbers too; the bounds are inclusive */
	expect("{\"ratio\": 1, \"count\": 10, \"at_least\": 9223372036854775807}",
	       0, NULL);
	/* an empty map is an object */
	expect("{\"env\": {}}", 0, NULL);
}

static void test_scalars_refused(void **state)
{
	(void)state;
	expect("{\"count\": 0}", DD_ERR_INVALID,
	       "config: count: must be an integer from 1 to 10");
	expect("{\"count\": 11}", DD_ERR_INVALID,
	       "config: count: must be an integer from 1 to 10");
	expect("{\"count\": 1.5}", DD_ERR_INVALID,
	       "config: count: must be an integer from 1 to 10");
	expect("{\"count\": \"1\"}", DD_ERR_INVALID,
	       "config: count: must be an integer from 1 to 10");
	expect("{\"count\": null}", DD_ERR_INVALID,
	       "config: count: must be an integer from 1 to 10");
	expect("{\"even\": true}", DD_ERR_INVALID,
	       "config: even: must be an integer");
	expect("{\"at_least\": -1}", DD_ERR_INVALID,
	       "config: at_least: must be an integer of at least 0");
	expect("{\"ratio\": 1.5}", DD_ERR_INVALID,
	       "config: ratio: must be a number from 0 to 1");
	expect("{\"ratio\": \"0.5\"}", DD_ERR_INVALID,
	       "config: ratio: must be a number from 0 to 1");
	expect("{\"wait\": 0.25}", DD_ERR_INVALID,
	       "config: wait: must be a number of at least 0.5");
	expect("{\"wait\": 1e300}", 0, NULL);
	expect("{\"flag\": 1}", DD_ERR_INVALID,
	       "config: flag: must be true or false");
	expect("{\"colour\": \"blue\"}", DD_ERR_INVALID,
	       "config: colour: must be one of 'red', 'green'");
	expect("{\"colour\": \"Red\"}", DD_ERR_INVALID,
	       "config: colour: must be one of 'red', 'green'");
	expect("{\"label\": \"\"}", DD_ERR_INVALID,
	       "config: label: must be a non-empty string");
	expect("{\"label\": 3}", DD_ERR_INVALID,
	       "config: label: must be a non-empty string");
	expect("{\"short\": \"abcd\"}", DD_ERR_INVALID,
	       "config: short: must be a string of at most 3 characters");
	/* a NUL inside a string would cut it short for its reader */
	expect("{\"short\": \"a\\u0000b\"}", DD_ERR_INVALID,
	       "config: short: must be a string of at most 3 characters");
	/* `what` says the rule in the table's own words */
	expect("{\"path\": \"/A\"}", DD_ERR_INVALID,
	       "config: path: must be an absolute path");
}

static void test_nested_refused(void **state)
{
	(void)state;
	expect("{\"inner\": []}", DD_ERR_INVALID,
	       "config: inner: must be an object");
	expect("{\"inner\": {}}", DD_ERR_INVALID,
	       "config: inner: missing 'deep' (true or false)");
	expect("{\"inner\": {\"deep\": true, \"deeper\": 1}}", DD_ERR_INVALID,
	       "config: inner: unknown key 'deeper' (known: deep)");
	expect("{\"ports\": []}", DD_ERR_INVALID,
	       "config: ports: must be an array of 1 to 3 items of objects");
	expect("{\"ports\": [{\"port\": 1}, {\"port\": 2}, {\"port\": 3}, "
	       "{\"port\": 4}]}",
	       DD_ERR_INVALID,
	       "config: ports: must be an array of 1 to 3 items of objects");
	expect("{\"ports\": {\"port\": 1}}", DD_ERR_INVALID,
	       "config: ports: must be an array of 1 to 3 items of objects");
	expect("{\"ports\": [{\"port\": 1}, 7]}", DD_ERR_INVALID,
	       "config: ports[1]: must be an object");
	expect("{\"ports\": [{\"port\": 1}, {\"port\": 0}]}", DD_ERR_INVALID,
	       "config: ports[1].port: must be an integer from 1 to 65535");
	expect("{\"ports\": [{\"port\": 1}, {\"name\": \"a\"}]}",
	       DD_ERR_INVALID,
	       "config: ports[1]: missing 'port' (an integer from 1 to "
	       "65535)");
	expect("{\"ports\": [{\"port\": 1, \"nmae\": \"a\"}]}", DD_ERR_INVALID,
	       "config: ports[0]: unknown key 'nmae' (known: port, name)");
	expect("{\"ports\": [{\"port\": 1, \"name\": \"A\"}]}", DD_ERR_INVALID,
	       "config: ports[0].name: must be a string of 1 to 8 characters "
	       "from 'a-z0-9_-'");
	expect("{\"ports\": [{\"port\": 1, \"name\": \"abcdefghi\"}]}",
	       DD_ERR_INVALID,
	       "config: ports[0].name: must be a string of 1 to 8 characters "
	       "from 'a-z0-9_-'");
	/* unique: the second one named so is refused, naming the first */
	expect("{\"ports\": [{\"port\": 1, \"name\": \"a\"}, {\"port\": 2}, "
	       "{\"port\": 3, \"name\": \"a\"}]}",
	       DD_ERR_INVALID,
	       "config: ports[2].name: 'a' is also the name of ports[0]");
	expect("{\"argv\": []}", DD_ERR_INVALID,
	       "config: argv: must be a non-empty array of strings");
	expect("{\"argv\": [\"sh\", \"\"]}", DD_ERR_INVALID,
	       "config: argv[1]: must be a non-empty string");
	expect("{\"env\": []}", DD_ERR_INVALID,
	       "config: env: must be an object of strings");
	expect("{\"env\": {\"A\": 1}}", DD_ERR_INVALID,
	       "config: env.A: must be a non-empty string");
	expect("{\"env\": {\"\": \"x\"}}", DD_ERR_INVALID,
	       "config: env: a key is empty");
}

static void test_keys(void **state)
{
	(void)state;
	expect("{\"id\": 1}", DD_ERR_INVALID, "config: id: must be a string");
	/* a misspelt key is named as such, before what is missing */
	{
		struct dd_error err = DD_ERROR_INIT;
		json_t *v = json_pack("{s:i}", "cuont", 1);

		assert_int_equal(dd_schema_check(v, fields, "config", &err),
				 DD_ERR_INVALID);
		assert_non_null(strstr(err.msg, "config: unknown key 'cuont' "
						"(known: count, even, "));
		json_decref(v);
		v = json_object();
		assert_int_equal(dd_schema_check(v, fields, "config", &err),
				 DD_ERR_INVALID);
		assert_string_equal(err.msg, "config: missing 'id' (a string)");
		json_decref(v);
		v = json_array();
		assert_int_equal(dd_schema_check(v, fields, "reply", &err),
				 DD_ERR_INVALID);
		assert_string_equal(err.msg, "reply: must be an object");
		json_decref(v);
	}
}

static void test_checks(void **state)
{
	(void)state;
	expect("{\"even\": 3}", DD_ERR_INVALID, "config: even: must be even");
	expect("{\"min\": 5, \"max\": 4}", DD_ERR_INVALID,
	       "config: max: is less than 'min' (5)");
	expect("{\"max\": 4}", 0, NULL);
	expect("{\"reach\": true}", DD_ERR_IO, "config: reach: cannot reach it");
}

/* A long path is cut and says so, never overruns. */
static void test_long_path(void **state)
{
	static const struct dd_schema_field tree = {
		.type = DD_SCHEMA_MAP,
		.items = &tree,
	};
	static const struct dd_schema_field top[] = {
		{.name = "t", .type = DD_SCHEMA_MAP, .items = &tree},
		{.name = NULL},
	};
	struct dd_error err = DD_ERROR_INIT;
	char key[101];
	json_t *v = json_string("leaf"), *o;

	(void)state;
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	for (int i = 0; i < 5; i++) {
		o = json_object();
		json_object_set_new(o, key, v);
		v = o;
	}
	o = json_pack("{s:o}", "t", v);
	assert_int_equal(dd_schema_check(o, top, "config", &err),
			 DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "...: must be an object"));
	json_decref(o);
}

/* Common fields and a type's fields make one set of known keys. */
static void test_tables(void **state)
{
	static const struct dd_schema_field common[] = {
		{.name = "min_ready",
		 .type = DD_SCHEMA_INTEGER,
		 .min = 0,
		 .max = 100},
		{.name = NULL},
	};
	static const struct dd_schema_field own[] = {
		{.name = "size", .type = DD_SCHEMA_INTEGER, .required = true},
		{.name = NULL},
	};
	const struct dd_schema_field *const tables[] = {common, own, NULL};
	struct dd_error err = DD_ERROR_INIT;
	json_t *v;

	(void)state;
	v = json_pack("{s:i, s:i}", "min_ready", 2, "size", 1);
	assert_ok(dd_schema_check_tables(v, tables, "config", &err), &err);
	json_decref(v);
	v = json_pack("{s:i, s:i}", "min_ready", 101, "size", 1);
	assert_int_equal(dd_schema_check_tables(v, tables, "config", &err),
			 DD_ERR_INVALID);
	assert_string_equal(err.msg, "config: min_ready: must be an integer "
				     "from 0 to 100");
	json_decref(v);
	v = json_pack("{s:i}", "min_ready", 1);
	assert_int_equal(dd_schema_check_tables(v, tables, "config", &err),
			 DD_ERR_INVALID);
	assert_string_equal(err.msg, "config: missing 'size' (an integer)");
	json_decref(v);
	v = json_pack("{s:i, s:i}", "size", 1, "max_idle", 1);
	assert_int_equal(dd_schema_check_tables(v, tables, "config", &err),
			 DD_ERR_INVALID);
	assert_string_equal(err.msg, "config: unknown key 'max_idle' (known: "
				     "min_ready, size)");
	json_decref(v);
}

/* The host blueprint's config goes through its table. */
static void test_host_config(void **state)
{
	static const struct {
		const char *config, *msg;
	} cases[] = {
		{"{\"hosts\": [{\"name\": \"a\", \"slots\": 2}, {\"name\": "
		 "\"b\"}], \"root\": \"/r\"}",
		 NULL},
		{"[]", "blueprint config must be a JSON object"},
		{"{}", "config: missing 'hosts' (a non-empty array of objects)"},
		{"{\"hosts\": []}",
		 "config: hosts: must be a non-empty array of objects"},
		{"{\"hostz\": []}",
		 "config: unknown key 'hostz' (known: timeouts, min_ready, max_idle, idle_ttl, authorization, root, run_as, check_interval, known_hosts, hosts)"},
		{"{\"hosts\": [{\"name\": \"a\"}], \"root\": \"r\"}",
		 "config: root: must be an absolute path"},
		{"{\"hosts\": [{\"name\": \"a\"}], \"root\": 1}",
		 "config: root: must be an absolute path"},
		{"{\"hosts\": [{\"name\": \"a\"}], \"run_as\": 5}",
		 "config: run_as: must be a user name"},
		{"{\"hosts\": [{\"name\": \"a\"}], \"run_as\": \"\"}",
		 "config: run_as: must be a user name"},
		{"{\"hosts\": [{\"name\": \"a\"}], \"run_as\": "
		 "\"no-such-user-dd\"}",
		 "config: run_as: no such user 'no-such-user-dd'"},
		{"{\"hosts\": [{\"name\": \"a b\"}]}",
		 "config: hosts[0].name: must be 1 to 64 letters, digits, '.', "
		 "'-' or '_'"},
		{"{\"hosts\": [{\"slots\": 1}]}",
		 "config: hosts[0]: missing 'name' (1 to 64 letters, digits, "
		 "'.', '-' or '_')"},
		{"{\"hosts\": [{\"name\": \"a\"}, {\"name\": \"b\", \"slots\": "
		 "1025}]}",
		 "config: hosts[1].slots: must be an integer from 1 to 1024"},
		{"{\"hosts\": [{\"name\": \"a\"}, {\"name\": \"a\"}]}",
		 "config: hosts[1].name: 'a' is also the name of hosts[0]"},
		{"{\"hosts\": [{\"name\": \"a\", \"size\": 1}]}",
		 "config: hosts[0]: unknown key 'size' (known: name, slots, "
		 "labels, address, port, user, key, root, host_key)"},
		{"{\"hosts\": [{\"name\": \"a\", \"address\": \"h\"}]}",
		 "config: hosts[0]: a host with an 'address' needs a 'user'"},
		{"{\"hosts\": [{\"name\": \"a\", \"user\": \"u\"}]}",
		 "config: hosts[0]: 'user' needs an 'address': a host without "
		 "one is this machine"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct dd_error err = DD_ERROR_INIT;
		json_t *v = json_loads(cases[i].config, JSON_DECODE_ANY, NULL);
		int rc;

		assert_non_null(v);
		rc = dd_bp_validate(&dd_host_blueprint_type, v, &err);
		json_decref(v);
		if (!cases[i].msg) {
			assert_ok(rc, &err);
			continue;
		}
		if (rc != DD_ERR_INVALID)
			fail_msg("%s: %s, want invalid", cases[i].config,
				 dd_err_name(rc));
		assert_string_equal(err.msg, cases[i].msg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_scalars_refused),
		cmocka_unit_test(test_nested_refused),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_checks),
		cmocka_unit_test(test_long_path),
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_host_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
