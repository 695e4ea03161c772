/*
 * web_resources.c - the resource pages: the list with its status and
 * blueprint filters, one resource with the leases on it, and its release
 * (admins only).
 */
#include "http/objects.h"
#include "http/web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESOURCE_STATES "pending, active, released, broken, destroyed"
#define LEASES_SHOWN 50

static int resource_status_parse(const char *s)
{
	return dd_resource_status_parse(s);
}

/* May the viewer release `x` now?  Fills *rel. */
static void release_state(struct dd_http_req *r, const struct dd_resource *x,
			  struct dd_web_release *rel)
{
	memset(rel, 0, sizeof(*rel));
	rel->target = (struct dd_ref){DD_OBJ_RESOURCE, x->id};
	rel->releasing = dd_http_release_queued(r->store, rel->target);
	rel->allowed =
		dd_principal_can(&r->who, DD_ACTION_RESOURCE_RELEASE, NULL);
	if (!dd_resource_status_releasable(x->status)) {
		rel->refused = 409;
		snprintf(rel->why, sizeof(rel->why), "it is %s%s",
			 x->status == DD_RESOURCE_BROKEN ? "" : "already ",
			 dd_resource_status_name(x->status));
	} else if (rel->releasing) {
		rel->refused = 409;
		snprintf(rel->why, sizeof(rel->why),
			 "a release is already queued");
	} else if (!rel->allowed) {
		rel->refused = 403;
		snprintf(rel->why, sizeof(rel->why),
			 "only an admin may release resources (your token's "
			 "role is %s)",
			 dd_role_name(r->who.role));
	}
}

/* The name of blueprint `id` in `l`, or NULL. */
static const char *bp_name(const struct dd_blueprint_list *l, long long id)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->items[i].id == id)
			return l->items[i].name;
	return NULL;
}

static void bp_link(struct dd_buf *b, const struct dd_blueprint_list *l,
		    long long id)
{
	const char *name = bp_name(l, id);

	dd_buf_addf(b, "<a href=\"/blueprints/%lld\">", id);
	if (name)
		dd_html_esc(b, name);
	else
		dd_buf_addf(b, "blueprint %lld", id);
	dd_buf_addstr(b, "</a>");
}

/* Leases on resource `id` that are not destroyed yet. */
static long long live_leases(struct dd_http_req *r, long long id)
{
	struct dd_filter f = {.resource = id,
			      .status_mask =
				      ~(1u << DD_LEASE_DESTROYED) &
				      ((1u << DD_LEASE_STATUS_COUNT) - 1)};
	long long n = 0;

	if (dd_store_lease_count(r->store, &f, &n, NULL))
		return -1;
	return n;
}

/* ---- the list ------------------------------------------------------ */

static void list_url(struct dd_buf *u, const char *status, long long bp)
{
	dd_buf_addstr(u, "/resources");
	if (status) {
		dd_buf_addstr(u, "?status=");
		dd_html_urlenc(u, status);
	}
	if (bp)
		dd_buf_addf(u, "%sblueprint=%lld", status ? "&" : "?", bp);
}

