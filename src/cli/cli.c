/*
 * cli.c - what the subcommands share (cli.h): finding and opening the
 * store, reporting errors with their exit status, parsing ids, counts,
 * expiries and JSON arguments, and printing objects, pages and logs as
 * text or as the API's JSON.
 */
#include "cli/cli.h"
#include "api/api.h"
#include "blueprint/prewarm.h"
#include "core/input.h"
#include "core/util.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *store_path;
static char default_path[4096];
static char absolute_path[4096];

/*
 * An empty --db is refused rather than skipped: it is most likely a
 * variable that is not set (--db "$DB"), and skipping it would act on the
 * default store instead of the one meant.
 */
void cli_set_store_path(const char *path)
{
	if (!*path)
		exit(cli_error(2, "--db needs a path, not an empty string"));
	store_path = path;
}

/*
 * Relative paths are made absolute, so that directories recorded in the
 * store (a host's root beside it) mean the same to every process.  A
 * location that is no file path (a PostgreSQL URI) is left as it is.
 */
static const char *absolute(const char *path)
{
	char cwd[2048];

	if (path[0] == '/' || !dd_store_local_dir(path, NULL, 0) ||
	    !getcwd(cwd, sizeof(cwd)))
		return path;
	snprintf(absolute_path, sizeof(absolute_path), "%s/%s", cwd, path);
	return absolute_path;
}

void cli_set_state_dir(const char *dir)
{
	char cwd[2048], abs[4096];

	if (!*dir)
		exit(cli_error(2, "--state-dir needs a directory, not an empty "
				  "string"));
	if (dir[0] != '/' && getcwd(cwd, sizeof(cwd))) {
		snprintf(abs, sizeof(abs), "%s/%s", cwd, dir);
		dir = abs;
	}
	if (setenv("DRYDOCK_STATE_DIR", dir, 1))
		exit(cli_error(1, "out of memory"));
}

const char *cli_store_shown(void)
{
	static char shown[PATH_MAX + 64];

	dd_store_location_shown(cli_store_path(), shown, sizeof(shown));
	return shown;
}

const char *cli_store_path(void)
{
	const char *env = getenv("DRYDOCK_DB");
	const char *data = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");

	if (store_path)
		return absolute(store_path);
	if (env && *env)
		return absolute(env);
	if (data && *data)
		snprintf(default_path, sizeof(default_path),
			 "%s/drydock/drydock.db", data);
	else
		snprintf(default_path, sizeof(default_path),
			 "%s/.local/share/drydock/drydock.db",
			 home && *home ? home : "/tmp");
	return default_path;
}

struct dd_store *cli_open_store(void)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *s = NULL;
	int rc = dd_store_open_ready(cli_store_path(), NULL, &s, &err);

	if (rc)
		exit(cli_fail(&err));
	return s;
}

int cli_fail(const struct dd_error *err)
{
	fprintf(stderr, "drydock: %s\n",
		err->msg[0] ? err->msg : dd_strerror(err->code));
	return dd_err_exit_status(err->code ? err->code : DD_ERR_IO);
}

int cli_error(int status, const char *fmt, ...)
{
	va_list ap;

	fputs("drydock: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

int cli_usage_error(const char *usage, const char *fmt, ...)
{
	va_list ap;
	const char *nl = strchr(usage, '\n');

	fputs("drydock: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%.*s\n", nl ? (int)(nl - usage) : (int)strlen(usage),
		usage);
	return 2;
}

long long cli_parse_id(const char *s)
{
	char *end;
	long long v;

	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v <= 0)
		return 0;
	return v;
}

bool cli_parse_count(const char *arg, long long min, long long max, int *out)
{
	long long v = cli_parse_id(arg);

	if (v < min || v > max)
		return false;
	*out = (int)v;
	return true;
}

int cli_opt_attr(const struct cli_option *o, const char *kv,
		 struct dd_error *err)
{
	const char *eq = strchr(kv, '=');
	char key[256];

	if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key))
		return dd_error_set(err, DD_ERR_INVALID,
				    "--attr takes KEY=VALUE, not '%s'", kv);
	snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
	if (json_object_set_new(o->value, key, json_string(eq + 1)))
		return dd_error_set(err, DD_ERR_INVALID,
				    "--attr %s: not valid UTF-8", key);
	return 0;
}

int cli_opt_attributes(const struct cli_option *o, const char *arg,
		       struct dd_error *err)
{
	json_t **extra = o->value;

	json_decref(*extra);
	*extra = cli_parse_json_arg(arg, "--attributes", err);
	if (!*extra)
		return err->code ? err->code : DD_ERR_NOMEM;
	if (!json_is_object(*extra))
		return dd_error_set(err, DD_ERR_INVALID,
				    "--attributes must be a JSON object");
	return 0;
}

