/*
 * cmd_target.c - "drydock target": create build targets, list and show
 * them, and finish them.
 *
 * A target made here is owned by the CLI's user ("cli:USER@HOST"), as a
 * lease is.  Finishing is a command for the target's update worker,
 * which a daemon (or `drydock serve`) runs: `finish` returns once it is
 * queued, like `release-lease`.
 */
#include "api/api.h"
#include "cli/cli.h"
#include "core/command.h"
#include "core/input.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: drydock target create [--name NAME] [--ttl DURATION]\n"
	"                             [--idempotency-key KEY] [--json]\n"
	"       drydock target list [--all | --status S...] [--owner OWNER] "
	"[--limit N]\n"
	"                           [--cursor C] [--json]\n"
	"       drydock target show ID [--limit N] [--cursor C] [--json]\n"
	"       drydock target finish ID --result passed|failed|aborted\n"
	"                             [--reason TEXT] [--json]\n"
	"\n"
	"A build target is one build (a CI job) and what it produced: its "
	"artifacts\n(drydock artifact).  It is building until finished as "
	"passed, failed or\naborted; finishing it releases its artifacts, and "
	"the lease of every host\nartifact.  With --ttl it has a deadline: "
	"a target still building then is\naborted by the daemon.\n";

static const char epilog[] =
	"'list' shows the targets still building, newest first (--all: "
	"finished ones\ntoo).  'show' prints a target with its artifacts and "
	"the newest of its log\nentries.  'finish' queues the finish for the "
	"target's update worker (a\ndaemon or drydock serve must run) and "
	"exits 4 if the target is already\nfinished or a finish is already "
	"queued.\n";

#define VERB_SPEC(verb, opts, json_)                                           \
	{.name = "target " verb,                                               \
	 .usage = usage,                                                       \
	 .epilog = epilog,                                                     \
	 .options = (opts),                                                    \
	 .json = (json_),                                                      \
	 .positional = true}

static void print_target(const struct dd_target *t)
{
	char when[32];

	printf("target %lld\n", t->id);
	printf("%-12s %s\n", "status", dd_target_status_name(t->status));
	printf("%-12s %s\n", "name", t->name ? t->name : "-");
	printf("%-12s %s\n", "owner", t->owner ? t->owner : "-");
	cli_print_time(stdout, "created", t->created);
	if (t->deadline > 0) {
		dd_time_format(t->deadline, when);
		printf("%-12s %s\n", "deadline", when);
	}
	if (t->finished > 0)
		cli_print_time(stdout, "finished", t->finished);
}

static int target_create(int argc, char **argv)
{
	const char *name = NULL, *ttl_arg = NULL, *key_arg = NULL;
	bool json = false;
	const struct cli_option options[] = {
		CLI_STRING("name", "NAME", &name,
			   "what the build calls itself (1 to 255 bytes)"),
		CLI_STRING("ttl", "DURATION", &ttl_arg,
			   "abort the target if still building DURATION from "
			   "now: seconds (90) or with units d, h, m, s (30m, "
			   "1h30m)"),
		CLI_STRING("idempotency-key", "KEY", &key_arg,
			   "if this user on this host already ran this create "
			   "with KEY, print the target it made"),
		CLI_END,
	};
	const struct cli_spec spec = VERB_SPEC("create", options, &json);
	struct dd_target_request req = {0};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_target t = {0};
	struct dd_idem key;
	struct dd_store *s;
	char owner[160];
	int rc;

	if (cli_parse(&spec, argc, argv))
		return cli_usage_error(usage, "unexpected argument '%s'",
				       argv[0]);
	if (ttl_arg && dd_duration_parse(ttl_arg, &req.ttl, &err))
		return cli_usage_error(usage, "--ttl: %s", err.msg);
	rc = cli_idem(&key, key_arg, "drydock target create",
		      json_pack("{s:s?,s:s?}", "name", name, "ttl", ttl_arg),
		      &req.idem);
	if (rc)
		return rc;
	dd_api_cli_identity(owner, sizeof(owner));
	req.name = name;
	req.owner = owner;
	s = cli_open_store();
	rc = dd_api_target_create(s, &req, &t, &err);
	if (rc)
		rc = cli_fail(&err);
	else if (json)
		cli_print_json(dd_target_to_json(&t));
	else
		printf("%lld\n", t.id);
	dd_target_release(&t);
	dd_store_close(s);
	return rc;
}

