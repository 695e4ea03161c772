/*
 * web_leases.c - the lease pages: the list with its status filter, one
 * lease with everything known about it (its files too), and its release.
 */
#include "api/api.h"
#include "http/html.h"
#include "http/objects.h"
#include "http/web.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define LEASE_STATES "pending, acquired, active, released, broken, destroyed"
#define OWNER_MAX 200
/* How long a page waits for the listing of a lease's directory. */
#define FILES_PAGE_TIMEOUT 30.0

static int lease_status_parse(const char *s)
{
	return dd_lease_status_parse(s);
}

/* May the viewer release `l` now?  Fills *rel. */
static void release_state(struct dd_http_req *r, const struct dd_lease *l,
			  struct dd_web_release *rel)
{
	memset(rel, 0, sizeof(*rel));
	rel->target = (struct dd_ref){DD_OBJ_LEASE, l->id};
	rel->releasing = dd_http_release_queued(r->store, rel->target);
	rel->allowed =
		dd_principal_can(&r->who, DD_ACTION_LEASE_RELEASE, l->owner);
	if (!dd_lease_status_releasable(l->status)) {
		rel->refused = 409;
		snprintf(rel->why, sizeof(rel->why), "it is %s%s",
			 l->status == DD_LEASE_BROKEN ? "" : "already ",
			 dd_lease_status_name(l->status));
	} else if (rel->releasing) {
		rel->refused = 409;
		snprintf(rel->why, sizeof(rel->why),
			 "a release is already queued");
	} else if (!rel->allowed) {
		rel->refused = 403;
		if (r->who.role == DD_ROLE_VIEWER)
			snprintf(rel->why, sizeof(rel->why),
				 "your token's role is viewer, which may only "
				 "read");
		else if (l->owner)
			snprintf(rel->why, sizeof(rel->why),
				 "only its owner, %.80s, or an admin may "
				 "release it",
				 l->owner);
		else
			snprintf(rel->why, sizeof(rel->why),
				 "it has no owner, so only an admin may "
				 "release it");
	}
}

/*
 * Seconds until the page of `l` should be loaded again, or 0: soon while
 * it changes or a release is queued, less often while it waits for
 * capacity, and an active lease at its expiry.
 */
static int refresh_for(const struct dd_lease *l, bool releasing, double now)
{
	if (l->status == DD_LEASE_PENDING && l->waiting && !releasing)
		return DD_WEB_REFRESH_SLOW;
	if (releasing || dd_web_lease_changing(l->status))
		return DD_WEB_REFRESH;
	if (l->status == DD_LEASE_ACTIVE && l->until > now &&
	    l->until - now < 600)
		return (int)ceil(l->until - now) + 1;
	return 0;
}

/* ---- the list ------------------------------------------------------ */

/* The list's URL with `status` (NULL: all) and the owner filter. */
static void list_url(struct dd_buf *u, const char *status, const char *owner)
{
	dd_web_owner_list_url(u, "/leases", status, owner);
}

static const char *status_name(int s)
{
	return dd_lease_status_name(s);
}

static void filter_links(struct dd_buf *b, const char *status,
			 const char *owner)
{
	dd_web_owner_filters(b, "/leases", status_name, DD_LEASE_STATUS_COUNT, status,
			     owner);
}

static void owner_link(struct dd_buf *b, const char *owner)
{
	dd_web_owner_link(b, "/leases", owner);
}