void dd_web_resources(struct dd_http_req *r)
{
	const char *status = dd_http_query(r, "status");
	struct dd_filter f = {0}, bf = {0};
	struct dd_resource_list l = {0};
	struct dd_blueprint_list bps = {0};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_buf *b = &r->out, base = DD_BUF_INIT;
	double now = dd_now();
	bool changing = false;
	long long cursor;
	size_t n;

	if (!dd_web_status_arg(r, resource_status_parse, RESOURCE_STATES,
			       &f.status_mask))
		return;
	if (status && !strcmp(status, "all"))
		status = NULL;
	f.blueprint = dd_web_blueprint_arg(r);
	if (f.blueprint < 0)
		return;
	cursor = dd_web_cursor(r);
	if (cursor < 0)
		return;
	f.before_id = cursor;
	f.limit = DD_WEB_PAGE + 1;
	f.descending = true;
	if (dd_store_resource_list(r->store, &f, &l, &err) ||
	    dd_store_blueprint_list(r->store, &bf, &bps, &err)) {
		dd_resource_list_release(&l);
		return dd_web_fail_err(r, &err);
	}
	n = l.n > DD_WEB_PAGE ? DD_WEB_PAGE : l.n;

	dd_buf_addstr(b, "<h1>Resources</h1><nav class=\"filters\" "
			 "aria-label=\"status\">");
	for (int s = -1; s < DD_RESOURCE_STATUS_COUNT; s++) {
		const char *name = s < 0 ? NULL : dd_resource_status_name(s);
		struct dd_buf u = DD_BUF_INIT;
		bool on = name ? status && !strcmp(status, name) : !status;

		list_url(&u, name, f.blueprint);
		dd_buf_addstr(b, "<a href=\"");
		dd_html_esc(b, u.buf);
		dd_buf_addf(b, "\"%s>%s</a>", on ? " class=\"on\"" : "",
			    name ? name : "all");
		dd_buf_release(&u);
	}
	dd_buf_addstr(b, "</nav>");
	if (f.blueprint) {
		struct dd_buf u = DD_BUF_INIT;

		list_url(&u, status, 0);
		dd_buf_addstr(b, "<p>Built from ");
		bp_link(b, &bps, f.blueprint);
		dd_buf_addstr(b, " (<a href=\"");
		dd_html_esc(b, u.buf);
		dd_buf_addstr(b, "\">any blueprint</a>)</p>");
		dd_buf_release(&u);
	}
	if (!n)
		dd_buf_addstr(b, "<p class=\"muted\" id=\"empty\">No resources "
				 "here.</p>");
	else
		dd_buf_addstr(b, "<div class=\"scroll\"><table "
				 "id=\"resources\"><tr><th>ID</th>"
				 "<th>Status</th><th>Type</th>"
				 "<th>Blueprint</th><th>Leases</th>"
				 "<th>Created</th><th>Changed</th>"
				 "<th>Attributes</th></tr>");
	for (size_t i = 0; i < n; i++) {
		struct dd_resource *x = &l.items[i];
		struct dd_ref ref = {DD_OBJ_RESOURCE, x->id};
		bool releasing = dd_resource_status_releasable(x->status) &&
				 dd_http_release_queued(r->store, ref);
		long long leases = live_leases(r, x->id);

		changing |= releasing || dd_web_resource_changing(x->status);
		dd_buf_addf(b,
			    "<tr><td><a href=\"/resources/%lld\">%lld</a></td>"
			    "<td>",
			    x->id, x->id);
		dd_web_badge(b, dd_resource_status_name(x->status), NULL);
		if (releasing) {
			dd_buf_addstr(b, " ");
			dd_web_releasing_badge(b);
		}
		if (x->draining && x->status == DD_RESOURCE_ACTIVE) {
			dd_buf_addstr(b, " ");
			dd_web_draining_badge(b);
		}
		dd_buf_addstr(b, "</td><td>");
		dd_html_esc(b, x->type);
		dd_buf_addstr(b, "</td><td>");
		bp_link(b, &bps, x->blueprint);
		dd_buf_addstr(b, "</td><td>");
		if (leases >= 0)
			dd_buf_addf(b, "%lld", leases);
		dd_buf_addstr(b, "</td><td>");
		dd_html_time(b, x->created, now, NULL);
		dd_buf_addstr(b, "</td><td>");
		dd_html_time(b, x->modified, now, NULL);
		dd_buf_addstr(b, "</td><td class=\"wide\"><code>");
		dd_html_json(b, x->attributes, false);
		dd_buf_addstr(b, "</code></td></tr>");
	}
	if (n)
		dd_buf_addstr(b, "</table></div>");
	list_url(&base, status, f.blueprint);
	dd_web_pager(b, base.buf, cursor, l.n > n, n ? l.items[n - 1].id : 0);
	dd_buf_release(&base);
	dd_resource_list_release(&l);
	dd_blueprint_list_release(&bps);
	dd_web_finish(r, 200, "Resources", "resources",
		      changing ? DD_WEB_REFRESH : 0);
}

/* ---- one resource -------------------------------------------------- */

/* The leases on resource `id`, newest first; true if one is changing. */
static bool leases_on(struct dd_http_req *r, long long id)
{
	struct dd_filter f = {
		.resource = id, .limit = LEASES_SHOWN + 1, .descending = true};
	struct dd_lease_list l = {0};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_buf *b = &r->out;
	double now = dd_now();
	bool changing = false;
	size_t n;

	dd_buf_addstr(b, "<h2>Leases on it</h2>");
	if (dd_store_lease_list(r->store, &f, &l, &err)) {
		dd_buf_addstr(b, "<p class=\"error\">");
		dd_html_esc(b, err.msg);
		dd_buf_addstr(b, "</p>");
		return false;
	}
	if (!l.n) {
		dd_buf_addstr(b, "<p class=\"muted\">none</p>");
		return false;
	}
	n = l.n > LEASES_SHOWN ? LEASES_SHOWN : l.n;
	if (l.n > n)
		dd_buf_addf(b, "<p class=\"muted\">The newest %d.</p>",
			    LEASES_SHOWN);
	dd_buf_addstr(b, "<div class=\"scroll\"><table id=\"leases\"><tr>"
			 "<th>ID</th><th>Status</th><th>Owner</th>"
			 "<th>Expires</th><th>Created</th><th>Changed</th>"
			 "</tr>");
	for (size_t i = 0; i < n; i++) {
		struct dd_lease *x = &l.items[i];

		changing |= dd_web_lease_changing(x->status);
		dd_buf_addf(b,
			    "<tr><td><a href=\"/leases/%lld\">%lld</a></td>"
			    "<td>",
			    x->id, x->id);
		dd_web_badge(b, dd_lease_status_name(x->status), NULL);
		dd_buf_addstr(b, "</td><td>");
		dd_html_esc(b, x->owner ? x->owner : "-");
		dd_buf_addstr(b, "</td><td>");
		dd_html_time(b, x->until, now, "never");
		dd_buf_addstr(b, "</td><td>");
		dd_html_time(b, x->created, now, NULL);
		dd_buf_addstr(b, "</td><td>");
		dd_html_time(b, x->modified, now, NULL);
		dd_buf_addstr(b, "</td></tr>");
	}
	dd_buf_addstr(b, "</table></div>");
	dd_lease_list_release(&l);
	return changing;
}

