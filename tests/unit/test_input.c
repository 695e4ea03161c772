/*
 * test_input.c - what drydock accepts from users (core/input.h): the one
 * parser for times and durations that the CLI and the HTTP API share, the
 * expiry bounds, and the checks on JSON text and stored JSON values.
 */
#include "testutil.h"

#include <math.h>

#include "core/error.h"
#include "core/input.h"

/* ---- durations -------------------------------------------------------- */

static void test_duration_forms(void **state)
{
	static const struct {
		const char *s;
		double secs;
	} ok[] = {
		{"90", 90},	  {"90s", 90},	   {"30m", 1800},
		{"1h30m", 5400},  {"2d", 172800},  {"1d12h", 129600},
		{"1h30m15s", 5415}, {"1.5h", 5400}, {"0.25s", 0.25},
		{"1.5", 1.5},	  {"0d1s", 1},	   {"3650d", 315360000},
		{"00090", 90},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		double out = -1;
		struct dd_error err = DD_ERROR_INIT;

		if (dd_duration_parse(ok[i].s, &out, &err))
			fail_msg("'%s' refused: %s", ok[i].s, err.msg);
		assert_float_equal(out, ok[i].secs, 1e-9);
		/* success leaves err alone */
		assert_int_equal(err.code, 0);
	}
}

/*
 * Regression test: `--ttl ' 5'` was taken as 5 (strtoll skips spaces),
 * `--ttl 999999999999` as a year-33715 expiry, and `--ttl 30m` refused.
 */
static void test_duration_refused(void **state)
{
	static const struct {
		const char *s, *msg;
	} bad[] = {
		{"", "expected a number"},
		{" 5", "expected a number"},
		{"5 ", "every number needs a unit"},
		{"+5", "expected a number"},
		{"-5", "expected a number"},
		{"0", "more than 0 seconds"},
		{"0s", "more than 0 seconds"},
		{"0h0m", "more than 0 seconds"},
		{"999999999999", "at most ten years"},
		{"3650d1s", "at most ten years"},
		{"315360001", "at most ten years"},
		{"99999999999999999999999999999999999999999999999999999999"
		 "999999999999999999999999d",
		 "at most ten years"},
		{"1e400", "every number needs a unit"},
		{"1e3", "every number needs a unit"},
		{"0x10", "every number needs a unit"},
		{"nan", "expected a number"},
		{"inf", "expected a number"},
		{"1h30", "every number needs a unit"},
		{"30m1h", "largest to smallest"},
		{"1h1h", "largest to smallest"},
		{"5x", "every number needs a unit"},
		{"5ss", "expected a number"},
		{"5 s", "every number needs a unit"},
		{"1h 30m", "expected a number"},
		{"1.h", "expected a number"},
		{".5h", "expected a number"},
		{"h", "expected a number"},
		{"5H", "every number needs a unit"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct dd_error err = DD_ERROR_INIT;
		double out = 42;

		if (dd_duration_parse(bad[i].s, &out, &err) != DD_ERR_INVALID)
			fail_msg("'%s' accepted as %f", bad[i].s, out);
		assert_float_equal(out, 42, 0);
		if (!strstr(err.msg, bad[i].msg))
			fail_msg("'%s': message '%s' lacks '%s'", bad[i].s,
				 err.msg, bad[i].msg);
	}
	assert_int_equal(dd_duration_parse(NULL, &(double){0}, NULL),
			 DD_ERR_INVALID);
}

/* The API's numeric "ttl" has the bounds of a parsed duration. */
static void test_duration_check(void **state)
{
	struct dd_error err = DD_ERROR_INIT;

	(void)state;
	assert_int_equal(dd_duration_check(0.001, &err), 0);
	assert_int_equal(dd_duration_check(DD_DURATION_MAX, &err), 0);
	assert_int_equal(dd_duration_check(DD_DURATION_MAX + 1, &err),
			 DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "at most ten years"));
	assert_int_equal(dd_duration_check(0, NULL), DD_ERR_INVALID);
	assert_int_equal(dd_duration_check(-5, NULL), DD_ERR_INVALID);
	assert_int_equal(dd_duration_check(NAN, NULL), DD_ERR_INVALID);
	assert_int_equal(dd_duration_check(INFINITY, NULL), DD_ERR_INVALID);
}

