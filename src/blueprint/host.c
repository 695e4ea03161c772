/*
 * host.c - the "host" blueprint: a pool of machines named in its config.
 *
 *   {"hosts": [{"name": "a", "slots": 2}, {"name": "b"}],
 *    "root": "/var/lib/drydock/hosts"}
 *
 * Each host becomes at most one resource (slot lock
 * "blueprint:B:host:NAME"), and each resource takes up to `slots` leases at
 * once (slot locks "resource:R:slot:K").  A host without an `address` is
 * this machine: the resource gets a directory under `root` (default: a
 * "hosts" directory beside the store), each lease its own directory inside
 * it, removed when the lease is destroyed; commands run there.  Hosts with
 * an address (reached over SSH) are refused until SSH support lands; the
 * interface already has what they need (the exec hook gets the resource's
 * attributes).
 *
 * A lease may ask for one host by name with the attribute "host".
 */
#include "blueprint/blueprint.h"
#include "core/util.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_SLOTS 1024

static bool valid_name(const char *s)
{
	if (!*s || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!(('a' <= *s && *s <= 'z') || ('A' <= *s && *s <= 'Z') ||
		      ('0' <= *s && *s <= '9') || *s == '-' || *s == '_' ||
		      *s == '.'))
			return false;
	return true;
}

static int host_validate(const json_t *config, struct dd_error *err)
{
	const char *key;
	json_t *v, *hosts = json_object_get(config, "hosts");
	size_t i, j;

	json_object_foreach((json_t *)config, key, v)
	{
		if (strcmp(key, "hosts") && strcmp(key, "root"))
			return dd_error_set(err, DD_ERR_INVALID,
					    "host blueprint: unknown config "
					    "key '%s' (known: hosts, root)",
					    key);
	}
	v = json_object_get(config, "root");
	if (v && (!json_is_string(v) || json_string_value(v)[0] != '/'))
		return dd_error_set(err, DD_ERR_INVALID,
				    "host blueprint: 'root' must be an "
				    "absolute path");
	if (!json_is_array(hosts) || json_array_size(hosts) == 0)
		return dd_error_set(err, DD_ERR_INVALID,
				    "host blueprint: 'hosts' must be a "
				    "non-empty array of {\"name\": ...}");
	json_array_foreach(hosts, i, v)
	{
		json_t *name = json_object_get(v, "name");
		json_t *slots = json_object_get(v, "slots");
		const char *hk;
		json_t *hv;

		if (!json_is_object(v) || !json_is_string(name) ||
		    !valid_name(json_string_value(name)))
			return dd_error_set(err, DD_ERR_INVALID,
					    "host blueprint: host %zu needs a "
					    "'name' of letters, digits, '.', "
					    "'-' or '_'",
					    i);
		json_object_foreach(v, hk, hv)
		{
			if (!strcmp(hk, "address"))
				return dd_error_set(
					err, DD_ERR_INVALID,
					"host blueprint: host '%s' has an "
					"address; remote (SSH) hosts are not "
					"supported yet, only this machine",
					json_string_value(name));
			if (strcmp(hk, "name") && strcmp(hk, "slots"))
				return dd_error_set(
					err, DD_ERR_INVALID,
					"host blueprint: host '%s': unknown "
					"key '%s' (known: name, slots)",
					json_string_value(name), hk);
		}
		if (slots && (!json_is_integer(slots) ||
			      json_integer_value(slots) < 1 ||
			      json_integer_value(slots) > MAX_SLOTS))
			return dd_error_set(err, DD_ERR_INVALID,
					    "host blueprint: host '%s': "
					    "'slots' must be an integer from "
					    "1 to %d",
					    json_string_value(name), MAX_SLOTS);
		for (j = 0; j < i; j++) {
			json_t *other = json_array_get(hosts, j);

			if (!strcmp(json_string_value(json_object_get(
					    other, "name")),
				    json_string_value(name)))
				return dd_error_set(
					err, DD_ERR_INVALID,
					"host blueprint: host '%s' is named "
					"twice",
					json_string_value(name));
		}
	}
	return 0;
}

/* The lease's requested host name, or NULL for any. */
static const char *wanted_host(const struct dd_lease *lease)
{
	json_t *h = json_object_get(lease->attributes, "host");

	return json_is_string(h) ? json_string_value(h) : NULL;
}

