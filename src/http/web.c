/*
 * web.c - the web UI: server-rendered pages that work without JavaScript.
 *
 * This file holds the layout every page shares, the overview, the
 * sections detail pages share (slot locks, command queue, log), the
 * release flow, and the route table; see web.h for the rest.
 *
 * Signing in trades an API token for a session cookie (session.c); every
 * form that changes something carries the session's CSRF token.
 */
#include "api/api.h"
#include "http/web.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One stylesheet, inline: the CSP allows inline style and nothing else. */
static const char style[] =
	"*{box-sizing:border-box}"
	"body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;"
	"margin:0;color:#1d2330;background:#f4f5f7}"
	"a{color:#1f5fbf}"
	"header{background:#1d2330;color:#c9d1de;display:flex;flex-wrap:wrap;"
	"align-items:center;gap:.3em 1.2em;padding:.55em 1em}"
	"header .brand{font-weight:700;color:#fff;text-decoration:none}"
	"header nav{display:flex;flex-wrap:wrap;gap:.2em 1em}"
	"header nav a{color:#c9d1de;text-decoration:none;"
	"border-bottom:2px solid transparent}"
	"header nav a:hover,header nav a.on{color:#fff;border-color:#5b9cf5}"
	"header .who{margin-left:auto;display:flex;flex-wrap:wrap;"
	"align-items:center;gap:.2em .8em;font-size:.9em}"
	"header .who button{background:none;border:0;padding:0;color:#c9d1de;"
	"text-decoration:underline;font:inherit;cursor:pointer}"
	"main{padding:1em;max-width:78em;margin:0 auto}"
	"h1{font-size:1.35em;margin:.2em 0 .6em;display:flex;flex-wrap:wrap;"
	"align-items:center;gap:.4em}"
	"h2{font-size:1.05em;margin:1.5em 0 .5em}"
	".box,.scroll,pre,dl.props{background:#fff;border:1px solid #dde1e7;"
	"border-radius:6px}"
	".scroll{overflow-x:auto}"
	"table{border-collapse:collapse;width:100%;font-size:.92em}"
	"th,td{text-align:left;padding:.4em .7em;border-bottom:1px solid "
	"#eceef2;white-space:nowrap;vertical-align:top}"
	"th{background:#f8f9fb;font-weight:600;color:#4a5366}"
	"tr:last-child td{border-bottom:0}"
	"td.wide{white-space:normal;min-width:14em;overflow-wrap:anywhere}"
	"code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"
	"monospace;font-size:.9em}"
	"pre{padding:.7em 1em;overflow-x:auto;margin:0}"
	".badge{display:inline-block;padding:0 .6em;border-radius:999px;"
	"font-size:.85em;font-weight:600;border:1px solid;white-space:nowrap}"
	".s-pending,.s-queued,.s-requested{background:#fff4d6;color:#7a5300;"
	"border-color:#f0d58a}"
	".s-acquired{background:#e3efff;color:#1d4f91;border-color:#b5d0f5}"
	".s-active,.s-done,.s-approved{background:#dff5e4;color:#17642e;"
	"border-color:#a9dfb7}"
	".s-released{background:#efe8fb;color:#5a3d8a;border-color:#d3c3ef}"
	".s-broken,.s-failed,.s-declined{background:#fde2e1;color:#9b1c1c;"
	"border-color:#f3b1ae}"
	".s-destroyed,.s-ignored,.s-disabled{background:#eceef1;"
	"color:#5b6372;border-color:#d5d9df}"
	".s-releasing,.s-finishing{background:#ffe6cc;color:#8a4500;"
	"border-color:#f5b97a}"
	".s-building{background:#e3efff;color:#1d4f91;border-color:#b5d0f5}"
	".s-passed{background:#dff5e4;color:#17642e;border-color:#a9dfb7}"
	".s-aborted,.s-external{background:#eceef1;color:#5b6372;"
	"border-color:#d5d9df}"
	"dl.props{display:grid;grid-template-columns:max-content minmax(0,1fr);"
	"gap:.3em 1.2em;padding:.8em 1em;margin:0}"
	"dl.props dt{color:#5b6372}"
	"dl.props dd{margin:0;overflow-wrap:anywhere}"
	".filters{display:flex;flex-wrap:wrap;gap:.4em;margin:0 0 .8em}"
	".filters a{padding:.1em .75em;border-radius:999px;border:1px solid "
	"#cfd5de;background:#fff;color:#1d2330;text-decoration:none;"
	"font-size:.9em}"
	".filters a.on{background:#1d2330;border-color:#1d2330;color:#fff}"
	".actions{display:flex;flex-wrap:wrap;gap:.6em;align-items:center;"
	"margin:0 0 1em}"
	"form{margin:0}"
	"form.inline{display:inline;margin-right:.4em}"
	"button,.button{font:inherit;font-size:.92em;padding:.35em 1em;"
	"border-radius:6px;border:1px solid #b9c0cb;background:#fff;"
	"color:#1d2330;cursor:pointer;text-decoration:none;display:inline-"
	"block}"
	"button.danger,.button.danger{background:#c6352b;border-color:#a82a21;"
	"color:#fff}"
	"button.primary{background:#1f5fbf;border-color:#194f9f;color:#fff}"
	"button:disabled{background:#eceef1;border-color:#d5d9df;color:#8b93a1;"
	"cursor:not-allowed}"
	"input{font:inherit;padding:.35em .6em;border:1px solid #b9c0cb;"
	"border-radius:6px;max-width:100%}"
	".muted{color:#6b7383}"
	".error{background:#fde2e1;border:1px solid #f3b1ae;color:#7c1616;"
	"padding:.6em .9em;border-radius:6px;overflow-wrap:anywhere}"
	".cards{display:grid;grid-template-columns:repeat(auto-fit,"
	"minmax(15em,1fr));gap:1em}"
	".box{padding:.8em 1em}"
	".box h2{margin:0 0 .5em}"
	".counts{list-style:none;margin:0;padding:0}"
	".counts li{display:flex;justify-content:space-between;padding:.15em 0}"
	".pager{display:flex;gap:1.2em;margin:.7em 0}"
	"footer{color:#6b7383;font-size:.85em;margin-top:2em}";

