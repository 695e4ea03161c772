/*
 * token.h - API tokens: who a request comes from, and what it may do.
 *
 * A token is a name, a role and a secret.  The secret is "ddt_" and 43
 * base64url characters (32 bytes from the kernel's secure generator); it
 * is handed out once, when the token is made, and the store keeps only its
 * SHA-256, so a copy of the store lets nobody in.  A request presents the
 * secret as a bearer token; dd_token_authenticate() turns it into a
 * principal and dd_principal_can() says what that principal may do.
 *
 * Every refusal of a secret (malformed, unknown, revoked) is the same
 * DD_ERR_NOTFOUND with the same message, so a caller never learns which
 * it was.  Tokens are revoked, never deleted.
 *
 * Roles and what they may do (OWN: only leases whose owner is the
 * principal's identity, "token:NAME"):
 *
 *                      viewer  client  admin
 *   read                 yes     yes    yes
 *   lease-create          -      yes    yes
 *   lease-release         -      OWN    yes
 *   lease-extend          -      OWN    yes
 *   lease-exec            -      OWN    yes
 *   resource-release      -       -     yes
 *   blueprint-write       -       -     yes
 *   token-admin           -       -     yes
 *   authorization-decide  -       -     yes
 */
#ifndef DD_TOKEN_H
#define DD_TOKEN_H

#include <stdbool.h>

#include "api/idem.h"
#include "core/error.h"
#include "core/model.h"
#include "store/store.h"

/* "ddt_", 43 characters and a NUL. */
#define DD_TOKEN_SECRET_MAX 48
#define DD_TOKEN_NAME_MAX 64

enum dd_role {
	DD_ROLE_VIEWER = 1,
	DD_ROLE_CLIENT = 2,
	DD_ROLE_ADMIN = 3,
};

enum dd_action {
	DD_ACTION_READ = 1,		/* see and list anything */
	DD_ACTION_LEASE_CREATE = 2,
	DD_ACTION_LEASE_RELEASE = 3,	/* pass the lease's owner */
	DD_ACTION_LEASE_EXTEND = 4,	/* pass the lease's owner */
	DD_ACTION_LEASE_EXEC = 5,	/* on its resource; pass the owner */
	DD_ACTION_RESOURCE_RELEASE = 6,	/* release resources, reclaim */
	DD_ACTION_BLUEPRINT_WRITE = 7,	/* create and change blueprints */
	DD_ACTION_TOKEN_ADMIN = 8,	/* create, list, revoke tokens */
	DD_ACTION_TARGET_READ = 9,	/* see a target; pass its owner */
	DD_ACTION_TARGET_CREATE = 10,
	DD_ACTION_TARGET_WRITE = 11,	/* add artifacts, finish; the owner */
	DD_ACTION_AUTHORIZATION_DECIDE = 12, /* approve, decline */
	DD_ACTION_COUNT
};

/* "viewer", "client", "admin"; "unknown" for anything else. */
const char *dd_role_name(enum dd_role role);
/* Parse a role name; returns the role or -1. */
int dd_role_parse(const char *name);
/* "read", "lease-create", ...: for messages. */
const char *dd_action_name(enum dd_action a);

/* Who a request comes from: an authenticated, unrevoked token. */
struct dd_principal {
	long long token_id;
	char name[DD_TOKEN_NAME_MAX + 1];
	enum dd_role role;
	char identity[80]; /* "token:NAME": the owner of leases it makes */
};

/*
 * Make a token.  `name` is 1 to 64 characters of [A-Za-z0-9._@-], not all
 * digits (so that "revoke 12" always means token 12), and not taken
 * (DD_ERR_EXISTS); `role` one of the roles above; anything else is
 * DD_ERR_INVALID with the reason.  On success the secret goes to
 * secret_out (DD_TOKEN_SECRET_MAX bytes) and, when `out` is not NULL, the
 * token as stored to *out (release it with dd_token_release()).  Nothing
 * keeps the secret: the caller shows it once and forgets it.
 */
int dd_token_create(struct dd_store *s, const char *name, enum dd_role role,
		    char *secret_out, struct dd_token *out,
		    struct dd_error *err);
/*
 * The same with an idempotency key (may be NULL; see api/idem.h).  A key
 * that already made a token for the same request creates nothing and
 * returns DD_ERR_EXISTS saying which token it made: its secret was shown
 * once, when it was made, and is not kept.
 */
int dd_token_create_idem(struct dd_store *s, const char *name,
			 enum dd_role role, struct dd_idem *idem,
			 char *secret_out, struct dd_token *out,
			 struct dd_error *err);

/*
 * Check a bearer secret.  A malformed, unknown or revoked secret is
 * DD_ERR_NOTFOUND, "invalid or revoked token"; a store failure keeps its
 * own code, so a caller can tell "not allowed in" from "try later".  On
 * success fills *out and, if the token's last use was recorded more than
 * a minute ago, records this one (best effort: a busy store does not
 * refuse the request), so a busy client costs no write per request.
 */
int dd_token_authenticate(struct dd_store *s, const char *secret,
			  struct dd_principal *out, struct dd_error *err);

/*
 * May `p` do `a`?  `owner` is the owner of the lease acted on, or NULL
 * when there is none; a client may act only on leases it owns.  Unknown
 * roles and actions, and a NULL principal, may do nothing.
 */
bool dd_principal_can(const struct dd_principal *p, enum dd_action a,
		      const char *owner);

/*
 * Count the tokens that are not revoked and have `role`, or any role when
 * `role` is 0: a server that finds no admin token can make the first one.
 */
int dd_token_count_active(struct dd_store *s, enum dd_role role,
			  long long *n, struct dd_error *err);

/*
 * Revoke the token named `name_or_id`, or with that id when it is all
 * digits.  DD_ERR_NOTFOUND when there is none; DD_ERR_STATE, changing
 * nothing, when it is already revoked.  On success *out (if not NULL)
 * receives the token as revoked.
 */
int dd_token_revoke_by_name_or_id(struct dd_store *s, const char *name_or_id,
				  struct dd_token *out, struct dd_error *err);

#endif
