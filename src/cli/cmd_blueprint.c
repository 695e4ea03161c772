/*
 * cmd_blueprint.c - "drydock blueprint": manage blueprints.
 */
#include "api/api.h"
#include "blueprint/blueprint.h"
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: drydock blueprint create --type TYPE --name NAME "
	"[--config JSON|@FILE]\n"
	"                                [--idempotency-key KEY] [--json]\n"
	"       drydock blueprint list [--json]\n"
	"       drydock blueprint show ID [--limit N] [--cursor C] [--json]\n"
	"       drydock blueprint edit ID [--name NAME] [--config "
	"JSON|@FILE] [--json]\n"
	"       drydock blueprint enable ID\n"
	"       drydock blueprint disable ID\n"
	"\n"
	"A blueprint tells drydock how to build resources of one type.  "
	"Types:\n"
	"  host   {\"hosts\": [{\"name\": \"a\", \"slots\": 2}, {\"name\": "
	"\"b\"}], \"root\": \"/path\"}\n"
	"         hosts without an address are this machine; each lease "
	"gets its own\n"
	"         directory under root (default: 'hosts' beside the "
	"store); slots is how\n"
	"         many leases a host takes at once (default 1)\n"
	"\n"
	"A disabled blueprint builds no new resources; existing ones are "
	"left alone.\nEnabling a blueprint or changing its config wakes "
	"leases waiting for resources.\n"
	"\n"
	"With --idempotency-key, a 'create' that this user on this host "
	"already ran\nwith the same KEY and options (within 24 hours) shows "
	"the blueprint it made\ninstead of creating another.\n"
	"\n"
	"'blueprint show' prints the newest 50 (--limit N; 0 for all) of its "
	"resources\nand log entries; --cursor C shows the log entries older "
	"than C.\n";

static void print_blueprint(struct dd_store *s, const struct dd_blueprint *b,
			    bool json, const struct cli_page *p)
{
	char *cfg;

	if (json) {
		cli_print_json(cli_blueprint_json(s, b, p));
		return;
	}
	cfg = json_dumps(b->config, JSON_COMPACT);
	printf("blueprint %lld\n", b->id);
	printf("%-12s %s\n", "name", b->name);
	printf("%-12s %s\n", "type", b->type);
	printf("%-12s %s\n", "enabled", b->enabled ? "yes" : "no");
	printf("%-12s %s\n", "config", cfg ? cfg : "?");
	cli_print_time(stdout, "created", b->created);
	cli_print_time(stdout, "modified", b->modified);
	free(cfg);
}

int cli_blueprint_show(struct dd_store *s, long long id, bool json,
		       const struct cli_page *p)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_blueprint b = {0};
	struct dd_resource_list rs = {0};
	struct dd_filter f = {0};
	struct cli_page newest = {p->limit, 0};
	char more[80];
	long long next;

	if (dd_store_blueprint_get(s, id, &b, &err))
		return cli_fail(&err);
	print_blueprint(s, &b, json, p);
	if (!json) {
		f.blueprint = id;
		if (!cli_resource_page(s, &f, &newest, &rs, &next, NULL)) {
			snprintf(more, sizeof(more),
				 "drydock list resources --all --blueprint "
				 "%lld",
				 id);
			cli_print_heading("resources", rs.n, next, more,
					  &newest);
			for (size_t i = 0; i < rs.n; i++)
				printf("  %-6lld %s\n", rs.items[i].id,
				       dd_resource_status_name(
					       rs.items[i].status));
		}
		memset(&f, 0, sizeof(f));
		f.blueprint = id;
		snprintf(more, sizeof(more), "drydock show blueprint %lld", id);
		cli_print_log_page(s, &f, p, more);
	}
	dd_resource_list_release(&rs);
	dd_blueprint_release(&b);
	return 0;
}

static int list(struct dd_store *s, bool json)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_blueprint_list l = {0};
	struct dd_filter f = {0};
	json_t *a;

	if (dd_store_blueprint_list(s, &f, &l, &err))
		return cli_fail(&err);
	if (json) {
		a = json_array();
		for (size_t i = 0; i < l.n; i++)
			json_array_append_new(
				a, cli_blueprint_json(s, &l.items[i], NULL));
		cli_print_json(a);
	} else {
		printf("%-6s %-8s %-8s %s\n", "ID", "TYPE", "ENABLED", "NAME");
		for (size_t i = 0; i < l.n; i++)
			printf("%-6lld %-8s %-8s %s\n", l.items[i].id,
			       l.items[i].type,
			       l.items[i].enabled ? "yes" : "no",
			       l.items[i].name);
	}
	dd_blueprint_list_release(&l);
	return 0;
}

