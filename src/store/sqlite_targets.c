/*
 * sqlite_targets.c - build targets, their artifacts and the bytes of file
 * artifacts in the SQLite store (the store.h methods target_* and
 * artifact_*, and their part of the stats).
 *
 * A file's bytes are rows of the `chunk` table, one per append, keyed by
 * (artifact, pos) where pos is the offset of the chunk's first byte.  An
 * append writes the chunk (its row made, then filled with incremental
 * blob I/O) and adds its length to the artifact's size in one savepoint, so the size always equals the bytes stored and the next
 * chunk's offset is read from the artifact row, not from the chunks.  A
 * read finds the one chunk holding an offset through the index and copies
 * from it with SQLite's incremental blob I/O, which reads only the pages
 * it needs: no call holds more than the caller's buffer, and none holds a
 * read transaction after it returns.
 */
#include "store/sqlite_internal.h"

#include <stdio.h>

#define TARGET_COLS                                                            \
	"id, name, owner, status, deadline, created, finished, modified"

static void target_row(sqlite3_stmt *st, struct dd_target *t)
{
	t->id = sqlite3_column_int64(st, 0);
	t->name = col_text(st, 1);
	t->owner = col_text(st, 2);
	t->status = (enum dd_target_status)sqlite3_column_int(st, 3);
	t->deadline = sqlite3_column_double(st, 4);
	t->created = sqlite3_column_double(st, 5);
	t->finished = sqlite3_column_double(st, 6);
	t->modified = sqlite3_column_double(st, 7);
}

int dd_sq_target_insert(struct dd_store *s, struct dd_target *t,
			struct dd_error *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	double now = dd_now();
	int rc = prep(q,
		      "INSERT INTO target(name, owner, status, deadline,"
		      " created, finished, modified)"
		      " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?5)",
		      &st, err);

	if (rc)
		return rc;
	bind_text_or_null(st, 1, t->name);
	bind_text_or_null(st, 2, t->owner);
	sqlite3_bind_int(st, 3, (int)t->status);
	bind_time_or_null(st, 4, t->deadline);
	sqlite3_bind_double(st, 5, now);
	bind_time_or_null(st, 6, t->finished);
	rc = step_done(q, st, err, "insert target");
	if (!rc) {
		t->id = sqlite3_last_insert_rowid(q->db);
		t->created = t->modified = now;
	}
	return rc;
}

int dd_sq_target_update(struct dd_store *s, const struct dd_target *t,
			struct dd_error *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	int rc = prep(q,
		      "UPDATE target SET status = ?2, finished = ?3,"
		      " deadline = ?4, modified = ?5 WHERE id = ?1",
		      &st, err);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, t->id);
	sqlite3_bind_int(st, 2, (int)t->status);
	bind_time_or_null(st, 3, t->finished);
	bind_time_or_null(st, 4, t->deadline);
	sqlite3_bind_double(st, 5, dd_now());
	rc = step_done(q, st, err, "update target");
	if (!rc && sqlite3_changes(q->db) == 0)
		return dd_error_set(err, DD_ERR_NOTFOUND,
				    "no such target: %lld", t->id);
	return rc;
}

int dd_sq_target_get(struct dd_store *s, long long id, struct dd_target *out,
		     struct dd_error *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	int rc = prep(q, "SELECT " TARGET_COLS " FROM target WHERE id = ?1",
		      &st, err);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		target_row(st, out);
		done(q, st);
		return 0;
	}
	done(q, st);
	if (rc != SQLITE_DONE)
		return dd_sq_fail(q, rc, err, "get target");
	return dd_error_set(err, DD_ERR_NOTFOUND, "no such target: %lld", id);
}

