/*
 * cmd_artifact.c - "drydock artifact": add an artifact to a build target,
 * list a target's artifacts, show one.
 *
 * The options of `add` are the fields of the artifact's data: --uri (with
 * --name and --external) makes a uri artifact, --lease a host artifact.
 * The type table (core/target.h) checks them, as it does for the API, so
 * an option that does not belong to the type is refused naming its field.
 */
#include "api/api.h"
#include "cli/cli.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: drydock artifact add TARGET --key KEY\n"
	"                            (--uri URL [--name NAME] [--external] | "
	"--lease ID)\n"
	"                            [--json]\n"
	"       drydock artifact list TARGET [--limit N] [--cursor C] "
	"[--json]\n"
	"       drydock artifact show ID [--json]\n"
	"\n"
	"An artifact is what a build target produced or holds, under a key "
	"unique\nwithin the target: a link (--uri; only the schemes the "
	"operator allows, http\nand https by default) or a lease (--lease: a "
	"lease of the target's owner that\nis not released; finishing the "
	"target releases it).\n";

#define VERB_SPEC(verb, opts, json_)                                           \
	{.name = "artifact " verb,                                             \
	 .usage = usage,                                                       \
	 .options = (opts),                                                    \
	 .json = (json_),                                                      \
	 .positional = true}

void cli_print_artifact_row(const struct dd_artifact *a)
{
	char *d = json_dumps(a->data, JSON_COMPACT | JSON_SORT_KEYS);

	printf("%-6lld %-6s %-24s %-9s %s\n", a->id, a->type, a->key,
	       a->released ? "released" : "-", d ? d : "{}");
	free(d);
}

/* The one positional argument, an id; 0 after a usage error. */
static long long one_id(int n, char **argv, const char *what)
{
	long long id;

	if (n > 1) {
		cli_usage_error(usage, "unexpected argument '%s'", argv[1]);
		return 0;
	}
	if (n < 1) {
		cli_usage_error(usage, "'artifact %s' needs an id", what);
		return 0;
	}
	id = cli_parse_id(argv[0]);
	if (id <= 0)
		cli_usage_error(usage, "bad id '%s'", argv[0]);
	return id > 0 ? id : 0;
}

static int artifact_add(int argc, char **argv)
{
	const char *key = NULL, *uri = NULL, *name = NULL;
	long long lease = 0;
	bool json = false, external = false;
	const struct cli_option options[] = {
		CLI_STRING("key", "KEY", &key,
			   "the artifact's key, unique within the target"),
		CLI_STRING("uri", "URL", &uri, "a link (a uri artifact)"),
		CLI_STRING("name", "NAME", &name, "the link's text"),
		CLI_FLAG("external", &external,
			 "the link leaves drydock (opened in a new tab)"),
		CLI_ID("lease", &lease,
		       "a lease the build holds (a host artifact)"),
		CLI_END,
	};
	const struct cli_spec spec = VERB_SPEC("add", options, &json);
	struct dd_artifact_request req = {0};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_artifact_rules rules;
	struct dd_artifact a = {0};
	struct dd_store *s;
	int rc;

	req.target = one_id(cli_parse(&spec, argc, argv), argv, "add");
	if (!req.target)
		return dd_err_exit_status(DD_ERR_INVALID);
	if (!key)
		return cli_usage_error(usage, "'artifact add' needs --key");
	if (!uri == !lease)
		return cli_usage_error(usage, "'artifact add' needs --uri URL "
					      "or --lease ID");
	req.key = key;
	req.type = uri ? "uri" : "host";
	/* every option given is a field: the type's row says if it fits */
	req.data = json_object();
	if (uri)
		json_object_set_new(req.data, "uri", json_string(uri));
	if (name)
		json_object_set_new(req.data, "name", json_string(name));
	if (external)
		json_object_set_new(req.data, "external", json_true());
	if (lease)
		json_object_set_new(req.data, "lease", json_integer(lease));
	dd_artifact_rules_from_env(&rules);
	req.rules = &rules;
	s = cli_open_store();
	rc = dd_api_artifact_add(s, &req, &a, &err);
	json_decref(req.data);
	dd_store_close(s);
	if (rc)
		return cli_fail(&err);
	if (json)
		cli_print_json(dd_artifact_to_json(&a));
	else
		printf("%lld\n", a.id);
	dd_artifact_release(&a);
	return 0;
}

struct listing {
	bool json;
	size_t limit, n;
	long long last;
	bool more;
};

