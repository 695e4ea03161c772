/*
 * sql_targets.c - build targets and their artifacts' records in a SQL
 * store (the store.h methods target_* and artifact_insert, _get, _each
 * and _release_all), written once over the driver (sql.h).  The bytes of
 * file artifacts are the backend's (sqlite_chunks.c for SQLite).
 */
#include "store/sql.h"
#include "store/sql_ops.h"

#include <stdio.h>

#define TARGET_COLS                                                            \
	"id, name, owner, status, deadline, created, finished, modified"

static int target_row(struct dd_sql *h, struct dd_sql_stmt *st, void *out)
{
	struct dd_target *t = out;

	t->id = dd_sql_col_int64(h, st, 0);
	t->name = dd_sql_col_text(h, st, 1);
	t->owner = dd_sql_col_text(h, st, 2);
	t->status = (enum dd_target_status)dd_sql_col_int(h, st, 3);
	t->deadline = dd_sql_col_double(h, st, 4);
	t->created = dd_sql_col_double(h, st, 5);
	t->finished = dd_sql_col_double(h, st, 6);
	t->modified = dd_sql_col_double(h, st, 7);
	return 0;
}

int dd_sql_target_insert(struct dd_store *s, struct dd_target *t,
			 struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	double now = dd_now();
	int rc = dd_sql_prepare(h,
				"INSERT INTO target(name, owner, status,"
				" deadline, created, finished, modified)"
				" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?5)"
				" RETURNING id",
				&st, err);

	if (rc)
		return rc;
	dd_sql_text_or_null(h, st, 1, t->name);
	dd_sql_text_or_null(h, st, 2, t->owner);
	dd_sql_int64(h, st, 3, (int)t->status);
	dd_sql_time_or_null(h, st, 4, t->deadline);
	dd_sql_double(h, st, 5, now);
	dd_sql_time_or_null(h, st, 6, t->finished);
	rc = dd_sql_insert(h, st, &t->id, err, "insert target");
	if (!rc)
		t->created = t->modified = now;
	return rc;
}

int dd_sql_target_update(struct dd_store *s, const struct dd_target *t,
			 struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h,
				"UPDATE target SET status = ?2, finished = ?3,"
				" deadline = ?4, modified = ?5 WHERE id = ?1",
				&st, err);

	if (rc)
		return rc;
	dd_sql_int64(h, st, 1, t->id);
	dd_sql_int64(h, st, 2, (int)t->status);
	dd_sql_time_or_null(h, st, 3, t->finished);
	dd_sql_time_or_null(h, st, 4, t->deadline);
	dd_sql_double(h, st, 5, dd_now());
	rc = dd_sql_exec(h, st, err, "update target");
	if (!rc && dd_sql_changes(h) == 0)
		return dd_error_set(err, DD_ERR_NOTFOUND,
				    "no such target: %lld", t->id);
	return rc;
}

static int target_read(struct dd_store *s, const char *sql, long long id,
		       struct dd_target *out, struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h, sql, &st, err);

	if (rc)
		return rc;
	dd_sql_int64(h, st, 1, id);
	rc = dd_sql_get(h, st, target_row, out, err, "get target");
	if (rc == DD_ERR_NOTFOUND)
		return dd_error_set(err, rc, "no such target: %lld", id);
	return rc;
}

int dd_sql_target_get(struct dd_store *s, long long id, struct dd_target *out,
		      struct dd_error *err)
{
	return target_read(s, "SELECT " TARGET_COLS " FROM target WHERE id = ?1",
			   id, out, err);
}

int dd_sql_target_hold(struct dd_store *s, long long id, struct dd_target *out,
		       struct dd_error *err)
{
	return target_read(s,
			   "SELECT " TARGET_COLS
			   " FROM target WHERE id = ?1 FOR SHARE",
			   id, out, err);
}

int dd_sql_target_lock(struct dd_store *s, long long id, struct dd_target *out,
		       struct dd_error *err)
{
	return target_read(s,
			   "SELECT " TARGET_COLS
			   " FROM target WHERE id = ?1 FOR NO KEY UPDATE",
			   id, out, err);
}

struct target_walk {
	dd_target_visit_fn *fn;
	void *arg;
};

static int target_visit(struct dd_sql *h, struct dd_sql_stmt *st, void *arg,
			struct dd_error *err)
{
	struct target_walk *w = arg;
	struct dd_target t = {0};
	int stop;

	target_row(h, st, &t);
	stop = w->fn(w->arg, &t, err);
	dd_target_release(&t);
	return stop;
}

int dd_sql_target_each(struct dd_store *s, const struct dd_filter *f,
		       dd_target_visit_fn *fn, void *arg, struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct target_walk w = {fn, arg};
	struct dd_sql_query qq = {0};
	struct dd_sql_stmt *st;
	int rc;

	dd_buf_addstr(&qq.sql, "SELECT " TARGET_COLS " FROM target");
	dd_sql_where_status(&qq, f->status_mask);
	if (f->owner)
		dd_sql_where_text(&qq, "owner = ?", f->owner);
	dd_sql_where_range(&qq, f);
	dd_sql_tail(&qq, f);
	rc = dd_sql_query_prepare(h, &qq, &st, err);
	if (rc)
		return rc;
	return dd_sql_each(h, st, target_visit, &w, err);
}

/* ---- artifacts ----------------------------------------------------------- */

#define ARTIFACT_COLS                                                          \
	"id, target, key, type, data, released, complete, size, sha256,"       \
	" created, modified"

