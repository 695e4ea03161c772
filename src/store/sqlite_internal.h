/*
 * sqlite_internal.h - what the SQLite backend's files share: the handle
 * (struct sq), statement preparation with its per-handle cache, error
 * translation, binding and column helpers, and the list query builder.
 *
 * The backend is split by job: sqlite.c opens the store and runs
 * transactions, group commit and the objects of the core machines;
 * sqlite_targets.c holds build targets, artifacts and file chunks.  Both
 * reach SQLite only through these helpers, so a statement is prepared,
 * cached, reset and its failure reported the same way in either.  The
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
#include "store/store.h"

#define STMT_CACHE 96
#define DYN_CACHE 48

struct group;

struct sq {
	struct dd_store base;
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

/* Translate a SQLite failure into a drydock error (sqlite.c: fail()). */
int dd_sq_fail(struct sq *q, int rc, struct dd_error *err, const char *what);

/* Prepare `sql` (a string literal: the cache keys on its address). */
static inline int prep(struct sq *q, const char *sql, sqlite3_stmt **out,
		       struct dd_error *err)
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
	rc = sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out,
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

static inline int bind_json(sqlite3_stmt *st, int idx, json_t *v)
{
	char *s;

	if (!v)
		return sqlite3_bind_null(st, idx);
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!s)
		return SQLITE_NOMEM;
	return sqlite3_bind_text(st, idx, s, -1, dd_free);
}

static inline void bind_text_or_null(sqlite3_stmt *st, int idx, const char *s)
{
	if (s)
		sqlite3_bind_text(st, idx, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, idx);
}

static inline void bind_id_or_null(sqlite3_stmt *st, int idx, long long id)
{
	if (id)
		sqlite3_bind_int64(st, idx, id);
	else
		sqlite3_bind_null(st, idx);
}

static inline void bind_time_or_null(sqlite3_stmt *st, int idx, double t)
{
	if (t > 0)
		sqlite3_bind_double(st, idx, t);
	else
		sqlite3_bind_null(st, idx);
}

static inline char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? dd_strdup((const char *)t) : NULL;
}

static inline json_t *col_json(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	if (!t)
		return NULL;
	return json_loads((const char *)t, JSON_DECODE_ANY, NULL);
}

/* ---- dynamic list queries ---------------------------------------------- */

struct query {
	struct dd_buf sql;
	int nbind;
	struct {
		bool is_text;
		long long i;
		const char *t;
	} bind[12];
	bool has_where;
};

static inline void q_where(struct query *qq, const char *cond)
{
	dd_buf_addstr(&qq->sql, qq->has_where ? " AND " : " WHERE ");
	dd_buf_addstr(&qq->sql, cond);
	qq->has_where = true;
}

static inline void q_int(struct query *qq, const char *cond, long long v)
{
	q_where(qq, cond);
	qq->bind[qq->nbind].is_text = false;
	qq->bind[qq->nbind].i = v;
	qq->nbind++;
}

static inline void q_text(struct query *qq, const char *cond, const char *v)
{
	q_where(qq, cond);
	qq->bind[qq->nbind].is_text = true;
	qq->bind[qq->nbind].t = v;
	qq->nbind++;
}

static inline void q_status(struct query *qq, unsigned mask)
{
	bool first = true;

	if (!mask)
		return;
	q_where(qq, "status IN (");
	for (int i = 0; i < 32; i++) {
		if (mask & (1u << i)) {
			dd_buf_addf(&qq->sql, first ? "%d" : ",%d", i);
			first = false;
		}
	}
	dd_buf_addstr(&qq->sql, ")");
}

/* The id window of a page: after_id and before_id. */
static inline void q_range(struct query *qq, const struct dd_filter *f)
{
	if (f->after_id)
		q_int(qq, "id > ?", f->after_id);
	if (f->before_id)
		q_int(qq, "id < ?", f->before_id);
}

static inline void q_tail(struct query *qq, const struct dd_filter *f)
{
	dd_buf_addstr(&qq->sql, f->descending ? " ORDER BY id DESC"
					      : " ORDER BY id");
	if (f->limit)
		dd_buf_addf(&qq->sql, " LIMIT %zu", f->limit);
}

