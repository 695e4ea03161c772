/*
 * cmd_reclaim.c - "drydock reclaim": ask every idle resource to go away.
 */
#include "api/api.h"
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>

static const char usage[] =
	"usage: drydock reclaim [--db PATH]\n"
	"\n"
	"Send a reclaim command to every active resource.  A resource with no "
	"lease on\nit is released and destroyed; one still in use ignores "
	"the command (see\n'drydock show resource ID').\n";

int cmd_reclaim(int argc, char **argv)
{
	static const struct option opts[] = {
		{"db", required_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *s;
	char who[128];
	int c, sent = 0, rc;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h')
			return cli_help(usage);
		if (c == 'D')
			cli_set_store_path(optarg);
		else
			return cli_usage_error(usage, "bad option");
	}
	if (optind < argc)
		return cli_usage_error(usage, "unexpected argument '%s'",
				       argv[optind]);
	s = cli_open_store();
	dd_api_cli_identity(who, sizeof(who));
	rc = dd_api_reclaim_all(s, who, &sent, &err);
	dd_store_close(s);
	if (rc)
		return cli_fail(&err);
	printf("sent reclaim to %d active resource%s\n", sent,
	       sent == 1 ? "" : "s");
	return 0;
}
