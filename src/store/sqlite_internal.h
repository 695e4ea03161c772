/*
 * sqlite_internal.h - what the SQLite backend's files share: the handle
 * (struct sq, which starts with the SQL stores' struct dd_sql), statement
 * preparation with its per-handle cache, and error translation.
 *
 * The backend is what differs per SQL store; what does not is written
 * once in sql_*.c over the driver of sql.h.  sqlite.c opens and migrates
 * the store, runs transactions and group commit, claims tasks, takes
 * object locks and checks fences, and answers health and check;
 * sqlite_chunks.c holds the bytes of file artifacts; sqlite_driver.c is
 * the driver the shared code reaches SQLite through.  All of them
 * prepare through prep(), so a statement is prepared once per
 * connection, cached, reset and its failure reported the same way.  The
 * helpers are static inline so that they stay file-local to each user.
 * Not for use outside src/store.
 */
#ifndef DD_SQLITE_INTERNAL_H
#define DD_SQLITE_INTERNAL_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/types.h>

#include "core/util.h"
#include "store/sql.h"
#include "store/store.h"

#define STMT_CACHE 96
#define DYN_CACHE 48

struct group;

struct sq {
	union {
		struct dd_store base; /* the store handle, */
		struct dd_sql sql;    /* which starts the SQL stores' handle */
	};
	sqlite3 *db;	       /* the connection in use: own, or the group's */
	sqlite3 *own_db;
	struct group *group;   /* group commit, or NULL */
	bool sync_wal;	       /* durable commits: fsync the WAL ourselves */
	atomic_bool sync_failed; /* a sync failed: refuse all later commits */
	char sync_error[128];	 /* why, set before sync_failed */
	dev_t dev;	       /* the file opened, to tell when its path */
	ino_t ino;	       /* names another file, or none */
	bool lazy;	       /* the next commit need not wait for the disk */
	int wal_fd;	       /* the WAL, for sync_wal(); -1 until needed */
	double busy_timeout;   /* seconds */
	double busy_since;     /* when the current wait began */
	struct {
		const char *sql;
		sqlite3 *db;
		sqlite3_stmt *st;
	} cache[STMT_CACHE];
	size_t ncache;
	struct {
		char *sql;
		sqlite3 *db;
		sqlite3_stmt *st;
	} dyn[DYN_CACHE];  /* list queries, keyed by their text */
	size_t ndyn;
};

static inline struct sq *SQ(struct dd_store *s)
{
	return (struct sq *)s;
}

/* The SQL driver (sql.h) over this backend (sqlite_driver.c). */
extern const struct dd_sql_driver dd_sqlite_sql_driver;

/* Translate a SQLite failure into a drydock error (sqlite.c: fail()). */
int dd_sq_fail(struct sq *q, int rc, struct dd_error *err, const char *what);

/*
 * Prepare the first `n` bytes of `sql` (a string literal: the cache keys
 * on its address), or all of it for -1.
 */
static inline int prep_n(struct sq *q, const char *sql, int n,
			 sqlite3_stmt **out, struct dd_error *err)
{
	int rc;

	for (size_t i = 0; i < q->ncache; i++) {
		if (q->cache[i].sql == sql && q->cache[i].db == q->db) {
			sqlite3_reset(q->cache[i].st);
			sqlite3_clear_bindings(q->cache[i].st);
			*out = q->cache[i].st;
			return 0;
		}
	}
	rc = sqlite3_prepare_v3(q->db, sql, n, SQLITE_PREPARE_PERSISTENT, out,
				NULL);
	if (rc != SQLITE_OK)
		return dd_sq_fail(q, rc, err, "prepare");
	if (q->ncache < STMT_CACHE) {
		q->cache[q->ncache].sql = sql;
		q->cache[q->ncache].db = q->db;
		q->cache[q->ncache].st = *out;
		q->ncache++;
	}
	return 0;
}

/* Prepare `sql` (a string literal: the cache keys on its address). */
static inline int prep(struct sq *q, const char *sql, sqlite3_stmt **out,
		       struct dd_error *err)
{
	return prep_n(q, sql, -1, out, err);
}

/* Finish with a statement from prep(): reset cached ones, free the rest. */
static inline void done(struct sq *q, sqlite3_stmt *st)
{
	for (size_t i = 0; i < q->ncache; i++) {
		if (q->cache[i].st == st) {
			sqlite3_reset(st);
			return;
		}
	}
	for (size_t i = 0; i < q->ndyn; i++) {
		if (q->dyn[i].st == st) {
			sqlite3_reset(st);
			return;
		}
	}
	sqlite3_finalize(st);
}

/* Run a statement that returns no rows. */
static inline int step_done(struct sq *q, sqlite3_stmt *st,
			    struct dd_error *err, const char *what)
{
	int rc = sqlite3_step(st);

	done(q, st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return dd_sq_fail(q, rc, err, what);
	return 0;
}

/*
 * The bytes of file artifacts (sqlite_chunks.c), for the backend's ops
 * table in sqlite.c.  Each is the store.h method of the same name.
 */
dd_store_artifact_append_fn dd_sq_artifact_append;
dd_store_artifact_complete_fn dd_sq_artifact_complete;
dd_store_artifact_read_fn dd_sq_artifact_read;
dd_store_artifact_delete_fn dd_sq_artifact_delete;
dd_store_artifact_prune_fn dd_sq_artifact_prune;

#endif
