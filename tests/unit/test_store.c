/*
 * test_store.c - the store conformance suite: the store interface
 * (store/store.h) as every backend must keep it, run against each backend
 * in store_test.h's table: schema and migrations, object round trips,
 * list filters, commands, slot locks, API tokens, idempotency records,
 * nested transactions, many writers at once, syncs, and the wrappers'
 * fault injection.  Each test is named "BACKEND: test" in the output.
 *
 * Each test gets a migrated store of its own, reached only through the
 * location its backend gives; nothing here depends on another test's
 * rows, and nothing opens the store's files directly.  What only one
 * backend does is tested in its own file (test_store_sqlite.c).
 */
#include "store_test.h"

#include "api/api.h"
#include "api/idem.h"

/* ---- lists ------------------------------------------------------------ */

static size_t blueprint_count(struct dd_store *s)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {0};
	struct dd_blueprint_list l = {0};
	size_t n;

	assert_ok(dd_store_blueprint_list(s, &f, &l, &err), &err);
	n = l.n;
	dd_blueprint_list_release(&l);
	return n;
}

/* The ids in a lease list, as "1,2,3", for compact assertions. */
static void lease_ids(struct dd_store *s, const struct dd_filter *f,
		      char *buf, size_t n)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease_list l = {0};
	size_t used = 0;

	assert_ok(dd_store_lease_list(s, f, &l, &err), &err);
	buf[0] = '\0';
	for (size_t i = 0; i < l.n; i++)
		used += (size_t)snprintf(buf + used, n - used, "%s%lld",
					 i ? "," : "", l.items[i].id);
	dd_lease_list_release(&l);
}

static void resource_ids(struct dd_store *s, const struct dd_filter *f,
			 char *buf, size_t n)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_resource_list l = {0};
	size_t used = 0;

	assert_ok(dd_store_resource_list(s, f, &l, &err), &err);
	buf[0] = '\0';
	for (size_t i = 0; i < l.n; i++)
		used += (size_t)snprintf(buf + used, n - used, "%s%lld",
					 i ? "," : "", l.items[i].id);
	dd_resource_list_release(&l);
}

static void log_ids(struct dd_store *s, const struct dd_filter *f, char *buf,
		    size_t n)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_log_entry_list l = {0};
	size_t used = 0;

	assert_ok(dd_store_log_list(s, f, &l, &err), &err);
	buf[0] = '\0';
	for (size_t i = 0; i < l.n; i++)
		used += (size_t)snprintf(buf + used, n - used, "%s%lld",
					 i ? "," : "", l.items[i].id);
	dd_log_entry_list_release(&l);
}

static void slot_keys(struct dd_store *s, const struct dd_filter *f,
		      char *buf, size_t n)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_slot_lock_list l = {0};
	size_t used = 0;

	assert_ok(dd_store_slot_list(s, f, &l, &err), &err);
	buf[0] = '\0';
	for (size_t i = 0; i < l.n; i++) {
		const struct dd_slot_lock *k = &l.items[i];

		used += (size_t)snprintf(buf + used, n - used, "%s%s=%s:%lld",
					 i ? " " : "", k->key,
					 dd_obj_kind_name(k->owner.kind),
					 k->owner.id);
	}
	dd_slot_lock_list_release(&l);
}

/* ---- schema ----------------------------------------------------------- */

static void test_migrate_idempotent(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *other = NULL;
	int current = -1, newest = -1;
	long long id;

	assert_ok(dd_store_schema_version(e->store, &current, &newest, &err),
		  &err);
	assert_true(newest >= 1);
	assert_int_equal(current, newest);

	/* data written before a second migrate survives it */
	id = add_blueprint(e->store, "kept", "host", true);
	assert_ok(dd_store_migrate(e->store, &err), &err);
	assert_ok(dd_store_migrate(e->store, &err), &err);
	assert_ok(dd_store_schema_version(e->store, &current, &newest, &err),
		  &err);
	assert_int_equal(current, newest);

	/* and from another handle too */
	assert_ok(dd_store_open(e->location, NULL, &other, &err), &err);
	assert_ok(dd_store_migrate(other, &err), &err);
	current = newest = -1;
	assert_ok(dd_store_schema_version(other, &current, &newest, &err),
		  &err);
	assert_int_equal(current, newest);
	{
		struct dd_blueprint bp = {0};

		assert_ok(dd_store_blueprint_get(other, id, &bp, &err), &err);
		assert_string_equal(bp.name, "kept");
		dd_blueprint_release(&bp);
	}
	dd_store_close(other);
	assert_int_equal(blueprint_count(e->store), 1);
}

static void test_open_ready_missing_store(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *s = NULL;
	char missing[PATH_MAX + 64];

	e->backend->location(e, "missing", missing, sizeof(missing));
	for (int i = 0; i < 2; i++) {
		/* refusing must not make a store as a side effect: the second
		   try finds none either (not an empty one) */
		err = (struct dd_error)DD_ERROR_INIT;
		assert_int_equal(dd_store_open_ready(missing, NULL, &s, &err),
				 DD_ERR_STORE);
		assert_null(s);
		assert_int_equal(err.code, DD_ERR_STORE);
		assert_non_null(strstr(err.msg, "drydock init"));
		assert_non_null(strstr(err.msg, missing));
	}
}

static void test_open_ready_unmigrated_store(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *s = NULL;
	char path[PATH_MAX + 64];

	e->backend->location(e, "empty", path, sizeof(path));
	assert_ok(dd_store_open(path, NULL, &s, &err), &err);
	dd_store_close(s);
	s = NULL;
	assert_int_equal(dd_store_open_ready(path, NULL, &s, &err),
			 DD_ERR_STORE);
	assert_null(s);
	assert_non_null(strstr(err.msg, "drydock init"));

	/* after a migrate it opens */
	assert_ok(dd_store_open(path, NULL, &s, &err), &err);
	assert_ok(dd_store_migrate(s, &err), &err);
	dd_store_close(s);
	s = NULL;
	assert_ok(dd_store_open_ready(path, NULL, &s, &err), &err);
	assert_non_null(s);
	dd_store_close(s);
}

static void test_open_ready_current_store(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = {55, "untouched"};
	struct dd_store *s = NULL;

	assert_ok(dd_store_open_ready(e->location, NULL, &s, &err), &err);
	assert_non_null(s);
	/* success leaves the caller's error alone */
	assert_int_equal(err.code, 55);
	assert_string_equal(err.msg, "untouched");
	dd_store_close(s);
	dd_store_close(NULL);
}

/*
 * The state directory given in the options is the handle's, whatever the
 * backend; the environment's (DRYDOCK_STATE_DIR) when the options come
 * from it.
 */
static void test_state_dir_given(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store_options opt;
	struct dd_store *s = NULL;
	char dir[PATH_MAX + 32];

	snprintf(dir, sizeof(dir), "%s/state", e->dir);
	dd_store_options_from_env(&opt);
	opt.state_dir = dir;
	assert_ok(dd_store_open_ready(e->location, &opt, &s, &err), &err);
	assert_string_equal(dd_store_state_dir(s, &err), dir);
	dd_store_close(s);

	assert_int_equal(setenv("DRYDOCK_STATE_DIR", "/elsewhere", 1), 0);
	s = NULL;
	assert_ok(dd_store_open_ready(e->location, NULL, &s, &err), &err);
	assert_string_equal(dd_store_state_dir(s, &err), "/elsewhere");
	dd_store_close(s);
	unsetenv("DRYDOCK_STATE_DIR");
}

/* ---- blueprints ------------------------------------------------------- */

static void test_blueprint_round_trip(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_blueprint bp = {0}, got = {0};
	double before = dd_now();
	json_t *cfg = json_or_die(
		"{\"hosts\":[{\"name\":\"a\",\"slots\":2}],\"root\":\"/r\","
		"\"n\":1.5,\"u\":\"\\u00e9\"}");

	bp.type = "host";
	bp.name = "pool one";
	bp.config = cfg;
	bp.enabled = true;
	assert_ok(dd_store_blueprint_insert(e->store, &bp, &err), &err);
	assert_true(bp.id > 0);
	assert_true(bp.created >= before);

	assert_ok(dd_store_blueprint_get(e->store, bp.id, &got, &err), &err);
	assert_int_equal(got.id, bp.id);
	assert_string_equal(got.type, "host");
	assert_string_equal(got.name, "pool one");
	assert_true(json_equal(got.config, cfg));
	assert_true(got.enabled);
	assert_float_equal(got.created, bp.created, 1e-3);
	assert_float_equal(got.modified, bp.created, 1e-3);
	dd_blueprint_release(&got);

	/* update writes name, config and enabled */
	bp.name = "pool two";
	bp.config = json_pack("{s:b}", "other", 1);
	bp.enabled = false;
	assert_ok(dd_store_blueprint_update(e->store, &bp, &err), &err);
	assert_ok(dd_store_blueprint_get(e->store, bp.id, &got, &err), &err);
	assert_string_equal(got.name, "pool two");
	assert_true(json_equal(got.config, bp.config));
	assert_false(got.enabled);
	assert_true(got.modified >= got.created);
	dd_blueprint_release(&got);
	json_decref(bp.config);
	json_decref(cfg);
}

static void test_blueprint_notfound_and_exists(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_blueprint bp = {0}, got = {0};
	long long a;

	assert_int_equal(dd_store_blueprint_get(e->store, 4242, &got, &err),
			 DD_ERR_NOTFOUND);
	assert_int_equal(err.code, DD_ERR_NOTFOUND);
	assert_non_null(strstr(err.msg, "4242"));

	a = add_blueprint(e->store, "same", "host", true);
	bp.type = "host";
	bp.name = "same";
	bp.config = json_object();
	assert_int_equal(dd_store_blueprint_insert(e->store, &bp, &err),
			 DD_ERR_EXISTS);
	assert_non_null(strstr(err.msg, "same"));
	assert_int_equal(blueprint_count(e->store), 1);

	/* renaming onto a taken name is refused the same way */
	bp.name = "other";
	assert_ok(dd_store_blueprint_insert(e->store, &bp, &err), &err);
	assert_int_not_equal(bp.id, a);
	bp.name = "same";
	assert_int_equal(dd_store_blueprint_update(e->store, &bp, &err),
			 DD_ERR_EXISTS);
	assert_ok(dd_store_blueprint_get(e->store, bp.id, &got, &err), &err);
	assert_string_equal(got.name, "other");
	dd_blueprint_release(&got);

	bp.id = 4242;
	bp.name = "ghost";
	assert_int_equal(dd_store_blueprint_update(e->store, &bp, &err),
			 DD_ERR_NOTFOUND);
	json_decref(bp.config);
}

static void test_blueprint_list_filters(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {0};
	struct dd_blueprint_list l = {0};
	long long a = add_blueprint(e->store, "a", "host", true);
	long long b = add_blueprint(e->store, "b", "exec", true);
	long long c = add_blueprint(e->store, "c", "host", false);

	assert_ok(dd_store_blueprint_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.items[0].id, a);
	assert_int_equal(l.items[2].id, c);
	dd_blueprint_list_release(&l);

	f.type = "host";
	assert_ok(dd_store_blueprint_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.items[0].id, a);
	assert_int_equal(l.items[1].id, c);
	dd_blueprint_list_release(&l);

	f.type = NULL;
	f.after_id = a;
	f.descending = true;
	f.limit = 1;
	assert_ok(dd_store_blueprint_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.items[0].id, c);
	dd_blueprint_list_release(&l);

	memset(&f, 0, sizeof(f));
	f.blueprint = b;
	assert_ok(dd_store_blueprint_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.items[0].name, "b");
	dd_blueprint_list_release(&l);
}

/* ---- resources -------------------------------------------------------- */

