/*
 * store.h - the durable store behind drydock, as an interface.
 *
 * Every object, the task queue and the named locks live in the store.  The
 * store is a versioned struct of function pointers (struct dd_store_ops);
 * core code reaches it only through the dd_store_*() wrappers below, which
 * are where transaction nesting, asserts and fault injection live.  A
 * backend (SQLite now, PostgreSQL later) fills the struct with a static
 * const designated initializer and translates its own errors into
 * DD_ERR_STORE, DD_ERR_BUSY (locked), DD_ERR_NOTFOUND, DD_ERR_EXISTS.
 *
 * A store handle is used by one thread at a time; each worker thread opens
 * its own.  Operations run inside the caller's transaction when one is open
 * (dd_store_begin) and in their own otherwise.
 *
 * Fencing: a worker holding an object's lock passes the lock grant to
 * dd_store_begin_fenced(); the backend re-checks, inside the write
 * transaction, that the grant is still current and unexpired, and refuses
 * with DD_ERR_FENCED otherwise.  A worker that stalled past its lock's
 * expiry can therefore never write again.
 */
#ifndef DD_STORE_H
#define DD_STORE_H

#include "core/error.h"
#include "core/model.h"

#define DD_STORE_OPS_VERSION 10

/*
 * How a handle is opened.  Every field means the same to every backend;
 * what is peculiar to one backend (SQLite's test hooks) is in its own
 * header (store/sqlite.h).
 */
enum dd_durability {
	DD_DURABILITY_FULL = 0,	  /* every commit reaches the disk */
	DD_DURABILITY_NORMAL = 1, /* survives a crash of drydock, not of the OS */
};

struct dd_store_options {
	enum dd_durability durability;
	int busy_timeout_ms; /* how long to wait for a locked store */
	/*
	 * The handle is one of several threads of this process writing at
	 * once (the daemon's workers): the backend may make transactions
	 * that overlap durable together, by one commit.  A transaction
	 * still returns only once it is durable (except the task queue's
	 * claim, finish and retry).  SQLite does it by group commit: these
	 * handles share one connection and one fsync.  A backend with no
	 * such thing ignores it.
	 */
	bool group_commit;
	/*
	 * The handle runs the same few statements over and over, each on
	 * rows found by key or by the task queue's indexes (the daemon's
	 * workers): a backend that would plan a statement again for each
	 * run of it may plan it once, without its values.  PostgreSQL does
	 * so (plan_cache_mode force_generic_plan): planning the task claim
	 * afresh each time cost its server more CPU than running it.  A
	 * handle that lists with the user's filters (an API server's) does
	 * not set it, so each list is planned for its values.
	 */
	bool plan_once;
	/*
	 * Open an existing store only: a missing store is refused, and so
	 * is one that does not look like a store (DD_ERR_DAMAGED), without
	 * touching it.  dd_store_open_ready() sets it.
	 */
	bool must_exist;
	/*
	 * The directory of this machine's state that goes with the store
	 * (ssh control sockets and known_hosts files, the local host
	 * type's directories), or NULL for the store's default: the
	 * directory holding an SQLite store's file.  A store that is no
	 * file has none, so it must be given (DRYDOCK_STATE_DIR, the CLI's
	 * --state-dir); see dd_store_state_dir().
	 */
	const char *state_dir;
	/*
	 * The machine whose daemon works through this handle (a worker's),
	 * or NULL (a client's).  A task scheduled on the handle for an
	 * object bound to another machine (see task_claim), or to any
	 * machine when NULL, is remembered until dd_store_scheduled()
	 * takes it: work that any daemon can run, or this one's machine,
	 * needs only this daemon woken, and work bound to a machine needs a
	 * daemon there.
	 */
	const char *machine;
};

struct dd_store;

/*
 * Open the store at `location` (a form the backend claims: see
 * dd_store_open).  Does not create tables: see migrate.
 */
typedef int dd_store_open_fn(const char *location,
			     const struct dd_store_options *opt,
			     struct dd_store **out, struct dd_error *err);
typedef void dd_store_close_fn(struct dd_store *s);
/* Create or upgrade the schema to the newest version.  Idempotent. */
typedef int dd_store_migrate_fn(struct dd_store *s, struct dd_error *err);
/* The schema version now in the store and the newest this build knows. */
typedef int dd_store_schema_version_fn(struct dd_store *s, int *current,
				       int *newest, struct dd_error *err);

/*
 * Is the store fit to serve, as far as a look that costs no more than a
 * few system calls can tell?  For a readiness probe.  Refused, with the
 * reason: (SQLite) a file at the path that no longer looks like a store,
 * or is no longer the file the process's writers have open (deleted or
 * replaced: DD_ERR_STORE), a process that refuses writes (a failed sync),
 * and damage met by anyone in the process (DD_ERR_DAMAGED).  It does not
 * read the whole store: see check.
 */
typedef int dd_store_health_fn(struct dd_store *s, struct dd_error *err);
/*
 * An integrity check of the whole store, reading every page: each
 * problem found goes to problem(arg, text), and finding any fails with
 * DD_ERR_DAMAGED, the first named.  `quick` leaves out the contents of
 * indexes.  cancelled(arg), when set, is polled as it runs; true stops it
 * with DD_ERR_INTERRUPTED.
 */
struct dd_store_check {
	bool quick;
	void (*problem)(void *arg, const char *text);
	bool (*cancelled)(void *arg);
	void *arg;
	long long problems; /* out: how many were found */
	const char *what;   /* out: the check that ran, for messages */
};
typedef int dd_store_check_fn(struct dd_store *s, struct dd_store_check *c,
			      struct dd_error *err);

/* Start a write transaction (taking the store's write lock at once). */
typedef int dd_store_begin_fn(struct dd_store *s, struct dd_error *err);
typedef int dd_store_commit_fn(struct dd_store *s, struct dd_error *err);
/*
 * Commit without waiting for the disk: the transaction is committed and
 * visible at once, and the next durable commit or sync of any handle
 * covers it.  Only for writes whose loss in a power cut merely replays
 * work: the task queue's claims, finishes and retries (see below), and
 * the update passes' replayable steps (worker/internal.h).
 */
typedef int dd_store_commit_lazy_fn(struct dd_store *s, struct dd_error *err);
/*
 * Outside a transaction: return once every commit this handle has seen
 * (its own lazy ones included) is durable.
 */
