/*
 * util.c - the small things every module needs (util.h): the allocation
 * wrapper with its fault injection, clocks and time formatting, the
 * growable string, random numbers, chaos points, and making and removing
 * directory trees.
 */
#include "core/util.h"
#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static atomic_long fail_countdown = -1;

static bool alloc_should_fail(void)
{
	long n = atomic_load(&fail_countdown);

	while (n >= 0) {
		if (atomic_compare_exchange_weak(&fail_countdown, &n, n - 1))
			return n == 0;
	}
	return false;
}

void dd_alloc_fail_after(long n)
{
	atomic_store(&fail_countdown, n);
}

void *dd_malloc(size_t n)
{
	if (alloc_should_fail())
		return NULL;
	return malloc(n ? n : 1);
}

void *dd_calloc(size_t count, size_t n)
{
	if (alloc_should_fail())
		return NULL;
	return calloc(count ? count : 1, n ? n : 1);
}

void *dd_realloc(void *p, size_t n)
{
	if (alloc_should_fail())
		return NULL;
	return realloc(p, n ? n : 1);
}

char *dd_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = dd_malloc(n);

	if (p)
		memcpy(p, s, n);
	return p;
}

void dd_free(void *p)
{
	free(p);
}

void dd_alloc_init(void)
{
	json_set_alloc_funcs(dd_malloc, dd_free);
}

double dd_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double dd_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void dd_sleep(double seconds)
{
	struct timespec ts;

	if (seconds <= 0)
		return;
	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
}

void dd_time_format(double t, char buf[32])
{
	time_t secs = (time_t)t;
	int ms = (int)((t - (double)secs) * 1000.0);
	struct tm tm;

	if (ms < 0)
		ms = 0;
	if (ms > 999)
		ms = 999;
	gmtime_r(&secs, &tm);
	/* tm fields are bounded; the cast keeps the truncation check quiet */
	snprintf(buf, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100,
		 tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
		 tm.tm_sec % 100, ms % 1000);
}

static int buf_grow(struct dd_buf *b, size_t extra)
{
	size_t want = b->len + extra + 1;
	char *p;

	if (want <= b->alloc)
		return 0;
	if (want < b->alloc * 2)
		want = b->alloc * 2;
	if (want < 64)
		want = 64;
	p = dd_realloc(b->buf, want);
	if (!p)
		return DD_ERR_NOMEM;
	b->buf = p;
	b->alloc = want;
	return 0;
}

int dd_buf_add(struct dd_buf *b, const char *s, size_t n)
{
	if (buf_grow(b, n))
		return DD_ERR_NOMEM;
	memcpy(b->buf + b->len, s, n);
	b->len += n;
	b->buf[b->len] = '\0';
	return 0;
}

int dd_buf_addstr(struct dd_buf *b, const char *s)
{
	return dd_buf_add(b, s, strlen(s));
}

int dd_buf_addf(struct dd_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_grow(b, (size_t)n))
		return DD_ERR_NOMEM;
	va_start(ap, fmt);
	vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void dd_buf_release(struct dd_buf *b)
{
	dd_free(b->buf);
	b->buf = NULL;
	b->len = b->alloc = 0;
}

char *dd_buf_detach(struct dd_buf *b)
{
	char *s = b->buf;

	if (!s)
		s = dd_strdup("");
	b->buf = NULL;
	b->len = b->alloc = 0;
	return s;
}

double dd_random(void)
{
	static _Thread_local unsigned long long state;

	if (!state) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		state = ((unsigned long long)ts.tv_nsec << 20) ^
			(unsigned long long)getpid() ^
			(unsigned long long)(uintptr_t)&state;
		if (!state)
			state = 88172645463325252ULL;
	}
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return (double)(state >> 11) / 9007199254740992.0;
}

