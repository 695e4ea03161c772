/*
 * sqlite_wake.c - the SQLite backend's wake-ups (store/wake_transport.h):
 * Unix datagram sockets in the store's wake directory, the store file's
 * real path with "-wake" appended, beside SQLite's "-wal" and "-shm".
 * They reach the processes of this machine that share the store file.
 *
 * A listener is a socket in the directory, named after its role and
 * process ("d-PID-N" for a daemon, "w-PID-N" for a watcher, which
 * dd_wake_watch() renames "w-PID-N@lease:12" after its object); a
 * notification is one datagram to each listener it is for (one byte for
 * "look again", or the object's name).  Whoever can create, remove or
 * bind a socket in the directory can hear, steal or suppress the
 * wake-ups, so it must be a directory (not a symbolic link) that belongs
 * to the user running drydock, with mode 0700: one that is not is
 * refused with a clear error (listening fails; notifications are not
 * sent; see open_wake_dir()).  Sockets are addressed through
 * /proc/self/fd and the checked directory's descriptor, so addresses
 * stay short whatever the store's path, and name the directory that was
 * checked.
 */
#include "store/sqlite.h"
#include "store/wake_transport.h"
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

#define NAME_MAX_LEN 96 /* a socket's name: "w-PID-N@lease:ID" */

struct unix_wake {
	struct dd_wake base;
	int fd;
	int dirfd;	   /* the wake directory, checked when opened */
	char dir[PATH_MAX]; /* its path, which tells stores apart */
	char name[NAME_MAX_LEN];
	size_t base_len;   /* length of name without "@OBJECT" */
	char watching[48]; /* the object named in the name, or "" */
};

static const char *const role_prefix[] = {"d-", "w-"};

/*
 * The wake directory of a store: its real path with "-wake" appended,
 * beside SQLite's "-wal" and "-shm" (the path as given if it cannot be
 * resolved).  realpath() costs a readlink per path component, and every
 * notification needs the directory, so the last answer is remembered (a
 * store's real path does not change under a running process in any way
 * drydock supports).
 */
static void wake_dir(const char *store_path, char *buf, size_t n)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static char last_path[PATH_MAX], last_dir[PATH_MAX];
	char real[PATH_MAX];
	const char *p = store_path;

	pthread_mutex_lock(&mu);
	if (last_dir[0] && !strcmp(last_path, store_path)) {
		snprintf(buf, n, "%s", last_dir);
		pthread_mutex_unlock(&mu);
		return;
	}
	pthread_mutex_unlock(&mu);
	if (realpath(store_path, real))
		p = real;
	if ((size_t)snprintf(buf, n, "%s-wake", p) >= n) {
		buf[0] = '\0'; /* no directory: nothing is sent or heard */
		return;
	}
	if (strlen(store_path) < sizeof(last_path)) {
		pthread_mutex_lock(&mu);
		snprintf(last_path, sizeof(last_path), "%s", store_path);
		snprintf(last_dir, sizeof(last_dir), "%s", buf);
		pthread_mutex_unlock(&mu);
	}
}

/*
 * Open the wake directory `dir` (making it first if `create`) and make
 * sure that nobody but this user can create, remove or bind anything in
 * it: it must be a directory itself, not a symbolic link to one, owned by
 * this process's user, with no permission for group or others.  Anyone
 * else who could write there could take the wake-ups over: put a socket
 * that hears them, remove the daemons' sockets, or (with a symbolic link)
 * make the sweep of dead sockets delete this user's files elsewhere.  A
 * directory that fails the check is refused, never repaired: its owner
 * must look at it.  Everything afterwards goes through the returned
 * descriptor, never the path again, so it cannot be swapped underneath.
 */
