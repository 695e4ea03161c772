/*
 * api.c - the requester's calls (api.h): creating leases and blueprints,
 * appending commands, queueing updates, running a command on a lease.
 * Each checks its input, then writes and queues the object's update in one
 * transaction, and wakes the daemons only after the commit.
 */
#include "api/api.h"
#include "blueprint/blueprint.h"
#include "blueprint/prewarm.h"
#include "core/input.h"
#include "core/util.h"
#include "queue/task.h"
#include "queue/wake.h"
#include "worker/command.h"

#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void dd_api_cli_identity(char *buf, size_t n)
{
	struct passwd *pw = getpwuid(getuid());
	char host[64] = "localhost";

	gethostname(host, sizeof(host) - 1);
	snprintf(buf, n, "cli:%s@%s", pw ? pw->pw_name : "unknown", host);
}

/* The resource types leases may ask for: the types' own and the configs'. */
static void known_types(struct dd_store *s, char *buf, size_t n)
{
	struct dd_blueprint_list all = {0};
	struct dd_filter f = {0};
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; dd_blueprint_types[i] && used < n; i++)
		if (dd_blueprint_types[i]->resource_type)
			used += (size_t)snprintf(
				buf + used, n - used, "%s%s", used ? ", " : "",
				dd_blueprint_types[i]->resource_type);
	if (dd_store_blueprint_list(s, &f, &all, NULL))
		return;
	for (size_t i = 0; i < all.n && used < n; i++) {
		const struct dd_blueprint_type *t =
			dd_blueprint_type_find(all.items[i].type);
		const char *type = t ? dd_bp_resource_type(t, all.items[i].config)
				     : "";
		size_t len = strlen(type);
		const char *at = strstr(buf, type);

		/* each type once: a match must be a whole entry */
		while (at && !((at == buf || at[-1] == ' ') &&
			       (at[len] == ',' || at[len] == '\0')))
			at = strstr(at + 1, type);
		if (!t || t->resource_type || !*type || at)
			continue;
		used += (size_t)snprintf(buf + used, n - used, "%s%s",
					 used ? ", " : "", type);
	}
	dd_blueprint_list_release(&all);
}

static int lease_create(struct dd_store *s, const struct dd_lease_request *req,
			struct dd_lease *out, struct dd_error *err)
{
	struct dd_lease l = {0};
	bool replay = false;
	size_t i;
	json_t *v;
	int rc;

	/* a retry answers with its lease, whatever its input says now */
	if (req->idem) {
		rc = dd_idem_find(s, req->idem, &l.id, err);
		if (rc != DD_ERR_NOTFOUND)
			return rc ? rc
				  : out ? dd_store_lease_get(s, l.id, out, err)
					: 0;
	}
	if (!req->type || !*req->type)
		return dd_error_set(err, DD_ERR_INVALID,
				    "a lease needs a resource type");
	if (!dd_resource_type_known(s, req->type)) {
		char types[256];

		known_types(s, types, sizeof(types));
		return dd_error_set(err, DD_ERR_INVALID,
				    "unknown resource type '%s' (known: %s)",
				    req->type, types);
	}
	if (req->attributes && !json_is_object(req->attributes))
		return dd_error_set(err, DD_ERR_INVALID,
				    "lease attributes must be a JSON object");
	rc = dd_json_value_check(req->attributes, "lease attributes", err);
	if (!rc)
		rc = dd_bp_check_lease(req->type, req->attributes, err);
	if (!rc && req->until)
		rc = dd_expiry_check(req->until, dd_now(), err);
	if (rc)
		return rc;
	if (req->blueprints && (!json_is_array(req->blueprints) ||
				json_array_size(req->blueprints) == 0))
		return dd_error_set(err, DD_ERR_INVALID,
				    "allowed blueprints must be a non-empty "
				    "list of ids");
	json_array_foreach(req->blueprints, i, v)
	{
		struct dd_blueprint bp = {0};

		if (!json_is_integer(v))
			return dd_error_set(err, DD_ERR_INVALID,
					    "blueprint ids must be integers");
		rc = dd_store_blueprint_get(s, json_integer_value(v), &bp, err);
		if (rc)
			return rc;
		rc = strcmp(dd_blueprint_type_find(bp.type)
				    ? dd_bp_resource_type(
					      dd_blueprint_type_find(bp.type),
					      bp.config)
				    : "",
			    req->type);
		dd_blueprint_release(&bp);
		if (rc)
			return dd_error_set(err, DD_ERR_INVALID,
					    "blueprint %lld does not build "
					    "'%s' resources",
					    (long long)json_integer_value(v),
					    req->type);
	}

