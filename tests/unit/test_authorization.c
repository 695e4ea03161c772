/*
 * test_authorization.c - blueprint authorizations on every store backend
 * (store_test.h): the store's authorization_* operations (one row per
 * blueprint and requester, however often it is requested; the list's
 * filters; a decision that lost its race changes nothing; a held row
 * makes a decision wait for the placing transaction), and the library
 * over them (auth/authorization.h): deciding along the machine's edges
 * only, with its log entry, and who the requester of a lease is.
 */
#include "store_test.h"

#include "auth/authorization.h"

/* The row of (bp, requester), requested now. */
static struct dd_authorization request(struct dd_store *s, long long bp,
				       const char *requester)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_authorization a = {0};

	assert_ok(dd_store_authorization_request(s, bp, requester, dd_now(),
						 &a, &err),
		  &err);
	return a;
}

static void test_request_is_idempotent(void **state)
{
	struct store_env *e = *state;
	long long bp = add_blueprint(e->store, "ci-hosts", "host", true);
	double before = dd_now();
	struct dd_authorization a = request(e->store, bp, "token:ci");
	struct dd_authorization b = request(e->store, bp, "token:ci");
	struct dd_authorization c = request(e->store, bp, "cli:alice");

	assert_true(a.id > 0);
	assert_int_equal(b.id, a.id);
	assert_true(c.id != a.id);
	assert_int_equal(a.blueprint, bp);
	assert_string_equal(a.requester, "token:ci");
	assert_int_equal(a.state, DD_AUTHORIZATION_REQUESTED);
	assert_null(a.decided_by);
	assert_true(a.decided == 0);
	assert_true(a.created >= before - 1e-3);
	assert_float_equal(b.created, a.created, 1e-6);
	assert_float_equal(a.modified, a.created, 1e-6);
	dd_authorization_release(&a);
	dd_authorization_release(&b);
	dd_authorization_release(&c);
}

static void test_get_and_list_filters(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_authorization_list l = {0};
	struct dd_authorization got = {0};
	struct dd_filter f = {0};
	long long bp1 = add_blueprint(e->store, "one", "host", true);
	long long bp2 = add_blueprint(e->store, "two", "host", true);
	struct dd_authorization a = request(e->store, bp1, "token:ci");
	struct dd_authorization b = request(e->store, bp1, "cli:alice");
	struct dd_authorization c = request(e->store, bp2, "token:ci");

	assert_int_equal(dd_store_authorization_get(e->store, 4242, &got, &err),
			 DD_ERR_NOTFOUND);
	assert_string_equal(err.msg, "no such authorization: 4242");
	assert_ok(dd_store_authorization_get(e->store, b.id, &got, &err),
		  &err);
	assert_string_equal(got.requester, "cli:alice");
	assert_int_equal(got.blueprint, bp1);
	dd_authorization_release(&got);

	b.state = DD_AUTHORIZATION_DECLINED;
	assert_ok(dd_store_authorization_decide(e->store, &b,
						DD_AUTHORIZATION_REQUESTED,
						&err),
		  &err);

	assert_ok(dd_store_authorization_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.items[0].id, a.id); /* oldest first */
	dd_authorization_list_release(&l);

	f.blueprint = bp1;
	assert_ok(dd_store_authorization_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 2);
	dd_authorization_list_release(&l);

	f.owner = "token:ci";
	assert_ok(dd_store_authorization_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.items[0].id, a.id);
	dd_authorization_list_release(&l);

	memset(&f, 0, sizeof(f));
	f.status_mask = 1u << DD_AUTHORIZATION_DECLINED;
	assert_ok(dd_store_authorization_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.items[0].id, b.id);
	assert_int_equal(l.items[0].state, DD_AUTHORIZATION_DECLINED);
	dd_authorization_list_release(&l);

	memset(&f, 0, sizeof(f));
	f.descending = true;
	f.limit = 2;
	assert_ok(dd_store_authorization_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.items[0].id, c.id);
	assert_int_equal(l.items[1].id, b.id);
	dd_authorization_list_release(&l);
	f.before_id = b.id;
	assert_ok(dd_store_authorization_list(e->store, &f, &l, &err), &err);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.items[0].id, a.id);
	dd_authorization_list_release(&l);

	dd_authorization_release(&a);
	dd_authorization_release(&b);
	dd_authorization_release(&c);
}

