/*
 * pg.c - the PostgreSQL store: several daemons and servers, on several
 * machines, sharing one database.
 *
 * This file is what the PostgreSQL backend does its own way: it opens
 * and keeps a connection (reconnecting after a loss), migrates
 * (pg_migrate.c), runs transactions, takes object locks, checks fences
 * and claims tasks, and answers health and check.  The objects' data
 * access is the shared SQL of sql_*.c, reached through pg_driver.c; the
 * bytes of file artifacts are in pg_chunks.c; wake-ups in pg_wake.c.
 *
 * Transactions run at READ COMMITTED, PostgreSQL's default, and what
 * SQLite's single writer made safe is made safe with row locks instead:
 *  - The fence check reads the lock grant FOR KEY SHARE: the row stays
 *    locked until the transaction ends, so nobody can take the lock over
 *    (which deletes the row or changes its token, its key) between the
 *    check and the commit.  A worker that stalled past its lock's expiry
 *    finds the grant gone and writes nothing; one that checked in time
 *    commits before the takeover can.
 *    KEY SHARE, not SHARE: the claim keeper's renewal (an UPDATE of the
 *    expiry alone) must not wait for the pass, which may be waiting for
 *    the keeper's renewal of the task's claim: under SHARE the two
 *    deadlocked, and the pass, the victim, ran its hooks again.
 *  - A lock is taken by deleting its row only if expired, then inserting
 *    a new one ON CONFLICT DO NOTHING; a claim takes its task's in the
 *    same statement as the claim, inserting it or updating it only if
 *    expired (ON CONFLICT DO UPDATE ... WHERE).  Either way two takers of
 *    one lock meet at the row (the second waits for the first to commit)
 *    and exactly one gets a grant, with a new token.  Locks are leases
 *    on rows: they expire, and their holders renew them (lock_renew,
 *    task_renew), so a holder that crashed or was cut off loses them by
 *    itself.
 *  - A lease about to wait reads the capacity counter (or the lease it
 *    queues behind) FOR SHARE (sql_locks.c, sql_leases.c): the bump and
 *    the wake-up that follow a release either came first or wait for
 *    its commit and find it waiting.
 *  - A worker deciding on a resource's state from another object's pass
 *    (placing a lease on it, waking it as a lease leaves it) reads its
 *    row FOR SHARE (resource_hold): the resource's release either came
 *    first and is seen, or waits for that commit and then sees the lease.
 *    A reclaim locks its resource's row before counting its leases
 *    (resource_lock), and adding an artifact holds its target.
 *  - A task is claimed with SELECT ... FOR UPDATE SKIP LOCKED: claimers
 *    never wait for one another's rows, and one that meets a task whose
 *    object lock another claimer just took tries the next.  The look,
 *    the object's lock and the claim are one statement, and outside a
 *    transaction one lazily committed round trip.
 *  - A write meets another on a row lock for at most the busy timeout
 *    (lock_timeout), then fails with DD_ERR_BUSY, as on SQLite.
 * Durable commits wait for the WAL flush (synchronous_commit on); the
 * task queue's lazy commits (claim, finish, retry) set it off for their
 * transaction, and sync() makes them durable with one flushed commit.
 * Clocks: lock and claim expiry compare times taken on the machines
 * that hold them, so the machines' clocks must agree to well within the
 * lock lifetime (NTP; docs/postgresql.md).
 */
#include "store/pg.h"
#include "store/pg_internal.h"
#include "store/pg_migrate.h"
#include "store/pq.h"
#include "store/schema_pg.h"
#include "store/sql_ops.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- errors ---------------------------------------------------------- */

/* Is this failure the connection's, not the statement's? */
static bool connection_lost(struct pg *p, const char *state)
{
	if (!p->conn || PQstatus(p->conn) != CONNECTION_OK)
		return true;
	if (!state || !*state)
		return true; /* no answer from the server at all */
	return !strncmp(state, "08", 2) || !strcmp(state, "57P01") ||
	       !strcmp(state, "57P02") || !strcmp(state, "57P03");
}

int dd_pg_fail(struct pg *p, PGresult *res, struct dd_error *err,
	       const char *what)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE)
				: NULL;
	const char *msg = res ? PQresultErrorMessage(res) : "";
	const char *cons;
	int n, rc;

	if (!*msg && p->conn)
		msg = PQerrorMessage(p->conn);
	if (!*msg)
		msg = "no connection to the database";
	n = (int)strcspn(msg, "\n");
	p->constraint[0] = '\0';
	if (connection_lost(p, state)) {
		p->broken = true;
		rc = dd_error_set(err, DD_ERR_STORE,
				  "store '%s' lost its connection to the "
				  "database (%s): %.*s",
				  p->sql.name, what, n, msg);
	} else if (!strncmp(state, "23", 2)) {
		cons = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
		snprintf(p->constraint, sizeof(p->constraint), "%s",
			 cons ? cons : "");
		rc = dd_error_set(err, DD_ERR_EXISTS, "%s: %.*s", what, n,
				  msg);
	} else if (!strcmp(state, "40001") || !strcmp(state, "40P01") ||
		   !strcmp(state, "55P03") || !strcmp(state, "57014")) {
		rc = dd_error_set(err, DD_ERR_BUSY, "store '%s' is locked (%s)",
				  p->sql.name, what);
	} else if (!strcmp(state, "53100")) {
		rc = dd_error_set(err, DD_ERR_STORE, "store '%s' is full (%s)",
				  p->sql.name, what);
	} else {
		rc = dd_error_set(err, DD_ERR_STORE, "store '%s': %s: %.*s",
				  p->sql.name, what, n, msg);
	}
	PQclear(res);
	return rc;
}

