/*
 * web_targets.c - the build target pages: the list (building targets
 * first, then the finished ones, newest first), one target with its
 * artifacts and its log, and finishing it (Passed, Failed, Abort) through
 * the same confirmation page as Release.
 *
 * A client sees and finishes only its own targets, a viewer sees every
 * target and finishes none, an admin does anything (DD_ACTION_TARGET_* in
 * auth/token.h), as in the API.  Finishing appends a finish command; the
 * target's update worker applies it and releases its lease artifacts'
 * leases.
 */
#include "api/api.h"
#include "http/objects.h"
#include "http/web.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TARGET_STATES "building, passed, failed, aborted"
#define OWNER_MAX 200
/* Artifacts a target's page shows at once; ?after= pages on. */
#define ARTIFACTS_SHOWN 100

#define BIT(status) (1u << (status))
#define FINISHED_MASK                                                          \
	(BIT(DD_TARGET_PASSED) | BIT(DD_TARGET_FAILED) | BIT(DD_TARGET_ABORTED))

static int target_status_parse(const char *s)
{
	return dd_target_status_parse(s);
}

/* ---- who may finish ------------------------------------------------ */

void dd_web_target_finish_state(const struct dd_principal *who,
				const struct dd_target *t, bool finishing,
				struct dd_web_target_finish *out)
{
	memset(out, 0, sizeof(*out));
	out->target = t->id;
	out->finishing = finishing && t->status == DD_TARGET_BUILDING;
	out->allowed = dd_principal_can(who, DD_ACTION_TARGET_WRITE, t->owner);
	if (t->status != DD_TARGET_BUILDING) {
		out->refused = 409;
		snprintf(out->why, sizeof(out->why), "it is already %s",
			 dd_target_status_name(t->status));
	} else if (out->finishing) {
		out->refused = 409;
		snprintf(out->why, sizeof(out->why),
			 "a finish is already queued");
	} else if (!out->allowed) {
		out->refused = 403;
		if (who->role == DD_ROLE_VIEWER)
			snprintf(out->why, sizeof(out->why),
				 "your token's role is viewer, which may only "
				 "read");
		else
			snprintf(out->why, sizeof(out->why),
				 "only its owner, %.80s, or an admin may "
				 "finish it",
				 t->owner ? t->owner : "nobody");
	}
}

/*
 * The results a target is finished with from its page: each a button and
 * a confirmation page.  They are the target machine's finished statuses.
 */
static const struct {
	enum dd_target_status result;
	const char *id, *label, *verb, *as, *class;
} results[] = {
	{DD_TARGET_PASSED, "finish-passed", "Passed", "Finish", " as passed",
	 "button"},
	{DD_TARGET_FAILED, "finish-failed", "Failed", "Finish", " as failed",
	 "button"},
	{DD_TARGET_ABORTED, "abort", "Abort", "Abort", "", "button danger"},
};
#define RESULT_COUNT (sizeof(results) / sizeof(*results))

/* The row of results[] for `name`, or -1 for no finished status. */
static int result_find(const char *name)
{
	int st = name ? dd_target_status_parse(name) : -1;

	for (size_t i = 0; i < RESULT_COUNT; i++)
		if ((int)results[i].result == st)
			return (int)i;
	return -1;
}

void dd_web_target_finish_buttons(struct dd_buf *b,
				  const struct dd_web_target_finish *f)
{
	if (f->refused)
		return;
	/* links: GET leads to the confirmation page, which POSTs */
	for (size_t i = 0; i < RESULT_COUNT; i++)
		dd_buf_addf(b,
			    "<a class=\"%s\" id=\"%s\" "
			    "href=\"/targets/%lld/finish?result=%s\">%s</a>",
			    results[i].class, results[i].id, f->target,
			    dd_target_status_name(results[i].result),
			    results[i].label);
}

/* ---- artifacts ----------------------------------------------------- */

static const char *data_string(const struct dd_artifact *a, const char *key)
{
	return json_string_value(json_object_get(a->data, key));
}