typedef int dd_store_sync_fn(struct dd_store *s, struct dd_error *err);
/*
 * Called once the commits a dd_store_sync_then_fn call covers are durable
 * (rc 0), or cannot be because a sync failed (rc, with `err` saying why;
 * the handle then refuses every later commit).
 */
typedef void dd_store_durable_fn(void *arg, int rc, const struct dd_error *err);
/*
 * Outside a transaction: call done(arg, ...) once every commit this
 * handle has seen is durable, as dd_store_sync_fn waits for, without
 * making the caller wait if it can be helped: at once if they already
 * are, or later, from another thread.  A backend that cannot wait in the
 * background syncs here and then calls it.
 */
typedef void dd_store_sync_then_fn(struct dd_store *s, dd_store_durable_fn *done,
				   void *arg);
typedef void dd_store_rollback_fn(struct dd_store *s);
/* In a transaction: is `grant` still the current, unexpired lock grant? */
typedef int dd_store_fence_check_fn(struct dd_store *s,
				    const struct dd_lock_grant *grant,
				    double now, struct dd_error *err);

/* Objects.  Inserts set ->id; updates write every mutable field. */
typedef int dd_store_blueprint_insert_fn(struct dd_store *s,
					 struct dd_blueprint *bp,
					 struct dd_error *err);
typedef int dd_store_blueprint_update_fn(struct dd_store *s,
					 const struct dd_blueprint *bp,
					 struct dd_error *err);
/*
 * lock is get that keeps the row from other writers until the
 * transaction ends (as resource_lock): an edit reads the row, changes
 * some fields and writes them all, so two edits at once follow one
 * another rather than the second undoing the first.
 */
typedef int dd_store_blueprint_get_fn(struct dd_store *s, long long id,
				      struct dd_blueprint *out,
				      struct dd_error *err);
typedef int dd_store_blueprint_list_fn(struct dd_store *s,
				       const struct dd_filter *f,
				       struct dd_blueprint_list *out,
				       struct dd_error *err);

typedef int dd_store_resource_insert_fn(struct dd_store *s,
					struct dd_resource *r,
					struct dd_error *err);
typedef int dd_store_resource_update_fn(struct dd_store *s,
					const struct dd_resource *r,
					struct dd_error *err);
/*
 * get returns DD_ERR_NOTFOUND for no such id.  hold is get inside a write
 * transaction that keeps the row as counter_hold keeps a counter: the
 * resource's update in another transaction (a release, a break) waits
 * for the commit.  Under PostgreSQL's READ COMMITTED, a decision made on
 * another object's state must hold that object's row, or both sides can
 * decide on what the other has not yet committed (lease_update.c).  lock
 * is get that keeps the row from other holds too: a resource deciding on
 * its own leases (a reclaim counting them) locks its row first, so a
 * lease being placed on it either committed before (and is counted) or
 * waits, and then finds the resource released.
 */
typedef int dd_store_resource_get_fn(struct dd_store *s, long long id,
				     struct dd_resource *out,
				     struct dd_error *err);
/*
 * Lists are walked a row at a time, so that a list of any length costs
 * the memory of one row: *_each runs the list query and calls `fn` for
 * each row, in the list's order (ids ascending, or descending with
 * f->descending).  `fn` borrows the row (the store releases it after the
 * call, unless `fn` moved its contents out, as dd_<noun>_list_push does)
 * and returns 0 to go on; any other value stops the walk and is what
 * *_each returns, so `fn` reports a failure as a DD_ERR code with the
 * detail in `err`.  `fn` must not use the same store handle: the query
 * is still running.  dd_store_<noun>_list() collects the rows instead.
 */
typedef int dd_resource_visit_fn(void *arg, struct dd_resource *r,
				 struct dd_error *err);
typedef int dd_store_resource_each_fn(struct dd_store *s,
				      const struct dd_filter *f,
				      dd_resource_visit_fn *fn, void *arg,
				      struct dd_error *err);

typedef int dd_store_lease_insert_fn(struct dd_store *s, struct dd_lease *l,
				     struct dd_error *err);
typedef int dd_store_lease_update_fn(struct dd_store *s,
				     const struct dd_lease *l,
				     struct dd_error *err);
typedef int dd_store_lease_get_fn(struct dd_store *s, long long id,
				  struct dd_lease *out, struct dd_error *err);
/*
 * Is lease `id` pending and waiting (for capacity or behind another)?
 * Inside a write transaction, holding the lease's row as counter_hold
 * holds a counter: its update in another transaction waits.  false for
 * an unknown id.
 */
typedef int dd_store_lease_waiting_hold_fn(struct dd_store *s, long long id,
					   bool *waiting,
					   struct dd_error *err);
/* As resource_each. */
typedef int dd_lease_visit_fn(void *arg, struct dd_lease *l,
			      struct dd_error *err);
typedef int dd_store_lease_each_fn(struct dd_store *s,
				   const struct dd_filter *f,
				   dd_lease_visit_fn *fn, void *arg,
				   struct dd_error *err);
/* Count leases matching `f` (status_mask, resource, type, allocating). */
typedef int dd_store_lease_count_fn(struct dd_store *s,
				    const struct dd_filter *f, long long *out,
				    struct dd_error *err);

/*
 * Figures for monitoring: objects by status, and the task queue.  Reads
 * only; counts use the status indexes.
 */
struct dd_store_stats {
	long long leases[DD_LEASE_STATUS_COUNT];
	long long resources[DD_RESOURCE_STATUS_COUNT];
	long long tasks_queued;	 /* not claimed (due or scheduled later) */
	long long tasks_claimed; /* being worked on (or claim expired) */
	double oldest_due;	 /* created time of the oldest due unclaimed
				    task, 0 when none */
	long long targets[DD_TARGET_STATUS_COUNT];
	/* artifacts by type (counted as stored: a type never used is left
	   out, one whose artifacts were all deleted shows 0) */
	struct {
		char type[32];
		long long count;
	} artifacts[16];
	int n_artifact_types;
	long long artifact_bytes; /* in file artifacts, complete or not */
};
typedef int dd_store_stats_fn(struct dd_store *s, double now,
			      struct dd_store_stats *out,
			      struct dd_error *err);

