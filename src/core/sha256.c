/*
 * sha256.c - SHA-256 as FIPS 180-4 describes it: pad the message to a
 * multiple of 64 bytes (a 1 bit, zeros, the bit length in 64 bits big
 * endian), then run the compression function over each 64-byte block.
 *
 * Two compression functions: a plain, portable one (131 MB/s at -O2 on
 * the 2-core development machine, 256 MiB hashed at once), and one on
 * the x86 SHA extensions, chosen at run time where the processor has
 * them (1.5 GB/s there): the portable one alone took half the CPU of a
 * file upload and held it under 90 MB/s.  An upload's hash is computed
 * as its bytes stream by, never in a second pass.
 */
#include "core/sha256.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_SHANI 1
#endif

/*
 * The first 32 bits of the fractional parts of the cube roots of the first
 * 64 primes (FIPS 180-4, 4.2.2).
 */
static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/*
 * The first 32 bits of the fractional parts of the square roots of the
 * first 8 primes (FIPS 180-4, 5.3.3).
 */
static const uint32_t H0[8] = {
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

static uint32_t rotr(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

static uint32_t load_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void store_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* Fold one 64-byte block into the hash value h (FIPS 180-4, 6.2.2). */
static void compress_portable(uint32_t h[8], const unsigned char block[64])
{
	uint32_t w[64], a, b, c, d, e, f, g, hh, t1, t2;
	int t;

	for (t = 0; t < 16; t++)
		w[t] = load_be32(block + 4 * t);
	for (; t < 64; t++) {
		uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^
			      (w[t - 15] >> 3);
		uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^
			      (w[t - 2] >> 10);

		w[t] = s1 + w[t - 7] + s0 + w[t - 16];
	}
	a = h[0];
	b = h[1];
	c = h[2];
	d = h[3];
	e = h[4];
	f = h[5];
	g = h[6];
	hh = h[7];
	for (t = 0; t < 64; t++) {
		t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) +
		     ((e & f) ^ (~e & g)) + K[t] + w[t];
		t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) +
		     ((a & b) ^ (a & c) ^ (b & c));
		hh = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
	h[5] += f;
	h[6] += g;
	h[7] += hh;
}

#ifdef HAVE_SHANI
/*
 * The same with the SHA extensions.  The state is kept as the vectors
 * ABEF and CDGH that sha256rnds2 works on; each step of the loop does
 * four rounds, with sha256msg1/msg2 extending the message schedule four
 * words at a time, in registers.
 */
__attribute__((target("sha,sse4.1"))) static void
compress_shani(uint32_t h[8], const unsigned char block[64])
{
	const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL,
					    0x0405060700010203ULL);
	__m128i st0, st1, tmp, msg, w[4], abef, cdgh;

	tmp = _mm_loadu_si128((const __m128i *)&h[0]);
	st1 = _mm_loadu_si128((const __m128i *)&h[4]);
	tmp = _mm_shuffle_epi32(tmp, 0xB1);	     /* CDAB */
	st1 = _mm_shuffle_epi32(st1, 0x1B);	     /* EFGH */
	st0 = _mm_alignr_epi8(tmp, st1, 8);	     /* ABEF */
	st1 = _mm_blend_epi16(st1, tmp, 0xF0);	     /* CDGH */
	abef = st0;
	cdgh = st1;
#pragma GCC unroll 16
	for (int i = 0; i < 16; i++) {
		if (i < 4)
			w[i] = _mm_shuffle_epi8(
				_mm_loadu_si128(
					(const __m128i *)(block + 16 * i)),
				swap);
		msg = _mm_add_epi32(w[i % 4],
				    _mm_loadu_si128((const __m128i *)&K[4 * i]));
		st1 = _mm_sha256rnds2_epu32(st1, st0, msg);
		if (i >= 3 && i <= 14) {
			tmp = _mm_alignr_epi8(w[i % 4], w[(i + 3) % 4], 4);
			w[(i + 1) % 4] = _mm_add_epi32(w[(i + 1) % 4], tmp);
			w[(i + 1) % 4] =
				_mm_sha256msg2_epu32(w[(i + 1) % 4], w[i % 4]);
		}
		msg = _mm_shuffle_epi32(msg, 0x0E);
		st0 = _mm_sha256rnds2_epu32(st0, st1, msg);
		if (i >= 1 && i <= 12)
			w[(i + 3) % 4] =
				_mm_sha256msg1_epu32(w[(i + 3) % 4], w[i % 4]);
	}
	st0 = _mm_add_epi32(st0, abef);
	st1 = _mm_add_epi32(st1, cdgh);
	tmp = _mm_shuffle_epi32(st0, 0x1B);	     /* FEBA */
	st1 = _mm_shuffle_epi32(st1, 0xB1);	     /* DCHG */
	st0 = _mm_blend_epi16(tmp, st1, 0xF0);	     /* DCBA */
	st1 = _mm_alignr_epi8(st1, tmp, 8);	     /* ABEF */
	_mm_storeu_si128((__m128i *)&h[0], st0);
	_mm_storeu_si128((__m128i *)&h[4], st1);
}
#endif

