/*
 * sql.c - running statements over a SQL store's driver (sql.h): binding
 * the values drydock's objects hold (JSON, optional ids, times and text),
 * reading them back, and the few shapes every operation takes (a
 * statement run for no rows, an insert that returns its id, one row, a
 * list, a walk), each giving its statement back to the driver's cache
 * however it ends.
 */
#include "store/sql.h"

#include "core/util.h"

#include <stdio.h>

int dd_sql_json(struct dd_sql *h, struct dd_sql_stmt *st, int idx, json_t *v,
		struct dd_error *err)
{
	char *s;

	if (!v) {
		dd_sql_null(h, st, idx);
		return 0;
	}
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!s || h->drv->bind_text(st, idx, s, DD_SQL_OWN)) {
		dd_sql_done(h, st);
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	}
	return 0;
}

void dd_sql_text_or_null(struct dd_sql *h, struct dd_sql_stmt *st, int idx,
			 const char *s)
{
	if (s)
		h->drv->bind_text(st, idx, s, DD_SQL_COPY);
	else
		dd_sql_null(h, st, idx);
}

void dd_sql_id_or_null(struct dd_sql *h, struct dd_sql_stmt *st, int idx,
		       long long id)
{
	if (id)
		dd_sql_int64(h, st, idx, id);
	else
		dd_sql_null(h, st, idx);
}

void dd_sql_time_or_null(struct dd_sql *h, struct dd_sql_stmt *st, int idx,
			 double t)
{
	if (t > 0)
		dd_sql_double(h, st, idx, t);
	else
		dd_sql_null(h, st, idx);
}

void dd_sql_progress_bind(struct dd_sql *h, struct dd_sql_stmt *st, int i,
			  const struct dd_progress *p)
{
	dd_sql_text_or_null(h, st, i, p->hook[0] ? p->hook : NULL);
	dd_sql_time_or_null(h, st, i + 1, p->hook[0] ? p->since : 0);
	dd_sql_text_or_null(h, st, i + 2, p->resume_on[0] ? p->resume_on : NULL);
}

void dd_sql_progress_row(struct dd_sql *h, struct dd_sql_stmt *st, int i,
			 struct dd_progress *p)
{
	const char *hook = dd_sql_col_str(h, st, i);
	const char *on = dd_sql_col_str(h, st, i + 2);

	snprintf(p->hook, sizeof(p->hook), "%s", hook ? hook : "");
	p->since = dd_sql_col_double(h, st, i + 1);
	snprintf(p->resume_on, sizeof(p->resume_on), "%s", on ? on : "");
}

char *dd_sql_col_text(struct dd_sql *h, struct dd_sql_stmt *st, int i)
{
	const char *t = dd_sql_col_str(h, st, i);

	return t ? dd_strdup(t) : NULL;
}

json_t *dd_sql_col_json(struct dd_sql *h, struct dd_sql_stmt *st, int i)
{
	const char *t = dd_sql_col_str(h, st, i);

	if (!t)
		return NULL;
	return json_loads(t, JSON_DECODE_ANY, NULL);
}

int dd_sql_exec(struct dd_sql *h, struct dd_sql_stmt *st,
		struct dd_error *err, const char *what)
{
	int rc = dd_sql_step(h, st, err, what);

	dd_sql_done(h, st);
	return rc < 0 ? rc : 0;
}

int dd_sql_insert(struct dd_sql *h, struct dd_sql_stmt *st, long long *id,
		  struct dd_error *err, const char *what)
{
	int rc = h->drv->insert(h, st, id, err, what);

	dd_sql_done(h, st);
	return rc;
}

int dd_sql_get(struct dd_sql *h, struct dd_sql_stmt *st, dd_sql_row_fn *row,
	       void *out, struct dd_error *err, const char *what)
{
	int rc = dd_sql_step(h, st, err, what);

	if (rc == DD_SQL_ROW && row(h, st, out))
		rc = dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	dd_sql_done(h, st);
	if (rc < 0)
		return rc;
	return rc == DD_SQL_ROW ? 0 : DD_ERR_NOTFOUND;
}

int dd_sql_list(struct dd_sql *h, struct dd_sql_stmt *st,
		dd_sql_push_fn *push, void *list, struct dd_error *err)
{
	int rc;

	while ((rc = dd_sql_step(h, st, err, "list")) == DD_SQL_ROW) {
		if (push(h, st, list)) {
			dd_sql_done(h, st);
			return dd_error_set(err, DD_ERR_NOMEM,
					    "out of memory");
		}
	}
	dd_sql_done(h, st);
	return rc < 0 ? rc : 0;
}

int dd_sql_each(struct dd_sql *h, struct dd_sql_stmt *st,
		dd_sql_visit_fn *visit, void *arg, struct dd_error *err)
{
	int rc = 0, stop = 0;

	/* a walk whose rows are gathered into a list anyway is not streamed */
	if (h->drv->stream && !h->base.gathering)
		h->drv->stream(h, st);
	while (!stop && (rc = dd_sql_step(h, st, err, "list")) == DD_SQL_ROW)
		stop = visit(h, st, arg, err);
	dd_sql_done(h, st);
	if (stop)
		return stop;
	return rc < 0 ? rc : 0;
}
