/*
 * sql_slots.c - slot locks in a SQL store (the store.h methods slot_*),
 * written once over the driver (sql.h): a set of keys taken all or none
 * under a savepoint, each key's row owned by one object.
 */
#include "store/sql.h"
#include "store/sql_ops.h"

#include <stdio.h>

/* Run `sql`, a statement that returns no rows and binds nothing. */
static int run(struct dd_sql *h, const char *sql, struct dd_error *err,
	       const char *what)
{
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h, sql, &st, err);

	return rc ? rc : dd_sql_exec(h, st, err, what);
}

/*
 * Why slot `key` was not taken: DD_ERR_SLOT naming its holder, or, when
 * no committed row holds it, DD_ERR_BUSY (another transaction is taking
 * it).  A holder that cannot be read is "another object".
 */
static int slot_taken(struct dd_sql *h, const char *key,
		      struct dd_error *err)
{
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h,
				"SELECT owner_kind, owner FROM slot_lock"
				" WHERE key = ?1",
				&st, NULL);

	if (rc)
		return dd_error_set(err, DD_ERR_SLOT,
				    "slot lock '%s' is held by another object",
				    key);
	dd_sql_text(h, st, 1, key);
	rc = dd_sql_step(h, st, NULL, "read slot lock");
	if (rc == DD_SQL_ROW)
		rc = dd_error_set(
			err, DD_ERR_SLOT, "slot lock '%s' is held by %s %lld",
			key,
			dd_obj_kind_name((enum dd_obj_kind)dd_sql_col_int(h, st, 0)),
			dd_sql_col_int64(h, st, 1));
	else if (rc == DD_SQL_DONE)
		rc = dd_error_set(err, DD_ERR_BUSY,
				  "slot lock '%s' is being taken by another "
				  "transaction", key);
	else
		rc = dd_error_set(err, DD_ERR_SLOT,
				  "slot lock '%s' is held by another object",
				  key);
	dd_sql_done(h, st);
	return rc;
}

int dd_sql_slot_acquire(struct dd_store *s, const char *const *keys, size_t n,
			struct dd_ref owner, struct dd_error *err)
{
	return dd_sql_slot_acquire_by(s,
				      "INSERT INTO slot_lock(key, owner_kind,"
				      " owner) VALUES(?1, ?2, ?3)"
				      " ON CONFLICT(key) DO NOTHING",
				      keys, n, owner, err);
}

int dd_sql_slot_acquire_by(struct dd_store *s, const char *insert,
			   const char *const *keys, size_t n,
			   struct dd_ref owner, struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	int rc;

	rc = run(h, "SAVEPOINT slot", err, "savepoint");
	if (rc)
		return rc;
	for (size_t i = 0; i < n && !rc; i++) {
		rc = dd_sql_prepare(h, insert, &st, err);
		if (rc)
			break;
		dd_sql_text(h, st, 1, keys[i]);
		dd_sql_int64(h, st, 2, (int)owner.kind);
		dd_sql_int64(h, st, 3, owner.id);
		rc = dd_sql_exec(h, st, err, "acquire slot lock");
		if (!rc && dd_sql_changes(h) == 0)
			rc = slot_taken(h, keys[i], err);
	}
	if (rc) {
		if (!run(h, "ROLLBACK TO slot", NULL, "rollback to"))
			run(h, "RELEASE slot", NULL, "release");
		return rc;
	}
	return run(h, "RELEASE slot", err, "release");
}

int dd_sql_slot_release(struct dd_store *s, struct dd_ref owner,
			struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h,
				"DELETE FROM slot_lock WHERE owner_kind = ?1"
				" AND owner = ?2",
				&st, err);

	if (rc)
		return rc;
	dd_sql_int64(h, st, 1, (int)owner.kind);
	dd_sql_int64(h, st, 2, owner.id);
	return dd_sql_exec(h, st, err, "release slot locks");
}

static int slot_push(struct dd_sql *h, struct dd_sql_stmt *st, void *list)
{
	struct dd_slot_lock l = {0};
	int rc;

	l.key = dd_sql_col_text(h, st, 0);
	l.owner.kind = (enum dd_obj_kind)dd_sql_col_int(h, st, 1);
	l.owner.id = dd_sql_col_int64(h, st, 2);
	rc = dd_slot_lock_list_push(list, &l);
	if (rc)
		dd_slot_lock_release(&l);
	return rc;
}

int dd_sql_slot_list(struct dd_store *s, const struct dd_filter *f,
		     struct dd_slot_lock_list *out, struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_query qq = {0};
	struct dd_sql_stmt *st;
	int rc;

	dd_buf_addstr(&qq.sql, "SELECT key, owner_kind, owner FROM slot_lock");
	if (f->target.kind) {
		dd_sql_where_int(&qq, "owner_kind = ?", f->target.kind);
		dd_sql_where_int(&qq, "owner = ?", f->target.id);
	}
	if (f->key)
		dd_sql_where_text(&qq, "key = ?", f->key);
	dd_buf_addstr(&qq.sql, " ORDER BY key");
	if (f->limit)
		dd_buf_addf(&qq.sql, " LIMIT %zu", f->limit);
	rc = dd_sql_query_prepare(h, &qq, &st, err);
	if (rc)
		return rc;
	return dd_sql_list(h, st, slot_push, out, err);
}
