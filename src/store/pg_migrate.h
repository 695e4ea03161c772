/*
 * pg_migrate.h - brings a PostgreSQL database to schema_pg.h's newest
 * schema, and reads the version it has.
 *
 * The version is the highest migration recorded in schema_migration (0
 * when there is no such table: a database drydock never touched).  A
 * database that a newer drydock migrated is refused, not touched.
 */
#ifndef DD_PG_MIGRATE_H
#define DD_PG_MIGRATE_H

#include <libpq-fe.h>

#include "core/error.h"

/* The database's version in *current and this drydock's in *newest. */
int dd_pg_schema_version(PGconn *c, int *current, int *newest,
			 struct dd_error *err);

/*
 * Apply every migration the database lacks, all in one transaction (all
 * or none), holding a transaction-level advisory lock so that two
 * processes migrating at once apply each migration once.  *from, when
 * not NULL, gets the version found before.  DD_ERR_STORE with the
 * server's message when a statement fails or the database is newer.
 */
int dd_pg_migrate(PGconn *c, int *from, struct dd_error *err);

#endif
