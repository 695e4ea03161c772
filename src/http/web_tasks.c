/*
 * web_tasks.c - the task queue page: the update tasks waiting or being
 * worked on, and the tasks that failed for good (newest first), like
 * `drydock list tasks` and `drydock list tasks --failed`.
 */
#include "http/web.h"

#include <stdio.h>

#define TASKS_SHOWN 200
#define FAILED_SHOWN 50

/* A link to the task's object: "lease 12". */
static void object_link(struct dd_buf *b, struct dd_ref ref)
{
	if (ref.kind == DD_OBJ_LEASE || ref.kind == DD_OBJ_RESOURCE ||
	    ref.kind == DD_OBJ_BLUEPRINT)
		dd_web_link(b, ref);
	else
		dd_buf_addf(b, "%s %lld", dd_obj_kind_name(ref.kind), ref.id);
}

static void error_text(struct dd_buf *b, const char *e)
{
	if (e && *e)
		dd_html_esc(b, e);
	else
		dd_buf_addstr(b, "<span class=\"muted\">-</span>");
}

/* The queue, oldest first; true if something is due or claimed. */
static bool queued(struct dd_http_req *r, double now)
{
	struct dd_filter f = {.limit = TASKS_SHOWN + 1};
	struct dd_task_list l = {0};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_buf *b = &r->out;
	bool busy = false;
	size_t n;

	dd_buf_addstr(b, "<h2>In the queue</h2>");
	if (dd_store_task_list(r->store, &f, &l, &err)) {
		dd_buf_addstr(b, "<p class=\"error\">");
		dd_html_esc(b, err.msg);
		dd_buf_addstr(b, "</p>");
		return false;
	}
	if (!l.n) {
		dd_buf_addstr(b, "<p class=\"muted\" id=\"queue-empty\">The "
				 "queue is empty: nothing to do.</p>");
		return false;
	}
	n = l.n > TASKS_SHOWN ? TASKS_SHOWN : l.n;
	if (l.n > n)
		dd_buf_addf(b, "<p class=\"muted\">The oldest %d.</p>",
			    TASKS_SHOWN);
	dd_buf_addstr(b, "<div class=\"scroll\"><table id=\"tasks\"><tr>"
			 "<th>ID</th><th>Kind</th><th>Object</th><th>Due</th>"
			 "<th>Claimed by</th><th>Claim expires</th>"
			 "<th>Failures</th><th>Last error</th></tr>");
	for (size_t i = 0; i < n; i++) {
		struct dd_task *t = &l.items[i];

		busy |= t->claimed_by || t->not_before <= now;
		dd_buf_addf(b, "<tr><td>%lld</td><td>", t->id);
		dd_html_esc(b, t->kind);
		dd_buf_addstr(b, "</td><td>");
		object_link(b, t->object);
		dd_buf_addstr(b, "</td><td>");
		dd_html_time(b, t->not_before, now, "now");
		dd_buf_addstr(b, "</td><td>");
		error_text(b, t->claimed_by);
		dd_buf_addstr(b, "</td><td>");
		dd_html_time(b, t->claimed_by ? t->claim_expires : 0, now, "-");
		dd_buf_addf(b, "</td><td>%d</td><td class=\"wide\">",
			    t->failures);
		error_text(b, t->last_error);
		dd_buf_addstr(b, "</td></tr>");
	}
	dd_buf_addstr(b, "</table></div>");
	dd_task_list_release(&l);
	return busy;
}

/* Tasks that failed for good, newest first. */
static void failed(struct dd_http_req *r, double now)
{
	struct dd_filter f = {.type = "failed",
			      .limit = FAILED_SHOWN + 1,
			      .descending = true};
	struct dd_task_archive_list l = {0};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_buf *b = &r->out;
	size_t n;

	dd_buf_addstr(b, "<h2>Failed for good</h2>");
	if (dd_store_task_archive_list(r->store, &f, &l, &err)) {
		dd_buf_addstr(b, "<p class=\"error\">");
		dd_html_esc(b, err.msg);
		dd_buf_addstr(b, "</p>");
		return;
	}
	if (!l.n) {
		dd_buf_addstr(b, "<p class=\"muted\" id=\"failed-empty\">"
				 "None.</p>");
		return;
	}
	n = l.n > FAILED_SHOWN ? FAILED_SHOWN : l.n;
	dd_buf_addstr(b, "<p class=\"muted\">");
	if (l.n > n)
		dd_buf_addf(b, "The newest %d. ", FAILED_SHOWN);
	dd_buf_addstr(b, "Retry one with <code>drydock update-lease</code> "
			 "or <code>update-resource</code> once the cause is "
			 "fixed.</p>");
	dd_buf_addstr(b, "<div class=\"scroll\"><table id=\"failed\"><tr>"
			 "<th>ID</th><th>Kind</th><th>Object</th>"
			 "<th>Finished</th><th>Failures</th><th>Error</th>"
			 "</tr>");
	for (size_t i = 0; i < n; i++) {
		struct dd_task_archive *t = &l.items[i];

		dd_buf_addf(b, "<tr><td>%lld</td><td>", t->id);
		dd_html_esc(b, t->kind);
		dd_buf_addstr(b, "</td><td>");
		object_link(b, t->object);
		dd_buf_addstr(b, "</td><td>");
		dd_html_time(b, t->finished, now, NULL);
		dd_buf_addf(b, "</td><td>%d</td><td class=\"wide\">",
			    t->failures);
		error_text(b, t->error);
		dd_buf_addstr(b, "</td></tr>");
	}
	dd_buf_addstr(b, "</table></div>");
	dd_task_archive_list_release(&l);
}

void dd_web_tasks(struct dd_http_req *r)
{
	double now = dd_now();
	bool busy;

	dd_buf_addstr(&r->out, "<h1>Tasks</h1><p class=\"muted\">Each task "
			       "runs one lease's or resource's update "
			       "worker.</p>");
	busy = queued(r, now);
	failed(r, now);
	dd_web_finish(r, 200, "Tasks", "tasks", busy ? DD_WEB_REFRESH : 0);
}
