/*
 * sqlite_chunks.c - the bytes of file artifacts in the SQLite store (the
 * store.h methods artifact_append, _complete, _read, _delete and
 * _prune); the artifacts' records are shared SQL (sql_targets.c).
 *
 * A file's bytes are rows of the `chunk` table, one per append, keyed by
 * (artifact, pos) where pos is the offset of the chunk's first byte.  An
 * append writes the chunk (its row made, then filled with incremental
 * blob I/O) and adds its length to the artifact's size in one savepoint,
 * so the size always equals the bytes stored and the next chunk's offset
 * is read from the artifact row, not from the chunks.  A read finds the
 * one chunk holding an offset through the index and copies from it with
 * SQLite's incremental blob I/O, which reads only the pages it needs: no
 * call holds more than the caller's buffer, and none holds a read
 * transaction after it returns.
 */
#include "store/sqlite_internal.h"
#include "store/sql_ops.h"

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

		rc = dd_sql_artifact_get(s, id, &a, err);
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