static void show_file(struct dd_buf *b, const struct dd_artifact *a,
		      const char *lease_status)
{
	const char *name = data_string(a, "name");
	char size[32];

	(void)lease_status;
	dd_html_size(a->size, size, sizeof(size));
	if (!a->complete) {
		dd_buf_addf(b,
			    "<span class=\"muted\">uploading: %s (%lld "
			    "bytes) so far</span>",
			    size, a->size);
		return;
	}
	dd_buf_addf(b, "<a href=\"/artifacts/%lld/content\" download=\"",
		    a->id);
	dd_html_esc(b, name ? name : a->key);
	dd_buf_addstr(b, "\">");
	dd_html_esc(b, name ? name : a->key);
	dd_buf_addf(b,
		    "</a> <span class=\"size\" title=\"%lld bytes\">%s</span>"
		    "<br><code class=\"sha256\" title=\"SHA-256\">",
		    a->size, size);
	dd_html_esc(b, a->sha256);
	dd_buf_addstr(b, "</code>");
}

static void show_uri(struct dd_buf *b, const struct dd_artifact *a,
		     const char *lease_status)
{
	const char *uri = data_string(a, "uri");
	const char *name = data_string(a, "name");

	(void)lease_status;
	if (dd_html_link_ok(uri)) {
		dd_buf_addstr(b, "<a href=\"");
		dd_html_esc(b, uri);
		dd_buf_addstr(b, "\" rel=\"noopener noreferrer\">");
		dd_html_esc(b, name ? name : uri);
		dd_buf_addstr(b, "</a>");
	} else {
		/* not a web address: shown, never followed */
		dd_buf_addstr(b, "<code>");
		dd_html_esc(b, uri);
		dd_buf_addstr(b, "</code>");
		if (name) {
			dd_buf_addstr(b, " ");
			dd_html_esc(b, name);
		}
	}
	if (json_is_true(json_object_get(a->data, "external")))
		dd_buf_addstr(b, " <span class=\"badge s-external\" "
				 "title=\"outside drydock\">external</span>");
}

static void show_host(struct dd_buf *b, const struct dd_artifact *a,
		      const char *lease_status)
{
	long long lease = dd_artifact_lease(a->type, a->data);

	dd_web_link(b, (struct dd_ref){DD_OBJ_LEASE, lease});
	if (lease_status) {
		dd_buf_addstr(b, " ");
		dd_web_badge(b, lease_status, NULL);
	}
}

/* How each artifact type shows; a type without a row shows its data. */
static const struct {
	const char *type;
	void (*show)(struct dd_buf *b, const struct dd_artifact *a,
		     const char *lease_status);
} shows[] = {
	{"file", show_file},
	{"uri", show_uri},
	{"host", show_host},
};

void dd_web_artifact_row(struct dd_buf *b, const struct dd_artifact *a,
			 const char *lease_status, double now)
{
	size_t i;

	dd_buf_addf(b, "<tr id=\"artifact-%lld\"><td><code>", a->id);
	dd_html_esc(b, a->key);
	dd_buf_addstr(b, "</code></td><td>");
	dd_html_esc(b, a->type);
	dd_buf_addstr(b, "</td><td class=\"wide\">");
	for (i = 0; i < sizeof(shows) / sizeof(*shows); i++)
		if (!strcmp(shows[i].type, a->type))
			break;
	if (i < sizeof(shows) / sizeof(*shows)) {
		shows[i].show(b, a, lease_status);
	} else {
		dd_buf_addstr(b, "<code>");
		dd_html_json(b, a->data, false);
		dd_buf_addstr(b, "</code>");
	}
	dd_buf_addf(b, "</td><td>%s</td><td>", a->released ? "yes" : "no");
	dd_html_time(b, a->created, now, NULL);
	dd_buf_addstr(b, "</td></tr>");
}

/* ---- the list ------------------------------------------------------ */

/* The list's URL with `status` (NULL: all) and the owner filter. */
static void list_url(struct dd_buf *u, const char *status, const char *owner)
{
	dd_web_owner_list_url(u, "/targets", status, owner);
}

static const char *status_name(int s)
{
	return dd_target_status_name(s);
}

static void filter_links(struct dd_buf *b, const char *status,
			 const char *owner)
{
	dd_web_owner_filters(b, "/targets", status_name, DD_TARGET_STATUS_COUNT, status,
			     owner);
}

static void owner_link(struct dd_buf *b, const char *owner)
{
	dd_web_owner_link(b, "/targets", owner);
}

/*
 * A table of the targets matching `f`, at most DD_WEB_PAGE of them, under
 * the heading `h2` when not NULL; "none" in `empty` when there are none.
 * Sets *more when there are more than it shows, and *last_id to the last
 * id shown.  Returns the refresh delay its rows ask for (0: none).
 */
