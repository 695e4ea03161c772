/*
 * test_command.c - the command kinds (core/command.h) and the command
 * table (worker/command.h): for every kind, object kind and status,
 * whether a command is accepted when it is appended, and the outcome the
 * update worker gives one the object can no longer take.
 *
 * The expected tables are written out by hand from docs/state-machines.md
 * ("What the API refuses", "Lease commands", "Resource commands"), so a
 * change to the table in worker/command.c fails here until the docs and
 * this file agree with it.
 */
#include "testutil.h"

#include "core/command.h"
#include "worker/command.h"
#include "worker/internal.h"

enum { REFUSED = 0, ACCEPTED = 1, NOT_TAKEN = 2 };

static const char *const kinds[] = {"release", "extend", "reclaim",
				    "finish", "drain"};
#define KINDS 5

/* lease_expected[kind][status] */
static const int lease_expected[KINDS][DD_LEASE_STATUS_COUNT] = {
	/* pending acquired active released broken destroyed */
	{ACCEPTED, ACCEPTED, ACCEPTED, REFUSED, REFUSED, REFUSED}, /* release */
	{ACCEPTED, ACCEPTED, ACCEPTED, REFUSED, REFUSED, REFUSED}, /* extend */
	{NOT_TAKEN, NOT_TAKEN, NOT_TAKEN, NOT_TAKEN, NOT_TAKEN,
	 NOT_TAKEN}, /* reclaim */
	{NOT_TAKEN, NOT_TAKEN, NOT_TAKEN, NOT_TAKEN, NOT_TAKEN,
	 NOT_TAKEN}, /* finish */
	{NOT_TAKEN, NOT_TAKEN, NOT_TAKEN, NOT_TAKEN, NOT_TAKEN,
	 NOT_TAKEN}, /* drain */
};

/* resource_expected[kind][status] */
static const int resource_expected[KINDS][DD_RESOURCE_STATUS_COUNT] = {
	/* pending active released broken destroyed */
	{ACCEPTED, ACCEPTED, REFUSED, REFUSED, REFUSED}, /* release */
	{NOT_TAKEN, NOT_TAKEN, NOT_TAKEN, NOT_TAKEN, NOT_TAKEN}, /* extend */
	{REFUSED, ACCEPTED, REFUSED, REFUSED, REFUSED}, /* reclaim */
	{NOT_TAKEN, NOT_TAKEN, NOT_TAKEN, NOT_TAKEN, NOT_TAKEN}, /* finish */
	{ACCEPTED, ACCEPTED, REFUSED, REFUSED, REFUSED},	    /* drain */
};

/* target_expected[kind][status] */
static const int target_expected[KINDS][DD_TARGET_STATUS_COUNT] = {
	/* building passed failed aborted */
	{NOT_TAKEN, NOT_TAKEN, NOT_TAKEN, NOT_TAKEN}, /* release */
	{NOT_TAKEN, NOT_TAKEN, NOT_TAKEN, NOT_TAKEN}, /* extend */
	{NOT_TAKEN, NOT_TAKEN, NOT_TAKEN, NOT_TAKEN}, /* reclaim */
	{ACCEPTED, REFUSED, REFUSED, REFUSED},	      /* finish */
	{NOT_TAKEN, NOT_TAKEN, NOT_TAKEN, NOT_TAKEN}, /* drain */
};

/* {"until": now + 1 hour}: what a valid extend carries */
static json_t *good_until(void)
{
	return json_pack("{s:f}", "until", dd_now() + 3600);
}

static void test_kind_names_round_trip(void **state)
{
	(void)state;
	assert_int_equal(DD_COMMAND_KIND_COUNT, KINDS);
	for (int k = 0; k < DD_COMMAND_KIND_COUNT; k++) {
		assert_string_equal(dd_command_kind_name(k), kinds[k]);
		assert_int_equal(dd_command_kind_parse(kinds[k]), k);
	}
	assert_int_equal(dd_command_kind_parse("Release"), -1);
	assert_int_equal(dd_command_kind_parse(""), -1);
	assert_int_equal(dd_command_kind_parse(NULL), -1);
	assert_string_equal(dd_command_kind_name(DD_COMMAND_KIND_COUNT),
			    "unknown");
	assert_string_equal(dd_command_kind_name((enum dd_command_kind)-1),
			    "unknown");
}

