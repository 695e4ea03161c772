/*
 * exec.c - the "exec" blueprint: resources built and torn down by an
 * operator's program, the provider, through the JSON protocol of
 * docs/providers.md.
 *
 *   {"resource_type": "sandbox",
 *    "command": ["/usr/local/lib/drydock/sandbox.py", "--root", "/srv"],
 *    "env": {"K": "V"}, "limit": 4, "slots": 1,
 *    "timeouts": {"activate_resource": 120}, "grace": 10,
 *    "settings": {...}}
 *
 * Each operation runs the provider once (dd_exec_run(): its own process
 * group, a deadline, SIGTERM then SIGKILL after the grace), with the
 * request on stdin and one JSON object expected on stdout; stderr is
 * kept for the log.  The provider must be idempotent, which is what
 * makes destroy exactly once across crashes: a resource's key is made
 * here, in the allocate proposal, and stored durably with the resource's
 * row before the provider hears of it; an interrupted allocate is asked
 * again with the same key, and destroy is called (again, after a crash)
 * until it succeeds, with the key whether or not allocate answered.
 *
 * The resource's attributes hold what drydock needs later: "key",
 * "protocol" and "operations" (from describe), "provider_id" and
 * "provider" (the provider's id and attributes), and "ssh" (an endpoint
 * the provider answered with).  A lease's own provider attributes are
 * kept as "provider" in the lease's attributes.
 */
#include "blueprint/blueprint.h"
#include "blueprint/host_ssh.h"
#include "blueprint/ssh.h"
#include "blueprint/schema.h"
#include "core/input.h"
#include "core/util.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The protocol versions this drydock speaks, oldest first. */
static const int versions[] = {1};
#define NVERSIONS (sizeof(versions) / sizeof(*versions))

/* The most a request may be, and the end of stderr a log entry keeps. */
#define MAX_REQUEST (1024 * 1024)
#define STDERR_TAIL 4096
/* The end of stderr a failure's reason quotes (the reason is 512 bytes). */
#define REASON_TAIL 200
#define MAX_ARGS 64
#define DEFAULT_GRACE 10.0

/*
 * Every operation of the protocol: X(enum suffix, name, every provider
 * must implement it).  An operation runs within its hook's deadline
 * (the config's "timeouts" per hook, a field every type takes, else
 * the type's .timeouts below); describe at blueprint create and edit within
 * DESCRIBE_TIMEOUT.
 */
#define OP_MAP(X)                                                              \
	X(DESCRIBE, "describe", false)                                         \
	X(RESOURCE_ALLOCATE, "resource.allocate", true)                        \
	X(RESOURCE_ACTIVATE, "resource.activate", false)                       \
	X(RESOURCE_DESTROY, "resource.destroy", true)                          \
	X(LEASE_ACQUIRE, "lease.acquire", false)                               \
	X(LEASE_ACTIVATE, "lease.activate", false)                             \
	X(LEASE_RELEASE, "lease.release", false)                               \
	X(LEASE_DESTROY, "lease.destroy", false)                               \
	X(EXEC, "exec", false)

enum op {
#define X(e, op_name, must) OP_##e,
	OP_MAP(X)
#undef X
	OP_COUNT
};

static const struct {
	const char *name;
	bool required;
} ops[OP_COUNT] = {
#define X(e, op_name, must) [OP_##e] = {op_name, must},
	OP_MAP(X)
#undef X
};

#define DESCRIBE_TIMEOUT 10.0

