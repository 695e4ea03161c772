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
#include "core/util.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const struct dd_blueprint_type *const dd_blueprint_types[] = {
	&dd_host_blueprint_type,
	NULL,
};

/*
 * To give every type a new config key, add its row here: the key is then
 * checked once, here, and accepted by every type's table.
 */
const struct dd_schema_field dd_bp_common_fields[] = {
	{.name = NULL},
};

const struct dd_blueprint_type *dd_blueprint_type_find(const char *name)
{
	for (size_t i = 0; dd_blueprint_types[i]; i++)
		if (!strcmp(dd_blueprint_types[i]->name, name))
			return dd_blueprint_types[i];
	return NULL;
}

bool dd_resource_type_known(const char *resource_type)
{
	for (size_t i = 0; dd_blueprint_types[i]; i++)
		if (!strcmp(dd_blueprint_types[i]->resource_type,
			    resource_type))
			return true;
	return false;
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

#define CHECK(t) assert((t)->version == DD_BLUEPRINT_TYPE_VERSION)

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

bool dd_bp_can_ever_allocate(const struct dd_blueprint_type *t,
			     const struct dd_bp_ctx *ctx,
			     const struct dd_lease *lease)
{
	CHECK(t);
	return t->can_ever_allocate ? t->can_ever_allocate(ctx, lease) : true;
}

int dd_bp_allocate(const struct dd_blueprint_type *t,
		   const struct dd_bp_ctx *ctx, const struct dd_lease *lease,
		   size_t n, struct dd_resource *r, struct dd_slot_keys *keys,
		   struct dd_error *err)
{
	CHECK(t);
	keys->n = 0;
	return t->allocate(ctx, lease, n, r, keys, err);
}

int dd_bp_activate_resource(const struct dd_blueprint_type *t,
			    const struct dd_bp_ctx *ctx, struct dd_resource *r,
			    struct dd_error *err)
{
	CHECK(t);
	trace("activate_resource", "resource", r->id);
	return t->activate_resource ? t->activate_resource(ctx, r, err) : 0;
}

int dd_bp_destroy_resource(const struct dd_blueprint_type *t,
			   const struct dd_bp_ctx *ctx,
			   const struct dd_resource *r, struct dd_error *err)
{
	CHECK(t);
	DD_CHAOS_POINT("destroy_resource");
	trace("destroy_resource", "resource", r->id);
	return t->destroy_resource ? t->destroy_resource(ctx, r, err) : 0;
}

bool dd_bp_can_acquire(const struct dd_blueprint_type *t,
		       const struct dd_bp_ctx *ctx, const struct dd_resource *r,
		       const struct dd_lease *lease)
{
	CHECK(t);
	return t->can_acquire ? t->can_acquire(ctx, r, lease) : true;
}

int dd_bp_acquire(const struct dd_blueprint_type *t,
		  const struct dd_bp_ctx *ctx, const struct dd_resource *r,
		  struct dd_lease *lease, size_t n, struct dd_slot_keys *keys,
		  struct dd_error *err)
{
	CHECK(t);
	keys->n = 0;
	return t->acquire(ctx, r, lease, n, keys, err);
}

int dd_bp_activate_lease(const struct dd_blueprint_type *t,
			 const struct dd_bp_ctx *ctx,
			 const struct dd_resource *r, struct dd_lease *lease,
			 struct dd_error *err)
{
	CHECK(t);
	trace("activate_lease", "lease", lease->id);
	return t->activate_lease ? t->activate_lease(ctx, r, lease, err) : 0;
}

int dd_bp_release_lease(const struct dd_blueprint_type *t,
			const struct dd_bp_ctx *ctx,
			const struct dd_resource *r, struct dd_lease *lease,
			struct dd_error *err)
{
	CHECK(t);
	DD_CHAOS_POINT("release_lease");
	trace("release_lease", "lease", lease->id);
	return t->release_lease ? t->release_lease(ctx, r, lease, err) : 0;
}

int dd_bp_destroy_lease(const struct dd_blueprint_type *t,
			const struct dd_bp_ctx *ctx,
			const struct dd_resource *r, struct dd_lease *lease,
			struct dd_error *err)
{
	CHECK(t);
	DD_CHAOS_POINT("destroy_lease");
	trace("destroy_lease", "lease", lease->id);
	return t->destroy_lease ? t->destroy_lease(ctx, r, lease, err) : 0;
}

int dd_bp_spawn(const struct dd_blueprint_type *t, const struct dd_bp_ctx *ctx,
		const struct dd_resource *r, const struct dd_lease *lease,
		char *const argv[], const struct dd_exec_io *io, pid_t *pid,
		struct dd_error *err)
{
	static const struct dd_exec_io inherit = {-1, -1, -1, false};

	CHECK(t);
	if (!t->command)
		return dd_error_set(err, DD_ERR_INVALID,
				    "blueprint type '%s' offers no command "
				    "interface",
				    t->name);
	if (!argv || !argv[0] || !argv[0][0])
		return dd_error_set(err, DD_ERR_INVALID, "no command to run");
	return t->command->spawn(ctx, r, lease, argv, io ? io : &inherit, pid,
				 err);
}