static void test_resource_round_trip(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_resource r = {0}, got = {0};
	long long bp = add_blueprint(e->store, "bp", "host", true);

	r.blueprint = bp;
	r.type = "host";
	r.status = DD_RESOURCE_PENDING;
	r.attributes = json_or_die("{\"host\":\"a\",\"slots\":2,"
				   "\"nested\":{\"x\":[1,null,true]}}");
	assert_ok(dd_store_resource_insert(e->store, &r, &err), &err);
	assert_true(r.id > 0);
	assert_ok(dd_store_resource_get(e->store, r.id, &got, &err), &err);
	assert_int_equal(got.blueprint, bp);
	assert_string_equal(got.type, "host");
	assert_int_equal(got.status, DD_RESOURCE_PENDING);
	assert_true(json_equal(got.attributes, r.attributes));
	assert_true(got.created > 0);
	dd_resource_release(&got);

	r.status = DD_RESOURCE_ACTIVE;
	json_object_set_new(r.attributes, "path", json_string("/x"));
	assert_ok(dd_store_resource_update(e->store, &r, &err), &err);
	assert_ok(dd_store_resource_get(e->store, r.id, &got, &err), &err);
	assert_int_equal(got.status, DD_RESOURCE_ACTIVE);
	assert_string_equal(
		json_string_value(json_object_get(got.attributes, "path")),
		"/x");
	dd_resource_release(&got);
	json_decref(r.attributes);

	/* no attributes are stored as an empty object, not NULL */
	memset(&r, 0, sizeof(r));
	r.blueprint = bp;
	r.type = "host";
	assert_ok(dd_store_resource_insert(e->store, &r, &err), &err);
	json_decref(r.attributes);
	assert_ok(dd_store_resource_get(e->store, r.id, &got, &err), &err);
	assert_true(json_is_object(got.attributes));
	assert_int_equal(json_object_size(got.attributes), 0);
	dd_resource_release(&got);

	assert_int_equal(dd_store_resource_get(e->store, 999, &got, &err),
			 DD_ERR_NOTFOUND);
	got.id = 999;
	got.type = "host";
	assert_int_equal(dd_store_resource_update(e->store, &got, &err),
			 DD_ERR_NOTFOUND);
}

static void test_resource_list_filters(void **state)
{
	struct store_env *e = *state;
	struct dd_filter f = {0};
	char ids[256], want[256];
	long long b1 = add_blueprint(e->store, "b1", "host", true);
	long long b2 = add_blueprint(e->store, "b2", "host", true);
	long long r1 = add_resource(e->store, b1, "host", DD_RESOURCE_ACTIVE);
	long long r2 = add_resource(e->store, b2, "host", DD_RESOURCE_PENDING);
	long long r3 = add_resource(e->store, b1, "vm", DD_RESOURCE_ACTIVE);
	long long r4 =
		add_resource(e->store, b1, "host", DD_RESOURCE_DESTROYED);

	resource_ids(e->store, &f, ids, sizeof(ids));
	snprintf(want, sizeof(want), "%lld,%lld,%lld,%lld", r1, r2, r3, r4);
	assert_string_equal(ids, want);

	f.status_mask = 1u << DD_RESOURCE_ACTIVE;
	resource_ids(e->store, &f, ids, sizeof(ids));
	snprintf(want, sizeof(want), "%lld,%lld", r1, r3);
	assert_string_equal(ids, want);

	f.status_mask |= 1u << DD_RESOURCE_PENDING;
	f.blueprint = b1;
	resource_ids(e->store, &f, ids, sizeof(ids));
	snprintf(want, sizeof(want), "%lld,%lld", r1, r3);
	assert_string_equal(ids, want);

	f.type = "host";
	resource_ids(e->store, &f, ids, sizeof(ids));
	snprintf(want, sizeof(want), "%lld", r1);
	assert_string_equal(ids, want);

	memset(&f, 0, sizeof(f));
	f.after_id = r1;
	f.descending = true;
	resource_ids(e->store, &f, ids, sizeof(ids));
	snprintf(want, sizeof(want), "%lld,%lld,%lld", r4, r3, r2);
	assert_string_equal(ids, want);
	f.limit = 2;
	resource_ids(e->store, &f, ids, sizeof(ids));
	snprintf(want, sizeof(want), "%lld,%lld", r4, r3);
	assert_string_equal(ids, want);
}

/* ---- leases ----------------------------------------------------------- */

static void test_lease_round_trip(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease l = {0}, got = {0};
	double until = dd_now() + 3600.25;

	l.type = "host";
	l.status = DD_LEASE_PENDING;
	l.owner = "cli:alice@build1";
	l.attributes = json_or_die("{\"host\":\"a\",\"n\":[1,2]}");
	l.blueprints = json_or_die("[3,5]");
	l.until = until;
	assert_ok(dd_store_lease_insert(e->store, &l, &err), &err);
	assert_true(l.id > 0);
	assert_true(l.created > 0);

	assert_ok(dd_store_lease_get(e->store, l.id, &got, &err), &err);
	assert_int_equal(got.id, l.id);
	assert_string_equal(got.type, "host");
	assert_int_equal(got.status, DD_LEASE_PENDING);
	assert_int_equal(got.resource, 0);
	assert_string_equal(got.owner, "cli:alice@build1");
	assert_true(json_equal(got.attributes, l.attributes));
	assert_true(json_equal(got.blueprints, l.blueprints));
	assert_float_equal(got.until, until, 1e-6);
	assert_int_equal(got.allocating, 0);
	assert_float_equal(got.acquired, 0, 0);
	assert_float_equal(got.activated, 0, 0);
	dd_lease_release(&got);

	/* update writes every mutable field */
	l.status = DD_LEASE_ACQUIRED;
	l.resource = 77;
	l.allocating = 78;
	l.acquired = 1000.5;
	l.activated = 1001.5;
	l.until = 0;
	json_decref(l.blueprints);
	l.blueprints = NULL;
	l.owner = NULL;
	assert_ok(dd_store_lease_update(e->store, &l, &err), &err);
	assert_ok(dd_store_lease_get(e->store, l.id, &got, &err), &err);
	assert_int_equal(got.status, DD_LEASE_ACQUIRED);
	assert_int_equal(got.resource, 77);
	assert_int_equal(got.allocating, 78);
	assert_float_equal(got.acquired, 1000.5, 1e-9);
	assert_float_equal(got.activated, 1001.5, 1e-9);
	assert_float_equal(got.until, 0, 0);
	assert_null(got.blueprints);
	assert_null(got.owner);
	dd_lease_release(&got);
	json_decref(l.attributes);

	/* a lease without attributes gets {} */
	memset(&l, 0, sizeof(l));
	l.type = "host";
	assert_ok(dd_store_lease_insert(e->store, &l, &err), &err);
	json_decref(l.attributes);
	assert_ok(dd_store_lease_get(e->store, l.id, &got, &err), &err);
	assert_true(json_is_object(got.attributes));
	assert_null(got.blueprints);
	dd_lease_release(&got);

	assert_int_equal(dd_store_lease_get(e->store, 31337, &got, &err),
			 DD_ERR_NOTFOUND);
	assert_non_null(strstr(err.msg, "31337"));
	l.id = 31337;
	l.type = "host";
	l.attributes = NULL;
	assert_int_equal(dd_store_lease_update(e->store, &l, &err),
			 DD_ERR_NOTFOUND);
}

static void test_lease_list_filters(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {0};
	char ids[256], want[256];
	long long n = -1;
	long long l1 = add_lease(e->store, "host", DD_LEASE_ACTIVE, 10, "al");
	long long l2 = add_lease(e->store, "host", DD_LEASE_PENDING, 0, "bo");
	long long l3 = add_lease(e->store, "vm", DD_LEASE_ACTIVE, 10, "al");
	long long l4 =
		add_lease(e->store, "host", DD_LEASE_DESTROYED, 11, "al");
	long long l5 = add_lease(e->store, "host", DD_LEASE_ACTIVE, 11, NULL);

	lease_ids(e->store, &f, ids, sizeof(ids));
	snprintf(want, sizeof(want), "%lld,%lld,%lld,%lld,%lld", l1, l2, l3,
		 l4, l5);
	assert_string_equal(ids, want);

	f.status_mask = 1u << DD_LEASE_ACTIVE;
	lease_ids(e->store, &f, ids, sizeof(ids));
	snprintf(want, sizeof(want), "%lld,%lld,%lld", l1, l3, l5);
	assert_string_equal(ids, want);
	assert_ok(dd_store_lease_count(e->store, &f, &n, &err), &err);
	assert_int_equal(n, 3);

	f.resource = 10;
	lease_ids(e->store, &f, ids, sizeof(ids));
	snprintf(want, sizeof(want), "%lld,%lld", l1, l3);
	assert_string_equal(ids, want);

	f.type = "host";
	lease_ids(e->store, &f, ids, sizeof(ids));
	snprintf(want, sizeof(want), "%lld", l1);
	assert_string_equal(ids, want);
	assert_ok(dd_store_lease_count(e->store, &f, &n, &err), &err);
	assert_int_equal(n, 1);

	memset(&f, 0, sizeof(f));
	f.owner = "al";
	lease_ids(e->store, &f, ids, sizeof(ids));
	snprintf(want, sizeof(want), "%lld,%lld,%lld", l1, l3, l4);
	assert_string_equal(ids, want);

	/* every status but destroyed, as the workers ask for live leases */
	memset(&f, 0, sizeof(f));
	f.status_mask = ~(1u << DD_LEASE_DESTROYED);
	f.resource = 11;
	assert_ok(dd_store_lease_count(e->store, &f, &n, &err), &err);
	assert_int_equal(n, 1);

	memset(&f, 0, sizeof(f));
	f.after_id = l2;
	lease_ids(e->store, &f, ids, sizeof(ids));
	snprintf(want, sizeof(want), "%lld,%lld,%lld", l3, l4, l5);
	assert_string_equal(ids, want);
	f.limit = 2;
	lease_ids(e->store, &f, ids, sizeof(ids));
	snprintf(want, sizeof(want), "%lld,%lld", l3, l4);
	assert_string_equal(ids, want);
	f.descending = true;
	lease_ids(e->store, &f, ids, sizeof(ids));
	snprintf(want, sizeof(want), "%lld,%lld", l5, l4);
	assert_string_equal(ids, want);

	/* allocating */
	{
		struct dd_lease l = {0};

		assert_ok(dd_store_lease_get(e->store, l2, &l, &err), &err);
		l.allocating = 99;
		assert_ok(dd_store_lease_update(e->store, &l, &err), &err);
		dd_lease_release(&l);
	}
	memset(&f, 0, sizeof(f));
	f.allocating = 99;
	lease_ids(e->store, &f, ids, sizeof(ids));
	snprintf(want, sizeof(want), "%lld", l2);
	assert_string_equal(ids, want);

	/* a filter nothing matches gives an empty list, not an error */
	memset(&f, 0, sizeof(f));
	f.type = "nothing";
	lease_ids(e->store, &f, ids, sizeof(ids));
	assert_string_equal(ids, "");
	assert_ok(dd_store_lease_count(e->store, &f, &n, &err), &err);
	assert_int_equal(n, 0);
}

/* A visitor that records ids, moves its rows out, stops or fails. */
struct walk {
	char ids[256];
	size_t n, stop_after, fail_after;
	struct dd_lease_list kept;
};

static int walk_lease(void *arg, struct dd_lease *l, struct dd_error *err)
{
	struct walk *w = arg;
	size_t used = strlen(w->ids);

	snprintf(w->ids + used, sizeof(w->ids) - used, "%s%lld",
		 used ? "," : "", l->id);
	w->n++;
	if (w->fail_after && w->n == w->fail_after)
		return dd_error_set(err, DD_ERR_IO, "visitor failed at %lld",
				    l->id);
	/* a visitor may keep a row by moving it out */
	if (l->owner && !strcmp(l->owner, "keep"))
		assert_int_equal(dd_lease_list_push(&w->kept, l), 0);
	return w->stop_after && w->n == w->stop_after;
}

