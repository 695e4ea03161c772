/*
 * cmd_resource.c - "drydock resource": what an operator does to one
 * resource as such.  "drain" queues a drain command for the resource's
 * update worker, which a daemon (or drydock serve) runs, and returns once
 * it is queued, like release-resource.
 */
#include "api/api.h"
#include "cli/cli.h"
#include "core/command.h"
#include "core/util.h"

#include <stdio.h>

static const char usage[] =
	"usage: drydock resource drain ID... [--json]\n"
	"\n"
	"Drain resources: a draining resource keeps its leases, which finish "
	"as they\nwould, and takes no new lease; it stays, holding its place "
	"(a host stays out\nof use), until it is released (drydock "
	"release-resource).\n";

static const char epilog[] =
	"'drain' exits 4 for a resource that has ended or is already being "
	"drained\n(3 for an unknown id); the others are still drained.\n";

static int resource_drain(int argc, char **argv)
{
	bool json = false;
	const struct cli_option options[] = {CLI_END};
	const struct cli_spec spec = {.name = "resource drain",
				      .usage = usage,
				      .epilog = epilog,
				      .options = options,
				      .json = &json,
				      .positional = true};
	struct dd_store *s;
	char author[160];
	int n, status = 0;

	n = cli_parse(&spec, argc, argv);
	if (n < 1)
		return cli_usage_error(usage, "'resource drain' needs a "
					      "resource's id");
	for (int i = 0; i < n; i++)
		if (cli_parse_id(argv[i]) <= 0)
			return cli_usage_error(usage, "bad resource id '%s'",
					       argv[i]);
	dd_api_cli_identity(author, sizeof(author));
	s = cli_open_store();
	for (int i = 0; i < n; i++) {
		struct dd_error err = DD_ERROR_INIT;
		struct dd_command c = {0};
		long long id = cli_parse_id(argv[i]);
		int rc = dd_api_send(s, (struct dd_ref){DD_OBJ_RESOURCE, id},
				     dd_command_kind_name(DD_CMD_DRAIN),
				     author, NULL, &c, &err);

		if (rc) {
			int st = cli_fail(&err);

			if (!status)
				status = st;
			continue;
		}
		if (json)
			cli_print_json(dd_command_to_json(&c));
		else
			printf("queued drain of resource %lld (command %lld)\n",
			       id, c.id);
		dd_command_release(&c);
	}
	dd_store_close(s);
	return status;
}

int cmd_resource(int argc, char **argv)
{
	static const struct cli_spec spec = {.name = "resource", .usage = usage,
					     .epilog = epilog};
	static const struct cli_verb verbs[] = {
		{"drain", resource_drain},
		{NULL, NULL},
	};

	return cli_run_verb(&spec, verbs, argc, argv);
}
