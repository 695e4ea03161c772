/*
 * schema.c - check a JSON configuration against a table of its fields
 * (see schema.h).
 *
 * The walk carries the JSON path of the value it is at ("hosts[2].slots")
 * in a fixed buffer; a path too long for it is cut, which only shortens a
 * message.  Every fault is a message "ROOT: PATH: what is wrong".
 */
#include "blueprint/schema.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define PATH_LEN 256

struct walk {
	const char *root;
	struct dd_error *err;
};

static int fail(const struct walk *w, const char *path, int code,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail(const struct walk *w, const char *path, int code,
		const char *fmt, ...)
{
	char reason[sizeof(w->err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (*path)
		return dd_error_set(w->err, code, "%s: %s: %s", w->root, path,
				    reason);
	return dd_error_set(w->err, code, "%s: %s", w->root, reason);
}

/* A path cut short ends in "...", so the message does not mislead. */
static void path_cut(char *out, int n)
{
	if (n < 0 || n >= PATH_LEN)
		memcpy(out + PATH_LEN - 4, "...", 4);
}

/* `path` extended by a key ("a.b") or an index ("a[3]") into `out`. */
static void path_key(char *out, const char *path, const char *key)
{
	path_cut(out, snprintf(out, PATH_LEN, "%s%s%s", path,
			       *path ? "." : "", key));
}

static void path_index(char *out, const char *path, size_t i)
{
	path_cut(out, snprintf(out, PATH_LEN, "%s[%zu]", path, i));
}

/* Is `c` one of the characters `set` gives as ranges ("A-Za-z_-")? */
static bool charset_has(const char *set, unsigned char c)
{
	for (const unsigned char *s = (const unsigned char *)set; *s; s++) {
		if (s[1] == '-' && s[2]) {
			if (s[0] <= c && c <= s[2])
				return true;
			s += 2;
		} else if (*s == c) {
			return true;
		}
	}
	return false;
}

static const char *type_noun(enum dd_schema_type t, bool plural)
{
	switch (t) {
	case DD_SCHEMA_STRING:
		return plural ? "strings" : "a string";
	case DD_SCHEMA_INTEGER:
		return plural ? "integers" : "an integer";
	case DD_SCHEMA_NUMBER:
		return plural ? "numbers" : "a number";
	case DD_SCHEMA_BOOLEAN:
		return plural ? "booleans" : "true or false";
	case DD_SCHEMA_OBJECT:
	case DD_SCHEMA_MAP:
		return plural ? "objects" : "an object";
	case DD_SCHEMA_ARRAY:
		return plural ? "arrays" : "an array";
	}
	return "?";
}

/* Append to buf (of n bytes, holding a string) what printf makes. */
static void append(char *buf, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void append(char *buf, size_t n, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	if (used + 1 >= n)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, n - used, fmt, ap);
	va_end(ap);
}

static void count_words(char *buf, size_t n, size_t min, size_t max,
			const char *unit)
{
	if (min && max)
		append(buf, n, " of %zu to %zu %s", min, max, unit);
	else if (max)
		append(buf, n, " of at most %zu %s", max, unit);
	else if (min > 1)
		append(buf, n, " of at least %zu %s", min, unit);
}

/* What `f` wants, in words: "an integer from 1 to 1024". */
static void describe(const struct dd_schema_field *f, char *buf, size_t n)
{
	buf[0] = '\0';
	if (f->what) {
		append(buf, n, "%s", f->what);
		return;
	}
	switch (f->type) {
	case DD_SCHEMA_STRING:
		if (f->values) {
			append(buf, n, "one of");
			for (size_t i = 0; f->values[i]; i++)
				append(buf, n, "%s '%s'", i ? "," : "",
				       f->values[i]);
			return;
		}
		append(buf, n, "%s",
		       f->min_len == 1 && !f->max_len ? "a non-empty string"
						      : "a string");
		count_words(buf, n, f->min_len, f->max_len, "characters");
		if (f->charset)
			append(buf, n, " from '%s'", f->charset);
		return;
	case DD_SCHEMA_INTEGER:
		append(buf, n, "an integer");
		if (f->min == f->max)
			return;
		if (f->max == LLONG_MAX)
			append(buf, n, " of at least %lld", f->min);
		else if (f->min == LLONG_MIN)
			append(buf, n, " of at most %lld", f->max);
		else
			append(buf, n, " from %lld to %lld", f->min, f->max);
		return;
	case DD_SCHEMA_NUMBER:
		append(buf, n, "a number");
		if (f->min_number == f->max_number)
			return;
		if (f->max_number == INFINITY)
			append(buf, n, " of at least %g", f->min_number);
		else if (f->min_number == -INFINITY)
			append(buf, n, " of at most %g", f->max_number);
		else
			append(buf, n, " from %g to %g", f->min_number,
			       f->max_number);
		return;
	case DD_SCHEMA_ARRAY:
	case DD_SCHEMA_MAP:
		append(buf, n, "%s",
		       f->min_items == 1 && !f->max_items
			       ? (f->type == DD_SCHEMA_ARRAY
					  ? "a non-empty array"
					  : "a non-empty object")
			       : type_noun(f->type, false));
		count_words(buf, n, f->min_items, f->max_items,
			    f->type == DD_SCHEMA_ARRAY ? "items" : "keys");
		if (f->items)
			append(buf, n, " of %s", type_noun(f->items->type, true));
		return;
	default:
		append(buf, n, "%s", type_noun(f->type, false));
	}
}

static int wrong(const struct walk *w, const char *path,
		 const struct dd_schema_field *f)
{
	char what[256];

	describe(f, what, sizeof(what));
	return fail(w, path, DD_ERR_INVALID, "must be %s", what);
}

static bool type_matches(enum dd_schema_type t, const json_t *v)
{
	switch (t) {
	case DD_SCHEMA_STRING:
		return json_is_string(v);
	case DD_SCHEMA_INTEGER:
		return json_is_integer(v);
	case DD_SCHEMA_NUMBER:
		return json_is_number(v);
	case DD_SCHEMA_BOOLEAN:
		return json_is_boolean(v);
	case DD_SCHEMA_OBJECT:
	case DD_SCHEMA_MAP:
		return json_is_object(v);
	case DD_SCHEMA_ARRAY:
		return json_is_array(v);
	}
	return false;
}

static int check_value(const struct walk *w, const struct dd_schema_field *f,
		       const json_t *v, const json_t *parent,
		       const char *path);

static int check_keys(const struct walk *w,
		      const struct dd_schema_field *const *tables,
		      const json_t *obj, const char *path);

static bool string_ok(const struct dd_schema_field *f, const json_t *v)
{
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);

	/* a NUL inside would end the string early for whoever reads it */
	if (strlen(s) != len || len < f->min_len ||
	    (f->max_len && len > f->max_len))
		return false;
	if (f->charset)
		for (size_t i = 0; i < len; i++)
			if (!charset_has(f->charset, (unsigned char)s[i]))
				return false;
	if (f->values) {
		for (size_t i = 0; f->values[i]; i++)
			if (!strcmp(f->values[i], s))
				return true;
		return false;
	}
	return true;
}

/* A value in a message: a string quoted, anything else as JSON. */
static void value_words(const json_t *v, char *buf, size_t n)
{
	size_t len;

	if (json_is_string(v)) {
		snprintf(buf, n, "'%s'", json_string_value(v));
		return;
	}
	len = json_dumpb(v, buf, n - 1, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!len || len >= n - 1)
		snprintf(buf, n, "the value");
	else
		buf[len] = '\0';
}

/* The elements of an array of objects must differ in their unique keys. */
static int check_unique(const struct walk *w, const struct dd_schema_field *f,
			const json_t *arr, const char *path)
{
	const struct dd_schema_field *k;
	char here[PATH_LEN], at[PATH_LEN], other[PATH_LEN], val[128];

	if (!f->items || f->items->type != DD_SCHEMA_OBJECT ||
	    !f->items->fields)
		return 0;
	for (k = f->items->fields; k->name; k++) {
		if (!k->unique)
			continue;
		for (size_t i = 1; i < json_array_size(arr); i++) {
			json_t *vi = json_object_get(json_array_get(arr, i),
						     k->name);

			if (!vi)
				continue;
			for (size_t j = 0; j < i; j++) {
				json_t *vj = json_object_get(
					json_array_get(arr, j), k->name);

				if (!vj || !json_equal(vi, vj))
					continue;
				path_index(here, path, i);
				path_key(at, here, k->name);
				path_index(other, path, j);
				value_words(vi, val, sizeof(val));
				return fail(w, at, DD_ERR_INVALID,
					    "%s is also the %s of %s", val,
					    k->name, other);
			}
		}
	}
	return 0;
}

static int check_value(const struct walk *w, const struct dd_schema_field *f,
		       const json_t *v, const json_t *parent,
		       const char *path)
{
	char sub[PATH_LEN];
	const char *key;
	json_t *e;
	size_t i;
	int rc;

	if (!type_matches(f->type, v))
		return wrong(w, path, f);
	switch (f->type) {
	case DD_SCHEMA_STRING:
		if (!string_ok(f, v))
			return wrong(w, path, f);
		break;
	case DD_SCHEMA_INTEGER:
		if (f->min != f->max && (json_integer_value(v) < f->min ||
					 json_integer_value(v) > f->max))
			return wrong(w, path, f);
		break;
	case DD_SCHEMA_NUMBER:
		if (f->min_number != f->max_number &&
		    (json_number_value(v) < f->min_number ||
		     json_number_value(v) > f->max_number))
			return wrong(w, path, f);
		break;
	case DD_SCHEMA_BOOLEAN:
		break;
	case DD_SCHEMA_OBJECT: {
		const struct dd_schema_field *const tables[] = {f->fields,
								 NULL};

		if (f->fields && (rc = check_keys(w, tables, v, path)))
			return rc;
		break;
	}
	case DD_SCHEMA_ARRAY:
	case DD_SCHEMA_MAP: {
		size_t n = f->type == DD_SCHEMA_ARRAY ? json_array_size(v)
						      : json_object_size(v);

		if (n < f->min_items || (f->max_items && n > f->max_items))
			return wrong(w, path, f);
		if (f->type == DD_SCHEMA_ARRAY) {
			json_array_foreach(v, i, e)
			{
				path_index(sub, path, i);
				if (f->items &&
				    (rc = check_value(w, f->items, e, v, sub)))
					return rc;
			}
			if ((rc = check_unique(w, f, v, path)))
				return rc;
			break;
		}
		json_object_foreach((json_t *)v, key, e)
		{
			path_key(sub, path, key);
			if (!*key)
				return fail(w, path, DD_ERR_INVALID,
					    "a key is empty");
			if (f->items &&
			    (rc = check_value(w, f->items, e, v, sub)))
				return rc;
		}
		break;
	}
	}
	if (f->check) {
		struct dd_error why = DD_ERROR_INIT;

		rc = f->check(v, parent, &why);
		if (rc)
			return fail(w, path, rc, "%s", why.msg);
	}
	return 0;
}

static const struct dd_schema_field *
find_field(const struct dd_schema_field *const *tables, const char *key)
{
	for (size_t t = 0; tables[t]; t++)
		for (const struct dd_schema_field *f = tables[t]; f->name; f++)
			if (!strcmp(f->name, key))
				return f;
	return NULL;
}

/*
 * An object's keys: first that each is known (so a misspelt key is named
 * as such, not reported as a missing one), then each row in order.
 */
static int check_keys(const struct walk *w,
		      const struct dd_schema_field *const *tables,
		      const json_t *obj, const char *path)
{
	char sub[PATH_LEN], what[256];
	const char *key;
	json_t *v;
	int rc;

	json_object_foreach((json_t *)obj, key, v)
	{
		char known[256] = "";

		if (find_field(tables, key))
			continue;
		for (size_t t = 0; tables[t]; t++)
			for (const struct dd_schema_field *f = tables[t];
			     f->name; f++)
				append(known, sizeof(known), "%s%s",
				       known[0] ? ", " : "", f->name);
		return fail(w, path, DD_ERR_INVALID,
			    "unknown key '%s' (known: %s)", key,
			    known[0] ? known : "none");
	}
	for (size_t t = 0; tables[t]; t++) {
		for (const struct dd_schema_field *f = tables[t]; f->name;
		     f++) {
			v = json_object_get(obj, f->name);
			if (!v) {
				if (!f->required)
					continue;
				describe(f, what, sizeof(what));
				return fail(w, path, DD_ERR_INVALID,
					    "missing '%s' (%s)", f->name,
					    what);
			}
			path_key(sub, path, f->name);
			rc = check_value(w, f, v, obj, sub);
			if (rc)
				return rc;
		}
	}
	return 0;
}

int dd_schema_check_tables(const json_t *value,
			   const struct dd_schema_field *const *tables,
			   const char *root, struct dd_error *err)
{
	struct walk w = {root, err};

	if (!json_is_object(value))
		return fail(&w, "", DD_ERR_INVALID, "must be an object");
	return check_keys(&w, tables, value, "");
}

int dd_schema_check(const json_t *value, const struct dd_schema_field *fields,
		    const char *root, struct dd_error *err)
{
	const struct dd_schema_field *const tables[] = {fields, NULL};

	return dd_schema_check_tables(value, tables, root, err);
}