/*
 * Build targets.  insert sets ->id, ->created and ->modified and stores
 * the rest as given (a new target is building, with finished 0).  update
 * writes status, finished and deadline (the target's update worker, in
 * its fenced transaction, after dd_target_transition()).  get returns
 * DD_ERR_NOTFOUND for no such target.  each walks the targets as
 * lease_each walks leases, honouring status_mask, owner, after_id,
 * before_id, limit and descending (newest first: a page of a list is
 * `descending`, `limit` and, for the next page, before_id = the last id).
 */
typedef int dd_store_target_insert_fn(struct dd_store *s, struct dd_target *t,
				      struct dd_error *err);
typedef int dd_store_target_update_fn(struct dd_store *s,
				      const struct dd_target *t,
				      struct dd_error *err);
/*
 * hold is get holding the row until the transaction ends (as
 * resource_hold): adding an artifact holds its target, so that a finish
 * (whose first write is the target's row) either came first and is
 * seen, or waits and then sees the artifact, whose lease it releases.
 * lock keeps the row from other holds and locks too (as resource_lock):
 * a command sent to a target locks it, so that of two finishes sent at
 * once the second sees the first queued and is refused.
 */
typedef int dd_store_target_get_fn(struct dd_store *s, long long id,
				   struct dd_target *out, struct dd_error *err);
typedef int dd_target_visit_fn(void *arg, struct dd_target *t,
			       struct dd_error *err);
typedef int dd_store_target_each_fn(struct dd_store *s,
				    const struct dd_filter *f,
				    dd_target_visit_fn *fn, void *arg,
				    struct dd_error *err);

/*
 * Artifacts of build targets (core/target.h says what each type holds;
 * callers check type, key and data before inserting).
 *
 * insert adds `a` to target a->target and sets ->id, ->created and
 * ->modified.  It stores key, type, data and complete as given, size 0,
 * no hash, not released: a type with content (file) is inserted with
 * complete false and gets its bytes from append and complete; the others
 * are inserted complete.  It refuses, changing nothing: DD_ERR_NOTFOUND
 * for no such target, DD_ERR_STATE for a target that is no longer
 * building (its artifacts are released already, and one added now would
 * never be), DD_ERR_EXISTS for a key the target already has.
 *
 * each walks artifacts as lease_each walks leases, oldest first by
 * default, honouring target_id, type, key, after_id, before_id, limit and
 * descending.  get returns DD_ERR_NOTFOUND for no such artifact.
 *
 * release_all marks every artifact of `target` released, in the caller's
 * transaction (the one that finishes the target), and counts in *n (may
 * be NULL) those that were not released before.  It does not release
 * leases: the caller sends a release command to the lease of each lease
 * artifact (dd_artifact_lease()) in the same transaction.
 */
typedef int dd_store_artifact_insert_fn(struct dd_store *s,
					struct dd_artifact *a,
					struct dd_error *err);
typedef int dd_store_artifact_get_fn(struct dd_store *s, long long id,
				     struct dd_artifact *out,
				     struct dd_error *err);
typedef int dd_artifact_visit_fn(void *arg, struct dd_artifact *a,
				 struct dd_error *err);
typedef int dd_store_artifact_each_fn(struct dd_store *s,
				      const struct dd_filter *f,
				      dd_artifact_visit_fn *fn, void *arg,
				      struct dd_error *err);
typedef int dd_store_artifact_release_all_fn(struct dd_store *s,
					     long long target, long long *n,
					     struct dd_error *err);

/*
 * A file artifact's bytes, stored as a sequence of chunks so that no
 * file is ever whole in memory, in the store or in a caller.
 *
 * append adds the n bytes at `data` (1 to DD_CHUNK_MAX; DD_CHUNK_SIZE is
 * the size to aim for) after the bytes already stored, as one chunk, and
 * adds n to the artifact's size.  complete marks the file complete with
 * its hex SHA-256, which the caller computed as the bytes went by; `size`
 * must be the size stored (a check that no chunk went missing: otherwise
 * DD_ERR_STATE).  Both refuse an artifact that is complete already (every
 * type without content is) with DD_ERR_STATE and a missing one with
 * DD_ERR_NOTFOUND.  They run in the caller's transaction when one is
 * open: an upload may append many chunks per transaction and commit
 * lazily until its last one.
 *
 * read copies up to `cap` bytes at offset `pos` of the file into `buf`,
 * and sets *n to the number copied: fewer than `cap` when a chunk ends
 * first, 0 at or past the end.  Each call is one short read of one
 * chunk, so a download holds neither memory nor a read transaction
 * between calls: call it in a loop, or from an HTTP body callback that
 * asks for the bytes at `pos` (a Range request starts where it likes).
 * An incomplete file can be read as far as it is stored.
 *
 * delete removes an incomplete artifact and every chunk it has (an
 * upload cut off halfway leaves nothing behind); a complete one is
 * refused with DD_ERR_STATE, a missing one with DD_ERR_NOTFOUND.  prune
 * deletes, the same way, up to `max` incomplete artifacts that have not
 * been written to since `before` (uploads whose writer died), oldest
 * first, and counts them in *n.
 */
#define DD_CHUNK_SIZE (256 * 1024)
#define DD_CHUNK_MAX (1024 * 1024)
typedef int dd_store_artifact_append_fn(struct dd_store *s, long long id,
					const void *data, size_t n,
					struct dd_error *err);
typedef int dd_store_artifact_complete_fn(struct dd_store *s, long long id,
					  long long size, const char *sha256,
					  struct dd_error *err);
typedef int dd_store_artifact_read_fn(struct dd_store *s, long long id,
				      long long pos, void *buf, size_t cap,
				      size_t *n, struct dd_error *err);
typedef int dd_store_artifact_delete_fn(struct dd_store *s, long long id,
					struct dd_error *err);
typedef int dd_store_artifact_prune_fn(struct dd_store *s, double before,
				       int max, int *n, struct dd_error *err);

/* Commands: append, list (by target, oldest first), mark consumed. */
typedef int dd_store_command_insert_fn(struct dd_store *s,
				       struct dd_command *c,
				       struct dd_error *err);
typedef int dd_store_command_list_fn(struct dd_store *s,
				     const struct dd_filter *f,
				     struct dd_command_list *out,
				     struct dd_error *err);
