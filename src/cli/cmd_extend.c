/*
 * cmd_extend.c - "drydock extend-lease": move a lease's expiry.
 */
#include "api/api.h"
#include "cli/cli.h"
#include "core/util.h"

#include <getopt.h>
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
	static const struct option opts[] = {
		{"id", required_argument, NULL, 'i'},
		{"until", required_argument, NULL, 'u'},
		{"ttl", required_argument, NULL, 'T'},
		{"db", required_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_command cmd = {0};
	struct dd_store *s;
	double now = dd_now(), until = 0;
	long long id = 0;
	json_t *data;
	char who[128], when[32];
	int c, rc;

	while ((c = getopt_long(argc, argv, "hi:", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			return cli_help(usage);
		case 'D':
			cli_set_store_path(optarg);
			break;
		case 'i':
			if (!(id = cli_parse_id(optarg)))
				return cli_usage_error(usage, "bad id '%s'",
						       optarg);
			break;
		case 'u':
		case 'T':
			if (cli_expiry_arg(usage, c == 'T', optarg, now,
					   &until))
				return 2;
			break;
		default:
			return cli_usage_error(usage, "bad option");
		}
	}
	if (!id || !until || optind < argc)
		return cli_usage_error(usage, "give --id and --until or --ttl");
	s = cli_open_store();
	dd_api_cli_identity(who, sizeof(who));
	data = json_pack("{s:f}", "until", until);
	rc = dd_api_send(s, (struct dd_ref){DD_OBJ_LEASE, id}, "extend", who,
			 data, &cmd, &err);
	json_decref(data);
	dd_store_close(s);
	if (rc)
		return cli_fail(&err);
	dd_time_format(until, when);
	printf("queued extension of lease %lld to %s (command %lld)\n", id,
	       when, cmd.id);
	dd_command_release(&cmd);
	return 0;
}
