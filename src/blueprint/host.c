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
 * it, removed when the lease is destroyed; commands run there.  A host
 * with an `address` is another machine, reached over SSH as `user` with
 * the private `key` (host_ssh.c does the remote work, the same on the
 * host, under its `root`):
 *
 *   {"name": "b1", "address": "10.0.0.5", "port": 22, "user": "ci",
 *    "key": "/etc/drydock/id_ed25519", "root": "/var/tmp/drydock",
 *    "slots": 4, "labels": ["linux", "x86_64"]}
 *
 * A lease may ask for one host by name with the attribute "host", and for
 * hosts that have all of some labels with "labels" (an array of strings).
 *
 * Commands run as drydock's own user unless the config names another in
 * "run_as".  drydock's user can read and write the store, so without
 * run_as whoever may run a command on a lease (a client token) can do
 * anything drydock can: read every token's hash and lease, or write
 * itself an admin token.  With run_as, each command runs as that user,
 * with its own groups and a clean environment, in a lease directory
 * handed to it; the store's directory must stay closed to it.
 */
#include "blueprint/blueprint.h"
#include "blueprint/host_ssh.h"
#include "core/util.h"
#include "store/store.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_SLOTS 1024
#define MAX_GROUPS 64
/* Seconds between checks that a remote host still answers. */
#define CHECK_INTERVAL 60


/* The user lease commands run as (config "run_as"), looked up. */
struct run_as {
	char name[64];
	uid_t uid;
	gid_t gid;
	gid_t groups[MAX_GROUPS];
	int ngroups;
	char home[PATH_MAX];
	char shell[PATH_MAX];
};

/*
 * Look the user `name` up into `*ra`.  Refuses an unknown user, root,
 * and drydock's own user (who can read the store: no protection at all);
 * the message says why, without saying it is about "run_as".
 */
static int run_as_lookup(const char *name, struct run_as *ra,
			 struct dd_error *err)
{
	struct passwd pw, *found = NULL;
	char buf[4096];
	int rc;

	if (!*name || strlen(name) >= sizeof(ra->name))
		return dd_error_set(err, DD_ERR_INVALID, "must be a user name");
	snprintf(ra->name, sizeof(ra->name), "%s", name);
	rc = getpwnam_r(ra->name, &pw, buf, sizeof(buf), &found);
	if (!found)
		return dd_error_set(err, DD_ERR_INVALID, "%s '%s'",
				    rc ? strerror(rc) : "no such user",
				    ra->name);
	if (pw.pw_uid == 0)
		return dd_error_set(err, DD_ERR_INVALID,
				    "user '%s' is root; name an unprivileged "
				    "user",
				    ra->name);
	if (pw.pw_uid == geteuid())
		return dd_error_set(err, DD_ERR_INVALID,
				    "user '%s' is drydock's own user, who can "
				    "read the store; name another",
				    ra->name);
	ra->uid = pw.pw_uid;
	ra->gid = pw.pw_gid;
	snprintf(ra->home, sizeof(ra->home), "%s", pw.pw_dir);
	snprintf(ra->shell, sizeof(ra->shell), "%s", pw.pw_shell);
	ra->ngroups = MAX_GROUPS;
	if (getgrouplist(ra->name, ra->gid, ra->groups, &ra->ngroups) < 0)
		return dd_error_set(err, DD_ERR_INVALID,
				    "user '%s' is in more than %d groups",
				    ra->name, MAX_GROUPS);
	return 0;
}

/*
 * Look the config's "run_as" up when a lease or a command needs it (the
 * user may have changed since the config was checked): `*ra` is filled
 * and 1 returned if it is set, 0 if not.
 */
static int run_as_find(const json_t *config, struct run_as *ra,
		       struct dd_error *err)
{
	json_t *v = json_object_get(config, "run_as");
	struct dd_error why = DD_ERROR_INIT;
	int rc;

	if (!v)
		return 0;
	rc = run_as_lookup(json_is_string(v) ? json_string_value(v) : "", ra,
			   &why);
	if (rc)
		return dd_error_set(err, rc, "host blueprint: 'run_as': %s",
				    why.msg);
	return 1;
}

