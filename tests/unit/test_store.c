/*
 * test_store.c - the store interface (store/store.h) on its SQLite backend:
 * schema, object round trips, list filters, commands, slot locks, API
 * tokens, idempotency records, nested transactions and fault injection.
 *
 * Each test gets its own temp directory and migrated store from
 * testutil.h; nothing here depends on another test's rows.
 */
#include "testutil.h"
#include "store/sqlite.h"
#include "store/sqlite_vfs.h"

#include <pthread.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "api/api.h"
#include "api/idem.h"
#include "core/model.h"
#include "store/schema_sqlite.h"
#include "store/store.h"

/* Defined in store/store.c for tests; not in a public header. */

static int setup(void **state)
{
	struct test_env *e = calloc(1, sizeof(*e));

	if (!e)
		return -1;
	test_env_init(e);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct test_env *e = *state;

	/* a failing test must not leave a fault armed for the next one */
	dd_store_fail_after(-1, 0);
	dd_sqlite_fail_syncs(false);
	test_env_release(e);
	free(e);
	return 0;
}

/* ---- helpers ---------------------------------------------------------- */

static json_t *json_or_die(const char *text)
{
	json_error_t jerr;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);

	if (!v)
		fail_msg("bad JSON in test: %s", jerr.text);
	return v;
}

