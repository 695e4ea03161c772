/*
 * cmd_init.c - "drydock init": create or upgrade the store.
 */
#include "cli/cli.h"
#include "core/util.h"
#include "worker/worker.h"

#include <limits.h>
#include <stdio.h>

static const char usage[] =
	"usage: drydock init [--db PATH] [--state-dir DIR]\n"
	"\n"
	"Create the store (and its directory, and the state directory) if "
	"missing, and\nbring its schema to the newest version.  Safe to run "
	"again: an up-to-date store\nis left as it is.\n";

int cmd_init(int argc, char **argv)
{
	static const struct cli_spec spec = {.name = "init", .usage = usage};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *s;
	char dir[PATH_MAX];
	int rc, before = 0, after = 0, newest;

	cli_parse(&spec, argc, argv);
	if (dd_store_local_dir(cli_store_path(), dir, sizeof(dir)) &&
	    dd_mkdir_p(dir))
		return cli_error(7, "cannot create directory '%s'", dir);
	rc = dd_store_open(cli_store_path(), NULL, &s, &err);
	/* a state directory given apart from the store's is made too */
	if (!rc && s->state_dir && dd_mkdir_p(s->state_dir)) {
		rc = cli_error(7, "cannot create directory '%s'", s->state_dir);
		dd_store_close(s);
		return rc;
	}
	if (!rc)
		rc = dd_store_schema_version(s, &before, &newest, &err);
	if (!rc)
		rc = dd_store_migrate(s, &err);
	if (!rc)
		rc = dd_store_schema_version(s, &after, &newest, &err);
	if (rc)
		return cli_fail(&err);
	dd_store_close(s);
	if (before == after)
		printf("store '%s' is up to date (schema version %d)\n",
		       cli_store_shown(), after);
	else if (before == 0)
		printf("created store '%s' (schema version %d)\n",
		       cli_store_shown(), after);
	else
		printf("upgraded store '%s' from schema version %d to %d\n",
		       cli_store_shown(), before, after);
	return 0;
}
