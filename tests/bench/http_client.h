/*
 * http_client.h - the benchmark's minimal HTTP/1.1 client: one keep-alive
 * connection to `drydock serve` on loopback, requests with a bearer token,
 * responses with a Content-Length (which is all the server sends).
 */
#ifndef DD_BENCH_HTTP_CLIENT_H
#define DD_BENCH_HTTP_CLIENT_H

#include <netinet/in.h>
#include <stddef.h>

struct http_conn {
	int fd;
	struct sockaddr_in addr;
	char auth[160];
	unsigned long long creates; /* leases asked for: idempotency keys */
};

/* hostport is "127.0.0.1:PORT". */
int http_conn_init(struct http_conn *c, const char *hostport,
		   const char *token);
void http_conn_close(struct http_conn *c);
/*
 * One request, with an Idempotency-Key header when `key` is not NULL;
 * *body (malloc'd, NUL-terminated) gets the response.
 */
int http_call(struct http_conn *c, const char *method, const char *path,
	      const char *json, const char *key, int *status, char **body);
/*
 * One lease lifecycle through the API: create (with an idempotency key,
 * so that the retry of a broken connection cannot make a second lease),
 * long-poll until active, release, long-poll until destroyed.  Fills the two latencies (seconds).
 */
int http_lease_cycle(struct http_conn *c, double *to_active,
		     double *to_destroyed);

#endif