	l.type = (char *)req->type;
	l.status = DD_LEASE_PENDING;
	l.owner = (char *)req->owner;
	l.attributes = req->attributes ? json_incref(req->attributes)
				       : json_object();
	l.blueprints = req->blueprints;
	l.until = req->until;
	rc = dd_store_begin(s, err);
	/* the look-up that decides: a concurrent retry may have won */
	if (!rc && req->idem) {
		rc = dd_idem_find(s, req->idem, &l.id, err);
		replay = !rc;
		if (rc == DD_ERR_NOTFOUND)
			rc = 0;
	}
	if (!rc && !replay)
		rc = dd_store_lease_insert(s, &l, err);
	if (!rc && !replay)
		rc = dd_store_log(s, 0, 0, l.id, "lease.queued",
				  json_pack("{s:s?}", "owner", req->owner),
				  err);
	if (!rc && !replay)
		rc = dd_task_schedule_update(
			s, (struct dd_ref){DD_OBJ_LEASE, l.id}, 0, err);
	if (!rc && !replay && req->idem)
		rc = dd_idem_record(s, req->idem, "lease", l.id, err);
	if (rc)
		dd_store_rollback(s);
	else
		rc = dd_store_commit(s, err);
	json_decref(l.attributes);
	if (rc)
		return rc;
	if (!replay)
		dd_wake_notify_on(s, DD_WAKE_DAEMON);
	DD_CHAOS_STOP("lease_create_committed");
	if (out)
		rc = dd_store_lease_get(s, l.id, out, err);
	return rc;
}

/* Run again while a concurrent request with its key wins (idem.h). */
int dd_api_lease_create(struct dd_store *s, const struct dd_lease_request *req,
			struct dd_lease *out, struct dd_error *err)
{
	int runs = 0, rc;

	do
		rc = lease_create(s, req, out, err);
	while (dd_idem_again(req->idem, rc, &runs));
	return rc;
}

int dd_api_lease_open(struct dd_store *s, long long id, const char *doing,
		      struct dd_api_lease *h, struct dd_error *err)
{
	char here[DD_MACHINE_MAX + 1];
	const char *state_dir;
	int rc;

	memset(h, 0, sizeof(*h));
	rc = dd_store_lease_get(s, id, &h->lease, err);
	if (!rc && h->lease.status != DD_LEASE_ACTIVE)
		rc = dd_error_set(err, DD_ERR_STATE,
				  "cannot %s lease %lld: it is %s, not active",
				  doing, id,
				  dd_lease_status_name(h->lease.status));
	if (!rc)
		rc = dd_store_resource_get(s, h->lease.resource, &h->resource,
					   err);
	if (!rc && h->resource.machine[0])
		rc = dd_machine(here, err);
	if (!rc && h->resource.machine[0] && strcmp(h->resource.machine, here))
		rc = dd_error_set(err, DD_ERR_STATE,
				  "cannot %s lease %lld: its resource %lld "
				  "lives on machine '%s', not this one ('%s'); "
				  "run this there",
				  doing, id, h->resource.id,
				  h->resource.machine, here);
	if (rc)
		return rc;
	/* the caller's dd_exec_run() has its own deadline; no cancel_fd */
	state_dir = dd_store_state_dir(s, err);
	if (!state_dir)
		return DD_ERR_INVALID;
	snprintf(h->state_dir, sizeof(h->state_dir), "%s", state_dir);
	return dd_bp_handle_load(&h->bp, s, h->state_dir,
				 h->resource.blueprint, err);
}

