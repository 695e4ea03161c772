/*
 * sqlite_driver.c - the SQL driver (sql.h) over SQLite: the shared data
 * access of sql_*.c runs through these methods on a SQLite handle.
 *
 * A statement is a sqlite3_stmt itself, prepared through the handle's
 * statement cache (prep() in sqlite_internal.h, keyed on the SQL's
 * address; list queries keyed on their text), so the shared code reuses
 * prepared statements exactly as the backend's own code does.  The
 * shared dialect is SQLite's own (?N parameters), but for one thing:
 * an insert's " RETURNING id" is left out when it is prepared, and the
 * id read with sqlite3_last_insert_rowid(), which costs nothing, where
 * SQLite's RETURNING fills an ephemeral table on every run (1 to 2 us an
 * insert more); and a read's row lock, " FOR SHARE" or " FOR NO KEY
 * UPDATE" (sql.h), is left out too: SQLite has one writer at a time, so
 * a read inside a write transaction holds what it read until the commit
 * anyway.  Failures are translated by
 * dd_sq_fail() (sqlite.c), which also records damage.
 */
#include "store/sqlite_internal.h"

#include <string.h>

static sqlite3_stmt *ST(struct dd_sql_stmt *st)
{
	return (sqlite3_stmt *)st;
}

static const char returning_id[] = " RETURNING id";
static const char *const row_locks[] = {" FOR SHARE", " FOR NO KEY UPDATE"};

/* Does `sql`, `n` bytes long, end with `tail`?  Then drop it from n. */
static void drop_tail(const char *sql, size_t *n, const char *tail)
{
	size_t t = strlen(tail);

	if (*n > t && !memcmp(sql + *n - t, tail, t))
		*n -= t;
}

static int drv_prepare(struct dd_sql *h, const char *sql,
		       struct dd_sql_stmt **out, struct dd_error *err)
{
	size_t n = strlen(sql);
	sqlite3_stmt *st;
	int rc;

	drop_tail(sql, &n, returning_id); /* drv_insert() reads the id */
	for (size_t i = 0; i < sizeof(row_locks) / sizeof(*row_locks); i++)
		drop_tail(sql, &n, row_locks[i]);
	rc = prep_n(SQ(&h->base), sql, (int)n, &st, err);
	if (!rc)
		*out = (struct dd_sql_stmt *)st;
	return rc;
}

/* The same few filters come back on every pass: keep them prepared. */
static int drv_prepare_text(struct dd_sql *h, const char *sql,
			    struct dd_sql_stmt **out, struct dd_error *err)
{
	struct sq *q = SQ(&h->base);
	sqlite3_stmt *st;
	char *copy;
	int rc;

	for (size_t i = 0; i < q->ndyn; i++) {
		if (q->dyn[i].db == q->db && !strcmp(q->dyn[i].sql, sql)) {
			sqlite3_reset(q->dyn[i].st);
			sqlite3_clear_bindings(q->dyn[i].st);
			*out = (struct dd_sql_stmt *)q->dyn[i].st;
			return 0;
		}
	}
	rc = sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
				NULL);
	if (rc != SQLITE_OK)
		return dd_sq_fail(q, rc, err, "prepare list");
	if (q->ndyn < DYN_CACHE && (copy = dd_strdup(sql))) {
		q->dyn[q->ndyn].sql = copy;
		q->dyn[q->ndyn].db = q->db;
		q->dyn[q->ndyn].st = st;
		q->ndyn++;
	}
	*out = (struct dd_sql_stmt *)st;
	return 0;
}

static void drv_bind_null(struct dd_sql_stmt *st, int idx)
{
	sqlite3_bind_null(ST(st), idx);
}

static void drv_bind_int64(struct dd_sql_stmt *st, int idx, long long v)
{
	sqlite3_bind_int64(ST(st), idx, v);
}

static void drv_bind_double(struct dd_sql_stmt *st, int idx, double v)
{
	sqlite3_bind_double(ST(st), idx, v);
}

static int drv_bind_text(struct dd_sql_stmt *st, int idx, const char *s,
			 enum dd_sql_life life)
{
	int rc = sqlite3_bind_text(ST(st), idx, s, -1,
				   life == DD_SQL_OWN	   ? dd_free
				   : life == DD_SQL_COPY ? SQLITE_TRANSIENT
							 : SQLITE_STATIC);

	return rc == SQLITE_OK ? 0 : DD_ERR_NOMEM;
}

static int drv_step(struct dd_sql *h, struct dd_sql_stmt *st,
		    struct dd_error *err, const char *what)
{
	int rc = sqlite3_step(ST(st));

	if (rc == SQLITE_ROW)
		return DD_SQL_ROW;
	if (rc == SQLITE_DONE)
		return DD_SQL_DONE;
	return dd_sq_fail(SQ(&h->base), rc, err, what);
}

static int drv_insert(struct dd_sql *h, struct dd_sql_stmt *st, long long *id,
		      struct dd_error *err, const char *what)
{
	sqlite3 *db = SQ(&h->base)->db;
	int rc = drv_step(h, st, err, what);

	if (rc < 0)
		return rc;
	if (rc == DD_SQL_ROW) /* prepared with its RETURNING after all */
		*id = sqlite3_column_int64(ST(st), 0);
	else if (sqlite3_changes(db))
		*id = sqlite3_last_insert_rowid(db);
	else
		return DD_ERR_NOTFOUND;
	return 0;
}

static long long drv_column_int64(struct dd_sql_stmt *st, int i)
{
	return sqlite3_column_int64(ST(st), i);
}

static double drv_column_double(struct dd_sql_stmt *st, int i)
{
	return sqlite3_column_double(ST(st), i);
}

static const char *drv_column_text(struct dd_sql_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(ST(st), i);
}

static void drv_done(struct dd_sql *h, struct dd_sql_stmt *st)
{
	done(SQ(&h->base), ST(st));
}

static long long drv_changes(struct dd_sql *h)
{
	return sqlite3_changes(SQ(&h->base)->db);
}

/* SQLite says "UNIQUE constraint failed: token.name". */
static bool drv_broke_unique(struct dd_sql *h, const char *table_column)
{
	return strstr(sqlite3_errmsg(SQ(&h->base)->db), table_column) != NULL;
}

const struct dd_sql_driver dd_sqlite_sql_driver = {
	.prepare = drv_prepare,
	.prepare_text = drv_prepare_text,
	.bind_null = drv_bind_null,
	.bind_int64 = drv_bind_int64,
	.bind_double = drv_bind_double,
	.bind_text = drv_bind_text,
	.step = drv_step,
	.insert = drv_insert,
	.column_int64 = drv_column_int64,
	.column_double = drv_column_double,
	.column_text = drv_column_text,
	.done = drv_done,
	.changes = drv_changes,
	.broke_unique = drv_broke_unique,
};
