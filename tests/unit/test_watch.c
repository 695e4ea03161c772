/*
 * test_watch.c - parked long polls (src/http/watch.c): a parked watch
 * fires exactly once, for its own object, its deadline or shutdown; a
 * change between arming and parking is never missed; the deadline heap
 * fires ten thousand watches each once, earliest first.
 */
#include "testutil.h"

#include "http/watch.h"

#include <pthread.h>

struct fired {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int n, changed, deadline, stopping;
	double last_deadline; /* of the watch fired last */
	bool out_of_order;
};

static struct fired fired = {.mu = PTHREAD_MUTEX_INITIALIZER,
			     .cv = PTHREAD_COND_INITIALIZER};

static void on_fire(void *arg, enum dd_watch_why why)
{
	struct dd_watch *w = arg;

	pthread_mutex_lock(&fired.mu);
	fired.n++;
	if (why == DD_WATCH_CHANGED)
		fired.changed++;
	else if (why == DD_WATCH_DEADLINE)
		fired.deadline++;
	else
		fired.stopping++;
	if (why == DD_WATCH_DEADLINE) {
		if (w->deadline < fired.last_deadline)
			fired.out_of_order = true;
		fired.last_deadline = w->deadline;
	}
	pthread_cond_broadcast(&fired.cv);
	pthread_mutex_unlock(&fired.mu);
}

static void fired_reset(void)
{
	pthread_mutex_lock(&fired.mu);
	fired.n = fired.changed = fired.deadline = fired.stopping = 0;
	fired.last_deadline = 0;
	fired.out_of_order = false;
	pthread_mutex_unlock(&fired.mu);
}

/* Wait (up to 20 s, a bound for a broken build only) for n firings. */
static int fired_wait(int n)
{
	double until = dd_monotonic() + 20;
	int got;

	pthread_mutex_lock(&fired.mu);
	while (fired.n < n && dd_monotonic() < until) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&fired.cv, &fired.mu, &ts);
	}
	got = fired.n;
	pthread_mutex_unlock(&fired.mu);
	return got;
}

static int setup(void **state)
{
	struct test_env *e = calloc(1, sizeof(*e));
	struct dd_error err = DD_ERROR_INIT;

	test_env_init(e);
	assert_ok(dd_watch_start(e->path, &err), &err);
	fired_reset();
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct test_env *e = *state;

	dd_watch_stop();
	test_env_release(e);
	free(e);
	return 0;
}

static void test_changed_fires_once(void **state)
{
	struct dd_watch a, b;
	double later = dd_monotonic() + 600;

	(void)state;
	dd_watch_arm(&a, "lease:1", later);
	dd_watch_arm(&b, "lease:2", later);
	assert_int_equal(dd_watch_park(&a, on_fire, &a), DD_WATCH_PARKED);
	assert_int_equal(dd_watch_park(&b, on_fire, &b), DD_WATCH_PARKED);
	assert_int_equal(dd_watch_parked(), 2);
	dd_watch_notify("lease:3");
	dd_watch_notify("lease:11");
	assert_int_equal(fired.n, 0);
	dd_watch_notify("lease:1");
	assert_int_equal(fired_wait(1), 1);
	assert_int_equal(fired.changed, 1);
	assert_int_equal(dd_watch_parked(), 1);
	/* fired and disarmed: a second change does not fire it again */
	dd_watch_notify("lease:1");
	assert_int_equal(fired.n, 1);
	/* an untargeted wake-up wakes every watch */
	dd_watch_notify(NULL);
	assert_int_equal(fired_wait(2), 2);
	assert_int_equal(fired.changed, 2);
	assert_int_equal(dd_watch_parked(), 0);
}

static void test_change_before_park(void **state)
{
	struct dd_watch w;

	(void)state;
	/* the change lands between the read and parking: not missed */
	dd_watch_arm(&w, "lease:7", dd_monotonic() + 600);
	dd_watch_notify("lease:7");
	assert_int_equal(dd_watch_park(&w, on_fire, &w), DD_WATCH_CHANGED);
	assert_int_equal(dd_watch_parked(), 0);
	/* disarmed: it is not in the table any more */
	dd_watch_notify("lease:7");
	assert_int_equal(fired.n, 0);
	/* armed, then given up without parking: nothing fires */
	dd_watch_arm(&w, "lease:7", dd_monotonic() + 600);
	dd_watch_disarm(&w);
	dd_watch_notify("lease:7");
	assert_int_equal(fired.n, 0);
	/* a deadline already past */
	dd_watch_arm(&w, "lease:7", dd_monotonic() - 1);
	assert_int_equal(dd_watch_park(&w, on_fire, &w), DD_WATCH_DEADLINE);
	assert_int_equal(fired.n, 0);
}

/* Ten thousand deadlines in scrambled order fire each once, in order. */
static void test_deadlines(void **state)
{
	enum { N = 10000 };
	struct dd_watch *w = calloc(N, sizeof(*w));
	double now = dd_monotonic();

	(void)state;
	assert_non_null(w);
	for (int i = 0; i < N; i++) {
		char object[32];

		snprintf(object, sizeof(object), "lease:%d", i % 97);
		/* 0.2 to 0.7 s from now, scrambled */
		dd_watch_arm(&w[i], object,
			     now + 0.2 + (double)((i * 7919) % N) / N / 2);
		assert_int_equal(dd_watch_park(&w[i], on_fire, &w[i]),
				 DD_WATCH_PARKED);
	}
	/* a change fires only its object's watches, out of the heap too */
	dd_watch_notify("lease:5");
	assert_int_equal(fired_wait(N / 97 + 1), N / 97 + 1);
	assert_int_equal(fired.changed, N / 97 + 1);
	assert_int_equal(fired_wait(N), N);
	assert_int_equal(fired.deadline, N - (N / 97 + 1));
	assert_false(fired.out_of_order);
	assert_int_equal(dd_watch_parked(), 0);
	free(w);
}

static void test_stop_fires_parked(void **state)
{
	struct dd_watch a, b;

	(void)state;
	dd_watch_arm(&a, "lease:1", dd_monotonic() + 600);
	assert_int_equal(dd_watch_park(&a, on_fire, &a), DD_WATCH_PARKED);
	dd_watch_arm(&b, "lease:2", dd_monotonic() + 600);
	dd_watch_stop();
	assert_int_equal(fired_wait(1), 1);
	assert_int_equal(fired.stopping, 1);
	/* armed before the stop, parked after: answered at once */
	assert_int_equal(dd_watch_park(&b, on_fire, &b), DD_WATCH_STOPPING);
	assert_int_equal(fired.n, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_changed_fires_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_change_before_park, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_deadlines, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stop_fires_parked, setup,
						teardown),
	};

	dd_alloc_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
