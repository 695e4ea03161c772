/*
 * pg_test.h - fresh PostgreSQL databases for C tests, on the run's
 * throwaway server.
 *
 * tests/run.sh starts one server (tests/lib_pg.sh) for the whole run and
 * exports DRYDOCK_TEST_PG, a libpq key=value conninfo of its superuser on
 * the maintenance database (see docs/testing.md).  pg_test_newdb() makes
 * an empty database of a name no other test uses (dd_PID_N) and gives
 * its conninfo, the maintenance conninfo with only dbname changed, to
 * use as a store location.  pg_test_drop_all() drops every database
 * this process made, so that a long run does not pile them up on the
 * server (which is thrown away at the end anyway).
 *
 * Either fails the running cmocka test with a clear message when
 * DRYDOCK_TEST_PG is unset or the server refuses.  Only for tests: one
 * connection per call, and no thread safety.  libpq is reached as
 * drydock reaches it (store/pq.h: loaded on first use, not linked), so
 * the libpq functions called here must be among pq.c's.
 */
#ifndef DD_PG_TEST_H
#define DD_PG_TEST_H

#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/pq.h"

/* names of the databases made so far, for pg_test_drop_all() */
#define PG_TEST_MAX_DBS 256
static char pg_test_dbs[PG_TEST_MAX_DBS][64];
static int pg_test_ndbs;

/*
 * The server's conninfo, or fail the test saying how to get one; libpq
 * is loaded once this returns.
 */
static inline const char *pg_test_server(void)
{
	const char *ci = getenv("DRYDOCK_TEST_PG");
	struct dd_error err = DD_ERROR_INIT;

	if (!ci || !*ci)
		fail_msg("DRYDOCK_TEST_PG is not set: run the tests with "
			 "tests/run.sh (make check), or start a server by "
			 "hand (docs/testing.md, 'The tests on PostgreSQL')");
	if (dd_pq_load(&err))
		fail_msg("%s", err.msg);
	return ci;
}

/* A connection to the maintenance database as the superuser. */
static inline PGconn *pg_test_connect(void)
{
	const char *ci = pg_test_server();
	PGconn *c = PQconnectdb(ci);

	if (PQstatus(c) != CONNECTION_OK) {
		char msg[512];

		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
		msg[strcspn(msg, "\n")] = '\0';
		PQfinish(c);
		fail_msg("cannot connect to the test server (DRYDOCK_TEST_PG "
			 "'%s'): %s", ci, msg);
	}
	return c;
}

/*
 * Run `sql` on c; returns 0, or 1 when it failed with SQLSTATE `allowed`
 * (may be NULL); any other failure fails the test.
 */
static inline int pg_test_exec(PGconn *c, const char *sql,
			       const char *allowed)
{
	PGresult *r = PQexec(c, sql);
	const char *state;
	char msg[512];

	if (PQresultStatus(r) == PGRES_COMMAND_OK ||
	    PQresultStatus(r) == PGRES_TUPLES_OK) {
		PQclear(r);
		return 0;
	}
	state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	if (allowed && state && !strcmp(state, allowed)) {
		PQclear(r);
		return 1;
	}
	snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
	msg[strcspn(msg, "\n")] = '\0';
	PQclear(r);
	PQfinish(c);
	fail_msg("test server: '%s': %s", sql, msg);
	return -1;
}

/*
 * Write to buf the server's conninfo with dbname set to `db`: every
 * keyword PQconninfoParse() finds in it, values quoted as libpq reads
 * them ('...' with \\ and \').
 */
static inline void pg_test_conninfo(const char *db, char *buf, size_t n)
{
	char *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(pg_test_server(), &perr);
	size_t used = 0;

	if (!opts) {
		char msg[256];

		snprintf(msg, sizeof(msg), "%s", perr ? perr : "out of memory");
		PQfreemem(perr);
		fail_msg("DRYDOCK_TEST_PG is not a libpq conninfo: %s", msg);
	}
	buf[0] = '\0';
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		const char *v = strcmp(o->keyword, "dbname") ? o->val : db;

		if (!v)
			continue;
		used += (size_t)snprintf(buf + used, used < n ? n - used : 0,
					 "%s%s='", used ? " " : "", o->keyword);
		for (const char *p = v; *p; p++)
			used += (size_t)snprintf(buf + used,
						 used < n ? n - used : 0,
						 "%s%c",
						 *p == '\'' || *p == '\\' ? "\\"
									  : "",
						 *p);
		used += (size_t)snprintf(buf + used, used < n ? n - used : 0,
					 "'");
	}
	PQconninfoFree(opts);
	if (used >= n)
		fail_msg("the conninfo of database '%s' does not fit in %zu "
			 "bytes", db, n);
}

/*
 * Make a fresh, empty database of a name no other test uses and write
 * its conninfo to buf.
 */
static inline void pg_test_newdb(char *buf, size_t n)
{
	static int counter;
	PGconn *c = pg_test_connect();
	char name[64], sql[160];
	char *quoted;

	if (pg_test_ndbs == PG_TEST_MAX_DBS)
		fail_msg("more than %d test databases in one process",
			 PG_TEST_MAX_DBS);
	/* a name a process of the same pid made earlier in the run is
	   taken (42P04, duplicate_database): try the next one */
	do {
		snprintf(name, sizeof(name), "dd_%ld_%d", (long)getpid(),
			 ++counter);
		quoted = PQescapeIdentifier(c, name, strlen(name));
		if (!quoted) {
			PQfinish(c);
			fail_msg("cannot quote '%s'", name);
		}
		snprintf(sql, sizeof(sql),
			 "CREATE DATABASE %s STRATEGY file_copy", quoted);
		PQfreemem(quoted);
	} while (pg_test_exec(c, sql, "42P04"));
	PQfinish(c);
	snprintf(pg_test_dbs[pg_test_ndbs++], sizeof(*pg_test_dbs), "%s",
		 name);
	pg_test_conninfo(name, buf, n);
}

/*
 * Drop every database pg_test_newdb() made in this process, ending the
 * connections still open to them.
 */
static inline void pg_test_drop_all(void)
{
	PGconn *c;

	if (!pg_test_ndbs)
		return;
	c = pg_test_connect();
	for (int i = 0; i < pg_test_ndbs; i++) {
		char *quoted = PQescapeIdentifier(c, pg_test_dbs[i],
						  strlen(pg_test_dbs[i]));
		char sql[160];

		if (!quoted) {
			PQfinish(c);
			fail_msg("cannot quote '%s'", pg_test_dbs[i]);
		}
		snprintf(sql, sizeof(sql),
			 "DROP DATABASE IF EXISTS %s WITH (FORCE)", quoted);
		PQfreemem(quoted);
		pg_test_exec(c, sql, NULL);
	}
	pg_test_ndbs = 0;
	PQfinish(c);
}

#endif
