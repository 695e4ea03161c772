/*
 * model.c - the stored objects' plumbing (model.h): object kind names,
 * lock names, releasing structs and lists, and the JSON renderings that
 * the CLI's --json and the HTTP API share.
 */
#include "core/model.h"
#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {
	[DD_OBJ_NONE] = "none",
	[DD_OBJ_BLUEPRINT] = "blueprint",
	[DD_OBJ_RESOURCE] = "resource",
	[DD_OBJ_LEASE] = "lease",
	[DD_OBJ_TARGET] = "target",
	[DD_OBJ_ARTIFACT] = "artifact",
};

const char *dd_obj_kind_name(enum dd_obj_kind kind)
{
	if ((unsigned)kind > DD_OBJ_ARTIFACT)
		return "unknown";
	return kind_names[kind];
}

int dd_ref_parse(const char *text, struct dd_ref *out)
{
	for (int k = DD_OBJ_BLUEPRINT; k <= DD_OBJ_ARTIFACT; k++) {
		size_t n = strlen(kind_names[k]);
		const char *id = text + n + 1;
		char *end;
		long long v;

		if (strncmp(text, kind_names[k], n) || text[n] != ':' ||
		    *id < '1' || *id > '9')
			continue;
		errno = 0;
		v = strtoll(id, &end, 10);
		if (*end || errno)
			return DD_ERR_INVALID;
		out->kind = (enum dd_obj_kind)k;
		out->id = v;
		return 0;
	}
	return DD_ERR_INVALID;
}

void dd_task_lock_name(struct dd_ref object, struct dd_lock_grant *g)
{
	snprintf(g->name, sizeof(g->name), "%s:%lld",
		 dd_obj_kind_name(object.kind), object.id);
	g->token = 0;
}

void dd_blueprint_release(struct dd_blueprint *x)
{
	dd_free(x->type);
	dd_free(x->name);
	json_decref(x->config);
	memset(x, 0, sizeof(*x));
}

void dd_resource_release(struct dd_resource *x)
{
	dd_free(x->type);
	json_decref(x->attributes);
	memset(x, 0, sizeof(*x));
}

void dd_lease_release(struct dd_lease *x)
{
	dd_free(x->type);
	dd_free(x->owner);
	json_decref(x->attributes);
	json_decref(x->blueprints);
	memset(x, 0, sizeof(*x));
}

void dd_target_release(struct dd_target *x)
{
	dd_free(x->name);
	dd_free(x->owner);
	memset(x, 0, sizeof(*x));
}

void dd_artifact_release(struct dd_artifact *x)
{
	dd_free(x->key);
	dd_free(x->type);
	json_decref(x->data);
	memset(x, 0, sizeof(*x));
}

void dd_command_release(struct dd_command *x)
{
	dd_free(x->kind);
	dd_free(x->author);
	dd_free(x->outcome);
	json_decref(x->data);
	memset(x, 0, sizeof(*x));
}

void dd_log_entry_release(struct dd_log_entry *x)
{
	dd_free(x->type);
	json_decref(x->data);
	memset(x, 0, sizeof(*x));
}

void dd_slot_lock_release(struct dd_slot_lock *x)
{
	dd_free(x->key);
	memset(x, 0, sizeof(*x));
}

void dd_task_release(struct dd_task *x)
{
	dd_free(x->kind);
	dd_free(x->claimed_by);
	dd_free(x->last_error);
	memset(x, 0, sizeof(*x));
}

void dd_task_archive_release(struct dd_task_archive *x)
{
	dd_free(x->kind);
	dd_free(x->outcome);
	dd_free(x->error);
	memset(x, 0, sizeof(*x));
}

void dd_token_release(struct dd_token *x)
{
	dd_free(x->name);
	dd_free(x->role);
	memset(x, 0, sizeof(*x));
}

void dd_authorization_release(struct dd_authorization *x)
{
	dd_free(x->requester);
	dd_free(x->decided_by);
	memset(x, 0, sizeof(*x));
}

/*
 * The list functions are the same for every noun.  A push takes ownership of
 * *x's contents (and zeroes *x) only on success.
 */
#define DD_DEFINE_LIST(noun)                                                   \
	void dd_##noun##_list_release(struct dd_##noun##_list *l)              \
	{                                                                      \
		for (size_t i = 0; i < l->n; i++)                              \
			dd_##noun##_release(&l->items[i]);                     \
		dd_free(l->items);                                             \
		l->items = NULL;                                               \
		l->n = 0;                                                      \
	}                                                                      \
	int dd_##noun##_list_push(struct dd_##noun##_list *l,                  \
				  struct dd_##noun *x)                         \
	{                                                                      \
		if ((l->n & (l->n - 1)) == 0) {                                \
			size_t cap = l->n ? l->n * 2 : 4;                      \
			void *p = dd_realloc(l->items, cap * sizeof(*x));      \
			if (!p)                                                \
				return DD_ERR_NOMEM;                           \
			l->items = p;                                          \
		}                                                              \
		l->items[l->n++] = *x;                                         \
		memset(x, 0, sizeof(*x));                                      \
		return 0;                                                      \
	}

