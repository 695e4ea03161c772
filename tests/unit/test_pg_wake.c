/*
 * test_pg_wake.c - the PostgreSQL backend's wake-ups (store/pg_wake.c),
 * LISTEN/NOTIFY on a fresh database of the run's server (pg_test.h):
 * each role hears its own notifications only; a sender's own daemons and
 * one named listener are left out; targeted wake-ups reach the watchers
 * of their object and those of none; counting live listeners by
 * database; a listener whose connection the server ends turns readable,
 * connects again by itself and says so with a wake-up, also after the
 * server was gone for a while, backing off meanwhile; a sending connection
 * that the server ended is made again; a notification to a server that
 * never answers returns, without trying again at each call; and one
 * sent on a store handle's own connection opens no sending connection,
 * unless the handle is in a transaction; and a daemon's commit whose
 * work an idle thread of its own takes wakes no other daemon.
 *
 * PostgreSQL delivers one sender's notifications in the order they were
 * committed, so "X did not arrive" is checked by sending X, then a marker,
 * and reading up to the marker.
 */
#include "testutil.h"
#include "pg_test.h"

#include "queue/task.h"
#include "queue/wake.h"
#include "store/pg_wake.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#define WAIT_LIMIT 30.0 /* seconds: only a failing test waits this long */

struct fx {
	char loc[1024];
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));

	pg_test_newdb(x->loc, sizeof(x->loc));
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	pg_test_drop_all();
	free(*state);
	return 0;
}

static struct dd_wake *listen_or_fail(const char *loc, enum dd_wake_role role)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_wake *w = NULL;

	assert_ok(dd_wake_listen(loc, role, &w, &err), &err);
	assert_ptr_equal(w->t, &dd_pg_wake);
	return w;
}

/* Send through the transport itself, with an object and a skip. */
static void send_to(const char *loc, enum dd_wake_role role,
		    const char *object, bool own_daemons, const char *listener)
{
	struct dd_wake_skip skip = {own_daemons, listener};

	dd_pg_wake.notify(loc, NULL, role, object, &skip);
}

/*
 * Read w's wake-ups until one about `marker` ("" for an untargeted one)
 * and return the objects before it, joined by ",", in seen[n].  Fails
 * the test if it does not come in WAIT_LIMIT.
 */
static void read_until(struct dd_wake *w, const char *marker, char *seen,
		       size_t n)
{
	double deadline = dd_monotonic() + WAIT_LIMIT;
	char object[64];
	size_t used = 0;

	seen[0] = '\0';
	for (;;) {
		struct pollfd p = {.fd = dd_wake_fd(w), .events = POLLIN};

		while (dd_wake_next(w, object, sizeof(object))) {
			if (!strcmp(object, marker))
				return;
			used += (size_t)snprintf(seen + used,
						 used < n ? n - used : 0,
						 "%s%s", used ? "," : "",
						 object[0] ? object : "*");
		}
		if (dd_monotonic() > deadline)
			fail_msg("no wake-up '%s' in %.0f s (got '%s')", marker,
				 WAIT_LIMIT, seen);
		poll(&p, 1, 1000);
	}
}

/* Run `sql` as the server's superuser; the first value, or -1. */
static long long superuser_sql(const char *sql)
{
	PGconn *c = pg_test_connect();
	PGresult *r = PQexec(c, sql);
	long long v = -1;

	if (PQresultStatus(r) != PGRES_TUPLES_OK &&
	    PQresultStatus(r) != PGRES_COMMAND_OK)
		fail_msg("'%s': %s", sql, PQerrorMessage(c));
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
		v = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	return v;
}

/* The database name in a pg_test_newdb() conninfo. */
static void dbname_of(const char *loc, char *buf, size_t n)
{
	const char *p = strstr(loc, "dbname='");

	assert_non_null(p);
	p += strlen("dbname='");
	snprintf(buf, n, "%.*s", (int)strcspn(p, "'"), p);
}

/* `count` over the connections of `app` to loc's database. */
static long long over_connections(const char *loc, const char *app,
				  const char *count)
{
	char db[64], sql[512];

	dbname_of(loc, db, sizeof(db));
	snprintf(sql, sizeof(sql),
		 "SELECT %s FROM pg_stat_activity"
		 " WHERE datname = '%s' AND application_name = '%s'",
		 count, db, app);
	return superuser_sql(sql);
}

