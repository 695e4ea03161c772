/*
 * html.c - the pieces the web UI's pages are made of (html.h): escaping,
 * times and sizes for people, links, query-string encoding and form
 * decoding.  Reads
 * nothing but its arguments.
 */
#include "http/html.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void dd_html_esc(struct dd_buf *b, const char *s)
{
	const char *run = s;

	if (!s)
		return;
	/* copy runs of ordinary characters at once */
	for (; *s; s++) {
		const char *rep;

		switch (*s) {
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '&':
			rep = "&amp;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&#39;";
			break;
		default:
			continue;
		}
		dd_buf_add(b, run, (size_t)(s - run));
		dd_buf_addstr(b, rep);
		run = s + 1;
	}
	dd_buf_add(b, run, (size_t)(s - run));
}

void dd_html_reltime(double t, double now, char *buf, size_t n)
{
	double d = now - t;
	bool future = d < 0;
	double a = fabs(d);
	long long v;
	const char *unit;

	if (n == 0)
		return;
	if (a < 1 || !isfinite(a)) {
		snprintf(buf, n, "%s", future ? "now" : "just now");
		return;
	}
	if (a < 60) {
		v = (long long)a;
		unit = "s";
	} else if (a < 3600) {
		v = (long long)(a / 60);
		unit = "min";
	} else if (a < 48 * 3600) {
		v = (long long)(a / 3600);
		unit = "h";
	} else {
		v = (long long)(a / 86400);
		unit = "d";
	}
	if (future)
		snprintf(buf, n, "in %lld %s", v, unit);
	else
		snprintf(buf, n, "%lld %s ago", v, unit);
}

void dd_html_time(struct dd_buf *b, double t, double now, const char *none)
{
	char abs[32], rel[40];

	if (t == 0) {
		dd_buf_addstr(b, "<span class=\"muted\">");
		dd_html_esc(b, none ? none : "-");
		dd_buf_addstr(b, "</span>");
		return;
	}
	dd_time_format(t, abs);
	dd_html_reltime(t, now, rel, sizeof(rel));
	dd_buf_addf(b, "<time datetime=\"%s\" title=\"%s\">%s</time>", abs, abs,
		    rel);
}

void dd_html_urlenc(struct dd_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		char e[3] = {'%', hex[c >> 4], hex[c & 15]};

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~')
			dd_buf_add(b, s, 1);
		else
			dd_buf_add(b, e, 3);
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool dd_html_form_value(const char *body, const char *key, char *out, size_t n)
{
	size_t kl = strlen(key);
	const char *p = body;

	if (n == 0)
		return false;
	out[0] = '\0';
	while (p && *p) {
		const char *amp = strchr(p, '&');
		const char *end = amp ? amp : p + strlen(p);
		size_t o = 0;

		if ((size_t)(end - p) <= kl || strncmp(p, key, kl) ||
		    p[kl] != '=') {
			p = amp ? amp + 1 : NULL;
			continue;
		}
		for (p += kl + 1; p < end; p++) {
			int c = (unsigned char)*p;

			if (c == '+') {
				c = ' ';
			} else if (c == '%') {
				int hi, lo;

				if (end - p < 3)
					goto bad;
				hi = hexval(p[1]);
				lo = hexval(p[2]);
				if (hi < 0 || lo < 0)
					goto bad;
				c = hi * 16 + lo;
				p += 2;
			}
			if (c == 0 || o + 1 >= n)
				goto bad;
			out[o++] = (char)c;
		}
		out[o] = '\0';
		return true;
	}
	return false;
bad:
	out[0] = '\0';
	return false;
}

void dd_html_json(struct dd_buf *b, const json_t *v, bool pretty)
{
	char *text;

	if (!v) {
		dd_buf_addstr(b, "null");
		return;
	}
	/* people need no 17 digits: 0.0276198, not 0.027619838714599609 */
	text = json_dumps(v, JSON_ENCODE_ANY | JSON_SORT_KEYS |
				     JSON_REAL_PRECISION(6) |
				     (pretty ? JSON_INDENT(2) : JSON_COMPACT));
	dd_html_esc(b, text ? text : "(cannot render)");
	free(text);
}

bool dd_html_link_ok(const char *uri)
{
	static const char *const schemes[] = {"http://", "https://"};
	bool scheme = false;

	if (!uri)
		return false;
	for (size_t i = 0; i < sizeof(schemes) / sizeof(*schemes); i++)
		scheme |= !strncasecmp(uri, schemes[i], strlen(schemes[i]));
	if (!scheme)
		return false;
	for (const unsigned char *p = (const unsigned char *)uri; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

void dd_html_size(long long bytes, char *buf, size_t n)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	double v = (double)bytes;
	size_t u = 0;

	if (n == 0)
		return;
	if (bytes < 1024) {
		snprintf(buf, n, "%lld B", bytes);
		return;
	}
	v /= 1024;
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(*units)) {
		v /= 1024;
		u++;
	}
	snprintf(buf, n, "%.1f %s", v, units[u]);
}