typedef int dd_store_command_consume_fn(struct dd_store *s, long long id,
					const char *outcome, double now,
					struct dd_error *err);

/*
 * The log: entries about a blueprint, resource, lease or build target
 * (the ids in the entry; 0 where not concerned).  append sets ->id.  list
 * honours lease, resource, blueprint, target_id (a target's log), type,
 * after_id, before_id, limit and descending; each object's entries are
 * found through its own index, so its newest page costs no sort.
 */
typedef int dd_store_log_append_fn(struct dd_store *s,
				   struct dd_log_entry *e,
				   struct dd_error *err);
typedef int dd_store_log_list_fn(struct dd_store *s, const struct dd_filter *f,
				 struct dd_log_entry_list *out,
				 struct dd_error *err);

/*
 * Slot locks.  Acquire takes every key for `owner` or none of them: on a
 * conflict it returns DD_ERR_SLOT naming the key and its holder, with
 * nothing changed; DD_ERR_BUSY when another transaction is taking a key
 * right now, on a store with several writers at once: it does not wait
 * to learn whether that one commits, so the key may yet turn out free.
 * Release drops every key `owner` holds.
 */
typedef int dd_store_slot_acquire_fn(struct dd_store *s,
				     const char *const *keys, size_t n,
				     struct dd_ref owner, struct dd_error *err);
typedef int dd_store_slot_release_fn(struct dd_store *s, struct dd_ref owner,
				     struct dd_error *err);
typedef int dd_store_slot_list_fn(struct dd_store *s,
				  const struct dd_filter *f,
				  struct dd_slot_lock_list *out,
				  struct dd_error *err);

/*
 * Tasks.  schedule keeps at most one queued (unclaimed) task per kind and
 * object: scheduling again only moves its not_before earlier.  claim takes
 * the first due task (queued and due, or claimed with an expired claim)
 * whose object is not locked, gives it a fresh claim_token, and in the same
 * transaction takes the object's named lock ("lease:12", "resource:5"; see
 * dd_task_lock_name) for as long as the claim, filling out->lock.  So one
 * object is never worked on by two workers, and a task whose object is
 * busy simply waits its turn.  finish archives a task; retry hands it back
 * with a new not_before; both drop the task's lock in the same
 * transaction, and both refuse with DD_ERR_FENCED when the claim token is
 * no longer the task's.  next_due is the earliest time a task could become
 * claimable (0 if the queue is empty).  A claim that finds nothing may
 * say the same in out->next_due (-1 when it did not look), which spares
 * a claimer about to sleep the second look.  schedule writes into
 * bound[n] the machine the task is bound to (below), "" if none.
 *
 * claim and next_due are for a claimer on machine `machine` (core/
 * machine.h): a task whose pass would run the hooks of a resource that
 * lives on another machine (the resource's update, or the update of a
 * lease placed on it) is neither claimed nor due for it.  A NULL machine
 * takes only tasks that touch no machine's resource.
 *
 * claim, finish and retry may return before their commit is durable (it
 * is committed and visible, and the next durable commit covers it): losing
 * one to a power cut loses only a claim, which expires, or a finish or
 * retry, whose task is then claimed again once its claim expires and finds
 * its object's durable state.  Every write of the task's pass is durable
 * before it returns, and it cannot be durable without the claim before it.
 */
typedef int dd_store_task_schedule_fn(struct dd_store *s, const char *kind,
				      struct dd_ref object, double not_before,
				      char *bound, size_t n,
				      struct dd_error *err);
typedef int dd_store_task_claim_fn(struct dd_store *s, const char *worker,
				   const char *machine, double now,
				   double claim_ttl, struct dd_task *out,
				   struct dd_error *err);
typedef int dd_store_task_finish_fn(struct dd_store *s,
				    const struct dd_task *t,
				    const char *outcome, double duration,
				    double now, const char *error,
				    struct dd_error *err);
typedef int dd_store_task_retry_fn(struct dd_store *s, const struct dd_task *t,
				   double not_before, int failures,
				   const char *error, struct dd_error *err);
typedef int dd_store_task_next_due_fn(struct dd_store *s,
				      const char *machine, double *out,
				      struct dd_error *err);
typedef int dd_store_task_list_fn(struct dd_store *s,
				  const struct dd_filter *f,
				  struct dd_task_list *out,
				  struct dd_error *err);
typedef int dd_store_task_archive_list_fn(struct dd_store *s,
					  const struct dd_filter *f,
					  struct dd_task_archive_list *out,
					  struct dd_error *err);

/*
 * Counters: a named integer, read and incremented inside transactions.
 * "capacity" is bumped whenever capacity may have been freed.
 */
typedef int dd_store_counter_get_fn(struct dd_store *s, const char *name,
				    long long *out, struct dd_error *err);
typedef int dd_store_counter_bump_fn(struct dd_store *s, const char *name,
				     struct dd_error *err);
/*
 * counter_get inside a write transaction, holding the counter until the
 * transaction ends: a bump in another transaction waits for it (or
 * fails busy).  What a waiter checks before it marks itself waiting
 * (allocator.c) so that the bump and the wake-up that follows it cannot
 * fall between its check and its commit.
 */
typedef int dd_store_counter_hold_fn(struct dd_store *s, const char *name,
				     long long *out, struct dd_error *err);

/*
 * Named locks with fencing tokens.  acquire returns DD_ERR_BUSY while
 * another unexpired grant exists; each grant's token is larger than every
 * earlier grant's for that name.  release drops the lock only if `grant`
 * is still the current one.
 */
typedef int dd_store_lock_acquire_fn(struct dd_store *s, const char *owner,
				     double now, double ttl,
				     struct dd_lock_grant *grant,
				     struct dd_error *err);
typedef int dd_store_lock_release_fn(struct dd_store *s,
				     const struct dd_lock_grant *grant,
				     struct dd_error *err);
/*
 * Renewal, for a holder still at work: lock_renew makes `grant` last
 * until now + ttl, keeping its token; task_renew does the same for a
 * task's claim and, in the same transaction, for its object's lock
 * (t->lock).  Both refuse with DD_ERR_FENCED, changing nothing, once the
 * grant (or the claim) is no longer the holder's: released, expired, or
 * taken over.  An expired grant is never revived, even if nobody took it
 * since: its holder may already have been fenced off.
 */