PGresult *dd_pg_exec(struct pg *p, const char *sql, int n,
		     const char *const *values, const int *lengths,
		     const int *formats, int result_format,
		     struct dd_error *err, const char *what)
{
	PGresult *res;

	if (!p->in_txn && dd_pg_ready(p, err))
		return NULL;
	if (!p->conn || p->broken) {
		dd_pg_fail(p, NULL, err, what);
		return NULL;
	}
	res = PQexecParams(p->conn, sql, n, NULL, values, lengths, formats,
			   result_format);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		dd_pg_fail(p, res, err, what);
		return NULL;
	}
	return res;
}

/* Run SQL of our own (no parameters, no rows wanted). */
static int run(struct pg *p, const char *sql, struct dd_error *err,
	       const char *what)
{
	PGresult *res;

	if (!p->conn || p->broken)
		return dd_pg_fail(p, NULL, err, what);
	res = PQexec(p->conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK)
		return dd_pg_fail(p, res, err, what);
	PQclear(res);
	return 0;
}

/* ---- the connection ------------------------------------------------- */

/*
 * Connect, with drydock's defaults before the location's own settings
 * (which win): a name the server shows, a connect timeout, and TCP
 * keepalives so that a partition is noticed in seconds, not hours.
 */
static int connect_db(struct pg *p, struct dd_error *err)
{
	static const char *const keys[] = {
		"application_name", "connect_timeout", "keepalives",
		"keepalives_idle", "keepalives_interval", "keepalives_count",
		"dbname", NULL,
	};
	const char *values[] = {"drydock", "5", "1", "5", "2", "3",
				p->base.location, NULL};
	char sql[160];
	const char *msg;
	int n;

	if (p->conn)
		PQfinish(p->conn);
	p->conn = PQconnectdbParams(keys, values, 1);
	if (!p->conn)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	if (PQstatus(p->conn) != CONNECTION_OK) {
		msg = PQerrorMessage(p->conn);
		n = (int)strcspn(msg, "\n");
		/* libpq starts its messages with where it tried */
		if (!strncmp(msg, "connection to server", 20) &&
		    strstr(msg, "failed: ")) {
			msg = strstr(msg, "failed: ") + 8;
			n = (int)strcspn(msg, "\n");
		}
		p->broken = true;
		return dd_error_set(err, DD_ERR_STORE,
				    "cannot connect to store '%s': %.*s",
				    p->sql.name, n, msg);
	}
	p->broken = false;
	p->in_txn = false;
	dd_pg_driver_reset(p);
	snprintf(sql, sizeof(sql),
		 "SET lock_timeout = %d; SET synchronous_commit = %s%s",
		 (int)(p->lock_timeout * 1000), p->durable ? "on" : "off",
		 p->plan_once ? "; SET plan_cache_mode = force_generic_plan"
			      : "");
	return run(p, sql, err, "set up the session");
}

/*
 * Did the server end this connection while it was idle between
 * transactions (a restart, pg_terminate_backend)?  Its last words and
 * the end of the stream are then waiting on the socket, which is
 * otherwise quiet between transactions: read them without blocking (the
 * words come first, the end after), so that the connection is replaced
 * before anything is sent on it, rather than the caller's first
 * statement failing.  Marks the handle broken if so.
 */
static bool ended_while_idle(struct pg *p)
{
	struct pollfd f = {.fd = PQsocket(p->conn), .events = POLLIN};

	for (int i = 0; i < 4 && poll(&f, 1, 0) == 1; i++) {
		if (!PQconsumeInput(p->conn) ||
		    PQstatus(p->conn) != CONNECTION_OK) {
			p->broken = true;
			return true;
		}
	}
	return false;
}

int dd_pg_ready(struct pg *p, struct dd_error *err)
{
	double now = dd_monotonic();
	int rc;

	if (p->conn && !p->broken && !p->in_txn && ended_while_idle(p))
		p->retry_at = 0;
	if (p->conn && !p->broken)
		return 0;
	if (now < p->retry_at)
		return dd_error_set(err, DD_ERR_STORE,
				    "store '%s' is unreachable: %s (trying "
				    "again in %.1f s)",
				    p->sql.name, p->why,
				    p->retry_at - now);
	rc = connect_db(p, err);
	if (!rc) {
		p->backoff = 0;
		p->retry_at = 0;
		return 0;
	}
	/* back off, with jitter, so many daemons do not knock at once */
	p->backoff = p->backoff ? p->backoff * 2 : PG_BACKOFF_MIN;
	if (p->backoff > PG_BACKOFF_MAX)
		p->backoff = PG_BACKOFF_MAX;
	p->retry_at = now + p->backoff * (0.5 + dd_random());
	snprintf(p->why, sizeof(p->why), "%.200s", err ? err->msg : "");
	return rc;
}

