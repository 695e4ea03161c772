/*
 * cmd_lease.c - "drydock lease": ask for a lease and wait until it is
 * active, streaming its log.
 *
 * The wait is event-driven: the command listens on the store's wake socket
 * (queue/wake.h) before it queues the lease, and re-reads the lease each
 * time a worker announces a change.  Ctrl-C before activation sends the
 * lease a release command, so an abandoned request never holds a resource.
 */
#include "api/api.h"
#include "cli/cli.h"
#include "core/util.h"
#include "queue/wake.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: drydock lease --type TYPE [--attr KEY=VALUE]... "
	"[--attributes JSON|@FILE]\n"
	"                     [--blueprint ID]... [--until TIME | --ttl "
	"DURATION] [--no-wait]\n"
	"                     [--idempotency-key KEY] [--json] [--db PATH]\n"
	"\n"
	"Ask for a lease on a resource of TYPE and wait until it is active, "
	"printing\nthe lease's log to stderr as it happens.  Then print the "
	"lease id (or, with\n--json, the lease) and exit 0.  If the lease "
	"ends broken or destroyed instead,\nprint why and exit 12.  Ctrl-C "
	"while waiting releases the lease (exit 130).\n";

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/*
 * Wait for lease `id` (cli_lease_wait) and print it once active.  A
 * lease that ends instead is reported (with --json, as it ended) with
 * exit status 12; an interrupted wait releases the lease and exits 130.
 */
static int wait_active(struct dd_store *s, struct dd_wake *wake, long long id,
		       bool json)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease l = {0};
	int rc = cli_lease_wait(s, wake, id, &interrupted, &err);

	if (rc == DD_ERR_INTERRUPTED) {
		char who[128];

		dd_api_cli_identity(who, sizeof(who));
		fprintf(stderr, "drydock: interrupted; releasing lease %lld\n",
			id);
		dd_error_clear(&err);
		if (dd_api_send(s, (struct dd_ref){DD_OBJ_LEASE, id},
				"release", who, NULL, NULL, &err))
			cli_fail(&err);
		return 130;
	}
	if (rc && rc != DD_ERR_BROKEN)
		return cli_fail(&err);
	if (json && !dd_store_lease_get(s, id, &l, NULL))
		cli_print_json(cli_lease_json(s, &l, NULL));
	else if (!rc)
		printf("%lld\n", id);
	dd_lease_release(&l);
	return rc ? cli_fail(&err) : 0;
}

int cmd_lease(int argc, char **argv)
{
	struct dd_lease_request req = {0};
	struct cli_expiry expiry = {.now = dd_now()};
	struct cli_ids blueprints = {0};
	const char *key_arg = NULL;
	json_t *attrs = json_object(), *extra = NULL, *bps = NULL;
	bool no_wait = false, json = false;
	const struct cli_option options[] = {
		CLI_STRING("type", "TYPE", &req.type,
			   "the type of resource to lease (required)"),
		CLI_CALLBACK("attr", "KEY=VALUE", cli_opt_attr, attrs,
			     "a string attribute (repeatable), e.g. --attr "
			     "host=a"),
		CLI_CALLBACK("attributes", "JSON", cli_opt_attributes, &extra,
			     "attributes as a JSON object, inline or @FILE"),
		CLI_IDS("blueprint", &blueprints,
			"only these blueprints may serve it (repeatable)"),
		CLI_EXPIRY_OPTIONS(&expiry),
		CLI_FLAG("no-wait", &no_wait,
			 "queue the lease, print its id and return"),
		CLI_STRING("idempotency-key", "KEY", &key_arg,
			   "if this user on this host already queued a lease "
			   "with KEY (within 24 hours, same options), go on "
			   "with that lease instead of queueing another; KEY "
			   "is 1 to 255 printable ASCII"),
		CLI_END,
	};
	const struct cli_spec spec = {.name = "lease",
				      .usage = usage,
				      .options = options,
				      .json = &json,
				      .json_help = "print the lease, as 'show "
						   "lease --json' does"};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease lease = {0};
	struct dd_wake *wake = NULL;
	struct dd_idem key;
	struct sigaction sa = {0};
	struct dd_store *s;
	bool wait;
	char who[128];
	int rc;

	cli_parse(&spec, argc, argv);
	wait = !no_wait;
	if (!req.type) {
		rc = cli_usage_error(usage, "--type is required");
		goto out;
	}
	for (size_t i = 0; i < blueprints.n; i++) {
		if (!bps)
			bps = json_array();
		json_array_append_new(bps, json_integer(blueprints.v[i]));
	}
	if (extra)
		json_object_update(attrs, extra);
	req.attributes = attrs;
	req.blueprints = bps;
	req.until = expiry.until;
	dd_api_cli_identity(who, sizeof(who));
	req.owner = who;
	/* the options as given: "--ttl 60" hashes the same when rerun */
	rc = cli_idem(&key, key_arg, "drydock lease",
		      json_pack("{s:s,s:O,s:O?,s:s?,s:s?}", "type", req.type,
				"attributes", attrs, "blueprints", bps,
				"until", expiry.until_arg, "ttl",
				expiry.ttl_arg),
		      &req.idem);
	if (rc)
		goto out;

	s = cli_open_store();
	if (wait) {
		/* listen before queueing so no wake-up can be missed */
		rc = dd_wake_listen(cli_store_path(), DD_WAKE_WATCHER, &wake,
				    &err);
		if (rc) {
			dd_store_close(s);
			rc = cli_fail(&err);
			goto out;
		}
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
	}
	rc = dd_api_lease_create(s, &req, &lease, &err);
	if (rc) {
		rc = cli_fail(&err);
	} else if (!wait) {
		if (json)
			cli_print_json(cli_lease_json(s, &lease, NULL));
		else
			printf("%lld\n", lease.id);
	} else {
		if (req.idem && req.idem->replayed)
			fprintf(stderr,
				"drydock: lease %lld was already queued with "
				"idempotency key '%s'\n",
				lease.id, key_arg);
		else
			fprintf(stderr, "drydock: queued lease %lld\n",
				lease.id);
		rc = wait_active(s, wake, lease.id, json);
	}
	dd_lease_release(&lease);
	dd_wake_close(wake);
	dd_store_close(s);
out:
	cli_ids_release(&blueprints);
	json_decref(attrs);
	json_decref(extra);
	json_decref(bps);
	return rc;
}
