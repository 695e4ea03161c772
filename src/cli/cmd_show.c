/*
 * cmd_show.c - "drydock show": one lease, resource or blueprint in full.
 */
#include "cli/cli.h"
#include "core/util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: drydock show (lease|resource|blueprint) ID [--json] "
	"[--db PATH]\n"
	"\n"
	"Print everything about one object: its properties, slot locks, "
	"command queue\n(with each command's outcome) and log.  With --json, "
	"one object with the fields\ndocumented in docs/cli.md.\n";

static void print_attrs(const char *label, json_t *v)
{
	char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;

	printf("%-12s %s\n", label, s ? s : "-");
	free(s);
}

static void print_common(struct dd_store *s, struct dd_ref ref,
			 struct dd_filter *logf)
{
	struct dd_filter f = {0};
	struct dd_slot_lock_list slots = {0};
	struct dd_command_list cmds = {0};
	struct dd_log_entry_list log = {0};

	f.target = ref;
	if (!dd_store_slot_list(s, &f, &slots, NULL)) {
		printf("\nslot locks (%zu)\n", slots.n);
		for (size_t i = 0; i < slots.n; i++)
			printf("  %s\n", slots.items[i].key);
	}
	if (!dd_store_command_list(s, &f, &cmds, NULL)) {
		printf("\ncommands (%zu)\n", cmds.n);
		for (size_t i = 0; i < cmds.n; i++) {
			struct dd_command *c = &cmds.items[i];
			char t[32];

			dd_time_format(c->created, t);
			printf("  %-5lld %s  %-8s by %-24s %s\n", c->id, t,
			       c->kind, c->author ? c->author : "-",
			       c->consumed ? c->outcome : "pending");
		}
	}
	if (!dd_store_log_list(s, logf, &log, NULL)) {
		printf("\nlog (%zu)\n", log.n);
		for (size_t i = 0; i < log.n; i++) {
			fputs("  ", stdout);
			cli_print_log_entry(stdout, &log.items[i]);
		}
	}
	dd_slot_lock_list_release(&slots);
	dd_command_list_release(&cmds);
	dd_log_entry_list_release(&log);
}

static int show_lease(struct dd_store *s, long long id, bool json)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease l = {0};
	struct dd_filter f = {0};

	if (dd_store_lease_get(s, id, &l, &err))
		return cli_fail(&err);
	if (json) {
		cli_print_json(cli_lease_json(s, &l));
		dd_lease_release(&l);
		return 0;
	}
	printf("lease %lld\n", l.id);
	printf("%-12s %s\n", "status", dd_lease_status_name(l.status));
	printf("%-12s %s\n", "type", l.type);
	if (l.resource)
		printf("%-12s %lld\n", "resource", l.resource);
	else
		printf("%-12s -\n", "resource");
	printf("%-12s %s\n", "owner", l.owner ? l.owner : "-");
	print_attrs("attributes", l.attributes);
	print_attrs("blueprints", l.blueprints);
	cli_print_time(stdout, "until", l.until);
	cli_print_time(stdout, "created", l.created);
	cli_print_time(stdout, "acquired", l.acquired);
	cli_print_time(stdout, "activated", l.activated);
	f.lease = id;
	print_common(s, (struct dd_ref){DD_OBJ_LEASE, id}, &f);
	dd_lease_release(&l);
	return 0;
}

static int show_resource(struct dd_store *s, long long id, bool json)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_resource r = {0};
	struct dd_lease_list leases = {0};
	struct dd_filter f = {0};

	if (dd_store_resource_get(s, id, &r, &err))
		return cli_fail(&err);
	if (json) {
		cli_print_json(cli_resource_json(s, &r));
		dd_resource_release(&r);
		return 0;
	}
	printf("resource %lld\n", r.id);
	printf("%-12s %s\n", "status", dd_resource_status_name(r.status));
	printf("%-12s %s\n", "type", r.type);
	printf("%-12s %lld\n", "blueprint", r.blueprint);
	print_attrs("attributes", r.attributes);
	cli_print_time(stdout, "created", r.created);
	cli_print_time(stdout, "modified", r.modified);
	f.resource = id;
	if (!dd_store_lease_list(s, &f, &leases, NULL)) {
		printf("\nleases (%zu)\n", leases.n);
		for (size_t i = 0; i < leases.n; i++)
			printf("  %-6lld %s\n", leases.items[i].id,
			       dd_lease_status_name(leases.items[i].status));
	}
	dd_lease_list_release(&leases);
	print_common(s, (struct dd_ref){DD_OBJ_RESOURCE, id}, &f);
	dd_resource_release(&r);
	return 0;
}

int cmd_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"db", required_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct dd_store *s;
	bool json = false;
	long long id;
	const char *what;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			return cli_help(usage);
		case 'D':
			cli_set_store_path(optarg);
			break;
		case 'j':
			json = true;
			break;
		default:
			return cli_usage_error(usage, "bad option");
		}
	}
	if (argc - optind != 2)
		return cli_usage_error(usage, "give a kind and an id");
	what = argv[optind];
	id = cli_parse_id(argv[optind + 1]);
	if (!id)
		return cli_usage_error(usage, "bad id '%s'", argv[optind + 1]);
	if (!strcmp(what, "blueprint")) {
		char idbuf[32];
		char *args[] = {"blueprint", "show", idbuf,
				json ? "--json" : NULL, NULL};

		snprintf(idbuf, sizeof(idbuf), "%lld", id);
		optind = 1;
		return cmd_blueprint(json ? 4 : 3, args);
	}
	if (strcmp(what, "lease") && strcmp(what, "resource"))
		return cli_usage_error(usage, "cannot show '%s'", what);
	s = cli_open_store();
	rc = !strcmp(what, "lease") ? show_lease(s, id, json)
				    : show_resource(s, id, json);
	dd_store_close(s);
	return rc;
}