static const struct {
	const char *name, *path, *label;
} nav_items[] = {
	{"overview", "/", "Overview"},
	{"leases", "/leases", "Leases"},
	{"resources", "/resources", "Resources"},
	{"blueprints", "/blueprints", "Blueprints"},
	{"targets", "/targets", "Targets"},
	{"tasks", "/tasks", "Tasks"},
};

/* ---- layout -------------------------------------------------------- */

static void header(struct dd_http_req *r, struct dd_buf *b, const char *nav)
{
	dd_buf_addstr(b, "<header><a class=\"brand\" href=\"/\">drydock</a>");
	if (!r->authenticated) {
		dd_buf_addstr(b, "</header>");
		return;
	}
	dd_buf_addstr(b, "<nav>");
	for (size_t i = 0; i < sizeof(nav_items) / sizeof(*nav_items); i++)
		dd_buf_addf(b, "<a href=\"%s\"%s>%s</a>", nav_items[i].path,
			    nav && !strcmp(nav, nav_items[i].name)
				    ? " class=\"on\" aria-current=\"page\""
				    : "",
			    nav_items[i].label);
	dd_buf_addstr(b, "</nav><div class=\"who\"><span id=\"who\">");
	dd_html_esc(b, r->who.identity);
	dd_buf_addf(b, " &middot; %s</span>", dd_role_name(r->who.role));
	dd_buf_addstr(b, "<form method=\"post\" action=\"/logout\">"
			 "<input type=\"hidden\" name=\"csrf\" value=\"");
	dd_html_esc(b, r->csrf);
	dd_buf_addstr(b, "\"><button type=\"submit\">Sign out</button>"
			 "</form></div></header>");
}

void dd_web_finish(struct dd_http_req *r, int status, const char *title,
		   const char *nav, int refresh)
{
	struct dd_buf page = DD_BUF_INIT;

	dd_buf_addstr(&page, "<!doctype html><html lang=\"en\"><head>"
			     "<meta charset=\"utf-8\">"
			     "<meta name=\"viewport\" content=\"width="
			     "device-width, initial-scale=1\">");
	if (refresh > 0)
		dd_buf_addf(&page,
			    "<meta http-equiv=\"refresh\" content=\"%d\">",
			    refresh);
	dd_buf_addstr(&page, "<title>");
	dd_html_esc(&page, title);
	dd_buf_addstr(&page, " - drydock</title>"
			     "<link rel=\"icon\" href=\"/favicon.svg\">"
			     "<style>");
	dd_buf_addstr(&page, style);
	dd_buf_addstr(&page, "</style></head><body>");
	header(r, &page, nav);
	dd_buf_addstr(&page, "<main>");
	if (r->out.len)
		dd_buf_add(&page, r->out.buf, r->out.len);
	if (refresh > 0 && refresh <= DD_WEB_REFRESH_SLOW)
		dd_buf_addf(&page,
			    "<footer>This page reloads itself every %d s "
			    "while it changes.</footer>",
			    refresh);
	dd_buf_addstr(&page, "</main></body></html>\n");
	dd_buf_release(&r->out);
	r->out = page;
	dd_http_html(r, status);
}