static int target_table(struct dd_http_req *r, struct dd_filter *f,
			const char *h2, const char *id, const char *empty,
			bool *more, long long *last_id)
{
	struct dd_target_list l = {0};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_buf *b = &r->out;
	double now = dd_now();
	int refresh = 0;
	size_t n;

	f->limit = DD_WEB_PAGE + 1;
	f->descending = true;
	if (h2)
		dd_buf_addf(b, "<h2>%s</h2>", h2);
	if (dd_store_target_list(r->store, f, &l, &err)) {
		dd_buf_addstr(b, "<p class=\"error\">");
		dd_html_esc(b, err.msg);
		dd_buf_addstr(b, "</p>");
		*more = false;
		return 0;
	}
	n = l.n > DD_WEB_PAGE ? DD_WEB_PAGE : l.n;
	*more = l.n > n;
	*last_id = n ? l.items[n - 1].id : 0;
	if (!n)
		dd_buf_addf(b, "<p class=\"muted\" id=\"%s-empty\">%s</p>", id,
			    empty);
	else
		dd_buf_addf(b,
			    "<div class=\"scroll\"><table id=\"%s\"><tr>"
			    "<th>ID</th><th>Name</th><th>Status</th>"
			    "<th>Owner</th><th>Deadline</th><th>Created</th>"
			    "<th>Finished</th></tr>",
			    id);
	for (size_t i = 0; i < n; i++) {
		struct dd_target *t = &l.items[i];
		bool finishing = t->status == DD_TARGET_BUILDING &&
				 dd_http_command_queued(
					 r->store,
					 (struct dd_ref){DD_OBJ_TARGET, t->id},
					 DD_CMD_FINISH);

		if (finishing)
			refresh = DD_WEB_REFRESH;
		dd_buf_addf(b,
			    "<tr><td><a href=\"/targets/%lld\">%lld</a></td>"
			    "<td class=\"wide\">",
			    t->id, t->id);
		if (t->name)
			dd_html_esc(b, t->name);
		else
			dd_buf_addstr(b, "<span class=\"muted\">-</span>");
		dd_buf_addstr(b, "</td><td>");
		dd_web_badge(b, dd_target_status_name(t->status), NULL);
		if (finishing)
			dd_buf_addstr(b, " <span class=\"badge s-finishing\">"
					 "Finishing</span>");
		dd_buf_addstr(b, "</td><td>");
		owner_link(b, t->owner);
		dd_buf_addstr(b, "</td><td>");
		dd_html_time(b, t->status == DD_TARGET_BUILDING ? t->deadline
								: 0,
			     now, "-");
		dd_buf_addstr(b, "</td><td>");
		dd_html_time(b, t->created, now, NULL);
		dd_buf_addstr(b, "</td><td>");
		dd_html_time(b, t->finished, now, "-");
		dd_buf_addstr(b, "</td></tr>");
	}
	if (n)
		dd_buf_addstr(b, "</table></div>");
	dd_target_list_release(&l);
	return refresh;
}

/*
 * The list.  Unfiltered, its first page shows the building targets (the
 * newest DD_WEB_PAGE, with a link to the rest) and then the finished
 * ones, newest first, paged by ?cursor=; with ?status= it is that status,
 * newest first.  One who may not see every target sees its own.
 */
void dd_web_targets(struct dd_http_req *r)
{
	const char *status = dd_http_query(r, "status");
	const char *owner = dd_http_query(r, "owner");
	struct dd_filter f = {0};
	struct dd_buf *b = &r->out, base = DD_BUF_INIT;
	unsigned mask;
	long long cursor, last_id = 0;
	bool more = false;
	int refresh = 0;

	if (!dd_web_status_arg(r, target_status_parse, TARGET_STATES, &mask))
		return;
	if (status && !strcmp(status, "all"))
		status = NULL;
	if (owner && (!*owner || strlen(owner) > OWNER_MAX))
		return dd_web_fail(r, 400, "'owner' must be 1 to %d characters",
				   OWNER_MAX);
	if (!dd_principal_can(&r->who, DD_ACTION_TARGET_READ, NULL)) {
		if (owner && strcmp(owner, r->who.identity))
			return dd_web_fail(r, 403,
					   "%s may see only its own targets",
					   r->who.identity);
		owner = r->who.identity;
	}
	cursor = dd_web_cursor(r);
	if (cursor < 0)
		return;

	dd_buf_addstr(b, "<h1>Targets</h1>");
	filter_links(b, status, owner);
	list_url(&base, status, owner);
	if (!status && !cursor) {
		struct dd_filter bf = {.owner = owner,
				       .status_mask = BIT(DD_TARGET_BUILDING)};
		bool more_building;
		long long last;

		refresh = target_table(r, &bf, "Building", "building",
				       "Nothing is building.", &more_building,
				       &last);
		if (more_building) {
			struct dd_buf u = DD_BUF_INIT;

			list_url(&u, "building", owner);
			dd_buf_addstr(b, "<p class=\"pager\"><a href=\"");
			dd_html_esc(b, u.buf);
			dd_buf_addstr(b, "\">All building targets &rarr;</a>"
					 "</p>");
			dd_buf_release(&u);
		}
	}
	f.owner = owner;
	f.before_id = cursor;
	f.status_mask = status ? mask : FINISHED_MASK;
	refresh = dd_web_sooner(
		refresh, target_table(r, &f, status ? NULL : "Finished",
				      status ? "targets" : "finished",
				      status ? "No targets here."
					     : "None finished yet.",
				      &more, &last_id));
	dd_web_pager(b, base.buf, cursor, more, last_id);
	dd_buf_release(&base);
	dd_web_finish(r, 200, "Targets", "targets", refresh);
}