void dd_web_leases(struct dd_http_req *r)
{
	const char *status = dd_http_query(r, "status");
	const char *owner = dd_http_query(r, "owner");
	struct dd_filter f = {0};
	struct dd_lease_list l = {0};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_buf *b = &r->out, base = DD_BUF_INIT;
	double now = dd_now();
	int refresh = 0;
	long long cursor;
	size_t n;

	if (!dd_web_status_arg(r, lease_status_parse, LEASE_STATES,
			       &f.status_mask))
		return;
	if (status && !strcmp(status, "all"))
		status = NULL;
	if (owner && (!*owner || strlen(owner) > OWNER_MAX))
		return dd_web_fail(r, 400, "'owner' must be 1 to %d characters",
				   OWNER_MAX);
	cursor = dd_web_cursor(r);
	if (cursor < 0)
		return;
	f.owner = owner;
	f.before_id = cursor;
	f.limit = DD_WEB_PAGE + 1;
	f.descending = true;
	if (dd_store_lease_list(r->store, &f, &l, &err))
		return dd_web_fail_err(r, &err);
	n = l.n > DD_WEB_PAGE ? DD_WEB_PAGE : l.n;

	dd_buf_addstr(b, "<h1>Leases</h1>");
	filter_links(b, status, owner);
	if (!n) {
		dd_buf_addstr(b, "<p class=\"muted\" id=\"empty\">No leases "
				 "here.</p>");
	} else {
		dd_buf_addstr(b, "<div class=\"scroll\"><table id=\"leases\">"
				 "<tr><th>ID</th><th>Status</th><th>Type</th>"
				 "<th>Owner</th><th>Resource</th>"
				 "<th>Expires</th><th>Created</th>"
				 "<th>Changed</th></tr>");
	}
	for (size_t i = 0; i < n; i++) {
		struct dd_lease *x = &l.items[i];
		struct dd_ref ref = {DD_OBJ_LEASE, x->id};
		bool releasing = dd_lease_status_releasable(x->status) &&
				 dd_http_release_queued(r->store, ref);

		refresh =
			dd_web_sooner(refresh, refresh_for(x, releasing, now));
		dd_buf_addf(b,
			    "<tr><td><a href=\"/leases/%lld\">%lld</a></td>"
			    "<td>",
			    x->id, x->id);
		dd_web_badge(b, dd_lease_status_name(x->status), NULL);
		if (releasing) {
			dd_buf_addstr(b, " ");
			dd_web_releasing_badge(b);
		}
		if (x->waiting)
			dd_buf_addstr(b, " <span class=\"muted\">waiting for "
					 "capacity</span>");
		dd_buf_addstr(b, "</td><td>");
		dd_html_esc(b, x->type);
		dd_buf_addstr(b, "</td><td>");
		owner_link(b, x->owner);
		dd_buf_addstr(b, "</td><td>");
		if (x->resource)
			dd_web_link(b, (struct dd_ref){DD_OBJ_RESOURCE,
						       x->resource});
		else
			dd_buf_addstr(b, "<span class=\"muted\">-</span>");
		dd_buf_addstr(b, "</td><td>");
		dd_html_time(b, x->until, now, "never");
		dd_buf_addstr(b, "</td><td>");
		dd_html_time(b, x->created, now, NULL);
		dd_buf_addstr(b, "</td><td>");
		dd_html_time(b, x->modified, now, NULL);
		dd_buf_addstr(b, "</td></tr>");
	}
	if (n)
		dd_buf_addstr(b, "</table></div>");
	list_url(&base, status, owner);
	dd_web_pager(b, base.buf, cursor, l.n > n, n ? l.items[n - 1].id : 0);
	dd_buf_release(&base);
	dd_lease_list_release(&l);
	dd_web_finish(r, 200, "Leases", "leases", refresh);
}

/* ---- one lease ----------------------------------------------------- */

static void prop_time(struct dd_buf *b, const char *label, double t, double now,
		      const char *none)
{
	dd_buf_addf(b, "<dt>%s</dt><dd>", label);
	dd_html_time(b, t, now, none);
	dd_buf_addstr(b, "</dd>");
}