/* ---- notifications on the store's connection ------------------------ */

/* Add `text` to b as a literal (PQescapeLiteral): false if it fails. */
static bool add_literal(PGconn *c, struct dd_buf *b, const char *text)
{
	char *lit = PQescapeLiteral(c, text, strlen(text));
	int rc;

	if (!lit)
		return false;
	rc = dd_buf_addstr(b, lit);
	PQfreemem(lit);
	return rc == 0;
}

/* Can `s` lend its connection: a PostgreSQL handle, up, idle? */
static bool lendable(struct dd_store *s)
{
	struct pg *p = PG(s);

	return s->ops == &dd_pg_store_ops && p->conn && !p->broken &&
	       !p->in_txn && PQstatus(p->conn) == CONNECTION_OK;
}

/* After a failed statement on a lent connection: mark what it left. */
static void lent_failed(struct pg *p)
{
	/* a failure inside leaves the transaction open: end it */
	if (PQtransactionStatus(p->conn) != PQTRANS_IDLE)
		PQclear(PQexec(p->conn, "ROLLBACK"));
	if (PQstatus(p->conn) != CONNECTION_OK)
		p->broken = true;
}

bool dd_pg_count_on(struct dd_store *s, const char *sql, const char *value,
		    long long *out)
{
	const char *values[] = {value};
	PGresult *res;
	bool ok;

	if (!lendable(s))
		return false;
	res = PQexecParams(PG(s)->conn, sql, 1, NULL, values, NULL, NULL, 0);
	ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	     PQnfields(res) == 1;
	if (ok)
		*out = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (!ok)
		lent_failed(PG(s));
	return ok;
}

bool dd_pg_notify_on(struct dd_store *s, const char *const *channels,
		     size_t n, const char *payload)
{
	struct pg *p = PG(s);
	struct dd_buf sql = DD_BUF_INIT;
	PGresult *res;
	bool ok;

	if (!lendable(s))
		return false;
	ok = !dd_buf_addstr(&sql, "BEGIN; SET LOCAL synchronous_commit = off;"
				  " SELECT ");
	for (size_t i = 0; ok && i < n; i++)
		ok = !dd_buf_addstr(&sql, i ? ", pg_notify(" : "pg_notify(") &&
		     add_literal(p->conn, &sql, channels[i]) &&
		     !dd_buf_addstr(&sql, ", ") &&
		     add_literal(p->conn, &sql, payload) &&
		     !dd_buf_addstr(&sql, ")");
	ok = ok && !dd_buf_addstr(&sql, "; COMMIT");
	if (ok) {
		res = PQexec(p->conn, sql.buf);
		ok = PQresultStatus(res) == PGRES_COMMAND_OK;
		PQclear(res);
		if (!ok)
			lent_failed(p);
	}
	dd_buf_release(&sql);
	return ok;
}

/* ---- open, close, schema ---------------------------------------------- */

static void pg_close(struct dd_store *s)
{
	struct pg *p = PG(s);

	dd_pg_driver_free(p);
	if (p->conn)
		PQfinish(p->conn);
	dd_free(p->base.location);
	dd_free(p);
}

/*
 * Did the server turn the connection away for a while, not for good?
 * It did not answer within the connect timeout (busy: a storm of
 * connections, each a backend's start), had no connection slot left, or
 * is starting up.  A server that is not there, a wrong password or
 * database name are not worth another try.
 */
static bool connect_may_pass_later(const char *msg)
{
	static const char *const busy[] = {
		"timeout expired",
		"too many clients",
		"remaining connection slots are reserved",
		"the database system is starting up",
		"not yet accepting connections",
		NULL,
	};

	for (const char *const *b = busy; *b; b++)
		if (strstr(msg, *b))
			return true;
	return false;
}

/*
 * The first connection, tried again while the server is busy (above) for
 * up to the busy timeout, as a locked SQLite store is waited for: a
 * hundred CLI calls at once on a loaded machine all get in, in turn.
 * Each try may itself take the connect timeout; none starts after the
 * busy timeout has passed.
 */
static int connect_patiently(struct pg *p, double patience,
			     struct dd_error *err)
{
	struct dd_error e = DD_ERROR_INIT;
	double start = dd_monotonic(), pause = PG_BACKOFF_MIN, nap;
	int tries = 0, rc;