static const char *config_str(const json_t *config, const char *key)
{
	json_t *v = json_object_get(config, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static long long config_int(const json_t *config, const char *key,
			    long long def)
{
	json_t *v = json_object_get(config, key);

	return json_is_integer(v) ? json_integer_value(v) : def;
}

/* The program's path: the first word of "command". */
static const char *program(const json_t *config)
{
	json_t *v = json_array_get(json_object_get(config, "command"), 0);

	return json_is_string(v) ? json_string_value(v) : "?";
}

static double op_grace(const json_t *config)
{
	json_t *v = json_object_get(config, "grace");

	return json_is_number(v) ? json_number_value(v) : DEFAULT_GRACE;
}

/* ---- validation -------------------------------------------------------- */

static int check_command(const json_t *v, const json_t *parent,
			 struct dd_error *err)
{
	(void)parent;
	if (json_string_value(json_array_get(v, 0))[0] != '/')
		return dd_error_set(err, DD_ERR_INVALID,
				    "must start with the provider's absolute "
				    "path");
	return 0;
}

static int check_env(const json_t *v, const json_t *parent,
		     struct dd_error *err)
{
	const char *k;
	json_t *e;

	(void)parent;
	json_object_foreach((json_t *)v, k, e)
	{
		bool ok = !('0' <= k[0] && k[0] <= '9');

		for (const char *c = k; ok && *c; c++)
			ok = ('a' <= *c && *c <= 'z') ||
			     ('A' <= *c && *c <= 'Z') ||
			     ('0' <= *c && *c <= '9') || *c == '_';
		if (!ok)
			return dd_error_set(err, DD_ERR_INVALID,
					    "'%s' is not a variable name", k);
	}
	return 0;
}

static const struct dd_schema_field a_string = {.type = DD_SCHEMA_STRING};

static const struct dd_schema_field exec_config_fields[] = {
	{.name = "resource_type",
	 .type = DD_SCHEMA_STRING,
	 .required = true,
	 .what = "1 to 64 letters, digits, '.', '-' or '_'",
	 .min_len = 1,
	 .max_len = 64,
	 .charset = "A-Za-z0-9._-"},
	{.name = "command",
	 .type = DD_SCHEMA_ARRAY,
	 .required = true,
	 .what = "the provider's absolute path and its arguments",
	 .min_items = 1,
	 .max_items = MAX_ARGS,
	 .items = &a_string,
	 .check = check_command},
	{.name = "env",
	 .type = DD_SCHEMA_MAP,
	 .items = &a_string,
	 .check = check_env},
	{.name = "limit", .type = DD_SCHEMA_INTEGER, .min = 1, .max = 1000},
	{.name = "slots", .type = DD_SCHEMA_INTEGER, .min = 1, .max = 1024},
	{.name = "grace",
	 .type = DD_SCHEMA_NUMBER,
	 .min_number = 0,
	 .max_number = 600},
	{.name = "settings", .type = DD_SCHEMA_MAP},
	{.name = NULL},
};

static int describe(const struct dd_bp_ctx *ctx, const json_t *config,
		    int *version, json_t **operations, struct dd_error *err);

/*
 * Once the table passed the config's shape: the provider itself must
 * answer describe with a version drydock speaks.
 */
static int exec_validate(const json_t *config, struct dd_error *err)
{
	json_t *found = NULL;
	int version, rc;

	rc = describe(NULL, config, &version, &found, err);
	json_decref(found);
	/* a provider that does not work is a config to refuse */
	if (rc == DD_ERR_IO)
		rc = DD_ERR_INVALID;
	if (rc == DD_ERR_INVALID && err)
		err->code = rc;
	return rc;
}

static const char *exec_resource_type(const json_t *config)
{
	return config_str(config, "resource_type");
}

/* ---- running the provider ---------------------------------------------- */

/* What the provider is started with; one allocation each, freed after. */
struct provider_run {
	char **argv, **env;
	int in;	     /* the request, a memfd read from its start */
	bool as_cmd; /* exec: the request on fd 3, stdin the command's */
};

static void provider_run_release(struct provider_run *p)
{
	if (p->argv)
		for (size_t i = 0; p->argv[i]; i++)
			dd_free(p->argv[i]);
	if (p->env)
		for (size_t i = 0; p->env[i]; i++)
			dd_free(p->env[i]);
	dd_free(p->argv);
	dd_free(p->env);
	if (p->in >= 0)
		close(p->in);
	memset(p, 0, sizeof(*p));
	p->in = -1;
}

static char *joined(const char *name, const char *value)
{
	size_t n = strlen(name) + strlen(value) + 2;
	char *s = dd_malloc(n);

	if (s)
		snprintf(s, n, "%s=%s", name, value);
	return s;
}

/*
 * Fill `p` for one operation: the config's argv, an environment of PATH,
 * HOME, the config's env and DRYDOCK_OPERATION (nothing else of
 * drydock's: it may name the store or hold secrets), and the request in
 * a memory file that becomes the provider's stdin.
 */
static int provider_run_init(struct provider_run *p, const json_t *config,
			     enum op op, const json_t *request,
			     struct dd_error *err)
{
	json_t *cmd = json_object_get(config, "command");
	json_t *env = json_object_get(config, "env");
	const char *path = getenv("PATH"), *home = getenv("HOME"), *k;
	size_t n = 0, i;
	char *text = NULL;
	json_t *v;

	memset(p, 0, sizeof(*p));
	p->in = -1;
	p->argv = dd_calloc(json_array_size(cmd) + 1, sizeof(char *));
	p->env = dd_calloc(json_object_size(env) + 4, sizeof(char *));
	if (!p->argv || !p->env)
		goto nomem;
	json_array_foreach(cmd, i, v)
	{
		if (!(p->argv[i] = dd_strdup(json_string_value(v))))
			goto nomem;
	}
	if (!(p->env[n++] = joined("PATH", path && *path
						   ? path
						   : "/usr/local/bin:/usr/bin:"
						     "/bin")) ||
	    !(p->env[n++] = joined("HOME", home && *home ? home : "/")) ||
	    !(p->env[n++] = joined("DRYDOCK_OPERATION", ops[op].name)))
		goto nomem;
	json_object_foreach(env, k, v)
	{
		if (!(p->env[n++] = joined(k, json_string_value(v))))
			goto nomem;
	}
	text = json_dumps(request, JSON_COMPACT);
	if (!text)
		goto nomem;
	if (strlen(text) > MAX_REQUEST) {
		free(text);
		provider_run_release(p);
		return dd_error_set(err, DD_ERR_INVALID,
				    "provider request for %s is over %d "
				    "bytes",
				    ops[op].name, MAX_REQUEST);
	}
	p->in = memfd_create("drydock-request", MFD_CLOEXEC);
	if (p->in < 0 ||
	    write(p->in, text, strlen(text)) != (ssize_t)strlen(text) ||
	    write(p->in, "\n", 1) != 1 || lseek(p->in, 0, SEEK_SET) != 0) {
		int e = errno;

		free(text);
		provider_run_release(p);
		return dd_error_set(err, DD_ERR_IO,
				    "cannot write the provider's request: %s",
				    strerror(e));
	}
	free(text);
	return 0;
nomem:
	provider_run_release(p);
	return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
}

/*
 * In exec's child (after fork: async-signal-safe calls only): the request
 * becomes descriptor 3, open across the exec.
 */
static int request_on_fd3(const void *arg)
{
	int fd = *(const int *)arg;

	if (fd == 3)
		return fcntl(3, F_SETFD, 0) < 0 ? -1 : 0;
	return dup2(fd, 3) < 0 ? -1 : 0;
}

/*
 * Start the provider (dd_exec_spawn()) in /, its stdin the request, its
 * stdout and stderr what `io` names.  For exec the request is on
 * descriptor 3 instead, and stdin is what `io` names: the command's (the
 * files interface streams through it).
 */
static int provider_start(void *arg, const struct dd_exec_io *io, pid_t *pid,
			  struct dd_error *err)
{
	const struct provider_run *p = arg;
	struct dd_exec_spec sp = {.argv = p->argv, .env = p->env, .dir = "/"};
	struct dd_exec_io with = *io;
	struct dd_exec_failure why;
	struct dd_error serr = DD_ERROR_INIT;
	int rc;

	if (p->as_cmd) {
		sp.setup = request_on_fd3;
		sp.setup_arg = &p->in;
	} else {
		with.in = p->in;
	}
	rc = dd_exec_spawn(&sp, &with, pid, &why, &serr);
	if (rc)
		return dd_error_set(err, rc, "cannot run provider '%s': %s",
				    p->argv[0], strerror(why.errnum));
	return 0;
}

/* The end of `b`, at most `max` bytes, starting at a line if one fits. */
static const char *tail(const struct dd_buf *b, size_t max, size_t *n)
{
	const char *s = b->buf ? b->buf : "";
	size_t len = b->len;

	while (len && (s[len - 1] == '\n' || s[len - 1] == ' '))
		len--;
	if (len > max) {
		const char *start = s + len - max;
		const char *nl = memchr(start, '\n', max);

		s = nl && nl + 1 < s + len ? nl + 1 : start;
		len = (size_t)(b->buf + len - s);
	}
	*n = len;
	return s;
}

/* Where a provider's stderr goes: a log entry about these objects. */
struct log_to {
	struct dd_store *store;
	long long blueprint, resource, lease;
};

static void log_stderr(const struct log_to *to, enum op op,
		       const struct dd_exec_result *res)
{
	size_t n;
	const char *s = tail(&res->err, STDERR_TAIL, &n);

	if (!to || !to->store || n == 0)
		return;
	/* best effort: the operation's outcome does not hang on it */
	if (dd_store_begin(to->store, NULL))
		return;
	if (dd_store_log(to->store, to->blueprint, to->resource, to->lease,
			 "provider.stderr",
			 json_pack("{s:s, s:i, s:o}", "operation", ops[op].name,
				   "exit_status", res->exit_status, "stderr",
				   dd_json_string_lossy(s, n)),
			 NULL) ||
	    dd_store_commit(to->store, NULL))
		dd_store_rollback(to->store);
}

/*
 * Run one operation and read its reply (a new reference in *reply),
 * within the deadline of the hook `ctx` is for and stopped by its cancel
 * (without a hook, at blueprint create: within DESCRIBE_TIMEOUT).  Any
 * failure is an error naming the provider, the operation and why, with
 * the end of its stderr; the stderr is also logged about `to`.
 */
static int call(const struct dd_bp_ctx *ctx, const json_t *config, enum op op,
		const json_t *request, const struct log_to *to, json_t **reply,
		struct dd_error *err)
{
	struct provider_run p;
	struct dd_exec_options o = {0};
	struct dd_exec_result res;
	struct dd_error perr = DD_ERROR_INIT;
	char why[256] = "";
	json_t *r = NULL, *e;
	size_t n;
	const char *stderr_tail;
	int rc;

	*reply = NULL;
	rc = provider_run_init(&p, config, op, request, err);
	if (rc)
		return rc;
	if (ctx) {
		dd_bp_exec_options(ctx, &o);
	} else {
		o.timeout = DESCRIBE_TIMEOUT;
		o.cancel_fd = -1;
	}
	o.grace = op_grace(config);
	o.null_input = false; /* the request is its stdin */
	o.out = DD_EXEC_CAPTURE;
	o.err = DD_EXEC_CAPTURE;
	rc = dd_exec_run(provider_start, &p, &o, &res, &perr);
	provider_run_release(&p);
	if (rc)
		return dd_error_set(err, rc,
				    "provider '%s' failed on %s: %s",
				    program(config), ops[op].name, perr.msg);
	log_stderr(to, op, &res);
	if (res.out.len && !res.out_truncated)
		dd_json_parse(res.out.buf, res.out.len, "reply", &r, NULL);
	e = json_object_get(r, "error");
	if (json_is_object(r) && json_is_string(e))
		snprintf(why, sizeof(why), "%s", json_string_value(e));
	else if (res.timed_out)
		snprintf(why, sizeof(why), "no answer within %.3g s (stopped)",
			 o.timeout);
	else if (res.cancelled)
		snprintf(why, sizeof(why), "stopped: drydock lost its claim on "
					   "the object");
	else if (res.exit_status > 128)
		snprintf(why, sizeof(why), "killed by signal %d",
			 res.exit_status - 128);
	else if (res.exit_status)
		snprintf(why, sizeof(why), "exit status %d", res.exit_status);
	else if (!json_is_object(r))
		snprintf(why, sizeof(why),
			 "its reply is not a JSON object: '%.60s'",
			 res.out.len ? res.out.buf : "");
	if (why[0]) {
		stderr_tail = tail(&res.err, REASON_TAIL, &n);
		rc = dd_error_set(err, DD_ERR_IO,
				  "provider '%s' failed on %s: %s%s%.*s",
				  program(config), ops[op].name, why,
				  n ? "; stderr: " : "", (int)n, stderr_tail);
		json_decref(r);
		r = NULL;
	}
	dd_exec_result_release(&res);
	*reply = r;
	return rc;
}

/*
 * describe: the highest version both speak, and the operations the
 * provider implements (a new reference), which must include the
 * required ones.
 */
static int describe(const struct dd_bp_ctx *ctx, const json_t *config,
		    int *version, json_t **operations, struct dd_error *err)
{
	json_t *req = json_pack("{s:s, s:[]}", "operation", "describe",
				"versions");
	json_t *reply = NULL, *vs, *v, *list;
	struct dd_buf have = DD_BUF_INIT;
	size_t i;
	int rc;

	if (!req)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	for (i = 0; i < NVERSIONS; i++)
		json_array_append_new(json_object_get(req, "versions"),
				      json_integer(versions[i]));
	rc = call(ctx, config, OP_DESCRIBE, req, NULL, &reply, err);
	json_decref(req);
	if (rc)
		return rc;
	*version = 0;
	vs = json_object_get(reply, "versions");
	list = json_object_get(reply, "operations");
	if (!json_is_array(vs) || !json_is_array(list)) {
		json_decref(reply);
		return dd_error_set(err, DD_ERR_INVALID,
				    "provider '%s' failed on describe: its "
				    "reply needs 'versions' and "
				    "'operations' arrays",
				    program(config));
	}
	json_array_foreach(vs, i, v)
	{
		for (size_t k = 0; k < NVERSIONS; k++)
			if (json_is_integer(v) &&
			    json_integer_value(v) == versions[k] &&
			    versions[k] > *version)
				*version = versions[k];
		if (json_is_integer(v))
			dd_buf_addf(&have, "%s%lld", i ? ", " : "",
				    (long long)json_integer_value(v));
	}
	if (!*version) {
		rc = dd_error_set(err, DD_ERR_INVALID,
				  "provider '%s' speaks protocol versions "
				  "%s; drydock speaks %d",
				  program(config),
				  have.len ? have.buf : "(none)",
				  versions[NVERSIONS - 1]);
		dd_buf_release(&have);
		json_decref(reply);
		return rc;
	}
	dd_buf_release(&have);
	for (int k = 0; k < OP_COUNT; k++) {
		bool found = false;

		json_array_foreach(list, i, v)
		{
			if (json_is_string(v) &&
			    !strcmp(json_string_value(v), ops[k].name))
				found = true;
		}
		if (ops[k].required && !found) {
			json_decref(reply);
			return dd_error_set(err, DD_ERR_INVALID,
					    "provider '%s' does not implement "
					    "%s, which every provider must",
					    program(config), ops[k].name);
		}
	}
	*operations = json_incref(list);
	json_decref(reply);
	return 0;
}

/* Did describe list `op` for this resource? */
static bool implements(const struct dd_resource *r, enum op op)
{
	json_t *list = json_object_get(r->attributes, "operations");
	size_t i;
	json_t *v;

	json_array_foreach(list, i, v)
	{
		if (json_is_string(v) &&
		    !strcmp(json_string_value(v), ops[op].name))
			return true;
	}
	return false;
}

/* A new reference to `v`, or to `def` (a new value) when `v` is NULL. */
static json_t *or(json_t *v, json_t *def)
{
	if (!v)
		return def;
	json_decref(def);
	return json_incref(v);
}

/*
 * The request's members every operation but describe has.  A resource
 * broken before describe answered is spoken to in the newest version.
 */
static json_t *request(const struct dd_bp_ctx *ctx, enum op op,
		       const struct dd_resource *r,
		       const struct dd_lease *lease)
{
	json_t *a = r->attributes;
	json_t *req, *lattrs, *pattrs;

	req = json_pack(
		"{s:o, s:s, s:{s:I, s:s, s:o}, s:{s:I, s:o, s:s, s:o, s:o}}",
		"protocol",
		or(json_object_get(a, "protocol"),
		   json_integer(versions[NVERSIONS - 1])),
		"operation", ops[op].name, "blueprint", "id",
		ctx->blueprint->id, "name", ctx->blueprint->name, "settings",
		or(json_object_get(ctx->blueprint->config, "settings"),
		   json_object()),
		"resource", "id", r->id, "key",
		or(json_object_get(a, "key"), json_null()), "type", r->type,
		"provider_id", or(json_object_get(a, "provider_id"), json_null()),
		"attributes", or(json_object_get(a, "provider"), json_object()));
	if (!req || !lease)
		return req;
	lattrs = json_is_object(lease->attributes)
			 ? json_deep_copy(lease->attributes)
			 : json_object();
	pattrs = or(json_object_get(lattrs, "provider"), json_object());
	json_object_del(lattrs, "provider");
	json_object_set_new(req, "lease",
			    json_pack("{s:I, s:s?, s:o, s:o}", "id", lease->id,
				      "owner", lease->owner, "attributes",
				      lattrs, "provider_attributes", pattrs));
	return req;
}

/* ---- the SSH endpoint --------------------------------------------------- */

/* Check an "ssh" member of a reply; store it in the resource's attributes. */
static int take_ssh(const json_t *config, enum op op, json_t *ssh,
		    struct dd_resource *r, struct dd_error *err)
{
	static const char *const strings[] = {"address", "user", "key",
					      "host_key"};
	json_t *port = json_object_get(ssh, "port");
	json_t *dir = json_object_get(ssh, "dir");
	struct dd_ssh_endpoint ep = {0};
	struct dd_error cerr = DD_ERROR_INIT;

	if (!ssh)
		return 0;
	if (!json_is_object(ssh))
		goto bad;
	for (size_t i = 0; i < sizeof(strings) / sizeof(*strings); i++) {
		json_t *v = json_object_get(ssh, strings[i]);

		if (!json_is_string(v) || !json_string_value(v)[0])
			goto bad;
	}
	if (port && (!json_is_integer(port) || json_integer_value(port) < 1 ||
		     json_integer_value(port) > 65535))
		goto bad;
	if (dir && !json_is_string(dir))
		goto bad;
	/* what ssh would take for an option, or a shell would read */
	ep.address = json_string_value(json_object_get(ssh, "address"));
	ep.port = port ? (int)json_integer_value(port) : 0;
	ep.user = json_string_value(json_object_get(ssh, "user"));
	ep.key = json_string_value(json_object_get(ssh, "key"));
	ep.host_key = json_string_value(json_object_get(ssh, "host_key"));
	ep.known_hosts = "/"; /* drydock's own, made later */
	if (dd_ssh_endpoint_check(&ep, &cerr))
		return dd_error_set(err, DD_ERR_INVALID,
				    "provider '%s' failed on %s: its 'ssh' "
				    "endpoint: %s",
				    program(config), ops[op].name, cerr.msg);
	json_object_set(r->attributes, "ssh", ssh);
	return 0;
bad:
	return dd_error_set(err, DD_ERR_INVALID,
			    "provider '%s' failed on %s: its 'ssh' needs "
			    "'address', 'user', 'key' and 'host_key' strings, "
			    "and may have a 'port' from 1 to 65535 and a "
			    "'dir'",
			    program(config), ops[op].name);
}

/*
 * A resource the provider described as an SSH endpoint, seen as the host
 * blueprint keeps a remote host's resource (host_ssh.h), so that the same
 * code reaches it: its directory ("path") is the endpoint's "dir", else
 * the login's own; its known_hosts file holds just the endpoint's host
 * key.  Fills *view (its attributes a new reference; release them with
 * json_decref()) and returns true, or false when `r` is no endpoint.
 */
static bool ssh_view(const struct dd_resource *r, struct dd_resource *view)
{
	json_t *ssh = json_object_get(r->attributes, "ssh");
	json_t *dir = json_object_get(ssh, "dir");
	char name[48];

	if (!json_is_object(ssh))
		return false;
	*view = *r;
	view->attributes = json_deep_copy(ssh);
	if (!view->attributes)
		view->attributes = json_object();
	snprintf(name, sizeof(name), "resource-%lld", r->id);
	json_object_del(view->attributes, "dir");
	json_object_set_new(view->attributes, "host", json_string(name));
	json_object_set_new(view->attributes, "path",
			    dir ? json_incref(dir) : json_string("."));
	return true;
}

/* ---- resources ---------------------------------------------------------- */

/*
 * A proposal: at most `limit` resources (slot keys), each with a key of
 * its own made now, so it is stored with the resource's row, durably,
 * before the provider hears of it.
 */
static int exec_allocate(const struct dd_bp_ctx *ctx,
			 const struct dd_lease *lease, size_t n,
			 struct dd_resource *r, struct dd_slot_keys *keys,
			 struct dd_error *err)
{
	unsigned char rnd[8];
	char key[64];

	(void)lease;
	if ((long long)n >= config_int(ctx->blueprint->config, "limit", 1))
		return DD_ERR_NOTFOUND;
	if (dd_random_bytes(rnd, sizeof(rnd)))
		return dd_error_set(err, DD_ERR_IO,
				    "cannot make a resource key: %s",
				    strerror(errno));
	snprintf(key, sizeof(key),
		 "dd-%lld-%02x%02x%02x%02x%02x%02x%02x%02x",
		 ctx->blueprint->id, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
		 rnd[5], rnd[6], rnd[7]);
	r->attributes = json_pack("{s:s}", "key", key);
	if (!r->attributes)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	return dd_slot_keys_add(keys, "blueprint:%lld:exec:%zu",
				ctx->blueprint->id, n);
}

static struct log_to about(const struct dd_bp_ctx *ctx,
			   const struct dd_resource *r,
			   const struct dd_lease *lease)
{
	return (struct log_to){ctx->store, ctx->blueprint->id, r->id,
			       lease ? lease->id : 0};
}

/*
 * describe and allocate (with the key): what they answer lands in
 * r->attributes.
 */
static int allocate(const struct dd_bp_ctx *ctx, struct dd_resource *r,
		    struct dd_error *err)
{
	const json_t *config = ctx->blueprint->config;
	struct log_to to = about(ctx, r, NULL);
	json_t *operations = NULL, *req, *reply = NULL, *v;
	int version, rc;

	rc = describe(ctx, config, &version, &operations, err);
	if (rc)
		return rc;
	json_object_set_new(r->attributes, "protocol", json_integer(version));
	json_object_set_new(r->attributes, "operations", operations);
	req = request(ctx, OP_RESOURCE_ALLOCATE, r, NULL);
	if (!req)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	rc = call(ctx, config, OP_RESOURCE_ALLOCATE, req, &to, &reply, err);
	json_decref(req);
	if (rc)
		return rc;
	v = json_object_get(reply, "id");
	if (!json_is_string(v) || !json_string_value(v)[0] ||
	    strlen(json_string_value(v)) > 255)
		rc = dd_error_set(err, DD_ERR_INVALID,
				  "provider '%s' failed on resource.allocate: "
				  "its reply needs an 'id' of 1 to 255 bytes",
				  program(config));
	if (!rc)
		json_object_set(r->attributes, "provider_id", v);
	v = json_object_get(reply, "attributes");
	if (!rc && v && !json_is_object(v))
		rc = dd_error_set(err, DD_ERR_INVALID,
				  "provider '%s' failed on resource.allocate: "
				  "its 'attributes' must be an object",
				  program(config));
	if (!rc)
		json_object_set_new(r->attributes, "provider",
				    v ? json_incref(v) : json_object());
	if (!rc)
		rc = take_ssh(config, OP_RESOURCE_ALLOCATE,
			      json_object_get(reply, "ssh"), r, err);
	json_decref(reply);
	return rc;
}

/* The most a provider may ask to wait before asking again. */
#define MAX_RETRY_AFTER 3600.0

/*
 * What an answer to resource.activate or resource.destroy may say besides
 * "done": "attributes", the provider's own (kept in r->attributes as
 * "provider", handed back with the next request), and "retry_after":
 * not done yet, ask again in that many seconds.  Then DD_ERR_AGAIN, with
 * ctx->resume set: the hook is "in progress", and its attributes are
 * saved with that answer.
 */
static int take_answer(const struct dd_bp_ctx *ctx, enum op op,
		       json_t *reply, struct dd_resource *r,
		       struct dd_error *err)
{
	const json_t *config = ctx->blueprint->config;
	json_t *v = json_object_get(reply, "attributes");
	json_t *later = json_object_get(reply, "retry_after");

	if (v && !json_is_object(v))
		return dd_error_set(err, DD_ERR_INVALID,
				    "provider '%s' failed on %s: its "
				    "'attributes' must be an object",
				    program(config), ops[op].name);
	if (later && (!json_is_number(later) ||
		      json_number_value(later) <= 0 ||
		      json_number_value(later) > MAX_RETRY_AFTER))
		return dd_error_set(err, DD_ERR_INVALID,
				    "provider '%s' failed on %s: its "
				    "'retry_after' must be from 0 to %g seconds",
				    program(config), ops[op].name,
				    MAX_RETRY_AFTER);
	if (v)
		json_object_set(r->attributes, "provider", v);
	if (!later)
		return 0;
	if (!ctx->resume)
		return dd_error_set(err, DD_ERR_STATE,
				    "provider '%s' is not ready on %s, and "
				    "this call cannot wait",
				    program(config), ops[op].name);
	ctx->resume->at = dd_now() + json_number_value(later);
	return DD_ERR_AGAIN;
}

/*
 * resource.activate: ready, or (DD_ERR_AGAIN, with ctx->resume set) not
 * yet (take_answer()).  Its attributes land in r->attributes.
 */
static int activate(const struct dd_bp_ctx *ctx, struct dd_resource *r,
		    struct dd_error *err)
{
	const json_t *config = ctx->blueprint->config;
	struct log_to to = about(ctx, r, NULL);
	json_t *req, *reply = NULL;
	int rc;

	req = request(ctx, OP_RESOURCE_ACTIVATE, r, NULL);
	if (!req)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	rc = call(ctx, config, OP_RESOURCE_ACTIVATE, req, &to, &reply, err);
	json_decref(req);
	if (rc)
		return rc;
	rc = take_answer(ctx, OP_RESOURCE_ACTIVATE, reply, r, err);
	if (!rc || rc == DD_ERR_AGAIN) {
		int src = take_ssh(config, OP_RESOURCE_ACTIVATE,
				   json_object_get(reply, "ssh"), r, err);

		if (src)
			rc = src;
	}
	json_decref(reply);
	return rc;
}

/*
 * An SSH endpoint is reached once before the resource is active: the
 * host key checked, the key taken, its directory there.  What fails
 * breaks the resource with ssh's reason.
 */
static int check_endpoint(const struct dd_bp_ctx *ctx,
			  const struct dd_resource *r, struct dd_error *err)
{
	struct dd_resource view;
	int rc;

	if (!ssh_view(r, &view))
		return 0;
	rc = dd_host_ssh_check_resource(ctx, &view, err);
	json_decref(view.attributes);
	return rc;
}

/*
 * An active SSH endpoint is reached again whenever its resource's pass
 * runs: when a lease's activation could not reach it, or a command on
 * one of its leases ended with ssh's 255 (never on a timer: the provider
 * knows best what it built).  Anything else has nothing to check.
 */
static int exec_check_resource(const struct dd_bp_ctx *ctx,
			       const struct dd_resource *r, double *next,
			       struct dd_error *err)
{
	*next = 0;
	return check_endpoint(ctx, r, err);
}

/*
 * Allocate, then activate if the provider has it.  What they answer lands
 * in r->attributes, saved with the resource's activation, or with its
 * breaking if a step fails, so that destroy has the provider's id.
 *
 * Between the two, the allocate's answer is saved: the hook answers "in
 * progress" (ctx->resume), which saves the attributes durably in a fenced
 * transaction, and is called again at once; it then finds the provider's
 * id and goes on to activate.  So a crash after that save never asks for
 * the resource twice; a crash while allocate runs, or before its answer
 * is saved, asks again with the same key, which the provider answers
 * with the same resource.  A provider not ready yet on activate
 * ("retry_after") is asked again later the same way, within the hook's
 * deadline, which counts from the first call.
 */
static int exec_activate_resource(const struct dd_bp_ctx *ctx,
				  struct dd_resource *r, struct dd_error *err)
{
	int rc;

	if (!json_is_string(json_object_get(r->attributes, "key")))
		return dd_error_set(err, DD_ERR_BROKEN,
				    "resource %lld has no key", r->id);
	if (!json_is_string(json_object_get(r->attributes, "provider_id"))) {
		rc = allocate(ctx, r, err);
		DD_CHAOS_STOP("exec_allocated");
		if (rc)
			return rc;
		if (implements(r, OP_RESOURCE_ACTIVATE) && ctx->resume) {
			ctx->resume->at = dd_now(); /* saved, then at once */
			return DD_ERR_AGAIN;
		}
	}
	if (implements(r, OP_RESOURCE_ACTIVATE)) {
		rc = activate(ctx, r, err);
		if (rc)
			return rc;
	}
	return check_endpoint(ctx, r, err);
}

/*
 * resource.destroy: done, or not yet (its answer's "retry_after", as for
 * activate: take_answer()), when the hook is "in progress" and asks
 * again then, its deadline counting from the first call.
 */
static int exec_destroy_resource(const struct dd_bp_ctx *ctx,
				 struct dd_resource *r, struct dd_error *err)
{
	struct log_to to = about(ctx, r, NULL);
	struct dd_resource view;
	json_t *req, *reply = NULL;
	int rc;

	/* a resource made before its key was recorded was never built */
	if (!json_is_string(json_object_get(r->attributes, "key")))
		return 0;
	req = request(ctx, OP_RESOURCE_DESTROY, r, NULL);
	if (!req)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	rc = call(ctx, ctx->blueprint->config, OP_RESOURCE_DESTROY, req, &to,
		  &reply, err);
	json_decref(req);
	if (!rc)
		rc = take_answer(ctx, OP_RESOURCE_DESTROY, reply, r, err);
	json_decref(reply);
	if (rc)
		return rc;
	DD_CHAOS_STOP("exec_destroyed");
	/* an endpoint's host key file is named after the resource alone */
	if (ssh_view(r, &view)) {
		rc = dd_host_ssh_forget(ctx, &view, err);
		json_decref(view.attributes);
	}
	return rc;
}

/* ---- leases ------------------------------------------------------------- */

/*
 * Up to `slots` leases on a resource; the provider's lease.acquire, if it
 * has one, is asked once (at the first proposal) whether this lease may
 * go on it at all.
 */
static int exec_acquire(const struct dd_bp_ctx *ctx,
			const struct dd_resource *r, struct dd_lease *lease,
			size_t n, struct dd_slot_keys *keys,
			struct dd_error *err)
{
	const json_t *config = ctx->blueprint->config;
	json_t *req, *reply = NULL, *accept;
	struct log_to to = about(ctx, r, lease);
	int rc;

	if ((long long)n >= config_int(config, "slots", 1))
		return DD_ERR_NOTFOUND;
	if (n == 0 && implements(r, OP_LEASE_ACQUIRE)) {
		req = request(ctx, OP_LEASE_ACQUIRE, r, lease);
		if (!req)
			return dd_error_set(err, DD_ERR_NOMEM,
					    "out of memory");
		rc = call(ctx, config, OP_LEASE_ACQUIRE, req, &to, &reply, err);
		json_decref(req);
		if (rc)
			return rc;
		accept = json_object_get(reply, "accept");
		if (!json_is_boolean(accept)) {
			json_decref(reply);
			return dd_error_set(err, DD_ERR_INVALID,
					    "provider '%s' failed on "
					    "lease.acquire: its reply needs "
					    "'accept': true or false",
					    program(config));
		}
		json_decref(reply);
		if (!json_is_true(accept))
			return DD_ERR_NOTFOUND;
	}
	return dd_slot_keys_add(keys, "resource:%lld:slot:%zu", r->id, n);
}

/* A lease operation the provider may not implement (then: nothing to do). */
static int lease_op(const struct dd_bp_ctx *ctx, enum op op,
		    const struct dd_resource *r, struct dd_lease *lease,
		    struct dd_error *err)
{
	const json_t *config = ctx->blueprint->config;
	struct log_to to = about(ctx, r, lease);
	json_t *req, *reply = NULL, *v;
	int rc;

	if (!implements(r, op))
		return 0;
	req = request(ctx, op, r, lease);
	if (!req)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	rc = call(ctx, config, op, req, &to, &reply, err);
	json_decref(req);
	if (rc)
		return rc;
	v = json_object_get(reply, "attributes");
	if (op == OP_LEASE_ACTIVATE && v && !json_is_object(v))
		rc = dd_error_set(err, DD_ERR_INVALID,
				  "provider '%s' failed on lease.activate: "
				  "its 'attributes' must be an object",
				  program(config));
	else if (op == OP_LEASE_ACTIVATE && v && lease->attributes)
		json_object_set(lease->attributes, "provider", v);
	json_decref(reply);
	return rc;
}

/*
 * On an SSH endpoint, drydock gives each lease a directory there itself
 * (as for a remote host), before the provider's own lease.activate, and
 * removes it after the provider's lease.destroy.
 */
static int exec_activate_lease(const struct dd_bp_ctx *ctx,
			       const struct dd_resource *r,
			       struct dd_lease *lease, struct dd_error *err)
{
	struct dd_resource view;
	int rc = 0;

	if (ssh_view(r, &view)) {
		rc = dd_host_ssh_activate_lease(ctx, &view, lease, err);
		json_decref(view.attributes);
	}
	return rc ? rc : lease_op(ctx, OP_LEASE_ACTIVATE, r, lease, err);
}

static int exec_release_lease(const struct dd_bp_ctx *ctx,
			      const struct dd_resource *r,
			      struct dd_lease *lease, struct dd_error *err)
{
	return lease_op(ctx, OP_LEASE_RELEASE, r, lease, err);
}

static int exec_destroy_lease(const struct dd_bp_ctx *ctx,
			      const struct dd_resource *r,
			      struct dd_lease *lease, struct dd_error *err)
{
	struct dd_resource view;
	int rc = lease_op(ctx, OP_LEASE_DESTROY, r, lease, err);

	if (!rc && ssh_view(r, &view)) {
		rc = dd_host_ssh_destroy_lease(ctx, &view, lease, err);
		json_decref(view.attributes);
	}
	return rc;
}

/* ---- commands ----------------------------------------------------------- */

/*
 * exec: the provider is the command.  Its stdin, stdout and stderr are
 * the streams `io` names and its exit status the command's (the request
 * is on descriptor 3); dd_exec_run() waits for it and stops its group.
 * On an SSH endpoint the command is ssh's (host_ssh.h), through the
 * endpoint's shared master connection.
 */
static int exec_spawn(const struct dd_bp_ctx *ctx, const struct dd_resource *r,
		      const struct dd_lease *lease, char *const argv[],
		      char *const env[], const struct dd_exec_io *io,
		      pid_t *pid, struct dd_error *err)
{
	const json_t *config = ctx->blueprint->config;
	struct dd_resource view;
	struct provider_run p;
	json_t *req, *args, *vars;
	int rc;

	/* an SSH endpoint: drydock runs the command there itself */
	if (ssh_view(r, &view)) {
		rc = dd_host_ssh_spawn(ctx, &view, lease, argv, env, io, pid,
				       err);
		json_decref(view.attributes);
		return rc;
	}
	if (!implements(r, OP_EXEC))
		return dd_error_set(err, DD_ERR_INVALID,
				    "provider '%s' does not implement exec, "
				    "so lease %lld offers no commands",
				    program(config), lease->id);
	req = request(ctx, OP_EXEC, r, lease);
	args = json_array();
	vars = json_object();
	for (size_t i = 0; req && args && argv[i]; i++)
		json_array_append_new(args, json_string(argv[i]));
	/* the wrapper checked them: NAME=VALUE each */
	for (size_t i = 0; vars && env && env[i]; i++) {
		const char *eq = strchr(env[i], '=');
		char name[256];

		if (!eq || (size_t)(eq - env[i]) >= sizeof(name))
			continue;
		memcpy(name, env[i], (size_t)(eq - env[i]));
		name[eq - env[i]] = '\0';
		json_object_set_new(vars, name, json_string(eq + 1));
	}
	if (!req || !args || !vars) {
		json_decref(req);
		json_decref(args);
		json_decref(vars);
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	}
	json_object_set_new(req, "command",
			    json_pack("{s:o, s:o}", "argv", args, "env", vars));
	rc = provider_run_init(&p, config, OP_EXEC, req, err);
	json_decref(req);
	if (rc)
		return rc;
	p.as_cmd = true;
	rc = provider_start(&p, io, pid, err);
	provider_run_release(&p);
	return rc;
}

static const struct dd_command_interface exec_command = {
	.spawn = exec_spawn,
};

const struct dd_blueprint_type dd_exec_blueprint_type = {
	.version = DD_BLUEPRINT_TYPE_VERSION,
	.name = "exec",
	.resource_type = NULL, /* the config's resource_type */
	.summary = "resources built by an operator's program (docs/"
		   "providers.md)",
	.config_fields = exec_config_fields,
	.validate = exec_validate,
	.resource_type_of = exec_resource_type,
	.can_ever_allocate = NULL,
	.allocate = exec_allocate,
	.activate_resource = exec_activate_resource,
	.destroy_resource = exec_destroy_resource,
	.check_resource = exec_check_resource,
	.can_acquire = NULL,
	.acquire = exec_acquire,
	.activate_lease = exec_activate_lease,
	.release_lease = exec_release_lease,
	.destroy_lease = exec_destroy_lease,
	.command = &exec_command,
	/* a VM may take minutes to boot; what undoes things, less */
	.timeouts = {[DD_BP_HOOK_ACTIVATE_RESOURCE] = 600,
		     [DD_BP_HOOK_DESTROY_RESOURCE] = 300,
		     [DD_BP_HOOK_ACTIVATE_LEASE] = 120,
		     [DD_BP_HOOK_RELEASE_LEASE] = 120,
		     [DD_BP_HOOK_DESTROY_LEASE] = 120},
};
