/*
 * sql.h - what every SQL store shares: the small driver interface a
 * backend fills (struct dd_sql_driver), the handle that carries it
 * (struct dd_sql), the statement helpers and the list query builder
 * written once over it.  Not for use outside src/store.
 *
 * The data access of the store's objects (sql_*.c, declared in
 * sql_ops.h) is written once in this dialect and reaches its database
 * only through the driver, so that a second backend brings a driver and
 * what really differs per backend (connections, transactions and group
 * commit, task claiming, object locks and the fence check, wake-ups,
 * file chunks), not a second copy of the SQL.
 *
 * The shared SQL's dialect, which every driver accepts:
 *  - parameters are numbered, ?1, ?2, ... (a driver whose database
 *    spells them $1 translates them when it prepares);
 *  - an insert that wants its new row's id ends with " RETURNING id"
 *    and runs through dd_sql_insert(), which asks the driver: a driver
 *    may run the clause or drop it and read the id its own way (SQLite's
 *    RETURNING costs 1 to 2 us an insert over last_insert_rowid());
 *  - a read inside a write transaction whose row must not change
 *    before the commit (another transaction's write to it waits) ends
 *    with " FOR SHARE", or " FOR NO KEY UPDATE" where no other
 *    transaction may even hold it (it will be written); a driver whose
 *    database has one writer at a time, so that it holds whatever it
 *    read anyway, drops the clause;
 *  - rows affected by the last statement come from changes();
 *  - times are floating seconds, flags and enums integers, JSON text;
 *  - only portable functions: aggregate min/max/count, coalesce, CASE
 *    (not SQLite's scalar min/max, nor LEAST/GREATEST), || on text,
 *    ON CONFLICT ... DO UPDATE / DO NOTHING, row values, LIMIT.
 */
#ifndef DD_SQL_H
#define DD_SQL_H

#include <jansson.h>
#include <stdbool.h>

#include "core/util.h"
#include "store/store.h"

/* A backend's prepared statement; only its driver looks inside. */
struct dd_sql_stmt;
struct dd_sql;

/* What step() found: a row to read, or the end of the statement. */
enum { DD_SQL_DONE = 0, DD_SQL_ROW = 1 };

/* How long bound text must live (bind_text). */
enum dd_sql_life {
	DD_SQL_STATIC, /* the caller keeps it until the statement is done */
	DD_SQL_COPY,   /* the driver copies it at once */
	DD_SQL_OWN,    /* the driver takes it over and dd_free()s it */
};

struct dd_sql_driver {
	/*
	 * Prepare `sql`, a string literal of the shared dialect: the
	 * per-handle statement cache keys on its address, so a statement
	 * that runs all the time is parsed once per connection and reused.
	 * The statement comes back with no bindings; give it back with
	 * done().  Fails with the backend's error translated (DD_ERR_*).
	 */
	int (*prepare)(struct dd_sql *h, const char *sql,
		       struct dd_sql_stmt **out, struct dd_error *err);
	/*
	 * prepare() for text built at run time (the list queries): the
	 * cache keys on the text itself, which the caller may free after.
	 */
	int (*prepare_text)(struct dd_sql *h, const char *sql,
			    struct dd_sql_stmt **out, struct dd_error *err);
	/*
	 * Bind parameter `idx` (from 1).  Only bind_text can fail, out of
	 * memory (DD_ERR_NOMEM); with DD_SQL_OWN the text is freed even
	 * then.  Text is NULL-terminated and never NULL (bind_null).
	 */
	void (*bind_null)(struct dd_sql_stmt *st, int idx);
	void (*bind_int64)(struct dd_sql_stmt *st, int idx, long long v);
	void (*bind_double)(struct dd_sql_stmt *st, int idx, double v);
	int (*bind_text)(struct dd_sql_stmt *st, int idx, const char *s,
			 enum dd_sql_life life);
	/*
	 * Run the statement to its next row: DD_SQL_ROW, DD_SQL_DONE, or a
	 * negative DD_ERR_* with `err` set, `what` naming the operation:
	 * a unique or other constraint broken is DD_ERR_EXISTS, a busy or
	 * locked store DD_ERR_BUSY, damage DD_ERR_DAMAGED, the rest
	 * DD_ERR_STORE or DD_ERR_NOMEM.
	 */
	int (*step)(struct dd_sql *h, struct dd_sql_stmt *st,
		    struct dd_error *err, const char *what);
	/*
	 * The current row's column `i` (from 0).  A NULL reads as 0, 0.0
	 * or NULL; text stays valid until the next step() or done().
	 */
	long long (*column_int64)(struct dd_sql_stmt *st, int i);
	double (*column_double)(struct dd_sql_stmt *st, int i);
	const char *(*column_text)(struct dd_sql_stmt *st, int i);
	/*
	 * Run an INSERT that ends with " RETURNING id" (prepare() may have
	 * left the clause out): 0 with the new row's id in *id,
	 * DD_ERR_NOTFOUND (err untouched) when it inserted nothing (an
	 * INSERT ... SELECT ... WHERE), or step()'s error.  It does not
	 * give the statement back.
	 */
	int (*insert)(struct dd_sql *h, struct dd_sql_stmt *st, long long *id,
		      struct dd_error *err, const char *what);
	/*
	 * Optional (NULL: rows come as the database yields them, as
	 * SQLite's do).  Before the first step() of a statement that may
	 * yield more rows than should be held at once (the *_each walks):
	 * fetch its rows a batch at a time.
	 */
	void (*stream)(struct dd_sql *h, struct dd_sql_stmt *st);
	/* Give back a statement from prepare*(): reset it or free it. */
	void (*done)(struct dd_sql *h, struct dd_sql_stmt *st);
	/* Rows the last INSERT, UPDATE or DELETE on this handle changed. */
	long long (*changes)(struct dd_sql *h);
	/*
	 * After a step() that failed with DD_ERR_EXISTS, and before
	 * done(): was it the unique constraint on `table_column`
	 * ("token.name")?
	 */
	bool (*broke_unique)(struct dd_sql *h, const char *table_column);
};

