/*
 * cmd_exec.c - "drydock exec": run a command through a lease's command
 * interface.
 */
#include "api/api.h"
#include "cli/cli.h"

#include <stdio.h>

static const char usage[] =
	"usage: drydock exec --lease ID [--db PATH] -- COMMAND [ARGS...]\n"
	"\n"
	"Run COMMAND on the resource leased by lease ID, in the lease's own "
	"working\ndirectory, with this terminal's input and output.  The "
	"lease must be active.\ndrydock exits with the command's exit status "
	"(128+N if a signal N ended it).\n";

int cmd_exec(int argc, char **argv)
{
	long long id = 0;
	const struct cli_option options[] = {
		CLI_ID("lease", &id, "the active lease to run COMMAND on"),
		CLI_END,
	};
	const struct cli_spec spec = {.name = "exec",
				      .usage = usage,
				      .options = options,
				      .positional = true,
				      .flags = CLI_STOP_AT_ARG};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *s;
	pid_t pid;
	int n, rc, status = 0;

	n = cli_parse(&spec, argc, argv);
	if (!id)
		return cli_usage_error(usage, "--lease is required");
	if (!n)
		return cli_usage_error(usage, "no command to run");
	s = cli_open_store();
	rc = dd_api_exec_spawn(s, id, argv, NULL, &pid, &err);
	dd_store_close(s);
	if (!rc)
		rc = dd_exec_wait(pid, &status, &err);
	if (rc)
		return cli_fail(&err);
	return status;
}
