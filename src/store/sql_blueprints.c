/*
 * sql_blueprints.c - blueprints in a SQL store (the store.h methods
 * blueprint_*), written once over the driver (sql.h).
 */
#include "store/sql.h"
#include "store/sql_ops.h"

#define BLUEPRINT_COLS "id, type, name, config, enabled, created, modified"

static int blueprint_row(struct dd_sql *h, struct dd_sql_stmt *st, void *out)
{
	struct dd_blueprint *bp = out;

	bp->id = dd_sql_col_int64(h, st, 0);
	bp->type = dd_sql_col_text(h, st, 1);
	bp->name = dd_sql_col_text(h, st, 2);
	bp->config = dd_sql_col_json(h, st, 3);
	bp->enabled = dd_sql_col_int(h, st, 4) != 0;
	bp->created = dd_sql_col_double(h, st, 5);
	bp->modified = dd_sql_col_double(h, st, 6);
	return 0;
}

static int blueprint_push(struct dd_sql *h, struct dd_sql_stmt *st,
			  void *list)
{
	struct dd_blueprint bp = {0};
	int rc;

	blueprint_row(h, st, &bp);
	rc = dd_blueprint_list_push(list, &bp);
	if (rc)
		dd_blueprint_release(&bp);
	return rc;
}

int dd_sql_blueprint_insert(struct dd_store *s, struct dd_blueprint *bp,
			    struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h,
				"INSERT INTO blueprint(type, name, config,"
				" enabled, created, modified)"
				" VALUES(?1, ?2, ?3, ?4, ?5, ?5) RETURNING id",
				&st, err);

	if (rc)
		return rc;
	bp->created = bp->modified = dd_now();
	dd_sql_text(h, st, 1, bp->type);
	dd_sql_text(h, st, 2, bp->name);
	rc = dd_sql_json(h, st, 3, bp->config, err);
	if (rc)
		return rc;
	dd_sql_int64(h, st, 4, bp->enabled);
	dd_sql_double(h, st, 5, bp->created);
	rc = dd_sql_insert(h, st, &bp->id, err, "insert blueprint");
	if (rc == DD_ERR_EXISTS)
		return dd_error_set(err, DD_ERR_EXISTS,
				    "blueprint name '%s' is already taken",
				    bp->name);
	return rc;
}

int dd_sql_blueprint_update(struct dd_store *s, const struct dd_blueprint *bp,
			    struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h,
				"UPDATE blueprint SET name = ?2, config = ?3,"
				" enabled = ?4, modified = ?5 WHERE id = ?1",
				&st, err);

	if (rc)
		return rc;
	dd_sql_int64(h, st, 1, bp->id);
	dd_sql_text(h, st, 2, bp->name);
	rc = dd_sql_json(h, st, 3, bp->config, err);
	if (rc)
		return rc;
	dd_sql_int64(h, st, 4, bp->enabled);
	dd_sql_double(h, st, 5, dd_now());
	rc = dd_sql_exec(h, st, err, "update blueprint");
	if (rc == DD_ERR_EXISTS)
		return dd_error_set(err, DD_ERR_EXISTS,
				    "blueprint name '%s' is already taken",
				    bp->name);
	if (!rc && dd_sql_changes(h) == 0)
		return dd_error_set(err, DD_ERR_NOTFOUND,
				    "no such blueprint: %lld", bp->id);
	return rc;
}

static int blueprint_read(struct dd_store *s, const char *sql, long long id,
			  struct dd_blueprint *out, struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h, sql, &st, err);

	if (rc)
		return rc;
	dd_sql_int64(h, st, 1, id);
	rc = dd_sql_get(h, st, blueprint_row, out, err, "get blueprint");
	if (rc == DD_ERR_NOTFOUND)
		return dd_error_set(err, rc, "no such blueprint: %lld", id);
	return rc;
}

int dd_sql_blueprint_get(struct dd_store *s, long long id,
			 struct dd_blueprint *out, struct dd_error *err)
{
	return blueprint_read(s, "SELECT " BLUEPRINT_COLS
			      " FROM blueprint WHERE id = ?1",
			      id, out, err);
}

int dd_sql_blueprint_lock(struct dd_store *s, long long id,
			  struct dd_blueprint *out, struct dd_error *err)
{
	return blueprint_read(s, "SELECT " BLUEPRINT_COLS
			      " FROM blueprint WHERE id = ?1 FOR NO KEY UPDATE",
			      id, out, err);
}

int dd_sql_blueprint_list(struct dd_store *s, const struct dd_filter *f,
			  struct dd_blueprint_list *out, struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_query qq = {0};
	struct dd_sql_stmt *st;
	int rc;

	dd_buf_addstr(&qq.sql, "SELECT " BLUEPRINT_COLS " FROM blueprint");
	if (f->type)
		dd_sql_where_text(&qq, "type = ?", f->type);
	if (f->blueprint)
		dd_sql_where_int(&qq, "id = ?", f->blueprint);
	dd_sql_where_range(&qq, f);
	dd_sql_tail(&qq, f);
	rc = dd_sql_query_prepare(h, &qq, &st, err);
	if (rc)
		return rc;
	return dd_sql_list(h, st, blueprint_push, out, err);
}