static const char *status_title(int status, const char **code)
{
	switch (status) {
	case 400:
		*code = "invalid";
		return "Bad request";
	case 401:
		*code = "unauthorized";
		return "Not signed in";
	case 403:
		*code = "forbidden";
		return "Not allowed";
	case 404:
		*code = "not_found";
		return "Not found";
	case 409:
		*code = "conflict";
		return "Not possible now";
	case 503:
		*code = "store_unavailable";
		return "Unavailable";
	default:
		*code = "internal";
		return "Error";
	}
}

/* An error page: `msg`, and a link to `back` labelled `back_label`. */
static void error_page(struct dd_http_req *r, int status, const char *msg,
		       const char *back, const char *back_label)
{
	const char *code;
	const char *title = status_title(status, &code);

	snprintf(r->error_code, sizeof(r->error_code), "%s", code);
	dd_buf_release(&r->out);
	dd_buf_addstr(&r->out, "<h1>");
	dd_html_esc(&r->out, title);
	dd_buf_addstr(&r->out, "</h1><p class=\"error\" role=\"alert\">");
	dd_html_esc(&r->out, msg);
	dd_buf_addstr(&r->out, "</p><p><a href=\"");
	dd_html_esc(&r->out, back);
	dd_buf_addstr(&r->out, "\">");
	dd_html_esc(&r->out, back_label);
	dd_buf_addstr(&r->out, "</a></p>");
	dd_web_finish(r, status, title, NULL, 0);
}

void dd_web_fail(struct dd_http_req *r, int status, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	error_page(r, status, msg, "/", "Back to the overview");
}

void dd_web_fail_back(struct dd_http_req *r, int status, const char *back,
		      const char *back_label, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	error_page(r, status, msg, back, back_label);
}

void dd_web_not_found(struct dd_http_req *r)
{
	dd_web_fail(r, 404, "There is no page at %s.", r->path);
}

void dd_web_fail_err(struct dd_http_req *r, const struct dd_error *err)
{
	dd_web_fail(r, dd_err_http_status(err->code), "%s", err->msg);
}

void dd_web_redirect(struct dd_http_req *r, const char *path)
{
	snprintf(r->location, sizeof(r->location), "%s", path);
	dd_buf_release(&r->out);
	dd_buf_addstr(&r->out, "<p><a href=\"");
	dd_html_esc(&r->out, path);
	dd_buf_addstr(&r->out, "\">Continue</a></p>");
	dd_web_finish(r, 303, "Moved", NULL, 0);
}

/* ---- query arguments and lists ------------------------------------- */

/* ?KEY=ID: 0 when absent; -1, after answering 400, unless it is `what` */
static long long id_arg(struct dd_http_req *r, const char *key,
			const char *what)
{
	const char *v = dd_http_query(r, key);
	char *end;
	long long id;

	if (!v)
		return 0;
	errno = 0;
	id = strtoll(v, &end, 10);
	if (!*v || *end || errno || id <= 0) {
		dd_web_fail(r, 400, "'%s' must be %s, not '%.64s'", key, what,
			    v);
		return -1;
	}
	return id;
}

long long dd_web_cursor(struct dd_http_req *r)
{
	return id_arg(r, "cursor", "a positive integer");
}

long long dd_web_blueprint_arg(struct dd_http_req *r)
{
	return id_arg(r, "blueprint", "a blueprint's id");
}

bool dd_web_status_arg(struct dd_http_req *r, int (*parse)(const char *),
		       const char *known, unsigned *mask)
{
	const char *v = dd_http_query(r, "status");
	int st;

	*mask = 0;
	if (!v || !strcmp(v, "all"))
		return true;
	st = parse(v);
	if (st < 0) {
		dd_web_fail(r, 400, "unknown status '%.64s' (known: all, %s)",
			    v, known);
		return false;
	}
	*mask = 1u << st;
	return true;
}

