/*
 * web.c - the web UI: server-rendered pages that work without JavaScript.
 *
 * Signing in trades an API token for a session cookie (session.c); every
 * form carries the session's CSRF token.
 */
#include "http/http.h"

#include <stdio.h>
#include <string.h>

/* Append `s` to `b` with HTML's special characters escaped. */
static void esc(struct dd_buf *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<':
			dd_buf_addstr(b, "&lt;");
			break;
		case '>':
			dd_buf_addstr(b, "&gt;");
			break;
		case '&':
			dd_buf_addstr(b, "&amp;");
			break;
		case '"':
			dd_buf_addstr(b, "&quot;");
			break;
		case '\'':
			dd_buf_addstr(b, "&#39;");
			break;
		default:
			dd_buf_add(b, s, 1);
		}
	}
}

static void page_start(struct dd_http_req *r, const char *title)
{
	struct dd_buf *b = &r->out;

	dd_buf_addstr(b, "<!doctype html><html lang=\"en\"><head>"
			 "<meta charset=\"utf-8\">"
			 "<meta name=\"viewport\" content=\"width=device-width, "
			 "initial-scale=1\"><title>");
	esc(b, title);
	dd_buf_addstr(b, " - drydock</title><style>"
			 "body{font:15px/1.4 system-ui,sans-serif;margin:0;"
			 "color:#1d2330;background:#f6f7f9}"
			 "header{background:#1d2330;color:#fff;padding:.6em 1em}"
			 "header a{color:#fff;margin-right:1em}"
			 "main{padding:1em;max-width:70em}"
			 "</style></head><body><header><strong>drydock</strong> "
			 "</header><main><h1>");
	esc(b, title);
	dd_buf_addstr(b, "</h1>");
}

static void page_end(struct dd_http_req *r, int status)
{
	dd_buf_addstr(&r->out, "</main></body></html>\n");
	dd_http_html(r, status);
}

/* Decode one application/x-www-form-urlencoded value for `key`. */
static bool form_value(const char *body, const char *key, char *out, size_t n)
{
	size_t kl = strlen(key);

	for (const char *p = body; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
		size_t o = 0;

		if (strncmp(p, key, kl) || p[kl] != '=')
			continue;
		for (p += kl + 1; *p && *p != '&' && o + 1 < n; p++) {
			unsigned v;

			if (*p == '+') {
				out[o++] = ' ';
			} else if (*p == '%' && sscanf(p + 1, "%2x", &v) == 1) {
				out[o++] = (char)v;
				p += 2;
			} else {
				out[o++] = *p;
			}
		}
		out[o] = '\0';
		return true;
	}
	return false;
}

static void login_form(struct dd_http_req *r, int status, const char *error)
{
	page_start(r, "Sign in");
	if (error) {
		dd_buf_addstr(&r->out, "<p class=\"error\" role=\"alert\">");
		esc(&r->out, error);
		dd_buf_addstr(&r->out, "</p>");
	}
	dd_buf_addstr(&r->out,
		      "<form method=\"post\" action=\"/login\">"
		      "<label for=\"token\">API token</label> "
		      "<input id=\"token\" name=\"token\" type=\"password\" "
		      "autocomplete=\"off\" required> "
		      "<button type=\"submit\">Sign in</button></form>"
		      "<p>Make a token with <code>drydock token create --name "
		      "NAME --role viewer|client|admin</code>.</p>");
	page_end(r, status);
}

static void login_page(struct dd_http_req *r)
{
	login_form(r, 200, NULL);
}

static void login_post(struct dd_http_req *r)
{
	struct dd_principal who;
	struct dd_error err = DD_ERROR_INIT;
	char token[128] = "";
	int rc;

	form_value(r->body, "token", token, sizeof(token));
	rc = dd_token_authenticate(r->store, token, &who, &err);
	if (rc == DD_ERR_NOTFOUND || rc == DD_ERR_INVALID)
		return login_form(r, 401, "That token is not valid, or it "
					  "was revoked.");
	if (rc)
		return login_form(r, 503, err.msg);
	if (dd_session_start(r, &who))
		return login_form(r, 503, "cannot start a session");
	snprintf(r->location, sizeof(r->location), "/");
	page_start(r, "Signed in");
	dd_buf_addstr(&r->out, "<p><a href=\"/\">Continue</a></p>");
	page_end(r, 303);
}

static void logout_post(struct dd_http_req *r)
{
	char csrf[64] = "";

	form_value(r->body, "csrf", csrf, sizeof(csrf));
	if (!dd_session_csrf_ok(r, csrf)) {
		page_start(r, "Refused");
		dd_buf_addstr(&r->out, "<p>The form was stale; go back and "
				       "try again.</p>");
		return page_end(r, 403);
	}
	dd_session_end(r);
	snprintf(r->location, sizeof(r->location), "/login");
	page_start(r, "Signed out");
	dd_buf_addstr(&r->out, "<p><a href=\"/login\">Sign in</a></p>");
	page_end(r, 303);
}

static void home(struct dd_http_req *r)
{
	page_start(r, "drydock");
	dd_buf_addstr(&r->out, "<p>Signed in as ");
	esc(&r->out, r->who.identity);
	dd_buf_addf(&r->out, " (%s).</p>", dd_role_name(r->who.role));
	dd_buf_addstr(&r->out, "<form method=\"post\" action=\"/logout\">"
			       "<input type=\"hidden\" name=\"csrf\" value=\"");
	esc(&r->out, r->csrf);
	dd_buf_addstr(&r->out, "\"><button type=\"submit\">Sign out</button>"
			       "</form>");
	page_end(r, 200);
}

const struct dd_http_route dd_web_routes[] = {
	{"GET", "/", DD_HTTP_SESSION, home, false},
	{"GET", "/login", DD_HTTP_PUBLIC, login_page, false},
	{"POST", "/login", DD_HTTP_PUBLIC, login_post, false},
	{"POST", "/logout", DD_HTTP_SESSION, logout_post, false},
	{NULL, NULL, 0, NULL, false},
};
