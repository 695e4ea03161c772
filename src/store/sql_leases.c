/*
 * sql_leases.c - leases in a SQL store (the store.h methods lease_*),
 * written once over the driver (sql.h).
 */
#include "store/sql.h"
#include "store/sql_ops.h"

#define LEASE_COLS                                                             \
	"id, type, status, resource, owner, attributes, blueprints, until,"    \
	" allocating, acquired, activated, created, modified, waiting,"       \
	" progress_hook, progress_since, resume_on"

static int lease_row(struct dd_sql *h, struct dd_sql_stmt *st, void *out)
{
	struct dd_lease *l = out;
	int waiting;

	l->id = dd_sql_col_int64(h, st, 0);
	l->type = dd_sql_col_text(h, st, 1);
	l->status = (enum dd_lease_status)dd_sql_col_int(h, st, 2);
	l->resource = dd_sql_col_int64(h, st, 3);
	l->owner = dd_sql_col_text(h, st, 4);
	l->attributes = dd_sql_col_json(h, st, 5);
	l->blueprints = dd_sql_col_json(h, st, 6);
	l->until = dd_sql_col_double(h, st, 7);
	l->allocating = dd_sql_col_int64(h, st, 8);
	l->acquired = dd_sql_col_double(h, st, 9);
	l->activated = dd_sql_col_double(h, st, 10);
	l->created = dd_sql_col_double(h, st, 11);
	l->modified = dd_sql_col_double(h, st, 12);
	/* 0: not waiting, 1: for capacity, 2: behind an equal request */
	waiting = dd_sql_col_int(h, st, 13);
	l->waiting = waiting != 0;
	l->behind = waiting == 2;
	dd_sql_progress_row(h, st, 14, &l->progress);
	return 0;
}

/*
 * Bind a lease's columns to parameters 2 to 16.  Out of memory, the
 * statement is given back (dd_sql_json()).
 */
static int lease_bind(struct dd_sql *h, struct dd_sql_stmt *st,
		      const struct dd_lease *l, struct dd_error *err)
{
	int rc;

	dd_sql_text(h, st, 2, l->type);
	dd_sql_int64(h, st, 3, (int)l->status);
	dd_sql_id_or_null(h, st, 4, l->resource);
	dd_sql_text_or_null(h, st, 5, l->owner);
	dd_sql_time_or_null(h, st, 8, l->until);
	dd_sql_id_or_null(h, st, 9, l->allocating);
	dd_sql_time_or_null(h, st, 10, l->acquired);
	dd_sql_time_or_null(h, st, 11, l->activated);
	dd_sql_double(h, st, 12, dd_now());
	dd_sql_int64(h, st, 13, l->waiting ? (l->behind ? 2 : 1) : 0);
	dd_sql_progress_bind(h, st, 14, &l->progress);
	rc = dd_sql_json(h, st, 6, l->attributes, err);
	if (!rc)
		rc = dd_sql_json(h, st, 7, l->blueprints, err);
	return rc;
}

int dd_sql_lease_insert(struct dd_store *s, struct dd_lease *l,
			struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h,
				"INSERT INTO lease(type, status, resource,"
				" owner, attributes, blueprints, until,"
				" allocating, acquired, activated, created,"
				" modified, waiting, progress_hook,"
				" progress_since, resume_on) VALUES(?2, ?3,"
				" ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12,"
				" ?13, ?14, ?15, ?16) RETURNING id",
				&st, err);

	if (rc)
		return rc;
	if (!l->attributes)
		l->attributes = json_object();
	rc = lease_bind(h, st, l, err);
	if (rc)
		return rc;
	rc = dd_sql_insert(h, st, &l->id, err, "insert lease");
	if (!rc)
		l->created = l->modified = dd_now();
	return rc;
}

int dd_sql_lease_update(struct dd_store *s, const struct dd_lease *l,
			struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h,
				"UPDATE lease SET type = ?2, status = ?3,"
				" resource = ?4, owner = ?5, attributes = ?6,"
				" blueprints = ?7, until = ?8,"
				" allocating = ?9, acquired = ?10,"
				" activated = ?11, modified = ?12,"
				" waiting = ?13, progress_hook = ?14,"
				" progress_since = ?15, resume_on = ?16"
				" WHERE id = ?1",
				&st, err);

	if (rc)
		return rc;
	dd_sql_int64(h, st, 1, l->id);
	rc = lease_bind(h, st, l, err);
	if (rc)
		return rc;
	rc = dd_sql_exec(h, st, err, "update lease");
	if (!rc && dd_sql_changes(h) == 0)
		return dd_error_set(err, DD_ERR_NOTFOUND, "no such lease: %lld",
				    l->id);
	return rc;
}

int dd_sql_lease_get(struct dd_store *s, long long id, struct dd_lease *out,
		     struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h, "SELECT " LEASE_COLS " FROM lease WHERE id = ?1",
				&st, err);

	if (rc)
		return rc;
	dd_sql_int64(h, st, 1, id);
	rc = dd_sql_get(h, st, lease_row, out, err, "get lease");
	if (rc == DD_ERR_NOTFOUND)
		return dd_error_set(err, rc, "no such lease: %lld", id);
	return rc;
}

