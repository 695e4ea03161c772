/*
 * sql_stats.c - the figures /metrics shows (the store.h method stats),
 * written once over the driver (sql.h).
 *
 * Finished rows are most of a store that has run a while, and their
 * number only grows: they are not counted but read from the counters the
 * schema's triggers keep (leases and resources destroyed, targets
 * finished, artifacts by type and their bytes).  The live statuses come
 * from the status index's range below 'destroyed', the last status of
 * both machines, so a scrape costs the same with a million finished
 * leases as with none.
 */
#include "store/sql.h"
#include "store/sql_ops.h"

#include <stdio.h>
#include <string.h>

_Static_assert(DD_LEASE_DESTROYED == 5 &&
		       DD_LEASE_DESTROYED == DD_LEASE_STATUS_COUNT - 1 &&
		       DD_RESOURCE_DESTROYED == 4 &&
		       DD_RESOURCE_DESTROYED == DD_RESOURCE_STATUS_COUNT - 1,
	       "dd_sql_stats() and the schema count 'destroyed' apart");

/* Count rows by status (`sql` gives status, count) into counts[0..n). */
static int count_by_status(struct dd_sql *h, const char *sql,
			   long long *counts, int n, struct dd_error *err)
{
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h, sql, &st, err);

	if (rc)
		return rc;
	while ((rc = dd_sql_step(h, st, err, "count by status")) ==
	       DD_SQL_ROW) {
		int status = dd_sql_col_int(h, st, 0);

		if (status >= 0 && status < n)
			counts[status] = dd_sql_col_int64(h, st, 1);
	}
	dd_sql_done(h, st);
	return rc < 0 ? rc : 0;
}

/* The tasks: how many, how many claimed, and the oldest due one's age. */
static int task_row(struct dd_sql *h, struct dd_sql_stmt *st, void *arg)
{
	struct dd_store_stats *out = arg;

	out->tasks_claimed = dd_sql_col_int64(h, st, 1);
	out->tasks_queued = dd_sql_col_int64(h, st, 0) - out->tasks_claimed;
	out->oldest_due = dd_sql_col_double(h, st, 2);
	return 0;
}

static int count_tasks(struct dd_sql *h, double now,
		       struct dd_store_stats *out, struct dd_error *err)
{
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h,
				"SELECT count(*), count(claimed_by),"
				" min(CASE WHEN claimed_by IS NULL AND"
				" not_before <= ?1 THEN created END) FROM task",
				&st, err);

	if (rc)
		return rc;
	dd_sql_double(h, st, 1, now);
	rc = dd_sql_get(h, st, task_row, out, err, "count tasks");
	if (rc == DD_ERR_NOTFOUND)
		return dd_error_set(err, DD_ERR_STORE,
				    "store '%s': count tasks: no row",
				    dd_sql_name(h));
	return rc;
}

static int building_row(struct dd_sql *h, struct dd_sql_stmt *st, void *arg)
{
	struct dd_store_stats *out = arg;

	out->targets[DD_TARGET_BUILDING] = dd_sql_col_int64(h, st, 0);
	return 0;
}

/*
 * Targets and artifacts: the building targets from the status index,
 * the rest and the artifacts from their counters.
 */
static int count_targets(struct dd_sql *h, struct dd_store_stats *out,
			 struct dd_error *err)
{
	static const char *const finished[DD_TARGET_STATUS_COUNT] = {
		[DD_TARGET_PASSED] = "targets.passed",
		[DD_TARGET_FAILED] = "targets.failed",
		[DD_TARGET_ABORTED] = "targets.aborted",
	};
	size_t max = sizeof(out->artifacts) / sizeof(out->artifacts[0]);
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h, "SELECT count(*) FROM target WHERE status = 0",
				&st, err);

	if (rc)
		return rc;
	rc = dd_sql_get(h, st, building_row, out, err, "count targets");
	if (rc == DD_ERR_NOTFOUND)
		return dd_error_set(err, DD_ERR_STORE,
				    "store '%s': count targets: no row",
				    dd_sql_name(h));
	if (rc)
		return rc;
	/*
	 * 'artifact_bytes', 'artifacts.TYPE' ... and 'targets.STATUS', each
	 * with its parts NAME#K where the store keeps some (sql_locks.c)
	 */
	rc = dd_sql_prepare(h,
			    "SELECT name, value FROM counter"
			    " WHERE name = 'artifact_bytes'"
			    " OR (name > 'artifact_bytes#'"
			    " AND name < 'artifact_bytes$')"
			    " OR (name > 'artifacts.' AND name < 'artifacts/')"
			    " OR (name > 'targets.' AND name < 'targets/')",
			    &st, err);
	if (rc)
		return rc;
	while ((rc = dd_sql_step(h, st, err, "count artifacts")) ==
	       DD_SQL_ROW) {
		const char *name = dd_sql_col_str(h, st, 0);
		long long value = dd_sql_col_int64(h, st, 1);
		const char *part = name ? strrchr(name, '#') : NULL;
		int n = name ? (int)(part ? part - name : (long)strlen(name))
			     : 0;
		char type[sizeof(out->artifacts[0].type)];
		int i;

		if (!name)
			continue;
		if (n == 14 && !strncmp(name, "artifact_bytes", 14)) {
			out->artifact_bytes += value;
		} else if (n > 10 && !strncmp(name, "artifacts.", 10)) {
			snprintf(type, sizeof(type), "%.*s", n - 10,
				 name + 10);
			for (i = 0; i < out->n_artifact_types; i++)
				if (!strcmp(out->artifacts[i].type, type))
					break;
			if ((size_t)i >= max)
				continue;
			if (i == out->n_artifact_types) {
				snprintf(out->artifacts[i].type,
					 sizeof(out->artifacts[i].type), "%s",
					 type);
				out->n_artifact_types++;
			}
			out->artifacts[i].count += value;
		} else {
			for (int k = 0; k < DD_TARGET_STATUS_COUNT; k++)
				if (finished[k] &&
				    (int)strlen(finished[k]) == n &&
				    !strncmp(name, finished[k], (size_t)n))
					out->targets[k] += value;
		}
	}
	dd_sql_done(h, st);
	return rc < 0 ? rc : 0;
}

int dd_sql_stats(struct dd_store *s, double now, struct dd_store_stats *out,
		 struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	int rc;

	memset(out, 0, sizeof(*out));
	rc = count_by_status(h,
			     "SELECT status, count(*) FROM lease"
			     " WHERE status < 5 GROUP BY status",
			     out->leases, DD_LEASE_STATUS_COUNT, err);
	if (!rc)
		rc = count_by_status(h,
				     "SELECT status, count(*) FROM resource"
				     " WHERE status < 4 GROUP BY status",
				     out->resources, DD_RESOURCE_STATUS_COUNT,
				     err);
	if (!rc)
		rc = dd_sql_counter_get(s, "leases.destroyed",
					&out->leases[DD_LEASE_DESTROYED], err);
	if (!rc)
		rc = dd_sql_counter_get(s, "resources.destroyed",
					&out->resources[DD_RESOURCE_DESTROYED],
					err);
	if (!rc)
		rc = count_tasks(h, now, out, err);
	if (!rc)
		rc = count_targets(h, out, err);
	return rc;
}