/* End the connections of `app` to loc's database; how many. */
static long long terminate(const char *loc, const char *app)
{
	return over_connections(loc, app, "count(pg_terminate_backend(pid))");
}

/* Connections of `app` to loc's database. */
static long long connections(const char *loc, const char *app)
{
	return over_connections(loc, app, "count(*)");
}

static void test_each_role_hears_its_own(void **state)
{
	struct fx *x = *state;
	struct dd_wake *d = listen_or_fail(x->loc, DD_WAKE_DAEMON);
	struct dd_wake *w = listen_or_fail(x->loc, DD_WAKE_WATCHER);
	char seen[256];

	send_to(x->loc, DD_WAKE_WATCHER, "lease:7", false, NULL);
	dd_wake_notify(x->loc, DD_WAKE_DAEMON);
	send_to(x->loc, DD_WAKE_DAEMON, "mark:1", false, NULL);
	/* the daemon: the untargeted one, not the watchers' */
	read_until(d, "mark:1", seen, sizeof(seen));
	assert_string_equal(seen, "*");
	send_to(x->loc, DD_WAKE_WATCHER, "mark:2", false, NULL);
	/* the watcher: its own, not the daemons' */
	read_until(w, "mark:2", seen, sizeof(seen));
	assert_string_equal(seen, "lease:7");
	dd_wake_close(d);
	dd_wake_close(w);
}

static int woken_directly;
static int idle_directly = 1; /* this process's idle threads, as it were */

static int wake_directly(int n)
{
	woken_directly++;
	return n < idle_directly ? n : idle_directly;
}

static void test_own_daemons_left_out(void **state)
{
	struct fx *x = *state;
	struct dd_wake *d = listen_or_fail(x->loc, DD_WAKE_DAEMON);
	char seen[256];

	/* sent leaving this process's daemons out, or not */
	send_to(x->loc, DD_WAKE_DAEMON, "a:1", false, NULL);
	send_to(x->loc, DD_WAKE_DAEMON, "a:2", true, NULL);
	/* this daemon's threads are told directly; its listener not */
	woken_directly = 0;
	dd_wake_set_local(wake_directly);
	dd_wake_notify(x->loc, DD_WAKE_DAEMON);
	dd_wake_set_local(NULL);
	assert_int_equal(woken_directly, 1);
	send_to(x->loc, DD_WAKE_DAEMON, "mark:1", false, NULL);
	read_until(d, "mark:1", seen, sizeof(seen));
	assert_string_equal(seen, "a:1");
	dd_wake_close(d);
}

static char told[64];

static void tell(const char *object)
{
	snprintf(told, sizeof(told), "%s", object ? object : "*");
}

static void test_named_listener_left_out(void **state)
{
	struct fx *x = *state;
	struct dd_wake *a = listen_or_fail(x->loc, DD_WAKE_WATCHER);
	struct dd_wake *b = listen_or_fail(x->loc, DD_WAKE_WATCHER);
	char id[128], seen[256];

	a->t->id(a, id, sizeof(id));
	send_to(x->loc, DD_WAKE_WATCHER, "lease:1", false, id);
	/* a registered watcher is told directly, and left out */
	told[0] = '\0';
	dd_wake_set_local_watcher(a, tell);
	dd_wake_notify_about(x->loc, "lease:2");
	dd_wake_set_local_watcher(NULL, NULL);
	assert_string_equal(told, "lease:2");
	send_to(x->loc, DD_WAKE_WATCHER, "mark:1", false, NULL);
	read_until(a, "mark:1", seen, sizeof(seen));
	assert_string_equal(seen, "");
	read_until(b, "mark:1", seen, sizeof(seen));
	assert_string_equal(seen, "lease:1,lease:2");
	dd_wake_close(a);
	dd_wake_close(b);
}

