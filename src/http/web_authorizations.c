/*
 * web_authorizations.c - the authorizations page: who asked to use
 * which blueprint that requires authorization (auth/authorization.h),
 * filtered by blueprint and state, with Approve and Decline for admins.
 * A blueprint's page shows its own (dd_web_authorizations_of).
 *
 * Approve and Decline are forms that POST at once, without a
 * confirmation page: a decision can be changed back, and changes no
 * lease (declining keeps the leases held).  The POST answers 403 to a
 * viewer or client, and 409 for a decision that is already so.
 */
#include "auth/authorization.h"
#include "http/web.h"

#include <stdio.h>
#include <string.h>

#define AUTHORIZATIONS_SHOWN 200

/*
 * One decision's button: a form with the CSRF token and the page to go
 * back to, or disabled.
 */
static void decide_button(struct dd_http_req *r,
			  const struct dd_authorization *a, const char *verb,
			  const char *label, enum dd_authorization_state to,
			  const char *back)
{
	struct dd_buf *b = &r->out;

	if (a->state == to) {
		dd_buf_addf(b,
			    "<button type=\"button\" disabled "
			    "id=\"%s-%lld\">%s</button>",
			    verb, a->id, label);
		return;
	}
	dd_buf_addf(b,
		    "<form method=\"post\" class=\"inline\" "
		    "action=\"/authorizations/%lld/%s\"><input type=\"hidden\" "
		    "name=\"csrf\" value=\"",
		    a->id, verb);
	dd_html_esc(b, r->csrf);
	dd_buf_addstr(b, "\"><input type=\"hidden\" name=\"back\" value=\"");
	dd_html_esc(b, back);
	dd_buf_addf(b,
		    "\"><button type=\"submit\"%s id=\"%s-%lld\">%s</button>"
		    "</form>",
		    to == DD_AUTHORIZATION_DECLINED ? " class=\"danger\"" : "",
		    verb, a->id, label);
}

/*
 * The table of the authorizations `f` selects, on the page `back` (a
 * local path), where a decision leads back to.
 */
static void table(struct dd_http_req *r, const struct dd_filter *f,
		  const char *back)
{
	struct dd_authorization_list l = {0};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_buf *b = &r->out;
	bool admin = dd_principal_can(&r->who, DD_ACTION_AUTHORIZATION_DECIDE,
				      NULL);
	double now = dd_now();

	if (dd_store_authorization_list(r->store, f, &l, &err)) {
		dd_buf_addstr(b, "<p class=\"error\">");
		dd_html_esc(b, err.msg);
		dd_buf_addstr(b, "</p>");
		return;
	}
	if (!l.n) {
		dd_buf_addstr(b, "<p class=\"muted\" id=\"no-authorizations\">"
				 "none: a requester's first lease that needs "
				 "one asks for it</p>");
		return;
	}
	dd_buf_addstr(b, "<div class=\"scroll\"><table id=\"authorizations\">"
			 "<tr><th>ID</th><th>Blueprint</th><th>Requester</th>"
			 "<th>State</th><th>Decided by</th><th>Decided</th>"
			 "<th>Asked</th>");
	if (admin)
		dd_buf_addstr(b, "<th>Decide</th>");
	dd_buf_addstr(b, "</tr>");
	for (size_t i = 0; i < l.n; i++) {
		const struct dd_authorization *a = &l.items[i];
		char id[32];

		snprintf(id, sizeof(id), "state-%lld", a->id);
		dd_buf_addf(b,
			    "<tr id=\"authorization-%lld\"><td>%lld</td><td>"
			    "<a href=\"/blueprints/%lld\">%lld</a></td><td>",
			    a->id, a->id, a->blueprint, a->blueprint);
		dd_html_esc(b, a->requester);
		dd_buf_addstr(b, "</td><td>");
		dd_web_badge(b, dd_authorization_state_name(a->state), id);
		dd_buf_addstr(b, "</td><td>");
		dd_html_esc(b, a->decided_by ? a->decided_by : "-");
		dd_buf_addstr(b, "</td><td>");
		if (a->decided > 0)
			dd_html_time(b, a->decided, now, NULL);
		else
			dd_buf_addstr(b, "-");
		dd_buf_addstr(b, "</td><td>");
		dd_html_time(b, a->created, now, NULL);
		dd_buf_addstr(b, "</td>");
		if (admin) {
			dd_buf_addstr(b, "<td class=\"decide\">");
			decide_button(r, a, "approve", "Approve",
				      DD_AUTHORIZATION_APPROVED, back);
			decide_button(r, a, "decline", "Decline",
				      DD_AUTHORIZATION_DECLINED, back);
			dd_buf_addstr(b, "</td>");
		}
		dd_buf_addstr(b, "</tr>");
	}
	dd_buf_addstr(b, "</table></div>");
	dd_authorization_list_release(&l);
}