void dd_web_resource(struct dd_http_req *r)
{
	struct dd_resource x = {0};
	struct dd_blueprint bp = {0};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_web_release rel;
	struct dd_filter logf = {0};
	struct dd_buf *b = &r->out;
	double now = dd_now();
	bool changing;
	char title[48];

	if (dd_store_resource_get(r->store, r->params[0], &x, &err))
		return dd_web_fail_err(r, &err);
	release_state(r, &x, &rel);
	snprintf(title, sizeof(title), "Resource %lld", x.id);
	dd_buf_addf(b, "<h1>%s ", title);
	dd_web_badge(b, dd_resource_status_name(x.status), "status");
	if (rel.releasing)
		dd_web_releasing_badge(b);
	if (x.draining && x.status == DD_RESOURCE_ACTIVE)
		dd_web_draining_badge(b);
	dd_buf_addstr(b, "</h1><div class=\"actions\">");
	dd_web_release_button(r, &rel);
	dd_buf_addstr(b, "</div><dl class=\"props\"><dt>Status</dt><dd>");
	dd_html_esc(b, dd_resource_status_name(x.status));
	dd_buf_addstr(b, "</dd><dt>Type</dt><dd>");
	dd_html_esc(b, x.type);
	dd_buf_addf(b,
		    "</dd><dt>Blueprint</dt><dd><a href=\"/blueprints/"
		    "%lld\">",
		    x.blueprint);
	if (!dd_store_blueprint_get(r->store, x.blueprint, &bp, NULL))
		dd_html_esc(b, bp.name);
	else
		dd_buf_addf(b, "blueprint %lld", x.blueprint);
	dd_blueprint_release(&bp);
	dd_buf_addstr(b, "</a></dd><dt>Machine</dt><dd id=\"machine\">");
	dd_html_esc(b, x.machine[0] ? x.machine : "any");
	dd_buf_addstr(b, "</dd><dt>Created</dt><dd>");
	dd_html_time(b, x.created, now, NULL);
	dd_buf_addstr(b, "</dd><dt>Changed</dt><dd>");
	dd_html_time(b, x.modified, now, NULL);
	dd_buf_addstr(b, "</dd></dl><h2>Attributes</h2><pre "
			 "id=\"attributes\">");
	dd_html_json(b, x.attributes, true);
	dd_buf_addstr(b, "</pre>");
	changing = leases_on(r, x.id);
	dd_web_locks(r, rel.target);
	dd_web_commands(r, rel.target);
	logf.resource = x.id;
	dd_web_log(r, &logf, rel.target, NULL);
	changing |= rel.releasing || dd_web_resource_changing(x.status);
	dd_web_finish(r, 200, title, "resources",
		      changing ? DD_WEB_REFRESH : 0);
	dd_resource_release(&x);
}

/* ---- release ------------------------------------------------------- */

void dd_web_resource_release_page(struct dd_http_req *r)
{
	struct dd_resource x = {0};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_web_release rel;
	char what[400];
	long long leases;

	if (dd_store_resource_get(r->store, r->params[0], &x, &err))
		return dd_web_fail_err(r, &err);
	release_state(r, &x, &rel);
	leases = live_leases(r, x.id);
	snprintf(what, sizeof(what),
		 "Resource %lld (%.40s) is %s and has %lld lease%s not yet "
		 "destroyed. Releasing it also releases every acquired or "
		 "active lease on it; once no lease on it is left, drydock "
		 "runs the blueprint's destroy step and the resource ends "
		 "as destroyed. This cannot be undone.",
		 x.id, x.type, dd_resource_status_name(x.status),
		 leases < 0 ? 0 : leases, leases == 1 ? "" : "s");
	dd_web_release_confirm(r, &rel, what);
	dd_resource_release(&x);
}

void dd_web_resource_release_post(struct dd_http_req *r)
{
	struct dd_resource x = {0};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_web_release rel;

	if (!dd_web_csrf(r))
		return;
	if (dd_store_resource_get(r->store, r->params[0], &x, &err))
		return dd_web_fail_err(r, &err);
	release_state(r, &x, &rel);
	dd_web_release_send(r, &rel);
	dd_resource_release(&x);
}
