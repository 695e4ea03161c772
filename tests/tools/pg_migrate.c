/*
 * pg_migrate.c - the tests' way to migrate a PostgreSQL database with
 * store/pg_migrate.c, until a PostgreSQL store opens one itself
 * (tests/integration/pg_schema.sh).
 *
 * usage: pg_migrate CONNINFO            apply what is missing; prints
 *                                       "migrated from N to M" or
 *                                       "up to date (schema version M)"
 *        pg_migrate --version CONNINFO  prints "CURRENT NEWEST"
 * CONNINFO is a postgres:// URL or libpq's key=value form.  Exits 1 with
 * the reason on stderr when the database cannot be reached or migrated.
 */
#include "store/pg_migrate.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	struct dd_error err = DD_ERROR_INIT;
	bool version = argc == 3 && !strcmp(argv[1], "--version");
	const char *conninfo = argv[argc - 1];
	PGconn *c;
	int from = 0, to = 0, rc;

	if (argc != 2 && !version) {
		fprintf(stderr, "usage: pg_migrate [--version] CONNINFO\n");
		return 2;
	}
	c = PQconnectdb(conninfo);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "pg_migrate: cannot connect: %s",
			PQerrorMessage(c));
		PQfinish(c);
		return 1;
	}
	if (version) {
		rc = dd_pg_schema_version(c, &from, &to, &err);
		if (!rc)
			printf("%d %d\n", from, to);
	} else {
		rc = dd_pg_migrate(c, &from, &err);
		dd_pg_schema_version(c, &to, &(int){0}, NULL);
		if (!rc && from == to)
			printf("up to date (schema version %d)\n", to);
		else if (!rc)
			printf("migrated from %d to %d\n", from, to);
	}
	PQfinish(c);
	if (rc)
		fprintf(stderr, "pg_migrate: %s\n", err.msg);
	return rc ? 1 : 0;
}
