/*
 * host_ssh.c - the host blueprint's remote hosts (host_ssh.h): each hook
 * is one ssh call, through the host's shared master connection, with the
 * hook's deadline and cancel.  Where host keys are checked: the blueprint's
 * "known_hosts" if the operator gives one (never written), else a file
 * drydock keeps per blueprint, STATE/ssh/known_hosts-BLUEPRINT, that the
 * first contact with each host fills; a host with a "host_key" has a file
 * of its own holding just that key.
 */
#include "blueprint/host_ssh.h"
#include "blueprint/ssh.h"
#include "core/util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* An endpoint and the paths it borrows. */
struct remote {
	struct dd_ssh_endpoint ep;
	char known_hosts[PATH_MAX + 160];
	char control_dir[PATH_MAX];
};

static const char *attr_str(const json_t *attrs, const char *key)
{
	json_t *v = json_object_get(attrs, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

bool dd_host_ssh_is_remote(const struct dd_resource *r)
{
	return attr_str(r->attributes, "address") != NULL;
}

int dd_host_ssh_check_host(const json_t *host, struct dd_error *err)
{
	const char *key = attr_str(host, "key");

	if (!attr_str(host, "user"))
		return dd_error_set(err, DD_ERR_INVALID,
				    "a host with an 'address' needs a 'user'");
	if (!key)
		return dd_error_set(err, DD_ERR_INVALID,
				    "a host with an 'address' needs a 'key' "
				    "(a private key file)");
	return dd_ssh_key_check(key, "key", err);
}

int dd_host_ssh_allocate(const json_t *host, json_t *attributes,
			 struct dd_error *err)
{
	static const char *const copy[] = {"address", "port", "user",
					   "key",     "root", "host_key"};

	for (size_t i = 0; i < sizeof(copy) / sizeof(*copy); i++) {
		json_t *v = json_object_get(host, copy[i]);

		if (v && json_object_set(attributes, copy[i], v))
			return dd_error_set(err, DD_ERR_NOMEM,
					    "out of memory");
	}
	return 0;
}

/* The known_hosts file of its own that a host with a "host_key" has. */
static void own_known_hosts(const struct dd_bp_ctx *ctx,
			    const struct dd_resource *r, char *path,
			    size_t size)
{
	snprintf(path, size, "%s/ssh/known_hosts-%lld-%s", ctx->state_dir,
		 ctx->blueprint->id, attr_str(r->attributes, "host"));
}

int dd_host_ssh_forget(const struct dd_bp_ctx *ctx, const struct dd_resource *r,
		       struct dd_error *err)
{
	char path[PATH_MAX + 160];

	if (!attr_str(r->attributes, "host_key") ||
	    !attr_str(r->attributes, "host"))
		return 0;
	own_known_hosts(ctx, r, path, sizeof(path));
	if (unlink(path) && errno != ENOENT)
		return dd_error_set(err, DD_ERR_IO, "cannot remove '%s': %s",
				    path, strerror(errno));
	return 0;
}

/* The endpoint of resource `r`, its files made ready. */
static int remote_get(const struct dd_bp_ctx *ctx, const struct dd_resource *r,
		      struct remote *rm, struct dd_error *err)
{
	const json_t *cfg = ctx->blueprint->config;
	const char *given = attr_str(cfg, "known_hosts");
	json_t *port = json_object_get(r->attributes, "port");
	char dir[PATH_MAX];
	int rc;

	memset(rm, 0, sizeof(*rm));
	rm->ep.address = attr_str(r->attributes, "address");
	rm->ep.port = json_is_integer(port) ? (int)json_integer_value(port) : 0;
	rm->ep.user = attr_str(r->attributes, "user");
	rm->ep.key = attr_str(r->attributes, "key");
	rm->ep.host_key = attr_str(r->attributes, "host_key");
	if (!rm->ep.address || !rm->ep.user || !rm->ep.key)
		return dd_error_set(err, DD_ERR_BROKEN,
				    "resource %lld lacks its host's address, "
				    "user or key",
				    r->id);
	snprintf(dir, sizeof(dir), "%s/ssh", ctx->state_dir);
	rc = dd_ssh_private_dir(dir, err);
	if (!rc && rm->ep.host_key)
		own_known_hosts(ctx, r, rm->known_hosts,
				sizeof(rm->known_hosts));
	else if (!rc && given)
		snprintf(rm->known_hosts, sizeof(rm->known_hosts), "%s", given);
	else if (!rc)
		snprintf(rm->known_hosts, sizeof(rm->known_hosts),
			 "%s/known_hosts-%lld", dir, ctx->blueprint->id);
	rm->ep.known_hosts = rm->known_hosts;
	rm->ep.known_hosts_given = given && !rm->ep.host_key;
	if (!rc)
		rc = dd_ssh_control_dir(ctx->state_dir, rm->control_dir,
					sizeof(rm->control_dir), err);
	rm->ep.control_dir = rm->control_dir;
	if (!rc)
		rc = dd_ssh_key_check(rm->ep.key, "key", err);
	return rc;
}

/*
 * Run `argv` on the resource's host for a hook; its stdout in *out (may
 * be NULL).  A failure of ssh, or of the command (its stderr quoted), is
 * an error saying `what` failed: DD_ERR_REMOTE when the host could not
 * be reached or would not let us in (any failure of ssh itself, or no
 * answer in time), the host's failure (blueprint.h); DD_ERR_IO when the
 * command ran there and failed.
 */
static int remote_run(const struct dd_bp_ctx *ctx, const struct dd_resource *r,
		      char *const argv[], const char *what, struct dd_buf *out,
		      struct dd_error *err)
{
	struct dd_ssh_command cmd = {NULL, NULL, argv, false, false};
	struct dd_exec_options o = {0};
	struct dd_exec_result res;
	struct remote rm;
	int rc = remote_get(ctx, r, &rm, err);

	if (rc)
		return rc;
	dd_bp_exec_options(ctx, &o);
	rc = dd_ssh_run(&rm.ep, &cmd, &o, &res, NULL, err);
	if (!rc && res.exit_status) {
		size_t n = res.err.len;

		while (n && (res.err.buf[n - 1] == '\n' ||
			     res.err.buf[n - 1] == '\r'))
			n--;
		rc = dd_error_set(err, DD_ERR_IO,
				  "cannot %s on host '%s' (%s:%d): exit "
				  "status %d: %.*s",
				  what, attr_str(r->attributes, "host"),
				  rm.ep.address, rm.ep.port ? rm.ep.port : 22,
				  res.exit_status, (int)(n > 300 ? 300 : n),
				  n ? res.err.buf : "");
	}
	if (!rc && out) {
		*out = res.out;
		memset(&res.out, 0, sizeof(res.out));
	}
	dd_exec_result_release(&res);
	return rc;
}

/*
 * The resource's directory: made under the host's root (relative to the
 * login's home when not absolute), and reported back as the host resolves
 * it.
 */
int dd_host_ssh_activate_resource(const struct dd_bp_ctx *ctx,
				  struct dd_resource *r, struct dd_error *err)
{
	const char *root = attr_str(r->attributes, "root");
	char dir[PATH_MAX];
	char *argv[] = {"sh", "-c",
			"mkdir -p -- \"$1\" && cd -- \"$1\" && pwd -P", "sh",
			dir, NULL};
	struct dd_buf out = DD_BUF_INIT;
	int rc;

	snprintf(dir, sizeof(dir), "%s/resource-%lld",
		 root ? root : ".drydock", r->id);
	rc = remote_run(ctx, r, argv, "create the host directory", &out, err);
	if (rc)
		return rc;
	while (out.len && out.buf[out.len - 1] == '\n')
		out.buf[--out.len] = 0;
	if (!out.len || out.buf[0] != '/' || strchr(out.buf, '\n')) {
		dd_buf_release(&out);
		return dd_error_set(err, DD_ERR_REMOTE,
				    "host '%s' did not say where '%s' is",
				    attr_str(r->attributes, "host"), dir);
	}
	json_object_set_new(r->attributes, "path", json_string(out.buf));
	dd_buf_release(&out);
	return 0;
}

static int remove_dir(const struct dd_bp_ctx *ctx, const struct dd_resource *r,
		      const char *path, struct dd_error *err)
{
	char *argv[] = {"rm", "-rf", "--", (char *)path, NULL};

	return remote_run(ctx, r, argv, "remove its directory", NULL, err);
}

/*
 * A host that cannot be reached keeps its resource until it can: the
 * task is retried with backoff, and the host's slot stays taken, so that
 * a new resource on it never finds the old one's files.
 */
int dd_host_ssh_destroy_resource(const struct dd_bp_ctx *ctx,
				 const struct dd_resource *r,
				 struct dd_error *err)
{
	const char *path = attr_str(r->attributes, "path");

	return path ? remove_dir(ctx, r, path, err) : 0;
}

int dd_host_ssh_check_resource(const struct dd_bp_ctx *ctx,
			       const struct dd_resource *r,
			       struct dd_error *err)
{
	const char *path = attr_str(r->attributes, "path");
	char *argv[] = {"test", "-d", (char *)path, NULL};

	if (!path)
		return dd_error_set(err, DD_ERR_BROKEN,
				    "resource %lld has no directory", r->id);
	return remote_run(ctx, r, argv, "find its directory", NULL, err);
}

int dd_host_ssh_activate_lease(const struct dd_bp_ctx *ctx,
			       const struct dd_resource *r,
			       struct dd_lease *lease, struct dd_error *err)
{
	const char *base = attr_str(r->attributes, "path");
	char path[PATH_MAX];
	char *argv[] = {"mkdir", "-p", "--", path, NULL};
	int rc;

	if (!base)
		return dd_error_set(err, DD_ERR_BROKEN,
				    "resource %lld has no directory", r->id);
	snprintf(path, sizeof(path), "%s/lease-%lld", base, lease->id);
	rc = remote_run(ctx, r, argv, "create the lease's directory", NULL,
			err);
	if (rc)
		return rc;
	json_object_set_new(lease->attributes, "path", json_string(path));
	json_object_set_new(lease->attributes, "host",
			    json_string(attr_str(r->attributes, "host")));
	return 0;
}

/*
 * On a broken resource nothing is removed: the host may be gone, and the
 * resource's destruction removes the lease's directory with its own.
 */
int dd_host_ssh_destroy_lease(const struct dd_bp_ctx *ctx,
			      const struct dd_resource *r,
			      struct dd_lease *lease, struct dd_error *err)
{
	const char *path = attr_str(lease->attributes, "path");

	if (!path || r->status == DD_RESOURCE_BROKEN)
		return 0;
	return remove_dir(ctx, r, path, err);
}

int dd_host_ssh_spawn(const struct dd_bp_ctx *ctx, const struct dd_resource *r,
		      const struct dd_lease *lease, char *const argv[],
		      char *const add[], const struct dd_exec_io *io,
		      pid_t *pid, struct dd_error *err)
{
	const char *path = attr_str(lease->attributes, "path");
	char id[48], dir[PATH_MAX + 32];
	struct dd_ssh_command cmd = {path, NULL, argv, false, false};
	struct remote rm;
	size_t n = 0;
	char **env;
	int rc;

	if (!path)
		return dd_error_set(err, DD_ERR_STATE,
				    "lease %lld has no working directory",
				    lease->id);
	rc = remote_get(ctx, r, &rm, err);
	if (rc)
		return rc;
	/* the lease's variables, then the caller's, which win */
	while (add && add[n])
		n++;
	env = dd_calloc(n + 3, sizeof(*env));
	if (!env)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	snprintf(id, sizeof(id), "DRYDOCK_LEASE=%lld", lease->id);
	snprintf(dir, sizeof(dir), "DRYDOCK_LEASE_PATH=%s", path);
	env[0] = id;
	env[1] = dir;
	for (size_t i = 0; i < n; i++)
		env[2 + i] = add[i];
	cmd.env = env;
	rc = dd_ssh_spawn(&rm.ep, &cmd, io, pid, err);
	dd_free(env);
	return rc;
}
