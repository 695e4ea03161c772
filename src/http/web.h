/*
 * web.h - what the web UI's page files share.
 *
 * web.c holds the layout and the overview; session.c sign-in and
 * sign-out; web_leases.c, web_resources.c, web_blueprints.c and
 * web_tasks.c one kind of page each.  Every page is built the same way:
 * the handler reads what it shows, appends the page's body to r->out,
 * and dd_web_finish() wraps it in the layout (head, inline style, top
 * nav).  A page for something that is still changing asks the browser
 * to load it again after a few seconds (<meta http-equiv="refresh">):
 * the CSP allows no scripts.
 *
 * The web UI never writes a lease or resource: Release appends a command
 * with dd_api_send(), like the API and the CLI, and the object's update
 * worker performs it.
 */
#ifndef DD_WEB_H
#define DD_WEB_H

#include "http/html.h"
#include "http/http.h"

/* Rows per list page; the ?cursor= of the next page is the last id. */
#define DD_WEB_PAGE 50
/*
 * Seconds between reloads of a page whose objects are changing, and of
 * one whose objects only wait (a pending lease waiting for capacity).
 */
#define DD_WEB_REFRESH 2
#define DD_WEB_REFRESH_SLOW 10
/* The sooner of two reload delays, where 0 means never. */
static inline int dd_web_sooner(int a, int b)
{
	return !a ? b : !b ? a : a < b ? a : b;
}

/*
 * Wrap the body in r->out in the layout and answer with `status`.  `nav`
 * names the top-nav entry to mark ("leases"), or NULL; `refresh` > 0
 * makes the browser load the page again after that many seconds.
 */
void dd_web_finish(struct dd_http_req *r, int status, const char *title,
		   const char *nav, int refresh);
/* Throw away the body and answer with an error page. */
void dd_web_fail(struct dd_http_req *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* An error page with the status that fits a drydock error. */
void dd_web_fail_err(struct dd_http_req *r, const struct dd_error *err);
/* Answer 303 See Other, to a local path. */
void dd_web_redirect(struct dd_http_req *r, const char *path);

/*
 * The ?cursor= argument: 0 when absent; -1 when malformed, after
 * answering 400.
 */
long long dd_web_cursor(struct dd_http_req *r);
/*
 * ?status= as a one-bit mask, with `parse` for the name and `known`
 * listing the names for the error; "all" or absent is 0.  Returns false
 * after answering 400.
 */
bool dd_web_status_arg(struct dd_http_req *r, int (*parse)(const char *),
		       const char *known, unsigned *mask);
/*
 * The links under a list page: back to the newest page when `cursor` is
 * set, and to the older page after `last_id` when `more`.  `base` is the
 * list's URL with its filters, not yet escaped.
 */
void dd_web_pager(struct dd_buf *b, const char *base, long long cursor,
		  bool more, long long last_id);

/*
 * A badge for a status name ("active"), coloured by its class; `id`, when
 * not NULL, becomes the element's id.  The "Releasing" badge.
 */
void dd_web_badge(struct dd_buf *b, const char *status, const char *id);
void dd_web_releasing_badge(struct dd_buf *b);
/* The page of an object ("/leases/12") and a link to it ("lease 12"). */
void dd_web_path(char *buf, size_t n, struct dd_ref ref);
void dd_web_link(struct dd_buf *b, struct dd_ref ref);

/*
 * Is a lease or resource in a state that changes by itself soon (pending,
 * acquired, released, broken)?  Active waits for a command or expiry,
 * destroyed is final.  Pages showing one refresh.
 */
bool dd_web_lease_changing(enum dd_lease_status s);
bool dd_web_resource_changing(enum dd_resource_status s);

/*
 * The sections detail pages share: the slot locks `owner` holds, the
 * command queue of `target` with outcomes, and the log entries matching
 * `f` (newest first).  Each renders "none" when empty and a note when it
 * shows only the newest entries; a store error shows in the section.
 */
void dd_web_locks(struct dd_http_req *r, struct dd_ref owner);
void dd_web_commands(struct dd_http_req *r, struct dd_ref target);
void dd_web_log(struct dd_http_req *r, struct dd_filter *f, struct dd_ref self);

/*
 * Release, shared by lease and resource pages.  A page fills a struct
 * dd_web_release for the object it shows: whether the viewer may release
 * it now, and if not, why.  dd_web_release_button renders the button: a
 * link styled as one, to the confirmation page, or a disabled button
 * titled with the reason.  dd_web_release_confirm renders the
 * confirmation page ("Release lease 12?"), whose form POSTs;
 * dd_web_release_send sends the command, after dd_web_csrf(), and
 * redirects to the object's page.
 */
struct dd_web_release {
	struct dd_ref target;
	bool releasing; /* a release command is queued, not yet consumed */
	bool allowed;	/* the viewer's role lets them release it */
	int refused;	/* 0, or 403 (not allowed) or 409 (not now) */
	char why[200];	/* when refused: why, for people */
};
void dd_web_release_button(struct dd_http_req *r,
			   const struct dd_web_release *rel);
void dd_web_release_confirm(struct dd_http_req *r,
			    const struct dd_web_release *rel,
			    const char *consequences);
void dd_web_release_send(struct dd_http_req *r,
			 const struct dd_web_release *rel);

/*
 * Sign-in (session.c).  The caller's session, from its cookie: fills
 * r->who and r->csrf and returns true; otherwise answers with a redirect
 * to the sign-in page.
 */
bool dd_web_session(struct dd_http_req *r);
/*
 * Is `path` a page of this server to go to after signing in: a local
 * path ("/leases/12"), not another site ("//evil", "/\\evil"), printable,
 * and not the sign-in page itself?
 */
bool dd_web_safe_next(const char *path);
/*
 * The CSRF check every POST starts with (session.c); answers 403 when it
 * fails.
 */
bool dd_web_csrf(struct dd_http_req *r);

/* The web UI's page for a path that is not one. */
void dd_web_not_found(struct dd_http_req *r);

/* The pages (route handlers). */
void dd_web_leases(struct dd_http_req *r);
void dd_web_lease(struct dd_http_req *r);
void dd_web_lease_release_page(struct dd_http_req *r);
void dd_web_lease_release_post(struct dd_http_req *r);
void dd_web_resources(struct dd_http_req *r);
void dd_web_resource(struct dd_http_req *r);
void dd_web_resource_release_page(struct dd_http_req *r);
void dd_web_resource_release_post(struct dd_http_req *r);
void dd_web_blueprints(struct dd_http_req *r);
void dd_web_blueprint(struct dd_http_req *r);
void dd_web_tasks(struct dd_http_req *r);

#endif