	for (;;) {
		tries++;
		rc = connect_db(p, &e);
		if (!rc || !connect_may_pass_later(e.msg))
			break;
		nap = pause * (0.5 + dd_random());
		if (dd_monotonic() + nap - start > patience)
			break;
		dd_sleep(nap);
		pause = pause * 2 > 1.0 ? 1.0 : pause * 2;
	}
	if (!rc)
		return 0;
	if (tries == 1)
		return dd_error_set(err, rc, "%s", e.msg);
	return dd_error_set(err, rc, "%.400s (%d tries in %.1f s)", e.msg,
			    tries, dd_monotonic() - start);
}

static int pg_open(const char *location, const struct dd_store_options *opt,
		   struct dd_store **out, struct dd_error *err)
{
	struct pg *p;
	int rc = dd_pq_load(err);

	if (rc)
		return rc;
	p = dd_calloc(1, sizeof(*p));
	if (!p)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	p->base.ops = &dd_pg_store_ops;
	p->sql.drv = &dd_pg_sql_driver;
	p->sql.name = p->shown;
	p->sql.parts = DD_PG_COUNTER_PARTS;
	dd_store_location_shown(location, p->shown, sizeof(p->shown));
	p->base.location = dd_strdup(location);
	if (!p->base.location) {
		dd_free(p);
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	}
	p->lock_timeout = opt->busy_timeout_ms / 1000.0;
	p->durable = opt->durability == DD_DURABILITY_FULL;
	p->plan_once = opt->plan_once;
	rc = connect_patiently(p, p->lock_timeout, err);
	if (rc) {
		pg_close(&p->base);
		return rc;
	}
	*out = &p->base;
	return 0;
}

static int pg_schema_version(struct dd_store *s, int *current, int *newest,
			     struct dd_error *err)
{
	struct pg *p = PG(s);
	int rc = dd_pg_ready(p, err);

	return rc ? rc : dd_pg_schema_version(p->conn, current, newest, err);
}

static int pg_migrate(struct dd_store *s, struct dd_error *err)
{
	struct pg *p = PG(s);
	int rc = dd_pg_ready(p, err);

	if (!rc)
		rc = dd_pg_migrate(p->conn, NULL, err);
	/* the schema changed under any statement prepared before */
	dd_pg_driver_reset(p);
	PQclear(PQexec(p->conn, "DEALLOCATE ALL"));
	return rc;
}

/* ---- transactions ------------------------------------------------------ */

static int pg_begin(struct dd_store *s, struct dd_error *err)
{
	struct pg *p = PG(s);
	int rc = dd_pg_ready(p, err);

	if (rc)
		return rc;
	rc = run(p, "BEGIN", err, "begin");
	/*
	 * An idle connection the server dropped (a restart, a terminated
	 * backend) is noticed here, when nothing has been done yet: connect
	 * again at once and begin, once.
	 */
	if (rc == DD_ERR_STORE && p->broken) {
		p->retry_at = 0;
		rc = dd_pg_ready(p, err);
		if (!rc)
			rc = run(p, "BEGIN", err, "begin");
	}
	if (!rc) {
		p->in_txn = true;
		/* its counter bumps' part (sql_locks.c) */
		p->sql.part = (int)(dd_random() * DD_PG_COUNTER_PARTS);
	}
	return rc;
}

static int finish(struct pg *p, bool lazy, struct dd_error *err)
{
	PGresult *res;
	int rc = 0;

	if (!p->conn || p->broken) {
		p->in_txn = false;
		return dd_pg_fail(p, NULL, err, "commit");
	}
	res = PQexec(p->conn, lazy && p->durable
				      ? "SET LOCAL synchronous_commit = off;"
					" COMMIT"
				      : "COMMIT");
	p->in_txn = false;
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		rc = dd_pg_fail(p, res, err, "commit");
		if (p->broken)
			dd_error_set(err, DD_ERR_STORE,
				     "store '%s' lost its connection while "
				     "committing: the outcome of this commit "
				     "is unknown",
				     p->sql.name);
		return rc;
	}
	/* a transaction that had failed ends in ROLLBACK, not COMMIT */
	if (strcmp(PQcmdStatus(res), "COMMIT"))
		rc = dd_error_set(err, DD_ERR_STORE,
				  "store '%s': the transaction failed earlier "
				  "and was rolled back",
				  p->sql.name);
	PQclear(res);
	if (!rc)
		dd_store_count_commit();
	if (!rc && lazy)
		p->unsynced = true;
	return rc;
}

static int pg_commit(struct dd_store *s, struct dd_error *err)
{
	return finish(PG(s), false, err);
}

static int pg_commit_lazy(struct dd_store *s, struct dd_error *err)
{
	return finish(PG(s), true, err);
}

static void pg_rollback(struct dd_store *s)
{
	struct pg *p = PG(s);

	if (p->in_txn && p->conn && !p->broken)
		PQclear(PQexec(p->conn, "ROLLBACK"));
	p->in_txn = false;
}

/*
 * Make every earlier commit durable, lazy ones too: a flushed commit
 * flushes the WAL up to its own record, which follows theirs.  One
 * statement in a transaction of its own, which takes an id so that it
 * has a commit record to flush (synchronous_commit is on outside lazy
 * commits).
 */
