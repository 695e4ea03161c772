/*
 * test_auth.c - API tokens (auth/token.h) and what they rest on: SHA-256
 * (core/sha256.h) against the FIPS 180-4 examples, and the secure random
 * source (dd_random_bytes in core/util.h).
 *
 * The roles table is written out again here by hand, so that an accidental
 * change to token.c fails a test instead of widening what a role may do.
 */
#include "testutil.h"

#include <sqlite3.h>

#include "auth/token.h"
#include "core/sha256.h"

/* ---- SHA-256 ---------------------------------------------------------- */

static void expect_sha256(const void *data, size_t n, const char *want)
{
	char hex[65];

	dd_sha256_hex(data, n, hex);
	assert_string_equal(hex, want);
}

/* The examples of FIPS 180-4 (and its companion document of examples). */
static void test_sha256_fips_vectors(void **state)
{
	static const char m448[] =
		"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	static const char m896[] =
		"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
		"hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
	char *million = malloc(1000000);

	(void)state;
	expect_sha256("", 0, "e3b0c44298fc1c149afbf4c8996fb924"
			     "27ae41e4649b934ca495991b7852b855");
	expect_sha256("abc", 3, "ba7816bf8f01cfea414140de5dae2223"
				"b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(strlen(m448) * 8, 448);
	expect_sha256(m448, strlen(m448),
		      "248d6a61d20638b8e5c026930c3e6039"
		      "a33ce45964ff2167f6ecedd419db06c1");
	assert_int_equal(strlen(m896) * 8, 896);
	expect_sha256(m896, strlen(m896),
		      "cf5b16a778af8380036ce59e7b049237"
		      "0b249b11e8f07a51afac45037afee9d1");
	assert_non_null(million);
	memset(million, 'a', 1000000);
	expect_sha256(million, 1000000,
		      "cdc76e5c9914fb9281a1c7e284d73e67"
		      "f1809a48a497200e046d39ccc7112cd0");
	free(million);
}

/*
 * A message hashed a piece at a time gives the digest of the whole: every
 * split of a 200-byte message into two pieces (across block boundaries),
 * and the million a's of FIPS 180-4 fed in uneven pieces.
 */
static void test_sha256_incremental(void **state)
{
	unsigned char msg[200];
	char want[65], got[65];
	struct dd_sha256_ctx c;
	char *million = malloc(1000000);
	size_t at = 0, step = 1;

	(void)state;
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)(i * 7 + 3);
	dd_sha256_hex(msg, sizeof(msg), want);
	for (size_t cut = 0; cut <= sizeof(msg); cut++) {
		dd_sha256_init(&c);
		dd_sha256_update(&c, msg, cut);
		dd_sha256_update(&c, msg + cut, sizeof(msg) - cut);
		dd_sha256_final_hex(&c, got);
		if (strcmp(got, want))
			fail_msg("split at %zu: %s != %s", cut, got, want);
	}
	assert_non_null(million);
	memset(million, 'a', 1000000);
	dd_sha256_init(&c);
	while (at < 1000000) {
		size_t n = step < 1000000 - at ? step : 1000000 - at;

		dd_sha256_update(&c, million + at, n);
		at += n;
		step = step * 3 % 9973 + 1;
	}
	dd_sha256_final_hex(&c, got);
	assert_string_equal(got, "cdc76e5c9914fb9281a1c7e284d73e67"
				 "f1809a48a497200e046d39ccc7112cd0");
	free(million);
}

/*
 * Messages whose padding lands on either side of a block boundary: 55
 * bytes is the longest that pads within one block, 56 the shortest that
 * needs a second.  Expected digests from coreutils' sha256sum.
 */
