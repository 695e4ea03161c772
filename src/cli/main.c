/*
 * main.c - drydock's entry point: global options and the command table.
 */
#include "cli/cli.h"
#include "core/util.h"

#include <stdio.h>
#include <string.h>

#define DRYDOCK_VERSION "0.1.0"

/* Sorted by name; `drydock --help` prints them in this order. */
static const struct cli_command commands[] = {
	{"artifact", cmd_artifact,
	 "add, list, show or get a build target's artifacts"},
	{"authorization", cmd_authorization,
	 "list, approve or decline requests to use blueprints"},
	{"blueprint", cmd_blueprint,
	 "create, list, show, edit, enable or disable blueprints"},
	{"check", cmd_check, "check the whole store for damage"},
	{"cp", cmd_cp, "copy files and directories into or out of a lease"},
	{"daemon", cmd_daemon, "run the update workers"},
	{"exec", cmd_exec, "run a command on a leased resource"},
	{"extend-lease", cmd_extend_lease, "move a lease's expiry"},
	{"init", cmd_init, "create or upgrade the store"},
	{"lease", cmd_lease, "ask for a lease and wait until it is active"},
	{"list", cmd_list, "list leases, resources, blueprints or tasks"},
	{"migrate-store", cmd_migrate_store,
	 "copy an SQLite store into a PostgreSQL database"},
	{"reclaim", cmd_reclaim, "ask every idle resource to go away"},
	{"release-lease", cmd_release_lease, "release leases"},
	{"release-resource", cmd_release_resource, "release resources"},
	{"resource", cmd_resource, "drain a resource: no new leases"},
	{"run", cmd_run,
	 "run a command as a build on a new lease, and release it"},
	{"serve", cmd_serve,
	 "serve the HTTP API and web UI, and run the workers"},
	{"show", cmd_show, "show one lease, resource or blueprint in full"},
	{"target", cmd_target, "create, list, show or finish build targets"},
	{"token", cmd_token, "create, list or revoke API tokens"},
	{"update-lease", cmd_update_lease, "queue leases' update workers"},
	{"update-resource", cmd_update_resource,
	 "queue resources' update workers"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: drydock [--db PATH] [--state-dir DIR] COMMAND [ARGS]\n\n"
		   "drydock leases build and test resources: it hands them "
		   "out, runs commands on\nthem, and reliably takes them "
		   "back.\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-18s %s\n", commands[i].name,
			commands[i].summary);
	fprintf(f,
		"\noptions:\n"
		"  --db PATH          the store (default: $DRYDOCK_DB, else "
		"$XDG_DATA_HOME/drydock/drydock.db,\n"
		"                     else ~/.local/share/drydock/drydock.db)\n"
		"  --state-dir DIR    where ssh sockets, known_hosts files "
		"and host directories\n"
		"                     go (default: $DRYDOCK_STATE_DIR, else "
		"the store's directory)\n"
		"  --help             this text; 'drydock COMMAND --help' "
		"for one command\n"
		"  --version          print the version\n"
		"\nexit status: 0 success, 1 out of memory or other failure, 2 "
		"bad usage or input,\n3 no such object, 4 illegal state change, "
		"5 already exists, 6 store locked,\n7 store unusable, 11 "
		"input/output error, 12 lease ended broken or destroyed,\n14 "
		"idempotency key reused for another request, 15 store damaged,\n"
		"130 interrupted; "
		"'exec' and 'run' pass the command's own status through\n"
		"('run' exits 125 when drydock fails).\n");
}

int main(int argc, char **argv)
{
	bool version = false, help;
	const struct cli_option options[] = {
		CLI_FLAG("version", &version, NULL),
		CLI_END,
	};
	/* the command ends the global options; the rest are its own */
	const struct cli_spec spec = {.name = "drydock",
				      .usage = "usage: drydock [--db PATH] "
					       "[--state-dir DIR] COMMAND "
					       "[ARGS]\n",
				      .options = options,
				      .positional = true,
				      .flags = CLI_STOP_AT_ARG};
	struct dd_error err = DD_ERROR_INIT;
	int n;

	dd_alloc_init();
	n = cli_parse_options(&spec, argc, argv, &help, &err);
	if (help) {
		usage(stdout);
		return 0;
	}
	if (n < 0)
		return cli_usage_error(spec.usage, "%s", err.msg);
	if (version) {
		printf("drydock %s\n", DRYDOCK_VERSION);
		return 0;
	}
	if (!n) {
		usage(stderr);
		return 2;
	}
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++)
		if (!strcmp(argv[0], commands[c].name))
			return commands[c].fn(n, argv);
	fprintf(stderr,
		"drydock: '%s' is not a drydock command; see 'drydock "
		"--help'\n",
		argv[0]);
	return 2;
}
