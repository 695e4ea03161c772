/*
 * store_test.h - what the store tests share: the backends the store
 * conformance suite (test_store.c) runs against, a fresh migrated store
 * per test on one of them, and helpers that write and count rows.
 *
 * A backend is reached only through its location string, which the
 * backend's entry below makes for the test: tests never open, stat or
 * take apart the store's files themselves (those that must, because
 * what they test is SQLite's, are in test_store_sqlite.c).  A new
 * backend is one more entry in store_backends[].
 */
#ifndef DD_STORE_TEST_H
#define DD_STORE_TEST_H

#include "testutil.h"

#include <pthread.h>
#include <time.h>

#include "core/model.h"
#include "store/store.h"

#include "pg_test.h"

struct store_env;

struct store_backend {
	const char *name;
	/*
	 * Write to buf the location of a store called `name` that does not
	 * exist yet and belongs to this test alone (e->dir is its own
	 * temporary directory).
	 */
	void (*location)(const struct store_env *e, const char *name,
			 char *buf, size_t n);
	/*
	 * Remove the stores the test made that e->dir does not hold (a
	 * database server's); NULL when removing e->dir is enough.
	 */
	void (*release)(const struct store_env *e);
};

struct store_env {
	const struct store_backend *backend;
	char dir[PATH_MAX];		/* the test's own temporary directory */
	char location[PATH_MAX + 32];	/* its migrated store */
	struct dd_store *store;		/* open on it */
};

/* SQLite: a file in the test's directory. */
static inline void sqlite_location(const struct store_env *e,
				   const char *name, char *buf, size_t n)
{
	snprintf(buf, n, "%s/%s.db", e->dir, name);
}

static const struct store_backend sqlite_backend = {"sqlite",
						    sqlite_location, NULL};

/*
 * PostgreSQL: a fresh, empty database on the run's server
 * (DRYDOCK_TEST_PG, pg_test.h) for every name, dropped at teardown.  A
 * store that "does not exist yet" is such a database: PostgreSQL's
 * stores are made by `drydock init` in a database someone made.
 */
static inline void postgres_location(const struct store_env *e,
				     const char *name, char *buf, size_t n)
{
	(void)e;
	(void)name;
	pg_test_newdb(buf, n);
}

static inline void postgres_release(const struct store_env *e)
{
	(void)e;
	pg_test_drop_all();
}

static const struct store_backend postgres_backend = {
	"postgres", postgres_location, postgres_release};

/* The backends the conformance suite runs against. */
static const struct store_backend *const store_backends[] = {
	&sqlite_backend,
	&postgres_backend,
};

#define N_STORE_BACKENDS (sizeof(store_backends) / sizeof(*store_backends))

/*
 * cmocka setup: *state is the backend (the test's prestate); it becomes
 * a struct store_env with a migrated store "dd" open.
 */
static inline int store_env_setup(void **state)
{
	struct store_env *e = calloc(1, sizeof(*e));
	struct dd_error err = DD_ERROR_INIT;
	const char *tmp = getenv("TMPDIR");

	if (!e)
		return -1;
	e->backend = *state;
	snprintf(e->dir, sizeof(e->dir), "%s/dd-unit-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(e->dir));
	e->backend->location(e, "dd", e->location, sizeof(e->location));
	*state = e;
	if (dd_store_open(e->location, NULL, &e->store, &err) ||
	    dd_store_migrate(e->store, &err))
		fail_msg("cannot create a %s store: %s", e->backend->name,
			 err.msg);
	return 0;
}

static inline int store_env_teardown(void **state)
{
	struct store_env *e = *state;

	/* a failing test must not leave a fault armed for the next one */
	dd_store_fail_after(-1, 0);
	dd_store_close(e->store);
	if (e->backend->release)
		e->backend->release(e);
	dd_remove_tree(e->dir);
	free(e);
	return 0;
}

/* ---- rows ------------------------------------------------------------- */

static inline json_t *json_or_die(const char *text)
{
	json_error_t jerr;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);

	if (!v)
		fail_msg("bad JSON in test: %s", jerr.text);
	return v;
}

static inline long long add_blueprint(struct dd_store *s, const char *name,
				      const char *type, bool enabled)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_blueprint bp = {0};

	bp.type = (char *)type;
	bp.name = (char *)name;
	bp.config = json_pack("{s:s}", "name", name);
	bp.enabled = enabled;
	assert_ok(dd_store_blueprint_insert(s, &bp, &err), &err);
	json_decref(bp.config);
	return bp.id;
}

static inline long long add_resource(struct dd_store *s, long long bp,
				     const char *type, enum dd_resource_status st)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_resource r = {0};

	r.blueprint = bp;
	r.type = (char *)type;
	r.status = st;
	assert_ok(dd_store_resource_insert(s, &r, &err), &err);
	json_decref(r.attributes);
	return r.id;
}