static long long add_blueprint(struct dd_store *s, const char *name,
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

static long long add_resource(struct dd_store *s, long long bp,
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

static long long add_lease(struct dd_store *s, const char *type,
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

static long long lease_count_all(struct dd_store *s)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {0};
	long long n = -1;

	assert_ok(dd_store_lease_count(s, &f, &n, &err), &err);
	return n;
}

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
	struct test_env *e = *state;
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
	assert_ok(dd_store_open(e->path, NULL, &other, &err), &err);
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
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *s = NULL;
	char path[PATH_MAX + 32];
	struct stat st;

	snprintf(path, sizeof(path), "%s/missing.db", e->dir);
	assert_int_equal(dd_store_open_ready(path, NULL, &s, &err),
			 DD_ERR_STORE);
	assert_null(s);
	assert_int_equal(err.code, DD_ERR_STORE);
	assert_non_null(strstr(err.msg, "drydock init"));
	assert_non_null(strstr(err.msg, path));
	/* refusing must not create the file as a side effect */
	assert_int_not_equal(stat(path, &st), 0);
}

/*
 * A location names its backend by its form: PostgreSQL's URI and
 * keyword forms are refused by this build, clearly and without making a
 * file of that name; a file path, even one with '=' in it, is SQLite.
 */
static void test_open_location_forms(void **state)
{
	static const char *const postgres[] = {
		"postgres://drydock@db1/drydock",
		"postgresql:///drydock?host=/run/postgresql",
		"host=db1 dbname=drydock",
		"dbname = drydock",
	};
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *s = NULL;
	char path[PATH_MAX + 32], dir[PATH_MAX + 32];
	struct stat st;

	for (size_t i = 0; i < sizeof(postgres) / sizeof(*postgres); i++) {
		err = (struct dd_error)DD_ERROR_INIT;
		assert_int_equal(dd_store_open(postgres[i], NULL, &s, &err),
				 DD_ERR_INVALID);
		assert_null(s);
		assert_non_null(strstr(err.msg, "no PostgreSQL backend"));
		assert_int_equal(dd_store_open_ready(postgres[i], NULL, &s,
						     &err),
				 DD_ERR_INVALID);
		assert_false(dd_store_local_dir(postgres[i], dir, sizeof(dir)));
		assert_string_equal(dir, "");
		assert_int_not_equal(stat(postgres[i], &st), 0);
	}
	assert_int_equal(dd_store_open("", NULL, &s, &err), DD_ERR_INVALID);
	assert_null(s);

	snprintf(path, sizeof(path), "%s/dbname=x.db", e->dir);
	assert_ok(dd_store_open(path, NULL, &s, &err), &err);
	assert_string_equal(s->location, path);
	dd_store_close(s);
	assert_true(dd_store_local_dir(path, dir, sizeof(dir)));
	assert_string_equal(dir, e->dir);
	assert_true(dd_store_local_dir("dd.db", dir, sizeof(dir)));
	assert_string_equal(dir, ".");
	assert_true(dd_store_local_dir("/dd.db", dir, sizeof(dir)));
	assert_string_equal(dir, "/");
}

static void test_open_ready_unmigrated_store(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *s = NULL;
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/empty.db", e->dir);
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

static void test_open_ready_newer_store(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *s = NULL;
	sqlite3 *db;

	/* a store from a future drydock: this one must not touch it */
	assert_int_equal(sqlite3_open(e->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=999", NULL,
				      NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(dd_store_open_ready(e->path, NULL, &s, &err),
			 DD_ERR_STORE);
	assert_null(s);
	assert_non_null(strstr(err.msg, "newer"));
	assert_int_equal(dd_store_migrate(e->store, &err), DD_ERR_STORE);
	assert_non_null(strstr(err.msg, "newer"));
}

static void test_open_ready_current_store(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = {55, "untouched"};
	struct dd_store *s = NULL;

	assert_ok(dd_store_open_ready(e->path, NULL, &s, &err), &err);
	assert_non_null(s);
	/* success leaves the caller's error alone */
	assert_int_equal(err.code, 55);
	assert_string_equal(err.msg, "untouched");
	dd_store_close(s);
	dd_store_close(NULL);
}

/* ---- blueprints ------------------------------------------------------- */

static void test_blueprint_round_trip(void **state)
{
	struct test_env *e = *state;
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
	struct test_env *e = *state;
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
	struct test_env *e = *state;
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
	struct test_env *e = *state;
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
	struct test_env *e = *state;
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
	struct test_env *e = *state;
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
	struct test_env *e = *state;
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
	struct test_env *e = *state;
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
	struct test_env *e = *state;
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
	struct test_env *e = *state;
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
	struct test_env *e = *state;
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

static void test_slot_locks_inside_transaction(void **state)
{
	struct test_env *e = *state;
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

static long long add_token(struct dd_store *s, const char *name,
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

static void test_token_round_trip(void **state)
{
	struct test_env *e = *state;
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
	struct test_env *e = *state;
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
	struct test_env *e = *state;
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
	struct test_env *e = *state;
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
	struct test_env *e = *state;
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
	struct test_env *e = *state;
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
	struct test_env *e = *state;
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
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *other = NULL;

	assert_ok(dd_store_open(e->path, NULL, &other, &err), &err);
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
	struct test_env *e = *state;
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
	struct test_env *e = *state;
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
	struct test_env *e = *state;
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
 * A store made by an older drydock (schema version 1, with a lease in it)
 * is refused until `drydock init` upgrades it, and keeps its rows.
 */
static void test_upgrade_from_version_1(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *s = NULL;
	struct dd_lease l = {0};
	char path[PATH_MAX + 32];
	sqlite3 *db;
	int current = 0, newest = 0;

	snprintf(path, sizeof(path), "%s/old.db", e->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, dd_sqlite_migrations[0], NULL, NULL,
				      NULL),
			 SQLITE_OK);
	assert_int_equal(
		sqlite3_exec(db,
			     "PRAGMA user_version = 1;"
			     "INSERT INTO lease(type, status, attributes,"
			     " created, modified) VALUES('host', 2, '{}', 1, 1)",
			     NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(dd_store_open_ready(path, NULL, &s, &err),
			 DD_ERR_STORE);
	assert_non_null(strstr(err.msg, "run 'drydock init'"));
	assert_ok(dd_store_open(path, NULL, &s, &err), &err);
	assert_ok(dd_store_migrate(s, &err), &err);
	assert_ok(dd_store_migrate(s, &err), &err); /* idempotent */
	assert_ok(dd_store_schema_version(s, &current, &newest, &err), &err);
	assert_int_equal(current, newest);
	assert_int_equal(current, DD_SQLITE_SCHEMA_VERSION);
	assert_ok(dd_store_lease_get(s, 1, &l, &err), &err);
	assert_int_equal(l.status, DD_LEASE_ACTIVE);
	assert_false(l.waiting);
	dd_lease_release(&l);
	/* and the tables of later versions are there */
	add_token(s, "after-upgrade", "admin", 'u');
	dd_store_close(s);
}

/* Group commit: a second transaction in the same thread is refused, not hung. */
static void test_group_second_transaction_busy(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store_options opt = {DD_DURABILITY_FULL, 50, true, false};
	struct dd_store *a = NULL, *b = NULL;
	struct dd_blueprint bp = {0};

	assert_ok(dd_store_open(e->path, &opt, &a, &err), &err);
	assert_ok(dd_store_open(e->path, &opt, &b, &err), &err);
	assert_ok(dd_store_begin(a, &err), &err);
	assert_int_equal(dd_store_begin(b, &err), DD_ERR_BUSY);
	/* and the first goes on: its commit is durable and visible */
	bp.type = "host";
	bp.name = "g";
	bp.config = json_object();
	bp.enabled = true;
	assert_ok(dd_store_blueprint_insert(a, &bp, &err), &err);
	assert_ok(dd_store_commit(a, &err), &err);
	json_decref(bp.config);
	bp.config = NULL;
	memset(&bp, 0, sizeof(bp));
	assert_ok(dd_store_blueprint_get(e->store, 1, &bp, &err), &err);
	assert_string_equal(bp.name, "g");
	dd_blueprint_release(&bp);
	dd_store_close(b);
	dd_store_close(a);
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
	struct dd_store_options opt = {DD_DURABILITY_FULL, 5000, true, false};
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
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct group_worker gw[GROUP_THREADS];
	pthread_t tid[GROUP_THREADS];
	long long n = 0;

	for (int i = 0; i < GROUP_THREADS; i++) {
		gw[i] = (struct group_worker){e->path, 0};
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

/*
 * A WAL sync that fails while group members commit: nobody hangs, every
 * commit from then on is refused with the reason, and every commit that
 * was reported done is in the store.
 */
#define FAIL_THREADS 6
#define FAIL_BUMPS 120

struct sync_failer {
	const char *path;
	int index;
	int ok, refused, ok_after_refusal;
	char msg[600];
};

static void *sync_failer_main(void *arg)
{
	struct sync_failer *sf = arg;
	struct dd_store_options opt = {DD_DURABILITY_FULL, 5000, true, false};
	struct dd_store *s = NULL;
	struct dd_error err = DD_ERROR_INIT;

	if (dd_store_open(sf->path, &opt, &s, &err))
		return NULL;
	for (int i = 0; i < FAIL_BUMPS; i++) {
		int rc;

		if (sf->index == 0 && i == FAIL_BUMPS / 3)
			dd_sqlite_fail_syncs(true);
		rc = dd_store_begin(s, &err);
		if (!rc) {
			rc = dd_store_counter_bump(s, "bumps", &err);
			if (rc)
				dd_store_rollback(s);
			else
				rc = dd_store_commit(s, &err);
		}
		if (!rc && sf->refused)
			sf->ok_after_refusal++;
		if (!rc)
			sf->ok++;
		else if (!sf->refused++)
			snprintf(sf->msg, sizeof(sf->msg), "%s", err.msg);
	}
	dd_store_close(s);
	return NULL;
}

static void test_group_commit_sync_failure(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct sync_failer sf[FAIL_THREADS];
	pthread_t tid[FAIL_THREADS];
	struct timespec deadline;
	long long n = 0;
	int ok = 0;

	for (int i = 0; i < FAIL_THREADS; i++) {
		sf[i] = (struct sync_failer){.path = e->path, .index = i};
		assert_int_equal(pthread_create(&tid[i], NULL,
						sync_failer_main, &sf[i]),
				 0);
	}
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 60;
	for (int i = 0; i < FAIL_THREADS; i++) {
		/* a member left waiting for ever is the bug this catches */
		assert_int_equal(pthread_timedjoin_np(tid[i], NULL, &deadline),
				 0);
		assert_true(sf[i].refused > 0);
		assert_int_equal(sf[i].ok_after_refusal, 0);
		assert_non_null(strstr(sf[i].msg, "sync"));
		ok += sf[i].ok;
	}
	dd_sqlite_fail_syncs(false);
	assert_true(ok >= FAIL_BUMPS / 3);
	assert_ok(dd_store_counter_get(e->store, "bumps", &n, &err), &err);
	assert_true(n >= ok);
}

static void test_second_writer_waits_then_busy(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store_options opt = {DD_DURABILITY_NORMAL, 50, false, false};
	struct dd_store *other = NULL;

	/* a write transaction holds the store's write lock at once */
	assert_ok(dd_store_open(e->path, &opt, &other, &err), &err);
	assert_ok(dd_store_begin(e->store, &err), &err);
	assert_int_equal(dd_store_begin(other, &err), DD_ERR_BUSY);
	assert_int_equal(other->depth, 0);
	dd_store_rollback(other);
	/* readers still read the last committed state */
	assert_int_equal(lease_count_all(other), 0);
	dd_store_rollback(e->store);
	assert_ok(dd_store_begin(other, &err), &err);
	assert_ok(dd_store_commit(other, &err), &err);
	dd_store_close(other);
}

/* ---- fault injection -------------------------------------------------- */

static void test_fault_injection_nth_call(void **state)
{
	struct test_env *e = *state;
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
	struct test_env *e = *state;
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
	struct test_env *e = *state;
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

/*
 * dd_store_sync() after lazy commits: on a direct handle and on a group
 * handle it succeeds and the commits stay; a failing store is reported.
 */
/* ---- dd_store_sync_then ------------------------------------------------ */

struct told {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int calls;
	int rc;
	pthread_t thread;
	char msg[sizeof(((struct dd_error *)0)->msg)];
};

static void told_init(struct told *t)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
}

/* Forget the calls so far (no call may be pending). */
static void told_reset(struct told *t)
{
	t->calls = 0;
	t->rc = 0;
	t->msg[0] = '\0';
}

static void told_release(struct told *t)
{
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mu);
}

static void told_fn(void *arg, int rc, const struct dd_error *err)
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
static int told_wait(struct told *t)
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

static void lazy_bump(struct dd_store *s, const char *name)
{
	struct dd_error err = DD_ERROR_INIT;

	assert_ok(dd_store_begin(s, &err), &err);
	assert_ok(dd_store_counter_bump(s, name, &err), &err);
	assert_ok(dd_store_commit_lazy(s, &err), &err);
}

/*
 * After a lazy commit on a group handle the call comes once the commit is
 * durable, from the group's syncer, not the caller; on a plain handle
 * the caller syncs and is called before dd_store_sync_then() returns;
 * with nothing left to sync, at once.
 */
static void test_sync_then(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store_options group = {DD_DURABILITY_FULL, 1000, true, false};
	struct dd_store *g = NULL;
	struct told t;

	assert_ok(dd_store_open(e->path, &group, &g, &err), &err);
	told_init(&t);
	lazy_bump(g, "then");
	dd_store_sync_then(g, told_fn, &t);
	assert_int_equal(told_wait(&t), 1);
	assert_int_equal(t.rc, 0);
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

/* A failed sync is reported to the call, which is made exactly once. */
static void test_sync_then_failed_sync(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store_options group = {DD_DURABILITY_FULL, 1000, true, false};
	struct dd_store *g = NULL;
	struct told t;

	assert_ok(dd_store_open(e->path, &group, &g, &err), &err);
	told_init(&t);
	lazy_bump(g, "then");
	dd_sqlite_fail_syncs(true);
	dd_store_sync_then(g, told_fn, &t);
	assert_int_equal(told_wait(&t), 1);
	dd_sqlite_fail_syncs(false);
	assert_int_equal(t.rc, DD_ERR_IO);
	assert_non_null(strstr(t.msg, "sync"));
	/* the handle refuses what follows, and so does the next call */
	assert_int_equal(dd_store_begin(g, &err), DD_ERR_IO);
	told_reset(&t);
	dd_store_sync_then(g, told_fn, &t);
	assert_int_equal(t.calls, 1);
	assert_int_equal(t.rc, DD_ERR_IO);
	dd_store_close(g);
	assert_int_equal(t.calls, 1);
	told_release(&t);
}

/*
 * A transaction bigger than SQLite's page cache (about 2 MB) spills pages
 * to the WAL before its commit; changing a spilled page again makes SQLite
 * rewrite frame headers after the commit frame, and the last of them only
 * reaches the file at the shared-memory barrier.  When that write fails,
 * the commit fails and the store refuses what follows, as after a failed
 * sync, although SQLite itself reported the commit done.
 */
static void test_late_wal_write_fails_commit(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease l = {0};
	char *big = calloc(4001, 1);
	long long first = 0;
	int rc;

	assert_non_null(big);
	memset(big, 'x', 4000);
	assert_ok(dd_store_begin(e->store, &err), &err);
	for (int i = 0; i < 700; i++) {
		memset(&l, 0, sizeof(l));
		l.type = "host";
		l.status = DD_LEASE_PENDING;
		l.attributes = json_pack("{s:s}", "pad", big);
		assert_ok(dd_store_lease_insert(e->store, &l, &err), &err);
		json_decref(l.attributes);
		if (!first)
			first = l.id;
	}
	assert_ok(dd_store_lease_get(e->store, first, &l, &err), &err);
	l.status = DD_LEASE_BROKEN;
	assert_ok(dd_store_lease_update(e->store, &l, &err), &err);
	dd_lease_release(&l);
	dd_sqlite_vfs_fail_late_writes(true);
	rc = dd_store_commit(e->store, &err);
	dd_sqlite_vfs_fail_late_writes(false);
	free(big);
	assert_int_equal(rc, DD_ERR_IO);
	assert_non_null(strstr(err.msg, "outcome of this commit is unknown"));
	assert_int_equal(dd_store_begin(e->store, &err), DD_ERR_IO);
	assert_non_null(strstr(err.msg, "restart drydock"));
}

static void test_sync_after_lazy_commits(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store_options group = {DD_DURABILITY_FULL, 1000, true, false};
	struct dd_store *g = NULL;
	struct dd_store *handles[2];
	long long n = 0;

	assert_ok(dd_store_open(e->path, &group, &g, &err), &err);
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

/* ---- store faults: deleted, emptied, damaged ---------------------------- */

/* A blueprint insert in its own transaction on `s`; returns its result. */
static int insert_one(struct dd_store *s, const char *name,
		      struct dd_error *err)
{
	struct dd_blueprint bp = {0};
	int rc = dd_store_begin(s, err);

	bp.type = "host";
	bp.name = (char *)name;
	bp.config = json_object();
	bp.enabled = true;
	if (!rc)
		rc = dd_store_blueprint_insert(s, &bp, err);
	if (rc)
		dd_store_rollback(s);
	else
		rc = dd_store_commit(s, err);
	json_decref(bp.config);
	return rc;
}

/*
 * Issue 10, item 6: a store deleted under open handles took their writes
 * (into the deleted file) and reported them done, also after 'drydock
 * init' made a new store at the path.  Every commit, on a plain handle
 * and through group commit, must now be refused, and a readiness check
 * must say so; a file moved away and back is the same store again.
 */
static void test_deleted_store_refuses_commits(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store_options group = {DD_DURABILITY_FULL, 1000, true, false};
	struct dd_store *g = NULL, *fresh = NULL;
	char away[PATH_MAX + 32];

	assert_ok(dd_store_open(e->path, &group, &g, &err), &err);
	assert_ok(insert_one(e->store, "before", &err), &err);
	assert_ok(insert_one(g, "before-g", &err), &err);
	assert_ok(dd_store_health(e->store, &err), &err);

	/* moved away: refused; moved back: the same file, taken again */
	snprintf(away, sizeof(away), "%s/away.db", e->dir);
	assert_int_equal(rename(e->path, away), 0);
	assert_int_equal(insert_one(e->store, "away", &err), DD_ERR_STORE);
	assert_non_null(strstr(err.msg, "was deleted or replaced while in use"));
	assert_int_equal(rename(away, e->path), 0);
	assert_ok(insert_one(e->store, "back", &err), &err);

	/* deleted, and a new store made at the path */
	assert_int_equal(unlink(e->path), 0);
	snprintf(away, sizeof(away), "%s-wal", e->path);
	unlink(away);
	snprintf(away, sizeof(away), "%s-shm", e->path);
	unlink(away);
	assert_int_equal(insert_one(e->store, "gone", &err), DD_ERR_STORE);
	assert_int_equal(insert_one(g, "gone-g", &err), DD_ERR_STORE);
	assert_non_null(strstr(err.msg, "was deleted or replaced while in use"));
	assert_ok(dd_store_open(e->path, NULL, &fresh, &err), &err);
	assert_ok(dd_store_migrate(fresh, &err), &err);
	assert_int_equal(insert_one(e->store, "new", &err), DD_ERR_STORE);
	assert_int_equal(insert_one(g, "new-g", &err), DD_ERR_STORE);
	/* the process's group connection still has the old file open */
	assert_int_equal(dd_store_health(fresh, &err), DD_ERR_STORE);
	assert_non_null(strstr(err.msg, "was deleted or replaced while in use"));
	dd_store_close(g);
	/* with it closed, the new store is fit, and takes writes */
	assert_ok(dd_store_health(fresh, &err), &err);
	assert_ok(insert_one(fresh, "new", &err), &err);
	dd_store_close(fresh);
}

/*
 * Issue 10, item 9: a store truncated to 0 bytes made the CLI wait for a
 * lock and exit 6, or make a new, empty database of it.  Opening it is
 * now refused as damaged, and the file is left as it was.
 */
static void test_empty_store_is_damaged(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *s = NULL;
	struct stat st;
	FILE *f;

	dd_store_close(e->store);
	e->store = NULL;
	f = fopen(e->path, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(dd_store_open_ready(e->path, NULL, &s, &err),
			 DD_ERR_DAMAGED);
	assert_null(s);
	assert_non_null(strstr(err.msg, "is damaged: the file is empty"));
	assert_int_equal(dd_err_exit_status(DD_ERR_DAMAGED), 15);
	assert_int_equal(dd_err_http_status(DD_ERR_DAMAGED), 503);
	assert_int_equal(stat(e->path, &st), 0);
	assert_int_equal(st.st_size, 0);
	/* and a file that is not a database at all */
	f = fopen(e->path, "w");
	assert_non_null(f);
	fputs("just text, long enough to have a header's worth of bytes\n", f);
	fclose(f);
	assert_int_equal(dd_store_open_ready(e->path, NULL, &s, &err),
			 DD_ERR_DAMAGED);
	assert_non_null(strstr(err.msg, "is damaged: the file is not a "
					"database"));
}

static void count_problem(void *arg, const char *text)
{
	(*(int *)arg)++;
	assert_non_null(text);
}

/*
 * Issue 10, item 9: a page overwritten inside the file was found by
 * integrity_check, but nothing in drydock reported it.  The check op
 * lists the problems and fails with DD_ERR_DAMAGED, and the damage is
 * recorded for the process: a health check (readiness) reports it.
 */
static void test_check_finds_damaged_page(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store_check c = {.quick = false};
	struct dd_store *s = NULL;
	char junk[4096];
	int problems = 0;
	FILE *f;

	assert_ok(dd_store_check(e->store, &c, &err), &err);
	assert_int_equal(c.problems, 0);
	assert_ok(dd_store_health(e->store, &err), &err);
	for (int i = 0; i < 40; i++) {
		char name[256];

		snprintf(name, sizeof(name), "bp-%03d-%0200d", i, i);
		assert_ok(insert_one(e->store, name, &err), &err);
	}
	dd_store_close(e->store);
	e->store = NULL;
	/* a page of blueprint rows, after the schema's pages */
	memset(junk, 0x5a, sizeof(junk));
	f = fopen(e->path, "r+b");
	assert_non_null(f);
	{
		long size;

		assert_int_equal(fseek(f, 0, SEEK_END), 0);
		size = ftell(f);
		assert_true(size >= 8 * 4096);
		assert_int_equal(fseek(f, size - 2 * 4096, SEEK_SET), 0);
	}
	assert_int_equal(fwrite(junk, 1, sizeof(junk), f), sizeof(junk));
	fclose(f);

	assert_ok(dd_store_open_ready(e->path, NULL, &s, &err), &err);
	c.problem = count_problem;
	c.arg = &problems;
	assert_int_equal(dd_store_check(s, &c, &err), DD_ERR_DAMAGED);
	assert_true(c.problems > 0);
	assert_int_equal(problems, c.problems);
	assert_non_null(strstr(err.msg, "is damaged: integrity_check found"));
	assert_int_equal(dd_store_health(s, &err), DD_ERR_DAMAGED);
	assert_non_null(strstr(err.msg, "is damaged: "));
	dd_store_close(s);
}

/*
 * Issue 10, item 12: /metrics counted every lease and resource by status
 * at each scrape, 133 ms on a store of a million finished leases.  The
 * finished ones are now kept in counters (migration 5's triggers) and
 * only the live ones counted: the pages a scrape reads must not grow
 * with the history.  Measured in pages fetched by a fresh connection
 * (the VFS counts its reads), not in time.
 */
static void test_stats_do_not_read_the_history(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store_stats st;
	struct dd_store *s = NULL;
	int current, newest;
	long long before, bp = add_blueprint(e->store, "b", "host", true);
	char sql[1024];
	sqlite3 *db;

	add_lease(e->store, "host", DD_LEASE_ACTIVE, 0, "t");
	add_lease(e->store, "host", DD_LEASE_DESTROYED, 0, "t");
	add_resource(e->store, bp, "host", DD_RESOURCE_ACTIVE);
	/* a long history, written as the bench's scale fixture writes it */
	assert_int_equal(sqlite3_open(e->path, &db), SQLITE_OK);
	snprintf(sql, sizeof(sql),
		 "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1"
		 " FROM c WHERE x < 60000) INSERT INTO lease(type, status,"
		 " owner, attributes, created, modified) SELECT 'host', 5,"
		 " 'history', '{}', 1, 1 FROM c;"
		 "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1"
		 " FROM c WHERE x < 20000) INSERT INTO resource(blueprint,"
		 " type, status, attributes, created, modified) SELECT %lld,"
		 " 'host', 4, '{}', 1, 1 FROM c;"
		 "UPDATE lease SET status = 5 WHERE status = 2;"
		 "PRAGMA wal_checkpoint(TRUNCATE);",
		 bp);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	assert_ok(dd_store_open_ready(e->path, NULL, &s, &err), &err);
	assert_ok(dd_store_schema_version(s, &current, &newest, &err), &err);
	before = dd_sqlite_vfs_reads();
	assert_ok(dd_store_stats(s, dd_now(), &st, &err), &err);
	if (dd_sqlite_vfs_reads() - before > 20)
		fail_msg("the stats read %lld pages of a store of 60000 "
			 "finished leases",
			 dd_sqlite_vfs_reads() - before);
	assert_int_equal(st.leases[DD_LEASE_DESTROYED], 60002);
	assert_int_equal(st.leases[DD_LEASE_ACTIVE], 0);
	assert_int_equal(st.resources[DD_RESOURCE_DESTROYED], 20000);
	assert_int_equal(st.resources[DD_RESOURCE_ACTIVE], 1);
	dd_store_close(s);
	/* a finished row deleted, or brought back, is counted out */
	assert_int_equal(sqlite3_open(e->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "DELETE FROM lease WHERE id = 2;"
				      "UPDATE resource SET status = 1 WHERE id"
				      " = (SELECT max(id) FROM resource);",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_ok(dd_store_stats(e->store, dd_now(), &st, &err), &err);
	assert_int_equal(st.leases[DD_LEASE_DESTROYED], 60001);
	assert_int_equal(st.resources[DD_RESOURCE_DESTROYED], 19999);
	assert_int_equal(st.resources[DD_RESOURCE_ACTIVE], 2);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_migrate_idempotent),
		T(test_open_ready_missing_store),
		T(test_open_location_forms),
		T(test_open_ready_unmigrated_store),
		T(test_open_ready_newer_store),
		T(test_open_ready_current_store),
		T(test_blueprint_round_trip),
		T(test_blueprint_notfound_and_exists),
		T(test_blueprint_list_filters),
		T(test_resource_round_trip),
		T(test_resource_list_filters),
		T(test_lease_round_trip),
		T(test_lease_list_filters),
		T(test_lease_each),
		T(test_command_round_trip_and_consume),
		T(test_log_round_trip_and_filters),
		T(test_slot_locks_all_or_nothing),
		T(test_slot_locks_inside_transaction),
		T(test_token_round_trip),
		T(test_token_notfound_and_exists),
		T(test_token_list),
		T(test_token_json_has_no_hash),
		T(test_idem_record_round_trip),
		T(test_idem_prune),
		T(test_idem_lease_create_all_or_nothing),
		T(test_idem_key_check),
		T(test_nested_commit),
		T(test_nested_inner_rollback),
		T(test_three_levels_middle_rollback),
		T(test_outer_rollback_and_stray_rollback),
		T(test_upgrade_from_version_1),
		T(test_group_second_transaction_busy),
		T(test_group_commit_contended),
		T(test_group_commit_sync_failure),
		T(test_second_writer_waits_then_busy),
		T(test_fault_injection_nth_call),
		T(test_fault_mid_transaction_writes_nothing),
		T(test_fault_code_is_passed_through),
		T(test_sync_after_lazy_commits),
		T(test_sync_then),
		T(test_sync_then_failed_sync),
		T(test_late_wal_write_fails_commit),
		T(test_deleted_store_refuses_commits),
		T(test_empty_store_is_damaged),
		T(test_check_finds_damaged_page),
		T(test_stats_do_not_read_the_history),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
