/*
 * cmd_list.c - "drydock list": leases, resources or blueprints.
 */
#include "cli/cli.h"
#include "core/util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: drydock list (leases|resources) [--status S]... [--limit N] "
	"[--json]\n"
	"       drydock list blueprints [--json]\n"
	"       drydock list tasks [--failed] [--limit N] [--json]\n"
	"\n"
	"List objects, oldest first.  --status (repeatable) keeps those in "
	"the given\nstates: for leases pending, acquired, active, released, "
	"broken, destroyed;\nfor resources pending, active, released, "
	"broken, destroyed.\n"
	"\n"
	"'list tasks' shows the task queue: which object's update is due "
	"when, who has\nclaimed it, and how often it failed.  With "
	"--failed, the tasks that failed for\ngood instead, newest first, "
	"with their errors (retry one with update-lease or\n"
	"update-resource once the cause is fixed).\n";

static int list_tasks(struct dd_store *s, struct dd_filter *f, bool failed,
		      bool json)
{
	struct dd_error err = DD_ERROR_INIT;
	json_t *a = json_array();
	char t[32];

	if (failed) {
		struct dd_task_archive_list l = {0};

		f->type = "failed";
		f->descending = true;
		if (dd_store_task_archive_list(s, f, &l, &err)) {
			json_decref(a);
			return cli_fail(&err);
		}
		if (!json)
			printf("%-6s %-16s %-14s %-8s %-24s %s\n", "ID", "KIND",
			       "OBJECT", "FAILURES", "FINISHED", "ERROR");
		for (size_t i = 0; i < l.n; i++) {
			struct dd_task_archive *x = &l.items[i];
			char obj[40];

			snprintf(obj, sizeof(obj), "%s %lld",
				 dd_obj_kind_name(x->object.kind),
				 x->object.id);
			if (json) {
				json_t *o = json_pack(
					"{s:I, s:s, s:s, s:I, s:s, s:i, "
					"s:f, s:s?}",
					"id", x->id, "kind", x->kind,
					"object_kind",
					dd_obj_kind_name(x->object.kind),
					"object", x->object.id, "outcome",
					x->outcome, "failures", x->failures,
					"duration", x->duration, "error",
					x->error);
				dd_json_set_time(o, "finished", x->finished);
				json_array_append_new(a, o);
				continue;
			}
			dd_time_format(x->finished, t);
			printf("%-6lld %-16s %-14s %-8d %-24s %s\n", x->id,
			       x->kind, obj, x->failures, t,
			       x->error ? x->error : "");
		}
		dd_task_archive_list_release(&l);
	} else {
		struct dd_task_list l = {0};

		if (dd_store_task_list(s, f, &l, &err)) {
			json_decref(a);
			return cli_fail(&err);
		}
		if (!json)
			printf("%-6s %-16s %-14s %-24s %-8s %s\n", "ID", "KIND",
			       "OBJECT", "DUE", "FAILURES", "CLAIMED BY");
		for (size_t i = 0; i < l.n; i++) {
			struct dd_task *x = &l.items[i];
			char obj[40];

			if (json) {
				json_array_append_new(a, dd_task_to_json(x));
				continue;
			}
			snprintf(obj, sizeof(obj), "%s %lld",
				 dd_obj_kind_name(x->object.kind),
				 x->object.id);
			dd_time_format(x->not_before, t);
			printf("%-6lld %-16s %-14s %-24s %-8d %s\n", x->id,
			       x->kind, obj, t, x->failures,
			       x->claimed_by ? x->claimed_by : "-");
		}
		dd_task_list_release(&l);
	}
	if (json)
		cli_print_json(a);
	else
		json_decref(a);
	return 0;
}

int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{"status", required_argument, NULL, 's'},
		{"limit", required_argument, NULL, 'l'},
		{"failed", no_argument, NULL, 'f'},
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
	bool json = false, failed = false;
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
		case 'f':
			failed = true;
			break;
		default:
			return cli_usage_error(usage, "bad option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(usage, "list what?");
	what = argv[optind];
	if (failed && strcmp(what, "tasks"))
		return cli_usage_error(usage, "--failed is for 'list tasks'");
	if (!strcmp(what, "tasks")) {
		if (nstatus)
			return cli_usage_error(usage,
					       "tasks have no --status");
		s = cli_open_store();
		rc = list_tasks(s, &f, failed, json);
		dd_store_close(s);
		return rc;
	}
	if (!strcmp(what, "blueprints")) {
		if (nstatus || f.limit)
			return cli_usage_error(usage, "'list blueprints' takes "
						      "no --status or --limit");
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
