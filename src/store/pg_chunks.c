/*
 * pg_chunks.c - the bytes of file artifacts in the PostgreSQL store (the
 * store.h methods artifact_append, _complete, _read, _delete and
 * _prune); the artifacts' records are shared SQL (sql_targets.c).  The
 * same semantics and messages as SQLite's (sqlite_chunks.c).
 *
 * A file's bytes are rows of the `chunk` table (BYTEA), one per append,
 * keyed by (artifact, pos) where pos is the offset of the chunk's first
 * byte.  Bytes go to the server and come back in libpq's binary format,
 * never as hex text.
 *
 * Several processes on several machines may write the same artifact, so
 * every write first locks the artifact's row (SELECT ... FOR UPDATE) and
 * decides on what it reads under that lock: an append takes the next
 * chunk's offset from the row's size and adds its length to it, so two
 * appenders follow one another instead of both writing at one offset; a
 * completion's size check, a delete and a prune cannot interleave with
 * an append.  A writer that waits for the lock longer than the store's
 * lock timeout is refused with DD_ERR_BUSY, having written nothing.
 * prune skips the rows another transaction holds (SKIP LOCKED): an
 * upload being written is not stale.
 *
 * PostgreSQL aborts a whole transaction when one of its statements
 * fails, so each write runs inside a savepoint: a failure rolls back to
 * it and leaves the caller's transaction (store.c opens one when the
 * caller has none) usable, as SQLite's statement rollback does.
 *
 * A read is one statement that takes from the one chunk holding the
 * offset only the bytes asked for (substring), so no call holds more
 * than the caller's buffer, and none holds a transaction after it
 * returns.
 */
#include "store/pg_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A number as a text parameter, in buf. */
static const char *num(char buf[32], long long v)
{
	snprintf(buf, 32, "%lld", v);
	return buf;
}

/* The code of the failure dd_pg_exec() has just set in err. */
static int failed(const struct dd_error *err)
{
	return err && err->code ? err->code : DD_ERR_STORE;
}

/* Run `sql` with text parameters only; 0, or its failure in err. */
static int run(struct pg *p, const char *sql, int n,
	       const char *const *values, struct dd_error *err,
	       const char *what)
{
	PGresult *res = dd_pg_exec(p, sql, n, values, NULL, NULL, 0, err, what);

	if (!res)
		return failed(err);
	PQclear(res);
	return 0;
}

/* ---- savepoints ---------------------------------------------------------- */

static int savepoint(struct pg *p, struct dd_error *err)
{
	return run(p, "SAVEPOINT dd_artifact", 0, NULL, err, "savepoint");
}

/*
 * End the savepoint: released when rc is 0, rolled back to first when
 * not (then rc is returned, whatever the rollback says).
 */
static int savepoint_end(struct pg *p, int rc, struct dd_error *err)
{
	struct dd_error ignored = DD_ERROR_INIT;

	if (rc) {
		if (!run(p, "ROLLBACK TO SAVEPOINT dd_artifact", 0, NULL,
			 &ignored, "rollback to savepoint"))
			run(p, "RELEASE SAVEPOINT dd_artifact", 0, NULL,
			    &ignored, "release savepoint");
		return rc;
	}
	return run(p, "RELEASE SAVEPOINT dd_artifact", 0, NULL, err,
		   "release savepoint");
}

/* ---- the artifact's row -------------------------------------------------- */

/*
 * Lock artifact `id`'s row until the transaction ends and read its size;
 * DD_ERR_NOTFOUND without it, DD_ERR_STATE when it is complete (it can
 * take no more bytes; `doing` says what was refused).
 */
static int lock_incomplete(struct pg *p, long long id, const char *doing,
			   long long *size, struct dd_error *err)
{
	char a[32];
	const char *v[] = {num(a, id)};
	PGresult *res = dd_pg_exec(p,
				   "SELECT complete, size FROM artifact"
				   " WHERE id = $1 FOR UPDATE",
				   1, v, NULL, NULL, 0, err, "lock artifact");
	bool found, complete = false;

	if (!res)
		return failed(err);
	found = PQntuples(res) == 1;
	if (found) {
		complete = atoi(PQgetvalue(res, 0, 0)) != 0;
		*size = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	}
	PQclear(res);
	if (!found)
		return dd_error_set(err, DD_ERR_NOTFOUND,
				    "no such artifact: %lld", id);
	if (complete)
		return dd_error_set(err, DD_ERR_STATE,
				    "cannot %s artifact %lld: it is complete",
				    doing, id);
	return 0;
}

/* ---- the store.h methods ------------------------------------------------- */

int dd_pg_artifact_append(struct dd_store *s, long long id, const void *data,
			  size_t n, struct dd_error *err)
{
	struct pg *p = PG(s);
	long long size = 0;
	char a[32], at[32], len[32], now[32];
	int rc = savepoint(p, err);

	if (rc)
		return rc;
	num(a, id);
	rc = lock_incomplete(p, id, "append to", &size, err);
	if (!rc) {
		/* the bytes as they are: binary format, their length given */
		const char *v[] = {a, num(at, size), (const char *)data};
		const int lengths[] = {0, 0, (int)n};
		const int formats[] = {0, 0, 1};
		PGresult *res = dd_pg_exec(p,
					   "INSERT INTO chunk(artifact, pos, data)"
					   " VALUES($1, $2, $3)",
					   3, v, lengths, formats, 0, err,
					   "append chunk");

		if (res)
			PQclear(res);
		else
			rc = failed(err);
	}
	if (!rc) {
		const char *v[] = {a, num(len, (long long)n), now};

		snprintf(now, sizeof(now), "%.17g", dd_now());
		rc = run(p,
			 "UPDATE artifact SET size = size + $2, modified = $3"
			 " WHERE id = $1",
			 3, v, err, "grow artifact");
	}
	return savepoint_end(p, rc, err);
}

