/*
 * pg_driver.c - the SQL driver (sql.h) over libpq: the shared data
 * access of sql_*.c runs through these methods on a PostgreSQL handle.
 *
 * A statement of the shared dialect is translated once (?N becomes $N)
 * and prepared on the server the first time it runs on a connection,
 * under a name of its own, with the types of its first bindings (64-bit
 * integers as int8, times as float8, text and NULL left for the server
 * to infer from where they are used); later runs send only the values.
 * The per-handle cache keys a literal on its address and run-time text
 * (the list queries) on the text, as SQLite's does.  A reconnect
 * forgets the server-side names, and statements are prepared again.
 *
 * A statement runs whole at its first step(): its rows are held by the
 * client and handed out one by one, so a visitor may run other
 * statements on the same handle while it walks a list.  A walk (the
 * *_each operations, stream()) goes through a cursor instead, FETCH_ROWS
 * rows a fetch, so that listing a million leases holds a batch, not a
 * million rows: outside a transaction a cursor WITH HOLD (the server
 * keeps the result, spilling to disk, and the visitor's transactions do
 * not end it), inside one a plain cursor, which its end closes.  Values travel as
 * text; numbers are printed and parsed exactly (%lld, %.17g, strtod).
 * Failures are translated by dd_pg_fail() (pg.c), which also notices a
 * lost connection.
 */
#include "store/pg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* type oids from the server's catalog (pg_type.h is not in libpq-dev) */
#define INT8OID 20
#define FLOAT8OID 701
#define TEXTOID 25

/* rows a walk's cursor fetches at a time */
#define FETCH_ROWS 500

/*
 * The shared dialect's text as PostgreSQL's: ?N becomes $N outside
 * quoted strings; the highest N in *nparams.
 */
static char *translate(const char *sql, int *nparams, unsigned *used)
{
	size_t n = strlen(sql);
	char *out = dd_malloc(n + 1), *o = out;
	bool quoted = false;

	if (!out)
		return NULL;
	*nparams = 0;
	for (const char *c = sql; *c; c++) {
		if (*c == '\'')
			quoted = !quoted;
		if (!quoted && *c == '?' && c[1] >= '0' && c[1] <= '9') {
			int v = atoi(c + 1);

			if (v > *nparams)
				*nparams = v;
			if (v >= 1 && v <= PG_MAX_PARAMS)
				*used |= 1u << (v - 1);
			*o++ = '$';
			continue;
		}
		*o++ = *c;
	}
	*o = '\0';
	return out;
}

static void stmt_clear(struct dd_sql_stmt *st)
{
	for (int i = 0; i < PG_MAX_PARAMS; i++) {
		if (st->own[i])
			dd_free(st->values[i]);
		st->values[i] = NULL;
		st->own[i] = false;
		st->types[i] = 0;
	}
	PQclear(st->res);
	st->res = NULL;
	st->row = -1;
	st->ran = false;
	st->stream = false;
	st->cursor[0] = '\0';
	st->fetched_all = false;
}

/* Close a walk's cursor, if it is open (a failure leaves it to the end
 * of the transaction or the session, which close it anyway). */
static void cursor_close(struct pg *p, struct dd_sql_stmt *st)
{
	char sql[40];

	if (!st->cursor[0] || !p->conn || p->broken)
		return;
	snprintf(sql, sizeof(sql), "CLOSE %s", st->cursor);
	PQclear(PQexec(p->conn, sql));
	st->cursor[0] = '\0';
}

static void stmt_free(struct dd_sql_stmt *st)
{
	if (!st)
		return;
	stmt_clear(st);
	if (!st->key)
		dd_free((char *)st->src);
	dd_free(st->text);
	dd_free(st);
}

/* A statement for `sql` (a literal when `key`), cached when there is room. */
static int stmt_get(struct pg *p, const char *sql, bool key,
		    struct dd_sql_stmt **out, struct dd_error *err)
{
	struct dd_sql_stmt *st;

	for (size_t i = 0; i < p->ncache; i++) {
		st = p->cache[i];
		if (key ? st->key == sql : !st->key && !strcmp(st->src, sql)) {
			cursor_close(p, st);
			stmt_clear(st);
			*out = st;
			return 0;
		}
	}
	st = dd_calloc(1, sizeof(*st));
	if (st) {
		st->key = key ? sql : NULL;
		st->text = translate(sql, &st->nparams, &st->used);
		st->src = key ? sql : dd_strdup(sql);
	}
	if (!st || !st->text || !st->src) {
		stmt_free(st);
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	}
	if (st->nparams > PG_MAX_PARAMS) {
		int np = st->nparams;

		stmt_free(st);
		return dd_error_set(err, DD_ERR_INVALID,
				    "statement has %d parameters, more than %d",
				    np, PG_MAX_PARAMS);
	}
	st->row = -1;
	if (p->ncache < PG_STMT_CACHE) {
		st->cached = true;
		p->cache[p->ncache++] = st;
	}
	*out = st;
	return 0;
}

static int drv_prepare(struct dd_sql *h, const char *sql,
		       struct dd_sql_stmt **out, struct dd_error *err)
{
	return stmt_get(PG(&h->base), sql, true, out, err);
}

