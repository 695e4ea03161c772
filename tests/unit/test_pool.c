/*
 * test_pool.c - the daemon's worker pool (worker/pool.h) running in a
 * thread of the test, on a SQLite store in a temp directory, with an idle
 * cap of ten minutes: whatever the pool does within a test's 60 s it does
 * because it was woken, never because a sleeping thread timed out.
 *
 * Each test requests leases through the requester API from the test's own
 * handle, as an in-process client would (its commit wakes the pool's own
 * idle threads directly, queue/wake.h), and waits for the store to show
 * the outcome.
 */
#include "testutil.h"

#include <poll.h>
#include <pthread.h>

#include "queue/wake.h"
#include "worker/pool.h"

#define LEASES 12
#define WAIT_SECS 60.0
#define OWNER "test:pool"

struct fx {
	struct test_env env;
	char root[PATH_MAX + 16];
	char trace[PATH_MAX + 16];
	struct dd_pool_options opt;
	struct dd_error err;
	pthread_t tid;
	int rc;
};

static void *pool_main(void *p)
{
	struct fx *x = p;

	x->rc = dd_pool_run(&x->opt, &x->err);
	return NULL;
}

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));

	if (!x)
		return -1;
	test_env_init(&x->env);
	snprintf(x->root, sizeof(x->root), "%s/hosts", x->env.dir);
	snprintf(x->trace, sizeof(x->trace), "%s/hooks.trace", x->env.dir);
	setenv("DRYDOCK_HOOK_TRACE", x->trace, 1);
	/* no store check in the background: only the tasks run */
	setenv("DRYDOCK_CHECK_INTERVAL", "0", 1);
	(void)test_host_pool(x->env.store, x->root, LEASES);
	x->opt = (struct dd_pool_options){.store_path = x->env.path,
					  .workers = 4,
					  .idle_cap = 600,
					  .quiet = 1};
	x->err = (struct dd_error)DD_ERROR_INIT;
	assert_int_equal(pthread_create(&x->tid, NULL, pool_main, x), 0);
	*state = x;
	return 0;
}

static void pool_join(struct fx *x)
{
	dd_pool_stop();
	pthread_join(x->tid, NULL);
	x->tid = 0;
	if (x->rc)
		fail_msg("the pool stopped with: %s", x->err.msg);
}

static int teardown(void **state)
{
	struct fx *x = *state;

	if (x->tid)
		pool_join(x);
	unsetenv("DRYDOCK_HOOK_TRACE");
	unsetenv("DRYDOCK_CHECK_INTERVAL");
	test_env_release(&x->env);
	free(x);
	return 0;
}

/* Wait until every lease in `ids` is `want`; fail after WAIT_SECS. */
static void wait_all(struct fx *x, const long long *ids, int n,
		     enum dd_lease_status want)
{
	double until = dd_now() + WAIT_SECS;

	for (int i = 0; i < n; i++) {
		enum dd_lease_status st;

		while ((st = test_lease_status(x->env.store, ids[i])) != want) {
			if (dd_now() > until)
				fail_msg("lease %lld is %s, not %s, after "
					 "%.0f s (the pool missed a wake-up)",
					 ids[i], dd_lease_status_name(st),
					 dd_lease_status_name(want), WAIT_SECS);
			usleep(10 * 1000);
		}
	}
}

/* How many lines of the hook trace are exactly `line`. */
static int traced(struct fx *x, const char *line)
{
	char buf[128];
	int n = 0;
	FILE *f = fopen(x->trace, "r");

	while (f && fgets(buf, sizeof(buf), f)) {
		buf[strcspn(buf, "\n")] = '\0';
		n += !strcmp(buf, line);
	}
	if (f)
		fclose(f);
	return n;
}

/*
 * Leases requested one after another, faster than 4 threads serve them,
 * and then all released at once: every one is served and taken back, each
 * hook run once, with no thread's deadline to help.  Wake-ups that come
 * while every thread is busy are not lost (pool.missed), and a claim that
 * sees more work hands it to the next idle thread.
 */
static void test_a_burst_is_served_by_wakeups_alone(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	long long ids[LEASES];

	for (int i = 0; i < LEASES; i++)
		ids[i] = test_lease_new(x->env.store, "host", OWNER);
	wait_all(x, ids, LEASES, DD_LEASE_ACTIVE);
	for (int i = 0; i < LEASES; i++)
		assert_ok(dd_api_send(x->env.store,
				      (struct dd_ref){DD_OBJ_LEASE, ids[i]},
				      "release", "test", NULL, NULL, &err),
			  &err);
	wait_all(x, ids, LEASES, DD_LEASE_DESTROYED);
	for (int i = 0; i < LEASES; i++) {
		char line[64];

		snprintf(line, sizeof(line), "activate_lease lease %lld",
			 ids[i]);
		assert_int_equal(traced(x, line), 1);
		snprintf(line, sizeof(line), "release_lease lease %lld",
			 ids[i]);
		assert_int_equal(traced(x, line), 1);
	}
}

/*
 * An idle pool is woken for each new request, however long it has slept:
 * requests one at a time, each waited for, so that every one finds all
 * threads asleep.
 */
static void test_an_idle_pool_wakes_for_each_request(void **state)
{
	struct fx *x = *state;

	for (int i = 0; i < 5; i++) {
		long long id = test_lease_new(x->env.store, "host", OWNER);

		wait_all(x, &id, 1, DD_LEASE_ACTIVE);
	}
}

/*
 * A pool that stops wakes the other daemons of the store once (whatever
 * one of its threads was woken for and did not take is theirs now):
 * a daemon listener of the test's hears it.
 */
static void test_a_stopping_pool_wakes_the_other_daemons(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_wake *w = NULL;
	struct pollfd p = {.events = POLLIN};
	long long id = test_lease_new(x->env.store, "host", OWNER);

	wait_all(x, &id, 1, DD_LEASE_ACTIVE);
	assert_ok(dd_wake_listen(x->env.path, DD_WAKE_DAEMON, &w, &err), &err);
	dd_wake_drain(w);
	pool_join(x);
	p.fd = dd_wake_fd(w);
	assert_int_equal(poll(&p, 1, (int)(WAIT_SECS * 1000)), 1);
	assert_true(dd_wake_drain(w) >= 1);
	dd_wake_close(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_a_burst_is_served_by_wakeups_alone, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_an_idle_pool_wakes_for_each_request, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_a_stopping_pool_wakes_the_other_daemons, setup,
			teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
