/*
 * server.c - the HTTP server's machinery (server.h): libmicrohttpd's
 * daemon and its I/O threads, the handler threads and their queues, long
 * polls parked and resumed, the connections' deadlines, the store handles
 * lent to handlers, and the request log.
 *
 * It knows no route: it asks the router (router.c) which handler answers
 * a request and runs it on a handler thread; handlers answer through the
 * request functions (request.c).
 */
#include "http/server.h"
#include "http/http.h"
#include "http/internal.h"
#include "http/linger.h"
#include "http/mhd.h"
#include "http/router.h"
#include "http/watch.h"
#include "core/machine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define POOL_MAX 64
/*
 * libmicrohttpd's memory per connection, which bounds the request line
 * and headers (about 15 KB of them).  After each answer on a kept-alive
 * connection libmicrohttpd clears all of it for the next request, so it
 * is what every such connection holds: at 128 KiB, a thousand of them
 * took 130 MB.  A parked long poll touches only a few pages of it.
 */
#define CONN_MEMORY (16 * 1024)
/*
 * libmicrohttpd's threads, each with its own epoll and share of the
 * connections.  More than one because resuming a suspended connection
 * walks its thread's whole list of suspended ones: with ten thousand
 * long polls parked on one thread, every answer paid about a millisecond.
 */
#define IO_THREADS 4
/*
 * File descriptors kept for the store, wake sockets, exec's pipes and
 * the sockets of lingering closes.
 */
#define FD_RESERVE (512 + DD_HTTP_LINGER_MAX)

struct dd_http_server {
	struct MHD_Daemon *mhd;
	char address[80];
	char store_path[PATH_MAX];
	int quiet;
	/*
	 * This machine's name ("" if it has none), given to the handles:
	 * work the API queues for this machine's resources can go to the
	 * workers of this process first (queue/wake.h), like work for none.
	 */
	char machine[DD_MACHINE_MAX + 1];
	/* Idle store handles, lent to one request at a time. */
	pthread_mutex_t pool_mu;
	struct dd_store *pool[POOL_MAX];
	int pool_n;
	/*
	 * Requests being answered: from the handler's start until the answer
	 * is sent (or the connection drops).  Stopping waits for them.
	 */
	pthread_mutex_t busy_mu;
	pthread_cond_t busy_cv;
	int answering;
	atomic_bool stopping; /* answers close their connections */
	/*
	 * The handler threads, in two lanes with a queue each (see "the
	 * threading model" below); under count_mu, how many handlers run a
	 * command (at most long_max) and how many long polls are waiting (at
	 * most polls_max).
	 */
	struct lane {
		pthread_mutex_t mu;
		pthread_cond_t cv;
		struct conn *head, **tail;
		bool stop;
		pthread_t *threads;
		int n;
	} lanes[2];
	pthread_mutex_t count_mu;
	int long_running, long_max;
	int polls, polls_max;
	/*
	 * Connections waiting for a request (connected, or answered and kept
	 * alive), oldest at the tail: one that has not sent a whole request
	 * within request_timeout seconds is cut, and when the connections
	 * near the limit the oldest is cut for a new one.  Slow, idle or
	 * half-open clients cannot hold the server's connection slots.
	 */
	pthread_mutex_t track_mu;
	pthread_cond_t track_cv;
	struct track *idle_head, *idle_tail;
	int open, conn_limit;
	double request_timeout;
	bool reaper_stop;
	pthread_t reaper;
	long long max_upload; /* the largest streamed body */
	/*
	 * Bodies a program writes as it runs (dd_http_reader.waits): their
	 * connections suspended until their descriptor turns readable, which
	 * the resumer thread waits for in one epoll set (see "bodies that
	 * wait").  `resume_stop` is an eventfd that ends the thread.
	 */
	int resume_ep, resume_stop;
	pthread_t resumer;
	bool resumer_started;
	/* closes connections answered before their body was read */
	struct dd_http_linger *linger;
};

struct track {
	int fd;
	double since; /* waiting for a whole request since (monotonic) */
	bool idle;    /* in the idle list: no whole request yet */
	bool cut;
	bool linger; /* answered before its body was read: linger.h */
	struct track *prev, *next; /* in the idle list */
};

/*
 * One request in flight; libmicrohttpd keeps it in *con_cls.  The
 * request comes first: handlers' dd_http_req is the conn.
 */
struct conn {
	struct dd_http_req req;
	struct MHD_Connection *mc;
	struct dd_buf body;
	bool too_large;
	bool answered;
	bool counted; /* in s->answering */
	bool close;   /* answer with Connection: close */
	/* Run by a handler thread, the connection suspended meanwhile. */
	const struct dd_http_route *route;
	int lane;	   /* LANE_STORE or LANE_PROBE */
	int runs;	   /* handler runs so far (a long poll runs again) */
	bool ready;	   /* the answer is built: send it when resumed */
	bool waiting;	   /* the handler armed `watch` (dd_http_wait) */
	bool polling;	   /* counted in s->polls */
	bool long_running; /* counted in s->long_running */
	struct dd_watch watch;
	struct conn *next_job;
	/* a streamed body (see "streamed bodies"), and its route */
	struct upload *up;
	const struct dd_http_stream_route *stream;
};

/*
 * A body streamed to its route (http.h, struct dd_http_stream), in two
 * buffers: libmicrohttpd's thread fills one while a handler thread
 * writes the other, so reading the socket and writing the store overlap.
 * When both are full the connection is suspended until the write is
 * done.  One job of the upload runs at a time (`busy`); under `mu`.
 */
enum upload_step { UP_BEGIN = 1, UP_WRITE, UP_END, UP_ABORT };

struct upload {
	pthread_mutex_t mu;
	enum upload_step step; /* what the queued or running job does */
	void *state;	       /* the stream's own, from begin */
	char *buf[2];
	size_t fill[2];
	int filling;	    /* the buffer libmicrohttpd's thread fills */
	long long total;    /* body bytes received */
	bool busy;	    /* a job of the upload is queued or running */
	bool begun;	    /* begin accepted: abort must undo it */
	bool first_again;   /* the first call comes again after begin */
	bool stalled;	    /* both buffers full: suspended for a write */
	bool ended;	    /* the whole body arrived */
	bool failed;	    /* a write failed: the rest is dropped */
	bool cut;	    /* the connection ended first: abort, then free */
};

/*
 * The *con_cls of a request whose target has a control character, set
 * before libmicrohttpd decodes it (on_target); answered with 400.
 */
static char bad_target;

/*
 * The handler lanes: routes that need no store (the probes) run on a
 * thread of their own, so they answer however busy the others are.
 */
enum { LANE_STORE, LANE_PROBE };

static void answering_begin(struct dd_http_server *s, struct conn *c)
{
	pthread_mutex_lock(&s->busy_mu);
	s->answering++;
	pthread_mutex_unlock(&s->busy_mu);
	c->counted = true;
}

