/*
 * api_authorizations.c - /api/v1/authorizations: list and show the
 * requests to use blueprints that require authorization
 * (auth/authorization.h), and approve or decline them.  Deciding needs
 * the authorization-decide action (admins); the decision is recorded as
 * the caller's identity ("token:NAME").
 */
#include "auth/authorization.h"
#include "http/api_v1.h"

static const char *const authorization_list_args[] = {
	"blueprint", "state", "requester", "limit", "cursor", NULL};

static int authorization_state_parse(const char *s)
{
	return dd_authorization_state_parse(s);
}

static void authorization_list(struct dd_http_req *r)
{
	struct dd_filter f = {0};
	struct dd_authorization_list l = {0};
	struct dd_error err = DD_ERROR_INIT;

	if (!dd_http_query_known(r, authorization_list_args))
		return;
	if (!dd_v1_mask_arg(r, "state", authorization_state_parse,
			    "requested, approved, declined", &f.status_mask))
		return;
	f.blueprint = dd_v1_arg_id(r, "blueprint");
	if (f.blueprint < 0)
		return;
	f.owner = dd_http_query(r, "requester");
	if (!dd_v1_page_args(r, &f, true))
		return;
	if (dd_store_authorization_list(r->store, &f, &l, &err))
		return dd_http_fail(r, &err);
	DD_V1_LIST_ANSWER(r, l, f, dd_authorization_to_json);
	dd_authorization_list_release(&l);
}

static void authorization_show(struct dd_http_req *r)
{
	struct dd_authorization a = {0};
	struct dd_error err = DD_ERROR_INIT;

	if (!dd_http_query_known(r, dd_v1_no_args))
		return;
	if (dd_store_authorization_get(r->store, r->params[0], &a, &err))
		return dd_http_fail(r, &err);
	dd_http_json(r, 200, dd_authorization_to_json(&a));
	dd_authorization_release(&a);
}

/* approve and decline: an empty body, the authorization as decided */
static void decide(struct dd_http_req *r, enum dd_authorization_state to,
		   const char *what)
{
	static const char *const fields[] = {NULL};
	struct dd_authorization a = {0};
	struct dd_error err = DD_ERROR_INIT;
	json_t *b;

	if (!dd_http_query_known(r, dd_v1_no_args))
		return;
	if (!dd_v1_allowed(r, DD_ACTION_AUTHORIZATION_DECIDE, NULL, what))
		return;
	b = dd_http_body_object(r, fields);
	if (!b)
		return;
	json_decref(b);
	if (dd_authorization_decide(r->store, r->params[0], to,
				    r->who.identity, &a, &err))
		return dd_http_fail(r, &err);
	dd_http_json(r, 200, dd_authorization_to_json(&a));
	dd_authorization_release(&a);
}

static void authorization_approve(struct dd_http_req *r)
{
	decide(r, DD_AUTHORIZATION_APPROVED, "approve authorizations");
}

static void authorization_decline(struct dd_http_req *r)
{
	decide(r, DD_AUTHORIZATION_DECLINED, "decline authorizations");
}

const struct dd_http_route dd_v1_authorization_routes[] = {
	{"GET", "/api/v1/authorizations", DD_HTTP_BEARER, authorization_list,
	 false},
	{"GET", "/api/v1/authorizations/{id}", DD_HTTP_BEARER,
	 authorization_show, false},
	{"POST", "/api/v1/authorizations/{id}/approve", DD_HTTP_BEARER,
	 authorization_approve, false},
	{"POST", "/api/v1/authorizations/{id}/decline", DD_HTTP_BEARER,
	 authorization_decline, false},
	{NULL, NULL, 0, NULL, false},
};
