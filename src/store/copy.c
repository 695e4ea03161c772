/*
 * copy.c - moving a store's rows from SQLite to PostgreSQL (copy.h).
 *
 * The source is read with SQLite's own API under BEGIN IMMEDIATE, which
 * keeps every writer out until the copy ends; the rows go to the
 * destination with COPY ... FROM STDIN in text format, one table at a
 * time, all inside one PostgreSQL transaction.  The tables and their
 * columns are read from both databases and must agree, name for name
 * and in order: a drydock whose two schemas drifted refuses to copy
 * rather than guess.  The counters go last and replace the ones the
 * destination's triggers counted while the rows went in, so they are
 * the source's exactly.
 */
#include "store/copy.h"
#include "store/pg_internal.h"
#include "store/schema_pg.h"
#include "store/store.h"
#include "queue/wake.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COPY_FLUSH (64 * 1024)

struct copy {
	sqlite3 *src;
	const char *from;
	struct pg *p;
	struct dd_buf line;
	struct dd_error *err;
};

static int src_fail(struct copy *c, const char *what)
{
	return dd_error_set(c->err, DD_ERR_STORE, "store '%s': %s: %s",
			    c->from, what, sqlite3_errmsg(c->src));
}

/* The columns of `table` in the source, in order, joined by ", ". */
static int src_columns(struct copy *c, const char *table, struct dd_buf *out)
{
	sqlite3_stmt *st;
	char sql[128];
	int rc;

	snprintf(sql, sizeof(sql), "PRAGMA table_info(\"%s\")", table);
	if (sqlite3_prepare_v2(c->src, sql, -1, &st, NULL) != SQLITE_OK)
		return src_fail(c, "read its tables");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		dd_buf_addf(out, "%s%s", out->len ? ", " : "",
			    (const char *)sqlite3_column_text(st, 1));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : src_fail(c, "read its tables");
}

/* The same of the destination's `table`; empty if it has no such table. */
static int dst_columns(struct copy *c, const char *table, struct dd_buf *out)
{
	const char *values[] = {table};
	PGresult *res = dd_pg_exec(
		c->p,
		"SELECT column_name FROM information_schema.columns"
		" WHERE table_schema = current_schema() AND table_name = $1"
		" ORDER BY ordinal_position",
		1, values, NULL, NULL, 0, c->err, "read its tables");

	if (!res)
		return c->err->code;
	for (int i = 0; i < PQntuples(res); i++)
		dd_buf_addf(out, "%s%s", out->len ? ", " : "",
			    PQgetvalue(res, i, 0));
	PQclear(res);
	return 0;
}

/* Add one value to a COPY text line: \N, a number, or escaped text. */
static void put_value(struct dd_buf *b, sqlite3_stmt *st, int i)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *v;
	int n;

	switch (sqlite3_column_type(st, i)) {
	case SQLITE_NULL:
		dd_buf_addstr(b, "\\N");
		break;
	case SQLITE_INTEGER:
		dd_buf_addf(b, "%lld",
			    (long long)sqlite3_column_int64(st, i));
		break;
	case SQLITE_FLOAT:
		dd_buf_addf(b, "%.17g", sqlite3_column_double(st, i));
		break;
	case SQLITE_BLOB:
		/* bytea's hex form, its backslash doubled for COPY */
		v = sqlite3_column_blob(st, i);
		n = sqlite3_column_bytes(st, i);
		dd_buf_addstr(b, "\\\\x");
		for (int k = 0; k < n; k++) {
			char two[3] = {hex[v[k] >> 4], hex[v[k] & 15], 0};

			dd_buf_addstr(b, two);
		}
		break;
	default:
		v = sqlite3_column_text(st, i);
		n = sqlite3_column_bytes(st, i);
		for (int k = 0; k < n; k++) {
			switch (v[k]) {
			case '\\':
				dd_buf_addstr(b, "\\\\");
				break;
			case '\t':
				dd_buf_addstr(b, "\\t");
				break;
			case '\n':
				dd_buf_addstr(b, "\\n");
				break;
			case '\r':
				dd_buf_addstr(b, "\\r");
				break;
			default:
				dd_buf_add(b, (const char *)v + k, 1);
			}
		}
	}
}

/* Send what the line buffer holds. */
static int put(struct copy *c)
{
	if (c->line.len &&
	    PQputCopyData(c->p->conn, c->line.buf, (int)c->line.len) != 1)
		return dd_pg_fail(c->p, NULL, c->err, "copy");
	c->line.len = 0;
	return 0;
}