static void answering_end(struct dd_http_server *s, struct conn *c)
{
	if (!c->counted)
		return;
	c->counted = false;
	pthread_mutex_lock(&s->busy_mu);
	if (--s->answering == 0)
		pthread_cond_broadcast(&s->busy_cv);
	pthread_mutex_unlock(&s->busy_mu);
}

/* ---- store handles ------------------------------------------------- */

static struct dd_store *borrow_store(struct dd_http_server *s,
				     struct dd_error *err)
{
	struct dd_store_options opt;
	struct dd_store *st = NULL;

	pthread_mutex_lock(&s->pool_mu);
	if (s->pool_n > 0)
		st = s->pool[--s->pool_n];
	pthread_mutex_unlock(&s->pool_mu);
	if (st)
		return st;
	/* Like the workers' handles (dd_worker_init): the same environment. */
	dd_store_options_from_env(&opt);
	opt.group_commit = !getenv("DRYDOCK_GROUP_COMMIT") ||
			   strcmp(getenv("DRYDOCK_GROUP_COMMIT"), "0");
	opt.machine = s->machine[0] ? s->machine : NULL;
	/* Never create an empty store where a deleted one was. */
	if (dd_store_open_ready(s->store_path, &opt, &st, err))
		return NULL;
	return st;
}

static void return_store(struct dd_http_server *s, struct dd_store *st)
{
	if (!st)
		return;
	pthread_mutex_lock(&s->pool_mu);
	if (s->pool_n < POOL_MAX) {
		s->pool[s->pool_n++] = st;
		st = NULL;
	}
	pthread_mutex_unlock(&s->pool_mu);
	dd_store_close(st);
}

/* ---- request targets ---------------------------------------------- */

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Is the target's path free of control characters, raw or %-escaped? */
bool dd_http_target_ok(const char *target)
{
	for (const char *p = target; *p && *p != '?'; p++) {
		int ch = (unsigned char)*p;

		if (ch == '%' && hex_digit(p[1]) >= 0 && hex_digit(p[2]) >= 0)
			ch = hex_digit(p[1]) * 16 + hex_digit(p[2]);
		if (ch < 0x20 || ch == 0x7f)
			return false;
	}
	return true;
}

/*
 * Find the route, on libmicrohttpd's thread.  Returns true when a handler
 * thread must run it; false when it is answered already (404, 405).
 */
static bool route_pick(struct conn *c)
{
	const struct dd_http_route *rt = dd_http_route_find(&c->req);

	if (!rt)
		return false;
	c->route = rt;
	c->lane = rt->no_store ? LANE_PROBE : LANE_STORE;
	return true;
}

/*
 * Run the handler, on a handler thread.  A long poll's later runs (its
 * object changed, its deadline passed) skip authentication: the caller
 * is the one of the first run.
 */
static void upload_run(struct dd_http_server *s, struct conn *c);

static void dispatch(struct dd_http_server *s, struct conn *c)
{
	struct dd_http_req *r = &c->req;
	const struct dd_http_route *rt = c->route;
	struct dd_error err = DD_ERROR_INIT;

	if (rt->no_store) {
		rt->handler(r);
		return;
	}
	r->store = borrow_store(s, &err);
	if (!r->store) {
		dd_http_error(r, 503, "store_unavailable",
			      "the store cannot be opened: %s", err.msg);
		return;
	}
	if (c->runs++ == 0 && !dd_http_authorize(r, rt->auth))
		return;
	rt->handler(r);
}

/* ---- connection deadlines ------------------------------------------ */

/* Under track_mu: add `t` to the idle list as its newest. */
static void idle_push(struct dd_http_server *s, struct track *t)
{
	t->idle = true;
	t->prev = NULL;
	t->next = s->idle_head;
	if (s->idle_head)
		s->idle_head->prev = t;
	else
		s->idle_tail = t;
	s->idle_head = t;
}

static void idle_remove(struct dd_http_server *s, struct track *t)
{
	if (!t->idle)
		return;
	if (t->prev)
		t->prev->next = t->next;
	else
		s->idle_head = t->next;
	if (t->next)
		t->next->prev = t->prev;
	else
		s->idle_tail = t->prev;
	t->prev = t->next = NULL;
	t->idle = false;
}

/*
 * Under track_mu: cut a connection that has no whole request: its
 * socket is shut down, libmicrohttpd sees the end of it and closes it.
 */
static void cut(struct dd_http_server *s, struct track *t)
{
	shutdown(t->fd, SHUT_RDWR);
	t->cut = true;
	idle_remove(s, t);
}

static void on_connection(void *cls, struct MHD_Connection *mc,
			  void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct dd_http_server *s = cls;
	struct track *t = *socket_context;
	bool linger;

	(void)mc;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fd = MHD_get_connection_info(
			mc, MHD_CONNECTION_INFO_CONNECTION_FD);

		t = dd_calloc(1, sizeof(*t));
		if (!t || !fd) {
			dd_free(t);
			return; /* untracked: only the idle timeout applies */
		}
		t->fd = fd->connect_fd;
		t->since = dd_monotonic();
		pthread_mutex_lock(&s->track_mu);
		/*
		 * Keep a slot free for whoever comes next: near the limit,
		 * the connection that has waited longest without sending a
		 * request makes way.  Clients that connect and send nothing
		 * cannot lock the others out, however many they open.
		 */
		if (++s->open >= s->conn_limit - 1 && s->idle_tail)
			cut(s, s->idle_tail);
		idle_push(s, t);
		if (t == s->idle_tail)
			pthread_cond_signal(&s->track_cv);
		pthread_mutex_unlock(&s->track_mu);
		*socket_context = t;
		return;
	}
	if (!t)
		return;
	pthread_mutex_lock(&s->track_mu);
	idle_remove(s, t);
	s->open--;
	linger = t->linger && !t->cut; /* a cut one is shut down already */
	pthread_mutex_unlock(&s->track_mu);
	if (linger) {
		/*
		 * libmicrohttpd closes its descriptor after this (and takes
		 * it out of its epoll set first): a copy keeps the socket
		 * open for the lingering close.
		 */
		int fd = fcntl(t->fd, F_DUPFD_CLOEXEC, 0);

		if (fd >= 0)
			dd_http_linger_close(s->linger, fd);
	}
	dd_free(t);
	*socket_context = NULL;
}

