/*
 * sql_list.c - the list query builder of the SQL stores (sql.h): a
 * SELECT's WHERE clause built from a filter, each value a numbered
 * parameter (?N, in the order added) bound when the query is prepared,
 * never text spliced into the SQL.  The few shapes of query the workers
 * run on every pass come back with the same text, so the driver keeps
 * them prepared (prepare_text).
 */
#include "store/sql.h"

#include <string.h>

static void add_cond(struct dd_sql_query *qq, const char *cond)
{
	dd_buf_addstr(&qq->sql, qq->has_where ? " AND " : " WHERE ");
	qq->has_where = true;
	/* the condition's "?" becomes the next parameter's number */
	for (const char *q; (q = strchr(cond, '?')); cond = q + 1) {
		dd_buf_add(&qq->sql, cond, (size_t)(q - cond));
		dd_buf_addf(&qq->sql, "?%d", qq->nbind + 1);
	}
	dd_buf_addstr(&qq->sql, cond);
}

void dd_sql_where(struct dd_sql_query *qq, const char *cond)
{
	add_cond(qq, cond);
}

void dd_sql_where_int(struct dd_sql_query *qq, const char *cond, long long v)
{
	add_cond(qq, cond);
	qq->bind[qq->nbind].is_text = false;
	qq->bind[qq->nbind].i = v;
	qq->nbind++;
}

void dd_sql_where_text(struct dd_sql_query *qq, const char *cond,
		       const char *v)
{
	add_cond(qq, cond);
	qq->bind[qq->nbind].is_text = true;
	qq->bind[qq->nbind].t = v;
	qq->nbind++;
}

void dd_sql_where_status(struct dd_sql_query *qq, unsigned mask)
{
	dd_sql_where_mask(qq, "status", mask);
}

void dd_sql_where_mask(struct dd_sql_query *qq, const char *column,
		       unsigned mask)
{
	bool first = true;

	if (!mask)
		return;
	add_cond(qq, column);
	dd_buf_addstr(&qq->sql, " IN (");
	for (int i = 0; i < 32; i++) {
		if (mask & (1u << i)) {
			dd_buf_addf(&qq->sql, first ? "%d" : ",%d", i);
			first = false;
		}
	}
	dd_buf_addstr(&qq->sql, ")");
}

void dd_sql_where_range(struct dd_sql_query *qq, const struct dd_filter *f)
{
	if (f->after_id)
		dd_sql_where_int(qq, "id > ?", f->after_id);
	if (f->before_id)
		dd_sql_where_int(qq, "id < ?", f->before_id);
}

void dd_sql_tail(struct dd_sql_query *qq, const struct dd_filter *f)
{
	dd_buf_addstr(&qq->sql, f->descending ? " ORDER BY id DESC"
					      : " ORDER BY id");
	if (f->limit)
		dd_buf_addf(&qq->sql, " LIMIT %zu", f->limit);
}

int dd_sql_query_prepare(struct dd_sql *h, struct dd_sql_query *qq,
			 struct dd_sql_stmt **st, struct dd_error *err)
{
	int rc;

	if (!qq->sql.buf)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	rc = h->drv->prepare_text(h, qq->sql.buf, st, err);
	dd_buf_release(&qq->sql);
	if (rc)
		return rc;
	for (int i = 0; i < qq->nbind; i++) {
		if (qq->bind[i].is_text)
			rc = h->drv->bind_text(*st, i + 1, qq->bind[i].t,
					       DD_SQL_COPY);
		else
			dd_sql_int64(h, *st, i + 1, qq->bind[i].i);
		if (rc) {
			dd_sql_done(h, *st);
			return dd_error_set(err, rc, "out of memory");
		}
	}
	return 0;
}
