/*
 * test_pg_harness.c - the tests' PostgreSQL harness itself (pg_test.h),
 * on the run's throwaway server (DRYDOCK_TEST_PG, exported by
 * tests/run.sh): each pg_test_newdb() is a database of its own, empty and
 * reachable through the conninfo it gives, which keeps the server's other
 * settings; pg_test_drop_all() drops them; a database name that needs
 * quoting comes back from the conninfo unchanged.
 */
#include "testutil.h"

#include "pg_test.h"

/* The value of one keyword of a conninfo, or "" (into buf). */
static void conninfo_get(const char *ci, const char *key, char *buf, size_t n)
{
	char *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(ci, &perr);

	if (!opts)
		fail_msg("'%s' does not parse: %s", ci, perr ? perr : "");
	buf[0] = '\0';
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (!strcmp(o->keyword, key) && o->val)
			snprintf(buf, n, "%s", o->val);
	PQconninfoFree(opts);
}

/* The first field of the one row `sql` gives on `ci` (into buf). */
static void query1(const char *ci, const char *sql, char *buf, size_t n)
{
	PGconn *c = PQconnectdb(ci);
	PGresult *r;

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("cannot connect to '%s': %s", ci, PQerrorMessage(c));
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		fail_msg("'%s': %s", sql, PQerrorMessage(c));
	snprintf(buf, n, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
}

static long long count_dbs(const char *name)
{
	char sql[256], n[32];

	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM pg_database WHERE datname = '%s'", name);
	query1(pg_test_server(), sql, n, sizeof(n));
	return atoll(n);
}

static void test_newdb_fresh_empty_and_own(void **state)
{
	char a[1024], b[1024], da[64], db[64], got[256], want[256];
	static const char *const kept[] = {"host", "port", "user"};

	(void)state;
	pg_test_newdb(a, sizeof(a));
	pg_test_newdb(b, sizeof(b));
	conninfo_get(a, "dbname", da, sizeof(da));
	conninfo_get(b, "dbname", db, sizeof(db));
	assert_true(strncmp(da, "dd_", 3) == 0);
	assert_string_not_equal(da, db);
	/* each conninfo reaches its own database, and it is empty */
	query1(a, "SELECT current_database()", got, sizeof(got));
	assert_string_equal(got, da);
	query1(b, "SELECT current_database()", got, sizeof(got));
	assert_string_equal(got, db);
	query1(a,
	       "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON"
	       " n.oid = c.relnamespace WHERE n.nspname = 'public'",
	       got, sizeof(got));
	assert_string_equal(got, "0");
	/* only dbname differs from the server's conninfo */
	for (size_t i = 0; i < sizeof(kept) / sizeof(*kept); i++) {
		conninfo_get(pg_test_server(), kept[i], want, sizeof(want));
		conninfo_get(a, kept[i], got, sizeof(got));
		assert_string_equal(got, want);
	}
	/* what one test writes, another's database does not have */
	PGconn *c = PQconnectdb(a);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	pg_test_exec(c, "CREATE TABLE t AS SELECT 1 AS x", NULL);
	PQfinish(c);
	query1(b,
	       "SELECT count(*) FROM pg_tables WHERE tablename = 't'", got,
	       sizeof(got));
	assert_string_equal(got, "0");
	pg_test_drop_all();
}

static void test_drop_all(void **state)
{
	char a[1024], b[1024], da[64], db[64];

	(void)state;
	pg_test_newdb(a, sizeof(a));
	pg_test_newdb(b, sizeof(b));
	conninfo_get(a, "dbname", da, sizeof(da));
	conninfo_get(b, "dbname", db, sizeof(db));
	assert_int_equal(count_dbs(da), 1);
	assert_int_equal(count_dbs(db), 1);
	/* an open connection does not keep its database */
	PGconn *held = PQconnectdb(a);
	assert_int_equal(PQstatus(held), CONNECTION_OK);
	pg_test_drop_all();
	PQfinish(held);
	assert_int_equal(count_dbs(da), 0);
	assert_int_equal(count_dbs(db), 0);
	pg_test_drop_all(); /* nothing left: nothing done */
}

static void test_conninfo_quotes_the_name(void **state)
{
	static const char *const names[] = {"plain", "with space",
					    "it's", "back\\slash", "a=b"};
	char ci[1024], got[64];

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
		pg_test_conninfo(names[i], ci, sizeof(ci));
		conninfo_get(ci, "dbname", got, sizeof(got));
		assert_string_equal(got, names[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_newdb_fresh_empty_and_own),
		cmocka_unit_test(test_drop_all),
		cmocka_unit_test(test_conninfo_quotes_the_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