int dd_sq_target_each(struct dd_store *s, const struct dd_filter *f,
		      dd_target_visit_fn *fn, void *arg, struct dd_error *err)
{
	struct sq *q = SQ(s);
	struct query qq = {0};
	sqlite3_stmt *st;
	int rc, stop = 0;

	dd_buf_addstr(&qq.sql, "SELECT " TARGET_COLS " FROM target");
	q_status(&qq, f->status_mask);
	if (f->owner)
		q_text(&qq, "owner = ?", f->owner);
	q_range(&qq, f);
	q_tail(&qq, f);
	rc = q_prepare(q, &qq, &st, err);
	if (rc)
		return rc;
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct dd_target t = {0};

		target_row(st, &t);
		stop = fn(arg, &t, err);
		dd_target_release(&t);
	}
	return each_end(q, st, rc, stop, err);
}

/* ---- artifacts ----------------------------------------------------------- */

#define ARTIFACT_COLS                                                          \
	"id, target, key, type, data, released, complete, size, sha256,"       \
	" created, modified"

static void artifact_row(sqlite3_stmt *st, struct dd_artifact *a)
{
	const unsigned char *hash;

	a->id = sqlite3_column_int64(st, 0);
	a->target = sqlite3_column_int64(st, 1);
	a->key = col_text(st, 2);
	a->type = col_text(st, 3);
	a->data = col_json(st, 4);
	a->released = sqlite3_column_int(st, 5) != 0;
	a->complete = sqlite3_column_int(st, 6) != 0;
	a->size = sqlite3_column_int64(st, 7);
	hash = sqlite3_column_text(st, 8);
	snprintf(a->sha256, sizeof(a->sha256), "%s",
		 hash ? (const char *)hash : "");
	a->created = sqlite3_column_double(st, 9);
	a->modified = sqlite3_column_double(st, 10);
}

/* Why an artifact cannot be added to `target`: none, or no longer building. */
static int target_refuses(struct sq *q, long long target, const char *key,
			  struct dd_error *err)
{
	sqlite3_stmt *st;
	int rc = prep(q, "SELECT status FROM target WHERE id = ?1", &st, err);
	int status;

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, target);
	rc = sqlite3_step(st);
	status = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	done(q, st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return dd_sq_fail(q, rc, err, "get target");
	if (status < 0)
		return dd_error_set(err, DD_ERR_NOTFOUND,
				    "no such target: %lld", target);
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
int dd_sq_artifact_insert(struct dd_store *s, struct dd_artifact *a,
			  struct dd_error *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	double now = dd_now();
	int rc = prep(q,
		      "INSERT INTO artifact(target, key, type, data, complete,"
		      " created, modified) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?6"
		      " WHERE EXISTS(SELECT 1 FROM target WHERE id = ?1"
		      " AND status = 0)",
		      &st, err);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, a->target);
	sqlite3_bind_text(st, 2, a->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, a->type, -1, SQLITE_STATIC);
	if (a->data)
		rc = bind_json(st, 4, a->data);
	else
		rc = sqlite3_bind_text(st, 4, "{}", -1, SQLITE_STATIC);
	if (rc != SQLITE_OK) {
		done(q, st);
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	}
	sqlite3_bind_int(st, 5, a->complete);
	sqlite3_bind_double(st, 6, now);
	rc = sqlite3_step(st);
	done(q, st);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return dd_error_set(err, DD_ERR_EXISTS,
				    "target %lld already has an artifact '%s'",
				    a->target, a->key);
	if (rc != SQLITE_DONE)
		return dd_sq_fail(q, rc, err, "insert artifact");
	if (sqlite3_changes(q->db) == 0)
		return target_refuses(q, a->target, a->key, err);
	a->id = sqlite3_last_insert_rowid(q->db);
	a->created = a->modified = now;
	a->released = false;
	a->size = 0;
	a->sha256[0] = '\0';
	return 0;
}

int dd_sq_artifact_get(struct dd_store *s, long long id,
		       struct dd_artifact *out, struct dd_error *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	int rc = prep(q, "SELECT " ARTIFACT_COLS " FROM artifact WHERE id = ?1",
		      &st, err);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		artifact_row(st, out);
		done(q, st);
		return 0;
	}
	done(q, st);
	if (rc != SQLITE_DONE)
		return dd_sq_fail(q, rc, err, "get artifact");
	return dd_error_set(err, DD_ERR_NOTFOUND, "no such artifact: %lld",
			    id);
}