static int artifact_row(struct dd_sql *h, struct dd_sql_stmt *st, void *out)
{
	struct dd_artifact *a = out;
	const char *hash;

	a->id = dd_sql_col_int64(h, st, 0);
	a->target = dd_sql_col_int64(h, st, 1);
	a->key = dd_sql_col_text(h, st, 2);
	a->type = dd_sql_col_text(h, st, 3);
	a->data = dd_sql_col_json(h, st, 4);
	a->released = dd_sql_col_int(h, st, 5) != 0;
	a->complete = dd_sql_col_int(h, st, 6) != 0;
	a->size = dd_sql_col_int64(h, st, 7);
	hash = dd_sql_col_str(h, st, 8);
	snprintf(a->sha256, sizeof(a->sha256), "%s", hash ? hash : "");
	a->created = dd_sql_col_double(h, st, 9);
	a->modified = dd_sql_col_double(h, st, 10);
	return 0;
}

static int status_row(struct dd_sql *h, struct dd_sql_stmt *st, void *out)
{
	*(int *)out = dd_sql_col_int(h, st, 0);
	return 0;
}

/* Why an artifact cannot be added to `target`: none, or no longer building. */
static int target_refuses(struct dd_sql *h, long long target, const char *key,
			  struct dd_error *err)
{
	struct dd_sql_stmt *st;
	int status = -1;
	int rc = dd_sql_prepare(h, "SELECT status FROM target WHERE id = ?1",
				&st, err);

	if (rc)
		return rc;
	dd_sql_int64(h, st, 1, target);
	rc = dd_sql_get(h, st, status_row, &status, err, "get target");
	if (rc == DD_ERR_NOTFOUND)
		return dd_error_set(err, DD_ERR_NOTFOUND,
				    "no such target: %lld", target);
	if (rc)
		return rc;
	return dd_error_set(err, DD_ERR_STATE,
			    "cannot add artifact '%s' to target %lld: it is "
			    "%s",
			    key, target,
			    dd_target_status_name(
				    (enum dd_target_status)status));
}

/*
 * The insert names its target's status in the statement itself, so that
 * no artifact can join a target after the transaction that finished it,
 * whatever the caller checked before.
 */
int dd_sql_artifact_insert(struct dd_store *s, struct dd_artifact *a,
			   struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	double now = dd_now();
	int rc = dd_sql_prepare(h,
				"INSERT INTO artifact(target, key, type, data,"
				" complete, created, modified)"
				" SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?6"
				" WHERE EXISTS(SELECT 1 FROM target"
				" WHERE id = ?1 AND status = 0) RETURNING id",
				&st, err);

	if (rc)
		return rc;
	dd_sql_int64(h, st, 1, a->target);
	dd_sql_text(h, st, 2, a->key);
	dd_sql_text(h, st, 3, a->type);
	if (a->data)
		rc = dd_sql_json(h, st, 4, a->data, err);
	else
		dd_sql_text(h, st, 4, "{}");
	if (rc)
		return rc;
	dd_sql_int64(h, st, 5, a->complete);
	dd_sql_double(h, st, 6, now);
	rc = dd_sql_insert(h, st, &a->id, err, "insert artifact");
	if (rc == DD_ERR_EXISTS)
		return dd_error_set(err, DD_ERR_EXISTS,
				    "target %lld already has an artifact '%s'",
				    a->target, a->key);
	if (rc == DD_ERR_NOTFOUND)
		return target_refuses(h, a->target, a->key, err);
	if (rc)
		return rc;
	a->created = a->modified = now;
	a->released = false;
	a->size = 0;
	a->sha256[0] = '\0';
	return 0;
}

int dd_sql_artifact_get(struct dd_store *s, long long id,
			struct dd_artifact *out, struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h,
				"SELECT " ARTIFACT_COLS
				" FROM artifact WHERE id = ?1",
				&st, err);

	if (rc)
		return rc;
	dd_sql_int64(h, st, 1, id);
	rc = dd_sql_get(h, st, artifact_row, out, err, "get artifact");
	if (rc == DD_ERR_NOTFOUND)
		return dd_error_set(err, rc, "no such artifact: %lld", id);
	return rc;
}

struct artifact_walk {
	dd_artifact_visit_fn *fn;
	void *arg;
};

static int artifact_visit(struct dd_sql *h, struct dd_sql_stmt *st, void *arg,
			  struct dd_error *err)
{
	struct artifact_walk *w = arg;
	struct dd_artifact a = {0};
	int stop;

	artifact_row(h, st, &a);
	stop = w->fn(w->arg, &a, err);
	dd_artifact_release(&a);
	return stop;
}

int dd_sql_artifact_each(struct dd_store *s, const struct dd_filter *f,
			 dd_artifact_visit_fn *fn, void *arg,
			 struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct artifact_walk w = {fn, arg};
	struct dd_sql_query qq = {0};
	struct dd_sql_stmt *st;
	int rc;

	dd_buf_addstr(&qq.sql, "SELECT " ARTIFACT_COLS " FROM artifact");
	if (f->target_id)
		dd_sql_where_int(&qq, "target = ?", f->target_id);
	if (f->type)
		dd_sql_where_text(&qq, "type = ?", f->type);
	if (f->key)
		dd_sql_where_text(&qq, "key = ?", f->key);
	dd_sql_where_range(&qq, f);
	dd_sql_tail(&qq, f);
	rc = dd_sql_query_prepare(h, &qq, &st, err);
	if (rc)
		return rc;
	return dd_sql_each(h, st, artifact_visit, &w, err);
}

int dd_sql_artifact_release_all(struct dd_store *s, long long target,
				long long *n, struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h,
				"UPDATE artifact SET released = 1"
				" WHERE target = ?1 AND released = 0",
				&st, err);

	if (rc)
		return rc;
	dd_sql_int64(h, st, 1, target);
	rc = dd_sql_exec(h, st, err, "release artifacts");
	if (!rc && n)
		*n = dd_sql_changes(h);
	return rc;
}
