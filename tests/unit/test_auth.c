/*
 * test_auth.c - SHA-256 (core/sha256.h) against the FIPS 180-4 examples.
 */
#include "testutil.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_fips_vectors),
		cmocka_unit_test(test_sha256_block_boundaries),
		cmocka_unit_test(test_sha256_raw_matches_hex),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
