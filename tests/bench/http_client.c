/*
 * http_client.c - the benchmark's minimal HTTP/1.1 client (http_client.h):
 * one keep-alive connection, reconnecting once when the server closed it,
 * and a lease's whole lifecycle through the API (create, wait until
 * active, release, wait until destroyed), timed.
 */
#include "http_client.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

int http_conn_init(struct http_conn *c, const char *hostport,
		   const char *token)
{
	char host[64];
	const char *colon = strrchr(hostport, ':');

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (!colon || (size_t)(colon - hostport) >= sizeof(host))
		return -1;
	memcpy(host, hostport, (size_t)(colon - hostport));
	host[colon - hostport] = '\0';
	c->addr.sin_family = AF_INET;
	c->addr.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &c->addr.sin_addr) != 1)
		return -1;
	snprintf(c->auth, sizeof(c->auth), "Authorization: Bearer %s\r\n",
		 token);
	return 0;
}

void http_conn_close(struct http_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int connect_once(struct http_conn *c)
{
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&c->addr, sizeof(c->addr))) {
		http_conn_close(c);
		return -1;
	}
	return 0;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read one response: status line, headers, Content-Length body. */
static int read_response(struct http_conn *c, int *status, char **body)
{
	struct dd_buf in = DD_BUF_INIT;
	char chunk[8192], *end;
	size_t want = 0, head = 0;
	bool close_after = false;

	for (;;) {
		ssize_t got = recv(c->fd, chunk, sizeof(chunk), 0);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			goto fail;
		dd_buf_add(&in, chunk, (size_t)got);
		if (!head && (end = strstr(in.buf, "\r\n\r\n"))) {
			const char *cl;

			head = (size_t)(end - in.buf) + 4;
			if (sscanf(in.buf, "HTTP/1.%*d %d", status) != 1)
				goto fail;
			cl = strcasestr(in.buf, "\r\nContent-Length:");
			if (!cl || cl > end)
				goto fail;
			want = strtoul(cl + 17, NULL, 10);
			close_after = strcasestr(in.buf, "\r\nConnection: close") &&
				      strcasestr(in.buf, "\r\nConnection: close") < end;
		}
		if (head && in.len >= head + want)
			break;
	}
	*body = strndup(in.buf + head, want);
	dd_buf_release(&in);
	if (close_after)
		http_conn_close(c);
	return *body ? 0 : -1;
fail:
	dd_buf_release(&in);
	http_conn_close(c);
	return -1;
}

int http_call(struct http_conn *c, const char *method, const char *path,
	      const char *json, const char *key, int *status, char **body)
{
	char req[1024], idem[320] = "";
	size_t n = json ? strlen(json) : 0;
	int len;

	if (key)
		snprintf(idem, sizeof(idem), "Idempotency-Key: %s\r\n", key);
	len = snprintf(req, sizeof(req),
		       "%s %s HTTP/1.1\r\nHost: bench\r\n%s%s"
		       "Content-Type: application/json\r\n"
		       "Content-Length: %zu\r\n\r\n%s",
		       method, path, c->auth, idem, n, json ? json : "");
	if (len < 0 || (size_t)len >= sizeof(req))
		return -1;
	/*
	 * A keep-alive connection the server closed gets one retry.  The
	 * server may have acted on the request before the connection broke:
	 * a create is only safe to resend with an idempotency key.
	 */
	for (int attempt = 0; attempt < 2; attempt++) {
		if (c->fd < 0 && connect_once(c))
			return -1;
		if (!send_all(c->fd, req, (size_t)len) &&
		    !read_response(c, status, body))
			return 0;
		http_conn_close(c);
	}
	return -1;
}

/* The lease's id and status from a JSON response. */
static int lease_fields(const char *body, long long *id, char *status,
			size_t n)
{
	json_t *j = json_loads(body, 0, NULL);
	const char *s = json_string_value(json_object_get(j, "status"));

	if (!j || !s) {
		json_decref(j);
		return -1;
	}
	if (id)
		*id = json_integer_value(json_object_get(j, "id"));
	snprintf(status, n, "%s", s);
	json_decref(j);
	return 0;
}

/* Long-poll lease `id` until `want` (or it ends). */
static int wait_state(struct http_conn *c, long long id, const char *want)
{
	char path[128], status[32];

	for (int i = 0; i < 100; i++) {
		char *body = NULL;
		int code = 0;

		snprintf(path, sizeof(path),
			 "/api/v1/leases/%lld?wait=%s&timeout=30", id, want);
		if (http_call(c, "GET", path, NULL, NULL, &code, &body) ||
		    code != 200 ||
		    lease_fields(body, NULL, status, sizeof(status))) {
			free(body);
			return -1;
		}
		free(body);
		if (!strcmp(status, want))
			return 0;
		if (!strcmp(status, "broken") || !strcmp(status, "destroyed"))
			return -1;
	}
	return -1;
}

int http_lease_cycle(struct http_conn *c, double *to_active,
		     double *to_destroyed)
{
	char path[96], status[32], key[96];
	double t0 = dd_monotonic(), t1;
	char *body = NULL;
	long long id = 0;
	int code = 0;

	/* unique per lease among every client of this bench's token */
	snprintf(key, sizeof(key), "bench-%d-%p-%llu", (int)getpid(),
		 (void *)c, ++c->creates);
	if (http_call(c, "POST", "/api/v1/leases", "{\"type\":\"host\"}",
		      key, &code, &body) ||
	    code != 201 || lease_fields(body, &id, status, sizeof(status))) {
		free(body);
		return -1;
	}
	free(body);
	if (wait_state(c, id, "active"))
		return -1;
	t1 = dd_monotonic();
	*to_active = t1 - t0;
	snprintf(path, sizeof(path), "/api/v1/leases/%lld/release", id);
	body = NULL;
	if (http_call(c, "POST", path, NULL, NULL, &code, &body) ||
	    code != 202) {
		free(body);
		return -1;
	}
	free(body);
	if (wait_state(c, id, "destroyed"))
		return -1;
	*to_destroyed = dd_monotonic() - t1;
	return 0;
}
