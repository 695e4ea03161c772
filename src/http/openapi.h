/*
 * openapi.h - the API's OpenAPI 3 description, docs/openapi.json, built
 * into the binary (the Makefile generates its C array with
 * scripts/embed.sh) and served at GET /api/v1/openapi.json
 * (api_openapi.c).  tests/unit/test_openapi.c holds the router's routes
 * against it; docs/testing.md says how a new endpoint joins it.
 */
#ifndef DD_HTTP_OPENAPI_H
#define DD_HTTP_OPENAPI_H

#include <stddef.h>

/* The file's bytes, followed by a NUL; the length leaves the NUL out. */
extern const unsigned char dd_openapi_json[];
extern const size_t dd_openapi_json_len;

#endif