static void test_targeted_reaches_its_watchers(void **state)
{
	struct fx *x = *state;
	struct dd_wake *a = listen_or_fail(x->loc, DD_WAKE_WATCHER);
	struct dd_wake *b = listen_or_fail(x->loc, DD_WAKE_WATCHER);
	struct dd_wake *c = listen_or_fail(x->loc, DD_WAKE_WATCHER);
	char seen[256];

	/* the first wait names the object and returns at once: look again */
	assert_int_equal(dd_wake_wait_for(a, "lease:1", 0.01), 1);
	assert_true(dd_wake_watch(b, "lease:2"));
	assert_false(dd_wake_watch(b, "lease:2"));
	dd_wake_notify_about(x->loc, "lease:2");
	dd_wake_notify_about(x->loc, "lease:1");
	assert_int_equal(dd_wake_wait_for(a, "lease:1", WAIT_LIMIT), 1);
	dd_wake_notify(x->loc, DD_WAKE_WATCHER);
	read_until(a, "", seen, sizeof(seen));
	assert_string_equal(seen, "");
	read_until(b, "", seen, sizeof(seen));
	assert_string_equal(seen, "lease:2");
	/* a watcher of no object hears every one */
	read_until(c, "", seen, sizeof(seen));
	assert_string_equal(seen, "lease:2,lease:1");
	/* a watcher that turns to another object hears that one's */
	assert_true(dd_wake_watch(a, "lease:3"));
	dd_wake_notify_about(x->loc, "lease:1");
	dd_wake_notify_about(x->loc, "lease:3");
	dd_wake_notify(x->loc, DD_WAKE_WATCHER);
	read_until(a, "", seen, sizeof(seen));
	assert_string_equal(seen, "lease:3");
	dd_wake_close(a);
	dd_wake_close(b);
	dd_wake_close(c);
}

/* Wait until count() says `want`; fails after WAIT_LIMIT. */
static void count_becomes(const char *loc, enum dd_wake_role role, int want)
{
	double deadline = dd_monotonic() + WAIT_LIMIT;
	int n;

	/* a closed connection's server process ends a moment later */
	while ((n = dd_wake_count(loc, role)) != want) {
		struct timespec ts = {0, 10 * 1000 * 1000};

		if (dd_monotonic() > deadline)
			fail_msg("%d listeners of role %d, not %d", n,
				 (int)role, want);
		nanosleep(&ts, NULL);
	}
}

static void test_count(void **state)
{
	struct fx *x = *state;
	char other[1024];
	struct dd_wake *d1, *d2, *w, *elsewhere;

	pg_test_newdb(other, sizeof(other));
	assert_int_equal(dd_wake_count(x->loc, DD_WAKE_DAEMON), 0);
	d1 = listen_or_fail(x->loc, DD_WAKE_DAEMON);
	d2 = listen_or_fail(x->loc, DD_WAKE_DAEMON);
	w = listen_or_fail(x->loc, DD_WAKE_WATCHER);
	/* another database is another store */
	elsewhere = listen_or_fail(other, DD_WAKE_DAEMON);
	assert_int_equal(dd_wake_count(x->loc, DD_WAKE_DAEMON), 2);
	assert_int_equal(dd_wake_count(x->loc, DD_WAKE_WATCHER), 1);
	assert_int_equal(dd_wake_count(other, DD_WAKE_DAEMON), 1);
	assert_int_equal(dd_wake_count(other, DD_WAKE_WATCHER), 0);
	dd_wake_close(d1);
	count_becomes(x->loc, DD_WAKE_DAEMON, 1);
	dd_wake_close(d2);
	dd_wake_close(w);
	dd_wake_close(elsewhere);
	count_becomes(x->loc, DD_WAKE_DAEMON, 0);
	count_becomes(x->loc, DD_WAKE_WATCHER, 0);
}

/*
 * poll() w's descriptor and read it until an untargeted wake-up; how many
 * times poll() returned.  Fails if it takes WAIT_LIMIT.
 */
static int until_reconnected(struct dd_wake *w)
{
	double deadline = dd_monotonic() + WAIT_LIMIT;
	char object[64];
	int polls = 0;

	for (;;) {
		struct pollfd p = {.fd = dd_wake_fd(w), .events = POLLIN};
		double left = deadline - dd_monotonic();

		if (left <= 0)
			fail_msg("not connected again in %.0f s", WAIT_LIMIT);
		if (poll(&p, 1, (int)(left * 1000)) > 0)
			polls++;
		while (dd_wake_next(w, object, sizeof(object)))
			if (!object[0])
				return polls;
	}
}