static void test_sha256_block_boundaries(void **state)
{
	static const struct {
		size_t n;
		const char *hex;
	} cases[] = {
		{55, "595615dbe4f0f407ae397d08b4c2cb87"
		     "0cb9b0e11937416f950c5160acf9c005"},
		{56, "784f623b787495078e93ff28a25b581d"
		     "f0584055a7e71d8cd90c454716b92f51"},
		{63, "5ca3e1ef5207490eac01a795e5cc94d5"
		     "9582a5118bf9534665c8668d87aa647c"},
		{64, "2fcd5a0d60e4c941381fcc4e00a4bf8b"
		     "e422c3ddfafb93c809e8d1e2bfffae8e"},
		{65, "1b3cd1877ab2f2f19f7be001722554f3"
		     "36cb799df0329de0bb4c118dc6abc06d"},
		{119, "faef67da856d6fd9c8d12f9ed0a4fefd"
		      "3cf0ce085ab43e2907418d457e3c354b"},
		{120, "c9512b08619c19fbb503c7da6b46ef20"
		      "301e5f7a7a5f43989182398536f5c5c8"},
		{128, "6c05be2c4268843ae47e68e611277ce6"
		      "2c02153f2f4d2e1e2a1a4b44f766cf74"},
	};
	char msg[128];

	(void)state;
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (char)('a' + i % 26);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_sha256(msg, cases[i].n, cases[i].hex);
}

/* The raw digest and its hex rendering agree. */
static void test_sha256_raw_matches_hex(void **state)
{
	unsigned char d[32];
	char hex[65], again[65];

	(void)state;
	dd_sha256("abc", 3, d);
	assert_int_equal(d[0], 0xba);
	assert_int_equal(d[31], 0xad);
	for (int i = 0; i < 32; i++)
		snprintf(again + 2 * i, 3, "%02x", d[i]);
	dd_sha256_hex("abc", 3, hex);
	assert_string_equal(hex, again);
}

/*
 * The portable compression function passes the same vectors, and where
 * the processor has SHA instructions both agree on every length up to
 * 300 bytes and on a megabyte of pseudo-random bytes in uneven pieces.
 */
static void test_sha256_portable_and_native_agree(void **state)
{
	size_t big = 1000003;
	unsigned char *buf = malloc(big);
	char a[65], b[65];
	uint32_t x = 12345;

	assert_non_null(buf);
	for (size_t i = 0; i < big; i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (unsigned char)(x >> 16);
	}
	dd_sha256_portable(true);
	test_sha256_fips_vectors(state);
	test_sha256_block_boundaries(state);
	dd_sha256_portable(false);
	for (size_t n = 0; n <= 300; n++) {
		dd_sha256_portable(true);
		dd_sha256_hex(buf, n, a);
		dd_sha256_portable(false);
		dd_sha256_hex(buf, n, b);
		assert_string_equal(a, b);
	}
	for (int pass = 0; pass < 2; pass++) {
		struct dd_sha256_ctx c;

		dd_sha256_portable(pass == 0);
		dd_sha256_init(&c);
		for (size_t at = 0, n = 1; at < big; at += n, n = n * 7 % 65537)
			dd_sha256_update(&c, buf + at, n < big - at ? n : big - at);
		dd_sha256_final_hex(&c, pass == 0 ? a : b);
	}
	dd_sha256_portable(false);
	assert_string_equal(a, b);
	free(buf);
}

/* ---- the secure random source ------------------------------------------ */

static void test_random_bytes(void **state)
{
	unsigned char a[32], b[32], zero[32] = {0};

	(void)state;
	assert_int_equal(dd_random_bytes(a, sizeof(a)), 0);
	assert_int_equal(dd_random_bytes(b, sizeof(b)), 0);
	assert_int_equal(dd_random_bytes(b, 0), 0);
	/* 2^-256 chances of a false failure */
	assert_memory_not_equal(a, b, sizeof(a));
	assert_memory_not_equal(a, zero, sizeof(a));
}

/* ---- fixtures ----------------------------------------------------------- */

