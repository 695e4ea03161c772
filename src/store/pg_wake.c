/*
 * pg_wake.c - the PostgreSQL backend's wake-ups (store/wake_transport.h):
 * LISTEN/NOTIFY on the store's database, so that a change committed by a
 * process on one machine wakes the daemons and watchers on every machine
 * that shares the database.
 *
 * Channels (a database's own, as a store is).  A daemon listens on
 * "drydock_daemon".  A watcher of no object in particular (drydock
 * serve's long polls) listens on "drydock_watcher", which every watcher
 * notification reaches; a watcher of one object (dd_wake_watch(), as a
 * waiting `drydock lease` does) listens instead on that object's channel,
 * "drydock_watcher:lease:12", and on "drydock_watcher_untargeted", so
 * that N clients waiting for N leases are not all woken by each change.
 * A watcher notification is therefore two NOTIFYs in one statement: the
 * general channel, and the object's (or the untargeted) one.
 *
 * The payload is "F SENDER SKIP OBJECT": F is 'd' when the sender's own
 * daemon listeners are left out (its threads were woken directly), SENDER
 * the sending process (hostname-pid-random, since no pid is unique across
 * machines), SKIP the id of one listener left out, or "-", and OBJECT the
 * object, or nothing.  Each listener drops what is not for it.
 *
 * A listener is a connection of its own, named by its application_name
 * ("drydock wake daemon", "drydock wake watcher"): count() finds the live
 * ones of every machine by it in pg_stat_activity.  Its descriptor is an
 * epoll descriptor holding the connection's socket and a timerfd, so it
 * is the same descriptor whatever becomes of the connection, and it is
 * readable exactly when drain() has something to do: a notification, a
 * connection that ended (its socket turns readable), a step of connecting
 * again, or the time to try again.  A dropped connection is connected
 * again by drain() without blocking (PQconnectStartParams, each step when
 * the socket is ready, given up after CONNECT_TIMEOUT; only looking up a
 * host name, which libpq does at the start, may block), at once the first
 * time and then after a backoff that doubles, with jitter, from
 * PG_BACKOFF_MIN to PG_BACKOFF_MAX.  Once it listens again, that counts as
 * one untargeted wake-up: notifications sent while it was gone are lost,
 * and the caller looks at the rows again.  Never a busy loop, never a
 * sleep: between two tries the descriptor is quiet until the timer fires.
 *
 * A notification goes out on the caller's own store connection when it
 * lends one (dd_wake_notify_on(), right after its commit: one round trip
 * with synchronous_commit off for it alone, dd_pg_notify_on()), so that
 * a CLI command opens one connection, not two: each is a server process
 * started, about 33 ms of the server's CPU on the test machine.
 * Otherwise, or if that fails, on one sending connection per process and
 * location, which every thread shares under a mutex, with
 * synchronous_commit off (a NOTIFY outside the writer's transaction is a
 * transaction of its own, which need not wait for the disk).  Connecting
 * and each statement are given SEND_TIMEOUT; a failed send drops the
 * connection and the notification (the listeners' next look covers it),
 * the next notification connects again, and a failed connect (or a second
 * failed send in a row) backs off, so that a database that is gone or
 * hangs costs a caller at most one time limit per backoff, and no worker
 * hangs on it.
 */
#include "store/pg_wake.h"
#include "store/pg.h"
#include "store/pg_internal.h" /* PG_BACKOFF_MIN, PG_BACKOFF_MAX */
#include "store/pq.h"
#include "core/machine.h"
#include "core/util.h"

#include <ctype.h>
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define LISTEN_TIMEOUT 10.0  /* a listener's connection and its LISTEN */
#define CONNECT_TIMEOUT 10.0 /* connecting a listener again */
#define SEND_TIMEOUT 2.0     /* a notification's connect, its statement */

#define CH_DAEMON "drydock_daemon"
#define CH_WATCHER "drydock_watcher"
#define CH_UNTARGETED "drydock_watcher_untargeted"
#define CH_OBJECT "drydock_watcher:"
#define CH_ONE "drydock_daemon:" /* and a server process: one daemon's */
/* an object named in a channel: the name holds 63 bytes in all */
#define OBJECT_MAX 48
#define SELF_MAX 80 /* process_id(): host 47, pid, random */
#define ID_MAX 96   /* a listener's: process_id() and a number */

/*
 * A listener's application_name: its role's, and for a daemon the tag
 * of its machine (machine_tag()), so that work bound to one machine can
 * be aimed at a daemon there.  LIKE patterns, to find them.
 */
#define DAEMON_APP "drydock wake daemon"
#define WATCHER_APP "drydock wake watcher"
static const char *const role_pattern[] = {DAEMON_APP " %", WATCHER_APP};
#define SENDER_APP "drydock wake sender"

/*
 * This process, as a sender names itself: the host (letters, digits, '.'
 * and '-' of it), the pid (read each time: a child of fork() is another
 * process) and a random number made once.
 */
