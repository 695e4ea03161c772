/*
 * test_metrics.c - process counters (core/metrics), store events that
 * reach the hook only once committed, store stats, and the HTTP status
 * each error code maps to.
 */
#include "testutil.h"

#include "api/api.h"
#include "core/metrics.h"

#define MAX_EVENTS 32

static struct dd_store_event seen[MAX_EVENTS];
static int n_seen;

static void collect(const struct dd_store_event *ev)
{
	if (n_seen < MAX_EVENTS)
		seen[n_seen++] = *ev;
}

static int setup(void **state)
{
	struct test_env *e = calloc(1, sizeof(*e));

	test_env_init(e);
	n_seen = 0;
	dd_store_set_event_hook(collect);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct test_env *e = *state;

	dd_store_set_event_hook(NULL);
	test_env_release(e);
	free(e);
	return 0;
}

static void test_counters_count_up(void **state)
{
	unsigned long long before = dd_metric_get(DD_METRIC_TASKS_RUN);

	(void)state;
	dd_metric_inc(DD_METRIC_TASKS_RUN);
	dd_metric_inc(DD_METRIC_TASKS_RUN);
	assert_int_equal(dd_metric_get(DD_METRIC_TASKS_RUN), before + 2);
	assert_string_equal(dd_metric_name(DD_METRIC_COMMANDS_DONE),
			    "commands_consumed_total");
	assert_string_equal(dd_metric_label(DD_METRIC_COMMANDS_IGNORED),
			    "outcome=\"ignored\"");
	assert_null(dd_metric_label(DD_METRIC_TASKS_RUN));
}

static void test_allocation_histogram_is_cumulative(void **state)
{
	unsigned long long c0[DD_ALLOC_BUCKETS + 1], c1[DD_ALLOC_BUCKETS + 1];
	double s0, s1;

	(void)state;
	dd_metric_allocation(c0, &s0);
	dd_metric_observe_allocation(0.0005); /* first bucket (1 ms) */
	dd_metric_observe_allocation(0.02);   /* the 25 ms bucket */
	dd_metric_observe_allocation(100);    /* only +Inf */
	dd_metric_observe_allocation(-1);     /* clamped to 0 */
	dd_metric_allocation(c1, &s1);
	assert_int_equal(c1[0] - c0[0], 2);
	assert_int_equal(c1[3] - c0[3], 2);	/* 10 ms: not yet the 20 ms */
	assert_int_equal(c1[4] - c0[4], 3);	/* 25 ms */
	assert_int_equal(c1[DD_ALLOC_BUCKETS - 1] - c0[DD_ALLOC_BUCKETS - 1],
			 3);
	assert_int_equal(c1[DD_ALLOC_BUCKETS] - c0[DD_ALLOC_BUCKETS], 4);
	assert_true(s1 - s0 > 100.0 && s1 - s0 < 100.03);
}

static void test_events_wait_for_commit(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;

	assert_ok(dd_store_begin(e->store, &err), &err);
	assert_ok(dd_store_log(e->store, 1, 2, 3, "lease.activated", NULL,
			       &err),
		  &err);
	assert_int_equal(n_seen, 0); /* not before the commit */
	assert_ok(dd_store_commit(e->store, &err), &err);
	assert_int_equal(n_seen, 1);
	assert_string_equal(seen[0].type, "lease.activated");
	assert_int_equal(seen[0].blueprint, 1);
	assert_int_equal(seen[0].resource, 2);
	assert_int_equal(seen[0].lease, 3);
}

static void test_events_of_a_rollback_are_dropped(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;

	assert_ok(dd_store_begin(e->store, &err), &err);
	assert_ok(dd_store_log(e->store, 0, 0, 7, "lease.released", NULL,
			       &err),
		  &err);
	dd_store_rollback(e->store);
	assert_int_equal(n_seen, 0);

	/* an inner rollback dooms the outer commit, and its events */
	assert_ok(dd_store_begin(e->store, &err), &err);
	assert_ok(dd_store_log(e->store, 0, 0, 8, "lease.released", NULL,
			       &err),
		  &err);
	assert_ok(dd_store_begin(e->store, &err), &err);
	dd_store_rollback(e->store);
	assert_int_equal(dd_store_commit(e->store, &err), DD_ERR_STORE);
	assert_int_equal(n_seen, 0);

	/* the next transaction starts clean */
	assert_ok(dd_store_begin(e->store, &err), &err);
	assert_ok(dd_store_log(e->store, 0, 0, 9, "lease.destroyed", NULL,
			       &err),
		  &err);
	assert_ok(dd_store_commit(e->store, &err), &err);
	assert_int_equal(n_seen, 1);
	assert_int_equal(seen[0].lease, 9);
}

