/*
 * token.c - making, checking and revoking API tokens, and the roles table.
 *
 * A secret is looked up by its hash.  That lookup is not a timing leak
 * worth guarding: the hash of 256 random bits tells an attacker nothing
 * they could guess towards.  The final comparison is constant-time anyway,
 * so no code path here compares secret-derived bytes with an early exit.
 */
#include "auth/token.h"
#include "core/sha256.h"
#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_PREFIX "ddt_"
#define SECRET_PREFIX_LEN 4
#define SECRET_RANDOM_BYTES 32
#define SECRET_LEN (SECRET_PREFIX_LEN + 43) /* 256 bits in base64url */

/* A token's last use is written at most this often (seconds). */
#define TOUCH_INTERVAL 60.0

static const char b64url[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static const char *const role_names[] = {
	[DD_ROLE_VIEWER] = "viewer",
	[DD_ROLE_CLIENT] = "client",
	[DD_ROLE_ADMIN] = "admin",
};

static const char *const action_names[DD_ACTION_COUNT] = {
	[DD_ACTION_READ] = "read",
	[DD_ACTION_LEASE_CREATE] = "lease-create",
	[DD_ACTION_LEASE_RELEASE] = "lease-release",
	[DD_ACTION_LEASE_EXTEND] = "lease-extend",
	[DD_ACTION_LEASE_EXEC] = "lease-exec",
	[DD_ACTION_RESOURCE_RELEASE] = "resource-release",
	[DD_ACTION_BLUEPRINT_WRITE] = "blueprint-write",
	[DD_ACTION_TOKEN_ADMIN] = "token-admin",
	[DD_ACTION_TARGET_READ] = "target-read",
	[DD_ACTION_TARGET_CREATE] = "target-create",
	[DD_ACTION_TARGET_WRITE] = "target-write",
	[DD_ACTION_AUTHORIZATION_DECIDE] = "authorization-decide",
};

/*
 * The roles table of token.h.  OWN: only on objects the principal owns.
 * A build target is a client's own business: another client neither
 * sees nor changes it, while a viewer sees every target.
 */
enum { NO = 0, YES, OWN };

static const unsigned char allowed[DD_ROLE_ADMIN + 1][DD_ACTION_COUNT] = {
	[DD_ROLE_VIEWER] = {[DD_ACTION_READ] = YES,
			    [DD_ACTION_TARGET_READ] = YES},
	[DD_ROLE_CLIENT] = {[DD_ACTION_READ] = YES,
			    [DD_ACTION_LEASE_CREATE] = YES,
			    [DD_ACTION_LEASE_RELEASE] = OWN,
			    [DD_ACTION_LEASE_EXTEND] = OWN,
			    [DD_ACTION_LEASE_EXEC] = OWN,
			    [DD_ACTION_TARGET_READ] = OWN,
			    [DD_ACTION_TARGET_CREATE] = YES,
			    [DD_ACTION_TARGET_WRITE] = OWN},
	[DD_ROLE_ADMIN] = {[DD_ACTION_READ] = YES,
			   [DD_ACTION_LEASE_CREATE] = YES,
			   [DD_ACTION_LEASE_RELEASE] = YES,
			   [DD_ACTION_LEASE_EXTEND] = YES,
			   [DD_ACTION_LEASE_EXEC] = YES,
			   [DD_ACTION_RESOURCE_RELEASE] = YES,
			   [DD_ACTION_BLUEPRINT_WRITE] = YES,
			   [DD_ACTION_TOKEN_ADMIN] = YES,
			   [DD_ACTION_TARGET_READ] = YES,
			   [DD_ACTION_TARGET_CREATE] = YES,
			   [DD_ACTION_TARGET_WRITE] = YES,
			   [DD_ACTION_AUTHORIZATION_DECIDE] = YES},
};

static bool role_known(enum dd_role role)
{
	return role >= DD_ROLE_VIEWER && role <= DD_ROLE_ADMIN;
}

const char *dd_role_name(enum dd_role role)
{
	return role_known(role) ? role_names[role] : "unknown";
}

int dd_role_parse(const char *name)
{
	for (int i = DD_ROLE_VIEWER; name && i <= DD_ROLE_ADMIN; i++)
		if (!strcmp(name, role_names[i]))
			return i;
	return -1;
}

const char *dd_action_name(enum dd_action a)
{
	if (a < DD_ACTION_READ || a >= DD_ACTION_COUNT)
		return "unknown";
	return action_names[a];
}

bool dd_principal_can(const struct dd_principal *p, enum dd_action a,
		      const char *owner)
{
	if (!p || !role_known(p->role) || a < DD_ACTION_READ ||
	    a >= DD_ACTION_COUNT)
		return false;
	switch (allowed[p->role][a]) {
	case YES:
		return true;
	case OWN:
		return owner && p->identity[0] && !strcmp(owner, p->identity);
	}
	return false;
}

static bool all_digits(const char *s)
{
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '@' ||
	       c == '-';
}

static int check_name(const char *name, struct dd_error *err)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0)
		return dd_error_set(err, DD_ERR_INVALID,
				    "a token needs a name");
	if (n > DD_TOKEN_NAME_MAX)
		return dd_error_set(err, DD_ERR_INVALID,
				    "token name '%.20s...' is too long: %zu "
				    "characters, at most %d",
				    name, n, DD_TOKEN_NAME_MAX);
	for (size_t i = 0; i < n; i++)
		if (!name_char(name[i]))
			return dd_error_set(err, DD_ERR_INVALID,
					    "invalid token name '%s': use "
					    "letters, digits, '.', '_', '@' "
					    "and '-'",
					    name);
	if (all_digits(name))
		return dd_error_set(err, DD_ERR_INVALID,
				    "invalid token name '%s': it cannot be "
				    "all digits, which would read as a token "
				    "id",
				    name);
	return 0;
}