static int waiting_row(struct dd_sql *h, struct dd_sql_stmt *st, void *out)
{
	*(bool *)out = dd_sql_col_int(h, st, 0) == DD_LEASE_PENDING &&
		       dd_sql_col_int(h, st, 1) != 0;
	return 0;
}

int dd_sql_lease_waiting_hold(struct dd_store *s, long long id, bool *waiting,
			      struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h,
				"SELECT status, waiting FROM lease"
				" WHERE id = ?1 FOR SHARE",
				&st, err);

	if (rc)
		return rc;
	dd_sql_int64(h, st, 1, id);
	*waiting = false;
	rc = dd_sql_get(h, st, waiting_row, waiting, err, "hold lease");
	return rc == DD_ERR_NOTFOUND ? 0 : rc;
}

/*
 * The lease filter.  same_request compares JSON text: its two dumps go to
 * text[0] and text[1], which the caller frees once the query is prepared.
 */
static int lease_where(struct dd_sql_query *qq, const struct dd_filter *f,
		       char *text[2], struct dd_error *err)
{
	const struct dd_lease *r = f->same_request;

	text[0] = text[1] = NULL;
	dd_sql_where_status(qq, f->status_mask);
	if (f->resource)
		dd_sql_where_int(qq, "resource = ?", f->resource);
	if (f->allocating)
		dd_sql_where_int(qq, "allocating = ?", f->allocating);
	if (f->type)
		dd_sql_where_text(qq, "type = ?", f->type);
	if (f->owner)
		dd_sql_where_text(qq, "owner = ?", f->owner);
	if (f->waiting_only)
		dd_sql_where(qq, "waiting = 1");
	if (f->waiting_any)
		dd_sql_where(qq, "waiting != 0");
	if (f->resume_on)
		dd_sql_where_text(qq, "resume_on = ?", f->resume_on);
	if (r) {
		/* stored as dd_sql_json() writes it: {} for no attributes */
		text[0] = r->attributes ? json_dumps(r->attributes,
						     JSON_COMPACT |
							     JSON_ENCODE_ANY)
					: dd_strdup("{}");
		if (r->blueprints)
			text[1] = json_dumps(r->blueprints,
					     JSON_COMPACT | JSON_ENCODE_ANY);
		if (!text[0] || (r->blueprints && !text[1]))
			return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
		dd_sql_where_text(qq, "attributes = ?", text[0]);
		if (text[1])
			dd_sql_where_text(qq, "blueprints = ?", text[1]);
		else
			dd_sql_where(qq, "blueprints IS NULL");
	}
	dd_sql_where_range(qq, f);
	return 0;
}

static void lease_where_release(struct dd_sql_query *qq, char *text[2])
{
	dd_free(text[0]);
	dd_free(text[1]);
	dd_buf_release(&qq->sql);
}

struct lease_walk {
	dd_lease_visit_fn *fn;
	void *arg;
};

static int lease_visit(struct dd_sql *h, struct dd_sql_stmt *st, void *arg,
		       struct dd_error *err)
{
	struct lease_walk *w = arg;
	struct dd_lease l = {0};
	int stop;

	lease_row(h, st, &l);
	stop = w->fn(w->arg, &l, err);
	dd_lease_release(&l);
	return stop;
}

int dd_sql_lease_each(struct dd_store *s, const struct dd_filter *f,
		      dd_lease_visit_fn *fn, void *arg, struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct lease_walk w = {fn, arg};
	struct dd_sql_query qq = {0};
	struct dd_sql_stmt *st;
	char *text[2];
	int rc;

	dd_buf_addstr(&qq.sql, "SELECT " LEASE_COLS " FROM lease");
	rc = lease_where(&qq, f, text, err);
	if (!rc) {
		dd_sql_tail(&qq, f);
		rc = dd_sql_query_prepare(h, &qq, &st, err);
	}
	lease_where_release(&qq, text);
	if (rc)
		return rc;
	return dd_sql_each(h, st, lease_visit, &w, err);
}

static int count_row(struct dd_sql *h, struct dd_sql_stmt *st, void *out)
{
	*(long long *)out = dd_sql_col_int64(h, st, 0);
	return 0;
}

int dd_sql_lease_count(struct dd_store *s, const struct dd_filter *f,
		       long long *out, struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_query qq = {0};
	struct dd_sql_stmt *st;
	char *text[2];
	int rc;

	dd_buf_addstr(&qq.sql, "SELECT count(*) FROM lease");
	rc = lease_where(&qq, f, text, err);
	if (!rc)
		rc = dd_sql_query_prepare(h, &qq, &st, err);
	lease_where_release(&qq, text);
	if (rc)
		return rc;
	rc = dd_sql_get(h, st, count_row, out, err, "count leases");
	if (rc == DD_ERR_NOTFOUND)
		return dd_error_set(err, DD_ERR_STORE,
				    "store '%s': count leases: no row",
				    dd_sql_name(h));
	return rc;
}