int cli_opt_expiry(const struct cli_option *o, const char *arg,
		   struct dd_error *err)
{
	struct cli_expiry *e = o->value;
	bool ttl = !strcmp(o->name, "ttl");
	double v;
	int rc;

	if (e->until)
		return dd_error_set(err, DD_ERR_INVALID,
				    "give --until or --ttl, not both");
	rc = ttl ? dd_duration_parse(arg, &v, err)
		 : dd_time_parse(arg, e->now, &v, err);
	if (rc)
		return rc;
	if (ttl)
		v += e->now;
	rc = dd_expiry_check(v, e->now, err);
	if (rc)
		return rc;
	e->until = v;
	*(ttl ? &e->ttl_arg : &e->until_arg) = arg;
	return 0;
}

/*
 * The most text --attributes or --config takes.  The limit that matters
 * is on the value (DD_JSON_VALUE_MAX, as compact JSON), so a file may be
 * laid out at leisure; this one stops the reading of a file, so
 * "@/dev/zero" is refused rather than read until memory runs out (an
 * argument holds at most 128 KiB on Linux).
 */
#define CLI_JSON_TEXT_MAX (1024 * 1024)

/*
 * Read `path` ("-": standard input) into `text`, at most CLI_JSON_TEXT_MAX
 * bytes: `what` is too large when there are more.
 */
static int read_all(const char *path, const char *what, struct dd_buf *text,
		    struct dd_error *err)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	char chunk[8192];
	size_t n;
	int rc = 0;

	if (!f)
		return dd_error_set(err, DD_ERR_INVALID, "cannot read '%s': %s",
				    path, strerror(errno));
	while (!rc && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (text->len + n > CLI_JSON_TEXT_MAX)
			rc = dd_error_set(err, DD_ERR_INVALID,
					  "%s is larger than %d bytes", what,
					  CLI_JSON_TEXT_MAX);
		else if (dd_buf_add(text, chunk, n))
			rc = dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	if (!rc && ferror(f))
		rc = dd_error_set(err, DD_ERR_INVALID, "cannot read '%s': %s",
				  path, strerror(errno));
	if (f != stdin)
		fclose(f);
	return rc;
}

json_t *cli_parse_json_arg(const char *arg, const char *what,
			   struct dd_error *err)
{
	struct dd_buf text = DD_BUF_INIT;
	char name[512];
	json_t *v = NULL;

	if (arg[0] != '@') {
		dd_json_parse(arg, strlen(arg), what, &v, err);
		return v;
	}
	snprintf(name, sizeof(name), "%s '%.400s'", what, arg);
	if (!read_all(arg + 1, name, &text, err))
		dd_json_parse(text.buf ? text.buf : "", text.len, name, &v,
			      err);
	dd_buf_release(&text);
	return v;
}

int cli_idem(struct dd_idem *k, const char *key, const char *request,
	     json_t *params, struct dd_idem **out)
{
	struct dd_error err = DD_ERROR_INIT;
	char who[128];
	int rc = 0;

	*out = NULL;
	if (key) {
		dd_api_cli_identity(who, sizeof(who));
		if (dd_idem_init(k, key, who, request, params, &err))
			rc = cli_fail(&err);
		else
			*out = k;
	}
	json_decref(params);
	return rc;
}

