#include "queue/wake.h"
#include "core/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct dd_wake {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	enum dd_wake_role role;
	size_t base_len;  /* length of path without "@OBJECT" */
	char watching[48]; /* the object named in the path, or "" */
};

static const char *const role_prefix[] = {"d-", "w-"};
static _Atomic(void (*)(void)) local_wake;

void dd_wake_set_local(void (*fn)(void))
{
	atomic_store(&local_wake, fn);
}

/* This process's watcher that takes notifications by a direct call. */
static struct {
	pthread_mutex_t mu;
	void (*fn)(const char *object);
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char name[sizeof(((struct sockaddr_un *)0)->sun_path)];
} local_watcher = {.mu = PTHREAD_MUTEX_INITIALIZER};

void dd_wake_set_local_watcher(const struct dd_wake *w,
			       void (*fn)(const char *object))
{
	const char *slash = w ? strrchr(w->path, '/') : NULL;

	pthread_mutex_lock(&local_watcher.mu);
	local_watcher.fn = slash && fn ? fn : NULL;
	if (local_watcher.fn) {
		snprintf(local_watcher.dir, sizeof(local_watcher.dir), "%.*s",
			 (int)(slash - w->path), w->path);
		snprintf(local_watcher.name, sizeof(local_watcher.name), "%s",
			 slash + 1);
	}
	pthread_mutex_unlock(&local_watcher.mu);
}

/* FNV-1a, 64 bits: only needs to tell stores apart. */
static unsigned long long digest(const char *s)
{
	unsigned long long h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/*
 * The wake directory of a store.  realpath() costs a readlink per path
 * component, and every notification needs the directory, so the last
 * answer is remembered (a store's real path does not change under a
 * running process in any way drydock supports).
 */
static int wake_dir(const char *store_path, char *buf, size_t n)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static char last_path[PATH_MAX], last_dir[64];
	char real[PATH_MAX];
	const char *p = store_path;

	pthread_mutex_lock(&mu);
	if (last_dir[0] && !strcmp(last_path, store_path)) {
		snprintf(buf, n, "%s", last_dir);
		pthread_mutex_unlock(&mu);
		return 0;
	}
	pthread_mutex_unlock(&mu);
	if (realpath(store_path, real))
		p = real;
	snprintf(buf, n, "/tmp/drydock-%u/%016llx", (unsigned)getuid(),
		 digest(p));
	if (strlen(store_path) < sizeof(last_path)) {
		pthread_mutex_lock(&mu);
		snprintf(last_path, sizeof(last_path), "%s", store_path);
		snprintf(last_dir, sizeof(last_dir), "%s", buf);
		pthread_mutex_unlock(&mu);
	}
	return 0;
}

static int each_listener(const char *store_path, enum dd_wake_role role,
			 const char *msg, const char *object, const char *skip,
			 const char *skip_name, bool send);

/*
 * The first time this process listens for a store, probe every socket in
 * its wake directory and remove the dead ones: a watcher killed with
 * kill -9 leaves a socket named after its object, which only a wake-up
 * about that same object would otherwise find.
 */
static void sweep_once(const char *store_path)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static char swept[PATH_MAX];
	bool sweep;

	pthread_mutex_lock(&mu);
	sweep = strcmp(swept, store_path) != 0;
	if (sweep)
		snprintf(swept, sizeof(swept), "%s", store_path);
	pthread_mutex_unlock(&mu);
	if (sweep) {
		each_listener(store_path, DD_WAKE_DAEMON, "", NULL, NULL, NULL,
			      false);
		each_listener(store_path, DD_WAKE_WATCHER, "", NULL, NULL, NULL,
			      false);
	}
}

int dd_wake_listen(const char *store_path, enum dd_wake_role role,
		   struct dd_wake **out, struct dd_error *err)
{
	static atomic_int seq;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char dir[64];
	struct dd_wake *w = dd_calloc(1, sizeof(*w));