/* ---- one target ---------------------------------------------------- */

/*
 * The target r->params[0], when the viewer may see it; answers with an
 * error page if not.
 */
static bool target_for(struct dd_http_req *r, struct dd_target *t)
{
	struct dd_error err = DD_ERROR_INIT;

	if (dd_store_target_get(r->store, r->params[0], t, &err)) {
		dd_web_fail_err(r, &err);
		return false;
	}
	if (!dd_principal_can(&r->who, DD_ACTION_TARGET_READ, t->owner)) {
		dd_web_fail(r, 403,
			    "cannot see target %lld: it belongs to %.80s, and "
			    "a client sees only its own targets",
			    t->id, t->owner ? t->owner : "nobody");
		dd_target_release(t);
		return false;
	}
	return true;
}

static void finish_state(struct dd_http_req *r, const struct dd_target *t,
			 struct dd_web_target_finish *fin)
{
	bool finishing = t->status == DD_TARGET_BUILDING &&
			 dd_http_command_queued(
				 r->store, (struct dd_ref){DD_OBJ_TARGET, t->id},
				 DD_CMD_FINISH);

	dd_web_target_finish_state(&r->who, t, finishing, fin);
}

static void prop_time(struct dd_buf *b, const char *label, double t, double now,
		      const char *none)
{
	dd_buf_addf(b, "<dt>%s</dt><dd>", label);
	dd_html_time(b, t, now, none);
	dd_buf_addstr(b, "</dd>");
}

static void properties(struct dd_buf *b, const struct dd_target *t)
{
	double now = dd_now();

	dd_buf_addstr(b, "<dl class=\"props\"><dt>Name</dt><dd id=\"name\">");
	if (t->name)
		dd_html_esc(b, t->name);
	else
		dd_buf_addstr(b, "<span class=\"muted\">none</span>");
	dd_buf_addstr(b, "</dd><dt>Owner</dt><dd>");
	owner_link(b, t->owner);
	dd_buf_addstr(b, "</dd><dt>Status</dt><dd>");
	dd_html_esc(b, dd_target_status_name(t->status));
	dd_buf_addstr(b, "</dd>");
	prop_time(b, "Created", t->created, now, NULL);
	prop_time(b, "Finished", t->finished, now, "not yet");
	prop_time(b, "Deadline", t->deadline, now, "none");
	prop_time(b, "Changed", t->modified, now, NULL);
	dd_buf_addstr(b, "</dl>");
}

/*
 * The artifacts table: ARTIFACTS_SHOWN at a time, oldest first (the order
 * the build recorded them in), after ?after=.  A host artifact shows its
 * lease's status.  Returns the refresh delay: soon while a lease it holds
 * is still changing, or is released by the target's finish but not yet
 * destroyed.
 */
