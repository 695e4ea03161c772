/*
 * cmd_exec.c - "drydock exec": run a command through a lease's command
 * interface.
 */
#include "blueprint/blueprint.h"
#include "cli/cli.h"
#include "worker/worker.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>

static const char usage[] =
	"usage: drydock exec --lease ID [--db PATH] -- COMMAND [ARGS...]\n"
	"\n"
	"Run COMMAND on the resource leased by lease ID, in the lease's own "
	"working\ndirectory, with this terminal's input and output.  The "
	"lease must be active.\ndrydock exits with the command's exit status "
	"(128+N if a signal N ended it).\n";

int cmd_exec(int argc, char **argv)
{
	static const struct option opts[] = {
		{"lease", required_argument, NULL, 'l'},
		{"db", required_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease l = {0};
	struct dd_resource r = {0};
	struct dd_blueprint bp = {0};
	const struct dd_blueprint_type *t;
	struct dd_bp_ctx ctx;
	struct dd_store *s;
	char dir[PATH_MAX];
	long long id = 0;
	int c, rc, status = 0;

	while ((c = getopt_long(argc, argv, "+hl:", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			return cli_help(usage);
		case 'D':
			cli_set_store_path(optarg);
			break;
		case 'l':
			id = cli_parse_id(optarg);
			if (!id)
				return cli_usage_error(usage,
						       "bad lease id '%s'",
						       optarg);
			break;
		default:
			return cli_usage_error(usage, "bad option");
		}
	}
	if (!id)
		return cli_usage_error(usage, "--lease is required");
	if (optind >= argc)
		return cli_usage_error(usage, "no command to run");
	s = cli_open_store();
	rc = dd_store_lease_get(s, id, &l, &err);
	if (!rc && l.status != DD_LEASE_ACTIVE)
		rc = dd_error_set(&err, DD_ERR_STATE,
				  "cannot run a command on lease %lld: it is "
				  "%s, not active",
				  id, dd_lease_status_name(l.status));
	if (!rc)
		rc = dd_store_resource_get(s, l.resource, &r, &err);
	if (!rc)
		rc = dd_store_blueprint_get(s, r.blueprint, &bp, &err);
	t = rc ? NULL : dd_blueprint_type_find(bp.type);
	if (!rc && !t)
		rc = dd_error_set(&err, DD_ERR_INVALID,
				  "blueprint %lld has unknown type '%s'",
				  bp.id, bp.type);
	if (!rc) {
		dd_store_dir(cli_store_path(), dir, sizeof(dir));
		ctx.store = s;
		ctx.blueprint = &bp;
		ctx.state_dir = dir;
		rc = dd_bp_exec(t, &ctx, &r, &l, argv + optind, &status,
				&err);
	}
	dd_blueprint_release(&bp);
	dd_resource_release(&r);
	dd_lease_release(&l);
	dd_store_close(s);
	if (rc)
		return cli_fail(&err);
	return status;
}
