/*
 * services.c - a lease of a hook's own (services.h): requested once under
 * a name, awaited by event, used through its command interface, given
 * back.  Requests go through the requester API like anybody's, with the
 * hook's object as owner and author.
 */
#include "blueprint/services.h"
#include "api/api.h"
#include "core/util.h"

#include <stdio.h>
#include <string.h>

/* The attribute under which an object remembers the leases it asked for. */
#define LEASES_KEY "leases"
/*
 * ... and how many it gave back under each name: a request after a
 * release is a new one, so its idempotency key must not find the lease
 * released before.
 */
#define ROUNDS_KEY "lease_rounds"
/* ... and the leases it gave back that are not destroyed yet */
#define RETURNING_KEY "leases_returning"

static bool valid_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 64)
		return false;
	for (; *s; s++)
		if (!(('a' <= *s && *s <= 'z') || ('A' <= *s && *s <= 'Z') ||
		      ('0' <= *s && *s <= '9') || *s == '.' || *s == '_' ||
		      *s == '-'))
			return false;
	return true;
}

/* ctx->object as an owner name ("resource:5"), or an error. */
static int owner_name(const struct dd_bp_ctx *ctx, char *buf, size_t n,
		      struct dd_error *err)
{
	if (ctx->object.kind != DD_OBJ_LEASE &&
	    ctx->object.kind != DD_OBJ_RESOURCE)
		return dd_error_set(err, DD_ERR_INVALID,
				    "only a lease's or a resource's hook may "
				    "hold leases");
	snprintf(buf, n, "%s:%lld", dd_obj_kind_name(ctx->object.kind),
		 ctx->object.id);
	return 0;
}

/* The id `state` remembers for `name` under `key`, or 0. */
static long long remembered(const json_t *state, const char *key,
			    const char *name)
{
	json_t *v = json_object_get(json_object_get(state, key), name);

	return json_is_integer(v) ? json_integer_value(v) : 0;
}

/* Set state[key][name] to `n`, making state[key] an object if need be. */
static int remember(json_t *state, const char *key, const char *name,
		    long long n, struct dd_error *err)
{
	json_t *map = json_object_get(state, key);

	if (!json_is_object(map)) {
		map = json_object();
		if (!map || json_object_set_new(state, key, map))
			return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	}
	if (json_object_set_new(map, name, json_integer(n)))
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	return 0;
}

/* How many leases `state` gave back under `name`. */
static long long rounds(const json_t *state, const char *name)
{
	json_t *v = json_object_get(json_object_get(state, ROUNDS_KEY), name);

	return json_is_integer(v) ? json_integer_value(v) : 0;
}

int dd_bp_lease_request(const struct dd_bp_ctx *ctx, json_t *state,
			const struct dd_bp_lease_want *want, long long *id,
			struct dd_error *err)
{
	struct dd_lease_request req = {0};
	struct dd_lease out = {0};
	struct dd_idem idem;
	char owner[64], key[96];
	long long round;
	json_t *params;
	int rc;

	if (!valid_name(want->name))
		return dd_error_set(err, DD_ERR_INVALID,
				    "a hook's lease needs a name of 1 to 64 "
				    "letters, digits, '.', '_' or '-'");
	if (!json_is_object(state))
		return dd_error_set(err, DD_ERR_INVALID,
				    "a hook's lease is remembered in an "
				    "object's attributes");
	rc = owner_name(ctx, owner, sizeof(owner), err);
	if (rc)
		return rc;
	*id = remembered(state, LEASES_KEY, want->name);
	if (*id)
		return 0;
	/*
	 * Not remembered: maybe asked for before a crash lost the
	 * attributes; the key then finds that lease.
	 */
	params = json_pack("{s:s, s:O?, s:O?}", "type", want->type ? want->type : "",
			   "attributes", want->attributes, "blueprints",
			   want->blueprints);
	if (!params)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	/* the first under a name keyed by the name, later ones by round */
	round = rounds(state, want->name);
	if (round)
		snprintf(key, sizeof(key), "%s#%lld", want->name, round);
	else
		snprintf(key, sizeof(key), "%s", want->name);
	rc = dd_idem_init(&idem, key, owner, "blueprint lease", params, err);
	json_decref(params);
	if (rc)
		return rc;
	req.type = want->type;
	req.attributes = want->attributes;
	req.blueprints = want->blueprints;
	req.owner = owner;
	req.idem = &idem;
	rc = dd_api_lease_create(ctx->store, &req, &out, err);
	if (rc)
		return rc;
	*id = out.id;
	dd_lease_release(&out);
	return remember(state, LEASES_KEY, want->name, *id, err);
}