/* One cell of the accept matrix, with the exact message the user sees. */
static void check_accept(const char *kind, enum dd_obj_kind object,
			 int status, const char *status_name, int expected)
{
	struct dd_ref target = {object, 12};
	const char *obj = dd_obj_kind_name(object);
	struct dd_error err = DD_ERROR_INIT;
	json_t *data = strcmp(kind, "finish")
			       ? good_until()
			       : json_pack("{s:s}", "result", "passed");
	char want[256];
	int rc = dd_command_accept(kind, target, status, data, &err);

	json_decref(data);
	switch (expected) {
	case ACCEPTED:
		if (rc)
			fail_msg("%s on %s %s refused: %s", kind, obj,
				 status_name, err.msg);
		assert_int_equal(err.code, 0); /* untouched on success */
		return;
	case REFUSED:
		snprintf(want, sizeof(want), "cannot %s %s 12: it is %s%s",
			 kind, obj,
			 strcmp(kind, "extend") && strcmp(kind, "reclaim")
				 ? "already "
				 : "",
			 status_name);
		assert_int_equal(rc, DD_ERR_STATE);
		break;
	default:
		snprintf(want, sizeof(want),
			 "a %s does not take '%s' commands", obj, kind);
		assert_int_equal(rc, DD_ERR_INVALID);
		break;
	}
	assert_int_equal(err.code, rc);
	assert_string_equal(err.msg, want);
}

static void test_accept_every_lease_cell(void **state)
{
	(void)state;
	for (int k = 0; k < KINDS; k++)
		for (int s = 0; s < DD_LEASE_STATUS_COUNT; s++)
			check_accept(kinds[k], DD_OBJ_LEASE, s,
				     dd_lease_status_name(s),
				     lease_expected[k][s]);
}

static void test_accept_every_resource_cell(void **state)
{
	(void)state;
	for (int k = 0; k < KINDS; k++)
		for (int s = 0; s < DD_RESOURCE_STATUS_COUNT; s++)
			check_accept(kinds[k], DD_OBJ_RESOURCE, s,
				     dd_resource_status_name(s),
				     resource_expected[k][s]);
}

static void test_accept_every_target_cell(void **state)
{
	(void)state;
	for (int k = 0; k < KINDS; k++)
		for (int s = 0; s < DD_TARGET_STATUS_COUNT; s++)
			check_accept(kinds[k], DD_OBJ_TARGET, s,
				     dd_target_status_name(s),
				     target_expected[k][s]);
}

/* finish's data: a result that finishes, an optional reason, nothing else */
static void test_accept_finish_data(void **state)
{
	static const struct {
		const char *json;
		const char *msg; /* NULL: accepted */
	} cases[] = {
		{"{\"result\": \"passed\"}", NULL},
		{"{\"result\": \"failed\"}", NULL},
		{"{\"result\": \"aborted\", \"reason\": \"ctrl-c\"}", NULL},
		{"{}", "'result' must be passed, failed or aborted"},
		{"{\"result\": \"building\"}",
		 "'result' must be passed, failed or aborted"},
		{"{\"result\": \"won\"}",
		 "'result' must be passed, failed or aborted"},
		{"{\"result\": 1}", "'result' must be passed, failed or aborted"},
		{"{\"result\": \"passed\", \"reason\": 3}",
		 "'reason' must be a text of 1 to 1024 bytes"},
		{"{\"result\": \"passed\", \"reason\": \"\"}",
		 "'reason' must be a text of 1 to 1024 bytes"},
		{"{\"result\": \"passed\", \"colour\": \"red\"}",
		 "unknown field 'colour'"},
	};
	char want[160];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dd_error err = DD_ERROR_INIT;
		json_t *d = json_loads(cases[i].json, 0, NULL);
		int rc = dd_command_accept("finish",
					   (struct dd_ref){DD_OBJ_TARGET, 7},
					   DD_TARGET_BUILDING, d, &err);

		json_decref(d);
		if (!cases[i].msg) {
			if (rc)
				fail_msg("%s refused: %s", cases[i].json,
					 err.msg);
			continue;
		}
		snprintf(want, sizeof(want), "cannot finish target 7: %s",
			 cases[i].msg);
		assert_int_equal(rc, DD_ERR_INVALID);
		assert_string_equal(err.msg, want);
	}
}

