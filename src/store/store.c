/*
 * store.c - the thin wrappers every caller uses to reach a store backend.
 *
 * dd_store_open() picks the backend by the form of the store's location
 * (the table of backends below).  The wrappers keep transaction nesting,
 * assert the ops version, and hold the fault injection switch that unit
 * tests use to make the Nth store call fail.
 */
#include "store/store.h"
#include "store/pg.h"
#include "store/pg_wake.h"
#include "store/sqlite.h"
#include "core/machine.h"
#include "core/util.h"

#include <assert.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every commit any handle in this process made, for the benchmarks. */
static atomic_llong commits;

void dd_store_count_commit(void)
{
	atomic_fetch_add(&commits, 1);
}

long long dd_store_commit_count(void)
{
	return atomic_load(&commits);
}

static atomic_long fault_countdown = -1;
static atomic_int fault_code = DD_ERR_STORE;

void dd_store_fail_after(long n, int code)
{
	atomic_store(&fault_code, code);
	atomic_store(&fault_countdown, n);
}

static int injected_fault(struct dd_error *err)
{
	long n = atomic_load(&fault_countdown);

	while (n >= 0) {
		if (atomic_compare_exchange_weak(&fault_countdown, &n, n - 1)) {
			if (n == 0)
				return dd_error_set(err, atomic_load(&fault_code),
						    "injected store fault");
			return 0;
		}
	}
	return 0;
}

#define CALL(s, method, ...)                                                   \
	do {                                                                   \
		int fault_ = injected_fault(err);                              \
		if (fault_)                                                    \
			return fault_;                                         \
		assert((s)->ops->version == DD_STORE_OPS_VERSION);             \
		return (s)->ops->method((s), __VA_ARGS__);                     \
	} while (0)

/*
 * The same for a backend method that writes more than one row: it runs in
 * the caller's transaction, or in one of its own when none is open, so
 * that it is all or nothing either way.
 */
#define CALL_IN_TXN(s, method, ...)                                            \
	do {                                                                   \
		bool own_ = (s)->depth == 0;                                   \
		int rc_ = own_ ? dd_store_begin((s), err)                      \
			       : injected_fault(err);                          \
		if (rc_)                                                       \
			return rc_;                                            \
		assert((s)->ops->version == DD_STORE_OPS_VERSION);             \
		rc_ = (s)->ops->method((s), __VA_ARGS__);                      \
		if (!own_)                                                     \
			return rc_;                                            \
		if (rc_) {                                                     \
			dd_store_rollback(s);                                  \
			return rc_;                                            \
		}                                                              \
		return dd_store_commit((s), err);                              \
	} while (0)

void dd_store_options_from_env(struct dd_store_options *opt)
{
	const char *d = getenv("DRYDOCK_DURABILITY");
	const char *b = getenv("DRYDOCK_BUSY_TIMEOUT_MS");

	opt->durability = DD_DURABILITY_FULL;
	if (d && !strcmp(d, "normal"))
		opt->durability = DD_DURABILITY_NORMAL;
	opt->busy_timeout_ms = 10000;
	opt->group_commit = false;
	opt->plan_once = false;
	opt->must_exist = false;
	if (b && atoi(b) > 0)
		opt->busy_timeout_ms = atoi(b);
	opt->state_dir = getenv("DRYDOCK_STATE_DIR");
	if (opt->state_dir && !*opt->state_dir)
		opt->state_dir = NULL;
	opt->machine = NULL;
}

/*
 * A store's location names its backend by its form.  PostgreSQL's are a
 * URI and libpq's "keyword=value ..." string; any other location is the
 * path of an SQLite file.  A keyword string is told from a file path by
 * its first keyword, one libpq knows followed by '=' (a file whose name
 * starts so is written "./dbname=x").
 */
static bool is_postgres(const char *location)
{
	static const char *const schemes[] = {"postgres://", "postgresql://"};
	static const char *const keywords[] = {
		"host",	   "hostaddr", "port",	  "dbname",  "user",
		"password", "passfile", "service", "sslmode", "options",
		"application_name",    "connect_timeout",    "target_session_attrs",
	};
	size_t len = strspn(location, "abcdefghijklmnopqrstuvwxyz_");
	const char *after = location + len + strspn(location + len, " \t");

	for (size_t i = 0; i < sizeof(schemes) / sizeof(*schemes); i++)
		if (!strncmp(location, schemes[i], strlen(schemes[i])))
			return true;
	if (*after != '=')
		return false;
	for (size_t i = 0; i < sizeof(keywords) / sizeof(*keywords); i++)
		if (strlen(keywords[i]) == len &&
		    !strncmp(location, keywords[i], len))
			return true;
	return false;
}

