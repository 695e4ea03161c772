/*
 * sql_locks.c - what is the same on every SQL store about named locks and
 * counters: dropping and renewing a grant, which are single statements
 * conditional on the grant still being current, and the counters.
 * A counter is the sum of its row NAME and of its parts, rows NAME#K.
 * On a store with several writers at once (PostgreSQL, schema_pg.h's
 * migration 4) the triggers add to parts and a bump goes to the part of
 * its transaction (struct dd_sql's `part`, chosen at random when it
 * begins), so that writers at once do not queue on one row until each
 * commits.  Holding a counter locks its row and every part: a bump that
 * comes later waits for the holder's commit.  That needs every part to
 * exist before it is held, or a bump could insert one the hold never
 * saw; 'capacity', the one counter held, has all of its made with it.
 * Taking a lock and the fence check differ per backend (a lock taken
 * over, a grant read without its row locked): they are the backend's.
 */
#include "store/sql.h"
#include "store/sql_ops.h"

#include <stdio.h>

int dd_sql_lock_drop(struct dd_sql *h, const struct dd_lock_grant *g,
		     struct dd_error *err)
{
	struct dd_sql_stmt *st;
	int rc;

	if (!g->token)
		return 0;
	rc = dd_sql_prepare(h, "DELETE FROM lock WHERE token = ?1 AND name = ?2",
			    &st, err);
	if (rc)
		return rc;
	dd_sql_int64(h, st, 1, g->token);
	dd_sql_text(h, st, 2, g->name);
	return dd_sql_exec(h, st, err, "release lock");
}

int dd_sql_lock_extend(struct dd_sql *h, const struct dd_lock_grant *g,
		       double now, double ttl, struct dd_error *err)
{
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h,
				"UPDATE lock SET expires = ?4 WHERE token = ?1"
				" AND name = ?2 AND expires > ?3",
				&st, err);

	if (rc)
		return rc;
	dd_sql_int64(h, st, 1, g->token);
	dd_sql_text(h, st, 2, g->name);
	dd_sql_double(h, st, 3, now);
	dd_sql_double(h, st, 4, now + ttl);
	rc = dd_sql_exec(h, st, err, "renew lock");
	if (!rc && dd_sql_changes(h) == 0)
		rc = dd_error_set(err, DD_ERR_FENCED,
				  "lock '%s' grant %lld expired or was taken "
				  "over",
				  g->name, g->token);
	return rc;
}

int dd_sql_lock_renew(struct dd_store *s, const struct dd_lock_grant *g,
		      double now, double ttl, struct dd_error *err)
{
	int rc = dd_store_begin(s, err);

	if (rc)
		return rc;
	rc = dd_sql_lock_extend(dd_sql(s), g, now, ttl, err);
	if (rc) {
		dd_store_rollback(s);
		return rc;
	}
	return dd_store_commit(s, err);
}

int dd_sql_lock_release(struct dd_store *s, const struct dd_lock_grant *g,
			struct dd_error *err)
{
	/* a transaction, so that a group-commit handle joins its batch */
	int rc = dd_store_begin(s, err);

	if (rc)
		return rc;
	rc = dd_sql_lock_drop(dd_sql(s), g, err);
	if (rc) {
		dd_store_rollback(s);
		return rc;
	}
	return dd_store_commit(s, err);
}

static int counter_row(struct dd_sql *h, struct dd_sql_stmt *st, void *out)
{
	*(long long *)out = dd_sql_col_int64(h, st, 0);
	return 0;
}

int dd_sql_counter_get(struct dd_store *s, const char *name, long long *out,
		       struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	/* NAME and its parts, NAME#K (PostgreSQL's triggers write those) */
	int rc = dd_sql_prepare(h,
				"SELECT sum(value) FROM counter WHERE name = ?1"
				" OR (name > ?1 || '#' AND name < ?1 || '$')",
				&st, err);

	if (rc)
		return rc;
	dd_sql_text(h, st, 1, name);
	*out = 0;
	rc = dd_sql_get(h, st, counter_row, out, err, "read counter");
	return rc == DD_ERR_NOTFOUND ? 0 : rc;
}

/* The rows of counter `name` held until the commit: its value in *out. */
int dd_sql_counter_hold(struct dd_store *s, const char *name, long long *out,
			struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	int rc = dd_sql_prepare(h,
				"SELECT value FROM counter WHERE name = ?1"
				" OR (name > ?1 || '#' AND name < ?1 || '$')"
				" FOR SHARE",
				&st, err);

	if (rc)
		return rc;
	dd_sql_text(h, st, 1, name);
	*out = 0;
	while ((rc = dd_sql_step(h, st, err, "hold counter")) == DD_SQL_ROW)
		*out += dd_sql_col_int64(h, st, 0);
	dd_sql_done(h, st);
	return rc < 0 ? rc : 0;
}

int dd_sql_counter_bump(struct dd_store *s, const char *name,
			struct dd_error *err)
{
	struct dd_sql *h = dd_sql(s);
	struct dd_sql_stmt *st;
	char part[128];
	int rc = dd_sql_prepare(h,
				"INSERT INTO counter(name, value) VALUES(?1, 1)"
				" ON CONFLICT(name) DO UPDATE"
				" SET value = counter.value + 1",
				&st, err);

	if (rc)
		return rc;
	if (h->parts > 0) {
		snprintf(part, sizeof(part), "%s#%d", name, h->part % h->parts);
		name = part;
	}
	dd_sql_text(h, st, 1, name);
	return dd_sql_exec(h, st, err, "bump counter");
}