/* Mark `mc` as answering a whole request (busy) or waiting for one. */
static void track_busy(struct dd_http_server *s, struct MHD_Connection *mc,
		       bool busy)
{
	const union MHD_ConnectionInfo *i = MHD_get_connection_info(
		mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct track *t = i ? i->socket_context : NULL;

	if (!t)
		return;
	pthread_mutex_lock(&s->track_mu);
	idle_remove(s, t);
	if (!busy && !t->cut) {
		t->since = dd_monotonic();
		idle_push(s, t);
		if (t == s->idle_tail)
			pthread_cond_signal(&s->track_cv);
	}
	pthread_mutex_unlock(&s->track_mu);
}

/*
 * Cuts connections past their deadline, oldest first; sleeps until the
 * next one.  The idle list is in order of `since`, so it stops at the
 * first connection not yet due.
 */
static void *reaper(void *arg)
{
	struct dd_http_server *s = arg;

	pthread_mutex_lock(&s->track_mu);
	while (!s->reaper_stop) {
		double now = dd_monotonic(), next = now + 60;
		struct timespec ts;

		while (s->idle_tail) {
			double due = s->idle_tail->since + s->request_timeout;

			if (due > now) {
				next = due;
				break;
			}
			cut(s, s->idle_tail);
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		next -= now;
		ts.tv_sec += (time_t)next;
		ts.tv_nsec += (long)((next - (double)(time_t)next) * 1e9);
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->track_cv, &s->track_mu, &ts);
	}
	pthread_mutex_unlock(&s->track_mu);
	return NULL;
}

/* ---- libmicrohttpd glue -------------------------------------------- */

/*
 * A body read as it is sent (struct dd_http_reader): libmicrohttpd asks
 * for each piece on its I/O thread, which reads it with a store handle
 * borrowed for the answer's life.
 */
struct body {
	struct dd_http_server *s;
	struct dd_store *store;
	struct dd_http_reader reader;
	struct MHD_Connection *mc;
	bool armed; /* its wait_fd is in the resumer's epoll set */
	/* suspended for its wait_fd: the resumer resumes it once */
	atomic_bool waiting;
	atomic_bool gone; /* the client hung up while it waited */
	int sock;	  /* the client's socket, watched while waiting */
	/* the two things a waiting body is woken by, for the resumer */
	struct wake_tag {
		struct body *b;
		bool hangup;
	} on_data, on_hangup;
};

/*
 * Bodies that wait.  A body a program writes as it runs has nothing to
 * give until the program writes, and the I/O thread, which serves many
 * connections, must not wait for it.  So when its reader has nothing
 * yet, the connection is suspended (allowed from a content reader) and
 * its descriptor put in the resumer's epoll set, one-shot; the resumer
 * thread resumes the connection once the descriptor turns readable (data
 * or the end), and libmicrohttpd asks the reader again.
 *
 * libmicrohttpd does not notice a client that hangs up on a suspended
 * connection, so the client's socket is watched too, for the time of
 * the wait (EPOLLRDHUP): a hang-up resumes the connection with the body
 * marked gone, and the next read ends it, which frees the body (and so
 * stops the program).  Whichever of the two comes first resumes
 * (`waiting`), and the socket leaves the set before the connection is
 * resumed.  A suspended connection is never freed, so no event can
 * outlive its body; the pipe's one-shot entry, disarmed once fired, is
 * removed before the body is freed.
 */
static bool body_wait(struct body *b)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT,
				 .data.ptr = &b->on_data};
	struct epoll_event hup = {.events = EPOLLRDHUP | EPOLLONESHOT,
				  .data.ptr = &b->on_hangup};
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		b->mc, MHD_CONNECTION_INFO_CONNECTION_FD);

	b->on_data = (struct wake_tag){b, false};
	b->on_hangup = (struct wake_tag){b, true};
	b->sock = ci ? ci->connect_fd : -1;
	atomic_store(&b->waiting, true);
	MHD_suspend_connection(b->mc);
	if (b->sock >= 0 &&
	    epoll_ctl(b->s->resume_ep, EPOLL_CTL_ADD, b->sock, &hup))
		b->sock = -1; /* then only the program's end frees it */
	if (epoll_ctl(b->s->resume_ep, b->armed ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
		      b->reader.wait_fd, &ev)) {
		if (atomic_exchange(&b->waiting, false)) {
			if (b->sock >= 0)
				epoll_ctl(b->s->resume_ep, EPOLL_CTL_DEL,
					  b->sock, NULL);
			MHD_resume_connection(b->mc);
		}
		return false;
	}
	b->armed = true;
	return true;
}

static void *resumer(void *arg)
{
	struct dd_http_server *s = arg;
	struct epoll_event ev[32];

	for (;;) {
		int n = epoll_wait(s->resume_ep, ev, 32, -1);

		for (int i = 0; i < n; i++) {
			struct wake_tag *w = ev[i].data.ptr;
			struct body *b;

			if (!w)
				return NULL; /* resume_stop */
			b = w->b;
			/* the other of the two may have come first */
			if (!atomic_exchange(&b->waiting, false))
				continue;
			if (b->sock >= 0)
				epoll_ctl(s->resume_ep, EPOLL_CTL_DEL, b->sock,
					  NULL);
			if (w->hangup)
				atomic_store(&b->gone, true);
			MHD_resume_connection(b->mc);
		}
		if (n < 0 && errno != EINTR)
			return NULL;
	}
}

static ssize_t body_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct body *b = cls;
	struct dd_error err = DD_ERROR_INIT;
	long n;

	if (b->reader.waits) {
		if (atomic_load(&b->gone))
			return MHD_CONTENT_READER_END_WITH_ERROR;
		n = b->reader.read(b->reader.arg, NULL, (long long)pos, buf,
				   max);
		if (n > 0)
			return (ssize_t)n;
		if (n == 0 && body_wait(b))
			return 0;
		if (n == DD_HTTP_READ_END)
			return MHD_CONTENT_READER_END_OF_STREAM;
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}

	if (!b->store)
		b->store = borrow_store(b->s, &err);
	if (!b->store)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	n = b->reader.read(b->reader.arg, b->store, (long long)pos, buf, max);
	return n > 0 ? (ssize_t)n : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void body_free(void *cls)
{
	struct body *b = cls;

	if (b->armed)
		epoll_ctl(b->s->resume_ep, EPOLL_CTL_DEL, b->reader.wait_fd,
			  NULL);
	return_store(b->s, b->store);
	if (b->reader.free)
		b->reader.free(b->reader.arg);
	dd_free(b);
}

static struct MHD_Response *response_new(struct conn *c)
{
	struct dd_http_req *r = &c->req;
	struct body *b;

	if (!r->reader.read)
		return MHD_create_response_from_buffer(
			r->out.len, r->out.buf ? r->out.buf : (char *)"",
			MHD_RESPMEM_MUST_COPY);
	b = dd_calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->s = r->server;
	b->reader = r->reader;
	b->mc = c->mc;
	memset(&r->reader, 0, sizeof(r->reader)); /* the body's now */
	/* a size of -1 is MHD_SIZE_UNKNOWN: sent chunked */
	return MHD_create_response_from_callback((uint64_t)b->reader.size,
						 DD_HTTP_PIECE, body_read, b,
						 body_free);
}