void dd_api_lease_close(struct dd_api_lease *h)
{
	dd_bp_handle_release(&h->bp);
	dd_resource_release(&h->resource);
	dd_lease_release(&h->lease);
}

/*
 * Start argv on lease `id` through its blueprint's command interface;
 * *checked is the lease's resource when its type checks its resources
 * (check_resource), else 0.
 */
static int exec_spawn(struct dd_store *s, long long id, char *const argv[],
		      char *const env[], const struct dd_exec_io *io,
		      pid_t *pid, long long *checked, struct dd_error *err)
{
	struct dd_api_lease h;
	int rc;

	rc = dd_api_lease_open(s, id, "run a command on", &h, err);
	if (!rc)
		rc = dd_bp_spawn(h.bp.type, &h.bp.ctx, &h.resource, &h.lease,
				 argv, env, io, pid, err);
	if (!rc && h.bp.type->check_resource)
		*checked = h.resource.id;
	dd_api_lease_close(&h);
	return rc;
}

/* The status of `target` as stored, in its object's machine. */
static int object_status(struct dd_store *s, struct dd_ref target,
			 int *status, struct dd_error *err)
{
	int rc;

	if (target.kind == DD_OBJ_LEASE) {
		struct dd_lease l = {0};

		rc = dd_store_lease_get(s, target.id, &l, err);
		*status = (int)l.status;
		dd_lease_release(&l);
	} else if (target.kind == DD_OBJ_RESOURCE) {
		struct dd_resource r = {0};

		rc = dd_store_resource_get(s, target.id, &r, err);
		*status = (int)r.status;
		dd_resource_release(&r);
	} else if (target.kind == DD_OBJ_TARGET) {
		struct dd_target t = {0};

		/*
		 * locked: of two finishes at once, the second waits and then
		 * sees the first queued (dd_command_accept_another)
		 */
		rc = dd_store_target_lock(s, target.id, &t, err);
		*status = (int)t.status;
		dd_target_release(&t);
	} else {
		rc = dd_error_set(err, DD_ERR_INVALID,
				  "only leases, resources and build targets "
				  "have updates");
	}
	return rc;
}

/* dd_api_exec()'s start function: the lease's command interface. */
struct exec_start {
	struct dd_store *s;
	long long id;
	char *const *argv;
	char *const *env;
	long long checked; /* out: the resource, if its type checks it */
};

static int exec_start(void *arg, const struct dd_exec_io *io, pid_t *pid,
		      struct dd_error *err)
{
	struct exec_start *x = arg;

	return exec_spawn(x->s, x->id, x->argv, x->env, io, pid, &x->checked,
			  err);
}

int dd_api_exec(struct dd_store *s, long long id, char *const argv[],
		char *const env[], const struct dd_exec_options *o,
		struct dd_exec_result *res, struct dd_error *err)
{
	struct exec_start x = {s, id, argv, env, 0};
	int rc = dd_exec_run(exec_start, &x, o, res, err);

	/*
	 * 255 is how ssh says it lost its host: a resource its type can
	 * check is checked now, rather than at its next periodic check.
	 * Best effort: the command's outcome stands either way.
	 */
	if (!rc && x.checked && res->exit_status == 255)
		dd_api_schedule_update(s, (struct dd_ref){DD_OBJ_RESOURCE,
							   x.checked},
				       NULL);
	return rc;
}

