/*
 * test_state.c - the lease, resource and build target state machines
 * (core/state.h), the
 * error list (core/error.h) and the small utilities (core/util.h).
 *
 * The transition tables below are written out by hand from the machines
 * drawn in core/state.h and DESIGN.md, so that an accidental change to
 * state.c fails here instead of letting a worker write an illegal state.
 */
#include "testutil.h"

#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"
#include "core/input.h"
#include "core/state.h"

/* ---- lease machine ---------------------------------------------------- */

enum { NO = 0, YES = 1, DESIGN_NO = 2 };

/*
 * lease_expected[from][to].  DESIGN_NO marks an edge that neither the
 * drawn machine nor any worker has but state.c allows; the matrix tests
 * skip it so that they keep guarding every other cell, and
 * test_lease_pending_to_active_refused reports it on its own.
 */
static const int
	lease_expected[DD_LEASE_STATUS_COUNT][DD_LEASE_STATUS_COUNT] = {
		/* to:      pending acquired active released broken destroyed */
		[DD_LEASE_PENDING] = {NO, YES, NO, YES, YES, NO},
		[DD_LEASE_ACQUIRED] = {YES, NO, YES, YES, YES, NO},
		[DD_LEASE_ACTIVE] = {NO, NO, NO, YES, YES, NO},
		[DD_LEASE_RELEASED] = {NO, NO, NO, NO, NO, YES},
		[DD_LEASE_BROKEN] = {NO, NO, NO, NO, NO, YES},
		[DD_LEASE_DESTROYED] = {NO, NO, NO, NO, NO, NO},
};

static const int
	resource_expected[DD_RESOURCE_STATUS_COUNT]
			 [DD_RESOURCE_STATUS_COUNT] = {
		/* to:         pending active released broken destroyed */
		[DD_RESOURCE_PENDING] = {NO, YES, YES, YES, NO},
		[DD_RESOURCE_ACTIVE] = {NO, NO, YES, YES, NO},
		[DD_RESOURCE_RELEASED] = {NO, NO, NO, NO, YES},
		[DD_RESOURCE_BROKEN] = {NO, NO, NO, NO, YES},
		[DD_RESOURCE_DESTROYED] = {NO, NO, NO, NO, NO},
};

static const char *const lease_names[] = {
	"pending", "acquired", "active", "released", "broken", "destroyed",
};

static const char *const resource_names[] = {
	"pending", "active", "released", "broken", "destroyed",
};

static void test_lease_edge_matrix(void **state)
{
	char bad[1024] = "";
	size_t used = 0;

	(void)state;
	for (int from = 0; from < DD_LEASE_STATUS_COUNT; from++) {
		for (int to = 0; to < DD_LEASE_STATUS_COUNT; to++) {
			int want = lease_expected[from][to];
			bool got = dd_lease_can_transition(
				(enum dd_lease_status)from,
				(enum dd_lease_status)to);

			if (want == DESIGN_NO || got == (want == YES))
				continue;
			used += (size_t)snprintf(bad + used,
						 sizeof(bad) - used,
						 " %s->%s(%s)",
						 lease_names[from],
						 lease_names[to],
						 got ? "allowed" : "refused");
		}
	}
	if (bad[0])
		fail_msg("lease edges differ from the machine:%s", bad);
}

static void test_lease_transition_each_cell(void **state)
{
	(void)state;
	for (int from = 0; from < DD_LEASE_STATUS_COUNT; from++) {
		for (int to = 0; to < DD_LEASE_STATUS_COUNT; to++) {
			struct dd_error err = {77, "sentinel"};
			enum dd_lease_status st = (enum dd_lease_status)from;
			int want = lease_expected[from][to];
			int rc;

			if (want == DESIGN_NO)
				continue;
			rc = dd_lease_transition(
				12, &st, (enum dd_lease_status)to, &err);
			if (want == YES) {
				if (rc)
					fail_msg("lease %s->%s refused: %s",
						 lease_names[from],
						 lease_names[to], err.msg);
				assert_int_equal(st, to);
				/* success leaves the caller's error alone */
				assert_int_equal(err.code, 77);
				assert_string_equal(err.msg, "sentinel");
			} else {
				if (rc != DD_ERR_STATE)
					fail_msg("lease %s->%s gave %s",
						 lease_names[from],
						 lease_names[to],
						 dd_err_name(rc));
				assert_int_equal(st, from);
				assert_int_equal(err.code, DD_ERR_STATE);
				assert_non_null(strstr(err.msg, "lease 12"));
				assert_non_null(
					strstr(err.msg, lease_names[from]));
				assert_non_null(
					strstr(err.msg, lease_names[to]));
			}
		}
	}
}