static int setup(void **state)
{
	struct test_env *e = calloc(1, sizeof(*e));

	if (!e)
		return -1;
	test_env_init(e);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct test_env *e = *state;

	dd_store_fail_after(-1, 0);
	dd_alloc_fail_after(-1);
	test_env_release(e);
	free(e);
	return 0;
}

/* Make a token, failing the test on error; its secret goes to secret. */
static long long make_token(struct dd_store *s, const char *name,
			    enum dd_role role, char secret[DD_TOKEN_SECRET_MAX])
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_token t = {0};
	long long id;

	assert_ok(dd_token_create(s, name, role, secret, &t, &err), &err);
	id = t.id;
	dd_token_release(&t);
	return id;
}

static long long token_rows(struct dd_store *s)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_token_list l = {0};
	struct dd_filter f = {0};
	long long n;

	assert_ok(dd_store_token_list(s, &f, &l, &err), &err);
	n = (long long)l.n;
	dd_token_list_release(&l);
	return n;
}

static void expect_refused(struct dd_store *s, const char *secret)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_principal p;

	memset(&p, 0x5a, sizeof(p));
	assert_int_equal(dd_token_authenticate(s, secret, &p, &err),
			 DD_ERR_NOTFOUND);
	assert_string_equal(err.msg, "invalid or revoked token");
	/* nothing is filled in on a refusal */
	assert_int_equal(p.token_id, 0x5a5a5a5a5a5a5a5aLL);
}

/* ---- roles -------------------------------------------------------------- */

static void test_role_and_action_names(void **state)
{
	(void)state;
	for (int r = DD_ROLE_VIEWER; r <= DD_ROLE_ADMIN; r++)
		assert_int_equal(dd_role_parse(dd_role_name(r)), r);
	assert_string_equal(dd_role_name(DD_ROLE_VIEWER), "viewer");
	assert_string_equal(dd_role_name(DD_ROLE_CLIENT), "client");
	assert_string_equal(dd_role_name(DD_ROLE_ADMIN), "admin");
	assert_string_equal(dd_role_name(0), "unknown");
	assert_string_equal(dd_role_name(4), "unknown");
	assert_int_equal(dd_role_parse("root"), -1);
	assert_int_equal(dd_role_parse("Admin"), -1);
	assert_int_equal(dd_role_parse(""), -1);
	assert_int_equal(dd_role_parse(NULL), -1);
	assert_string_equal(dd_action_name(DD_ACTION_LEASE_EXEC), "lease-exec");
	assert_string_equal(dd_action_name(DD_ACTION_TOKEN_ADMIN),
			    "token-admin");
	assert_string_equal(dd_action_name(0), "unknown");
	assert_string_equal(dd_action_name(DD_ACTION_COUNT), "unknown");
}

/*
 * Every role, every action, and the owners that matter: none, the
 * principal itself, another token, a CLI user.  Y: allowed, N: refused.
 * The table mirrors the one in auth/token.h.
 */
