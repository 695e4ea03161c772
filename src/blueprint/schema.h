/*
 * schema.h - check a JSON configuration against a table of its fields.
 *
 * A blueprint type describes its config as a static const table of
 * struct dd_schema_field, one row per key, instead of a hand-written
 * validator: the JSON type, whether the key is required, the range of an
 * integer or number, the length and characters of a string, the values
 * an enum may take, and for an object or an array the description of
 * what is inside (tables nest).  What a table cannot say (a path that
 * must be absolute, a user that must exist, a rule joining two keys)
 * goes into a row's `check` function.
 *
 * dd_schema_check() refuses any key that no table names, and says what
 * is wrong with the JSON path of the value, git-like:
 *
 *   config: hosts[2].slots: must be an integer from 1 to 1024
 *   config: hosts[0]: unknown key 'adress' (known: name, slots)
 *   config: missing 'hosts' (a non-empty array of objects)
 *
 * It stops at the first fault, and changes nothing.
 */
#ifndef DD_SCHEMA_H
#define DD_SCHEMA_H

#include "core/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum dd_schema_type {
	DD_SCHEMA_STRING = 1, /* 0 is no type: a row without one is a bug */
	DD_SCHEMA_INTEGER,
	DD_SCHEMA_NUMBER,  /* an integer or a real */
	DD_SCHEMA_BOOLEAN,
	DD_SCHEMA_OBJECT,  /* the keys `fields` names, no others */
	DD_SCHEMA_ARRAY,   /* elements, each as `items` says */
	DD_SCHEMA_MAP,	   /* an object with any non-empty keys, values `items` */
};

/*
 * A custom check, run once the row's own rules have passed: `value` is
 * the field's value, `parent` the object holding it (for rules that join
 * two keys).  On a fault it returns a negative code and says why in
 * `err` without the path ("no such user 'x'"); dd_schema_check() puts
 * the path in front.
 */
typedef int dd_schema_check_fn(const json_t *value, const json_t *parent,
			       struct dd_error *err);

/*
 * One key of an object (or, without a name, what an array's or a map's
 * elements are).  Tables end with a row whose name is NULL.  Bounds that
 * are left 0 do not apply, except where said.
 */
struct dd_schema_field {
	const char *name;
	enum dd_schema_type type;
	bool required;
	/*
	 * The rule in words for messages ("must be WHAT"), e.g. "an absolute
	 * path"; NULL: said from the row ("an integer from 1 to 1024").
	 */
	const char *what;
	/*
	 * INTEGER: from min to max; no range when min == max.  One bound
	 * only: the other LLONG_MIN or LLONG_MAX.
	 */
	long long min, max;
	/*
	 * NUMBER: from min_number to max_number; none when they are equal.
	 * One bound only: the other -INFINITY or INFINITY.
	 */
	double min_number, max_number;
	/* STRING: its length in bytes, at least min_len, at most max_len. */
	size_t min_len, max_len;
	/* STRING: the characters allowed, as ranges ("A-Za-z0-9._-"). */
	const char *charset;
	/* STRING: the only values allowed, NULL-terminated. */
	const char *const *values;
	/* OBJECT: its keys. */
	const struct dd_schema_field *fields;
	/* ARRAY and MAP: what each element is; NULL: anything. */
	const struct dd_schema_field *items;
	/* ARRAY and MAP: the number of elements, at least min_items, at most
	 * max_items. */
	size_t min_items, max_items;
	/*
	 * A key of objects in an array: no two elements of the array may
	 * have the same value here (host names).
	 */
	bool unique;
	dd_schema_check_fn *check;
};

/*
 * Check that `value` is an object whose keys are each described by one of
 * `tables` (a NULL-terminated list of field tables: a blueprint's common
 * fields and its type's) and meet their rows.  `root` names the value in
 * messages ("config").  0, or DD_ERR_INVALID (or a check's code) with the
 * path and the fault in `err`.
 */
int dd_schema_check_tables(const json_t *value,
			   const struct dd_schema_field *const *tables,
			   const char *root, struct dd_error *err);
/* The same with one table. */
int dd_schema_check(const json_t *value, const struct dd_schema_field *fields,
		    const char *root, struct dd_error *err);

#endif
