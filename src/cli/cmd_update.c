/*
 * cmd_update.c - "drydock update-lease" and "drydock update-resource":
 * queue an object's update worker by hand.
 */
#include "api/api.h"
#include "cli/cli.h"

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
	struct cli_ids ids = {0};
	const struct cli_option options[] = {
		CLI_IDS("id", &ids,
			kind == DD_OBJ_LEASE ? "a lease (repeatable)"
					     : "a resource (repeatable)"),
		CLI_END,
	};
	const struct cli_spec spec = {
		.name = argv[0], .usage = usage, .options = options};
	struct dd_store *s;
	int status = 0;

	/* every id is checked before any is acted on */
	cli_parse(&spec, argc, argv);
	if (!ids.n)
		return cli_usage_error(usage, "give --id ID...");
	s = cli_open_store();
	for (size_t i = 0; i < ids.n; i++) {
		struct dd_error err = DD_ERROR_INIT;
		long long id = ids.v[i];

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
	cli_ids_release(&ids);
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