static json_t *find_host(const json_t *config, const char *name)
{
	size_t i;
	json_t *h;

	json_array_foreach(json_object_get(config, "hosts"), i, h)
	{
		if (!strcmp(json_string_value(json_object_get(h, "name")),
			    name))
			return h;
	}
	return NULL;
}

static bool host_can_ever_allocate(const struct dd_bp_ctx *ctx,
				   const struct dd_lease *lease)
{
	const char *want = wanted_host(lease);

	return !want || find_host(ctx->blueprint->config, want);
}

static void host_root(const struct dd_bp_ctx *ctx, char *buf, size_t n)
{
	json_t *root = json_object_get(ctx->blueprint->config, "root");

	if (json_is_string(root))
		snprintf(buf, n, "%s", json_string_value(root));
	else
		snprintf(buf, n, "%s/hosts", ctx->state_dir);
}

static int host_allocate(const struct dd_bp_ctx *ctx,
			 const struct dd_lease *lease, size_t n,
			 struct dd_resource *r, struct dd_slot_keys *keys,
			 struct dd_error *err)
{
	json_t *hosts = json_object_get(ctx->blueprint->config, "hosts");
	const char *want = wanted_host(lease);
	json_t *h, *slots;
	const char *name;

	if (want) {
		if (n > 0 || !(h = find_host(ctx->blueprint->config, want)))
			return DD_ERR_NOTFOUND;
	} else {
		h = json_array_get(hosts, n);
		if (!h)
			return DD_ERR_NOTFOUND;
	}
	name = json_string_value(json_object_get(h, "name"));
	slots = json_object_get(h, "slots");
	r->attributes = json_pack("{s:s, s:I}", "host", name, "slots",
				  slots ? json_integer_value(slots) : 1);
	if (!r->attributes)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	return dd_slot_keys_add(keys, "blueprint:%lld:host:%s",
				ctx->blueprint->id, name);
}