static int walk_resource(void *arg, struct dd_resource *r,
			 struct dd_error *err)
{
	struct walk *w = arg;
	size_t used = strlen(w->ids);

	(void)err;
	snprintf(w->ids + used, sizeof(w->ids) - used, "%s%lld",
		 used ? "," : "", r->id);
	return 0;
}

/*
 * Walking a list visits its rows one at a time in the list's order; the
 * visitor's value stops the walk and is returned, with its error; a row
 * moved out by the visitor is the visitor's; and the statement is done
 * with, so the same query runs again.
 */
static void test_lease_each(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {0};
	struct walk w = {0};
	char want[256];
	long long l1 = add_lease(e->store, "host", DD_LEASE_ACTIVE, 10, "al");
	long long l2 =
		add_lease(e->store, "host", DD_LEASE_DESTROYED, 10, "keep");
	long long l3 = add_lease(e->store, "host", DD_LEASE_PENDING, 0, "al");
	long long r1 = add_resource(e->store, 1, "host", DD_RESOURCE_ACTIVE);

	f.descending = true;
	assert_ok(dd_store_lease_each(e->store, &f, walk_lease, &w, &err),
		  &err);
	snprintf(want, sizeof(want), "%lld,%lld,%lld", l3, l2, l1);
	assert_string_equal(w.ids, want);
	assert_int_equal(w.kept.n, 1);
	assert_int_equal(w.kept.items[0].id, l2);
	assert_string_equal(w.kept.items[0].owner, "keep");
	dd_lease_list_release(&w.kept);

	/* unfinished ones, as `drydock list` asks by default */
	memset(&w, 0, sizeof(w));
	f.status_mask = ~(1u << DD_LEASE_DESTROYED) &
			((1u << DD_LEASE_STATUS_COUNT) - 1);
	assert_ok(dd_store_lease_each(e->store, &f, walk_lease, &w, &err),
		  &err);
	snprintf(want, sizeof(want), "%lld,%lld", l3, l1);
	assert_string_equal(w.ids, want);

	memset(&w, 0, sizeof(w));
	memset(&f, 0, sizeof(f));
	w.stop_after = 2;
	assert_int_equal(
		dd_store_lease_each(e->store, &f, walk_lease, &w, &err), 1);
	assert_int_equal(err.code, 0);
	snprintf(want, sizeof(want), "%lld,%lld", l1, l2);
	assert_string_equal(w.ids, want);
	dd_lease_list_release(&w.kept);

	memset(&w, 0, sizeof(w));
	w.fail_after = 1;
	assert_int_equal(
		dd_store_lease_each(e->store, &f, walk_lease, &w, &err),
		DD_ERR_IO);
	snprintf(want, sizeof(want), "visitor failed at %lld", l1);
	assert_string_equal(err.msg, want);

	memset(&w, 0, sizeof(w));
	err = (struct dd_error)DD_ERROR_INIT;
	f.resource = 10;
	assert_ok(dd_store_lease_each(e->store, &f, walk_lease, &w, &err),
		  &err);
	snprintf(want, sizeof(want), "%lld,%lld", l1, l2);
	assert_string_equal(w.ids, want);
	dd_lease_list_release(&w.kept);

	memset(&w, 0, sizeof(w));
	memset(&f, 0, sizeof(f));
	assert_ok(dd_store_resource_each(e->store, &f, walk_resource, &w,
					 &err),
		  &err);
	snprintf(want, sizeof(want), "%lld", r1);
	assert_string_equal(w.ids, want);

	/* an injected fault reaches the caller before any row is visited */
	memset(&w, 0, sizeof(w));
	dd_store_fail_after(0, DD_ERR_BUSY);
	assert_int_equal(
		dd_store_lease_each(e->store, &f, walk_lease, &w, &err),
		DD_ERR_BUSY);
	assert_int_equal(w.n, 0);
}

/* ---- commands --------------------------------------------------------- */

static void test_command_round_trip_and_consume(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_command c1 = {0}, c2 = {0}, c3 = {0};
	struct dd_command_list l = {0};
	struct dd_filter f = {0};
	double before;

	c1.target = (struct dd_ref){DD_OBJ_LEASE, 5};
	c1.kind = "extend";
	c1.author = "cli:bob";
	c1.data = json_pack("{s:f}", "until", 1234.5);
	assert_ok(dd_store_command_insert(e->store, &c1, &err), &err);
	c2.target = (struct dd_ref){DD_OBJ_LEASE, 5};
	c2.kind = "release";
	assert_ok(dd_store_command_insert(e->store, &c2, &err), &err);
	c3.target = (struct dd_ref){DD_OBJ_RESOURCE, 5};
	c3.kind = "reclaim";
	assert_ok(dd_store_command_insert(e->store, &c3, &err), &err);
	assert_true(c1.id > 0 && c2.id > c1.id && c3.id > c2.id);

	/* by target, oldest first, with JSON data intact */
	f.target = (struct dd_ref){DD_OBJ_LEASE, 5};
	assert_ok(dd_store_command_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.items[0].id, c1.id);
	assert_string_equal(l.items[0].kind, "extend");
	assert_string_equal(l.items[0].author, "cli:bob");
	assert_true(json_equal(l.items[0].data, c1.data));
	assert_false(l.items[0].consumed);
	assert_null(l.items[0].outcome);
	assert_true(l.items[0].created > 0);
	assert_int_equal(l.items[1].id, c2.id);
	assert_null(l.items[1].author);
	assert_null(l.items[1].data);
	dd_command_list_release(&l);

	before = dd_now();
	assert_ok(dd_store_command_consume(e->store, c1.id, "done", before,
					   &err),
		  &err);
	/* consuming twice is refused: a command runs exactly once */
	assert_int_equal(dd_store_command_consume(e->store, c1.id,
						  "ignored: again", before + 1,
						  &err),
			 DD_ERR_STATE);
	assert_non_null(strstr(err.msg, "consumed"));

	f.pending_only = true;
	assert_ok(dd_store_command_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.items[0].id, c2.id);
	dd_command_list_release(&l);

	f.pending_only = false;
	assert_ok(dd_store_command_list(e->store, &f, &l, &err), &err);
	assert_true(l.items[0].consumed);
	/* the first outcome stands */
	assert_string_equal(l.items[0].outcome, "done");
	assert_float_equal(l.items[0].consumed_at, before, 1e-6);
	dd_command_list_release(&l);

	/* after_id, descending and limit */
	memset(&f, 0, sizeof(f));
	f.after_id = c1.id;
	assert_ok(dd_store_command_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.items[0].id, c2.id);
	dd_command_list_release(&l);
	memset(&f, 0, sizeof(f));
	f.descending = true;
	f.limit = 1;
	assert_ok(dd_store_command_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.items[0].id, c3.id);
	assert_int_equal(l.items[0].target.kind, DD_OBJ_RESOURCE);
	dd_command_list_release(&l);
	json_decref(c1.data);
}

/* ---- log -------------------------------------------------------------- */

static void test_log_round_trip_and_filters(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_log_entry a = {0};
	struct dd_log_entry_list l = {0};
	struct dd_filter f = {0};
	char ids[128], want[128];
	long long b, c, d;

	a.blueprint = 1;
	a.resource = 2;
	a.lease = 3;
	a.type = "lease.acquired";
	a.time = 1700000000.5;
	a.data = json_pack("{s:I, s:[s]}", "resource", (json_int_t)2, "why",
			   "x");
	assert_ok(dd_store_log_append(e->store, &a, &err), &err);
	assert_true(a.id > 0);
	/* dd_store_log takes the data over */
	assert_ok(dd_store_log(e->store, 0, 2, 0, "resource.activated", NULL,
			       &err),
		  &err);
	assert_ok(dd_store_log(e->store, 0, 0, 3, "lease.released",
			       json_pack("{s:s}", "author", "me"), &err),
		  &err);
	assert_ok(dd_store_log(e->store, 9, 0, 0, "blueprint.created", NULL,
			       &err),
		  &err);
	b = a.id + 1;
	c = a.id + 2;
	d = a.id + 3;

	f.lease = 3;
	assert_ok(dd_store_log_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.items[0].id, a.id);
	assert_int_equal(l.items[0].blueprint, 1);
	assert_int_equal(l.items[0].resource, 2);
	assert_int_equal(l.items[0].lease, 3);
	assert_string_equal(l.items[0].type, "lease.acquired");
	assert_float_equal(l.items[0].time, 1700000000.5, 1e-6);
	assert_true(json_equal(l.items[0].data, a.data));
	assert_string_equal(
		json_string_value(json_object_get(l.items[1].data, "author")),
		"me");
	assert_int_equal(l.items[1].blueprint, 0);
	dd_log_entry_list_release(&l);

	memset(&f, 0, sizeof(f));
	f.resource = 2;
	log_ids(e->store, &f, ids, sizeof(ids));
	snprintf(want, sizeof(want), "%lld,%lld", a.id, b);
	assert_string_equal(ids, want);

	memset(&f, 0, sizeof(f));
	f.blueprint = 9;
	log_ids(e->store, &f, ids, sizeof(ids));
	snprintf(want, sizeof(want), "%lld", d);
	assert_string_equal(ids, want);

	memset(&f, 0, sizeof(f));
	f.type = "lease.released";
	log_ids(e->store, &f, ids, sizeof(ids));
	snprintf(want, sizeof(want), "%lld", c);
	assert_string_equal(ids, want);

	memset(&f, 0, sizeof(f));
	f.after_id = a.id;
	f.descending = true;
	f.limit = 2;
	log_ids(e->store, &f, ids, sizeof(ids));
	snprintf(want, sizeof(want), "%lld,%lld", d, c);
	assert_string_equal(ids, want);

	/* a NULL data entry reads back as NULL */
	memset(&f, 0, sizeof(f));
	f.type = "resource.activated";
	assert_ok(dd_store_log_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 1);
	assert_null(l.items[0].data);
	dd_log_entry_list_release(&l);
	json_decref(a.data);
}

/* ---- slot locks ------------------------------------------------------- */

static void test_slot_locks_all_or_nothing(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {0};
	struct dd_ref lease7 = {DD_OBJ_LEASE, 7};
	struct dd_ref res8 = {DD_OBJ_RESOURCE, 8};
	const char *first[] = {"k:a", "k:b"};
	const char *overlap[] = {"k:c", "k:d", "k:b", "k:e"};
	const char *disjoint[] = {"k:c", "k:d"};
	char keys[512];

	assert_ok(dd_store_slot_acquire(e->store, first, 2, lease7, &err),
		  &err);
	assert_int_equal(dd_store_slot_acquire(e->store, overlap, 4, res8,
					       &err),
			 DD_ERR_SLOT);
	assert_int_equal(err.code, DD_ERR_SLOT);
	/* the message names the key and who holds it */
	assert_non_null(strstr(err.msg, "k:b"));
	assert_non_null(strstr(err.msg, "lease 7"));
	/* and none of the loser's keys were taken, even those before k:b */
	slot_keys(e->store, &f, keys, sizeof(keys));
	assert_string_equal(keys, "k:a=lease:7 k:b=lease:7");

	assert_ok(dd_store_slot_acquire(e->store, disjoint, 2, res8, &err),
		  &err);
	slot_keys(e->store, &f, keys, sizeof(keys));
	assert_string_equal(keys, "k:a=lease:7 k:b=lease:7 k:c=resource:8 "
				  "k:d=resource:8");

	/* list by owner and by key */
	f.target = lease7;
	slot_keys(e->store, &f, keys, sizeof(keys));
	assert_string_equal(keys, "k:a=lease:7 k:b=lease:7");
	memset(&f, 0, sizeof(f));
	f.key = "k:d";
	slot_keys(e->store, &f, keys, sizeof(keys));
	assert_string_equal(keys, "k:d=resource:8");
	f.key = "k:zzz";
	slot_keys(e->store, &f, keys, sizeof(keys));
	assert_string_equal(keys, "");
	/* lease 8 is not resource 8: owners compare kind and id */
	memset(&f, 0, sizeof(f));
	f.target = (struct dd_ref){DD_OBJ_LEASE, 8};
	slot_keys(e->store, &f, keys, sizeof(keys));
	assert_string_equal(keys, "");

	/* release by owner drops that owner's keys only */
	assert_ok(dd_store_slot_release(e->store,
					(struct dd_ref){DD_OBJ_LEASE, 8},
					&err),
		  &err);
	assert_ok(dd_store_slot_release(e->store, lease7, &err), &err);
	memset(&f, 0, sizeof(f));
	slot_keys(e->store, &f, keys, sizeof(keys));
	assert_string_equal(keys, "k:c=resource:8 k:d=resource:8");

	/* the freed keys can be taken by somebody else now */
	assert_ok(dd_store_slot_acquire(e->store, overlap + 2, 2, res8, &err),
		  &err);
	slot_keys(e->store, &f, keys, sizeof(keys));
	assert_string_equal(keys, "k:b=resource:8 k:c=resource:8 "
				  "k:d=resource:8 k:e=resource:8");
	/* releasing an owner with nothing is fine */
	assert_ok(dd_store_slot_release(e->store, lease7, &err), &err);
}