/* How many commands of `kind` wait in `target`'s queue. */
static int count_queued(struct dd_store *s, struct dd_ref target,
			const char *kind, size_t *n, struct dd_error *err)
{
	struct dd_filter f = {.target = target, .pending_only = true};
	struct dd_command_list l = {0};
	int k = dd_command_kind_parse(kind);
	int rc = dd_store_command_list(s, &f, &l, err);

	*n = 0;
	for (size_t i = 0; !rc && i < l.n; i++)
		if (dd_command_kind_parse(l.items[i].kind) == k)
			(*n)++;
	dd_command_list_release(&l);
	return rc;
}

/* Can `target` take `kind` now?  Fills err with why not. */
static int check_target(struct dd_store *s, struct dd_ref target,
			const char *kind, json_t *data, struct dd_error *err)
{
	int status = 0;
	size_t queued = 0;
	int rc = dd_command_object_check(target.kind, err);

	if (!rc)
		rc = object_status(s, target, &status, err);
	if (!rc)
		rc = dd_command_accept(kind, target, status, data, err);
	if (!rc)
		rc = count_queued(s, target, kind, &queued, err);
	if (!rc)
		rc = dd_command_accept_another(kind, target, queued, err);
	return rc;
}

int dd_api_send(struct dd_store *s, struct dd_ref target, const char *kind,
		const char *author, json_t *data, struct dd_command *out,
		struct dd_error *err)
{
	struct dd_command c = {0};
	int rc;

	/*
	 * Check inside the write transaction so that the refusal and the
	 * append see the same state.  The worker re-checks when it consumes.
	 */
	rc = dd_store_begin(s, err);
	if (rc)
		return rc;
	rc = check_target(s, target, kind, data, err);
	c.target = target;
	c.kind = (char *)kind;
	c.author = (char *)author;
	c.data = data;
	if (!rc)
		rc = dd_store_command_insert(s, &c, err);
	if (!rc)
		rc = dd_task_schedule_update(s, target, 0, err);
	if (rc) {
		dd_store_rollback(s);
		return rc;
	}
	rc = dd_store_commit(s, err);
	if (rc)
		return rc;
	dd_wake_notify_on(s, DD_WAKE_DAEMON);
	if (out) {
		memset(out, 0, sizeof(*out));
		out->id = c.id;
		out->target = target;
		out->kind = dd_strdup(kind);
		out->author = author ? dd_strdup(author) : NULL;
		out->data = data ? json_deep_copy(data) : NULL;
		out->created = c.created;
	}
	return 0;
}

int dd_api_schedule_update(struct dd_store *s, struct dd_ref target,
			   struct dd_error *err)
{
	int status;
	int rc = object_status(s, target, &status, err);

	if (!rc)
		rc = dd_store_begin(s, err);
	if (!rc) {
		rc = dd_task_schedule_update(s, target, 0, err);
		if (rc)
			dd_store_rollback(s);
		else
			rc = dd_store_commit(s, err);
	}
	if (!rc)
		dd_wake_notify_on(s, DD_WAKE_DAEMON);
	return rc;
}

int dd_api_reclaim_all(struct dd_store *s, const char *author, int *sent,
		       struct dd_error *err)
{
	struct dd_filter f = {0};
	struct dd_resource_list rs = {0};
	int rc;

	*sent = 0;
	f.status_mask = 1u << DD_RESOURCE_ACTIVE;
	rc = dd_store_resource_list(s, &f, &rs, err);
	for (size_t i = 0; !rc && i < rs.n; i++) {
		struct dd_error one = DD_ERROR_INIT;
		int r = dd_api_send(s,
				    (struct dd_ref){DD_OBJ_RESOURCE,
						    rs.items[i].id},
				    dd_command_kind_name(DD_CMD_RECLAIM),
				    author, NULL, NULL, &one);

		if (!r)
			(*sent)++;
		else if (r != DD_ERR_STATE) /* it went away meanwhile */
			rc = dd_error_set(err, r, "%s", one.msg);
	}
	dd_resource_list_release(&rs);
	return rc;
}