bool dd_secret_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	volatile unsigned char diff = la != lb;

	for (size_t i = 0; i < la && i < lb; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

int dd_random_bytes(void *buf, size_t n)
{
	unsigned char *p = buf;
	int fd = -1; /* /dev/urandom, once getrandom() proved missing */
	ssize_t got;

	while (n > 0) {
		if (fd < 0) {
			got = getrandom(p, n, 0);
			if (got < 0 && errno == ENOSYS) {
				fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
				if (fd < 0)
					return DD_ERR_IO;
				continue;
			}
		} else {
			got = read(fd, p, n);
			if (got == 0) {
				errno = EIO;
				got = -1;
			}
		}
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			break;
		p += got;
		n -= (size_t)got;
	}
	if (fd >= 0)
		close(fd);
	return n ? DD_ERR_IO : 0;
}

#ifdef DD_CHAOS
void dd_chaos_point(const char *where)
{
	struct timespec ts = {0, (long)(dd_random() * 3e6)};

	(void)where;
	nanosleep(&ts, NULL);
}

void dd_chaos_stop(const char *where)
{
	static atomic_bool stopped;
	const char *at = getenv("DRYDOCK_CHAOS_STOP");

	/* once: a test that lets the process go on (SIGCONT) is not
	 * stopped again at the same point a moment later */
	if (at && !strcmp(at, where) && !atomic_exchange(&stopped, true))
		raise(SIGSTOP);
}
#endif

int dd_write_full(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int dd_mkdir_p(const char *path)
{
	char tmp[4096];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(tmp))
		return DD_ERR_INVALID;
	/*
	 * Usually only the last component is missing: one call.  A mkdir of
	 * an existing directory is not free either (it locks the parent
	 * for the create), so the walk is only for missing parents.
	 */
	if (!mkdir(path, 0700) || errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return DD_ERR_IO;
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) && errno != EEXIST)
			return DD_ERR_IO;
		*p = '/';
	}
	if (mkdir(tmp, 0700) && errno != EEXIST)
		return DD_ERR_IO;
	return 0;
}

/*
 * Remove `name` in the directory open as `dirfd`, and everything below it.
 * Each directory is opened relative to its parent's descriptor with
 * O_NOFOLLOW, never by path: a tree that its owner changes meanwhile (a
 * lease's commands still running, as another user, while drydock removes
 * the lease's directory with more privilege) cannot send the removal
 * outside the tree; a directory swapped for a symbolic link is removed as
 * a link.  Entries added while a directory is read are looked for again,
 * a few times.
 */
static int remove_at(int parent, const char *name)
{
	int fd = openat(parent, name,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	bool done = false;
	struct dirent *e;
	int rc = 0, saved;
	DIR *d;

	if (fd < 0 && (errno == ENOTDIR || errno == ELOOP))
		return unlinkat(parent, name, 0) && errno != ENOENT ? -1 : 0;
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	for (int pass = 0; !rc && !done && pass < 4; pass++) {
		rewinddir(d);
		while (!rc && (e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				rc = remove_at(fd, e->d_name);
		if (rc)
			break;
		if (!unlinkat(parent, name, AT_REMOVEDIR) || errno == ENOENT)
			done = true;
		else if (errno != ENOTEMPTY)
			rc = -1;
	}
	saved = done ? 0 : errno;
	closedir(d);
	errno = saved;
	return done ? 0 : -1;
}

int dd_remove_tree(const char *path)
{
	char parent[4096];
	const char *slash = strrchr(path, '/');
	int fd, rc, saved;

	/* an empty directory, the usual case, goes in one call */
	if (!rmdir(path) || errno == ENOENT)
		return 0;
	if (strlen(path) >= sizeof(parent) || (slash && !slash[1]))
		return DD_ERR_INVALID;
	if (!slash)
		snprintf(parent, sizeof(parent), ".");
	else
		snprintf(parent, sizeof(parent), "%.*s",
			 slash == path ? 1 : (int)(slash - path), path);
	fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : DD_ERR_IO;
	rc = remove_at(fd, slash ? slash + 1 : path);
	saved = errno;
	close(fd);
	errno = saved;
	return rc ? DD_ERR_IO : 0;
}