typedef int dd_store_lock_renew_fn(struct dd_store *s,
				   const struct dd_lock_grant *grant,
				   double now, double ttl,
				   struct dd_error *err);
typedef int dd_store_task_renew_fn(struct dd_store *s, const struct dd_task *t,
				   double now, double ttl,
				   struct dd_error *err);

/*
 * API tokens.  insert sets ->id and ->created and refuses a taken name
 * with DD_ERR_EXISTS.  The gets return DD_ERR_NOTFOUND when no token
 * matches, revoked or not.  list honours after_id, limit and descending,
 * oldest first by default.  revoke stamps `now` as the revocation time
 * (a token revoked before keeps its first time); touch sets last_used.
 * Both return DD_ERR_NOTFOUND when there is no token `id`.
 */
typedef int dd_store_token_insert_fn(struct dd_store *s, struct dd_token *t,
				     struct dd_error *err);
typedef int dd_store_token_get_fn(struct dd_store *s, long long id,
				  struct dd_token *out, struct dd_error *err);
typedef int dd_store_token_get_by_name_fn(struct dd_store *s,
					  const char *name,
					  struct dd_token *out,
					  struct dd_error *err);
typedef int dd_store_token_get_by_hash_fn(struct dd_store *s,
					  const char *hash,
					  struct dd_token *out,
					  struct dd_error *err);
typedef int dd_store_token_list_fn(struct dd_store *s,
				   const struct dd_filter *f,
				   struct dd_token_list *out,
				   struct dd_error *err);
typedef int dd_store_token_revoke_fn(struct dd_store *s, long long id,
				     double now, struct dd_error *err);
typedef int dd_store_token_touch_fn(struct dd_store *s, long long id,
				    double now, struct dd_error *err);

/*
 * Idempotency records (api/idem.h), keyed by caller and key.  get fills
 * *out with the record of (caller, key) if it was created at or after
 * `since`, and returns DD_ERR_NOTFOUND, without touching err, otherwise.
 * insert writes `rec` in the caller's transaction (the one that creates
 * rec->object), replacing a record of the same caller and key created
 * before `since` (expired); an unexpired one makes it return
 * DD_ERR_EXISTS, changing nothing.  prune deletes up to `max` records
 * created before `before`, oldest first, and counts them in *n.
 */
typedef int dd_store_idem_get_fn(struct dd_store *s, const char *caller,
				 const char *key, double since,
				 struct dd_idem_record *out,
				 struct dd_error *err);
typedef int dd_store_idem_insert_fn(struct dd_store *s,
				    const struct dd_idem_record *rec,
				    double since, struct dd_error *err);
typedef int dd_store_idem_prune_fn(struct dd_store *s, double before,
				   int max, int *n, struct dd_error *err);

/*
 * Blueprint authorizations (auth/authorization.h), one per (blueprint,
 * requester).
 *
 * request returns the row of (blueprint, requester) in *out, inserting
 * it first, requested, at `now` if there is none: idempotent, whoever
 * calls it at once.  get returns DD_ERR_NOTFOUND for no such id.  list
 * honours blueprint, owner (the requester), status_mask (bits of
 * states), after_id, before_id, limit and descending.
 *
 * hold, in a write transaction (the one placing a lease), reads the
 * state of (blueprint, requester) into *state and keeps the row locked
 * until the transaction ends, so that no decision commits between the
 * check and the placement: a lease placed on an approval is placed
 * before any decline.  DD_ERR_NOTFOUND, err untouched, for no row.
 *
 * decide writes a->state, decided_by, decided and modified to row a->id
 * if its state is still `from`, and refuses with DD_ERR_STATE, changing
 * nothing, if it is not (another decision came first).  The caller
 * checks the edge (dd_authorization_transition).
 */
typedef int dd_store_authorization_request_fn(struct dd_store *s,
					      long long blueprint,
					      const char *requester, double now,
					      struct dd_authorization *out,
					      struct dd_error *err);
typedef int dd_store_authorization_get_fn(struct dd_store *s, long long id,
					  struct dd_authorization *out,
					  struct dd_error *err);
typedef int dd_store_authorization_list_fn(struct dd_store *s,
					   const struct dd_filter *f,
					   struct dd_authorization_list *out,
					   struct dd_error *err);
typedef int dd_store_authorization_hold_fn(struct dd_store *s,
					   long long blueprint,
					   const char *requester,
					   enum dd_authorization_state *state,
					   struct dd_error *err);
typedef int dd_store_authorization_decide_fn(struct dd_store *s,
					     const struct dd_authorization *a,
					     enum dd_authorization_state from,
					     struct dd_error *err);