/* A decision written over one that came first changes nothing. */
static void test_decide_compares_the_state(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_authorization got = {0};
	long long bp = add_blueprint(e->store, "ci-hosts", "host", true);
	struct dd_authorization a = request(e->store, bp, "token:ci");

	a.state = DD_AUTHORIZATION_APPROVED;
	a.decided_by = dd_strdup("token:ops");
	a.decided = a.modified = 1000.25;
	assert_ok(dd_store_authorization_decide(e->store, &a,
						DD_AUTHORIZATION_REQUESTED,
						&err),
		  &err);
	a.state = DD_AUTHORIZATION_DECLINED;
	assert_int_equal(dd_store_authorization_decide(
				 e->store, &a, DD_AUTHORIZATION_REQUESTED,
				 &err),
			 DD_ERR_STATE);
	assert_non_null(strstr(err.msg, "no longer requested"));
	assert_ok(dd_store_authorization_get(e->store, a.id, &got, &err),
		  &err);
	assert_int_equal(got.state, DD_AUTHORIZATION_APPROVED);
	assert_string_equal(got.decided_by, "token:ops");
	assert_float_equal(got.decided, 1000.25, 1e-6);
	assert_float_equal(got.modified, 1000.25, 1e-6);
	dd_authorization_release(&got);
	dd_authorization_release(&a);
}

/*
 * hold reads the state in the placing transaction and keeps the row:
 * a decision from another handle cannot commit until that transaction
 * ends (it waits, then gives up busy), and goes through after it.
 */
static void test_hold_keeps_decisions_out(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store_options quick = {.durability = DD_DURABILITY_FULL,
					 .busy_timeout_ms = 200};
	enum dd_authorization_state st = DD_AUTHORIZATION_DECLINED;
	long long bp = add_blueprint(e->store, "ci-hosts", "host", true);
	struct dd_authorization a = request(e->store, bp, "token:ci");
	struct dd_store *other = NULL;

	assert_ok(dd_store_begin(e->store, &err), &err);
	assert_int_equal(dd_store_authorization_hold(e->store, bp, "token:nobody",
						     &st, &err),
		      DD_ERR_NOTFOUND);
	assert_ok(dd_store_authorization_hold(e->store, bp, "token:ci", &st,
					      &err),
		  &err);
	assert_int_equal(st, DD_AUTHORIZATION_REQUESTED);

	assert_ok(dd_store_open(e->location, &quick, &other, &err), &err);
	assert_int_equal(dd_authorization_decide(other, a.id,
						 DD_AUTHORIZATION_APPROVED,
						 "token:ops", NULL, &err),
			 DD_ERR_BUSY);
	assert_ok(dd_store_commit(e->store, &err), &err);
	assert_ok(dd_authorization_decide(other, a.id,
					  DD_AUTHORIZATION_APPROVED,
					  "token:ops", NULL, &err),
		  &err);
	dd_store_close(other);

	assert_ok(dd_store_begin(e->store, &err), &err);
	assert_ok(dd_store_authorization_hold(e->store, bp, "token:ci", &st,
					      &err),
		  &err);
	assert_int_equal(st, DD_AUTHORIZATION_APPROVED);
	assert_ok(dd_store_commit(e->store, &err), &err);
	dd_authorization_release(&a);
}

/* The library's decide: the machine's edges, the record, the log. */
static void test_decide_follows_the_machine(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_authorization got = {0};
	struct dd_log_entry_list log = {0};
	struct dd_filter f = {0};
	long long bp = add_blueprint(e->store, "ci-hosts", "host", true);
	struct dd_authorization a = request(e->store, bp, "token:ci");
	double before = dd_now();

	assert_int_equal(dd_authorization_decide(e->store, 999,
						 DD_AUTHORIZATION_APPROVED,
						 "token:ops", NULL, &err),
			 DD_ERR_NOTFOUND);
	assert_string_equal(err.msg, "no such authorization: 999");
	assert_int_equal(dd_authorization_decide(e->store, a.id,
						 DD_AUTHORIZATION_REQUESTED,
						 "token:ops", NULL, &err),
			 DD_ERR_STATE);

	assert_ok(dd_authorization_decide(e->store, a.id,
					  DD_AUTHORIZATION_APPROVED,
					  "token:ops", &got, &err),
		  &err);
	assert_int_equal(got.state, DD_AUTHORIZATION_APPROVED);
	assert_string_equal(got.decided_by, "token:ops");
	assert_true(got.decided >= before - 1e-3);
	dd_authorization_release(&got);
	assert_int_equal(dd_authorization_decide(e->store, a.id,
						 DD_AUTHORIZATION_APPROVED,
						 "token:ops", NULL, &err),
			 DD_ERR_STATE);
	assert_string_equal(err.msg, "authorization 1 is already approved");

	assert_ok(dd_authorization_decide(e->store, a.id,
					  DD_AUTHORIZATION_DECLINED,
					  "cli:alice@build1", &got, &err),
		  &err);
	assert_string_equal(got.decided_by, "cli:alice@build1");
	dd_authorization_release(&got);
	assert_ok(dd_authorization_decide(e->store, a.id,
					  DD_AUTHORIZATION_APPROVED,
					  "token:ops", NULL, &err),
		  &err);

	/* a request after decisions leaves them as they are */
	got = request(e->store, bp, "token:ci");
	assert_int_equal(got.state, DD_AUTHORIZATION_APPROVED);
	dd_authorization_release(&got);

	f.blueprint = bp;
	assert_ok(dd_store_log_list(e->store, &f, &log, &err), &err);
	assert_int_equal(log.n, 3);
	assert_string_equal(log.items[0].type, "authorization.approved");
	assert_string_equal(log.items[1].type, "authorization.declined");
	assert_string_equal(
		json_string_value(json_object_get(log.items[1].data, "by")),
		"cli:alice@build1");
	assert_string_equal(json_string_value(json_object_get(
				    log.items[1].data, "requester")),
			    "token:ci");
	dd_log_entry_list_release(&log);
	dd_authorization_release(&a);
}