/* ---- times ------------------------------------------------------------ */

static void test_time_relative(void **state)
{
	static const struct {
		const char *s;
		double delta;
	} ok[] = {
		{"+30s", 30},	 {"+30", 30},	 {"+2m", 120},
		{"+1h", 3600},	 {"+1d", 86400}, {"+1h30m", 5400},
		{"+1.5h", 5400}, {"+90m", 5400}, {"+0.25s", 0.25},
	};
	const double now = 1700000000.5;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		double out = -1;

		if (dd_time_parse(ok[i].s, now, &out, NULL))
			fail_msg("'%s' refused", ok[i].s);
		assert_float_equal(out, now + ok[i].delta, 1e-6);
	}
}

static void test_time_absolute(void **state)
{
	static const struct {
		const char *s;
		double t;
	} ok[] = {
		{"@1700000000", 1700000000},
		{"@1700000000.25", 1700000000.25},
		{"@0", 0},
		/* date -u -d 2024-01-02T03:04:05Z +%s */
		{"2024-01-02T03:04:05Z", 1704164645},
		{"2024-01-02T03:04:05", 1704164645},
		{"2024-01-02T03:04:05.250Z", 1704164645.25},
		{"2024-01-02T03:04:05.5", 1704164645.5},
		{"2024-01-02 03:04:05Z", 1704164645},
		{"1970-01-01T00:00:00Z", 0},
		{"1969-12-31T23:59:59Z", -1},
		/* leap days: date -u -d 2024-02-29 +%s, and 2000 */
		{"2024-02-29T00:00:00Z", 1709164800},
		{"2000-02-29T00:00:00Z", 951782400},
		{"2027-03-02T00:00:00Z", 1803945600},
		{"9999-12-31T23:59:59Z", 253402300799},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		double out = -1;

		if (dd_time_parse(ok[i].s, 5, &out, NULL))
			fail_msg("'%s' refused", ok[i].s);
		assert_float_equal(out, ok[i].t, 1e-6);
	}
}

/*
 * Regression test: "2027-02-30T00:00:00Z" became March 2 (strptime and
 * timegm roll days over), and strtod() let "+nan", "@inf" and exponents
 * through as times.
 */