static void properties(struct dd_http_req *r, const struct dd_lease *l)
{
	struct dd_buf *b = &r->out;
	double now = dd_now();

	dd_buf_addstr(b, "<dl class=\"props\"><dt>Status</dt><dd>");
	dd_html_esc(b, dd_lease_status_name(l->status));
	if (l->waiting)
		dd_buf_addstr(b, ", waiting for capacity");
	dd_buf_addstr(b, "</dd><dt>Owner</dt><dd>");
	owner_link(b, l->owner);
	dd_buf_addstr(b, "</dd><dt>Type</dt><dd>");
	dd_html_esc(b, l->type);
	dd_buf_addstr(b, "</dd><dt>Resource</dt><dd>");
	if (l->resource)
		dd_web_link(b, (struct dd_ref){DD_OBJ_RESOURCE, l->resource});
	else
		dd_buf_addstr(b, "<span class=\"muted\">none yet</span>");
	dd_buf_addstr(b, "</dd>");
	if (l->allocating) {
		dd_buf_addstr(b, "<dt>Building</dt><dd>");
		dd_web_link(b, (struct dd_ref){DD_OBJ_RESOURCE, l->allocating});
		dd_buf_addstr(b, "</dd>");
	}
	dd_buf_addstr(b, "<dt>Blueprints</dt><dd>");
	if (l->blueprints && json_array_size(l->blueprints)) {
		size_t i;
		json_t *v;

		json_array_foreach (l->blueprints, i, v) {
			dd_buf_addstr(b, i ? ", " : "");
			if (json_is_integer(v))
				dd_web_link(b, (struct dd_ref){
						       DD_OBJ_BLUEPRINT,
						       json_integer_value(v)});
			else
				dd_html_json(b, v, false);
		}
	} else {
		dd_buf_addstr(b, "any");
	}
	dd_buf_addstr(b, "</dd>");
	prop_time(b, "Expires", l->until, now, "never");
	prop_time(b, "Created", l->created, now, NULL);
	prop_time(b, "Acquired", l->acquired, now, "not yet");
	prop_time(b, "Activated", l->activated, now, "not yet");
	prop_time(b, "Changed", l->modified, now, NULL);
	dd_buf_addstr(b, "</dl><h2>Attributes</h2><pre id=\"attributes\">");
	dd_html_json(b, l->attributes, true);
	dd_buf_addstr(b, "</pre>");
}

/* The part of `path` before its last '/': "." for a name alone. */
static void parent_dir(const char *path, struct dd_buf *out)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		dd_buf_addstr(out, ".");
	else if (slash == path)
		dd_buf_addstr(out, "/");
	else
		dd_buf_add(out, path, (size_t)(slash - path));
}

/*
 * The lease's files, read through its files interface as `drydock cp`
 * and the API read them: the directory ?path= names (the lease's own by
 * default), its directories linking to their listing and its files to
 * their download (/leases/ID/files/PATH, the API's download answering a
 * signed-in browser).  Shown while the lease is active, to whoever may
 * run commands on it: the listing reaches what its commands reach.
 */
static void files_section(struct dd_http_req *r, const struct dd_lease *l)
{
	const char *dir = dd_http_query(r, "path");
	struct dd_error err = DD_ERROR_INIT;
	struct dd_file_list fl = {NULL, 0};
	struct dd_buf *b = &r->out;
	struct dd_api_lease h;
	double now = dd_now();

	if (l->status != DD_LEASE_ACTIVE ||
	    !dd_principal_can(&r->who, DD_ACTION_LEASE_EXEC, l->owner))
		return;
	if (!dir || !*dir)
		dir = ".";
	dd_buf_addstr(b, "<h2 id=\"files\">Files in <code>");
	dd_html_esc(b, dir);
	dd_buf_addstr(b, "</code></h2>");
	if (dd_api_lease_open(r->store, l->id, "read files of", &h, &err) ||
	    dd_bp_file_list(h.bp.type, &h.bp.ctx, &h.resource, &h.lease, dir,
			    &fl, &(struct dd_file_options){FILES_PAGE_TIMEOUT, -1},
			    &err)) {
		dd_buf_addstr(b, "<p class=\"error\">");
		dd_html_esc(b, err.msg);
		dd_buf_addstr(b, "</p>");
		dd_api_lease_close(&h);
		return;
	}
	dd_api_lease_close(&h);
	if (fl.entries[0].type != 'd') {
		dd_buf_addstr(b, "<p class=\"muted\">not a directory</p>");
		dd_file_list_release(&fl);
		return;
	}
	if (fl.n == 1 && !strcmp(dir, ".")) {
		dd_buf_addstr(b, "<p class=\"muted\">empty</p>");
		dd_file_list_release(&fl);
		return;
	}
	dd_buf_addstr(b, "<div class=\"scroll\"><table id=\"file-list\"><tr>"
			 "<th>Name</th><th>Size</th><th>Mode</th>"
			 "<th>Modified</th></tr>");
	if (strcmp(dir, ".")) {
		struct dd_buf up = DD_BUF_INIT;

		parent_dir(dir, &up);
		dd_buf_addf(b, "<tr><td><a href=\"/leases/%lld?path=", l->id);
		dd_html_urlenc(b, up.buf ? up.buf : ".");
		dd_buf_addstr(b, "#files\">..</a></td><td></td><td></td><td>"
				 "</td></tr>");
		dd_buf_release(&up);
	}
	for (size_t i = 1; i < fl.n; i++) {
		const struct dd_file_entry *e = &fl.entries[i];
		struct dd_buf path = DD_BUF_INIT;
		char size[32];

		if (strcmp(dir, "."))
			dd_buf_addf(&path, "%s%s", dir,
				    dir[strlen(dir) - 1] == '/' ? "" : "/");
		dd_buf_addstr(&path, e->name);
		dd_buf_addstr(b, "<tr><td>");
		if (e->type == 'd') {
			dd_buf_addf(b, "<a href=\"/leases/%lld?path=", l->id);
			dd_html_urlenc(b, path.buf);
			dd_buf_addstr(b, "#files\">");
		} else if (e->type == 'f') {
			dd_buf_addf(b, "<a href=\"/leases/%lld/files/", l->id);
			dd_html_urlenc(b, path.buf);
			dd_buf_addstr(b, "\" download>");
		}
		dd_html_esc(b, e->name);
		dd_buf_addstr(b, e->type == 'd' ? "/</a>"
				 : e->type == 'f' ? "</a>"
				 : e->type == 'l' ? " (link)"
						  : "");
		dd_html_size(e->size, size, sizeof(size));
		dd_buf_addf(b, "</td><td title=\"%lld bytes\">%s</td>"
			       "<td><code>%04o</code></td><td>",
			    e->size, size, e->mode);
		dd_html_time(b, e->mtime, now, NULL);
		dd_buf_addstr(b, "</td></tr>");
		dd_buf_release(&path);
	}
	dd_buf_addstr(b, "</table></div>");
	dd_file_list_release(&fl);
}

