/*
 * web_blueprints.c - the blueprint pages: the list, and one blueprint
 * with its configuration, the resources built from it, its
 * authorizations (web_authorizations.c) and its log.
 */
#include "blueprint/prewarm.h"
#include "http/web.h"

#include <stdio.h>

#define RESOURCES_SHOWN 50

/* Resources built from blueprint `id` that are not destroyed yet. */
static long long live_resources(struct dd_http_req *r, long long id,
				struct dd_error *err)
{
	struct dd_filter f = {.blueprint = id,
			      .status_mask =
				      ~(1u << DD_RESOURCE_DESTROYED) &
				      ((1u << DD_RESOURCE_STATUS_COUNT) - 1)};
	struct dd_resource_list l = {0};
	long long n;

	if (dd_store_resource_list(r->store, &f, &l, err))
		return -1;
	n = (long long)l.n;
	dd_resource_list_release(&l);
	return n;
}

static void enabled_badge(struct dd_buf *b, bool enabled)
{
	dd_web_badge(b, enabled ? "enabled" : "disabled", NULL);
}

/* A count or setting of the pool: its number, or `none` when null. */
static void pool_value(struct dd_buf *b, json_t *pool, const char *key,
		       const char *none)
{
	json_t *v = json_object_get(pool, key);

	if (json_is_integer(v))
		dd_buf_addf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else
		dd_buf_addstr(b, none);
}

/* Its pool's ready resources, against min_ready when it keeps some. */
static void ready_cell(struct dd_http_req *r, const struct dd_blueprint *bp)
{
	json_t *pool;

	if (dd_prewarm_status(r->store, bp, &pool, NULL)) {
		dd_buf_addstr(&r->out, "?");
		return;
	}
	pool_value(&r->out, pool, "ready", "0");
	if (json_integer_value(json_object_get(pool, "min_ready")) > 0) {
		dd_buf_addstr(&r->out, " (min_ready ");
		pool_value(&r->out, pool, "min_ready", "0");
		dd_buf_addstr(&r->out, ")");
	}
	json_decref(pool);
}

void dd_web_blueprints(struct dd_http_req *r)
{
	struct dd_filter f = {0};
	struct dd_blueprint_list l = {0};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_buf *b = &r->out;
	double now = dd_now();

	if (dd_store_blueprint_list(r->store, &f, &l, &err))
		return dd_web_fail_err(r, &err);
	dd_buf_addstr(b, "<h1>Blueprints</h1>");
	if (!l.n)
		dd_buf_addstr(b, "<p class=\"muted\" id=\"empty\">No "
				 "blueprints yet: an admin makes one with "
				 "<code>drydock blueprint create</code> or "
				 "<code>POST /api/v1/blueprints</code>.</p>");
	else
		dd_buf_addstr(b, "<div class=\"scroll\"><table "
				 "id=\"blueprints\"><tr><th>ID</th>"
				 "<th>Name</th><th>Type</th><th>State</th>"
				 "<th>Resources</th><th>Ready</th><th>Created</th>"
				 "<th>Changed</th></tr>");
	for (size_t i = 0; i < l.n; i++) {
		struct dd_blueprint *x = &l.items[i];
		long long live = live_resources(r, x->id, NULL);

		dd_buf_addf(
			b, "<tr><td>%lld</td><td><a href=\"/blueprints/%lld\">",
			x->id, x->id);
		dd_html_esc(b, x->name);
		dd_buf_addstr(b, "</a></td><td>");
		dd_html_esc(b, x->type);
		dd_buf_addstr(b, "</td><td>");
		enabled_badge(b, x->enabled);
		dd_buf_addf(b,
			    "</td><td><a href=\"/resources?blueprint=%lld\">",
			    x->id);
		if (live >= 0)
			dd_buf_addf(b, "%lld live", live);
		else
			dd_buf_addstr(b, "list");
		dd_buf_addstr(b, "</a></td><td>");
		ready_cell(r, x);
		dd_buf_addstr(b, "</td><td>");
		dd_html_time(b, x->created, now, NULL);
		dd_buf_addstr(b, "</td><td>");
		dd_html_time(b, x->modified, now, NULL);
		dd_buf_addstr(b, "</td></tr>");
	}
	if (l.n)
		dd_buf_addstr(b, "</table></div>");
	dd_blueprint_list_release(&l);
	dd_web_finish(r, 200, "Blueprints", "blueprints", 0);
}

/*
 * The blueprint's pool (blueprint/prewarm.h): its resources ready (idle),
 * in use, building and releasing, its settings and its counters; true
 * while one is building or releasing, so the page keeps reloading.
 */
