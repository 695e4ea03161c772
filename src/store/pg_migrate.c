/*
 * pg_migrate.c - brings a PostgreSQL database to schema_pg.h's newest
 * schema (see pg_migrate.h), recording each migration applied in
 * schema_migration.
 */
#include "store/pg_migrate.h"

#include "store/schema_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the advisory lock migrations hold: "drydock" in ASCII */
#define MIGRATE_LOCK "28273363372696427"

/* The server's message for `res` (or the connection's), one line. */
static int pg_fail(PGconn *c, PGresult *res, struct dd_error *err,
		   const char *what)
{
	const char *msg = res ? PQresultErrorMessage(res) : "";
	int n;

	if (!*msg)
		msg = PQerrorMessage(c);
	n = (int)strcspn(msg, "\n");
	dd_error_set(err, DD_ERR_STORE, "%s: %.*s", what, n,
		     *msg ? msg : "no answer from the server");
	PQclear(res);
	return DD_ERR_STORE;
}

/* Run SQL that returns no rows; DD_ERR_STORE saying `what` on failure. */
static int run(PGconn *c, const char *sql, struct dd_error *err,
	       const char *what)
{
	PGresult *res = PQexec(c, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK)
		return pg_fail(c, res, err, what);
	PQclear(res);
	return 0;
}

/* The highest migration recorded, 0 if none, -1 without the table. */
static int read_version(PGconn *c, int *out, struct dd_error *err)
{
	PGresult *res = PQexec(
		c, "SELECT CASE WHEN to_regclass('" DD_PG_VERSION_TABLE "')"
		   " IS NULL THEN -1 ELSE 0 END");

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		return pg_fail(c, res, err, "cannot read the schema version");
	*out = -1;
	if (atoi(PQgetvalue(res, 0, 0)) < 0) {
		PQclear(res);
		return 0;
	}
	PQclear(res);
	res = PQexec(c, "SELECT coalesce(max(version), 0) FROM " DD_PG_VERSION_TABLE);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		return pg_fail(c, res, err, "cannot read the schema version");
	*out = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

int dd_pg_schema_version(PGconn *c, int *current, int *newest,
			 struct dd_error *err)
{
	int rc = read_version(c, current, err);

	*newest = DD_PG_SCHEMA_VERSION;
	if (!rc && *current < 0)
		*current = 0;
	return rc;
}

/* Apply migration v (0-based) and record it. */
static int apply(PGconn *c, int v, struct dd_error *err)
{
	char what[64], n[16];
	const char *param[1] = {n};
	PGresult *res;

	snprintf(what, sizeof(what), "schema migration %d failed", v + 1);
	if (run(c, dd_pg_migrations[v], err, what))
		return DD_ERR_STORE;
	snprintf(n, sizeof(n), "%d", v + 1);
	res = PQexecParams(c,
			   "INSERT INTO " DD_PG_VERSION_TABLE "(version, applied)"
			   " VALUES($1, extract(epoch FROM clock_timestamp())"
			   "::DOUBLE PRECISION)",
			   1, NULL, param, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return pg_fail(c, res, err, what);
	PQclear(res);
	return 0;
}

int dd_pg_migrate(PGconn *c, int *from, struct dd_error *err)
{
	int v = 0, rc;

	if (PQstatus(c) != CONNECTION_OK)
		return pg_fail(c, NULL, err, "cannot migrate the database");
	rc = run(c, "BEGIN", err, "cannot migrate the database");
	if (rc)
		return rc;
	rc = run(c, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")", err,
		 "cannot lock the schema for migration");
	if (!rc)
		rc = read_version(c, &v, err);
	if (!rc && v > DD_PG_SCHEMA_VERSION)
		rc = dd_error_set(err, DD_ERR_STORE,
				  "database '%s' has schema version %d, newer "
				  "than this drydock's %d",
				  PQdb(c), v, DD_PG_SCHEMA_VERSION);
	if (!rc && v < 0)
		rc = run(c,
			 "CREATE TABLE " DD_PG_VERSION_TABLE
			 "(version INTEGER PRIMARY KEY,"
			 " applied DOUBLE PRECISION NOT NULL)",
			 err, "cannot record the schema version");
	if (v < 0)
		v = 0;
	for (int i = v; !rc && i < DD_PG_SCHEMA_VERSION; i++)
		rc = apply(c, i, err);
	if (!rc)
		rc = run(c, "COMMIT", err, "cannot commit the schema migration");
	if (rc) {
		PQclear(PQexec(c, "ROLLBACK"));
		return rc;
	}
	if (from)
		*from = v;
	return 0;
}