/*
 * Can this process run commands as another user and manage the files
 * they leave: switch users, hand a directory over, and remove what the
 * user made in it (root can; so can a user given these capabilities)?
 */
static bool can_switch_users(void)
{
	static const int need[] = {CAP_SETUID, CAP_SETGID, CAP_CHOWN,
				   CAP_DAC_OVERRIDE, CAP_FOWNER};
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d))
		return false;
	for (size_t i = 0; i < sizeof(need) / sizeof(*need); i++)
		if (!(d[need[i] / 32].effective & (1u << (need[i] % 32))))
			return false;
	return true;
}

/*
 * With run_as, the user must not be able to open the store: the real
 * directory of a store kept in a file here (or else the state directory)
 * must not be the user's and must let nobody else in.
 */
static int store_closed_to(const struct dd_bp_ctx *ctx,
			   const struct run_as *ra, struct dd_error *err)
{
	char real[PATH_MAX], dir[PATH_MAX];
	struct stat st;

	if (ctx->store && dd_store_local_dir(ctx->store->location, dir,
					     sizeof(dir)) &&
	    realpath(ctx->store->location, real))
		dd_store_local_dir(real, dir, sizeof(dir));
	else
		snprintf(dir, sizeof(dir), "%s", ctx->state_dir);
	if (stat(dir, &st))
		return dd_error_set(err, DD_ERR_IO,
				    "cannot check the store's directory '%s': "
				    "%s",
				    dir, strerror(errno));
	if (st.st_uid == ra->uid || (st.st_mode & 077))
		return dd_error_set(err, DD_ERR_IO,
				    "host blueprint: 'run_as' user '%s' could "
				    "open the store: its directory '%s' (uid "
				    "%u, mode %04o) must be 0700 and not the "
				    "user's",
				    ra->name, dir, (unsigned)st.st_uid,
				    (unsigned)(st.st_mode & 07777));
	return 0;
}

static int check_absolute(const json_t *v, const json_t *parent,
			  struct dd_error *err)
{
	(void)parent;
	if (json_string_value(v)[0] != '/')
		return dd_error_set(err, DD_ERR_INVALID,
				    "must be an absolute path");
	return 0;
}

static int check_run_as(const json_t *v, const json_t *parent,
			struct dd_error *err)
{
	struct run_as ra;
	int rc = run_as_lookup(json_string_value(v), &ra, err);

	if (rc)
		return rc;
	/* the default root is inside the store's directory, closed to it */
	if (!json_object_get(parent, "root"))
		return dd_error_set(err, DD_ERR_INVALID,
				    "needs a 'root' outside the store's "
				    "directory");
	if (!can_switch_users())
		return dd_error_set(err, DD_ERR_INVALID,
				    "needs drydock to run as root (or with "
				    "CAP_SETUID, CAP_SETGID, CAP_CHOWN, "
				    "CAP_DAC_OVERRIDE and CAP_FOWNER) to run "
				    "commands as '%s'",
				    ra.name);
	return 0;
}

/* Connection fields belong to hosts with an address only. */
static int check_host(const json_t *v, const json_t *parent,
		      struct dd_error *err)
{
	static const char *const remote_only[] = {"port", "user", "key",
						  "root", "host_key"};

	(void)parent;
	if (json_object_get(v, "address"))
		return dd_host_ssh_check_host(v, err);
	for (size_t i = 0; i < sizeof(remote_only) / sizeof(*remote_only); i++)
		if (json_object_get(v, remote_only[i]))
			return dd_error_set(err, DD_ERR_INVALID,
					    "'%s' needs an 'address': a host "
					    "without one is this machine",
					    remote_only[i]);
	return 0;
}

static const struct dd_schema_field label = {
	.type = DD_SCHEMA_STRING,
	.what = "1 to 64 letters, digits, '.', '-', '_', ':' or '='",
	.min_len = 1,
	.max_len = 64,
	.charset = "A-Za-z0-9._:=-",
};

