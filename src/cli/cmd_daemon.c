/*
 * cmd_daemon.c - "drydock daemon": run the update workers.
 */
#include "cli/cli.h"
#include "core/metrics.h"
#include "store/store.h"
#include "worker/pool.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char usage[] =
	"usage: drydock daemon [--workers N] [--quiet] [--db PATH]\n"
	"\n"
	"Run the update workers: allocate, activate, release and destroy "
	"leases and\nresources as their commands and tasks arrive.  Several "
	"daemons may share one\nstore.  SIGINT or SIGTERM stops it "
	"gracefully: each worker finishes the task\nit is running; tasks "
	"left claimed by a crash are taken again when their claim\nexpires "
	"(DRYDOCK_CLAIM_TTL seconds, default 60).\n"
	"\n"
	"  --workers N   worker threads (default 8; they mostly wait on the\n"
	"                disk, so more than the CPUs pays)\n"
	"  --quiet       no log line per state change (failures are still "
	"logged)\n"
	"\n"
	"Unless --quiet, each state change is logged on stderr as one "
	"key=value line,\ne.g. \"drydock: event=lease.activated lease=12 "
	"resource=3\".\n";

static void on_signal(int sig)
{
	(void)sig;
	dd_pool_stop();
}

int cmd_daemon(int argc, char **argv)
{
	static const struct option opts[] = {
		{"workers", required_argument, NULL, 'w'},
		{"quiet", no_argument, NULL, 'q'},
		{"db", required_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct dd_pool_options o = {0};
	struct dd_error err = DD_ERROR_INIT;
	struct sigaction sa = {0};
	struct dd_store *s;
	int c;

	o.workers = 8;
	o.idle_cap = 30;
	while ((c = getopt_long(argc, argv, "hqw:", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			o.quiet = 1;
			break;
		case 'h':
			return cli_help(usage);
		case 'D':
			cli_set_store_path(optarg);
			break;
		case 'w':
			if (!cli_parse_count(optarg, 1, 256, &o.workers))
				return cli_usage_error(
					usage,
					"--workers takes a number from 1 to "
					"256, not '%s'",
					optarg);
			break;
		default:
			return cli_usage_error(usage, "bad option");
		}
	}
	if (optind < argc)
		return cli_usage_error(usage, "unexpected argument '%s'",
				       argv[optind]);
	s = cli_open_store(); /* fail early with a clear message */
	dd_store_close(s);
	o.store_path = cli_store_path();
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr, "drydock: daemon %d serving store '%s' with %d "
			"workers\n",
		(int)getpid(), o.store_path, o.workers);
	if (dd_pool_run(&o, &err))
		return cli_fail(&err);
	fprintf(stderr, "drydock: daemon %d stopped: %llu tasks run, %lld "
			"store commits\n",
		(int)getpid(), dd_metric_get(DD_METRIC_TASKS_RUN),
		dd_store_commit_count());
	return 0;
}
