/*
 * testutil.h - what the unit tests share: a fresh temporary directory and
 * store per test, and a worker on it.
 */
#ifndef DD_TESTUTIL_H
#define DD_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "store/store.h"
#include "worker/worker.h"

struct test_env {
	char dir[PATH_MAX];
	char path[PATH_MAX + 16];
	struct dd_store *store;
};

/* Make a temp dir with a migrated store in it; fails the test on error. */
static inline void test_env_init(struct test_env *e)
{
	struct dd_error err = DD_ERROR_INIT;
	const char *tmp = getenv("TMPDIR");

	snprintf(e->dir, sizeof(e->dir), "%s/dd-unit-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->path, sizeof(e->path), "%s/dd.db", e->dir);
	if (dd_store_open(e->path, NULL, &e->store, &err) ||
	    dd_store_migrate(e->store, &err))
		fail_msg("cannot create store: %s", err.msg);
}

static inline void test_env_release(struct test_env *e)
{
	dd_store_close(e->store);
	e->store = NULL;
	dd_remove_tree(e->dir);
}

/* Assert that `call` returned 0, printing err.msg when not. */
#define assert_ok(call, errp)                                                  \
	do {                                                                   \
		int rc_ = (call);                                              \
		if (rc_)                                                       \
			fail_msg("%s failed: %s (%s)", #call, (errp)->msg,     \
				 dd_err_name(rc_));                            \
	} while (0)

#endif
