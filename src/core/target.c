/*
 * target.c - the artifact type table and the checks of target names,
 * artifact keys and artifact data (see target.h).
 */
#include "core/target.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*
 * A uri artifact's address: SCHEME ":" REST (RFC 3986's scheme, then
 * anything), the scheme one of the allowed ones.  Whoever follows the link
 * (the web UI renders it as one) gets only a scheme the operator allowed,
 * never "javascript:" or "file:".
 */
static int check_uri(const char *type, const struct dd_artifact_field *f,
		     const json_t *v, const struct dd_artifact_rules *rules,
		     struct dd_error *err)
{
	const char *uri = json_string_value(v);
	const char *allowed = DD_URI_SCHEMES_DEFAULT;
	size_t n = 0;

	if (rules && rules->uri_schemes)
		allowed = rules->uri_schemes;
	if (isalpha((unsigned char)uri[0]))
		for (n = 1; isalnum((unsigned char)uri[n]) || uri[n] == '+' ||
			    uri[n] == '-' || uri[n] == '.';
		     n++)
			;
	if (!n || uri[n] != ':' || !uri[n + 1])
		return dd_error_set(err, DD_ERR_INVALID,
				    "%s artifact: field '%s' must be an "
				    "absolute URI (scheme:...)",
				    type, f->name);
	for (const char *p = allowed; *p;) {
		size_t len = strcspn(p, ",");

		if (len == n && !strncasecmp(p, uri, n))
			return 0;
		p += len + (p[len] == ',');
	}
	return dd_error_set(err, DD_ERR_INVALID,
			    "%s artifact: field '%s': scheme '%.*s' is not "
			    "allowed (allowed: %s)",
			    type, f->name, (int)n, uri, allowed);
}

void dd_artifact_rules_from_env(struct dd_artifact_rules *rules)
{
	const char *v = getenv("DRYDOCK_URI_SCHEMES");

	rules->uri_schemes = v && *v ? v : NULL;
}

static const struct dd_artifact_field file_fields[] = {
	/* the file name offered on download; the key by default */
	{"name", DD_FIELD_STRING, false, 255, NULL},
	{NULL, 0, false, 0, NULL},
};

static const struct dd_artifact_field uri_fields[] = {
	{"uri", DD_FIELD_STRING, true, 4096, check_uri},
	{"name", DD_FIELD_STRING, false, 255, NULL},
	/* the link leaves drydock: the web UI opens it in a new tab */
	{"external", DD_FIELD_BOOL, false, 0, NULL},
	{NULL, 0, false, 0, NULL},
};

static const struct dd_artifact_field host_fields[] = {
	{"lease", DD_FIELD_ID, true, 0, NULL},
	{NULL, 0, false, 0, NULL},
};

/* The one list of artifact types (see target.h). */
static const struct dd_artifact_type types[] = {
	{.name = "file", .fields = file_fields, .content = true},
	{.name = "uri", .fields = uri_fields},
	{.name = "host", .fields = host_fields, .lease_field = "lease"},
	{.name = "working-copy", .fields = host_fields, .lease_field = "lease"},
};

#define N_TYPES (sizeof(types) / sizeof(types[0]))

const struct dd_artifact_type *dd_artifact_type_find(const char *name)
{
	for (size_t i = 0; name && i < N_TYPES; i++)
		if (!strcmp(types[i].name, name))
			return &types[i];
	return NULL;
}

const struct dd_artifact_type *dd_artifact_type_at(size_t i)
{
	return i < N_TYPES ? &types[i] : NULL;
}

/* A name a person reads: 1 to max bytes, none of them a control character. */
static const char *text_problem(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (!n)
		return "is empty";
	if (n > max)
		return "is too long";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return "holds a control character";
	return NULL;
}

static const char *const kind_words[] = {
	[DD_FIELD_STRING] = "a string",
	[DD_FIELD_BOOL] = "a boolean",
	[DD_FIELD_ID] = "an id (an integer of at least 1)",
};