/*
 * A key that another transaction is inserting right now: on a store with
 * several writers (PostgreSQL), acquire says DD_ERR_BUSY at once rather
 * than wait for that commit, and changes nothing; once it commits, the
 * key is held (DD_ERR_SLOT), and had it rolled back, the key is free.
 * SQLite's writers never overlap, so there is nothing to see there.
 */
static void test_slot_being_taken(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *other = NULL;
	struct dd_filter f = {0};
	const char *k[] = {"t:2", "t:1"};
	struct dd_ref lease1 = {DD_OBJ_LEASE, 1}, lease2 = {DD_OBJ_LEASE, 2};
	char keys[128];

	if (strcmp(e->backend->name, "postgres"))
		skip();
	assert_ok(dd_store_open(e->location, NULL, &other, &err), &err);
	assert_ok(dd_store_begin(other, &err), &err);
	assert_ok(dd_store_slot_acquire(other, k + 1, 1, lease1, &err), &err);
	assert_int_equal(dd_store_slot_acquire(e->store, k, 2, lease2, &err),
			 DD_ERR_BUSY);
	assert_non_null(strstr(err.msg, "t:1"));
	assert_non_null(strstr(err.msg, "being taken"));
	dd_store_rollback(other);
	/* the rolled back one left it free, and the refused one took none */
	slot_keys(e->store, &f, keys, sizeof(keys));
	assert_string_equal(keys, "");
	assert_ok(dd_store_begin(other, &err), &err);
	assert_ok(dd_store_slot_acquire(other, k + 1, 1, lease1, &err), &err);
	assert_ok(dd_store_commit(other, &err), &err);
	assert_int_equal(dd_store_slot_acquire(e->store, k, 2, lease2, &err),
			 DD_ERR_SLOT);
	assert_non_null(strstr(err.msg, "lease 1"));
	dd_store_close(other);
}

static void test_slot_locks_inside_transaction(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {0};
	const char *a[] = {"x:1"};
	const char *ab[] = {"x:2", "x:1"};
	char keys[256];
	long long lid;

	/*
	 * A refused acquire inside a caller's transaction undoes only
	 * itself: the caller's earlier writes in that transaction stay.
	 */
	assert_ok(dd_store_slot_acquire(e->store, a, 1,
					(struct dd_ref){DD_OBJ_LEASE, 1}, &err),
		  &err);
	assert_ok(dd_store_begin(e->store, &err), &err);
	lid = add_lease(e->store, "host", DD_LEASE_PENDING, 0, NULL);
	assert_int_equal(dd_store_slot_acquire(e->store, ab, 2,
					       (struct dd_ref){DD_OBJ_LEASE,
							       lid},
					       &err),
			 DD_ERR_SLOT);
	assert_ok(dd_store_commit(e->store, &err), &err);
	assert_int_equal(lease_count_all(e->store), 1);
	slot_keys(e->store, &f, keys, sizeof(keys));
	assert_string_equal(keys, "x:1=lease:1");

	/* and a rolled-back transaction takes its slot locks with it */
	assert_ok(dd_store_begin(e->store, &err), &err);
	assert_ok(dd_store_slot_acquire(e->store, ab, 1,
					(struct dd_ref){DD_OBJ_LEASE, lid},
					&err),
		  &err);
	dd_store_rollback(e->store);
	slot_keys(e->store, &f, keys, sizeof(keys));
	assert_string_equal(keys, "x:1=lease:1");
}

/* ---- API tokens ------------------------------------------------------- */

static void test_token_round_trip(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_token t = {0}, got = {0};
	double before = dd_now();

	t.name = "ci";
	t.role = "client";
	memset(t.hash, 'a', 64);
	assert_ok(dd_store_token_insert(e->store, &t, &err), &err);
	assert_true(t.id > 0);
	assert_true(t.created >= before);

	assert_ok(dd_store_token_get(e->store, t.id, &got, &err), &err);
	assert_int_equal(got.id, t.id);
	assert_string_equal(got.name, "ci");
	assert_string_equal(got.role, "client");
	assert_string_equal(got.hash, t.hash);
	assert_float_equal(got.created, t.created, 1e-3);
	assert_true(got.last_used == 0);
	assert_true(got.revoked == 0);
	dd_token_release(&got);

	assert_ok(dd_store_token_get_by_name(e->store, "ci", &got, &err), &err);
	assert_int_equal(got.id, t.id);
	dd_token_release(&got);
	assert_ok(dd_store_token_get_by_hash(e->store, t.hash, &got, &err),
		  &err);
	assert_int_equal(got.id, t.id);
	dd_token_release(&got);

	/* touch sets last_used; revoke keeps the first revocation time */
	assert_ok(dd_store_token_touch(e->store, t.id, 1000.5, &err), &err);
	assert_ok(dd_store_token_revoke(e->store, t.id, 2000.5, &err), &err);
	assert_ok(dd_store_token_revoke(e->store, t.id, 3000.5, &err), &err);
	assert_ok(dd_store_token_get(e->store, t.id, &got, &err), &err);
	assert_float_equal(got.last_used, 1000.5, 1e-6);
	assert_float_equal(got.revoked, 2000.5, 1e-6);
	dd_token_release(&got);

	/* a revoked token is still found: callers check ->revoked */
	assert_ok(dd_store_token_get_by_hash(e->store, t.hash, &got, &err),
		  &err);
	assert_true(got.revoked > 0);
	dd_token_release(&got);
}

static void test_token_notfound_and_exists(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_token t = {0}, got = {0};
	struct dd_token_list l = {0};
	struct dd_filter f = {0};
	char hash[65];

	assert_int_equal(dd_store_token_get(e->store, 42, &got, &err),
			 DD_ERR_NOTFOUND);
	assert_string_equal(err.msg, "no such token: 42");
	assert_int_equal(dd_store_token_get_by_name(e->store, "x", &got, &err),
			 DD_ERR_NOTFOUND);
	assert_string_equal(err.msg, "no such token: 'x'");
	memset(hash, 'f', 64);
	hash[64] = '\0';
	assert_int_equal(dd_store_token_get_by_hash(e->store, hash, &got, &err),
			 DD_ERR_NOTFOUND);
	assert_int_equal(dd_store_token_revoke(e->store, 42, 1, &err),
			 DD_ERR_NOTFOUND);
	assert_int_equal(dd_store_token_touch(e->store, 42, 1, &err),
			 DD_ERR_NOTFOUND);

	add_token(e->store, "same", "admin", 'a');
	t.name = "same";
	t.role = "viewer";
	memset(t.hash, 'b', 64);
	assert_int_equal(dd_store_token_insert(e->store, &t, &err),
			 DD_ERR_EXISTS);
	assert_string_equal(err.msg, "token name 'same' is already taken");

	/* a hash collision is refused too, but not blamed on the name */
	t.name = "other";
	memset(t.hash, 'a', 64);
	assert_int_equal(dd_store_token_insert(e->store, &t, &err),
			 DD_ERR_EXISTS);
	assert_null(strstr(err.msg, "already taken"));

	assert_ok(dd_store_token_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.items[0].role, "admin");
	dd_token_list_release(&l);
}

static void test_token_list(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_token_list l = {0};
	struct dd_filter f = {0};
	long long a, b, c;

	a = add_token(e->store, "a", "admin", '1');
	b = add_token(e->store, "b", "client", '2');
	c = add_token(e->store, "c", "viewer", '3');
	assert_ok(dd_store_token_revoke(e->store, b, dd_now(), &err), &err);

	/* all of them, revoked or not, oldest first */
	assert_ok(dd_store_token_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.items[0].id, a);
	assert_int_equal(l.items[1].id, b);
	assert_true(l.items[1].revoked > 0);
	assert_int_equal(l.items[2].id, c);
	dd_token_list_release(&l);

	f.after_id = a;
	f.limit = 1;
	assert_ok(dd_store_token_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.items[0].id, b);
	dd_token_list_release(&l);

	memset(&f, 0, sizeof(f));
	f.descending = true;
	assert_ok(dd_store_token_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.items[0].id, c);
	dd_token_list_release(&l);
}

/* The JSON rendering never carries the hash. */
static void test_token_json_has_no_hash(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_token t = {0};
	json_t *o;
	char *text;

	assert_ok(dd_store_token_get(e->store,
				     add_token(e->store, "j", "viewer", 'c'),
				     &t, &err),
		  &err);
	o = dd_token_to_json(&t);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "name")), "j");
	assert_string_equal(json_string_value(json_object_get(o, "role")),
			    "viewer");
	assert_true(json_is_string(json_object_get(o, "created")));
	assert_true(json_is_null(json_object_get(o, "last_used")));
	assert_true(json_is_null(json_object_get(o, "revoked")));
	assert_null(json_object_get(o, "hash"));
	text = json_dumps(o, JSON_COMPACT);
	assert_non_null(text);
	assert_null(strstr(text, t.hash));
	free(text);
	json_decref(o);
	dd_token_release(&t);
}

/* ---- idempotency records -------------------------------------------- */

static struct dd_idem_record idem_rec(const char *caller, const char *key,
				      long long object, double created)
{
	struct dd_idem_record r;

	memset(&r, 0, sizeof(r));
	snprintf(r.caller, sizeof(r.caller), "%s", caller);
	snprintf(r.key, sizeof(r.key), "%s", key);
	snprintf(r.request, sizeof(r.request), "POST /api/v1/leases");
	memset(r.hash, 'a', 64);
	snprintf(r.object_kind, sizeof(r.object_kind), "lease");
	r.object = object;
	r.created = created;
	return r;
}

/* The object (caller, key) names now, or 0 when it has no live record. */
static long long idem_object(struct dd_store *s, const char *caller,
			     const char *key, double since)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_idem_record got;
	int rc = dd_store_idem_get(s, caller, key, since, &got, &err);

	if (rc == DD_ERR_NOTFOUND)
		return 0;
	assert_ok(rc, &err);
	return got.object;
}