/*
 * A SQL store's handle: the store.h handle, and the driver the shared
 * code reaches the database through.  Each backend's handle starts with
 * it (in a union with its struct dd_store, whose members it may go on
 * naming as before), so the same pointer is a dd_store, a dd_sql and
 * the backend's own.
 */
struct dd_sql {
	struct dd_store base;
	const struct dd_sql_driver *drv;
	const char *name; /* the store as messages name it; NULL: location */
	int parts;	  /* a bump goes to part NAME#K, K < parts; 0: to NAME */
	int part;	  /* K for this transaction's bumps (sql_locks.c) */
};

static inline struct dd_sql *dd_sql(struct dd_store *s)
{
	return (struct dd_sql *)s;
}

/* The store's name, for messages. */
static inline const char *dd_sql_name(struct dd_sql *h)
{
	return h->name ? h->name : h->base.location;
}

/* ---- the driver's methods, called through the handle ------------------ */

static inline int dd_sql_prepare(struct dd_sql *h, const char *sql,
				 struct dd_sql_stmt **out,
				 struct dd_error *err)
{
	return h->drv->prepare(h, sql, out, err);
}

static inline void dd_sql_null(struct dd_sql *h, struct dd_sql_stmt *st,
			       int idx)
{
	h->drv->bind_null(st, idx);
}

static inline void dd_sql_int64(struct dd_sql *h, struct dd_sql_stmt *st,
				int idx, long long v)
{
	h->drv->bind_int64(st, idx, v);
}

static inline void dd_sql_double(struct dd_sql *h, struct dd_sql_stmt *st,
				 int idx, double v)
{
	h->drv->bind_double(st, idx, v);
}

/* Bind text the caller keeps until the statement is done. */
static inline void dd_sql_text(struct dd_sql *h, struct dd_sql_stmt *st,
			       int idx, const char *s)
{
	h->drv->bind_text(st, idx, s, DD_SQL_STATIC);
}

static inline int dd_sql_step(struct dd_sql *h, struct dd_sql_stmt *st,
			      struct dd_error *err, const char *what)
{
	return h->drv->step(h, st, err, what);
}

static inline long long dd_sql_col_int64(struct dd_sql *h,
					 struct dd_sql_stmt *st, int i)
{
	return h->drv->column_int64(st, i);
}

static inline int dd_sql_col_int(struct dd_sql *h, struct dd_sql_stmt *st,
				 int i)
{
	return (int)h->drv->column_int64(st, i);
}

static inline double dd_sql_col_double(struct dd_sql *h,
				       struct dd_sql_stmt *st, int i)
{
	return h->drv->column_double(st, i);
}

/* Column text as it is (valid until the next step or done), or NULL. */
static inline const char *dd_sql_col_str(struct dd_sql *h,
					 struct dd_sql_stmt *st, int i)
{
	return h->drv->column_text(st, i);
}

static inline void dd_sql_done(struct dd_sql *h, struct dd_sql_stmt *st)
{
	h->drv->done(h, st);
}

static inline long long dd_sql_changes(struct dd_sql *h)
{
	return h->drv->changes(h);
}

/* ---- helpers over the driver (sql.c) ----------------------------------- */

/*
 * Bind a JSON value as its compact text, or NULL.  Out of memory it
 * gives the statement back (done) and fails with DD_ERR_NOMEM: the
 * caller returns at once.
 */
int dd_sql_json(struct dd_sql *h, struct dd_sql_stmt *st, int idx, json_t *v,
		struct dd_error *err);
/* Bind text, or NULL for NULL (copied: it may go before the step). */
void dd_sql_text_or_null(struct dd_sql *h, struct dd_sql_stmt *st, int idx,
			 const char *s);