static inline long long add_lease(struct dd_store *s, const char *type,
				  enum dd_lease_status st, long long resource,
				  const char *owner)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease l = {0};

	l.type = (char *)type;
	l.status = st;
	l.resource = resource;
	l.owner = (char *)owner;
	assert_ok(dd_store_lease_insert(s, &l, &err), &err);
	json_decref(l.attributes);
	return l.id;
}

static inline long long lease_count_all(struct dd_store *s)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {0};
	long long n = -1;

	assert_ok(dd_store_lease_count(s, &f, &n, &err), &err);
	return n;
}

static inline long long add_token(struct dd_store *s, const char *name,
				  const char *role, char hash_char)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_token t = {0};

	t.name = (char *)name;
	t.role = (char *)role;
	memset(t.hash, hash_char, 64);
	assert_ok(dd_store_token_insert(s, &t, &err), &err);
	return t.id;
}

/* ---- dd_store_sync_then ------------------------------------------------ */

/* What a dd_store_sync_then() call was told, and by which thread. */
struct told {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int calls;
	int rc;
	pthread_t thread;
	char msg[sizeof(((struct dd_error *)0)->msg)];
};

static inline void told_init(struct told *t)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
}

/* Forget the calls so far (no call may be pending). */
static inline void told_reset(struct told *t)
{
	t->calls = 0;
	t->rc = 0;
	t->msg[0] = '\0';
}

static inline void told_release(struct told *t)
{
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mu);
}

static inline void told_fn(void *arg, int rc, const struct dd_error *err)
{
	struct told *t = arg;

	pthread_mutex_lock(&t->mu);
	t->calls++;
	t->rc = rc;
	t->thread = pthread_self();
	if (err)
		snprintf(t->msg, sizeof(t->msg), "%s", err->msg);
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

/* Wait (at most 30 s) for the first call; returns the number of calls. */
static inline int told_wait(struct told *t)
{
	struct timespec until;
	int n;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 30;
	pthread_mutex_lock(&t->mu);
	while (!t->calls &&
	       pthread_cond_timedwait(&t->cv, &t->mu, &until) == 0)
		;
	n = t->calls;
	pthread_mutex_unlock(&t->mu);
	return n;
}

static inline void lazy_bump(struct dd_store *s, const char *name)
{
	struct dd_error err = DD_ERROR_INIT;

	assert_ok(dd_store_begin(s, &err), &err);
	assert_ok(dd_store_counter_bump(s, name, &err), &err);
	assert_ok(dd_store_commit_lazy(s, &err), &err);
}

/* ---- running a suite -------------------------------------------------- */

/*
 * Run each of the n tests of `suite` against every backend, named
 * "BACKEND: test" (names[i] is suite[i]'s), each with a store of its own
 * (store_env_setup); cmocka's count of failures.  A suite's file lists
 * its tests as SUITE(X), X(test_a) X(test_b)..., and ends with
 * STORE_SUITE_MAIN("group", SUITE), its main().
 */
static inline int store_run_suite(const char *group,
				  void (*const *suite)(void **state),
				  const char *const *names, size_t n_suite)
{
	size_t n = N_STORE_BACKENDS * n_suite, k = 0;
	struct CMUnitTest *tests = calloc(n, sizeof(*tests));
	char (*label)[96] = calloc(n, sizeof(*label));
	int failed;

	if (!tests || !label)
		return 1;
	for (size_t b = 0; b < N_STORE_BACKENDS; b++) {
		for (size_t i = 0; i < n_suite; i++, k++) {
			snprintf(label[k], sizeof(label[k]), "%s: %s",
				 store_backends[b]->name, names[i]);
			tests[k] = (struct CMUnitTest){
				.name = label[k],
				.test_func = suite[i],
				.setup_func = store_env_setup,
				.teardown_func = store_env_teardown,
				.initial_state = (void *)store_backends[b],
			};
		}
	}
	failed = _cmocka_run_group_tests(group, tests, n, NULL, NULL);
	free(label);
	free(tests);
	return failed;
}

#define STORE_SUITE_FN(name) name,
#define STORE_SUITE_NAME(name) #name,
#define STORE_SUITE_MAIN(group, SUITE)                                         \
	static void (*const suite_tests_[])(void **state) = {                  \
		SUITE(STORE_SUITE_FN)};                                        \
	static const char *const suite_names_[] = {SUITE(STORE_SUITE_NAME)};   \
	int main(void)                                                         \
	{                                                                      \
		return store_run_suite(group, suite_tests_, suite_names_,      \
				       sizeof(suite_tests_) /                  \
					       sizeof(*suite_tests_));         \
	}

#endif