void dd_web_pager(struct dd_buf *b, const char *base, long long cursor,
		  bool more, long long last_id)
{
	struct dd_buf url = DD_BUF_INIT;

	if (!cursor && !more)
		return;
	dd_buf_addstr(b, "<p class=\"pager\">");
	if (cursor) {
		dd_buf_addstr(b, "<a href=\"");
		dd_html_esc(b, base);
		dd_buf_addstr(b, "\">&larr; Newest</a>");
	}
	if (more) {
		dd_buf_addf(&url, "%s%scursor=%lld", base,
			    strchr(base, '?') ? "&" : "?", last_id);
		dd_buf_addstr(b, "<a href=\"");
		dd_html_esc(b, url.buf);
		dd_buf_addstr(b, "\" rel=\"next\">Older &rarr;</a>");
	}
	dd_buf_addstr(b, "</p>");
	dd_buf_release(&url);
}

/* ---- small renderings ---------------------------------------------- */

void dd_web_badge(struct dd_buf *b, const char *status, const char *id)
{
	dd_buf_addstr(b, "<span class=\"badge s-");
	dd_html_esc(b, status);
	dd_buf_addstr(b, "\"");
	if (id) {
		dd_buf_addstr(b, " id=\"");
		dd_html_esc(b, id);
		dd_buf_addstr(b, "\"");
	}
	dd_buf_addstr(b, ">");
	dd_html_esc(b, status);
	dd_buf_addstr(b, "</span>");
}

void dd_web_releasing_badge(struct dd_buf *b)
{
	dd_buf_addstr(b, "<span class=\"badge s-releasing\" id=\"releasing\" "
			 "title=\"a release command is queued\">"
			 "Releasing</span>");
}

void dd_web_draining_badge(struct dd_buf *b)
{
	dd_buf_addstr(b, "<span class=\"badge s-releasing\" id=\"draining\" "
			 "title=\"draining: it keeps its leases and takes no "
			 "new one\">Draining</span>");
}

void dd_web_path(char *buf, size_t n, struct dd_ref ref)
{
	snprintf(buf, n, "/%ss/%lld", dd_obj_kind_name(ref.kind), ref.id);
}

void dd_web_link(struct dd_buf *b, struct dd_ref ref)
{
	char path[64];

	dd_web_path(path, sizeof(path), ref);
	dd_buf_addf(b, "<a href=\"%s\">%s %lld</a>", path,
		    dd_obj_kind_name(ref.kind), ref.id);
}

bool dd_web_lease_changing(enum dd_lease_status s)
{
	return s != DD_LEASE_ACTIVE && s != DD_LEASE_DESTROYED;
}

bool dd_web_resource_changing(enum dd_resource_status s)
{
	return s != DD_RESOURCE_ACTIVE && s != DD_RESOURCE_DESTROYED;
}

/* ---- sections of detail pages -------------------------------------- */

#define COMMANDS_SHOWN 100
#define LOG_SHOWN 200

void dd_web_locks(struct dd_http_req *r, struct dd_ref owner)
{
	struct dd_filter f = {.target = owner};
	struct dd_slot_lock_list l = {0};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_buf *b = &r->out;

	dd_buf_addstr(b, "<h2>Slot locks</h2>");
	if (dd_store_slot_list(r->store, &f, &l, &err)) {
		dd_buf_addstr(b, "<p class=\"error\">");
		dd_html_esc(b, err.msg);
		dd_buf_addstr(b, "</p>");
		return;
	}
	if (!l.n)
		dd_buf_addstr(b, "<p class=\"muted\">none held</p>");
	else
		dd_buf_addstr(b, "<div class=\"scroll\"><table><tr>"
				 "<th>Key</th></tr>");
	for (size_t i = 0; i < l.n; i++) {
		dd_buf_addstr(b, "<tr><td><code>");
		dd_html_esc(b, l.items[i].key);
		dd_buf_addstr(b, "</code></td></tr>");
	}
	if (l.n)
		dd_buf_addstr(b, "</table></div>");
	dd_slot_lock_list_release(&l);
}

/* A command's outcome: "queued" until consumed, then "done" or "ignored". */
static void outcome(struct dd_buf *b, const struct dd_command *c)
{
	const char *o = c->outcome ? c->outcome : "";

	if (!c->consumed) {
		dd_web_badge(b, "queued", NULL);
	} else if (!strncmp(o, "ignored", 7)) {
		dd_web_badge(b, "ignored", NULL);
		o += 7;
		o += strspn(o, ": ");
		if (*o) {
			dd_buf_addstr(b, " <span class=\"muted\">");
			dd_html_esc(b, o);
			dd_buf_addstr(b, "</span>");
		}
	} else {
		dd_buf_addstr(b, "<span class=\"badge s-done\">");
		dd_html_esc(b, o);
		dd_buf_addstr(b, "</span>");
	}
}

