/*
 * sql_resources.c - resources in a SQL store (the store.h methods
 * resource_*), written once over the driver (sql.h).
 */
#include "store/sql.h"
#include "store/sql_ops.h"

#include <stdio.h>

#define RESOURCE_COLS                                                          \
	"id, blueprint, type, status, attributes, created, modified,"          \
	" progress_hook, progress_since, resume_on, draining, machine"

static int resource_row(struct dd_sql *h, struct dd_sql_stmt *st, void *out)
{
	struct dd_resource *r = out;
	char *machine;

	r->id = dd_sql_col_int64(h, st, 0);
	r->blueprint = dd_sql_col_int64(h, st, 1);
	r->type = dd_sql_col_text(h, st, 2);
	r->status = (enum dd_resource_status)dd_sql_col_int(h, st, 3);
	r->attributes = dd_sql_col_json(h, st, 4);
	r->created = dd_sql_col_double(h, st, 5);
	r->modified = dd_sql_col_double(h, st, 6);
	dd_sql_progress_row(h, st, 7, &r->progress);
	r->draining = dd_sql_col_int(h, st, 10) != 0;
	machine = dd_sql_col_text(h, st, 11);
	snprintf(r->machine, sizeof(r->machine), "%s", machine ? machine : "");
	dd_free(machine);
	return 0;
}

int dd_sql_resource_insert(struct dd_store *s, struct dd_resource *r,
			   struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h,
				"INSERT INTO resource(blueprint, type, status,"
				" attributes, created, modified, draining,"
				" machine)"
				" VALUES(?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7)"
				" RETURNING id",
				&st, err);

	if (rc)
		return rc;
	r->created = r->modified = dd_now();
	dd_sql_int64(h, st, 1, r->blueprint);
	if (!r->attributes)
		r->attributes = json_object();
	dd_sql_text(h, st, 2, r->type);
	dd_sql_int64(h, st, 3, (int)r->status);
	rc = dd_sql_json(h, st, 4, r->attributes, err);
	if (rc)
		return rc;
	dd_sql_double(h, st, 5, r->created);
	dd_sql_int64(h, st, 6, r->draining);
	dd_sql_text_or_null(h, st, 7, r->machine[0] ? r->machine : NULL);
	return dd_sql_insert(h, st, &r->id, err, "insert resource");
}

int dd_sql_resource_update(struct dd_store *s, const struct dd_resource *r,
			   struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h,
				"UPDATE resource SET status = ?2,"
				" attributes = ?3, modified = ?4,"
				" progress_hook = ?5, progress_since = ?6,"
				" resume_on = ?7, draining = ?8,"
				" machine = coalesce(machine, ?9) WHERE id = ?1",
				&st, err);

	if (rc)
		return rc;
	dd_sql_int64(h, st, 1, r->id);
	dd_sql_int64(h, st, 2, (int)r->status);
	rc = dd_sql_json(h, st, 3, r->attributes, err);
	if (rc)
		return rc;
	dd_sql_double(h, st, 4, dd_now());
	dd_sql_progress_bind(h, st, 5, &r->progress);
	dd_sql_int64(h, st, 8, r->draining);
	/* a machine is set once (model.h), never changed nor cleared */
	dd_sql_text_or_null(h, st, 9, r->machine[0] ? r->machine : NULL);
	rc = dd_sql_exec(h, st, err, "update resource");
	if (!rc && dd_sql_changes(h) == 0)
		return dd_error_set(err, DD_ERR_NOTFOUND,
				    "no such resource: %lld", r->id);
	return rc;
}

static int resource_read(struct dd_store *s, const char *sql, long long id,
			 struct dd_resource *out, struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h, sql, &st, err);

	if (rc)
		return rc;
	dd_sql_int64(h, st, 1, id);
	rc = dd_sql_get(h, st, resource_row, out, err, "get resource");
	if (rc == DD_ERR_NOTFOUND)
		return dd_error_set(err, rc, "no such resource: %lld", id);
	return rc;
}

int dd_sql_resource_get(struct dd_store *s, long long id,
			struct dd_resource *out, struct dd_error *err)
{
	return resource_read(s, "SELECT " RESOURCE_COLS
			     " FROM resource WHERE id = ?1",
			     id, out, err);
}

int dd_sql_resource_hold(struct dd_store *s, long long id,
			 struct dd_resource *out, struct dd_error *err)
{
	return resource_read(s, "SELECT " RESOURCE_COLS
			     " FROM resource WHERE id = ?1 FOR SHARE",
			     id, out, err);
}

int dd_sql_resource_lock(struct dd_store *s, long long id,
			 struct dd_resource *out, struct dd_error *err)
{
	return resource_read(s, "SELECT " RESOURCE_COLS
			     " FROM resource WHERE id = ?1 FOR NO KEY UPDATE",
			     id, out, err);
}

struct resource_walk {
	dd_resource_visit_fn *fn;
	void *arg;
};

static int resource_visit(struct dd_sql *h, struct dd_sql_stmt *st,
			  void *arg, struct dd_error *err)
{
	struct resource_walk *w = arg;
	struct dd_resource r = {0};
	int stop;

	resource_row(h, st, &r);
	stop = w->fn(w->arg, &r, err);
	dd_resource_release(&r);
	return stop;
}

int dd_sql_resource_each(struct dd_store *s, const struct dd_filter *f,
			 dd_resource_visit_fn *fn, void *arg,
			 struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct resource_walk w = {fn, arg};
	struct dd_sql_query qq = {0};
	struct dd_sql_stmt *st;
	int rc;

	dd_buf_addstr(&qq.sql, "SELECT " RESOURCE_COLS " FROM resource");
	dd_sql_where_status(&qq, f->status_mask);
	if (f->blueprint)
		dd_sql_where_int(&qq, "blueprint = ?", f->blueprint);
	if (f->type)
		dd_sql_where_text(&qq, "type = ?", f->type);
	if (f->resume_on)
		dd_sql_where_text(&qq, "resume_on = ?", f->resume_on);
	dd_sql_where_range(&qq, f);
	dd_sql_tail(&qq, f);
	rc = dd_sql_query_prepare(h, &qq, &st, err);
	if (rc)
		return rc;
	return dd_sql_each(h, st, resource_visit, &w, err);
}