static const struct dd_schema_field host_fields[] = {
	{.name = "name",
	 .type = DD_SCHEMA_STRING,
	 .required = true,
	 .what = "1 to 64 letters, digits, '.', '-' or '_'",
	 .min_len = 1,
	 .max_len = 64,
	 .charset = "A-Za-z0-9._-",
	 .unique = true},
	{.name = "slots", .type = DD_SCHEMA_INTEGER, .min = 1, .max = MAX_SLOTS},
	{.name = "labels", .type = DD_SCHEMA_ARRAY, .max_items = 64,
	 .items = &label},
	{.name = "address",
	 .type = DD_SCHEMA_STRING,
	 .what = "a host name or IP address",
	 .min_len = 1,
	 .max_len = 253,
	 .charset = "A-Za-z0-9.:_-"},
	{.name = "port", .type = DD_SCHEMA_INTEGER, .min = 1, .max = 65535},
	{.name = "user",
	 .type = DD_SCHEMA_STRING,
	 .what = "a user name",
	 .min_len = 1,
	 .max_len = 64,
	 .charset = "A-Za-z0-9._-"},
	{.name = "key",
	 .type = DD_SCHEMA_STRING,
	 .what = "the absolute path of a private key file",
	 .check = check_absolute},
	{.name = "root", .type = DD_SCHEMA_STRING, .min_len = 1,
	 .max_len = 1024},
	{.name = "host_key",
	 .type = DD_SCHEMA_STRING,
	 .what = "'TYPE BASE64', a public key without its comment",
	 .min_len = 16,
	 .max_len = 16384,
	 .charset = "A-Za-z0-9+/= @.-"},
	{.name = NULL},
};

static const struct dd_schema_field host = {
	.type = DD_SCHEMA_OBJECT,
	.fields = host_fields,
	.check = check_host,
};

/* Rows in the order the checks ran before the table: the cheap ones first. */
static const struct dd_schema_field host_config_fields[] = {
	{.name = "root",
	 .type = DD_SCHEMA_STRING,
	 .what = "an absolute path",
	 .check = check_absolute},
	{.name = "run_as",
	 .type = DD_SCHEMA_STRING,
	 .what = "a user name",
	 .check = check_run_as},
	{.name = "check_interval",
	 .type = DD_SCHEMA_NUMBER,
	 .what = "seconds from 0 (never) to 86400",
	 .min_number = 0,
	 .max_number = 86400},
	{.name = "known_hosts",
	 .type = DD_SCHEMA_STRING,
	 .what = "the absolute path of the remote hosts' known_hosts file",
	 .check = check_absolute},

	{.name = "hosts",
	 .type = DD_SCHEMA_ARRAY,
	 .required = true,
	 .min_items = 1,
	 .items = &host},
	{.name = NULL},
};

/* The lease's requested host name, or NULL for any. */
static const char *wanted_host(const struct dd_lease *lease)
{
	json_t *h = json_object_get(lease->attributes, "host");

	return json_is_string(h) ? json_string_value(h) : NULL;
}

/* Has `labels` (a host's, or a resource's copy) every label asked for? */
static bool has_labels(const json_t *labels, const struct dd_lease *lease)
{
	json_t *want = json_object_get(lease->attributes, "labels");
	size_t i, j;
	json_t *w, *l;

	if (!json_is_array(want))
		return true;
	json_array_foreach(want, i, w)
	{
		bool found = false;

		json_array_foreach(labels, j, l)
		{
			if (json_equal(w, l))
				found = true;
		}
		if (!found)
			return false;
	}
	return true;
}

/* Would host `h` (a config entry) do for the lease? */
static bool host_fits(const json_t *h, const struct dd_lease *lease)
{
	const char *want = wanted_host(lease);

	return (!want ||
		!strcmp(json_string_value(json_object_get(h, "name")), want)) &&
	       has_labels(json_object_get(h, "labels"), lease);
}

