/*
 * cmd_blueprint.c - "drydock blueprint": manage blueprints.
 */
#include "api/api.h"
#include "blueprint/blueprint.h"
#include "blueprint/prewarm.h"
#include "cli/cli.h"

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
	"Every type also takes a pool of resources built ahead of demand:\n"
	"  \"min_ready\": N     keep N resources built and idle (within "
	"its limit; not for\n"
	"                     working-copy, built for what a lease asks)\n"
	"  \"max_idle\": N      keep at most N idle (at least min_ready)\n"
	"  \"idle_ttl\": SECS   an idle one beyond min_ready goes after "
	"SECS\n"
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

/* A pool setting as shown: its value, or "-" when not set. */
static const char *setting(json_t *pool, const char *key, char *buf,
			   size_t n)
{
	json_t *v = json_object_get(pool, key);

	if (json_is_integer(v))
		snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else
		snprintf(buf, n, "-");
	return buf;
}

/*
 * The blueprint's pool (blueprint/prewarm.h): its ready (idle), in use,
 * building and releasing resources, its settings and its counters.
 */
static void print_pool(struct dd_store *s, const struct dd_blueprint *b)
{
	struct dd_error err = DD_ERROR_INIT;
	char v[4][24];
	json_t *pool;

	if (dd_prewarm_status(s, b, &pool, &err)) {
		printf("%-12s ? (%s)\n", "pool", err.msg);
		return;
	}
	printf("%-12s %s ready, %s in use, %s building, %s releasing\n",
	       "pool", setting(pool, "ready", v[0], sizeof(v[0])),
	       setting(pool, "in_use", v[1], sizeof(v[1])),
	       setting(pool, "building", v[2], sizeof(v[2])),
	       setting(pool, "releasing", v[3], sizeof(v[3])));
	printf("%-12s min_ready %s, max_idle %s, idle_ttl %s\n", "",
	       setting(pool, "min_ready", v[0], sizeof(v[0])),
	       setting(pool, "max_idle", v[1], sizeof(v[1])),
	       setting(pool, "idle_ttl", v[2], sizeof(v[2])));
	printf("%-12s %s built ahead of demand, %s idle destroyed\n", "",
	       setting(pool, "built", v[0], sizeof(v[0])),
	       setting(pool, "destroyed", v[1], sizeof(v[1])));
	json_decref(pool);
}

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
	print_pool(s, b);
}

int cli_blueprint_show(struct dd_store *s, long long id, bool json,
		       const struct cli_page *p)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_blueprint b = {0};
	struct dd_resource_list rs = {0};
	struct dd_filter f = {0};
	struct cli_page newest = {.limit = p->limit};
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

/* A verb's options, with the group's usage and --json. */
#define VERB_SPEC(verb, opts, json_)                                           \
	{.name = "blueprint " verb,                                            \
	 .usage = usage,                                                       \
	 .options = (opts),                                                    \
	 .json = (json_),                                                      \
	 .positional = true}

/* The one argument of "blueprint VERB ID": the blueprint's id. */
static long long blueprint_id(int n, char **argv, const char *verb)
{
	long long id = n >= 1 ? cli_parse_id(argv[0]) : 0;

	if (n > 1)
		exit(cli_usage_error(usage, "unexpected argument '%s'",
				     argv[1]));
	if (!id)
		exit(cli_usage_error(usage, "'blueprint %s' needs an id", verb));
	return id;
}

/* Print a blueprint that create or edit returned, and release it. */
static int print_changed(struct dd_store *s, struct dd_blueprint *b,
			 bool json, const char *done)
{
	if (json)
		print_blueprint(s, b, true, NULL);
	else
		printf("%s blueprint %lld '%s' (%s, %s)\n", done, b->id,
		       b->name, b->type, b->enabled ? "enabled" : "disabled");
	dd_blueprint_release(b);
	return 0;
}