static int wake_waiting(struct dd_store *s, const char *type,
			struct dd_error *err)
{
	int woken;

	return dd_task_wake_waiting(s, type, 0, &woken, err);
}

/*
 * A pooled blueprint made or changed: queue its maintenance pass, which
 * builds or lets go what the new settings say (blueprint/prewarm.h).
 */
static int schedule_pool(struct dd_store *s, const struct dd_blueprint *bp,
			 struct dd_error *err)
{
	struct dd_prewarm_settings ps;

	if (!dd_prewarm_settings_get(bp->config, &ps))
		return 0;
	return dd_task_schedule_update(
		s, (struct dd_ref){DD_OBJ_BLUEPRINT, bp->id}, 0, err);
}

static int check_name(const char *name, struct dd_error *err)
{
	if (!name || !*name || strlen(name) > 200)
		return dd_error_set(err, DD_ERR_INVALID,
				    "a blueprint needs a name of 1 to 200 "
				    "characters");
	return 0;
}

int dd_api_blueprint_create(struct dd_store *s, const char *type,
			    const char *name, json_t *config, bool enabled,
			    struct dd_blueprint *out, struct dd_error *err)
{
	return dd_api_blueprint_create_idem(s, type, name, config, enabled,
					    NULL, out, err);
}

static int blueprint_create(struct dd_store *s, const char *type,
			    const char *name, json_t *config, bool enabled,
			    struct dd_idem *idem, struct dd_blueprint *out,
			    struct dd_error *err)
{
	const struct dd_blueprint_type *t = type ? dd_blueprint_type_find(type)
						 : NULL;
	struct dd_blueprint bp = {0};
	bool replay = false;
	int rc;

	if (idem) {
		rc = dd_idem_find(s, idem, &bp.id, err);
		if (rc != DD_ERR_NOTFOUND)
			return rc ? rc
				  : out ? dd_store_blueprint_get(s, bp.id, out,
								err)
					: 0;
	}
	if (!t) {
		char types[256];
		size_t used = 0;

		types[0] = '\0';
		for (size_t i = 0; dd_blueprint_types[i]; i++)
			used += (size_t)snprintf(types + used,
						 sizeof(types) - used, "%s%s",
						 i ? ", " : "",
						 dd_blueprint_types[i]->name);
		return dd_error_set(err, DD_ERR_INVALID,
				    "unknown blueprint type '%s' (known: %s)",
				    type ? type : "", types);
	}
	rc = check_name(name, err);
	if (!rc)
		rc = dd_json_value_check(config, "blueprint config", err);
	if (!rc)
		rc = dd_bp_validate(t, config, err);
	if (!rc)
		rc = dd_bp_validate_refs(t, s, config, err);
	if (rc)
		return rc;
	bp.type = (char *)type;
	bp.name = (char *)name;
	bp.config = config;
	bp.enabled = enabled;
	rc = dd_store_begin(s, err);
	if (!rc && idem) {
		rc = dd_idem_find(s, idem, &bp.id, err);
		replay = !rc;
		if (rc == DD_ERR_NOTFOUND)
			rc = 0;
	}
	if (!rc && !replay)
		rc = dd_store_blueprint_insert(s, &bp, err);
	if (!rc && !replay)
		rc = dd_store_log(s, bp.id, 0, 0, "blueprint.created",
				  json_pack("{s:s, s:b}", "name", name,
					    "enabled", enabled),
				  err);
	if (!rc && !replay && enabled)
		rc = wake_waiting(s, dd_bp_resource_type(t, config), err);
	if (!rc && !replay)
		rc = schedule_pool(s, &bp, err);
	if (!rc && !replay && idem)
		rc = dd_idem_record(s, idem, "blueprint", bp.id, err);
	if (rc) {
		dd_store_rollback(s);
		return rc;
	}
	rc = dd_store_commit(s, err);
	if (rc)
		return rc;
	if (!replay)
		dd_wake_notify_on(s, DD_WAKE_DAEMON);
	return out ? dd_store_blueprint_get(s, bp.id, out, err) : 0;
}

