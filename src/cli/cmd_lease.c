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

#include <getopt.h>
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
	"while waiting releases the lease (exit 130).\n"
	"\n"
	"  --attr KEY=VALUE     a string attribute (repeatable), e.g. "
	"--attr host=a\n"
	"  --attributes JSON    attributes as a JSON object, inline or "
	"@FILE\n"
	"  --blueprint ID       only these blueprints may serve it "
	"(repeatable)\n"
	"  --until TIME         expire at TIME: YYYY-MM-DDTHH:MM:SSZ (UTC), "
	"@EPOCH or\n"
	"                       +DURATION\n"
	"  --ttl DURATION       expire DURATION from now: seconds (90) or "
	"with units\n"
	"                       d, h, m, s (30m, 1h30m, 2d); at most ten "
	"years\n"
	"  --no-wait            queue the lease, print its id and return\n"
	"  --idempotency-key KEY\n"
	"                       if this user on this host already queued a "
	"lease with KEY\n                       (within 24 hours, same "
	"options), go on with that lease\n                       instead of "
	"queueing another; KEY is 1 to 255 printable ASCII\n";

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Print log entries newer than *after; returns the last reason seen. */
static void stream_log(struct dd_store *s, long long id, long long *after,
		       char *reason, size_t n)
{
	struct dd_filter f = {0};
	struct dd_log_entry_list l = {0};

	f.lease = id;
	f.after_id = *after;
	if (dd_store_log_list(s, &f, &l, NULL))
		return;
	for (size_t i = 0; i < l.n; i++) {
		json_t *r = json_object_get(l.items[i].data, "reason");

		cli_print_log_entry(stderr, &l.items[i]);
		if (json_is_string(r))
			snprintf(reason, n, "%s", json_string_value(r));
		*after = l.items[i].id;
	}
	dd_log_entry_list_release(&l);
}

static int wait_active(struct dd_store *s, struct dd_wake *wake, long long id,
		       bool json)
{
	struct dd_error err = DD_ERROR_INIT;
	char reason[600] = "";
	char what[48];
	long long after = 0;
	bool warned = false;
	double settle = 0; /* when we stop waiting for a broken lease's end */

	snprintf(what, sizeof(what), "lease:%lld", id);
	/* before the first look: only this lease's changes wake us */
	dd_wake_watch(wake, what);
	for (;;) {
		struct dd_lease l = {0};
		int rc;

		stream_log(s, id, &after, reason, sizeof(reason));
		rc = dd_store_lease_get(s, id, &l, &err);
		if (rc && rc != DD_ERR_BUSY)
			return cli_fail(&err);
		if (!rc && l.status == DD_LEASE_ACTIVE) {
			if (json)
				cli_print_json(cli_lease_json(s, &l, NULL));
			else
				printf("%lld\n", l.id);
			dd_lease_release(&l);
			return 0;
		}
		/*
		 * A broken lease is destroyed by the same worker pass, a
		 * moment later: report where it ends, not the step between
		 * (but do not hang if destroying it fails and is retried).
		 */
		if (!rc && l.status == DD_LEASE_BROKEN && !settle)
			settle = dd_monotonic() + 2.0;
		if (!rc && !dd_lease_status_live(l.status) &&
		    !(l.status == DD_LEASE_BROKEN && dd_monotonic() < settle)) {
			enum dd_lease_status st = l.status;

			dd_lease_release(&l);
			if (json) {
				struct dd_lease again = {0};

				if (!dd_store_lease_get(s, id, &again, NULL))
					cli_print_json(
						cli_lease_json(s, &again, NULL));
				dd_lease_release(&again);
			}
			return cli_error(dd_err_exit_status(DD_ERR_BROKEN),
					 "lease %lld is %s%s%s", id,
					 dd_lease_status_name(st),
					 reason[0] ? ": " : "", reason);
		}
		dd_lease_release(&l);
		if (interrupted) {
			char who[128];

			dd_api_cli_identity(who, sizeof(who));
			fprintf(stderr,
				"drydock: interrupted; releasing lease %lld\n",
				id);
			if (dd_api_send(s, (struct dd_ref){DD_OBJ_LEASE, id},
					"release", who, NULL, NULL, &err))
				cli_fail(&err);
			return 130;
		}
		if (!warned && dd_wake_count(cli_store_path(),
					     DD_WAKE_DAEMON) == 0) {
			fprintf(stderr,
				"drydock: no daemon is running for store "
				"'%s'; lease %lld waits until one starts "
				"('drydock daemon')\n",
				cli_store_path(), id);
			warned = true;
		}
		/*
		 * Woken by each worker pass on this lease; the timeout only
		 * bounds the damage of a lost wake-up.
		 */
		dd_wake_wait_for(wake, what,
				 settle ? settle - dd_monotonic() + 0.001 : 2.0);
	}
}