/* A target is finished once: a second finish may not queue behind one. */
static void test_accept_another(void **state)
{
	struct dd_ref t = {DD_OBJ_TARGET, 9};
	struct dd_error err = DD_ERROR_INIT;

	(void)state;
	assert_int_equal(dd_command_accept_another("finish", t, 0, &err), 0);
	assert_int_equal(dd_command_accept_another("finish", t, 1, &err),
			 DD_ERR_STATE);
	assert_string_equal(err.msg,
			    "cannot finish target 9: it is already finishing");
	/* so is a drain */
	assert_int_equal(dd_command_accept_another(
				 "drain", (struct dd_ref){DD_OBJ_RESOURCE, 4},
				 1, &err),
			 DD_ERR_STATE);
	assert_string_equal(err.msg,
			    "cannot drain resource 4: it is already draining");
	/* releases and extends may queue up: the worker ignores extras */
	assert_int_equal(dd_command_accept_another(
				 "release", (struct dd_ref){DD_OBJ_LEASE, 3},
				 4, NULL),
			 0);
	assert_int_equal(dd_command_accept_another(
				 "extend", (struct dd_ref){DD_OBJ_LEASE, 3},
				 4, NULL),
			 0);
}

static void test_accept_unknown_kind(void **state)
{
	struct dd_error err = DD_ERROR_INIT;

	(void)state;
	assert_int_equal(dd_command_accept("frobnicate",
					   (struct dd_ref){DD_OBJ_LEASE, 3},
					   DD_LEASE_ACTIVE, NULL, &err),
			 DD_ERR_INVALID);
	assert_string_equal(err.msg,
			    "a lease does not take 'frobnicate' commands");
	assert_int_equal(dd_command_accept("",
					   (struct dd_ref){DD_OBJ_RESOURCE, 3},
					   DD_RESOURCE_ACTIVE, NULL, &err),
			 DD_ERR_INVALID);
	assert_string_equal(err.msg, "a resource does not take '' commands");
}

static void test_accept_objects_without_commands(void **state)
{
	static const enum dd_obj_kind others[] = {DD_OBJ_NONE,
						  DD_OBJ_BLUEPRINT};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		for (int k = 0; k < KINDS; k++) {
			struct dd_error err = DD_ERROR_INIT;

			assert_int_equal(
				dd_command_accept(kinds[k],
						  (struct dd_ref){others[i], 1},
						  0, NULL, &err),
				DD_ERR_INVALID);
			assert_string_equal(
				err.msg,
				"commands go to leases, resources and "
				"targets only");
		}
		assert_int_equal(dd_command_object_check(others[i], NULL),
				 DD_ERR_INVALID);
	}
	assert_int_equal(dd_command_object_check(DD_OBJ_LEASE, NULL), 0);
	assert_int_equal(dd_command_object_check(DD_OBJ_RESOURCE, NULL), 0);
	assert_int_equal(dd_command_object_check(DD_OBJ_TARGET, NULL), 0);
	/* an artifact is released by finishing its target, not by command */
	assert_int_equal(dd_command_object_check(DD_OBJ_ARTIFACT, NULL),
			 DD_ERR_INVALID);
}

/* extend's data: checked once the state accepts it, named in the message */
static void test_accept_extend_data(void **state)
{
	struct dd_ref lease = {DD_OBJ_LEASE, 5};
	struct dd_error err = DD_ERROR_INIT;
	json_t *d;

	(void)state;
	assert_int_equal(dd_command_accept("extend", lease, DD_LEASE_ACTIVE,
					   NULL, &err),
			 DD_ERR_INVALID);
	assert_string_equal(err.msg, "cannot extend lease 5: the new expiry "
				     "must be a number of seconds");

	d = json_pack("{s:s}", "until", "tomorrow");
	assert_int_equal(dd_command_accept("extend", lease, DD_LEASE_PENDING,
					   d, &err),
			 DD_ERR_INVALID);
	assert_string_equal(err.msg, "cannot extend lease 5: the new expiry "
				     "must be a number of seconds");
	json_decref(d);

	d = json_pack("{s:f}", "until", dd_now() - 10);
	assert_int_equal(dd_command_accept("extend", lease, DD_LEASE_ACTIVE, d,
					   &err),
			 DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "cannot extend lease 5: expiry "));
	assert_non_null(strstr(err.msg, "is in the past"));
	json_decref(d);

	d = json_pack("{s:f}", "until", dd_now() + 11.0 * 366 * 86400);
	assert_int_equal(dd_command_accept("extend", lease, DD_LEASE_ACTIVE, d,
					   &err),
			 DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "more than ten years from now"));

	/* the state is refused first: its message says more */
	assert_int_equal(dd_command_accept("extend", lease, DD_LEASE_RELEASED,
					   d, &err),
			 DD_ERR_STATE);
	assert_string_equal(err.msg, "cannot extend lease 5: it is released");
	json_decref(d);

	/* release carries no data: any is ignored */
	d = json_pack("{s:s}", "until", "tomorrow");
	assert_int_equal(dd_command_accept("release", lease, DD_LEASE_ACTIVE,
					   d, &err),
			 0);
	json_decref(d);
}