void dd_web_commands(struct dd_http_req *r, struct dd_ref target)
{
	struct dd_filter f = {.target = target,
			      .limit = COMMANDS_SHOWN + 1,
			      .descending = true};
	struct dd_command_list l = {0};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_buf *b = &r->out;
	double now = dd_now();
	size_t n;

	dd_buf_addstr(b, "<h2>Commands</h2>");
	if (dd_store_command_list(r->store, &f, &l, &err)) {
		dd_buf_addstr(b, "<p class=\"error\">");
		dd_html_esc(b, err.msg);
		dd_buf_addstr(b, "</p>");
		return;
	}
	if (!l.n) {
		dd_buf_addstr(b, "<p class=\"muted\">none sent</p>");
		return;
	}
	n = l.n > COMMANDS_SHOWN ? COMMANDS_SHOWN : l.n;
	if (l.n > n)
		dd_buf_addf(b, "<p class=\"muted\">The newest %d.</p>",
			    COMMANDS_SHOWN);
	dd_buf_addstr(b, "<div class=\"scroll\"><table id=\"commands\"><tr>"
			 "<th>ID</th><th>Kind</th><th>Outcome</th>"
			 "<th>Sent</th><th>Consumed</th><th>Author</th>"
			 "<th>Data</th></tr>");
	for (size_t i = 0; i < n; i++) {
		struct dd_command *c = &l.items[i];

		dd_buf_addf(b, "<tr><td>%lld</td><td>", c->id);
		dd_html_esc(b, c->kind);
		dd_buf_addstr(b, "</td><td>");
		outcome(b, c);
		dd_buf_addstr(b, "</td><td>");
		dd_html_time(b, c->created, now, NULL);
		dd_buf_addstr(b, "</td><td>");
		dd_html_time(b, c->consumed ? c->consumed_at : 0, now, "-");
		dd_buf_addstr(b, "</td><td>");
		dd_html_esc(b, c->author);
		dd_buf_addstr(b, "</td><td class=\"wide\"><code>");
		if (c->data)
			dd_html_json(b, c->data, false);
		dd_buf_addstr(b, "</code></td></tr>");
	}
	dd_buf_addstr(b, "</table></div>");
	dd_command_list_release(&l);
}

void dd_web_log(struct dd_http_req *r, struct dd_filter *f, struct dd_ref self,
		const char *older)
{
	struct dd_log_entry_list l = {0};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_buf *b = &r->out;
	double now = dd_now();
	size_t n;

	f->limit = LOG_SHOWN + 1;
	f->descending = true;
	dd_buf_addstr(b, "<h2>Log</h2>");
	if (dd_store_log_list(r->store, f, &l, &err)) {
		dd_buf_addstr(b, "<p class=\"error\">");
		dd_html_esc(b, err.msg);
		dd_buf_addstr(b, "</p>");
		return;
	}
	if (!l.n) {
		dd_buf_addstr(b, "<p class=\"muted\">no entries</p>");
		return;
	}
	n = l.n > LOG_SHOWN ? LOG_SHOWN : l.n;
	if (l.n > n && !older)
		dd_buf_addf(b, "<p class=\"muted\">The newest %d entries.</p>",
			    LOG_SHOWN);
	dd_buf_addstr(b, "<div class=\"scroll\"><table id=\"log\"><tr>"
			 "<th>Time</th><th>Type</th><th>Concerns</th>"
			 "<th>Data</th></tr>");
	for (size_t i = 0; i < n; i++) {
		struct dd_log_entry *e = &l.items[i];
		struct dd_ref refs[3] = {{DD_OBJ_LEASE, e->lease},
					 {DD_OBJ_RESOURCE, e->resource},
					 {DD_OBJ_BLUEPRINT, e->blueprint}};
		bool any = false;

		dd_buf_addstr(b, "<tr><td>");
		dd_html_time(b, e->time, now, NULL);
		dd_buf_addstr(b, "</td><td>");
		dd_html_esc(b, e->type);
		dd_buf_addstr(b, "</td><td>");
		for (int k = 0; k < 3; k++) {
			if (!refs[k].id || (refs[k].kind == self.kind &&
					    refs[k].id == self.id))
				continue;
			dd_buf_addstr(b, any ? ", " : "");
			dd_web_link(b, refs[k]);
			any = true;
		}
		dd_buf_addstr(b, "</td><td class=\"wide\"><code>");
		if (e->data)
			dd_html_json(b, e->data, false);
		dd_buf_addstr(b, "</code></td></tr>");
	}
	dd_buf_addstr(b, "</table></div>");
	if (l.n > n && older) {
		struct dd_buf url = DD_BUF_INIT;

		dd_buf_addf(&url, "%s%slog_before=%lld", older,
			    strchr(older, '?') ? "&" : "?", l.items[n - 1].id);
		dd_buf_addstr(b, "<p class=\"pager\"><a id=\"log-older\" "
				 "href=\"");
		dd_html_esc(b, url.buf);
		dd_buf_addstr(b, "\">Older entries &rarr;</a></p>");
		dd_buf_release(&url);
	}
	dd_log_entry_list_release(&l);
}

