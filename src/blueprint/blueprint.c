/*
 * blueprint.c - the registry of blueprint types and the wrappers through
 * which core code calls them.
 *
 * Hook tracing: when DRYDOCK_HOOK_TRACE names a file, every activate,
 * release and destroy hook invocation appends one line "HOOK KIND ID" to it
 * with a single O_APPEND write.  Operators use it to audit teardown; the race and
 * crash tests use it to count that each hook ran exactly once.
 */
#include "blueprint/blueprint.h"
#include "blueprint/files_posix.h"
#include "blueprint/prewarm.h"
#include "core/util.h"
#include "store/store.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(t) assert((t)->version == DD_BLUEPRINT_TYPE_VERSION)

const struct dd_blueprint_type *const dd_blueprint_types[] = {
	&dd_host_blueprint_type,
	&dd_exec_blueprint_type,
	&dd_working_copy_blueprint_type,
	NULL,
};

/*
 * To give every type a new config key, add its row here: the key is then
 * checked once, here, and accepted by every type's table.
 */
/* "timeouts": seconds each operation hook may take (DD_BP_HOOK_MAP). */
static const struct dd_schema_field timeout_fields[] = {
#define DD_BP_TIMEOUT_ROW(hook, text)                                          \
	{.name = text,                                                         \
	 .type = DD_SCHEMA_NUMBER,                                             \
	 .what = "a number of seconds from 0.001 to 604800",                   \
	 .min_number = 0.001,                                                  \
	 .max_number = 604800},
	DD_BP_HOOK_MAP(DD_BP_TIMEOUT_ROW)
#undef DD_BP_TIMEOUT_ROW
	{.name = NULL},
};

/* "authorization": whether requesters need approval (auth/authorization.h) */
static const char *const authorization_values[] = {"none", "required", NULL};

const struct dd_schema_field dd_bp_common_fields[] = {
	{.name = "timeouts",
	 .type = DD_SCHEMA_OBJECT,
	 .what = "an object of seconds per hook",
	 .fields = timeout_fields},
	/* pre-warmed pools (blueprint/prewarm.h) */
	{.name = "min_ready",
	 .type = DD_SCHEMA_INTEGER,
	 .min = 0,
	 .max = DD_PREWARM_MAX},
	{.name = "max_idle",
	 .type = DD_SCHEMA_INTEGER,
	 .min = 0,
	 .max = DD_PREWARM_MAX,
	 .check = dd_prewarm_check_max_idle},
	{.name = "idle_ttl",
	 .type = DD_SCHEMA_INTEGER,
	 .what = "a number of seconds from 1 to 315360000 (ten years)",
	 .min = 1,
	 .max = DD_PREWARM_TTL_MAX},
	{.name = "authorization",
	 .type = DD_SCHEMA_STRING,
	 .values = authorization_values},
	{.name = NULL},
};

/* Fakes a test registered (dd_blueprint_type_add_for_tests), NULL-ended. */
static const struct dd_blueprint_type *test_types[4];

const struct dd_blueprint_type *dd_blueprint_type_find(const char *name)
{
	for (size_t i = 0; dd_blueprint_types[i]; i++)
		if (!strcmp(dd_blueprint_types[i]->name, name))
			return dd_blueprint_types[i];
	for (size_t i = 0; test_types[i]; i++)
		if (!strcmp(test_types[i]->name, name))
			return test_types[i];
	return NULL;
}

int dd_blueprint_type_add_for_tests(const struct dd_blueprint_type *t)
{
	size_t i = 0;

	if (dd_blueprint_type_find(t->name))
		return DD_ERR_EXISTS;
	while (test_types[i])
		i++;
	if (i + 1 >= sizeof(test_types) / sizeof(*test_types))
		return DD_ERR_INVALID;
	test_types[i] = t;
	return 0;
}

const char *dd_bp_resource_type(const struct dd_blueprint_type *t,
				const json_t *config)
{
	const char *type;

	CHECK(t);
	if (t->resource_type)
		return t->resource_type;
	type = t->resource_type_of ? t->resource_type_of(config) : NULL;
	return type ? type : "";
}

