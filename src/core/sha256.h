/*
 * sha256.h - SHA-256 (FIPS 180-4), for hashing API token secrets.
 *
 * drydock stores only the digest of a token's secret, never the secret, so
 * a copy of the store does not hand out working tokens.  Both functions
 * take the whole message at once; nothing here allocates or fails.
 */
#ifndef DD_SHA256_H
#define DD_SHA256_H

#include <stddef.h>

#define DD_SHA256_LEN 32
#define DD_SHA256_HEX_LEN 64

/* The 32-byte digest of the n bytes at data. */
void dd_sha256(const void *data, size_t n, unsigned char out[32]);
/* The digest as 64 lower-case hex digits and a NUL. */
void dd_sha256_hex(const void *data, size_t n, char out[65]);

#endif