static int print_row(void *arg, struct dd_target *t, struct dd_error *err)
{
	struct cli_listing *ls = arg;
	char when[32];

	if (!cli_listing_row(ls, t->id))
		return 1;
	if (ls->json)
		return cli_listing_item(dd_target_to_json(t), err);
	dd_time_format(t->created, when);
	printf("%-6lld %-9s %-24s %-24s %s\n", t->id,
	       dd_target_status_name(t->status), when,
	       t->owner ? t->owner : "-", t->name ? t->name : "-");
	return 0;
}

static int status_opt(const struct cli_option *o, const char *arg,
		      struct dd_error *err)
{
	unsigned *mask = o->value;
	int st = dd_target_status_parse(arg);

	if (st < 0)
		return dd_error_set(err, DD_ERR_INVALID,
				    "unknown target status '%s' (known: "
				    "building, passed, failed, aborted)",
				    arg);
	*mask |= 1u << st;
	return 0;
}

static int target_list(int argc, char **argv)
{
	struct cli_page page = CLI_PAGE_INIT;
	const char *owner = NULL;
	bool json = false, all = false;
	struct dd_filter f = {0};
	const struct cli_option options[] = {
		CLI_FLAG("all", &all, "finished targets too"),
		CLI_CALLBACK("status", "S", status_opt, &f.status_mask,
			     "only targets in status S (repeatable)"),
		CLI_STRING("owner", "OWNER", &owner,
			   "only targets of OWNER (\"token:ci\", "
			   "\"cli:alice@build1\")"),
		CLI_CALLBACK("limit", "N", cli_opt_limit, &page,
			     "at most N rows (default 50; 0: all)"),
		CLI_CALLBACK("cursor", "C", cli_opt_cursor, &page,
			     "the rows after the page that gave cursor C"),
		CLI_END,
	};
	const struct cli_spec spec = VERB_SPEC("list", options, &json);
	struct dd_error err = DD_ERROR_INIT;
	struct cli_listing ls = {0};
	struct dd_store *s;
	int rc;

	if (cli_parse(&spec, argc, argv))
		return cli_usage_error(usage, "unexpected argument '%s'",
				       argv[0]);
	if (all && f.status_mask)
		return cli_usage_error(usage, "give --all or --status, not "
					      "both");
	if (!all && !f.status_mask)
		f.status_mask = 1u << DD_TARGET_BUILDING;
	f.owner = owner;
	cli_page_filter(&f, &page);
	ls.json = json;
	ls.limit = page.limit;
	s = cli_open_store();
	cli_listing_start(&ls, "ID     STATUS    CREATED                  "
			       "OWNER                    NAME\n");
	rc = dd_store_target_each(s, &f, print_row, &ls, &err);
	dd_store_close(s);
	return cli_listing_end(&ls, rc, &err, "targets");
}

/* The target with its artifacts and a page of its log, as JSON. */
static json_t *target_json(struct dd_store *s, const struct dd_target *t,
			   const struct cli_page *p,
			   const struct dd_artifact_list *arts)
{
	struct dd_log_entry_list log = {0};
	struct dd_filter f = {.target_id = t->id};
	json_t *o = dd_target_to_json(t), *a = json_array();
	long long next = 0;

	for (size_t i = 0; i < arts->n; i++)
		json_array_append_new(a, dd_artifact_to_json(&arts->items[i]));
	json_object_set_new(o, "artifacts", a);
	a = json_array();
	if (!cli_log_page(s, &f, p, &log, &next, NULL))
		for (size_t i = 0; i < log.n; i++)
			json_array_append_new(
				a, dd_log_entry_to_json(&log.items[i]));
	dd_log_entry_list_release(&log);
	json_object_set_new(o, "log", a);
	json_object_set_new(o, "log_next_cursor", cli_cursor_json(next));
	return o;
}