static enum MHD_Result send_answer(struct MHD_Connection *mc, struct conn *c)
{
	struct dd_http_req *r = &c->req;
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = response_new(c);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				r->content_type ? r->content_type
						: "text/plain");
	/* what has an ETag may be kept, if checked again before use */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				r->etag[0] ? "private, no-cache" : "no-store");
	if (r->etag[0]) {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, r->etag);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES,
					"bytes");
	}
	if (r->content_range[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE,
					r->content_range);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (r->content_type && !strncmp(r->content_type, "text/html", 9)) {
		MHD_add_response_header(
			resp, "Content-Security-Policy",
			"default-src 'none'; style-src 'unsafe-inline'; "
			"img-src 'self'; form-action 'self'; "
			"frame-ancestors 'none'");
		MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	}
	if (r->status == 401 && !strncmp(r->path, "/api/", 5))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer realm=\"drydock\"");
	if (r->allow[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	if (r->location[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION,
					r->location);
	if (r->set_cookie[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE,
					r->set_cookie);
	if (c->close || atomic_load(&r->server->stopping))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION,
					"close");
	ret = MHD_queue_response(mc, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	c->answered = true;
	return ret;
}

/* Is a body on its way after the request's headers? */
static bool body_coming(struct MHD_Connection *mc)
{
	const char *len = MHD_lookup_connection_value(
		mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

	return (len && strtoull(len, NULL, 10) > 0) ||
	       MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
					   MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

/*
 * Answer a request before its body is read: a refusal.  libmicrohttpd
 * then reads no more of it and closes the connection once the answer is
 * sent.  The client may still be sending the body, and a socket closed
 * with bytes unread is reset, which can cost the client the answer
 * ("broken pipe", status 000): so the close lingers (linger.h).  A
 * refusal that closes the connection in any case (c->close: the body's
 * length cannot be trusted) lingers too.
 */
static enum MHD_Result answer_before_body(struct dd_http_server *s,
					  struct MHD_Connection *mc,
					  struct conn *c)
{
	if (c->close || body_coming(mc)) {
		const union MHD_ConnectionInfo *i = MHD_get_connection_info(
			mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		struct track *t = i ? i->socket_context : NULL;

		if (t) {
			pthread_mutex_lock(&s->track_mu);
			t->linger = true;
			pthread_mutex_unlock(&s->track_mu);
		}
	}
	return send_answer(mc, c);
}

/* ---- handler threads ----------------------------------------------- */

/*
 * The threading model.  libmicrohttpd's threads (IO_THREADS, epoll)
 * accept connections, read requests and send answers; they run no
 * handler, so they never wait on the store or a command.  A
 * whole request is handed, with its connection suspended, to a lane of
 * handler threads, and its connection resumed once its answer is built:
 * routes on the store to a fixed number of threads (--http-threads),
 * routes without it (/livez, /readyz) to a thread of their own, so the
 * probes answer however busy the others are.  A long poll that has to
 * wait parks its watch (watch.h) and gives its thread back: a parked
 * request holds a connection and a few kilobytes, not a thread, and
 * returns to the queue when its object changes or its deadline passes.
 * Handlers that run for minutes (exec) may hold at most three quarters
 * of the threads, and long polls at most seven eighths of the
 * connections, so ordinary requests find a thread and a connection.
 */
static void job_push(struct dd_http_server *s, struct conn *c)
{
	struct lane *l = &s->lanes[c->lane];

	pthread_mutex_lock(&l->mu);
	c->next_job = NULL;
	*l->tail = c;
	l->tail = &c->next_job;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

/* A parked long poll's object changed, or its deadline passed. */
static void on_fire(void *arg, enum dd_watch_why why)
{
	struct conn *c = arg;

	c->req.wait_over = why != DD_WATCH_CHANGED;
	job_push(c->req.server, c);
}

static void wait_for(struct dd_http_req *r, const char *object,
		     double deadline)
{
	struct conn *c = (struct conn *)r;

	dd_watch_arm(&c->watch, object, deadline);
	c->waiting = true;
}

static bool claim_long_running(struct dd_http_req *r)
{
	struct dd_http_server *s = r->server;
	struct conn *c = (struct conn *)r;

	pthread_mutex_lock(&s->count_mu);
	if (s->long_running < s->long_max) {
		s->long_running++;
		c->long_running = true;
	}
	pthread_mutex_unlock(&s->count_mu);
	if (!c->long_running)
		dd_http_error(r, 503, "busy",
			      "%d commands are running, as many as the server "
			      "runs at once; try again later",
			      s->long_max);
	return c->long_running;
}

/* What dd_http_wait() and dd_http_long_running() do (request.c). */
static const struct dd_http_hooks hooks = {wait_for, claim_long_running};

/*
 * Park a long poll whose handler gave no answer.  True when parked; false
 * when it must run again now (c->req.wait_over says whether to answer).
 * A new long poll past the cap is answered 503.
 */
static bool park(struct dd_http_server *s, struct conn *c)
{
	enum dd_watch_why why;
	bool full = false;

	pthread_mutex_lock(&s->count_mu);
	if (!c->polling && s->polls >= s->polls_max)
		full = true;
	else if (!c->polling)
		s->polls++;
	c->polling = !full;
	pthread_mutex_unlock(&s->count_mu);
	c->waiting = false;
	if (full) {
		dd_watch_disarm(&c->watch);
		dd_http_error(&c->req, 503, "busy",
			      "%d long polls are waiting, as many as the "
			      "server keeps; try again later",
			      s->polls_max);
		return false;
	}
	why = dd_watch_park(&c->watch, on_fire, c);
	if (why == DD_WATCH_PARKED)
		return true;
	c->req.wait_over = why != DD_WATCH_CHANGED;
	return false;
}

/* Run `c`'s handler until it answers or parks; then resume it. */
static void run_job(struct dd_http_server *s, struct conn *c)
{
	struct dd_http_req *r = &c->req;

	if (c->up) {
		upload_run(s, c);
		return;
	}
	for (;;) {
		dispatch(s, c);
		return_store(s, r->store);
		r->store = NULL;
		if (r->status || !c->waiting)
			break;
		if (park(s, c))
			return; /* its watch fires later */
	}
	if (c->waiting) {
		dd_watch_disarm(&c->watch);
		c->waiting = false;
	}
	if (!r->status)
		dd_http_error(r, 500, "internal",
			      "the handler gave no answer");
	pthread_mutex_lock(&s->count_mu);
	if (c->polling)
		s->polls--;
	if (c->long_running)
		s->long_running--;
	c->polling = c->long_running = false;
	pthread_mutex_unlock(&s->count_mu);
	c->ready = true;
	/* the last touch: libmicrohttpd's thread sends the answer and
	 * may free c at once */
	MHD_resume_connection(c->mc);
}

struct lane_thread {
	struct dd_http_server *s;
	struct lane *lane;
};

static void *handler_thread(void *arg)
{
	struct lane_thread lt = *(struct lane_thread *)arg;
	struct lane *l = lt.lane;

	dd_free(arg);
	pthread_mutex_lock(&l->mu);
	for (;;) {
		struct conn *c = l->head;

		if (!c) {
			if (l->stop)
				break;
			pthread_cond_wait(&l->cv, &l->mu);
			continue;
		}
		l->head = c->next_job;
		if (!l->head)
			l->tail = &l->head;
		pthread_mutex_unlock(&l->mu);
		run_job(lt.s, c);
		pthread_mutex_lock(&l->mu);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/* ---- streamed bodies ----------------------------------------------- */

/*
 * A route that streams its body (http.h, struct dd_http_stream) is found
 * from the request's headers alone.  Its begin runs on a handler thread
 * with the connection suspended, so a refusal (401, 403, 404, 413 from
 * Content-Length) is answered before a byte of the body is read.  Then
 * libmicrohttpd's thread copies the body into one buffer while a handler
 * thread writes the other; the last piece and end run once the body is
 * all there, and the answer is sent.  A connection that ends first (cut
 * off, or past the limit) has abort run on a handler thread, which then
 * frees the request: the store is never written from libmicrohttpd's
 * threads, which serve every other connection too.
 */
static void upload_free(struct upload *u)
{
	if (!u)
		return;
	dd_free(u->buf[0]);
	dd_free(u->buf[1]);
	pthread_mutex_destroy(&u->mu);
	dd_free(u);
}

static void upload_too_large(struct dd_http_req *r, long long max)
{
	dd_http_error(r, 413, "too_large",
		      "the upload is larger than the limit of %lld bytes "
		      "('drydock serve --max-artifact-size')",
		      max);
}

/* The first call of a streamed request: check its length, then begin. */
static enum MHD_Result upload_start(struct dd_http_server *s, struct conn *c,
				    const struct dd_http_stream_route *sr)
{
	const char *len = MHD_lookup_connection_value(
		c->mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	struct upload *u;

	c->stream = sr;
	c->lane = LANE_STORE;
	answering_begin(s, c);
	if (len && strtoull(len, NULL, 10) > (unsigned long long)s->max_upload) {
		/* Refuse before reading a byte of the body. */
		c->too_large = true;
		upload_too_large(&c->req, s->max_upload);
		return answer_before_body(s, c->mc, c);
	}
	u = dd_calloc(1, sizeof(*u));
	if (!u)
		return MHD_NO;
	pthread_mutex_init(&u->mu, NULL);
	c->up = u;
	u->step = UP_BEGIN;
	u->busy = true;
	/* the request is whole as far as the reaper goes: the body may
	   take longer than the request timeout */
	track_busy(s, c->mc, true);
	MHD_suspend_connection(c->mc);
	job_push(s, c);
	return MHD_YES;
}

/* Body bytes, on libmicrohttpd's thread: fill, hand over, or stall. */
static enum MHD_Result upload_piece(struct dd_http_server *s, struct conn *c,
				   const char *data, size_t *size)
{
	struct upload *u = c->up;
	const struct dd_http_stream *ops = c->stream->stream;
	size_t n = *size;
	bool push = false;

	if ((unsigned long long)u->total + n >
	    (unsigned long long)s->max_upload) {
		/*
		 * A chunked body past the limit.  libmicrohttpd 0.9 cannot
		 * answer in the middle of a body: the connection is closed,
		 * and abort deletes what was stored.
		 */
		c->too_large = true;
		c->req.status = 413;
		snprintf(c->req.error_code, sizeof(c->req.error_code),
			 "too_large");
		return MHD_NO;
	}
	pthread_mutex_lock(&u->mu);
	while (n > 0 && !u->stalled) {
		int f = u->filling;
		size_t take = DD_HTTP_PIECE - u->fill[f];

		u->first_again = false; /* the body is coming */
		if (u->failed) { /* answered already: drop the rest */
			u->total += (long long)n;
			n = 0;
			break;
		}
		if (take > n)
			take = n;
		memcpy(u->buf[f] + u->fill[f], data, take);
		if (ops->scan)
			ops->scan(u->state, data, take);
		u->fill[f] += take;
		u->total += (long long)take;
		data += take;
		n -= take;
		if (u->fill[f] < DD_HTTP_PIECE)
			break;
		if (!u->busy) {
			u->busy = push = true;
			u->step = UP_WRITE;
			u->filling = !f;
		} else {
			/* both full: wait for the write (upload_run resumes) */
			u->stalled = true;
			MHD_suspend_connection(c->mc);
		}
	}
	*size = n;
	pthread_mutex_unlock(&u->mu);
	if (push)
		job_push(s, c);
	return MHD_YES;
}

/* The body's end, on libmicrohttpd's thread: end once the writes are done. */
static enum MHD_Result upload_body_end(struct dd_http_server *s,
				       struct conn *c)
{
	struct upload *u = c->up;
	bool push = false;

	if (u->first_again) {
		/* the first call again, after begin: now read the body */
		u->first_again = false;
		return MHD_YES;
	}
	pthread_mutex_lock(&u->mu);
	u->ended = true;
	MHD_suspend_connection(c->mc);
	if (!u->busy) {
		u->busy = push = true;
		u->step = UP_END;
	}
	pthread_mutex_unlock(&u->mu);
	if (push)
		job_push(s, c);
	return MHD_YES;
}

/*
 * A step of an upload, on a handler thread with r->store lent (NULL when
 * the store cannot be opened: then the request fails, and what was
 * stored is left for artifact_prune).
 */
static void upload_step(struct conn *c, enum upload_step step)
{
	struct dd_http_req *r = &c->req;
	const struct dd_http_stream *ops = c->stream->stream;
	struct upload *u = c->up;
	void *state = u->state;
	int w = !u->filling;
	bool failed;

	pthread_mutex_lock(&u->mu);
	failed = u->failed;
	pthread_mutex_unlock(&u->mu);
	switch (step) {
	case UP_BEGIN:
		if (!r->store || !dd_http_authorize(r, c->stream->auth) ||
		    !ops->begin(r, &state))
			return;
		u->buf[0] = dd_malloc(DD_HTTP_PIECE);
		u->buf[1] = dd_malloc(DD_HTTP_PIECE);
		if (!u->buf[0] || !u->buf[1]) {
			ops->abort(r, state);
			dd_http_error(r, 500, "out_of_memory", "out of memory");
			return;
		}
		pthread_mutex_lock(&u->mu);
		u->state = state;
		u->begun = true;
		pthread_mutex_unlock(&u->mu);
		return;
	case UP_WRITE:
		failed = failed || !r->store ||
			 !ops->write(r, state, u->buf[w], u->fill[w]);
		break;
	case UP_END:
		w = u->filling; /* the last piece, maybe not full */
		if (!failed && u->fill[w])
			failed = !r->store ||
				 !ops->write(r, state, u->buf[w], u->fill[w]);
		if (failed || !r->store)
			ops->abort(r, state);
		else
			ops->end(r, state);
		break;
	case UP_ABORT:
		ops->abort(r, state);
		break;
	}
	pthread_mutex_lock(&u->mu);
	u->fill[w] = 0;
	u->failed = failed;
	if (step == UP_END || step == UP_ABORT)
		u->state = NULL;
	pthread_mutex_unlock(&u->mu);
	if (failed && !r->status)
		dd_http_error(r, 503, "store_unavailable",
			      "the store cannot be opened");
}

/* Run an upload's jobs until none is due; see "streamed bodies". */
static void upload_run(struct dd_http_server *s, struct conn *c)
{
	struct dd_http_req *r = &c->req;
	struct upload *u = c->up;
	struct dd_error err = DD_ERROR_INIT;
	enum upload_step step;

	pthread_mutex_lock(&u->mu);
	step = u->step;
	pthread_mutex_unlock(&u->mu);
	for (;;) {
		r->store = borrow_store(s, &err);
		upload_step(c, step);
		return_store(s, r->store);
		r->store = NULL;
		if (step == UP_ABORT && u->cut) {
			/* the connection is gone: its request is ours */
			answering_end(s, c);
			upload_free(u);
			dd_buf_release(&r->out);
			dd_free(c);
			return;
		}
		pthread_mutex_lock(&u->mu);
		if (step == UP_WRITE && u->cut) {
			step = UP_ABORT;
		} else if (step == UP_WRITE && u->stalled) {
			/* the other buffer is full: write it, read on */
			u->stalled = false;
			u->filling = !u->filling;
			MHD_resume_connection(c->mc);
		} else if (step == UP_WRITE && u->ended) {
			step = UP_END;
		} else {
			u->busy = false;
			if (step == UP_BEGIN)
				u->first_again = u->begun;
			if (step != UP_WRITE)
				c->ready = !u->first_again;
			u->step = step;
			pthread_mutex_unlock(&u->mu);
			if (step != UP_WRITE)
				MHD_resume_connection(c->mc); /* the last touch */
			return;
		}
		u->step = step;
		pthread_mutex_unlock(&u->mu);
	}
}

/*
 * The connection of an upload ended (on_completed).  True when a job
 * now owns the request, to abort it and free it: one is running, or the
 * upload has begun and not ended.
 */
static bool upload_cut(struct dd_http_server *s, struct conn *c)
{
	struct upload *u = c->up;
	bool push = false, owned;

	if (!u)
		return false;
	pthread_mutex_lock(&u->mu);
	if (!u->busy && u->state) {
		u->busy = push = true;
		u->step = UP_ABORT;
	}
	owned = u->busy;
	u->cut = owned;
	pthread_mutex_unlock(&u->mu);
	if (push)
		job_push(s, c);
	return owned;
}

static void too_large(struct dd_http_req *r)
{
	dd_http_error(r, 413, "too_large",
		      "request body is larger than the limit of %d bytes",
		      DD_HTTP_MAX_BODY);
}

struct framing {
	int content_length;
	int transfer_encoding;
	bool chunked;  /* the Transfer-Encoding is "chunked" and only that */
	bool bad_name; /* a header name that is not an HTTP token */
	bool garbled;  /* a framing header's name with more after it */
};

/* Is the header name `key` (n bytes) an HTTP token (RFC 9110, 5.6.2)? */
static bool is_token(const char *key, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)key[i];

		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= 'A' && ch <= 'Z') ||
		      (ch && strchr("!#$%&'*+-.^_`|~", ch))))
			return false;
	}
	return n > 0;
}

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind,
				     const char *key, size_t key_size,
				     const char *value, size_t value_size)
{
	static const char cl[] = MHD_HTTP_HEADER_CONTENT_LENGTH;
	static const char te[] = MHD_HTTP_HEADER_TRANSFER_ENCODING;
	struct framing *f = cls;

	(void)kind;
	(void)value_size;
	if (!is_token(key, key_size)) {
		f->bad_name = true;
	} else if (!strcasecmp(key, cl)) {
		f->content_length++;
	} else if (!strcasecmp(key, te)) {
		f->transfer_encoding++;
		f->chunked = value && !strcasecmp(value, "chunked");
	} else if (!strncasecmp(key, cl, sizeof(cl) - 1) ||
		   !strncasecmp(key, te, sizeof(te) - 1)) {
		f->garbled = true;
	}
	return MHD_YES;
}

/*
 * Why the request's length is ambiguous, or NULL.  Two Content-Lengths,
 * or one with a Transfer-Encoding, are how a request is smuggled past a
 * proxy that reads the length differently: libmicrohttpd takes the first
 * Content-Length, or the chunked body, and would run what follows as the
 * next request.  So are two Transfer-Encodings ("chunked", then
 * "identity": libmicrohttpd reads the first) and a header name a proxy
 * may read otherwise: "Content-Length : 0" (libmicrohttpd ignores it),
 * or a header folded onto a second line, which libmicrohttpd 0.9.75
 * joins to the name ("Content-Length0"), so the length is lost.  A
 * Transfer-Encoding other than "chunked" would be read to the end of the
 * connection.  Such a request is refused and its connection closed.
 */
static const char *framing_fault(struct MHD_Connection *mc)
{
	struct framing f = {0};

	MHD_get_connection_values_n(mc, MHD_HEADER_KIND, count_framing, &f);
	if (f.bad_name)
		return "the request has a header name with a character not "
		       "allowed in it";
	if (f.garbled)
		return "the request has a malformed Content-Length or "
		       "Transfer-Encoding header";
	if (f.content_length > 1)
		return "the request has more than one Content-Length header";
	if (f.transfer_encoding > 1)
		return "the request has more than one Transfer-Encoding header";
	if (f.content_length && f.transfer_encoding)
		return "the request has both Content-Length and "
		       "Transfer-Encoding headers";
	if (f.transfer_encoding && !f.chunked)
		return "the request has a Transfer-Encoding other than "
		       "'chunked'";
	return NULL;
}

/*
 * libmicrohttpd's first look at a request: the target as sent, before it
 * decodes it.  Handlers see the path decoded and NUL-terminated, so a
 * control character, above all %00, must be caught here: otherwise
 * "/api/v1/leases%00x" would be served as /api/v1/leases.
 */
static void *on_target(void *cls, const char *uri, struct MHD_Connection *mc)
{
	(void)cls;
	(void)mc;
	return dd_http_target_ok(uri) ? NULL : &bad_target;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct dd_http_server *s = cls;
	struct conn *c = *con_cls;
	const struct dd_http_stream_route *sr;

	(void)version;
	if (!c || *con_cls == &bad_target) {
		const char *refusal =
			c ? "the request path has a control character"
			  : framing_fault(mc);
		const char *len;

		c = dd_calloc(1, sizeof(*c));
		if (!c)
			return MHD_NO;
		*con_cls = c;
		c->req.server = s;
		c->req.hooks = &hooks;
		c->req.conn = mc;
		c->mc = mc;
		c->req.method = method;
		c->req.path = url;
		c->req.store_path = s->store_path;
		c->req.started = dd_monotonic();
		if (refusal) {
			/* what follows the headers cannot be trusted */
			c->close = true;
			answering_begin(s, c);
			dd_http_error(&c->req, 400, "malformed", "%s",
				      refusal);
			return answer_before_body(s, mc, c);
		}
		sr = dd_http_route_streaming(&c->req);
		if (sr)
			return upload_start(s, c, sr);
		len = MHD_lookup_connection_value(
			mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (len && strtoull(len, NULL, 10) > DD_HTTP_MAX_BODY) {
			/* Refuse before reading a byte of the body. */
			c->too_large = true;
			answering_begin(s, c);
			too_large(&c->req);
			return answer_before_body(s, mc, c);
		}
		return MHD_YES;
	}
	if (*upload_data_size && c->up)
		return upload_piece(s, c, upload_data, upload_data_size);
	if (*upload_data_size) {
		if (c->body.len + *upload_data_size > DD_HTTP_MAX_BODY) {
			/*
			 * A body without a Content-Length that grows past
			 * the limit: close the connection rather than read
			 * the rest.
			 */
			c->too_large = true;
			c->req.status = 413;
			snprintf(c->req.error_code,
				 sizeof(c->req.error_code), "too_large");
			return MHD_NO;
		}
		if (dd_buf_add(&c->body, upload_data, *upload_data_size))
			return MHD_NO;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (c->answered)
		return MHD_YES;
	if (c->ready && c->up && !c->up->begun) /* a stream's begin refused */
		return answer_before_body(s, mc, c);
	if (c->ready) /* resumed: a handler thread built the answer */
		return send_answer(mc, c);
	if (c->up)
		return upload_body_end(s, c);
	c->req.body = c->body.buf ? c->body.buf : "";
	c->req.body_len = c->body.len;
	track_busy(s, mc, true);
	answering_begin(s, c);
	if (!route_pick(c))
		return send_answer(mc, c);
	MHD_suspend_connection(mc);
	job_push(s, c);
	return MHD_YES;
}

/* Log lines must stay one line of key=value: quote and escape the path. */
void dd_http_log_path(const char *path, char *out, size_t n)
{
	size_t o = 0;

	for (; *path && o + 5 < n; path++) {
		unsigned char ch = (unsigned char)*path;

		if (ch < 0x21 || ch >= 0x7f || ch == '"' || ch == '\\')
			o += (size_t)snprintf(out + o, n - o, "%%%02X", ch);
		else
			out[o++] = (char)ch;
	}
	out[o] = '\0';
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
			 enum MHD_RequestTerminationCode why)
{
	struct dd_http_server *s = cls;
	struct conn *c = *con_cls;
	struct dd_http_req *r;
	char path[256];

	track_busy(s, mc, false);
	if ((void *)c == &bad_target) /* refused by libmicrohttpd first */
		*con_cls = c = NULL;
	if (!c)
		return;
	r = &c->req;
	/* a connection closed without an answer (a body too large) is no
	 * answer: the log line says aborted, the counters skip it */
	if (c->answered)
		dd_http_count_answer(r->status);
	if (!s->quiet) {
		dd_http_log_path(r->path ? r->path : "", path, sizeof(path));
		fprintf(stderr,
			"drydock: http method=%s path=\"%s\" status=%d "
			"ms=%.1f%s%s%s%s%s\n",
			r->method, path, r->status,
			(dd_monotonic() - r->started) * 1000.0,
			r->authenticated ? " who=" : "",
			r->authenticated ? r->who.identity : "",
			r->error_code[0] ? " error=" : "", r->error_code,
			why == MHD_REQUEST_TERMINATED_COMPLETED_OK
				? ""
				: " aborted=1");
	}
	*con_cls = NULL;
	if (r->reader.free) /* built, never sent */
		r->reader.free(r->reader.arg);
	memset(&r->reader, 0, sizeof(r->reader));
	dd_buf_release(&c->body);
	if (upload_cut(s, c))
		return; /* its abort frees it */
	upload_free(c->up);
	dd_buf_release(&r->out);
	answering_end(s, c);
	dd_free(c);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct dd_http_server *s = cls;

	if (s->quiet)
		return;
	fprintf(stderr, "drydock: http: ");
	vfprintf(stderr, fmt, ap);
}

/* Parse "HOST:PORT" or "[V6]:PORT". */
int dd_http_parse_listen(const char *spec, struct sockaddr_storage *ss,
			 socklen_t *len, struct dd_error *err)
{
	char host[64];
	const char *colon, *h = spec;
	size_t hl;
	char *end;
	long port;

	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');

		if (!close || close[1] != ':')
			goto bad;
		h = spec + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(spec, ':');
		if (!colon)
			goto bad;
		hl = (size_t)(colon - spec);
	}
	if (hl == 0 || hl >= sizeof(host))
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port < 0 || port > 65535)
		goto bad;
	memset(ss, 0, sizeof(*ss));
	if (spec[0] == '[') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			goto bad;
		*len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		if (!strcmp(host, "localhost"))
			strcpy(host, "127.0.0.1");
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			goto bad;
		*len = sizeof(*a);
	}
	return 0;
bad:
	return dd_error_set(err, DD_ERR_INVALID,
			    "bad listen address '%s': expected ADDR:PORT "
			    "with a numeric IPv4 address, or [IPv6]:PORT",
			    spec);
}

/*
 * How many of `want` connections the open-files limit allows, after
 * raising its soft limit as far as they need (up to the hard limit).
 * Raised no further: the commands exec runs inherit it.
 */
static int fit_connections(int want, bool quiet)
{
	rlim_t need = (rlim_t)want + FD_RESERVE;
	struct rlimit rl;
	int fit;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur >= need)
		return want;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need
			      ? need
			      : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) || getrlimit(RLIMIT_NOFILE, &rl))
		return want;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
		return want;
	fit = rl.rlim_cur > FD_RESERVE + 16 ? (int)(rl.rlim_cur - FD_RESERVE)
					     : 16;
	if (!quiet)
		fprintf(stderr,
			"drydock: http: serving at most %d connections, not "
			"%d: the open files limit is %llu (ulimit -n)\n",
			fit, want, (unsigned long long)rl.rlim_cur);
	return fit;
}