static bool is_path(const char *location)
{
	return !is_postgres(location);
}

/*
 * The backends, by the form of location each claims, the first that
 * claims it winning.  One this build lacks has no ops: a location of its
 * form is refused, never taken for a file path.
 */
static const struct store_backend {
	const char *name;
	bool (*claims)(const char *location);
	const struct dd_store_ops *ops; /* NULL: not in this build */
	bool files;			/* kept in a file of this machine */
	const struct dd_wake_transport *wake;
} backends[] = {
	{"PostgreSQL", is_postgres, &dd_pg_store_ops, false, &dd_pg_wake},
	{"SQLite", is_path, &dd_sqlite_store_ops, true, &dd_sqlite_wake},
};

/*
 * `location` as it may be shown in a message: a PostgreSQL location's
 * password (postgres://user:PASSWORD@host/..., password=PASSWORD) is
 * written as "***".
 */
static const char *shown(const char *location, char *buf, size_t n)
{
	const char *scheme = strstr(location, "://"), *at, *colon, *pw;
	size_t len;

	if (!is_postgres(location))
		return location;
	if (scheme) {
		scheme += 3;
		len = strcspn(scheme, "/?");
		at = memrchr(scheme, '@', len);
		colon = at ? memchr(scheme, ':', (size_t)(at - scheme)) : NULL;
		if (!colon)
			return location;
		snprintf(buf, n, "%.*s***%s", (int)(colon + 1 - location),
			 location, at);
		return buf;
	}
	pw = strstr(location, "password");
	if (!pw || (pw != location && pw[-1] != ' ' && pw[-1] != '\t'))
		return location;
	pw += strlen("password");
	pw += strspn(pw, " \t");
	if (*pw != '=')
		return location;
	pw++;
	pw += strspn(pw, " \t");
	if (*pw == '\'') {
		/* a quoted value: up to the closing quote, \' inside it */
		for (at = pw + 1; *at && *at != '\''; at++)
			if (*at == '\\' && at[1])
				at++;
		at += *at == '\'';
	} else {
		at = pw + strcspn(pw, " \t");
	}
	snprintf(buf, n, "%.*s***%s", (int)(pw - location), location, at);
	return buf;
}

void dd_store_location_shown(const char *location, char *buf, size_t n)
{
	const char *s = shown(location, buf, n);

	if (s != buf)
		snprintf(buf, n, "%s", s);
}

static const struct store_backend *backend_of(const char *location)
{
	for (size_t i = 0; i < sizeof(backends) / sizeof(*backends); i++)
		if (backends[i].claims(location))
			return &backends[i];
	return NULL;
}

/* Why a location cannot be opened by this build, in err; DD_ERR_INVALID. */
static int refuse(const char *location, const struct store_backend *b,
		  struct dd_error *err)
{
	char buf[PATH_MAX];

	if (!location || !*location)
		return dd_error_set(err, DD_ERR_INVALID,
				    "no store given: an empty location");
	if (!b)
		return dd_error_set(err, DD_ERR_INVALID,
				    "no store backend takes the location '%s'",
				    location);
	return dd_error_set(err, DD_ERR_INVALID,
			    "store '%.200s' is a %s database, and this build "
			    "of drydock has no %s backend yet",
			    shown(location, buf, sizeof(buf)), b->name,
			    b->name);
}

const struct dd_wake_transport *dd_store_wake_transport(const char *location,
							struct dd_error *err)
{
	const struct store_backend *b =
		location && *location ? backend_of(location) : NULL;

	if (b && b->wake)
		return b->wake;
	if (err)
		refuse(location, b, err);
	return NULL;
}

int dd_store_open(const char *location, const struct dd_store_options *opt,
		  struct dd_store **out, struct dd_error *err)
{
	const struct store_backend *b = location ? backend_of(location) : NULL;
	struct dd_store_options def;
	char dir[PATH_MAX];
	int rc;