	if (!w)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	wake_dir(store_path, dir, sizeof(dir));
	sweep_once(store_path);
	if (dd_mkdir_p(dir)) {
		dd_free(w);
		return dd_error_set(err, DD_ERR_IO,
				    "cannot create wake directory '%s': %s",
				    dir, strerror(errno));
	}
	snprintf(w->path, sizeof(w->path), "%s/%s%d-%d", dir,
		 role_prefix[role], (int)getpid(), atomic_fetch_add(&seq, 1));
	w->base_len = strlen(w->path);
	w->role = role;
	memcpy(addr.sun_path, w->path, sizeof(addr.sun_path));
	unlink(w->path);
	w->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (w->fd < 0 ||
	    bind(w->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		dd_error_set(err, DD_ERR_IO, "cannot listen on '%s': %s",
			     w->path, strerror(errno));
		if (w->fd >= 0)
			close(w->fd);
		dd_free(w);
		return DD_ERR_IO;
	}
	*out = w;
	return 0;
}

int dd_wake_fd(const struct dd_wake *w)
{
	return w->fd;
}

int dd_wake_drain(struct dd_wake *w)
{
	char buf[64];
	int n = 0;

	while (recv(w->fd, buf, sizeof(buf), 0) > 0)
		n++;
	return n;
}

void dd_wake_close(struct dd_wake *w)
{
	if (!w)
		return;
	close(w->fd);
	unlink(w->path);
	dd_free(w);
}

/*
 * Name the socket after `object` ("w-PID-N@lease:12"), so that senders of
 * targeted wake-ups skip it for every other object.  Returns true if the
 * name changed: a wake-up about `object` sent before the rename may have
 * been missed.  Daemon sockets are never renamed.
 */
bool dd_wake_watch(struct dd_wake *w, const char *object)
{
	char path[sizeof(w->path)];

	if (w->role != DD_WAKE_WATCHER || !strcmp(w->watching, object))
		return false;
	if (strlen(object) >= sizeof(w->watching) ||
	    (size_t)snprintf(path, sizeof(path), "%.*s@%s", (int)w->base_len,
			     w->path, object) >= sizeof(path) ||
	    rename(w->path, path))
		return false;
	memcpy(w->path, path, sizeof(path));
	snprintf(w->watching, sizeof(w->watching), "%s", object);
	return true;
}

int dd_wake_wait_for(struct dd_wake *w, const char *object, double timeout)
{
	double deadline = dd_monotonic() + timeout;
	size_t n = strlen(object);

	/* a caller that did not call dd_wake_watch() first looks again */
	if (dd_wake_watch(w, object))
		return 1;
	for (;;) {
		struct pollfd p = {.fd = w->fd, .events = POLLIN};
		double left = deadline - dd_monotonic();
		char buf[64];
		ssize_t got;
		bool hit = false;

		if (left <= 0)
			return 0;
		if (poll(&p, 1, (int)(left * 1000.0) + 1) <= 0)
			return 0;
		while ((got = recv(w->fd, buf, sizeof(buf), 0)) >= 0) {
			/* one byte is an untargeted wake-up */
			if (got <= 1 ||
			    ((size_t)got == n && !memcmp(buf, object, n)))
				hit = true;
		}
		if (hit)
			return 1;
	}
}

/*
 * What a thread needs to reach the listeners of one wake directory: the
 * directory, open, and a socket to send from.  A notification used to
 * open both and close them again (opendir() also mallocs 32 KiB), which
 * cost 7 % of the daemon's CPU in the hot-pool benchmark; now each thread
 * keeps its own pair, closed when the thread exits, and re-reads the open
 * directory from its start for each notification.
 */
struct lister {
	char dir[64];
	int dirfd;
	int sendfd;
};

static pthread_key_t lister_key;
static pthread_once_t lister_once = PTHREAD_ONCE_INIT;

static void lister_close(struct lister *l)
{
	if (l->dirfd >= 0)
		close(l->dirfd);
	if (l->sendfd >= 0)
		close(l->sendfd);
	l->dirfd = l->sendfd = -1;
}

static void lister_free(void *p)
{
	lister_close(p);
	dd_free(p);
}

/*
 * A forked child shares its parent's open directory, and with it the
 * read position: it opens its own.
 */
static void lister_after_fork(void)
{
	struct lister *l = pthread_getspecific(lister_key);

	if (l)
		lister_close(l);
}

static void lister_key_init(void)
{
	pthread_key_create(&lister_key, lister_free);
	pthread_atfork(NULL, NULL, lister_after_fork);
}

/*
 * This thread's lister for `dir`, open and at the directory's start, or
 * NULL if the directory does not exist.  A directory removed since it was
 * opened (it then has no links) is opened again, so a new one at the same
 * path is seen.
 */
static struct lister *lister_get(const char *dir)
{
	struct lister *l;
	struct stat st;