/*
 * Regression test (a bug once found in src/core/state.c): the lease table allows pending -> active,
 * an edge the machine in state.h and DESIGN.md does not have (a lease
 * becomes active only from acquired, after it holds its slot locks) and
 * that no worker uses.
 */
static void test_lease_pending_to_active_refused(void **state)
{
	enum dd_lease_status st = DD_LEASE_PENDING;
	struct dd_error err = DD_ERROR_INIT;

	(void)state;
	assert_false(dd_lease_can_transition(DD_LEASE_PENDING,
					     DD_LEASE_ACTIVE));
	assert_int_equal(dd_lease_transition(3, &st, DD_LEASE_ACTIVE, &err),
			 DD_ERR_STATE);
	assert_int_equal(st, DD_LEASE_PENDING);
}

static void test_lease_transition_null_err(void **state)
{
	enum dd_lease_status st = DD_LEASE_DESTROYED;

	(void)state;
	/* callers that do not want detail may pass NULL */
	assert_int_equal(dd_lease_transition(1, &st, DD_LEASE_ACTIVE, NULL),
			 DD_ERR_STATE);
	assert_int_equal(st, DD_LEASE_DESTROYED);
}

static void test_lease_out_of_range(void **state)
{
	(void)state;
	assert_false(dd_lease_can_transition(DD_LEASE_STATUS_COUNT,
					     DD_LEASE_PENDING));
	assert_false(dd_lease_can_transition(DD_LEASE_PENDING,
					     DD_LEASE_STATUS_COUNT));
	assert_false(dd_lease_can_transition((enum dd_lease_status)-1,
					     DD_LEASE_PENDING));
	assert_string_equal(dd_lease_status_name(DD_LEASE_STATUS_COUNT),
			    "unknown");
	assert_string_equal(dd_lease_status_name((enum dd_lease_status)-1),
			    "unknown");
}

/* ---- resource machine ------------------------------------------------- */

static void test_resource_edge_matrix(void **state)
{
	char bad[1024] = "";
	size_t used = 0;

	(void)state;
	for (int from = 0; from < DD_RESOURCE_STATUS_COUNT; from++) {
		for (int to = 0; to < DD_RESOURCE_STATUS_COUNT; to++) {
			bool want = resource_expected[from][to] == YES;
			bool got = dd_resource_can_transition(
				(enum dd_resource_status)from,
				(enum dd_resource_status)to);

			if (got == want)
				continue;
			used += (size_t)snprintf(bad + used,
						 sizeof(bad) - used,
						 " %s->%s(%s)",
						 resource_names[from],
						 resource_names[to],
						 got ? "allowed" : "refused");
		}
	}
	if (bad[0])
		fail_msg("resource edges differ from the machine:%s", bad);
}

static void test_resource_transition_each_cell(void **state)
{
	(void)state;
	for (int from = 0; from < DD_RESOURCE_STATUS_COUNT; from++) {
		for (int to = 0; to < DD_RESOURCE_STATUS_COUNT; to++) {
			struct dd_error err = {77, "sentinel"};
			enum dd_resource_status st =
				(enum dd_resource_status)from;
			int rc = dd_resource_transition(
				40, &st, (enum dd_resource_status)to, &err);

			if (resource_expected[from][to] == YES) {
				if (rc)
					fail_msg("resource %s->%s refused: %s",
						 resource_names[from],
						 resource_names[to], err.msg);
				assert_int_equal(st, to);
				assert_int_equal(err.code, 77);
				assert_string_equal(err.msg, "sentinel");
			} else {
				assert_int_equal(rc, DD_ERR_STATE);
				assert_int_equal(st, from);
				assert_int_equal(err.code, DD_ERR_STATE);
				assert_non_null(strstr(err.msg, "resource 40"));
				assert_non_null(
					strstr(err.msg, resource_names[from]));
				assert_non_null(
					strstr(err.msg, resource_names[to]));
			}
		}
	}
}

static void test_resource_out_of_range(void **state)
{
	(void)state;
	assert_false(dd_resource_can_transition(DD_RESOURCE_STATUS_COUNT,
						DD_RESOURCE_PENDING));
	assert_false(dd_resource_can_transition(DD_RESOURCE_PENDING,
						DD_RESOURCE_STATUS_COUNT));
	assert_string_equal(
		dd_resource_status_name(DD_RESOURCE_STATUS_COUNT), "unknown");
}

