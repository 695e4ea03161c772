/*
 * sql_tasks.c - the task queue in a SQL store, all but the claim: a
 * task scheduled, finished (archived) or handed back for a retry, its
 * claim renewed, the next due time, and the lists (the store.h methods
 * task_*), written once over the driver (sql.h).
 *
 * Claiming differs per backend (SQLite looks before it takes its single
 * write lock; a backend with many writers must claim with row locks that
 * claimers skip), so each backend has its own task_claim, built from
 * DD_SQL_TASK_COLS, dd_sql_task_row(), DD_SQL_OBJECT_UNLOCKED and
 * DD_SQL_TASK_ON_MACHINE.
 * Finish, retry and renew are fenced by the claim token in the
 * statement itself and take effect only while it is current.
 */
#include "store/sql.h"
#include "store/sql_ops.h"

int dd_sql_task_row(struct dd_sql *h, struct dd_sql_stmt *st, void *out)
{
	struct dd_task *t = out;

	t->id = dd_sql_col_int64(h, st, 0);
	t->kind = dd_sql_col_text(h, st, 1);
	t->object.kind = (enum dd_obj_kind)dd_sql_col_int(h, st, 2);
	t->object.id = dd_sql_col_int64(h, st, 3);
	t->not_before = dd_sql_col_double(h, st, 4);
	t->claimed_by = dd_sql_col_text(h, st, 5);
	t->claim_token = dd_sql_col_int64(h, st, 6);
	t->claim_expires = dd_sql_col_double(h, st, 7);
	t->failures = dd_sql_col_int(h, st, 8);
	t->last_error = dd_sql_col_text(h, st, 9);
	t->created = dd_sql_col_double(h, st, 10);
	return 0;
}

static int task_push(struct dd_sql *h, struct dd_sql_stmt *st, void *list)
{
	struct dd_task t = {0};
	int rc;

	dd_sql_task_row(h, st, &t);
	rc = dd_task_list_push(list, &t);
	if (rc)
		dd_task_release(&t);
	return rc;
}

int dd_sql_task_schedule(struct dd_store *s, const char *kind,
			 struct dd_ref object, double not_before, char *bound,
			 size_t n, struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	const char *machine;
	int rc = dd_sql_prepare(h,
				"INSERT INTO task(kind, object_kind, object,"
				" not_before, created)"
				" VALUES(?1, ?2, ?3, ?4, ?5)"
				" ON CONFLICT(kind, object_kind, object)"
				" WHERE claimed_by IS NULL DO UPDATE SET"
				" not_before = CASE WHEN excluded.not_before"
				" < task.not_before THEN excluded.not_before"
				" ELSE task.not_before END"
				" RETURNING " DD_SQL_TASK_BOUND,
				&st, err);

	if (rc)
		return rc;
	dd_sql_text(h, st, 1, kind);
	dd_sql_int64(h, st, 2, (int)object.kind);
	dd_sql_int64(h, st, 3, object.id);
	dd_sql_double(h, st, 4, not_before);
	dd_sql_double(h, st, 5, dd_now());
	rc = dd_sql_step(h, st, err, "schedule task");
	if (rc == DD_SQL_ROW) {
		machine = dd_sql_col_str(h, st, 0);
		snprintf(bound, n, "%s", machine ? machine : "");
		rc = 0;
	} else if (rc == DD_SQL_DONE) {
		rc = dd_error_set(err, DD_ERR_STORE,
				  "cannot schedule task: no row");
	}
	dd_sql_done(h, st);
	return rc;
}