/* Bind an id, or NULL for 0. */
void dd_sql_id_or_null(struct dd_sql *h, struct dd_sql_stmt *st, int idx,
		       long long id);
/* Bind a time, or NULL for none (0 or less). */
void dd_sql_time_or_null(struct dd_sql *h, struct dd_sql_stmt *st, int idx,
			 double t);
/* Bind an operation in progress to parameters i, i+1 and i+2. */
void dd_sql_progress_bind(struct dd_sql *h, struct dd_sql_stmt *st, int i,
			  const struct dd_progress *p);
/* Read an operation in progress from columns i (hook), i+1 and i+2. */
void dd_sql_progress_row(struct dd_sql *h, struct dd_sql_stmt *st, int i,
			 struct dd_progress *p);
/* Column text copied (dd_strdup), or NULL. */
char *dd_sql_col_text(struct dd_sql *h, struct dd_sql_stmt *st, int i);
/* Column JSON parsed, or NULL. */
json_t *dd_sql_col_json(struct dd_sql *h, struct dd_sql_stmt *st, int i);

/* Run a statement that returns no rows, and give it back. */
int dd_sql_exec(struct dd_sql *h, struct dd_sql_stmt *st,
		struct dd_error *err, const char *what);
/*
 * Run an INSERT ... RETURNING id (the driver's insert()) and give it
 * back: 0 with the new row's id in *id, DD_ERR_NOTFOUND (err untouched)
 * when it inserted nothing (an INSERT ... SELECT ... WHERE), or the
 * step's error.
 */
int dd_sql_insert(struct dd_sql *h, struct dd_sql_stmt *st, long long *id,
		  struct dd_error *err, const char *what);
/*
 * Run a query for at most one row and give it back: 0 with the row
 * handed to `row` (which reads it into `out`, and may fail with
 * DD_ERR_NOMEM), DD_ERR_NOTFOUND (err untouched) when there is none, or
 * the step's error.
 */
typedef int dd_sql_row_fn(struct dd_sql *h, struct dd_sql_stmt *st,
			   void *out);
int dd_sql_get(struct dd_sql *h, struct dd_sql_stmt *st, dd_sql_row_fn *row,
	       void *out, struct dd_error *err, const char *what);
/*
 * Run a list query and give it back: `push` converts each row and
 * appends it to `list` (nonzero: out of memory).
 */
typedef int dd_sql_push_fn(struct dd_sql *h, struct dd_sql_stmt *st,
			   void *list);
int dd_sql_list(struct dd_sql *h, struct dd_sql_stmt *st,
		dd_sql_push_fn *push, void *list, struct dd_error *err);
/*
 * Walk a list query a row at a time (the *_each operations): `visit`
 * reads the row and calls the caller's visitor, whose nonzero answer
 * stops the walk and is returned as it is.
 */
typedef int dd_sql_visit_fn(struct dd_sql *h, struct dd_sql_stmt *st,
			    void *arg, struct dd_error *err);
int dd_sql_each(struct dd_sql *h, struct dd_sql_stmt *st,
		dd_sql_visit_fn *visit, void *arg, struct dd_error *err);

/* ---- list queries (sql_list.c) ----------------------------------------- */

/*
 * A list query built from a filter: conditions joined with AND, each
 * value a bound parameter numbered in order, never text in the SQL.
 */
struct dd_sql_query {
	struct dd_buf sql;
	int nbind;
	struct {
		bool is_text;
		long long i;
		const char *t; /* the caller's: kept until prepared */
	} bind[12];
	bool has_where;
};

/* Add `cond`, which has no parameter. */
void dd_sql_where(struct dd_sql_query *qq, const char *cond);
/* Add `cond`, whose one "?" is a parameter of value `v`. */
void dd_sql_where_int(struct dd_sql_query *qq, const char *cond,
		      long long v);
void dd_sql_where_text(struct dd_sql_query *qq, const char *cond,
		       const char *v);
/* status IN (the bits of `mask`); nothing for 0. */
void dd_sql_where_status(struct dd_sql_query *qq, unsigned mask);
/* The same of another column of small integers (a string literal). */
void dd_sql_where_mask(struct dd_sql_query *qq, const char *column,
		       unsigned mask);
/* The id window of a page: after_id and before_id. */
void dd_sql_where_range(struct dd_sql_query *qq, const struct dd_filter *f);
/* ORDER BY id (descending if asked) and the limit. */
void dd_sql_tail(struct dd_sql_query *qq, const struct dd_filter *f);
/*
 * Prepare the query (prepare_text: kept prepared, keyed by its text)
 * and bind its values; the text is released either way.
 */
int dd_sql_query_prepare(struct dd_sql *h, struct dd_sql_query *qq,
			 struct dd_sql_stmt **st, struct dd_error *err);

#endif
