/*
 * cmd_release.c - "drydock release-lease" and "drydock release-resource":
 * append release commands; the daemon performs them.
 */
#include "api/api.h"
#include "cli/cli.h"
#include "core/util.h"

#include <stdio.h>

static const char lease_usage[] =
	"usage: drydock release-lease (--id ID... | --all) [--db PATH]\n"
	"\n"
	"Queue a release command for each lease; the daemon releases and "
	"destroys it.\nA lease that can no longer be released (already "
	"released or destroyed) is\nreported and left alone; the exit "
	"status is then 4 (3 for an unknown id).\n"
	;

static const char resource_usage[] =
	"usage: drydock release-resource (--id ID... | --all) [--db PATH]\n"
	"\n"
	"Queue a release command for each resource; the daemon releases its "
	"leases,\nthen destroys it.  Exit status as for release-lease.\n"
	;

static int release(int argc, char **argv, enum dd_obj_kind kind,
		   const char *usage)
{
	struct cli_ids given = {0};
	bool all = false;
	const struct cli_option options[] = {
		CLI_IDS("id", &given,
			kind == DD_OBJ_LEASE ? "a lease to release (repeatable)"
					     : "a resource to release "
					       "(repeatable)"),
		CLI_FLAG("all", &all,
			 kind == DD_OBJ_LEASE
				 ? "every pending, acquired or active lease"
				 : "every pending or active resource"),
		CLI_END,
	};
	const struct cli_spec spec = {
		.name = argv[0], .usage = usage, .options = options};
	long long *ids;
	size_t n;
	struct dd_store *s;
	char who[128];
	int status = 0;

	cli_parse(&spec, argc, argv);
	if ((given.n == 0) == !all) {
		cli_ids_release(&given);
		return cli_usage_error(usage, "give --id ID... or --all");
	}
	ids = given.v;
	n = given.n;
	s = cli_open_store();
	dd_api_cli_identity(who, sizeof(who));
	if (all) {
		struct dd_filter f = {0};
		struct dd_error err = DD_ERROR_INIT;
		int rc;

		if (kind == DD_OBJ_LEASE) {
			struct dd_lease_list l = {0};

			f.status_mask = (1u << DD_LEASE_PENDING) |
					(1u << DD_LEASE_ACQUIRED) |
					(1u << DD_LEASE_ACTIVE);
			rc = dd_store_lease_list(s, &f, &l, &err);
			dd_free(ids);
			ids = dd_calloc(l.n + 1, sizeof(*ids));
			for (size_t i = 0; ids && i < l.n; i++)
				ids[i] = l.items[i].id;
			n = ids ? l.n : 0;
			dd_lease_list_release(&l);
		} else {
			struct dd_resource_list l = {0};

			f.status_mask = (1u << DD_RESOURCE_PENDING) |
					(1u << DD_RESOURCE_ACTIVE);
			rc = dd_store_resource_list(s, &f, &l, &err);
			dd_free(ids);
			ids = dd_calloc(l.n + 1, sizeof(*ids));
			for (size_t i = 0; ids && i < l.n; i++)
				ids[i] = l.items[i].id;
			n = ids ? l.n : 0;
			dd_resource_list_release(&l);
		}
		if (rc) {
			dd_free(ids);
			dd_store_close(s);
			return cli_fail(&err);
		}
		if (n == 0)
			printf("nothing to release\n");
	}
	for (size_t i = 0; i < n; i++) {
		struct dd_error err = DD_ERROR_INIT;
		struct dd_command cmd = {0};
		int rc = dd_api_send(s, (struct dd_ref){kind, ids[i]},
				     "release", who, NULL, &cmd, &err);

		if (rc) {
			int st = cli_fail(&err);

			if (!status)
				status = st;
			continue;
		}
		printf("queued release of %s %lld (command %lld)\n",
		       dd_obj_kind_name(kind), ids[i], cmd.id);
		dd_command_release(&cmd);
	}
	dd_free(ids);
	dd_store_close(s);
	return status;
}

int cmd_release_lease(int argc, char **argv)
{
	return release(argc, argv, DD_OBJ_LEASE, lease_usage);
}

int cmd_release_resource(int argc, char **argv)
{
	return release(argc, argv, DD_OBJ_RESOURCE, resource_usage);
}
