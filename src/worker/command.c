/*
 * command.c - the command table (see command.h) and the two functions that
 * read it: dd_command_accept() when a command is appended,
 * dd_command_apply() when its object's update worker consumes it.
 */
#include "worker/command.h"
#include "worker/internal.h"
#include "core/input.h"
#include "core/util.h"

#include <stdio.h>
#include <string.h>

#define BIT(status) (1u << (status))
#define LEASE_LIVE                                                             \
	(BIT(DD_LEASE_PENDING) | BIT(DD_LEASE_ACQUIRED) | BIT(DD_LEASE_ACTIVE))

/*
 * Checks a command's data when it is appended; fills `why` (the part of
 * the message after "cannot KIND OBJECT N: ") and returns DD_ERR_INVALID
 * when it will not do.
 */
typedef int dd_command_check_fn(json_t *data, struct dd_error *why);

/* Applies a command its object has accepted (see struct dd_apply). */
typedef int dd_command_apply_fn(struct dd_apply *a, struct dd_error *err);

struct command_rule {
	enum dd_command_kind kind;
	enum dd_obj_kind object;
	/* the statuses, in the object's machine, that take it: bit (1 << s) */
	unsigned accepted;
	/* why another does: "it is already" (then the status), after
	   "cannot KIND OBJECT N: " */
	const char *refusal;
	dd_command_check_fn *check; /* NULL: any data */
	dd_command_apply_fn *apply;
	/*
	 * Taken once: while one waits in the queue, another is refused
	 * with "it is already <busy>" (NULL: any number may wait).
	 */
	const char *busy;
};

/* extend: {"until": EPOCH}, in the future and at most ten years away */
static int check_until(json_t *data, struct dd_error *why)
{
	json_t *u = json_object_get(data, "until");

	if (!json_is_number(u))
		return dd_error_set(why, DD_ERR_INVALID,
				    "the new expiry must be a number of "
				    "seconds");
	if (dd_expiry_check(json_number_value(u), dd_now(), why))
		return DD_ERR_INVALID;
	return 0;
}

/*
 * finish: {"result": "passed" | "failed" | "aborted", "reason"?: text}.
 * The result is a finished status of the target's machine.
 */
static int check_finish(json_t *data, struct dd_error *why)
{
	json_t *res = json_object_get(data, "result");
	json_t *reason = json_object_get(data, "reason");
	const char *key;
	json_t *v;
	int st;

	json_object_foreach (data, key, v)
		if (strcmp(key, "result") && strcmp(key, "reason"))
			return dd_error_set(why, DD_ERR_INVALID,
					    "unknown field '%s'", key);
	st = json_is_string(res)
		     ? dd_target_status_parse(json_string_value(res))
		     : -1;
	if (st < 0 || !dd_target_status_finished((enum dd_target_status)st))
		return dd_error_set(why, DD_ERR_INVALID,
				    "'result' must be passed, failed or "
				    "aborted");
	if (reason && (!json_is_string(reason) ||
		       !json_string_length(reason) ||
		       json_string_length(reason) > 1024 ||
		       strlen(json_string_value(reason)) !=
			       json_string_length(reason)))
		return dd_error_set(why, DD_ERR_INVALID,
				    "'reason' must be a text of 1 to 1024 "
				    "bytes");
	return 0;
}

/*
 * The table.  A command kind goes to an object only if it has a row here;
 * DD_COMMAND_MAP (core/command.h) names the kinds.
 *
 * A new command on an existing object is one row: its kind in
 * DD_COMMAND_MAP, the statuses that take it, and the apply function in
 * that object's update worker.  A new object kind that takes commands
 * (build targets took "finish") is its rows here, its status names in
 * object_status_name() below, a member in struct dd_apply's union
 * (worker/internal.h) for its apply functions, its update worker calling
 * dd_command_apply() for each pending command, as lease_update.c and
 * target_update.c do, and its status in api.c's object_status().
 * Artifacts take no command: finishing their target releases them all,
 * in the transaction that finishes it.
 */
static const struct command_rule rules[] = {
	/* kind, object, accepted in, refused with, data check, applied by,
	   taken once (refused while one waits: "it is already ...") */
	{DD_CMD_RELEASE, DD_OBJ_LEASE, LEASE_LIVE, "it is already", NULL,
	 dd_lease_apply_release, NULL},
	{DD_CMD_EXTEND, DD_OBJ_LEASE, LEASE_LIVE, "it is", check_until,
	 dd_lease_apply_extend, NULL},
	{DD_CMD_RELEASE, DD_OBJ_RESOURCE,
	 BIT(DD_RESOURCE_PENDING) | BIT(DD_RESOURCE_ACTIVE), "it is already",
	 NULL, dd_resource_apply_release, NULL},
	{DD_CMD_RECLAIM, DD_OBJ_RESOURCE, BIT(DD_RESOURCE_ACTIVE), "it is",
	 NULL, dd_resource_apply_reclaim, NULL},
	{DD_CMD_DRAIN, DD_OBJ_RESOURCE,
	 BIT(DD_RESOURCE_PENDING) | BIT(DD_RESOURCE_ACTIVE), "it is already",
	 NULL, dd_resource_apply_drain, "draining"},
	{DD_CMD_FINISH, DD_OBJ_TARGET, BIT(DD_TARGET_BUILDING), "it is already",
	 check_finish, dd_target_apply_finish, "finishing"},
};

