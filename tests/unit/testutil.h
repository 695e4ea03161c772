/*
 * testutil.h - what the unit tests share: a fresh temporary directory and
 * store per test, a worker on it, a "host" blueprint to lease from, a
 * resource on a machine, a lease requested and its status.
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

#include "api/api.h"
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

/*
 * Create the enabled "host" blueprint "pool" in `s`: one host "a" of
 * `slots` slots, its resources' directories under `root`.  Returns its id.
 */
static inline long long test_host_pool(struct dd_store *s, const char *root,
				       int slots)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_blueprint bp = {0};
	json_t *cfg = json_pack("{s:[{s:s, s:i}], s:s}", "hosts", "name", "a",
				"slots", slots, "root", root);
	long long id;

	assert_ok(dd_api_blueprint_create(s, "host", "pool", cfg, true, &bp,
					  &err),
		  &err);
	json_decref(cfg);
	id = bp.id;
	dd_blueprint_release(&bp);
	return id;
}

/*
 * Insert an active "host" resource of blueprint `bp` (0: none) living on
 * `machine` ("": anywhere) in `s`; returns its id.
 */
static inline long long test_resource_on(struct dd_store *s, long long bp,
					 const char *machine)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_resource r = {0};

	r.blueprint = bp;
	r.type = "host";
	r.status = DD_RESOURCE_ACTIVE;
	snprintf(r.machine, sizeof(r.machine), "%s", machine);
	assert_ok(dd_store_resource_insert(s, &r, &err), &err);
	json_decref(r.attributes);
	return r.id;
}

/* Request a lease of `type` for `owner` in `s`; returns its id. */
static inline long long test_lease_new(struct dd_store *s, const char *type,
				       const char *owner)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease_request req = {.type = type, .owner = owner};
	struct dd_lease out = {0};
	long long id;

	assert_ok(dd_api_lease_create(s, &req, &out, &err), &err);
	id = out.id;
	dd_lease_release(&out);
	return id;
}

/* Lease `id`'s status in `s`; fails the test when it cannot be read. */
static inline enum dd_lease_status test_lease_status(struct dd_store *s,
						     long long id)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease l = {0};
	enum dd_lease_status st;
	int rc = dd_store_lease_get(s, id, &l, &err);

	if (rc)
		fail_msg("cannot read lease %lld: %s", id, err.msg);
	st = l.status;
	dd_lease_release(&l);
	return st;
}

#endif
