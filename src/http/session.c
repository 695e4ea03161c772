/*
 * session.c - the web UI's sign-in sessions.
 *
 * A session is a random 256-bit id in an HttpOnly, SameSite=Strict
 * cookie, mapped in memory to the token it was opened with and a CSRF
 * token that every form must carry back.  Each page re-reads the token,
 * so revoking it ends its sessions at once.
 */
#include "http/html.h"
#include "http/http.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define MAX_SESSIONS 4096

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

int dd_session_start(struct dd_http_req *r, const struct dd_principal *who)
{
	struct session fresh = {0}, *slot = NULL;
	double now = dd_now();

	if (random_hex(fresh.id, 32) || random_hex(fresh.csrf, 20))
		return DD_ERR_IO;
	fresh.token_id = who->token_id;
	fresh.expires = now + DD_SESSION_TTL;
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
		 DD_SESSION_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; "
				   "Max-Age=%d",
		 fresh.id, DD_SESSION_TTL);
	snprintf(r->csrf, sizeof(r->csrf), "%s", fresh.csrf);
	r->who = *who;
	r->authenticated = true;
	return 0;
}

/* The session for the caller's cookie, copied out; false if none. */
static bool find(struct dd_http_req *r, struct session *out)
{
	const char *id = dd_http_cookie(r, DD_SESSION_COOKIE);
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

void dd_session_end(struct dd_http_req *r)
{
	struct session s;

	if (find(r, &s))
		forget(s.id);
	snprintf(r->set_cookie, sizeof(r->set_cookie),
		 DD_SESSION_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; "
				   "Max-Age=0");
}

bool dd_session_csrf_ok(const struct dd_http_req *r, const char *token)
{
	return token && r->csrf[0] && dd_secret_equal(r->csrf, token);
}
