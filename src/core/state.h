/*
 * state.h - the lease, resource, build target and authorization state
 * machines, in one place.
 *
 *   lease:     pending --> acquired --> active --> released --> destroyed
 *               ^  | |        |  |  |      |          ^             ^
 *               +--|-|--------+  |  +------|----------+             |
 *   (resource went | |  (reacquire)        |                        |
 *    away)         | +----> released       +--> broken -------------+
 *                  +------> broken  <------ acquired
 *
 *   Every live status (pending, acquired, active) may go to released
 *   (a release command) or broken (a failure); acquired may go back to
 *   pending when its resource goes away.
 *
 *   resource:  pending --> active --> released --> destroyed
 *                 |  |       |                       ^
 *                 |  +-------|------> released       |
 *                 +----------+--> broken ------------+
 *
 *   build target:  building --> passed
 *                      |  |
 *                      |  +---> failed
 *                      +------> aborted
 *
 *   A target is built until it is finished once, by the finish command
 *   its update worker applies (or by its deadline, as aborted); a
 *   finished target never changes again.
 *
 *   authorization:  requested --> approved <--+
 *                       |            |        |
 *                       |            v        |
 *                       +-------> declined ---+
 *
 *   A requester's authorization to use a blueprint is requested by the
 *   allocator, then decided by an admin, who may change the decision
 *   later; nothing goes back to requested, and deciding what is already
 *   decided (approving an approved one) is refused.
 *
 * Each machine is one enum, a _name() function, a transition table, and
 * dd_*_transition(), the only function that changes a status.  It refuses
 * an edge the table does not have, so no worker can write an illegal state.
 *
 * Two flags per status, as in the original: *releasable* (a requester may
 * send a release) and *commandable* (the update worker consumes commands).
 */
#ifndef DD_STATE_H
#define DD_STATE_H

#include <stdbool.h>

#include "core/error.h"

enum dd_lease_status {
	DD_LEASE_PENDING = 0,
	DD_LEASE_ACQUIRED = 1,
	DD_LEASE_ACTIVE = 2,
	DD_LEASE_RELEASED = 3,
	DD_LEASE_BROKEN = 4,
	DD_LEASE_DESTROYED = 5,
	DD_LEASE_STATUS_COUNT
};

enum dd_resource_status {
	DD_RESOURCE_PENDING = 0,
	DD_RESOURCE_ACTIVE = 1,
	DD_RESOURCE_RELEASED = 2,
	DD_RESOURCE_BROKEN = 3,
	DD_RESOURCE_DESTROYED = 4,
	DD_RESOURCE_STATUS_COUNT
};

enum dd_target_status {
	DD_TARGET_BUILDING = 0,
	DD_TARGET_PASSED = 1,
	DD_TARGET_FAILED = 2,
	DD_TARGET_ABORTED = 3,
	DD_TARGET_STATUS_COUNT
};

enum dd_authorization_state {
	DD_AUTHORIZATION_REQUESTED = 0,
	DD_AUTHORIZATION_APPROVED = 1,
	DD_AUTHORIZATION_DECLINED = 2,
	DD_AUTHORIZATION_STATE_COUNT
};

const char *dd_lease_status_name(enum dd_lease_status s);
const char *dd_resource_status_name(enum dd_resource_status s);
const char *dd_target_status_name(enum dd_target_status s);
const char *dd_authorization_state_name(enum dd_authorization_state s);
/* Parse a status name; returns the status or -1. */
int dd_lease_status_parse(const char *name);
int dd_resource_status_parse(const char *name);
int dd_target_status_parse(const char *name);
int dd_authorization_state_parse(const char *name);

bool dd_lease_status_releasable(enum dd_lease_status s);
bool dd_lease_status_commandable(enum dd_lease_status s);
/* Pending, acquired or active: the lease still holds or wants a resource. */
bool dd_lease_status_live(enum dd_lease_status s);
bool dd_resource_status_releasable(enum dd_resource_status s);
bool dd_resource_status_commandable(enum dd_resource_status s);
/*
 * Destroyed: nothing more will happen to the object.  Lists leave
 * finished objects out unless asked (`drydock list --all`); a released
 * or broken one is not finished, as its hooks may still run or fail.
 */
bool dd_lease_status_finished(enum dd_lease_status s);
bool dd_resource_status_finished(enum dd_resource_status s);
/* Passed, failed or aborted: the build is over and its artifacts released. */
bool dd_target_status_finished(enum dd_target_status s);

bool dd_lease_can_transition(enum dd_lease_status from,
			     enum dd_lease_status to);
bool dd_resource_can_transition(enum dd_resource_status from,
				enum dd_resource_status to);
bool dd_target_can_transition(enum dd_target_status from,
			      enum dd_target_status to);
bool dd_authorization_can_transition(enum dd_authorization_state from,
				     enum dd_authorization_state to);

/*
 * Move *status to `to` if the machine has that edge.  On a refused edge,
 * *status is untouched and DD_ERR_STATE is returned with a message naming
 * the object ("lease 12").
 */
int dd_lease_transition(long long id, enum dd_lease_status *status,
			enum dd_lease_status to, struct dd_error *err);
int dd_resource_transition(long long id, enum dd_resource_status *status,
			   enum dd_resource_status to, struct dd_error *err);
int dd_target_transition(long long id, enum dd_target_status *status,
			 enum dd_target_status to, struct dd_error *err);
/*
 * The same for authorization `id`; deciding what is already so is
 * refused as "authorization 5 is already approved".
 */
int dd_authorization_transition(long long id,
				enum dd_authorization_state *state,
				enum dd_authorization_state to,
				struct dd_error *err);

#endif
