/*
 * html.h - the small pieces the web UI's pages are made of: HTML
 * escaping, times shown as "3 s ago", sizes, which URLs may be links,
 * query-string encoding and form decoding.
 *
 * Every string that a user, a blueprint or the store put there (owners,
 * attributes, log data, error messages, query arguments) reaches a page
 * only through dd_html_esc() or one of the functions built on it, so no
 * stored text can become markup.  The functions here read nothing but
 * their arguments, which is why the unit tests (tests/unit/test_web.c)
 * can check them alone.
 */
#ifndef DD_HTML_H
#define DD_HTML_H

#include "core/util.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * Append `s` to `b` with < > & " ' escaped, so the result is safe both
 * as element text and inside a double- or single-quoted attribute.  A
 * NULL `s` appends nothing.
 */
void dd_html_esc(struct dd_buf *b, const char *s);

/*
 * `t` relative to `now`, for people: "just now", "42 s ago", "5 min ago",
 * "3 h ago", "12 d ago", or for a time to come "in 42 s", "in 5 min".
 * Rounds towards zero: 119 s is "1 min ago".  Writes at most n - 1
 * characters and a NUL.
 */
void dd_html_reltime(double t, double now, char *buf, size_t n);

/*
 * Append `t` as <time> showing the relative time, with the RFC 3339 time
 * in its datetime and title attributes (the title shows on hover); a 0
 * time appends `none` instead (escaped; "-" when NULL).
 */
void dd_html_time(struct dd_buf *b, double t, double now, const char *none);

/*
 * Append `s` percent-encoded for a URL query value (everything but
 * A-Z a-z 0-9 - . _ ~ is encoded).  Escape the whole URL with
 * dd_html_esc() when it goes into an attribute.
 */
void dd_html_urlenc(struct dd_buf *b, const char *s);

/*
 * Find `key` in an application/x-www-form-urlencoded body and decode its
 * value into out[n] ('+' is a space, %XX a byte).  Returns false when the
 * key is absent, or when the value is malformed (a bad %-escape or a NUL
 * byte) or does not fit; out is then "".
 */
bool dd_html_form_value(const char *body, const char *key, char *out, size_t n);

/*
 * May `uri` be the href of a link on a page?  Only an absolute http or
 * https URL (scheme in any case) with no control characters or spaces:
 * never javascript:, data: or a URL a browser would first trim into one.
 * Whatever stored it checked its scheme already; the page checks again.
 */
bool dd_html_link_ok(const char *uri);

/*
 * A size in bytes for people: "512 B", "1.5 KiB", "200.0 MiB",
 * "1.0 GiB".  Writes at most n - 1 characters and a NUL.
 */
void dd_html_size(long long bytes, char *buf, size_t n);

/*
 * Append a JSON value as escaped text: indented over several lines when
 * `pretty`, else on one line, keys sorted, reals to 6 significant digits.
 * NULL appends `null`.
 */
void dd_html_json(struct dd_buf *b, const json_t *v, bool pretty);

#endif
