/*
 * input.c - times, durations, expiries and JSON as drydock accepts them
 * from the CLI, the HTTP API and the web UI (see input.h).
 */
#include "core/input.h"
#include "core/util.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* 10000-01-01T00:00:00Z: times from here on cannot be written. */
#define YEAR_10000 253402300800.0

static const char duration_forms[] =
	"a number of seconds, or numbers with units d, h, m and s, such as "
	"90, 30m or 1h30m";
static const char duration_bounds[] =
	"must be more than 0 seconds and at most ten years";
static const char time_forms[] =
	"YYYY-MM-DDTHH:MM:SSZ, @EPOCH or +DURATION such as +30m";

/*
 * The length of the plain decimal number at the start of `s`: digits,
 * optionally a '.' and more digits; 0 when there is none.  strtod() alone
 * would also take signs, spaces, "nan", "inf" and exponents.
 */
static size_t plain_number(const char *s)
{
	size_t n = strspn(s, "0123456789");

	if (n == 0)
		return 0;
	if (s[n] == '.') {
		size_t f = strspn(s + n + 1, "0123456789");

		if (f == 0)
			return 0;
		n += 1 + f;
	}
	return n;
}

/*
 * The value of the plain number at `s`.  Callers use it only when the
 * number ends at a unit letter (d, h, m, s), 'Z' or the string's end, none
 * of which strtod() takes as part of a number; a huge one becomes inf,
 * which every bound refuses.
 */
static double number_value(const char *s)
{
	return strtod(s, NULL);
}

int dd_duration_check(double secs, struct dd_error *err)
{
	if (!(secs > 0 && secs <= DD_DURATION_MAX))
		return dd_error_set(err, DD_ERR_INVALID, "a duration %s",
				    duration_bounds);
	return 0;
}

