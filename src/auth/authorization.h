/*
 * authorization.h - blueprint authorizations: who may have leases served
 * by a blueprint that says so.
 *
 * A blueprint whose config has "authorization": "required" serves a
 * lease only if the lease's requester holds an approved authorization
 * for it.  The requester is worked out from the lease's owner
 * (dd_authorization_requester):
 *
 *   owner                requester
 *   token:NAME           token:NAME    (an API token's leases)
 *   cli:USER@HOST        cli:USER      (a person, from whichever host)
 *   resource:N           blueprint:B   (B built resource N: a blueprint
 *                                       leasing from another, such as a
 *                                       working copy leasing a host)
 *   lease:N              blueprint:B   (B built lease N's resource; a
 *                                       lease N on no resource yet: its
 *                                       own owner's requester)
 *   anything else        itself
 *
 * The allocator (worker/allocator.c) leaves out the blueprints the
 * requester is not approved for; when that leaves none, it requests an
 * authorization for each (a row, requested, made once) and breaks the
 * lease with a reason naming the blueprint, the requester and the
 * command that approves it.  An admin approves or declines
 * (dd_authorization_decide; the CLI, the API and the web UI all call it)
 * and may change the decision later (core/state.h).  Declining refuses
 * new leases and leaves existing ones alone.
 */
#ifndef DD_AUTHORIZATION_H
#define DD_AUTHORIZATION_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/model.h"
#include "core/util.h"
#include "store/store.h"

/* Room for a requester identity, NUL included. */
#define DD_REQUESTER_MAX 160

/* Does `bp`'s config say "authorization": "required"? */
bool dd_authorization_required(const struct dd_blueprint *bp);

/*
 * The requester of a lease owned by `owner`, as the table above says, in
 * buf (DD_REQUESTER_MAX bytes).  Reads the store for resource and lease
 * owners (an object gone: the owner itself).  DD_ERR_INVALID for a
 * lease with no owner, which nobody can authorize.
 */
int dd_authorization_requester(struct dd_store *s, const char *owner,
			       char *buf, size_t n, struct dd_error *err);

/*
 * Move authorization `id` to `to` (approved or declined), recording `by`
 * (the admin's identity: "cli:alice@build1", "token:ops") and the time,
 * and log it on the blueprint, in one transaction.  DD_ERR_NOTFOUND for
 * no such authorization, DD_ERR_STATE for an edge the machine lacks
 * (deciding what is already so), changing nothing.  *out (may be NULL)
 * receives it as decided.
 */
int dd_authorization_decide(struct dd_store *s, long long id,
			    enum dd_authorization_state to, const char *by,
			    struct dd_authorization *out, struct dd_error *err);

/*
 * Say why `requester` may not use `bp` in `why`: "blueprint 3 'ci-hosts'
 * requires authorization: requester 'token:ci' is not authorized
 * (requested; an admin approves it with 'drydock authorization approve
 * 5')".  `a` is its authorization row.
 */
void dd_authorization_refusal(struct dd_buf *why, const struct dd_blueprint *bp,
			      const struct dd_authorization *a);

#endif