DD_DEFINE_LIST(blueprint)
DD_DEFINE_LIST(resource)
DD_DEFINE_LIST(lease)
DD_DEFINE_LIST(target)
DD_DEFINE_LIST(artifact)
DD_DEFINE_LIST(command)
DD_DEFINE_LIST(log_entry)
DD_DEFINE_LIST(slot_lock)
DD_DEFINE_LIST(task)
DD_DEFINE_LIST(task_archive)
DD_DEFINE_LIST(token)
DD_DEFINE_LIST(authorization)

int dd_json_set_time(json_t *obj, const char *key, double t)
{
	char buf[32];

	if (t <= 0)
		return json_object_set_new(obj, key, json_null());
	dd_time_format(t, buf);
	return json_object_set_new(obj, key, json_string(buf));
}

static json_t *copy_or_null(json_t *v)
{
	return v ? json_deep_copy(v) : json_null();
}

static json_t *id_or_null(long long id)
{
	return id ? json_integer(id) : json_null();
}

json_t *dd_blueprint_to_json(const struct dd_blueprint *bp)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "id", json_integer(bp->id));
	json_object_set_new(o, "type", json_string(bp->type));
	json_object_set_new(o, "name", json_string(bp->name));
	json_object_set_new(o, "enabled", json_boolean(bp->enabled));
	json_object_set_new(o, "config", copy_or_null(bp->config));
	dd_json_set_time(o, "created", bp->created);
	dd_json_set_time(o, "modified", bp->modified);
	return o;
}

/*
 * An operation in progress, for the renderings below: only while one is,
 * so an object no hook is busy with renders as before.
 */
static void progress_to_json(json_t *o, const struct dd_progress *p)
{
	json_t *v;

	if (!p->hook[0])
		return;
	v = json_pack("{s:s, s:o}", "hook", p->hook, "resume_on",
		      p->resume_on[0] ? json_string(p->resume_on)
				      : json_null());
	if (!v)
		return;
	dd_json_set_time(v, "since", p->since);
	json_object_set_new(o, "progress", v);
}

json_t *dd_resource_to_json(const struct dd_resource *r)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "id", json_integer(r->id));
	json_object_set_new(o, "type", json_string(r->type));
	json_object_set_new(o, "status",
			    json_string(dd_resource_status_name(r->status)));
	json_object_set_new(o, "blueprint", json_integer(r->blueprint));
	json_object_set_new(o, "attributes", copy_or_null(r->attributes));
	json_object_set_new(o, "draining", json_boolean(r->draining));
	json_object_set_new(o, "machine", r->machine[0]
						  ? json_string(r->machine)
						  : json_null());
	dd_json_set_time(o, "created", r->created);
	dd_json_set_time(o, "modified", r->modified);
	progress_to_json(o, &r->progress);
	return o;
}

json_t *dd_lease_to_json(const struct dd_lease *l)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "id", json_integer(l->id));
	json_object_set_new(o, "type", json_string(l->type));
	json_object_set_new(o, "status",
			    json_string(dd_lease_status_name(l->status)));
	json_object_set_new(o, "resource", id_or_null(l->resource));
	json_object_set_new(o, "owner",
			    l->owner ? json_string(l->owner) : json_null());
	json_object_set_new(o, "attributes", copy_or_null(l->attributes));
	json_object_set_new(o, "blueprints", copy_or_null(l->blueprints));
	json_object_set_new(o, "allocating", id_or_null(l->allocating));
	json_object_set_new(o, "waiting", json_boolean(l->waiting));
	dd_json_set_time(o, "until", l->until);
	dd_json_set_time(o, "acquired", l->acquired);
	dd_json_set_time(o, "activated", l->activated);
	dd_json_set_time(o, "created", l->created);
	dd_json_set_time(o, "modified", l->modified);
	progress_to_json(o, &l->progress);
	return o;
}