/* Copy every row of `table`; its row count in *rows. */
static int copy_table(struct copy *c, const char *table, long long *rows)
{
	struct dd_buf cols = {0}, want = {0}, sql = {0};
	sqlite3_stmt *st = NULL;
	PGresult *res;
	int rc, ncol, step;

	*rows = 0;
	rc = src_columns(c, table, &cols);
	if (!rc)
		rc = dst_columns(c, table, &want);
	if (!rc && (!want.len || strcmp(cols.buf, want.buf)))
		rc = dd_error_set(c->err, DD_ERR_STORE,
				  "table '%s' differs between the stores "
				  "(%s: %s; the destination: %s): is the "
				  "destination another drydock's?",
				  table, c->from, cols.buf,
				  want.len ? want.buf : "no such table");
	if (!rc) {
		dd_buf_addf(&sql, "SELECT %s FROM \"%s\"", cols.buf, table);
		if (sqlite3_prepare_v2(c->src, sql.buf, -1, &st, NULL) !=
		    SQLITE_OK)
			rc = src_fail(c, "read its rows");
	}
	if (!rc) {
		sql.len = 0;
		dd_buf_addf(&sql, "COPY %s(%s) FROM STDIN", table, cols.buf);
		res = PQexec(c->p->conn, sql.buf);
		if (PQresultStatus(res) != PGRES_COPY_IN)
			rc = dd_pg_fail(c->p, res, c->err, "copy");
		else
			PQclear(res);
	}
	ncol = st ? sqlite3_column_count(st) : 0;
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		for (int i = 0; i < ncol; i++) {
			if (i)
				dd_buf_addstr(&c->line, "\t");
			put_value(&c->line, st, i);
		}
		dd_buf_addstr(&c->line, "\n");
		++*rows;
		if (c->line.len >= COPY_FLUSH)
			rc = put(c);
	}
	if (!rc && step != SQLITE_DONE)
		rc = src_fail(c, "read its rows");
	if (!rc)
		rc = put(c);
	if (st && PQputCopyEnd(c->p->conn, rc ? "drydock stopped" : NULL) != 1 &&
	    !rc)
		rc = dd_pg_fail(c->p, NULL, c->err, "copy");
	/* the COPY's own result, then the end of the command */
	while (st && (res = PQgetResult(c->p->conn))) {
		if (!rc && PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = dd_pg_fail(c->p, res, c->err, table);
		else
			PQclear(res);
	}
	sqlite3_finalize(st);
	dd_buf_release(&cols);
	dd_buf_release(&want);
	dd_buf_release(&sql);
	return rc;
}

/* Does the destination hold any object, or anything queued? */
static int dst_empty(struct copy *c, const char *to)
{
	PGresult *res = dd_pg_exec(
		c->p,
		"SELECT (SELECT count(*) FROM blueprint)"
		" + (SELECT count(*) FROM lease) + (SELECT count(*) FROM target)"
		" + (SELECT count(*) FROM token) + (SELECT count(*) FROM task)",
		0, NULL, NULL, NULL, 0, c->err, "look at the destination");
	long long n;

	if (!res)
		return c->err->code;
	n = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (n) {
		char shown[256];

		dd_store_location_shown(to, shown, sizeof(shown));
		return dd_error_set(c->err, DD_ERR_STATE,
				    "store '%s' is not empty (%lld blueprints, "
				    "leases, targets, tokens and tasks): "
				    "migrate-store copies into an empty store "
				    "only",
				    shown, n);
	}
	return 0;
}

/* Move every identity's sequence past the ids copied. */
static int move_sequences(struct copy *c)
{
	PGresult *res = dd_pg_exec(
		c->p,
		"SELECT table_name, column_name FROM information_schema.columns"
		" WHERE table_schema = current_schema() AND is_identity = 'YES'",
		0, NULL, NULL, NULL, 0, c->err, "read the identities");
	int rc = 0;

	if (!res)
		return c->err->code;
	for (int i = 0; !rc && i < PQntuples(res); i++) {
		const char *v[] = {PQgetvalue(res, i, 0),
				   PQgetvalue(res, i, 1)};
		struct dd_buf sql = {0};
		PGresult *r;

		dd_buf_addf(&sql,
			    "SELECT setval(pg_get_serial_sequence($1, $2),"
			    " max(%s)) FROM %s HAVING max(%s) IS NOT NULL",
			    v[1], v[0], v[1]);
		r = dd_pg_exec(c->p, sql.buf, 2, v, NULL, NULL, 0, c->err,
			       "move the identities");
		rc = r ? 0 : c->err->code;
		PQclear(r);
		dd_buf_release(&sql);
	}
	PQclear(res);
	return rc;
}