static bool host_can_ever_allocate(const struct dd_bp_ctx *ctx,
				   const struct dd_lease *lease)
{
	size_t i;
	json_t *h;

	json_array_foreach(json_object_get(ctx->blueprint->config, "hosts"), i,
			   h)
	{
		if (host_fits(h, lease))
			return true;
	}
	return false;
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
	json_t *h = NULL, *slots, *labels;
	const char *name;
	size_t i, fit = 0;
	int rc;

	/* the nth host that fits */
	json_array_foreach(hosts, i, h)
	{
		if (host_fits(h, lease) && fit++ == n)
			break;
	}
	if (i == json_array_size(hosts))
		return DD_ERR_NOTFOUND;
	name = json_string_value(json_object_get(h, "name"));
	slots = json_object_get(h, "slots");
	labels = json_object_get(h, "labels");
	r->attributes = json_pack("{s:s, s:I}", "host", name, "slots",
				  slots ? json_integer_value(slots) : 1);
	if (!r->attributes ||
	    (labels && json_object_set(r->attributes, "labels", labels)))
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	if (json_object_get(h, "address")) {
		rc = dd_host_ssh_allocate(h, r->attributes, err);
		if (rc)
			return rc;
	}
	return dd_slot_keys_add(keys, "blueprint:%lld:host:%s",
				ctx->blueprint->id, name);
}

/* A host without an address is a directory on the machine that built it. */
static bool host_machine_bound(const struct dd_bp_ctx *ctx,
			       const struct dd_resource *r)
{
	(void)ctx;
	return !dd_host_ssh_is_remote(r);
}

