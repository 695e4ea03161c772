/*
 * session.c - signing in to the web UI: sessions, the sign-in and
 * sign-out pages, and the CSRF check of forms.
 *
 * A session is a random 256-bit id in an HttpOnly, SameSite=Strict
 * cookie, mapped in memory to the token it was opened with and a CSRF
 * token that every form must carry back.  Each page re-reads the token,
 * so revoking it ends its sessions at once.
 *
 * This file holds the sessions, the sign-in and sign-out pages and their
 * routes, and the CSRF check every form's handler starts with.  The
 * router asks it for the caller of a page (dd_web_session()); it builds
 * its pages with the web UI's layout (web.c).
 */
#include "http/web.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define MAX_SESSIONS 4096
/*
 * A session ends on sign-out, after SESSION_TTL, when the server
 * restarts, or when its token is revoked.
 */
#define SESSION_TTL (12 * 3600)
#define SESSION_COOKIE "drydock_session"

struct session {
	char id[65];
	char csrf[48];
	long long token_id;
	double expires;
};

static struct {
	pthread_mutex_t mu;
	struct session s[MAX_SESSIONS];
} sessions = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* `bytes` random bytes from the kernel, as hex into out[2 * bytes + 1]. */
static int random_hex(char *out, size_t bytes)
{
	unsigned char raw[32];

	if (bytes > sizeof(raw) || dd_random_bytes(raw, bytes))
		return -1;
	for (size_t i = 0; i < bytes; i++)
		sprintf(out + 2 * i, "%02x", raw[i]);
	return 0;
}

/* Start a session for `who`; fills r->set_cookie and r->csrf. */
static int session_start(struct dd_http_req *r,
			 const struct dd_principal *who)
{
	struct session fresh = {0}, *slot = NULL;
	double now = dd_now();

	if (random_hex(fresh.id, 32) || random_hex(fresh.csrf, 20))
		return DD_ERR_IO;
	fresh.token_id = who->token_id;
	fresh.expires = now + SESSION_TTL;
	pthread_mutex_lock(&sessions.mu);
	/* a free or expired slot, else the one closest to expiry */
	for (int i = 0; i < MAX_SESSIONS; i++) {
		struct session *s = &sessions.s[i];

		if (!s->id[0] || s->expires <= now) {
			slot = s;
			break;
		}
		if (!slot || s->expires < slot->expires)
			slot = s;
	}
	*slot = fresh;
	pthread_mutex_unlock(&sessions.mu);
	snprintf(r->set_cookie, sizeof(r->set_cookie),
		 SESSION_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; "
				   "Max-Age=%d",
		 fresh.id, SESSION_TTL);
	snprintf(r->csrf, sizeof(r->csrf), "%s", fresh.csrf);
	r->who = *who;
	r->authenticated = true;
	return 0;
}

