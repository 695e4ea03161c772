/*
 * sql_logs.c - objects' logs in a SQL store (the store.h methods log_*),
 * written once over the driver (sql.h).
 */
#include "store/sql.h"
#include "store/sql_ops.h"

static int log_push(struct dd_sql *h, struct dd_sql_stmt *st, void *list)
{
	struct dd_log_entry e = {0};
	int rc;

	e.id = dd_sql_col_int64(h, st, 0);
	e.blueprint = dd_sql_col_int64(h, st, 1);
	e.resource = dd_sql_col_int64(h, st, 2);
	e.lease = dd_sql_col_int64(h, st, 3);
	e.type = dd_sql_col_text(h, st, 4);
	e.time = dd_sql_col_double(h, st, 5);
	e.data = dd_sql_col_json(h, st, 6);
	e.target = dd_sql_col_int64(h, st, 7);
	rc = dd_log_entry_list_push(list, &e);
	if (rc)
		dd_log_entry_release(&e);
	return rc;
}

int dd_sql_log_append(struct dd_store *s, struct dd_log_entry *e,
		      struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h,
				"INSERT INTO log(blueprint, resource, lease,"
				" type, time, data, target)"
				" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"
				" RETURNING id",
				&st, err);

	if (rc)
		return rc;
	dd_sql_id_or_null(h, st, 1, e->blueprint);
	dd_sql_id_or_null(h, st, 2, e->resource);
	dd_sql_id_or_null(h, st, 3, e->lease);
	dd_sql_text(h, st, 4, e->type);
	dd_sql_double(h, st, 5, e->time);
	rc = dd_sql_json(h, st, 6, e->data, err);
	if (rc)
		return rc;
	dd_sql_id_or_null(h, st, 7, e->target);
	return dd_sql_insert(h, st, &e->id, err, "append log");
}

int dd_sql_log_list(struct dd_store *s, const struct dd_filter *f,
		    struct dd_log_entry_list *out, struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_query qq = {0};
	struct dd_sql_stmt *st;
	int rc;

	dd_buf_addstr(&qq.sql, "SELECT id, blueprint, resource, lease, type,"
			       " time, data, target FROM log");
	if (f->lease)
		dd_sql_where_int(&qq, "lease = ?", f->lease);
	if (f->resource)
		dd_sql_where_int(&qq, "resource = ?", f->resource);
	if (f->blueprint)
		dd_sql_where_int(&qq, "blueprint = ?", f->blueprint);
	if (f->target_id)
		dd_sql_where_int(&qq, "target = ?", f->target_id);
	if (f->type)
		dd_sql_where_text(&qq, "type = ?", f->type);
	dd_sql_where_range(&qq, f);
	dd_sql_tail(&qq, f);
	rc = dd_sql_query_prepare(h, &qq, &st, err);
	if (rc)
		return rc;
	return dd_sql_list(h, st, log_push, out, err);
}