	*out = NULL;
	if (!location || !*location || !b || !b->ops)
		return refuse(location, b, err);
	if (!opt) {
		dd_store_options_from_env(&def);
		opt = &def;
	}
	rc = b->ops->open(location, opt, out, err);
	if (rc)
		return rc;
	if (opt->state_dir && *opt->state_dir)
		snprintf(dir, sizeof(dir), "%s", opt->state_dir);
	else
		dd_store_local_dir(location, dir, sizeof(dir));
	if ((dir[0] && !((*out)->state_dir = dd_strdup(dir))) ||
	    (opt->machine && !((*out)->machine = dd_strdup(opt->machine)))) {
		dd_store_close(*out);
		*out = NULL;
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	}
	return 0;
}

int dd_store_open_ready(const char *location,
			const struct dd_store_options *opt,
			struct dd_store **out, struct dd_error *err)
{
	struct dd_store_options existing;
	int current, newest, rc;

	if (!opt) {
		dd_store_options_from_env(&existing);
	} else {
		existing = *opt;
	}
	existing.must_exist = true;
	rc = dd_store_open(location, &existing, out, err);
	if (rc)
		return rc;
	rc = dd_store_schema_version(*out, &current, &newest, err);
	if (!rc && current != newest) {
		char buf[PATH_MAX];

		rc = dd_error_set(err, DD_ERR_STORE,
				  current < newest
					  ? "store '%s' has schema version %d, "
					    "this drydock needs %d: run "
					    "'drydock init'"
					  : "store '%s' has schema version %d, "
					    "newer than this drydock's %d",
				  shown(location, buf, sizeof(buf)), current,
				  newest);
	}
	if (rc) {
		dd_store_close(*out);
		*out = NULL;
	}
	return rc;
}

static _Atomic(void (*)(const struct dd_store_event *)) event_hook;

void dd_store_set_event_hook(void (*fn)(const struct dd_store_event *ev))
{
	atomic_store(&event_hook, fn);
}

/* Keep an event until its transaction ends (or send it, outside one). */
static void event_add(struct dd_store *s, const char *type,
		      long long blueprint, long long resource, long long lease,
		      long long target, const char *detail, double value)
{
	void (*fn)(const struct dd_store_event *) = atomic_load(&event_hook);
	struct dd_store_event *ev, one;

	if (!fn)
		return;
	if (s->depth == 0) {
		ev = &one;
	} else {
		if (s->n_events == s->alloc_events) {
			size_t n = s->alloc_events ? 2 * s->alloc_events : 8;
			void *p = dd_realloc(s->events, n * sizeof(*ev));

			if (!p)
				return; /* an event is news, not state */
			s->events = p;
			s->alloc_events = n;
		}
		ev = &s->events[s->n_events++];
	}
	memset(ev, 0, sizeof(*ev));
	snprintf(ev->type, sizeof(ev->type), "%s", type);
	ev->blueprint = blueprint;
	ev->resource = resource;
	ev->lease = lease;
	ev->target = target;
	snprintf(ev->detail, sizeof(ev->detail), "%.*s",
		 (int)strcspn(detail ? detail : "", ":"), detail ? detail : "");
	ev->value = value;
	if (ev == &one)
		fn(ev);
}

static void events_end(struct dd_store *s, bool committed)
{
	void (*fn)(const struct dd_store_event *) = atomic_load(&event_hook);

	if (committed && fn)
		for (size_t i = 0; i < s->n_events; i++)
			fn(&s->events[i]);
	s->n_events = 0;
}

void dd_store_close(struct dd_store *s)
{
	if (!s)
		return;
	dd_free(s->events);
	s->events = NULL;
	dd_free(s->state_dir);
	s->state_dir = NULL;
	dd_free(s->machine);
	s->machine = NULL;
	s->ops->close(s);
}

int dd_store_migrate(struct dd_store *s, struct dd_error *err)
{
	return s->ops->migrate(s, err);
}

int dd_store_schema_version(struct dd_store *s, int *current, int *newest,
			    struct dd_error *err)
{
	return s->ops->schema_version(s, current, newest, err);
}

int dd_store_health(struct dd_store *s, struct dd_error *err)
{
	return s->ops->health(s, err);
}

int dd_store_check(struct dd_store *s, struct dd_store_check *c,
		   struct dd_error *err)
{
	return s->ops->check(s, c, err);
}

