/*
 * blueprint.h - the one interface every blueprint type implements.
 *
 * A blueprint type (host, working-copy, exec, ...) says how to build, hand
 * out and take back resources of one resource type.  It is a static const
 * struct dd_blueprint_type of function pointers; core code calls the
 * dd_bp_*() wrappers, never the pointers, and the wrappers are where hook
 * tracing and asserts live.
 *
 * Blueprints never write leases or resources.  Hooks receive the object and
 * may fill in fields the core then saves (attributes, slot-lock keys) in the
 * same transaction as the state change; the update worker is the writer.
 *
 * Hooks return 0, DD_ERR_AGAIN (the operation hooks: "in progress", see
 * struct dd_bp_resume; not a failure), or another negative code (the
 * operation failed: an activate breaks the object, a teardown hook is
 * tried again with backoff until it succeeds).  One code says more:
 * DD_ERR_REMOTE from a lease's activate_lease says that the resource
 * under the lease failed, not the lease (see dd_bp_lease_hook_fn).  Each
 * call has a deadline and a cancel descriptor in its context (below).
 */
#ifndef DD_BLUEPRINT_H
#define DD_BLUEPRINT_H

#include <stdbool.h>
#include <stddef.h>

#include "blueprint/schema.h"
#include "core/exec.h"
#include "core/model.h"

#include <sys/types.h>

#define DD_BLUEPRINT_TYPE_VERSION 1
#define DD_MAX_SLOT_KEYS 8

struct dd_store;

