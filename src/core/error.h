/*
 * error.h - drydock's one list of error codes, and the caller-owned error
 * detail that goes with them.
 *
 * Every library function returns 0 on success or a negative DD_ERR_* code.
 * Functions that can say more take a `struct dd_error *err` owned by the
 * caller; they fill it only on failure, so a successful call leaves it as it
 * was.  Messages follow git's style: lower case, the subject quoted, no final
 * period ("cannot release lease 12: it is already destroyed").
 *
 * The list below generates the enum, dd_err_name() and dd_strerror(), and
 * also fixes the CLI exit status and the HTTP status and error code for each
 * code, so that scripts and API clients can tell a missing object from an
 * illegal state change from a store that is gone.
 */
#ifndef DD_ERROR_H
#define DD_ERROR_H

#include <stdarg.h>

/* X(name, value, exit status, HTTP status, HTTP error code, description) */
#define DD_ERR_MAP(X)                                                          \
	X(NOMEM, -1, 1, 500, "out_of_memory", "out of memory")                 \
	X(INVALID, -2, 2, 400, "invalid", "invalid argument")                  \
	X(NOTFOUND, -3, 3, 404, "not_found", "no such object")                 \
	X(STATE, -4, 4, 409, "conflict", "illegal state change")               \
	X(EXISTS, -5, 5, 409, "exists", "already exists")                      \
	X(BUSY, -6, 6, 503, "busy", "busy")                                    \
	X(STORE, -7, 7, 503, "store_unavailable", "store failure")             \
	X(FENCED, -8, 8, 409, "fenced", "lock lost before the write")          \
	X(SLOT, -9, 9, 409, "slot_held", "slot lock is held")                  \
	X(AGAIN, -10, 10, 503, "again", "not ready yet, try again later")      \
	X(IO, -11, 11, 500, "io_error", "input/output error")                  \
	X(BROKEN, -12, 12, 409, "broken", "object is broken")                  \
	X(INTERRUPTED, -13, 130, 503, "interrupted", "interrupted")          \
	X(KEY_REUSED, -14, 14, 422, "idempotency_key_reused",                  \
	  "idempotency key reused for another request")                       \
	X(DAMAGED, -15, 15, 503, "store_damaged", "store is damaged")         \
	X(TIMEOUT, -16, 16, 504, "timeout", "timed out")                      \
	X(REMOTE, -17, 17, 502, "remote_failed", "remote host failed")

enum dd_err {
	DD_OK = 0,
#define DD_ERR_ENUM(name, val, exit, http, word, desc) DD_ERR_##name = val,
	DD_ERR_MAP(DD_ERR_ENUM)
#undef DD_ERR_ENUM
};

/* Detail for a failed call.  `code` repeats the returned code. */
struct dd_error {
	int code;
	char msg[512];
};

#define DD_ERROR_INIT {0, {0}}

const char *dd_err_name(int code);
const char *dd_strerror(int code);
/* The process exit status the CLI uses for `code`. */
int dd_err_exit_status(int code);
/* The HTTP status and error code word the API answers `code` with. */
int dd_err_http_status(int code);
const char *dd_err_http_code(int code);

/*
 * Record `code` and a formatted message in `err` (which may be NULL) and
 * return `code`, so callers can write `return dd_error_set(err, ...)`.
 */
int dd_error_set(struct dd_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int dd_error_setv(struct dd_error *err, int code, const char *fmt,
		  va_list ap);
void dd_error_clear(struct dd_error *err);

#endif
