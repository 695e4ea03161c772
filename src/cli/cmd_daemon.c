/*
 * cmd_daemon.c - "drydock daemon": run the update workers.
 */
#include "cli/cli.h"
#include "core/machine.h"
#include "core/metrics.h"
#include "store/store.h"
#include "worker/pool.h"

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
	"Resources that exist on one machine only (a host blueprint's hosts "
	"without an\naddress: directories here) are built, run and torn down "
	"by daemons on that\nmachine only; leases from anywhere may use them.  "
	"This machine is named by\nDRYDOCK_MACHINE, else /etc/machine-id, else "
	"its host name.\n"
	;

static const char epilog[] =
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
	struct dd_pool_options o = {.workers = 8, .idle_cap = 30};
	bool quiet = false;
	const struct cli_option options[] = {
		CLI_INT("workers", "N", &o.workers, 1, 256,
			"worker threads (default 8; they mostly wait on the "
			"disk, so more than the CPUs pays)"),
		CLI_FLAG("quiet", &quiet,
			 "no log line per state change (failures are still "
			 "logged)"),
		CLI_END,
	};
	const struct cli_spec spec = {.name = "daemon",
				      .usage = usage,
				      .options = options,
				      .epilog = epilog};
	struct dd_error err = DD_ERROR_INIT;
	struct sigaction sa = {0};
	char machine[DD_MACHINE_MAX + 1];
	struct dd_store *s;

	cli_parse(&spec, argc, argv);
	o.quiet = quiet;
	if (dd_machine(machine, &err))
		return cli_fail(&err);
	s = cli_open_store(); /* fail early with a clear message */
	dd_store_close(s);
	o.store_path = cli_store_path();
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr, "drydock: daemon %d on machine '%s' serving store "
			"'%s' with %d workers\n",
		(int)getpid(), machine, cli_store_shown(), o.workers);
	if (dd_pool_run(&o, &err))
		return cli_fail(&err);
	fprintf(stderr, "drydock: daemon %d stopped: %llu tasks run, %lld "
			"store commits\n",
		(int)getpid(), dd_metric_get(DD_METRIC_TASKS_RUN),
		dd_store_commit_count());
	return 0;
}