int dd_store_begin(struct dd_store *s, struct dd_error *err)
{
	int rc;

	if (s->depth > 0) {
		s->depth++;
		return 0;
	}
	rc = injected_fault(err);
	if (!rc)
		rc = s->ops->begin(s, err);
	if (rc)
		return rc;
	s->depth = 1;
	s->failed = false;
	return 0;
}

int dd_store_begin_fenced(struct dd_store *s, const struct dd_lock_grant *grant,
			  struct dd_error *err)
{
	int rc = dd_store_begin(s, err);

	if (rc || !grant)
		return rc;
	rc = s->ops->fence_check(s, grant, dd_now(), err);
	if (rc)
		dd_store_rollback(s);
	return rc;
}

static int commit(struct dd_store *s, bool lazy, struct dd_error *err)
{
	int rc;

	assert(s->depth > 0);
	if (--s->depth > 0)
		return 0;
	if (s->failed) {
		s->ops->rollback(s);
		s->failed = false;
		events_end(s, false);
		return dd_error_set(err, DD_ERR_STORE,
				    "transaction rolled back by an inner level");
	}
	rc = lazy ? s->ops->commit_lazy(s, err) : s->ops->commit(s, err);
	events_end(s, rc == 0);
	return rc;
}

int dd_store_commit(struct dd_store *s, struct dd_error *err)
{
	return commit(s, false, err);
}

int dd_store_commit_lazy(struct dd_store *s, struct dd_error *err)
{
	return commit(s, true, err);
}

int dd_store_sync(struct dd_store *s, struct dd_error *err)
{
	int rc = injected_fault(err);

	assert(s->depth == 0);
	return rc ? rc : s->ops->sync(s, err);
}

void dd_store_sync_then(struct dd_store *s, dd_store_durable_fn *done,
			void *arg)
{
	struct dd_error err = DD_ERROR_INIT;
	int rc = injected_fault(&err);

	assert(s->depth == 0);
	if (rc)
		done(arg, rc, &err);
	else
		s->ops->sync_then(s, done, arg);
}

void dd_store_rollback(struct dd_store *s)
{
	/* after a failed begin there is nothing to roll back */
	if (s->depth == 0)
		return;
	if (--s->depth > 0) {
		s->failed = true;
		return;
	}
	s->failed = false;
	s->ops->rollback(s);
	events_end(s, false);
}

int dd_store_blueprint_insert(struct dd_store *s, struct dd_blueprint *bp,
			      struct dd_error *err)
{
	CALL(s, blueprint_insert, bp, err);
}

int dd_store_blueprint_update(struct dd_store *s, const struct dd_blueprint *bp,
			      struct dd_error *err)
{
	CALL(s, blueprint_update, bp, err);
}

int dd_store_blueprint_get(struct dd_store *s, long long id,
			   struct dd_blueprint *out, struct dd_error *err)
{
	CALL(s, blueprint_get, id, out, err);
}

int dd_store_blueprint_lock(struct dd_store *s, long long id,
			    struct dd_blueprint *out, struct dd_error *err)
{
	CALL(s, blueprint_lock, id, out, err);
}

int dd_store_blueprint_list(struct dd_store *s, const struct dd_filter *f,
			    struct dd_blueprint_list *out, struct dd_error *err)
{
	CALL(s, blueprint_list, f, out, err);
}

int dd_store_resource_insert(struct dd_store *s, struct dd_resource *r,
			     struct dd_error *err)
{
	CALL(s, resource_insert, r, err);
}

int dd_store_resource_update(struct dd_store *s, const struct dd_resource *r,
			     struct dd_error *err)
{
	CALL(s, resource_update, r, err);
}

int dd_store_resource_get(struct dd_store *s, long long id,
			  struct dd_resource *out, struct dd_error *err)
{
	CALL(s, resource_get, id, out, err);
}

int dd_store_resource_hold(struct dd_store *s, long long id,
			   struct dd_resource *out, struct dd_error *err)
{
	CALL(s, resource_hold, id, out, err);
}

int dd_store_resource_lock(struct dd_store *s, long long id,
			   struct dd_resource *out, struct dd_error *err)
{
	CALL(s, resource_lock, id, out, err);
}

int dd_store_resource_each(struct dd_store *s, const struct dd_filter *f,
			   dd_resource_visit_fn *fn, void *arg,
			   struct dd_error *err)
{
	CALL(s, resource_each, f, fn, arg, err);
}