static void test_idem_record_round_trip(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	double now = dd_now(), day_ago = now - DD_IDEM_TTL;
	struct dd_idem_record r = idem_rec("token:ci", "k1", 7, now), got;

	/* rolled back with its transaction, like the object it names */
	assert_ok(dd_store_begin(e->store, &err), &err);
	assert_ok(dd_store_idem_insert(e->store, &r, day_ago, &err), &err);
	dd_store_rollback(e->store);
	assert_int_equal(dd_store_idem_get(e->store, "token:ci", "k1", day_ago,
					   &got, &err),
			 DD_ERR_NOTFOUND);

	assert_ok(dd_store_begin(e->store, &err), &err);
	assert_ok(dd_store_idem_insert(e->store, &r, day_ago, &err), &err);
	assert_ok(dd_store_commit(e->store, &err), &err);
	assert_ok(dd_store_idem_get(e->store, "token:ci", "k1", day_ago, &got,
				    &err),
		  &err);
	assert_string_equal(got.caller, "token:ci");
	assert_string_equal(got.key, "k1");
	assert_string_equal(got.request, "POST /api/v1/leases");
	assert_string_equal(got.hash, r.hash);
	assert_string_equal(got.object_kind, "lease");
	assert_int_equal(got.object, 7);
	assert_true(got.created == now);

	/* a live record is never overwritten */
	r.object = 8;
	assert_int_equal(dd_store_idem_insert(e->store, &r, day_ago, &err),
			 DD_ERR_EXISTS);
	assert_int_equal(idem_object(e->store, "token:ci", "k1", day_ago), 7);
	/* the same key of another caller is another record */
	r = idem_rec("token:ci2", "k1", 9, now);
	assert_ok(dd_store_idem_insert(e->store, &r, day_ago, &err), &err);
	assert_int_equal(idem_object(e->store, "token:ci", "k1", day_ago), 7);
	assert_int_equal(idem_object(e->store, "token:ci2", "k1", day_ago), 9);
	/* an expired record is not found, and a new one replaces it */
	assert_int_equal(idem_object(e->store, "token:ci", "k1", now + 1), 0);
	r = idem_rec("token:ci", "k1", 10, now + 2);
	assert_ok(dd_store_idem_insert(e->store, &r, now + 1, &err), &err);
	assert_int_equal(idem_object(e->store, "token:ci", "k1", now + 1), 10);
}

static void test_idem_prune(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	double now = dd_now(), day_ago = now - DD_IDEM_TTL;
	char key[16];
	int n;

	for (int i = 0; i < 5; i++) {
		struct dd_idem_record r;

		snprintf(key, sizeof(key), "old-%d", i);
		r = idem_rec("cli:a@b", key, i + 1, day_ago - 100 + i);
		assert_ok(dd_store_idem_insert(e->store, &r, 0, &err), &err);
	}
	{
		struct dd_idem_record r = idem_rec("cli:a@b", "new", 99, now);

		assert_ok(dd_store_idem_insert(e->store, &r, day_ago, &err),
			  &err);
	}
	/* at most `max`, oldest first */
	assert_ok(dd_store_idem_prune(e->store, day_ago, 3, &n, &err), &err);
	assert_int_equal(n, 3);
	for (int i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "old-%d", i);
		assert_int_equal(idem_object(e->store, "cli:a@b", key, 0),
				 i < 3 ? 0 : i + 1);
	}
	assert_ok(dd_store_idem_prune(e->store, day_ago, 16, &n, &err), &err);
	assert_int_equal(n, 2);
	assert_ok(dd_store_idem_prune(e->store, day_ago, 16, &n, &err), &err);
	assert_int_equal(n, 0);
	assert_int_equal(idem_object(e->store, "cli:a@b", "new", day_ago), 99);
}

/*
 * A keyed lease create, failing at each store call in turn: whatever
 * fails, the lease and its record exist both or neither, and a retry
 * with the key ends with exactly one lease, the one the record names.
 * A failure after the commit (reading the lease back) is the lost
 * answer the key is for.
 */
static void test_idem_lease_create_all_or_nothing(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease_request req = {.type = "host", .owner = "cli:a@b"};
	struct dd_lease l = {0};
	struct dd_idem k;
	json_t *params = json_pack("{s:s}", "type", "host");
	double since = dd_now() - DD_IDEM_TTL;
	long long id = 0, rec;
	int rc = -1, failed = 0;

	assert_ok(dd_idem_init(&k, "retry-me", "cli:a@b", "drydock lease",
			       params, &err),
		  &err);
	req.idem = &k;
	for (long n = 0; rc && n < 100; n++) {
		dd_store_fail_after(n, DD_ERR_STORE);
		rc = dd_api_lease_create(e->store, &req, &l, &err);
		dd_store_fail_after(-1, 0);
		rec = idem_object(e->store, "cli:a@b", "retry-me", since);
		assert_int_equal(lease_count_all(e->store), rec ? 1 : 0);
		if (rc) {
			failed++;
			assert_int_equal(e->store->depth, 0);
		} else {
			id = l.id;
			assert_int_equal(rec, id);
		}
		dd_lease_release(&l);
	}
	assert_int_equal(rc, 0);
	assert_true(failed > 5);
	/* and once more, unhurt: the same lease, nothing new */
	k.replayed = false;
	assert_ok(dd_api_lease_create(e->store, &req, &l, &err), &err);
	assert_int_equal(l.id, id);
	assert_true(k.replayed);
	assert_int_equal(lease_count_all(e->store), 1);
	dd_lease_release(&l);
	/* the key with other parameters is refused, changing nothing */
	json_object_set_new(params, "ttl", json_integer(60));
	assert_ok(dd_idem_init(&k, "retry-me", "cli:a@b", "drydock lease",
			       params, &err),
		  &err);
	assert_int_equal(dd_api_lease_create(e->store, &req, &l, &err),
			 DD_ERR_KEY_REUSED);
	assert_non_null(strstr(err.msg, "other parameters"));
	assert_int_equal(lease_count_all(e->store), 1);
	json_decref(params);
}

/*
 * Two creates with one key at once: the second looks before the first
 * commits and makes a lease of its own; on PostgreSQL its record then
 * waits for the first's and meets it.  It must answer with the first's
 * lease (its own rolled back), not "in use: retry it" (CI's burst of 8
 * over HTTP got one 409).  On SQLite the second waits for the writer
 * and finds the record.
 */
struct racer {
	const char *location;
	struct dd_idem k;
	struct dd_lease l;
	struct dd_error err;
	int rc;
};

static void *race_create(void *arg)
{
	struct racer *r = arg;
	struct dd_lease_request req = {.type = "host", .owner = "cli:a@b"};
	struct dd_store *s = NULL;

	req.idem = &r->k;
	r->rc = dd_store_open(r->location, NULL, &s, &r->err);
	if (!r->rc)
		r->rc = dd_api_lease_create(s, &req, &r->l, &r->err);
	if (s)
		dd_store_close(s);
	return NULL;
}

static void test_idem_create_race(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_idem first;
	struct racer second = {.location = e->location};
	struct dd_lease l = {0};
	json_t *params = json_pack("{s:s}", "type", "host");
	pthread_t t;

	assert_ok(dd_idem_init(&first, "race", "cli:a@b", "drydock lease",
			       params, &err),
		  &err);
	second.k = first;
	l.type = "host";
	l.owner = "cli:a@b";
	assert_ok(dd_store_begin(e->store, &err), &err);
	assert_ok(dd_store_lease_insert(e->store, &l, &err), &err);
	assert_ok(dd_idem_record(e->store, &first, "lease", l.id, &err), &err);
	assert_int_equal(pthread_create(&t, NULL, race_create, &second), 0);
	if (!strcmp(e->backend->name, "postgres")) {
		/* the second's record waits for ours: then commit */
		PGconn *c = pg_test_connect();
		double give_up = dd_monotonic() + 30;
		bool waiting = false;

		while (!waiting && dd_monotonic() < give_up) {
			PGresult *r = PQexec(c, "SELECT count(*) FROM pg_locks"
						" WHERE NOT granted");

			waiting = PQresultStatus(r) == PGRES_TUPLES_OK &&
				  atoi(PQgetvalue(r, 0, 0)) > 0;
			PQclear(r);
			if (!waiting)
				dd_sleep(0.01);
		}
		PQfinish(c);
		assert_true(waiting);
	}
	assert_ok(dd_store_commit(e->store, &err), &err);
	pthread_join(t, NULL);
	assert_ok(second.rc, &second.err);
	assert_int_equal(second.l.id, l.id);
	assert_true(second.k.replayed);
	assert_int_equal(lease_count_all(e->store), 1);
	dd_lease_release(&second.l);
	json_decref(l.attributes);
	json_decref(params);
}

static void test_idem_key_check(void **state)
{
	struct dd_error err = DD_ERROR_INIT;
	char key[DD_IDEM_KEY_MAX + 2];

	(void)state;
	assert_int_equal(dd_idem_check_key("", &err), DD_ERR_INVALID);
	assert_int_equal(dd_idem_check_key(NULL, &err), DD_ERR_INVALID);
	assert_int_equal(dd_idem_check_key("a\tb", &err), DD_ERR_INVALID);
	assert_int_equal(dd_idem_check_key("caf\xc3\xa9", &err),
			 DD_ERR_INVALID);
	assert_int_equal(dd_idem_check_key("a\x7f", &err), DD_ERR_INVALID);
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	assert_int_equal(dd_idem_check_key(key, &err), DD_ERR_INVALID);
	key[DD_IDEM_KEY_MAX] = '\0';
	assert_ok(dd_idem_check_key(key, &err), &err);
	assert_ok(dd_idem_check_key(" ~!\"#", &err), &err);
}

/* ---- transactions ----------------------------------------------------- */

static void test_nested_commit(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *other = NULL;

	assert_ok(dd_store_open(e->location, NULL, &other, &err), &err);
	assert_ok(dd_store_begin(e->store, &err), &err);
	add_lease(e->store, "host", DD_LEASE_PENDING, 0, "outer");
	assert_ok(dd_store_begin(e->store, &err), &err);
	add_lease(e->store, "host", DD_LEASE_PENDING, 0, "inner");
	assert_ok(dd_store_commit(e->store, &err), &err);
	/* the inner commit does not reach the store */
	assert_int_equal(lease_count_all(other), 0);
	assert_ok(dd_store_commit(e->store, &err), &err);
	assert_int_equal(lease_count_all(other), 2);
	dd_store_close(other);
}

static void test_nested_inner_rollback(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;

	assert_ok(dd_store_begin(e->store, &err), &err);
	add_lease(e->store, "host", DD_LEASE_PENDING, 0, "outer");
	assert_ok(dd_store_begin(e->store, &err), &err);
	add_lease(e->store, "host", DD_LEASE_PENDING, 0, "inner");
	dd_store_rollback(e->store);
	/* the outer level may go on, but its commit must fail */
	add_lease(e->store, "host", DD_LEASE_PENDING, 0, "after");
	assert_int_equal(dd_store_commit(e->store, &err), DD_ERR_STORE);
	assert_int_equal(err.code, DD_ERR_STORE);
	assert_int_equal(lease_count_all(e->store), 0);

	/* the handle is clean afterwards: a new transaction commits */
	assert_ok(dd_store_begin(e->store, &err), &err);
	add_lease(e->store, "host", DD_LEASE_PENDING, 0, "later");
	assert_ok(dd_store_commit(e->store, &err), &err);
	assert_int_equal(lease_count_all(e->store), 1);
}

static void test_three_levels_middle_rollback(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;

	assert_ok(dd_store_begin(e->store, &err), &err);
	assert_ok(dd_store_begin(e->store, &err), &err);
	assert_ok(dd_store_begin(e->store, &err), &err);
	add_lease(e->store, "host", DD_LEASE_PENDING, 0, NULL);
	assert_ok(dd_store_commit(e->store, &err), &err);
	dd_store_rollback(e->store);
	assert_int_equal(dd_store_commit(e->store, &err), DD_ERR_STORE);
	assert_int_equal(lease_count_all(e->store), 0);
	assert_int_equal(e->store->depth, 0);
}

static void test_outer_rollback_and_stray_rollback(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;

	assert_ok(dd_store_begin(e->store, &err), &err);
	assert_ok(dd_store_begin(e->store, &err), &err);
	add_lease(e->store, "host", DD_LEASE_PENDING, 0, NULL);
	assert_ok(dd_store_commit(e->store, &err), &err);
	dd_store_rollback(e->store);
	assert_int_equal(lease_count_all(e->store), 0);
	/* a rollback with nothing open (after a failed begin) does nothing */
	dd_store_rollback(e->store);
	assert_int_equal(e->store->depth, 0);
	add_lease(e->store, "host", DD_LEASE_PENDING, 0, NULL);
	assert_int_equal(lease_count_all(e->store), 1);
}

