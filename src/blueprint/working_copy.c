/*
 * working_copy.c - the "working-copy" blueprint: git working copies kept
 * on hosts leased from host blueprints, checked out at a requested
 * commit for each lease and reused by the next.
 *
 *   {"hosts": [3], "root": "/var/tmp/drydock-wc", "limit": 8,
 *    "per_host_limit": 2, "reclaim_grace": 60}
 *
 * A resource is a set of repositories cloned once, in directories of
 * ROOT/wc-ID on one host.  Its activate_resource leases that host from
 * one of the `hosts` blueprints (services.h: the resource owns the
 * lease, and the lease's changes resume the hook, never a poll), then
 * clones.  Every git command runs through the host lease's command
 * interface, so a local host and an SSH host are the same to it.
 *
 * Objects are shared: each repository URI has one bare cache per host,
 * ROOT/cache/<sha256 of the URI>.git, which fetches from the URI; a
 * working copy is a `git clone --shared` of it (objects/info/alternates
 * names the cache's objects), so a second working copy of a repository
 * costs its checkout and little more, and a lease's checkout of a commit
 * the cache has needs no fetch.
 *
 * A lease asks:
 *
 *   {"repositories": {"src": {"uri": "https://...", "branch": "main",
 *                             "merges": [{"uri": "...", "ref": "..."}]}},
 *    "default": "src", "strict": false}
 *
 * checked before it is queued (lease_fields, git_args.h).  It goes on an
 * active working copy holding every directory it names with the same
 * URI (with "strict", no other), one lease at a time (slot lock
 * "resource:R:working-copy").  Its activate_lease, per directory: fetch
 * into the cache what the request needs (nothing for a commit the cache
 * has), check the commit out (`checkout -f`: tracked files as
 * committed), squash-merge each merge as a commit of a fixed identity,
 * `git clean -ffdx`, and submodules if asked; the lease's attributes
 * then say the commit of every
 * directory ("commits") and its directory ("path": the default
 * directory, or the working copy's root).  A failure names its phase
 * (clone, fetch, checkout, merge, clean), the command and its stderr;
 * a merge that conflicts is reset, so the next lease finds the copy
 * usable.
 *
 * Limits are slot locks taken with the allocation: "blueprint:W:wc:J"
 * (J < limit) and "blueprint:W:host:HB:NAME:K" (K < per_host_limit) for
 * the host NAME of host blueprint HB that the copy will lease.  When
 * they are all held and a lease needs a copy of another shape, the
 * allocator reclaims an idle copy holding one, once it has been idle for
 * `reclaim_grace` seconds.
 */
#include "api/api.h"
#include "blueprint/blueprint.h"
#include "blueprint/git_args.h"
#include "blueprint/services.h"
#include "core/machine.h"
#include "core/sha256.h"
#include "core/util.h"
#include "store/store.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define DEFAULT_LIMIT 16
/* Seconds an idle copy is kept from a lease of another shape. */
#define DEFAULT_GRACE 60
/* No more allocation proposals than this (limit keys x host keys). */
#define MAX_PROPOSALS 256
/* The name under which a working copy remembers its host lease. */
#define HOST_LEASE "host"
/* Who the squash merges' commits are by. */
#define GIT_NAME "user.name=drydock"
#define GIT_EMAIL "user.email=drydock@drydock.invalid"
/* An error message's room for the command and for its stderr. */
#define SHOW_COMMAND 160
#define SHOW_STDERR 240

/* ------------------------------------------------------------------ */
/* config */

static int check_absolute(const json_t *v, const json_t *parent,
			  struct dd_error *err)
{
	(void)parent;
	if (json_string_value(v)[0] != '/')
		return dd_error_set(err, DD_ERR_INVALID,
				    "must be an absolute path");
	return 0;
}

static const struct dd_schema_field host_id = {
	.type = DD_SCHEMA_INTEGER,
	.what = "a host blueprint's id",
	.min = 1,
	.max = LLONG_MAX,
};

static const struct dd_schema_field wc_config_fields[] = {
	{.name = "hosts",
	 .type = DD_SCHEMA_ARRAY,
	 .required = true,
	 .what = "a non-empty array of host blueprint ids",
	 .min_items = 1,
	 .max_items = 64,
	 .items = &host_id},
	{.name = "root",
	 .type = DD_SCHEMA_STRING,
	 .required = true,
	 .what = "an absolute path on the hosts",
	 .max_len = 1024,
	 .check = check_absolute},
	{.name = "limit", .type = DD_SCHEMA_INTEGER, .min = 1, .max = 1000},
	{.name = "per_host_limit",
	 .type = DD_SCHEMA_INTEGER,
	 .min = 1,
	 .max = 1000},
	{.name = "reclaim_grace",
	 .type = DD_SCHEMA_NUMBER,
	 .what = "a number of seconds from 0 to 86400",
	 .min_number = 0,
	 .max_number = 86400},
	{.name = NULL},
};

/*
 * A copy is built by the lease that needs it, with the repositories that
 * lease asks for: a pool's min_ready would build copies of nothing.
 * (max_idle and idle_ttl do make sense: they let idle copies go.)
 */
static int wc_validate(const json_t *config, struct dd_error *err)
{
	json_t *min = json_object_get(config, "min_ready");

	if (json_integer_value(min) > 0)
		return dd_error_set(err, DD_ERR_INVALID,
				    "config: min_ready: a working-copy "
				    "blueprint cannot keep copies ready: each "
				    "is built for the repositories of the "
				    "lease that needs it (use reclaim_grace, "
				    "max_idle or idle_ttl to keep idle ones)");
	return 0;
}