struct dd_store_ops {
	int version; /* DD_STORE_OPS_VERSION */
	const char *name;
	dd_store_open_fn *open;
	dd_store_close_fn *close;
	dd_store_migrate_fn *migrate;
	dd_store_schema_version_fn *schema_version;
	dd_store_health_fn *health;
	dd_store_check_fn *check;
	dd_store_begin_fn *begin;
	dd_store_commit_fn *commit;
	dd_store_commit_lazy_fn *commit_lazy;
	dd_store_sync_fn *sync;
	dd_store_sync_then_fn *sync_then;
	dd_store_rollback_fn *rollback;
	dd_store_fence_check_fn *fence_check;
	dd_store_blueprint_insert_fn *blueprint_insert;
	dd_store_blueprint_update_fn *blueprint_update;
	dd_store_blueprint_get_fn *blueprint_get;
	dd_store_blueprint_get_fn *blueprint_lock;
	dd_store_blueprint_list_fn *blueprint_list;
	dd_store_resource_insert_fn *resource_insert;
	dd_store_resource_update_fn *resource_update;
	dd_store_resource_get_fn *resource_get;
	dd_store_resource_get_fn *resource_hold;
	dd_store_resource_get_fn *resource_lock;
	dd_store_resource_each_fn *resource_each;
	dd_store_lease_insert_fn *lease_insert;
	dd_store_lease_update_fn *lease_update;
	dd_store_lease_get_fn *lease_get;
	dd_store_lease_waiting_hold_fn *lease_waiting_hold;
	dd_store_lease_each_fn *lease_each;
	dd_store_lease_count_fn *lease_count;
	dd_store_stats_fn *stats;
	dd_store_target_insert_fn *target_insert;
	dd_store_target_update_fn *target_update;
	dd_store_target_get_fn *target_get;
	dd_store_target_get_fn *target_hold;
	dd_store_target_get_fn *target_lock;
	dd_store_target_each_fn *target_each;
	dd_store_artifact_insert_fn *artifact_insert;
	dd_store_artifact_get_fn *artifact_get;
	dd_store_artifact_each_fn *artifact_each;
	dd_store_artifact_release_all_fn *artifact_release_all;
	dd_store_artifact_append_fn *artifact_append;
	dd_store_artifact_complete_fn *artifact_complete;
	dd_store_artifact_read_fn *artifact_read;
	dd_store_artifact_delete_fn *artifact_delete;
	dd_store_artifact_prune_fn *artifact_prune;
	dd_store_command_insert_fn *command_insert;
	dd_store_command_list_fn *command_list;
	dd_store_command_consume_fn *command_consume;
	dd_store_log_append_fn *log_append;
	dd_store_log_list_fn *log_list;
	dd_store_slot_acquire_fn *slot_acquire;
	dd_store_slot_release_fn *slot_release;
	dd_store_slot_list_fn *slot_list;
	dd_store_task_schedule_fn *task_schedule;
	dd_store_task_claim_fn *task_claim;
	dd_store_task_finish_fn *task_finish;
	dd_store_task_retry_fn *task_retry;
	dd_store_task_next_due_fn *task_next_due;
	dd_store_task_list_fn *task_list;
	dd_store_task_archive_list_fn *task_archive_list;
	dd_store_lock_acquire_fn *lock_acquire;
	dd_store_lock_release_fn *lock_release;
	dd_store_lock_renew_fn *lock_renew;
	dd_store_task_renew_fn *task_renew;
	dd_store_counter_get_fn *counter_get;
	dd_store_counter_bump_fn *counter_bump;
	dd_store_counter_hold_fn *counter_hold;
	dd_store_token_insert_fn *token_insert;
	dd_store_token_get_fn *token_get;
	dd_store_token_get_by_name_fn *token_get_by_name;
	dd_store_token_get_by_hash_fn *token_get_by_hash;
	dd_store_token_list_fn *token_list;
	dd_store_token_revoke_fn *token_revoke;
	dd_store_token_touch_fn *token_touch;
	dd_store_idem_get_fn *idem_get;
	dd_store_idem_insert_fn *idem_insert;
	dd_store_idem_prune_fn *idem_prune;
	dd_store_authorization_request_fn *authorization_request;
	dd_store_authorization_get_fn *authorization_get;
	dd_store_authorization_list_fn *authorization_list;
	dd_store_authorization_hold_fn *authorization_hold;
	dd_store_authorization_decide_fn *authorization_decide;
};

/* The part of a store handle every backend shares; backends embed it first. */
/*
 * Events: what a transaction did that the process may want to tell its
 * operator (a log line per state change) or count (metrics).  Every log
 * entry appended is an event with the entry's type; every command consumed
 * is a "command.consumed" event with the outcome's first word as detail.
 * They are handed to the process's event hook only once their transaction
 * has committed, and dropped if it rolls back, so nothing is reported that
 * did not happen.
 */
struct dd_store_event {
	char type[48];
	long long blueprint, resource, lease, target;
	char detail[32];
	double value; /* lease.acquired: seconds the lease waited */
};

/* Set (or, with NULL, clear) the hook that committed events go to. */
void dd_store_set_event_hook(void (*fn)(const struct dd_store_event *ev));

struct dd_store {
	const struct dd_store_ops *ops;
	char *location; /* as given to dd_store_open(); the backend's */
	char *state_dir; /* from the options, or the default; NULL: none */
	int depth;	    /* open dd_store_begin() levels */
	bool failed;	    /* an inner level rolled back */
	/*
	 * A *_list call is collecting every row into memory: its walk need
	 * not stream (sql.h, stream()), which would cost round trips
	 */
	bool gathering;
	struct dd_store_event *events; /* this transaction's, uncommitted */
	size_t n_events, alloc_events;
	char *machine; /* the options' machine, or NULL */
	int scheduled; /* dd_store_scheduled()'s answer so far, */
	bool away;     /* and whether one is bound elsewhere */
};

/*
 * Open the store at `location` with the backend that claims its form
 * (store.c's table of backends):
 *   postgres://... or postgresql://...  a PostgreSQL URI, and
 *   KEY=VALUE ...  (host=, dbname=, ...)  libpq's keyword form:
 *                                        PostgreSQL (pg.c)
 *   anything else                        the path of an SQLite file
 * Callers that want the schema created call dd_store_migrate(); others
 * get DD_ERR_STORE with a hint to run "drydock init" when the store is
 * missing or too old.  `opt` NULL: dd_store_options_from_env().
 */
int dd_store_open(const char *location, const struct dd_store_options *opt,
		  struct dd_store **out, struct dd_error *err);
/* Open an existing, current store: the usual way for commands and workers. */
int dd_store_open_ready(const char *location, const struct dd_store_options *opt,
			struct dd_store **out, struct dd_error *err);
void dd_store_close(struct dd_store *s);
int dd_store_migrate(struct dd_store *s, struct dd_error *err);
int dd_store_schema_version(struct dd_store *s, int *current, int *newest,
			    struct dd_error *err);
int dd_store_health(struct dd_store *s, struct dd_error *err);
int dd_store_check(struct dd_store *s, struct dd_store_check *c,
		   struct dd_error *err);
/* For tests: make the (n+1)th store call from now fail with `code`. */
void dd_store_fail_after(long n, int code);
/* How many transactions this process has committed, on any handle. */
long long dd_store_commit_count(void);
/* For backends: count one commit. */
void dd_store_count_commit(void);
/*
 * `location` as a message may show it: a PostgreSQL location's password
 * (postgres://user:PASSWORD@..., password=...) written as "***".
 */
void dd_store_location_shown(const char *location, char *buf, size_t n);
/*
 * Read the durability, the busy timeout and the state directory from
 * DRYDOCK_DURABILITY, DRYDOCK_BUSY_TIMEOUT_MS and DRYDOCK_STATE_DIR (the
 * options then point into the environment).
 */
void dd_store_options_from_env(struct dd_store_options *opt);

