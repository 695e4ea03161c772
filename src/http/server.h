/*
 * server.h - drydock's HTTP server: the JSON API, the web UI, metrics and
 * health checks, on libmicrohttpd.
 *
 * A few epoll threads do every connection's I/O; requests run on a fixed
 * set of handler threads (the probes on one of their own), with their
 * connections suspended meanwhile, and a long poll that has to wait
 * parks without a thread (watch.h), so ten thousand waiting clients cost
 * memory, not threads.  Connections are capped; a connection that has
 * not sent a whole request within the request timeout of connecting (or
 * of its previous answer) is closed, however it trickles bytes, and near
 * the cap the one that has waited longest makes way for a new one: slow,
 * idle or half-open clients cannot hold the server's connections.  Long
 * polls may take at most seven eighths of the connections and commands
 * (exec) three quarters of the threads.  Bodies larger than
 * DD_HTTP_MAX_BODY are refused with 413 before they are read, except on
 * a route that streams its body (a file artifact's upload), whose limit
 * is max_upload and which never holds the body whole.  A connection
 * answered before its body is read closes lingering (linger.h), so a
 * client still sending the body gets the answer, not a reset.  Handlers
 * borrow store handles from a pool; the handles join the process's group
 * commit.
 */
#ifndef DD_HTTP_SERVER_H
#define DD_HTTP_SERVER_H

#include "core/error.h"

struct dd_http_options {
	const char *listen;	/* "127.0.0.1:8150", "[::1]:8150", port 0 */
	const char *store_path; /* absolute */
	int max_connections;	/* default 16384 */
	int threads;		/* handler threads (default 64) */
	int timeout;		/* idle seconds before a connection closes */
	int request_timeout;	/* seconds a client has to send a whole
				   request (default 5) */
	int quiet;		/* no request log lines */
	long long max_upload;	/* the largest streamed body, in bytes: a
				   file artifact (default 1 GiB) */
};

struct dd_http_server;

int dd_http_start(const struct dd_http_options *o, struct dd_http_server **out,
		  struct dd_error *err);
/* The address it listens on, with the port chosen: "127.0.0.1:8150". */
const char *dd_http_address(const struct dd_http_server *s);
/*
 * Stop accepting, answer the long polls in flight at once, let every
 * request in flight finish, and free the server.
 */
void dd_http_stop(struct dd_http_server *s);

#endif