bool dd_resource_type_known(struct dd_store *s, const char *resource_type)
{
	struct dd_blueprint_list all = {0};
	struct dd_filter f = {0};
	bool known = false;

	for (size_t i = 0; dd_blueprint_types[i]; i++)
		if (dd_blueprint_types[i]->resource_type &&
		    !strcmp(dd_blueprint_types[i]->resource_type,
			    resource_type))
			return true;
	for (size_t i = 0; test_types[i]; i++)
		if (test_types[i]->resource_type &&
		    !strcmp(test_types[i]->resource_type, resource_type))
			return true;
	/* a type named by configs: is there a blueprint that names it? */
	if (dd_store_blueprint_list(s, &f, &all, NULL))
		return false;
	for (size_t i = 0; i < all.n && !known; i++) {
		const struct dd_blueprint_type *t =
			dd_blueprint_type_find(all.items[i].type);

		known = t && !strcmp(dd_bp_resource_type(t, all.items[i].config),
				     resource_type);
	}
	dd_blueprint_list_release(&all);
	return known;
}

static const char *const hook_names[] = {
#define DD_BP_HOOK_NAME(name, text) text,
	DD_BP_HOOK_MAP(DD_BP_HOOK_NAME)
#undef DD_BP_HOOK_NAME
};

const char *dd_bp_hook_name(enum dd_bp_hook h)
{
	return (unsigned)h < DD_BP_HOOK_COUNT ? hook_names[h] : "?";
}

/* Seconds hook `h` of blueprint ctx->blueprint of type `t` may take. */
static double hook_timeout(const struct dd_blueprint_type *t,
			   const struct dd_bp_ctx *ctx, enum dd_bp_hook h)
{
	const json_t *timeouts =
		ctx->blueprint ? json_object_get(ctx->blueprint->config,
						 "timeouts")
			       : NULL;
	json_t *v = json_object_get(timeouts, hook_names[h]);

	if (json_is_number(v) && json_number_value(v) > 0)
		return json_number_value(v);
	return t->timeouts[h] > 0 ? t->timeouts[h] : DD_BP_TIMEOUT;
}

/* One call of operation hook `hook`: its context, with its deadline. */
struct op {
	enum dd_bp_hook hook;
	double timeout;
	struct dd_bp_ctx ctx;
};

/*
 * Set up the call: the caller's context with the hook's deadline, which
 * counts from the operation's start (ctx->started, across resumes), and
 * a blank answer to "in progress".  False when the deadline has passed
 * already: an operation resumed at its deadline is not called again.
 */
static bool op_begin(struct op *o, const struct dd_blueprint_type *t,
		     const struct dd_bp_ctx *ctx, enum dd_bp_hook hook)
{
	o->hook = hook;
	o->timeout = hook_timeout(t, ctx, hook);
	o->ctx = *ctx;
	o->ctx.deadline =
		(ctx->started > 0 ? ctx->started : dd_now()) + o->timeout;
	if (o->ctx.resume) {
		o->ctx.resume->at = 0;
		o->ctx.resume->on = (struct dd_ref){DD_OBJ_NONE, 0};
		o->ctx.resume->deadline = o->ctx.deadline;
	}
	return dd_now() < o->ctx.deadline;
}

/*
 * What the hook returned, `rc`, unless it returned at or after its
 * deadline: then it failed, whatever it says, since the operation it was
 * given time for is late (its programs were stopped at the deadline).
 */
static int op_end(const struct op *o, int rc, struct dd_error *err)
{
	if (dd_now() < o->ctx.deadline)
		return rc;
	return dd_error_set(err, DD_ERR_TIMEOUT, "%s timed out after %g s",
			    hook_names[o->hook], o->timeout);
}

/* A decision hook's context: a short deadline, for form's sake. */
static struct dd_bp_ctx decide_ctx(const struct dd_bp_ctx *ctx)
{
	struct dd_bp_ctx c = *ctx;

	c.deadline = dd_now() + DD_BP_DECIDE_TIMEOUT;
	return c;
}

void dd_bp_exec_options(const struct dd_bp_ctx *ctx, struct dd_exec_options *o)
{
	double left = ctx->deadline > 0 ? ctx->deadline - dd_now() : 0;

	o->timeout = ctx->deadline <= 0 ? 0 : left > 0.001 ? left : 0.001;
	o->grace = DD_EXEC_GRACE;
	o->cancel_fd = ctx->cancel_fd;
	o->null_input = true;
}

int dd_bp_handle_init(struct dd_bp_handle *h, struct dd_blueprint *bp,
		      struct dd_store *store, const char *state_dir,
		      struct dd_error *err)
{
	memset(h, 0, sizeof(*h));
	h->bp = *bp;
	memset(bp, 0, sizeof(*bp));
	h->type = dd_blueprint_type_find(h->bp.type);
	if (!h->type) {
		int rc = dd_error_set(err, DD_ERR_INVALID,
				      "blueprint %lld has unknown type '%s'",
				      h->bp.id, h->bp.type);

		dd_blueprint_release(&h->bp);
		return rc;
	}
	h->ctx.store = store;
	h->ctx.blueprint = &h->bp;
	h->ctx.state_dir = state_dir;
	h->ctx.cancel_fd = -1; /* a worker sets its own */
	return 0;
}