static int blueprint_create(int argc, char **argv)
{
	const char *type = NULL, *name = NULL, *config_arg = NULL;
	const char *key_arg = NULL;
	bool json = false;
	const struct cli_option options[] = {
		CLI_STRING("type", "TYPE", &type, "the blueprint's type"),
		CLI_STRING("name", "NAME", &name,
			   "its name, 1 to 200 characters"),
		CLI_STRING("config", "JSON|@FILE", &config_arg,
			   "its configuration (default {})"),
		CLI_STRING("idempotency-key", "KEY", &key_arg,
			   "if this user on this host already ran this create "
			   "with KEY, show the blueprint it made"),
		CLI_END,
	};
	const struct cli_spec spec = VERB_SPEC("create", options, &json);
	struct dd_error err = DD_ERROR_INIT;
	struct dd_idem key, *idem = NULL;
	struct dd_blueprint b = {0};
	struct dd_store *s;
	json_t *config;
	int rc;

	if (cli_parse(&spec, argc, argv))
		return cli_usage_error(usage, "unexpected argument '%s'",
				       argv[0]);
	if (!type || !name)
		return cli_usage_error(usage, "'blueprint create' needs --type "
					      "and --name");
	config = config_arg ? cli_parse_json_arg(config_arg, "--config", &err)
			    : json_object();
	if (!config)
		return cli_fail(&err);
	rc = cli_idem(&key, key_arg, "drydock blueprint create",
		      json_pack("{s:s,s:s,s:O}", "type", type, "name", name,
				"config", config),
		      &idem);
	if (rc) {
		json_decref(config);
		return rc;
	}
	s = cli_open_store();
	rc = dd_api_blueprint_create_idem(s, type, name, config, true, idem,
					  &b, &err);
	rc = rc ? cli_fail(&err) : print_changed(s, &b, json, "created");
	json_decref(config);
	dd_store_close(s);
	return rc;
}

static int refuse_type(const struct cli_option *o, const char *arg,
		       struct dd_error *err)
{
	(void)o;
	(void)arg;
	return dd_error_set(err, DD_ERR_INVALID,
			    "a blueprint's type cannot change");
}

/* edit, enable and disable: one change through the same API call */
static int change(long long id, const char *name, const char *config_arg,
		  int enable, bool json)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_blueprint b = {0};
	json_t *config = NULL;
	struct dd_store *s;
	int rc;

	if (config_arg &&
	    !(config = cli_parse_json_arg(config_arg, "--config", &err)))
		return cli_fail(&err);
	s = cli_open_store();
	rc = dd_api_blueprint_edit(s, id, name, config, enable, &b, &err);
	rc = rc ? cli_fail(&err) : print_changed(s, &b, json, "updated");
	json_decref(config);
	dd_store_close(s);
	return rc;
}

static int blueprint_edit(int argc, char **argv)
{
	const char *name = NULL, *config_arg = NULL;
	bool json = false;
	const struct cli_option options[] = {
		CLI_STRING("name", "NAME", &name, "a new name"),
		CLI_STRING("config", "JSON|@FILE", &config_arg,
			   "a new configuration, in place of the whole old one"),
		CLI_CALLBACK("type", "TYPE", refuse_type, NULL, NULL),
		CLI_END,
	};
	const struct cli_spec spec = VERB_SPEC("edit", options, &json);
	int n = cli_parse(&spec, argc, argv);

	return change(blueprint_id(n, argv, "edit"), name, config_arg, -1,
		      json);
}

static int blueprint_switch(int argc, char **argv)
{
	bool json = false, enable = !strcmp(argv[0], "enable");
	const struct cli_spec on = VERB_SPEC("enable", NULL, &json);
	const struct cli_spec off = VERB_SPEC("disable", NULL, &json);
	const struct cli_spec spec = enable ? on : off;
	int n;

	n = cli_parse(&spec, argc, argv);
	return change(blueprint_id(n, argv, enable ? "enable" : "disable"),
		      NULL, NULL, enable, json);
}

static int blueprint_show(int argc, char **argv)
{
	struct cli_page page = CLI_PAGE_INIT;
	bool json = false;
	const struct cli_option options[] = {
		CLI_CALLBACK("limit", "N", cli_opt_limit, &page,
			     "resources and log entries shown (default 50; 0 "
			     "for all)"),
		CLI_CALLBACK("cursor", "C", cli_opt_cursor, &page,
			     "log entries older than C"),
		CLI_END,
	};
	const struct cli_spec spec = VERB_SPEC("show", options, &json);
	struct dd_store *s;
	long long id;
	int n, rc;

	n = cli_parse(&spec, argc, argv);
	id = blueprint_id(n, argv, "show");
	s = cli_open_store();
	rc = cli_blueprint_show(s, id, json, &page);
	dd_store_close(s);
	return rc;
}

static int blueprint_list(int argc, char **argv)
{
	bool json = false;
	const struct cli_spec spec = VERB_SPEC("list", NULL, &json);
	struct dd_store *s;
	int rc;

	if (cli_parse(&spec, argc, argv))
		return cli_usage_error(usage, "unexpected argument '%s'",
				       argv[0]);
	s = cli_open_store();
	rc = list(s, json);
	dd_store_close(s);
	return rc;
}

int cmd_blueprint(int argc, char **argv)
{
	static const struct cli_spec spec = {.name = "blueprint",
					     .usage = usage};
	static const struct cli_verb verbs[] = {
		{"create", blueprint_create}, {"disable", blueprint_switch},
		{"edit", blueprint_edit},     {"enable", blueprint_switch},
		{"list", blueprint_list},     {"show", blueprint_show},
		{NULL, NULL},
	};

	return cli_run_verb(&spec, verbs, argc, argv);
}