static bool portable_only;

void dd_sha256_portable(bool on)
{
	portable_only = on;
}

static void compress(uint32_t h[8], const unsigned char block[64])
{
#ifdef HAVE_SHANI
	if (!portable_only && __builtin_cpu_supports("sha") &&
	    __builtin_cpu_supports("sse4.1")) {
		compress_shani(h, block);
		return;
	}
#endif
	compress_portable(h, block);
}

void dd_sha256_init(struct dd_sha256_ctx *c)
{
	memcpy(c->h, H0, sizeof(c->h));
	c->n = 0;
	c->used = 0;
}

void dd_sha256_update(struct dd_sha256_ctx *c, const void *data, size_t n)
{
	const unsigned char *p = data;

	c->n += n;
	if (c->used) {
		size_t take = 64 - c->used < n ? 64 - c->used : n;

		memcpy(c->block + c->used, p, take);
		c->used += take;
		p += take;
		n -= take;
		if (c->used < 64)
			return;
		compress(c->h, c->block);
		c->used = 0;
	}
	for (; n >= 64; p += 64, n -= 64)
		compress(c->h, p);
	memcpy(c->block, p, n);
	c->used = n;
}

void dd_sha256_final(struct dd_sha256_ctx *c, unsigned char out[32])
{
	unsigned char tail[128];
	uint64_t bits = c->n * 8;
	size_t padded;

	/*
	 * The last partial block, the 0x80 byte and the length fit in one
	 * block when at most 55 bytes remain, else they spill into a second.
	 */
	padded = c->used < 56 ? 64 : 128;
	memset(tail, 0, sizeof(tail));
	memcpy(tail, c->block, c->used);
	tail[c->used] = 0x80;
	store_be32(tail + padded - 8, (uint32_t)(bits >> 32));
	store_be32(tail + padded - 4, (uint32_t)bits);
	compress(c->h, tail);
	if (padded == 128)
		compress(c->h, tail + 64);

	for (int i = 0; i < 8; i++)
		store_be32(out + 4 * i, c->h[i]);
}

static void to_hex(const unsigned char d[32], char out[65])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < 32; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[64] = '\0';
}

void dd_sha256_final_hex(struct dd_sha256_ctx *c, char out[65])
{
	unsigned char d[32];

	dd_sha256_final(c, d);
	to_hex(d, out);
}

void dd_sha256(const void *data, size_t n, unsigned char out[32])
{
	struct dd_sha256_ctx c;

	dd_sha256_init(&c);
	dd_sha256_update(&c, data, n);
	dd_sha256_final(&c, out);
}

void dd_sha256_hex(const void *data, size_t n, char out[65])
{
	unsigned char d[32];

	dd_sha256(data, n, d);
	to_hex(d, out);
}