static int pg_sync(struct dd_store *s, struct dd_error *err)
{
	struct pg *p = PG(s);
	PGresult *res;

	if (!p->durable || !p->unsynced)
		return 0;
	res = dd_pg_exec(p, "SELECT pg_current_xact_id()", 0, NULL, NULL,
			 NULL, 0, err, "sync");
	if (!res)
		return err ? err->code : DD_ERR_STORE;
	PQclear(res);
	dd_store_count_commit();
	p->unsynced = false;
	return 0;
}

static void pg_sync_then(struct dd_store *s, dd_store_durable_fn *done,
			 void *arg)
{
	struct dd_error err = DD_ERROR_INIT;
	int rc = pg_sync(s, &err);

	done(arg, rc, &err);
}

/* ---- locks, fences, the claim ------------------------------------------ */

static int pg_fence_check(struct dd_store *s, const struct dd_lock_grant *g,
			  double now, struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h,
				"SELECT 1 FROM lock WHERE token = ?1"
				" AND name = ?2 AND expires > ?3 FOR KEY SHARE",
				&st, err);

	if (rc)
		return rc;
	dd_sql_int64(h, st, 1, g->token);
	dd_sql_text(h, st, 2, g->name);
	dd_sql_double(h, st, 3, now);
	rc = dd_sql_step(h, st, err, "fence check");
	dd_sql_done(h, st);
	if (rc == DD_SQL_ROW)
		return 0;
	if (rc < 0)
		return rc;
	return dd_error_set(err, DD_ERR_FENCED,
			    "lock '%s' grant %lld expired or was taken over",
			    g->name, g->token);
}

/*
 * Take lock `g->name` for `owner` unless it is held: its row deleted if
 * expired, then a new one (a new token) inserted unless somebody else's
 * is there by then.  Not an upsert: ON CONFLICT DO UPDATE locks the row
 * before its WHERE, so it would wait for a live lock's holder.
 */
static int take_lock(struct dd_sql *h, struct dd_lock_grant *g,
		     const char *owner, double now, double ttl,
		     struct dd_error *err)
{
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h,
				"DELETE FROM lock WHERE name = ?1"
				" AND expires <= ?2",
				&st, err);

	if (rc)
		return rc;
	dd_sql_text(h, st, 1, g->name);
	dd_sql_double(h, st, 2, now);
	rc = dd_sql_exec(h, st, err, "take over lock");
	if (!rc)
		rc = dd_sql_prepare(h,
				    "INSERT INTO lock(name, owner, expires)"
				    " VALUES(?1, ?2, ?3) ON CONFLICT(name)"
				    " DO NOTHING RETURNING token",
				    &st, err);
	if (rc)
		return rc;
	dd_sql_text(h, st, 1, g->name);
	dd_sql_text_or_null(h, st, 2, owner);
	dd_sql_double(h, st, 3, now + ttl);
	rc = dd_sql_insert(h, st, &g->token, err, "acquire lock");
	if (rc == DD_ERR_NOTFOUND)
		rc = dd_error_set(err, DD_ERR_BUSY, "lock '%s' is held",
				  g->name);
	return rc;
}

static int pg_lock_acquire(struct dd_store *s, const char *owner, double now,
			   double ttl, struct dd_lock_grant *grant,
			   struct dd_error *err)
{
	int rc = dd_store_begin(s, err);

	if (rc)
		return rc;
	rc = take_lock(dd_sql(s), grant, owner, now, ttl, err);
	if (rc) {
		dd_store_rollback(s);
		return rc;
	}
	return dd_store_commit(s, err);
}

/*
 * Slot locks: a key is inserted only under a transaction-level advisory
 * lock on it (its own key space, DD_PG_SLOT_LOCKS, and hashtext() of the
 * key), tried without waiting.  Without it, passes placing leases at once
 * all try the first free slot: each after the first waited for that
 * one's commit, only to find the slot taken (26 ms a lifecycle with 3
 * daemons on the benchmark's hot pool).  Now the others go on to the
 * next slot at once, told DD_ERR_BUSY (dd_sql_slot_acquire_by()); a
 * pass that found no room after such a skip looks again soon rather
 * than wait for capacity, since the slot it skipped may come free
 * without a capacity event (the other transaction rolled back).  Two
 * keys whose hashes agree only make one look busy now and then.
 */
#define DD_PG_SLOT_LOCKS "1936486260" /* "slot" in ASCII */

static int pg_slot_acquire(struct dd_store *s, const char *const *keys,
			   size_t n, struct dd_ref owner, struct dd_error *err)
{
	return dd_sql_slot_acquire_by(
		s,
		"INSERT INTO slot_lock(key, owner_kind, owner)"
		" SELECT ?1, ?2, ?3 WHERE pg_try_advisory_xact_lock("
		DD_PG_SLOT_LOCKS ", hashtext(?1))"
		" ON CONFLICT(key) DO NOTHING",
		keys, n, owner, err);
}