/* ---- release ------------------------------------------------------- */

void dd_web_release_button(struct dd_http_req *r,
			   const struct dd_web_release *rel)
{
	struct dd_buf *b = &r->out;
	char path[64];

	dd_web_path(path, sizeof(path), rel->target);
	if (!rel->refused) {
		/* a link: GET leads to the confirmation page, which POSTs */
		dd_buf_addf(b,
			    "<a class=\"button danger\" id=\"release\" "
			    "href=\"%s/release\">Release</a>",
			    path);
		return;
	}
	dd_buf_addstr(b, "<button type=\"button\" id=\"release\" disabled "
			 "title=\"");
	dd_html_esc(b, rel->why);
	dd_buf_addstr(b, "\">Release</button><span class=\"muted\" "
			 "id=\"release-why\">");
	dd_html_esc(b, rel->why);
	dd_buf_addstr(b, "</span>");
}

/* A refused release: the reason, and the way back to the object. */
static void release_refused(struct dd_http_req *r,
			    const struct dd_web_release *rel)
{
	char path[64], msg[300], back[64];

	dd_web_path(path, sizeof(path), rel->target);
	snprintf(msg, sizeof(msg), "cannot release %s %lld: %s",
		 dd_obj_kind_name(rel->target.kind), rel->target.id, rel->why);
	snprintf(back, sizeof(back), "Back to %s %lld",
		 dd_obj_kind_name(rel->target.kind), rel->target.id);
	error_page(r, rel->refused, msg, path, back);
}

void dd_web_release_confirm(struct dd_http_req *r,
			    const struct dd_web_release *rel,
			    const char *consequences)
{
	struct dd_buf *b = &r->out;
	const char *kind = dd_obj_kind_name(rel->target.kind);
	char path[64], title[64];

	if (rel->refused)
		return release_refused(r, rel);
	dd_web_path(path, sizeof(path), rel->target);
	snprintf(title, sizeof(title), "Release %s %lld?", kind,
		 rel->target.id);
	dd_buf_addstr(b, "<h1>");
	dd_html_esc(b, title);
	dd_buf_addstr(b, "</h1><p>");
	dd_html_esc(b, consequences);
	dd_buf_addstr(b, "</p><form method=\"post\" class=\"actions\" "
			 "action=\"");
	dd_buf_addf(b,
		    "%s/release\"><input type=\"hidden\" name=\"csrf\" "
		    "value=\"",
		    path);
	dd_html_esc(b, r->csrf);
	dd_buf_addf(
		b,
		"\"><button type=\"submit\" class=\"danger\" id=\"confirm\">"
		"Confirm release</button><a class=\"button\" href=\"%s\" "
		"id=\"cancel\">Cancel</a></form>",
		path);
	dd_web_finish(r, 200, title,
		      rel->target.kind == DD_OBJ_LEASE ? "leases" : "resources",
		      0);
}

void dd_web_release_send(struct dd_http_req *r,
			 const struct dd_web_release *rel)
{
	struct dd_error err = DD_ERROR_INIT;
	char path[64];

	dd_web_path(path, sizeof(path), rel->target);
	/* Asking twice while the first is queued changes nothing. */
	if (rel->releasing && rel->allowed)
		return dd_web_redirect(r, path);
	if (rel->refused)
		return release_refused(r, rel);
	/* single writer: append the command; the update worker releases */
	if (dd_api_send(r->store, rel->target, "release", r->who.identity, NULL,
			NULL, &err))
		return dd_web_fail_err(r, &err);
	dd_web_redirect(r, path);
}

/* ---- overview ------------------------------------------------------ */