/* Encode n bytes as unpadded base64url into out (4n/3 rounded up, + NUL). */
static void base64url(const unsigned char *in, size_t n, char *out)
{
	unsigned acc = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8 | in[i]) & 0xffff;
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			*out++ = b64url[(acc >> bits) & 63];
		}
	}
	if (bits > 0)
		*out++ = b64url[(acc << (6 - bits)) & 63];
	*out = '\0';
}

static bool well_formed(const char *secret)
{
	if (!secret || strncmp(secret, SECRET_PREFIX, SECRET_PREFIX_LEN))
		return false;
	for (int i = SECRET_PREFIX_LEN; i < SECRET_LEN; i++)
		if (!secret[i] || !strchr(b64url, secret[i]))
			return false;
	return secret[SECRET_LEN] == '\0';
}

/*
 * The token key `k` made earlier: its secret was handed out then and is
 * not kept, so a retry can only say so.
 */
static int secret_gone(struct dd_store *s, const struct dd_idem *k,
		       long long id, struct dd_error *err)
{
	struct dd_token t = {0};
	int rc = dd_store_token_get(s, id, &t, err);

	if (!rc)
		rc = dd_error_set(err, DD_ERR_EXISTS,
				  "token '%s' (id %lld) was already created "
				  "with idempotency key '%.64s', and its "
				  "secret cannot be shown again: revoke it "
				  "and create another",
				  t.name, t.id, k->rec.key);
	dd_token_release(&t);
	return rc;
}

int dd_token_create(struct dd_store *s, const char *name, enum dd_role role,
		    char *secret_out, struct dd_token *out,
		    struct dd_error *err)
{
	return dd_token_create_idem(s, name, role, NULL, secret_out, out,
				    err);
}

static int token_create(struct dd_store *s, const char *name,
			enum dd_role role, struct dd_idem *idem,
			char *secret_out, struct dd_token *out,
			struct dd_error *err)
{
	unsigned char raw[SECRET_RANDOM_BYTES];
	char secret[DD_TOKEN_SECRET_MAX];
	struct dd_token t = {0};
	long long earlier = 0;
	int rc;

	if (idem) {
		rc = dd_idem_find(s, idem, &earlier, err);
		if (rc != DD_ERR_NOTFOUND)
			return rc ? rc : secret_gone(s, idem, earlier, err);
	}
	rc = check_name(name, err);
	if (rc)
		return rc;
	if (!role_known(role))
		return dd_error_set(err, DD_ERR_INVALID,
				    "unknown role %d (known: viewer, client, "
				    "admin)",
				    (int)role);
	if (dd_random_bytes(raw, sizeof(raw)))
		return dd_error_set(err, DD_ERR_IO,
				    "cannot make a token secret: %s",
				    strerror(errno));
	memcpy(secret, SECRET_PREFIX, SECRET_PREFIX_LEN);
	base64url(raw, sizeof(raw), secret + SECRET_PREFIX_LEN);
	dd_sha256_hex(secret, SECRET_LEN, t.hash);

	/* allocate before the insert, so nothing can fail after the commit */
	t.name = dd_strdup(name);
	t.role = dd_strdup(dd_role_name(role));
	if (!t.name || !t.role)
		rc = dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	if (!rc)
		rc = dd_store_begin(s, err);
	if (!rc) {
		/* the look-up that decides: a concurrent retry may have won */
		if (idem) {
			rc = dd_idem_find(s, idem, &earlier, err);
			if (rc == DD_ERR_NOTFOUND)
				rc = 0;
		}
		if (!rc && !earlier)
			rc = dd_store_token_insert(s, &t, err);
		if (!rc && !earlier && idem)
			rc = dd_idem_record(s, idem, "token", t.id, err);
		if (rc)
			dd_store_rollback(s);
		else
			rc = dd_store_commit(s, err);
		if (!rc && earlier)
			rc = secret_gone(s, idem, earlier, err);
	}
	if (!rc) {
		memcpy(secret_out, secret, SECRET_LEN + 1);
		if (out) {
			*out = t;
			memset(&t, 0, sizeof(t));
		}
	}
	dd_token_release(&t);
	explicit_bzero(raw, sizeof(raw));
	explicit_bzero(secret, sizeof(secret));
	return rc;
}