static void test_listener_connects_again(void **state)
{
	struct fx *x = *state;
	struct dd_wake *d = listen_or_fail(x->loc, DD_WAKE_DAEMON);
	struct pollfd p = {.fd = dd_wake_fd(d), .events = POLLIN};
	char seen[256];

	assert_int_equal(terminate(x->loc, "drydock wake daemon"), 1);
	/* the end of the connection makes the descriptor readable */
	assert_int_equal(poll(&p, 1, (int)(WAIT_LIMIT * 1000)), 1);
	until_reconnected(d);
	assert_int_equal(dd_wake_count(x->loc, DD_WAKE_DAEMON), 1);
	/* and it listens again */
	send_to(x->loc, DD_WAKE_DAEMON, "mark:1", false, NULL);
	read_until(d, "mark:1", seen, sizeof(seen));
	assert_string_equal(seen, "");
	dd_wake_close(d);
}

/*
 * The server's socket, as libpq names it in the directory `host`, and a
 * location of `loc`'s database reached through a directory of our own
 * (`dir`) where a symbolic link to that socket stands: removing the link
 * makes the server gone for that location alone.
 */
static void socket_link(const char *loc, const char *dir, char *link,
			size_t ln, char *target, size_t tn, char *via,
			size_t vn)
{
	PQconninfoOption *o = PQconninfoParse(pg_test_server(), NULL);
	const char *host = NULL, *port = "5432";

	assert_non_null(o);
	for (PQconninfoOption *p = o; p->keyword; p++) {
		if (!strcmp(p->keyword, "host") && p->val)
			host = p->val;
		if (!strcmp(p->keyword, "port") && p->val)
			port = p->val;
	}
	assert_true(host && host[0] == '/');
	snprintf(target, tn, "%s/.s.PGSQL.%s", host, port);
	snprintf(link, ln, "%s/.s.PGSQL.%s", dir, port);
	PQconninfoFree(o);
	/* a keyword given again overrides the first */
	snprintf(via, vn, "%s host='%s'", loc, dir);
}

/*
 * While the server is gone, a listener tries again after a backoff, its
 * descriptor quiet in between: in half a second it wakes its caller a
 * few times, not thousands (a try fails at once), and never reports a
 * wake-up it has not had; once the server is back, the timer brings the
 * try that connects.
 */
static void test_listener_backs_off_while_server_gone(void **state)
{
	struct fx *x = *state;
	char dir[] = "/tmp/dd-pgwake-XXXXXX", link[256], target[256];
	char via[1280], object[64], seen[256];
	struct dd_wake *w;
	double until;
	int polls = 0;

	assert_non_null(mkdtemp(dir));
	socket_link(x->loc, dir, link, sizeof(link), target,
		    sizeof(target), via, sizeof(via));
	assert_int_equal(symlink(target, link), 0);
	w = listen_or_fail(via, DD_WAKE_WATCHER);
	assert_true(dd_wake_watch(w, "lease:4"));
	assert_int_equal(unlink(link), 0);
	assert_int_equal(terminate(x->loc, "drydock wake watcher"), 1);
	/* a notification meanwhile returns, and is lost */
	dd_wake_notify_about(via, "lease:4");
	until = dd_monotonic() + 0.5;
	while (dd_monotonic() < until) {
		struct pollfd p = {.fd = dd_wake_fd(w), .events = POLLIN};
		int left = (int)((until - dd_monotonic()) * 1000) + 1;

		if (poll(&p, 1, left) > 0)
			polls++;
		assert_int_equal(dd_wake_next(w, object, sizeof(object)), 0);
	}
	/* the end of the connection, and one failed try at least */
	assert_in_range(polls, 2, 30);
	assert_int_equal(symlink(target, link), 0);
	until_reconnected(w);
	/* listening again for the same object */
	dd_wake_notify_about(via, "lease:5");
	dd_wake_notify_about(via, "lease:4");
	read_until(w, "lease:4", seen, sizeof(seen));
	assert_string_equal(seen, "");
	dd_wake_close(w);
	unlink(link);
	rmdir(dir);
}

