/*
 * cmd_exec.c - "drydock exec": run a command through a lease's command
 * interface.
 */
#include "api/api.h"
#include "cli/cli.h"

#include <getopt.h>
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
	static const struct option opts[] = {
		{"lease", required_argument, NULL, 'l'},
		{"db", required_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *s;
	long long id = 0;
	pid_t pid;
	int c, rc, status = 0;

	while ((c = getopt_long(argc, argv, "+hl:", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			return cli_help(usage);
		case 'D':
			cli_set_store_path(optarg);
			break;
		case 'l':
			id = cli_parse_id(optarg);
			if (!id)
				return cli_usage_error(usage,
						       "bad lease id '%s'",
						       optarg);
			break;
		default:
			return cli_usage_error(usage, "bad option");
		}
	}
	if (!id)
		return cli_usage_error(usage, "--lease is required");
	if (optind >= argc)
		return cli_usage_error(usage, "no command to run");
	s = cli_open_store();
	rc = dd_api_exec_spawn(s, id, argv + optind, NULL, &pid, &err);
	dd_store_close(s);
	if (!rc)
		rc = dd_exec_wait(pid, &status, &err);
	if (rc)
		return cli_fail(&err);
	return status;
}
