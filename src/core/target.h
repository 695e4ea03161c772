/*
 * target.h - what build targets and their artifacts accept: target names,
 * artifact keys, and the artifact type table.
 *
 * The type table is the one list of artifact types in drydock.  A row
 * names its type, lists the fields of its data (name, kind, required,
 * longest length, and a check of its own where the kind is not enough),
 * says whether the artifact's bytes are uploaded to drydock, and names the
 * field that holds a lease, if the artifact holds one.  Everything that
 * differs between types is in its row, so a new type (working-copy) is a
 * new row and nothing else:
 *
 *   type   data                                  bytes     holds a lease
 *   file   name?                                 uploaded  -
 *   uri    uri, name?, external? (bool)          -         -
 *   host   lease (id)                            -         `lease`
 *
 * dd_artifact_data_check() refuses a missing, extra or mistyped field with
 * DD_ERR_INVALID and a message naming the field.  It needs no store: that a
 * lease artifact's lease exists, belongs to the target's owner and is not
 * yet released is checked by the API, which finds the lease through the
 * row's `lease_field` (dd_artifact_lease()).  Releasing an artifact whose
 * row has a lease field releases that lease (the target's update worker
 * sends it a release command); other artifacts have nothing to release.
 *
 * Nothing here allocates.
 */
#ifndef DD_TARGET_H
#define DD_TARGET_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

/* The URI schemes a uri artifact may use unless configured otherwise. */
#define DD_URI_SCHEMES_DEFAULT "http,https"

/* The longest target name and artifact key, in bytes. */
#define DD_TARGET_NAME_MAX 255
#define DD_ARTIFACT_KEY_MAX 255

/* What a server's operator may change about what artifacts accept. */
struct dd_artifact_rules {
	/*
	 * URI schemes a uri artifact may use, comma-separated, compared
	 * without regard to case: "http,https,s3".  NULL means
	 * DD_URI_SCHEMES_DEFAULT.
	 */
	const char *uri_schemes;
};

/*
 * The operator's rules, from the environment: DRYDOCK_URI_SCHEMES (unset
 * or empty: the default).  Read by every caller that adds artifacts (the
 * API and the CLI), so both accept the same.
 */
void dd_artifact_rules_from_env(struct dd_artifact_rules *rules);

enum dd_field_kind {
	DD_FIELD_STRING, /* 1 to `max` bytes, no control characters */
	DD_FIELD_BOOL,
	DD_FIELD_ID,	 /* an object id: an integer of at least 1 */
};

struct dd_artifact_field {
	const char *name;
	enum dd_field_kind kind;
	bool required;
	size_t max; /* strings: the most bytes */
	/*
	 * More checks of a value of the right kind, or NULL.  Returns 0 or
	 * DD_ERR_INVALID with a message naming `type` and the field.
	 */
	int (*check)(const char *type, const struct dd_artifact_field *f,
		     const json_t *v, const struct dd_artifact_rules *rules,
		     struct dd_error *err);
};

struct dd_artifact_type {
	const char *name;
	const struct dd_artifact_field *fields; /* ends with a NULL name */
	/*
	 * The artifact's bytes are uploaded to drydock and stored in chunks:
	 * it is made incomplete and becomes complete once they are all there.
	 */
	bool content;
	/* The field holding the id of the lease this artifact holds, or NULL. */
	const char *lease_field;
};

/* The row of `name`, or NULL for an unknown type. */
const struct dd_artifact_type *dd_artifact_type_find(const char *name);
/* The i-th row of the table, or NULL past its end (for listing types). */
const struct dd_artifact_type *dd_artifact_type_at(size_t i);

/*
 * Check an artifact's type and data: an unknown type, data that is not an
 * object (NULL is taken as {}), and a missing, unknown or mistyped field
 * are DD_ERR_INVALID, with a message naming the field.  `rules` may be
 * NULL for the defaults.
 */
int dd_artifact_data_check(const char *type, const json_t *data,
			   const struct dd_artifact_rules *rules,
			   struct dd_error *err);

/*
 * The lease an artifact holds (the id in its row's lease field), or 0 for
 * a type that holds none.  Expects data that dd_artifact_data_check()
 * accepted.
 */
long long dd_artifact_lease(const char *type, const json_t *data);

/* A key: 1 to DD_ARTIFACT_KEY_MAX bytes, no control characters. */
int dd_artifact_key_check(const char *key, struct dd_error *err);
/* A target name (NULL: none): the same rules as a key. */
int dd_target_name_check(const char *name, struct dd_error *err);

#endif
