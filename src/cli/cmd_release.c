/*
 * cmd_release.c - "drydock release-lease" and "drydock release-resource":
 * append release commands; the daemon performs them.
 */
#include "api/api.h"
#include "cli/cli.h"
#include "core/util.h"

#include <getopt.h>
#include <stdio.h>

static const char lease_usage[] =
	"usage: drydock release-lease (--id ID... | --all) [--db PATH]\n"
	"\n"
	"Queue a release command for each lease; the daemon releases and "
	"destroys it.\nA lease that can no longer be released (already "
	"released or destroyed) is\nreported and left alone; the exit "
	"status is then 4 (3 for an unknown id).\n"
	"\n"
	"  --id ID   a lease to release (repeatable)\n"
	"  --all     every pending, acquired or active lease\n";

static const char resource_usage[] =
	"usage: drydock release-resource (--id ID... | --all) [--db PATH]\n"
	"\n"
	"Queue a release command for each resource; the daemon releases its "
	"leases,\nthen destroys it.  Exit status as for release-lease.\n"
	"\n"
	"  --id ID   a resource to release (repeatable)\n"
	"  --all     every pending or active resource\n";

static int release(int argc, char **argv, enum dd_obj_kind kind,
		   const char *usage)
{
	static const struct option opts[] = {
		{"id", required_argument, NULL, 'i'},
		{"all", no_argument, NULL, 'a'},
		{"db", required_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	long long *ids = dd_calloc((size_t)argc, sizeof(*ids));
	size_t n = 0;
	bool all = false;
	struct dd_store *s;
	char who[128];
	int c, status = 0;

	if (!ids)
		return cli_error(1, "out of memory");
	while ((c = getopt_long(argc, argv, "hi:", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			dd_free(ids);
			return cli_help(usage);
		case 'D':
			cli_set_store_path(optarg);
			break;
		case 'a':
			all = true;
			break;
		case 'i':
			ids[n] = cli_parse_id(optarg);
			if (!ids[n]) {
				dd_free(ids);
				return cli_usage_error(usage, "bad id '%s'",
						       optarg);
			}
			n++;
			break;
		default:
			dd_free(ids);
			return cli_usage_error(usage, "bad option");
		}
	}
	if (optind < argc || (n == 0) == !all) {
		dd_free(ids);
		return cli_usage_error(usage, "give --id ID... or --all");
	}
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