static void test_sender_connects_again(void **state)
{
	struct fx *x = *state;
	struct dd_wake *d = listen_or_fail(x->loc, DD_WAKE_DAEMON);
	char seen[256];

	send_to(x->loc, DD_WAKE_DAEMON, "mark:1", false, NULL);
	read_until(d, "mark:1", seen, sizeof(seen));
	assert_int_equal(terminate(x->loc, "drydock wake sender"), 1);
	/* the first may be lost with the connection; the next goes out */
	send_to(x->loc, DD_WAKE_DAEMON, "lost:1", false, NULL);
	send_to(x->loc, DD_WAKE_DAEMON, "mark:2", false, NULL);
	read_until(d, "mark:2", seen, sizeof(seen));
	assert_true(!strcmp(seen, "") || !strcmp(seen, "lost:1"));
	dd_wake_close(d);
}

/*
 * dd_wake_notify_on() and dd_wake_count_on(): on the store handle's own
 * connection, so that a CLI command opens one connection, not two.
 * Daemons and a watcher of an object hear it, the count is right, and no
 * sending connection is made.  A handle in a
 * transaction does not lend its connection: the sender's goes out.
 */
static void test_sent_on_the_store_connection(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_wake *d = listen_or_fail(x->loc, DD_WAKE_DAEMON);
	struct dd_wake *w = listen_or_fail(x->loc, DD_WAKE_WATCHER);
	struct dd_store *s = NULL;
	struct dd_wake_skip none = {0};
	char seen[256];

	assert_ok(dd_store_open(x->loc, NULL, &s, &err), &err);
	assert_true(dd_wake_watch(w, "lease:7"));
	dd_wake_notify_on(s, DD_WAKE_DAEMON);
	read_until(d, "", seen, sizeof(seen));
	assert_string_equal(seen, "");
	dd_pg_wake.notify(x->loc, s, DD_WAKE_WATCHER, "lease:7", &none);
	read_until(w, "lease:7", seen, sizeof(seen));
	/* and asks how many daemons listen on it too */
	assert_int_equal(dd_wake_count_on(s, DD_WAKE_DAEMON), 1);
	assert_int_equal(connections(x->loc, "drydock wake sender"), 0);

	assert_ok(dd_store_begin(s, &err), &err);
	dd_pg_wake.notify(x->loc, s, DD_WAKE_DAEMON, "mark:1", &none);
	read_until(d, "mark:1", seen, sizeof(seen));
	assert_int_equal(connections(x->loc, "drydock wake sender"), 1);
	dd_store_rollback(s);
	dd_store_close(s);
	dd_wake_close(d);
	dd_wake_close(w);
}

/*
 * A daemon listener in another process (so not one of ours): it says
 * "ready", reads its wake-ups up to "mark:1" and writes them back as
 * read_until() lists them, on one line.  *from reads what it says.
 */
