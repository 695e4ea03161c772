/*
 * cmd_serve.c - "drydock serve": the HTTP API, the web UI and the update
 * workers in one process.
 */
#include "api/file.h"
#include "auth/token.h"
#include "cli/cli.h"
#include "core/metrics.h"
#include "http/server.h"
#include "store/store.h"
#include "worker/pool.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
	"usage: drydock serve [--listen ADDR:PORT] [--workers N] "
	"[--max-connections N]\n"
	"                     [--http-threads N] [--timeout SECONDS]\n"
	"                     [--request-timeout SECONDS] "
	"[--max-artifact-size SIZE]\n"
	"                     [--quiet] [--db PATH]\n"
	"\n"
	"Serve the JSON API (/api/v1), the web UI (/), /metrics, /livez and "
	"/readyz,\nand run the update workers, in one process.  Every API "
	"call needs a token\n('drydock token create'); on the first run, when "
	"the store has no admin token,\nserve creates one named 'admin' and "
	"prints it once.\n"
	"\n"
	"SIGINT or SIGTERM stops it gracefully: it stops accepting, answers "
	"the long\npolls and requests in flight, and each worker finishes the "
	"task it is running.\n";

struct pool_thread {
	struct dd_pool_options o;
	struct dd_error err;
	int rc;
};

static void *run_pool(void *p)
{
	struct pool_thread *pt = p;

	pt->rc = dd_pool_run(&pt->o, &pt->err);
	if (pt->rc) /* wake the main thread's sigwait */
		kill(getpid(), SIGTERM);
	return NULL;
}

/* On the first run, make an admin token and show it once. */
static int first_admin_token(struct dd_store *s, struct dd_error *err)
{
	char secret[DD_TOKEN_SECRET_MAX], name[32] = "admin";
	struct dd_token t = {0};
	long long admins = 0;
	int rc;

	rc = dd_token_count_active(s, DD_ROLE_ADMIN, &admins, err);
	if (rc || admins > 0)
		return rc;
	for (int i = 2; i < 100; i++) {
		rc = dd_token_create(s, name, DD_ROLE_ADMIN, secret, &t, err);
		if (rc != DD_ERR_EXISTS)
			break;
		snprintf(name, sizeof(name), "admin-%d", i);
	}
	if (rc)
		return rc;
	printf("No admin token existed, so drydock created one named '%s'.\n"
	       "It is shown only this once; keep it somewhere safe:\n\n"
	       "  %s\n\n",
	       t.name, secret);
	fflush(stdout);
	dd_token_release(&t);
	return 0;
}

/* --max-artifact-size: bytes, or with K, M or G (powers of 1024). */
static int opt_size(const struct cli_option *o, const char *arg,
		    struct dd_error *err)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (*end == 'K' || *end == 'k')
		shift = 10;
	else if (*end == 'M' || *end == 'm')
		shift = 20;
	else if (*end == 'G' || *end == 'g')
		shift = 30;
	if (shift)
		end++;
	if (*arg < '0' || *arg > '9' || errno || *end || v == 0 ||
	    v > (1ULL << 50) >> shift)
		return dd_error_set(err, DD_ERR_INVALID,
				    "--%s takes a size in bytes (or with K, M "
				    "or G) from 1 to 1P, not '%s'",
				    o->name, arg);
	*(long long *)o->value = (long long)(v << shift);
	return 0;
}

int cmd_serve(int argc, char **argv)
{
	struct dd_http_options ho = {.listen = "127.0.0.1:8150",
				     .max_connections = 16384,
				     .threads = 64,
				     .timeout = 30,
				     .request_timeout = 5,
				     .max_upload = DD_FILE_MAX_DEFAULT};
	struct pool_thread pt = {.err = DD_ERROR_INIT,
				 .o = {.workers = 8, .idle_cap = 30}};
	bool quiet = false;
	const struct cli_option options[] = {
		CLI_STRING("listen", "ADDR:PORT", &ho.listen,
			   "where to listen (default 127.0.0.1:8150; port 0 "
			   "picks a free one; [::1]:PORT for IPv6)"),
		CLI_INT("workers", "N", &pt.o.workers, 1, 256,
			"update worker threads (default 8)"),
		CLI_INT("max-connections", "N", &ho.max_connections, 8, 1000000,
			"connections open at once (default 16384, within the "
			"open files limit); near it, the connection that has "
			"waited longest without a request is closed for a new "
			"one"),
		CLI_INT("http-threads", "N", &ho.threads, 2, 1024,
			"threads that run requests (default 64); long polls "
			"waiting for a lease hold none"),
		CLI_INT("timeout", "SECONDS", &ho.timeout, 1, 3600,
			"close a connection idle this long (default 30)"),
		CLI_INT("request-timeout", "S", &ho.request_timeout, 1, 3600,
			"close a connection that has not sent a whole "
			"request within S seconds of connecting or of its "
			"last answer (default 5)"),
		CLI_CALLBACK("max-artifact-size", "SIZE", opt_size,
			     &ho.max_upload,
			     "the largest file artifact uploaded through the "
			     "API, in bytes or with K, M or G (KiB, MiB, GiB; "
			     "default 1G); a larger upload is answered 413"),
		CLI_FLAG("quiet", &quiet,
			 "no log line per request or state change"),
		CLI_END,
	};
	const struct cli_spec spec = {
		.name = "serve", .usage = usage, .options = options};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_http_server *server = NULL;
	struct dd_store *s;
	pthread_t tid;
	sigset_t stop;
	int sig, rc;

	cli_parse(&spec, argc, argv);
	/*
	 * Blocks of 128 KiB and more (a file artifact's chunk as SQLite
	 * builds its record, a download's piece) are mapped for each use and
	 * given back at once.  glibc would otherwise raise that threshold
	 * after the first such block is freed and serve them from the arena
	 * of whichever of the many handler threads ran the request, each
	 * arena then keeping its own: a 128 MiB upload took serve's peak RSS
	 * up 11 MB, 4.5 MB with the threshold fixed.
	 */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	ho.quiet = pt.o.quiet = quiet;
	s = cli_open_store(); /* fail early with a clear message */
	ho.store_path = pt.o.store_path = cli_store_path();

	/* Only this thread takes the stop signals; every other blocks them. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Listen before making a first token, so a bad address costs none. */
	rc = dd_http_start(&ho, &server, &err);
	if (!rc)
		rc = first_admin_token(s, &err);
	dd_store_close(s);
	if (rc) {
		dd_http_stop(server);
		return cli_fail(&err);
	}
	if (pthread_create(&tid, NULL, run_pool, &pt)) {
		dd_http_stop(server);
		return cli_error(11, "cannot start the worker pool");
	}
	printf("drydock: serving http://%s/ (API at /api/v1, web UI at /) "
	       "on store '%s' with %d workers\n",
	       dd_http_address(server), ho.store_path, pt.o.workers);
	fflush(stdout);
	sigwait(&stop, &sig);
	fprintf(stderr, "drydock: %s: stopping; finishing requests and "
			"tasks in flight\n",
		sig == SIGINT ? "SIGINT" : "SIGTERM");
	dd_http_stop(server);
	dd_pool_stop();
	pthread_join(tid, NULL);
	if (pt.rc)
		return cli_fail(&pt.err);
	fprintf(stderr, "drydock: serve %d stopped: %llu tasks run, %lld "
			"store commits\n",
		(int)getpid(), dd_metric_get(DD_METRIC_TASKS_RUN),
		dd_store_commit_count());
	return 0;
}