static void overview(struct dd_http_req *r)
{
	struct dd_store_stats st;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_buf *b = &r->out;
	double now = dd_now();
	long long leases = 0, resources = 0, targets = 0;
	bool changing = false;
	int refresh;

	if (dd_store_stats(r->store, now, &st, &err))
		return dd_web_fail_err(r, &err);
	dd_buf_addstr(b, "<h1>Overview</h1><div class=\"cards\">"
			 "<section class=\"box\"><h2><a href=\"/leases\">"
			 "Leases</a></h2><ul class=\"counts\" "
			 "id=\"lease-counts\">");
	for (int s = 0; s < DD_LEASE_STATUS_COUNT; s++) {
		const char *name = dd_lease_status_name(s);

		dd_buf_addf(b, "<li><a href=\"/leases?status=%s\">", name);
		dd_web_badge(b, name, NULL);
		dd_buf_addf(b, "</a><span>%lld</span></li>", st.leases[s]);
		leases += st.leases[s];
		changing |= st.leases[s] > 0 && dd_web_lease_changing(s) &&
			    s != DD_LEASE_PENDING;
	}
	dd_buf_addf(b,
		    "<li><a href=\"/leases\">all</a><span>%lld</span></li>"
		    "</ul></section><section class=\"box\"><h2><a "
		    "href=\"/resources\">Resources</a></h2><ul "
		    "class=\"counts\" id=\"resource-counts\">",
		    leases);
	for (int s = 0; s < DD_RESOURCE_STATUS_COUNT; s++) {
		const char *name = dd_resource_status_name(s);

		dd_buf_addf(b, "<li><a href=\"/resources?status=%s\">", name);
		dd_web_badge(b, name, NULL);
		dd_buf_addf(b, "</a><span>%lld</span></li>", st.resources[s]);
		resources += st.resources[s];
		changing |= st.resources[s] > 0 && dd_web_resource_changing(s);
	}
	dd_buf_addf(b,
		    "<li><a href=\"/resources\">all</a><span>%lld</span></li>"
		    "</ul></section><section class=\"box\"><h2><a "
		    "href=\"/targets\">Build targets</a></h2><ul "
		    "class=\"counts\" id=\"target-counts\">",
		    resources);
	/* the store's figures, which a client's Targets page narrows to its own */
	for (int s = 0; s < DD_TARGET_STATUS_COUNT; s++) {
		const char *name = dd_target_status_name(s);

		dd_buf_addf(b, "<li><a href=\"/targets?status=%s\">", name);
		dd_web_badge(b, name, NULL);
		dd_buf_addf(b, "</a><span>%lld</span></li>", st.targets[s]);
		targets += st.targets[s];
	}
	dd_buf_addf(b,
		    "<li><a href=\"/targets\">all</a><span>%lld</span></li>"
		    "</ul></section><section class=\"box\"><h2><a "
		    "href=\"/tasks\">Task queue</a></h2><ul class=\"counts\">"
		    "<li>waiting<span>%lld</span></li>"
		    "<li>being worked on<span>%lld</span></li>"
		    "<li>oldest due task<span>",
		    targets, st.tasks_queued, st.tasks_claimed);
	dd_html_time(b, st.oldest_due, now, "none due");
	dd_buf_addstr(b, "</span></li></ul></section></div>");
	changing |= st.tasks_claimed > 0 || st.oldest_due > 0;
	/* pending leases alone may just be waiting for capacity */
	if (changing)
		refresh = DD_WEB_REFRESH;
	else if (st.leases[DD_LEASE_PENDING] > 0)
		refresh = DD_WEB_REFRESH_SLOW;
	else
		refresh = 0;
	dd_web_finish(r, 200, "Overview", "overview", refresh);
}

/* ---- the icon ------------------------------------------------------ */

static void favicon(struct dd_http_req *r)
{
	dd_buf_addstr(
		&r->out,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" "
		"viewBox=\"0 0 16 16\"><rect width=\"16\" height=\"16\" "
		"rx=\"3\" fill=\"#1d2330\"/><path d=\"M2 9h12l-2.5 4h-7z\" "
		"fill=\"#5b9cf5\"/><path d=\"M8 2.5v6.5M5.5 5h5\" "
		"stroke=\"#fff\" stroke-width=\"1.4\"/></svg>\n");
	dd_http_text(r, 200, "image/svg+xml");
}

