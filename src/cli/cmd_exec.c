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
	"usage: drydock exec --lease ID [--env NAME=VALUE]... [--timeout "
	"DURATION]\n"
	"                    [--db PATH] -- COMMAND [ARGS...]\n"
	"\n"
	"Run COMMAND on the resource leased by lease ID, in the lease's own "
	"working\ndirectory, with this terminal's input and output.  The "
	"lease must be active.\nEach --env adds NAME=VALUE to its environment.  "
	"drydock exits with the\ncommand's exit status (128+N if a signal N "
	"ended it).\n"
	"\n"
	"With --timeout, the command runs in a process group of its own, so "
	"it cannot\nread from a terminal; once DURATION has passed, it and "
	"its children get\nSIGTERM, and SIGKILL 5 s later, and drydock exits "
	"124.  Ctrl-C (SIGINT),\nSIGTERM and SIGHUP stop it the same way, "
	"and drydock exits 128+N.\n";

/* The --env pairs, NULL-terminated, for the command interface. */
struct env_opt {
	char **pairs;
	size_t n;
};

/* --env NAME=VALUE, repeatable; checked as the command interface does. */
static int add_env(const struct cli_option *o, const char *arg,
		   struct dd_error *err)
{
	struct env_opt *e = o->value;
	char *one[] = {(char *)arg, NULL};
	char **p;

	if (dd_exec_env_check(one, err))
		return err->code;
	if (e->n == DD_EXEC_MAX_ENV)
		return dd_error_set(err, DD_ERR_INVALID,
				    "more than %d --env", DD_EXEC_MAX_ENV);
	p = dd_realloc(e->pairs, (e->n + 2) * sizeof(*p));
	if (!p)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	p[e->n++] = (char *)arg;
	p[e->n] = NULL;
	e->pairs = p;
	return 0;
}

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
	struct env_opt env = {NULL, 0};
	const struct cli_option options[] = {
		CLI_ID("lease", &id, "the active lease to run COMMAND on"),
		CLI_CALLBACK("env", "NAME=VALUE", add_env, &env,
			     "add NAME=VALUE to COMMAND's environment "
			     "(repeatable)"),
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
	rc = dd_api_exec(s, id, argv, env.pairs, &o, &res, &err);
	dd_store_close(s);
	dd_free(env.pairs);
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