	pthread_once(&lister_once, lister_key_init);
	l = pthread_getspecific(lister_key);
	if (!l) {
		l = dd_calloc(1, sizeof(*l));
		if (!l)
			return NULL;
		l->dirfd = l->sendfd = -1;
		if (pthread_setspecific(lister_key, l)) {
			dd_free(l);
			return NULL;
		}
	}
	if (l->dirfd >= 0 &&
	    (strcmp(l->dir, dir) || fstat(l->dirfd, &st) || st.st_nlink == 0))
		lister_close(l);
	if (l->sendfd < 0)
		l->sendfd = socket(AF_UNIX,
				   SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->sendfd < 0)
		return NULL;
	if (l->dirfd < 0) {
		l->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (l->dirfd < 0)
			return NULL;
		snprintf(l->dir, sizeof(l->dir), "%s", dir);
	} else if (lseek(l->dirfd, 0, SEEK_SET) < 0) {
		lister_close(l);
		return NULL;
	}
	return l;
}

/*
 * Send to (or just count) every listener of `role`; drop dead sockets.
 * A targeted message (`object` set) skips watchers named after another
 * object; `skip` is a name prefix to leave out (this daemon's own
 * sockets), `skip_name` one socket's name (this process's watcher, told
 * directly).
 */
static int each_listener(const char *store_path, enum dd_wake_role role,
			 const char *msg, const char *object, const char *skip,
			 const char *skip_name, bool send)
{
	char dir[64];
	/* aligned for struct dirent64 */
	union {
		char bytes[8192];
		struct dirent64 first;
	} buf;
	struct lister *l;
	ssize_t got;
	int probe = -1, live = 0;
	size_t skip_len = skip ? strlen(skip) : 0;

	wake_dir(store_path, dir, sizeof(dir));
	l = lister_get(dir);
	if (!l)
		return 0;
	/* a socket of its own: a connected one could not sendto() others */
	if (!send &&
	    (probe = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	while ((got = getdents64(l->dirfd, buf.bytes, sizeof(buf.bytes))) > 0) {
		for (ssize_t off = 0; off < got;) {
			struct dirent64 *e = (void *)(buf.bytes + off);
			struct sockaddr_un addr = {.sun_family = AF_UNIX};
			const char *at;
			ssize_t rc;

			off += e->d_reclen;
			if (strncmp(e->d_name, role_prefix[role], 2))
				continue;
			if (skip_len && !strncmp(e->d_name, skip, skip_len))
				continue;
			if (skip_name && !strcmp(e->d_name, skip_name))
				continue;
			if (object && (at = strchr(e->d_name, '@')) &&
			    strcmp(at + 1, object))
				continue;
			if ((size_t)snprintf(addr.sun_path,
					     sizeof(addr.sun_path), "%s/%s",
					     dir, e->d_name) >=
			    sizeof(addr.sun_path))
				continue;
			/* connect() probes a datagram socket without waking it */
			if (send)
				rc = sendto(l->sendfd, msg, strlen(msg),
					    MSG_DONTWAIT,
					    (struct sockaddr *)&addr,
					    sizeof(addr));
			else
				rc = connect(probe, (struct sockaddr *)&addr,
					     sizeof(addr));
			if (rc < 0 &&
			    (errno == ECONNREFUSED || errno == ENOENT)) {
				/* ENOENT: renamed meanwhile (a watcher's new
				 * object) */
				if (errno == ECONNREFUSED)
					unlink(addr.sun_path);
				continue;
			}
			live++;
		}
	}
	if (probe >= 0)
		close(probe);
	return live;
}

void dd_wake_notify(const char *store_path, enum dd_wake_role role)
{
	void (*fn)(void) = atomic_load(&local_wake);
	char own[32];

	if (role == DD_WAKE_DAEMON && fn) {
		/* our own threads directly, not through our own socket */
		fn();
		snprintf(own, sizeof(own), "%s%d-", role_prefix[role],
			 (int)getpid());
		each_listener(store_path, role, "w", NULL, own, NULL, true);
		return;
	}
	if (role == DD_WAKE_WATCHER) {
		dd_wake_notify_about(store_path, NULL);
		return;
	}
	each_listener(store_path, role, "w", NULL, NULL, NULL, true);
}

/*
 * Tell this process's registered watcher directly, if it watches this
 * store; then its socket is skipped.  Returns whether it was told, with
 * its socket's name in `name`.
 */
static bool tell_local_watcher(const char *store_path, const char *object,
			       char *name, size_t n)
{
	void (*fn)(const char *) = NULL;
	char dir[64];

	wake_dir(store_path, dir, sizeof(dir));
	pthread_mutex_lock(&local_watcher.mu);
	if (local_watcher.fn && !strcmp(local_watcher.dir, dir)) {
		fn = local_watcher.fn;
		snprintf(name, n, "%s", local_watcher.name);
	}
	pthread_mutex_unlock(&local_watcher.mu);
	if (fn)
		fn(object);
	return fn != NULL;
}

void dd_wake_notify_about(const char *store_path, const char *object)
{
	char name[sizeof(local_watcher.name)];
	bool told = tell_local_watcher(store_path, object, name, sizeof(name));

	each_listener(store_path, DD_WAKE_WATCHER, object ? object : "w",
		      object, NULL, told ? name : NULL, true);
}

int dd_wake_count(const char *store_path, enum dd_wake_role role)
{
	return each_listener(store_path, role, "", NULL, NULL, NULL, false);
}