/* Run again while a concurrent request with its key wins (idem.h). */
int dd_token_create_idem(struct dd_store *s, const char *name,
			 enum dd_role role, struct dd_idem *idem,
			 char *secret_out, struct dd_token *out,
			 struct dd_error *err)
{
	int runs = 0, rc;

	do
		rc = token_create(s, name, role, idem, secret_out, out, err);
	while (dd_idem_again(idem, rc, &runs));
	return rc;
}

static int refuse(struct dd_error *err)
{
	return dd_error_set(err, DD_ERR_NOTFOUND, "invalid or revoked token");
}

/*
 * Record a use of token `id`.  Best effort: a failure only leaves the
 * previous time, and the next request tries again.  The transaction is
 * committed even if the update failed, so a caller's enclosing
 * transaction is never marked failed by it.
 */
static void record_use(struct dd_store *s, long long id, double now)
{
	struct dd_error ignored = DD_ERROR_INIT;

	if (dd_store_begin(s, &ignored))
		return;
	dd_store_token_touch(s, id, now, &ignored);
	dd_store_commit(s, &ignored);
}

int dd_token_authenticate(struct dd_store *s, const char *secret,
			  struct dd_principal *out, struct dd_error *err)
{
	struct dd_token t = {0};
	char hash[DD_SHA256_HEX_LEN + 1];
	double now;
	int rc, role;

	if (!well_formed(secret))
		return refuse(err);
	dd_sha256_hex(secret, SECRET_LEN, hash);
	rc = dd_store_token_get_by_hash(s, hash, &t, err);
	if (rc == DD_ERR_NOTFOUND)
		return refuse(err);
	if (rc)
		return rc;
	role = dd_role_parse(t.role);
	if (!dd_secret_equal(t.hash, hash) || t.revoked > 0 || role < 0) {
		dd_token_release(&t);
		return refuse(err);
	}
	memset(out, 0, sizeof(*out));
	out->token_id = t.id;
	snprintf(out->name, sizeof(out->name), "%s", t.name);
	out->role = (enum dd_role)role;
	snprintf(out->identity, sizeof(out->identity), "token:%s", out->name);
	now = dd_now();
	if (now - t.last_used >= TOUCH_INTERVAL)
		record_use(s, t.id, now);
	dd_token_release(&t);
	return 0;
}

int dd_token_count_active(struct dd_store *s, enum dd_role role,
			  long long *n, struct dd_error *err)
{
	struct dd_token_list l = {0};
	struct dd_filter f = {0};
	long long count = 0;
	int rc = dd_store_token_list(s, &f, &l, err);

	if (rc)
		return rc;
	for (size_t i = 0; i < l.n; i++)
		if (l.items[i].revoked <= 0 &&
		    (!role || dd_role_parse(l.items[i].role) == (int)role))
			count++;
	dd_token_list_release(&l);
	*n = count;
	return 0;
}

/* Find the token `name_or_id` names (see dd_token_revoke_by_name_or_id). */
static int find_token(struct dd_store *s, const char *name_or_id,
		      struct dd_token *out, struct dd_error *err)
{
	long long id;

	if (!all_digits(name_or_id))
		return dd_store_token_get_by_name(s, name_or_id, out, err);
	errno = 0;
	id = strtoll(name_or_id, NULL, 10);
	if (errno || id <= 0)
		return dd_error_set(err, DD_ERR_NOTFOUND, "no such token: %s",
				    name_or_id);
	return dd_store_token_get(s, id, out, err);
}

int dd_token_revoke_by_name_or_id(struct dd_store *s, const char *name_or_id,
				  struct dd_token *out, struct dd_error *err)
{
	struct dd_token t = {0};
	int rc;

	if (!name_or_id || !*name_or_id)
		return dd_error_set(err, DD_ERR_INVALID,
				    "which token? give its name or id");
	rc = dd_store_begin(s, err);
	if (rc)
		return rc;
	rc = find_token(s, name_or_id, &t, err);
	if (!rc && t.revoked > 0)
		rc = dd_error_set(err, DD_ERR_STATE,
				  "cannot revoke token %lld '%s': it is "
				  "already revoked",
				  t.id, t.name);
	if (!rc) {
		t.revoked = dd_now();
		rc = dd_store_token_revoke(s, t.id, t.revoked, err);
	}
	if (rc)
		dd_store_rollback(s);
	else
		rc = dd_store_commit(s, err);
	if (!rc && out) {
		*out = t;
		memset(&t, 0, sizeof(t));
	}
	dd_token_release(&t);
	return rc;
}