int dd_pg_artifact_complete(struct dd_store *s, long long id, long long size,
			    const char *sha256, struct dd_error *err)
{
	struct pg *p = PG(s);
	long long stored = 0;
	char a[32], now[32];
	int rc = savepoint(p, err);

	if (rc)
		return rc;
	rc = lock_incomplete(p, id, "complete", &stored, err);
	if (!rc && stored != size)
		rc = dd_error_set(err, DD_ERR_STATE,
				  "cannot complete artifact %lld with %lld "
				  "bytes: %lld are stored",
				  id, size, stored);
	if (!rc) {
		const char *v[] = {num(a, id), sha256, now};

		snprintf(now, sizeof(now), "%.17g", dd_now());
		rc = run(p,
			 "UPDATE artifact SET complete = 1, sha256 = $2,"
			 " modified = $3 WHERE id = $1",
			 3, v, err, "complete artifact");
	}
	return savepoint_end(p, rc, err);
}

/*
 * The chunk that starts at or before `pos`, cut to the bytes from pos
 * on, at most $3 of them (empty at or past its end); no row when the
 * artifact does not exist, NULL when it has no chunk yet.  The offset
 * into the chunk is kept within it so that the integer substring takes
 * cannot overflow whatever pos is.
 */
#define READ_SQL                                                               \
	"SELECT (SELECT substring(data FROM"                                   \
	" least($2::bigint - pos, length(data))::integer + 1"                  \
	" FOR $3::integer)"                                                    \
	" FROM chunk WHERE artifact = $1 AND pos <= $2::bigint"                \
	" ORDER BY pos DESC LIMIT 1)"                                          \
	" FROM artifact WHERE id = $1"

int dd_pg_artifact_read(struct dd_store *s, long long id, long long pos,
			void *buf, size_t cap, size_t *n, struct dd_error *err)
{
	struct pg *p = PG(s);
	char a[32], at[32], want[32];
	const char *v[] = {num(a, id), num(at, pos),
			   num(want, cap > INT_MAX ? INT_MAX : (long long)cap)};
	/* the bytes come back as they are stored: binary results */
	PGresult *res = dd_pg_exec(p, READ_SQL, 3, v, NULL, NULL, 1, err,
				   "read chunk");
	size_t got;

	*n = 0;
	if (!res)
		return failed(err);
	if (PQntuples(res) != 1) {
		PQclear(res);
		return dd_error_set(err, DD_ERR_NOTFOUND,
				    "no such artifact: %lld", id);
	}
	if (PQgetisnull(res, 0, 0)) { /* no bytes stored yet */
		PQclear(res);
		return 0;
	}
	got = (size_t)PQgetlength(res, 0, 0);
	if (got > cap) {
		PQclear(res);
		return dd_error_set(err, DD_ERR_STORE,
				    "reading artifact %lld at %lld: the store "
				    "answered %zu bytes for %zu",
				    id, pos, got, cap);
	}
	if (got)
		memcpy(buf, PQgetvalue(res, 0, 0), got);
	*n = got;
	PQclear(res);
	return 0;
}

/* Delete a locked incomplete artifact's chunks, then its row. */
static int delete_locked(struct pg *p, const char *id, struct dd_error *err)
{
	const char *v[] = {id};
	int rc = run(p, "DELETE FROM chunk WHERE artifact = $1", 1, v, err,
		     "delete chunks");

	if (!rc)
		rc = run(p, "DELETE FROM artifact WHERE id = $1", 1, v, err,
			 "delete artifact");
	return rc;
}

int dd_pg_artifact_delete(struct dd_store *s, long long id,
			  struct dd_error *err)
{
	struct pg *p = PG(s);
	long long size;
	char a[32];
	int rc = savepoint(p, err);

	if (rc)
		return rc;
	rc = lock_incomplete(p, id, "delete", &size, err);
	if (!rc)
		rc = delete_locked(p, num(a, id), err);
	return savepoint_end(p, rc, err);
}

int dd_pg_artifact_prune(struct dd_store *s, double before, int max, int *n,
			 struct dd_error *err)
{
	struct pg *p = PG(s);
	char cut[32], limit[32];
	const char *v[] = {cut, num(limit, max)};
	PGresult *res;
	int rc, found;

	*n = 0;
	if (max <= 0)
		return 0;
	snprintf(cut, sizeof(cut), "%.17g", before);
	rc = savepoint(p, err);
	if (rc)
		return rc;
	/*
	 * The oldest stale uploads, locked, skipping those a writer holds;
	 * each is then deleted as artifact_delete does.
	 */
	res = dd_pg_exec(p,
			 "SELECT id FROM artifact WHERE complete = 0"
			 " AND modified < $1 ORDER BY modified LIMIT $2"
			 " FOR UPDATE SKIP LOCKED",
			 2, v, NULL, NULL, 0, err, "find stale uploads");
	if (!res)
		return savepoint_end(p, failed(err), err);
	found = PQntuples(res);
	for (int i = 0; !rc && i < found; i++)
		rc = delete_locked(p, PQgetvalue(res, i, 0), err);
	PQclear(res);
	rc = savepoint_end(p, rc, err);
	if (!rc)
		*n = found;
	return rc;
}
