/*
 * web.h - what the web UI's page files share.
 *
 * web.c holds the layout and the overview; session.c sign-in and
 * sign-out; web_leases.c, web_resources.c, web_blueprints.c,
 * web_targets.c and web_tasks.c one kind of page each.  Every page is built the same way:
 * the handler reads what it shows, appends the page's body to r->out,
 * and dd_web_finish() wraps it in the layout (head, inline style, top
 * nav).  A page for something that is still changing asks the browser
 * to load it again after a few seconds (<meta http-equiv="refresh">):
 * the CSP allows no scripts.
 *
 * The web UI never writes a lease, resource or build target: Release and
 * Finish append a command with dd_api_send(), like the API and the CLI,
 * and the object's update worker performs it.
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
/* An error page with a link back to `back`, labelled `back_label`. */
void dd_web_fail_back(struct dd_http_req *r, int status, const char *back,
		      const char *back_label, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* An error page with the status that fits a drydock error. */
void dd_web_fail_err(struct dd_http_req *r, const struct dd_error *err);
/* Answer 303 See Other, to a local path. */
void dd_web_redirect(struct dd_http_req *r, const char *path);

/*
 * The ?cursor= argument: 0 when absent; -1 when malformed, after
 * answering 400.
 */
long long dd_web_cursor(struct dd_http_req *r);
/* The same for ?blueprint=ID, a list's filter. */
long long dd_web_blueprint_arg(struct dd_http_req *r);
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
/* "Draining": a resource that takes no new lease (drain command). */
void dd_web_draining_badge(struct dd_buf *b);
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
 * Lists filtered by status and owner (leases, targets): the list's URL at
 * `base` with `status` and `owner` (NULL: no filter), the status links
 * (names from name_of(0 .. count-1), "all" first) with the "Owned by"
 * line, and an owner as a link to the list of that owner's objects.
 */
void dd_web_owner_list_url(struct dd_buf *u, const char *base,
			   const char *status, const char *owner);
void dd_web_owner_filters(struct dd_buf *b, const char *base,
			  const char *(*name_of)(int), int count,
			  const char *status, const char *owner);
void dd_web_owner_link(struct dd_buf *b, const char *base, const char *owner);

/*
 * The sections detail pages share: the slot locks `owner` holds, the
 * command queue of `target` with outcomes, and the log entries matching
 * `f` (newest first, before f->before_id when set).  Each renders "none"
 * when empty and a note when it shows only the newest entries; a store
 * error shows in the section.  When `older` is not NULL (the page's URL,
 * not yet escaped), a log with more entries than it shows ends with a
 * link to them: `older` with ?log_before=ID added.
 */
void dd_web_locks(struct dd_http_req *r, struct dd_ref owner);
void dd_web_commands(struct dd_http_req *r, struct dd_ref target);
void dd_web_log(struct dd_http_req *r, struct dd_filter *f, struct dd_ref self,
		const char *older);

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
 * Finishing a build target from its page (web_targets.c), through the
 * same confirmation pattern as Release.  dd_web_target_finish_state()
 * says whether `who` may finish target `t` now (`finishing`: a finish is
 * queued already), and if not, why: a client finishes its own targets,
 * an admin any, a viewer none; only a building target with no finish
 * queued is finished.  dd_web_target_finish_buttons() renders Passed,
 * Failed and Abort, each a link to the confirmation page, only when the
 * finish is allowed; otherwise nothing.
 */
struct dd_web_target_finish {
	long long target;
	bool finishing; /* a finish command is queued, not yet consumed */
	bool allowed;	/* the viewer's role lets them finish it */
	int refused;	/* 0, or 403 (not allowed) or 409 (not now) */
	char why[200];	/* when refused: why, for people */
};
void dd_web_target_finish_state(const struct dd_principal *who,
				const struct dd_target *t, bool finishing,
				struct dd_web_target_finish *out);
void dd_web_target_finish_buttons(struct dd_buf *b,
				  const struct dd_web_target_finish *f);
/*
 * One artifact as a row of a target's artifact table: key, type, what it
 * is (a uri a link that opens no window reference, marked external when
 * it says so; a file a download with its size and SHA-256; a host a link
 * to its lease, with `lease_status` when not NULL), whether released, and
 * when made.  Every stored string is escaped, and a uri is a link only
 * when dd_html_link_ok() says so.
 */
void dd_web_artifact_row(struct dd_buf *b, const struct dd_artifact *a,
			 const char *lease_status, double now);

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
void dd_web_authorizations(struct dd_http_req *r);
void dd_web_authorization_approve(struct dd_http_req *r);
void dd_web_authorization_decline(struct dd_http_req *r);
/*
 * A blueprint page's section on its authorizations (web_authorizations.c):
 * whether it requires them, and the requests, with Approve and Decline
 * for admins.
 */
void dd_web_authorizations_of(struct dd_http_req *r,
			      const struct dd_blueprint *bp);
void dd_web_targets(struct dd_http_req *r);
void dd_web_target(struct dd_http_req *r);
void dd_web_target_finish_page(struct dd_http_req *r);
void dd_web_target_finish_post(struct dd_http_req *r);
void dd_web_tasks(struct dd_http_req *r);

#endif