static int check_field(const char *type, const struct dd_artifact_field *f,
		       const json_t *v, const struct dd_artifact_rules *rules,
		       struct dd_error *err)
{
	const char *problem;
	bool ok;

	switch (f->kind) {
	case DD_FIELD_STRING:
		ok = json_is_string(v);
		break;
	case DD_FIELD_BOOL:
		ok = json_is_boolean(v);
		break;
	case DD_FIELD_ID:
		ok = json_is_integer(v) && json_integer_value(v) >= 1;
		break;
	default:
		ok = false;
	}
	if (!ok)
		return dd_error_set(err, DD_ERR_INVALID,
				    "%s artifact: field '%s' must be %s", type,
				    f->name, kind_words[f->kind]);
	if (f->kind == DD_FIELD_STRING &&
	    (problem = text_problem(json_string_value(v), f->max)))
		return dd_error_set(err, DD_ERR_INVALID,
				    "%s artifact: field '%s' %s (1 to %zu "
				    "bytes, no control characters)",
				    type, f->name, problem, f->max);
	return f->check ? f->check(type, f, v, rules, err) : 0;
}

int dd_artifact_data_check(const char *type, const json_t *data,
			   const struct dd_artifact_rules *rules,
			   struct dd_error *err)
{
	const struct dd_artifact_type *t = dd_artifact_type_find(type);
	const struct dd_artifact_field *f;
	const char *key;
	json_t *v;
	int rc;

	if (!t) {
		char known[128] = "";

		for (size_t i = 0; i < N_TYPES; i++)
			snprintf(known + strlen(known),
				 sizeof(known) - strlen(known), "%s%s",
				 i ? ", " : "", types[i].name);
		return dd_error_set(err, DD_ERR_INVALID,
				    "unknown artifact type '%s' (known: %s)",
				    type ? type : "", known);
	}
	if (data && !json_is_object(data))
		return dd_error_set(err, DD_ERR_INVALID,
				    "%s artifact: data must be a JSON object",
				    t->name);
	/* an extra field first: it is often a misspelt required one */
	json_object_foreach ((json_t *)data, key, v) {
		for (f = t->fields; f->name && strcmp(f->name, key); f++)
			;
		if (!f->name)
			return dd_error_set(err, DD_ERR_INVALID,
					    "%s artifact: unknown field '%s'",
					    t->name, key);
	}
	for (f = t->fields; f->name; f++) {
		v = data ? json_object_get(data, f->name) : NULL;
		if (!v) {
			if (f->required)
				return dd_error_set(
					err, DD_ERR_INVALID,
					"%s artifact: missing field '%s'",
					t->name, f->name);
			continue;
		}
		rc = check_field(t->name, f, v, rules, err);
		if (rc)
			return rc;
	}
	return 0;
}

long long dd_artifact_lease(const char *type, const json_t *data)
{
	const struct dd_artifact_type *t = dd_artifact_type_find(type);

	if (!t || !t->lease_field || !data)
		return 0;
	return json_integer_value(json_object_get(data, t->lease_field));
}

int dd_artifact_key_check(const char *key, struct dd_error *err)
{
	const char *problem = key ? text_problem(key, DD_ARTIFACT_KEY_MAX)
				  : "is empty";

	if (problem)
		return dd_error_set(err, DD_ERR_INVALID,
				    "artifact key %s (1 to %d bytes, no "
				    "control characters)",
				    problem, DD_ARTIFACT_KEY_MAX);
	return 0;
}

int dd_target_name_check(const char *name, struct dd_error *err)
{
	const char *problem = name ? text_problem(name, DD_TARGET_NAME_MAX)
				   : NULL;

	if (problem)
		return dd_error_set(err, DD_ERR_INVALID,
				    "target name %s (1 to %d bytes, no "
				    "control characters)",
				    problem, DD_TARGET_NAME_MAX);
	return 0;
}