int dd_bp_handle_load(struct dd_bp_handle *h, struct dd_store *store,
		      const char *state_dir, long long id,
		      struct dd_error *err)
{
	struct dd_blueprint bp = {0};
	int rc;

	memset(h, 0, sizeof(*h));
	rc = dd_store_blueprint_get(store, id, &bp, err);
	if (rc) {
		dd_blueprint_release(&bp);
		return rc;
	}
	return dd_bp_handle_init(h, &bp, store, state_dir, err);
}

void dd_bp_handle_release(struct dd_bp_handle *h)
{
	dd_blueprint_release(&h->bp);
}

int dd_slot_keys_add(struct dd_slot_keys *k, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (k->n >= DD_MAX_SLOT_KEYS)
		return DD_ERR_INVALID;
	va_start(ap, fmt);
	n = vsnprintf(k->key[k->n], sizeof(k->key[0]), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(k->key[0]))
		return DD_ERR_INVALID;
	k->n++;
	return 0;
}

static void trace(const char *hook, const char *kind, long long id)
{
	const char *path = getenv("DRYDOCK_HOOK_TRACE");
	char line[128];
	int fd, n;

	if (!path || !*path)
		return;
	n = snprintf(line, sizeof(line), "%s %s %lld\n", hook, kind, id);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)n) != n) {
		/* tracing is best effort; the hook itself goes on */
	}
	close(fd);
}

int dd_bp_validate(const struct dd_blueprint_type *t, const json_t *config,
		   struct dd_error *err)
{
	static const struct dd_schema_field none[] = {{.name = NULL}};
	const struct dd_schema_field *const tables[] = {
		dd_bp_common_fields, t->config_fields ? t->config_fields : none,
		NULL};
	int rc;

	CHECK(t);
	if (!json_is_object(config))
		return dd_error_set(err, DD_ERR_INVALID,
				    "blueprint config must be a JSON object");
	rc = dd_schema_check_tables(config, tables, "config", err);
	if (!rc && t->validate)
		rc = t->validate(config, err);
	return rc;
}

int dd_bp_validate_refs(const struct dd_blueprint_type *t, struct dd_store *s,
			const json_t *config, struct dd_error *err)
{
	CHECK(t);
	return t->validate_refs ? t->validate_refs(s, config, err) : 0;
}

/* The type's lease_fields, for each registered type building the type. */
static int check_lease_with(const struct dd_blueprint_type *t,
			    const char *resource_type,
			    const json_t *attributes, struct dd_error *err)
{
	json_t *none;
	int rc;

	if (!t->lease_fields || !t->resource_type ||
	    strcmp(t->resource_type, resource_type))
		return 0;
	if (attributes)
		return dd_schema_check(attributes, t->lease_fields,
				       "lease attributes", err);
	/* no attributes: {} (its required keys are missing) */
	none = json_object();
	if (!none)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	rc = dd_schema_check(none, t->lease_fields, "lease attributes", err);
	json_decref(none);
	return rc;
}

int dd_bp_check_lease(const char *resource_type, const json_t *attributes,
		      struct dd_error *err)
{
	int rc = 0;

	for (size_t i = 0; !rc && dd_blueprint_types[i]; i++)
		rc = check_lease_with(dd_blueprint_types[i], resource_type,
				      attributes, err);
	for (size_t i = 0; !rc && test_types[i]; i++)
		rc = check_lease_with(test_types[i], resource_type,
				      attributes, err);
	return rc;
}

double dd_bp_reclaim_grace(const struct dd_blueprint_type *t,
			   const json_t *config)
{
	json_t *v = json_object_get(config, "reclaim_grace");

	if (json_is_number(v))
		return json_number_value(v);
	return t ? t->reclaim_grace : 0;
}

bool dd_bp_can_ever_allocate(const struct dd_blueprint_type *t,
			     const struct dd_bp_ctx *ctx,
			     const struct dd_lease *lease)
{
	struct dd_bp_ctx c = decide_ctx(ctx);

	CHECK(t);
	return t->can_ever_allocate ? t->can_ever_allocate(&c, lease) : true;
}