json_t *dd_target_to_json(const struct dd_target *t)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "id", json_integer(t->id));
	json_object_set_new(o, "name",
			    t->name ? json_string(t->name) : json_null());
	json_object_set_new(o, "owner",
			    t->owner ? json_string(t->owner) : json_null());
	json_object_set_new(o, "status",
			    json_string(dd_target_status_name(t->status)));
	dd_json_set_time(o, "deadline", t->deadline);
	dd_json_set_time(o, "created", t->created);
	dd_json_set_time(o, "finished", t->finished);
	dd_json_set_time(o, "modified", t->modified);
	return o;
}

/* size and sha256 only for a file, whose bytes drydock holds. */
json_t *dd_artifact_to_json(const struct dd_artifact *a)
{
	json_t *o = json_object();
	bool file = a->type && !strcmp(a->type, "file");

	if (!o)
		return NULL;
	json_object_set_new(o, "id", json_integer(a->id));
	json_object_set_new(o, "target", json_integer(a->target));
	json_object_set_new(o, "key", json_string(a->key));
	json_object_set_new(o, "type", json_string(a->type));
	json_object_set_new(o, "data", copy_or_null(a->data));
	json_object_set_new(o, "released", json_boolean(a->released));
	json_object_set_new(o, "complete", json_boolean(a->complete));
	if (file) {
		json_object_set_new(o, "size", json_integer(a->size));
		json_object_set_new(o, "sha256",
				    a->sha256[0] ? json_string(a->sha256)
						 : json_null());
	}
	dd_json_set_time(o, "created", a->created);
	return o;
}

json_t *dd_command_to_json(const struct dd_command *c)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "id", json_integer(c->id));
	json_object_set_new(o, "target_kind",
			    json_string(dd_obj_kind_name(c->target.kind)));
	json_object_set_new(o, "target", json_integer(c->target.id));
	json_object_set_new(o, "kind", json_string(c->kind));
	json_object_set_new(o, "author",
			    c->author ? json_string(c->author) : json_null());
	json_object_set_new(o, "data", copy_or_null(c->data));
	json_object_set_new(o, "consumed", json_boolean(c->consumed));
	json_object_set_new(o, "outcome",
			    c->outcome ? json_string(c->outcome) : json_null());
	dd_json_set_time(o, "created", c->created);
	dd_json_set_time(o, "consumed_at", c->consumed_at);
	return o;
}

json_t *dd_log_entry_to_json(const struct dd_log_entry *e)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "id", json_integer(e->id));
	json_object_set_new(o, "type", json_string(e->type));
	dd_json_set_time(o, "time", e->time);
	json_object_set_new(o, "blueprint", id_or_null(e->blueprint));
	json_object_set_new(o, "resource", id_or_null(e->resource));
	json_object_set_new(o, "lease", id_or_null(e->lease));
	/* only a target's entries name one: lease logs read as before */
	if (e->target)
		json_object_set_new(o, "target", json_integer(e->target));
	json_object_set_new(o, "data", copy_or_null(e->data));
	return o;
}

json_t *dd_task_to_json(const struct dd_task *t)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "id", json_integer(t->id));
	json_object_set_new(o, "kind", json_string(t->kind));
	json_object_set_new(o, "object_kind",
			    json_string(dd_obj_kind_name(t->object.kind)));
	json_object_set_new(o, "object", json_integer(t->object.id));
	dd_json_set_time(o, "not_before", t->not_before);
	json_object_set_new(o, "claimed_by", t->claimed_by
						     ? json_string(t->claimed_by)
						     : json_null());
	dd_json_set_time(o, "claim_expires", t->claim_expires);
	json_object_set_new(o, "failures", json_integer(t->failures));
	json_object_set_new(o, "last_error", t->last_error
						     ? json_string(t->last_error)
						     : json_null());
	dd_json_set_time(o, "created", t->created);
	return o;
}

json_t *dd_token_to_json(const struct dd_token *t)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "id", json_integer(t->id));
	json_object_set_new(o, "name", json_string(t->name));
	json_object_set_new(o, "role", json_string(t->role));
	dd_json_set_time(o, "created", t->created);
	dd_json_set_time(o, "last_used", t->last_used);
	dd_json_set_time(o, "revoked", t->revoked);
	return o;
}

json_t *dd_authorization_to_json(const struct dd_authorization *a)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "id", json_integer(a->id));
	json_object_set_new(o, "blueprint", json_integer(a->blueprint));
	json_object_set_new(o, "requester", json_string(a->requester));
	json_object_set_new(o, "state", json_string(dd_authorization_state_name(
						a->state)));
	json_object_set_new(o, "decided_by", a->decided_by
						     ? json_string(a->decided_by)
						     : json_null());
	dd_json_set_time(o, "decided", a->decided);
	dd_json_set_time(o, "created", a->created);
	dd_json_set_time(o, "modified", a->modified);
	return o;
}
