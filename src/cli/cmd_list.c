/*
 * cmd_list.c - "drydock list": leases, resources, blueprints or tasks.
 *
 * Like `docker ps` and `git log`: leases and resources that are not
 * finished, newest first, a page at a time (CLI_PAGE_DEFAULT rows unless
 * --limit says otherwise; --cursor pages on, as in the API).  Rows are
 * printed as the store's query yields them, never collected, so listing a
 * million finished leases with --all --limit 0 takes the memory of one.
 */
#include "cli/cli.h"
#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: drydock list leases [--all | --status S...] [--resource ID] "
	"[--limit N]\n"
	"                           [--cursor C] [--json]\n"
	"       drydock list resources [--all | --status S...] [--blueprint "
	"ID] [--limit N]\n"
	"                              [--cursor C] [--json]\n"
	"       drydock list blueprints [--json]\n"
	"       drydock list tasks [--failed] [--limit N] [--cursor C] "
	"[--json]\n"
	"\n"
	"List leases or resources that are not finished (destroyed), newest "
	"first.\n";

static const char epilog[] =
	"'list tasks' shows the task queue, oldest first: which object's "
	"update is due\nwhen, who has claimed it, and how often it failed.  "
	"With --failed, the tasks\nthat failed for good instead, newest "
	"first, with their errors (retry one with\nupdate-lease or "
	"update-resource once the cause is fixed).\n";

static int print_lease(void *arg, struct dd_lease *l, struct dd_error *err)
{
	struct cli_listing *ls = arg;
	char res[24] = "-";

	if (!cli_listing_row(ls, l->id))
		return 1;
	if (ls->json)
		return cli_listing_item(dd_lease_to_json(l), err);
	if (l->resource)
		snprintf(res, sizeof(res), "%lld", l->resource);
	printf("%-6lld %-10s %-8s %-8s %s\n", l->id,
	       dd_lease_status_name(l->status), l->type, res,
	       l->owner ? l->owner : "-");
	return 0;
}

static int print_resource(void *arg, struct dd_resource *r,
			  struct dd_error *err)
{
	struct cli_listing *ls = arg;
	char *a;

	if (!cli_listing_row(ls, r->id))
		return 1;
	if (ls->json)
		return cli_listing_item(dd_resource_to_json(r), err);
	a = json_dumps(r->attributes, JSON_COMPACT);
	printf("%-6lld %-10s %-8s %-9lld %s\n", r->id,
	       dd_resource_status_name(r->status), r->type, r->blueprint,
	       a ? a : "");
	free(a);
	return 0;
}

static int walk_leases(struct dd_store *s, const struct dd_filter *f,
		       struct cli_listing *ls, struct dd_error *err)
{
	return dd_store_lease_each(s, f, print_lease, ls, err);
}

static int walk_resources(struct dd_store *s, const struct dd_filter *f,
			  struct cli_listing *ls, struct dd_error *err)
{
	return dd_store_resource_each(s, f, print_resource, ls, err);
}

static int lease_status(const char *name)
{
	return dd_lease_status_parse(name);
}

static bool lease_finished(int st)
{
	return dd_lease_status_finished((enum dd_lease_status)st);
}

static int resource_status(const char *name)
{
	return dd_resource_status_parse(name);
}

static bool resource_finished(int st)
{
	return dd_resource_status_finished((enum dd_resource_status)st);
}

/* What `list` lists, a row at a time, and how. */
static const struct listable {
	const char *name;
	const char *header;
	int nstatus;
	int (*status)(const char *name);
	bool (*finished)(int status);
	const char *owner_option; /* the filter by owning object */
	int (*walk)(struct dd_store *s, const struct dd_filter *f,
		    struct cli_listing *ls, struct dd_error *err);
} listables[] = {
	{"leases", "ID     STATUS     TYPE     RESOURCE OWNER\n",
	 DD_LEASE_STATUS_COUNT, lease_status, lease_finished, "--resource",
	 walk_leases},
	{"resources", "ID     STATUS     TYPE     BLUEPRINT ATTRIBUTES\n",
	 DD_RESOURCE_STATUS_COUNT, resource_status, resource_finished,
	 "--blueprint", walk_resources},
};

