/*
 * wake.h - wake-ups between processes that share one store.
 *
 * Nothing in drydock polls on a fixed sleep.  A process that waits for work
 * (a daemon) or for a change (a CLI waiting for its lease to become active)
 * listens on a Unix datagram socket in the store's wake directory; a
 * process that queues work or changes state sends one byte to every
 * listener of the matching role after its transaction commits.  Sends never
 * block: a full socket buffer already holds a wake-up.  The durable task
 * rows, not the datagrams, are the truth, so a lost datagram only delays a
 * listener until its next deadline.
 *
 * The directory is the store's real path with "-wake" appended, beside
 * the store's "-wal" and "-shm" files.  Whoever can create, remove or
 * bind a socket there can hear, steal or suppress the wake-ups, so it
 * must be a directory (not a symbolic link) that belongs to the user
 * running drydock, with mode 0700: one that is not is refused with a
 * clear error (dd_wake_listen() fails; notifications are not sent).
 * Sockets are addressed through /proc/self/fd and the checked
 * directory's descriptor, so addresses stay short whatever the store's
 * path, and name the directory that was checked.
 */
#ifndef DD_WAKE_H
#define DD_WAKE_H

#include <stdbool.h>

#include "core/error.h"

enum dd_wake_role {
	DD_WAKE_DAEMON = 0,  /* woken when tasks are queued */
	DD_WAKE_WATCHER = 1, /* woken when objects change */
};

struct dd_wake;

int dd_wake_listen(const char *store_path, enum dd_wake_role role,
		   struct dd_wake **out, struct dd_error *err);
/* The socket to poll() for POLLIN. */
int dd_wake_fd(const struct dd_wake *w);
/* Read every pending wake-up; returns how many there were. */
int dd_wake_drain(struct dd_wake *w);
void dd_wake_close(struct dd_wake *w);

/* Wake every listener of `role` for this store.  Best effort. */
void dd_wake_notify(const char *store_path, enum dd_wake_role role);
/*
 * Wake watchers about one object ("lease:12").  A watcher that waits
 * with dd_wake_wait_for() is named after its object, and senders skip the
 * sockets of watchers of other objects, so N clients waiting for N leases
 * are not all woken by each change (a watcher that has not named an
 * object yet gets every targeted wake-up and ignores the others').
 */
void dd_wake_notify_about(const char *store_path, const char *object);
/*
 * A watcher about to wait for `object`: name the socket after it (see
 * dd_wake_notify_about), before looking at the object, so that a change
 * made after the look is not missed.  Returns true if the name changed.
 */
bool dd_wake_watch(struct dd_wake *w, const char *object);
/*
 * Wait until a wake-up about `object` (or an untargeted one) arrives or
 * `timeout` seconds pass; returns 1 if woken.  A watcher that did not
 * call dd_wake_watch() for `object` first is renamed here and 1 is
 * returned at once, without waiting: a wake-up sent before the rename
 * may have gone unseen, so the caller looks at the object again, as
 * after any wake-up, and then waits.
 */
int dd_wake_wait_for(struct dd_wake *w, const char *object, double timeout);
/* How many live listeners of `role` there are (stale sockets are removed). */
int dd_wake_count(const char *store_path, enum dd_wake_role role);

/*
 * An in-process shortcut: the daemon registers a function that wakes its
 * own workers directly, so a worker (or an in-process client) that queues
 * a task does not need the round trip through its own socket; the
 * daemon's own socket is then skipped.
 */
void dd_wake_set_local(void (*fn)(void));
/*
 * The same for a watcher: `fn` is told about every notification for
 * `w`'s store made in this process (`object`, or NULL for an untargeted
 * one), by a direct call instead of a datagram to `w`, which senders in
 * this process then skip.  `w` keeps receiving other processes'
 * notifications.  (NULL, NULL) unregisters; call it before closing `w`.
 */
void dd_wake_set_local_watcher(const struct dd_wake *w,
			       void (*fn)(const char *object));

#endif
