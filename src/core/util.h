/*
 * util.h - small things every module needs: the one allocation wrapper
 * (so tests can fail the Nth allocation), clocks, a growable string, and the
 * chaos points that the race tests use to widen windows.
 */
#ifndef DD_UTIL_H
#define DD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Allocation.  Every allocation in drydock goes through these.  They return
 * NULL on failure like malloc(); callers turn that into DD_ERR_NOMEM.
 * dd_alloc_fail_after(n) makes the (n+1)th allocation from now fail (n < 0
 * turns fault injection off); it is for tests.
 */
void *dd_malloc(size_t n);
void *dd_calloc(size_t count, size_t n);
void *dd_realloc(void *p, size_t n);
char *dd_strdup(const char *s);
void dd_free(void *p);
void dd_alloc_fail_after(long n);
/* Route jansson's allocations through the wrappers above; call once. */
void dd_alloc_init(void);

/* Wall-clock time as seconds since the epoch, with sub-second precision. */
double dd_now(void);
/* Monotonic time in seconds, for durations. */
double dd_monotonic(void);
/* Sleep `seconds` (fractions too; a signal may cut it short). */
void dd_sleep(double seconds);
/*
 * Format `t` as an RFC 3339 UTC time with milliseconds into buf[32]
 * (times are parsed in core/input.h).
 */
void dd_time_format(double t, char buf[32]);

/* A growable NUL-terminated string, git's strbuf in miniature. */
struct dd_buf {
	char *buf;
	size_t len, alloc;
};
#define DD_BUF_INIT {NULL, 0, 0}
int dd_buf_add(struct dd_buf *b, const char *s, size_t n);
int dd_buf_addstr(struct dd_buf *b, const char *s);
int dd_buf_addf(struct dd_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void dd_buf_release(struct dd_buf *b);
/* Hand the string over to the caller (never NULL on success). */
char *dd_buf_detach(struct dd_buf *b);

/*
 * Uniform random double in [0,1), thread-safe, seeded per thread.  For
 * jitter only: it is predictable, so never use it for secrets.
 */
double dd_random(void);
/*
 * Fill buf with n bytes from the kernel's cryptographically secure
 * generator (getrandom(), or /dev/urandom where the kernel lacks it).
 * Returns 0, or DD_ERR_IO with errno set.  For secrets such as API tokens.
 */
int dd_random_bytes(void *buf, size_t n);
/*
 * Are two secrets (token hashes, session ids) equal?  Takes the same time
 * wherever they differ, so a caller cannot find one byte by byte.
 */
bool dd_secret_equal(const char *a, const char *b);

/*
 * Chaos points.  Built with CHAOS=1 (which defines DD_CHAOS), each marked
 * point on the release and destroy paths sleeps a random 0-3 ms, the way the
 * seed commit reproduced its race.  In a normal build they compile away.
 */
#ifdef DD_CHAOS
void dd_chaos_point(const char *where);
#define DD_CHAOS_POINT(where) dd_chaos_point(where)
#else
#define DD_CHAOS_POINT(where) ((void)0)
#endif

/*
 * Stop points, for crash and race tests: in a CHAOS=1 build, the process
 * stops itself (SIGSTOP, every thread) the first time it reaches the
 * point named by $DRYDOCK_CHAOS_STOP, so a test can kill -9 it at exactly
 * that moment (after a commit, before the answer), or change the store
 * and let it go on (SIGCONT).  In a normal build they compile away.
 */
#ifdef DD_CHAOS
void dd_chaos_stop(const char *where);
#define DD_CHAOS_STOP(where) dd_chaos_stop(where)
#else
#define DD_CHAOS_STOP(where) ((void)0)
#endif

/*
 * Write all `n` bytes of `buf` to `fd`, again after a short write or an
 * interrupted one; 0, or -1 with errno set.
 */
int dd_write_full(int fd, const void *buf, size_t n);

/* Create `path` and its parents with mode 0700 where missing. */
int dd_mkdir_p(const char *path);
/*
 * Remove `path` and everything below it; a missing path is not an error.
 * Safe against the tree's owner changing it meanwhile: nothing outside
 * the tree is removed, even if a directory in it becomes a symbolic link.
 */
int dd_remove_tree(const char *path);

#endif