static int list_objects(struct dd_store *s, const struct listable *k,
			struct dd_filter *f, const struct cli_page *p,
			bool json)
{
	struct dd_error err = DD_ERROR_INIT;
	struct cli_listing ls = {.json = json, .limit = p->limit};
	int rc;

	cli_page_filter(f, p);
	cli_listing_start(&ls, k->header);
	rc = k->walk(s, f, &ls, &err);
	return cli_listing_end(&ls, rc, &err, k->name);
}

static int print_task(struct cli_listing *ls, const struct dd_task *x)
{
	struct dd_error err = DD_ERROR_INIT;
	char obj[40], t[32];

	if (!cli_listing_row(ls, x->id))
		return 1;
	if (ls->json)
		return cli_listing_item(dd_task_to_json(x), &err);
	snprintf(obj, sizeof(obj), "%s %lld", dd_obj_kind_name(x->object.kind),
		 x->object.id);
	dd_time_format(x->not_before, t);
	printf("%-6lld %-16s %-14s %-24s %-8d %s\n", x->id, x->kind, obj, t,
	       x->failures, x->claimed_by ? x->claimed_by : "-");
	return 0;
}

static int print_archived(struct cli_listing *ls, const struct dd_task_archive *x)
{
	struct dd_error err = DD_ERROR_INIT;
	char obj[40], t[32];
	json_t *o;

	if (!cli_listing_row(ls, x->id))
		return 1;
	if (ls->json) {
		o = json_pack("{s:I, s:s, s:s, s:I, s:s, s:i, s:f, s:s?}",
			      "id", x->id, "kind", x->kind, "object_kind",
			      dd_obj_kind_name(x->object.kind), "object",
			      x->object.id, "outcome", x->outcome,
			      "failures", x->failures, "duration",
			      x->duration, "error", x->error);
		dd_json_set_time(o, "finished", x->finished);
		return cli_listing_item(o, &err);
	}
	snprintf(obj, sizeof(obj), "%s %lld", dd_obj_kind_name(x->object.kind),
		 x->object.id);
	dd_time_format(x->finished, t);
	printf("%-6lld %-16s %-14s %-8d %-24s %s\n", x->id, x->kind, obj,
	       x->failures, t, x->error ? x->error : "");
	return 0;
}

/*
 * The task queue is a queue: oldest first, a cursor pages to later
 * tasks (as GET /api/v1/tasks).  It holds a task per object with work to
 * do, so a page is read whole; the failed tasks, newest first, likewise.
 */
static int list_tasks(struct dd_store *s, const struct cli_page *p,
		      bool failed, bool json)
{
	struct dd_error err = DD_ERROR_INIT;
	struct cli_listing ls = {.json = json, .limit = p->limit};
	struct dd_filter f = {0};
	int rc;

	f.limit = p->limit ? p->limit + 1 : 0;
	if (failed) {
		struct dd_task_archive_list l = {0};

		f.type = "failed";
		f.descending = true;
		f.before_id = p->cursor;
		rc = dd_store_task_archive_list(s, &f, &l, &err);
		cli_listing_start(&ls, "ID     KIND             OBJECT         "
				   "FAILURES FINISHED                 ERROR\n");
		for (size_t i = 0; !rc && i < l.n; i++)
			if (print_archived(&ls, &l.items[i]))
				break;
		dd_task_archive_list_release(&l);
	} else {
		struct dd_task_list l = {0};

		f.after_id = p->cursor;
		rc = dd_store_task_list(s, &f, &l, &err);
		cli_listing_start(&ls, "ID     KIND             OBJECT         "
				   "DUE                      FAILURES CLAIMED "
				   "BY\n");
		for (size_t i = 0; !rc && i < l.n; i++)
			if (print_task(&ls, &l.items[i]))
				break;
		dd_task_list_release(&l);
	}
	return cli_listing_end(&ls, rc, &err, "tasks");
}

/* The --status names, checked once the kind of object is known. */
struct statuses {
	const char *v[16];
	size_t n;
};