static int open_wake_dir(const char *dir, bool create, struct dd_error *err)
{
	struct stat st;
	bool made = false;
	int fd;

	if (!dir[0])
		return dd_error_set(err, DD_ERR_IO,
				    "the store's path is too long for a wake "
				    "directory");
	if (create) {
		made = !mkdir(dir, 0700);
		if (!made && errno != EEXIST)
			return dd_error_set(err, DD_ERR_IO,
					    "cannot create wake directory "
					    "'%s': %s",
					    dir, strerror(errno));
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		if (!lstat(dir, &st) && S_ISLNK(st.st_mode))
			return dd_error_set(err, DD_ERR_IO,
					    "refusing wake directory '%s': it "
					    "is a symbolic link; remove it",
					    dir);
		return dd_error_set(err, DD_ERR_IO,
				    "cannot open wake directory '%s': %s", dir,
				    strerror(e));
	}
	/* exactly 0700 whatever the umask */
	if (made)
		fchmod(fd, 0700);
	if (fstat(fd, &st)) {
		dd_error_set(err, DD_ERR_IO, "cannot stat wake directory "
			     "'%s': %s", dir, strerror(errno));
	} else if (st.st_uid != geteuid()) {
		dd_error_set(err, DD_ERR_IO,
			     "refusing wake directory '%s': it belongs to uid "
			     "%u, not to uid %u running drydock; remove it",
			     dir, (unsigned)st.st_uid, (unsigned)geteuid());
	} else if (st.st_mode & 077) {
		dd_error_set(err, DD_ERR_IO,
			     "refusing wake directory '%s': its mode %04o "
			     "lets other users in; it must be 0700",
			     dir, (unsigned)(st.st_mode & 07777));
	} else {
		return fd;
	}
	close(fd);
	return DD_ERR_IO;
}

/*
 * The address of `name` in the directory open as `dirfd`.  It goes
 * through /proc/self/fd, so that it is short whatever the store's path
 * (a socket address holds 107 bytes) and names the very directory that
 * open_wake_dir() checked.
 */
