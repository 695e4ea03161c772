/*
 * model.h - drydock's stored objects: blueprints, resources, leases,
 * build targets and their artifacts, commands, log entries, slot locks,
 * tasks, API tokens, idempotency records and blueprint authorizations.
 *
 * These are plain structs that the store fills and core code reads.  Only an
 * object's update worker changes a lease or resource (see worker/worker.h);
 * everybody else appends a command.  Strings and JSON values inside a struct
 * are owned by it: dd_<noun>_release() frees them, dd_<noun>_list_release()
 * frees a list and its items.
 */
#ifndef DD_MODEL_H
#define DD_MODEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/machine.h"
#include "core/state.h"

enum dd_obj_kind {
	DD_OBJ_NONE = 0,
	DD_OBJ_BLUEPRINT = 1,
	DD_OBJ_RESOURCE = 2,
	DD_OBJ_LEASE = 3,
	DD_OBJ_TARGET = 4,
	DD_OBJ_ARTIFACT = 5,
};

const char *dd_obj_kind_name(enum dd_obj_kind kind);

/* A reference to one object: "lease 12". */
struct dd_ref {
	enum dd_obj_kind kind;
	long long id;
};

/*
 * Read "KIND:ID" ("resource:5", as dd_task_lock_name() writes it) into
 * *out: 0, or DD_ERR_INVALID for anything else (an owner such as
 * "cli:alice@build1" is no object).
 */
int dd_ref_parse(const char *text, struct dd_ref *out);

struct dd_blueprint {
	long long id;
	char *type;	  /* a registered blueprint type, e.g. "host" */
	char *name;	  /* unique display name */
	json_t *config;	  /* the type's configuration object */
	bool enabled;	  /* disabled: no new allocations */
	double created, modified;
};

/*
 * An operation on a resource or lease whose hook answered "in progress"
 * (DD_ERR_AGAIN): which hook, since when (its deadline counts from
 * then, across resumes), and the object whose next change resumes it
 * ("lease:7"; empty for none).  All empty while no hook is in progress.
 */
struct dd_progress {
	char hook[24];
	double since;
	char resume_on[48];
};

struct dd_resource {
	long long id;
	long long blueprint;
	char *type;
	enum dd_resource_status status;
	json_t *attributes; /* the blueprint's state, e.g. host name, root */
	bool draining;	    /* takes no new lease (a "drain" command) */
	double created, modified;
	struct dd_progress progress;
	/*
	 * The machine it lives on (core/machine.h), whose daemons alone run
	 * its hooks and its leases'; "" when it is reachable from anywhere
	 * (an SSH host, a provider's).  Set when it is inserted, or once
	 * by its activate_resource (blueprint.h: a working copy learns its
	 * host's machine then); never changed nor cleared after.
	 */
	char machine[DD_MACHINE_MAX + 1];
};

struct dd_lease {
	long long id;
	char *type;		/* requested resource type */
	enum dd_lease_status status;
	long long resource;	/* 0 until acquired */
	char *owner;		/* who asked for it */
	json_t *attributes;	/* the request, plus what the blueprint adds */
	json_t *blueprints;	/* allow-list: array of blueprint ids, or NULL */
	double until;		/* expiry, 0 for none */
	long long allocating;	/* the resource this lease is building, or 0 */
	bool waiting;		/* pending, waiting for capacity to free */
	bool behind;		/* and waiting behind an older lease that
				   asks for the same (see allocator.c) */
	double acquired, activated, created, modified;
	struct dd_progress progress;
};

/*
 * A build target: one build (a CI job, a `drydock run`) and what it
 * produced.  Created building by a requester; from then on only its
 * update worker writes it (the finish command, or its deadline), like a
 * lease.  Its lock is "target:ID" (dd_task_lock_name).
 */
struct dd_target {
	long long id;
	char *name;		/* what the build calls itself; may be NULL */
	char *owner;		/* who created it: "token:ci", "cli:alice@h" */
	enum dd_target_status status;
	double deadline;	/* 0 for none; then aborted by the daemon */
	double created, finished, modified; /* finished: 0 while building */
};