int cmd_blueprint(int argc, char **argv)
{
	static const struct option opts[] = {
		{"type", required_argument, NULL, 't'},
		{"name", required_argument, NULL, 'n'},
		{"config", required_argument, NULL, 'c'},
		{"idempotency-key", required_argument, NULL, 'k'},
		{"limit", required_argument, NULL, 'l'},
		{"cursor", required_argument, NULL, 'C'},
		{"json", no_argument, NULL, 'j'},
		{"db", required_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *type = NULL, *name = NULL, *config_arg = NULL, *verb;
	const char *key_arg = NULL;
	struct dd_idem key, *idem = NULL;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_blueprint b = {0};
	struct cli_page page = CLI_PAGE_INIT;
	json_t *config = NULL;
	struct dd_store *s;
	bool json = false, paged = false;
	long long id = 0;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			return cli_help(usage);
		case 'D':
			cli_set_store_path(optarg);
			break;
		case 't':
			type = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'c':
			config_arg = optarg;
			break;
		case 'k':
			key_arg = optarg;
			break;
		case 'l':
			if (!cli_parse_limit(optarg, &page.limit))
				return cli_usage_error(usage, "bad limit '%s'",
						       optarg);
			paged = true;
			break;
		case 'C':
			page.cursor = cli_parse_id(optarg);
			if (!page.cursor)
				return cli_usage_error(usage,
						       "bad cursor '%s'",
						       optarg);
			paged = true;
			break;
		case 'j':
			json = true;
			break;
		default:
			return cli_usage_error(usage, "bad option");
		}
	}
	if (optind >= argc)
		return cli_usage_error(usage, "which blueprint command?");
	verb = argv[optind++];
	if (strcmp(verb, "create") && strcmp(verb, "list")) {
		if (optind >= argc || !(id = cli_parse_id(argv[optind])))
			return cli_usage_error(usage,
					       "'blueprint %s' needs an id",
					       verb);
		optind++;
	}
	if (optind < argc)
		return cli_usage_error(usage, "unexpected argument '%s'",
				       argv[optind]);
	if (strcmp(verb, "create") && strcmp(verb, "list") &&
	    strcmp(verb, "show") && strcmp(verb, "edit") &&
	    strcmp(verb, "enable") && strcmp(verb, "disable"))
		return cli_usage_error(usage,
				       "unknown blueprint command '%s'", verb);
	if ((name || config_arg || type) && strcmp(verb, "create") &&
	    strcmp(verb, "edit"))
		return cli_usage_error(usage,
				       "'blueprint %s' takes no --type, --name "
				       "or --config",
				       verb);
	if (paged && strcmp(verb, "show"))
		return cli_usage_error(usage,
				       "--limit and --cursor are for "
				       "'blueprint show'");
	if (type && strcmp(verb, "create"))
		return cli_usage_error(usage, "a blueprint's type cannot change");
	if (key_arg && strcmp(verb, "create"))
		return cli_usage_error(usage,
				       "only 'blueprint create' takes "
				       "--idempotency-key");
	if (config_arg) {
		config = cli_parse_json_arg(config_arg, "--config", &err);
		if (!config)
			return cli_fail(&err);
	}
	if (!strcmp(verb, "create")) {
		if (!type || !name) {
			json_decref(config);
			return cli_usage_error(usage, "'blueprint create' "
						      "needs --type and "
						      "--name");
		}
		if (!config)
			config = json_object();
		rc = cli_idem(&key, key_arg, "drydock blueprint create",
			      json_pack("{s:s,s:s,s:O}", "type", type, "name",
					name, "config", config),
			      &idem);
		if (rc) {
			json_decref(config);
			return rc;
		}
	}
	s = cli_open_store();
	if (!strcmp(verb, "list")) {
		rc = list(s, json);
	} else if (!strcmp(verb, "show")) {
		rc = cli_blueprint_show(s, id, json, &page);
	} else {
		if (!strcmp(verb, "create"))
			rc = dd_api_blueprint_create_idem(s, type, name, config,
							  true, idem, &b, &err);
		else
			rc = dd_api_blueprint_edit(
				s, id, name, config,
				!strcmp(verb, "enable")	   ? 1
				: !strcmp(verb, "disable") ? 0
							   : -1,
				&b, &err);
		if (rc) {
			rc = cli_fail(&err);
		} else if (json) {
			print_blueprint(s, &b, true, NULL);
		} else {
			printf("%s blueprint %lld '%s' (%s, %s)\n",
			       !strcmp(verb, "create") ? "created" : "updated",
			       b.id, b.name, b.type,
			       b.enabled ? "enabled" : "disabled");
		}
		dd_blueprint_release(&b);
	}
	json_decref(config);
	dd_store_close(s);
	return rc;
}