static int push_resource(void *list, struct dd_resource *r,
			 struct dd_error *err)
{
	if (dd_resource_list_push(list, r))
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	return 0;
}

int dd_store_resource_list(struct dd_store *s, const struct dd_filter *f,
			   struct dd_resource_list *out, struct dd_error *err)
{
	bool was = s->gathering;
	int rc;

	s->gathering = true;
	rc = dd_store_resource_each(s, f, push_resource, out, err);
	s->gathering = was;

	if (rc)
		dd_resource_list_release(out);
	return rc;
}

int dd_store_lease_insert(struct dd_store *s, struct dd_lease *l,
			  struct dd_error *err)
{
	CALL(s, lease_insert, l, err);
}

int dd_store_lease_update(struct dd_store *s, const struct dd_lease *l,
			  struct dd_error *err)
{
	CALL(s, lease_update, l, err);
}

int dd_store_lease_get(struct dd_store *s, long long id, struct dd_lease *out,
		       struct dd_error *err)
{
	CALL(s, lease_get, id, out, err);
}

int dd_store_lease_waiting_hold(struct dd_store *s, long long id,
				bool *waiting, struct dd_error *err)
{
	CALL(s, lease_waiting_hold, id, waiting, err);
}

int dd_store_lease_each(struct dd_store *s, const struct dd_filter *f,
			dd_lease_visit_fn *fn, void *arg, struct dd_error *err)
{
	CALL(s, lease_each, f, fn, arg, err);
}

static int push_lease(void *list, struct dd_lease *l, struct dd_error *err)
{
	if (dd_lease_list_push(list, l))
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	return 0;
}

int dd_store_lease_list(struct dd_store *s, const struct dd_filter *f,
			struct dd_lease_list *out, struct dd_error *err)
{
	bool was = s->gathering;
	int rc;

	s->gathering = true;
	rc = dd_store_lease_each(s, f, push_lease, out, err);
	s->gathering = was;

	if (rc)
		dd_lease_list_release(out);
	return rc;
}

int dd_store_lease_count(struct dd_store *s, const struct dd_filter *f,
			 long long *out, struct dd_error *err)
{
	CALL(s, lease_count, f, out, err);
}

int dd_store_stats(struct dd_store *s, double now, struct dd_store_stats *out,
		   struct dd_error *err)
{
	CALL(s, stats, now, out, err);
}

int dd_store_target_insert(struct dd_store *s, struct dd_target *t,
			   struct dd_error *err)
{
	CALL(s, target_insert, t, err);
}

int dd_store_target_update(struct dd_store *s, const struct dd_target *t,
			   struct dd_error *err)
{
	CALL(s, target_update, t, err);
}

int dd_store_target_get(struct dd_store *s, long long id,
			struct dd_target *out, struct dd_error *err)
{
	CALL(s, target_get, id, out, err);
}

int dd_store_target_hold(struct dd_store *s, long long id,
			 struct dd_target *out, struct dd_error *err)
{
	CALL(s, target_hold, id, out, err);
}

int dd_store_target_lock(struct dd_store *s, long long id,
			 struct dd_target *out, struct dd_error *err)
{
	CALL(s, target_lock, id, out, err);
}

int dd_store_target_each(struct dd_store *s, const struct dd_filter *f,
			 dd_target_visit_fn *fn, void *arg,
			 struct dd_error *err)
{
	CALL(s, target_each, f, fn, arg, err);
}

static int push_target(void *list, struct dd_target *t, struct dd_error *err)
{
	if (dd_target_list_push(list, t))
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	return 0;
}

int dd_store_target_list(struct dd_store *s, const struct dd_filter *f,
			 struct dd_target_list *out, struct dd_error *err)
{
	bool was = s->gathering;
	int rc;

	s->gathering = true;
	rc = dd_store_target_each(s, f, push_target, out, err);
	s->gathering = was;

	if (rc)
		dd_target_list_release(out);
	return rc;
}

int dd_store_artifact_insert(struct dd_store *s, struct dd_artifact *a,
			     struct dd_error *err)
{
	CALL(s, artifact_insert, a, err);
}

int dd_store_artifact_get(struct dd_store *s, long long id,
			  struct dd_artifact *out, struct dd_error *err)
{
	CALL(s, artifact_get, id, out, err);
}

