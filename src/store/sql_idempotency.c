/*
 * sql_idempotency.c - idempotency records in a SQL store (the store.h
 * methods idem_*), written once over the driver (sql.h).
 *
 * One row per (caller, key), written in the transaction that creates the
 * object it names.  A create that looks its key up inside its
 * transaction sees any earlier create's record where write transactions
 * are serialised (SQLite); the primary key is what still keeps a second
 * record out on a backend where they are not, and the insert's
 * ON CONFLICT takes over only a record older than `since`.
 */
#include "store/sql.h"
#include "store/sql_ops.h"

#include <stdio.h>
#include <string.h>

/* Copy column i into dst[n]; nonzero if it was cut. */
static int copy_text(struct dd_sql *h, struct dd_sql_stmt *st, int i,
		     char *dst, size_t n)
{
	const char *t = dd_sql_col_str(h, st, i);

	return snprintf(dst, n, "%s", t ? t : "") >= (int)n;
}

/* dd_sql_get()'s row; a field that does not fit leaves caller[0] '\0'. */
static int idem_row(struct dd_sql *h, struct dd_sql_stmt *st, void *arg)
{
	struct dd_idem_record *out = arg;
	bool cut = false;

	memset(out, 0, sizeof(*out));
	cut |= copy_text(h, st, 0, out->caller, sizeof(out->caller));
	cut |= copy_text(h, st, 1, out->key, sizeof(out->key));
	cut |= copy_text(h, st, 2, out->request, sizeof(out->request));
	cut |= copy_text(h, st, 3, out->hash, sizeof(out->hash));
	cut |= copy_text(h, st, 4, out->object_kind, sizeof(out->object_kind));
	out->object = dd_sql_col_int64(h, st, 5);
	out->created = dd_sql_col_double(h, st, 6);
	if (cut)
		out->caller[0] = '\0';
	return 0;
}

int dd_sql_idem_get(struct dd_store *s, const char *caller, const char *key,
		    double since, struct dd_idem_record *out,
		    struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h,
				"SELECT caller, key, request, hash,"
				" object_kind, object, created"
				" FROM idempotency WHERE caller = ?1"
				" AND key = ?2 AND created >= ?3",
				&st, err);

	if (rc)
		return rc;
	dd_sql_text(h, st, 1, caller);
	dd_sql_text(h, st, 2, key);
	dd_sql_double(h, st, 3, since);
	rc = dd_sql_get(h, st, idem_row, out, err, "get idempotency record");
	if (!rc && !out->caller[0])
		return dd_error_set(err, DD_ERR_STORE,
				    "store '%s': idempotency record of key "
				    "'%s' is malformed",
				    dd_sql_name(h), key);
	return rc;
}

int dd_sql_idem_insert(struct dd_store *s, const struct dd_idem_record *rec,
		       double since, struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h,
				"INSERT INTO idempotency(caller, key, request,"
				" hash, object_kind, object, created)"
				" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"
				" ON CONFLICT(caller, key) DO UPDATE SET"
				" request = excluded.request,"
				" hash = excluded.hash,"
				" object_kind = excluded.object_kind,"
				" object = excluded.object,"
				" created = excluded.created"
				" WHERE idempotency.created < ?8",
				&st, err);

	if (rc)
		return rc;
	dd_sql_text(h, st, 1, rec->caller);
	dd_sql_text(h, st, 2, rec->key);
	dd_sql_text(h, st, 3, rec->request);
	dd_sql_text(h, st, 4, rec->hash);
	dd_sql_text(h, st, 5, rec->object_kind);
	dd_sql_int64(h, st, 6, rec->object);
	dd_sql_double(h, st, 7, rec->created);
	dd_sql_double(h, st, 8, since);
	rc = dd_sql_exec(h, st, err, "insert idempotency record");
	if (!rc && dd_sql_changes(h) == 0)
		return dd_error_set(err, DD_ERR_EXISTS,
				    "idempotency key '%s' is already in use",
				    rec->key);
	return rc;
}

int dd_sql_idem_prune(struct dd_store *s, double before, int max, int *n,
		      struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h,
				"DELETE FROM idempotency WHERE (caller, key) IN"
				" (SELECT caller, key FROM idempotency"
				" WHERE created < ?1 ORDER BY created"
				" LIMIT ?2)",
				&st, err);

	*n = 0;
	if (rc)
		return rc;
	dd_sql_double(h, st, 1, before);
	dd_sql_int64(h, st, 2, max);
	rc = dd_sql_exec(h, st, err, "prune idempotency records");
	if (!rc)
		*n = (int)dd_sql_changes(h);
	return rc;
}