void dd_web_authorizations_of(struct dd_http_req *r,
			      const struct dd_blueprint *bp)
{
	struct dd_filter f = {.blueprint = bp->id,
			      .limit = AUTHORIZATIONS_SHOWN,
			      .descending = true};
	char back[48];

	dd_buf_addf(&r->out,
		    "<h2>Authorizations <a class=\"muted\" id=\"authorizations-"
		    "link\" href=\"/authorizations?blueprint=%lld\">(all)</a>"
		    "</h2><p id=\"authorization-required\">",
		    bp->id);
	dd_buf_addstr(&r->out,
		      dd_authorization_required(bp)
			      ? "Required: only approved requesters' leases "
				"are served."
			      : "Not required: anyone's leases are served "
				"(config <code>\"authorization\": "
				"\"required\"</code> to require it).");
	dd_buf_addstr(&r->out, "</p>");
	snprintf(back, sizeof(back), "/blueprints/%lld", bp->id);
	table(r, &f, back);
}

static int state_parse(const char *s)
{
	return dd_authorization_state_parse(s);
}

void dd_web_authorizations(struct dd_http_req *r)
{
	struct dd_filter f = {.limit = AUTHORIZATIONS_SHOWN,
			      .descending = true};
	struct dd_buf *b = &r->out;
	char back[64] = "/authorizations";

	/* ?status=, as on the other list pages */
	if (!dd_web_status_arg(r, state_parse, "requested, approved, declined",
			       &f.status_mask))
		return;
	f.blueprint = dd_web_blueprint_arg(r);
	if (f.blueprint < 0)
		return;
	dd_buf_addstr(b, "<h1>Authorizations</h1><p class=\"muted\">A "
			 "blueprint whose config says <code>\"authorization\":"
			 " \"required\"</code> serves only the leases of "
			 "approved requesters: <code>token:NAME</code>, "
			 "<code>cli:USER</code>, or <code>blueprint:ID</code> "
			 "for a blueprint leasing from another. Declining "
			 "keeps the leases already held.</p>");
	if (f.blueprint)
		snprintf(back, sizeof(back), "/authorizations?blueprint=%lld",
			 f.blueprint);
	if (f.blueprint)
		dd_buf_addf(b,
			    "<p id=\"filter\">Of blueprint <a "
			    "href=\"/blueprints/%lld\">%lld</a> (<a "
			    "href=\"/authorizations\">all blueprints</a>)</p>",
			    f.blueprint, f.blueprint);
	table(r, &f, back);
	dd_web_finish(r, 200, "Authorizations", "blueprints", 0);
}

/* POST /authorizations/{id}/approve and /decline */
static void decide_post(struct dd_http_req *r, enum dd_authorization_state to)
{
	struct dd_authorization a = {0};
	struct dd_error err = DD_ERROR_INIT;
	char back[128];

	if (!dd_web_csrf(r))
		return;
	if (!dd_principal_can(&r->who, DD_ACTION_AUTHORIZATION_DECIDE, NULL))
		return dd_web_fail_back(r, 403, "/authorizations",
					"Back to authorizations",
					"only an admin may %s authorizations",
					to == DD_AUTHORIZATION_APPROVED
						? "approve"
						: "decline");
	if (dd_authorization_decide(r->store, r->params[0], to,
				    r->who.identity, &a, &err))
		return dd_web_fail_err(r, &err);
	/* back to the page the decision was made on, if it is one of ours */
	if (!dd_html_form_value(r->body, "back", back, sizeof(back)) ||
	    !dd_web_safe_next(back))
		snprintf(back, sizeof(back), "/authorizations");
	dd_authorization_release(&a);
	dd_web_redirect(r, back);
}

void dd_web_authorization_approve(struct dd_http_req *r)
{
	decide_post(r, DD_AUTHORIZATION_APPROVED);
}

void dd_web_authorization_decline(struct dd_http_req *r)
{
	decide_post(r, DD_AUTHORIZATION_DECLINED);
}