int dd_store_artifact_each(struct dd_store *s, const struct dd_filter *f,
			   dd_artifact_visit_fn *fn, void *arg,
			   struct dd_error *err)
{
	CALL(s, artifact_each, f, fn, arg, err);
}

static int push_artifact(void *list, struct dd_artifact *a,
			 struct dd_error *err)
{
	if (dd_artifact_list_push(list, a))
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	return 0;
}

int dd_store_artifact_list(struct dd_store *s, const struct dd_filter *f,
			   struct dd_artifact_list *out, struct dd_error *err)
{
	bool was = s->gathering;
	int rc;

	s->gathering = true;
	rc = dd_store_artifact_each(s, f, push_artifact, out, err);
	s->gathering = was;

	if (rc)
		dd_artifact_list_release(out);
	return rc;
}

int dd_store_artifact_release_all(struct dd_store *s, long long target,
				  long long *n, struct dd_error *err)
{
	CALL(s, artifact_release_all, target, n, err);
}

int dd_store_artifact_append(struct dd_store *s, long long id,
			     const void *data, size_t n, struct dd_error *err)
{
	if (n < 1 || n > DD_CHUNK_MAX)
		return dd_error_set(err, DD_ERR_INVALID,
				    "a chunk of artifact %lld holds 1 to %d "
				    "bytes, not %zu",
				    id, DD_CHUNK_MAX, n);
	CALL_IN_TXN(s, artifact_append, id, data, n, err);
}

int dd_store_artifact_complete(struct dd_store *s, long long id,
			       long long size, const char *sha256,
			       struct dd_error *err)
{
	size_t len = sha256 ? strspn(sha256, "0123456789abcdef") : 0;

	if (len != 64 || sha256[len])
		return dd_error_set(err, DD_ERR_INVALID,
				    "the hash of artifact %lld must be 64 "
				    "lower-case hex digits",
				    id);
	CALL_IN_TXN(s, artifact_complete, id, size, sha256, err);
}

int dd_store_artifact_read(struct dd_store *s, long long id, long long pos,
			   void *buf, size_t cap, size_t *n,
			   struct dd_error *err)
{
	*n = 0;
	if (pos < 0)
		return dd_error_set(err, DD_ERR_INVALID,
				    "cannot read artifact %lld at offset %lld",
				    id, pos);
	CALL(s, artifact_read, id, pos, buf, cap, n, err);
}

int dd_store_artifact_delete(struct dd_store *s, long long id,
			     struct dd_error *err)
{
	CALL_IN_TXN(s, artifact_delete, id, err);
}

int dd_store_artifact_prune(struct dd_store *s, double before, int max,
			    int *n, struct dd_error *err)
{
	*n = 0;
	CALL_IN_TXN(s, artifact_prune, before, max, n, err);
}

int dd_store_command_insert(struct dd_store *s, struct dd_command *c,
			    struct dd_error *err)
{
	CALL(s, command_insert, c, err);
}

int dd_store_command_list(struct dd_store *s, const struct dd_filter *f,
			  struct dd_command_list *out, struct dd_error *err)
{
	CALL(s, command_list, f, out, err);
}

int dd_store_command_consume(struct dd_store *s, long long id,
			     const char *outcome, double now,
			     struct dd_error *err)
{
	int rc = injected_fault(err);

	if (!rc)
		rc = s->ops->command_consume(s, id, outcome, now, err);
	if (!rc)
		event_add(s, "command.consumed", 0, 0, 0, 0, outcome, 0);
	return rc;
}

int dd_store_log_append(struct dd_store *s, struct dd_log_entry *e,
			struct dd_error *err)
{
	int rc = injected_fault(err);
	json_t *waited = json_object_get(e->data, "waited");

	if (!rc)
		rc = s->ops->log_append(s, e, err);
	if (!rc)
		event_add(s, e->type, e->blueprint, e->resource, e->lease,
			  e->target, NULL, json_number_value(waited));
	return rc;
}

int dd_store_log_list(struct dd_store *s, const struct dd_filter *f,
		      struct dd_log_entry_list *out, struct dd_error *err)
{
	CALL(s, log_list, f, out, err);
}

int dd_store_slot_acquire(struct dd_store *s, const char *const *keys,
			  size_t n, struct dd_ref owner, struct dd_error *err)
{
	CALL_IN_TXN(s, slot_acquire, keys, n, owner, err);
}