static int drv_prepare_text(struct dd_sql *h, const char *sql,
			    struct dd_sql_stmt **out, struct dd_error *err)
{
	return stmt_get(PG(&h->base), sql, false, out, err);
}

static void bind(struct dd_sql_stmt *st, int idx, char *v, bool own,
		 unsigned type)
{
	int i = idx - 1;

	if (i < 0 || i >= PG_MAX_PARAMS) {
		if (own)
			dd_free(v);
		return;
	}
	if (st->own[i])
		dd_free(st->values[i]);
	st->values[i] = v;
	st->own[i] = own;
	st->types[i] = type;
}

static void drv_bind_null(struct dd_sql_stmt *st, int idx)
{
	bind(st, idx, NULL, false, 0);
}

static void drv_bind_int64(struct dd_sql_stmt *st, int idx, long long v)
{
	if (idx < 1 || idx > PG_MAX_PARAMS)
		return;
	snprintf(st->num[idx - 1], sizeof(st->num[0]), "%lld", v);
	bind(st, idx, st->num[idx - 1], false, INT8OID);
}

static void drv_bind_double(struct dd_sql_stmt *st, int idx, double v)
{
	if (idx < 1 || idx > PG_MAX_PARAMS)
		return;
	snprintf(st->num[idx - 1], sizeof(st->num[0]), "%.17g", v);
	bind(st, idx, st->num[idx - 1], false, FLOAT8OID);
}

static int drv_bind_text(struct dd_sql_stmt *st, int idx, const char *s,
			 enum dd_sql_life life)
{
	char *v = (char *)s;

	if (life == DD_SQL_COPY && !(v = dd_strdup(s)))
		return DD_ERR_NOMEM;
	bind(st, idx, v, life != DD_SQL_STATIC, 0);
	return 0;
}

/*
 * The types to prepare `st` with: its bindings', and text for a
 * parameter the text does not use (it has no type to infer).
 */
static const Oid *param_types(const struct dd_sql_stmt *st, Oid *types)
{
	for (int i = 0; i < st->nparams; i++)
		types[i] = st->used & (1u << i) ? st->types[i] : TEXTOID;
	return types;
}

/* Prepare `st` on the server under a name of its own, if it has none. */
static int server_prepare(struct pg *p, struct dd_sql_stmt *st,
			  struct dd_error *err)
{
	Oid types[PG_MAX_PARAMS];
	char name[16];
	PGresult *res;

	if (st->name[0] || !st->cached)
		return 0;
	/* a parameter the text does not use has no type to infer */
	param_types(st, types);
	snprintf(name, sizeof(name), "s%d", ++p->next_name);
	res = PQprepare(p->conn, name, st->text, st->nparams, types);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return dd_pg_fail(p, res, err, "prepare");
	PQclear(res);
	memcpy(st->name, name, sizeof(name));
	return 0;
}

/* Rows changed, from the command's tag, for changes(): writes only. */
static void note_changes(struct pg *p, PGresult *res)
{
	const char *tag = PQcmdStatus(res);

	if (!strncmp(tag, "INSERT", 6) || !strncmp(tag, "UPDATE", 6) ||
	    !strncmp(tag, "DELETE", 6) || !strncmp(tag, "MERGE", 5))
		p->changes = atoll(PQcmdTuples(res));
}

/* The next batch of a walk's rows into st->res. */
static int fetch(struct pg *p, struct dd_sql_stmt *st, struct dd_error *err,
		 const char *what)
{
	char sql[48];

	PQclear(st->res);
	snprintf(sql, sizeof(sql), "FETCH %d FROM %s", FETCH_ROWS,
		 st->cursor);
	st->res = PQexec(p->conn, sql);
	st->row = -1;
	if (PQresultStatus(st->res) != PGRES_TUPLES_OK) {
		int rc = dd_pg_fail(p, st->res, err, what);

		st->res = NULL;
		st->cursor[0] = '\0';
		return rc;
	}
	st->fetched_all = PQntuples(st->res) < FETCH_ROWS;
	return 0;
}

/* Start a walk: declare its cursor and fetch the first batch. */
static int open_cursor(struct pg *p, struct dd_sql_stmt *st,
		       struct dd_error *err, const char *what)
{
	Oid types[PG_MAX_PARAMS];
	char *sql, head[64];
	PGresult *res;

	snprintf(st->cursor, sizeof(st->cursor), "c%d", ++p->next_cursor);
	snprintf(head, sizeof(head), "DECLARE %s NO SCROLL CURSOR%s FOR ",
		 st->cursor, p->in_txn ? "" : " WITH HOLD");
	sql = dd_malloc(strlen(head) + strlen(st->text) + 1);
	if (!sql) {
		st->cursor[0] = '\0';
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	}
	strcpy(sql, head);
	strcat(sql, st->text);
	res = PQexecParams(p->conn, sql, st->nparams, param_types(st, types),
			   (const char *const *)st->values, NULL, NULL, 0);
	dd_free(sql);
	st->ran = true;
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		st->cursor[0] = '\0';
		return dd_pg_fail(p, res, err, what);
	}
	PQclear(res);
	return fetch(p, st, err, what);
}

