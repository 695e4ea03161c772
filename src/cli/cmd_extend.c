/*
 * cmd_extend.c - "drydock extend-lease": move a lease's expiry.
 */
#include "api/api.h"
#include "cli/cli.h"
#include "core/util.h"

#include <stdio.h>

static const char usage[] =
	"usage: drydock extend-lease --id ID (--until TIME | --ttl DURATION) "
	"[--db PATH]\n"
	"\n"
	"Queue an extend command: the daemon moves the lease's expiry to "
	"TIME\n(YYYY-MM-DDTHH:MM:SSZ, @EPOCH or +DURATION) or to DURATION "
	"from now (90, 30m,\n1h30m, 2d).  Only a pending, acquired or active "
	"lease can be extended, and\nonly into the future, at most ten years "
	"ahead.\n";

int cmd_extend_lease(int argc, char **argv)
{
	struct cli_expiry until = {.now = dd_now()};
	long long id = 0;
	const struct cli_option options[] = {
		CLI_ID("id", &id, "the lease"),
		CLI_EXPIRY_OPTIONS(&until),
		CLI_END,
	};
	const struct cli_spec spec = {
		.name = "extend-lease", .usage = usage, .options = options};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_command cmd = {0};
	struct dd_store *s;
	json_t *data;
	char who[128], when[32];
	int rc;

	cli_parse(&spec, argc, argv);
	if (!id || !until.until)
		return cli_usage_error(usage, "give --id and --until or --ttl");
	s = cli_open_store();
	dd_api_cli_identity(who, sizeof(who));
	data = json_pack("{s:f}", "until", until.until);
	rc = dd_api_send(s, (struct dd_ref){DD_OBJ_LEASE, id}, "extend", who,
			 data, &cmd, &err);
	json_decref(data);
	dd_store_close(s);
	if (rc)
		return cli_fail(&err);
	dd_time_format(until.until, when);
	printf("queued extension of lease %lld to %s (command %lld)\n", id,
	       when, cmd.id);
	dd_command_release(&cmd);
	return 0;
}