static int add_status(const struct cli_option *o, const char *arg,
		      struct dd_error *err)
{
	struct statuses *st = o->value;

	if (st->n == sizeof(st->v) / sizeof(*st->v))
		return dd_error_set(err, DD_ERR_INVALID, "too many --status");
	st->v[st->n++] = arg;
	return 0;
}

int cmd_list(int argc, char **argv)
{
	struct statuses statuses = {0};
	struct cli_page page = CLI_PAGE_INIT;
	struct dd_filter f = {0};
	bool json = false, failed = false, all = false;
	const struct cli_option options[] = {
		CLI_FLAG("all", &all, "add the finished ones"),
		CLI_CALLBACK("status", "S", add_status, &statuses,
			     "only those in state S (repeatable): for leases "
			     "pending, acquired, active, released, broken, "
			     "destroyed; for resources pending, active, "
			     "released, broken, destroyed"),
		CLI_ID("resource", &f.resource, "only the leases of a resource"),
		CLI_ID("blueprint", &f.blueprint,
		       "only the resources of a blueprint"),
		CLI_CALLBACK("limit", "N", cli_opt_limit, &page,
			     "at most N rows (default 50; 0 for all)"),
		CLI_CALLBACK("cursor", "C", cli_opt_cursor, &page,
			     "the rows after the page that gave cursor C"),
		CLI_FLAG("failed", &failed,
			 "'list tasks': the tasks that failed for good"),
		CLI_END,
	};
	const struct cli_spec spec = {
		.name = "list",
		.usage = usage,
		.options = options,
		.epilog = epilog,
		.json = &json,
		.json_help = "{\"items\": [...], \"next_cursor\": C or null}, one "
			     "item a line",
		.positional = true,
	};
	const struct listable *k = NULL;
	const char *what, *wrong = NULL;
	struct dd_store *s;
	int rc;

	if (cli_parse(&spec, argc, argv) != 1)
		return cli_usage_error(usage, "list what?");
	what = argv[0];
	for (size_t i = 0; i < sizeof(listables) / sizeof(*listables); i++)
		if (!strcmp(what, listables[i].name))
			k = &listables[i];
	if (failed && strcmp(what, "tasks"))
		return cli_usage_error(usage, "--failed is for 'list tasks'");
	if (!k && (all || statuses.n || f.resource || f.blueprint))
		return cli_usage_error(usage,
				       "'list %s' takes no --all, --status, "
				       "--resource or --blueprint",
				       what);
	if (!strcmp(what, "tasks")) {
		s = cli_open_store();
		rc = list_tasks(s, &page, failed, json);
		dd_store_close(s);
		return rc;
	}
	if (!strcmp(what, "blueprints")) {
		char *args[] = {"blueprint", "list", json ? "--json" : NULL,
				NULL};

		if (page.given)
			return cli_usage_error(usage, "'list blueprints' takes "
						      "no --limit or --cursor");
		return cmd_blueprint(json ? 3 : 2, args);
	}
	if (!k)
		return cli_usage_error(usage, "cannot list '%s'", what);
	if (f.resource && strcmp(k->owner_option, "--resource"))
		wrong = "--resource";
	if (f.blueprint && strcmp(k->owner_option, "--blueprint"))
		wrong = "--blueprint";
	if (wrong)
		return cli_usage_error(usage, "'list %s' takes %s, not %s",
				       what, k->owner_option, wrong);
	if (all && statuses.n)
		return cli_usage_error(usage, "give --all or --status, not both");
	for (size_t i = 0; i < statuses.n; i++) {
		int st = k->status(statuses.v[i]);

		if (st < 0)
			return cli_usage_error(usage, "unknown status '%s'",
					       statuses.v[i]);
		f.status_mask |= 1u << st;
	}
	/* unfinished ones by default; the status index finds them */
	for (int st = 0; !all && !statuses.n && st < k->nstatus; st++)
		if (!k->finished(st))
			f.status_mask |= 1u << st;
	s = cli_open_store();
	rc = list_objects(s, k, &f, &page, json);
	dd_store_close(s);
	return rc;
}