/* Run again while a concurrent request with its key wins (idem.h). */
int dd_api_blueprint_create_idem(struct dd_store *s, const char *type,
				 const char *name, json_t *config,
				 bool enabled, struct dd_idem *idem,
				 struct dd_blueprint *out,
				 struct dd_error *err)
{
	int runs = 0, rc;

	do
		rc = blueprint_create(s, type, name, config, enabled, idem, out,
				      err);
	while (dd_idem_again(idem, rc, &runs));
	return rc;
}

int dd_api_blueprint_edit(struct dd_store *s, long long id, const char *name,
			  json_t *config, int enabled,
			  struct dd_blueprint *out, struct dd_error *err)
{
	struct dd_blueprint bp = {0};
	const struct dd_blueprint_type *t;
	json_t *changes;
	int rc;

	/*
	 * A config is checked before the transaction: checking may run a
	 * program (an exec blueprint's provider), which must not hold the
	 * store's write lock.  The type of a blueprint never changes.
	 */
	if (config) {
		rc = dd_store_blueprint_get(s, id, &bp, err);
		t = rc ? NULL : dd_blueprint_type_find(bp.type);
		if (!rc && t)
			rc = dd_json_value_check(config, "blueprint config",
						 err);
		if (!rc && t)
			rc = dd_bp_validate(t, config, err);
		if (!rc && t)
			rc = dd_bp_validate_refs(t, s, config, err);
		if (!rc && t &&
		    strcmp(dd_bp_resource_type(t, bp.config),
			   dd_bp_resource_type(t, config)))
			rc = dd_error_set(err, DD_ERR_INVALID,
					  "blueprint %lld builds '%s' "
					  "resources, which cannot change; "
					  "create another blueprint",
					  id, dd_bp_resource_type(t, bp.config));
		dd_blueprint_release(&bp);
		memset(&bp, 0, sizeof(bp));
		if (rc)
			return rc;
	}
	changes = json_object();
	rc = dd_store_begin(s, err);
	if (rc) {
		json_decref(changes);
		return rc;
	}
	/* locked: another edit at once waits, then edits what this wrote */
	rc = dd_store_blueprint_lock(s, id, &bp, err);
	t = rc ? NULL : dd_blueprint_type_find(bp.type);
	if (!rc && !t)
		rc = dd_error_set(err, DD_ERR_INVALID,
				  "blueprint %lld has unknown type '%s'", id,
				  bp.type);
	if (!rc && name) {
		rc = check_name(name, err);
		if (!rc) {
			dd_free(bp.name);
			bp.name = dd_strdup(name);
			json_object_set_new(changes, "name", json_string(name));
		}
	}
	if (!rc && config) {
		{
			json_decref(bp.config);
			bp.config = json_incref(config);
			json_object_set_new(changes, "config", json_true());
		}
	}
	if (!rc && enabled >= 0 && (bool)enabled != bp.enabled) {
		bp.enabled = enabled;
		json_object_set_new(changes, "enabled", json_boolean(enabled));
	}
	if (!rc)
		rc = dd_store_blueprint_update(s, &bp, err);
	if (!rc)
		rc = dd_store_log(s, bp.id, 0, 0, "blueprint.edited",
				  json_incref(changes), err);
	if (!rc && bp.enabled)
		rc = wake_waiting(s, dd_bp_resource_type(t, bp.config), err);
	if (!rc)
		rc = schedule_pool(s, &bp, err);
	json_decref(changes);
	dd_blueprint_release(&bp);
	if (rc) {
		dd_store_rollback(s);
		return rc;
	}
	rc = dd_store_commit(s, err);
	if (rc)
		return rc;
	dd_wake_notify_on(s, DD_WAKE_DAEMON);
	return out ? dd_store_blueprint_get(s, id, out, err) : 0;
}
