/*
 * sql_authorizations.c - blueprint authorizations in a SQL store (the
 * store.h methods authorization_*), written once over the driver (sql.h).
 *
 * The table is called blueprint_authorization: AUTHORIZATION is a
 * reserved word of SQL (and of PostgreSQL).
 */
#include "store/sql.h"
#include "store/sql_ops.h"

#define AUTHORIZATION_COLS                                                     \
	"id, blueprint, requester, state, decided_by, decided, created,"       \
	" modified"

static int authorization_row(struct dd_sql *h, struct dd_sql_stmt *st,
			     void *out)
{
	struct dd_authorization *a = out;
	const char *by = dd_sql_col_str(h, st, 4);

	a->id = dd_sql_col_int64(h, st, 0);
	a->blueprint = dd_sql_col_int64(h, st, 1);
	a->requester = dd_sql_col_text(h, st, 2);
	a->state = (enum dd_authorization_state)dd_sql_col_int(h, st, 3);
	a->decided_by = by ? dd_sql_col_text(h, st, 4) : NULL;
	a->decided = dd_sql_col_double(h, st, 5);
	a->created = dd_sql_col_double(h, st, 6);
	a->modified = dd_sql_col_double(h, st, 7);
	if (!a->requester || (by && !a->decided_by)) {
		dd_authorization_release(a);
		return DD_ERR_NOMEM;
	}
	return 0;
}

static int authorization_push(struct dd_sql *h, struct dd_sql_stmt *st,
			      void *list)
{
	struct dd_authorization a = {0};
	int rc = authorization_row(h, st, &a);

	if (!rc)
		rc = dd_authorization_list_push(list, &a);
	if (rc)
		dd_authorization_release(&a);
	return rc;
}

/* The row of (blueprint, requester); NOTFOUND, err untouched, for none. */
static int authorization_of(struct dd_sql *h, long long blueprint,
			    const char *requester, struct dd_authorization *out,
			    struct dd_error *err)
{
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h,
				"SELECT " AUTHORIZATION_COLS
				" FROM blueprint_authorization"
				" WHERE blueprint = ?1 AND requester = ?2",
				&st, err);

	if (rc)
		return rc;
	dd_sql_int64(h, st, 1, blueprint);
	dd_sql_text(h, st, 2, requester);
	return dd_sql_get(h, st, authorization_row, out, err,
			  "get authorization");
}

int dd_sql_authorization_request(struct dd_store *s, long long blueprint,
				 const char *requester, double now,
				 struct dd_authorization *out,
				 struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(
		h,
		"INSERT INTO blueprint_authorization(blueprint, requester,"
		" state, created, modified) VALUES(?1, ?2, ?3, ?4, ?4)"
		" ON CONFLICT(blueprint, requester) DO NOTHING",
		&st, err);

	if (rc)
		return rc;
	dd_sql_int64(h, st, 1, blueprint);
	dd_sql_text(h, st, 2, requester);
	dd_sql_int64(h, st, 3, DD_AUTHORIZATION_REQUESTED);
	dd_sql_double(h, st, 4, now);
	rc = dd_sql_exec(h, st, err, "request authorization");
	if (!rc)
		rc = authorization_of(h, blueprint, requester, out, err);
	if (rc == DD_ERR_NOTFOUND)
		return dd_error_set(err, DD_ERR_STORE,
				    "store '%s': request authorization: no row",
				    dd_sql_name(h));
	return rc;
}

int dd_sql_authorization_get(struct dd_store *s, long long id,
			     struct dd_authorization *out, struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h,
				"SELECT " AUTHORIZATION_COLS
				" FROM blueprint_authorization WHERE id = ?1",
				&st, err);

	if (rc)
		return rc;
	dd_sql_int64(h, st, 1, id);
	rc = dd_sql_get(h, st, authorization_row, out, err,
			"get authorization");
	if (rc == DD_ERR_NOTFOUND)
		return dd_error_set(err, rc, "no such authorization: %lld", id);
	return rc;
}

int dd_sql_authorization_list(struct dd_store *s, const struct dd_filter *f,
			      struct dd_authorization_list *out,
			      struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_query qq = {0};
	struct dd_sql_stmt *st;
	int rc;

	dd_buf_addstr(&qq.sql, "SELECT " AUTHORIZATION_COLS
			       " FROM blueprint_authorization");
	if (f->blueprint)
		dd_sql_where_int(&qq, "blueprint = ?", f->blueprint);
	if (f->owner)
		dd_sql_where_text(&qq, "requester = ?", f->owner);
	dd_sql_where_mask(&qq, "state", f->status_mask);
	dd_sql_where_range(&qq, f);
	dd_sql_tail(&qq, f);
	rc = dd_sql_query_prepare(h, &qq, &st, err);
	if (rc)
		return rc;
	return dd_sql_list(h, st, authorization_push, out, err);
}

/*
 * The update that sets the state to what it is is no change, but it
 * takes the row's lock (PostgreSQL; SQLite's writer holds the whole
 * store already), so a decision waits for this transaction to end.
 */
int dd_sql_authorization_hold(struct dd_store *s, long long blueprint,
			      const char *requester,
			      enum dd_authorization_state *state,
			      struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_authorization a = {0};
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h,
				"UPDATE blueprint_authorization SET state ="
				" state WHERE blueprint = ?1 AND requester = ?2",
				&st, err);

	if (rc)
		return rc;
	dd_sql_int64(h, st, 1, blueprint);
	dd_sql_text(h, st, 2, requester);
	rc = dd_sql_exec(h, st, err, "hold authorization");
	if (!rc)
		rc = authorization_of(h, blueprint, requester, &a, err);
	if (!rc)
		*state = a.state;
	dd_authorization_release(&a);
	return rc;
}

int dd_sql_authorization_decide(struct dd_store *s,
				const struct dd_authorization *a,
				enum dd_authorization_state from,
				struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h,
				"UPDATE blueprint_authorization SET state = ?2,"
				" decided_by = ?3, decided = ?4, modified = ?5"
				" WHERE id = ?1 AND state = ?6",
				&st, err);

	if (rc)
		return rc;
	dd_sql_int64(h, st, 1, a->id);
	dd_sql_int64(h, st, 2, a->state);
	dd_sql_text_or_null(h, st, 3, a->decided_by);
	dd_sql_double(h, st, 4, a->decided);
	dd_sql_double(h, st, 5, a->modified);
	dd_sql_int64(h, st, 6, from);
	rc = dd_sql_exec(h, st, err, "decide authorization");
	if (!rc && dd_sql_changes(h) == 0)
		return dd_error_set(err, DD_ERR_STATE,
				    "authorization %lld is no longer %s", a->id,
				    dd_authorization_state_name(from));
	return rc;
}
