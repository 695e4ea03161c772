/*
 * cmd_authorization.c - "drydock authorization": list the requests to use
 * blueprints that require authorization, and approve or decline them.
 *
 * Like "drydock token", the CLI needs no token: whoever can write the
 * store is an admin.  The decision is recorded as this user on this host.
 */
#include "api/api.h"
#include "auth/authorization.h"
#include "cli/cli.h"
#include "core/util.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
	"usage: drydock authorization list [--blueprint ID] [--state STATE] "
	"[--json]\n"
	"       drydock authorization approve ID [--json]\n"
	"       drydock authorization decline ID [--json]\n"
	"\n"
	"A blueprint whose config has \"authorization\": \"required\" serves "
	"a lease only\nif the lease's requester is approved for it.  The "
	"first lease that needs it\nrequests the authorization and fails, "
	"naming the authorization's ID; an admin\napproves or declines it "
	"here, and may change the decision later.  Declining\nrefuses new "
	"leases and keeps existing ones.\n"
	"\n"
	"The requester of a lease:\n"
	"  token:NAME     its API token's\n"
	"  cli:USER       asked with the CLI by USER, on any host\n"
	"  blueprint:ID   asked by a resource or lease of blueprint ID (a "
	"blueprint\n                 leasing from another)\n"
	"\n"
	"STATE is requested, approved or declined.\n";

#define VERB_SPEC(verb, opts, json_)                                           \
	{.name = "authorization " verb,                                        \
	 .usage = usage,                                                       \
	 .options = (opts),                                                    \
	 .json = (json_),                                                      \
	 .positional = true}

static void print_time_column(double t)
{
	char buf[32] = "-";

	if (t > 0)
		dd_time_format(t, buf);
	printf(" %-24s", buf);
}

static int list(struct dd_store *s, const struct dd_filter *f, bool json)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_authorization_list l = {0};
	json_t *a;

	if (dd_store_authorization_list(s, f, &l, &err))
		return cli_fail(&err);
	if (json) {
		a = json_array();
		for (size_t i = 0; i < l.n; i++)
			json_array_append_new(
				a, dd_authorization_to_json(&l.items[i]));
		cli_print_json(a);
	} else {
		printf("%-6s %-9s %-9s %-24s %-24s %s\n", "ID", "STATE",
		       "BLUEPRINT", "DECIDED", "DECIDED BY", "REQUESTER");
		for (size_t i = 0; i < l.n; i++) {
			const struct dd_authorization *x = &l.items[i];

			printf("%-6lld %-9s %-9lld", x->id,
			       dd_authorization_state_name(x->state),
			       x->blueprint);
			print_time_column(x->decided);
			printf(" %-24s %s\n",
			       x->decided_by ? x->decided_by : "-",
			       x->requester);
		}
	}
	dd_authorization_list_release(&l);
	return 0;
}

static int authorization_list(int argc, char **argv)
{
	long long blueprint = 0;
	const char *state_arg = NULL;
	bool json = false;
	const struct cli_option options[] = {
		CLI_ID("blueprint", &blueprint,
		       "only the authorizations of blueprint ID"),
		CLI_STRING("state", "STATE", &state_arg,
			   "only those requested, approved or declined"),
		CLI_END,
	};
	const struct cli_spec spec = VERB_SPEC("list", options, &json);
	struct dd_filter f = {0};
	struct dd_store *s;
	int rc, state;

	if (cli_parse(&spec, argc, argv))
		return cli_usage_error(usage, "unexpected argument '%s'",
				       argv[0]);
	if (state_arg) {
		state = dd_authorization_state_parse(state_arg);
		if (state < 0)
			return cli_usage_error(usage,
					       "unknown state '%s' (known: "
					       "requested, approved, declined)",
					       state_arg);
		f.status_mask = 1u << state;
	}
	f.blueprint = blueprint;
	s = cli_open_store();
	rc = list(s, &f, json);
	dd_store_close(s);
	return rc;
}

/* approve and decline: the same but for the state they move to */
static int decide(int argc, char **argv, const char *verb,
		  const struct cli_spec *spec, bool *json,
		  enum dd_authorization_state to)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_authorization a = {0};
	struct dd_blueprint bp = {0};
	char by[160];
	struct dd_store *s;
	long long id;
	int n, rc;

	n = cli_parse(spec, argc, argv);
	if (!n)
		return cli_usage_error(usage,
				       "'authorization %s' needs an "
				       "authorization's id",
				       verb);
	if (n > 1)
		return cli_usage_error(usage, "unexpected argument '%s'",
				       argv[1]);
	id = cli_parse_id(argv[0]);
	if (!id)
		return cli_usage_error(usage, "bad authorization id '%s'",
				       argv[0]);
	dd_api_cli_identity(by, sizeof(by));
	s = cli_open_store();
	rc = dd_authorization_decide(s, id, to, by, &a, &err);
	if (rc) {
		rc = cli_fail(&err);
	} else if (*json) {
		cli_print_json(dd_authorization_to_json(&a));
	} else {
		/* the blueprint's name, if it is still there */
		dd_store_blueprint_get(s, a.blueprint, &bp, NULL);
		printf("%s authorization %lld: '%s' %s blueprint %lld '%s'\n",
		       dd_authorization_state_name(a.state), a.id, a.requester,
		       to == DD_AUTHORIZATION_APPROVED ? "may use"
						       : "may not use",
		       a.blueprint, bp.name ? bp.name : "?");
	}
	dd_blueprint_release(&bp);
	dd_authorization_release(&a);
	dd_store_close(s);
	return rc;
}

static int authorization_approve(int argc, char **argv)
{
	bool json = false;
	const struct cli_spec spec = VERB_SPEC("approve", NULL, &json);

	return decide(argc, argv, "approve", &spec, &json,
		      DD_AUTHORIZATION_APPROVED);
}

static int authorization_decline(int argc, char **argv)
{
	bool json = false;
	const struct cli_spec spec = VERB_SPEC("decline", NULL, &json);

	return decide(argc, argv, "decline", &spec, &json,
		      DD_AUTHORIZATION_DECLINED);
}

int cmd_authorization(int argc, char **argv)
{
	static const struct cli_spec spec = {.name = "authorization",
					     .usage = usage};
	static const struct cli_verb verbs[] = {
		{"approve", authorization_approve},
		{"decline", authorization_decline},
		{"list", authorization_list},
		{NULL, NULL},
	};

	return cli_run_verb(&spec, verbs, argc, argv);
}