/* Stop the handler threads and free `s` (the daemon already stopped). */
static void server_free(struct dd_http_server *s)
{
	for (int i = 0; i < 2; i++) {
		struct lane *l = &s->lanes[i];

		pthread_mutex_lock(&l->mu);
		l->stop = true;
		pthread_cond_broadcast(&l->cv);
		pthread_mutex_unlock(&l->mu);
		for (int t = 0; t < l->n; t++)
			pthread_join(l->threads[t], NULL);
		dd_free(l->threads);
		pthread_cond_destroy(&l->cv);
		pthread_mutex_destroy(&l->mu);
	}
	for (int i = 0; i < s->pool_n; i++)
		dd_store_close(s->pool[i]);
	if (s->resumer_started) {
		uint64_t one = 1;

		if (write(s->resume_stop, &one, sizeof(one)) < 0) {
			/* an eventfd's counter does not fill up with one */
		}
		pthread_join(s->resumer, NULL);
	}
	if (s->resume_ep >= 0)
		close(s->resume_ep);
	if (s->resume_stop >= 0)
		close(s->resume_stop);
	dd_http_linger_stop(s->linger);
	pthread_mutex_destroy(&s->count_mu);
	pthread_cond_destroy(&s->track_cv);
	pthread_mutex_destroy(&s->track_mu);
	pthread_cond_destroy(&s->busy_cv);
	pthread_mutex_destroy(&s->busy_mu);
	pthread_mutex_destroy(&s->pool_mu);
	dd_free(s);
}

