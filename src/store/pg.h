/*
 * pg.h - the PostgreSQL backend, for store.c's table of backends: a
 * store whose location is a postgres:// or postgresql:// URI or libpq's
 * "keyword=value ..." string (pg.c).
 */
#ifndef DD_STORE_PG_H
#define DD_STORE_PG_H

#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>

extern const struct dd_store_ops dd_pg_store_ops;

struct pg_result;

/*
 * Run `sql`, one statement with `n` text parameters, on the connection
 * of store handle `s` (pg_wake.c's notifications and counts, on a
 * connection the caller already has, rather than one of its own): its
 * result, the caller's to PQclear(), once it ran; NULL, running nothing,
 * when `s` is no PostgreSQL store, has no working connection or is in a
 * transaction; NULL too when the statement failed, and then whatever it
 * left open is ended.  The statement is prepared once per connection
 * under the number `which` (0 to 31; each number always the same `sql`),
 * so that the server plans it once: planning pg_stat_activity's view
 * cost seven times running it.  One round trip, two the first time.
 */
struct pg_result *dd_pg_run_lent(struct dd_store *s, int which,
				 const char *sql, int n,
				 const char *const *values);

#endif