/*
 * Group commit under contention: threads on their own handles commit
 * counter bumps, alternately durable and lazy, all at once.  Every commit
 * reports success, and none is lost or applied twice.
 */
#define GROUP_THREADS 8
#define GROUP_BUMPS 200

struct group_worker {
	const char *path;
	int failures;
};

static void *group_bumper(void *arg)
{
	struct group_worker *gw = arg;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store_options opt = {
		.durability = DD_DURABILITY_FULL,
		.busy_timeout_ms = 5000,
		.group_commit = true,
	};
	struct dd_store *s = NULL;

	if (dd_store_open(gw->path, &opt, &s, &err)) {
		gw->failures = GROUP_BUMPS;
		return NULL;
	}
	for (int i = 0; i < GROUP_BUMPS; i++) {
		int rc = dd_store_begin(s, &err);

		if (!rc)
			rc = dd_store_counter_bump(s, "bumps", &err);
		if (rc) {
			if (s->depth)
				dd_store_rollback(s);
			gw->failures++;
			continue;
		}
		rc = i % 2 ? dd_store_commit_lazy(s, &err)
			   : dd_store_commit(s, &err);
		if (rc)
			gw->failures++;
	}
	dd_store_close(s);
	return NULL;
}

static void test_group_commit_contended(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct group_worker gw[GROUP_THREADS];
	pthread_t tid[GROUP_THREADS];
	long long n = 0;

	for (int i = 0; i < GROUP_THREADS; i++) {
		gw[i] = (struct group_worker){e->location, 0};
		assert_int_equal(pthread_create(&tid[i], NULL, group_bumper,
						&gw[i]),
				 0);
	}
	for (int i = 0; i < GROUP_THREADS; i++) {
		pthread_join(tid[i], NULL);
		assert_int_equal(gw[i].failures, 0);
	}
	assert_ok(dd_store_counter_get(e->store, "bumps", &n, &err), &err);
	assert_int_equal(n, GROUP_THREADS * GROUP_BUMPS);
}

/* ---- fault injection -------------------------------------------------- */

static void test_fault_injection_nth_call(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease l = {0};
	long long id = add_lease(e->store, "host", DD_LEASE_PENDING, 0, NULL);

	/* n = 0: the next call fails with the given code, once */
	dd_store_fail_after(0, DD_ERR_BUSY);
	assert_int_equal(dd_store_lease_get(e->store, id, &l, &err),
			 DD_ERR_BUSY);
	assert_int_equal(err.code, DD_ERR_BUSY);
	assert_non_null(strstr(err.msg, "injected"));
	assert_ok(dd_store_lease_get(e->store, id, &l, &err), &err);
	dd_lease_release(&l);

	/* n = 2: two calls pass, the third fails, the fourth passes */
	dd_store_fail_after(2, DD_ERR_STORE);
	assert_ok(dd_store_lease_get(e->store, id, &l, &err), &err);
	dd_lease_release(&l);
	assert_int_equal(lease_count_all(e->store), 1);
	assert_int_equal(dd_store_lease_get(e->store, id, &l, &err),
			 DD_ERR_STORE);
	assert_null(l.type);
	assert_ok(dd_store_lease_get(e->store, id, &l, &err), &err);
	dd_lease_release(&l);

	/* begin counts as a call too, and a failed begin opens nothing */
	dd_store_fail_after(0, DD_ERR_STORE);
	assert_int_equal(dd_store_begin(e->store, &err), DD_ERR_STORE);
	assert_int_equal(e->store->depth, 0);
	dd_store_rollback(e->store);
	assert_ok(dd_store_begin(e->store, &err), &err);
	assert_ok(dd_store_commit(e->store, &err), &err);

	/* n < 0 turns it off */
	dd_store_fail_after(0, DD_ERR_STORE);
	dd_store_fail_after(-1, 0);
	assert_ok(dd_store_lease_get(e->store, id, &l, &err), &err);
	dd_lease_release(&l);
}

static void test_fault_mid_transaction_writes_nothing(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease l = {0};
	struct dd_log_entry entry = {0};
	int rc;

	/* begin, insert lease pass; the log append is the failing call */
	dd_store_fail_after(2, DD_ERR_STORE);
	assert_ok(dd_store_begin(e->store, &err), &err);
	l.type = "host";
	assert_ok(dd_store_lease_insert(e->store, &l, &err), &err);
	entry.lease = l.id;
	entry.type = "lease.queued";
	entry.time = dd_now();
	rc = dd_store_log_append(e->store, &entry, &err);
	assert_int_equal(rc, DD_ERR_STORE);
	dd_store_rollback(e->store);
	json_decref(l.attributes);
	assert_int_equal(lease_count_all(e->store), 0);
	{
		struct dd_filter f = {0};
		char ids[64];

		log_ids(e->store, &f, ids, sizeof(ids));
		assert_string_equal(ids, "");
	}
}

static void test_fault_code_is_passed_through(void **state)
{
	struct store_env *e = *state;
	static const int codes[] = {DD_ERR_NOMEM, DD_ERR_IO, DD_ERR_FENCED,
				    DD_ERR_NOTFOUND};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		struct dd_error err = DD_ERROR_INIT;
		struct dd_blueprint_list l = {0};
		struct dd_filter f = {0};

		dd_store_fail_after(0, codes[i]);
		assert_int_equal(dd_store_blueprint_list(e->store, &f, &l,
							 &err),
				 codes[i]);
		assert_int_equal(err.code, codes[i]);
		assert_int_equal(l.n, 0);
	}
}

/* ---- dd_store_sync_then ------------------------------------------------ */

/*
 * After a lazy commit on a group handle the call comes once the commit is
 * durable, from the group's syncer, not the caller; on a plain handle
 * the caller syncs and is called before dd_store_sync_then() returns;
 * with nothing left to sync, at once.
 */
static void test_sync_then(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store_options group = {
		.durability = DD_DURABILITY_FULL,
		.busy_timeout_ms = 1000,
		.group_commit = true,
	};
	struct dd_store *g = NULL;
	struct told t;

	assert_ok(dd_store_open(e->location, &group, &g, &err), &err);
	told_init(&t);
	lazy_bump(g, "then");
	dd_store_sync_then(g, told_fn, &t);
	assert_int_equal(told_wait(&t), 1);
	assert_int_equal(t.rc, 0);
	/* SQLite's group has a syncer; PostgreSQL's commit flushes itself */
	if (!strcmp(e->backend->name, "sqlite"))
		assert_false(pthread_equal(t.thread, pthread_self()));
	/* nothing new: in the caller's thread, before returning */
	told_reset(&t);
	dd_store_sync_then(g, told_fn, &t);
	assert_int_equal(t.calls, 1);
	assert_true(pthread_equal(t.thread, pthread_self()));
	/* a plain handle syncs in the caller */
	told_reset(&t);
	lazy_bump(e->store, "then");
	dd_store_sync_then(e->store, told_fn, &t);
	assert_int_equal(t.calls, 1);
	assert_int_equal(t.rc, 0);
	assert_true(pthread_equal(t.thread, pthread_self()));
	/* closing the last group handle first runs what is queued */
	told_reset(&t);
	lazy_bump(g, "then");
	dd_store_sync_then(g, told_fn, &t);
	dd_store_close(g);
	assert_int_equal(t.calls, 1);
	assert_int_equal(t.rc, 0);
	told_release(&t);
}

/*
 * A hold (counter_hold, lease_waiting_hold, resource_hold) keeps what it
 * read until its transaction ends: a bump of the counter or an update of
 * the lease or the resource in another handle waits for the commit
 * (here: fails busy after a short busy timeout), then goes through.  The
 * reads answer as reads do: the counter's value, whether the lease is
 * pending and waiting, false for a lease that is not (or does not
 * exist), the resource's row, DD_ERR_NOTFOUND for no such resource.
 */
static int try_bump(struct dd_store *s, struct dd_error *err)
{
	int rc = dd_store_begin(s, err);

	if (!rc)
		rc = dd_store_counter_bump(s, "capacity", err);
	if (rc) {
		if (s->depth)
			dd_store_rollback(s);
		return rc;
	}
	return dd_store_commit(s, err);
}

static int try_lease_update(struct dd_store *s, const struct dd_lease *l,
			    struct dd_error *err)
{
	int rc = dd_store_begin(s, err);

	if (!rc)
		rc = dd_store_lease_update(s, l, err);
	if (rc) {
		if (s->depth)
			dd_store_rollback(s);
		return rc;
	}
	return dd_store_commit(s, err);
}

static int try_resource_update(struct dd_store *s,
			       const struct dd_resource *r,
			       struct dd_error *err)
{
	int rc = dd_store_begin(s, err);

	if (!rc)
		rc = dd_store_resource_update(s, r, err);
	if (rc) {
		if (s->depth)
			dd_store_rollback(s);
		return rc;
	}
	return dd_store_commit(s, err);
}

static int try_target_update(struct dd_store *s, const struct dd_target *t,
			     struct dd_error *err)
{
	int rc = dd_store_begin(s, err);

	if (!rc)
		rc = dd_store_target_update(s, t, err);
	if (rc) {
		if (s->depth)
			dd_store_rollback(s);
		return rc;
	}
	return dd_store_commit(s, err);
}

/* A hold of resource `id` in a transaction of its own, rolled back. */
static int try_resource_hold(struct dd_store *s, long long id,
			     struct dd_error *err)
{
	struct dd_resource r = {0};
	int rc = dd_store_begin(s, err);

	if (!rc)
		rc = dd_store_resource_hold(s, id, &r, err);
	dd_resource_release(&r);
	if (s->depth)
		dd_store_rollback(s);
	return rc;
}

/* A hold of target `id` in a transaction of its own, rolled back. */
static int try_target_hold(struct dd_store *s, long long id,
			   struct dd_error *err)
{
	struct dd_target t = {0};
	int rc = dd_store_begin(s, err);

	if (!rc)
		rc = dd_store_target_hold(s, id, &t, err);
	dd_target_release(&t);
	if (s->depth)
		dd_store_rollback(s);
	return rc;
}

/* A lock of blueprint `id` in a transaction of its own, rolled back. */
static int try_blueprint_lock(struct dd_store *s, long long id,
			      struct dd_error *err)
{
	struct dd_blueprint bp = {0};
	int rc = dd_store_begin(s, err);

	if (!rc)
		rc = dd_store_blueprint_lock(s, id, &bp, err);
	dd_blueprint_release(&bp);
	if (s->depth)
		dd_store_rollback(s);
	return rc;
}