static pthread_once_t self_once = PTHREAD_ONCE_INIT;
static char self_host[48];
static unsigned self_random;

static void self_init(void)
{
	char host[256] = "";
	size_t i = 0;

	gethostname(host, sizeof(host) - 1);
	for (const char *p = host; *p && i < sizeof(self_host) - 1; p++)
		self_host[i++] = isalnum((unsigned char)*p) || *p == '.' ||
						 *p == '-'
					 ? *p
					 : '_';
	if (!i)
		self_host[i++] = '_';
	self_host[i] = '\0';
	if (dd_random_bytes(&self_random, sizeof(self_random)))
		self_random = (unsigned)(dd_random() * 4294967295.0);
}

static void process_id(char *buf, size_t n)
{
	pthread_once(&self_once, self_init);
	snprintf(buf, n, "%s-%d-%08x", self_host, (int)getpid(), self_random);
}

/* Can `object` name a channel?  Short, and nothing to quote. */
static bool nameable(const char *object)
{
	size_t len = strlen(object);

	if (!len || len >= OBJECT_MAX)
		return false;
	for (const char *p = object; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr(":_.-", *p))
			return false;
	return true;
}

/* libpq prints notices (a connection ended by the server) to stderr. */
static void quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* c's last error on one line, into why. */
static void reason(PGconn *c, char *why, size_t n)
{
	const char *m = c ? PQerrorMessage(c) : "out of memory";
	size_t len;

	snprintf(why, n, "%s", m && *m ? m : "the connection failed");
	for (char *p = why; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	len = strlen(why);
	while (len && why[len - 1] == ' ')
		why[--len] = '\0';
}

/* The next wait after a failed try: doubling, with jitter. */
static double next_backoff(double *backoff)
{
	*backoff = *backoff > 0 ? *backoff * 2 : PG_BACKOFF_MIN;
	if (*backoff > PG_BACKOFF_MAX)
		*backoff = PG_BACKOFF_MAX;
	return *backoff * (0.5 + 0.5 * dd_random());
}

/* Wait until c's socket is ready for `events`; false at `deadline`. */
static bool wait_socket(PGconn *c, short events, double deadline)
{
	for (;;) {
		struct pollfd p = {.fd = PQsocket(c), .events = events};
		double left = deadline - dd_monotonic();
		int rc;

		if (p.fd < 0 || left <= 0)
			return false;
		rc = poll(&p, 1, (int)(left * 1000.0) + 1);
		if (rc > 0)
			return true;
		if (rc < 0 && errno != EINTR)
			return false;
	}
}

static const char *const connect_keywords[] = {"dbname", "application_name",
					       NULL};

/*
 * Connect to `location` as `app` by `deadline`, waiting on the socket
 * between the steps: the connection (non-blocking), or NULL with the
 * reason in `why`.
 */
static PGconn *connect_by(const char *location, const char *app,
			  double deadline, char *why, size_t n)
{
	const char *const values[] = {location, app, NULL};
	PGconn *c = PQconnectStartParams(connect_keywords, values, 1);
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	if (c)
		PQsetNoticeProcessor(c, quiet, NULL);
	while (c && PQstatus(c) != CONNECTION_BAD &&
	       st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
		if (!wait_socket(c, st == PGRES_POLLING_READING ? POLLIN
							       : POLLOUT,
				 deadline)) {
			snprintf(why, n, "no answer in time");
			PQfinish(c);
			return NULL;
		}
		st = PQconnectPoll(c);
	}
	if (!c || st != PGRES_POLLING_OK || PQsetnonblocking(c, 1)) {
		reason(c, why, n);
		PQfinish(c);
		return NULL;
	}
	return c;
}

/*
 * Read every result of what was just sent on the non-blocking
 * connection c (`sent`: whether sending it worked) by `deadline`.  True
 * if each statement succeeded, the last result in *out if asked for (the
 * caller's to PQclear).  False may leave c in the middle of it: the
 * caller drops c.
 */
static bool results_by(PGconn *c, bool sent, double deadline, PGresult **out)
{
	PGresult *r, *last = NULL;
	bool ok = sent;
	int f;

	if (out)
		*out = NULL;
	while (ok && (f = PQflush(c)) != 0)
		ok = f > 0 && wait_socket(c, POLLIN | POLLOUT, deadline) &&
		     PQconsumeInput(c);
	while (ok) {
		while (ok && PQisBusy(c))
			ok = wait_socket(c, POLLIN, deadline) &&
			     PQconsumeInput(c);
		if (!ok || !(r = PQgetResult(c)))
			break;
		if (PQresultStatus(r) != PGRES_COMMAND_OK &&
		    PQresultStatus(r) != PGRES_TUPLES_OK)
			ok = false;
		PQclear(last);
		last = r;
	}
	if (ok && out)
		*out = last;
	else
		PQclear(last);
	return ok;
}

/*
 * Run `sql` on c (with `n` text parameters; with none it may hold several
 * statements), as results_by().
 */
static bool run_by(PGconn *c, const char *sql, int n,
		   const char *const *values, double deadline, PGresult **out)
{
	return results_by(c,
			  n ? PQsendQueryParams(c, sql, n, NULL, values, NULL,
						NULL, 0)
			    : PQsendQuery(c, sql),
			  deadline, out);
}

/*
 * The statements senders run, each prepared once per connection (on
 * a store handle's too: dd_pg_run_lent()), so that the server plans it
 * once: planning pg_stat_activity's view costs several times running it.
 *
 * Each notification is a statement of its own, so a transaction of its
 * own, which need not wait for the disk: synchronous_commit is off for
 * it alone.  STMT_AIM is one daemon listener's notification: the server
 * picks a live one at random whose application_name is like $4, none of
 * those in $2, and names its server process after the payload's start
 * $1 ("F SENDER "); $3 is the object.
 */
enum stmt { STMT_NOTIFY_1, STMT_NOTIFY_2, STMT_AIM, STMT_COUNT, N_STMT };

#define NO_WAIT "SELECT set_config('synchronous_commit', 'off', true), "
static const struct {
	const char *sql;
	int nparams;
} stmts[N_STMT] = {
	[STMT_NOTIFY_1] = {NO_WAIT "pg_notify($2, $1)", 2},
	[STMT_NOTIFY_2] = {NO_WAIT "pg_notify($2, $1), pg_notify($3, $1)", 3},
	[STMT_AIM] = {NO_WAIT "pg_notify('" CH_ONE "' || d.pid::text,"
			      " $1::text || d.pid::text || ' ' || $3::text)"
			      " FROM (SELECT"
			      " pid FROM pg_stat_activity"
			      " WHERE datname = current_database()"
			      " AND application_name LIKE $4"
			      " AND pid <> ALL($2::int[])"
			      " ORDER BY random() LIMIT 1) d",
		      4},
	[STMT_COUNT] = {"SELECT count(*) FROM pg_stat_activity"
			" WHERE datname = current_database()"
			" AND application_name LIKE $1",
			1},
};

/* Run stmts[which] on c as results_by(); *prepared: bit N, N is. */
static bool run_stmt(PGconn *c, unsigned *prepared, enum stmt which,
		     const char *const *values, double deadline,
		     PGresult **out)
{
	char name[24];

	snprintf(name, sizeof(name), "dd_wake_%d", (int)which);
	if (!(*prepared & 1u << which)) {
		if (!results_by(c,
				PQsendPrepare(c, name, stmts[which].sql,
					      stmts[which].nparams, NULL),
				deadline, NULL))
			return false;
		*prepared |= 1u << which;
	}
	return results_by(c,
			  PQsendQueryPrepared(c, name, stmts[which].nparams,
					      values, NULL, NULL, 0),
			  deadline, out);
}

/*
 * The sending connection to one location.  Made at the first
 * notification, kept for the process's life (reachable from `senders`).
 */
struct sender {
	struct sender *next;
	pthread_mutex_t mu; /* held for a whole connect or statement */
	char *location;
	PGconn *conn;	  /* NULL: connect at the next notification */
	pid_t pid;	  /* the process that made conn */
	unsigned prepared; /* on conn: run_stmt() */
	double retry_at;  /* monotonic: no connecting before */
	double backoff;
	bool failed;	  /* the last statement failed */
};

static struct sender *senders;
static pthread_mutex_t senders_mu = PTHREAD_MUTEX_INITIALIZER;

static struct sender *sender_of(const char *location)
{
	struct sender *s;

	pthread_mutex_lock(&senders_mu);
	for (s = senders; s && strcmp(s->location, location); s = s->next)
		;
	if (!s && (s = dd_calloc(1, sizeof(*s)))) {
		s->location = dd_strdup(location);
		if (s->location) {
			pthread_mutex_init(&s->mu, NULL);
			s->next = senders;
			senders = s;
		} else {
			dd_free(s);
			s = NULL;
		}
	}
	pthread_mutex_unlock(&senders_mu);
	return s;
}

/*
 * Run stmts[which] on the sending connection to `location`, connecting
 * first if there is none and the backoff allows: its result (for
 * PQclear), or NULL if it could not run.  Takes at most one SEND_TIMEOUT
 * to connect and one for the statement.
 */
static PGresult *sender_run(const char *location, enum stmt which,
			    const char *const *values)
{
	struct sender *s = sender_of(location);
	PGresult *res = NULL;
	char why[256];

	if (!s)
		return NULL;
	pthread_mutex_lock(&s->mu);
	/* a parent's connection, copied by fork(): neither use nor end it */
	if (s->conn && s->pid != getpid())
		s->conn = NULL;
	if (!s->conn && dd_monotonic() >= s->retry_at) {
		s->conn = connect_by(location, SENDER_APP,
				     dd_monotonic() + SEND_TIMEOUT, why,
				     sizeof(why));
		s->prepared = 0;
		if (s->conn)
			s->pid = getpid();
		else
			s->retry_at = dd_monotonic() + next_backoff(&s->backoff);
	}
	if (s->conn) {
		if (run_stmt(s->conn, &s->prepared, which, values,
			     dd_monotonic() + SEND_TIMEOUT, &res)) {
			s->failed = false;
			s->backoff = 0;
		} else {
			/* connect again at once, but not after each failure */
			PQfinish(s->conn);
			s->conn = NULL;
			if (s->failed)
				s->retry_at = dd_monotonic() +
					      next_backoff(&s->backoff);
			s->failed = true;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return res;
}

/* Run stmts[which] on `via`'s connection if it can lend it, else ours. */
static PGresult *send_stmt(const char *location, struct dd_store *via,
			   enum stmt which, const char *const *values)
{
	PGresult *r = via ? dd_pg_run_lent(via, (int)which, stmts[which].sql,
					   stmts[which].nparams, values)
			  : NULL;

	return r ? r : sender_run(location, which, values);
}

/*
 * This process's daemon listeners, by their server processes: a
 * notification for one daemon, and one passed on, goes to none of them.
 */
#define OWN_MAX 8
static struct {
	pthread_mutex_t mu;
	int pid[OWN_MAX];
	int n;
	pid_t process; /* whose they are: a child of fork() has none */
} own = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Forget a parent's, in a child of fork(); own.mu held. */
static void own_here(void)
{
	if (own.process != getpid()) {
		own.process = getpid();
		own.n = 0;
	}
}

static void own_add(int pid)
{
	pthread_mutex_lock(&own.mu);
	own_here();
	if (own.n < OWN_MAX)
		own.pid[own.n++] = pid;
	pthread_mutex_unlock(&own.mu);
}

static void own_remove(int pid)
{
	pthread_mutex_lock(&own.mu);
	own_here();
	for (int i = 0; i < own.n; i++)
		if (own.pid[i] == pid) {
			own.pid[i] = own.pid[--own.n];
			break;
		}
	pthread_mutex_unlock(&own.mu);
}

static int own_list_size(void)
{
	int n;

	pthread_mutex_lock(&own.mu);
	own_here();
	n = own.n;
	pthread_mutex_unlock(&own.mu);
	return n;
}

/* Them as an SQL array: "{12,34}". */
static void own_list(char *buf, size_t n)
{
	size_t used = (size_t)snprintf(buf, n, "{");

	pthread_mutex_lock(&own.mu);
	own_here();
	for (int i = 0; i < own.n && used < n; i++)
		used += (size_t)snprintf(buf + used, n - used, "%s%d",
					 i ? "," : "", own.pid[i]);
	pthread_mutex_unlock(&own.mu);
	if (used < n)
		snprintf(buf + used, n - used, "}");
}

/*
 * A daemon listener's application_name: DAEMON_APP and its machine's
 * tag, the machine's name hashed (FNV-1a, 64 bits) since a name may be
 * longer than an application_name holds (63 bytes).
 */
static void daemon_app(const char *machine, char *buf, size_t n)
{
	uint64_t h = 14695981039346656037ull;

	for (const char *p = machine; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	snprintf(buf, n, DAEMON_APP " %016llx", (unsigned long long)h);
}

/*
 * A daemon alone with its database: when a wake-up for another daemon
 * than this process's found none, the next ones for a second are not
 * sent (a daemon that starts meanwhile looks at the queue by itself).
 * This spares a lone daemon whose threads are all busy a round trip for
 * each task it queues.
 */
#define ALONE_RECHECK 1.0
static struct {
	pthread_mutex_t mu;
	char location[256]; /* the store's, or "" */
	double until;	    /* monotonic */
} alone = {.mu = PTHREAD_MUTEX_INITIALIZER};

static bool seems_alone(const char *location)
{
	bool yes;

	pthread_mutex_lock(&alone.mu);
	yes = !strcmp(alone.location, location) &&
	      dd_monotonic() < alone.until;
	pthread_mutex_unlock(&alone.mu);
	return yes;
}

static void found_alone(const char *location)
{
	pthread_mutex_lock(&alone.mu);
	snprintf(alone.location, sizeof(alone.location), "%s", location);
	alone.until = dd_monotonic() + ALONE_RECHECK;
	pthread_mutex_unlock(&alone.mu);
}

/*
 * Wake one daemon listener (flag: 'o', or 'p' for one passed on) on
 * `machine` (NULL: on any), not one of this process's if `not_own`.
 * The flag is capital when the work is bound to that machine.
 */
static void aim(const char *location, struct dd_store *via, char flag,
		bool not_own, const char *machine, const char *object)
{
	char start[SELF_MAX + 8], sender[SELF_MAX], skip[OWN_MAX * 12 + 4];
	char app[64];
	const char *values[] = {start, skip, object ? object : "", app};
	bool others = not_own && !machine;
	PGresult *r;

	if (others && seems_alone(location))
		return;
	process_id(sender, sizeof(sender));
	snprintf(start, sizeof(start), "%c %s ", machine ? toupper(flag) : flag,
		 sender);
	if (not_own)
		own_list(skip, sizeof(skip));
	else
		snprintf(skip, sizeof(skip), "{}");
	if (machine)
		daemon_app(machine, app, sizeof(app));
	else
		snprintf(app, sizeof(app), "%s", role_pattern[DD_WAKE_DAEMON]);
	r = send_stmt(location, via, STMT_AIM, values);
	if (r && !PQntuples(r) && others && own_list_size() > 0)
		found_alone(location);
	PQclear(r);
}

static void pg_notify(const char *location, struct dd_store *via,
		      enum dd_wake_role role, const char *object,
		      const struct dd_wake_skip *skip)
{
	char payload[256], sender[SELF_MAX], channel[64];
	const char *ch[2];
	const char *values[3] = {payload};
	const char *skip_id = skip && skip->listener && *skip->listener
				      ? skip->listener
				      : "-";
	size_t n = 1;

	if (role == DD_WAKE_DAEMON && skip && skip->one_daemon) {
		aim(location, via, 'o', skip->own_daemons, skip->machine,
		    object);
		return;
	}
	process_id(sender, sizeof(sender));
	if ((size_t)snprintf(payload, sizeof(payload), "%c %s %s %s",
			     skip && skip->own_daemons ? 'd' : '-', sender,
			     skip_id, object ? object : "") >= sizeof(payload))
		object = NULL; /* too long to say: an untargeted one */
	if (!object)
		snprintf(payload, sizeof(payload), "%c %s %s ",
			 skip && skip->own_daemons ? 'd' : '-', sender,
			 skip_id);
	if (role == DD_WAKE_DAEMON) {
		ch[0] = CH_DAEMON;
	} else if (!object) {
		ch[0] = CH_WATCHER;
		ch[1] = CH_UNTARGETED;
		n = 2;
	} else if (nameable(object)) {
		snprintf(channel, sizeof(channel), CH_OBJECT "%s", object);
		ch[0] = CH_WATCHER;
		ch[1] = channel;
		n = 2;
	} else {
		/* no watcher can have named it: they all hear the first */
		ch[0] = CH_WATCHER;
	}
	/* on the caller's own connection if it can: one connection less */
	for (size_t i = 0; i < n; i++)
		values[i + 1] = ch[i];
	PQclear(send_stmt(location, via,
			  n == 1 ? STMT_NOTIFY_1 : STMT_NOTIFY_2, values));
}

static int pg_count(const char *location, struct dd_store *via,
		    enum dd_wake_role role)
{
	const char *values[] = {role_pattern[role]};
	PGresult *r = send_stmt(location, via, STMT_COUNT, values);
	int n = r && PQntuples(r) == 1 ? atoi(PQgetvalue(r, 0, 0)) : 0;

	PQclear(r);
	return n;
}

/* Where a listener's connection is. */
enum link {
	LINK_DOWN,	 /* none: a new one at retry_at */
	LINK_CONNECTING, /* PQconnectPoll() steps, by connect_by */
	LINK_LISTENING,	 /* LISTEN sent, its answer awaited, by connect_by */
	LINK_UP,	 /* listening */
};

struct pg_wake {
	struct dd_wake base;
	char *location;
	PGconn *conn;	     /* NULL while LINK_DOWN */
	enum link link;
	short want;	     /* LINK_CONNECTING: POLLIN or POLLOUT */
	int ep;		     /* epoll: the socket and the timer; fd() */
	int timer;	     /* timerfd: retry_at, or connect_by */
	int sock;	     /* the socket in ep, or -1 */
	double retry_at;     /* monotonic */
	double connect_by;   /* monotonic */
	double backoff;
	int reconnected;     /* wake-ups for listening again, not yet told */
	int pid;	     /* the server process of a listening daemon's, or 0 */
	bool alone_bound;    /* of base.alone, some were bound to its machine */
	char machine[DD_MACHINE_MAX + 1]; /* a daemon's */
	char app[64];	     /* its application_name */
	char why[256];	     /* why the last connection failed */
	char id[ID_MAX];
	char watching[OBJECT_MAX]; /* the object it listens for, or "" */
};

/* Make the timer fire at monotonic time `at` (at once if past). */
static void arm(struct pg_wake *w, double at)
{
	double d = at - dd_monotonic();
	struct itimerspec its = {{0, 0}, {0, 1}};

	if (d > 0) {
		its.it_value.tv_sec = (time_t)d;
		its.it_value.tv_nsec = (long)((d - (double)(time_t)d) * 1e9);
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1;
	}
	timerfd_settime(w->timer, 0, &its, NULL);
}

static void disarm(struct pg_wake *w)
{
	struct itimerspec its = {{0, 0}, {0, 0}};

	timerfd_settime(w->timer, 0, &its, NULL);
}

/*
 * Put the connection's socket in the epoll set for `events` (none: take
 * it out).  libpq may replace the socket while connecting, perhaps under
 * the same number (the old one then left the set when it was closed), so
 * this always says it again.
 */
static void watch_socket(struct pg_wake *w, uint32_t events)
{
	int fd = w->conn && events ? PQsocket(w->conn) : -1;
	struct epoll_event ev = {.events = events, .data.fd = fd};

	if (w->sock >= 0 && w->sock != fd)
		epoll_ctl(w->ep, EPOLL_CTL_DEL, w->sock, NULL);
	w->sock = -1;
	if (fd < 0)
		return;
	if (!epoll_ctl(w->ep, EPOLL_CTL_MOD, fd, &ev) ||
	    (errno == ENOENT && !epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev)))
		w->sock = fd;
}

/* End the connection; the next try at once, or after a backoff. */
static void drop(struct pg_wake *w, bool failed)
{
	if (failed)
		reason(w->conn, w->why, sizeof(w->why));
	watch_socket(w, 0);
	if (w->pid)
		own_remove(w->pid);
	w->pid = 0;
	PQfinish(w->conn);
	w->conn = NULL;
	w->link = LINK_DOWN;
	w->retry_at = dd_monotonic() + (failed ? next_backoff(&w->backoff) : 0);
	arm(w, w->retry_at);
}

/* What w listens to, after `prefix`, as SQL. */
static void listen_sql(const struct pg_wake *w, const char *prefix, char *buf,
		       size_t n)
{
	if (w->base.role == DD_WAKE_DAEMON)
		snprintf(buf, n, "%sLISTEN " CH_DAEMON "; LISTEN \"" CH_ONE "%d\"",
			 prefix, PQbackendPID(w->conn));
	else if (!w->watching[0])
		snprintf(buf, n, "%sLISTEN " CH_WATCHER, prefix);
	else /* nameable(): nothing in it to quote */
		snprintf(buf, n,
			 "%sLISTEN " CH_UNTARGETED "; LISTEN \"" CH_OBJECT
			 "%s\"",
			 prefix, w->watching);
}

/* Begin a connection; LINK_CONNECTING, or LINK_DOWN with a backoff. */
static void start(struct pg_wake *w, double deadline)
{
	const char *const values[] = {w->location, w->app, NULL};

	w->conn = PQconnectStartParams(connect_keywords, values, 1);
	if (!w->conn || PQstatus(w->conn) == CONNECTION_BAD) {
		drop(w, true);
		return;
	}
	PQsetNoticeProcessor(w->conn, quiet, NULL);
	w->link = LINK_CONNECTING;
	w->want = POLLOUT;
	w->connect_by = deadline;
	arm(w, deadline);
	watch_socket(w, EPOLLOUT);
}

/* Is the socket ready for what the connection waits for? */
static bool socket_ready(PGconn *c, short events)
{
	struct pollfd p = {.fd = PQsocket(c), .events = events};

	return p.fd >= 0 && poll(&p, 1, 0) > 0;
}

/*
 * Do what w's connection has to do now, without blocking: read what came
 * (notifications stay in libpq for next_wake()), notice that it ended,
 * take the next step of connecting again, or start at retry_at.
 */
static void pump(struct pg_wake *w)
{
	uint64_t ticks;
	PGresult *r;
	char sql[160];
	int f;

	/* the timer has fired, or not: either way it is read */
	if (read(w->timer, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	for (;;) {
		switch (w->link) {
		case LINK_UP:
			if (PQconsumeInput(w->conn) &&
			    PQstatus(w->conn) == CONNECTION_OK)
				return;
			drop(w, false);
			break;
		case LINK_DOWN:
			if (dd_monotonic() < w->retry_at) {
				arm(w, w->retry_at);
				return;
			}
			start(w, dd_monotonic() + CONNECT_TIMEOUT);
			if (w->link == LINK_DOWN)
				return;
			break;
		case LINK_CONNECTING: {
			PostgresPollingStatusType st;

			if (dd_monotonic() >= w->connect_by) {
				drop(w, true);
				snprintf(w->why, sizeof(w->why),
					 "no connection within %.0f s",
					 CONNECT_TIMEOUT);
				return;
			}
			/* PQconnectPoll() takes a step it must wait for */
			if (!socket_ready(w->conn, w->want)) {
				arm(w, w->connect_by);
				return;
			}
			st = PQconnectPoll(w->conn);
			if (st == PGRES_POLLING_FAILED) {
				drop(w, true);
				return;
			}
			if (st != PGRES_POLLING_OK) {
				w->want = st == PGRES_POLLING_READING
						  ? POLLIN
						  : POLLOUT;
				watch_socket(w, st == PGRES_POLLING_READING
							? EPOLLIN
							: EPOLLOUT);
				return;
			}
			listen_sql(w, "", sql, sizeof(sql));
			if (PQsetnonblocking(w->conn, 1) ||
			    !PQsendQuery(w->conn, sql)) {
				drop(w, true);
				return;
			}
			w->link = LINK_LISTENING;
			break;
		}
		case LINK_LISTENING:
			f = PQflush(w->conn);
			if (f < 0 || !PQconsumeInput(w->conn)) {
				drop(w, true);
				return;
			}
			while (!PQisBusy(w->conn) &&
			       (r = PQgetResult(w->conn))) {
				bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;

				PQclear(r);
				if (!ok) {
					drop(w, true);
					return;
				}
			}
			if (PQisBusy(w->conn) || f) {
				if (dd_monotonic() >= w->connect_by) {
					drop(w, true);
					return;
				}
				watch_socket(w, EPOLLIN | (f ? EPOLLOUT : 0));
				return;
			}
			/* listening: whatever was sent meanwhile is lost */
			w->link = LINK_UP;
			w->backoff = 0;
			w->reconnected++;
			if (w->base.role == DD_WAKE_DAEMON &&
			    (w->pid = PQbackendPID(w->conn)))
				own_add(w->pid);
			watch_socket(w, EPOLLIN);
			disarm(w);
			break;
		}
	}
}

/*
 * Is the notification with `payload` for w?  Its object into `object`
 * ("" for an untargeted one).  A payload not of drydock's form (a NOTIFY
 * someone else sent) is an untargeted wake-up: looking again is harmless.
 */
static bool for_me(struct pg_wake *w, const char *payload, char *object,
		   size_t n)
{
	char self[SELF_MAX];
	const char *f[3], *obj = "";
	size_t len[3];
	const char *p = payload;

	object[0] = '\0';
	for (int i = 0; i < 3; i++) {
		f[i] = p;
		len[i] = strcspn(p, " ");
		if (!p[len[i]])
			return true;
		p += len[i] + 1;
	}
	obj = p;
	if (len[0] == 1 && strchr("oOpP", f[0][0])) {
		/* for one daemon: the one whose server process is named */
		if (w->base.role != DD_WAKE_DAEMON || !w->pid ||
		    strtol(f[2], NULL, 10) != w->pid)
			return false;
		if (tolower(f[0][0]) == 'o') {
			w->base.alone++;
			w->alone_bound |= f[0][0] == 'O';
		}
		snprintf(object, n, "%s", obj);
		return true;
	}
	if (len[2] == strlen(w->id) && !strncmp(f[2], w->id, len[2]))
		return false;
	if (w->base.role == DD_WAKE_DAEMON && len[0] == 1 && f[0][0] == 'd') {
		process_id(self, sizeof(self));
		if (len[1] == strlen(self) && !strncmp(f[1], self, len[1]))
			return false;
	}
	if (w->watching[0] && *obj && strcmp(obj, w->watching))
		return false;
	snprintf(object, n, "%s", obj);
	return true;
}

/* The next wake-up for w that has come in: 1 and its object, or 0. */
static int next_wake(struct pg_wake *w, char *object, size_t n)
{
	PGnotify *m;

	object[0] = '\0';
	if (w->reconnected) {
		w->reconnected--;
		return 1;
	}
	while (w->link == LINK_UP && (m = PQnotifies(w->conn))) {
		bool mine = for_me(w, m->extra, object, n);

		PQfreemem(m);
		if (mine)
			return 1;
	}
	return 0;
}

static void pg_pass_on(struct dd_wake *base)
{
	struct pg_wake *w = (struct pg_wake *)base;

	aim(w->location, NULL, 'p', true, w->alone_bound ? w->machine : NULL,
	    NULL);
	w->alone_bound = false;
}

static void pg_close(struct dd_wake *base)
{
	struct pg_wake *w = (struct pg_wake *)base;

	watch_socket(w, 0);
	if (w->pid)
		own_remove(w->pid);
	PQfinish(w->conn);
	if (w->ep >= 0)
		close(w->ep);
	if (w->timer >= 0)
		close(w->timer);
	dd_free(w->location);
	dd_free(w);
}

static int pg_listen(const char *location, enum dd_wake_role role,
		     struct dd_wake **out, struct dd_error *err)
{
	static atomic_int seq;
	struct pg_wake *w = dd_calloc(1, sizeof(*w));
	struct epoll_event ev = {.events = EPOLLIN};
	double deadline = dd_monotonic() + LISTEN_TIMEOUT;
	char self[SELF_MAX];

	if (dd_pq_load(err)) {
		dd_free(w);
		return err->code;
	}
	if (!w)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	w->base.t = &dd_pg_wake;
	w->base.role = role;
	w->sock = -1;
	w->ep = epoll_create1(EPOLL_CLOEXEC);
	w->timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	w->location = dd_strdup(location);
	process_id(self, sizeof(self));
	snprintf(w->id, sizeof(w->id), "%s.%d", self,
		 atomic_fetch_add(&seq, 1));
	if (role == DD_WAKE_DAEMON) {
		if (dd_machine(w->machine, err)) {
			pg_close(&w->base);
			return err->code;
		}
		daemon_app(w->machine, w->app, sizeof(w->app));
	} else {
		snprintf(w->app, sizeof(w->app), WATCHER_APP);
	}
	ev.data.fd = w->timer;
	if (!w->location || w->ep < 0 || w->timer < 0 ||
	    epoll_ctl(w->ep, EPOLL_CTL_ADD, w->timer, &ev)) {
		int e = errno;
		bool nomem = !w->location;

		pg_close(&w->base);
		if (nomem)
			return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
		return dd_error_set(err, DD_ERR_IO,
				    "cannot listen for wake-ups: %s",
				    strerror(e));
	}
	start(w, deadline);
	while (w->link == LINK_CONNECTING || w->link == LINK_LISTENING) {
		struct pollfd p = {.fd = w->ep, .events = POLLIN};
		double left = deadline - dd_monotonic();

		if (poll(&p, 1, left > 0 ? (int)(left * 1000.0) + 1 : 0) < 0 &&
		    errno != EINTR)
			break;
		pump(w);
	}
	if (w->link != LINK_UP) {
		if (w->link != LINK_DOWN)
			snprintf(w->why, sizeof(w->why),
				 "no connection within %.0f s", LISTEN_TIMEOUT);
		dd_error_set(err, DD_ERR_STORE,
			     "cannot listen for wake-ups on the PostgreSQL "
			     "store: %s",
			     w->why[0] ? w->why : "the connection failed");
		pg_close(&w->base);
		return DD_ERR_STORE;
	}
	w->reconnected = 0;
	*out = &w->base;
	return 0;
}

static int pg_fd(const struct dd_wake *base)
{
	return ((const struct pg_wake *)base)->ep;
}

static int pg_drain(struct dd_wake *base)
{
	struct pg_wake *w = (struct pg_wake *)base;
	char object[OBJECT_MAX + 16];
	int n = 0;

	w->base.alone = 0;
	w->alone_bound = false;
	pump(w);
	while (next_wake(w, object, sizeof(object)))
		n++;
	return n;
}

/* What has come in first, then what reading brings (each read a syscall). */
static int pg_next(struct dd_wake *base, char *object, size_t n)
{
	struct pg_wake *w = (struct pg_wake *)base;

	if (next_wake(w, object, n))
		return 1;
	pump(w);
	return next_wake(w, object, n);
}

/*
 * Listen on `object`'s channel instead of every watcher notification.
 * Returns true if that changed what w listens for: a wake-up sent before
 * may have been missed.  Daemons listen to no object.
 */
static bool pg_watch(struct dd_wake *base, const char *object)
{
	struct pg_wake *w = (struct pg_wake *)base;
	char sql[200];

	if (base->role != DD_WAKE_WATCHER || !strcmp(w->watching, object) ||
	    !nameable(object))
		return false;
	snprintf(w->watching, sizeof(w->watching), "%s", object);
	if (w->link == LINK_LISTENING) {
		/* its LISTEN is for the old object: connect again */
		drop(w, false);
	} else if (w->link == LINK_UP) {
		listen_sql(w, "UNLISTEN *; ", sql, sizeof(sql));
		if (!run_by(w->conn, sql, 0, NULL,
			    dd_monotonic() + LISTEN_TIMEOUT, NULL))
			drop(w, false);
		else /* what came in meanwhile waits in libpq: look */
			arm(w, 0);
	}
	return true;
}

static int pg_wait_for(struct dd_wake *base, const char *object,
		       double timeout)
{
	struct pg_wake *w = (struct pg_wake *)base;
	double deadline = dd_monotonic() + timeout;
	char got[OBJECT_MAX + 16];

	/* a caller that did not call dd_wake_watch() first looks again */
	if (pg_watch(base, object))
		return 1;
	for (;;) {
		struct pollfd p = {.fd = w->ep, .events = POLLIN};
		double left;

		pump(w);
		while (next_wake(w, got, sizeof(got)))
			if (!got[0] || !strcmp(got, object))
				return 1;
		left = deadline - dd_monotonic();
		if (left <= 0 ||
		    (poll(&p, 1, (int)(left * 1000.0) + 1) < 0 &&
		     errno != EINTR))
			return 0;
	}
}

static bool pg_hears(const struct dd_wake *base, const char *location)
{
	return !strcmp(((const struct pg_wake *)base)->location, location);
}

/* "HOST-PID-RANDOM.N": what senders name to leave this one out. */
static void pg_id(const struct dd_wake *base, char *buf, size_t n)
{
	snprintf(buf, n, "%s", ((const struct pg_wake *)base)->id);
}

const struct dd_wake_transport dd_pg_wake = {
	.name = "postgresql",
	.listen = pg_listen,
	.fd = pg_fd,
	.drain = pg_drain,
	.next = pg_next,
	.close = pg_close,
	.watch = pg_watch,
	.wait_for = pg_wait_for,
	.hears = pg_hears,
	.id = pg_id,
	.notify = pg_notify,
	.count = pg_count,
	.pass_on = pg_pass_on,
};