static inline int q_prepare(struct sq *q, struct query *qq, sqlite3_stmt **st,
			    struct dd_error *err)
{
	int rc;

	if (!qq->sql.buf)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	/* the same few filters come back on every pass: keep them prepared */
	*st = NULL;
	for (size_t i = 0; i < q->ndyn; i++) {
		if (q->dyn[i].db == q->db && !strcmp(q->dyn[i].sql, qq->sql.buf)) {
			*st = q->dyn[i].st;
			sqlite3_reset(*st);
			sqlite3_clear_bindings(*st);
			break;
		}
	}
	if (!*st) {
		rc = sqlite3_prepare_v3(q->db, qq->sql.buf, -1,
					SQLITE_PREPARE_PERSISTENT, st, NULL);
		if (rc != SQLITE_OK) {
			dd_buf_release(&qq->sql);
			return dd_sq_fail(q, rc, err, "prepare list");
		}
		if (q->ndyn < DYN_CACHE) {
			q->dyn[q->ndyn].sql = dd_buf_detach(&qq->sql);
			q->dyn[q->ndyn].db = q->db;
			q->dyn[q->ndyn].st = *st;
			q->ndyn++;
		}
	}
	dd_buf_release(&qq->sql);
	for (int i = 0; i < qq->nbind; i++) {
		if (qq->bind[i].is_text)
			sqlite3_bind_text(*st, i + 1, qq->bind[i].t, -1,
					  SQLITE_TRANSIENT);
		else
			sqlite3_bind_int64(*st, i + 1, qq->bind[i].i);
	}
	return 0;
}

/*
 * Run a list query: `row` converts the current row into *item, and `push`
 * appends it to the list.  Generic over the list type via callbacks.
 * Leases and resources are walked a row at a time instead (*_each).
 */
typedef int row_fn(sqlite3_stmt *st, void *list);

static inline int run_list(struct sq *q, sqlite3_stmt *st, row_fn *row,
			   void *list, struct dd_error *err)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (row(st, list)) {
			done(q, st);
			return dd_error_set(err, DD_ERR_NOMEM,
					    "out of memory");
		}
	}
	done(q, st);
	if (rc != SQLITE_DONE)
		return dd_sq_fail(q, rc, err, "list");
	return 0;
}

/*
 * End a walk of a list query (the *_each operations): the statement is
 * reset whether it ran to the end (`rc` SQLITE_DONE), failed, or was
 * stopped by its visitor (`stop`, returned as it is).
 */
static inline int each_end(struct sq *q, sqlite3_stmt *st, int rc, int stop,
			   struct dd_error *err)
{
	done(q, st);
	if (stop)
		return stop;
	if (rc != SQLITE_DONE)
		return dd_sq_fail(q, rc, err, "list");
	return 0;
}

/*
 * Build targets, artifacts and file chunks (sqlite_targets.c), for the
 * backend's ops table in sqlite.c.  Each is the store.h method of the
 * same name.
 */
dd_store_target_insert_fn dd_sq_target_insert;
dd_store_target_update_fn dd_sq_target_update;
dd_store_target_get_fn dd_sq_target_get;
dd_store_target_each_fn dd_sq_target_each;
dd_store_artifact_insert_fn dd_sq_artifact_insert;
dd_store_artifact_get_fn dd_sq_artifact_get;
dd_store_artifact_each_fn dd_sq_artifact_each;
dd_store_artifact_release_all_fn dd_sq_artifact_release_all;
dd_store_artifact_append_fn dd_sq_artifact_append;
dd_store_artifact_complete_fn dd_sq_artifact_complete;
dd_store_artifact_read_fn dd_sq_artifact_read;
dd_store_artifact_delete_fn dd_sq_artifact_delete;
dd_store_artifact_prune_fn dd_sq_artifact_prune;
/* The targets' and artifacts' part of dd_store_stats (sq_stats). */
int dd_sq_target_stats(struct sq *q, struct dd_store_stats *out,
		       struct dd_error *err);

#endif