int dd_bp_allocate(const struct dd_blueprint_type *t,
		   const struct dd_bp_ctx *ctx, const struct dd_lease *lease,
		   size_t n, struct dd_resource *r, struct dd_slot_keys *keys,
		   struct dd_error *err)
{
	struct dd_bp_ctx c = decide_ctx(ctx);

	CHECK(t);
	keys->n = 0;
	return t->allocate(&c, lease, n, r, keys, err);
}

int dd_bp_activate_resource(const struct dd_blueprint_type *t,
			    const struct dd_bp_ctx *ctx, struct dd_resource *r,
			    struct dd_error *err)
{
	struct op o;

	CHECK(t);
	trace("activate_resource", "resource", r->id);
	if (!t->activate_resource)
		return 0;
	if (!op_begin(&o, t, ctx, DD_BP_HOOK_ACTIVATE_RESOURCE))
		return op_end(&o, 0, err);
	return op_end(&o, t->activate_resource(&o.ctx, r, err), err);
}

int dd_bp_check_resource(const struct dd_blueprint_type *t,
			 const struct dd_bp_ctx *ctx,
			 const struct dd_resource *r, double *next,
			 struct dd_error *err)
{
	struct op o;

	CHECK(t);
	*next = 0;
	if (!t->check_resource)
		return 0;
	if (!op_begin(&o, t, ctx, DD_BP_HOOK_CHECK_RESOURCE))
		return op_end(&o, 0, err);
	return op_end(&o, t->check_resource(&o.ctx, r, next, err), err);
}

int dd_bp_destroy_resource(const struct dd_blueprint_type *t,
			   const struct dd_bp_ctx *ctx, struct dd_resource *r,
			   struct dd_error *err)
{
	struct op o;

	CHECK(t);
	DD_CHAOS_POINT("destroy_resource");
	trace("destroy_resource", "resource", r->id);
	if (!t->destroy_resource)
		return 0;
	if (!op_begin(&o, t, ctx, DD_BP_HOOK_DESTROY_RESOURCE))
		return op_end(&o, 0, err);
	return op_end(&o, t->destroy_resource(&o.ctx, r, err), err);
}

bool dd_bp_machine_bound(const struct dd_blueprint_type *t,
			 const struct dd_bp_ctx *ctx,
			 const struct dd_resource *r)
{
	struct dd_bp_ctx c = decide_ctx(ctx);

	CHECK(t);
	return t->machine_bound ? t->machine_bound(&c, r) : false;
}

bool dd_bp_can_acquire(const struct dd_blueprint_type *t,
		       const struct dd_bp_ctx *ctx, const struct dd_resource *r,
		       const struct dd_lease *lease)
{
	struct dd_bp_ctx c = decide_ctx(ctx);

	CHECK(t);
	return t->can_acquire ? t->can_acquire(&c, r, lease) : true;
}

int dd_bp_acquire(const struct dd_blueprint_type *t,
		  const struct dd_bp_ctx *ctx, const struct dd_resource *r,
		  struct dd_lease *lease, size_t n, struct dd_slot_keys *keys,
		  struct dd_error *err)
{
	struct dd_bp_ctx c = decide_ctx(ctx);

	CHECK(t);
	keys->n = 0;
	return t->acquire(&c, r, lease, n, keys, err);
}

int dd_bp_activate_lease(const struct dd_blueprint_type *t,
			 const struct dd_bp_ctx *ctx,
			 const struct dd_resource *r, struct dd_lease *lease,
			 struct dd_error *err)
{
	struct op o;

	CHECK(t);
	trace("activate_lease", "lease", lease->id);
	if (!t->activate_lease)
		return 0;
	if (!op_begin(&o, t, ctx, DD_BP_HOOK_ACTIVATE_LEASE))
		return op_end(&o, 0, err);
	return op_end(&o, t->activate_lease(&o.ctx, r, lease, err), err);
}

int dd_bp_release_lease(const struct dd_blueprint_type *t,
			const struct dd_bp_ctx *ctx,
			const struct dd_resource *r, struct dd_lease *lease,
			struct dd_error *err)
{
	struct op o;

	CHECK(t);
	DD_CHAOS_POINT("release_lease");
	trace("release_lease", "lease", lease->id);
	if (!t->release_lease)
		return 0;
	if (!op_begin(&o, t, ctx, DD_BP_HOOK_RELEASE_LEASE))
		return op_end(&o, 0, err);
	return op_end(&o, t->release_lease(&o.ctx, r, lease, err), err);
}

int dd_bp_destroy_lease(const struct dd_blueprint_type *t,
			const struct dd_bp_ctx *ctx,
			const struct dd_resource *r, struct dd_lease *lease,
			struct dd_error *err)
{
	struct op o;