/* The epoll set, its stop and its thread for bodies that wait. */
static bool start_resumer(struct dd_http_server *s)
{
	struct epoll_event stop = {.events = EPOLLIN, .data.ptr = NULL};
	int rc;

	s->resume_ep = epoll_create1(EPOLL_CLOEXEC);
	s->resume_stop = eventfd(0, EFD_CLOEXEC);
	if (s->resume_ep < 0 || s->resume_stop < 0 ||
	    epoll_ctl(s->resume_ep, EPOLL_CTL_ADD, s->resume_stop, &stop))
		return false;
	rc = pthread_create(&s->resumer, NULL, resumer, s);
	if (rc) {
		errno = rc;
		return false;
	}
	s->resumer_started = true;
	return true;
}

/* Start lane `i`'s `n` threads, with 1 MiB stacks; false if none. */
static bool start_lane(struct dd_http_server *s, int i, int n)
{
	struct lane *l = &s->lanes[i];
	pthread_attr_t a;

	l->threads = dd_calloc((size_t)n, sizeof(*l->threads));
	if (!l->threads)
		return false;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 1024 * 1024);
	while (l->n < n) {
		struct lane_thread *lt = dd_calloc(1, sizeof(*lt));

		if (!lt)
			break;
		*lt = (struct lane_thread){s, l};
		if (pthread_create(&l->threads[l->n], &a, handler_thread,
				   lt)) {
			dd_free(lt);
			break;
		}
		l->n++;
	}
	pthread_attr_destroy(&a);
	return l->n > 0;
}