int dd_bp_lease_await(const struct dd_bp_ctx *ctx, long long id,
		      struct dd_error *err)
{
	struct dd_lease l = {0};
	enum dd_lease_status status;
	int rc = dd_store_lease_get(ctx->store, id, &l, err);

	if (rc == DD_ERR_NOTFOUND)
		return dd_error_set(err, DD_ERR_BROKEN,
				    "lease %lld the hook asked for is gone",
				    id);
	if (rc)
		return rc;
	status = l.status;
	dd_lease_release(&l);
	if (status == DD_LEASE_ACTIVE)
		return 0;
	if (status == DD_LEASE_PENDING || status == DD_LEASE_ACQUIRED) {
		if (ctx->resume)
			ctx->resume->on = (struct dd_ref){DD_OBJ_LEASE, id};
		return DD_ERR_AGAIN;
	}
	return dd_error_set(err, DD_ERR_BROKEN,
			    "lease %lld the hook asked for is %s", id,
			    dd_lease_status_name(status));
}

int dd_bp_lease_exec(const struct dd_bp_ctx *ctx, long long id,
		     char *const argv[], struct dd_exec_result *res,
		     struct dd_error *err)
{
	struct dd_exec_options o = {0};

	dd_bp_exec_options(ctx, &o);
	o.out = o.err = DD_EXEC_CAPTURE;
	return dd_api_exec(ctx->store, id, argv, NULL, &o, res, err);
}

int dd_bp_lease_release(const struct dd_bp_ctx *ctx, json_t *state,
			const char *name, struct dd_error *err)
{
	struct dd_error serr = DD_ERROR_INIT;
	struct dd_lease l = {0};
	long long id = remembered(state, LEASES_KEY, name);
	bool going = false;
	char owner[64];
	int rc;

	if (id) {
		rc = owner_name(ctx, owner, sizeof(owner), err);
		if (rc)
			return rc;
		rc = dd_api_send(ctx->store, (struct dd_ref){DD_OBJ_LEASE, id},
				 "release", owner, NULL, NULL, &serr);
		/* already on its way out, or gone: given back all the same */
		if (rc && rc != DD_ERR_STATE && rc != DD_ERR_NOTFOUND)
			return dd_error_set(err, rc, "%s", serr.msg);
		/* given back: a later request under the name is a new one */
		json_object_del(json_object_get(state, LEASES_KEY), name);
		rc = remember(state, RETURNING_KEY, name, id, err);
		if (!rc)
			rc = remember(state, ROUNDS_KEY, name,
				      rounds(state, name) + 1, err);
		if (rc)
			return rc;
	}
	id = remembered(state, RETURNING_KEY, name);
	if (!id)
		return 0;
	rc = dd_store_lease_get(ctx->store, id, &l, err);
	if (rc && rc != DD_ERR_NOTFOUND)
		return rc;
	going = !rc && l.status != DD_LEASE_DESTROYED;
	dd_lease_release(&l);
	if (going) {
		if (ctx->resume)
			ctx->resume->on = (struct dd_ref){DD_OBJ_LEASE, id};
		return DD_ERR_AGAIN;
	}
	json_object_del(json_object_get(state, RETURNING_KEY), name);
	return 0;
}
