/*
 * cmd_token.c - "drydock token": make, list and revoke API tokens.
 *
 * The CLI itself needs no token: whoever can write the store is trusted,
 * and is the one who hands tokens out.
 */
#include "auth/token.h"
#include "cli/cli.h"
#include "core/util.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
	"usage: drydock token create --name NAME --role admin|client|viewer "
	"[--json]\n"
	"                            [--idempotency-key KEY]\n"
	"       drydock token list [--json]\n"
	"       drydock token revoke NAME|ID [--json]\n"
	"\n"
	"API tokens let programs use drydock's HTTP API.  A token has a name, "
	"a role and\na secret.  'create' prints the secret once: drydock "
	"keeps only its SHA-256 hash,\nso it cannot show it again.  A "
	"revoked token stops working at once and stays\nlisted; tokens are "
	"never deleted.\n"
	"\n"
	"Roles:\n"
	"  viewer  sees everything, changes nothing\n"
	"  client  also asks for leases, and releases, extends and runs "
	"commands on the\n          leases it asked for\n"
	"  admin   may do anything: any lease, resources, blueprints, "
	"tokens\n"
	"\n"
	"NAME is 1 to 64 letters, digits, '.', '_', '@' or '-', and not all "
	"digits.\n"
	"\n"
	"With --idempotency-key, a 'create' that this user on this host "
	"already ran\nwith the same KEY and options (within 24 hours) "
	"creates nothing and says\nwhich token it made (exit 5): that "
	"token's secret cannot be shown again.\n";

static void print_created(const struct dd_token *t, const char *secret,
			  bool json)
{
	json_t *o;

	if (json) {
		o = dd_token_to_json(t);
		if (o)
			json_object_set_new(o, "secret", json_string(secret));
		cli_print_json(o);
		fputs("drydock: the secret cannot be shown again: store it "
		      "now\n",
		      stderr);
		return;
	}
	printf("created token %lld '%s' (%s)\n", t->id, t->name, t->role);
	printf("secret: %s\n", secret);
	printf("the secret cannot be shown again: store it now (drydock "
	       "keeps only its hash)\n");
}

static void print_time_column(double t)
{
	char buf[32] = "-";

	if (t > 0)
		dd_time_format(t, buf);
	printf(" %-24s", buf);
}

static int list(struct dd_store *s, bool json)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_token_list l = {0};
	struct dd_filter f = {0};
	json_t *a;

	if (dd_store_token_list(s, &f, &l, &err))
		return cli_fail(&err);
	if (json) {
		a = json_array();
		for (size_t i = 0; i < l.n; i++)
			json_array_append_new(a, dd_token_to_json(&l.items[i]));
		cli_print_json(a);
	} else {
		printf("%-6s %-6s %-24s %-24s %-24s %s\n", "ID", "ROLE",
		       "CREATED", "LAST USED", "REVOKED", "NAME");
		for (size_t i = 0; i < l.n; i++) {
			printf("%-6lld %-6s", l.items[i].id, l.items[i].role);
			print_time_column(l.items[i].created);
			print_time_column(l.items[i].last_used);
			print_time_column(l.items[i].revoked);
			printf(" %s\n", l.items[i].name);
		}
	}
	dd_token_list_release(&l);
	return 0;
}

#define VERB_SPEC(verb, opts, json_)                                           \
	{.name = "token " verb,                                                \
	 .usage = usage,                                                       \
	 .options = (opts),                                                    \
	 .json = (json_),                                                      \
	 .positional = true}

static int token_create(int argc, char **argv)
{
	const char *name = NULL, *role_arg = NULL, *key_arg = NULL;
	bool json = false;
	const struct cli_option options[] = {
		CLI_STRING("name", "NAME", &name, "the token's name"),
		CLI_STRING("role", "ROLE", &role_arg,
			   "admin, client or viewer"),
		CLI_STRING("idempotency-key", "KEY", &key_arg,
			   "if this user on this host already ran this create "
			   "with KEY, say which token it made"),
		CLI_END,
	};
	const struct cli_spec spec = VERB_SPEC("create", options, &json);
	char secret[DD_TOKEN_SECRET_MAX];
	struct dd_error err = DD_ERROR_INIT;
	struct dd_idem key, *idem = NULL;
	struct dd_token t = {0};
	struct dd_store *s;
	int rc, role;

	if (cli_parse(&spec, argc, argv))
		return cli_usage_error(usage, "unexpected argument '%s'",
				       argv[0]);
	if (!name || !role_arg)
		return cli_usage_error(usage, "'token create' needs --name and "
					      "--role");
	role = dd_role_parse(role_arg);
	if (role < 0)
		return cli_error(dd_err_exit_status(DD_ERR_INVALID),
				 "unknown role '%s' (known: viewer, client, "
				 "admin)",
				 role_arg);
	rc = cli_idem(&key, key_arg, "drydock token create",
		      json_pack("{s:s,s:s}", "name", name, "role", role_arg),
		      &idem);
	if (rc)
		return rc;
	s = cli_open_store();
	rc = dd_token_create_idem(s, name, (enum dd_role)role, idem, secret,
				  &t, &err);
	if (rc)
		rc = cli_fail(&err);
	else
		print_created(&t, secret, json);
	dd_token_release(&t);
	explicit_bzero(secret, sizeof(secret));
	dd_store_close(s);
	return rc;
}

static int token_list(int argc, char **argv)
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

static int token_revoke(int argc, char **argv)
{
	bool json = false;
	const struct cli_spec spec = VERB_SPEC("revoke", NULL, &json);
	struct dd_error err = DD_ERROR_INIT;
	struct dd_token t = {0};
	struct dd_store *s;
	int n, rc;

	n = cli_parse(&spec, argc, argv);
	if (!n)
		return cli_usage_error(usage, "'token revoke' needs a token's "
					      "name or id");
	if (n > 1)
		return cli_usage_error(usage, "unexpected argument '%s'",
				       argv[1]);
	s = cli_open_store();
	rc = dd_token_revoke_by_name_or_id(s, argv[0], &t, &err);
	if (rc)
		rc = cli_fail(&err);
	else if (json)
		cli_print_json(dd_token_to_json(&t));
	else
		printf("revoked token %lld '%s' (%s)\n", t.id, t.name, t.role);
	dd_token_release(&t);
	dd_store_close(s);
	return rc;
}

int cmd_token(int argc, char **argv)
{
	static const struct cli_spec spec = {.name = "token", .usage = usage};
	static const struct cli_verb verbs[] = {
		{"create", token_create},
		{"list", token_list},
		{"revoke", token_revoke},
		{NULL, NULL},
	};

	return cli_run_verb(&spec, verbs, argc, argv);
}
