/*
 * input.h - the rules for what people and programs hand drydock, in one
 * place, so that the CLI, the HTTP API and the web UI accept and refuse
 * the same things: times, durations and lease expiries; JSON text; and the
 * JSON values stored with objects (a lease's attributes, a blueprint's
 * config).
 *
 * Nothing here trims, rounds or rolls over: " 5" is not 5, February 30 is
 * not March 2, and a number too large for its field is refused, never
 * wrapped.  Every function returns 0 or DD_ERR_INVALID with a message in
 * *err that names the input, and leaves its outputs alone when it refuses.
 */
#ifndef DD_INPUT_H
#define DD_INPUT_H

#include <jansson.h>
#include <stddef.h>

#include "core/error.h"

/* The longest duration drydock takes, and so the latest lease expiry from
 * now: ten years of 365 days. */
#define DD_DURATION_MAX (10.0 * 365 * 86400)

/*
 * The deepest JSON text drydock parses: arrays and objects nested this
 * many levels, counting the outermost.  Parsers and printers recurse once
 * per level, and a request runs on a handler thread's 1 MiB stack.
 */
#define DD_JSON_MAX_NESTING 32

/*
 * A stored JSON value (a lease's attributes, a blueprint's config) takes
 * at most this many bytes as compact JSON, and is nested at most
 * DD_JSON_VALUE_MAX_NESTING levels: what fits in a request body as one of
 * its fields.  Every list of leases or blueprints carries these values;
 * an API page of them also ends at 1 MiB (PAGE_BYTES in http/api_v1.c).
 */
#define DD_JSON_VALUE_MAX (64 * 1024)
#define DD_JSON_VALUE_MAX_NESTING (DD_JSON_MAX_NESTING - 1)

/*
 * A duration in seconds: a plain number of seconds ("90", "1.5"), or
 * numbers each followed by a unit, the units from largest to smallest and
 * each at most once: "90s", "30m", "1h30m", "2d", "1d12h".  Units are d
 * (86400 s), h, m and s.  It must be more than 0 and at most
 * DD_DURATION_MAX.
 */
int dd_duration_parse(const char *s, double *out, struct dd_error *err);

/* Is `secs`, given as a number (the API's "ttl"), a duration drydock
 * takes: more than 0 and at most DD_DURATION_MAX? */
int dd_duration_check(double secs, struct dd_error *err);

/*
 * A point in time, as seconds since the epoch:
 *   "YYYY-MM-DDTHH:MM:SS", a space allowed for the T, optionally with a
 *   fraction ".F" and a final "Z"; always UTC, and the date must exist;
 *   "@EPOCH", seconds since the epoch (a plain decimal number);
 *   "+DURATION", that long after `now` (see dd_duration_parse()).
 * Years after 9999 cannot be written.  Whether the time suits its use is
 * the caller's question (dd_expiry_check()).
 */
int dd_time_parse(const char *s, double now, double *out,
		  struct dd_error *err);

/* Can a lease expire at `until`: after `now`, at most DD_DURATION_MAX
 * after it? */
int dd_expiry_check(double until, double now, struct dd_error *err);

/*
 * Parse `len` bytes of JSON text into *out (a new reference): refused when
 * nested deeper than DD_JSON_MAX_NESTING, when an object repeats a key,
 * and when it is not JSON.  `what` names the text in messages ("request
 * body", "--attributes").
 */
int dd_json_parse(const char *text, size_t len, const char *what,
		  json_t **out, struct dd_error *err);

/*
 * How deep arrays and objects nest in `len` bytes of JSON text, found
 * without parsing it (so without recursing); strings are skipped.
 */
int dd_json_nesting(const char *text, size_t len);

/*
 * May `v` be stored as `what` ("lease attributes", "blueprint config")?
 * At most DD_JSON_VALUE_MAX bytes as compact JSON and nested at most
 * DD_JSON_VALUE_MAX_NESTING levels.
 */
int dd_json_value_check(const json_t *v, const char *what,
			struct dd_error *err);

/*
 * Bytes from outside that need not be UTF-8 (a command's output, a path
 * a client sent) as a JSON string: every byte that is not part of valid
 * UTF-8 is replaced by U+FFFD, so the string is always valid.
 */
json_t *dd_json_string_lossy(const char *s, size_t n);

#endif
