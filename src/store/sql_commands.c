/*
 * sql_commands.c - commands to objects in a SQL store (the store.h
 * methods command_*), written once over the driver (sql.h).
 */
#include "store/sql.h"
#include "store/sql_ops.h"

#define COMMAND_COLS                                                           \
	"id, target_kind, target, kind, author, data, consumed, outcome,"      \
	" created, consumed_at"

static int command_push(struct dd_sql *h, struct dd_sql_stmt *st, void *list)
{
	struct dd_command c = {0};
	int rc;

	c.id = dd_sql_col_int64(h, st, 0);
	c.target.kind = (enum dd_obj_kind)dd_sql_col_int(h, st, 1);
	c.target.id = dd_sql_col_int64(h, st, 2);
	c.kind = dd_sql_col_text(h, st, 3);
	c.author = dd_sql_col_text(h, st, 4);
	c.data = dd_sql_col_json(h, st, 5);
	c.consumed = dd_sql_col_int(h, st, 6) != 0;
	c.outcome = dd_sql_col_text(h, st, 7);
	c.created = dd_sql_col_double(h, st, 8);
	c.consumed_at = dd_sql_col_double(h, st, 9);
	rc = dd_command_list_push(list, &c);
	if (rc)
		dd_command_release(&c);
	return rc;
}

int dd_sql_command_insert(struct dd_store *s, struct dd_command *c,
			  struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h,
				"INSERT INTO command(target_kind, target,"
				" kind, author, data, created)"
				" VALUES(?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
				&st, err);

	if (rc)
		return rc;
	c->created = dd_now();
	dd_sql_int64(h, st, 1, (int)c->target.kind);
	dd_sql_int64(h, st, 2, c->target.id);
	dd_sql_text(h, st, 3, c->kind);
	dd_sql_text_or_null(h, st, 4, c->author);
	rc = dd_sql_json(h, st, 5, c->data, err);
	if (rc)
		return rc;
	dd_sql_double(h, st, 6, c->created);
	return dd_sql_insert(h, st, &c->id, err, "insert command");
}

int dd_sql_command_list(struct dd_store *s, const struct dd_filter *f,
			struct dd_command_list *out, struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_query qq = {0};
	struct dd_sql_stmt *st;
	int rc;

	dd_buf_addstr(&qq.sql, "SELECT " COMMAND_COLS " FROM command");
	if (f->target.kind) {
		dd_sql_where_int(&qq, "target_kind = ?", f->target.kind);
		dd_sql_where_int(&qq, "target = ?", f->target.id);
	}
	if (f->pending_only)
		dd_sql_where(&qq, "consumed = 0");
	dd_sql_where_range(&qq, f);
	dd_sql_tail(&qq, f);
	rc = dd_sql_query_prepare(h, &qq, &st, err);
	if (rc)
		return rc;
	return dd_sql_list(h, st, command_push, out, err);
}

int dd_sql_command_consume(struct dd_store *s, long long id,
			   const char *outcome, double now,
			   struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h,
				"UPDATE command SET consumed = 1, outcome = ?2,"
				" consumed_at = ?3 WHERE id = ?1"
				" AND consumed = 0",
				&st, err);

	if (rc)
		return rc;
	dd_sql_int64(h, st, 1, id);
	dd_sql_text(h, st, 2, outcome);
	dd_sql_double(h, st, 3, now);
	rc = dd_sql_exec(h, st, err, "consume command");
	if (!rc && dd_sql_changes(h) == 0)
		return dd_error_set(err, DD_ERR_STATE,
				    "command %lld is already consumed", id);
	return rc;
}