static void test_roles_matrix(void **state)
{
	static const char *const owners[] = {NULL, "token:me", "token:other",
					     "cli:me@host"};
	static const struct {
		enum dd_action a;
		const char *by_role[DD_ROLE_ADMIN + 1]; /* per owner above */
	} expected[] = {
		/*                        viewer  client  admin */
		{DD_ACTION_READ, {0, "YYYY", "YYYY", "YYYY"}},
		{DD_ACTION_LEASE_CREATE, {0, "NNNN", "YYYY", "YYYY"}},
		{DD_ACTION_LEASE_RELEASE, {0, "NNNN", "NYNN", "YYYY"}},
		{DD_ACTION_LEASE_EXTEND, {0, "NNNN", "NYNN", "YYYY"}},
		{DD_ACTION_LEASE_EXEC, {0, "NNNN", "NYNN", "YYYY"}},
		{DD_ACTION_RESOURCE_RELEASE, {0, "NNNN", "NNNN", "YYYY"}},
		{DD_ACTION_BLUEPRINT_WRITE, {0, "NNNN", "NNNN", "YYYY"}},
		{DD_ACTION_TOKEN_ADMIN, {0, "NNNN", "NNNN", "YYYY"}},
		{DD_ACTION_TARGET_READ, {0, "YYYY", "NYNN", "YYYY"}},
		{DD_ACTION_TARGET_CREATE, {0, "NNNN", "YYYY", "YYYY"}},
		{DD_ACTION_TARGET_WRITE, {0, "NNNN", "NYNN", "YYYY"}},
		{DD_ACTION_AUTHORIZATION_DECIDE, {0, "NNNN", "NNNN", "YYYY"}},
	};
	size_t n = sizeof(expected) / sizeof(expected[0]);
	struct dd_principal p = {0};

	(void)state;
	/* a new action must be added here too */
	assert_int_equal(n, DD_ACTION_COUNT - 1);
	snprintf(p.name, sizeof(p.name), "me");
	snprintf(p.identity, sizeof(p.identity), "token:me");
	for (size_t i = 0; i < n; i++) {
		for (int r = DD_ROLE_VIEWER; r <= DD_ROLE_ADMIN; r++) {
			p.role = r;
			for (int o = 0; o < 4; o++) {
				bool want = expected[i].by_role[r][o] == 'Y';

				if (dd_principal_can(&p, expected[i].a,
						     owners[o]) != want)
					fail_msg("%s %s on %s: got %s",
						 dd_role_name(r),
						 dd_action_name(expected[i].a),
						 owners[o] ? owners[o] : "-",
						 want ? "no" : "yes");
			}
		}
	}

	/* no principal, an unknown role or action: nothing */
	assert_false(dd_principal_can(NULL, DD_ACTION_READ, NULL));
	p.role = 0;
	assert_false(dd_principal_can(&p, DD_ACTION_READ, NULL));
	p.role = 4;
	assert_false(dd_principal_can(&p, DD_ACTION_READ, NULL));
	p.role = DD_ROLE_ADMIN;
	assert_false(dd_principal_can(&p, 0, NULL));
	assert_false(dd_principal_can(&p, DD_ACTION_COUNT, NULL));

	/* a client with no identity owns nothing, not even unowned leases */
	p.role = DD_ROLE_CLIENT;
	p.identity[0] = '\0';
	assert_false(dd_principal_can(&p, DD_ACTION_LEASE_RELEASE, ""));
}

/* ---- creating tokens ---------------------------------------------------- */

static void test_create_secret_format(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	char secret[DD_TOKEN_SECRET_MAX], other[DD_TOKEN_SECRET_MAX];
	char hash[65];
	struct dd_token t = {0};
	double before = dd_now();

	assert_ok(dd_token_create(e->store, "ci", DD_ROLE_CLIENT, secret, &t,
				  &err),
		  &err);
	assert_int_equal(strlen(secret), 47);
	assert_memory_equal(secret, "ddt_", 4);
	assert_int_equal(strspn(secret + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
					    "abcdefghijklmnopqrstuvwxyz"
					    "0123456789-_"),
			 43);
	/* the 43rd character carries 4 bits: its low 2 bits are zero */
	assert_non_null(strchr("AEIMQUYcgkosw048", secret[46]));

	assert_true(t.id > 0);
	assert_string_equal(t.name, "ci");
	assert_string_equal(t.role, "client");
	assert_true(t.created >= before);
	assert_true(t.last_used == 0 && t.revoked == 0);
	dd_sha256_hex(secret, strlen(secret), hash);
	assert_string_equal(t.hash, hash);
	dd_token_release(&t);

	/* out may be NULL; every secret is new */
	assert_ok(dd_token_create(e->store, "ci2", DD_ROLE_ADMIN, other, NULL,
				  &err),
		  &err);
	assert_string_not_equal(secret, other);
}