static int print_row(void *arg, struct dd_artifact *a, struct dd_error *err)
{
	struct listing *ls = arg;

	if (ls->limit && ls->n == ls->limit) {
		ls->more = true;
		return 1;
	}
	if (ls->json && ls->n)
		fputs(",\n", stdout);
	ls->n++;
	ls->last = a->id;
	if (ls->json) {
		json_t *o = dd_artifact_to_json(a);
		int rc = o ? json_dumpf(o, stdout,
					 JSON_COMPACT | JSON_SORT_KEYS)
			   : -1;

		json_decref(o);
		return rc ? dd_error_set(err, DD_ERR_NOMEM, "out of memory")
			  : 0;
	}
	cli_print_artifact_row(a);
	return 0;
}

/* Oldest first, as the build recorded them; --cursor pages on. */
static int artifact_list(int argc, char **argv)
{
	struct cli_page page = CLI_PAGE_INIT;
	bool json = false;
	const struct cli_option options[] = {
		CLI_CALLBACK("limit", "N", cli_opt_limit, &page,
			     "at most N rows (default 50; 0: all)"),
		CLI_CALLBACK("cursor", "C", cli_opt_cursor, &page,
			     "the rows after the page that gave cursor C"),
		CLI_END,
	};
	const struct cli_spec spec = VERB_SPEC("list", options, &json);
	struct dd_error err = DD_ERROR_INIT;
	struct dd_target t = {0};
	struct dd_filter f = {0};
	struct listing ls = {.json = json};
	struct dd_store *s;
	int rc;

	f.target_id = one_id(cli_parse(&spec, argc, argv), argv, "list");
	if (!f.target_id)
		return dd_err_exit_status(DD_ERR_INVALID);
	f.after_id = page.cursor;
	f.limit = page.limit ? page.limit + 1 : 0;
	ls.json = json;
	ls.limit = page.limit;
	s = cli_open_store();
	/* a target without artifacts, or none at all: say which */
	rc = dd_store_target_get(s, f.target_id, &t, &err);
	dd_target_release(&t);
	if (rc) {
		dd_store_close(s);
		return cli_fail(&err);
	}
	if (json)
		fputs("{\"items\":[\n", stdout);
	else
		printf("%-6s %-6s %-24s %-9s %s\n", "ID", "TYPE", "KEY",
		       "RELEASED", "DATA");
	rc = dd_store_artifact_each(s, &f, print_row, &ls, &err);
	dd_store_close(s);
	if (rc < 0)
		return cli_fail(&err);
	if (json) {
		json_t *next = cli_cursor_json(ls.more ? ls.last : 0);
		char *n = json_dumps(next, JSON_ENCODE_ANY);

		printf("%s],\"next_cursor\":%s}\n", ls.n ? "\n" : "",
		       n ? n : "null");
		free(n);
		json_decref(next);
	} else if (ls.more) {
		fprintf(stderr,
			"drydock: more artifacts: repeat with --cursor %lld\n",
			ls.last);
	}
	return 0;
}

static int artifact_show(int argc, char **argv)
{
	bool json = false;
	const struct cli_spec spec = VERB_SPEC("show", NULL, &json);
	struct dd_error err = DD_ERROR_INIT;
	struct dd_artifact a = {0};
	struct dd_store *s;
	long long id;
	char *d;
	int rc;

	id = one_id(cli_parse(&spec, argc, argv), argv, "show");
	if (!id)
		return dd_err_exit_status(DD_ERR_INVALID);
	s = cli_open_store();
	rc = dd_store_artifact_get(s, id, &a, &err);
	dd_store_close(s);
	if (rc)
		return cli_fail(&err);
	if (json) {
		cli_print_json(dd_artifact_to_json(&a));
	} else {
		d = json_dumps(a.data, JSON_COMPACT | JSON_SORT_KEYS);
		printf("artifact %lld\n", a.id);
		printf("%-12s %lld\n", "target", a.target);
		printf("%-12s %s\n", "key", a.key);
		printf("%-12s %s\n", "type", a.type);
		printf("%-12s %s\n", "data", d ? d : "{}");
		printf("%-12s %s\n", "released", a.released ? "yes" : "no");
		if (dd_artifact_type_find(a.type) &&
		    dd_artifact_type_find(a.type)->content)
			printf("%-12s %lld bytes%s\n%-12s %s\n", "size", a.size,
			       a.complete ? "" : " (upload incomplete)",
			       "sha256", a.sha256[0] ? a.sha256 : "-");
		cli_print_time(stdout, "created", a.created);
		free(d);
	}
	dd_artifact_release(&a);
	return 0;
}

int cmd_artifact(int argc, char **argv)
{
	static const struct cli_spec spec = {.name = "artifact",
					     .usage = usage};
	static const struct cli_verb verbs[] = {
		{"add", artifact_add},
		{"list", artifact_list},
		{"show", artifact_show},
		{NULL, NULL},
	};

	return cli_run_verb(&spec, verbs, argc, argv);
}