static void test_time_refused(void **state)
{
	static const struct {
		const char *s, *msg;
	} bad[] = {
		{"", "expected"},
		{"+", "bad duration"},
		{"+x", "bad duration"},
		{"+5x", "bad duration"},
		{"+5 s", "bad duration"},
		{"+-5", "bad duration"},
		{"+0", "more than 0 seconds"},
		{"+nan", "bad duration"},
		{"+inf", "bad duration"},
		{"+1e400", "bad duration"},
		{"+1e3", "bad duration"},
		{"+99999999999999999999d", "at most ten years"},
		{"@", "seconds since the epoch"},
		{"@x", "seconds since the epoch"},
		{"@5x", "seconds since the epoch"},
		{"@5 ", "seconds since the epoch"},
		{"@ 5", "seconds since the epoch"},
		{"@-1", "seconds since the epoch"},
		{"@nan", "seconds since the epoch"},
		{"@inf", "seconds since the epoch"},
		{"@1e9", "seconds since the epoch"},
		{"@253402300800", "years after 9999"},
		{"tomorrow", "expected"},
		{"5", "expected"},
		{"2024-01-02", "expected"},
		{"2024-01-02T03:04", "expected"},
		{"2024-1-02T03:04:05Z", "expected"},
		{"2024-01-02T3:04:05Z", "expected"},
		{"2024/01/02T03:04:05Z", "expected"},
		{" 2024-01-02T03:04:05Z", "expected"},
		{"2024-01-02T03:04:05Z ", "unexpected ' '"},
		{"2024-01-02T03:04:05ZZ", "unexpected 'Z'"},
		{"2024-01-02T03:04:05.Z", "no digits after '.'"},
		{"2024-01-02T03:04:05Zjunk", "unexpected 'junk'"},
		{"2024-01-02T03:04:05+02:00", "unexpected '+02:00'"},
		{"2024-01-02T03:04:05.5e3Z", "unexpected 'e3Z'"},
		{"2024-13-02T03:04:05Z", "no month 13"},
		{"2024-00-02T03:04:05Z", "no month 00"},
		{"2027-02-30T00:00:00Z", "February 2027 has no day 30"},
		{"2027-02-29T00:00:00Z", "February 2027 has no day 29"},
		{"1900-02-29T00:00:00Z", "February 1900 has no day 29"},
		{"2024-04-31T00:00:00Z", "April 2024 has no day 31"},
		{"2024-01-00T00:00:00Z", "January 2024 has no day 00"},
		{"2024-01-02T24:00:00Z", "no time of day 24:00:00"},
		{"2024-01-02T23:60:00Z", "no time of day"},
		{"2024-01-02T23:59:60Z", "no time of day"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct dd_error err = DD_ERROR_INIT;
		double out = 42;

		if (dd_time_parse(bad[i].s, 1000, &out, &err) != DD_ERR_INVALID)
			fail_msg("'%s' accepted as %f", bad[i].s, out);
		/* a refused time leaves the output alone */
		assert_float_equal(out, 42, 0);
		if (!strstr(err.msg, bad[i].msg))
			fail_msg("'%s': message '%s' lacks '%s'", bad[i].s,
				 err.msg, bad[i].msg);
	}
	assert_int_equal(dd_time_parse(NULL, 1000, &(double){0}, NULL),
			 DD_ERR_INVALID);
}

/*
 * Regression test: `--until @0` meant "no expiry" (0 is how a lease
 * without one is stored) and a far --ttl was taken as it came.
 */
static void test_expiry_check(void **state)
{
	const double now = 1700000000;
	struct dd_error err = DD_ERROR_INIT;

	(void)state;
	assert_int_equal(dd_expiry_check(now + 1, now, &err), 0);
	assert_int_equal(dd_expiry_check(now + DD_DURATION_MAX, now, &err), 0);
	assert_int_equal(err.code, 0);

	assert_int_equal(dd_expiry_check(0, now, &err), DD_ERR_INVALID);
	assert_string_equal(err.msg,
			    "expiry 1970-01-01T00:00:00.000Z is in the past");
	assert_int_equal(dd_expiry_check(now, now, &err), DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "is in the past"));
	assert_int_equal(dd_expiry_check(now + DD_DURATION_MAX + 1, now, &err),
			 DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "more than ten years from now"));
	assert_int_equal(dd_expiry_check(1e12, now, &err), DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "at most ten years from now"));
	assert_int_equal(dd_expiry_check(-1e300, now, NULL), DD_ERR_INVALID);
	assert_int_equal(dd_expiry_check(NAN, now, NULL), DD_ERR_INVALID);
	assert_int_equal(dd_expiry_check(INFINITY, now, NULL), DD_ERR_INVALID);
}

/* ---- JSON ------------------------------------------------------------- */

static char *nested(int levels)
{
	char *s = malloc((size_t)levels * 2 + 1);

	for (int i = 0; i < levels; i++) {
		s[i] = '[';
		s[levels * 2 - 1 - i] = ']';
	}
	s[levels * 2] = '\0';
	return s;
}