static pid_t other_daemon(const char *loc, FILE **from)
{
	int fd[2];
	pid_t pid;

	assert_int_equal(pipe(fd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct dd_wake *w = NULL;
		char seen[256];

		close(fd[0]);
		if (dd_wake_listen(loc, DD_WAKE_DAEMON, &w, NULL))
			_exit(1);
		dprintf(fd[1], "ready\n");
		read_until(w, "mark:1", seen, sizeof(seen));
		dprintf(fd[1], "%s\n", seen);
		dd_wake_close(w);
		_exit(0);
	}
	close(fd[1]);
	*from = fdopen(fd[0], "r");
	assert_non_null(*from);
	return pid;
}

/* Insert an active resource that lives on `machine`; its id. */
/* Queue the update of `object` on s, and of `also` unless it is none. */
static void queue(struct dd_store *s, struct dd_ref object, struct dd_ref also)
{
	struct dd_error err = DD_ERROR_INIT;

	assert_ok(dd_task_schedule_update(s, object, 0, &err), &err);
	if (also.kind != DD_OBJ_NONE)
		assert_ok(dd_task_schedule_update(s, also, 0, &err), &err);
}

/*
 * A daemon's commit (queue/wake.c): work that its idle threads can take,
 * one each, wakes them and no other daemon; with too few idle, or for
 * work bound to another machine, the other daemons hear of it too.
 */
static void test_idle_thread_takes_its_own_work(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store_options opt;
	struct dd_store *s = NULL;
	const struct dd_ref none = {DD_OBJ_NONE, 0};
	struct dd_ref bp = {DD_OBJ_BLUEPRINT, 1}, here, there;
	char line[256];
	FILE *from;
	pid_t other;
	int status;

	dd_store_options_from_env(&opt);
	opt.machine = "here";
	assert_ok(dd_store_open(x->loc, &opt, &s, &err), &err);
	assert_ok(dd_store_migrate(s, &err), &err);
	here.kind = there.kind = DD_OBJ_RESOURCE;
	here.id = test_resource_on(s, 0, "here");
	there.id = test_resource_on(s, 0, "there");
	other = other_daemon(x->loc, &from);
	assert_non_null(fgets(line, sizeof(line), from));
	assert_string_equal(line, "ready\n");
	woken_directly = 0;
	dd_wake_set_local(wake_directly);
	/* anybody's work, and this machine's: our idle threads only */
	idle_directly = 2;
	queue(s, bp, none);
	dd_wake_notify_on(s, DD_WAKE_DAEMON);
	queue(s, here, bp);
	dd_wake_notify_on(s, DD_WAKE_DAEMON);
	/* none of ours idle, or one for two tasks: the other daemon too */
	idle_directly = 0;
	queue(s, bp, none);
	dd_wake_notify_on(s, DD_WAKE_DAEMON);
	idle_directly = 1;
	queue(s, here, bp);
	dd_wake_notify_on(s, DD_WAKE_DAEMON);
	/* work that lives on another machine: the other daemon too */
	idle_directly = 2;
	queue(s, there, none);
	dd_wake_notify_on(s, DD_WAKE_DAEMON);
	/* and notifications that know nothing of what was queued */
	dd_wake_notify_on(s, DD_WAKE_DAEMON);
	dd_wake_notify(x->loc, DD_WAKE_DAEMON);
	dd_wake_set_local(NULL);
	assert_int_equal(woken_directly, 7);
	send_to(x->loc, DD_WAKE_DAEMON, "mark:1", false, NULL);
	assert_non_null(fgets(line, sizeof(line), from));
	assert_string_equal(line, "*,*,*,*,*\n");
	assert_int_equal(waitpid(other, &status, 0), other);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fclose(from);
	dd_store_close(s);
}

/* A notification in a thread of its own, so that a hang fails the test. */
struct sending {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	const char *loc;
	int times;
	bool done;
};

static void *send_times(void *arg)
{
	struct sending *s = arg;

	for (int i = 0; i < s->times; i++)
		dd_wake_notify(s->loc, DD_WAKE_DAEMON);
	pthread_mutex_lock(&s->mu);
	s->done = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void test_notify_to_a_silent_server_returns(void **state)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	struct sending s = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
			    NULL, 10, false};
	struct timespec until;
	char loc[128];
	pthread_t t;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int conns = 0, c;

	(void)state;
	/* a server that takes connections and never says a word */
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 64), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	snprintf(loc, sizeof(loc),
		 "host=127.0.0.1 port=%d dbname=silent user=nobody "
		 "sslmode=disable gssencmode=disable",
		 ntohs(a.sin_port));
	s.loc = loc;
	assert_int_equal(pthread_create(&t, NULL, send_times, &s), 0);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)WAIT_LIMIT;
	pthread_mutex_lock(&s.mu);
	while (!s.done &&
	       pthread_cond_timedwait(&s.cv, &s.mu, &until) == 0)
		;
	pthread_mutex_unlock(&s.mu);
	if (!s.done)
		fail_msg("10 notifications to a silent server did not return "
			 "in %.0f s",
			 WAIT_LIMIT);
	pthread_join(t, NULL);
	/* ten notifications, not ten tries: it backs off */
	while ((c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >=
	       0) {
		conns++;
		close(c);
	}
	assert_in_range(conns, 1, 3);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_each_role_hears_its_own,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_daemons_left_out,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_named_listener_left_out,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_targeted_reaches_its_watchers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_count, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_sent_on_the_store_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_idle_thread_takes_its_own_work, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listener_connects_again,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_listener_backs_off_while_server_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sender_connects_again,
						setup, teardown),
		cmocka_unit_test(test_notify_to_a_silent_server_returns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