#define RULE_COUNT (sizeof(rules) / sizeof(rules[0]))

static const char *object_status_name(enum dd_obj_kind object, int status)
{
	switch (object) {
	case DD_OBJ_LEASE:
		return dd_lease_status_name((enum dd_lease_status)status);
	case DD_OBJ_RESOURCE:
		return dd_resource_status_name((enum dd_resource_status)status);
	case DD_OBJ_TARGET:
		return dd_target_status_name((enum dd_target_status)status);
	default:
		return "unknown";
	}
}

static const struct command_rule *find_rule(const char *kind,
					    enum dd_obj_kind object)
{
	int k = dd_command_kind_parse(kind);

	for (size_t i = 0; k >= 0 && i < RULE_COUNT; i++)
		if (rules[i].kind == (enum dd_command_kind)k &&
		    rules[i].object == object)
			return &rules[i];
	return NULL;
}

/* The statuses in which `object` takes some command. */
static unsigned commandable(enum dd_obj_kind object)
{
	unsigned mask = 0;

	for (size_t i = 0; i < RULE_COUNT; i++)
		if (rules[i].object == object)
			mask |= rules[i].accepted;
	return mask;
}

static bool takes_commands(enum dd_obj_kind object)
{
	for (size_t i = 0; i < RULE_COUNT; i++)
		if (rules[i].object == object)
			return true;
	return false;
}

int dd_command_object_check(enum dd_obj_kind object, struct dd_error *err)
{
	enum dd_obj_kind seen[RULE_COUNT];
	size_t n = 0, used = 0;
	char objects[128] = "";

	if (takes_commands(object))
		return 0;
	/* "leases and resources": the objects of the table, in its order */
	for (size_t i = 0; i < RULE_COUNT; i++) {
		size_t j = 0;

		while (j < n && seen[j] != rules[i].object)
			j++;
		if (j == n)
			seen[n++] = rules[i].object;
	}
	for (size_t j = 0; j < n && used < sizeof(objects); j++)
		used += (size_t)snprintf(objects + used, sizeof(objects) - used,
					 "%s%ss",
					 j == 0	       ? ""
					 : j == n - 1 ? " and "
						      : ", ",
					 dd_obj_kind_name(seen[j]));
	return dd_error_set(err, DD_ERR_INVALID, "commands go to %s only",
			    objects);
}

int dd_command_accept(const char *kind, struct dd_ref target, int status,
		      json_t *data, struct dd_error *err)
{
	const char *object = dd_obj_kind_name(target.kind);
	const struct command_rule *r;
	struct dd_error why = DD_ERROR_INIT;
	int rc;

	rc = dd_command_object_check(target.kind, err);
	if (rc)
		return rc;
	r = find_rule(kind, target.kind);
	if (!r)
		return dd_error_set(err, DD_ERR_INVALID,
				    "a %s does not take '%s' commands", object,
				    kind ? kind : "");
	if ((unsigned)status >= 32 || !(r->accepted & BIT(status)))
		return dd_error_set(err, DD_ERR_STATE,
				    "cannot %s %s %lld: %s %s", kind, object,
				    target.id, r->refusal,
				    object_status_name(target.kind, status));
	if (r->check) {
		rc = r->check(data, &why);
		if (rc)
			return dd_error_set(err, rc, "cannot %s %s %lld: %s",
					    kind, object, target.id, why.msg);
	}
	return 0;
}

int dd_command_accept_another(const char *kind, struct dd_ref target,
			      size_t queued, struct dd_error *err)
{
	const struct command_rule *r = find_rule(kind, target.kind);

	if (!r || !r->busy || !queued)
		return 0;
	return dd_error_set(err, DD_ERR_STATE, "cannot %s %s %lld: %s %s",
			    kind, dd_obj_kind_name(target.kind), target.id,
			    r->refusal, r->busy);
}

int dd_command_apply(struct dd_apply *a, int status, struct dd_error *err)
{
	enum dd_obj_kind object = a->c->target.kind;
	const struct command_rule *r = find_rule(a->c->kind, object);
	unsigned bit = (unsigned)status < 32 ? BIT(status) : 0;

	snprintf(a->outcome, sizeof(a->outcome), "done");
	/*
	 * An object that has ended takes nothing, whatever the kind; the
	 * kind is looked at only while it still takes some command.
	 */
	if (!(commandable(object) & bit) || (r && !(r->accepted & bit))) {
		snprintf(a->outcome, sizeof(a->outcome), "ignored: %s is %s",
			 dd_obj_kind_name(object),
			 object_status_name(object, status));
		return 0;
	}
	if (!r) {
		snprintf(a->outcome, sizeof(a->outcome),
			 "ignored: a %s does not take '%s'",
			 dd_obj_kind_name(object), a->c->kind);
		return 0;
	}
	return r->apply(a, err);
}