/* A row of `task` other than `found`'s, due now and free to claim. */
#define CLAIM_OTHER_DUE                                                        \
	"id <> found.id AND (claimed_by IS NULL AND not_before <= ?1"          \
	" OR claimed_by IS NOT NULL AND claim_expires <= ?1)"                  \
	" AND " DD_SQL_OBJECT_UNLOCKED

/*
 * The claim, one statement: the first due task nobody else is claiming
 * (SKIP LOCKED), else the first whose claim expired; its object's lock,
 * inserted or taken over if expired (a new token either way), and the
 * claim written only if the lock was had.  One row back: the claimed
 * task's columns and its lock's token, or NULLs when another claimer
 * took the lock first or there was no task; the task's id (NULL: none);
 * with a task, whether another was there to claim, queued or with its
 * claim expired (1 or 0); and, with no task, when the next one falls
 * due (DD_SQL_TASK_NEXT_DUE), so that a claimer about to sleep needs no
 * second look.  The third is a hint for waking another thread, never
 * needed to find work: a task committed later comes with its own
 * wake-up, and a claim that expires later with a sleeper's deadline.
 * The lock's upsert waits only for a takeover or claim of that row in
 * progress: a live lock keeps its task out of `found`.
 * CLAIM_ON_ITS_OWN runs outside any transaction, and its
 * implicit transaction commits lazily (set_config(..., true) lasts until
 * it ends): a claim costs one round trip, and so does a look that
 * finds nothing.  ?1 now, ?2 the claimer's machine, ?3 the worker, ?4 the
 * claim's expiry.
 */
#define CLAIM_WITH(tail)                                                       \
	"WITH queued AS (SELECT id, object_kind, object FROM task"             \
	" WHERE claimed_by IS NULL AND not_before <= ?1"                       \
	" AND " DD_SQL_OBJECT_UNLOCKED " AND " DD_SQL_TASK_ON_MACHINE          \
	" ORDER BY not_before, id LIMIT 1 FOR UPDATE SKIP LOCKED),"            \
	" expired AS (SELECT id, object_kind, object FROM task"                \
	" WHERE claimed_by IS NOT NULL AND claim_expires <= ?1"                \
	" AND " DD_SQL_OBJECT_UNLOCKED " AND " DD_SQL_TASK_ON_MACHINE          \
	" ORDER BY claim_expires, id LIMIT 1 FOR UPDATE SKIP LOCKED),"         \
	" found AS (SELECT * FROM queued UNION ALL SELECT * FROM expired"      \
	" LIMIT 1),"                                                           \
	" taken AS (INSERT INTO lock(name, owner, expires)"                    \
	" SELECT " DD_SQL_TASK_LOCK_NAME("found") ", ?3, ?4 FROM found"        \
	" ON CONFLICT(name) DO UPDATE SET owner = excluded.owner,"             \
	" expires = excluded.expires,"                                         \
	" token = nextval(pg_get_serial_sequence('lock', 'token'))"            \
	" WHERE lock.expires <= ?1 RETURNING token),"                          \
	" claimed AS (UPDATE task SET claimed_by = ?3,"                        \
	" claim_token = claim_token + 1, claim_expires = ?4"                   \
	" FROM found, taken WHERE task.id = found.id"                          \
	" RETURNING task.id, task.kind, task.object_kind, task.object,"        \
	" task.not_before, task.claimed_by, task.claim_token,"                 \
	" task.claim_expires, task.failures, task.last_error, task.created,"   \
	" taken.token)"                                                        \
	" SELECT claimed.*, found.id, CASE WHEN found.id IS NULL THEN 0"       \
	" WHEN EXISTS (SELECT 1 FROM task WHERE " CLAIM_OTHER_DUE " AND "      \
	DD_SQL_TASK_ON_MACHINE ") THEN 1 ELSE 0 END,"                         \
	" CASE WHEN found.id IS NULL THEN (" DD_SQL_TASK_NEXT_DUE ") END"      \
	tail " FROM (VALUES (1)) AS one LEFT JOIN found ON true"               \
	" LEFT JOIN claimed ON true"
#define CLAIM_IN_TRANSACTION CLAIM_WITH("")
#define CLAIM_ON_ITS_OWN                                                       \
	CLAIM_WITH(", (SELECT set_config('synchronous_commit', 'off', true))")

/*
 * One try at a claim (CLAIM_IN_TRANSACTION or CLAIM_ON_ITS_OWN).
 * DD_ERR_NOTFOUND when there is no task (out->next_due then says when
 * the next falls due); DD_ERR_BUSY when another
 * claimer took its object's lock first (the caller tries again).
 */