/*
 * Every one of "hosts" is a host blueprint: the copy leases one of its
 * hosts by name and runs git through its command interface.
 */
static int wc_validate_refs(struct dd_store *s, const json_t *config,
			    struct dd_error *err)
{
	size_t i;
	json_t *id;
	int rc = 0;

	json_array_foreach(json_object_get(config, "hosts"), i, id)
	{
		struct dd_blueprint bp = {0};
		struct dd_error why = DD_ERROR_INIT;

		rc = dd_store_blueprint_get(s, json_integer_value(id), &bp,
					    &why);
		if (rc == DD_ERR_NOTFOUND)
			rc = dd_error_set(err, DD_ERR_INVALID,
					  "config: hosts[%zu]: no blueprint "
					  "%lld",
					  i, (long long)json_integer_value(id));
		else if (rc)
			*err = why;
		else if (strcmp(bp.type, dd_host_blueprint_type.name))
			rc = dd_error_set(err, DD_ERR_INVALID,
					  "config: hosts[%zu]: blueprint %lld "
					  "is of type '%s', not a host "
					  "blueprint (type 'host')",
					  i, bp.id, bp.type);
		dd_blueprint_release(&bp);
		if (rc)
			break;
	}
	return rc;
}

static long long config_int(const json_t *config, const char *key,
			    long long dflt)
{
	json_t *v = json_object_get(config, key);

	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

/* ------------------------------------------------------------------ */
/* lease attributes */

/* Schema checks over git_args.h: the value of the row is a string. */
static int check_uri(const json_t *v, const json_t *parent,
		     struct dd_error *err)
{
	(void)parent;
	return dd_git_check_uri(json_string_value(v), err);
}

static int check_ref(const json_t *v, const json_t *parent,
		     struct dd_error *err)
{
	(void)parent;
	return dd_git_check_ref(json_string_value(v), err);
}

static int check_commit(const json_t *v, const json_t *parent,
			struct dd_error *err)
{
	(void)parent;
	return dd_git_check_commit(json_string_value(v), err);
}

/* The directories, the keys of "repositories". */
static int check_dirs(const json_t *v, const json_t *parent,
		      struct dd_error *err)
{
	struct dd_error why = DD_ERROR_INIT;
	const char *dir;
	json_t *spec;

	(void)parent;
	json_object_foreach((json_t *)v, dir, spec)
	{
		if (dd_git_check_dir(dir, &why))
			return dd_error_set(err, DD_ERR_INVALID,
					    "directory '%.64s' %s", dir,
					    why.msg);
	}
	return 0;
}

/* One repository asks for at most one of commit, branch and ref. */
static int check_repository(const json_t *v, const json_t *parent,
			    struct dd_error *err)
{
	int n = !!json_object_get(v, "commit") +
		!!json_object_get(v, "branch") + !!json_object_get(v, "ref");

	(void)parent;
	if (n > 1)
		return dd_error_set(err, DD_ERR_INVALID,
				    "must name at most one of 'commit', "
				    "'branch' and 'ref'");
	return 0;
}

static int check_default(const json_t *v, const json_t *parent,
			 struct dd_error *err)
{
	if (!json_object_get(json_object_get(parent, "repositories"),
			     json_string_value(v)))
		return dd_error_set(err, DD_ERR_INVALID,
				    "must be one of the directories in "
				    "'repositories'");
	return 0;
}

static const struct dd_schema_field merge_fields[] = {
	{.name = "uri",
	 .type = DD_SCHEMA_STRING,
	 .required = true,
	 .check = check_uri},
	{.name = "ref",
	 .type = DD_SCHEMA_STRING,
	 .required = true,
	 .check = check_ref},
	{.name = NULL},
};

static const struct dd_schema_field merge = {
	.type = DD_SCHEMA_OBJECT,
	.fields = merge_fields,
};

static const struct dd_schema_field repository_fields[] = {
	{.name = "uri",
	 .type = DD_SCHEMA_STRING,
	 .required = true,
	 .check = check_uri},
	{.name = "commit", .type = DD_SCHEMA_STRING, .check = check_commit},
	{.name = "branch", .type = DD_SCHEMA_STRING, .check = check_ref},
	{.name = "ref", .type = DD_SCHEMA_STRING, .check = check_ref},
	{.name = "merges",
	 .type = DD_SCHEMA_ARRAY,
	 .max_items = 32,
	 .items = &merge},
	{.name = "submodules", .type = DD_SCHEMA_BOOLEAN},
	{.name = NULL},
};

static const struct dd_schema_field repository = {
	.type = DD_SCHEMA_OBJECT,
	.fields = repository_fields,
	.check = check_repository,
};

static const struct dd_schema_field wc_lease_fields[] = {
	{.name = "repositories",
	 .type = DD_SCHEMA_MAP,
	 .required = true,
	 .what = "a non-empty object of directories",
	 .min_items = 1,
	 .max_items = 64,
	 .items = &repository,
	 .check = check_dirs},
	{.name = "default",
	 .type = DD_SCHEMA_STRING,
	 .min_len = 1,
	 .max_len = 255,
	 .check = check_default},
	{.name = "strict", .type = DD_SCHEMA_BOOLEAN},
	{.name = NULL},
};

/* ------------------------------------------------------------------ */
/* shapes and limits */

static const char *str_at(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static json_t *wanted(const struct dd_lease *lease)
{
	return json_object_get(lease->attributes, "repositories");
}

static bool wc_can_ever_allocate(const struct dd_bp_ctx *ctx,
				 const struct dd_lease *lease)
{
	(void)ctx;
	return json_object_size(wanted(lease)) > 0;
}

/* A host a working copy may lease, and one of its per-host slots. */
struct host_slot {
	long long blueprint;
	char name[72];
	long long k;
};

/* Is slot-lock `key` held right now?  A read: the allocator decides. */
static bool key_held(const struct dd_bp_ctx *ctx, const char *key)
{
	struct dd_filter f = {0};
	struct dd_slot_lock_list l = {0};
	bool held;

	f.key = key;
	if (dd_store_slot_list(ctx->store, &f, &l, NULL))
		return false;
	held = l.n > 0;
	dd_slot_lock_list_release(&l);
	return held;
}

static void host_key(const struct dd_bp_ctx *ctx, const struct host_slot *h,
		     char *buf, size_t n)
{
	snprintf(buf, n, "blueprint:%lld:host:%lld:%s:%lld", ctx->blueprint->id,
		 h->blueprint, h->name, h->k);
}

/*
 * The per-host slots of the hosts of the config's host blueprints (at
 * most `max`), the free ones only if any is free.
 */
static size_t host_slots(const struct dd_bp_ctx *ctx, struct host_slot *out,
			 size_t max)
{
	const json_t *config = ctx->blueprint->config;
	long long per_host = config_int(
		config, "per_host_limit",
		config_int(config, "limit", DEFAULT_LIMIT));
	size_t n = 0, nfree = 0, i, j;
	json_t *id, *h;

	json_array_foreach(json_object_get(config, "hosts"), i, id)
	{
		struct dd_blueprint bp = {0};

		if (dd_store_blueprint_get(ctx->store, json_integer_value(id),
					   &bp, NULL))
			continue;
		if (!strcmp(bp.type, dd_host_blueprint_type.name))
			json_array_foreach(json_object_get(bp.config, "hosts"),
					   j, h)
			{
				for (long long k = 0; k < per_host && n < max;
				     k++) {
					out[n].blueprint = bp.id;
					snprintf(out[n].name,
						 sizeof(out[n].name), "%s",
						 str_at(h, "name"));
					out[n++].k = k;
				}
			}
		dd_blueprint_release(&bp);
	}
	/* the free ones first, and only they if there are any */
	for (i = 0; i < n; i++) {
		char key[128];

		host_key(ctx, &out[i], key, sizeof(key));
		if (!key_held(ctx, key))
			out[nfree++] = out[i];
	}
	return nfree ? nfree : n;
}

/*
 * The limit keys to propose: the first free one, or, when all are held,
 * every one (so that the allocator sees who holds them and may reclaim
 * an idle copy).  Returns how many, from *first.
 */
static long long limit_keys(const struct dd_bp_ctx *ctx, long long *first)
{
	long long limit = config_int(ctx->blueprint->config, "limit",
				     DEFAULT_LIMIT);
	char key[128];

	for (long long j = 0; j < limit; j++) {
		snprintf(key, sizeof(key), "blueprint:%lld:wc:%lld",
			 ctx->blueprint->id, j);
		if (!key_held(ctx, key)) {
			*first = j;
			return 1;
		}
	}
	*first = 0;
	return limit;
}

/*
 * The nth proposal: a limit key and a host slot.  Free keys come first;
 * held ones only when none is free, for the allocator's reclaim.
 */
static int wc_allocate(const struct dd_bp_ctx *ctx,
		       const struct dd_lease *lease, size_t n,
		       struct dd_resource *r, struct dd_slot_keys *keys,
		       struct dd_error *err)
{
	struct host_slot *hs = dd_calloc(MAX_PROPOSALS, sizeof(*hs));
	long long first, nlimit;
	size_t nh;
	json_t *shape;
	const char *dir;
	json_t *spec;
	char key[128];
	int rc;

	if (!hs)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	nh = host_slots(ctx, hs, MAX_PROPOSALS);
	nlimit = limit_keys(ctx, &first);
	if (!nh) {
		dd_free(hs);
		return n ? DD_ERR_NOTFOUND
			 : dd_error_set(err, DD_ERR_INVALID,
					"working copy blueprint %lld: none of "
					"its 'hosts' is a host blueprint with "
					"hosts",
					ctx->blueprint->id);
	}
	if (n >= MAX_PROPOSALS || n / nh >= (size_t)nlimit) {
		dd_free(hs);
		return DD_ERR_NOTFOUND;
	}
	first += (long long)(n / nh);
	shape = json_object();
	json_object_foreach(wanted(lease), dir, spec)
	{
		json_object_set_new(shape, dir,
				    json_pack("{s:s}", "uri",
					      str_at(spec, "uri")));
	}
	r->attributes = json_pack("{s:o, s:I, s:s}", "repositories", shape,
				  "host_blueprint", hs[n % nh].blueprint,
				  "host", hs[n % nh].name);
	host_key(ctx, &hs[n % nh], key, sizeof(key));
	dd_free(hs);
	if (!r->attributes)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	rc = dd_slot_keys_add(keys, "blueprint:%lld:wc:%lld",
			      ctx->blueprint->id, first);
	if (!rc)
		rc = dd_slot_keys_add(keys, "%s", key);
	return rc;
}

/* ------------------------------------------------------------------ */
/* git on the host lease */

static long long host_lease(const struct dd_resource *r)
{
	json_t *v = json_object_get(json_object_get(r->attributes, "leases"),
				    HOST_LEASE);

	return json_is_integer(v) ? json_integer_value(v) : 0;
}

/*
 * The tail of `b` that fits in `max` bytes, without trailing blanks,
 * on one line (a message's, a log entry's).
 */
static const char *tail_of(struct dd_buf *b, size_t max)
{
	while (b->len && (b->buf[b->len - 1] == '\n' ||
			  b->buf[b->len - 1] == ' '))
		b->buf[--b->len] = '\0';
	if (!b->buf)
		return "";
	for (size_t i = 0; i < b->len; i++)
		if (b->buf[i] == '\n' || b->buf[i] == '\r')
			b->buf[i] = ' ';
	return b->len > max ? b->buf + b->len - max : b->buf;
}

/*
 * Run argv on the host lease `host`; 0 when it exits 0, with its stdout
 * in *out if `out` is not NULL.  Otherwise an error that says the phase,
 * the command and what it said: DD_ERR_IO for a command that failed,
 * DD_ERR_TIMEOUT for one stopped at the deadline, DD_ERR_REMOTE when it
 * could not run on the host lease (gone, not active, unreachable).
 */
static int git_run(const struct dd_bp_ctx *ctx, long long host,
		   const char *phase, char *const argv[], struct dd_buf *out,
		   struct dd_error *err)
{
	struct dd_exec_result res = {0};
	struct dd_error why = DD_ERROR_INIT;
	struct dd_buf cmd = DD_BUF_INIT;
	int rc;

	/* said without git's "-c NAME=VALUE" and "-C DIR": the rest tells */
	for (size_t i = 0; argv[i]; i++) {
		if (i && argv[i + 1] &&
		    (!strcmp(argv[i], "-c") || !strcmp(argv[i], "-C")) &&
		    !strcmp(argv[0], "git")) {
			i++;
			continue;
		}
		dd_buf_addf(&cmd, "%s%s", i ? " " : "", argv[i]);
	}
	rc = dd_bp_lease_exec(ctx, host, argv, &res, &why);
	if (rc)
		rc = dd_error_set(err, DD_ERR_REMOTE,
				  "%s: cannot run '%.*s' on host lease %lld: "
				  "%s",
				  phase, SHOW_COMMAND, cmd.buf, host, why.msg);
	else if (res.timed_out || res.cancelled)
		rc = dd_error_set(err, DD_ERR_TIMEOUT, "%s: '%.*s' %s", phase,
				  SHOW_COMMAND, cmd.buf,
				  res.timed_out ? "timed out" : "was stopped");
	else if (res.exit_status) {
		/* git says a conflict on stdout, anything else on stderr */
		struct dd_buf *said = res.err.len ? &res.err : &res.out;

		rc = dd_error_set(err, DD_ERR_IO,
				  "%s failed: '%.*s' exited with %d: %s", phase,
				  SHOW_COMMAND, cmd.buf, res.exit_status,
				  tail_of(said, SHOW_STDERR));
	} else if (out) {
		tail_of(&res.out, res.out.len);
		*out = res.out;
		res.out = (struct dd_buf)DD_BUF_INIT;
	}
	dd_exec_result_release(&res);
	dd_buf_release(&cmd);
	return rc;
}

/* Where things are on the host, for one repository. */
struct place {
	char cache[1200]; /* ROOT/cache/SHA.git */
	char copy[1600];  /* ROOT/wc-ID/DIR */
};

static void place_of(const char *root, const char *path, const char *dir,
		     const char *uri, struct place *p)
{
	char sha[65];

	dd_sha256_hex(uri, strlen(uri), sha);
	snprintf(p->cache, sizeof(p->cache), "%s/cache/%s.git", root, sha);
	snprintf(p->copy, sizeof(p->copy), "%s/%s", path, dir);
}

/*
 * What git says of a command on a cache that may pass if tried again: a
 * lock held by another git in the same cache (two copies on a host make
 * it or fetch into it at once: a ref or config lock), a network that
 * failed on the way.  What the remote refused (no such repository or
 * ref, no access) fails at once, whatever else it said: it comes first.
 */
static const char *const git_final[] = {
	"couldn't find remote ref",
	"does not appear to be a git repository",
	"not found",
	"Permission denied",
	"Authentication failed",
	"not our ref",
	"Host key verification failed",
	NULL,
};
static const char *const git_transient[] = {
	"cannot lock ref",
	"could not lock config file",
	"unable to update local ref",
	".lock': File exists",
	"Could not resolve host",
	"Temporary failure in name resolution",
	"Connection timed out",
	"Connection reset",
	"Operation timed out",
	"the remote end hung up unexpectedly",
	"early EOF",
	"RPC failed",
	NULL,
};

static bool said_any(const char *msg, const char *const words[])
{
	for (size_t i = 0; words[i]; i++)
		if (strstr(msg, words[i]))
			return true;
	return false;
}

/* Might a git that failed so (git_run()'s error) pass on a retry? */
static bool git_may_pass(int rc, const struct dd_error *err)
{
	return rc == DD_ERR_IO && !said_any(err->msg, git_final) &&
	       said_any(err->msg, git_transient);
}

/* Wait `s` seconds before a retry, if the hook's deadline leaves room. */
static bool pause_before_retry(const struct dd_bp_ctx *ctx, double s)
{
	if (ctx->deadline > 0 && dd_now() + s >= ctx->deadline - 1)
		return false;
	dd_sleep(s);
	return true;
}

/*
 * git_run() argv on the cache, trying again, up to 3 times in all and a
 * little later each time, only what may pass on a retry (git_may_pass()).
 */
static int cache_run(const struct dd_bp_ctx *ctx, long long host,
		     const char *phase, char *const argv[],
		     struct dd_error *err)
{
	int rc;

	for (int attempt = 1;; attempt++) {
		rc = git_run(ctx, host, phase, argv, NULL, err);
		if (attempt == 3 || !git_may_pass(rc, err) ||
		    !pause_before_retry(ctx, 0.25 * attempt))
			return rc;
	}
}

/* Fetch `refspecs` (up to 4, NULL-ended) from `uri` into the cache. */
static int cache_fetch(const struct dd_bp_ctx *ctx, long long host,
		       const struct place *p, const char *uri,
		       const char *const refspecs[], struct dd_error *err)
{
	char *argv[16] = {"git", "-c", "gc.auto=0", "-c",
			  "protocol.ext.allow=never", "-C", (char *)p->cache,
			  "fetch", "-q", "--no-tags", "--", (char *)uri};
	size_t n = 12;

	for (size_t i = 0; refspecs[i] && n < 15; i++)
		argv[n++] = (char *)refspecs[i];
	argv[n] = NULL;
	return cache_run(ctx, host, "fetch", argv, err);
}

static const char *const all_refs[] = {"+refs/heads/*:refs/heads/*",
				       "+refs/tags/*:refs/tags/*", NULL};

/*
 * Make the cache if need be (`git init` of one that exists changes
 * nothing; two copies that make it at once meet on its config's lock)
 * and fill it: every branch and tag.
 */
static int cache_fill(const struct dd_bp_ctx *ctx, long long host,
		      const struct place *p, const char *uri,
		      struct dd_error *err)
{
	char *init[] = {"git", "init", "-q", "--bare", "--",
			(char *)p->cache, NULL};
	int rc = cache_run(ctx, host, "clone", init, err);

	return rc ? rc : cache_fetch(ctx, host, p, uri, all_refs, err);
}

/*
 * A copy lives where its host does: git runs in the host's directories,
 * which on a local host only that machine's daemons may reach.  Once the
 * host lease is active (placed on a resource), record the host's machine
 * in the copy, once (blueprint.h); learned on a daemon of another
 * machine, answer "in progress", resumed at once: the pass saves the
 * machine and a daemon there takes the next call.  A host reachable from
 * anywhere (SSH) binds nothing.
 */
static int bind_to_host(const struct dd_bp_ctx *ctx, struct dd_resource *r,
			long long host, struct dd_error *err)
{
	struct dd_lease l = {0};
	struct dd_resource hr = {0};
	char here[DD_MACHINE_MAX + 1];
	struct dd_error why = DD_ERROR_INIT;
	int rc;

	if (r->machine[0])
		return 0;
	rc = dd_store_lease_get(ctx->store, host, &l, err);
	if (!rc)
		rc = dd_store_resource_get(ctx->store, l.resource, &hr, err);
	if (!rc && hr.machine[0]) {
		memcpy(r->machine, hr.machine, sizeof(r->machine));
		if (ctx->resume &&
		    (dd_machine(here, &why) || strcmp(here, r->machine))) {
			ctx->resume->at = dd_now();
			rc = DD_ERR_AGAIN;
		}
	}
	dd_resource_release(&hr);
	dd_lease_release(&l);
	return rc;
}

static int wc_activate_resource(const struct dd_bp_ctx *ctx,
				struct dd_resource *r, struct dd_error *err)
{
	const char *root = str_at(ctx->blueprint->config, "root");
	json_t *hb = json_pack("[O]", json_object_get(r->attributes,
						      "host_blueprint"));
	json_t *ask = json_pack("{s:s}", "host",
				str_at(r->attributes, "host"));
	struct dd_bp_lease_want want = {HOST_LEASE, "host", ask, hb};
	char path[1200];
	long long host;
	const char *dir;
	json_t *spec;
	int rc;

	if (!hb || !ask || !str_at(r->attributes, "host")) {
		json_decref(hb);
		json_decref(ask);
		return dd_error_set(err, DD_ERR_INVALID,
				    "working copy %lld names no host", r->id);
	}
	rc = dd_bp_lease_request(ctx, r->attributes, &want, &host, err);
	json_decref(hb);
	json_decref(ask);
	if (!rc)
		rc = dd_bp_lease_await(ctx, host, err);
	if (rc == DD_ERR_AGAIN && ctx->resume) {
		struct dd_lease l = {0};
		const char *status = "?";

		/*
		 * Resumed by the host lease's change, or just before the
		 * deadline to say why it is late, rather than "timed out".
		 */
		if (dd_now() < ctx->deadline - 1.5) {
			ctx->resume->at = ctx->deadline - 1;
			return rc;
		}
		if (!dd_store_lease_get(ctx->store, host, &l, NULL))
			status = dd_lease_status_name(l.status);
		rc = dd_error_set(err, DD_ERR_TIMEOUT,
				  "its host lease %lld did not become active "
				  "in %.0f s: it is still %s",
				  host, ctx->deadline - ctx->started, status);
		dd_lease_release(&l);
	}
	if (!rc)
		rc = bind_to_host(ctx, r, host, err);
	if (rc)
		return rc;

	snprintf(path, sizeof(path), "%s/wc-%lld", root, r->id);
	json_object_set_new(r->attributes, "root", json_string(root));
	json_object_set_new(r->attributes, "path", json_string(path));
	json_object_foreach(json_object_get(r->attributes, "repositories"),
			    dir, spec)
	{
		const char *uri = str_at(spec, "uri");
		struct place p;

		place_of(root, path, dir, uri, &p);
		rc = cache_fill(ctx, host, &p, uri, err);
		if (!rc) {
			char *rm[] = {"rm", "-rf", "--", p.copy, NULL};
			char *clone[] = {"git", "clone", "-q", "--shared",
					 "--no-checkout", "--", p.cache,
					 p.copy, NULL};

			rc = git_run(ctx, host, "clone", rm, NULL, err);
			if (!rc)
				rc = git_run(ctx, host, "clone", clone, NULL,
					     err);
		}
		if (rc)
			return rc;
	}
	return 0;
}

/*
 * The commit `want` names in the cache (a revision of it: "C^{commit}"),
 * full, into `sha`; DD_ERR_NOTFOUND if the cache has none.
 */
static int resolve(const struct dd_bp_ctx *ctx, long long host,
		   const struct place *p, const char *rev, char sha[65],
		   struct dd_error *err)
{
	char spec[DD_GIT_REF_MAX + 64];
	char *argv[] = {"git", "-C", (char *)p->cache, "rev-parse", "-q",
			"--verify", "--end-of-options", spec, NULL};
	struct dd_buf out = DD_BUF_INIT;
	struct dd_error why = DD_ERROR_INIT;
	int rc;

	snprintf(spec, sizeof(spec), "%s^{commit}", rev);
	rc = git_run(ctx, host, "checkout", argv, &out, &why);
	if (rc == DD_ERR_IO) {
		rc = DD_ERR_NOTFOUND;
	} else if (rc) {
		*err = why;
	} else {
		snprintf(sha, 65, "%s", out.buf ? out.buf : "");
	}
	dd_buf_release(&out);
	return rc;
}

/* The commit the repository `spec` asks for, fetched into the cache. */
static int target_commit(const struct dd_bp_ctx *ctx, long long host,
			 const struct place *p, const json_t *spec,
			 char sha[65], struct dd_error *err)
{
	const char *uri = str_at(spec, "uri");
	const char *commit = str_at(spec, "commit");
	const char *branch = str_at(spec, "branch");
	const char *ref = str_at(spec, "ref");
	char local[DD_GIT_REF_MAX + 32], refspec[2 * DD_GIT_REF_MAX + 64];
	const char *one[] = {refspec, NULL};
	int rc;

	if (commit) {
		/* a commit the cache has needs no fetch */
		rc = resolve(ctx, host, p, commit, sha, err);
		if (rc != DD_ERR_NOTFOUND)
			return rc;
		rc = cache_fetch(ctx, host, p, uri, all_refs, err);
		if (!rc)
			rc = resolve(ctx, host, p, commit, sha, err);
		if (rc == DD_ERR_NOTFOUND)
			return dd_error_set(err, DD_ERR_NOTFOUND,
					    "checkout failed: commit '%s' is "
					    "not in '%s'",
					    commit, uri);
		return rc;
	}
	if (branch)
		snprintf(local, sizeof(local), "refs/heads/%s", branch);
	else if (ref)
		snprintf(local, sizeof(local), "refs/drydock/ref/%s", ref);
	else
		snprintf(local, sizeof(local), "refs/drydock/HEAD");
	snprintf(refspec, sizeof(refspec), "+%s%s:%s",
		 branch ? "refs/heads/" : "", branch ? branch : ref ? ref : "HEAD",
		 local);
	rc = cache_fetch(ctx, host, p, uri, one, err);
	if (!rc)
		rc = resolve(ctx, host, p, local, sha, err);
	if (rc == DD_ERR_NOTFOUND)
		return dd_error_set(err, DD_ERR_NOTFOUND,
				    "checkout failed: '%s' of '%s' is not a "
				    "commit",
				    branch ? branch : ref ? ref : "HEAD", uri);
	return rc;
}

/* Remove what git does not track, ignored files too. */
static int clean(const struct dd_bp_ctx *ctx, long long host,
		 const struct place *p, struct dd_error *err)
{
	char *argv[] = {"git", "-C", (char *)p->copy, "clean", "-q", "-ffdx",
			NULL};

	return git_run(ctx, host, "clean", argv, NULL, err);
}

/* Undo a failed merge: the index and tree back to HEAD, then clean. */
static int reset_and_clean(const struct dd_bp_ctx *ctx, long long host,
			   const struct place *p, struct dd_error *err)
{
	char *reset[] = {"git", "-C", (char *)p->copy, "reset", "-q",
			 "--hard", NULL};
	int rc = git_run(ctx, host, "clean", reset, NULL, err);

	return rc ? rc : clean(ctx, host, p, err);
}

/*
 * Squash-merge `m` ({"uri", "ref"}) onto the copy's HEAD as one commit.
 * A merge that fails is undone, so that the copy stays usable.
 */
static int merge_one(const struct dd_bp_ctx *ctx, long long host,
		     const struct place *p, const json_t *m,
		     struct dd_error *err)
{
	const char *uri = str_at(m, "uri"), *ref = str_at(m, "ref");
	char msg[DD_GIT_URI_MAX + DD_GIT_REF_MAX + 64];
	char *fetch[] = {"git", "-c", "protocol.ext.allow=never", "-C",
			 (char *)p->copy, "fetch", "-q", "--no-tags", "--",
			 (char *)uri, (char *)ref, NULL};
	char *squash[] = {"git", "-c", GIT_NAME, "-c", GIT_EMAIL, "-C",
			  (char *)p->copy, "merge", "-q", "--no-stat",
			  "--squash", "--", "FETCH_HEAD", NULL};
	char *commit[] = {"git", "-c", GIT_NAME, "-c", GIT_EMAIL, "-c",
			  "commit.gpgsign=false", "-C", (char *)p->copy,
			  "commit", "-q", "--no-verify", "--allow-empty",
			  "-m", msg, NULL};
	struct dd_error ignored = DD_ERROR_INIT;
	int rc;

	snprintf(msg, sizeof(msg), "drydock: squash merge of %s from %s", ref,
		 uri);
	rc = git_run(ctx, host, "fetch", fetch, NULL, err);
	if (!rc)
		rc = git_run(ctx, host, "merge", squash, NULL, err);
	if (!rc)
		rc = git_run(ctx, host, "merge", commit, NULL, err);
	if (rc && rc != DD_ERR_REMOTE)
		reset_and_clean(ctx, host, p, &ignored);
	return rc;
}

/* Check one repository out as `spec` asks; its commit into `sha`. */
static int check_out(const struct dd_bp_ctx *ctx, long long host,
		     const struct place *p, const json_t *spec, char sha[65],
		     struct dd_error *err)
{
	const char *branch = str_at(spec, "branch");
	/*
	 * Writing the files is most of a checkout of a large tree: a
	 * worker per core (checkout.workers=0; git before 2.32 ignores it)
	 */
	char *detach[] = {"git", "-C", (char *)p->copy, "-c",
			  "checkout.workers=0", "checkout", "-q", "-f",
			  "--detach", sha, "--", NULL};
	char *onto[] = {"git", "-C", (char *)p->copy, "-c",
			"checkout.workers=0", "checkout", "-q", "-f", "-B",
			(char *)branch, sha, "--", NULL};
	char *submodules[] = {"git", "-C", (char *)p->copy, "submodule", "-q",
			      "update", "--init", "--recursive", "--force",
			      NULL};
	char *head[] = {"git", "-C", (char *)p->copy, "rev-parse", "HEAD",
			NULL};
	char lock[sizeof(p->copy) + 32];
	char *unlock[] = {"rm", "-f", "--", lock, NULL};
	struct dd_buf out = DD_BUF_INIT;
	size_t i;
	json_t *m;
	int rc;

	/*
	 * A git stopped at a deadline leaves its index lock, and every git
	 * after it would refuse the copy.  Nothing else runs git in it now:
	 * the copy takes one lease at a time.
	 */
	snprintf(lock, sizeof(lock), "%s/.git/index.lock", p->copy);
	rc = target_commit(ctx, host, p, spec, sha, err);
	if (!rc)
		rc = git_run(ctx, host, "checkout", unlock, NULL, err);
	if (!rc)
		rc = git_run(ctx, host, "checkout", branch ? onto : detach,
			     NULL, err);
	json_array_foreach(json_object_get(spec, "merges"), i, m)
	{
		if (!rc)
			rc = merge_one(ctx, host, p, m, err);
	}
	/*
	 * `checkout -f` has reset the index and the tracked files (and a
	 * merge leaves them as committed, or is undone): a `reset --hard`
	 * here would only re-read every file, racily new ones by content,
	 * which on a large tree costs more than the checkout.
	 */
	if (!rc)
		rc = clean(ctx, host, p, err);
	if (!rc && json_is_true(json_object_get(spec, "submodules")))
		rc = git_run(ctx, host, "submodules", submodules, NULL, err);
	if (!rc)
		rc = git_run(ctx, host, "checkout", head, &out, err);
	if (!rc)
		snprintf(sha, 65, "%s", out.buf ? out.buf : "");
	dd_buf_release(&out);
	return rc;
}

static int wc_activate_lease(const struct dd_bp_ctx *ctx,
			     const struct dd_resource *r,
			     struct dd_lease *lease, struct dd_error *err)
{
	const char *root = str_at(r->attributes, "root");
	const char *path = str_at(r->attributes, "path");
	const char *dflt = str_at(lease->attributes, "default");
	long long host = host_lease(r);
	json_t *commits, *spec;
	const char *dir;
	char where[1600];
	int rc = 0;

	if (!host || !root || !path)
		return dd_error_set(err, DD_ERR_REMOTE,
				    "working copy %lld has no host lease",
				    r->id);
	commits = json_object();
	if (!commits)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	json_object_foreach(wanted(lease), dir, spec)
	{
		struct place p;
		char sha[65] = "";
		struct dd_error why = DD_ERROR_INIT;

		place_of(root, path, dir, str_at(spec, "uri"), &p);
		rc = check_out(ctx, host, &p, spec, sha, &why);
		if (rc) {
			/* the directory first: "src: merge failed: ..." */
			dd_error_set(err, rc, "%.32s: %s", dir, why.msg);
			break;
		}
		json_object_set_new(commits, dir, json_string(sha));
	}
	if (rc) {
		json_decref(commits);
		return rc;
	}
	if (dflt)
		snprintf(where, sizeof(where), "%s/%s", path, dflt);
	else
		snprintf(where, sizeof(where), "%s", path);
	json_object_set_new(lease->attributes, "commits", commits);
	json_object_set_new(lease->attributes, "path", json_string(where));
	json_object_set_new(lease->attributes, "host",
			    json_string(str_at(r->attributes, "host")));
	json_object_set_new(lease->attributes, "host_lease",
			    json_integer(host));
	return 0;
}

/*
 * A working copy lives as long as its host lease: one that ended (its
 * host broke, an operator released it) breaks the copy.
 */
static int wc_check_resource(const struct dd_bp_ctx *ctx,
			     const struct dd_resource *r, double *next,
			     struct dd_error *err)
{
	struct dd_lease l = {0};
	long long host = host_lease(r);
	int rc;

	*next = 0;
	if (!host)
		return 0;
	rc = dd_store_lease_get(ctx->store, host, &l, err);
	if (rc == DD_ERR_NOTFOUND)
		return dd_error_set(err, DD_ERR_BROKEN,
				    "its host lease %lld is gone", host);
	if (!rc && l.status != DD_LEASE_ACTIVE)
		rc = dd_error_set(err, DD_ERR_BROKEN,
				  "its host lease %lld is %s", host,
				  dd_lease_status_name(l.status));
	dd_lease_release(&l);
	return rc;
}

/*
 * Remove the copy's directory while its host lease is active, then give
 * the lease back and wait until it is destroyed.
 */
static int wc_destroy_resource(const struct dd_bp_ctx *ctx,
			       struct dd_resource *r, struct dd_error *err)
{
	const char *path = str_at(r->attributes, "path");
	long long host = host_lease(r);
	struct dd_lease l = {0};

	if (host && path && !dd_store_lease_get(ctx->store, host, &l, NULL) &&
	    l.status == DD_LEASE_ACTIVE) {
		char *rm[] = {"rm", "-rf", "--", (char *)path, NULL};
		int rc = git_run(ctx, host, "destroy", rm, NULL, err);

		if (rc && rc != DD_ERR_REMOTE) {
			dd_lease_release(&l);
			return rc;
		}
	}
	dd_lease_release(&l);
	return dd_bp_lease_release(ctx, r->attributes, HOST_LEASE, err);
}

/* Every directory the lease names, with its URI; with strict, no other. */
static bool wc_can_acquire(const struct dd_bp_ctx *ctx,
			   const struct dd_resource *r,
			   const struct dd_lease *lease)
{
	json_t *have = json_object_get(r->attributes, "repositories");
	const char *dir, *uri;
	json_t *spec;

	(void)ctx;
	json_object_foreach(wanted(lease), dir, spec)
	{
		uri = str_at(json_object_get(have, dir), "uri");
		if (!uri || strcmp(uri, str_at(spec, "uri")))
			return false;
	}
	return !json_is_true(json_object_get(lease->attributes, "strict")) ||
	       json_object_size(have) == json_object_size(wanted(lease));
}

/* One lease per working copy at a time. */
static int wc_acquire(const struct dd_bp_ctx *ctx, const struct dd_resource *r,
		      struct dd_lease *lease, size_t n,
		      struct dd_slot_keys *keys, struct dd_error *err)
{
	(void)ctx;
	(void)lease;
	(void)err;
	if (n > 0)
		return DD_ERR_NOTFOUND;
	return dd_slot_keys_add(keys, "resource:%lld:working-copy", r->id);
}

/*
 * Commands run on the host lease, in the lease's directory, entered by
 * a fixed script that takes the directory and the command as arguments
 * (never as script text).  The host's variables are the host lease's;
 * DRYDOCK_LEASE and DRYDOCK_LEASE_PATH say this lease, and the caller's
 * `add` go over them.
 */
static int wc_spawn(const struct dd_bp_ctx *ctx, const struct dd_resource *r,
		    const struct dd_lease *lease, char *const argv[],
		    char *const add[], const struct dd_exec_io *io, pid_t *pid,
		    struct dd_error *err)
{
	static const char enter[] = "cd -- \"$1\" && shift && exec \"$@\"";
	const char *path = str_at(lease->attributes, "path");
	long long host = host_lease(r);
	char id[48], dir[1700];
	struct dd_api_lease h;
	size_t n = 0, m = 0;
	char **av, **env;
	int rc;

	if (!path || !host)
		return dd_error_set(err, DD_ERR_STATE,
				    "lease %lld has no working directory",
				    lease->id);
	if (!ctx->store)
		return dd_error_set(err, DD_ERR_STATE,
				    "working copy lease %lld: its commands "
				    "need the store to reach its host lease",
				    lease->id);
	while (argv[n])
		n++;
	while (add && add[m])
		m++;
	av = dd_calloc(n + m + 10, sizeof(*av));
	if (!av)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	snprintf(id, sizeof(id), "DRYDOCK_LEASE=%lld", lease->id);
	snprintf(dir, sizeof(dir), "DRYDOCK_LEASE_PATH=%s", path);
	av[0] = "sh";
	av[1] = "-c";
	av[2] = (char *)enter;
	av[3] = "drydock-working-copy";
	av[4] = (char *)path;
	memcpy(av + 5, argv, n * sizeof(*av));
	env = av + n + 6;
	env[0] = id;
	env[1] = dir;
	if (m)
		memcpy(env + 2, add, m * sizeof(*env));
	rc = dd_api_lease_open(ctx->store, host, "run a command on", &h, err);
	if (!rc)
		rc = dd_bp_spawn(h.bp.type, &h.bp.ctx, &h.resource, &h.lease,
				 av, env, io, pid, err);
	dd_api_lease_close(&h);
	dd_free(av);
	return rc;
}

static const struct dd_command_interface wc_command = {
	.spawn = wc_spawn,
};

const struct dd_blueprint_type dd_working_copy_blueprint_type = {
	.version = DD_BLUEPRINT_TYPE_VERSION,
	.name = "working-copy",
	.resource_type = "working-copy",
	.summary = "git working copies at a requested commit, on leased hosts",
	.config_fields = wc_config_fields,
	.validate = wc_validate,
	.validate_refs = wc_validate_refs,
	.can_ever_allocate = wc_can_ever_allocate,
	.allocate = wc_allocate,
	.activate_resource = wc_activate_resource,
	.destroy_resource = wc_destroy_resource,
	.check_resource = wc_check_resource,
	.can_acquire = wc_can_acquire,
	.acquire = wc_acquire,
	.activate_lease = wc_activate_lease,
	.command = &wc_command,
	.interfaces_use_store = true,
	.lease_fields = wc_lease_fields,
	/* a copy is worth keeping a while: the next lease may want it */
	.reclaim_grace = DEFAULT_GRACE,
};