static const char *attr_str(const json_t *attrs, const char *key)
{
	json_t *v = json_object_get(attrs, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Let every user search `path` (not list it), adding to its mode. */
static int let_pass(const char *path, struct dd_error *err)
{
	struct stat st;

	if (stat(path, &st) ||
	    ((st.st_mode & 0111) != 0111 &&
	     chmod(path, (st.st_mode & 07777) | 0111)))
		return dd_error_set(err, DD_ERR_IO,
				    "cannot let the 'run_as' user through "
				    "'%s': %s",
				    path, strerror(errno));
	return 0;
}

static int host_activate_resource(const struct dd_bp_ctx *ctx,
				  struct dd_resource *r, struct dd_error *err)
{
	char root[PATH_MAX], path[PATH_MAX + 64];

	struct run_as ra;
	int rc;

	if (dd_host_ssh_is_remote(r))
		return dd_host_ssh_activate_resource(ctx, r, err);
	host_root(ctx, root, sizeof(root));
	snprintf(path, sizeof(path), "%s/resource-%lld", root, r->id);
	if (dd_mkdir_p(path))
		return dd_error_set(err, DD_ERR_IO,
				    "cannot create host directory '%s': %s",
				    path, strerror(errno));
	rc = run_as_find(ctx->blueprint->config, &ra, err);
	if (rc < 0)
		return rc;
	/* the run_as user passes through to its lease directories */
	if (rc && (let_pass(root, err) || let_pass(path, err)))
		return DD_ERR_IO;
	json_object_set_new(r->attributes, "path", json_string(path));
	return 0;
}

static int host_destroy_resource(const struct dd_bp_ctx *ctx,
				 struct dd_resource *r, struct dd_error *err)
{
	const char *path = attr_str(r->attributes, "path");

	if (dd_host_ssh_is_remote(r))
		return dd_host_ssh_destroy_resource(ctx, r, err);
	if (path && dd_remove_tree(path))
		return dd_error_set(err, DD_ERR_IO,
				    "cannot remove host directory '%s': %s",
				    path, strerror(errno));
	return 0;
}

/*
 * A remote host is checked every "check_interval" seconds (default
 * CHECK_INTERVAL; 0: never); this machine never.
 */
static int host_check_resource(const struct dd_bp_ctx *ctx,
			       const struct dd_resource *r, double *next,
			       struct dd_error *err)
{
	json_t *every = json_object_get(ctx->blueprint->config,
					"check_interval");

	if (!dd_host_ssh_is_remote(r))
		return 0;
	*next = json_is_number(every) ? json_number_value(every)
				      : CHECK_INTERVAL;
	return dd_host_ssh_check_resource(ctx, r, err);
}

static bool host_can_acquire(const struct dd_bp_ctx *ctx,
			     const struct dd_resource *r,
			     const struct dd_lease *lease)
{
	const char *want = wanted_host(lease);
	const char *have = attr_str(r->attributes, "host");

	(void)ctx;
	return (!want || (have && !strcmp(want, have))) &&
	       has_labels(json_object_get(r->attributes, "labels"), lease);
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
	struct run_as ra = {.name = ""};
	int rc;

	if (dd_host_ssh_is_remote(r))
		return dd_host_ssh_activate_lease(ctx, r, lease, err);
	if (!base)
		return dd_error_set(err, DD_ERR_BROKEN,
				    "resource %lld has no directory", r->id);
	rc = run_as_find(ctx->blueprint->config, &ra, err);
	if (rc > 0)
		rc = store_closed_to(ctx, &ra, err);
	if (rc < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/lease-%lld", base, lease->id);
	if (dd_mkdir_p(path))
		return dd_error_set(err, DD_ERR_IO,
				    "cannot create lease directory '%s': %s",
				    path, strerror(errno));
	/* the lease's directory is the run_as user's to work in */
	if (ra.name[0] && chown(path, ra.uid, ra.gid))
		return dd_error_set(err, DD_ERR_IO,
				    "cannot give lease directory '%s' to "
				    "'%s': %s",
				    path, ra.name, strerror(errno));
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

	if (dd_host_ssh_is_remote(r))
		return dd_host_ssh_destroy_lease(ctx, r, lease, err);
	if (path && dd_remove_tree(path))
		return dd_error_set(err, DD_ERR_IO,
				    "cannot remove lease directory '%s': %s",
				    path, strerror(errno));
	return 0;
}

/*
 * Switch to the run_as user in the child (exec.h's setup: only
 * async-signal-safe calls).  Groups first, then the group, then the user,
 * since after setresuid() nothing else may be changed.
 */
static int switch_user(const void *arg)
{
	const struct run_as *ra = arg;

	if (setgroups((size_t)ra->ngroups, ra->groups) ||
	    setresgid(ra->gid, ra->gid, ra->gid) ||
	    setresuid(ra->uid, ra->uid, ra->uid))
		return -1;
	return 0;
}

/*
 * Start the command as the run_as user, in the lease directory, which it
 * enters as that user: a directory the user cannot reach fails here,
 * clearly, and not in the command.  posix_spawn cannot switch users, so
 * exec.c forks for it.
 */
static int run_as_spawn(const struct run_as *ra, const struct dd_lease *lease,
			const char *path, char *const argv[], char **env,
			const struct dd_exec_io *io, pid_t *pid,
			struct dd_error *err)
{
	const struct dd_exec_spec sp = {argv, env, path, switch_user, ra};
	struct dd_exec_failure why;
	int rc = dd_exec_spawn(&sp, io, pid, &why, err);

	if (!rc)
		return 0;
	if (why.step == DD_EXEC_STEP_SETUP)
		return dd_error_set(err, DD_ERR_IO,
				    "cannot switch to user '%s' to run '%s' "
				    "on lease %lld: %s",
				    ra->name, argv[0], lease->id,
				    strerror(why.errnum));
	if (why.step == DD_EXEC_STEP_DIR)
		return dd_error_set(err, DD_ERR_IO,
				    "user '%s' cannot enter lease %lld's "
				    "directory '%s': %s",
				    ra->name, lease->id, path,
				    strerror(why.errnum));
	if (why.step == DD_EXEC_STEP_START)
		return dd_error_set(err, DD_ERR_IO,
				    "cannot run '%s' on lease %lld: %s",
				    argv[0], lease->id, strerror(why.errnum));
	return dd_error_set(err, rc, "cannot run '%s' on lease %lld as '%s': %s",
			    argv[0], lease->id, ra->name,
			    strerror(why.errnum));
}

/*
 * The run_as user's environment: nothing of drydock's (which may name
 * the store or hold secrets), only who the user is, a plain PATH, and
 * the lease (`id` and `dir`, borrowed).  One allocation; dd_free() it.
 */
static char **run_as_environ(const struct run_as *ra, char *id, char *dir)
{
	struct {
		char *vars[8];
		char home[PATH_MAX + 8], user[80], logname[80];
		char shell[PATH_MAX + 8];
	} *e = dd_calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	snprintf(e->home, sizeof(e->home), "HOME=%s", ra->home);
	snprintf(e->user, sizeof(e->user), "USER=%s", ra->name);
	snprintf(e->logname, sizeof(e->logname), "LOGNAME=%s", ra->name);
	snprintf(e->shell, sizeof(e->shell), "SHELL=%s", ra->shell);
	e->vars[0] = e->home;
	e->vars[1] = e->user;
	e->vars[2] = e->logname;
	e->vars[3] = e->shell;
	e->vars[4] = "PATH=/usr/local/bin:/usr/bin:/bin";
	e->vars[5] = id;
	e->vars[6] = dir;
	return e->vars;
}

/*
 * Start the command in the lease directory with drydock's environment
 * plus the lease's and the caller's `add`; as the run_as user, with the
 * user's clean environment plus the same, with run_as_spawn().
 */
static int host_spawn(const struct dd_bp_ctx *ctx, const struct dd_resource *r,
		      const struct dd_lease *lease, char *const argv[],
		      char *const add[], const struct dd_exec_io *io,
		      pid_t *pid, struct dd_error *err)
{
	const char *path = attr_str(lease->attributes, "path");
	char id[48], dir[PATH_MAX + 32];
	char *vars[] = {id, dir, NULL};
	struct dd_exec_spec sp = {.argv = argv, .dir = path};
	struct dd_exec_failure why;
	struct run_as ra = {.name = ""};
	char **base, **env;
	int rc;

	if (dd_host_ssh_is_remote(r))
		return dd_host_ssh_spawn(ctx, r, lease, argv, add, io, pid,
					 err);
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
	rc = run_as_find(ctx->blueprint->config, &ra, err);
	if (rc < 0 || (rc > 0 && (rc = store_closed_to(ctx, &ra, err))))
		return rc;
	base = ra.name[0] ? run_as_environ(&ra, id, dir)
			  : dd_exec_environ(NULL, vars);
	/* the caller's variables over the lease's own */
	env = base ? dd_exec_environ(base, add) : NULL;
	if (!env) {
		dd_free(base);
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	}
	if (ra.name[0]) {
		rc = run_as_spawn(&ra, lease, path, argv, env, io, pid, err);
	} else {
		sp.env = env;
		rc = dd_exec_spawn(&sp, io, pid, &why, err);
		if (rc)
			dd_error_set(err, rc, "cannot run '%s' on lease %lld: %s",
				     argv[0], lease->id, strerror(why.errnum));
	}
	dd_free(env);
	dd_free(base);
	return rc;
}

static const struct dd_command_interface host_command = {
	.spawn = host_spawn,
};

const struct dd_blueprint_type dd_host_blueprint_type = {
	.version = DD_BLUEPRINT_TYPE_VERSION,
	.name = "host",
	.resource_type = "host",
	.summary = "a pool of hosts: this machine, or others reached over SSH",
	.config_fields = host_config_fields,
	.can_ever_allocate = host_can_ever_allocate,
	.allocate = host_allocate,
	.machine_bound = host_machine_bound,
	.activate_resource = host_activate_resource,
	.destroy_resource = host_destroy_resource,
	.check_resource = host_check_resource,
	.can_acquire = host_can_acquire,
	.acquire = host_acquire,
	.activate_lease = host_activate_lease,
	.release_lease = NULL,
	.destroy_lease = host_destroy_lease,
	.command = &host_command,
	/* a host that takes longer to say it is there is not usable */
	.timeouts = {[DD_BP_HOOK_CHECK_RESOURCE] = 30},
};
