/*
 * request.c - the request functions handlers use (http.h): the query,
 * headers and cookies of a request, its body as a JSON object, and the
 * one answer a handler builds (JSON, an error, HTML, text); the long
 * poll and long-running calls, which the server performs through the
 * request's hooks; and the count of answers by status for /metrics.
 *
 * Handlers call these and nothing of the server: the server (server.c)
 * calls the router (router.c), the router the handlers, and the handlers
 * this file, so the calls run one way.
 */
#include "core/input.h"
#include "http/http.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define STATUS_MAX 600

/* Requests answered, by status, for /metrics. */
static atomic_ullong answered[STATUS_MAX];

void dd_http_count_answer(int status)
{
	if (status > 0 && status < STATUS_MAX)
		atomic_fetch_add(&answered[status], 1);
}

void dd_http_count_requests(void (*fn)(int status, unsigned long long n,
				       void *arg),
			    void *arg)
{
	for (int i = 100; i < STATUS_MAX; i++) {
		unsigned long long n = atomic_load(&answered[i]);

		if (n)
			fn(i, n, arg);
	}
}

/* ---- accessors and answers ----------------------------------------- */

const char *dd_http_query(struct dd_http_req *r, const char *key)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND,
					   key);
}

/* What is wrong with a query argument; the message says it to the client. */
enum query_fault { QUERY_OK, QUERY_UNKNOWN, QUERY_TWICE, QUERY_EMPTY,
		   QUERY_CONTROL, QUERY_CONTROL_NAME, QUERY_NOT_UTF8 };

static const char *const query_fault_msg[] = {
	[QUERY_TWICE] = "is given twice",
	[QUERY_EMPTY] = "needs a value",
	[QUERY_CONTROL] = "has a control character in its value",
	[QUERY_CONTROL_NAME] = "has a control character in its name",
	[QUERY_NOT_UTF8] = "is not valid UTF-8",
};

/*
 * Is v (n bytes) valid UTF-8?  Every name and text drydock stores is,
 * and a PostgreSQL store refuses to compare with anything else, so a
 * filter that is not is refused on every store alike.
 */
static bool is_utf8(const char *v, size_t n)
{
	json_t *s = json_stringn(v, n);

	json_decref(s);
	return s != NULL;
}

struct query_check {
	const char *const *known;
	unsigned seen; /* bit i: known[i] was given */
	const char *key;
	enum query_fault fault;
};

/* Has v (n bytes, NULs counted) a control character? */
static bool has_control(const char *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return true;
	return false;
}

static enum MHD_Result check_key(void *cls, enum MHD_ValueKind kind,
				 const char *key, size_t key_size,
				 const char *value, size_t value_size)
{
	struct query_check *q = cls;
	size_t i;

	(void)kind;
	for (i = 0; q->known[i] && strcmp(q->known[i], key); i++)
		;
	/* "status%00x" compares equal to "status" but is not looked up as it */
	if (has_control(key, key_size))
		q->fault = QUERY_CONTROL_NAME;
	else if (!q->known[i])
		q->fault = QUERY_UNKNOWN;
	else if (q->seen & (1u << i))
		q->fault = QUERY_TWICE;
	else if (!value || !value_size)
		q->fault = QUERY_EMPTY;
	else if (has_control(value, value_size))
		q->fault = QUERY_CONTROL;
	else if (!is_utf8(value, value_size))
		q->fault = QUERY_NOT_UTF8;
	else
		q->seen |= 1u << i;
	q->key = key;
	return q->fault == QUERY_OK ? MHD_YES : MHD_NO;
}

bool dd_http_query_known(struct dd_http_req *r, const char *const *known)
{
	struct query_check q = {known, 0, NULL, QUERY_OK};
	struct dd_buf list = DD_BUF_INIT;

	MHD_get_connection_values_n(r->conn, MHD_GET_ARGUMENT_KIND, check_key,
				    &q);
	if (q.fault == QUERY_OK)
		return true;
	if (q.fault != QUERY_UNKNOWN) {
		/* an empty or garbled filter must not read as no filter */
		dd_http_error(r, 400, "invalid", "query argument '%.64s' %s",
			      q.key, query_fault_msg[q.fault]);
		return false;
	}
	for (size_t i = 0; known[i]; i++)
		dd_buf_addf(&list, "%s%s", i ? ", " : "", known[i]);
	dd_http_error(r, 400, "invalid",
		      "unknown query argument '%.64s' (known: %s)", q.key,
		      list.buf ? list.buf : "none");
	dd_buf_release(&list);
	return false;
}

