/*
 * cmd_serve.c - "drydock serve": the HTTP API, the web UI and the update
 * workers in one process.
 */
#include "auth/token.h"
#include "cli/cli.h"
#include "core/metrics.h"
#include "http/server.h"
#include "store/store.h"
#include "worker/pool.h"

#include <getopt.h>
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
	"                     [--request-timeout SECONDS] [--quiet] "
	"[--db PATH]\n"
	"\n"
	"Serve the JSON API (/api/v1), the web UI (/), /metrics, /livez and "
	"/readyz,\nand run the update workers, in one process.  Every API "
	"call needs a token\n('drydock token create'); on the first run, when "
	"the store has no admin token,\nserve creates one named 'admin' and "
	"prints it once.\n"
	"\n"
	"SIGINT or SIGTERM stops it gracefully: it stops accepting, answers "
	"the long\npolls and requests in flight, and each worker finishes the "
	"task it is running.\n"
	"\n"
	"  --listen ADDR:PORT   where to listen (default 127.0.0.1:8150; "
	"port 0 picks\n"
	"                       a free one; [::1]:PORT for IPv6)\n"
	"  --workers N          update worker threads (default 8)\n"
	"  --max-connections N  connections open at once (default 16384, "
	"within the\n"
	"                       open files limit); near it, the connection "
	"that has\n"
	"                       waited longest without a request is closed "
	"for a new one\n"
	"  --http-threads N     threads that run requests (default 64); long "
	"polls\n"
	"                       waiting for a lease hold none\n"
	"  --timeout SECONDS    close a connection idle this long (default "
	"30)\n"
	"  --request-timeout S  close a connection that has not sent a whole "
	"request\n"
	"                       within S seconds of connecting or of its "
	"last answer\n"
	"                       (default 5)\n"
	"  --quiet              no log line per request or state change\n";

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

int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"workers", required_argument, NULL, 'w'},
		{"max-connections", required_argument, NULL, 'm'},
		{"http-threads", required_argument, NULL, 'H'},
		{"timeout", required_argument, NULL, 't'},
		{"request-timeout", required_argument, NULL, 'r'},
		{"quiet", no_argument, NULL, 'q'},
		{"db", required_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct dd_http_options ho = {.listen = "127.0.0.1:8150",
				     .max_connections = 16384,
				     .threads = 64,
				     .timeout = 30,
				     .request_timeout = 5};
	struct pool_thread pt = {.err = DD_ERROR_INIT};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_http_server *server = NULL;
	struct dd_store *s;
	pthread_t tid;
	sigset_t stop;
	int c, sig, rc;

	pt.o.workers = 8;
	pt.o.idle_cap = 30;
	while ((c = getopt_long(argc, argv, "hl:w:m:H:t:r:q", opts, NULL)) !=
	       -1) {
		switch (c) {
		case 'h':
			return cli_help(usage);
		case 'D':
			cli_set_store_path(optarg);
			break;
		case 'l':
			ho.listen = optarg;
			break;
		case 'w':
			if (!cli_parse_count(optarg, 1, 256, &pt.o.workers))
				return cli_usage_error(
					usage,
					"--workers takes a number from 1 to "
					"256, not '%s'",
					optarg);
			break;
		case 'm':
			if (!cli_parse_count(optarg, 8, 1000000,
					     &ho.max_connections))
				return cli_usage_error(
					usage,
					"--max-connections takes a number "
					"from 8 to 1000000, not '%s'",
					optarg);
			break;
		case 'H':
			if (!cli_parse_count(optarg, 2, 1024, &ho.threads))
				return cli_usage_error(
					usage,
					"--http-threads takes a number from 2 "
					"to 1024, not '%s'",
					optarg);
			break;
		case 't':
			if (!cli_parse_count(optarg, 1, 3600, &ho.timeout))
				return cli_usage_error(
					usage,
					"--timeout takes a number of seconds "
					"from 1 to 3600, not '%s'",
					optarg);
			break;
		case 'r':
			if (!cli_parse_count(optarg, 1, 3600,
					     &ho.request_timeout))
				return cli_usage_error(
					usage,
					"--request-timeout takes a number of "
					"seconds from 1 to 3600, not '%s'",
					optarg);
			break;
		case 'q':
			ho.quiet = pt.o.quiet = 1;
			break;
		default:
			return cli_usage_error(usage, "bad option");
		}
	}
	if (optind < argc)
		return cli_usage_error(usage, "unexpected argument '%s'",
				       argv[optind]);
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