/* Slot-lock keys a hook asks the core to take with the state change. */
struct dd_slot_keys {
	char key[DD_MAX_SLOT_KEYS][128];
	size_t n;
};
int dd_slot_keys_add(struct dd_slot_keys *k, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * The hooks that do an operation's work, by the names their timeouts go
 * by.  Each call of one has a deadline: the blueprint config's
 * "timeouts" entry for the hook (seconds) if it has one, else the type's
 * default (dd_blueprint_type.timeouts), else DD_BP_TIMEOUT.  A hook that
 * returns at or after its deadline fails, whatever it returns, with
 * DD_ERR_TIMEOUT "HOOK timed out after N s"; one that runs programs
 * passes the deadline and ctx->cancel_fd to dd_exec_run()
 * (dd_bp_exec_options()), so they are stopped in time.
 */
#define DD_BP_HOOK_MAP(X)                                                      \
	X(ACTIVATE_RESOURCE, "activate_resource")                              \
	X(DESTROY_RESOURCE, "destroy_resource")                                \
	X(ACTIVATE_LEASE, "activate_lease")                                    \
	X(RELEASE_LEASE, "release_lease")                                      \
	X(DESTROY_LEASE, "destroy_lease")                                      \
	X(CHECK_RESOURCE, "check_resource")

enum dd_bp_hook {
#define DD_BP_HOOK_ENUM(name, text) DD_BP_HOOK_##name,
	DD_BP_HOOK_MAP(DD_BP_HOOK_ENUM)
#undef DD_BP_HOOK_ENUM
	DD_BP_HOOK_COUNT
};

const char *dd_bp_hook_name(enum dd_bp_hook h);

/* An operation hook's deadline when neither config nor type sets one. */
#define DD_BP_TIMEOUT 600.0
/* The deadline of the hooks that only decide (allocate, acquire, can_*). */
#define DD_BP_DECIDE_TIMEOUT 10.0

/*
 * An operation hook's answer "in progress" (DD_ERR_AGAIN): the activate
 * hooks and the teardown hooks (destroy_resource, release_lease,
 * destroy_lease) alike.  Resume me at `at` (a dd_now() time; 0: no
 * time), or when object `on` changes status (a lease or resource;
 * DD_OBJ_NONE: no object), whichever comes first, and in any case at the
 * hook's deadline, which counts from the first call of the operation:
 * resumed there, it fails with DD_ERR_TIMEOUT without being called.
 * Whatever the hook changed in the object's attributes (the lease's for
 * the lease hooks) is saved with the answer, in the same fenced
 * transaction, and is what it finds when resumed: its state.  A hook
 * that names neither is called again after as long as it has been in
 * progress (at least 1 s, at most 300 s: a backoff, not a poll).  A
 * release_lease in progress is resumed, and destroy_lease called only
 * once it is done; release_lease is not called again once destroy_lease
 * is in progress.
 */
struct dd_bp_resume {
	double at;
	struct dd_ref on;
	double deadline; /* set by the wrapper: the operation's deadline */
};

/*
 * What a hook can see: the store (read only), the blueprint, a state dir,
 * when it must be done, and whether it must stop now.
 */
struct dd_bp_ctx {
	struct dd_store *store;
	const struct dd_blueprint *blueprint;
	const char *state_dir; /* directory holding the store */
	/*
	 * The wall-clock time (dd_now()) by which the hook must have
	 * returned; the wrappers set it for each call.
	 */
	double deadline;
	/*
	 * Readable once the hook must stop at once, because the worker lost
	 * its claim on the object (its renewal failed): its writes will be
	 * refused, and whatever it still does may be done again by the next
	 * holder.  -1 outside a worker.  Never read from it: poll it, or
	 * hand it to dd_exec_run().
	 */
	int cancel_fd;
	/*
	 * When the operation began: the time of this call, or of the first
	 * call of an operation resumed after "in progress"; the deadline
	 * counts from it (0: from this call).  Set by the worker.
	 */
	double started;
	/*
	 * Where an operation hook answering DD_ERR_AGAIN says when to
	 * resume it; NULL where "in progress" cannot be answered.
	 */
	struct dd_bp_resume *resume;
	/*
	 * The lease or resource the hook works on (set by the worker for
	 * the hooks of its passes; DD_OBJ_NONE elsewhere): the owner of the
	 * leases it requests (blueprint/services.h).
	 */
	struct dd_ref object;
};

/*
 * Options for dd_exec_run() for a program a hook runs: stopped at the
 * hook's deadline and when cancel_fd turns readable, its process group
 * killed (SIGTERM, then SIGKILL after DD_EXEC_GRACE).  The caller sets
 * the output modes.
 */
void dd_bp_exec_options(const struct dd_bp_ctx *ctx, struct dd_exec_options *o);

/*
 * Check what a configuration's field table (config_fields) cannot say
 * about the whole of it; called only once the table's checks passed.
 * Fill `err` with what is wrong.
 */
typedef int dd_bp_validate_fn(const json_t *config, struct dd_error *err);
/*
 * Check what a (valid) config names in store `s` (other blueprints),
 * read only, when a blueprint is created or its config edited; fill
 * `err` with what is wrong.
 */
typedef int dd_bp_validate_refs_fn(struct dd_store *s, const json_t *config,
				   struct dd_error *err);
/*
 * The resource type a blueprint with this (valid) config builds, for a
 * type whose config names it (exec); NULL in the type: the type's own.
 */
typedef const char *dd_bp_resource_type_fn(const json_t *config);
/* Could this blueprint ever serve `lease` (its attributes)? No side effects. */
typedef bool dd_bp_can_ever_allocate_fn(const struct dd_bp_ctx *ctx,
					const struct dd_lease *lease);
/*
 * Propose the `n`th way to build a new resource for `lease`: fill
 * r->attributes and the slot keys that make it unique (e.g. one resource
 * per host).  The core tries the proposals in order until their keys can be
 * taken.  Return DD_ERR_NOTFOUND when there are no more proposals.
 */
typedef int dd_bp_allocate_fn(const struct dd_bp_ctx *ctx,
			      const struct dd_lease *lease, size_t n,
			      struct dd_resource *r, struct dd_slot_keys *keys,
			      struct dd_error *err);
/*
 * Does resource `r`, as the allocate hook proposed it, exist only on the
 * machine that builds it (a directory there)?  The core then records
 * that machine in r->machine, and only daemons there run its hooks and
 * its leases' (core/machine.h).  No side effects.
 */
typedef bool dd_bp_machine_bound_fn(const struct dd_bp_ctx *ctx,
				    const struct dd_resource *r);
/*
 * Make a pending resource usable (create directories, clone, boot).
 * A resource that lives where something it builds on lives (a working
 * copy on a local host: its git runs there), which it learns only here,
 * records that machine in r->machine, once, while it is ""; the core
 * saves it with the answer, and from then on only daemons there run its
 * hooks and its leases' (the task claim reads it at each claim).  A hook
 * that learns it on a daemon of another machine answers "in progress",
 * resumed at once, to be called again there.
 */
typedef int dd_bp_activate_resource_fn(const struct dd_bp_ctx *ctx,
				       struct dd_resource *r,
				       struct dd_error *err);
/*
 * Is an active resource still usable (a remote host still answering)?
 * 0, with *next the seconds until it should be checked again (0: never
 * again unless something else runs its pass); or an error saying what is
 * wrong, and the resource breaks with that reason.  Called by every pass
 * of an active resource.
 */
typedef int dd_bp_check_resource_fn(const struct dd_bp_ctx *ctx,
				    const struct dd_resource *r, double *next,
				    struct dd_error *err);
/*
 * Tear a resource down.  Must be idempotent: a crash may repeat it.  It
 * may answer "in progress" as activate_resource does (struct
 * dd_bp_resume), keeping its state in r->attributes.
 */
typedef int dd_bp_destroy_resource_fn(const struct dd_bp_ctx *ctx,
				      struct dd_resource *r,
				      struct dd_error *err);
/* May `lease` ever go on this resource (attributes match)? */
typedef bool dd_bp_can_acquire_fn(const struct dd_bp_ctx *ctx,
				  const struct dd_resource *r,
				  const struct dd_lease *lease);
/*
 * Propose the `n`th way to place `lease` on `r`: the slot keys to take
 * (e.g. "resource:5:slot:1") and lease attributes to record.  Return
 * DD_ERR_NOTFOUND when there are no more proposals.
 */
typedef int dd_bp_acquire_fn(const struct dd_bp_ctx *ctx,
			     const struct dd_resource *r,
			     struct dd_lease *lease, size_t n,
			     struct dd_slot_keys *keys, struct dd_error *err);
/*
 * Lease hooks.  release and destroy must be idempotent.  activate must be
 * too, and must keep what it creates inside the resource (under what
 * destroy_resource removes): it runs once the lease's acquire is committed
 * but perhaps before it is durable, so after a power cut the lease may be
 * acquired again, on this resource or another (see worker/internal.h).
 *
 * An activate that fails because the resource failed, whatever the lease
 * asked (its host did not answer, refused drydock's key, presented
 * another host key: any failure of the way there), returns DD_ERR_REMOTE,
 * leaving the lease's attributes as they were.  The lease is then not
 * broken: it goes back to pending and is placed on another resource
 * (never again on this one), and the resource's update is queued at
 * once, so that its check_resource finds out whether it is dead and, if
 * so, breaks it and its other leases.  Any other error is the lease's
 * own (a command that ran and failed, a provider's refusal) and breaks
 * it.
 */
typedef int dd_bp_lease_hook_fn(const struct dd_bp_ctx *ctx,
				const struct dd_resource *r,
				struct dd_lease *lease, struct dd_error *err);

/*
 * The interfaces a lease offers.  Every caller (the CLI's exec, cp and
 * run, the API, the web UI) reaches them through the dd_bp_spawn() and
 * dd_bp_file_*() wrappers, never knowing the type.
 *
 * "command": start argv (never through a shell) on the leased thing, in
 * the lease's working directory, with the environment the type gives
 * commands plus `env` (NAME=VALUE pairs, NULL-terminated, may be NULL:
 * each replaces the variable of its name or is added; the wrapper has
 * checked them with dd_exec_env_check()), with the streams `io` names
 * (io->in, io->out, io->err: a descriptor to make the command's stdin,
 * stdout, stderr, or -1 for drydock's own; a remote command, which
 * cannot have drydock's, gets no input for -1 and io->in forwarded
 * otherwise, 0 included), and hand back the pid of a
 * local process that stands for the command.  With io->own_group that
 * process leads a new process group, and signalling the group must stop
 * the whole command, wherever it runs (for a remote one: its whole
 * process tree there).  It only starts the command: dd_exec_run()
 * (core/exec.h) waits for it, reads its output, enforces its deadline
 * and stops it.  Errors: DD_ERR_INVALID when argv[0] cannot be found,
 * DD_ERR_STATE when the lease has nothing to run it in, DD_ERR_IO
 * otherwise; nothing is left running after an error.
 */
struct dd_command_interface {
	int (*spawn)(const struct dd_bp_ctx *ctx, const struct dd_resource *r,
		     const struct dd_lease *lease, char *const argv[],
		     char *const env[], const struct dd_exec_io *io,
		     pid_t *pid, struct dd_error *err);
};

/*
 * One entry of a listing (the files interface's list): the listed path
 * itself (name "") or an entry of the directory it is.
 */
struct dd_file_entry {
	char *name;
	char type;	/* 'f' file, 'd' directory, 'l' symbolic link,
			   'o' anything else */
	long long size; /* bytes (a link's: of its target's name) */
	unsigned mode;	/* permission bits, 07777 */
	double mtime;	/* seconds since the epoch */
};

/*
 * A listing: entries[0] is the path itself (a directory, through a
 * symbolic link if the path is one); when it is a directory, its entries
 * follow, sorted by name, without "." and "..".
 */
struct dd_file_list {
	struct dd_file_entry *entries;
	size_t n;
};
void dd_file_list_release(struct dd_file_list *l);

/* How long a files operation may take, and how to stop it early. */
struct dd_file_options {
	double timeout; /* seconds; 0: none */
	int cancel_fd;	/* readable (a byte, or closed): stop; -1: none */
};

/*
 * The "files" interface a lease offers: copy files and directories into
 * and out of the leased thing, as streams (nothing is ever whole in
 * memory), and list a directory.  `path` is relative to the lease's
 * working directory, or absolute: the interface is not a sandbox, it may
 * touch what the lease's commands may (as the user they run as, run_as),
 * no more, so it needs no rules of its own about where a path leads.
 * The wrappers have checked that `path` is not empty nor longer than
 * DD_FILE_PATH_MAX.
 *
 *   read        write the regular file `path` (a link to one is followed)
 *               to `out`, from its first byte to its last.
 *   write       make `path` a regular file with permission bits `mode`
 *               holding what `in` gives until its end; it appears whole
 *               or not at all (written beside it, then renamed over it:
 *               on a failure or a cancel the old file, if any, is left
 *               as it was), and missing parent directories are made.
 *   read_tree   write the directory `path` to `out` as a tar stream
 *               (POSIX ustar/pax, members relative to `path`: "./a").
 *   write_tree  unpack the tar stream `in` gives into the directory
 *               `path`, made (with its parents) if missing; members are
 *               owned by the user commands run as.  Not atomic: what
 *               was unpacked before a failure stays.
 *   list        fill *out with the listing of `path` (see above).
 *
 * Descriptors are the caller's (close-on-exec; a pipe's end, a file).
 * Each returns 0, or: DD_ERR_NOTFOUND when `path` does not exist (read,
 * read_tree, list; write makes what is missing); DD_ERR_INVALID when it is
 * of the wrong kind (read or write of a directory, read_tree or list of
 * something that is not one); DD_ERR_INTERRUPTED when o->cancel_fd
 * stopped it; DD_ERR_IO otherwise (also past o->timeout), with the
 * reason the leased thing gave.
 *
 * A type that leaves `files` NULL, or one of its methods NULL, gets the
 * generic POSIX implementation (files_posix.h) for it, built on its
 * command interface: cat, mv, tar, find, run as commands are,
 * so permissions are the same as for commands.
 */
#define DD_FILE_PATH_MAX 4096
struct dd_files_interface {
	int (*read)(const struct dd_bp_ctx *ctx, const struct dd_resource *r,
		    const struct dd_lease *lease, const char *path, int out,
		    const struct dd_file_options *o, struct dd_error *err);
	int (*write)(const struct dd_bp_ctx *ctx, const struct dd_resource *r,
		     const struct dd_lease *lease, const char *path,
		     unsigned mode, int in, const struct dd_file_options *o,
		     struct dd_error *err);
	int (*read_tree)(const struct dd_bp_ctx *ctx,
			 const struct dd_resource *r,
			 const struct dd_lease *lease, const char *path,
			 int out, const struct dd_file_options *o,
			 struct dd_error *err);
	int (*write_tree)(const struct dd_bp_ctx *ctx,
			  const struct dd_resource *r,
			  const struct dd_lease *lease, const char *path,
			  int in, const struct dd_file_options *o,
			  struct dd_error *err);
	int (*list)(const struct dd_bp_ctx *ctx, const struct dd_resource *r,
		    const struct dd_lease *lease, const char *path,
		    struct dd_file_list *out, const struct dd_file_options *o,
		    struct dd_error *err);
};

struct dd_blueprint_type {
	int version; /* DD_BLUEPRINT_TYPE_VERSION */
	const char *name;
	const char *resource_type; /* NULL: resource_type_of() says */
	const char *summary;
	/*
	 * The keys of the type's config (schema.h), besides the common ones
	 * every type accepts (dd_bp_common_fields); NULL: none.
	 */
	const struct dd_schema_field *config_fields;
	dd_bp_validate_fn *validate; /* NULL: the table says it all */
	dd_bp_validate_refs_fn *validate_refs; /* NULL: it names nothing */
	dd_bp_resource_type_fn *resource_type_of;
	dd_bp_can_ever_allocate_fn *can_ever_allocate;
	dd_bp_allocate_fn *allocate;
	dd_bp_machine_bound_fn *machine_bound; /* NULL: reachable anywhere */
	dd_bp_activate_resource_fn *activate_resource;
	dd_bp_destroy_resource_fn *destroy_resource;
	dd_bp_check_resource_fn *check_resource; /* NULL: never checked */
	dd_bp_can_acquire_fn *can_acquire;
	dd_bp_acquire_fn *acquire;
	dd_bp_lease_hook_fn *activate_lease;
	dd_bp_lease_hook_fn *release_lease;
	dd_bp_lease_hook_fn *destroy_lease;
	const struct dd_command_interface *command; /* NULL: not offered */
	/*
	 * Its command interface (and so the files interface over it) reads
	 * ctx->store (a working copy reaches its host lease through it):
	 * a caller that runs them away from the store handle it opened the
	 * lease with (the API's transfers, on threads of their own) gives
	 * them a handle of their own.  false: they never touch the store.
	 */
	bool interfaces_use_store;
	/* Default deadlines of the operation hooks in seconds; 0: DD_BP_TIMEOUT */
	double timeouts[DD_BP_HOOK_COUNT];
	/* NULL (or a NULL method): the POSIX one over `command` */
	const struct dd_files_interface *files;
	/*
	 * The keys of the attributes a lease for this type's resources may
	 * ask with (schema.h), checked before the lease is queued
	 * (dd_bp_check_lease()): a key no row names is refused, naming it.
	 * NULL: any attributes (the type reads what it knows).
	 */
	const struct dd_schema_field *lease_fields;
	/*
	 * Seconds an idle resource is kept from a lease of another shape
	 * that would reclaim it (allocator.c), unless the config's
	 * "reclaim_grace" says; 0: reclaimed at once.
	 */
	double reclaim_grace;
};

extern const struct dd_blueprint_type dd_host_blueprint_type;
extern const struct dd_blueprint_type dd_exec_blueprint_type;
extern const struct dd_blueprint_type dd_working_copy_blueprint_type;

/*
 * The config keys every blueprint accepts whatever its type (those the
 * core reads itself), checked by dd_bp_validate() before the type's own.
 */
extern const struct dd_schema_field dd_bp_common_fields[];

/* All registered types, NULL-terminated. */
extern const struct dd_blueprint_type *const dd_blueprint_types[];
/* A registered type by name: one of dd_blueprint_types, or a test's. */
const struct dd_blueprint_type *dd_blueprint_type_find(const char *name);
/*
 * For tests only: register one more type (a fake), found by name like
 * the built-in ones from then on.  Call it before any worker runs;
 * DD_ERR_EXISTS for a name taken, DD_ERR_INVALID when no room is left.
 */
int dd_blueprint_type_add_for_tests(const struct dd_blueprint_type *t);
/*
 * Is some blueprint able to build resources of `resource_type`: a
 * registered type that builds it, or a blueprint in store `s` whose
 * config names it?
 */
bool dd_resource_type_known(struct dd_store *s, const char *resource_type);
/* The resource type a blueprint of type `t` with `config` builds ("" if
 * its config names none). */
const char *dd_bp_resource_type(const struct dd_blueprint_type *t,
				const json_t *config);

/*
 * A blueprint with its type and the context its hooks are called with:
 * how the workers and the API's exec reach a blueprint.  ctx points into
 * the handle, so a handle is not copied, and its state_dir is borrowed.
 */
struct dd_bp_handle {
	struct dd_blueprint bp;
	const struct dd_blueprint_type *type;
	struct dd_bp_ctx ctx;
};
/*
 * Fill `h` from `bp`, whose contents it takes over (*bp is left empty,
 * also on failure, when they are released), for hooks that read `store`
 * and whose state directory is `state_dir`, with no deadline and no
 * cancel_fd (-1; a worker sets its own).  DD_ERR_INVALID when no
 * registered type has the blueprint's type.
 */
int dd_bp_handle_init(struct dd_bp_handle *h, struct dd_blueprint *bp,
		      struct dd_store *store, const char *state_dir,
		      struct dd_error *err);
/* Read blueprint `id` from `store` and fill `h` as dd_bp_handle_init(). */
int dd_bp_handle_load(struct dd_bp_handle *h, struct dd_store *store,
		      const char *state_dir, long long id,
		      struct dd_error *err);
void dd_bp_handle_release(struct dd_bp_handle *h);

/* Wrappers: every call into a blueprint goes through these. */
/*
 * Check a config: an object whose keys are the common fields and the
 * type's config_fields, then the type's validate; messages name the
 * JSON path ("config: hosts[2].slots: must be ...").
 */
int dd_bp_validate(const struct dd_blueprint_type *t, const json_t *config,
		   struct dd_error *err);
/* Then what it names in store `s` (validate_refs; 0 for a type without). */
int dd_bp_validate_refs(const struct dd_blueprint_type *t, struct dd_store *s,
			const json_t *config, struct dd_error *err);
/*
 * Check the attributes of a lease asked for `resource_type` against the
 * lease_fields of every registered type that builds it, before the lease
 * is queued: "lease attributes: repositories.src: unknown key 'urI'
 * (known: ...)".  0 when no such type has a table.
 */
int dd_bp_check_lease(const char *resource_type, const json_t *attributes,
		      struct dd_error *err);
/*
 * Seconds an idle resource of a blueprint of type `t` (NULL: unknown)
 * with `config` is kept before a lease may reclaim it: the config's
 * "reclaim_grace", else the type's.
 */
double dd_bp_reclaim_grace(const struct dd_blueprint_type *t,
			   const json_t *config);
bool dd_bp_can_ever_allocate(const struct dd_blueprint_type *t,
			     const struct dd_bp_ctx *ctx,
			     const struct dd_lease *lease);
int dd_bp_allocate(const struct dd_blueprint_type *t,
		   const struct dd_bp_ctx *ctx, const struct dd_lease *lease,
		   size_t n, struct dd_resource *r, struct dd_slot_keys *keys,
		   struct dd_error *err);
bool dd_bp_machine_bound(const struct dd_blueprint_type *t,
			 const struct dd_bp_ctx *ctx,
			 const struct dd_resource *r);
int dd_bp_activate_resource(const struct dd_blueprint_type *t,
			    const struct dd_bp_ctx *ctx, struct dd_resource *r,
			    struct dd_error *err);
int dd_bp_check_resource(const struct dd_blueprint_type *t,
			 const struct dd_bp_ctx *ctx,
			 const struct dd_resource *r, double *next,
			 struct dd_error *err);
int dd_bp_destroy_resource(const struct dd_blueprint_type *t,
			   const struct dd_bp_ctx *ctx, struct dd_resource *r,
			   struct dd_error *err);
bool dd_bp_can_acquire(const struct dd_blueprint_type *t,
		       const struct dd_bp_ctx *ctx, const struct dd_resource *r,
		       const struct dd_lease *lease);
int dd_bp_acquire(const struct dd_blueprint_type *t,
		  const struct dd_bp_ctx *ctx, const struct dd_resource *r,
		  struct dd_lease *lease, size_t n, struct dd_slot_keys *keys,
		  struct dd_error *err);
int dd_bp_activate_lease(const struct dd_blueprint_type *t,
			 const struct dd_bp_ctx *ctx,
			 const struct dd_resource *r, struct dd_lease *lease,
			 struct dd_error *err);
int dd_bp_release_lease(const struct dd_blueprint_type *t,
			const struct dd_bp_ctx *ctx,
			const struct dd_resource *r, struct dd_lease *lease,
			struct dd_error *err);
int dd_bp_destroy_lease(const struct dd_blueprint_type *t,
			const struct dd_bp_ctx *ctx,
			const struct dd_resource *r, struct dd_lease *lease,
			struct dd_error *err);
int dd_bp_spawn(const struct dd_blueprint_type *t, const struct dd_bp_ctx *ctx,
		const struct dd_resource *r, const struct dd_lease *lease,
		char *const argv[], char *const env[],
		const struct dd_exec_io *io, pid_t *pid, struct dd_error *err);
int dd_bp_file_read(const struct dd_blueprint_type *t,
		    const struct dd_bp_ctx *ctx, const struct dd_resource *r,
		    const struct dd_lease *lease, const char *path, int out,
		    const struct dd_file_options *o, struct dd_error *err);
int dd_bp_file_write(const struct dd_blueprint_type *t,
		     const struct dd_bp_ctx *ctx, const struct dd_resource *r,
		     const struct dd_lease *lease, const char *path,
		     unsigned mode, int in, const struct dd_file_options *o,
		     struct dd_error *err);
int dd_bp_file_read_tree(const struct dd_blueprint_type *t,
			 const struct dd_bp_ctx *ctx,
			 const struct dd_resource *r,
			 const struct dd_lease *lease, const char *path,
			 int out, const struct dd_file_options *o,
			 struct dd_error *err);
int dd_bp_file_write_tree(const struct dd_blueprint_type *t,
			  const struct dd_bp_ctx *ctx,
			  const struct dd_resource *r,
			  const struct dd_lease *lease, const char *path,
			  int in, const struct dd_file_options *o,
			  struct dd_error *err);
int dd_bp_file_list(const struct dd_blueprint_type *t,
		    const struct dd_bp_ctx *ctx, const struct dd_resource *r,
		    const struct dd_lease *lease, const char *path,
		    struct dd_file_list *out, const struct dd_file_options *o,
		    struct dd_error *err);

#endif
