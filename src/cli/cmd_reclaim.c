/*
 * cmd_reclaim.c - "drydock reclaim": ask every idle resource to go away.
 */
#include "api/api.h"
#include "cli/cli.h"

#include <stdio.h>

static const char usage[] =
	"usage: drydock reclaim [--db PATH]\n"
	"\n"
	"Send a reclaim command to every active resource.  A resource with no "
	"lease on\nit is released and destroyed; one still in use ignores "
	"the command (see\n'drydock show resource ID').\n";

int cmd_reclaim(int argc, char **argv)
{
	static const struct cli_spec spec = {.name = "reclaim",
					     .usage = usage};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *s;
	char who[128];
	int sent = 0, rc;

	cli_parse(&spec, argc, argv);
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