/* Every state is reachable from pending and every path ends destroyed. */
static void test_machines_reach_destroyed(void **state)
{
	(void)state;
	for (int s = 0; s < DD_LEASE_STATUS_COUNT; s++) {
		bool seen[DD_LEASE_STATUS_COUNT] = {0};
		int stack[64], n = 0;

		stack[n++] = s;
		seen[s] = true;
		while (n) {
			int at = stack[--n];

			for (int to = 0; to < DD_LEASE_STATUS_COUNT; to++)
				if (dd_lease_can_transition(
					    (enum dd_lease_status)at,
					    (enum dd_lease_status)to) &&
				    !seen[to]) {
					seen[to] = true;
					stack[n++] = to;
				}
		}
		if (!seen[DD_LEASE_DESTROYED])
			fail_msg("lease %s cannot reach destroyed",
				 lease_names[s]);
	}
	for (int s = 0; s < DD_RESOURCE_STATUS_COUNT; s++) {
		bool seen[DD_RESOURCE_STATUS_COUNT] = {0};
		int stack[64], n = 0;

		stack[n++] = s;
		seen[s] = true;
		while (n) {
			int at = stack[--n];

			for (int to = 0; to < DD_RESOURCE_STATUS_COUNT; to++)
				if (dd_resource_can_transition(
					    (enum dd_resource_status)at,
					    (enum dd_resource_status)to) &&
				    !seen[to]) {
					seen[to] = true;
					stack[n++] = to;
				}
		}
		if (!seen[DD_RESOURCE_DESTROYED])
			fail_msg("resource %s cannot reach destroyed",
				 resource_names[s]);
	}
}

/* ---- names and flags -------------------------------------------------- */

static void test_status_names_round_trip(void **state)
{
	(void)state;
	for (int i = 0; i < DD_LEASE_STATUS_COUNT; i++) {
		assert_string_equal(
			dd_lease_status_name((enum dd_lease_status)i),
			lease_names[i]);
		assert_int_equal(dd_lease_status_parse(lease_names[i]), i);
	}
	for (int i = 0; i < DD_RESOURCE_STATUS_COUNT; i++) {
		assert_string_equal(
			dd_resource_status_name((enum dd_resource_status)i),
			resource_names[i]);
		assert_int_equal(dd_resource_status_parse(resource_names[i]),
				 i);
	}
	/* names are exact: no case folding, no prefixes, no lease-only names */
	assert_int_equal(dd_lease_status_parse("Active"), -1);
	assert_int_equal(dd_lease_status_parse("activ"), -1);
	assert_int_equal(dd_lease_status_parse(""), -1);
	assert_int_equal(dd_lease_status_parse("unknown"), -1);
	assert_int_equal(dd_resource_status_parse("acquired"), -1);
	assert_int_equal(dd_resource_status_parse("PENDING"), -1);
	assert_int_equal(dd_resource_status_parse(""), -1);
}

static void test_lease_flags(void **state)
{
	static const struct {
		enum dd_lease_status s;
		bool releasable, commandable, live, finished;
	} want[] = {
		{DD_LEASE_PENDING, true, true, true, false},
		{DD_LEASE_ACQUIRED, true, true, true, false},
		{DD_LEASE_ACTIVE, true, true, true, false},
		{DD_LEASE_RELEASED, false, false, false, false},
		{DD_LEASE_BROKEN, false, false, false, false},
		{DD_LEASE_DESTROYED, false, false, false, true},
	};

	(void)state;
	assert_int_equal(sizeof(want) / sizeof(want[0]),
			 DD_LEASE_STATUS_COUNT);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (dd_lease_status_releasable(want[i].s) !=
			    want[i].releasable ||
		    dd_lease_status_commandable(want[i].s) !=
			    want[i].commandable ||
		    dd_lease_status_live(want[i].s) != want[i].live ||
		    dd_lease_status_finished(want[i].s) != want[i].finished)
			fail_msg("lease flags wrong for %s",
				 lease_names[want[i].s]);
		/* a releasable lease must have an edge to released */
		if (want[i].releasable)
			assert_true(dd_lease_can_transition(
				want[i].s, DD_LEASE_RELEASED));
	}
}