const char *dd_http_header(struct dd_http_req *r, const char *key)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, key);
}

struct header_count {
	const char *key;
	unsigned n;
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind,
				    const char *key, const char *value)
{
	struct header_count *h = cls;

	(void)kind;
	(void)value;
	if (!strcasecmp(key, h->key))
		h->n++;
	return MHD_YES;
}

unsigned dd_http_header_count(struct dd_http_req *r, const char *key)
{
	struct header_count h = {key, 0};

	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, count_header, &h);
	return h.n;
}

const char *dd_http_cookie(struct dd_http_req *r, const char *key)
{
	return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, key);
}

void dd_http_json(struct dd_http_req *r, int status, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS)
			  : NULL;

	json_decref(body);
	dd_buf_release(&r->out);
	if (!text) {
		r->status = 500;
		r->content_type = "application/json";
		dd_buf_addstr(&r->out, "{\"error\":{\"code\":\"out_of_memory\","
				       "\"message\":\"out of memory\"}}\n");
		return;
	}
	r->status = status;
	r->content_type = "application/json";
	dd_buf_addstr(&r->out, text);
	dd_buf_addstr(&r->out, "\n");
	free(text);
}

void dd_http_error(struct dd_http_req *r, int status, const char *code,
		   const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(r->error_code, sizeof(r->error_code), "%s", code);
	/*
	 * Messages quote what the client sent (a path, a query argument), which
	 * need not be UTF-8, and truncation can split a character: json_pack()
	 * would refuse such a string and the client would get a 500.
	 */
	dd_http_json(r, status,
		     json_pack("{s:{s:s,s:o}}", "error", "code", code,
			       "message",
			       dd_json_string_lossy(msg, strlen(msg))));
}

void dd_http_fail(struct dd_http_req *r, const struct dd_error *err)
{
	dd_http_error(r, dd_err_http_status(err->code),
		      dd_err_http_code(err->code), "%s", err->msg);
}

void dd_http_html(struct dd_http_req *r, int status)
{
	r->status = status;
	r->content_type = "text/html; charset=utf-8";
}

void dd_http_text(struct dd_http_req *r, int status, const char *type)
{
	r->status = status;
	r->content_type = type;
}

void dd_http_stream(struct dd_http_req *r, int status, const char *type,
		    const struct dd_http_reader *reader)
{
	dd_buf_release(&r->out);
	r->status = status;
	r->content_type = type;
	r->reader = *reader;
}

json_t *dd_http_body_object(struct dd_http_req *r, const char *const *known)
{
	json_error_t jerr;
	const char *key;
	json_t *v, *o;

	if (r->body_len == 0)
		return json_object();
	/* refused before parsing: see DD_JSON_MAX_NESTING */
	if (dd_json_nesting(r->body, r->body_len) > DD_HTTP_MAX_NESTING) {
		dd_http_error(r, 400, "invalid",
			      "request body is nested deeper than %d levels",
			      DD_HTTP_MAX_NESTING);
		return NULL;
	}
	o = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o) {
		dd_http_error(r, 400, "malformed",
			      "request body is not valid JSON: %s (at "
			      "byte %d)",
			      jerr.text, jerr.position);
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		dd_http_error(r, 400, "malformed",
			      "request body must be a JSON object");
		return NULL;
	}
	json_object_foreach(o, key, v)
	{
		size_t i;

		for (i = 0; known[i] && strcmp(known[i], key); i++)
			;
		if (!known[i]) {
			struct dd_buf list = DD_BUF_INIT;

			for (i = 0; known[i]; i++)
				dd_buf_addf(&list, "%s%s", i ? ", " : "",
					    known[i]);
			dd_http_error(r, 400, "invalid",
				      "unknown field '%.100s' (known: %s)", key,
				      list.buf ? list.buf : "none");
			dd_buf_release(&list);
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* ---- the server's part --------------------------------------------- */

void dd_http_wait(struct dd_http_req *r, const char *object, double deadline)
{
	r->hooks->wait(r, object, deadline);
}

bool dd_http_long_running(struct dd_http_req *r)
{
	return r->hooks->long_running(r);
}