static int artifacts(struct dd_http_req *r, const struct dd_target *t,
		     long long after)
{
	struct dd_filter f = {.target_id = t->id,
			      .after_id = after,
			      .limit = ARTIFACTS_SHOWN + 1};
	struct dd_artifact_list l = {0};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_buf *b = &r->out;
	double now = dd_now();
	int refresh = 0;
	size_t n;

	dd_buf_addstr(b, "<h2>Artifacts</h2>");
	if (dd_store_artifact_list(r->store, &f, &l, &err)) {
		dd_buf_addstr(b, "<p class=\"error\">");
		dd_html_esc(b, err.msg);
		dd_buf_addstr(b, "</p>");
		return 0;
	}
	n = l.n > ARTIFACTS_SHOWN ? ARTIFACTS_SHOWN : l.n;
	if (after)
		dd_buf_addf(b,
			    "<p class=\"pager\"><a href=\"/targets/%lld\">"
			    "&larr; First artifacts</a></p>",
			    t->id);
	if (!n)
		dd_buf_addstr(b, "<p class=\"muted\" id=\"artifacts-empty\">"
				 "none recorded</p>");
	else
		dd_buf_addstr(b, "<div class=\"scroll\"><table id=\"artifacts\">"
				 "<tr><th>Key</th><th>Type</th><th>Artifact"
				 "</th><th>Released</th><th>Created</th></tr>");
	for (size_t i = 0; i < n; i++) {
		struct dd_artifact *a = &l.items[i];
		long long id = dd_artifact_lease(a->type, a->data);
		struct dd_lease lease = {0};
		const char *st = NULL;

		if (id && !dd_store_lease_get(r->store, id, &lease, NULL)) {
			st = dd_lease_status_name(lease.status);
			/*
			 * A released artifact's lease has a release queued
			 * (it may still show active) until it is destroyed.
			 */
			if ((a->released &&
			     lease.status != DD_LEASE_DESTROYED) ||
			    (dd_web_lease_changing(lease.status) &&
			     lease.status != DD_LEASE_PENDING))
				refresh = DD_WEB_REFRESH;
			dd_lease_release(&lease);
		}
		dd_web_artifact_row(b, a, st, now);
	}
	if (n)
		dd_buf_addstr(b, "</table></div>");
	if (l.n > n)
		dd_buf_addf(b,
			    "<p class=\"pager\"><a id=\"artifacts-more\" "
			    "href=\"/targets/%lld?after=%lld\">More artifacts "
			    "&rarr;</a></p>",
			    t->id, l.items[n - 1].id);
	dd_artifact_list_release(&l);
	return refresh;
}

/* A positive id from the query argument `name`; 0 when absent, -1 after
   answering 400. */
static long long id_arg(struct dd_http_req *r, const char *name)
{
	const char *v = dd_http_query(r, name);
	char *end;
	long long id;

	if (!v)
		return 0;
	id = strtoll(v, &end, 10);
	if (!*v || *end || id <= 0 || id == LLONG_MAX) {
		dd_web_fail(r, 400, "'%s' must be a positive integer, not "
				    "'%.64s'",
			    name, v);
		return -1;
	}
	return id;
}

void dd_web_target(struct dd_http_req *r)
{
	struct dd_target t = {0};
	struct dd_web_target_finish fin;
	struct dd_filter logf = {0};
	struct dd_buf *b = &r->out;
	char title[48], self[48];
	long long after, log_before;
	double now = dd_now();
	int refresh = 0;

	after = id_arg(r, "after");
	if (after < 0)
		return;
	log_before = id_arg(r, "log_before");
	if (log_before < 0)
		return;
	if (!target_for(r, &t))
		return;
	finish_state(r, &t, &fin);
	snprintf(title, sizeof(title), "Target %lld", t.id);
	dd_buf_addf(b, "<h1>%s ", title);
	dd_web_badge(b, dd_target_status_name(t.status), "status");
	if (fin.finishing)
		dd_buf_addstr(b, "<span class=\"badge s-finishing\" "
				 "id=\"finishing\" title=\"a finish command is "
				 "queued\">Finishing</span>");
	dd_buf_addstr(b, "</h1><div class=\"actions\">");
	dd_web_target_finish_buttons(b, &fin);
	dd_buf_addstr(b, "</div>");
	properties(b, &t);
	refresh = artifacts(r, &t, after);
	if (fin.finishing)
		refresh = DD_WEB_REFRESH;
	/* the deadline aborts it: show that when it comes */
	if (t.status == DD_TARGET_BUILDING && t.deadline > now &&
	    t.deadline - now < 600)
		refresh = dd_web_sooner(refresh,
					(int)ceil(t.deadline - now) + 1);
	dd_web_commands(r, (struct dd_ref){DD_OBJ_TARGET, t.id});
	logf.target_id = t.id;
	logf.before_id = log_before;
	snprintf(self, sizeof(self), "/targets/%lld", t.id);
	dd_web_log(r, &logf, (struct dd_ref){DD_OBJ_TARGET, t.id}, self);
	dd_web_finish(r, 200, title, "targets", refresh);
	dd_target_release(&t);
}

