/*
 * cmd_migrate_store.c - "drydock migrate-store": copy an SQLite store
 * into a PostgreSQL database (store/copy.h), to move a site from one
 * machine to several.
 */
#include "cli/cli.h"
#include "store/copy.h"
#include "store/store.h"

#include <stdio.h>

static const char usage[] =
	"usage: drydock migrate-store --to LOCATION [--db PATH]\n"
	"\n"
	"Copy every row of the SQLite store (--db, DRYDOCK_DB) into the "
	"PostgreSQL\ndatabase at LOCATION (postgres://USER@HOST/DB or libpq's "
	"\"host=... dbname=...\"),\nwhich is brought to this drydock's schema "
	"first and must hold no blueprints,\nleases, targets, tokens or tasks "
	"yet.  Leases, resources, their logs, targets,\nartifacts and their "
	"files, tokens and queued work keep their ids; new objects\nget ids "
	"after them.  Stop every drydock daemon and server on the SQLite "
	"store\nfirst (a running one is refused: what it wrote after the copy "
	"would be lost);\nthe store is held locked while it is read.  All or "
	"nothing: on failure the\ndatabase is as it was.  Then start drydock "
	"with --db LOCATION; the SQLite file\nis left as it was.\n";

static void told(void *arg, const char *table, long long rows)
{
	(void)arg;
	printf("copied %lld row%s of %s\n", rows, rows == 1 ? "" : "s",
	       table);
	fflush(stdout);
}

int cmd_migrate_store(int argc, char **argv)
{
	const char *to = NULL;
	const struct cli_option options[] = {
		CLI_STRING("to", "LOCATION", &to,
			   "the PostgreSQL database to copy into (required)"),
		CLI_END,
	};
	const struct cli_spec spec = {
		.name = "migrate-store", .usage = usage, .options = options};
	struct dd_error err = DD_ERROR_INIT;
	char shown[256];

	cli_parse(&spec, argc, argv);
	if (!to || !*to)
		return cli_usage_error(usage, "--to LOCATION is required");
	if (dd_store_copy(cli_store_path(), to, told, NULL, &err))
		return cli_fail(&err);
	dd_store_location_shown(to, shown, sizeof(shown));
	printf("copied store '%s' into '%s': start drydock with --db "
	       "LOCATION now\n",
	       cli_store_path(), shown);
	return 0;
}