int dd_store_slot_release(struct dd_store *s, struct dd_ref owner,
			  struct dd_error *err)
{
	CALL(s, slot_release, owner, err);
}

int dd_store_slot_list(struct dd_store *s, const struct dd_filter *f,
		       struct dd_slot_lock_list *out, struct dd_error *err)
{
	CALL(s, slot_list, f, out, err);
}

int dd_store_task_schedule(struct dd_store *s, const char *kind,
			   struct dd_ref object, double not_before,
			   struct dd_error *err)
{
	char bound[DD_MACHINE_MAX + 1] = "";
	int rc = injected_fault(err);

	if (rc)
		return rc;
	assert(s->ops->version == DD_STORE_OPS_VERSION);
	rc = s->ops->task_schedule(s, kind, object, not_before, bound,
				   sizeof(bound), err);
	if (rc)
		return rc;
	s->scheduled++;
	if (bound[0] && !(s->machine && !strcmp(bound, s->machine)))
		s->away = true;
	return 0;
}

int dd_store_scheduled(struct dd_store *s, bool *away)
{
	int n = s->scheduled;

	*away = s->away;
	s->scheduled = 0;
	s->away = false;
	return n;
}

int dd_store_task_claim(struct dd_store *s, const char *worker,
			const char *machine, double now, double claim_ttl,
			struct dd_task *out, struct dd_error *err)
{
	out->next_due = -1; /* the backend says, if it looks */
	CALL(s, task_claim, worker, machine, now, claim_ttl, out, err);
}

int dd_store_task_finish(struct dd_store *s, const struct dd_task *t,
			 const char *outcome, double duration, double now,
			 const char *error, struct dd_error *err)
{
	CALL(s, task_finish, t, outcome, duration, now, error, err);
}

int dd_store_task_retry(struct dd_store *s, const struct dd_task *t,
			double not_before, int failures, const char *error,
			struct dd_error *err)
{
	CALL(s, task_retry, t, not_before, failures, error, err);
}

int dd_store_task_next_due(struct dd_store *s, const char *machine,
			   double *out, struct dd_error *err)
{
	CALL(s, task_next_due, machine, out, err);
}

int dd_store_task_list(struct dd_store *s, const struct dd_filter *f,
		       struct dd_task_list *out, struct dd_error *err)
{
	CALL(s, task_list, f, out, err);
}

int dd_store_task_archive_list(struct dd_store *s, const struct dd_filter *f,
			       struct dd_task_archive_list *out,
			       struct dd_error *err)
{
	CALL(s, task_archive_list, f, out, err);
}

int dd_store_lock_acquire(struct dd_store *s, const char *owner, double now,
			  double ttl, struct dd_lock_grant *grant,
			  struct dd_error *err)
{
	CALL(s, lock_acquire, owner, now, ttl, grant, err);
}

int dd_store_lock_release(struct dd_store *s, const struct dd_lock_grant *grant,
			  struct dd_error *err)
{
	CALL(s, lock_release, grant, err);
}

int dd_store_lock_renew(struct dd_store *s, const struct dd_lock_grant *grant,
			double now, double ttl, struct dd_error *err)
{
	CALL(s, lock_renew, grant, now, ttl, err);
}

int dd_store_task_renew(struct dd_store *s, const struct dd_task *t,
			double now, double ttl, struct dd_error *err)
{
	CALL(s, task_renew, t, now, ttl, err);
}

int dd_store_counter_get(struct dd_store *s, const char *name, long long *out,
			 struct dd_error *err)
{
	CALL(s, counter_get, name, out, err);
}

int dd_store_counter_bump(struct dd_store *s, const char *name,
			  struct dd_error *err)
{
	CALL(s, counter_bump, name, err);
}

int dd_store_counter_hold(struct dd_store *s, const char *name,
			  long long *out, struct dd_error *err)
{
	CALL(s, counter_hold, name, out, err);
}

int dd_store_token_insert(struct dd_store *s, struct dd_token *t,
			  struct dd_error *err)
{
	CALL(s, token_insert, t, err);
}

int dd_store_token_get(struct dd_store *s, long long id, struct dd_token *out,
		       struct dd_error *err)
{
	CALL(s, token_get, id, out, err);
}

int dd_store_token_get_by_name(struct dd_store *s, const char *name,
			       struct dd_token *out, struct dd_error *err)
{
	CALL(s, token_get_by_name, name, out, err);
}