static int claim_once(struct dd_sql *h, const char *sql, const char *worker,
		      const char *machine, double now, double claim_ttl,
		      struct dd_task *out, struct dd_error *err)
{
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h, sql, &st, err);

	if (rc)
		return rc;
	dd_sql_double(h, st, 1, now);
	dd_sql_text_or_null(h, st, 2, machine);
	dd_sql_text(h, st, 3, worker);
	dd_sql_double(h, st, 4, now + claim_ttl);
	rc = dd_sql_step(h, st, err, "claim task");
	if (rc == DD_SQL_ROW && dd_sql_col_int64(h, st, 12) == 0) {
		out->next_due = dd_sql_col_double(h, st, 14);
		rc = DD_ERR_NOTFOUND;
	} else if (rc == DD_SQL_ROW && dd_sql_col_int64(h, st, 0) == 0) {
		rc = DD_ERR_BUSY;
	} else if (rc == DD_SQL_ROW) {
		dd_sql_task_row(h, st, out);
		dd_task_lock_name(out->object, &out->lock);
		out->lock.token = dd_sql_col_int64(h, st, 11);
		out->more = dd_sql_col_int(h, st, 13) != 0;
		rc = 0;
	} else if (rc == DD_SQL_DONE) {
		rc = dd_error_set(err, DD_ERR_STORE, "store '%s': claim task: "
				  "no row", dd_sql_name(h));
	}
	dd_sql_done(h, st);
	return rc;
}

static int pg_task_claim(struct dd_store *s, const char *worker,
			 const char *machine, double now, double claim_ttl,
			 struct dd_task *out, struct dd_error *err)
{
	struct pg *p = PG(s);
	struct dd_sql *h = dd_sql(s);
	bool nested = s->depth > 0;
	int rc = DD_ERR_BUSY;

	/*
	 * A lock another claimer took between our look and our insert is
	 * not a failure: its task is no longer ours to see, so look again.
	 * Inside a caller's transaction, a savepoint undoes a failed try.
	 */
	for (int tries = 0; rc == DD_ERR_BUSY && tries < 8; tries++) {
		if (!nested) {
			rc = claim_once(h, CLAIM_ON_ITS_OWN, worker, machine,
					now, claim_ttl, out, err);
			if (!rc) {
				dd_store_count_commit();
				p->unsynced = true;
			}
			continue;
		}
		rc = run(p, "SAVEPOINT claim", err, "savepoint");
		if (!rc)
			rc = claim_once(h, CLAIM_IN_TRANSACTION, worker, machine,
					now, claim_ttl, out, err);
		if (!rc || rc == DD_ERR_NOTFOUND) {
			int rrc = run(p, "RELEASE claim", err, "release");

			if (rrc && !rc)
				dd_task_release(out);
			return rrc ? rrc : rc;
		}
		/*
		 * Busy (the task's row lock goes too) or failed: the
		 * caller's transaction does not wait for another try.
		 */
		run(p, "ROLLBACK TO claim; RELEASE claim", NULL, "rollback to");
		return rc == DD_ERR_BUSY ? DD_ERR_NOTFOUND : rc;
	}
	return rc == DD_ERR_BUSY ? DD_ERR_NOTFOUND : rc;
}

/* ---- health and check ---------------------------------------------------- */

/*
 * For a readiness probe: the database answers on this handle's
 * connection (reconnecting, within the backoff, if it was lost).
 */
static int pg_health(struct dd_store *s, struct dd_error *err)
{
	struct pg *p = PG(s);
	int rc = dd_pg_ready(p, err);

	if (!rc && !p->in_txn)
		rc = run(p, "SELECT 1", err, "health");
	return rc;
}

/*
 * What drydock can check in a database it does not own the pages of:
 * the schema is this drydock's, and every row a lease, task or artifact
 * points to exists.  PostgreSQL checks its own pages (data checksums,
 * amcheck).
 */
static int pg_check(struct dd_store *s, struct dd_store_check *c,
		    struct dd_error *err)
{
	static const struct {
		const char *what, *sql;
	} checks[] = {
		{"leases on resources that do not exist",
		 "SELECT count(*) FROM lease l WHERE resource IS NOT NULL"
		 " AND NOT EXISTS (SELECT 1 FROM resource r"
		 " WHERE r.id = l.resource)"},
		{"resources of blueprints that do not exist",
		 "SELECT count(*) FROM resource r WHERE NOT EXISTS"
		 " (SELECT 1 FROM blueprint b WHERE b.id = r.blueprint)"},
		{"artifacts of targets that do not exist",
		 "SELECT count(*) FROM artifact a WHERE NOT EXISTS"
		 " (SELECT 1 FROM target t WHERE t.id = a.target)"},
		{"file chunks of artifacts that do not exist",
		 "SELECT count(*) FROM chunk c WHERE NOT EXISTS"
		 " (SELECT 1 FROM artifact a WHERE a.id = c.artifact)"},
	};
	struct pg *p = PG(s);
	int current, newest, rc;
	char line[160];