static int add_attr(json_t *attrs, const char *kv, struct dd_error *err)
{
	const char *eq = strchr(kv, '=');
	char key[256];

	if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key))
		return dd_error_set(err, DD_ERR_INVALID,
				    "--attr takes KEY=VALUE, not '%s'", kv);
	snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
	json_object_set_new(attrs, key, json_string(eq + 1));
	return 0;
}

int cmd_lease(int argc, char **argv)
{
	static const struct option opts[] = {
		{"type", required_argument, NULL, 't'},
		{"attr", required_argument, NULL, 'a'},
		{"attributes", required_argument, NULL, 'A'},
		{"blueprint", required_argument, NULL, 'b'},
		{"until", required_argument, NULL, 'u'},
		{"ttl", required_argument, NULL, 'T'},
		{"no-wait", no_argument, NULL, 'n'},
		{"idempotency-key", required_argument, NULL, 'k'},
		{"json", no_argument, NULL, 'j'},
		{"db", required_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease_request req = {0};
	struct dd_lease lease = {0};
	struct dd_wake *wake = NULL;
	struct dd_idem key;
	struct sigaction sa = {0};
	const char *key_arg = NULL, *until_arg = NULL, *ttl_arg = NULL;
	json_t *attrs = json_object(), *extra = NULL, *bps = NULL;
	struct dd_store *s;
	bool wait = true, json = false;
	char who[128];
	double now = dd_now();
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			rc = cli_help(usage);
			goto out;
		case 'D':
			cli_set_store_path(optarg);
			break;
		case 't':
			req.type = optarg;
			break;
		case 'a':
			if (add_attr(attrs, optarg, &err)) {
				rc = cli_fail(&err);
				goto out;
			}
			break;
		case 'A':
			json_decref(extra);
			extra = cli_parse_json_arg(optarg, "--attributes",
						   &err);
			if (!extra) {
				rc = cli_fail(&err);
				goto out;
			}
			if (!json_is_object(extra)) {
				rc = cli_error(2, "--attributes must be a JSON "
						  "object");
				goto out;
			}
			break;
		case 'b': {
			long long id = cli_parse_id(optarg);

			if (!id) {
				rc = cli_usage_error(usage,
						     "bad blueprint id '%s'",
						     optarg);
				goto out;
			}
			if (!bps)
				bps = json_array();
			json_array_append_new(bps, json_integer(id));
			break;
		}
		case 'k':
			key_arg = optarg;
			break;
		case 'u':
		case 'T':
			if (c == 'T')
				ttl_arg = optarg;
			else
				until_arg = optarg;
			rc = cli_expiry_arg(usage, c == 'T', optarg, now,
					    &req.until);
			if (rc)
				goto out;
			break;
		case 'n':
			wait = false;
			break;
		case 'j':
			json = true;
			break;
		default:
			rc = cli_usage_error(usage, "bad option");
			goto out;
		}
	}
	if (optind < argc) {
		rc = cli_usage_error(usage, "unexpected argument '%s'",
				     argv[optind]);
		goto out;
	}
	if (!req.type) {
		rc = cli_usage_error(usage, "--type is required");
		goto out;
	}
	if (extra)
		json_object_update(attrs, extra);
	req.attributes = attrs;
	req.blueprints = bps;
	dd_api_cli_identity(who, sizeof(who));
	req.owner = who;
	/* the options as given: "--ttl 60" hashes the same when rerun */
	rc = cli_idem(&key, key_arg, "drydock lease",
		      json_pack("{s:s,s:O,s:O?,s:s?,s:s?}", "type", req.type,
				"attributes", attrs, "blueprints", bps,
				"until", until_arg, "ttl", ttl_arg),
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
	json_decref(attrs);
	json_decref(extra);
	json_decref(bps);
	return rc;
}
