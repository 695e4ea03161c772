/*
 * test_allocator_pg.c - the allocator where only PostgreSQL lets it be:
 * another pass, on another connection, taking a key at the same moment.
 * SQLite's single writer never lets two placements overlap; PostgreSQL's
 * passes do, and a key another transaction is inserting is refused at
 * once as "being taken" (DD_ERR_BUSY), not waited for
 * (store/sql_slots.c).  On a fresh database of the run's server
 * (pg_test.h), with a worker draining the queue in the test's thread.
 *
 * The "host" blueprint "pool" has hosts "a" and "b" of one slot each; a
 * second handle holds a key of host "a" in an open transaction, as a
 * pass placing a lease there would.
 */
#include "testutil.h"
#include "pg_test.h"

struct fx {
	char loc[1024];
	char dir[PATH_MAX];
	char root[PATH_MAX + 16];
	struct dd_store *store;	 /* the requester's */
	struct dd_store *other;	 /* the other pass's */
	struct dd_worker w;
	long long bp;
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct dd_error err = DD_ERROR_INIT;
	struct dd_blueprint bp = {0};
	const char *tmp = getenv("TMPDIR");
	json_t *cfg;

	if (!x)
		return -1;
	pg_test_newdb(x->loc, sizeof(x->loc));
	snprintf(x->dir, sizeof(x->dir), "%s/dd-unit-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(x->dir));
	snprintf(x->root, sizeof(x->root), "%s/hosts", x->dir);
	setenv("DRYDOCK_STATE_DIR", x->dir, 1);
	assert_ok(dd_store_open(x->loc, NULL, &x->store, &err), &err);
	assert_ok(dd_store_migrate(x->store, &err), &err);
	assert_ok(dd_store_open(x->loc, NULL, &x->other, &err), &err);
	assert_ok(dd_worker_init(&x->w, x->loc, "t", &err), &err);
	cfg = json_pack("{s:[{s:s, s:i}, {s:s, s:i}], s:s}", "hosts", "name",
			"a", "slots", 1, "name", "b", "slots", 1, "root",
			x->root);
	assert_ok(dd_api_blueprint_create(x->store, "host", "pool", cfg, true,
					  &bp, &err),
		  &err);
	json_decref(cfg);
	x->bp = bp.id;
	dd_blueprint_release(&bp);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;

	dd_worker_release(&x->w);
	dd_store_close(x->other);
	dd_store_close(x->store);
	unsetenv("DRYDOCK_STATE_DIR");
	dd_remove_tree(x->dir);
	pg_test_drop_all();
	free(x);
	return 0;
}

/* The host of lease `id`'s resource ("" when it has none). */
static void lease_host(struct fx *x, long long id, char *buf, size_t n)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease l = {0};
	struct dd_resource r = {0};

	buf[0] = '\0';
	assert_ok(dd_store_lease_get(x->store, id, &l, &err), &err);
	if (l.resource) {
		assert_ok(dd_store_resource_get(x->store, l.resource, &r, &err),
			  &err);
		snprintf(buf, n, "%s",
			 json_string_value(json_object_get(r.attributes,
							   "host")));
		dd_resource_release(&r);
	}
	dd_lease_release(&l);
}

/* Run the tasks due now, none of them failing. */
static void drain(struct fx *x)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {.type = "failed"};
	struct dd_task_archive_list arch = {0};

	assert_ok(dd_worker_drain(&x->w, 100, &err), &err);
	assert_ok(dd_store_task_archive_list(x->store, &f, &arch, &err), &err);
	if (arch.n)
		fail_msg("task %s failed: %s", arch.items[0].kind,
			 arch.items[0].error ? arch.items[0].error : "?");
	dd_task_archive_list_release(&arch);
}

/*
 * The other handle opens a transaction and takes the key of each host
 * named in `hosts` ("a", "ab"), as a pass building there would; its
 * rollback gives them up.
 */
static void hold_hosts(struct fx *x, const char *hosts)
{
	struct dd_error err = DD_ERROR_INIT;
	char key[2][64];
	const char *keys[2];
	size_t n = 0;

	for (; hosts[n] && n < 2; n++) {
		snprintf(key[n], sizeof(key[n]), "blueprint:%lld:host:%c",
			 x->bp, hosts[n]);
		keys[n] = key[n];
	}
	assert_ok(dd_store_begin(x->other, &err), &err);
	assert_ok(dd_store_slot_acquire(x->other, keys, n,
					(struct dd_ref){DD_OBJ_RESOURCE, 999},
					&err),
		  &err);
}

/*
 * A new resource is to be built on host "a" while another pass is
 * taking that host's key: the allocator passes "a" over as taken and
 * builds on "b" in the same pass, instead of failing the whole pass as
 * busy and trying "a" again later.  Once the other pass gives "a" up,
 * the next lease is built there.
 */
static void test_host_being_taken_is_passed_over(void **state)
{
	struct fx *x = *state;
	char host[32];
	long long first, second;

	hold_hosts(x, "a");
	first = test_lease_new(x->store, "host", "test:pg");
	drain(x);
	assert_int_equal(test_lease_status(x->store, first), DD_LEASE_ACTIVE);
	lease_host(x, first, host, sizeof(host));
	assert_string_equal(host, "b");
	dd_store_rollback(x->other);

	second = test_lease_new(x->store, "host", "test:pg");
	drain(x);
	assert_int_equal(test_lease_status(x->store, second), DD_LEASE_ACTIVE);
	lease_host(x, second, host, sizeof(host));
	assert_string_equal(host, "a");
}

/*
 * Every host is being taken: the lease stays pending, its update due
 * again within a few busy retries (not at the idle cap, nor failed), and
 * placed once the other pass rolls back.
 */
static void test_all_hosts_being_taken_looks_again_soon(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {0};
	struct dd_task_list tl = {0};
	char host[32];
	double until;
	long long id;

	hold_hosts(x, "ab");
	id = test_lease_new(x->store, "host", "test:pg");
	drain(x);
	assert_int_equal(test_lease_status(x->store, id), DD_LEASE_PENDING);
	assert_ok(dd_store_task_list(x->store, &f, &tl, &err), &err);
	assert_int_equal(tl.n, 1);
	assert_int_equal(tl.items[0].object.kind, DD_OBJ_LEASE);
	assert_true(tl.items[0].not_before < dd_now() + 1.0);
	assert_null(tl.items[0].last_error);
	dd_task_list_release(&tl);
	dd_store_rollback(x->other);

	until = dd_now() + 30;
	while (test_lease_status(x->store, id) != DD_LEASE_ACTIVE) {
		if (dd_now() > until)
			fail_msg("lease %lld still not active", id);
		usleep(10 * 1000);
		drain(x);
	}
	lease_host(x, id, host, sizeof(host));
	assert_string_equal(host, "a");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_host_being_taken_is_passed_over, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_all_hosts_being_taken_looks_again_soon, setup,
			teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