/*
 * The worker's side: a command the object no longer takes is consumed as
 * ignored, without its apply function running.  No worker or store is
 * needed for that, so a.w stays NULL: a cell that did call the apply
 * function would crash here.
 */
static void check_ignored(const char *kind, enum dd_obj_kind object,
			  int status, const char *want)
{
	struct dd_command c = {0};
	struct dd_apply a = {0};
	struct dd_error err = DD_ERROR_INIT;

	c.id = 1;
	c.target = (struct dd_ref){object, 12};
	c.kind = (char *)kind;
	a.c = &c;
	assert_int_equal(dd_command_apply(&a, status, &err), 0);
	assert_string_equal(a.outcome, want);
	assert_int_equal(err.code, 0);
}

static void test_apply_ignores_what_the_table_refuses(void **state)
{
	char want[96];

	(void)state;
	for (int k = 0; k < KINDS; k++) {
		for (int s = 0; s < DD_LEASE_STATUS_COUNT; s++) {
			if (lease_expected[k][s] == ACCEPTED)
				continue;
			if (lease_expected[k][s] == REFUSED ||
			    s >= DD_LEASE_RELEASED)
				snprintf(want, sizeof(want),
					 "ignored: lease is %s",
					 dd_lease_status_name(s));
			else
				snprintf(want, sizeof(want),
					 "ignored: a lease does not take '%s'",
					 kinds[k]);
			check_ignored(kinds[k], DD_OBJ_LEASE, s, want);
		}
		for (int s = 0; s < DD_RESOURCE_STATUS_COUNT; s++) {
			if (resource_expected[k][s] == ACCEPTED)
				continue;
			if (resource_expected[k][s] == REFUSED ||
			    s >= DD_RESOURCE_RELEASED)
				snprintf(want, sizeof(want),
					 "ignored: resource is %s",
					 dd_resource_status_name(s));
			else
				snprintf(want, sizeof(want),
					 "ignored: a resource does not take "
					 "'%s'",
					 kinds[k]);
			check_ignored(kinds[k], DD_OBJ_RESOURCE, s, want);
		}
		for (int s = 0; s < DD_TARGET_STATUS_COUNT; s++) {
			if (target_expected[k][s] == ACCEPTED)
				continue;
			if (s != DD_TARGET_BUILDING)
				snprintf(want, sizeof(want),
					 "ignored: target is %s",
					 dd_target_status_name(s));
			else
				snprintf(want, sizeof(want),
					 "ignored: a target does not take '%s'",
					 kinds[k]);
			check_ignored(kinds[k], DD_OBJ_TARGET, s, want);
		}
	}
}

static void test_apply_ignores_unknown_kinds(void **state)
{
	(void)state;
	check_ignored("frobnicate", DD_OBJ_LEASE, DD_LEASE_ACTIVE,
		      "ignored: a lease does not take 'frobnicate'");
	check_ignored("frobnicate", DD_OBJ_RESOURCE, DD_RESOURCE_PENDING,
		      "ignored: a resource does not take 'frobnicate'");
	/* an object that has ended takes nothing, whatever the kind */
	check_ignored("frobnicate", DD_OBJ_LEASE, DD_LEASE_DESTROYED,
		      "ignored: lease is destroyed");
	check_ignored("frobnicate", DD_OBJ_RESOURCE, DD_RESOURCE_BROKEN,
		      "ignored: resource is broken");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kind_names_round_trip),
		cmocka_unit_test(test_accept_every_lease_cell),
		cmocka_unit_test(test_accept_every_resource_cell),
		cmocka_unit_test(test_accept_every_target_cell),
		cmocka_unit_test(test_accept_finish_data),
		cmocka_unit_test(test_accept_another),
		cmocka_unit_test(test_accept_unknown_kind),
		cmocka_unit_test(test_accept_objects_without_commands),
		cmocka_unit_test(test_accept_extend_data),
		cmocka_unit_test(test_apply_ignores_what_the_table_refuses),
		cmocka_unit_test(test_apply_ignores_unknown_kinds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