/* Read a file whole; *n gets its size (0 and NULL when it is missing). */
static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long size;

	*n = 0;
	if (!f)
		return NULL;
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	rewind(f);
	buf = malloc((size_t)size + 1);
	assert_non_null(buf);
	*n = fread(buf, 1, (size_t)size, f);
	fclose(f);
	return buf;
}

/*
 * What reaches the disk is the hash, never the secret: neither in the
 * token row as SQLite returns it, nor anywhere in the database file or
 * its write-ahead log.
 */
static void test_hash_stored_not_secret(void **state)
{
	struct test_env *e = *state;
	char secret[DD_TOKEN_SECRET_MAX], hash[65], path[PATH_MAX + 32];
	sqlite3_stmt *st;
	sqlite3 *db;
	int rows = 0;

	make_token(e->store, "raw", DD_ROLE_VIEWER, secret);
	dd_sha256_hex(secret, strlen(secret), hash);

	assert_int_equal(sqlite3_open(e->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT * FROM token", -1, &st,
					    NULL),
			 SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		rows++;
		for (int i = 0; i < sqlite3_column_count(st); i++) {
			const char *v =
				(const char *)sqlite3_column_text(st, i);

			assert_null(strstr(v ? v : "", secret + 4));
		}
		assert_string_equal(sqlite3_column_name(st, 3), "hash");
		assert_string_equal((const char *)sqlite3_column_text(st, 3),
				    hash);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	assert_int_equal(rows, 1);

	for (int i = 0; i < 2; i++) {
		size_t n;
		char *bytes;

		snprintf(path, sizeof(path), "%s%s", e->path, i ? "-wal" : "");
		bytes = slurp(path, &n);
		assert_null(memmem(bytes ? bytes : "", n, secret + 4, 43));
		free(bytes);
	}
}

static void test_create_refuses_duplicate_name(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	char first[DD_TOKEN_SECRET_MAX], secret[DD_TOKEN_SECRET_MAX];
	struct dd_principal p;

	make_token(e->store, "twice", DD_ROLE_ADMIN, first);
	memset(secret, 'X', sizeof(secret));
	assert_int_equal(dd_token_create(e->store, "twice", DD_ROLE_VIEWER,
					 secret, NULL, &err),
			 DD_ERR_EXISTS);
	assert_string_equal(err.msg, "token name 'twice' is already taken");
	assert_int_equal(secret[0], 'X');
	assert_int_equal(token_rows(e->store), 1);

	/* the first token is untouched, role and all */
	assert_ok(dd_token_authenticate(e->store, first, &p, &err), &err);
	assert_int_equal(p.role, DD_ROLE_ADMIN);
}

static void test_create_validates_name(void **state)
{
	struct test_env *e = *state;
	static const struct {
		const char *name;
		const char *why;
	} bad[] = {
		{NULL, "a token needs a name"},
		{"", "a token needs a name"},
		{"has space", "use letters, digits"},
		{"slash/y", "use letters, digits"},
		{"quote'", "use letters, digits"},
		{"t\xc3\xa9", "use letters, digits"},
		{"new\nline", "use letters, digits"},
		{"12", "cannot be all digits"},
		{"0", "cannot be all digits"},
		{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		 "too long: 65 characters, at most 64"},
	};
	static const char *const good[] = {
		"a",
		"ci-01",
		"alice@example.org",
		"build_bot.2",
		"0x1",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	struct dd_error err = DD_ERROR_INIT;
	char secret[DD_TOKEN_SECRET_MAX];
	struct dd_principal p;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(dd_token_create(e->store, bad[i].name,
						 DD_ROLE_CLIENT, secret, NULL,
						 &err),
				 DD_ERR_INVALID);
		if (!strstr(err.msg, bad[i].why))
			fail_msg("name %zu: '%s' lacks '%s'", i, err.msg,
				 bad[i].why);
	}
	assert_int_equal(token_rows(e->store), 0);

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		make_token(e->store, good[i], DD_ROLE_CLIENT, secret);
		assert_ok(dd_token_authenticate(e->store, secret, &p, &err),
			  &err);
		assert_string_equal(p.name, good[i]);
	}
	/* the longest name still fits the principal's identity */
	assert_int_equal(strlen(p.identity), 6 + 64);
}

