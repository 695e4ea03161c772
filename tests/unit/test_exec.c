/*
 * test_exec.c - running commands on a lease for an API caller
 * (http/exec.c): captured output, its bounds, the deadline, refusals, and
 * output that is not UTF-8.
 */
#include "testutil.h"

#include "api/api.h"
#include "http/exec.h"

struct fx {
	struct test_env env;
	struct dd_worker w;
	long long lease;
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease_request req = {.type = "host", .owner = "test"};
	struct dd_lease l = {0};
	char root[PATH_MAX + 16];
	json_t *cfg;

	test_env_init(&x->env);
	snprintf(root, sizeof(root), "%s/hosts", x->env.dir);
	cfg = json_pack("{s:[{s:s}], s:s}", "hosts", "name", "a", "root",
			root);
	assert_ok(dd_api_blueprint_create(x->env.store, "host", "pool", cfg,
					  true, NULL, &err),
		  &err);
	json_decref(cfg);
	assert_ok(dd_worker_init(&x->w, x->env.path, "t", &err), &err);
	assert_ok(dd_api_lease_create(x->env.store, &req, &l, &err), &err);
	x->lease = l.id;
	dd_lease_release(&l);
	assert_ok(dd_worker_drain(&x->w, 100, &err), &err);
	assert_ok(dd_store_lease_get(x->env.store, x->lease, &l, &err), &err);
	assert_int_equal(l.status, DD_LEASE_ACTIVE);
	dd_lease_release(&l);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;

	dd_worker_release(&x->w);
	test_env_release(&x->env);
	free(x);
	return 0;
}

static void run(struct fx *x, const char *script, double timeout,
		struct dd_exec_result *res)
{
	struct dd_error err = DD_ERROR_INIT;
	char *argv[] = {"sh", "-c", (char *)script, NULL};

	assert_ok(dd_exec_capture(x->env.store, x->lease, argv, timeout, res,
				  &err),
		  &err);
}

static void test_captures_status_and_both_streams(void **state)
{
	struct fx *x = *state;
	struct dd_exec_result res;

	run(x, "echo out; echo err >&2; cat; pwd; exit 3", 30, &res);
	assert_int_equal(res.exit_status, 3);
	assert_false(res.timed_out);
	/* stdin is /dev/null, so cat ends at once; cwd is the lease's */
	assert_non_null(strstr(res.out.buf, "out\n"));
	assert_non_null(strstr(res.out.buf, "/lease-"));
	assert_string_equal(res.err.buf, "err\n");
	assert_false(res.out_truncated);
	dd_exec_result_release(&res);
}

static void test_output_is_bounded(void **state)
{
	struct fx *x = *state;
	struct dd_exec_result res;

	/* 2 MiB on stdout: the first 1 MiB is kept and the command ends */
	run(x, "head -c 2097152 /dev/zero | tr '\\0' a", 30, &res);
	assert_int_equal(res.exit_status, 0);
	assert_int_equal(res.out.len, DD_EXEC_MAX_OUTPUT);
	assert_true(res.out_truncated);
	assert_false(res.err_truncated);
	dd_exec_result_release(&res);
}

static void test_deadline_kills_the_process_group(void **state)
{
	struct fx *x = *state;
	struct dd_exec_result res;

	/* the child sleeps in a grandchild too: the whole group goes */
	run(x, "echo started; sleep 30 & sleep 30", 0.3, &res);
	assert_true(res.timed_out);
	assert_int_equal(res.exit_status, 128 + 9);
	assert_string_equal(res.out.buf, "started\n");
	assert_true(res.duration < 10);
	dd_exec_result_release(&res);
}

static void test_refuses_lease_that_is_not_active(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_exec_result res;
	char *argv[] = {"true", NULL};

	assert_int_equal(dd_exec_capture(x->env.store, 999, argv, 5, &res,
					 &err),
			 DD_ERR_NOTFOUND);
	assert_ok(dd_api_send(x->env.store,
			      (struct dd_ref){DD_OBJ_LEASE, x->lease},
			      "release", "test", NULL, NULL, &err),
		  &err);
	assert_ok(dd_worker_drain(&x->w, 100, &err), &err);
	assert_int_equal(dd_exec_capture(x->env.store, x->lease, argv, 5, &res,
					 &err),
			 DD_ERR_STATE);
	assert_non_null(strstr(err.msg, "not active"));
}

static void test_missing_program_is_refused(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_exec_result res;
	char *argv[] = {"no-such-program-here", NULL};

	assert_int_equal(dd_exec_capture(x->env.store, x->lease, argv, 5, &res,
					 &err),
			 DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "no-such-program-here"));
}

static void test_lossy_strings_are_valid_utf8(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		const char *out;
	} cases[] = {
		{"plain", 5, "plain"},
		{"caf\xc3\xa9", 5, "caf\xc3\xa9"},
		{"a\xff" "b", 3, "a\xef\xbf\xbd" "b"},
		{"\xc3", 1, "\xef\xbf\xbd"},		   /* cut short */
		{"\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd"}, /* overlong */
		{"\xed\xa0\x80", 3,
		 "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate */
		{"\xf0\x9f\x9a\xa2", 4, "\xf0\x9f\x9a\xa2"}, /* a ship */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = dd_json_string_lossy(cases[i].in, cases[i].n);

		assert_non_null(j);
		assert_string_equal(json_string_value(j), cases[i].out);
		json_decref(j);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_captures_status_and_both_streams, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_output_is_bounded, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_deadline_kills_the_process_group, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_refuses_lease_that_is_not_active, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_missing_program_is_refused, setup, teardown),
		cmocka_unit_test(test_lossy_strings_are_valid_utf8),
	};

	dd_alloc_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
