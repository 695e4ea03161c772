/*
 * state.c - the lease, resource, build target and authorization machines
 * as data
 * (state.h): names, transition tables, the flags of each status, and the
 * one function per machine that changes a status, refusing an edge the
 * table lacks.
 */
#include "core/state.h"

#include <string.h>

static const char *const lease_names[DD_LEASE_STATUS_COUNT] = {
	[DD_LEASE_PENDING] = "pending",	  [DD_LEASE_ACQUIRED] = "acquired",
	[DD_LEASE_ACTIVE] = "active",	  [DD_LEASE_RELEASED] = "released",
	[DD_LEASE_BROKEN] = "broken",	  [DD_LEASE_DESTROYED] = "destroyed",
};

static const char *const resource_names[DD_RESOURCE_STATUS_COUNT] = {
	[DD_RESOURCE_PENDING] = "pending",
	[DD_RESOURCE_ACTIVE] = "active",
	[DD_RESOURCE_RELEASED] = "released",
	[DD_RESOURCE_BROKEN] = "broken",
	[DD_RESOURCE_DESTROYED] = "destroyed",
};

static const char *const target_names[DD_TARGET_STATUS_COUNT] = {
	[DD_TARGET_BUILDING] = "building",
	[DD_TARGET_PASSED] = "passed",
	[DD_TARGET_FAILED] = "failed",
	[DD_TARGET_ABORTED] = "aborted",
};

static const char *const authorization_names[DD_AUTHORIZATION_STATE_COUNT] = {
	[DD_AUTHORIZATION_REQUESTED] = "requested",
	[DD_AUTHORIZATION_APPROVED] = "approved",
	[DD_AUTHORIZATION_DECLINED] = "declined",
};

/* lease_edges[from][to] */
static const bool lease_edges[DD_LEASE_STATUS_COUNT][DD_LEASE_STATUS_COUNT] = {
	[DD_LEASE_PENDING] = {[DD_LEASE_ACQUIRED] = true,
			      [DD_LEASE_RELEASED] = true,
			      [DD_LEASE_BROKEN] = true},
	[DD_LEASE_ACQUIRED] = {[DD_LEASE_PENDING] = true,
			       [DD_LEASE_ACTIVE] = true,
			       [DD_LEASE_RELEASED] = true,
			       [DD_LEASE_BROKEN] = true},
	[DD_LEASE_ACTIVE] = {[DD_LEASE_RELEASED] = true,
			     [DD_LEASE_BROKEN] = true},
	[DD_LEASE_RELEASED] = {[DD_LEASE_DESTROYED] = true},
	[DD_LEASE_BROKEN] = {[DD_LEASE_DESTROYED] = true},
	[DD_LEASE_DESTROYED] = {0},
};

static const bool
	resource_edges[DD_RESOURCE_STATUS_COUNT][DD_RESOURCE_STATUS_COUNT] = {
		[DD_RESOURCE_PENDING] = {[DD_RESOURCE_ACTIVE] = true,
					 [DD_RESOURCE_RELEASED] = true,
					 [DD_RESOURCE_BROKEN] = true},
		[DD_RESOURCE_ACTIVE] = {[DD_RESOURCE_RELEASED] = true,
					[DD_RESOURCE_BROKEN] = true},
		[DD_RESOURCE_RELEASED] = {[DD_RESOURCE_DESTROYED] = true},
		[DD_RESOURCE_BROKEN] = {[DD_RESOURCE_DESTROYED] = true},
		[DD_RESOURCE_DESTROYED] = {0},
};

/* A build ends once: every finished status is final. */
static const bool target_edges[DD_TARGET_STATUS_COUNT][DD_TARGET_STATUS_COUNT] = {
	[DD_TARGET_BUILDING] = {[DD_TARGET_PASSED] = true,
				[DD_TARGET_FAILED] = true,
				[DD_TARGET_ABORTED] = true},
	[DD_TARGET_PASSED] = {0},
	[DD_TARGET_FAILED] = {0},
	[DD_TARGET_ABORTED] = {0},
};

/* An admin decides, and may change the decision; nothing is re-requested. */
static const bool authorization_edges[DD_AUTHORIZATION_STATE_COUNT]
				     [DD_AUTHORIZATION_STATE_COUNT] = {
	[DD_AUTHORIZATION_REQUESTED] = {[DD_AUTHORIZATION_APPROVED] = true,
					[DD_AUTHORIZATION_DECLINED] = true},
	[DD_AUTHORIZATION_APPROVED] = {[DD_AUTHORIZATION_DECLINED] = true},
	[DD_AUTHORIZATION_DECLINED] = {[DD_AUTHORIZATION_APPROVED] = true},
};

const char *dd_lease_status_name(enum dd_lease_status s)
{
	if ((unsigned)s >= DD_LEASE_STATUS_COUNT)
		return "unknown";
	return lease_names[s];
}

const char *dd_resource_status_name(enum dd_resource_status s)
{
	if ((unsigned)s >= DD_RESOURCE_STATUS_COUNT)
		return "unknown";
	return resource_names[s];
}

const char *dd_target_status_name(enum dd_target_status s)
{
	if ((unsigned)s >= DD_TARGET_STATUS_COUNT)
		return "unknown";
	return target_names[s];
}

