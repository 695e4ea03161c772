/*
 * error.c - the functions DD_ERR_MAP generates (names, messages, exit and
 * HTTP statuses) and filling a caller's struct dd_error (error.h).
 */
#include "core/error.h"

#include <stdio.h>
#include <string.h>

const char *dd_err_name(int code)
{
	switch (code) {
	case DD_OK:
		return "OK";
#define DD_ERR_NAME(name, val, exit, http, word, desc)                         \
	case val:                                                              \
		return #name;
		DD_ERR_MAP(DD_ERR_NAME)
#undef DD_ERR_NAME
	}
	return "UNKNOWN";
}

const char *dd_strerror(int code)
{
	switch (code) {
	case DD_OK:
		return "success";
#define DD_ERR_DESC(name, val, exit, http, word, desc)                         \
	case val:                                                              \
		return desc;
		DD_ERR_MAP(DD_ERR_DESC)
#undef DD_ERR_DESC
	}
	return "unknown error";
}

int dd_err_exit_status(int code)
{
	switch (code) {
	case DD_OK:
		return 0;
#define DD_ERR_EXIT(name, val, exit, http, word, desc)                         \
	case val:                                                              \
		return exit;
		DD_ERR_MAP(DD_ERR_EXIT)
#undef DD_ERR_EXIT
	}
	return 1;
}

int dd_err_http_status(int code)
{
	switch (code) {
	case DD_OK:
		return 200;
#define DD_ERR_HTTP(name, val, exit, http, word, desc)                         \
	case val:                                                              \
		return http;
		DD_ERR_MAP(DD_ERR_HTTP)
#undef DD_ERR_HTTP
	}
	return 500;
}

const char *dd_err_http_code(int code)
{
	switch (code) {
#define DD_ERR_WORD(name, val, exit, http, word, desc)                         \
	case val:                                                              \
		return word;
		DD_ERR_MAP(DD_ERR_WORD)
#undef DD_ERR_WORD
	}
	return "internal";
}

int dd_error_setv(struct dd_error *err, int code, const char *fmt, va_list ap)
{
	if (err) {
		err->code = code;
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	}
	return code;
}

int dd_error_set(struct dd_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dd_error_setv(err, code, fmt, ap);
	va_end(ap);
	return code;
}

void dd_error_clear(struct dd_error *err)
{
	if (err) {
		err->code = 0;
		err->msg[0] = '\0';
	}
}
