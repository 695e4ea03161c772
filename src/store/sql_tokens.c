/*
 * sql_tokens.c - API tokens in a SQL store (the store.h methods token_*),
 * written once over the driver (sql.h).
 */
#include "store/sql.h"
#include "store/sql_ops.h"

#include <stdio.h>

#define TOKEN_COLS "id, name, role, hash, created, last_used, revoked"

static int token_row(struct dd_sql *h, struct dd_sql_stmt *st, void *out)
{
	struct dd_token *t = out;
	const char *hash = dd_sql_col_str(h, st, 3);

	t->id = dd_sql_col_int64(h, st, 0);
	t->name = dd_sql_col_text(h, st, 1);
	t->role = dd_sql_col_text(h, st, 2);
	snprintf(t->hash, sizeof(t->hash), "%s", hash ? hash : "");
	t->created = dd_sql_col_double(h, st, 4);
	t->last_used = dd_sql_col_double(h, st, 5);
	t->revoked = dd_sql_col_double(h, st, 6);
	if (!t->name || !t->role) {
		dd_token_release(t);
		return DD_ERR_NOMEM;
	}
	return 0;
}

static int token_push(struct dd_sql *h, struct dd_sql_stmt *st, void *list)
{
	struct dd_token t = {0};
	int rc = token_row(h, st, &t);

	if (!rc)
		rc = dd_token_list_push(list, &t);
	if (rc)
		dd_token_release(&t);
	return rc;
}

/*
 * Get the one token that `sql` selects by ?1: `text` when it is not NULL,
 * else `id`.  Returns DD_ERR_NOTFOUND without touching err when there is
 * none, so the caller can say what it looked for.
 */
static int token_one(struct dd_sql *h, const char *sql, long long id,
		     const char *text, struct dd_token *out,
		     struct dd_error *err)
{
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h, sql, &st, err);

	if (rc)
		return rc;
	if (text)
		dd_sql_text(h, st, 1, text);
	else
		dd_sql_int64(h, st, 1, id);
	return dd_sql_get(h, st, token_row, out, err, "get token");
}

int dd_sql_token_insert(struct dd_store *s, struct dd_token *t,
			struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	bool name_taken;
	int rc = dd_sql_prepare(h,
				"INSERT INTO token(name, role, hash, created,"
				" last_used, revoked)"
				" VALUES(?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
				&st, err);

	if (rc)
		return rc;
	t->created = dd_now();
	dd_sql_text(h, st, 1, t->name);
	dd_sql_text(h, st, 2, t->role);
	dd_sql_text(h, st, 3, t->hash);
	dd_sql_double(h, st, 4, t->created);
	dd_sql_double(h, st, 5, t->last_used);
	dd_sql_double(h, st, 6, t->revoked);
	rc = h->drv->insert(h, st, &t->id, err, "insert token");
	name_taken = rc == DD_ERR_EXISTS &&
		     h->drv->broke_unique(h, "token.name");
	dd_sql_done(h, st);
	if (name_taken)
		return dd_error_set(err, DD_ERR_EXISTS,
				    "token name '%s' is already taken",
				    t->name);
	if (rc == DD_ERR_NOTFOUND)
		return dd_error_set(err, DD_ERR_STORE,
				    "store '%s': insert token: no row", dd_sql_name(h));
	return rc;
}

int dd_sql_token_get(struct dd_store *s, long long id, struct dd_token *out,
		     struct dd_error *err)
{
	int rc = token_one(dd_sql(s),
			   "SELECT " TOKEN_COLS " FROM token WHERE id = ?1",
			   id, NULL, out, err);

	if (rc == DD_ERR_NOTFOUND)
		return dd_error_set(err, rc, "no such token: %lld", id);
	return rc;
}

int dd_sql_token_get_by_name(struct dd_store *s, const char *name,
			     struct dd_token *out, struct dd_error *err)
{
	int rc = token_one(dd_sql(s),
			   "SELECT " TOKEN_COLS " FROM token WHERE name = ?1",
			   0, name, out, err);

	if (rc == DD_ERR_NOTFOUND)
		return dd_error_set(err, rc, "no such token: '%s'", name);
	return rc;
}

int dd_sql_token_get_by_hash(struct dd_store *s, const char *hash,
			     struct dd_token *out, struct dd_error *err)
{
	int rc = token_one(dd_sql(s),
			   "SELECT " TOKEN_COLS " FROM token WHERE hash = ?1",
			   0, hash, out, err);

	if (rc == DD_ERR_NOTFOUND)
		return dd_error_set(err, rc, "no token has that hash");
	return rc;
}

int dd_sql_token_list(struct dd_store *s, const struct dd_filter *f,
		      struct dd_token_list *out, struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_query qq = {0};
	struct dd_sql_stmt *st;
	int rc;

	dd_buf_addstr(&qq.sql, "SELECT " TOKEN_COLS " FROM token");
	if (f->after_id)
		dd_sql_where_int(&qq, "id > ?", f->after_id);
	dd_sql_tail(&qq, f);
	rc = dd_sql_query_prepare(h, &qq, &st, err);
	if (rc)
		return rc;
	return dd_sql_list(h, st, token_push, out, err);
}

/* Run `sql`, an UPDATE of token ?1 with time ?2; no such token: NOTFOUND. */
static int token_set_time(struct dd_sql *h, const char *sql, long long id,
			  double now, struct dd_error *err, const char *what)
{
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h, sql, &st, err);

	if (rc)
		return rc;
	dd_sql_int64(h, st, 1, id);
	dd_sql_double(h, st, 2, now);
	rc = dd_sql_exec(h, st, err, what);
	if (!rc && dd_sql_changes(h) == 0)
		return dd_error_set(err, DD_ERR_NOTFOUND, "no such token: %lld",
				    id);
	return rc;
}

int dd_sql_token_revoke(struct dd_store *s, long long id, double now,
			struct dd_error *err)
{
	return token_set_time(dd_sql(s),
			      "UPDATE token SET revoked = CASE WHEN revoked = 0"
			      " THEN ?2 ELSE revoked END WHERE id = ?1",
			      id, now, err, "revoke token");
}

int dd_sql_token_touch(struct dd_store *s, long long id, double now,
		       struct dd_error *err)
{
	return token_set_time(dd_sql(s),
			      "UPDATE token SET last_used = ?2 WHERE id = ?1",
			      id, now, err, "touch token");
}