static void test_resource_flags(void **state)
{
	static const struct {
		enum dd_resource_status s;
		bool releasable, commandable, finished;
	} want[] = {
		{DD_RESOURCE_PENDING, true, true, false},
		{DD_RESOURCE_ACTIVE, true, true, false},
		{DD_RESOURCE_RELEASED, false, false, false},
		{DD_RESOURCE_BROKEN, false, false, false},
		{DD_RESOURCE_DESTROYED, false, false, true},
	};

	(void)state;
	assert_int_equal(sizeof(want) / sizeof(want[0]),
			 DD_RESOURCE_STATUS_COUNT);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (dd_resource_status_releasable(want[i].s) !=
			    want[i].releasable ||
		    dd_resource_status_commandable(want[i].s) !=
			    want[i].commandable ||
		    dd_resource_status_finished(want[i].s) != want[i].finished)
			fail_msg("resource flags wrong for %s",
				 resource_names[want[i].s]);
		if (want[i].releasable)
			assert_true(dd_resource_can_transition(
				want[i].s, DD_RESOURCE_RELEASED));
	}
}

/* ---- build target machine --------------------------------------------- */

static const int
	target_expected[DD_TARGET_STATUS_COUNT][DD_TARGET_STATUS_COUNT] = {
		/* to:          building passed failed aborted */
		[DD_TARGET_BUILDING] = {NO, YES, YES, YES},
		[DD_TARGET_PASSED] = {NO, NO, NO, NO},
		[DD_TARGET_FAILED] = {NO, NO, NO, NO},
		[DD_TARGET_ABORTED] = {NO, NO, NO, NO},
};

static const char *const target_names[] = {
	"building", "passed", "failed", "aborted",
};

/* Every edge, allowed and refused, through the one transition function. */
static void test_target_transition_each_cell(void **state)
{
	(void)state;
	for (int from = 0; from < DD_TARGET_STATUS_COUNT; from++) {
		for (int to = 0; to < DD_TARGET_STATUS_COUNT; to++) {
			struct dd_error err = {77, "sentinel"};
			enum dd_target_status st = (enum dd_target_status)from;
			bool want = target_expected[from][to] == YES;
			int rc = dd_target_transition(
				9, &st, (enum dd_target_status)to, &err);

			assert_int_equal(dd_target_can_transition(
						 (enum dd_target_status)from,
						 (enum dd_target_status)to),
					 want);
			if (want) {
				if (rc)
					fail_msg("target %s->%s refused: %s",
						 target_names[from],
						 target_names[to], err.msg);
				assert_int_equal(st, to);
				assert_int_equal(err.code, 77);
				assert_string_equal(err.msg, "sentinel");
				continue;
			}
			if (rc != DD_ERR_STATE)
				fail_msg("target %s->%s gave %s",
					 target_names[from], target_names[to],
					 dd_err_name(rc));
			assert_int_equal(st, from);
			assert_int_equal(err.code, DD_ERR_STATE);
			assert_non_null(strstr(err.msg, "target 9"));
			assert_non_null(strstr(err.msg, target_names[from]));
			assert_non_null(strstr(err.msg, target_names[to]));
		}
	}
}

static void test_target_names_flags_and_range(void **state)
{
	enum dd_target_status st = DD_TARGET_PASSED;

	(void)state;
	for (int i = 0; i < DD_TARGET_STATUS_COUNT; i++) {
		assert_string_equal(
			dd_target_status_name((enum dd_target_status)i),
			target_names[i]);
		assert_int_equal(dd_target_status_parse(target_names[i]), i);
		/* only building is unfinished, and only it has edges out */
		assert_int_equal(
			dd_target_status_finished((enum dd_target_status)i),
			i != DD_TARGET_BUILDING);
	}
	assert_int_equal(dd_target_status_parse("Passed"), -1);
	assert_int_equal(dd_target_status_parse("pending"), -1);
	assert_int_equal(dd_target_status_parse(""), -1);
	assert_string_equal(dd_target_status_name(DD_TARGET_STATUS_COUNT),
			    "unknown");
	assert_false(dd_target_can_transition(DD_TARGET_STATUS_COUNT,
					      DD_TARGET_PASSED));
	assert_false(dd_target_can_transition(DD_TARGET_BUILDING,
					      DD_TARGET_STATUS_COUNT));
	assert_false(dd_target_can_transition((enum dd_target_status)-1,
					      DD_TARGET_PASSED));
	/* a refused move with no error wanted still refuses */
	assert_int_equal(dd_target_transition(1, &st, DD_TARGET_ABORTED, NULL),
			 DD_ERR_STATE);
	assert_int_equal(st, DD_TARGET_PASSED);
}

/* ---- authorization machine -------------------------------------------- */

static const int authorization_expected[DD_AUTHORIZATION_STATE_COUNT]
				       [DD_AUTHORIZATION_STATE_COUNT] = {
	/* to:                    requested approved declined */
	[DD_AUTHORIZATION_REQUESTED] = {NO, YES, YES},
	[DD_AUTHORIZATION_APPROVED] = {NO, NO, YES},
	[DD_AUTHORIZATION_DECLINED] = {NO, YES, NO},
};