int dd_sq_artifact_each(struct dd_store *s, const struct dd_filter *f,
			dd_artifact_visit_fn *fn, void *arg,
			struct dd_error *err)
{
	struct sq *q = SQ(s);
	struct query qq = {0};
	sqlite3_stmt *st;
	int rc, stop = 0;

	dd_buf_addstr(&qq.sql, "SELECT " ARTIFACT_COLS " FROM artifact");
	if (f->target_id)
		q_int(&qq, "target = ?", f->target_id);
	if (f->type)
		q_text(&qq, "type = ?", f->type);
	if (f->key)
		q_text(&qq, "key = ?", f->key);
	q_range(&qq, f);
	q_tail(&qq, f);
	rc = q_prepare(q, &qq, &st, err);
	if (rc)
		return rc;
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct dd_artifact a = {0};

		artifact_row(st, &a);
		stop = fn(arg, &a, err);
		dd_artifact_release(&a);
	}
	return each_end(q, st, rc, stop, err);
}

int dd_sq_artifact_release_all(struct dd_store *s, long long target,
			       long long *n, struct dd_error *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	int rc = prep(q,
		      "UPDATE artifact SET released = 1"
		      " WHERE target = ?1 AND released = 0",
		      &st, err);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, target);
	rc = step_done(q, st, err, "release artifacts");
	if (!rc && n)
		*n = sqlite3_changes(q->db);
	return rc;
}

/* ---- file chunks --------------------------------------------------------- */

/*
 * The stored size of an incomplete artifact, or why it cannot take more
 * bytes: DD_ERR_NOTFOUND, or DD_ERR_STATE when it is complete.
 */
static int incomplete_size(struct sq *q, long long id, const char *doing,
			   long long *size, struct dd_error *err)
{
	sqlite3_stmt *st;
	int rc = prep(q, "SELECT complete, size FROM artifact WHERE id = ?1",
		      &st, err);
	bool complete = false, found;

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	found = rc == SQLITE_ROW;
	if (found) {
		complete = sqlite3_column_int(st, 0) != 0;
		*size = sqlite3_column_int64(st, 1);
	}
	done(q, st);
	if (!found && rc != SQLITE_DONE)
		return dd_sq_fail(q, rc, err, "get artifact");
	if (!found)
		return dd_error_set(err, DD_ERR_NOTFOUND,
				    "no such artifact: %lld", id);
	if (complete)
		return dd_error_set(err, DD_ERR_STATE,
				    "cannot %s artifact %lld: it is complete",
				    doing, id);
	return 0;
}

/*
 * The writes below change more than one row; a savepoint makes each call
 * all or nothing inside whatever transaction it runs in (store.c opens
 * one when the caller has none), without failing the caller's.
 */
static int savepoint(struct sq *q, struct dd_error *err)
{
	sqlite3_stmt *st;
	int rc = prep(q, "SAVEPOINT artifact", &st, err);

	return rc ? rc : step_done(q, st, err, "savepoint");
}

static int savepoint_end(struct sq *q, int rc, struct dd_error *err)
{
	sqlite3_stmt *st;
	int end;

	if (rc && !prep(q, "ROLLBACK TO artifact", &st, NULL))
		step_done(q, st, NULL, "rollback to savepoint");
	end = prep(q, "RELEASE artifact", &st, rc ? NULL : err);
	if (!end)
		end = step_done(q, st, rc ? NULL : err, "release savepoint");
	return rc ? rc : end;
}

