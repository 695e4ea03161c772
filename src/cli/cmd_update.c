/*
 * cmd_update.c - "drydock update-lease" and "drydock update-resource":
 * queue an object's update worker by hand.
 */
#include "api/api.h"
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>

static const char lease_usage[] =
	"usage: drydock update-lease --id ID... [--db PATH]\n"
	"\n"
	"Queue the update worker of each lease to run now.  The daemon does "
	"this by\nitself whenever something changes; use it after fixing "
	"what made a lease's\ntask fail for good (see 'drydock list tasks "
	"--failed').\n";

static const char resource_usage[] =
	"usage: drydock update-resource --id ID... [--db PATH]\n"
	"\n"
	"Queue the update worker of each resource to run now (see "
	"update-lease).\n";

static int update(int argc, char **argv, enum dd_obj_kind kind,
		  const char *usage)
{
	static const struct option opts[] = {
		{"id", required_argument, NULL, 'i'},
		{"db", required_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct dd_store *s;
	int c, status = 0, n = 0;

	/* two passes: check the options, then act on the ids */
	while ((c = getopt_long(argc, argv, "hi:", opts, NULL)) != -1) {
		if (c == 'h')
			return cli_help(usage);
		if (c == 'D')
			cli_set_store_path(optarg);
		else if (c == 'i' && cli_parse_id(optarg))
			n++;
		else if (c == 'i')
			return cli_usage_error(usage, "bad id '%s'", optarg);
		else
			return cli_usage_error(usage, "bad option");
	}
	if (!n || optind < argc)
		return cli_usage_error(usage, "give --id ID...");
	s = cli_open_store();
	optind = 1;
	while ((c = getopt_long(argc, argv, "hi:", opts, NULL)) != -1) {
		struct dd_error err = DD_ERROR_INIT;
		long long id;

		if (c != 'i')
			continue;
		id = cli_parse_id(optarg);
		if (dd_api_schedule_update(s, (struct dd_ref){kind, id},
					   &err)) {
			int st = cli_fail(&err);

			status = status ? status : st;
			continue;
		}
		printf("queued update of %s %lld\n", dd_obj_kind_name(kind),
		       id);
	}
	dd_store_close(s);
	return status;
}

int cmd_update_lease(int argc, char **argv)
{
	return update(argc, argv, DD_OBJ_LEASE, lease_usage);
}

int cmd_update_resource(int argc, char **argv)
{
	return update(argc, argv, DD_OBJ_RESOURCE, resource_usage);
}
