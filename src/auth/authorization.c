/*
 * authorization.c - blueprint authorizations (authorization.h): who a
 * lease's requester is, deciding, and the reason a lease is refused.
 */
#include "auth/authorization.h"

#include <stdio.h>
#include <string.h>

/* Owners of owners followed at most (a lease owned by a lease ...). */
#define REQUESTER_DEPTH 4

bool dd_authorization_required(const struct dd_blueprint *bp)
{
	json_t *v = json_object_get(bp->config, "authorization");

	return json_is_string(v) && !strcmp(json_string_value(v), "required");
}

/* The blueprint that built resource `id`, as "blueprint:B"; 0 if found. */
static int built_by(struct dd_store *s, long long id, char *buf, size_t n,
		    struct dd_error *err)
{
	struct dd_resource r = {0};
	int rc = dd_store_resource_get(s, id, &r, err);

	if (!rc)
		snprintf(buf, n, "blueprint:%lld", r.blueprint);
	dd_resource_release(&r);
	return rc;
}

static int requester_of(struct dd_store *s, const char *owner, int depth,
			char *buf, size_t n, struct dd_error *err)
{
	struct dd_error gone = DD_ERROR_INIT;
	struct dd_ref ref;
	int rc = DD_ERR_NOTFOUND;

	if (!owner || !*owner)
		return dd_error_set(err, DD_ERR_INVALID,
				    "the lease has no owner to authorize");
	if (!strncmp(owner, "cli:", 4)) {
		const char *at = strrchr(owner, '@');
		int len = at ? (int)(at - owner) : (int)strlen(owner);

		snprintf(buf, n, "%.*s", len, owner);
		return 0;
	}
	if (!dd_ref_parse(owner, &ref) && ref.kind == DD_OBJ_RESOURCE)
		rc = built_by(s, ref.id, buf, n, &gone);
	if (!dd_ref_parse(owner, &ref) && ref.kind == DD_OBJ_LEASE) {
		struct dd_lease l = {0};

		rc = dd_store_lease_get(s, ref.id, &l, &gone);
		if (!rc && l.resource)
			rc = built_by(s, l.resource, buf, n, &gone);
		else if (!rc && depth < REQUESTER_DEPTH)
			rc = requester_of(s, l.owner, depth + 1, buf, n, err);
		else if (!rc)
			rc = DD_ERR_NOTFOUND;
		dd_lease_release(&l);
	}
	if (rc == DD_ERR_NOTFOUND || rc == DD_ERR_INVALID) {
		/* not an object, or one gone: the owner speaks for itself */
		snprintf(buf, n, "%s", owner);
		return 0;
	}
	if (rc && gone.code)
		return dd_error_set(err, rc, "%s", gone.msg);
	return rc;
}

int dd_authorization_requester(struct dd_store *s, const char *owner,
			       char *buf, size_t n, struct dd_error *err)
{
	return requester_of(s, owner, 0, buf, n, err);
}

int dd_authorization_decide(struct dd_store *s, long long id,
			    enum dd_authorization_state to, const char *by,
			    struct dd_authorization *out, struct dd_error *err)
{
	struct dd_authorization a = {0};
	enum dd_authorization_state from;
	int rc = dd_store_begin(s, err);

	if (rc)
		return rc;
	rc = dd_store_authorization_get(s, id, &a, err);
	from = a.state;
	if (!rc)
		rc = dd_authorization_transition(id, &a.state, to, err);
	if (!rc) {
		dd_free(a.decided_by);
		a.decided_by = dd_strdup(by);
		a.decided = a.modified = dd_now();
		if (!a.decided_by)
			rc = dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	}
	if (!rc)
		rc = dd_store_authorization_decide(s, &a, from, err);
	if (!rc)
		rc = dd_store_log(
			s, a.blueprint, 0, 0,
			to == DD_AUTHORIZATION_APPROVED
				? "authorization.approved"
				: "authorization.declined",
			json_pack("{s:I, s:s, s:s}", "authorization", a.id,
				  "requester", a.requester, "by", by),
			err);
	if (rc)
		dd_store_rollback(s);
	else
		rc = dd_store_commit(s, err);
	if (!rc && out)
		*out = a;
	else
		dd_authorization_release(&a);
	return rc;
}

void dd_authorization_refusal(struct dd_buf *why, const struct dd_blueprint *bp,
			      const struct dd_authorization *a)
{
	dd_buf_addf(why,
		    "blueprint %lld '%s' requires authorization: requester "
		    "'%s' is not authorized (%s; an admin approves it with "
		    "'drydock authorization approve %lld')",
		    bp->id, bp->name, a->requester,
		    dd_authorization_state_name(a->state), a->id);
}