static void test_create_validates_role(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	char secret[DD_TOKEN_SECRET_MAX];
	const int roles[] = {0, 4, -1, 100};

	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		assert_int_equal(dd_token_create(e->store, "r", roles[i],
						 secret, NULL, &err),
				 DD_ERR_INVALID);
		assert_non_null(strstr(err.msg, "unknown role"));
	}
	assert_int_equal(token_rows(e->store), 0);
}

/* A store failure anywhere in create leaves no token and hands out nothing. */
static void test_create_store_failure_writes_nothing(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	char secret[DD_TOKEN_SECRET_MAX];

	for (long n = 0; n < 2; n++) {
		memset(secret, 'X', sizeof(secret));
		dd_store_fail_after(n, DD_ERR_STORE);
		assert_int_equal(dd_token_create(e->store, "f", DD_ROLE_ADMIN,
						 secret, NULL, &err),
				 DD_ERR_STORE);
		dd_store_fail_after(-1, 0);
		assert_int_equal(secret[0], 'X');
		assert_int_equal(e->store->depth, 0);
	}
	dd_alloc_fail_after(0);
	assert_int_equal(dd_token_create(e->store, "f", DD_ROLE_ADMIN, secret,
					 NULL, &err),
			 DD_ERR_NOMEM);
	dd_alloc_fail_after(-1);
	assert_int_equal(secret[0], 'X');
	assert_int_equal(token_rows(e->store), 0);
}

/* ---- authenticating ----------------------------------------------------- */

static void test_authenticate(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	char secret[DD_TOKEN_SECRET_MAX], other[DD_TOKEN_SECRET_MAX];
	struct dd_principal p;
	long long id;

	id = make_token(e->store, "alice@example.org", DD_ROLE_CLIENT, secret);
	make_token(e->store, "bob", DD_ROLE_ADMIN, other);
	assert_ok(dd_token_authenticate(e->store, secret, &p, &err), &err);
	assert_int_equal(p.token_id, id);
	assert_string_equal(p.name, "alice@example.org");
	assert_int_equal(p.role, DD_ROLE_CLIENT);
	assert_string_equal(p.identity, "token:alice@example.org");
	assert_int_equal(err.code, 0); /* untouched on success */
}

static void test_authenticate_refuses_malformed(void **state)
{
	struct test_env *e = *state;
	char secret[DD_TOKEN_SECRET_MAX], bad[DD_TOKEN_SECRET_MAX + 8];

	make_token(e->store, "m", DD_ROLE_ADMIN, secret);
	expect_refused(e->store, NULL);
	expect_refused(e->store, "");
	expect_refused(e->store, "ddt_");
	expect_refused(e->store, "Bearer");
	/* one character short, one too many, a trailing newline */
	snprintf(bad, sizeof(bad), "%.46s", secret);
	expect_refused(e->store, bad);
	snprintf(bad, sizeof(bad), "%sA", secret);
	expect_refused(e->store, bad);
	snprintf(bad, sizeof(bad), "%s\n", secret);
	expect_refused(e->store, bad);
	snprintf(bad, sizeof(bad), " %s", secret);
	expect_refused(e->store, bad);
	/* another prefix, characters outside base64url */
	snprintf(bad, sizeof(bad), "ddx_%s", secret + 4);
	expect_refused(e->store, bad);
	snprintf(bad, sizeof(bad), "%s", secret);
	bad[10] = '+';
	expect_refused(e->store, bad);
	bad[10] = '=';
	expect_refused(e->store, bad);
	/* well formed but not ours: the secret with one character changed */
	snprintf(bad, sizeof(bad), "%s", secret);
	bad[20] = bad[20] == 'A' ? 'B' : 'A';
	expect_refused(e->store, bad);
	/* the hash itself is no secret */
	{
		struct dd_token t = {0};
		struct dd_error err = DD_ERROR_INIT;

		assert_ok(dd_store_token_get_by_name(e->store, "m", &t, &err),
			  &err);
		expect_refused(e->store, t.hash);
		dd_token_release(&t);
	}
}