static void expect_requester(struct dd_store *s, const char *owner,
			     const char *want)
{
	struct dd_error err = DD_ERROR_INIT;
	char buf[DD_REQUESTER_MAX];

	assert_ok(dd_authorization_requester(s, owner, buf, sizeof(buf), &err),
		  &err);
	if (strcmp(buf, want))
		fail_msg("requester of '%s': '%s', want '%s'", owner, buf,
			 want);
}

/* Who asks: a token, a CLI user on any host, a blueprint for its objects. */
static void test_requester_of_an_owner(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	char buf[DD_REQUESTER_MAX], owner[64];
	long long wc = add_blueprint(e->store, "wc", "working-copy", true);
	long long hosts = add_blueprint(e->store, "hosts", "host", true);
	long long r = add_resource(e->store, wc, "working-copy",
				   DD_RESOURCE_ACTIVE);
	long long hr = add_resource(e->store, hosts, "host",
				    DD_RESOURCE_ACTIVE);
	long long placed = add_lease(e->store, "host", DD_LEASE_ACTIVE, hr,
				     "token:ci");
	long long waiting = add_lease(e->store, "host", DD_LEASE_PENDING, 0,
				      "cli:bob@laptop");

	expect_requester(e->store, "token:ci", "token:ci");
	expect_requester(e->store, "cli:alice@build1", "cli:alice");
	expect_requester(e->store, "cli:alice@build2", "cli:alice");
	expect_requester(e->store, "cli:alice", "cli:alice");
	snprintf(owner, sizeof(owner), "resource:%lld", r);
	snprintf(buf, sizeof(buf), "blueprint:%lld", wc);
	expect_requester(e->store, owner, buf);
	/* a lease's: the blueprint of its resource, else its own owner's */
	snprintf(owner, sizeof(owner), "lease:%lld", placed);
	snprintf(buf, sizeof(buf), "blueprint:%lld", hosts);
	expect_requester(e->store, owner, buf);
	snprintf(owner, sizeof(owner), "lease:%lld", waiting);
	expect_requester(e->store, owner, "cli:bob");
	/* an object gone, or none: the owner as it is */
	expect_requester(e->store, "resource:9999", "resource:9999");
	expect_requester(e->store, "lease:9999", "lease:9999");
	expect_requester(e->store, "target:3", "target:3");
	expect_requester(e->store, "someone", "someone");

	assert_int_equal(dd_authorization_requester(e->store, "", buf,
						    sizeof(buf), &err),
			 DD_ERR_INVALID);
	assert_int_equal(dd_authorization_requester(e->store, NULL, buf,
						    sizeof(buf), &err),
			 DD_ERR_INVALID);
	assert_string_equal(err.msg, "the lease has no owner to authorize");
}

static void test_required_by_config(void **state)
{
	struct dd_blueprint bp = {0};

	(void)state;
	assert_false(dd_authorization_required(&bp));
	bp.config = json_pack("{s:s}", "authorization", "required");
	assert_true(dd_authorization_required(&bp));
	json_object_set_new(bp.config, "authorization", json_string("none"));
	assert_false(dd_authorization_required(&bp));
	json_object_set_new(bp.config, "authorization", json_true());
	assert_false(dd_authorization_required(&bp));
	json_decref(bp.config);
}

#define SUITE(X)                                                               \
	X(test_request_is_idempotent)                                          \
	X(test_get_and_list_filters)                                           \
	X(test_decide_compares_the_state)                                      \
	X(test_hold_keeps_decisions_out)                                       \
	X(test_decide_follows_the_machine)                                     \
	X(test_requester_of_an_owner)                                          \
	X(test_required_by_config)

STORE_SUITE_MAIN("authorizations", SUITE)
