/*
 * sha256.h - SHA-256 (FIPS 180-4), for hashing API token secrets and
 * file artifacts.
 *
 * drydock stores only the digest of a token's secret, never the secret, so
 * a copy of the store does not hand out working tokens.  dd_sha256() and
 * dd_sha256_hex() take a whole message at once; a file artifact, which
 * never sits whole in memory, is hashed a piece at a time with a
 * struct dd_sha256_ctx.  Nothing here allocates or fails.
 */
#ifndef DD_SHA256_H
#define DD_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DD_SHA256_LEN 32
#define DD_SHA256_HEX_LEN 64

/* The 32-byte digest of the n bytes at data. */
void dd_sha256(const void *data, size_t n, unsigned char out[32]);
/* The digest as 64 lower-case hex digits and a NUL. */
void dd_sha256_hex(const void *data, size_t n, char out[65]);

/* A digest being computed: init, update with each piece, then final. */
struct dd_sha256_ctx {
	uint32_t h[8];
	uint64_t n;		/* bytes so far */
	unsigned char block[64];
	size_t used;		/* bytes waiting in block */
};

void dd_sha256_init(struct dd_sha256_ctx *c);
void dd_sha256_update(struct dd_sha256_ctx *c, const void *data, size_t n);
/* The digest of everything passed to update, raw or as hex and a NUL. */
void dd_sha256_final(struct dd_sha256_ctx *c, unsigned char out[32]);
void dd_sha256_final_hex(struct dd_sha256_ctx *c, char out[65]);

/*
 * Use only the portable compression function, not the processor's SHA
 * instructions where it has them (so that tests check both); false by
 * default.  Not for use while another thread hashes.
 */
void dd_sha256_portable(bool on);

#endif
