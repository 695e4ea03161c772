/*
 * cmd_exec.c - "drydock exec": run a command through a lease's command
 * interface.
 */
#include "api/api.h"
#include "cli/cli.h"
#include "core/exec.h"
#include "core/input.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
	"usage: drydock exec --lease ID [--timeout DURATION] [--db PATH]\n"
	"                    -- COMMAND [ARGS...]\n"
	"\n"
	"Run COMMAND on the resource leased by lease ID, in the lease's own "
	"working\ndirectory, with this terminal's input and output.  The "
	"lease must be active.\ndrydock exits with the command's exit status "
	"(128+N if a signal N ended it).\n"
	"\n"
	"With --timeout, the command runs in a process group of its own, so "
	"it cannot\nread from a terminal; once DURATION has passed, it and "
	"its children get\nSIGTERM, and SIGKILL 5 s later, and drydock exits "
	"124.  Ctrl-C (SIGINT),\nSIGTERM and SIGHUP stop it the same way, "
	"and drydock exits 128+N.\n";

/* --timeout DURATION, as core/input.c reads durations. */
static int set_timeout(const struct cli_option *o, const char *arg,
		       struct dd_error *err)
{
	return dd_duration_parse(arg, o->value, err);
}

int cmd_exec(int argc, char **argv)
{
	struct dd_exec_options o = {.cancel_fd = -1, .grace = DD_EXEC_GRACE};
	long long id = 0;
	const struct cli_option options[] = {
		CLI_ID("lease", &id, "the active lease to run COMMAND on"),
		CLI_CALLBACK("timeout", "DURATION", set_timeout, &o.timeout,
			     "stop COMMAND and its children after DURATION "
			     "(90, 30m, 1h30m)"),
		CLI_END,
	};
	const struct cli_spec spec = {.name = "exec",
				      .usage = usage,
				      .options = options,
				      .positional = true,
				      .flags = CLI_STOP_AT_ARG};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_exec_result res;
	struct cli_stop stop = CLI_STOP_INIT;
	struct dd_store *s;
	int n, rc;

	n = cli_parse(&spec, argc, argv);
	if (!id)
		return cli_usage_error(usage, "--lease is required");
	if (!n)
		return cli_usage_error(usage, "no command to run");
	/* with --timeout: a signal to drydock stops the command */
	if (o.timeout > 0) {
		if (cli_stop_on_signals(&stop, &err))
			return cli_fail(&err);
		o.cancel_fd = stop.cancel;
	}
	s = cli_open_store();
	rc = dd_api_exec(s, id, argv, &o, &res, &err);
	dd_store_close(s);
	cli_stop_close(&stop);
	if (rc)
		return cli_fail(&err);
	dd_exec_result_release(&res);
	if (res.timed_out) {
		fprintf(stderr,
			"drydock: '%s' on lease %lld ran longer than %g s: "
			"stopped it\n",
			argv[0], id, o.timeout);
		return 124;
	}
	if (res.cancelled)
		return 128 + cli_stop_signal;
	return res.exit_status;
}
