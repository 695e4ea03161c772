/*
 * linger.c - lingering closes (linger.h): one thread reads and drops what
 * clients still send on sockets the server has answered and closed, then
 * closes each once its client is done, or its bytes or time run out.
 */
#include "http/linger.h"
#include "core/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

/* A socket handed over: in `incoming` first, then the thread's own. */
struct sock {
	int fd;
	double deadline; /* monotonic: closed then, whatever comes */
	long long drained;
	struct sock *prev, *next;
};

struct dd_http_linger {
	pthread_t thread;
	int ep;	  /* the sockets, and `wake` with a NULL data.ptr */
	int wake; /* eventfd: something is incoming, or stop */
	pthread_mutex_t mu;
	struct sock *incoming; /* handed over, not yet in the set (mu) */
	bool stop;	       /* (mu) */
	/*
	 * The thread's alone: the sockets in the set, oldest first.  Each
	 * gets the same time from when the thread takes it, so the oldest
	 * is also the first due.
	 */
	struct sock *head, *tail;
	int n;
};

static void sock_close(struct dd_http_linger *l, struct sock *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		l->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		l->tail = s->prev;
	l->n--;
	epoll_ctl(l->ep, EPOLL_CTL_DEL, s->fd, NULL);
	close(s->fd);
	dd_free(s);
}

/* Put the sockets handed over in the set; past the cap, the oldest go. */
static void take(struct dd_http_linger *l, struct sock *in)
{
	double deadline = dd_monotonic() + DD_HTTP_LINGER_SECONDS;

	while (in) {
		struct sock *s = in;
		struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP,
					 .data.ptr = s};

		in = in->next;
		if (epoll_ctl(l->ep, EPOLL_CTL_ADD, s->fd, &ev)) {
			close(s->fd);
			dd_free(s);
			continue;
		}
		s->deadline = deadline;
		s->prev = l->tail;
		s->next = NULL;
		if (l->tail)
			l->tail->next = s;
		else
			l->head = s;
		l->tail = s;
		if (++l->n > DD_HTTP_LINGER_MAX)
			sock_close(l, l->head);
	}
}

/* Read and drop what has come; close the socket when it is done. */
static void drain(struct dd_http_linger *l, struct sock *s, char *buf,
		  size_t size)
{
	for (;;) {
		ssize_t n = recv(s->fd, buf, size, 0);

		if (n > 0) {
			s->drained += n;
			if (s->drained < DD_HTTP_LINGER_BYTES)
				continue;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return;
		}
		/* the client closed, failed, or sent all it may */
		sock_close(l, s);
		return;
	}
}

/* Milliseconds until the oldest socket is due, or -1 with none. */
static int next_timeout(struct dd_http_linger *l)
{
	double now = dd_monotonic();

	while (l->head && l->head->deadline <= now)
		sock_close(l, l->head);
	if (!l->head)
		return -1;
	return (int)((l->head->deadline - now) * 1000.0) + 1;
}

static void *linger_thread(void *arg)
{
	struct dd_http_linger *l = arg;
	struct epoll_event ev[32];
	char buf[64 * 1024]; /* what is drained, dropped */

	for (;;) {
		struct sock *in, *rev = NULL;
		bool stop;
		int n;

		pthread_mutex_lock(&l->mu);
		in = l->incoming;
		l->incoming = NULL;
		stop = l->stop;
		pthread_mutex_unlock(&l->mu);
		while (in) { /* handed over newest first: oldest first now */
			struct sock *next = in->next;

			in->next = rev;
			rev = in;
			in = next;
		}
		take(l, rev);
		if (stop)
			break;
		n = epoll_wait(l->ep, ev, 32, next_timeout(l));
		for (int i = 0; i < n; i++) {
			uint64_t count;

			if (ev[i].data.ptr)
				drain(l, ev[i].data.ptr, buf, sizeof(buf));
			else if (read(l->wake, &count, sizeof(count)) < 0) {
				/* nonblocking: read by an earlier round */
			}
		}
	}
	while (l->head)
		sock_close(l, l->head);
	return NULL;
}

struct dd_http_linger *dd_http_linger_start(void)
{
	struct dd_http_linger *l = dd_calloc(1, sizeof(*l));
	struct epoll_event wake = {.events = EPOLLIN, .data.ptr = NULL};
	int rc;

	if (!l)
		return NULL;
	pthread_mutex_init(&l->mu, NULL);
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	l->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->ep < 0 || l->wake < 0 ||
	    epoll_ctl(l->ep, EPOLL_CTL_ADD, l->wake, &wake))
		goto fail;
	rc = pthread_create(&l->thread, NULL, linger_thread, l);
	if (rc) {
		errno = rc;
		goto fail;
	}
	return l;
fail:
	rc = errno;
	if (l->ep >= 0)
		close(l->ep);
	if (l->wake >= 0)
		close(l->wake);
	pthread_mutex_destroy(&l->mu);
	dd_free(l);
	errno = rc;
	return NULL;
}

static void wake(struct dd_http_linger *l)
{
	uint64_t one = 1;

	if (write(l->wake, &one, sizeof(one)) < 0) {
		/* the counter is full: the thread is being woken anyway */
	}
}

void dd_http_linger_close(struct dd_http_linger *l, int fd)
{
	struct sock *s;

	if (!l) {
		close(fd);
		return;
	}
	/* the answer is all sent: the client reads to its end */
	shutdown(fd, SHUT_WR);
	s = dd_calloc(1, sizeof(*s));
	pthread_mutex_lock(&l->mu);
	if (!s || l->stop) {
		pthread_mutex_unlock(&l->mu);
		close(fd);
		dd_free(s);
		return;
	}
	s->fd = fd;
	s->next = l->incoming;
	l->incoming = s;
	pthread_mutex_unlock(&l->mu);
	wake(l);
}

void dd_http_linger_stop(struct dd_http_linger *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	l->stop = true;
	pthread_mutex_unlock(&l->mu);
	wake(l);
	pthread_join(l->thread, NULL);
	close(l->ep);
	close(l->wake);
	pthread_mutex_destroy(&l->mu);
	dd_free(l);
}