static const char *const authorization_names[] = {
	"requested", "approved", "declined",
};

/*
 * Every edge, allowed and refused, through the one transition function;
 * a decision that is already so says "already", the others name both
 * states.
 */
static void test_authorization_transition_each_cell(void **state)
{
	(void)state;
	for (int from = 0; from < DD_AUTHORIZATION_STATE_COUNT; from++) {
		for (int to = 0; to < DD_AUTHORIZATION_STATE_COUNT; to++) {
			struct dd_error err = {77, "sentinel"};
			enum dd_authorization_state st =
				(enum dd_authorization_state)from;
			bool want = authorization_expected[from][to] == YES;
			int rc = dd_authorization_transition(
				5, &st, (enum dd_authorization_state)to, &err);

			assert_int_equal(dd_authorization_can_transition(
						 (enum dd_authorization_state)from,
						 (enum dd_authorization_state)to),
					 want);
			if (want) {
				if (rc)
					fail_msg("authorization %s->%s refused: "
						 "%s",
						 authorization_names[from],
						 authorization_names[to],
						 err.msg);
				assert_int_equal(st, to);
				assert_int_equal(err.code, 77);
				assert_string_equal(err.msg, "sentinel");
				continue;
			}
			if (rc != DD_ERR_STATE)
				fail_msg("authorization %s->%s gave %s",
					 authorization_names[from],
					 authorization_names[to],
					 dd_err_name(rc));
			assert_int_equal(st, from);
			assert_int_equal(err.code, DD_ERR_STATE);
			assert_non_null(strstr(err.msg, "authorization 5"));
			if (from == to) {
				char want_msg[64];

				snprintf(want_msg, sizeof(want_msg),
					 "authorization 5 is already %s",
					 authorization_names[to]);
				assert_string_equal(err.msg, want_msg);
			} else {
				assert_non_null(strstr(
					err.msg, authorization_names[from]));
				assert_non_null(
					strstr(err.msg, authorization_names[to]));
			}
		}
	}
}

static void test_authorization_names_and_range(void **state)
{
	enum dd_authorization_state st = DD_AUTHORIZATION_APPROVED;

	(void)state;
	for (int i = 0; i < DD_AUTHORIZATION_STATE_COUNT; i++) {
		assert_string_equal(dd_authorization_state_name(
					    (enum dd_authorization_state)i),
				    authorization_names[i]);
		assert_int_equal(
			dd_authorization_state_parse(authorization_names[i]),
			i);
	}
	assert_int_equal(dd_authorization_state_parse("Approved"), -1);
	assert_int_equal(dd_authorization_state_parse("authorized"), -1);
	assert_int_equal(dd_authorization_state_parse(""), -1);
	assert_string_equal(
		dd_authorization_state_name(DD_AUTHORIZATION_STATE_COUNT),
		"unknown");
	assert_false(dd_authorization_can_transition(
		DD_AUTHORIZATION_STATE_COUNT, DD_AUTHORIZATION_APPROVED));
	assert_false(dd_authorization_can_transition(
		DD_AUTHORIZATION_REQUESTED, DD_AUTHORIZATION_STATE_COUNT));
	assert_false(dd_authorization_can_transition(
		(enum dd_authorization_state)-1, DD_AUTHORIZATION_DECLINED));
	/* nothing goes back to requested, and no error wanted still refuses */
	assert_int_equal(dd_authorization_transition(
				 1, &st, DD_AUTHORIZATION_REQUESTED, NULL),
			 DD_ERR_STATE);
	assert_int_equal(st, DD_AUTHORIZATION_APPROVED);
}

/* ---- errors ----------------------------------------------------------- */

