/*
 * cmd_list.c - "drydock list": leases, resources or blueprints.
 */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: drydock list (leases|resources|blueprints) [--status S]... "
	"[--limit N] [--json]\n"
	"\n"
	"List objects, oldest first.  --status (repeatable) keeps those in "
	"the given\nstates: for leases pending, acquired, active, released, "
	"broken, destroyed;\nfor resources pending, active, released, "
	"broken, destroyed.\n";

int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{"status", required_argument, NULL, 's'},
		{"limit", required_argument, NULL, 'l'},
		{"json", no_argument, NULL, 'j'},
		{"db", required_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *statuses[16];
	size_t nstatus = 0;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {0};
	struct dd_store *s;
	bool json = false;
	const char *what;
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			return cli_help(usage);
		case 'D':
			cli_set_store_path(optarg);
			break;
		case 's':
			if (nstatus < 16)
				statuses[nstatus++] = optarg;
			break;
		case 'l':
			f.limit = (size_t)cli_parse_id(optarg);
			if (!f.limit)
				return cli_usage_error(usage, "bad limit '%s'",
						       optarg);
			break;
		case 'j':
			json = true;
			break;
		default:
			return cli_usage_error(usage, "bad option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(usage, "list what?");
	what = argv[optind];
	if (!strcmp(what, "blueprints")) {
		char *args[] = {"blueprint", "list", json ? "--json" : NULL,
				NULL};

		optind = 1;
		return cmd_blueprint(json ? 3 : 2, args);
	}
	if (strcmp(what, "leases") && strcmp(what, "resources"))
		return cli_usage_error(usage, "cannot list '%s'", what);
	for (size_t i = 0; i < nstatus; i++) {
		int st = !strcmp(what, "leases")
				 ? dd_lease_status_parse(statuses[i])
				 : dd_resource_status_parse(statuses[i]);

		if (st < 0)
			return cli_usage_error(usage, "unknown status '%s'",
					       statuses[i]);
		f.status_mask |= 1u << st;
	}
	s = cli_open_store();
	if (!strcmp(what, "leases")) {
		struct dd_lease_list l = {0};

		rc = dd_store_lease_list(s, &f, &l, &err);
		if (rc) {
			rc = cli_fail(&err);
		} else if (json) {
			json_t *a = json_array();

			for (size_t i = 0; i < l.n; i++)
				json_array_append_new(
					a, cli_lease_json(s, &l.items[i]));
			cli_print_json(a);
		} else {
			printf("%-6s %-10s %-8s %-8s %s\n", "ID", "STATUS",
			       "TYPE", "RESOURCE", "OWNER");
			for (size_t i = 0; i < l.n; i++) {
				char res[24] = "-";

				if (l.items[i].resource)
					snprintf(res, sizeof(res), "%lld",
						 l.items[i].resource);
				printf("%-6lld %-10s %-8s %-8s %s\n",
				       l.items[i].id,
				       dd_lease_status_name(l.items[i].status),
				       l.items[i].type, res,
				       l.items[i].owner ? l.items[i].owner
							: "-");
			}
		}
		dd_lease_list_release(&l);
	} else {
		struct dd_resource_list l = {0};

		rc = dd_store_resource_list(s, &f, &l, &err);
		if (rc) {
			rc = cli_fail(&err);
		} else if (json) {
			json_t *a = json_array();

			for (size_t i = 0; i < l.n; i++)
				json_array_append_new(
					a, cli_resource_json(s, &l.items[i]));
			cli_print_json(a);
		} else {
			printf("%-6s %-10s %-8s %-9s %s\n", "ID", "STATUS",
			       "TYPE", "BLUEPRINT", "ATTRIBUTES");
			for (size_t i = 0; i < l.n; i++) {
				char *a = json_dumps(l.items[i].attributes,
						     JSON_COMPACT);

				printf("%-6lld %-10s %-8s %-9lld %s\n",
				       l.items[i].id,
				       dd_resource_status_name(
					       l.items[i].status),
				       l.items[i].type, l.items[i].blueprint,
				       a ? a : "");
				free(a);
			}
		}
		dd_resource_list_release(&l);
	}
	dd_store_close(s);
	return rc;
}