/*
 * An artifact of a build target: a file uploaded to drydock, a URI, or a
 * lease the build holds (core/target.h has the type table and what each
 * type's data holds).  `key` is unique within its target.  Artifacts are
 * never changed after they are complete, except that finishing their
 * target marks them all released (which releases a lease artifact's
 * lease).  A file's bytes are stored in chunks behind the store
 * interface (store/store.h); `size` counts the bytes stored so far, and a
 * file is `complete` once all of them are there and its SHA-256 is known.
 * Other types are complete when made.
 */
struct dd_artifact {
	long long id;
	long long target;
	char *key;		/* 1 to 255 bytes, no control characters */
	char *type;		/* a row of the type table: "file", "uri" */
	json_t *data;		/* the type's fields, checked by its row */
	bool released;
	bool complete;
	long long size;		/* file: bytes stored; else 0 */
	char sha256[65];	/* file, once complete: hex SHA-256; else "" */
	double created, modified; /* modified: the last chunk written */
};

/*
 * A command in an object's queue.  Appended by anybody, consumed only by the
 * object's update worker, exactly once, with an outcome: "done" or
 * "ignored: <reason>".
 */
struct dd_command {
	long long id;
	struct dd_ref target;
	char *kind;   /* a name from DD_COMMAND_MAP (core/command.h) */
	char *author;
	json_t *data; /* e.g. {"until": ...} for extend; may be NULL */
	bool consumed;
	char *outcome; /* NULL until consumed */
	double created, consumed_at;
};

struct dd_log_entry {
	long long id;
	long long blueprint, resource, lease; /* 0 where not concerned */
	long long target;		      /* a build target, or 0 */
	char *type;			      /* "lease.activated" */
	double time;
	json_t *data; /* may be NULL */
};

struct dd_slot_lock {
	char *key;
	struct dd_ref owner;
};

/* A grant of a named lock: the fencing token every write re-checks. */
struct dd_lock_grant {
	char name[96];
	long long token;
};

/* A durable task: "run the update worker of this object". */
struct dd_task {
	long long id;
	char *kind; /* "lease.update" or "resource.update" */
	struct dd_ref object;
	double not_before;
	char *claimed_by;	/* NULL while queued */
	long long claim_token;	/* fences the claimant's writes */
	double claim_expires;
	int failures;
	char *last_error;
	double created;
	struct dd_lock_grant lock; /* the object's lock, while claimed */
	bool more; /* its claim saw another task due, or could not tell */
	/*
	 * After a claim that found nothing (DD_ERR_NOTFOUND): when the next
	 * task falls due for the claimer, as dd_store_task_next_due() says
	 * (0: none), or -1 when the store did not look.
	 */
	double next_due;
	/*
	 * A zeroed task left by a claim that found nothing, chained to the
	 * end of the task before (dd_task_run_chained()): nothing was due.
	 */
	bool looked;
};

/* The name of the lock that guards `object`: "lease:12". */
void dd_task_lock_name(struct dd_ref object, struct dd_lock_grant *g);

struct dd_task_archive {
	long long id;
	char *kind;
	struct dd_ref object;
	char *outcome; /* "done", "failed" */
	int failures;
	double duration, finished;
	char *error;
};

/*
 * An API token.  Only the SHA-256 of its secret is stored (see
 * auth/token.h); the secret itself is shown once, when it is made.
 * Tokens are never deleted, only revoked, so their ids are never reused.
 */
struct dd_token {
	long long id;
	char *name;    /* unique: "ci", "alice@example.org" */
	char *role;    /* "viewer", "client" or "admin" */
	char hash[65]; /* hex SHA-256 of the secret; never shown */
	double created;
	double last_used; /* 0 until used; then updated at most once a minute */
	double revoked;	  /* 0 while the token works */
};

/*
 * An idempotency record: which object a caller's create sent with `key`
 * made (see api/idem.h).  It is written in the transaction that creates
 * the object, so one never exists without the other.
 */