void cli_print_json(json_t *v)
{
	if (!v) {
		fputs("drydock: out of memory\n", stderr);
		exit(1);
	}
	json_dumpf(v, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	json_decref(v);
}

static json_t *commands_json(struct dd_store *s, struct dd_ref ref)
{
	struct dd_filter f = {0};
	struct dd_command_list l = {0};
	json_t *a = json_array();

	f.target = ref;
	if (!dd_store_command_list(s, &f, &l, NULL))
		for (size_t i = 0; i < l.n; i++)
			json_array_append_new(a,
					      dd_command_to_json(&l.items[i]));
	dd_command_list_release(&l);
	return a;
}

static json_t *slots_json(struct dd_store *s, struct dd_ref ref)
{
	struct dd_filter f = {0};
	struct dd_slot_lock_list l = {0};
	json_t *a = json_array();

	f.target = ref;
	if (!dd_store_slot_list(s, &f, &l, NULL))
		for (size_t i = 0; i < l.n; i++)
			json_array_append_new(a, json_string(l.items[i].key));
	dd_slot_lock_list_release(&l);
	return a;
}

bool cli_parse_limit(const char *arg, size_t *out)
{
	long long v;

	if (!strcmp(arg, "0")) {
		*out = 0;
		return true;
	}
	v = cli_parse_id(arg);
	/* the query asks for one row more, which must fit SQLite's LIMIT */
	if (!v || v == LLONG_MAX)
		return false;
	*out = (size_t)v;
	return true;
}

int cli_opt_limit(const struct cli_option *o, const char *arg,
		  struct dd_error *err)
{
	struct cli_page *p = o->value;

	if (!cli_parse_limit(arg, &p->limit))
		return dd_error_set(err, DD_ERR_INVALID, "bad limit '%s'", arg);
	p->given = true;
	return 0;
}

int cli_opt_cursor(const struct cli_option *o, const char *arg,
		   struct dd_error *err)
{
	struct cli_page *p = o->value;

	p->cursor = cli_parse_id(arg);
	if (!p->cursor)
		return dd_error_set(err, DD_ERR_INVALID, "bad cursor '%s'",
				    arg);
	p->given = true;
	return 0;
}

void cli_page_filter(struct dd_filter *f, const struct cli_page *p)
{
	f->descending = true;
	f->before_id = p->cursor;
	f->limit = p->limit ? p->limit + 1 : 0;
}

json_t *cli_cursor_json(long long next)
{
	char buf[32];

	if (!next)
		return json_null();
	snprintf(buf, sizeof(buf), "%lld", next);
	return json_string(buf);
}

/*
 * The tail of a page query: a row past the page's end means there is a
 * next page, which starts below the page's last row.
 */
#define PAGE_END(l, p, release, next)                                          \
	do {                                                                   \
		*(next) = 0;                                                   \
		if ((p)->limit && (l)->n > (p)->limit) {                       \
			while ((l)->n > (p)->limit)                            \
				release(&(l)->items[--(l)->n]);                \
			*(next) = (l)->items[(l)->n - 1].id;                   \
		}                                                              \
	} while (0)

int cli_log_page(struct dd_store *s, struct dd_filter *f,
		 const struct cli_page *p, struct dd_log_entry_list *out,
		 long long *next, struct dd_error *err)
{
	int rc;

	cli_page_filter(f, p);
	rc = dd_store_log_list(s, f, out, err);
	if (rc) {
		dd_log_entry_list_release(out);
		return rc;
	}
	PAGE_END(out, p, dd_log_entry_release, next);
	return 0;
}

int cli_lease_page(struct dd_store *s, struct dd_filter *f,
		   const struct cli_page *p, struct dd_lease_list *out,
		   long long *next, struct dd_error *err)
{
	int rc;

	cli_page_filter(f, p);
	rc = dd_store_lease_list(s, f, out, err);
	if (rc)
		return rc;
	PAGE_END(out, p, dd_lease_release, next);
	return 0;
}

int cli_resource_page(struct dd_store *s, struct dd_filter *f,
		      const struct cli_page *p, struct dd_resource_list *out,
		      long long *next, struct dd_error *err)
{
	int rc;

	cli_page_filter(f, p);
	rc = dd_store_resource_list(s, f, out, err);
	if (rc)
		return rc;
	PAGE_END(out, p, dd_resource_release, next);
	return 0;
}

static const struct cli_page default_page = CLI_PAGE_INIT;

/* Set "log" and "log_next_cursor" of `o` to page `p` of `f`'s log. */
static void log_json(struct dd_store *s, json_t *o, struct dd_filter *f,
		     const struct cli_page *p)
{
	struct dd_log_entry_list l = {0};
	json_t *a = json_array();
	long long next = 0;

	if (!cli_log_page(s, f, p, &l, &next, NULL))
		for (size_t i = 0; i < l.n; i++)
			json_array_append_new(
				a, dd_log_entry_to_json(&l.items[i]));
	dd_log_entry_list_release(&l);
	json_object_set_new(o, "log", a);
	json_object_set_new(o, "log_next_cursor", cli_cursor_json(next));
}

json_t *cli_lease_json(struct dd_store *s, const struct dd_lease *l,
		       const struct cli_page *p)
{
	json_t *o = dd_lease_to_json(l);
	struct dd_filter f = {0};

	f.lease = l->id;
	json_object_set_new(o, "slot_locks",
			    slots_json(s, (struct dd_ref){DD_OBJ_LEASE, l->id}));
	json_object_set_new(o, "commands",
			    commands_json(s, (struct dd_ref){DD_OBJ_LEASE,
							     l->id}));
	log_json(s, o, &f, p ? p : &default_page);
	return o;
}

json_t *cli_resource_json(struct dd_store *s, const struct dd_resource *r,
			  const struct cli_page *p)
{
	json_t *o = dd_resource_to_json(r);
	struct dd_filter f = {0};
	struct dd_lease_list leases = {0};
	struct cli_page newest;
	json_t *ids = json_array();
	long long next = 0;

	p = p ? p : &default_page;
	newest = (struct cli_page){.limit = p->limit};
	f.resource = r->id;
	if (!cli_lease_page(s, &f, &newest, &leases, &next, NULL))
		for (size_t i = 0; i < leases.n; i++)
			json_array_append_new(
				ids, json_pack("{s:I, s:s}", "id",
					       leases.items[i].id, "status",
					       dd_lease_status_name(
						       leases.items[i].status)));
	dd_lease_list_release(&leases);
	json_object_set_new(o, "leases", ids);
	json_object_set_new(o, "leases_next_cursor", cli_cursor_json(next));
	json_object_set_new(
		o, "slot_locks",
		slots_json(s, (struct dd_ref){DD_OBJ_RESOURCE, r->id}));
	json_object_set_new(o, "commands",
			    commands_json(s, (struct dd_ref){DD_OBJ_RESOURCE,
							     r->id}));
	memset(&f, 0, sizeof(f));
	f.resource = r->id;
	log_json(s, o, &f, p);
	return o;
}

json_t *cli_blueprint_json(struct dd_store *s, const struct dd_blueprint *b,
			   const struct cli_page *p)
{
	json_t *o = dd_blueprint_to_json(b);
	struct dd_filter f = {0};
	struct dd_resource_list rs = {0};
	struct cli_page newest;
	json_t *ids = json_array(), *pool;
	long long next = 0;

	p = p ? p : &default_page;
	newest = (struct cli_page){.limit = p->limit};
	f.blueprint = b->id;
	if (!cli_resource_page(s, &f, &newest, &rs, &next, NULL))
		for (size_t i = 0; i < rs.n; i++)
			json_array_append_new(
				ids,
				json_pack("{s:I, s:s}", "id", rs.items[i].id,
					  "status",
					  dd_resource_status_name(
						  rs.items[i].status)));
	dd_resource_list_release(&rs);
	json_object_set_new(o, "resources", ids);
	json_object_set_new(o, "resources_next_cursor",
			    cli_cursor_json(next));
	if (!dd_prewarm_status(s, b, &pool, NULL))
		json_object_set_new(o, "pool", pool);
	memset(&f, 0, sizeof(f));
	f.blueprint = b->id;
	log_json(s, o, &f, p);
	return o;
}

void cli_print_time(FILE *f, const char *label, double t)
{
	char buf[32];

	if (t <= 0) {
		fprintf(f, "%-12s -\n", label);
		return;
	}
	dd_time_format(t, buf);
	fprintf(f, "%-12s %s\n", label, buf);
}

void cli_print_log_entry(FILE *f, const struct dd_log_entry *e)
{
	char buf[32];
	char *data = e->data ? json_dumps(e->data, JSON_COMPACT) : NULL;

	dd_time_format(e->time, buf);
	fprintf(f, "%s  %-30s", buf, e->type);
	if (e->lease)
		fprintf(f, " lease=%lld", e->lease);
	if (e->resource)
		fprintf(f, " resource=%lld", e->resource);
	if (e->blueprint)
		fprintf(f, " blueprint=%lld", e->blueprint);
	if (data)
		fprintf(f, " %s", data);
	fputc('\n', f);
	dd_free(data);
}

void cli_print_heading(const char *what, size_t n, long long next,
		       const char *more, const struct cli_page *p)
{
	char limit[40] = "";

	if (!next) {
		printf("\n%s (%zu)\n", what, n);
		return;
	}
	if (p->limit != CLI_PAGE_DEFAULT)
		snprintf(limit, sizeof(limit), " --limit %zu", p->limit);
	printf("\n%s (%s %zu; older: %s%s --cursor %lld)\n", what,
	       p->cursor ? "next" : "newest", n, more, limit, next);
}

void cli_print_log_page(struct dd_store *s, struct dd_filter *f,
			const struct cli_page *p, const char *more)
{
	struct dd_log_entry_list log = {0};
	struct dd_error err = DD_ERROR_INIT;
	long long next;

	if (cli_log_page(s, f, p, &log, &next, &err)) {
		printf("\nlog: %s\n", err.msg);
		return;
	}
	cli_print_heading("log", log.n, next, more, p);
	for (size_t i = 0; i < log.n; i++) {
		fputs("  ", stdout);
		cli_print_log_entry(stdout, &log.items[i]);
	}
	dd_log_entry_list_release(&log);
}