const char *dd_authorization_state_name(enum dd_authorization_state s)
{
	if ((unsigned)s >= DD_AUTHORIZATION_STATE_COUNT)
		return "unknown";
	return authorization_names[s];
}

int dd_lease_status_parse(const char *name)
{
	for (int i = 0; i < DD_LEASE_STATUS_COUNT; i++)
		if (!strcmp(name, lease_names[i]))
			return i;
	return -1;
}

int dd_resource_status_parse(const char *name)
{
	for (int i = 0; i < DD_RESOURCE_STATUS_COUNT; i++)
		if (!strcmp(name, resource_names[i]))
			return i;
	return -1;
}

int dd_target_status_parse(const char *name)
{
	for (int i = 0; i < DD_TARGET_STATUS_COUNT; i++)
		if (!strcmp(name, target_names[i]))
			return i;
	return -1;
}

int dd_authorization_state_parse(const char *name)
{
	for (int i = 0; i < DD_AUTHORIZATION_STATE_COUNT; i++)
		if (!strcmp(name, authorization_names[i]))
			return i;
	return -1;
}

bool dd_lease_status_releasable(enum dd_lease_status s)
{
	return s == DD_LEASE_PENDING || s == DD_LEASE_ACQUIRED ||
	       s == DD_LEASE_ACTIVE;
}

bool dd_lease_status_commandable(enum dd_lease_status s)
{
	return dd_lease_status_releasable(s);
}

bool dd_lease_status_live(enum dd_lease_status s)
{
	return dd_lease_status_releasable(s);
}

bool dd_resource_status_releasable(enum dd_resource_status s)
{
	return s == DD_RESOURCE_PENDING || s == DD_RESOURCE_ACTIVE;
}

bool dd_resource_status_commandable(enum dd_resource_status s)
{
	return dd_resource_status_releasable(s);
}

bool dd_lease_status_finished(enum dd_lease_status s)
{
	return s == DD_LEASE_DESTROYED;
}

bool dd_resource_status_finished(enum dd_resource_status s)
{
	return s == DD_RESOURCE_DESTROYED;
}

bool dd_target_status_finished(enum dd_target_status s)
{
	return s == DD_TARGET_PASSED || s == DD_TARGET_FAILED ||
	       s == DD_TARGET_ABORTED;
}

bool dd_lease_can_transition(enum dd_lease_status from,
			     enum dd_lease_status to)
{
	if ((unsigned)from >= DD_LEASE_STATUS_COUNT ||
	    (unsigned)to >= DD_LEASE_STATUS_COUNT)
		return false;
	return lease_edges[from][to];
}

bool dd_resource_can_transition(enum dd_resource_status from,
				enum dd_resource_status to)
{
	if ((unsigned)from >= DD_RESOURCE_STATUS_COUNT ||
	    (unsigned)to >= DD_RESOURCE_STATUS_COUNT)
		return false;
	return resource_edges[from][to];
}

bool dd_target_can_transition(enum dd_target_status from,
			      enum dd_target_status to)
{
	if ((unsigned)from >= DD_TARGET_STATUS_COUNT ||
	    (unsigned)to >= DD_TARGET_STATUS_COUNT)
		return false;
	return target_edges[from][to];
}

bool dd_authorization_can_transition(enum dd_authorization_state from,
				     enum dd_authorization_state to)
{
	if ((unsigned)from >= DD_AUTHORIZATION_STATE_COUNT ||
	    (unsigned)to >= DD_AUTHORIZATION_STATE_COUNT)
		return false;
	return authorization_edges[from][to];
}

int dd_lease_transition(long long id, enum dd_lease_status *status,
			enum dd_lease_status to, struct dd_error *err)
{
	if (!dd_lease_can_transition(*status, to))
		return dd_error_set(err, DD_ERR_STATE,
				    "cannot move lease %lld from %s to %s", id,
				    dd_lease_status_name(*status),
				    dd_lease_status_name(to));
	*status = to;
	return 0;
}

int dd_resource_transition(long long id, enum dd_resource_status *status,
			   enum dd_resource_status to, struct dd_error *err)
{
	if (!dd_resource_can_transition(*status, to))
		return dd_error_set(err, DD_ERR_STATE,
				    "cannot move resource %lld from %s to %s",
				    id, dd_resource_status_name(*status),
				    dd_resource_status_name(to));
	*status = to;
	return 0;
}

int dd_target_transition(long long id, enum dd_target_status *status,
			 enum dd_target_status to, struct dd_error *err)
{
	if (!dd_target_can_transition(*status, to))
		return dd_error_set(err, DD_ERR_STATE,
				    "cannot move target %lld from %s to %s", id,
				    dd_target_status_name(*status),
				    dd_target_status_name(to));
	*status = to;
	return 0;
}

int dd_authorization_transition(long long id,
				enum dd_authorization_state *state,
				enum dd_authorization_state to,
				struct dd_error *err)
{
	if (*state == to)
		return dd_error_set(err, DD_ERR_STATE,
				    "authorization %lld is already %s", id,
				    dd_authorization_state_name(to));
	if (!dd_authorization_can_transition(*state, to))
		return dd_error_set(err, DD_ERR_STATE,
				    "cannot move authorization %lld from %s "
				    "to %s",
				    id, dd_authorization_state_name(*state),
				    dd_authorization_state_name(to));
	*state = to;
	return 0;
}