	c->problems = 0;
	c->what = "the reference check";
	rc = pg_schema_version(s, &current, &newest, err);
	if (!rc && current != newest)
		rc = dd_error_set(err, DD_ERR_STORE,
				  "store '%s' has schema version %d, this "
				  "drydock's is %d",
				  p->sql.name, current, newest);
	for (size_t i = 0; !rc && i < sizeof(checks) / sizeof(*checks); i++) {
		PGresult *res;
		long long n;

		if (c->cancelled && c->cancelled(c->arg))
			return dd_error_set(err, DD_ERR_INTERRUPTED,
					    "the check of store '%s' was "
					    "stopped",
					    p->sql.name);
		res = dd_pg_exec(p, checks[i].sql, 0, NULL, NULL, NULL, 0, err,
				 "check");
		if (!res)
			return DD_ERR_STORE;
		n = atoll(PQgetvalue(res, 0, 0));
		PQclear(res);
		if (!n)
			continue;
		c->problems++;
		snprintf(line, sizeof(line), "%lld %s", n, checks[i].what);
		if (c->problem)
			c->problem(c->arg, line);
	}
	if (!rc && c->problems)
		rc = dd_error_set(err, DD_ERR_DAMAGED,
				  "store '%s' is damaged: the check found "
				  "%lld problem%s",
				  p->sql.name, c->problems,
				  c->problems == 1 ? "" : "s");
	return rc;
}

const struct dd_store_ops dd_pg_store_ops = {
	.version = DD_STORE_OPS_VERSION,
	.name = "postgresql",
	.open = pg_open,
	.close = pg_close,
	.migrate = pg_migrate,
	.schema_version = pg_schema_version,
	.health = pg_health,
	.check = pg_check,
	.begin = pg_begin,
	.commit = pg_commit,
	.commit_lazy = pg_commit_lazy,
	.sync = pg_sync,
	.sync_then = pg_sync_then,
	.rollback = pg_rollback,
	.fence_check = pg_fence_check,
	.blueprint_insert = dd_sql_blueprint_insert,
	.blueprint_update = dd_sql_blueprint_update,
	.blueprint_get = dd_sql_blueprint_get,
	.blueprint_lock = dd_sql_blueprint_lock,
	.blueprint_list = dd_sql_blueprint_list,
	.resource_insert = dd_sql_resource_insert,
	.resource_update = dd_sql_resource_update,
	.resource_get = dd_sql_resource_get,
	.resource_hold = dd_sql_resource_hold,
	.resource_lock = dd_sql_resource_lock,
	.resource_each = dd_sql_resource_each,
	.lease_insert = dd_sql_lease_insert,
	.lease_update = dd_sql_lease_update,
	.lease_get = dd_sql_lease_get,
	.lease_waiting_hold = dd_sql_lease_waiting_hold,
	.lease_each = dd_sql_lease_each,
	.lease_count = dd_sql_lease_count,
	.stats = dd_sql_stats,
	.target_insert = dd_sql_target_insert,
	.target_update = dd_sql_target_update,
	.target_get = dd_sql_target_get,
	.target_hold = dd_sql_target_hold,
	.target_lock = dd_sql_target_lock,
	.target_each = dd_sql_target_each,
	.artifact_insert = dd_sql_artifact_insert,
	.artifact_get = dd_sql_artifact_get,
	.artifact_each = dd_sql_artifact_each,
	.artifact_release_all = dd_sql_artifact_release_all,
	.artifact_append = dd_pg_artifact_append,
	.artifact_complete = dd_pg_artifact_complete,
	.artifact_read = dd_pg_artifact_read,
	.artifact_delete = dd_pg_artifact_delete,
	.artifact_prune = dd_pg_artifact_prune,
	.command_insert = dd_sql_command_insert,
	.command_list = dd_sql_command_list,
	.command_consume = dd_sql_command_consume,
	.log_append = dd_sql_log_append,
	.log_list = dd_sql_log_list,
	.slot_acquire = pg_slot_acquire,
	.slot_release = dd_sql_slot_release,
	.slot_list = dd_sql_slot_list,
	.task_schedule = dd_sql_task_schedule,
	.task_claim = pg_task_claim,
	.task_finish = dd_sql_task_finish,
	.task_retry = dd_sql_task_retry,
	.task_next_due = dd_sql_task_next_due,
	.task_list = dd_sql_task_list,
	.task_archive_list = dd_sql_task_archive_list,
	.lock_acquire = pg_lock_acquire,
	.lock_release = dd_sql_lock_release,
	.lock_renew = dd_sql_lock_renew,
	.task_renew = dd_sql_task_renew,
	.counter_get = dd_sql_counter_get,
	.counter_bump = dd_sql_counter_bump,
	.counter_hold = dd_sql_counter_hold,
	.token_insert = dd_sql_token_insert,
	.token_get = dd_sql_token_get,
	.token_get_by_name = dd_sql_token_get_by_name,
	.token_get_by_hash = dd_sql_token_get_by_hash,
	.token_list = dd_sql_token_list,
	.token_revoke = dd_sql_token_revoke,
	.token_touch = dd_sql_token_touch,
	.idem_get = dd_sql_idem_get,
	.idem_insert = dd_sql_idem_insert,
	.idem_prune = dd_sql_idem_prune,
	.authorization_request = dd_sql_authorization_request,
	.authorization_get = dd_sql_authorization_get,
	.authorization_list = dd_sql_authorization_list,
	.authorization_hold = dd_sql_authorization_hold,
	.authorization_decide = dd_sql_authorization_decide,
};