int dd_sq_artifact_append(struct dd_store *s, long long id, const void *data,
			  size_t n, struct dd_error *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	long long size = 0;
	int rc = incomplete_size(q, id, "append to", &size, err);

	if (rc)
		return rc;
	rc = savepoint(q, err);
	if (rc)
		return rc;
	/*
	 * The row is made with a zeroblob and filled through incremental
	 * blob I/O: bound as a blob, SQLite would first copy the chunk into
	 * a record of its own, a fresh 256 KiB allocation per chunk (a 1 GiB
	 * upload: 4096 of them, each page faulted in and cleared).
	 */
	rc = prep(q,
		  "INSERT INTO chunk(artifact, pos, data)"
		  " VALUES(?1, ?2, zeroblob(?3))",
		  &st, err);
	if (!rc) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, size);
		sqlite3_bind_int64(st, 3, (long long)n);
		rc = step_done(q, st, err, "append chunk");
	}
	if (!rc) {
		sqlite3_blob *blob = NULL;
		int brc = sqlite3_blob_open(q->db, "main", "chunk", "data",
					    sqlite3_last_insert_rowid(q->db), 1,
					    &blob);

		if (brc == SQLITE_OK)
			brc = sqlite3_blob_write(blob, data, (int)n, 0);
		if (brc != SQLITE_OK)
			rc = dd_sq_fail(q, brc, err, "write chunk");
		sqlite3_blob_close(blob);
	}
	if (!rc)
		rc = prep(q,
			  "UPDATE artifact SET size = size + ?2, modified = ?3"
			  " WHERE id = ?1",
			  &st, err);
	if (!rc) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, (long long)n);
		sqlite3_bind_double(st, 3, dd_now());
		rc = step_done(q, st, err, "grow artifact");
	}
	return savepoint_end(q, rc, err);
}

int dd_sq_artifact_complete(struct dd_store *s, long long id, long long size,
			    const char *sha256, struct dd_error *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	long long stored = 0;
	int rc = incomplete_size(q, id, "complete", &stored, err);

	if (rc)
		return rc;
	if (stored != size)
		return dd_error_set(err, DD_ERR_STATE,
				    "cannot complete artifact %lld with %lld "
				    "bytes: %lld are stored",
				    id, size, stored);
	rc = prep(q,
		  "UPDATE artifact SET complete = 1, sha256 = ?2, modified = ?3"
		  " WHERE id = ?1 AND complete = 0",
		  &st, err);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, sha256, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 3, dd_now());
	return step_done(q, st, err, "complete artifact");
}

int dd_sq_artifact_read(struct dd_store *s, long long id, long long pos,
			void *buf, size_t cap, size_t *n, struct dd_error *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	sqlite3_blob *blob;
	long long chunk = 0, start = 0, len = 0;
	size_t want;
	int rc = prep(q,
		      "SELECT id, pos, length(data) FROM chunk"
		      " WHERE artifact = ?1 AND pos <= ?2"
		      " ORDER BY pos DESC LIMIT 1",
		      &st, err);

	*n = 0;
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, pos);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		chunk = sqlite3_column_int64(st, 0);
		start = sqlite3_column_int64(st, 1);
		len = sqlite3_column_int64(st, 2);
	}
	done(q, st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return dd_sq_fail(q, rc, err, "find chunk");
	if (rc == SQLITE_DONE || pos >= start + len) {
		/* past the end, or no bytes: tell a missing artifact apart */
		struct dd_artifact a = {0};

		rc = dd_sq_artifact_get(s, id, &a, err);
		dd_artifact_release(&a);
		return rc;
	}
	want = (size_t)(start + len - pos);
	if (want > cap)
		want = cap;
	if (!want)
		return 0;
	rc = sqlite3_blob_open(q->db, "main", "chunk", "data", chunk, 0, &blob);
	if (rc == SQLITE_OK)
		rc = sqlite3_blob_read(blob, buf, (int)want,
				       (int)(pos - start));
	if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_ERROR) {
		rc = dd_sq_fail(q, rc, err, "read chunk");
	} else if (rc != SQLITE_OK) {
		/* the chunk went between the look-up and the read */
		rc = dd_error_set(err, DD_ERR_NOTFOUND,
				  "artifact %lld was deleted while read", id);
	} else {
		*n = want;
	}
	sqlite3_blob_close(blob);
	return rc;
}