/* ---- finish -------------------------------------------------------- */

/* A refused finish: the reason, and the way back to the target. */
static void finish_refused(struct dd_http_req *r,
			   const struct dd_web_target_finish *fin)
{
	char path[48], back[48];

	snprintf(path, sizeof(path), "/targets/%lld", fin->target);
	snprintf(back, sizeof(back), "Back to target %lld", fin->target);
	dd_web_fail_back(r, fin->refused, path, back,
			 "cannot finish target %lld: %s", fin->target,
			 fin->why);
}

/* The ?result= (GET) or result= (POST) row, or -1 after answering 400. */
static int result_arg(struct dd_http_req *r, const char *v)
{
	int i = result_find(v);

	if (i < 0)
		dd_web_fail(r, 400,
			    "'result' must be passed, failed or aborted, not "
			    "'%.64s'",
			    v ? v : "");
	return i;
}

void dd_web_target_finish_page(struct dd_http_req *r)
{
	struct dd_target t = {0};
	struct dd_web_target_finish fin;
	struct dd_buf *b = &r->out;
	char what[600], title[64];
	const char *result;
	int i;

	i = result_arg(r, dd_http_query(r, "result"));
	if (i < 0)
		return;
	if (!target_for(r, &t))
		return;
	finish_state(r, &t, &fin);
	if (fin.refused) {
		dd_target_release(&t);
		return finish_refused(r, &fin);
	}
	result = dd_target_status_name(results[i].result);
	snprintf(title, sizeof(title), "%s target %lld%s?", results[i].verb,
		 t.id, results[i].as);
	snprintf(what, sizeof(what),
		 "Target %lld (%.80s, owned by %.80s) is building. Finishing "
		 "it as %s marks its artifacts released and releases every "
		 "lease it holds; the target never changes again. This "
		 "cannot be undone.",
		 t.id, t.name ? t.name : "no name",
		 t.owner ? t.owner : "nobody", result);
	dd_buf_addstr(b, "<h1>");
	dd_html_esc(b, title);
	dd_buf_addstr(b, "</h1><p>");
	dd_html_esc(b, what);
	dd_buf_addf(b,
		    "</p><form method=\"post\" class=\"actions\" "
		    "action=\"/targets/%lld/finish\"><input type=\"hidden\" "
		    "name=\"result\" value=\"%s\"><input type=\"hidden\" "
		    "name=\"csrf\" value=\"",
		    t.id, result);
	dd_html_esc(b, r->csrf);
	dd_buf_addf(b,
		    "\"><button type=\"submit\" class=\"danger\" "
		    "id=\"confirm\">Confirm: %s</button><a class=\"button\" "
		    "href=\"/targets/%lld\" id=\"cancel\">Cancel</a></form>",
		    results[i].label, t.id);
	dd_web_finish(r, 200, title, "targets", 0);
	dd_target_release(&t);
}

void dd_web_target_finish_post(struct dd_http_req *r)
{
	struct dd_target t = {0};
	struct dd_web_target_finish fin;
	struct dd_error err = DD_ERROR_INIT;
	char value[16], path[48];
	json_t *data;
	int i, rc;

	if (!dd_web_csrf(r))
		return;
	if (!dd_html_form_value(r->body, "result", value, sizeof(value)))
		value[0] = 0;
	i = result_arg(r, value);
	if (i < 0)
		return;
	if (!target_for(r, &t))
		return;
	finish_state(r, &t, &fin);
	dd_target_release(&t);
	snprintf(path, sizeof(path), "/targets/%lld", fin.target);
	/* Asking twice while the first is queued changes nothing. */
	if (fin.finishing && fin.allowed)
		return dd_web_redirect(r, path);
	if (fin.refused)
		return finish_refused(r, &fin);
	/* single writer: append the command; the update worker finishes */
	data = json_pack("{s:s}", "result",
			 dd_target_status_name(results[i].result));
	rc = dd_api_send(r->store, (struct dd_ref){DD_OBJ_TARGET, fin.target},
			 dd_command_kind_name(DD_CMD_FINISH), r->who.identity,
			 data, NULL, &err);
	json_decref(data);
	if (rc)
		return dd_web_fail_err(r, &err);
	dd_web_redirect(r, path);
}