struct dd_idem_record {
	char caller[160];     /* whose key: "token:ci", "cli:alice@build1" */
	char key[256];	      /* 1 to 255 printable ASCII characters */
	char request[64];     /* what was asked: "POST /api/v1/leases" */
	char hash[65];	      /* hex SHA-256 of the request's parameters */
	char object_kind[16]; /* "lease", "blueprint", "token" */
	long long object;
	double created;
};

/*
 * A requester's authorization to use a blueprint whose config says
 * "authorization": "required" (auth/authorization.h).  The allocator
 * creates it, requested, the first time the requester's lease needs the
 * blueprint; an admin approves or declines it (core/state.h).  One row
 * per (blueprint, requester); never deleted.
 */
struct dd_authorization {
	long long id;
	long long blueprint;
	char *requester;	/* "token:ci", "cli:alice", "blueprint:4" */
	enum dd_authorization_state state;
	char *decided_by;	/* the admin's identity; NULL until decided */
	double decided;		/* when last decided; 0 until then */
	double created, modified;
};

#define DD_DECLARE_LIST(noun)                                                  \
	struct dd_##noun##_list {                                              \
		struct dd_##noun *items;                                       \
		size_t n;                                                      \
	};                                                                     \
	void dd_##noun##_release(struct dd_##noun *x);                         \
	void dd_##noun##_list_release(struct dd_##noun##_list *l);             \
	int dd_##noun##_list_push(struct dd_##noun##_list *l,                  \
				  struct dd_##noun *x);

DD_DECLARE_LIST(blueprint)
DD_DECLARE_LIST(resource)
DD_DECLARE_LIST(lease)
DD_DECLARE_LIST(target)
DD_DECLARE_LIST(artifact)
DD_DECLARE_LIST(command)
DD_DECLARE_LIST(log_entry)
DD_DECLARE_LIST(slot_lock)
DD_DECLARE_LIST(task)
DD_DECLARE_LIST(task_archive)
DD_DECLARE_LIST(token)
DD_DECLARE_LIST(authorization)

/*
 * One filter for every list query.  Zero means "any" for each field; each
 * list honours the fields that make sense for it.
 */
struct dd_filter {
	unsigned status_mask;	/* bit (1 << status) */
	long long blueprint;
	long long resource;
	long long lease;
	long long allocating;
	const char *type;
	const char *owner;
	const char *key;	/* slot locks, artifacts: this key only */
	long long target_id;	/* a build target: its log, its artifacts
				   (`target` is a command's object) */
	struct dd_ref target;	/* commands, slot locks, tasks */
	bool pending_only;	/* commands: unconsumed only */
	bool waiting_only;	/* leases: waiting for capacity, not behind
				   an equal request (queue heads) */
	bool waiting_any;	/* leases: waiting, either way */
	/*
	 * leases: asking for exactly what this lease asks: the same
	 * attributes and allow-list, compared as stored (JSON text)
	 */
	const struct dd_lease *same_request;
	const char *resume_on;	/* leases, resources: resumed by this
				   object's change ("lease:7") */
	long long after_id;	/* rows with id > after_id */
	long long before_id;	/* rows with id < before_id */
	size_t limit;		/* 0: no limit */
	bool descending;	/* newest first */
};

/* JSON renderings used by --json output and, later, the HTTP API. */
json_t *dd_blueprint_to_json(const struct dd_blueprint *bp);
json_t *dd_resource_to_json(const struct dd_resource *r);
json_t *dd_lease_to_json(const struct dd_lease *l);
json_t *dd_target_to_json(const struct dd_target *t);
json_t *dd_artifact_to_json(const struct dd_artifact *a);
json_t *dd_command_to_json(const struct dd_command *c);
json_t *dd_log_entry_to_json(const struct dd_log_entry *e);
json_t *dd_task_to_json(const struct dd_task *t);
/* Never includes the hash. */
json_t *dd_token_to_json(const struct dd_token *t);
json_t *dd_authorization_to_json(const struct dd_authorization *a);
/* Add a time field as RFC 3339, or null when t is 0. */
int dd_json_set_time(json_t *obj, const char *key, double t);

#endif