static int run(struct pg *p, struct dd_sql_stmt *st, struct dd_error *err,
	       const char *what)
{
	Oid types[PG_MAX_PARAMS];
	int rc;

	/* a statement of its own reconnects a lost connection first */
	if (!p->in_txn && (rc = dd_pg_ready(p, err)))
		return rc;
	if (!p->conn || p->broken)
		return dd_pg_fail(p, NULL, err, what);
	if (st->stream)
		return open_cursor(p, st, err, what);
	rc = server_prepare(p, st, err);
	if (rc)
		return rc;
	if (st->name[0])
		st->res = PQexecPrepared(p->conn, st->name, st->nparams,
					 (const char *const *)st->values, NULL,
					 NULL, 0);
	else
		st->res = PQexecParams(p->conn, st->text, st->nparams,
				       param_types(st, types),
				       (const char *const *)st->values, NULL,
				       NULL, 0);
	st->ran = true;
	st->row = -1;
	switch (PQresultStatus(st->res)) {
	case PGRES_COMMAND_OK:
		note_changes(p, st->res);
		return 0;
	case PGRES_TUPLES_OK:
		note_changes(p, st->res);
		return 0;
	default:
		rc = dd_pg_fail(p, st->res, err, what);
		st->res = NULL;
		return rc;
	}
}

static int drv_step(struct dd_sql *h, struct dd_sql_stmt *st,
		    struct dd_error *err, const char *what)
{
	if (!st->ran) {
		int rc = run(PG(&h->base), st, err, what);

		if (rc)
			return rc;
	}
	if (st->res && st->row + 1 >= PQntuples(st->res) && st->cursor[0] &&
	    !st->fetched_all) {
		int rc = fetch(PG(&h->base), st, err, what);

		if (rc)
			return rc;
	}
	if (!st->res || st->row + 1 >= PQntuples(st->res))
		return DD_SQL_DONE;
	st->row++;
	return DD_SQL_ROW;
}

static void drv_stream(struct dd_sql *h, struct dd_sql_stmt *st)
{
	(void)h;
	st->stream = true;
}

static long long drv_column_int64(struct dd_sql_stmt *st, int i)
{
	if (!st->res || st->row < 0 || PQgetisnull(st->res, st->row, i))
		return 0;
	return strtoll(PQgetvalue(st->res, st->row, i), NULL, 10);
}

static double drv_column_double(struct dd_sql_stmt *st, int i)
{
	if (!st->res || st->row < 0 || PQgetisnull(st->res, st->row, i))
		return 0;
	return strtod(PQgetvalue(st->res, st->row, i), NULL);
}

static const char *drv_column_text(struct dd_sql_stmt *st, int i)
{
	if (!st->res || st->row < 0 || PQgetisnull(st->res, st->row, i))
		return NULL;
	return PQgetvalue(st->res, st->row, i);
}

static int drv_insert(struct dd_sql *h, struct dd_sql_stmt *st, long long *id,
		      struct dd_error *err, const char *what)
{
	int rc = drv_step(h, st, err, what);

	if (rc < 0)
		return rc;
	if (rc != DD_SQL_ROW)
		return DD_ERR_NOTFOUND;
	*id = drv_column_int64(st, 0);
	return 0;
}

static void drv_done(struct dd_sql *h, struct dd_sql_stmt *st)
{
	cursor_close(PG(&h->base), st);
	if (st->cached)
		stmt_clear(st);
	else
		stmt_free(st);
}

static long long drv_changes(struct dd_sql *h)
{
	return PG(&h->base)->changes;
}

/*
 * PostgreSQL names a column's UNIQUE constraint TABLE_COLUMN_key; the
 * last failure's constraint is kept by dd_pg_fail().
 */
static bool drv_broke_unique(struct dd_sql *h, const char *table_column)
{
	struct pg *p = PG(&h->base);
	char want[96];
	size_t n = strcspn(table_column, ".");

	if (!table_column[n])
		return false;
	snprintf(want, sizeof(want), "%.*s_%s_key", (int)n, table_column,
		 table_column + n + 1);
	return !strcmp(p->constraint, want);
}

void dd_pg_driver_reset(struct pg *p)
{
	for (size_t i = 0; i < p->ncache; i++)
		p->cache[i]->name[0] = '\0';
}

void dd_pg_driver_free(struct pg *p)
{
	for (size_t i = 0; i < p->ncache; i++)
		stmt_free(p->cache[i]);
	p->ncache = 0;
}

const struct dd_sql_driver dd_pg_sql_driver = {
	.prepare = drv_prepare,
	.prepare_text = drv_prepare_text,
	.bind_null = drv_bind_null,
	.bind_int64 = drv_bind_int64,
	.bind_double = drv_bind_double,
	.bind_text = drv_bind_text,
	.step = drv_step,
	.column_int64 = drv_column_int64,
	.column_double = drv_column_double,
	.column_text = drv_column_text,
	.insert = drv_insert,
	.stream = drv_stream,
	.done = drv_done,
	.changes = drv_changes,
	.broke_unique = drv_broke_unique,
};
