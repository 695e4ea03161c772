/*
 * wake.h - wake-ups between processes that share one store.
 *
 * Nothing in drydock polls on a fixed sleep.  A process that waits for work
 * (a daemon) or for a change (a CLI waiting for its lease to become active)
 * listens; a process that queues work or changes state notifies every
 * listener of the matching role after its transaction commits.  Notifying
 * never blocks.  The durable task rows, not the wake-ups, are the truth,
 * so a lost wake-up only delays a listener until its next deadline.
 *
 * What carries them is the store backend's (store/wake_transport.h),
 * found from the store's location on each call: SQLite's are Unix
 * datagram sockets in a directory beside the store's file
 * (store/sqlite_wake.c says who may touch it); a database server's can be
 * its own notifications, reaching other machines, with nothing here
 * changed.  A location with no backend in this build is refused by
 * dd_wake_listen() and ignored by the rest.
 */
#ifndef DD_WAKE_H
#define DD_WAKE_H

#include <stdbool.h>

#include "core/error.h"
#include "store/wake_transport.h"

/*
 * Listen for wake-ups of `role` about the store at `location` (the roles
 * are in store/wake_transport.h).
 */
int dd_wake_listen(const char *location, enum dd_wake_role role,
		   struct dd_wake **out, struct dd_error *err);
/* The descriptor to poll() for POLLIN. */
int dd_wake_fd(const struct dd_wake *w);
/* Read every pending wake-up; returns how many there were. */
int dd_wake_drain(struct dd_wake *w);
/*
 * Read one pending wake-up: returns 1 with the object it is about in
 * `object` ("" for an untargeted one), or 0 when none is left.  For a
 * watcher that serves several objects (drydock serve's long polls); the
 * descriptor is no socket to read from directly.
 */
int dd_wake_next(struct dd_wake *w, char *object, size_t n);
void dd_wake_close(struct dd_wake *w);

/*
 * Wake every listener of `role` for the store at `location`.  Best
 * effort.  For DD_WAKE_DAEMON: this process's own daemon threads are
 * woken directly (dd_wake_set_local), and its listener left out.
 */
void dd_wake_notify(const char *location, enum dd_wake_role role);
/*
 * The same for the store `s` is open on, right after a commit on `s`, by
 * the thread that owns it: the notification may go out on s's own
 * connection (PostgreSQL), so that a CLI command does not open a second
 * connection (a server process's start) for it alone.
 *
 * For DD_WAKE_DAEMON, in a daemon: `s` says how many tasks that commit
 * queued and whether one is bound to another machine
 * (dd_store_scheduled()).  When none is, and one of the daemon's own
 * threads was idle to be woken for each, they take the work and no other
 * daemon is told, so that N daemons do not all look at the queue for
 * each task their neighbour queued for itself.
 */
void dd_wake_notify_on(struct dd_store *s, enum dd_wake_role role);
/*
 * Wake watchers about one object ("lease:12").  A watcher that waits
 * with dd_wake_wait_for() says which object it waits for, and watchers of
 * other objects need not be woken, so N clients waiting for N leases are
 * not all woken by each change (a watcher that has not named an object
 * yet gets every targeted wake-up and ignores the others').
 */
void dd_wake_notify_about(const char *location, const char *object);
/*
 * A watcher about to wait for `object`: say so (see
 * dd_wake_notify_about), before looking at the object, so that a change
 * made after the look is not missed.  Returns true if that changed what
 * it watches.
 */
bool dd_wake_watch(struct dd_wake *w, const char *object);
/*
 * Wait until a wake-up about `object` (or an untargeted one) arrives or
 * `timeout` seconds pass; returns 1 if woken.  A watcher that did not
 * call dd_wake_watch() for `object` first is switched here and 1 is
 * returned at once, without waiting: a wake-up sent before the rename
 * may have gone unseen, so the caller looks at the object again, as
 * after any wake-up, and then waits.
 */
int dd_wake_wait_for(struct dd_wake *w, const char *object, double timeout);
/* How many live listeners of `role` there are (dead ones may be removed). */
int dd_wake_count(const char *location, enum dd_wake_role role);
/* The same, asked on s's own connection where it can (dd_wake_notify_on). */
int dd_wake_count_on(struct dd_store *s, enum dd_wake_role role);

/*
 * An in-process shortcut: the daemon registers a function that wakes one
 * of its own workers directly, so a worker (or an in-process client) that
 * queues a task does not need the round trip through its own listener;
 * the daemon's own listeners are then skipped.  `fn` wakes up to `n`
 * idle workers and returns how many of them will surely look at the
 * queue (0 when the daemon is stopping).
 */
void dd_wake_set_local(int (*fn)(int n));
/*
 * The same for a watcher: `fn` is told about every notification for
 * `w`'s store made in this process (`object`, or NULL for an untargeted
 * one), by a direct call instead of a wake-up to `w`, which senders in
 * this process then skip.  `w` keeps receiving other processes'
 * notifications.  (NULL, NULL) unregisters; call it before closing `w`.
 */
void dd_wake_set_local_watcher(const struct dd_wake *w,
			       void (*fn)(const char *object));

#endif