/* Delete an incomplete artifact's chunks, then its row. */
static int delete_incomplete(struct sq *q, long long id, struct dd_error *err)
{
	sqlite3_stmt *st;
	int rc = savepoint(q, err);

	if (rc)
		return rc;
	rc = prep(q, "DELETE FROM chunk WHERE artifact = ?1", &st, err);
	if (!rc) {
		sqlite3_bind_int64(st, 1, id);
		rc = step_done(q, st, err, "delete chunks");
	}
	if (!rc)
		rc = prep(q,
			  "DELETE FROM artifact WHERE id = ?1 AND complete = 0",
			  &st, err);
	if (!rc) {
		sqlite3_bind_int64(st, 1, id);
		rc = step_done(q, st, err, "delete artifact");
	}
	return savepoint_end(q, rc, err);
}

int dd_sq_artifact_delete(struct dd_store *s, long long id,
			  struct dd_error *err)
{
	struct sq *q = SQ(s);
	long long size;
	int rc = incomplete_size(q, id, "delete", &size, err);

	return rc ? rc : delete_incomplete(q, id, err);
}

int dd_sq_artifact_prune(struct dd_store *s, double before, int max, int *n,
			 struct dd_error *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	long long ids[64];
	int found = 0, rc;

	*n = 0;
	while (*n < max) {
		rc = prep(q,
			  "SELECT id FROM artifact WHERE complete = 0"
			  " AND modified < ?1 ORDER BY modified LIMIT ?2",
			  &st, err);
		if (rc)
			return rc;
		sqlite3_bind_double(st, 1, before);
		sqlite3_bind_int(st, 2, max - *n < 64 ? max - *n : 64);
		found = 0;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			ids[found++] = sqlite3_column_int64(st, 0);
		done(q, st);
		if (rc != SQLITE_DONE)
			return dd_sq_fail(q, rc, err, "find stale uploads");
		for (int i = 0; i < found; i++) {
			rc = delete_incomplete(q, ids[i], err);
			if (rc)
				return rc;
			(*n)++;
		}
		if (found < 64)
			break;
	}
	return 0;
}

/* ---- figures for /metrics ------------------------------------------------ */

/*
 * Counted as they change (the triggers of migration 6), so a scrape costs
 * the same with a million finished targets: the building ones from the
 * status index, the rest and the artifacts from their counters.
 */
int dd_sq_target_stats(struct sq *q, struct dd_store_stats *out,
		       struct dd_error *err)
{
	static const char *const finished[DD_TARGET_STATUS_COUNT] = {
		[DD_TARGET_PASSED] = "targets.passed",
		[DD_TARGET_FAILED] = "targets.failed",
		[DD_TARGET_ABORTED] = "targets.aborted",
	};
	size_t max = sizeof(out->artifacts) / sizeof(out->artifacts[0]);
	sqlite3_stmt *st;
	int rc = prep(q, "SELECT count(*) FROM target WHERE status = 0", &st,
		      err);

	if (rc)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		out->targets[DD_TARGET_BUILDING] = sqlite3_column_int64(st, 0);
	done(q, st);
	if (rc != SQLITE_ROW)
		return dd_sq_fail(q, rc, err, "count targets");
	/* 'artifact_bytes', 'artifacts.TYPE' ... and 'targets.STATUS' */
	rc = prep(q,
		  "SELECT name, value FROM counter"
		  " WHERE name = 'artifact_bytes'"
		  " OR (name > 'artifacts.' AND name < 'artifacts/')"
		  " OR (name > 'targets.' AND name < 'targets/')",
		  &st, err);
	if (rc)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		long long value = sqlite3_column_int64(st, 1);
		int i = out->n_artifact_types;

		if (!strcmp(name, "artifact_bytes")) {
			out->artifact_bytes = value;
		} else if (!strncmp(name, "artifacts.", 10)) {
			if ((size_t)i < max) {
				snprintf(out->artifacts[i].type,
					 sizeof(out->artifacts[i].type), "%s",
					 name + 10);
				out->artifacts[i].count = value;
				out->n_artifact_types++;
			}
		} else {
			for (int k = 0; k < DD_TARGET_STATUS_COUNT; k++)
				if (finished[k] && !strcmp(name, finished[k]))
					out->targets[k] = value;
		}
	}
	done(q, st);
	if (rc != SQLITE_DONE)
		return dd_sq_fail(q, rc, err, "count artifacts");
	return 0;
}