/*
 * Transactions nest: only the outermost begin/commit reach the backend.  A
 * rollback at any level makes the outermost commit roll back and fail.
 * Rolling back with no transaction open (after a failed begin) does nothing.
 * dd_store_begin_fenced() also checks `grant` (see above).
 */
int dd_store_begin(struct dd_store *s, struct dd_error *err);
int dd_store_begin_fenced(struct dd_store *s, const struct dd_lock_grant *grant,
			  struct dd_error *err);
int dd_store_commit(struct dd_store *s, struct dd_error *err);
/* The same, lazily at the outermost level (see dd_store_commit_lazy_fn). */
int dd_store_commit_lazy(struct dd_store *s, struct dd_error *err);
/* Make every commit seen so far durable (see dd_store_sync_fn). */
int dd_store_sync(struct dd_store *s, struct dd_error *err);
/* Call `done` once they are (see dd_store_sync_then_fn). */
void dd_store_sync_then(struct dd_store *s, dd_store_durable_fn *done,
			void *arg);
void dd_store_rollback(struct dd_store *s);

int dd_store_blueprint_insert(struct dd_store *s, struct dd_blueprint *bp,
			      struct dd_error *err);
int dd_store_blueprint_update(struct dd_store *s, const struct dd_blueprint *bp,
			      struct dd_error *err);
int dd_store_blueprint_get(struct dd_store *s, long long id,
			   struct dd_blueprint *out, struct dd_error *err);
int dd_store_blueprint_lock(struct dd_store *s, long long id,
			    struct dd_blueprint *out, struct dd_error *err);
int dd_store_blueprint_list(struct dd_store *s, const struct dd_filter *f,
			    struct dd_blueprint_list *out,
			    struct dd_error *err);
int dd_store_resource_insert(struct dd_store *s, struct dd_resource *r,
			     struct dd_error *err);
/* Writes r->machine only where the row has none (model.h). */
int dd_store_resource_update(struct dd_store *s, const struct dd_resource *r,
			     struct dd_error *err);
int dd_store_resource_get(struct dd_store *s, long long id,
			  struct dd_resource *out, struct dd_error *err);
int dd_store_resource_hold(struct dd_store *s, long long id,
			   struct dd_resource *out, struct dd_error *err);
int dd_store_resource_lock(struct dd_store *s, long long id,
			   struct dd_resource *out, struct dd_error *err);
int dd_store_resource_each(struct dd_store *s, const struct dd_filter *f,
			   dd_resource_visit_fn *fn, void *arg,
			   struct dd_error *err);
/* On failure *out is left empty. */
int dd_store_resource_list(struct dd_store *s, const struct dd_filter *f,
			   struct dd_resource_list *out, struct dd_error *err);
int dd_store_lease_insert(struct dd_store *s, struct dd_lease *l,
			  struct dd_error *err);
int dd_store_lease_update(struct dd_store *s, const struct dd_lease *l,
			  struct dd_error *err);
int dd_store_lease_get(struct dd_store *s, long long id, struct dd_lease *out,
		       struct dd_error *err);
int dd_store_lease_waiting_hold(struct dd_store *s, long long id,
				bool *waiting, struct dd_error *err);
int dd_store_lease_each(struct dd_store *s, const struct dd_filter *f,
			dd_lease_visit_fn *fn, void *arg,
			struct dd_error *err);
/* On failure *out is left empty. */
int dd_store_lease_list(struct dd_store *s, const struct dd_filter *f,
			struct dd_lease_list *out, struct dd_error *err);
int dd_store_lease_count(struct dd_store *s, const struct dd_filter *f,
			 long long *out, struct dd_error *err);
int dd_store_stats(struct dd_store *s, double now, struct dd_store_stats *out,
		   struct dd_error *err);
int dd_store_target_insert(struct dd_store *s, struct dd_target *t,
			   struct dd_error *err);
int dd_store_target_update(struct dd_store *s, const struct dd_target *t,
			   struct dd_error *err);
int dd_store_target_get(struct dd_store *s, long long id,
			struct dd_target *out, struct dd_error *err);
int dd_store_target_hold(struct dd_store *s, long long id,
			 struct dd_target *out, struct dd_error *err);
int dd_store_target_lock(struct dd_store *s, long long id,
			 struct dd_target *out, struct dd_error *err);
int dd_store_target_each(struct dd_store *s, const struct dd_filter *f,
			 dd_target_visit_fn *fn, void *arg,
			 struct dd_error *err);
/* On failure *out is left empty. */
int dd_store_target_list(struct dd_store *s, const struct dd_filter *f,
			 struct dd_target_list *out, struct dd_error *err);
int dd_store_artifact_insert(struct dd_store *s, struct dd_artifact *a,
			     struct dd_error *err);
int dd_store_artifact_get(struct dd_store *s, long long id,
			  struct dd_artifact *out, struct dd_error *err);
int dd_store_artifact_each(struct dd_store *s, const struct dd_filter *f,
			   dd_artifact_visit_fn *fn, void *arg,
			   struct dd_error *err);
/* On failure *out is left empty. */
int dd_store_artifact_list(struct dd_store *s, const struct dd_filter *f,
			   struct dd_artifact_list *out, struct dd_error *err);
int dd_store_artifact_release_all(struct dd_store *s, long long target,
				  long long *n, struct dd_error *err);
int dd_store_artifact_append(struct dd_store *s, long long id,
			     const void *data, size_t n, struct dd_error *err);
int dd_store_artifact_complete(struct dd_store *s, long long id,
			       long long size, const char *sha256,
			       struct dd_error *err);
int dd_store_artifact_read(struct dd_store *s, long long id, long long pos,
			   void *buf, size_t cap, size_t *n,
			   struct dd_error *err);
int dd_store_artifact_delete(struct dd_store *s, long long id,
			     struct dd_error *err);
int dd_store_artifact_prune(struct dd_store *s, double before, int max,
			    int *n, struct dd_error *err);
int dd_store_command_insert(struct dd_store *s, struct dd_command *c,
			    struct dd_error *err);
int dd_store_command_list(struct dd_store *s, const struct dd_filter *f,
			  struct dd_command_list *out, struct dd_error *err);
int dd_store_command_consume(struct dd_store *s, long long id,
			     const char *outcome, double now,
			     struct dd_error *err);