int dd_http_start(const struct dd_http_options *o, struct dd_http_server **out,
		  struct dd_error *err)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct dd_http_server *s;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD |
			 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC |
			 MHD_USE_ERROR_LOG;
	char host[64] = "";
	int rc;

	rc = dd_mhd_load(err);
	if (!rc)
		rc = dd_http_parse_listen(o->listen, &ss, &sl, err);
	if (rc)
		return rc;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s = dd_calloc(1, sizeof(*s));
	if (!s)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	if (dd_machine(s->machine, NULL))
		s->machine[0] = '\0';
	pthread_mutex_init(&s->pool_mu, NULL);
	pthread_mutex_init(&s->busy_mu, NULL);
	pthread_cond_init(&s->busy_cv, NULL);
	pthread_mutex_init(&s->count_mu, NULL);
	for (int i = 0; i < 2; i++) {
		pthread_mutex_init(&s->lanes[i].mu, NULL);
		pthread_cond_init(&s->lanes[i].cv, NULL);
		s->lanes[i].tail = &s->lanes[i].head;
	}
	pthread_mutex_init(&s->track_mu, NULL);
	{
		pthread_condattr_t a;

		pthread_condattr_init(&a);
		pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
		pthread_cond_init(&s->track_cv, &a);
		pthread_condattr_destroy(&a);
	}
	s->request_timeout = o->request_timeout > 0 ? o->request_timeout : 5;
	s->conn_limit = fit_connections(
		o->max_connections > 0 ? o->max_connections : 16384, o->quiet);
	s->polls_max = s->conn_limit - (s->conn_limit + 7) / 8;
	s->long_max = o->threads > 1 ? o->threads * 3 / 4 : 48;
	snprintf(s->store_path, sizeof(s->store_path), "%s", o->store_path);
	s->quiet = o->quiet;
	s->max_upload = o->max_upload > 0 ? o->max_upload
					  : 1024LL * 1024 * 1024;
	s->resume_ep = s->resume_stop = -1;
	if (!start_resumer(s)) {
		server_free(s);
		return dd_error_set(err, DD_ERR_IO,
				    "cannot start the HTTP resumer thread: %s",
				    strerror(errno));
	}
	s->linger = dd_http_linger_start();
	if (!s->linger) {
		int e = errno;

		server_free(s);
		return dd_error_set(err, DD_ERR_IO,
				    "cannot start the HTTP lingering thread: %s",
				    strerror(e));
	}
	if (!start_lane(s, LANE_STORE, o->threads > 0 ? o->threads : 64) ||
	    !start_lane(s, LANE_PROBE, 1)) {
		server_free(s);
		return dd_error_set(err, DD_ERR_IO,
				    "cannot start the HTTP handler threads");
	}
	rc = dd_watch_start(o->store_path, err);
	if (rc) {
		server_free(s);
		return rc;
	}
	/* the port too, though SOCK_ADDR rules: libmicrohttpd logs it */
	s->mhd = MHD_start_daemon(
		flags, ntohs(((struct sockaddr_in *)&ss)->sin_port), NULL, NULL,
		on_request, s,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, MHD_OPTION_SOCK_ADDR,
		(struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)s->conn_limit, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)(o->timeout > 0 ? o->timeout : 30),
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
		MHD_OPTION_THREAD_STACK_SIZE, (size_t)(1024 * 1024),
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)IO_THREADS,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
		MHD_OPTION_URI_LOG_CALLBACK, on_target, s, MHD_OPTION_END);
	if (!s->mhd) {
		dd_watch_stop();
		server_free(s);
		return dd_error_set(err, DD_ERR_IO,
				    "cannot listen on %s (is the port in use, "
				    "or the address not this machine's?)",
				    o->listen);
	}
	if (pthread_create(&s->reaper, NULL, reaper, s)) {
		MHD_stop_daemon(s->mhd);
		dd_watch_stop();
		server_free(s);
		return dd_error_set(err, DD_ERR_IO,
				    "cannot start the connection reaper");
	}
	info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
	if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
			  host, sizeof(host));
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr,
			  host, sizeof(host));
	snprintf(s->address, sizeof(s->address),
		 ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host,
		 info ? (unsigned)info->port : 0);
	*out = s;
	return 0;
}

const char *dd_http_address(const struct dd_http_server *s)
{
	return s->address;
}

void dd_http_stop(struct dd_http_server *s)
{
	if (!s)
		return;
	/* Stop accepting; then answer long polls; then wait for the rest. */
	MHD_quiesce_daemon(s->mhd);
	atomic_store(&s->stopping, true);
	dd_watch_stop();
	/*
	 * MHD_stop_daemon() closes every connection at once, even one whose
	 * handler is about to answer: first let each request being answered
	 * get its answer out.  (Each ends: a handler returns, and a client
	 * that stops reading is dropped after the idle timeout.)
	 */
	pthread_mutex_lock(&s->busy_mu);
	while (s->answering > 0)
		pthread_cond_wait(&s->busy_cv, &s->busy_mu);
	pthread_mutex_unlock(&s->busy_mu);
	pthread_mutex_lock(&s->track_mu);
	s->reaper_stop = true;
	pthread_cond_signal(&s->track_cv);
	pthread_mutex_unlock(&s->track_mu);
	pthread_join(s->reaper, NULL);
	MHD_stop_daemon(s->mhd);
	server_free(s);
}
