/*
 * pg_internal.h - what the PostgreSQL backend's files share: the handle
 * (struct pg, which starts with the SQL stores' struct dd_sql), running
 * a statement with its failure translated, and the backend's pieces for
 * the ops table in pg.c.  Not for use outside src/store.
 *
 * One handle is one libpq connection, used by one thread at a time (as
 * every store handle is).  pg.c opens it, migrates, runs transactions,
 * takes object locks, checks fences and claims tasks; pg_driver.c is the
 * SQL driver (sql.h) the shared data access reaches PostgreSQL through;
 * pg_chunks.c holds the bytes of file artifacts; pg_wake.c carries
 * wake-ups between processes and machines with LISTEN/NOTIFY.
 *
 * A connection that drops is noticed by whichever call meets it: the
 * call fails with DD_ERR_STORE ("lost its connection"), the handle is
 * marked broken, and the next transaction it begins, or statement it
 * runs outside one, reconnects (with backoff and jitter, never more
 * often than the backoff allows), so a worker or an API server carries
 * on once the database is back.  One the server ended while it was idle
 * (a restart, pg_terminate_backend) is noticed before anything is sent
 * on it (dd_pg_ready()), and replaced at once.  Nothing is retried
 * behind the caller's back: a write whose transaction may or may not have
 * committed is reported failed, and the fence and claim tokens make the
 * caller's retry safe.
 */
#ifndef DD_PG_INTERNAL_H
#define DD_PG_INTERNAL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/util.h"
#include "store/sql.h"
#include "store/store.h"

#define PG_STMT_CACHE 128
#define PG_MAX_PARAMS 24

/* A prepared statement of the shared dialect, with its bindings. */
struct dd_sql_stmt {
	const char *key;	/* the SQL literal's address, or NULL */
	const char *src;	/* the shared dialect's text (owned if !key) */
	char *text;		/* PostgreSQL's ($N), owned */
	char name[16];		/* the server-side statement, "" if none yet */
	bool cached;		/* in the handle's cache (else freed at done) */
	int nparams;		/* highest ?N in the text */
	unsigned used;		/* bit N-1: the text uses ?N */
	char *values[PG_MAX_PARAMS];
	bool own[PG_MAX_PARAMS]; /* values[i] is ours to free */
	unsigned types[PG_MAX_PARAMS]; /* type oids of the bindings, 0: infer */
	char num[PG_MAX_PARAMS][32]; /* numbers bound, as text */
	PGresult *res;		/* the running execution's, or NULL */
	int row;		/* the current row in res, -1 before */
	bool ran;		/* executed since the last done() */
	bool stream;		/* walked through a cursor, a batch a fetch */
	char cursor[24];	/* the open cursor's name, "" if none */
	bool fetched_all;	/* the cursor has no more rows */
};

struct pg {
	union {
		struct dd_store base; /* the store handle, */
		struct dd_sql sql;    /* which starts the SQL stores' handle */
	};
	PGconn *conn;		/* NULL or bad: reconnect at the next begin */
	char *conninfo;		/* the location, as libpq takes it */
	bool broken;		/* the connection failed: reconnect first */
	double retry_at;	/* monotonic: no reconnect before */
	double backoff;		/* seconds, doubling to PG_BACKOFF_MAX */
	bool in_txn;		/* a transaction is open on the server */
	bool unsynced;		/* a lazy commit since the last sync */
	long long changes;	/* rows the last statement changed */
	char constraint[64];	/* the last failure's constraint, or "" */
	bool durable;		/* commits wait for the WAL flush */
	bool plan_once;		/* generic plans (dd_store_options) */
	char shown[256];	/* the location, its password hidden */
	char why[256];		/* why the last connect failed */
	double lock_timeout;	/* seconds a statement may wait for a row */
	struct dd_sql_stmt *cache[PG_STMT_CACHE];
	size_t ncache;
	int next_name;		/* server-side statement names: s1, s2 ... */
	int next_cursor;	/* cursor names: c1, c2 ... */
};

#define PG_BACKOFF_MIN 0.05
#define PG_BACKOFF_MAX 5.0

static inline struct pg *PG(struct dd_store *s)
{
	return (struct pg *)s;
}

/*
 * Have a working connection, or say why not: outside a transaction,
 * first reads without blocking whether the server ended it while idle;
 * reconnects a lost one,
 * unless the last try was too recent (the backoff grows from
 * PG_BACKOFF_MIN to PG_BACKOFF_MAX, with jitter), and then the
 * statements are prepared again.  Never inside a transaction.
 */
int dd_pg_ready(struct pg *p, struct dd_error *err);

/* The SQL driver (sql.h) over this backend (pg_driver.c). */
extern const struct dd_sql_driver dd_pg_sql_driver;

/*
 * Translate a failed result (or, res NULL, the connection's state) into
 * a drydock error, `what` naming the operation; takes over `res`.  A
 * connection that is gone marks the handle broken: DD_ERR_STORE, "store
 * 'X' lost its connection".  Unique and other constraints broken are
 * DD_ERR_EXISTS, a lock or statement timeout, deadlock or serialization
 * failure DD_ERR_BUSY, the rest DD_ERR_STORE.
 */
int dd_pg_fail(struct pg *p, PGresult *res, struct dd_error *err,
	       const char *what);

/*
 * Run `sql` ($1... parameters, text values, NULL for SQL NULL; lengths
 * and formats as PQexecParams takes them, NULL for all text) and check
 * it: the result (PGRES_COMMAND_OK or PGRES_TUPLES_OK) for the caller to
 * PQclear, or NULL with err set through dd_pg_fail().
 */
PGresult *dd_pg_exec(struct pg *p, const char *sql, int n,
		     const char *const *values, const int *lengths,
		     const int *formats, int result_format,
		     struct dd_error *err, const char *what);

/* Forget the server-side statements (the connection was replaced). */
void dd_pg_driver_reset(struct pg *p);
/* Free every cached statement. */
void dd_pg_driver_free(struct pg *p);

/*
 * The bytes of file artifacts (pg_chunks.c), for the ops table in pg.c.
 * Each is the store.h method of the same name.
 */
dd_store_artifact_append_fn dd_pg_artifact_append;
dd_store_artifact_complete_fn dd_pg_artifact_complete;
dd_store_artifact_read_fn dd_pg_artifact_read;
dd_store_artifact_delete_fn dd_pg_artifact_delete;
dd_store_artifact_prune_fn dd_pg_artifact_prune;

#endif
