/*
 * copy.h - moving a store's rows from SQLite to PostgreSQL (`drydock
 * migrate-store`), for a site that outgrows one machine.
 *
 * Both schemas have the same tables and columns (tests/integration/
 * pg_schema.sh holds them to it), so the copy is table by table, row by
 * row, values as they are: ids, times, JSON text and file chunks alike,
 * and the counters as the source has them.  It is all or nothing: the
 * destination's rows are written in one transaction.
 */
#ifndef DD_STORE_COPY_H
#define DD_STORE_COPY_H

#include "core/error.h"

/* Told after each table: its name and how many rows were copied. */
typedef void dd_store_copy_progress_fn(void *arg, const char *table,
				       long long rows);

/*
 * Copy every row of the SQLite store at `from` (at this drydock's
 * schema, with no daemon or server running on it: refused otherwise,
 * since their later writes would be lost) into the PostgreSQL store at
 * `to`, which is migrated first and must hold no objects yet (refused
 * otherwise, unchanged).  The source is held write-locked throughout,
 * so nothing changes it halfway.  Identity sequences are moved past the
 * copied ids, so new objects get new ids.  Returns 0 or a DD_ERR_* with
 * `err` set; on failure the destination is as it was.
 */
int dd_store_copy(const char *from, const char *to,
		  dd_store_copy_progress_fn *progress, void *arg,
		  struct dd_error *err);

#endif