int dd_store_token_get_by_hash(struct dd_store *s, const char *hash,
			       struct dd_token *out, struct dd_error *err)
{
	CALL(s, token_get_by_hash, hash, out, err);
}

int dd_store_token_list(struct dd_store *s, const struct dd_filter *f,
			struct dd_token_list *out, struct dd_error *err)
{
	CALL(s, token_list, f, out, err);
}

int dd_store_token_revoke(struct dd_store *s, long long id, double now,
			  struct dd_error *err)
{
	CALL(s, token_revoke, id, now, err);
}

int dd_store_token_touch(struct dd_store *s, long long id, double now,
			 struct dd_error *err)
{
	CALL(s, token_touch, id, now, err);
}

int dd_store_authorization_request(struct dd_store *s, long long blueprint,
				   const char *requester, double now,
				   struct dd_authorization *out,
				   struct dd_error *err)
{
	CALL_IN_TXN(s, authorization_request, blueprint, requester, now, out,
		    err);
}

int dd_store_authorization_get(struct dd_store *s, long long id,
			       struct dd_authorization *out,
			       struct dd_error *err)
{
	CALL(s, authorization_get, id, out, err);
}

int dd_store_authorization_list(struct dd_store *s, const struct dd_filter *f,
				struct dd_authorization_list *out,
				struct dd_error *err)
{
	CALL(s, authorization_list, f, out, err);
}

int dd_store_authorization_hold(struct dd_store *s, long long blueprint,
				const char *requester,
				enum dd_authorization_state *state,
				struct dd_error *err)
{
	assert(s->depth > 0); /* the lock lasts as long as the transaction */
	CALL(s, authorization_hold, blueprint, requester, state, err);
}

int dd_store_authorization_decide(struct dd_store *s,
				  const struct dd_authorization *a,
				  enum dd_authorization_state from,
				  struct dd_error *err)
{
	CALL(s, authorization_decide, a, from, err);
}

int dd_store_idem_get(struct dd_store *s, const char *caller, const char *key,
		      double since, struct dd_idem_record *out,
		      struct dd_error *err)
{
	CALL(s, idem_get, caller, key, since, out, err);
}

int dd_store_idem_insert(struct dd_store *s, const struct dd_idem_record *rec,
			 double since, struct dd_error *err)
{
	CALL(s, idem_insert, rec, since, err);
}

int dd_store_idem_prune(struct dd_store *s, double before, int max, int *n,
			struct dd_error *err)
{
	CALL(s, idem_prune, before, max, n, err);
}

int dd_store_log(struct dd_store *s, long long blueprint, long long resource,
		 long long lease, const char *type, json_t *data,
		 struct dd_error *err)
{
	struct dd_log_entry e = {0};
	int rc;

	e.blueprint = blueprint;
	e.resource = resource;
	e.lease = lease;
	e.type = (char *)type;
	e.time = dd_now();
	e.data = data;
	rc = dd_store_log_append(s, &e, err);
	json_decref(data);
	return rc;
}

int dd_store_target_log(struct dd_store *s, long long target,
			const char *type, json_t *data, struct dd_error *err)
{
	struct dd_log_entry e = {0};
	int rc;

	e.target = target;
	e.type = (char *)type;
	e.time = dd_now();
	e.data = data;
	rc = dd_store_log_append(s, &e, err);
	json_decref(data);
	return rc;
}

bool dd_store_local_dir(const char *location, char *buf, size_t n)
{
	const struct store_backend *b = backend_of(location);
	const char *slash = strrchr(location, '/');

	if (!b || !b->files) {
		if (n)
			buf[0] = '\0';
		return false;
	}
	if (!slash)
		snprintf(buf, n, ".");
	else if (slash == location)
		snprintf(buf, n, "/");
	else
		snprintf(buf, n, "%.*s", (int)(slash - location), location);
	return true;
}

const char *dd_store_state_dir(const struct dd_store *s, struct dd_error *err)
{
	char buf[PATH_MAX];

	if (!s->state_dir)
		dd_error_set(err, DD_ERR_INVALID,
			     "store '%.200s' has no directory on this machine "
			     "for drydock's state (ssh control sockets, "
			     "known_hosts files, host directories): give one "
			     "with --state-dir DIR or DRYDOCK_STATE_DIR",
			     shown(s->location, buf, sizeof(buf)));
	return s->state_dir;
}
