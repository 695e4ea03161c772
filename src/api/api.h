/*
 * api.h - what a requester may do: the library calls behind the CLI, the
 * HTTP API and the web UI, so all three behave the same.
 *
 * None of these writes a lease or resource that already exists.  Creating
 * a lease inserts it pending and queues its update; everything else about
 * a lease or resource is a command appended to its queue, for its update
 * worker to consume.  Each call checks its input first and changes nothing
 * when it refuses; on success it wakes the daemons after committing.
 */
#ifndef DD_API_H
#define DD_API_H

#include "api/idem.h"
#include "blueprint/blueprint.h"
#include "core/model.h"
#include "core/target.h"
#include "store/store.h"

#include <limits.h>

struct dd_lease_request {
	const char *type;	/* resource type, e.g. "host" */
	json_t *attributes;	/* object, or NULL for {} */
	json_t *blueprints;	/* array of blueprint ids, or NULL for any */
	double until;		/* absolute expiry, 0 for none */
	const char *owner;	/* who asks: "cli:alice@build1" */
	struct dd_idem *idem;	/* the request's idempotency key, or NULL */
};

/*
 * Queue a new lease; fills *out with it as stored.  With req->idem, a
 * key that already made a lease for the same request answers with that
 * lease as it is now, setting req->idem->replayed, and creates nothing
 * (see api/idem.h).
 */
int dd_api_lease_create(struct dd_store *s, const struct dd_lease_request *req,
			struct dd_lease *out, struct dd_error *err);

/*
 * Append command `kind` ("release", "reclaim", "extend": a name from
 * DD_COMMAND_MAP) to `target`'s queue and queue its update.  Refuses as the
 * command table says (dd_command_accept(), worker/command.h), with
 * DD_ERR_INVALID for a kind the object does not take or bad data, and
 * DD_ERR_STATE when the object can no longer take it ("cannot release
 * lease 12: it is already destroyed").  `data` (borrowed, may be NULL) travels with the command;
 * *out, when not NULL, receives the command.
 */
int dd_api_send(struct dd_store *s, struct dd_ref target, const char *kind,
		const char *author, json_t *data, struct dd_command *out,
		struct dd_error *err);

/*
 * Queue `target`'s update worker to run now: for an object whose task
 * failed for good (after the cause was fixed), or to re-check one.
 */
int dd_api_schedule_update(struct dd_store *s, struct dd_ref target,
			   struct dd_error *err);

/* Send "reclaim" to every active resource; *sent counts them. */
int dd_api_reclaim_all(struct dd_store *s, const char *author, int *sent,
		       struct dd_error *err);

/*
 * Create a blueprint, enabled or not, in one transaction; an enabled one
 * wakes the leases waiting for resources of its type.
 */
int dd_api_blueprint_create(struct dd_store *s, const char *type,
			    const char *name, json_t *config, bool enabled,
			    struct dd_blueprint *out, struct dd_error *err);
/* The same with an idempotency key (may be NULL), as for leases. */
int dd_api_blueprint_create_idem(struct dd_store *s, const char *type,
				 const char *name, json_t *config,
				 bool enabled, struct dd_idem *idem,
				 struct dd_blueprint *out,
				 struct dd_error *err);
/*
 * Change a blueprint: a NULL name or config and an `enabled` of -1 leave
 * that field alone.  Enabling it or changing its config wakes the leases
 * waiting for resources of its type.
 */
int dd_api_blueprint_edit(struct dd_store *s, long long id, const char *name,
			  json_t *config, int enabled,
			  struct dd_blueprint *out, struct dd_error *err);

/*
 * A lease opened for its interfaces (blueprint.h): the lease, its
 * resource, and its blueprint's handle (the blueprint, its type and the
 * context their hooks get, loaded by dd_bp_handle_load()).  The context
 * points into the struct: it must not be moved once open.
 */
struct dd_api_lease {
	struct dd_lease lease;
	struct dd_resource resource;
	struct dd_bp_handle bp;
	char state_dir[PATH_MAX];
};

/*
 * Load lease `id` and what its interfaces need; it must be active
 * (DD_ERR_STATE: "cannot DOING lease 12: it is released, not active"),
 * and its resource must not live on another machine (DD_ERR_STATE: its
 * directories are not here; core/machine.h).
 * The store is only read, here and never after: a command or a copy may
 * run for long on what this loaded.  bp.ctx.store is `s`; a caller that
 * uses the interfaces after giving `s` back (another thread) sets it to
 * NULL first, and the hooks then go by bp.ctx.state_dir.  Close it also
 * after an error.
 */
int dd_api_lease_open(struct dd_store *s, long long id, const char *doing,
		      struct dd_api_lease *h, struct dd_error *err);
void dd_api_lease_close(struct dd_api_lease *h);

/*
 * Run argv, with the NAME=VALUE pairs `env` (may be NULL) added to its
 * environment, on the resource that lease `id` holds, through its
 * blueprint type's command interface, in the lease's working directory,
 * and see it through with dd_exec_run() (core/exec.h): output, deadline,
 * cancel.  The lease must be active.  The store is read only before the
 * command starts; after, a command that ended with status 255 (ssh's own
 * failure) on a resource whose type checks its resources queues that
 * resource's update, so that a host that stopped answering is found now.
 */
int dd_api_exec(struct dd_store *s, long long id, char *const argv[],
		char *const env[], const struct dd_exec_options *o,
		struct dd_exec_result *res, struct dd_error *err);

struct dd_target_request {
	const char *name;	/* what the build calls itself, or NULL */
	double ttl;		/* seconds to the deadline, 0 for none */
	const char *owner;	/* who asks: "token:ci", "cli:alice@build1" */
	struct dd_idem *idem;	/* the request's idempotency key, or NULL */
};

/*
 * Create a build target, building, and with a ttl queue its update at
 * the deadline (when its update worker aborts it, unless finished
 * first); fills *out with it as stored.  An idempotency key works as for
 * leases.  Finishing is a command: dd_api_send(target, "finish",
 * {"result": ..., "reason"?: ...}); a second finish while one waits or
 * after the target finished is DD_ERR_STATE.
 */
int dd_api_target_create(struct dd_store *s,
			 const struct dd_target_request *req,
			 struct dd_target *out, struct dd_error *err);

struct dd_artifact_request {
	long long target;
	const char *key;
	const char *type;	/* a row of the artifact type table */
	json_t *data;		/* the type's fields (borrowed) */
	const struct dd_artifact_rules *rules; /* NULL: the defaults */
	/*
	 * May name any lease (an admin); otherwise a lease artifact's lease
	 * must be owned by the target's owner.
	 */
	bool any_lease;
};

/*
 * Add an artifact to a building target, in one transaction: the type's
 * data checked by its row (core/target.h), a lease artifact's lease
 * checked (it exists, is owned by the target's owner unless any_lease,
 * and is neither released nor destroyed nor broken), the artifact
 * inserted (complete unless its type's bytes are uploaded) and the
 * target's log entry written.  Refuses, changing nothing: DD_ERR_INVALID
 * for bad key, type or data, or a lease the target may not hold;
 * DD_ERR_NOTFOUND for no such target; DD_ERR_STATE for a finished target
 * or a lease already ending; DD_ERR_EXISTS for a key the target has.
 */
int dd_api_artifact_add(struct dd_store *s,
			const struct dd_artifact_request *req,
			struct dd_artifact *out, struct dd_error *err);

/* The caller's identity for authorship: "cli:USER@HOST". */
void dd_api_cli_identity(char *buf, size_t n);

#endif
