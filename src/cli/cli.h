/*
 * cli.h - what the subcommands share: the command table entry, the store
 * path, option helpers, error reporting and object rendering.
 *
 * Each subcommand lives in cmd_<name>.c as `int cmd_<name>(int argc,
 * char **argv)`, with argv[0] the command name.  Commands are thin: they
 * parse options, call library code (api/, store/, blueprint/) and print.
 * Their options are a table that cli_parse() (options.h) reads, which
 * also takes --db and --help and writes the option list of --help.
 * They exit through cli_fail() with the status dd_err_exit_status() gives,
 * so scripts can tell "no such lease" (3) from "illegal state change" (4)
 * from "store locked" (6) or "store unusable" (7); usage errors are 2.
 */
#ifndef DD_CLI_H
#define DD_CLI_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>

#include "api/idem.h"
#include "cli/options.h"
#include "core/error.h"
#include "core/model.h"
#include "store/store.h"

struct cli_command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

int cmd_artifact(int argc, char **argv);
int cmd_blueprint(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_cp(int argc, char **argv);
int cmd_daemon(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_extend_lease(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_lease(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_migrate_store(int argc, char **argv);
int cmd_reclaim(int argc, char **argv);
int cmd_release_lease(int argc, char **argv);
int cmd_release_resource(int argc, char **argv);
int cmd_resource(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_target(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_update_lease(int argc, char **argv);
int cmd_update_resource(int argc, char **argv);

/*
 * The store path: --db, else $DRYDOCK_DB unless empty, else the documented
 * default.  cli_set_store_path() exits 2 on an empty --db.
 */
const char *cli_store_path(void);
/* The same as messages show it: a PostgreSQL password hidden. */
const char *cli_store_shown(void);
void cli_set_store_path(const char *path);
/*
 * --state-dir DIR: the store's state directory (store.h) for every store
 * this process opens, made absolute, as DRYDOCK_STATE_DIR, which it sets
 * (so that it holds for the whole process).  Exits 2 on an empty DIR.
 */
void cli_set_state_dir(const char *dir);

/* Open the store, or print why not and exit. */
struct dd_store *cli_open_store(void);

/* Print "drydock: MSG" and return the exit status for `err`. */
int cli_fail(const struct dd_error *err);
/* Print "drydock: MSG" (printf-style) and return `status`. */
int cli_error(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Print a usage error and the usage line to stderr; return 2. */
int cli_usage_error(const char *usage, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Parse a positive object id; returns 0 on a bad one. */
long long cli_parse_id(const char *s);
/* A whole number from min to max (min >= 1) into *out; false if not. */
bool cli_parse_count(const char *arg, long long min, long long max, int *out);
/*
 * --attr KEY=VALUE: a string attribute set in the JSON object o->value;
 * a missing '=' or an empty or over-long key is a usage error.
 */
int cli_opt_attr(const struct cli_option *o, const char *kv,
		 struct dd_error *err);
/*
 * --attributes JSON|@FILE: a JSON object into *(json_t **)o->value (a
 * later one replaces an earlier one, as for any option); the caller
 * merges it over the --attr ones and drops it.
 */
int cli_opt_attributes(const struct cli_option *o, const char *arg,
		       struct dd_error *err);
/*
 * An expiry from `--until TIME` or `--ttl DURATION`, as core/input.h
 * reads them, taking `now` as the present.  The options refuse a second
 * expiry, a bad one, and one in the past or more than ten years away.
 */
struct cli_expiry {
	double now;
	double until; /* 0: none given */
	const char *until_arg, *ttl_arg; /* as given, or NULL */
};
int cli_opt_expiry(const struct cli_option *o, const char *arg,
		   struct dd_error *err);
#define CLI_EXPIRY_OPTIONS(e)                                                  \
	CLI_CALLBACK("until", "TIME", cli_opt_expiry, (e),                     \
		     "expire at TIME: YYYY-MM-DDTHH:MM:SSZ (UTC), @EPOCH or "  \
		     "+DURATION"),                                             \
		CLI_CALLBACK("ttl", "DURATION", cli_opt_expiry, (e),           \
			     "expire DURATION from now: seconds (90) or with " \
			     "units d, h, m, s (30m, 1h30m, 2d); at most ten " \
			     "years")
/*
 * Parse JSON given inline or as @FILE ("@-" for stdin), as the HTTP API
 * parses a body: no duplicate keys, nested at most DD_JSON_MAX_NESTING.
 * `what` names the option in messages ("--attributes").
 */
json_t *cli_parse_json_arg(const char *arg, const char *what,
			   struct dd_error *err);

/*
 * --idempotency-key: prepare `k` for a create from `key` (NULL when the
 * option was not given), bound to the CLI's caller "cli:USER@HOST",
 * `request` ("drydock lease") and the command's parameters `params`
 * (taken: pass the options as given, so that a rerun of the same command
 * hashes the same).  *out is `k`, or NULL without a key.  Returns 0, or
 * the exit status after printing why the key is refused.
 */
int cli_idem(struct dd_idem *k, const char *key, const char *request,
	     json_t *params, struct dd_idem **out);

struct dd_wake;
/*
 * Wait until lease `id` is active, showing its progress on stderr: on a
 * terminal one line with a spinner and the newest log entry (cleared at
 * the end), otherwise each log entry as a line.  `wake` must have been
 * listening since before the lease was queued, so no change is missed.
 * Returns 0 once the lease is active; DD_ERR_BROKEN when it ended broken
 * or destroyed instead ("lease 12 is destroyed: REASON"); and
 * DD_ERR_INTERRUPTED once *interrupted is set (by a signal handler),
 * leaving the lease as it is for the caller to release.
 */
int cli_lease_wait(struct dd_store *s, struct dd_wake *wake, long long id,
		   volatile sig_atomic_t *interrupted, struct dd_error *err);

/*
 * A list being printed, a row at a time: as a table, or as the API's
 * page object ({"items": [...], "next_cursor": ...}) with one item a
 * line.  The query asks for one row more than the page, so that
 * `more` tells whether a next page starts below (or above) `last`.
 */
struct cli_listing {
	bool json;
	size_t limit; /* rows to print; 0 for all */
	size_t n;     /* printed so far */
	long long last;
	bool more;
};
void cli_listing_start(struct cli_listing *ls, const char *header);
/* Whether to print the row `id`: false for the row past the page. */
bool cli_listing_row(struct cli_listing *ls, long long id);
/* Print one JSON item, taking ownership of it. */
int cli_listing_item(json_t *o, struct dd_error *err);
/*
 * Close the list; `rc` is how the walk ended (< 0: failed, with `err`);
 * `what` names the rows in the "more" hint on stderr.  Returns the exit
 * status.
 */
int cli_listing_end(struct cli_listing *ls, int rc, struct dd_error *err,
		    const char *what);

/*
 * Stopping a running command on SIGINT, SIGTERM or SIGHUP (stop.c): the
 * first such signal goes into cli_stop_signal, and each writes a byte to
 * `notify`, whose other end `cancel` is what core/exec.h's cancel_fd
 * watches; others may write to `notify` to stop the command the same way.
 */
struct cli_stop {
	int cancel; /* read end, for dd_exec_options.cancel_fd */
	int notify; /* write end */
};
#define CLI_STOP_INIT {-1, -1}
extern volatile sig_atomic_t cli_stop_signal;
int cli_stop_on_signals(struct cli_stop *st, struct dd_error *err);
/* Restore the signals' default actions and close the pipe; idempotent. */
void cli_stop_close(struct cli_stop *st);

/* Print `v` as indented JSON on stdout and take ownership of it. */
void cli_print_json(json_t *v);

/*
 * Lists and logs come in pages, newest first, as in the API
 * (docs/http-api.md#pagination): at most `limit` rows (0: no limit) with
 * ids below `cursor` (0: from the newest).  The id of a page's last row
 * is the cursor of the next page, so a page never shifts when rows are
 * added meanwhile.
 */
#define CLI_PAGE_DEFAULT 50 /* as the API's */
struct cli_page {
	size_t limit;
	long long cursor;
	bool given; /* by --limit or --cursor */
};
#define CLI_PAGE_INIT {.limit = CLI_PAGE_DEFAULT}
/* --limit's argument: a whole number, 0 for no limit; false if not. */
bool cli_parse_limit(const char *arg, size_t *out);
/* Option callbacks for --limit N and --cursor C into a struct cli_page. */
int cli_opt_limit(const struct cli_option *o, const char *arg,
		  struct dd_error *err);
int cli_opt_cursor(const struct cli_option *o, const char *arg,
		   struct dd_error *err);
/*
 * Make `f` ask for page `p`: newest first, below the cursor, and one row
 * more than the page holds, which tells whether another page follows.
 */
void cli_page_filter(struct dd_filter *f, const struct cli_page *p);
/* A next cursor as JSON: the id as a string, or null for none (0). */
json_t *cli_cursor_json(long long next);

/*
 * Pages of an object's history: `f` selects (its lease, resource or
 * blueprint), `p` gives the page; *next is set to the next page's cursor,
 * 0 when this is the last.  On failure *out is empty.
 */
int cli_log_page(struct dd_store *s, struct dd_filter *f,
		 const struct cli_page *p, struct dd_log_entry_list *out,
		 long long *next, struct dd_error *err);
int cli_lease_page(struct dd_store *s, struct dd_filter *f,
		   const struct cli_page *p, struct dd_lease_list *out,
		   long long *next, struct dd_error *err);
int cli_resource_page(struct dd_store *s, struct dd_filter *f,
		      const struct cli_page *p, struct dd_resource_list *out,
		      long long *next, struct dd_error *err);

/*
 * Full renderings, with commands and slot locks, and the page `p` (NULL:
 * the newest CLI_PAGE_DEFAULT) of the log ("log", "log_next_cursor").  A
 * resource adds its newest leases ("leases", "leases_next_cursor"), a
 * blueprint its newest resources ("resources", "resources_next_cursor"),
 * p->limit of them; `list` pages on through those.
 */
json_t *cli_lease_json(struct dd_store *s, const struct dd_lease *l,
		       const struct cli_page *p);
json_t *cli_resource_json(struct dd_store *s, const struct dd_resource *r,
			  const struct cli_page *p);
json_t *cli_blueprint_json(struct dd_store *s, const struct dd_blueprint *b,
			   const struct cli_page *p);

/* Human renderings. */
/* An artifact as a row of `artifact list` and `target show` (cmd_artifact.c). */
void cli_print_artifact_row(const struct dd_artifact *a);
void cli_print_log_entry(FILE *f, const struct dd_log_entry *e);
void cli_print_time(FILE *f, const char *label, double t);
/*
 * A section of `show`: "log (3)", or when page `p` is followed by another
 * (`next`), the command `more` that shows it: "log (newest 50; older:
 * drydock show lease 7 --cursor 812)".
 */
void cli_print_heading(const char *what, size_t n, long long next,
		       const char *more, const struct cli_page *p);
/* Page `p` of `f`'s log under such a heading, newest first. */
void cli_print_log_page(struct dd_store *s, struct dd_filter *f,
			const struct cli_page *p, const char *more);

/* "show blueprint ID" and "blueprint show ID": page `p` of its history. */
int cli_blueprint_show(struct dd_store *s, long long id, bool json,
		       const struct cli_page *p);

#endif