/* The source's tables, counter last. */
static int src_tables(struct copy *c, char ***out, size_t *n)
{
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(c->src,
			       "SELECT name FROM sqlite_master WHERE type ="
			       " 'table' AND name NOT LIKE 'sqlite_%'"
			       " ORDER BY name = 'counter', name",
			       -1, &st, NULL) != SQLITE_OK)
		return src_fail(c, "read its tables");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char **more = dd_realloc(*out, (*n + 1) * sizeof(**out));

		if (!more || !(more[*n] = dd_strdup((const char *)
						    sqlite3_column_text(st, 0)))) {
			*out = more ? more : *out;
			sqlite3_finalize(st);
			return dd_error_set(c->err, DD_ERR_NOMEM,
					    "out of memory");
		}
		*out = more;
		++*n;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : src_fail(c, "read its tables");
}

/* Run `sql` (no rows wanted) on the destination, for the counters. */
static int run_on_dst(struct copy *c, const char *sql)
{
	PGresult *res = dd_pg_exec(c->p, sql, 0, NULL, NULL, NULL, 0, c->err,
				   "copy the counters");
	int rc = res ? 0 : c->err->code;

	PQclear(res);
	return rc;
}

static int copy_all(struct copy *c, const char *to,
		    dd_store_copy_progress_fn *progress, void *arg)
{
	char **tables = NULL;
	size_t n = 0;
	long long rows;
	int rc = src_tables(c, &tables, &n);

	if (!rc)
		rc = dst_empty(c, to);
	for (size_t i = 0; !rc && i < n; i++) {
		bool counters = !strcmp(tables[i], "counter");

		/* the counters the triggers counted give way to the source's */
		if (counters)
			rc = run_on_dst(c, "DELETE FROM counter");
		if (!rc)
			rc = copy_table(c, tables[i], &rows);
		/* SQLite keeps a counter in one row, PostgreSQL in parts too */
		if (!rc && counters)
			rc = run_on_dst(c, DD_PG_CAPACITY_PARTS);
		if (!rc && progress)
			progress(arg, tables[i], rows);
	}
	if (!rc)
		rc = move_sequences(c);
	for (size_t i = 0; i < n; i++)
		dd_free(tables[i]);
	dd_free(tables);
	return rc;
}

int dd_store_copy(const char *from, const char *to,
		  dd_store_copy_progress_fn *progress, void *arg,
		  struct dd_error *err)
{
	struct copy c = {.from = from, .err = err};
	struct dd_store *check = NULL, *dst = NULL;
	int rc, running;

	/* both at this drydock's schema, the destination made so first */
	rc = dd_store_open_ready(from, NULL, &check, err);
	dd_store_close(check);
	if (!rc && !dd_store_local_dir(from, NULL, 0))
		rc = dd_error_set(err, DD_ERR_INVALID,
				  "store '%s' is not an SQLite store: "
				  "migrate-store copies from SQLite",
				  from);
	if (!rc && (running = dd_wake_count(from, DD_WAKE_DAEMON)) > 0)
		rc = dd_error_set(err, DD_ERR_STATE,
				  "%d drydock daemon%s or server%s still "
				  "serve%s store '%s': stop them first, or "
				  "what they write after the copy is lost",
				  running, running == 1 ? "" : "s",
				  running == 1 ? "" : "s",
				  running == 1 ? "s" : "", from);
	if (!rc)
		rc = dd_store_open(to, NULL, &dst, err);
	if (!rc && strcmp(dst->ops->name, "postgresql")) {
		rc = dd_error_set(err, DD_ERR_INVALID,
				  "store '%s' is not a PostgreSQL store: "
				  "migrate-store copies into PostgreSQL",
				  to);
	}
	if (!rc)
		rc = dd_store_migrate(dst, err);
	if (rc) {
		dd_store_close(dst);
		return rc;
	}
	c.p = PG(dst);
	if (sqlite3_open_v2(from, &c.src, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		rc = src_fail(&c, "open");
	} else {
		sqlite3_busy_timeout(c.src, 10000);
		if (sqlite3_exec(c.src, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
		    SQLITE_OK)
			rc = src_fail(&c, "lock it");
	}
	if (!rc)
		rc = dd_store_begin(dst, err);
	if (!rc) {
		rc = copy_all(&c, to, progress, arg);
		if (rc)
			dd_store_rollback(dst);
		else
			rc = dd_store_commit(dst, err);
	}
	if (c.src) {
		sqlite3_exec(c.src, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close(c.src);
	}
	dd_buf_release(&c.line);
	dd_store_close(dst);
	return rc;
}