const struct dd_http_route dd_web_routes[] = {
	{"GET", "/", DD_HTTP_SESSION, overview, false},
	{"GET", "/favicon.svg", DD_HTTP_PUBLIC, favicon, true},
	{"GET", "/leases", DD_HTTP_SESSION, dd_web_leases, false},
	{"GET", "/leases/{id}", DD_HTTP_SESSION, dd_web_lease, false},
	{"GET", "/leases/{id}/release", DD_HTTP_SESSION,
	 dd_web_lease_release_page, false},
	{"POST", "/leases/{id}/release", DD_HTTP_SESSION,
	 dd_web_lease_release_post, false},
	{"GET", "/resources", DD_HTTP_SESSION, dd_web_resources, false},
	{"GET", "/resources/{id}", DD_HTTP_SESSION, dd_web_resource, false},
	{"GET", "/resources/{id}/release", DD_HTTP_SESSION,
	 dd_web_resource_release_page, false},
	{"POST", "/resources/{id}/release", DD_HTTP_SESSION,
	 dd_web_resource_release_post, false},
	{"GET", "/blueprints", DD_HTTP_SESSION, dd_web_blueprints, false},
	{"GET", "/blueprints/{id}", DD_HTTP_SESSION, dd_web_blueprint, false},
	{"GET", "/authorizations", DD_HTTP_SESSION, dd_web_authorizations,
	 false},
	{"POST", "/authorizations/{id}/approve", DD_HTTP_SESSION,
	 dd_web_authorization_approve, false},
	{"POST", "/authorizations/{id}/decline", DD_HTTP_SESSION,
	 dd_web_authorization_decline, false},
	{"GET", "/targets", DD_HTTP_SESSION, dd_web_targets, false},
	{"GET", "/targets/{id}", DD_HTTP_SESSION, dd_web_target, false},
	{"GET", "/targets/{id}/finish", DD_HTTP_SESSION,
	 dd_web_target_finish_page, false},
	{"POST", "/targets/{id}/finish", DD_HTTP_SESSION,
	 dd_web_target_finish_post, false},
	{"GET", "/tasks", DD_HTTP_SESSION, dd_web_tasks, false},
	{NULL, NULL, 0, NULL, false},
};

/* ---- lists filtered by status and owner (leases, targets) ------------ */

void dd_web_owner_list_url(struct dd_buf *u, const char *base,
			   const char *status, const char *owner)
{
	dd_buf_addstr(u, base);
	if (status) {
		dd_buf_addstr(u, "?status=");
		dd_html_urlenc(u, status);
	}
	if (owner) {
		dd_buf_addstr(u, status ? "&owner=" : "?owner=");
		dd_html_urlenc(u, owner);
	}
}

void dd_web_owner_filters(struct dd_buf *b, const char *base,
			  const char *(*name_of)(int), int count,
			  const char *status, const char *owner)
{
	dd_buf_addstr(b, "<nav class=\"filters\" aria-label=\"status\">");
	for (int s = -1; s < count; s++) {
		const char *name = s < 0 ? NULL : name_of(s);
		struct dd_buf u = DD_BUF_INIT;
		bool on = name ? status && !strcmp(status, name) : !status;

		dd_web_owner_list_url(&u, base, name, owner);
		dd_buf_addstr(b, "<a href=\"");
		dd_html_esc(b, u.buf);
		dd_buf_addf(b, "\"%s>%s</a>", on ? " class=\"on\"" : "",
			    name ? name : "all");
		dd_buf_release(&u);
	}
	dd_buf_addstr(b, "</nav>");
	if (owner) {
		struct dd_buf u = DD_BUF_INIT;

		dd_web_owner_list_url(&u, base, status, NULL);
		dd_buf_addstr(b, "<p>Owned by <strong>");
		dd_html_esc(b, owner);
		dd_buf_addstr(b, "</strong> (<a href=\"");
		dd_html_esc(b, u.buf);
		dd_buf_addstr(b, "\">anybody</a>)</p>");
		dd_buf_release(&u);
	}
}

void dd_web_owner_link(struct dd_buf *b, const char *base, const char *owner)
{
	struct dd_buf u = DD_BUF_INIT;

	if (!owner) {
		dd_buf_addstr(b, "<span class=\"muted\">-</span>");
		return;
	}
	dd_web_owner_list_url(&u, base, NULL, owner);
	dd_buf_addstr(b, "<a href=\"");
	dd_html_esc(b, u.buf);
	dd_buf_addstr(b, "\">");
	dd_html_esc(b, owner);
	dd_buf_addstr(b, "</a>");
	dd_buf_release(&u);
}