int dd_sql_task_finish(struct dd_store *s, const struct dd_task *t,
		       const char *outcome, double duration, double now,
		       const char *error, struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	int rc;

	rc = dd_store_begin(s, err);
	if (rc)
		return rc;
	rc = dd_sql_prepare(h,
			    "DELETE FROM task WHERE id = ?1 AND claim_token = ?2",
			    &st, err);
	if (!rc) {
		dd_sql_int64(h, st, 1, t->id);
		dd_sql_int64(h, st, 2, t->claim_token);
		rc = dd_sql_exec(h, st, err, "finish task");
	}
	if (!rc && dd_sql_changes(h) == 0)
		rc = dd_error_set(err, DD_ERR_FENCED,
				  "task %lld was claimed by another worker",
				  t->id);
	if (!rc)
		rc = dd_sql_lock_drop(h, &t->lock, err);
	if (!rc)
		rc = dd_sql_prepare(h,
				    "INSERT INTO task_archive(id, kind,"
				    " object_kind, object, outcome, failures,"
				    " duration, finished, error)"
				    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
				    &st, err);
	if (!rc) {
		dd_sql_int64(h, st, 1, t->id);
		dd_sql_text(h, st, 2, t->kind);
		dd_sql_int64(h, st, 3, (int)t->object.kind);
		dd_sql_int64(h, st, 4, t->object.id);
		dd_sql_text(h, st, 5, outcome);
		dd_sql_int64(h, st, 6, t->failures);
		dd_sql_double(h, st, 7, duration);
		dd_sql_double(h, st, 8, now);
		dd_sql_text_or_null(h, st, 9, error);
		rc = dd_sql_exec(h, st, err, "archive task");
	}
	if (rc) {
		dd_store_rollback(s);
		return rc;
	}
	return dd_store_commit_lazy(s, err);
}

int dd_sql_task_retry(struct dd_store *s, const struct dd_task *t,
		      double not_before, int failures, const char *error,
		      struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	long long merged = 0;
	int rc;

	rc = dd_store_begin(s, err);
	if (rc)
		return rc;
	/*
	 * If somebody queued this object again while we held the task, fold
	 * ours into theirs so there is still at most one queued task.
	 */
	rc = dd_sql_prepare(h,
			    "UPDATE task SET not_before = CASE WHEN ?4"
			    " < not_before THEN ?4 ELSE not_before END,"
			    " failures = CASE WHEN ?5 > failures THEN ?5"
			    " ELSE failures END"
			    " WHERE kind = ?1 AND object_kind = ?2"
			    " AND object = ?3 AND claimed_by IS NULL",
			    &st, err);
	if (!rc) {
		dd_sql_text(h, st, 1, t->kind);
		dd_sql_int64(h, st, 2, (int)t->object.kind);
		dd_sql_int64(h, st, 3, t->object.id);
		dd_sql_double(h, st, 4, not_before);
		dd_sql_int64(h, st, 5, failures);
		rc = dd_sql_exec(h, st, err, "retry task");
		merged = rc ? 0 : dd_sql_changes(h);
	}
	if (!rc && merged)
		rc = dd_sql_prepare(h,
				    "DELETE FROM task WHERE id = ?1"
				    " AND claim_token = ?2",
				    &st, err);
	else if (!rc)
		rc = dd_sql_prepare(h,
				    "UPDATE task SET claimed_by = NULL,"
				    " claim_expires = NULL, not_before = ?3,"
				    " failures = ?4,"
				    " last_error = coalesce(?5, last_error)"
				    " WHERE id = ?1 AND claim_token = ?2",
				    &st, err);
	if (!rc) {
		dd_sql_int64(h, st, 1, t->id);
		dd_sql_int64(h, st, 2, t->claim_token);
		if (!merged) {
			dd_sql_double(h, st, 3, not_before);
			dd_sql_int64(h, st, 4, failures);
			dd_sql_text_or_null(h, st, 5, error);
		}
		rc = dd_sql_exec(h, st, err, "retry task");
	}
	if (!rc && dd_sql_changes(h) == 0)
		rc = dd_error_set(err, DD_ERR_FENCED,
				  "task %lld was claimed by another worker",
				  t->id);
	if (!rc)
		rc = dd_sql_lock_drop(h, &t->lock, err);
	if (rc) {
		dd_store_rollback(s);
		return rc;
	}
	return dd_store_commit_lazy(s, err);
}