int dd_store_log_append(struct dd_store *s, struct dd_log_entry *e,
			struct dd_error *err);
int dd_store_log_list(struct dd_store *s, const struct dd_filter *f,
		      struct dd_log_entry_list *out, struct dd_error *err);
int dd_store_slot_acquire(struct dd_store *s, const char *const *keys,
			  size_t n, struct dd_ref owner, struct dd_error *err);
int dd_store_slot_release(struct dd_store *s, struct dd_ref owner,
			  struct dd_error *err);
int dd_store_slot_list(struct dd_store *s, const struct dd_filter *f,
		       struct dd_slot_lock_list *out, struct dd_error *err);
int dd_store_task_schedule(struct dd_store *s, const char *kind,
			   struct dd_ref object, double not_before,
			   struct dd_error *err);
/*
 * How many tasks were scheduled on `s` since the last call, and in
 * *away whether one of them is for an object bound to a machine other
 * than the options' machine (to any machine, if none): then only a
 * daemon there can run it.  Clears both.  For the wake-up that follows
 * the commit (queue/wake.h).  A rolled back schedule may still count,
 * which costs only a wake-up.
 */
int dd_store_scheduled(struct dd_store *s, bool *away);
int dd_store_task_claim(struct dd_store *s, const char *worker,
			const char *machine, double now, double claim_ttl,
			struct dd_task *out, struct dd_error *err);
int dd_store_task_finish(struct dd_store *s, const struct dd_task *t,
			 const char *outcome, double duration, double now,
			 const char *error, struct dd_error *err);
int dd_store_task_retry(struct dd_store *s, const struct dd_task *t,
			double not_before, int failures, const char *error,
			struct dd_error *err);
int dd_store_task_next_due(struct dd_store *s, const char *machine,
			   double *out, struct dd_error *err);
int dd_store_task_list(struct dd_store *s, const struct dd_filter *f,
		       struct dd_task_list *out, struct dd_error *err);
int dd_store_task_archive_list(struct dd_store *s, const struct dd_filter *f,
			       struct dd_task_archive_list *out,
			       struct dd_error *err);
int dd_store_lock_acquire(struct dd_store *s, const char *owner, double now,
			  double ttl, struct dd_lock_grant *grant,
			  struct dd_error *err);
int dd_store_lock_release(struct dd_store *s, const struct dd_lock_grant *grant,
			  struct dd_error *err);
int dd_store_lock_renew(struct dd_store *s, const struct dd_lock_grant *grant,
			double now, double ttl, struct dd_error *err);
int dd_store_task_renew(struct dd_store *s, const struct dd_task *t,
			double now, double ttl, struct dd_error *err);

int dd_store_counter_get(struct dd_store *s, const char *name, long long *out,
			 struct dd_error *err);
int dd_store_counter_bump(struct dd_store *s, const char *name,
			  struct dd_error *err);
int dd_store_counter_hold(struct dd_store *s, const char *name,
			  long long *out, struct dd_error *err);

int dd_store_token_insert(struct dd_store *s, struct dd_token *t,
			  struct dd_error *err);
int dd_store_token_get(struct dd_store *s, long long id, struct dd_token *out,
		       struct dd_error *err);
int dd_store_token_get_by_name(struct dd_store *s, const char *name,
			       struct dd_token *out, struct dd_error *err);
int dd_store_token_get_by_hash(struct dd_store *s, const char *hash,
			       struct dd_token *out, struct dd_error *err);
int dd_store_token_list(struct dd_store *s, const struct dd_filter *f,
			struct dd_token_list *out, struct dd_error *err);
int dd_store_token_revoke(struct dd_store *s, long long id, double now,
			  struct dd_error *err);
int dd_store_token_touch(struct dd_store *s, long long id, double now,
			 struct dd_error *err);

int dd_store_idem_get(struct dd_store *s, const char *caller, const char *key,
		      double since, struct dd_idem_record *out,
		      struct dd_error *err);
int dd_store_idem_insert(struct dd_store *s, const struct dd_idem_record *rec,
			 double since, struct dd_error *err);
int dd_store_idem_prune(struct dd_store *s, double before, int max, int *n,
			struct dd_error *err);

int dd_store_authorization_request(struct dd_store *s, long long blueprint,
				   const char *requester, double now,
				   struct dd_authorization *out,
				   struct dd_error *err);
int dd_store_authorization_get(struct dd_store *s, long long id,
			       struct dd_authorization *out,
			       struct dd_error *err);
int dd_store_authorization_list(struct dd_store *s, const struct dd_filter *f,
				struct dd_authorization_list *out,
				struct dd_error *err);
int dd_store_authorization_hold(struct dd_store *s, long long blueprint,
				const char *requester,
				enum dd_authorization_state *state,
				struct dd_error *err);
int dd_store_authorization_decide(struct dd_store *s,
				  const struct dd_authorization *a,
				  enum dd_authorization_state from,
				  struct dd_error *err);

/*
 * Convenience over the above: append a log entry of `type` about the given
 * objects, taking ownership of `data` (which may be NULL).
 */
int dd_store_log(struct dd_store *s, long long blueprint, long long resource,
		 long long lease, const char *type, json_t *data,
		 struct dd_error *err);

/* The same for a build target's log (the entry's only object). */
int dd_store_target_log(struct dd_store *s, long long target,
			const char *type, json_t *data, struct dd_error *err);

/*
 * Whether `location` names a store kept in a file of this machine's file
 * system (SQLite), and if so the directory holding it (as written in
 * `location`, not resolved), in buf.  False, with buf empty, for a store
 * served by a database server, which has no directory here.
 */
bool dd_store_local_dir(const char *location, char *buf, size_t n);
/*
 * The wake-up transport of the backend that takes `location`
 * (store/wake_transport.h; queue/wake.h uses it), or NULL, with the
 * reason in `err` (may be NULL), for a location no backend of this build
 * takes.
 */
struct dd_wake_transport;
const struct dd_wake_transport *dd_store_wake_transport(const char *location,
							struct dd_error *err);
/*
 * The state directory of the store open as `s` (see struct
 * dd_store_options), or NULL with DD_ERR_INVALID in `err` saying to give
 * one, for a store that has no default.
 */
const char *dd_store_state_dir(const struct dd_store *s, struct dd_error *err);

#endif
