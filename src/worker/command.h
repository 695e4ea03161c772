/*
 * command.h - the command table: for each kind of command, which objects
 * take it, in which of their states, and what applying it does.
 *
 * Like the state table (core/state.c) it is data, one row per command kind
 * and object kind, read in two places:
 *   - when a command is appended (dd_api_send() in api/api.c), through
 *     dd_command_accept(): a kind the object does not take, a state it does
 *     not take it in, or bad data is refused there, where the CLI and the
 *     API can tell the user, and nothing is queued;
 *   - when the object's update worker consumes it, oldest first, in the
 *     transaction that makes its change (dd_command_apply(), worker/
 *     internal.h).  The object may have moved on since the command was
 *     accepted, so one it can no longer take is consumed with the outcome
 *     "ignored: <reason>": never left pending, never an error.
 * One mask of states serves both, so what the API accepts and what the
 * worker applies cannot drift apart.
 */
#ifndef DD_WORKER_COMMAND_H
#define DD_WORKER_COMMAND_H

#include <jansson.h>

#include "core/command.h"
#include "core/error.h"
#include "core/model.h"

/*
 * Does any command go to objects of this kind?  0, or DD_ERR_INVALID
 * ("commands go to leases and resources only").
 */
int dd_command_object_check(enum dd_obj_kind object, struct dd_error *err);

/*
 * May command `kind` (a name, as sent) with `data` (borrowed, may be
 * NULL) be appended to `target`, whose status is `status` in its
 * object's machine (enum dd_lease_status, enum dd_resource_status)?
 * Returns 0, or with the reason in err: DD_ERR_INVALID for an object or
 * kind that does not go together or bad data ("a lease does not take
 * 'reclaim' commands"), DD_ERR_STATE for a state that does not take it
 * ("cannot release lease 12: it is already destroyed").
 */
int dd_command_accept(const char *kind, struct dd_ref target, int status,
		      json_t *data, struct dd_error *err);

/*
 * Some commands are taken once: a target is finished once, so a second
 * finish queued behind the first could only be ignored.  May `kind` be
 * appended to `target` while `queued` commands of that kind wait in its
 * queue?  Returns 0, or DD_ERR_STATE ("cannot finish target 5: it is
 * already finishing").  The caller counts them in the transaction that
 * appends, so that of concurrent senders exactly one is accepted.
 */
int dd_command_accept_another(const char *kind, struct dd_ref target,
			      size_t queued, struct dd_error *err);

#endif