static void test_authenticate_refuses_revoked(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	char secret[DD_TOKEN_SECRET_MAX], other[DD_TOKEN_SECRET_MAX];
	struct dd_principal p;

	make_token(e->store, "gone", DD_ROLE_ADMIN, secret);
	make_token(e->store, "stays", DD_ROLE_VIEWER, other);
	assert_ok(dd_token_authenticate(e->store, secret, &p, &err), &err);
	assert_ok(dd_token_revoke_by_name_or_id(e->store, "gone", NULL, &err),
		  &err);
	/* the same answer as for a secret that never existed */
	expect_refused(e->store, secret);
	assert_ok(dd_token_authenticate(e->store, other, &p, &err), &err);
	assert_string_equal(p.name, "stays");
}

/* A store failure is not a refusal: the caller must not answer "denied". */
static void test_authenticate_store_failure(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	char secret[DD_TOKEN_SECRET_MAX];
	struct dd_principal p;

	make_token(e->store, "s", DD_ROLE_ADMIN, secret);
	dd_store_fail_after(0, DD_ERR_BUSY);
	assert_int_equal(dd_token_authenticate(e->store, secret, &p, &err),
			 DD_ERR_BUSY);
	dd_store_fail_after(-1, 0);
}

static double last_used(struct dd_store *s, long long id)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_token t = {0};
	double v;

	assert_ok(dd_store_token_get(s, id, &t, &err), &err);
	v = t.last_used;
	dd_token_release(&t);
	return v;
}

/* last_used is written on first use, then at most once a minute. */
static void test_last_used_once_a_minute(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	char secret[DD_TOKEN_SECRET_MAX];
	struct dd_principal p;
	double before = dd_now(), first;
	long long id, commits;

	id = make_token(e->store, "busy", DD_ROLE_CLIENT, secret);
	assert_true(last_used(e->store, id) == 0);
	assert_ok(dd_token_authenticate(e->store, secret, &p, &err), &err);
	first = last_used(e->store, id);
	assert_true(first >= before);

	/* within the minute: no write at all */
	commits = dd_store_commit_count();
	for (int i = 0; i < 5; i++)
		assert_ok(dd_token_authenticate(e->store, secret, &p, &err),
			  &err);
	assert_int_equal(dd_store_commit_count(), commits);
	assert_true(last_used(e->store, id) == first);

	assert_ok(dd_store_token_touch(e->store, id, dd_now() - 30, &err),
		  &err);
	assert_ok(dd_token_authenticate(e->store, secret, &p, &err), &err);
	assert_true(last_used(e->store, id) < dd_now() - 29);

	/* a minute on, the next use is recorded */
	assert_ok(dd_store_token_touch(e->store, id, dd_now() - 61, &err),
		  &err);
	before = dd_now();
	assert_ok(dd_token_authenticate(e->store, secret, &p, &err), &err);
	assert_true(last_used(e->store, id) >= before);
}

/* ---- counting and revoking ---------------------------------------------- */

static long long active(struct dd_store *s, enum dd_role role)
{
	struct dd_error err = DD_ERROR_INIT;
	long long n = -1;

	assert_ok(dd_token_count_active(s, role, &n, &err), &err);
	return n;
}