void dd_web_lease(struct dd_http_req *r)
{
	struct dd_lease l = {0};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_web_release rel;
	struct dd_filter logf = {0};
	struct dd_buf *b = &r->out;
	char title[48];

	if (dd_store_lease_get(r->store, r->params[0], &l, &err))
		return dd_web_fail_err(r, &err);
	release_state(r, &l, &rel);
	snprintf(title, sizeof(title), "Lease %lld", l.id);
	dd_buf_addf(b, "<h1>%s ", title);
	dd_web_badge(b, dd_lease_status_name(l.status), "status");
	if (rel.releasing)
		dd_web_releasing_badge(b);
	dd_buf_addstr(b, "</h1><div class=\"actions\">");
	dd_web_release_button(r, &rel);
	dd_buf_addstr(b, "</div>");
	properties(r, &l);
	files_section(r, &l);
	dd_web_locks(r, rel.target);
	dd_web_commands(r, rel.target);
	logf.lease = l.id;
	dd_web_log(r, &logf, rel.target, NULL);
	dd_web_finish(r, 200, title, "leases",
		      refresh_for(&l, rel.releasing, dd_now()));
	dd_lease_release(&l);
}

/* ---- release ------------------------------------------------------- */

void dd_web_lease_release_page(struct dd_http_req *r)
{
	struct dd_lease l = {0};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_web_release rel;
	char what[400];

	if (dd_store_lease_get(r->store, r->params[0], &l, &err))
		return dd_web_fail_err(r, &err);
	release_state(r, &l, &rel);
	snprintf(what, sizeof(what),
		 "Lease %lld (%.40s, owned by %.80s) is %s. Releasing it "
		 "hands back what it holds: drydock runs the blueprint's "
		 "release and destroy steps, and the lease ends as destroyed. "
		 "This cannot be undone.",
		 l.id, l.type, l.owner ? l.owner : "nobody",
		 dd_lease_status_name(l.status));
	dd_web_release_confirm(r, &rel, what);
	dd_lease_release(&l);
}

void dd_web_lease_release_post(struct dd_http_req *r)
{
	struct dd_lease l = {0};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_web_release rel;

	if (!dd_web_csrf(r))
		return;
	if (dd_store_lease_get(r->store, r->params[0], &l, &err))
		return dd_web_fail_err(r, &err);
	release_state(r, &l, &rel);
	dd_web_release_send(r, &rel);
	dd_lease_release(&l);
}
