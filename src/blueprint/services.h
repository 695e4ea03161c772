/*
 * services.h - what the core does for a hook: a lease of its own.
 *
 * A hook may build on another lease: a working copy's activate_resource
 * leases a host, waits for it, runs git on it and, when the copy goes,
 * gives it back.  The hook's object owns such a lease (its owner is
 * "resource:5" or "lease:7"), and ownership is what ties them together:
 *
 *   - every status change of an owned lease queues its owner's update
 *     (worker/internal.h, dd_pass_tell_resumers()), so a hook that waits
 *     for it answers "in progress" and is resumed by the change, never
 *     by a poll;
 *   - destroying the owner releases every lease it still owns; a
 *     teardown hook that must see its lease gone first gives it back
 *     with dd_bp_lease_release() and waits for it the same way.
 *
 * Requesting is idempotent across a crash and a re-run of the hook: a
 * lease is requested under a name of the hook's choosing, remembered in
 * the object's attributes ("leases": {NAME: ID}, saved with the hook's
 * answer) and made under an idempotency key (the owner's, with the name),
 * so a hook run again after a crash that lost its attributes still finds
 * the lease it asked for instead of asking for a second.
 *
 * These run in the worker's thread, on the hook's context's store
 * handle, outside any transaction of the pass: each writes, if at all,
 * in a transaction of its own, as a requester does (api/api.h).
 */
#ifndef DD_SERVICES_H
#define DD_SERVICES_H

#include "blueprint/blueprint.h"

/* A lease a hook asks for. */
struct dd_bp_lease_want {
	const char *name;     /* the hook's name for it: 1 to 64 of
				 [A-Za-z0-9._-] */
	const char *type;     /* resource type, e.g. "host" */
	json_t *attributes;   /* borrowed; NULL for {} */
	json_t *blueprints;   /* borrowed: allowed blueprint ids; NULL: any */
};

/*
 * Make sure ctx->object owns the lease `want` names, and set *id to it:
 * the one remembered in `state` (the object's attributes, which the
 * caller's pass saves) or made under the name's idempotency key, else a
 * new one.  Records it in `state` under "leases".  DD_ERR_INVALID for a
 * bad name or request; the lease API's errors otherwise.
 */
int dd_bp_lease_request(const struct dd_bp_ctx *ctx, json_t *state,
			const struct dd_bp_lease_want *want, long long *id,
			struct dd_error *err);

/*
 * Is lease `id` active?  0 once it is.  While it is pending or acquired:
 * DD_ERR_AGAIN, with ctx->resume set to resume the hook when the lease
 * changes: the hook returns that (it is "in progress").  A lease that
 * ended (released, broken, destroyed) or is gone: DD_ERR_BROKEN, saying
 * so.
 */
int dd_bp_lease_await(const struct dd_bp_ctx *ctx, long long id,
		      struct dd_error *err);

/*
 * Run argv on active lease `id` through its command interface, its
 * output captured, stopped at the hook's deadline or on its cancel
 * (dd_bp_exec_options()).  Fills *res as dd_exec_run() does (release it
 * with dd_exec_result_release()); a command that ran and failed is an
 * exit status, not an error.
 */
int dd_bp_lease_exec(const struct dd_bp_ctx *ctx, long long id,
		     char *const argv[], struct dd_exec_result *res,
		     struct dd_error *err);

/*
 * Give back the lease `state` remembers as `name` (a release command) and
 * wait for it to be destroyed: until then DD_ERR_AGAIN, with ctx->resume
 * set to resume the hook when the lease changes (the hook returns that:
 * it is "in progress"; a destroy hook that must not leave before the
 * lease is gone, for instance), then 0.  The lease moves from "leases" to
 * "leases_returning" in `state` when the release is sent, so a call
 * resumed later only waits, and is forgotten once destroyed or gone; a
 * later request under the name is a new lease.  0 at once for a name not
 * remembered.  A caller that need not wait ignores DD_ERR_AGAIN.
 */
int dd_bp_lease_release(const struct dd_bp_ctx *ctx, json_t *state,
			const char *name, struct dd_error *err);

#endif
