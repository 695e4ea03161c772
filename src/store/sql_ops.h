/*
 * sql_ops.h - the store.h methods written once for every SQL store
 * (sql_*.c, over the driver of sql.h), for each backend's ops table.
 * Each is the store.h method of the same name and takes a handle whose
 * backend starts with struct dd_sql.  Not for use outside src/store.
 */
#ifndef DD_SQL_OPS_H
#define DD_SQL_OPS_H

#include "store/store.h"

/* sql_blueprints.c */
dd_store_blueprint_insert_fn dd_sql_blueprint_insert;
dd_store_blueprint_update_fn dd_sql_blueprint_update;
dd_store_blueprint_get_fn dd_sql_blueprint_get;
dd_store_blueprint_get_fn dd_sql_blueprint_lock;
dd_store_blueprint_list_fn dd_sql_blueprint_list;

/* sql_resources.c */
dd_store_resource_insert_fn dd_sql_resource_insert;
dd_store_resource_update_fn dd_sql_resource_update;
dd_store_resource_get_fn dd_sql_resource_get;
dd_store_resource_get_fn dd_sql_resource_hold;
dd_store_resource_get_fn dd_sql_resource_lock;
dd_store_resource_each_fn dd_sql_resource_each;

/* sql_leases.c */
dd_store_lease_insert_fn dd_sql_lease_insert;
dd_store_lease_update_fn dd_sql_lease_update;
dd_store_lease_get_fn dd_sql_lease_get;
dd_store_lease_waiting_hold_fn dd_sql_lease_waiting_hold;
dd_store_lease_each_fn dd_sql_lease_each;
dd_store_lease_count_fn dd_sql_lease_count;

/* sql_commands.c */
dd_store_command_insert_fn dd_sql_command_insert;
dd_store_command_list_fn dd_sql_command_list;
dd_store_command_consume_fn dd_sql_command_consume;

/* sql_logs.c */
dd_store_log_append_fn dd_sql_log_append;
dd_store_log_list_fn dd_sql_log_list;

/* sql_slots.c */
dd_store_slot_acquire_fn dd_sql_slot_acquire;
/*
 * slot_acquire with `insert` as the statement that inserts a key's row
 * (?1 key, ?2 owner kind, ?3 owner), changing nothing when the key is
 * taken: a backend whose inserts would wait for another transaction's
 * insert of the same key may give one that does not (pg.c).  A key not
 * inserted that no committed row holds was being taken: DD_ERR_BUSY.
 */
int dd_sql_slot_acquire_by(struct dd_store *s, const char *insert,
			   const char *const *keys, size_t n,
			   struct dd_ref owner, struct dd_error *err);
dd_store_slot_release_fn dd_sql_slot_release;
dd_store_slot_list_fn dd_sql_slot_list;

/* sql_tasks.c: all of the queue but task_claim, the backend's */
dd_store_task_schedule_fn dd_sql_task_schedule;
dd_store_task_finish_fn dd_sql_task_finish;
dd_store_task_retry_fn dd_sql_task_retry;
dd_store_task_renew_fn dd_sql_task_renew;
dd_store_task_next_due_fn dd_sql_task_next_due;
dd_store_task_list_fn dd_sql_task_list;
dd_store_task_archive_list_fn dd_sql_task_archive_list;

/* sql_locks.c: all but lock_acquire and fence_check, the backend's */
dd_store_lock_release_fn dd_sql_lock_release;
dd_store_lock_renew_fn dd_sql_lock_renew;
dd_store_counter_get_fn dd_sql_counter_get;
dd_store_counter_bump_fn dd_sql_counter_bump;
dd_store_counter_hold_fn dd_sql_counter_hold;

/* sql_tokens.c */
dd_store_token_insert_fn dd_sql_token_insert;
dd_store_token_get_fn dd_sql_token_get;
dd_store_token_get_by_name_fn dd_sql_token_get_by_name;
dd_store_token_get_by_hash_fn dd_sql_token_get_by_hash;
dd_store_token_list_fn dd_sql_token_list;
dd_store_token_revoke_fn dd_sql_token_revoke;
dd_store_token_touch_fn dd_sql_token_touch;

/* sql_authorizations.c */
dd_store_authorization_request_fn dd_sql_authorization_request;
dd_store_authorization_get_fn dd_sql_authorization_get;
dd_store_authorization_list_fn dd_sql_authorization_list;
dd_store_authorization_hold_fn dd_sql_authorization_hold;
dd_store_authorization_decide_fn dd_sql_authorization_decide;

/* sql_idempotency.c */
dd_store_idem_get_fn dd_sql_idem_get;
dd_store_idem_insert_fn dd_sql_idem_insert;
dd_store_idem_prune_fn dd_sql_idem_prune;