/* The session for the caller's cookie, copied out; false if none. */
static bool find(struct dd_http_req *r, struct session *out)
{
	const char *id = dd_http_cookie(r, SESSION_COOKIE);
	double now = dd_now();
	bool found = false;

	if (!id || strlen(id) != 64)
		return false;
	pthread_mutex_lock(&sessions.mu);
	for (int i = 0; i < MAX_SESSIONS; i++) {
		struct session *s = &sessions.s[i];

		if (s->id[0] && s->expires > now &&
		    dd_secret_equal(s->id, id)) {
			*out = *s;
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&sessions.mu);
	return found;
}

static void forget(const char *id)
{
	pthread_mutex_lock(&sessions.mu);
	for (int i = 0; i < MAX_SESSIONS; i++)
		if (!strcmp(sessions.s[i].id, id))
			memset(&sessions.s[i], 0, sizeof(sessions.s[i]));
	pthread_mutex_unlock(&sessions.mu);
}

bool dd_web_session(struct dd_http_req *r)
{
	struct session s;
	struct dd_token t = {0};
	int role;

	if (find(r, &s)) {
		if (!dd_store_token_get(r->store, s.token_id, &t, NULL) &&
		    !t.revoked && (role = dd_role_parse(t.role)) > 0) {
			r->who.token_id = t.id;
			snprintf(r->who.name, sizeof(r->who.name), "%s",
				 t.name);
			r->who.role = role;
			snprintf(r->who.identity, sizeof(r->who.identity),
				 "token:%s", t.name);
			snprintf(r->csrf, sizeof(r->csrf), "%s", s.csrf);
			r->authenticated = true;
			dd_token_release(&t);
			return true;
		}
		dd_token_release(&t);
		forget(s.id); /* its token was revoked */
	}
	dd_buf_release(&r->out);
	dd_buf_addstr(&r->out, "<!doctype html><title>Sign in</title>"
			       "<p>Please <a href=\"/login\">sign in</a>.\n");
	snprintf(r->location, sizeof(r->location), "/login");
	/* after signing in, come back to the page asked for */
	if (!strcmp(r->method, "GET") && dd_web_safe_next(r->path)) {
		struct dd_buf next = DD_BUF_INIT;

		dd_html_urlenc(&next, r->path);
		if (next.buf && next.len + 12 < sizeof(r->location))
			snprintf(r->location, sizeof(r->location),
				 "/login?next=%s", next.buf);
		dd_buf_release(&next);
	}
	dd_http_html(r, 303);
	return false;
}

/* End the caller's session (sign out); clears the cookie. */
static void session_end(struct dd_http_req *r)
{
	struct session s;

	if (find(r, &s))
		forget(s.id);
	snprintf(r->set_cookie, sizeof(r->set_cookie),
		 SESSION_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; "
				   "Max-Age=0");
}

/* Does `token` (from a form) match the session's CSRF token? */
static bool session_csrf_ok(const struct dd_http_req *r, const char *token)
{
	return token && r->csrf[0] && dd_secret_equal(r->csrf, token);
}

/* ---- CSRF ---------------------------------------------------------- */

bool dd_web_csrf(struct dd_http_req *r)
{
	char csrf[64];

	if (dd_html_form_value(r->body, "csrf", csrf, sizeof(csrf)) &&
	    session_csrf_ok(r, csrf))
		return true;
	dd_web_fail(r, 403,
		    "the form was stale or did not come from this page (its "
		    "CSRF token did not match); go back, reload the page "
		    "and try again");
	return false;
}

/* ---- sign-in ------------------------------------------------------- */

bool dd_web_safe_next(const char *path)
{
	size_t n = path ? strlen(path) : 0;

	if (n < 1 || n > 200 || path[0] != '/' || path[1] == '/' ||
	    !strncmp(path, "/login", 6) || !strncmp(path, "/logout", 7))
		return false;
	for (size_t i = 0; i < n; i++)
		if (path[i] < 0x21 || path[i] > 0x7e || path[i] == '\\')
			return false;
	return true;
}

static void login_form(struct dd_http_req *r, int status, const char *error,
		       const char *next)
{
	struct dd_buf *b = &r->out;

	dd_buf_release(b);
	dd_buf_addstr(b, "<h1>Sign in</h1>");
	if (error) {
		dd_buf_addstr(b, "<p class=\"error\" role=\"alert\">");
		dd_html_esc(b, error);
		dd_buf_addstr(b, "</p>");
	}
	dd_buf_addstr(
		b, "<form method=\"post\" action=\"/login\" class=\"actions\">"
		   "<label for=\"token\">API token</label> "
		   "<input id=\"token\" name=\"token\" type=\"password\" "
		   "autocomplete=\"off\" required size=\"40\"> ");
	if (dd_web_safe_next(next)) {
		dd_buf_addstr(b, "<input type=\"hidden\" name=\"next\" "
				 "value=\"");
		dd_html_esc(b, next);
		dd_buf_addstr(b, "\"> ");
	}
	dd_buf_addstr(
		b, "<button type=\"submit\" class=\"primary\">Sign in"
		   "</button></form>"
		   "<p class=\"muted\">Make a token with <code>drydock "
		   "token create --name NAME --role "
		   "viewer|client|admin</code>. A session lasts 12 hours; "
		   "it ends sooner when you sign out, when the token is "
		   "revoked or when drydock restarts.</p>");
	dd_web_finish(r, status, "Sign in", NULL, 0);
}

static void login_page(struct dd_http_req *r)
{
	login_form(r, 200, NULL, dd_http_query(r, "next"));
}

/*
 * Did the browser send this form from one of drydock's own pages?
 * Requests without either header (curl, old browsers) are let through:
 * they are not a cross-site form.
 */
static bool same_origin(struct dd_http_req *r)
{
	const char *site = dd_http_header(r, "Sec-Fetch-Site");
	const char *origin = dd_http_header(r, "Origin");
	const char *host = dd_http_header(r, "Host");
	const char *o;

	if (site)
		return !strcmp(site, "same-origin") || !strcmp(site, "none");
	if (!origin)
		return true;
	o = strstr(origin, "://");
	return o && host && !strcmp(o + 3, host);
}

static void login_post(struct dd_http_req *r)
{
	struct dd_principal who;
	struct dd_error err = DD_ERROR_INIT;
	char token[128] = "", next[256] = "";
	int rc;

	/*
	 * The sign-in form has no session to carry a CSRF token yet; a form
	 * posted from another site is told apart by the browser's own
	 * Sec-Fetch-Site or Origin header instead (login CSRF).
	 */
	if (!same_origin(r))
		return login_form(r, 403, "Sign in from drydock's own page.",
				  next);
	dd_html_form_value(r->body, "token", token, sizeof(token));
	dd_html_form_value(r->body, "next", next, sizeof(next));
	rc = dd_token_authenticate(r->store, token, &who, &err);
	if (rc == DD_ERR_NOTFOUND || rc == DD_ERR_INVALID)
		return login_form(r, 401,
				  "That token is not valid, or it "
				  "was revoked.",
				  next);
	if (rc)
		return login_form(r, 503, err.msg, next);
	if (session_start(r, &who))
		return login_form(r, 503, "cannot start a session", next);
	dd_web_redirect(r, dd_web_safe_next(next) ? next : "/");
}

static void logout_post(struct dd_http_req *r)
{
	if (!dd_web_csrf(r))
		return;
	session_end(r);
	dd_web_redirect(r, "/login");
}

const struct dd_http_route dd_session_routes[] = {
	{"GET", "/login", DD_HTTP_PUBLIC, login_page, false},
	{"POST", "/login", DD_HTTP_PUBLIC, login_post, false},
	{"POST", "/logout", DD_HTTP_SESSION, logout_post, false},
	{NULL, NULL, 0, NULL, false},
};
