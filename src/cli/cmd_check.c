/*
 * cmd_check.c - "drydock check": look for damage in the whole store.
 *
 * A running drydock notices damage in the pages it happens to read, and
 * its periodic quick_check (DRYDOCK_CHECK_INTERVAL) leaves out the
 * indexes' contents; this reads everything, on demand, and never writes.
 */
#include "cli/cli.h"

#include <stdio.h>

static const char usage[] =
	"usage: drydock check [--quick] [--db PATH]\n"
	"\n"
	"Check the whole store for damage.  SQLite's integrity_check reads "
	"every page and\nchecks every index against its table; on PostgreSQL, "
	"which checks its own\npages, the schema version and every reference "
	"between rows are checked.  It\nonly reads, so it may run while "
	"drydock serves the store; on a big store it\ntakes a while (about 3 s "
	"of CPU per million finished leases).  Prints each\nproblem found "
	"(at most 100) and exits 0 when there is none, 15 when the store\nis "
	"damaged, 7 when it is missing or cannot be read.\n";

static void print_problem(void *arg, const char *text)
{
	(void)arg;
	printf("problem: %s\n", text);
}

int cmd_check(int argc, char **argv)
{
	struct dd_store_check c = {.problem = print_problem};
	const struct cli_option options[] = {
		CLI_FLAG("quick", &c.quick,
			 "quick_check instead: leaves out the indexes' "
			 "contents, about three times faster"),
		CLI_END,
	};
	const struct cli_spec spec = {
		.name = "check", .usage = usage, .options = options};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *s;
	int rc, current = 0, newest = 0;

	cli_parse(&spec, argc, argv);
	s = cli_open_store(); /* an empty or foreign file is damage too */
	rc = dd_store_schema_version(s, &current, &newest, &err);
	if (!rc)
		rc = dd_store_check(s, &c, &err);
	dd_store_close(s);
	fflush(stdout);
	if (rc)
		return cli_fail(&err);
	printf("store '%s' is intact: %s found no problems (schema version "
	       "%d)\n",
	       cli_store_shown(), c.what,
	       current);
	return 0;
}
