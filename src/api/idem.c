/*
 * idem.c - idempotency keys (see idem.h): checking a key, hashing a
 * request, finding what a key made, and recording it.
 */
#include "api/idem.h"
#include "core/sha256.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dd_idem_check_key(const char *key, struct dd_error *err)
{
	size_t n = key ? strlen(key) : 0;

	if (n == 0 || n > DD_IDEM_KEY_MAX)
		return dd_error_set(err, DD_ERR_INVALID,
				    "an idempotency key must be 1 to %d "
				    "characters, not %zu",
				    DD_IDEM_KEY_MAX, n);
	for (size_t i = 0; i < n; i++)
		if (key[i] < ' ' || key[i] > '~')
			return dd_error_set(err, DD_ERR_INVALID,
					    "an idempotency key must be "
					    "printable ASCII (character %zu "
					    "is not)",
					    i + 1);
	return 0;
}

int dd_idem_init(struct dd_idem *k, const char *key, const char *caller,
		 const char *request, const json_t *params,
		 struct dd_error *err)
{
	char *canon;
	int rc = dd_idem_check_key(key, err);

	if (rc)
		return rc;
	memset(k, 0, sizeof(*k));
	if (snprintf(k->rec.caller, sizeof(k->rec.caller), "%s", caller) >=
		    (int)sizeof(k->rec.caller) ||
	    snprintf(k->rec.request, sizeof(k->rec.request), "%s",
		     request) >= (int)sizeof(k->rec.request))
		return dd_error_set(err, DD_ERR_INVALID,
				    "caller or request too long for an "
				    "idempotency key");
	snprintf(k->rec.key, sizeof(k->rec.key), "%s", key);
	canon = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS |
					   JSON_ENCODE_ANY);
	if (!canon)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	dd_sha256_hex(canon, strlen(canon), k->rec.hash);
	dd_free(canon);
	return 0;
}

int dd_idem_find(struct dd_store *s, struct dd_idem *k, long long *id,
		 struct dd_error *err)
{
	struct dd_idem_record had;
	char when[32];
	int rc = dd_store_idem_get(s, k->rec.caller, k->rec.key,
				   dd_now() - DD_IDEM_TTL, &had, err);

	if (rc)
		return rc;
	dd_time_format(had.created, when);
	if (strcmp(had.request, k->rec.request))
		return dd_error_set(err, DD_ERR_KEY_REUSED,
				    "idempotency key '%.64s' was used for "
				    "'%s' at %s, not for '%s': use a new key",
				    k->rec.key, had.request, when,
				    k->rec.request);
	if (strcmp(had.hash, k->rec.hash))
		return dd_error_set(err, DD_ERR_KEY_REUSED,
				    "idempotency key '%.64s' was used at %s "
				    "for a request with other parameters "
				    "(it made %s %lld): use a new key",
				    k->rec.key, when, had.object_kind,
				    had.object);
	*id = had.object;
	k->replayed = true;
	return 0;
}

int dd_idem_record(struct dd_store *s, struct dd_idem *k, const char *kind,
		   long long id, struct dd_error *err)
{
	double now = dd_now();
	int pruned, rc;

	snprintf(k->rec.object_kind, sizeof(k->rec.object_kind), "%s", kind);
	k->rec.object = id;
	k->rec.created = now;
	rc = dd_store_idem_insert(s, &k->rec, now - DD_IDEM_TTL, err);
	k->raced = rc == DD_ERR_EXISTS;
	if (rc == DD_ERR_EXISTS)
		return dd_error_set(err, DD_ERR_EXISTS,
				    "idempotency key '%.64s' is in use by a "
				    "request in progress: retry it",
				    k->rec.key);
	if (!rc)
		rc = dd_store_idem_prune(s, now - DD_IDEM_TTL, DD_IDEM_PRUNE,
					 &pruned, err);
	return rc;
}

bool dd_idem_again(struct dd_idem *k, int rc, int *runs)
{
	bool raced = k && k->raced && rc == DD_ERR_EXISTS;

	if (k)
		k->raced = false;
	return raced && ++*runs < DD_IDEM_RUNS;
}