static void test_error_codes(void **state)
{
	static const struct {
		int code;
		const char *name, *desc;
		int exit;
	} want[] = {
		{DD_OK, "OK", "success", 0},
		{DD_ERR_NOMEM, "NOMEM", "out of memory", 1},
		{DD_ERR_INVALID, "INVALID", "invalid argument", 2},
		{DD_ERR_NOTFOUND, "NOTFOUND", "no such object", 3},
		{DD_ERR_STATE, "STATE", "illegal state change", 4},
		{DD_ERR_EXISTS, "EXISTS", "already exists", 5},
		{DD_ERR_BUSY, "BUSY", "busy", 6},
		{DD_ERR_STORE, "STORE", "store failure", 7},
		{DD_ERR_FENCED, "FENCED", "lock lost before the write", 8},
		{DD_ERR_SLOT, "SLOT", "slot lock is held", 9},
		{DD_ERR_AGAIN, "AGAIN", "not ready yet, try again later", 10},
		{DD_ERR_IO, "IO", "input/output error", 11},
		{DD_ERR_BROKEN, "BROKEN", "object is broken", 12},
		{DD_ERR_INTERRUPTED, "INTERRUPTED", "interrupted", 130},
		{DD_ERR_KEY_REUSED, "KEY_REUSED",
		 "idempotency key reused for another request", 14},
		{DD_ERR_DAMAGED, "DAMAGED", "store is damaged", 15},
		{DD_ERR_TIMEOUT, "TIMEOUT", "timed out", 16},
		{DD_ERR_REMOTE, "REMOTE", "remote host failed", 17},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_string_equal(dd_err_name(want[i].code), want[i].name);
		assert_string_equal(dd_strerror(want[i].code), want[i].desc);
		assert_int_equal(dd_err_exit_status(want[i].code),
				 want[i].exit);
		/* codes are negative and distinct */
		if (i) {
			assert_true(want[i].code < 0);
			for (size_t j = 0; j < i; j++)
				assert_int_not_equal(want[i].code,
						     want[j].code);
		}
	}
	/* the list has no code the table above misses */
	for (int c = -200; c <= 200; c++) {
		bool listed = false;

		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
			listed = listed || want[i].code == c;
		if (listed)
			continue;
		assert_string_equal(dd_err_name(c), "UNKNOWN");
		assert_string_equal(dd_strerror(c), "unknown error");
		assert_int_equal(dd_err_exit_status(c), 1);
	}
}

static void test_error_set_and_clear(void **state)
{
	struct dd_error err = DD_ERROR_INIT;
	char longer[1000];

	(void)state;
	assert_int_equal(dd_error_set(&err, DD_ERR_NOTFOUND,
				      "no such lease: %d", 12),
			 DD_ERR_NOTFOUND);
	assert_int_equal(err.code, DD_ERR_NOTFOUND);
	assert_string_equal(err.msg, "no such lease: 12");
	/* NULL detail is allowed and the code still comes back */
	assert_int_equal(dd_error_set(NULL, DD_ERR_IO, "x"), DD_ERR_IO);
	/* long messages are cut, never overflow */
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	dd_error_set(&err, DD_ERR_INVALID, "%s", longer);
	assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);
	dd_error_clear(&err);
	assert_int_equal(err.code, 0);
	assert_string_equal(err.msg, "");
	dd_error_clear(NULL);
}

/* ---- time ------------------------------------------------------------- */

static void test_time_format_round_trip(void **state)
{
	char buf[32];
	double out = 0;

	(void)state;
	dd_time_format(1704164645.25, buf);
	assert_string_equal(buf, "2024-01-02T03:04:05.250Z");
	assert_int_equal(dd_time_parse(buf, 0, &out, NULL), 0);
	assert_float_equal(out, 1704164645.25, 1e-6);
	dd_time_format(0, buf);
	assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
}

static void test_clocks(void **state)
{
	double a = dd_monotonic(), b = dd_monotonic();

	(void)state;
	assert_true(b >= a);
	/* the wall clock is in this century */
	assert_true(dd_now() > 1.6e9);
	for (int i = 0; i < 1000; i++) {
		double r = dd_random();

		assert_true(r >= 0 && r < 1);
	}
}

/* ---- dd_buf ----------------------------------------------------------- */

static void test_buf(void **state)
{
	struct dd_buf b = DD_BUF_INIT;
	char *s;

	(void)state;
	assert_int_equal(dd_buf_addstr(&b, "lease"), 0);
	assert_int_equal(dd_buf_add(&b, " 12345", 3), 0);
	assert_int_equal(dd_buf_addf(&b, ":%d:%s", 7, "x"), 0);
	assert_string_equal(b.buf, "lease 12:7:x");
	assert_int_equal(b.len, strlen("lease 12:7:x"));
	assert_true(b.alloc > b.len);
	/* grows past its first allocation, keeping what it had */
	for (int i = 0; i < 200; i++)
		assert_int_equal(dd_buf_addf(&b, "%03d", i), 0);
	assert_int_equal(b.len, 12 + 600);
	assert_int_equal(strlen(b.buf), b.len);
	assert_memory_equal(b.buf + 12, "000001002", 9);
	assert_string_equal(b.buf + b.len - 3, "199");
	s = dd_buf_detach(&b);
	assert_null(b.buf);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.alloc, 0);
	assert_int_equal(strlen(s), 612);
	dd_free(s);

	/* detaching an empty buffer still hands over a string */
	s = dd_buf_detach(&b);
	assert_non_null(s);
	assert_string_equal(s, "");
	dd_free(s);

	assert_int_equal(dd_buf_addstr(&b, ""), 0);
	assert_string_equal(b.buf, "");
	dd_buf_release(&b);
	assert_null(b.buf);
	assert_int_equal(b.len, 0);
	dd_buf_release(&b);
}