/* sql_targets.c: targets and artifacts' records; the bytes are the backend's */
dd_store_target_insert_fn dd_sql_target_insert;
dd_store_target_update_fn dd_sql_target_update;
dd_store_target_get_fn dd_sql_target_get;
dd_store_target_get_fn dd_sql_target_hold;
dd_store_target_get_fn dd_sql_target_lock;
dd_store_target_each_fn dd_sql_target_each;
dd_store_artifact_insert_fn dd_sql_artifact_insert;
dd_store_artifact_get_fn dd_sql_artifact_get;
dd_store_artifact_each_fn dd_sql_artifact_each;
dd_store_artifact_release_all_fn dd_sql_artifact_release_all;

/* sql_stats.c */
dd_store_stats_fn dd_sql_stats;

/* ---- for the backends' own task claim and locks ------------------------ */

struct dd_sql;
struct dd_sql_stmt;

/* A task's columns, in the order dd_sql_task_row() reads them. */
#define DD_SQL_TASK_COLS                                                       \
	"id, kind, object_kind, object, not_before, claimed_by, claim_token,"  \
	" claim_expires, failures, last_error, created"

/* Read a row of DD_SQL_TASK_COLS into the struct dd_task at `out`. */
int dd_sql_task_row(struct dd_sql *h, struct dd_sql_stmt *st, void *out);

/*
 * The name of the lock of the object of task row `t` (a table name or
 * alias), made as dd_task_lock_name() makes it: one WHEN per object kind
 * that has an update task.
 */
#define DD_SQL_TASK_LOCK_NAME(t)                                               \
	"(CASE " t ".object_kind WHEN 3 THEN 'lease:' WHEN 2 THEN 'resource:'" \
	" WHEN 4 THEN 'target:' ELSE 'blueprint:' END || " t ".object)"

/* A condition on a row of `task`: its object has no live lock at time ?1. */
#define DD_SQL_OBJECT_UNLOCKED                                                 \
	"NOT EXISTS (SELECT 1 FROM lock WHERE name = "                         \
	DD_SQL_TASK_LOCK_NAME("task") " AND expires > ?1)"

/*
 * A condition on a row of `task`: its pass runs no hook of a resource
 * that lives on another machine than ?2 (the claimer's; NULL: none), so
 * a claimer there may take it.  A resource's update touches the
 * resource; a lease's, the resource it is placed on (a pending lease,
 * on none yet, may be placed by anyone).  Resources that live anywhere
 * (machine NULL) bind nobody.
 */
#define DD_SQL_TASK_RESOURCE                                                   \
	"resource.id = (CASE task.object_kind WHEN 2 THEN task.object"         \
	" WHEN 3 THEN (SELECT lease.resource FROM lease"                       \
	" WHERE lease.id = task.object) END)"
#define DD_SQL_TASK_ON_MACHINE                                                 \
	"NOT EXISTS (SELECT 1 FROM resource WHERE " DD_SQL_TASK_RESOURCE       \
	" AND resource.machine IS NOT NULL AND (CAST(?2 AS TEXT) IS NULL"      \
	" OR resource.machine <> ?2))"
/* The machine the task is bound to: NULL for none. */
#define DD_SQL_TASK_BOUND                                                      \
	"(SELECT resource.machine FROM resource WHERE " DD_SQL_TASK_RESOURCE ")"

/*
 * When the next task falls due for a claimer on machine ?2 at time ?1
 * (NULL: the queue holds none for it): the first not_before of a queued
 * task whose object is not locked (a locked one waits for its claimant
 * to finish, or for that claim's expiry), or the first expiry of a
 * claim.  A claim that has expired on an object locked since (by
 * another claim of a task of it) is due when that lock expires, not now:
 * claimers would otherwise look again and again until it is freed.  A
 * task another machine's daemons must run is never due here.
 */
#define DD_SQL_TASK_NEXT_DUE                                                   \
	"SELECT min(t) FROM (SELECT min(not_before) AS t FROM task"            \
	" WHERE claimed_by IS NULL AND " DD_SQL_OBJECT_UNLOCKED                \
	" AND " DD_SQL_TASK_ON_MACHINE                                         \
	" UNION ALL SELECT min(CASE WHEN claim_expires > ?1 THEN"              \
	" claim_expires ELSE COALESCE((SELECT expires FROM lock WHERE name = " \
	DD_SQL_TASK_LOCK_NAME("task") " AND expires > ?1), claim_expires)"     \
	" END) FROM task"                                                      \
	" WHERE claimed_by IS NOT NULL AND " DD_SQL_TASK_ON_MACHINE ") AS due"

/* Drop lock grant `g` if it is still current (inside a transaction). */
int dd_sql_lock_drop(struct dd_sql *h, const struct dd_lock_grant *g,
		     struct dd_error *err);
/*
 * Extend grant `g` to now + ttl while it is current (inside a
 * transaction); DD_ERR_FENCED when it is not.
 */
int dd_sql_lock_extend(struct dd_sql *h, const struct dd_lock_grant *g,
		       double now, double ttl, struct dd_error *err);

#endif
