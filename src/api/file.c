/*
 * file.c - file artifacts' bytes in and out of the store (file.h).
 */
#include "api/file.h"
#include "core/target.h"

#include <string.h>

int dd_file_begin(struct dd_store *s, long long target, const char *key,
		  const char *name, struct dd_file_upload *u,
		  struct dd_error *err)
{
	struct dd_artifact a = {0};
	json_t *data = name ? json_pack("{s:s}", "name", name) : json_object();
	int rc;

	if (!data)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	rc = dd_artifact_key_check(key, err);
	if (!rc)
		rc = dd_artifact_data_check("file", data, NULL, err);
	if (!rc) {
		a.target = target;
		a.key = (char *)key;
		a.type = (char *)"file";
		a.data = data;
		a.complete = false;
		rc = dd_store_artifact_insert(s, &a, err);
	}
	json_decref(data);
	if (rc)
		return rc;
	memset(u, 0, sizeof(*u));
	u->id = a.id;
	dd_sha256_init(&u->sha);
	return 0;
}

int dd_file_write(struct dd_store *s, struct dd_file_upload *u,
		  const void *data, size_t n, struct dd_error *err)
{
	int rc = dd_store_begin(s, err);

	if (!rc)
		rc = dd_store_artifact_append(s, u->id, data, n, err);
	if (rc) {
		dd_store_rollback(s);
		return rc;
	}
	/* lazily: only the completing commit must be durable */
	rc = dd_store_commit_lazy(s, err);
	if (rc)
		return rc;
	u->size += (long long)n;
	return 0;
}

void dd_file_hash(struct dd_file_upload *u, const void *data, size_t n)
{
	dd_sha256_update(&u->sha, data, n);
}

int dd_file_end(struct dd_store *s, struct dd_file_upload *u,
		struct dd_artifact *out, struct dd_error *err)
{
	char hex[DD_SHA256_HEX_LEN + 1];
	int rc;

	dd_sha256_final_hex(&u->sha, hex);
	rc = dd_store_begin(s, err);
	if (!rc)
		rc = dd_store_artifact_complete(s, u->id, u->size, hex, err);
	if (rc) {
		dd_store_rollback(s);
		return rc;
	}
	rc = dd_store_commit(s, err);
	if (!rc && out)
		rc = dd_store_artifact_get(s, u->id, out, err);
	return rc;
}

int dd_file_abort(struct dd_store *s, struct dd_file_upload *u,
		  struct dd_error *err)
{
	struct dd_error ignored = DD_ERROR_INIT;
	int rc = dd_store_begin(s, err ? err : &ignored);

	if (!rc)
		rc = dd_store_artifact_delete(s, u->id, err ? err : &ignored);
	if (rc) {
		dd_store_rollback(s);
		return rc;
	}
	return dd_store_commit(s, err ? err : &ignored);
}

/* A decimal of digits only, into *out; false when empty, signed or huge. */
static bool parse_offset(const char *p, const char *end, long long *out)
{
	long long v = 0;

	if (p == end)
		return false;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9' || v > (1LL << 62) / 10)
			return false;
		v = v * 10 + (*p - '0');
	}
	*out = v;
	return true;
}

int dd_file_range(const char *header, long long size,
		  struct dd_file_range *out)
{
	const char *spec, *dash, *end;
	long long a, b;

	if (!header || strncmp(header, "bytes=", 6))
		return 0;
	spec = header + 6;
	if (strchr(spec, ','))
		return 0; /* several ranges: the whole file, with 200 */
	dash = strchr(spec, '-');
	end = spec + strlen(spec);
	if (!dash)
		return 0;
	if (dash == spec) { /* the last n bytes */
		if (!parse_offset(dash + 1, end, &b))
			return 0;
		if (b == 0 || size == 0)
			return -1;
		out->length = b < size ? b : size;
		out->first = size - out->length;
		return 1;
	}
	if (!parse_offset(spec, dash, &a))
		return 0;
	if (dash + 1 == end) {
		b = size - 1;
	} else if (!parse_offset(dash + 1, end, &b) || b < a) {
		return 0; /* syntactically invalid: ignored (RFC 9110 14.2) */
	}
	if (a >= size)
		return -1;
	if (b >= size)
		b = size - 1;
	out->first = a;
	out->length = b - a + 1;
	return 1;
}