	CHECK(t);
	DD_CHAOS_POINT("destroy_lease");
	trace("destroy_lease", "lease", lease->id);
	if (!t->destroy_lease)
		return 0;
	if (!op_begin(&o, t, ctx, DD_BP_HOOK_DESTROY_LEASE))
		return op_end(&o, 0, err);
	return op_end(&o, t->destroy_lease(&o.ctx, r, lease, err), err);
}

int dd_bp_spawn(const struct dd_blueprint_type *t, const struct dd_bp_ctx *ctx,
		const struct dd_resource *r, const struct dd_lease *lease,
		char *const argv[], char *const env[],
		const struct dd_exec_io *io, pid_t *pid, struct dd_error *err)
{
	static const struct dd_exec_io inherit = {-1, -1, -1, false, NULL};

	CHECK(t);
	if (!t->command)
		return dd_error_set(err, DD_ERR_INVALID,
				    "blueprint type '%s' offers no command "
				    "interface",
				    t->name);
	if (!argv || !argv[0] || !argv[0][0])
		return dd_error_set(err, DD_ERR_INVALID, "no command to run");
	if (dd_exec_env_check(env, err))
		return err->code;
	return t->command->spawn(ctx, r, lease, argv, env,
				 io ? io : &inherit, pid, err);
}

void dd_file_list_release(struct dd_file_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		dd_free(l->entries[i].name);
	dd_free(l->entries);
	l->entries = NULL;
	l->n = 0;
}

/* The wrappers' check of a path, common to every files method. */
static int file_path_check(const struct dd_blueprint_type *t, const char *path,
			   struct dd_error *err)
{
	CHECK(t);
	if (!path || !path[0])
		return dd_error_set(err, DD_ERR_INVALID, "no path given");
	if (strlen(path) > DD_FILE_PATH_MAX)
		return dd_error_set(err, DD_ERR_INVALID,
				    "path '%.64s...' is longer than %d bytes",
				    path, DD_FILE_PATH_MAX);
	return 0;
}

/* The type's own method if it has one, else the generic POSIX one. */
#define FILES_CALL(method, ...)                                               \
	(t->files && t->files->method ? t->files->method(__VA_ARGS__)         \
				      : dd_files_posix_##method(t, __VA_ARGS__))

int dd_bp_file_read(const struct dd_blueprint_type *t,
		    const struct dd_bp_ctx *ctx, const struct dd_resource *r,
		    const struct dd_lease *lease, const char *path, int out,
		    const struct dd_file_options *o, struct dd_error *err)
{
	if (file_path_check(t, path, err))
		return err->code;
	return FILES_CALL(read, ctx, r, lease, path, out, o, err);
}

int dd_bp_file_write(const struct dd_blueprint_type *t,
		     const struct dd_bp_ctx *ctx, const struct dd_resource *r,
		     const struct dd_lease *lease, const char *path,
		     unsigned mode, int in, const struct dd_file_options *o,
		     struct dd_error *err)
{
	if (file_path_check(t, path, err))
		return err->code;
	return FILES_CALL(write, ctx, r, lease, path, mode & 07777, in, o,
			  err);
}

int dd_bp_file_read_tree(const struct dd_blueprint_type *t,
			 const struct dd_bp_ctx *ctx,
			 const struct dd_resource *r,
			 const struct dd_lease *lease, const char *path,
			 int out, const struct dd_file_options *o,
			 struct dd_error *err)
{
	if (file_path_check(t, path, err))
		return err->code;
	return FILES_CALL(read_tree, ctx, r, lease, path, out, o, err);
}

int dd_bp_file_write_tree(const struct dd_blueprint_type *t,
			  const struct dd_bp_ctx *ctx,
			  const struct dd_resource *r,
			  const struct dd_lease *lease, const char *path,
			  int in, const struct dd_file_options *o,
			  struct dd_error *err)
{
	if (file_path_check(t, path, err))
		return err->code;
	return FILES_CALL(write_tree, ctx, r, lease, path, in, o, err);
}

int dd_bp_file_list(const struct dd_blueprint_type *t,
		    const struct dd_bp_ctx *ctx, const struct dd_resource *r,
		    const struct dd_lease *lease, const char *path,
		    struct dd_file_list *out, const struct dd_file_options *o,
		    struct dd_error *err)
{
	if (file_path_check(t, path, err))
		return err->code;
	out->entries = NULL;
	out->n = 0;
	return FILES_CALL(list, ctx, r, lease, path, out, o, err);
}