static void test_buf_out_of_memory(void **state)
{
	struct dd_buf b = DD_BUF_INIT;

	(void)state;
	dd_alloc_fail_after(0);
	assert_int_equal(dd_buf_addstr(&b, "x"), DD_ERR_NOMEM);
	assert_null(b.buf);
	assert_int_equal(b.len, 0);
	/* the fault was one-shot */
	assert_int_equal(dd_buf_addstr(&b, "abc"), 0);
	/* a failed growth keeps the old contents */
	dd_alloc_fail_after(0);
	{
		char big[200];

		memset(big, 'y', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		assert_int_equal(dd_buf_addstr(&b, big), DD_ERR_NOMEM);
		dd_alloc_fail_after(0);
		assert_int_equal(dd_buf_addf(&b, "%s", big), DD_ERR_NOMEM);
	}
	dd_alloc_fail_after(-1);
	assert_string_equal(b.buf, "abc");
	assert_int_equal(b.len, 3);
	dd_buf_release(&b);
}

/* ---- allocation fault injection --------------------------------------- */

static void test_alloc_fail_after(void **state)
{
	void *a, *b, *c;
	char *s;

	(void)state;
	/* n = 0: the very next allocation fails, then it is off again */
	dd_alloc_fail_after(0);
	assert_null(dd_malloc(16));
	a = dd_malloc(16);
	assert_non_null(a);
	dd_free(a);

	/* n = 2: two succeed, the third fails, the fourth succeeds */
	dd_alloc_fail_after(2);
	a = dd_malloc(8);
	b = dd_calloc(2, 8);
	c = dd_malloc(8);
	assert_non_null(a);
	assert_non_null(b);
	assert_null(c);
	c = dd_malloc(8);
	assert_non_null(c);
	assert_memory_equal(b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	dd_free(a);
	dd_free(b);
	dd_free(c);

	/* every wrapper honours it */
	dd_alloc_fail_after(0);
	assert_null(dd_calloc(1, 1));
	dd_alloc_fail_after(0);
	assert_null(dd_strdup("x"));
	a = dd_malloc(4);
	assert_non_null(a);
	dd_alloc_fail_after(0);
	/* a failed realloc leaves the old block to the caller */
	assert_null(dd_realloc(a, 4096));
	dd_free(a);

	/* n < 0 turns it off */
	dd_alloc_fail_after(-1);
	for (int i = 0; i < 100; i++) {
		s = dd_strdup("fine");
		assert_non_null(s);
		dd_free(s);
	}
	/* zero-size requests still return something freeable */
	a = dd_malloc(0);
	assert_non_null(a);
	dd_free(a);
	dd_free(NULL);
}

/* ---- directories ------------------------------------------------------ */

static void test_secret_equal(void **state)
{
	(void)state;
	assert_true(dd_secret_equal("", ""));
	assert_true(dd_secret_equal("abc123", "abc123"));
	assert_false(dd_secret_equal("abc123", "abc124"));
	assert_false(dd_secret_equal("xbc123", "abc123"));
	assert_false(dd_secret_equal("abc", "abc123")); /* a prefix */
	assert_false(dd_secret_equal("abc123", "abc"));
	assert_false(dd_secret_equal("", "a"));
}

static void test_mkdir_and_remove_tree(void **state)
{
	char base[PATH_MAX], deep[PATH_MAX + 32], file[PATH_MAX + 48];
	const char *tmp = getenv("TMPDIR");
	struct stat st;
	FILE *f;

	(void)state;
	snprintf(base, sizeof(base), "%s/dd-unit-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(base));
	snprintf(deep, sizeof(deep), "%s/a/b/c", base);
	assert_int_equal(dd_mkdir_p(deep), 0);
	assert_int_equal(dd_mkdir_p(deep), 0); /* existing is fine */
	assert_int_equal(stat(deep, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(file, sizeof(file), "%s/f", deep);
	f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(dd_mkdir_p(""), DD_ERR_INVALID);
	assert_int_equal(dd_remove_tree(base), 0);
	assert_int_not_equal(stat(base, &st), 0);
	/* a missing tree is not an error */
	assert_int_equal(dd_remove_tree(base), 0);
	/* an empty directory, and a lone file, go too */
	assert_int_equal(dd_mkdir_p(deep), 0);
	assert_int_equal(dd_remove_tree(deep), 0);
	assert_int_not_equal(stat(deep, &st), 0);
	snprintf(file, sizeof(file), "%s/a/f", base);
	f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(dd_remove_tree(file), 0);
	assert_int_not_equal(stat(file, &st), 0);
	/* a path under a file cannot be made */
	f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(deep, sizeof(deep), "%s/a/f/x/y", base);
	assert_int_equal(dd_mkdir_p(deep), DD_ERR_IO);
	assert_int_equal(dd_remove_tree(base), 0);
}

/* Make `n` empty files f0 .. f(n-1) in `dir`. */
static void make_files(const char *dir, int n)
{
	char f[PATH_MAX + 16];

	for (int i = 0; i < n; i++) {
		FILE *fp;

		snprintf(f, sizeof(f), "%s/f%d", dir, i);
		fp = fopen(f, "w");
		assert_non_null(fp);
		fclose(fp);
	}
}

/*
 * The owner of a tree (a lease's commands, run as another user, still
 * running) swaps a directory in it for a symbolic link to somewhere else
 * while drydock removes the tree: nothing outside the tree may go.  A
 * removal by path (nftw, as before) deleted the link's target's files in
 * most rounds; one that opens each directory from its parent's
 * descriptor with O_NOFOLLOW cannot.
 */
static void test_remove_tree_does_not_follow_a_swapped_directory(void **state)
{
	char base[PATH_MAX], tree[PATH_MAX + 8], a[PATH_MAX + 16],
		b[PATH_MAX + 16], victim[PATH_MAX + 16], f[PATH_MAX + 32];
	const char *tmp = getenv("TMPDIR");
	struct stat st;
	int lost = 0;

	(void)state;
	snprintf(base, sizeof(base), "%s/dd-unit-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(base));
	snprintf(tree, sizeof(tree), "%s/lease", base);
	snprintf(a, sizeof(a), "%s/a", tree);
	snprintf(b, sizeof(b), "%s/b", tree);
	snprintf(victim, sizeof(victim), "%s/victim", base);
	assert_int_equal(mkdir(victim, 0700), 0);
	make_files(victim, 10);
	for (int round = 0; round < 100; round++) {
		pid_t pid;

		assert_int_equal(dd_mkdir_p(a), 0);
		make_files(a, 10);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			for (;;)
				if (!rename(a, b) && symlink(victim, a))
					_exit(1);
		dd_remove_tree(tree); /* may fail: the tree keeps changing */
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, NULL, 0), pid);
		assert_int_equal(dd_remove_tree(tree), 0);
		for (int i = 0; i < 10; i++) {
			snprintf(f, sizeof(f), "%s/f%d", victim, i);
			lost += stat(f, &st) != 0;
		}
	}
	assert_int_equal(lost, 0);
	assert_int_equal(dd_remove_tree(base), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lease_edge_matrix),
		cmocka_unit_test(test_lease_transition_each_cell),
		cmocka_unit_test(test_lease_pending_to_active_refused),
		cmocka_unit_test(test_lease_transition_null_err),
		cmocka_unit_test(test_lease_out_of_range),
		cmocka_unit_test(test_resource_edge_matrix),
		cmocka_unit_test(test_resource_transition_each_cell),
		cmocka_unit_test(test_resource_out_of_range),
		cmocka_unit_test(test_machines_reach_destroyed),
		cmocka_unit_test(test_status_names_round_trip),
		cmocka_unit_test(test_lease_flags),
		cmocka_unit_test(test_resource_flags),
		cmocka_unit_test(test_target_transition_each_cell),
		cmocka_unit_test(test_target_names_flags_and_range),
		cmocka_unit_test(test_authorization_transition_each_cell),
		cmocka_unit_test(test_authorization_names_and_range),
		cmocka_unit_test(test_error_codes),
		cmocka_unit_test(test_error_set_and_clear),
		cmocka_unit_test(test_time_format_round_trip),
		cmocka_unit_test(test_clocks),
		cmocka_unit_test(test_buf),
		cmocka_unit_test(test_buf_out_of_memory),
		cmocka_unit_test(test_alloc_fail_after),
		cmocka_unit_test(test_secret_equal),
		cmocka_unit_test(test_mkdir_and_remove_tree),
		cmocka_unit_test(
			test_remove_tree_does_not_follow_a_swapped_directory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