static void test_count_active(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	char secret[DD_TOKEN_SECRET_MAX];

	assert_int_equal(active(e->store, 0), 0);
	assert_int_equal(active(e->store, DD_ROLE_ADMIN), 0);
	make_token(e->store, "root", DD_ROLE_ADMIN, secret);
	make_token(e->store, "ci", DD_ROLE_CLIENT, secret);
	make_token(e->store, "dash", DD_ROLE_VIEWER, secret);
	assert_int_equal(active(e->store, 0), 3);
	assert_int_equal(active(e->store, DD_ROLE_ADMIN), 1);
	assert_int_equal(active(e->store, DD_ROLE_VIEWER), 1);
	assert_ok(dd_token_revoke_by_name_or_id(e->store, "root", NULL, &err),
		  &err);
	assert_int_equal(active(e->store, DD_ROLE_ADMIN), 0);
	assert_int_equal(active(e->store, 0), 2);
}

static void test_revoke_by_name_or_id(void **state)
{
	struct test_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	char secret[DD_TOKEN_SECRET_MAX];
	struct dd_token t = {0};
	long long a, b;
	double revoked, before = dd_now();
	char id[32];

	a = make_token(e->store, "by-name", DD_ROLE_CLIENT, secret);
	b = make_token(e->store, "by-id", DD_ROLE_CLIENT, secret);

	assert_ok(dd_token_revoke_by_name_or_id(e->store, "by-name", &t, &err),
		  &err);
	assert_int_equal(t.id, a);
	assert_true(t.revoked >= before);
	dd_token_release(&t);

	snprintf(id, sizeof(id), "%lld", b);
	assert_ok(dd_token_revoke_by_name_or_id(e->store, id, &t, &err), &err);
	assert_string_equal(t.name, "by-id");
	revoked = t.revoked;
	dd_token_release(&t);

	/* again: refused, and the first revocation time stands */
	assert_int_equal(dd_token_revoke_by_name_or_id(e->store, "by-id", NULL,
						       &err),
			 DD_ERR_STATE);
	assert_non_null(strstr(err.msg, "'by-id': it is already revoked"));
	assert_ok(dd_store_token_get(e->store, b, &t, &err), &err);
	assert_true(t.revoked == revoked);
	dd_token_release(&t);

	assert_int_equal(dd_token_revoke_by_name_or_id(e->store, "nobody", NULL,
						       &err),
			 DD_ERR_NOTFOUND);
	assert_string_equal(err.msg, "no such token: 'nobody'");
	assert_int_equal(dd_token_revoke_by_name_or_id(e->store, "99", NULL,
						       &err),
			 DD_ERR_NOTFOUND);
	assert_string_equal(err.msg, "no such token: 99");
	assert_int_equal(dd_token_revoke_by_name_or_id(e->store, "0", NULL,
						       &err),
			 DD_ERR_NOTFOUND);
	assert_int_equal(dd_token_revoke_by_name_or_id(e->store,
						       "99999999999999999999",
						       NULL, &err),
			 DD_ERR_NOTFOUND);
	assert_int_equal(dd_token_revoke_by_name_or_id(e->store, "", NULL,
						       &err),
			 DD_ERR_INVALID);
	assert_int_equal(e->store->depth, 0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_fips_vectors),
		cmocka_unit_test(test_sha256_block_boundaries),
		cmocka_unit_test(test_sha256_incremental),
		cmocka_unit_test(test_sha256_raw_matches_hex),
		cmocka_unit_test(test_sha256_portable_and_native_agree),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_role_and_action_names),
		cmocka_unit_test(test_roles_matrix),
		T(test_create_secret_format),
		T(test_hash_stored_not_secret),
		T(test_create_refuses_duplicate_name),
		T(test_create_validates_name),
		T(test_create_validates_role),
		T(test_create_store_failure_writes_nothing),
		T(test_authenticate),
		T(test_authenticate_refuses_malformed),
		T(test_authenticate_refuses_revoked),
		T(test_authenticate_store_failure),
		T(test_last_used_once_a_minute),
		T(test_count_active),
		T(test_revoke_by_name_or_id),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