static bool wake_addr(int dirfd, const char *name, struct sockaddr_un *a)
{
	*a = (struct sockaddr_un){.sun_family = AF_UNIX};
	return (size_t)snprintf(a->sun_path, sizeof(a->sun_path),
				"/proc/self/fd/%d/%s", dirfd,
				name) < sizeof(a->sun_path);
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

static int unix_listen(const char *location, enum dd_wake_role role,
		       struct dd_wake **out, struct dd_error *err)
{
	static atomic_int seq;
	struct sockaddr_un addr;
	struct unix_wake *w = dd_calloc(1, sizeof(*w));

	if (!w)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	w->base.t = &dd_sqlite_wake;
	w->base.role = role;
	wake_dir(location, w->dir, sizeof(w->dir));
	w->dirfd = open_wake_dir(w->dir, true, err);
	if (w->dirfd < 0) {
		dd_free(w);
		return DD_ERR_IO;
	}
	sweep_once(location);
	snprintf(w->name, sizeof(w->name), "%s%d-%d", role_prefix[role],
		 (int)getpid(), atomic_fetch_add(&seq, 1));
	w->base_len = strlen(w->name);
	wake_addr(w->dirfd, w->name, &addr);
	unlinkat(w->dirfd, w->name, 0);
	w->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (w->fd < 0 ||
	    bind(w->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		dd_error_set(err, DD_ERR_IO, "cannot listen on '%s/%s': %s",
			     w->dir, w->name, strerror(errno));
		if (w->fd >= 0)
			close(w->fd);
		close(w->dirfd);
		dd_free(w);
		return DD_ERR_IO;
	}
	*out = &w->base;
	return 0;
}

static int unix_fd(const struct dd_wake *base)
{
	const struct unix_wake *w = (const struct unix_wake *)base;

	return w->fd;
}

static int unix_drain(struct dd_wake *base)
{
	struct unix_wake *w = (struct unix_wake *)base;
	char buf[64];
	int n = 0;

	while (recv(w->fd, buf, sizeof(buf), 0) > 0)
		n++;
	return n;
}

/* One datagram: one byte is an untargeted wake-up, else the object. */
static int unix_next(struct dd_wake *base, char *object, size_t n)
{
	struct unix_wake *w = (struct unix_wake *)base;
	char buf[NAME_MAX_LEN];
	ssize_t got = recv(w->fd, buf, sizeof(buf) - 1, 0);

	if (got < 0)
		return 0;
	buf[got <= 1 ? 0 : got] = '\0';
	snprintf(object, n, "%s", buf);
	return 1;
}

static void unix_close(struct dd_wake *base)
{
	struct unix_wake *w = (struct unix_wake *)base;

	close(w->fd);
	unlinkat(w->dirfd, w->name, 0);
	close(w->dirfd);
	dd_free(w);
}

/*
 * Name the socket after `object` ("w-PID-N@lease:12"), so that senders of
 * targeted wake-ups skip it for every other object.  Returns true if the
 * name changed: a wake-up about `object` sent before the rename may have
 * been missed.  Daemon sockets are never renamed.
 */
static bool unix_watch(struct dd_wake *base, const char *object)
{
	struct unix_wake *w = (struct unix_wake *)base;
	char name[sizeof(w->name)];

	if (base->role != DD_WAKE_WATCHER || !strcmp(w->watching, object))
		return false;
	if (strlen(object) >= sizeof(w->watching) ||
	    (size_t)snprintf(name, sizeof(name), "%.*s@%s", (int)w->base_len,
			     w->name, object) >= sizeof(name) ||
	    renameat(w->dirfd, w->name, w->dirfd, name))
		return false;
	memcpy(w->name, name, sizeof(name));
	snprintf(w->watching, sizeof(w->watching), "%s", object);
	return true;
}

static int unix_wait_for(struct dd_wake *base, const char *object,
			 double timeout)
{
	struct unix_wake *w = (struct unix_wake *)base;
	double deadline = dd_monotonic() + timeout;
	size_t n = strlen(object);

	/* a caller that did not call dd_wake_watch() first looks again */
	if (unix_watch(base, object))
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

/* A listener hears the stores whose wake directory it is in. */
static bool unix_hears(const struct dd_wake *base, const char *location)
{
	const struct unix_wake *w = (const struct unix_wake *)base;
	char dir[PATH_MAX];

	wake_dir(location, dir, sizeof(dir));
	return !strcmp(dir, w->dir);
}

/* The socket's name without the object it watches: "w-PID-N". */
static void unix_id(const struct dd_wake *base, char *buf, size_t n)
{
	const struct unix_wake *w = (const struct unix_wake *)base;

	snprintf(buf, n, "%.*s", (int)w->base_len, w->name);
}

/*
 * What a process needs to reach the listeners of one wake directory: the
 * directory, open, and a socket to send from.  A notification used to
 * open both and close them again (opendir() also mallocs 32 KiB), which
 * cost 7 % of the daemon's CPU in the hot-pool benchmark.  Now the
 * process keeps one of each: the socket is shared (sendto() on a datagram
 * socket is safe from many threads), and the directory, whose read
 * position all threads share, is rewound and read under `mu`, which is
 * held for nothing else.  Two descriptors for the whole process, however
 * many threads send (`drydock serve` runs one per connection).
 */
static struct {
	pthread_mutex_t mu;
	char dir[PATH_MAX]; /* "" until `dirfd` is open and current */
	int dirfd;
	int sendfd;
} lister = {.mu = PTHREAD_MUTEX_INITIALIZER, .dirfd = -1, .sendfd = -1};
static pthread_once_t lister_once = PTHREAD_ONCE_INIT;

/*
 * fork() copies `mu` as it is, perhaps held by a thread the child does
 * not have, and the child would share the parent's read position: hold
 * `mu` across fork(), and let the child open its own directory.
 */
static void lister_before_fork(void)
{
	pthread_mutex_lock(&lister.mu);
}

static void lister_after_fork_parent(void)
{
	pthread_mutex_unlock(&lister.mu);
}

static void lister_after_fork_child(void)
{
	if (lister.dirfd >= 0)
		close(lister.dirfd);
	lister.dirfd = -1;
	lister.dir[0] = '\0';
	pthread_mutex_unlock(&lister.mu);
}

static void lister_init(void)
{
	pthread_atfork(lister_before_fork, lister_after_fork_parent,
		       lister_after_fork_child);
}

/* Names that one listing collected: inline, or on the heap if many. */
struct names {
	char inline_buf[4096];
	char *buf;
	size_t len, cap;
};

static bool names_add(struct names *n, const char *name)
{
	size_t k = strlen(name) + 1;

	if (n->len + k > n->cap) {
		size_t cap = n->cap * 2 > n->len + k ? n->cap * 2 : n->len + k;
		char *b = n->buf == n->inline_buf ? dd_malloc(cap)
						  : dd_realloc(n->buf, cap);

		if (!b)
			return false;
		if (n->buf == n->inline_buf)
			memcpy(b, n->inline_buf, n->len);
		n->buf = b;
		n->cap = cap;
	}
	memcpy(n->buf + n->len, name, k);
	n->len += k;
	return true;
}

/*
 * Collect the names in `dir` that `keep` accepts, and say where the
 * directory is open (`*dirfd`, for wake_addr()).  The directory stays
 * open between calls; one removed since it was opened (it then has no
 * links) is opened again, so a new one at the same path is seen.  Other
 * threads may be sending through the descriptor's number at that moment,
 * so a new directory takes the old one's number (dup3()): the number
 * only ever names a wake directory that open_wake_dir() accepted.
 * Returns the send socket, or -1 if the directory or a socket cannot be
 * had.
 */
static int list_dir(const char *dir, struct names *out,
		    bool (*keep)(const char *name, const void *arg),
		    const void *arg, int *dirfd)
{
	union {
		char bytes[4096];
		struct dirent64 aligned;
	} buf;
	struct stat st;
	ssize_t got;
	int sendfd;

	pthread_once(&lister_once, lister_init);
	pthread_mutex_lock(&lister.mu);
	if (lister.dir[0] &&
	    (strcmp(lister.dir, dir) || fstat(lister.dirfd, &st) ||
	     st.st_nlink == 0 || lseek(lister.dirfd, 0, SEEK_SET) < 0))
		lister.dir[0] = '\0';
	if (lister.sendfd < 0)
		lister.sendfd = socket(
			AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (!lister.dir[0]) {
		int fd = open_wake_dir(dir, false, NULL);

		if (fd >= 0 && lister.dirfd >= 0) {
			dup3(fd, lister.dirfd, O_CLOEXEC);
			close(fd);
		} else if (fd >= 0) {
			lister.dirfd = fd;
		}
		if (fd >= 0)
			snprintf(lister.dir, sizeof(lister.dir), "%s", dir);
	}
	if (!lister.dir[0] || lister.sendfd < 0) {
		pthread_mutex_unlock(&lister.mu);
		return -1;
	}
	while ((got = getdents64(lister.dirfd, buf.bytes, sizeof(buf.bytes))) >
	       0) {
		for (ssize_t off = 0; off < got;) {
			struct dirent64 *e = (void *)(buf.bytes + off);

			off += e->d_reclen;
			if (keep(e->d_name, arg) && !names_add(out, e->d_name))
				break;
		}
	}
	sendfd = lister.sendfd;
	*dirfd = lister.dirfd;
	pthread_mutex_unlock(&lister.mu);
	return sendfd;
}

/*
 * Send `msg` to `addr` from the shared socket.  A datagram counts against
 * its sender's buffer until the listener reads it, so listeners that do
 * not read (stopped, or slow) can fill the shared socket's buffer and
 * make every send fail with EAGAIN, to listeners that would read too.
 * EAGAIN is also a listener's queue being full, when it has wake-ups
 * waiting anyway, so try once more from a new socket: if that goes
 * through, the shared one was full, and the new one takes its place
 * (dup2() swaps it under the same number, which other threads may be
 * using at that moment).
 */
static ssize_t send_one(int sendfd, const char *msg,
			const struct sockaddr_un *addr)
{
	ssize_t rc = sendto(sendfd, msg, strlen(msg), MSG_DONTWAIT,
			    (const struct sockaddr *)addr, sizeof(*addr));
	int fresh, saved;

	if (rc >= 0 || errno != EAGAIN)
		return rc;
	fresh = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fresh < 0) {
		errno = EAGAIN;
		return -1;
	}
	rc = sendto(fresh, msg, strlen(msg), MSG_DONTWAIT,
		    (const struct sockaddr *)addr, sizeof(*addr));
	if (rc >= 0) {
		pthread_mutex_lock(&lister.mu);
		if (lister.sendfd == sendfd)
			dup3(fresh, sendfd, O_CLOEXEC);
		pthread_mutex_unlock(&lister.mu);
	}
	saved = errno;
	close(fresh);
	errno = saved;
	return rc;
}

/* Which listeners one notification is for. */
struct audience {
	enum dd_wake_role role;
	const char *object;    /* a targeted message: skip other objects' */
	const char *skip;      /* a name prefix to leave out */
	size_t skip_len;
	const char *skip_name; /* one socket's id to leave out (unix_id) */
	size_t skip_name_len;
};

static bool in_audience(const char *name, const void *arg)
{
	const struct audience *a = arg;
	const char *at;

	if (strncmp(name, role_prefix[a->role], 2))
		return false;
	if (a->skip_len && !strncmp(name, a->skip, a->skip_len))
		return false;
	if (a->skip_name && !strncmp(name, a->skip_name, a->skip_name_len) &&
	    (!name[a->skip_name_len] || name[a->skip_name_len] == '@'))
		return false;
	if (a->object && (at = strchr(name, '@')) && strcmp(at + 1, a->object))
		return false;
	return true;
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
	struct audience a = {role,      object,
			     skip,      skip ? strlen(skip) : 0,
			     skip_name, skip_name ? strlen(skip_name) : 0};
	struct names n = {.len = 0};
	char dir[PATH_MAX];
	int sendfd, dirfd = -1, probe = -1, live = 0;

	n.buf = n.inline_buf;
	n.cap = sizeof(n.inline_buf);
	wake_dir(store_path, dir, sizeof(dir));
	sendfd = list_dir(dir, &n, in_audience, &a, &dirfd);
	/* a socket of its own: a connected one could not sendto() others */
	if (sendfd >= 0 && !send)
		probe = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	for (size_t off = 0; sendfd >= 0 && (send || probe >= 0) && off < n.len;
	     off += strlen(n.buf + off) + 1) {
		struct sockaddr_un addr;
		ssize_t rc;

		if (!wake_addr(dirfd, n.buf + off, &addr))
			continue;
		/* connect() probes a datagram socket without waking it */
		if (send)
			rc = send_one(sendfd, msg, &addr);
		else
			rc = connect(probe, (struct sockaddr *)&addr,
				     sizeof(addr));
		if (rc < 0 && (errno == ECONNREFUSED || errno == ENOENT)) {
			/* ENOENT: renamed meanwhile (a watcher's new object) */
			if (errno == ECONNREFUSED)
				unlinkat(dirfd, n.buf + off, 0);
			continue;
		}
		live++;
	}
	if (probe >= 0)
		close(probe);
	if (n.buf != n.inline_buf)
		dd_free(n.buf);
	return live;
}

static void unix_notify(const char *location, struct dd_store *via,
			enum dd_wake_role role, const char *object,
			const struct dd_wake_skip *skip)
{
	(void)via; /* a datagram needs no connection */
	char own[32];

	/* this process's daemon sockets: "d-PID-" */
	if (skip->own_daemons)
		snprintf(own, sizeof(own), "%s%d-", role_prefix[DD_WAKE_DAEMON],
			 (int)getpid());
	each_listener(location, role, object ? object : "w", object,
		      skip->own_daemons ? own : NULL, skip->listener, true);
}

static int unix_count(const char *location, struct dd_store *via,
		      enum dd_wake_role role)
{
	(void)via;
	return each_listener(location, role, "", NULL, NULL, NULL, false);
}

const struct dd_wake_transport dd_sqlite_wake = {
	.name = "unix",
	.listen = unix_listen,
	.fd = unix_fd,
	.drain = unix_drain,
	.next = unix_next,
	.close = unix_close,
	.watch = unix_watch,
	.wait_for = unix_wait_for,
	.hears = unix_hears,
	.id = unix_id,
	.notify = unix_notify,
	.count = unix_count,
};
