/*
 * wait.c - waiting for a lease to become active, showing its progress on
 * stderr (cli.h: cli_lease_wait): the wait of `drydock lease` and
 * `drydock run`.
 *
 * The wait is event-driven: the caller listens on the store's wake socket
 * (queue/wake.h) before it queues the lease, and the lease is re-read each
 * time a worker announces a change.  On a terminal the progress is one
 * line, redrawn in place with a spinner and the newest log entry, and
 * cleared at the end, so a CI log and a person's terminal both read well;
 * anywhere else each log entry is a line of its own.
 */
#include "cli/cli.h"
#include "core/util.h"
#include "queue/wake.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Seconds between redraws of the spinner. */
#define SPIN_INTERVAL 0.1

struct progress {
	bool tty;
	unsigned frame;
	long long id;
	char last[160]; /* the newest entry, for the spinner line */
	char reason[600];
	long long after;
};

static void spin(struct progress *p)
{
	static const char frames[] = "|/-\\";

	fprintf(stderr, "\r\033[K%c lease %lld: %s", frames[p->frame++ % 4],
		p->id, p->last);
	fflush(stderr);
}

static void clear_line(struct progress *p)
{
	if (p->tty) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
}

/* Show log entries newer than p->after; keep the last reason seen. */
static void show_log(struct dd_store *s, struct progress *p)
{
	struct dd_filter f = {0};
	struct dd_log_entry_list l = {0};

	f.lease = p->id;
	f.after_id = p->after;
	if (dd_store_log_list(s, &f, &l, NULL))
		return;
	for (size_t i = 0; i < l.n; i++) {
		json_t *r = json_object_get(l.items[i].data, "reason");

		if (p->tty)
			snprintf(p->last, sizeof(p->last), "%s%s%s",
				 l.items[i].type, json_is_string(r) ? ": " : "",
				 json_is_string(r) ? json_string_value(r) : "");
		else
			cli_print_log_entry(stderr, &l.items[i]);
		if (json_is_string(r))
			snprintf(p->reason, sizeof(p->reason), "%s",
				 json_string_value(r));
		p->after = l.items[i].id;
	}
	dd_log_entry_list_release(&l);
}

int cli_lease_wait(struct dd_store *s, struct dd_wake *wake, long long id,
		   volatile sig_atomic_t *interrupted, struct dd_error *err)
{
	struct progress p = {.tty = isatty(STDERR_FILENO), .id = id};
	char what[48];
	bool warned = false;
	double settle = 0; /* when we stop waiting for a broken lease's end */

	snprintf(what, sizeof(what), "lease:%lld", id);
	snprintf(p.last, sizeof(p.last), "queued");
	/* before the first look: only this lease's changes wake us */
	dd_wake_watch(wake, what);
	for (;;) {
		struct dd_lease l = {0};
		double timeout;
		int rc;

		/*
		 * The lease first, then its log: a worker writes a state and
		 * its log entry in one commit, so every entry up to the state
		 * read is shown (the other way round, an activation committed
		 * between the two looks ended the wait without its entry).
		 */
		rc = dd_store_lease_get(s, id, &l, err);
		show_log(s, &p);
		DD_CHAOS_STOP("lease_wait_shown");
		if (rc && rc != DD_ERR_BUSY) {
			clear_line(&p);
			return rc;
		}
		if (!rc && l.status == DD_LEASE_ACTIVE) {
			dd_lease_release(&l);
			clear_line(&p);
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
			clear_line(&p);
			return dd_error_set(err, DD_ERR_BROKEN,
					    "lease %lld is %s%s%s", id,
					    dd_lease_status_name(st),
					    p.reason[0] ? ": " : "", p.reason);
		}
		dd_lease_release(&l);
		if (*interrupted) {
			clear_line(&p);
			return dd_error_set(err, DD_ERR_INTERRUPTED,
					    "interrupted while waiting for "
					    "lease %lld",
					    id);
		}
		if (!warned && dd_wake_count_on(s, DD_WAKE_DAEMON) == 0) {
			clear_line(&p);
			fprintf(stderr,
				"drydock: no daemon is running for store "
				"'%s'; lease %lld waits until one starts "
				"('drydock daemon')\n",
				cli_store_path(), id);
			warned = true;
		}
		if (p.tty)
			spin(&p);
		/*
		 * Woken by each worker pass on this lease; the timeout only
		 * bounds the damage of a lost wake-up (and, on a terminal,
		 * turns the spinner).
		 */
		timeout = settle ? settle - dd_monotonic() + 0.001 : 2.0;
		if (p.tty && timeout > SPIN_INTERVAL)
			timeout = SPIN_INTERVAL;
		dd_wake_wait_for(wake, what, timeout);
	}
}
