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

/*
 * Send `payload` to each of the `n` channels on the connection of store
 * handle `s` (pg_wake.c's notifications, sent on a connection the caller
 * already has): true once sent; false, sending nothing, when `s` is no
 * PostgreSQL store, has no working connection, is in a transaction, or
 * the statement failed.  One round trip; the commit does not wait for
 * the disk (synchronous_commit off for it alone).
 */
bool dd_pg_notify_on(struct dd_store *s, const char *const *channels,
		     size_t n, const char *payload);
/*
 * Run `sql`, a query of one row and column taking one text parameter
 * `value`, on the connection of store handle `s` (as dd_pg_notify_on):
 * true with the integer it gives in *out; false when `s` cannot lend its
 * connection or the query failed.
 */
bool dd_pg_count_on(struct dd_store *s, const char *sql, const char *value,
		    long long *out);

#endif