static void test_hold_until_commit(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store_options quick = {
		.durability = DD_DURABILITY_FULL,
		.busy_timeout_ms = 200,
	};
	struct dd_store *other = NULL;
	struct dd_lease waiting = {0}, taken = {0};
	struct dd_resource res = {0}, held = {0};
	struct dd_target target = {0}, got = {0};
	struct dd_blueprint bp = {0};
	long long before = 0, after = 0;
	bool yes = false;

	target.name = "held";
	target.owner = "test";
	target.status = DD_TARGET_BUILDING;
	assert_ok(dd_store_target_insert(e->store, &target, &err), &err);

	res.blueprint = add_blueprint(e->store, "held", "host", true);
	res.type = "host";
	res.status = DD_RESOURCE_ACTIVE;
	assert_ok(dd_store_resource_insert(e->store, &res, &err), &err);
	waiting.type = taken.type = "host";
	waiting.status = DD_LEASE_PENDING;
	waiting.waiting = true;
	taken.status = DD_LEASE_ACQUIRED;
	assert_ok(dd_store_lease_insert(e->store, &waiting, &err), &err);
	assert_ok(dd_store_lease_insert(e->store, &taken, &err), &err);
	assert_ok(dd_store_open(e->location, &quick, &other, &err), &err);

	assert_ok(dd_store_begin(e->store, &err), &err);
	assert_ok(dd_store_counter_hold(e->store, "capacity", &before, &err),
		  &err);
	assert_ok(dd_store_lease_waiting_hold(e->store, waiting.id, &yes, &err),
		  &err);
	assert_true(yes);
	assert_ok(dd_store_lease_waiting_hold(e->store, taken.id, &yes, &err),
		  &err);
	assert_false(yes);
	assert_ok(dd_store_lease_waiting_hold(e->store, taken.id + 100, &yes,
					      &err),
		  &err);
	assert_false(yes);
	assert_ok(dd_store_resource_hold(e->store, res.id, &held, &err), &err);
	assert_int_equal(held.id, res.id);
	assert_int_equal(held.status, DD_RESOURCE_ACTIVE);
	dd_resource_release(&held);
	assert_int_equal(dd_store_resource_hold(e->store, res.id + 100, &held,
						&err),
			 DD_ERR_NOTFOUND);
	assert_ok(dd_store_target_hold(e->store, target.id, &got, &err), &err);
	assert_string_equal(got.name, "held");
	dd_target_release(&got);
	assert_int_equal(dd_store_target_hold(e->store, target.id + 100, &got,
					      &err),
			 DD_ERR_NOTFOUND);
	/* held: the other handle's writes wait, here past its timeout */
	assert_int_equal(try_bump(other, &err), DD_ERR_BUSY);
	waiting.waiting = false;
	assert_int_equal(try_lease_update(other, &waiting, &err), DD_ERR_BUSY);
	res.status = DD_RESOURCE_RELEASED;
	assert_int_equal(try_resource_update(other, &res, &err), DD_ERR_BUSY);
	target.status = DD_TARGET_PASSED;
	assert_int_equal(try_target_update(other, &target, &err), DD_ERR_BUSY);
	/* others may hold what is held, where writers run side by side */
	if (!strcmp(e->backend->name, "postgres"))
		assert_ok(try_resource_hold(other, res.id, &err), &err);
	assert_ok(dd_store_commit(e->store, &err), &err);

	/* released by the commit */
	assert_ok(try_bump(other, &err), &err);
	assert_ok(try_lease_update(other, &waiting, &err), &err);
	assert_ok(try_resource_update(other, &res, &err), &err);
	assert_ok(try_target_update(other, &target, &err), &err);

	/* a lock keeps the row from other holds too */
	assert_ok(dd_store_begin(e->store, &err), &err);
	assert_ok(dd_store_resource_lock(e->store, res.id, &held, &err), &err);
	assert_int_equal(held.status, DD_RESOURCE_RELEASED);
	dd_resource_release(&held);
	assert_int_equal(try_resource_hold(other, res.id, &err), DD_ERR_BUSY);
	dd_store_rollback(e->store);
	assert_ok(try_resource_hold(other, res.id, &err), &err);

	/* a target's lock keeps another's hold waiting */
	assert_ok(dd_store_begin(e->store, &err), &err);
	assert_ok(dd_store_target_lock(e->store, target.id, &got, &err), &err);
	dd_target_release(&got);
	assert_int_equal(try_target_hold(other, target.id, &err), DD_ERR_BUSY);
	dd_store_rollback(e->store);
	assert_ok(try_target_hold(other, target.id, &err), &err);

	/* a blueprint's lock keeps another edit's lock waiting */
	assert_ok(dd_store_begin(e->store, &err), &err);
	assert_ok(dd_store_blueprint_lock(e->store, res.blueprint, &bp, &err),
		  &err);
	assert_string_equal(bp.name, "held");
	dd_blueprint_release(&bp);
	assert_int_equal(dd_store_blueprint_lock(e->store, res.blueprint + 100,
						 &bp, &err),
			 DD_ERR_NOTFOUND);
	assert_int_equal(try_blueprint_lock(other, res.blueprint, &err),
			 DD_ERR_BUSY);
	dd_store_rollback(e->store);
	assert_ok(try_blueprint_lock(other, res.blueprint, &err), &err);
	assert_ok(dd_store_counter_get(e->store, "capacity", &after, &err),
		  &err);
	assert_int_equal(after, before + 1);
	assert_ok(dd_store_begin(e->store, &err), &err);
	assert_ok(dd_store_lease_waiting_hold(e->store, waiting.id, &yes, &err),
		  &err);
	assert_false(yes);
	assert_ok(dd_store_resource_hold(e->store, res.id, &held, &err), &err);
	assert_int_equal(held.status, DD_RESOURCE_RELEASED);
	dd_resource_release(&held);
	dd_store_rollback(e->store);
	dd_store_close(other);
	json_decref(waiting.attributes); /* the insert's {} */
	json_decref(taken.attributes);
	json_decref(res.attributes);
}

/*
 * dd_store_sync() after lazy commits: on a direct handle and on a group
 * handle it succeeds and the commits stay; a failing store is reported.
 */
static void test_sync_after_lazy_commits(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store_options group = {
		.durability = DD_DURABILITY_FULL,
		.busy_timeout_ms = 1000,
		.group_commit = true,
	};
	struct dd_store *g = NULL;
	struct dd_store *handles[2];
	long long n = 0;

	assert_ok(dd_store_open(e->location, &group, &g, &err), &err);
	handles[0] = e->store;
	handles[1] = g;
	for (int i = 0; i < 2; i++) {
		assert_ok(dd_store_begin(handles[i], &err), &err);
		assert_ok(dd_store_counter_bump(handles[i], "lazy", &err),
			  &err);
		assert_ok(dd_store_commit_lazy(handles[i], &err), &err);
		assert_ok(dd_store_sync(handles[i], &err), &err);
		/* nothing new to sync: returns at once */
		assert_ok(dd_store_sync(handles[i], &err), &err);
	}
	assert_ok(dd_store_counter_get(e->store, "lazy", &n, &err), &err);
	assert_int_equal(n, 2);
	dd_store_fail_after(0, DD_ERR_IO);
	assert_int_equal(dd_store_sync(g, &err), DD_ERR_IO);
	dd_store_close(g);
}

/* ---- resources that live on one machine (core/machine.h) --------------- */

static void test_resource_machine_round_trip(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_resource got = {0};
	long long bp = add_blueprint(e->store, "bp", "host", true);
	long long here = test_resource_on(e->store, bp, "m-1.example:a");
	long long anywhere = test_resource_on(e->store, bp, "");
	json_t *j;

	assert_ok(dd_store_resource_get(e->store, here, &got, &err), &err);
	assert_string_equal(got.machine, "m-1.example:a");
	j = dd_resource_to_json(&got);
	assert_string_equal(json_string_value(json_object_get(j, "machine")),
			    "m-1.example:a");
	json_decref(j);
	/* an update leaves it alone: it lives where it was built */
	got.status = DD_RESOURCE_RELEASED;
	got.machine[0] = 0;
	assert_ok(dd_store_resource_update(e->store, &got, &err), &err);
	dd_resource_release(&got);
	assert_ok(dd_store_resource_get(e->store, here, &got, &err), &err);
	assert_string_equal(got.machine, "m-1.example:a");
	dd_resource_release(&got);
	assert_ok(dd_store_resource_get(e->store, anywhere, &got, &err), &err);
	assert_string_equal(got.machine, "");
	j = dd_resource_to_json(&got);
	assert_true(json_is_null(json_object_get(j, "machine")));
	json_decref(j);
	dd_resource_release(&got);
}

/*
 * Claim every task `machine` may take at `now`; bit k of the result is
 * set for the task of objs[k].
 */
static unsigned claim_all(struct dd_store *s, const char *machine, double now,
			  double ttl, const struct dd_ref *objs, size_t n)
{
	unsigned got = 0;

	for (;;) {
		struct dd_error err = DD_ERROR_INIT;
		struct dd_task t = {0};
		int rc = dd_store_task_claim(s, "w", machine, now, ttl, &t,
					     &err);
		size_t k;

		if (rc == DD_ERR_NOTFOUND)
			return got;
		assert_ok(rc, &err);
		for (k = 0; k < n; k++)
			if (objs[k].kind == t.object.kind &&
			    objs[k].id == t.object.id)
				break;
		assert_true(k < n);
		assert_false(got & (1u << k)); /* claimed once */
		got |= 1u << k;
		dd_task_release(&t);
	}
}

/*
 * A task whose pass runs the hooks of a resource that lives on machine
 * "a" (its update; the update of a lease placed on it) is neither
 * claimed nor due for a claimer on "b" nor for one on no machine, and
 * is for "a"; tasks of resources that live anywhere, of pending leases
 * and of other objects are everybody's.
 */
static void test_claim_on_machine(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	long long bp = add_blueprint(e->store, "bp", "host", true);
	long long on_a = test_resource_on(e->store, bp, "a");
	long long anywhere = test_resource_on(e->store, bp, "");
	const struct dd_ref objs[] = {
		{DD_OBJ_RESOURCE, on_a},
		{DD_OBJ_LEASE, add_lease(e->store, "host", DD_LEASE_ACQUIRED,
					 on_a, NULL)},
		{DD_OBJ_RESOURCE, anywhere},
		{DD_OBJ_LEASE, add_lease(e->store, "host", DD_LEASE_ACTIVE,
					 anywhere, NULL)},
		{DD_OBJ_LEASE, add_lease(e->store, "host", DD_LEASE_PENDING, 0,
					 NULL)},
		{DD_OBJ_BLUEPRINT, bp},
	};
	const size_t n = sizeof(objs) / sizeof(*objs);
	const unsigned bound = 1u << 0 | 1u << 1;
	double now = dd_now(), due = -1;

	for (size_t k = 0; k < n; k++)
		assert_ok(dd_task_schedule_update(e->store, objs[k], now - 1,
						  &err),
			  &err);
	assert_ok(dd_store_task_next_due(e->store, "b", &due, &err), &err);
	assert_true(due > 0 && due <= now);
	assert_int_equal(claim_all(e->store, "b", now, 60, objs, n),
			 ((1u << n) - 1) & ~bound);
	/* what is left is a's: nothing due for b but its own claims' ends */
	assert_ok(dd_store_task_next_due(e->store, "b", &due, &err), &err);
	assert_true(due >= now + 59);
	assert_int_equal(claim_all(e->store, NULL, now, 60, objs, n), 0);
	assert_ok(dd_store_task_next_due(e->store, "a", &due, &err), &err);
	assert_true(due > 0 && due <= now);
	assert_int_equal(claim_all(e->store, "a", now, 60, objs, n), bound);
}

/*
 * Scheduling counts the tasks and remembers work bound to a machine
 * other than the handle's (to any machine, for a handle of none) until
 * dd_store_scheduled() takes them: a resource that lives on "a", and a
 * lease placed on it, are away for a handle of "b" or of none, and not
 * for one of "a"; a resource that lives anywhere, a pending lease and a
 * blueprint are nobody's.
 */