static bool pool_of(struct dd_http_req *r, const struct dd_blueprint *bp)
{
	static const struct {
		const char *key, *label, *none;
	} rows[] = {
		{"ready", "Ready (idle)", "0"},
		{"in_use", "In use", "0"},
		{"building", "Building", "0"},
		{"releasing", "Releasing", "0"},
		{"min_ready", "min_ready", "0"},
		{"max_idle", "max_idle", "no limit"},
		{"idle_ttl", "idle_ttl (seconds)", "none"},
		{"built", "Built ahead of demand", "0"},
		{"destroyed", "Idle ones destroyed", "0"},
	};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_buf *b = &r->out;
	json_t *pool;
	bool changing;

	dd_buf_addstr(b, "<h2>Pool</h2>");
	if (dd_prewarm_status(r->store, bp, &pool, &err)) {
		dd_buf_addstr(b, "<p class=\"error\">");
		dd_html_esc(b, err.msg);
		dd_buf_addstr(b, "</p>");
		return false;
	}
	dd_buf_addstr(b, "<dl class=\"props\" id=\"pool\">");
	for (size_t i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
		dd_buf_addf(b, "<dt>%s</dt><dd id=\"pool-%s\">", rows[i].label,
			    rows[i].key);
		pool_value(b, pool, rows[i].key, rows[i].none);
		dd_buf_addstr(b, "</dd>");
	}
	dd_buf_addstr(b, "</dl>");
	changing = json_integer_value(json_object_get(pool, "building")) ||
		   json_integer_value(json_object_get(pool, "releasing"));
	json_decref(pool);
	return changing;
}

/* The newest resources built from `id`; true if one is changing. */
static bool resources_from(struct dd_http_req *r, long long id)
{
	struct dd_filter f = {.blueprint = id,
			      .limit = RESOURCES_SHOWN + 1,
			      .descending = true};
	struct dd_resource_list l = {0};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_buf *b = &r->out;
	double now = dd_now();
	bool changing = false;
	size_t n;

	dd_buf_addf(b,
		    "<h2>Resources built from it <a class=\"muted\" "
		    "href=\"/resources?blueprint=%lld\">(all)</a></h2>",
		    id);
	if (dd_store_resource_list(r->store, &f, &l, &err)) {
		dd_buf_addstr(b, "<p class=\"error\">");
		dd_html_esc(b, err.msg);
		dd_buf_addstr(b, "</p>");
		return false;
	}
	if (!l.n) {
		dd_buf_addstr(b, "<p class=\"muted\">none yet</p>");
		return false;
	}
	n = l.n > RESOURCES_SHOWN ? RESOURCES_SHOWN : l.n;
	if (l.n > n)
		dd_buf_addf(b, "<p class=\"muted\">The newest %d.</p>",
			    RESOURCES_SHOWN);
	dd_buf_addstr(b, "<div class=\"scroll\"><table id=\"resources\"><tr>"
			 "<th>ID</th><th>Status</th><th>Created</th>"
			 "<th>Changed</th><th>Attributes</th></tr>");
	for (size_t i = 0; i < n; i++) {
		struct dd_resource *x = &l.items[i];

		changing |= dd_web_resource_changing(x->status);
		dd_buf_addf(b,
			    "<tr><td><a href=\"/resources/%lld\">%lld</a></td>"
			    "<td>",
			    x->id, x->id);
		dd_web_badge(b, dd_resource_status_name(x->status), NULL);
		dd_buf_addstr(b, "</td><td>");
		dd_html_time(b, x->created, now, NULL);
		dd_buf_addstr(b, "</td><td>");
		dd_html_time(b, x->modified, now, NULL);
		dd_buf_addstr(b, "</td><td class=\"wide\"><code>");
		dd_html_json(b, x->attributes, false);
		dd_buf_addstr(b, "</code></td></tr>");
	}
	dd_buf_addstr(b, "</table></div>");
	dd_resource_list_release(&l);
	return changing;
}

void dd_web_blueprint(struct dd_http_req *r)
{
	struct dd_blueprint bp = {0};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter logf = {0};
	struct dd_buf *b = &r->out;
	double now = dd_now();
	char title[48];
	bool changing;

	if (dd_store_blueprint_get(r->store, r->params[0], &bp, &err))
		return dd_web_fail_err(r, &err);
	snprintf(title, sizeof(title), "Blueprint %lld", bp.id);
	dd_buf_addf(b, "<h1>%s ", title);
	enabled_badge(b, bp.enabled);
	dd_buf_addstr(b, "</h1><dl class=\"props\"><dt>Name</dt><dd>");
	dd_html_esc(b, bp.name);
	dd_buf_addstr(b, "</dd><dt>Type</dt><dd>");
	dd_html_esc(b, bp.type);
	dd_buf_addstr(b, "</dd><dt>State</dt><dd>");
	dd_buf_addstr(b, bp.enabled ? "enabled: builds new resources"
				    : "disabled: builds no new resources");
	dd_buf_addstr(b, "</dd><dt>Created</dt><dd>");
	dd_html_time(b, bp.created, now, NULL);
	dd_buf_addstr(b, "</dd><dt>Changed</dt><dd>");
	dd_html_time(b, bp.modified, now, NULL);
	dd_buf_addstr(b, "</dd></dl><h2>Configuration</h2><pre id=\"config\">");
	dd_html_json(b, bp.config, true);
	dd_buf_addstr(b, "</pre>");
	changing = pool_of(r, &bp);
	changing |= resources_from(r, bp.id);
	dd_web_authorizations_of(r, &bp);
	logf.blueprint = bp.id;
	dd_web_log(r, &logf, (struct dd_ref){DD_OBJ_BLUEPRINT, bp.id}, NULL);
	dd_web_finish(r, 200, title, "blueprints",
		      changing ? DD_WEB_REFRESH : 0);
	dd_blueprint_release(&bp);
}