static void test_event_outside_a_transaction_is_sent_at_once(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	json_t *data = json_pack("{s:f}", "waited", 0.25);

	assert_ok(dd_store_log(e->store, 0, 4, 5, "lease.acquired", data,
			       &err),
		  &err);
	assert_int_equal(n_seen, 1);
	assert_true(seen[0].value > 0.249 && seen[0].value < 0.251);
}

static void test_consumed_commands_are_events(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_command c1 = {0}, c2 = {0};

	c1.target = (struct dd_ref){DD_OBJ_LEASE, 1};
	c1.kind = "release";
	c1.author = "test";
	c2 = c1;
	assert_ok(dd_store_command_insert(e->store, &c1, &err), &err);
	assert_ok(dd_store_command_insert(e->store, &c2, &err), &err);
	assert_ok(dd_store_begin(e->store, &err), &err);
	assert_ok(dd_store_command_consume(e->store, c1.id, "done", dd_now(),
					   &err),
		  &err);
	assert_ok(dd_store_command_consume(e->store, c2.id,
					   "ignored: already released",
					   dd_now(), &err),
		  &err);
	assert_ok(dd_store_commit(e->store, &err), &err);
	assert_int_equal(n_seen, 2);
	assert_string_equal(seen[0].type, "command.consumed");
	assert_string_equal(seen[0].detail, "done");
	assert_string_equal(seen[1].detail, "ignored");
}

static void test_stats_count_by_status_and_queue(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease_request req = {.type = "host", .owner = "test"};
	struct dd_store_stats st;
	double now = dd_now();

	assert_ok(dd_store_stats(e->store, now, &st, &err), &err);
	assert_int_equal(st.leases[DD_LEASE_PENDING], 0);
	assert_int_equal(st.tasks_queued, 0);
	assert_true(st.oldest_due == 0);
	for (int i = 0; i < 3; i++)
		assert_ok(dd_api_lease_create(e->store, &req, NULL, &err),
			  &err);
	assert_ok(dd_store_stats(e->store, dd_now(), &st, &err), &err);
	assert_int_equal(st.leases[DD_LEASE_PENDING], 3);
	assert_int_equal(st.leases[DD_LEASE_ACTIVE], 0);
	assert_int_equal(st.resources[DD_RESOURCE_ACTIVE], 0);
	assert_int_equal(st.tasks_queued, 3); /* one update per lease */
	assert_int_equal(st.tasks_claimed, 0);
	assert_true(st.oldest_due >= now - 1 && st.oldest_due <= dd_now());
	/* a task due later is queued but not yet due */
	assert_ok(dd_store_stats(e->store, now - 60, &st, &err), &err);
	assert_true(st.oldest_due == 0);
}

static void test_errors_map_to_http(void **state)
{
	(void)state;
	assert_int_equal(dd_err_http_status(DD_ERR_INVALID), 400);
	assert_string_equal(dd_err_http_code(DD_ERR_INVALID), "invalid");
	assert_int_equal(dd_err_http_status(DD_ERR_NOTFOUND), 404);
	assert_int_equal(dd_err_http_status(DD_ERR_STATE), 409);
	assert_string_equal(dd_err_http_code(DD_ERR_STATE), "conflict");
	assert_int_equal(dd_err_http_status(DD_ERR_BUSY), 503);
	assert_int_equal(dd_err_http_status(DD_ERR_STORE), 503);
	assert_int_equal(dd_err_http_status(DD_ERR_KEY_REUSED), 422);
	assert_string_equal(dd_err_http_code(DD_ERR_KEY_REUSED),
			    "idempotency_key_reused");
	assert_int_equal(dd_err_http_status(0), 200);
	assert_int_equal(dd_err_http_status(-999), 500);
	assert_string_equal(dd_err_http_code(-999), "internal");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counters_count_up),
		cmocka_unit_test(test_allocation_histogram_is_cumulative),
		cmocka_unit_test_setup_teardown(test_events_wait_for_commit,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_events_of_a_rollback_are_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_event_outside_a_transaction_is_sent_at_once, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_consumed_commands_are_events, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_stats_count_by_status_and_queue, setup, teardown),
		cmocka_unit_test(test_errors_map_to_http),
	};

	dd_alloc_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