int dd_sql_task_renew(struct dd_store *s, const struct dd_task *t, double now,
		      double ttl, struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	int rc = dd_store_begin(s, err);

	if (rc)
		return rc;
	/* a task handed back keeps its claim_token: claimed_by tells */
	rc = dd_sql_prepare(h,
			    "UPDATE task SET claim_expires = ?4 WHERE id = ?1"
			    " AND claim_token = ?2 AND claimed_by IS NOT NULL"
			    " AND claim_expires > ?3",
			    &st, err);
	if (!rc) {
		dd_sql_int64(h, st, 1, t->id);
		dd_sql_int64(h, st, 2, t->claim_token);
		dd_sql_double(h, st, 3, now);
		dd_sql_double(h, st, 4, now + ttl);
		rc = dd_sql_exec(h, st, err, "renew task claim");
	}
	if (!rc && dd_sql_changes(h) == 0)
		rc = dd_error_set(err, DD_ERR_FENCED,
				  "task %lld's claim expired or was taken "
				  "over",
				  t->id);
	if (!rc)
		rc = dd_sql_lock_extend(h, &t->lock, now, ttl, err);
	if (rc) {
		dd_store_rollback(s);
		return rc;
	}
	return dd_store_commit(s, err);
}

static int due_row(struct dd_sql *h, struct dd_sql_stmt *st, void *out)
{
	*(double *)out = dd_sql_col_double(h, st, 0);
	return 0;
}

int dd_sql_task_next_due(struct dd_store *s, const char *machine,
			 double *out, struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h, DD_SQL_TASK_NEXT_DUE, &st, err);

	*out = 0;
	if (rc)
		return rc;
	dd_sql_double(h, st, 1, dd_now());
	dd_sql_text_or_null(h, st, 2, machine);
	rc = dd_sql_get(h, st, due_row, out, err, "next due task");
	if (rc == DD_ERR_NOTFOUND)
		return dd_error_set(err, DD_ERR_STORE,
				    "store '%s': next due task: no row",
				    dd_sql_name(h));
	return rc;
}

int dd_sql_task_list(struct dd_store *s, const struct dd_filter *f,
		     struct dd_task_list *out, struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_query qq = {0};
	struct dd_sql_stmt *st;
	int rc;

	dd_buf_addstr(&qq.sql, "SELECT " DD_SQL_TASK_COLS " FROM task");
	if (f->target.kind) {
		dd_sql_where_int(&qq, "object_kind = ?", f->target.kind);
		dd_sql_where_int(&qq, "object = ?", f->target.id);
	}
	if (f->type)
		dd_sql_where_text(&qq, "kind = ?", f->type);
	dd_sql_where_range(&qq, f);
	dd_sql_tail(&qq, f);
	rc = dd_sql_query_prepare(h, &qq, &st, err);
	if (rc)
		return rc;
	return dd_sql_list(h, st, task_push, out, err);
}

static int archive_push(struct dd_sql *h, struct dd_sql_stmt *st, void *list)
{
	struct dd_task_archive a = {0};
	int rc;

	a.id = dd_sql_col_int64(h, st, 0);
	a.kind = dd_sql_col_text(h, st, 1);
	a.object.kind = (enum dd_obj_kind)dd_sql_col_int(h, st, 2);
	a.object.id = dd_sql_col_int64(h, st, 3);
	a.outcome = dd_sql_col_text(h, st, 4);
	a.failures = dd_sql_col_int(h, st, 5);
	a.duration = dd_sql_col_double(h, st, 6);
	a.finished = dd_sql_col_double(h, st, 7);
	a.error = dd_sql_col_text(h, st, 8);
	rc = dd_task_archive_list_push(list, &a);
	if (rc)
		dd_task_archive_release(&a);
	return rc;
}

int dd_sql_task_archive_list(struct dd_store *s, const struct dd_filter *f,
			     struct dd_task_archive_list *out,
			     struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_query qq = {0};
	struct dd_sql_stmt *st;
	int rc;

	dd_buf_addstr(&qq.sql, "SELECT id, kind, object_kind, object, outcome,"
			       " failures, duration, finished, error"
			       " FROM task_archive");
	if (f->target.kind) {
		dd_sql_where_int(&qq, "object_kind = ?", f->target.kind);
		dd_sql_where_int(&qq, "object = ?", f->target.id);
	}
	if (f->type)
		dd_sql_where_text(&qq, "outcome = ?", f->type);
	dd_sql_tail(&qq, f);
	rc = dd_sql_query_prepare(h, &qq, &st, err);
	if (rc)
		return rc;
	return dd_sql_list(h, st, archive_push, out, err);
}
