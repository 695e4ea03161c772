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
/* an object named in a channel: the name holds 63 bytes in all */
#define OBJECT_MAX 48
#define SELF_MAX 80 /* process_id(): host 47, pid, random */
#define ID_MAX 96   /* a listener's: process_id() and a number */

static const char *const role_app[] = {"drydock wake daemon",
				       "drydock wake watcher"};
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
 * Run `sql` on the non-blocking connection c (with `n` text parameters;
 * with none it may hold several statements) and read every result by
 * `deadline`.  True if each statement succeeded, the last result in *out
 * if asked for (the caller's to PQclear).  False may leave c in the
 * middle of it: the caller drops c.
 */
static bool run_by(PGconn *c, const char *sql, int n,
		   const char *const *values, double deadline, PGresult **out)
{
	PGresult *r, *last = NULL;
	bool ok;
	int f;

	if (out)
		*out = NULL;
	ok = n ? PQsendQueryParams(c, sql, n, NULL, values, NULL, NULL, 0)
	       : PQsendQuery(c, sql);
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
 * The sending connection to one location.  Made at the first
 * notification, kept for the process's life (reachable from `senders`).
 */
struct sender {
	struct sender *next;
	pthread_mutex_t mu; /* held for a whole connect or statement */
	char *location;
	PGconn *conn;	  /* NULL: connect at the next notification */
	pid_t pid;	  /* the process that made conn */
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
 * Run `sql` on the sending connection to `location`, connecting first if
 * there is none and the backoff allows: its result (for PQclear), or
 * NULL if it could not run.  Takes at most one SEND_TIMEOUT to connect
 * and one for the statement.
 */
static PGresult *sender_run(const char *location, const char *sql, int n,
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
		double deadline = dd_monotonic() + SEND_TIMEOUT;

		s->conn = connect_by(location, SENDER_APP, deadline, why,
				     sizeof(why));
		if (s->conn && !run_by(s->conn, "SET synchronous_commit = off",
				       0, NULL, deadline, NULL)) {
			PQfinish(s->conn);
			s->conn = NULL;
		}
		if (s->conn)
			s->pid = getpid();
		else
			s->retry_at = dd_monotonic() + next_backoff(&s->backoff);
	}
	if (s->conn) {
		if (run_by(s->conn, sql, n, values,
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

static void pg_notify(const char *location, struct dd_store *via,
		      enum dd_wake_role role, const char *object,
		      const struct dd_wake_skip *skip)
{
	static const char *const sender_sql[] = {
		NULL,
		"SELECT pg_notify($2, $1)",
		"SELECT pg_notify($2, $1), pg_notify($3, $1)",
	};
	char payload[256], sender[SELF_MAX], channel[64];
	const char *ch[2];
	const char *values[3] = {payload};
	const char *skip_id = skip && skip->listener && *skip->listener
				      ? skip->listener
				      : "-";
	size_t n = 1;

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
	if (via && dd_pg_notify_on(via, ch, n, payload))
		return;
	for (size_t i = 0; i < n; i++)
		values[i + 1] = ch[i];
	PQclear(sender_run(location, sender_sql[n], (int)n + 1, values));
}

static int pg_count(const char *location, struct dd_store *via,
		    enum dd_wake_role role)
{
	static const char sql[] =
		"SELECT count(*) FROM pg_stat_activity "
		"WHERE datname = current_database() AND application_name = $1";
	const char *values[] = {role_app[role]};
	long long lent = 0;
	PGresult *r;
	int n;

	if (via && dd_pg_count_on(via, sql, values[0], &lent))
		return (int)lent;
	r = sender_run(location, sql, 1, values);
	n = r && PQntuples(r) == 1 ? atoi(PQgetvalue(r, 0, 0)) : 0;
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
		snprintf(buf, n, "%sLISTEN " CH_DAEMON, prefix);
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
	const char *const values[] = {w->location, role_app[w->base.role],
				      NULL};

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
static bool for_me(const struct pg_wake *w, const char *payload,
		   char *object, size_t n)
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

static void pg_close(struct dd_wake *base)
{
	struct pg_wake *w = (struct pg_wake *)base;

	watch_socket(w, 0);
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
};