static int target_show(int argc, char **argv)
{
	struct cli_page page = CLI_PAGE_INIT;
	bool json = false;
	const struct cli_option options[] = {
		CLI_CALLBACK("limit", "N", cli_opt_limit, &page,
			     "show N log entries (default 50; 0: all)"),
		CLI_CALLBACK("cursor", "C", cli_opt_cursor, &page,
			     "the log entries older than cursor C"),
		CLI_END,
	};
	const struct cli_spec spec = VERB_SPEC("show", options, &json);
	struct dd_error err = DD_ERROR_INIT;
	struct dd_artifact_list arts = {0};
	struct dd_target t = {0};
	struct dd_filter f = {0};
	struct dd_store *s;
	char more[48];
	long long id;
	int n, rc;

	n = cli_parse(&spec, argc, argv);
	if (n > 1)
		return cli_usage_error(usage, "unexpected argument '%s'",
				       argv[1]);
	if (n < 1)
		return cli_usage_error(usage, "'target show' needs a "
					      "target's id");
	id = cli_parse_id(argv[0]);
	if (id <= 0)
		return cli_usage_error(usage, "bad target id '%s'", argv[0]);
	s = cli_open_store();
	rc = dd_store_target_get(s, id, &t, &err);
	f.target_id = id;
	if (!rc)
		rc = dd_store_artifact_list(s, &f, &arts, &err);
	if (rc) {
		dd_store_close(s);
		return cli_fail(&err);
	}
	if (json) {
		cli_print_json(target_json(s, &t, &page, &arts));
	} else {
		print_target(&t);
		printf("\nartifacts (%zu)\n", arts.n);
		for (size_t i = 0; i < arts.n; i++) {
			fputs("  ", stdout);
			cli_print_artifact_row(&arts.items[i]);
		}
		snprintf(more, sizeof(more), "drydock target show %lld", id);
		memset(&f, 0, sizeof(f));
		f.target_id = id;
		cli_print_log_page(s, &f, &page, more);
	}
	dd_artifact_list_release(&arts);
	dd_target_release(&t);
	dd_store_close(s);
	return 0;
}

static int target_finish(int argc, char **argv)
{
	const char *result = NULL, *reason = NULL;
	bool json = false;
	const struct cli_option options[] = {
		CLI_STRING("result", "RESULT", &result,
			   "passed, failed or aborted"),
		CLI_STRING("reason", "TEXT", &reason,
			   "why, for the target's log (1 to 1024 bytes)"),
		CLI_END,
	};
	const struct cli_spec spec = VERB_SPEC("finish", options, &json);
	struct dd_error err = DD_ERROR_INIT;
	struct dd_command c = {0};
	struct dd_store *s;
	char author[160];
	long long id;
	json_t *data;
	int n, rc;

	n = cli_parse(&spec, argc, argv);
	if (n > 1)
		return cli_usage_error(usage, "unexpected argument '%s'",
				       argv[1]);
	if (n < 1)
		return cli_usage_error(usage, "'target finish' needs a "
					      "target's id");
	id = cli_parse_id(argv[0]);
	if (id <= 0)
		return cli_usage_error(usage, "bad target id '%s'", argv[0]);
	if (!result)
		return cli_usage_error(usage, "'target finish' needs --result "
					      "passed, failed or aborted");
	dd_api_cli_identity(author, sizeof(author));
	data = json_pack("{s:s}", "result", result);
	if (reason)
		json_object_set_new(data, "reason", json_string(reason));
	s = cli_open_store();
	/* the command table checks the result and refuses a second finish */
	rc = dd_api_send(s, (struct dd_ref){DD_OBJ_TARGET, id},
			 dd_command_kind_name(DD_CMD_FINISH), author, data, &c,
			 &err);
	json_decref(data);
	dd_store_close(s);
	if (rc)
		return cli_fail(&err);
	if (json)
		cli_print_json(dd_command_to_json(&c));
	else
		printf("finish of target %lld queued (command %lld, %s)\n", id,
		       c.id, result);
	dd_command_release(&c);
	return 0;
}

int cmd_target(int argc, char **argv)
{
	static const struct cli_spec spec = {.name = "target", .usage = usage,
					     .epilog = epilog};
	static const struct cli_verb verbs[] = {
		{"create", target_create},
		{"finish", target_finish},
		{"list", target_list},
		{"show", target_show},
		{NULL, NULL},
	};

	return cli_run_verb(&spec, verbs, argc, argv);
}