static const char *attr_str(const json_t *attrs, const char *key)
{
	json_t *v = json_object_get(attrs, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int host_activate_resource(const struct dd_bp_ctx *ctx,
				  struct dd_resource *r, struct dd_error *err)
{
	char root[PATH_MAX], path[PATH_MAX + 64];

	host_root(ctx, root, sizeof(root));
	snprintf(path, sizeof(path), "%s/resource-%lld", root, r->id);
	if (dd_mkdir_p(path))
		return dd_error_set(err, DD_ERR_IO,
				    "cannot create host directory '%s': %s",
				    path, strerror(errno));
	json_object_set_new(r->attributes, "path", json_string(path));
	return 0;
}

static int host_destroy_resource(const struct dd_bp_ctx *ctx,
				 const struct dd_resource *r,
				 struct dd_error *err)
{
	const char *path = attr_str(r->attributes, "path");

	(void)ctx;
	if (path && dd_remove_tree(path))
		return dd_error_set(err, DD_ERR_IO,
				    "cannot remove host directory '%s': %s",
				    path, strerror(errno));
	return 0;
}

static bool host_can_acquire(const struct dd_bp_ctx *ctx,
			     const struct dd_resource *r,
			     const struct dd_lease *lease)
{
	const char *want = wanted_host(lease);
	const char *have = attr_str(r->attributes, "host");

	(void)ctx;
	return !want || (have && !strcmp(want, have));
}

static int host_acquire(const struct dd_bp_ctx *ctx,
			const struct dd_resource *r, struct dd_lease *lease,
			size_t n, struct dd_slot_keys *keys,
			struct dd_error *err)
{
	json_t *slots = json_object_get(r->attributes, "slots");
	long long max = json_is_integer(slots) ? json_integer_value(slots) : 1;

	(void)ctx;
	(void)err;
	(void)lease;
	if ((long long)n >= max)
		return DD_ERR_NOTFOUND;
	return dd_slot_keys_add(keys, "resource:%lld:slot:%zu", r->id, n);
}

static int host_activate_lease(const struct dd_bp_ctx *ctx,
			       const struct dd_resource *r,
			       struct dd_lease *lease, struct dd_error *err)
{
	const char *base = attr_str(r->attributes, "path");
	char path[PATH_MAX];

	(void)ctx;
	if (!base)
		return dd_error_set(err, DD_ERR_BROKEN,
				    "resource %lld has no directory", r->id);
	snprintf(path, sizeof(path), "%s/lease-%lld", base, lease->id);
	if (dd_mkdir_p(path))
		return dd_error_set(err, DD_ERR_IO,
				    "cannot create lease directory '%s': %s",
				    path, strerror(errno));
	json_object_set_new(lease->attributes, "path", json_string(path));
	json_object_set_new(lease->attributes, "host",
			    json_string(attr_str(r->attributes, "host")));
	return 0;
}

static int host_destroy_lease(const struct dd_bp_ctx *ctx,
			      const struct dd_resource *r,
			      struct dd_lease *lease, struct dd_error *err)
{
	const char *path = attr_str(lease->attributes, "path");

	(void)ctx;
	(void)r;
	if (path && dd_remove_tree(path))
		return dd_error_set(err, DD_ERR_IO,
				    "cannot remove lease directory '%s': %s",
				    path, strerror(errno));
	return 0;
}

/*
 * The child's environment: ours plus the lease's id and directory, which
 * the caller formats into `id` and `dir` (borrowed, not copied).
 */
static char **lease_environ(char *id, char *dir)
{
	extern char **environ;
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = dd_calloc(n + 3, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "DRYDOCK_LEASE=", 14) &&
		    strncmp(environ[i], "DRYDOCK_LEASE_PATH=", 19))
			env[k++] = environ[i];
	env[k++] = id;
	env[k] = dir;
	return env;
}

/*
 * Start the command with posix_spawn, which is safe in drydock's threaded
 * server where fork() followed by setenv() or printf() is not.
 */
static int host_spawn(const struct dd_bp_ctx *ctx, const struct dd_resource *r,
		      const struct dd_lease *lease, char *const argv[],
		      const struct dd_exec_io *io, pid_t *pid,
		      struct dd_error *err)
{
	const char *path = attr_str(lease->attributes, "path");
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	char id[48], dir[PATH_MAX + 32];
	sigset_t all, none;
	char **env;
	int rc;

	(void)ctx;
	(void)r;
	if (!path)
		return dd_error_set(err, DD_ERR_STATE,
				    "lease %lld has no working directory",
				    lease->id);
	if (access(path, X_OK))
		return dd_error_set(err, DD_ERR_IO,
				    "cannot enter lease %lld's directory "
				    "'%s': %s",
				    lease->id, path, strerror(errno));
	snprintf(id, sizeof(id), "DRYDOCK_LEASE=%lld", lease->id);
	snprintf(dir, sizeof(dir), "DRYDOCK_LEASE_PATH=%s", path);
	env = lease_environ(id, dir);
	if (!env)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	/* Signals start as a fresh process would have them. */
	sigfillset(&all);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(
		&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK |
			       (io->own_group ? POSIX_SPAWN_SETPGROUP : 0));
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawn_file_actions_addchdir_np(&fa, path);
	if (io->in >= 0)
		posix_spawn_file_actions_adddup2(&fa, io->in, 0);
	if (io->out >= 0)
		posix_spawn_file_actions_adddup2(&fa, io->out, 1);
	if (io->err >= 0)
		posix_spawn_file_actions_adddup2(&fa, io->err, 2);
	fflush(NULL);
	rc = posix_spawnp(pid, argv[0], &fa, &attr, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	dd_free(env);
	if (rc)
		return dd_error_set(err, rc == ENOENT ? DD_ERR_INVALID
						      : DD_ERR_IO,
				    "cannot run '%s' on lease %lld: %s",
				    argv[0], lease->id, strerror(rc));
	return 0;
}

static const struct dd_command_interface host_command = {
	.spawn = host_spawn,
};

const struct dd_blueprint_type dd_host_blueprint_type = {
	.version = DD_BLUEPRINT_TYPE_VERSION,
	.name = "host",
	.resource_type = "host",
	.summary = "a pool of hosts; hosts without an address are this machine",
	.validate = host_validate,
	.can_ever_allocate = host_can_ever_allocate,
	.allocate = host_allocate,
	.activate_resource = host_activate_resource,
	.destroy_resource = host_destroy_resource,
	.can_acquire = host_can_acquire,
	.acquire = host_acquire,
	.activate_lease = host_activate_lease,
	.release_lease = NULL,
	.destroy_lease = host_destroy_lease,
	.command = &host_command,
};
