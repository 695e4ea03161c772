/*
 * cmd_show.c - "drydock show": one lease, resource or blueprint, with the
 * newest page of its history.
 */
#include "cli/cli.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: drydock show (lease|resource|blueprint) ID [--limit N] "
	"[--cursor C] [--json]\n"
	"                    [--db PATH]\n"
	"\n"
	"Print one object: its properties, slot locks, command queue (with "
	"each\ncommand's outcome), the newest of its log entries and, for a "
	"resource, the\nnewest of its leases.\n";

static void print_attrs(const char *label, json_t *v)
{
	char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;

	printf("%-12s %s\n", label, s ? s : "-");
	free(s);
}

static void print_queue(struct dd_store *s, struct dd_ref ref)
{
	struct dd_filter f = {0};
	struct dd_slot_lock_list slots = {0};
	struct dd_command_list cmds = {0};

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
	dd_slot_lock_list_release(&slots);
	dd_command_list_release(&cmds);
}

static int show_lease(struct dd_store *s, long long id, bool json,
		      const struct cli_page *p)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease l = {0};
	struct dd_filter f = {0};
	char more[64];

	if (dd_store_lease_get(s, id, &l, &err))
		return cli_fail(&err);
	if (json) {
		cli_print_json(cli_lease_json(s, &l, p));
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
	print_queue(s, (struct dd_ref){DD_OBJ_LEASE, id});
	f.lease = id;
	snprintf(more, sizeof(more), "drydock show lease %lld", id);
	cli_print_log_page(s, &f, p, more);
	dd_lease_release(&l);
	return 0;
}

static int show_resource(struct dd_store *s, long long id, bool json,
			 const struct cli_page *p)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_resource r = {0};
	struct dd_lease_list leases = {0};
	struct dd_filter f = {0};
	struct cli_page newest = {.limit = p->limit};
	char more[80];
	long long next;

	if (dd_store_resource_get(s, id, &r, &err))
		return cli_fail(&err);
	if (json) {
		cli_print_json(cli_resource_json(s, &r, p));
		dd_resource_release(&r);
		return 0;
	}
	printf("resource %lld\n", r.id);
	printf("%-12s %s\n", "status", dd_resource_status_name(r.status));
	if (r.draining)
		printf("%-12s %s\n", "draining",
		       "yes: it keeps its leases and takes no new one");
	printf("%-12s %s\n", "type", r.type);
	printf("%-12s %lld\n", "blueprint", r.blueprint);
	printf("%-12s %s\n", "machine",
	       r.machine[0] ? r.machine : "any (reachable from anywhere)");
	print_attrs("attributes", r.attributes);
	cli_print_time(stdout, "created", r.created);
	cli_print_time(stdout, "modified", r.modified);
	f.resource = id;
	if (!cli_lease_page(s, &f, &newest, &leases, &next, NULL)) {
		snprintf(more, sizeof(more),
			 "drydock list leases --all --resource %lld", id);
		cli_print_heading("leases", leases.n, next, more, &newest);
		for (size_t i = 0; i < leases.n; i++)
			printf("  %-6lld %s\n", leases.items[i].id,
			       dd_lease_status_name(leases.items[i].status));
	}
	dd_lease_list_release(&leases);
	print_queue(s, (struct dd_ref){DD_OBJ_RESOURCE, id});
	memset(&f, 0, sizeof(f));
	f.resource = id;
	snprintf(more, sizeof(more), "drydock show resource %lld", id);
	cli_print_log_page(s, &f, p, more);
	dd_resource_release(&r);
	return 0;
}

int cmd_show(int argc, char **argv)
{
	struct cli_page page = CLI_PAGE_INIT;
	bool json = false;
	const struct cli_option options[] = {
		CLI_CALLBACK("limit", "N", cli_opt_limit, &page,
			     "log entries and leases shown (default 50; 0 for "
			     "all)"),
		CLI_CALLBACK("cursor", "C", cli_opt_cursor, &page,
			     "log entries older than C, the cursor the "
			     "previous page gave"),
		CLI_END,
	};
	const struct cli_spec spec = {.name = "show",
				      .usage = usage,
				      .options = options,
				      .json = &json,
				      .json_help = "one object, with the fields "
						   "documented in docs/cli.md",
				      .positional = true};
	struct dd_store *s;
	long long id;
	const char *what;
	int rc;

	if (cli_parse(&spec, argc, argv) != 2)
		return cli_usage_error(usage, "give a kind and an id");
	what = argv[0];
	id = cli_parse_id(argv[1]);
	if (!id)
		return cli_usage_error(usage, "bad id '%s'", argv[1]);
	if (!strcmp(what, "blueprint")) {
		s = cli_open_store();
		rc = cli_blueprint_show(s, id, json, &page);
		dd_store_close(s);
		return rc;
	}
	if (strcmp(what, "lease") && strcmp(what, "resource"))
		return cli_usage_error(usage, "cannot show '%s'", what);
	s = cli_open_store();
	rc = !strcmp(what, "lease") ? show_lease(s, id, json, &page)
				    : show_resource(s, id, json, &page);
	dd_store_close(s);
	return rc;
}