static void test_scheduled_away(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store_options opt;
	struct dd_store *on[3] = {e->store, NULL, NULL};
	const char *machine[3] = {NULL, "a", "b"};
	long long bp = add_blueprint(e->store, "bp", "host", true);
	long long on_a = test_resource_on(e->store, bp, "a");
	long long anywhere = test_resource_on(e->store, bp, "");
	const struct dd_ref bound[] = {
		{DD_OBJ_RESOURCE, on_a},
		{DD_OBJ_LEASE, add_lease(e->store, "host", DD_LEASE_ACTIVE,
					 on_a, NULL)},
	};
	const struct dd_ref free_[] = {
		{DD_OBJ_RESOURCE, anywhere},
		{DD_OBJ_LEASE, add_lease(e->store, "host", DD_LEASE_PENDING, 0,
					 NULL)},
		{DD_OBJ_BLUEPRINT, bp},
	};

	for (int h = 1; h < 3; h++) {
		dd_store_options_from_env(&opt);
		opt.machine = machine[h];
		assert_ok(dd_store_open_ready(e->location, &opt, &on[h], &err),
			  &err);
	}
	for (int h = 0; h < 3; h++) {
		bool away = true;

		assert_int_equal(dd_store_scheduled(on[h], &away), 0);
		assert_false(away);
		for (size_t k = 0; k < sizeof(free_) / sizeof(*free_); k++) {
			assert_ok(dd_task_schedule_update(on[h], free_[k], 0,
							  &err),
				  &err);
			assert_int_equal(dd_store_scheduled(on[h], &away), 1);
			assert_false(away);
		}
		for (size_t k = 0; k < sizeof(bound) / sizeof(*bound); k++) {
			assert_ok(dd_task_schedule_update(on[h], bound[k], 0,
							  &err),
				  &err);
			assert_ok(dd_task_schedule_update(on[h], free_[0], 0,
							  &err),
				  &err);
			assert_int_equal(dd_store_scheduled(on[h], &away), 2);
			assert_int_equal(away, h != 1);
			/* and a second look finds them taken */
			assert_int_equal(dd_store_scheduled(on[h], &away), 0);
			assert_false(away);
		}
	}
	dd_store_close(on[1]);
	dd_store_close(on[2]);
}

/*
 * A resource that learns its machine after it was inserted (a working
 * copy, once its host lease is active) has it written by an update, once:
 * a later update neither changes nor clears it, and the next claim of its
 * update (and of its leases') goes by it.
 */
static void test_resource_machine_set_once(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_resource got = {0};
	long long bp = add_blueprint(e->store, "bp", "working-copy", true);
	long long id = test_resource_on(e->store, bp, "");
	const struct dd_ref objs[] = {
		{DD_OBJ_RESOURCE, id},
		{DD_OBJ_LEASE, add_lease(e->store, "working-copy",
					 DD_LEASE_ACQUIRED, id, NULL)},
	};
	double now = dd_now();

	assert_ok(dd_store_resource_get(e->store, id, &got, &err), &err);
	snprintf(got.machine, sizeof(got.machine), "b");
	assert_ok(dd_store_resource_update(e->store, &got, &err), &err);
	snprintf(got.machine, sizeof(got.machine), "c");
	assert_ok(dd_store_resource_update(e->store, &got, &err), &err);
	got.machine[0] = 0;
	assert_ok(dd_store_resource_update(e->store, &got, &err), &err);
	dd_resource_release(&got);
	assert_ok(dd_store_resource_get(e->store, id, &got, &err), &err);
	assert_string_equal(got.machine, "b");
	dd_resource_release(&got);
	for (size_t k = 0; k < 2; k++)
		assert_ok(dd_task_schedule_update(e->store, objs[k], now - 1,
						  &err),
			  &err);
	assert_int_equal(claim_all(e->store, "a", now, 60, objs, 2), 0);
	assert_int_equal(claim_all(e->store, "b", now, 60, objs, 2), 3);
}

/* Schedule the update of a new resource of `bp`, due at `when`. */
static void schedule_new_resource(struct dd_store *s, long long bp,
				  double when)
{
	struct dd_error err = DD_ERROR_INIT;

	assert_ok(dd_task_schedule_update(
			  s,
			  (struct dd_ref){DD_OBJ_RESOURCE,
					  test_resource_on(s, bp, "")},
			  when, &err),
		  &err);
}

/*
 * A claim says whether it saw another task due (struct dd_task's
 * `more`), so that a daemon wakes another thread only then: a task due
 * later does not count, one whose claim expired does.  A store that does
 * not look says true.
 */
static void test_claim_sees_more(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	long long bp = add_blueprint(e->store, "bp", "host", true);
	struct dd_task t = {0};
	double now = dd_now();
	bool looks = !strcmp(e->backend->name, "postgres");

	assert_ok(dd_task_schedule_update(e->store,
					  (struct dd_ref){DD_OBJ_BLUEPRINT, bp},
					  now - 2, &err),
		  &err);
	schedule_new_resource(e->store, bp, now - 1);
	assert_ok(dd_task_schedule_update(
			  e->store,
			  (struct dd_ref){DD_OBJ_LEASE,
					  add_lease(e->store, "host",
						    DD_LEASE_PENDING, 0, NULL)},
			  now + 100, &err),
		  &err);
	assert_ok(dd_store_task_claim(e->store, "w", NULL, now, 60, &t, &err),
		  &err);
	assert_int_equal(t.object.kind, DD_OBJ_BLUEPRINT);
	assert_true(t.more);
	dd_task_release(&t);
	assert_ok(dd_store_task_claim(e->store, "w", NULL, now, 60, &t, &err),
		  &err);
	assert_int_equal(t.object.kind, DD_OBJ_RESOURCE);
	assert_true(t.more == !looks);
	dd_task_release(&t);
	assert_int_equal(dd_store_task_claim(e->store, "w", NULL, now, 60, &t,
					     &err),
			 DD_ERR_NOTFOUND);
	/* claims that expired count too: a dead claimer's tasks */
	now += 61;
	assert_ok(dd_store_task_claim(e->store, "w2", NULL, now, 60, &t, &err),
		  &err);
	assert_true(t.more);
	dd_task_release(&t);
	assert_ok(dd_store_task_claim(e->store, "w2", NULL, now, 60, &t, &err),
		  &err);
	assert_true(t.more == !looks);
	dd_task_release(&t);
}

/*
 * A claim that finds nothing says when the next task falls due, as
 * next_due would (so that a claimer about to sleep need not ask), or -1
 * when the store did not look: a queued task due later, a claim that
 * expires, none at all.
 */
static void test_claim_says_next_due(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	long long bp = add_blueprint(e->store, "bp", "host", true);
	struct dd_task t = {0};
	double now = dd_now(), due;
	bool looks = !strcmp(e->backend->name, "postgres");

	assert_int_equal(dd_store_task_claim(e->store, "w", NULL, now, 60, &t,
					     &err),
			 DD_ERR_NOTFOUND);
	assert_true(looks ? t.next_due == 0 : t.next_due == -1);
	assert_ok(dd_task_schedule_update(e->store,
					  (struct dd_ref){DD_OBJ_BLUEPRINT, bp},
					  now + 100, &err),
		  &err);
	assert_int_equal(dd_store_task_claim(e->store, "w", NULL, now, 60, &t,
					     &err),
			 DD_ERR_NOTFOUND);
	assert_ok(dd_store_task_next_due(e->store, NULL, &due, &err), &err);
	assert_true(due == now + 100);
	assert_true(looks ? t.next_due == due : t.next_due == -1);
	/* claimed now, with an expiry before the other's not_before */
	schedule_new_resource(e->store, bp, now - 1);
	assert_ok(dd_store_task_claim(e->store, "w", NULL, now, 30, &t, &err),
		  &err);
	assert_int_equal(t.object.kind, DD_OBJ_RESOURCE);
	dd_task_release(&t);
	assert_int_equal(dd_store_task_claim(e->store, "w", NULL, now, 60, &t,
					     &err),
			 DD_ERR_NOTFOUND);
	assert_true(looks ? t.next_due == now + 30 : t.next_due == -1);
}

/*
 * A claim that expired on an object whose lock another claim holds since
 * is not due before that lock expires, so claimers about to sleep do not
 * look again at once, and again, until it is freed.
 */
static void test_expired_claim_waits_for_the_lock(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_ref o = {DD_OBJ_BLUEPRINT,
			   add_blueprint(e->store, "bp", "host", true)};
	struct dd_task a = {0}, b = {0}, t = {0};
	double now = dd_now(), due = -1;
	bool looks = !strcmp(e->backend->name, "postgres");

	assert_ok(dd_task_schedule_update(e->store, o, now - 20, &err), &err);
	/* claimed 10 s ago for 1 s by a worker that died */
	assert_ok(dd_store_task_claim(e->store, "w1", NULL, now - 10, 1, &a,
				      &err),
		  &err);
	/* queued again meanwhile: a second task of the object */
	assert_ok(dd_task_schedule_update(e->store, o, now - 20, &err), &err);
	/* one of them claimed now, for 60 s: the object is locked again */
	assert_ok(dd_store_task_claim(e->store, "w2", NULL, now, 60, &b, &err),
		  &err);
	assert_int_equal(dd_store_task_claim(e->store, "w3", NULL, now, 60, &t,
					     &err),
			 DD_ERR_NOTFOUND);
	assert_ok(dd_store_task_next_due(e->store, NULL, &due, &err), &err);
	assert_true(due == now + 60);
	assert_true(looks ? t.next_due == due : t.next_due == -1);
	dd_task_release(&a);
	dd_task_release(&b);
}

/* A claim that expired on "a" is taken over on "a" only. */
static void test_claim_expired_on_machine(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	long long bp = add_blueprint(e->store, "bp", "host", true);
	const struct dd_ref objs[] = {
		{DD_OBJ_RESOURCE, test_resource_on(e->store, bp, "a")},
	};
	double now = dd_now(), due = -1;

	assert_ok(dd_task_schedule_update(e->store, objs[0], now - 1, &err),
		  &err);
	assert_int_equal(claim_all(e->store, "a", now, 1, objs, 1), 1);
	/* its holder died: 2 s later its claim and lock have expired */
	assert_int_equal(claim_all(e->store, "b", now + 2, 60, objs, 1), 0);
	assert_ok(dd_store_task_next_due(e->store, "b", &due, &err), &err);
	assert_true(due == 0);
	assert_ok(dd_store_task_next_due(e->store, "a", &due, &err), &err);
	assert_true(due > 0 && due <= now + 1);
	assert_int_equal(claim_all(e->store, "a", now + 2, 60, objs, 1), 1);
}

/* Every test above, run for each backend in store_backends[]. */
#define SUITE(X) \
	X(test_migrate_idempotent) \
	X(test_open_ready_missing_store) \
	X(test_open_ready_unmigrated_store) \
	X(test_open_ready_current_store) \
	X(test_state_dir_given) \
	X(test_blueprint_round_trip) \
	X(test_blueprint_notfound_and_exists) \
	X(test_blueprint_list_filters) \
	X(test_resource_round_trip) \
	X(test_resource_list_filters) \
	X(test_lease_round_trip) \
	X(test_lease_list_filters) \
	X(test_lease_each) \
	X(test_command_round_trip_and_consume) \
	X(test_log_round_trip_and_filters) \
	X(test_slot_locks_all_or_nothing) \
	X(test_slot_locks_inside_transaction) \
	X(test_slot_being_taken) \
	X(test_token_round_trip) \
	X(test_token_notfound_and_exists) \
	X(test_token_list) \
	X(test_token_json_has_no_hash) \
	X(test_idem_record_round_trip) \
	X(test_idem_prune) \
	X(test_idem_lease_create_all_or_nothing) \
	X(test_idem_create_race) \
	X(test_idem_key_check) \
	X(test_nested_commit) \
	X(test_nested_inner_rollback) \
	X(test_three_levels_middle_rollback) \
	X(test_outer_rollback_and_stray_rollback) \
	X(test_group_commit_contended) \
	X(test_fault_injection_nth_call) \
	X(test_fault_mid_transaction_writes_nothing) \
	X(test_fault_code_is_passed_through) \
	X(test_sync_after_lazy_commits) \
	X(test_hold_until_commit) \
	X(test_sync_then) \
	X(test_resource_machine_round_trip) \
	X(test_resource_machine_set_once) \
	X(test_claim_on_machine) \
	X(test_scheduled_away) \
	X(test_claim_sees_more) \
	X(test_claim_says_next_due) \
	X(test_expired_claim_waits_for_the_lock) \
	X(test_claim_expired_on_machine)

STORE_SUITE_MAIN("store conformance", SUITE)