int dd_duration_parse(const char *s, double *out, struct dd_error *err)
{
	/* the units, largest first: each may follow only a larger one */
	static const struct {
		char unit;
		double secs;
	} units[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
	size_t next = 0; /* the first unit still allowed */
	const char *p = s;
	double total = 0;

	if (!s || !*s)
		return dd_error_set(err, DD_ERR_INVALID,
				    "bad duration '': expected %s",
				    duration_forms);
	while (*p) {
		size_t n = plain_number(p), u;
		double v;

		if (n == 0)
			return dd_error_set(err, DD_ERR_INVALID,
					    "bad duration '%.100s': expected "
					    "%s",
					    s, duration_forms);
		v = number_value(p);
		p += n;
		if (p[0] == '\0' && p - n == s) {
			total = v; /* a bare number: seconds */
			break;
		}
		for (u = next; u < 4 && units[u].unit != *p; u++)
			;
		if (u == 4)
			return dd_error_set(
				err, DD_ERR_INVALID,
				"bad duration '%.100s': %s", s,
				strchr("dhms", *p) && *p
					? "units go from largest to smallest, "
					  "each at most once"
					: "every number needs a unit (d, h, "
					  "m or s) unless it stands alone");
		total += v * units[u].secs;
		next = u + 1;
		p++;
	}
	if (dd_duration_check(total, NULL))
		return dd_error_set(err, DD_ERR_INVALID,
				    "bad duration '%.100s': %s", s,
				    duration_bounds);
	*out = total;
	return 0;
}

static bool leap_year(long y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(long y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30,
				   31, 31, 30, 31, 30, 31};

	return m == 2 && leap_year(y) ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static long days_from_civil(long y, int m, int d)
{
	long era, yoe, doy;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

/* `n` digits at `s` as a number, or -1 unless all are digits. */
static long digits(const char *s, int n)
{
	long v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int calendar_time(const char *s, double *out, struct dd_error *err)
{
	static const char *const months[] = {
		"January", "February", "March",	    "April",
		"May",	   "June",     "July",	    "August",
		"September", "October", "November", "December"};
	long y, mo, d, h, mi, sec;
	const char *p = s + 19;
	double frac = 0;

	/* YYYY-MM-DDTHH:MM:SS: fixed positions; strlen() guards reading */
	if (strnlen(s, 19) < 19 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':' ||
	    (y = digits(s, 4)) < 0 || (mo = digits(s + 5, 2)) < 0 ||
	    (d = digits(s + 8, 2)) < 0 || (h = digits(s + 11, 2)) < 0 ||
	    (mi = digits(s + 14, 2)) < 0 || (sec = digits(s + 17, 2)) < 0)
		return dd_error_set(err, DD_ERR_INVALID,
				    "bad time '%.100s': expected %s", s,
				    time_forms);
	if (*p == '.') {
		size_t n = strspn(p + 1, "0123456789");

		if (n == 0)
			return dd_error_set(err, DD_ERR_INVALID,
					    "bad time '%.100s': no digits "
					    "after '.'",
					    s);
		frac = number_value(p);
		p += 1 + n;
	}
	if (*p == 'Z')
		p++;
	if (*p)
		return dd_error_set(err, DD_ERR_INVALID,
				    "bad time '%.100s': unexpected '%.20s' "
				    "(times are UTC: end with Z or nothing)",
				    s, p);
	if (mo < 1 || mo > 12)
		return dd_error_set(err, DD_ERR_INVALID,
				    "bad time '%.100s': no month %02ld", s,
				    mo);
	if (d < 1 || d > days_in_month(y, (int)mo))
		return dd_error_set(err, DD_ERR_INVALID,
				    "bad time '%.100s': %s %ld has no day "
				    "%02ld",
				    s, months[mo - 1], y, d);
	if (h > 23 || mi > 59 || sec > 59)
		return dd_error_set(err, DD_ERR_INVALID,
				    "bad time '%.100s': no time of day "
				    "%02ld:%02ld:%02ld",
				    s, h, mi, sec);
	*out = (double)days_from_civil(y, (int)mo, (int)d) * 86400.0 +
	       (double)(h * 3600 + mi * 60 + sec) + frac;
	return 0;
}

int dd_time_parse(const char *s, double now, double *out,
		  struct dd_error *err)
{
	double v = 0;

	if (!s || !*s)
		return dd_error_set(err, DD_ERR_INVALID,
				    "bad time '': expected %s", time_forms);
	if (*s == '+') {
		struct dd_error why = DD_ERROR_INIT;

		if (dd_duration_parse(s + 1, &v, &why))
			return dd_error_set(err, DD_ERR_INVALID,
					    "bad time '%.100s': %s", s,
					    why.msg);
		v += now;
	} else if (*s == '@') {
		size_t n = plain_number(s + 1);

		if (n == 0 || s[1 + n])
			return dd_error_set(err, DD_ERR_INVALID,
					    "bad time '%.100s': @ takes "
					    "seconds since the epoch, such as "
					    "@1767225600",
					    s);
		v = number_value(s + 1);
	} else if (calendar_time(s, &v, err)) {
		return DD_ERR_INVALID;
	}
	if (!(v < YEAR_10000))
		return dd_error_set(err, DD_ERR_INVALID,
				    "bad time '%.100s': years after 9999 "
				    "cannot be written",
				    s);
	*out = v;
	return 0;
}

int dd_expiry_check(double until, double now, struct dd_error *err)
{
	char when[32];

	if (until > now && until - now <= DD_DURATION_MAX)
		return 0;
	/* NaN, and times dd_time_format() cannot write */
	if (!(until > -YEAR_10000 && until < YEAR_10000))
		return dd_error_set(err, DD_ERR_INVALID,
				    "an expiry must be in the future and at "
				    "most ten years from now");
	dd_time_format(until, when);
	return dd_error_set(err, DD_ERR_INVALID, "expiry %s is %s", when,
			    until > now ? "more than ten years from now"
					: "in the past");
}

int dd_json_nesting(const char *text, size_t len)
{
	int depth = 0, most = 0;
	bool in_string = false;

	for (size_t i = 0; i < len; i++) {
		if (in_string) {
			if (text[i] == '\\')
				i++;
			else if (text[i] == '"')
				in_string = false;
		} else if (text[i] == '"') {
			in_string = true;
		} else if (text[i] == '[' || text[i] == '{') {
			if (++depth > most)
				most = depth;
		} else if (text[i] == ']' || text[i] == '}') {
			depth--;
		}
	}
	return most;
}

int dd_json_parse(const char *text, size_t len, const char *what,
		  json_t **out, struct dd_error *err)
{
	json_error_t jerr;
	json_t *v;

	if (dd_json_nesting(text, len) > DD_JSON_MAX_NESTING)
		return dd_error_set(err, DD_ERR_INVALID,
				    "%s is nested deeper than %d levels", what,
				    DD_JSON_MAX_NESTING);
	v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!v)
		return dd_error_set(err, DD_ERR_INVALID,
				    "malformed JSON in %s: %s (at byte %d)",
				    what, jerr.text, jerr.position);
	*out = v;
	return 0;
}

/* Is `v` nested deeper than `limit` levels?  Recurses at most limit+1. */
static bool nested_deeper(const json_t *v, int limit)
{
	const char *key;
	json_t *e;
	size_t i;

	if (!json_is_object(v) && !json_is_array(v))
		return false;
	if (limit == 0)
		return true;
	if (json_is_array(v)) {
		json_array_foreach(v, i, e)
		{
			if (nested_deeper(e, limit - 1))
				return true;
		}
		return false;
	}
	json_object_foreach((json_t *)v, key, e)
	{
		if (nested_deeper(e, limit - 1))
			return true;
	}
	return false;
}

int dd_json_value_check(const json_t *v, const char *what,
			struct dd_error *err)
{
	size_t n;

	if (!v)
		return 0;
	if (nested_deeper(v, DD_JSON_VALUE_MAX_NESTING))
		return dd_error_set(err, DD_ERR_INVALID,
				    "%s nested too deeply: more than %d "
				    "levels",
				    what, DD_JSON_VALUE_MAX_NESTING);
	/* the size without building the text */
	n = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
	if (n > DD_JSON_VALUE_MAX)
		return dd_error_set(err, DD_ERR_INVALID,
				    "%s too large: %zu bytes as JSON, at "
				    "most %d",
				    what, n, DD_JSON_VALUE_MAX);
	return 0;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* no overlong forms, surrogates or code points past U+10FFFF */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

json_t *dd_json_string_lossy(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	struct dd_buf b = DD_BUF_INIT;
	json_t *j;

	for (size_t i = 0; i < n;) {
		size_t l = s[i] ? utf8_len(s + i, n - i) : 1;

		if (l)
			dd_buf_add(&b, (const char *)s + i, l);
		else
			dd_buf_addstr(&b, "\xef\xbf\xbd");
		i += l ? l : 1;
	}
	j = json_stringn(b.buf ? b.buf : "", b.len);
	dd_buf_release(&b);
	return j;
}
