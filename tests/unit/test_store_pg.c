/*
 * test_store_pg.c - what only the PostgreSQL store does when it opens:
 * a server that is busy (it does not answer within the connect timeout,
 * or has no connection slot left) is tried again, with backoff, for up
 * to the busy timeout, and the error then says how many tries it made;
 * a server that is not there is not tried again.  The servers here are
 * fakes on 127.0.0.1 (no PostgreSQL needed): one that takes connections
 * and never says a word, one that answers every connection as a full
 * server does ("sorry, too many clients already", SQLSTATE 53300).
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

/* A listening socket on 127.0.0.1, its port in *port. */
static int listen_local(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 64), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static int open_at(int port, int connect_timeout, int busy_timeout_ms,
		   struct dd_error *err)
{
	struct dd_store_options opt;
	struct dd_store *s = NULL;
	char loc[200];
	int rc;

	dd_store_options_from_env(&opt);
	opt.busy_timeout_ms = busy_timeout_ms;
	snprintf(loc, sizeof(loc),
		 "host=127.0.0.1 port=%d dbname=fake user=nobody "
		 "sslmode=disable gssencmode=disable connect_timeout=%d",
		 port, connect_timeout);
	rc = dd_store_open(loc, &opt, &s, err);
	if (!rc)
		dd_store_close(s);
	return rc;
}

/* Connections waiting on `fd`, taken and closed. */
static int drain_backlog(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int n = 0;

	while (poll(&p, 1, 0) == 1) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

		if (c < 0)
			break;
		close(c);
		n++;
	}
	return n;
}

/*
 * A server that never answers (the kernel completes each connection; the
 * server never reads it): libpq gives up on each try after the connect
 * timeout (2 s, its least), and the open tries again while its busy
 * timeout lasts.
 */
static void test_silent_server_tried_again(void **state)
{
	struct dd_error err = DD_ERROR_INIT;
	int port, fd = listen_local(&port);

	(void)state;
	assert_int_equal(open_at(port, 2, 3000, &err), DD_ERR_STORE);
	assert_non_null(strstr(err.msg, "timeout expired"));
	assert_non_null(strstr(err.msg, "(2 tries in "));
	assert_int_equal(drain_backlog(fd), 2);
	close(fd);
}

/* ---- a full server ------------------------------------------------------ */

struct full_server {
	int fd;
	int stop[2]; /* a pipe: written to stop the thread */
	int served;
};

/* Read the startup packet (length-prefixed), answer 53300, hang up. */
static void refuse(int c)
{
	static const char fields[] = "SFATAL\0VFATAL\0C53300\0"
				     "Msorry, too many clients already\0";
	unsigned char head[4], buf[512], msg[5 + sizeof(fields)];
	uint32_t len;

	if (read(c, head, 4) != 4)
		return;
	len = (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 |
	      (uint32_t)head[2] << 8 | head[3];
	for (uint32_t got = 4; got < len;) {
		ssize_t n = read(c, buf,
				 len - got < sizeof(buf) ? len - got
							 : sizeof(buf));

		if (n <= 0)
			return;
		got += (uint32_t)n;
	}
	/* 'E', its length (itself, the fields, their final NUL), fields */
	len = 4 + sizeof(fields);
	msg[0] = 'E';
	msg[1] = (unsigned char)(len >> 24);
	msg[2] = (unsigned char)(len >> 16);
	msg[3] = (unsigned char)(len >> 8);
	msg[4] = (unsigned char)len;
	memcpy(msg + 5, fields, sizeof(fields));
	assert_int_equal(write(c, msg, sizeof(msg)), (ssize_t)sizeof(msg));
}

static void *serve_full(void *arg)
{
	struct full_server *f = arg;
	struct pollfd p[2] = {{.fd = f->fd, .events = POLLIN},
			      {.fd = f->stop[0], .events = POLLIN}};

	while (poll(p, 2, -1) > 0 && !p[1].revents) {
		int c = accept4(f->fd, NULL, NULL, SOCK_CLOEXEC);

		if (c < 0)
			continue;
		refuse(c);
		close(c);
		f->served++;
	}
	return NULL;
}

/*
 * Every connection refused for want of a slot: tried again and again,
 * with backoff, for the busy timeout; the error is the server's own,
 * with the count of tries.
 */
static void test_full_server_tried_again(void **state)
{
	struct dd_error err = DD_ERROR_INIT;
	struct full_server f = {0};
	pthread_t t;
	int port;

	(void)state;
	f.fd = listen_local(&port);
	assert_int_equal(pipe(f.stop), 0);
	assert_int_equal(pthread_create(&t, NULL, serve_full, &f), 0);
	assert_int_equal(open_at(port, 5, 400, &err), DD_ERR_STORE);
	assert_int_equal(write(f.stop[1], "x", 1), 1);
	pthread_join(t, NULL);
	assert_non_null(strstr(err.msg, "too many clients"));
	assert_non_null(strstr(err.msg, " tries in "));
	assert_true(f.served >= 3);
	close(f.fd);
	close(f.stop[0]);
	close(f.stop[1]);
}

/*
 * Nobody listens at the address: one try, and the error is libpq's own,
 * with no count of tries.
 */
static void test_absent_server_tried_once(void **state)
{
	struct dd_error err = DD_ERROR_INIT;
	int port, fd = listen_local(&port);

	(void)state;
	close(fd);
	assert_int_equal(open_at(port, 5, 5000, &err), DD_ERR_STORE);
	assert_non_null(strstr(err.msg, "cannot connect to store"));
	assert_null(strstr(err.msg, "tries"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_silent_server_tried_again),
		cmocka_unit_test(test_full_server_tried_again),
		cmocka_unit_test(test_absent_server_tried_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