static void test_json_parse(void **state)
{
	struct dd_error err = DD_ERROR_INIT;
	const char *dup = "{\"a\": 1, \"a\": 2}";
	json_t *v = NULL;
	char *deep;

	(void)state;
	assert_int_equal(dd_json_parse("{\"a\": [1, {\"b\": \"[[[\"}]}", 24,
				       "x", &v, &err),
			 0);
	assert_true(json_is_object(v));
	json_decref(v);
	v = NULL;

	/* Regression test: the CLI took duplicate keys, the API refused them */
	assert_int_equal(dd_json_parse(dup, strlen(dup), "--attributes", &v,
				       &err),
			 DD_ERR_INVALID);
	assert_null(v);
	assert_non_null(strstr(err.msg, "malformed JSON in --attributes"));
	assert_non_null(strstr(err.msg, "duplicate"));

	deep = nested(DD_JSON_MAX_NESTING);
	assert_int_equal(dd_json_parse(deep, strlen(deep), "x", &v, &err), 0);
	json_decref(v);
	v = NULL;
	free(deep);
	deep = nested(DD_JSON_MAX_NESTING + 1);
	assert_int_equal(dd_json_parse(deep, strlen(deep), "x", &v, &err),
			 DD_ERR_INVALID);
	assert_string_equal(err.msg, "x is nested deeper than 32 levels");
	assert_null(v);
	free(deep);

	assert_int_equal(dd_json_parse("{", 1, "x", &v, &err), DD_ERR_INVALID);
	assert_int_equal(dd_json_parse("", 0, "x", &v, &err), DD_ERR_INVALID);
	assert_null(v);
}

static void test_json_nesting(void **state)
{
	(void)state;
	assert_int_equal(dd_json_nesting("1", 1), 0);
	assert_int_equal(dd_json_nesting("{\"a\":[{}]}", 10), 3);
	/* brackets inside strings, escaped quotes included, do not count */
	assert_int_equal(dd_json_nesting("[\"[[\\\"[[\"]", 11), 1);
}

/*
 * Regression test: a 5 MB attribute went in through the CLI (the API caps
 * bodies at 64 KiB), and every list of leases carried it afterwards.
 */
static void test_json_value_check(void **state)
{
	struct dd_error err = DD_ERROR_INIT;
	char *big = malloc(DD_JSON_VALUE_MAX + 1);
	char *deep;
	json_t *v, *d;

	(void)state;
	assert_int_equal(dd_json_value_check(NULL, "x", &err), 0);
	/* {"p":"xxx..."}: 8 bytes around the string */
	memset(big, 'x', DD_JSON_VALUE_MAX - 8);
	big[DD_JSON_VALUE_MAX - 8] = '\0';
	v = json_pack("{s:s}", "p", big);
	assert_int_equal(dd_json_value_check(v, "lease attributes", &err), 0);
	json_decref(v);
	memset(big, 'x', DD_JSON_VALUE_MAX - 7);
	big[DD_JSON_VALUE_MAX - 7] = '\0';
	v = json_pack("{s:s}", "p", big);
	assert_int_equal(dd_json_value_check(v, "lease attributes", &err),
			 DD_ERR_INVALID);
	assert_string_equal(err.msg, "lease attributes too large: 65537 "
				     "bytes as JSON, at most 65536");
	json_decref(v);
	free(big);

	/* a value is one field of a body, so one level less than a body */
	deep = nested(DD_JSON_VALUE_MAX_NESTING);
	d = json_loads(deep, 0, NULL);
	v = json_pack("{s:O}", "a", json_array_get(d, 0));
	assert_int_equal(dd_json_value_check(v, "blueprint config", &err), 0);
	json_decref(v);
	v = json_pack("{s:O}", "a", d);
	assert_int_equal(dd_json_value_check(v, "blueprint config", &err),
			 DD_ERR_INVALID);
	assert_string_equal(err.msg, "blueprint config nested too deeply: "
				     "more than 31 levels");
	json_decref(v);
	json_decref(d);
	free(deep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_forms),
		cmocka_unit_test(test_duration_refused),
		cmocka_unit_test(test_duration_check),
		cmocka_unit_test(test_time_relative),
		cmocka_unit_test(test_time_absolute),
		cmocka_unit_test(test_time_refused),
		cmocka_unit_test(test_expiry_check),
		cmocka_unit_test(test_json_parse),
		cmocka_unit_test(test_json_nesting),
		cmocka_unit_test(test_json_value_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
