/*
 * watch.h - long polls: requests parked until an object changes, without
 * a thread each.
 *
 * A long poll arms its watch before it reads the object, so a change
 * between the read and parking is never missed:
 *
 *	dd_watch_arm(&w, "lease:12", deadline);
 *	read the lease;
 *	if it is where the client wants it:
 *		dd_watch_disarm(&w); answer;
 *	else if dd_watch_park(&w, fire, arg) == DD_WATCH_PARKED:
 *		return: fire(arg, why) comes later, exactly once;
 *	else:
 *		it changed meanwhile (read again), or the deadline passed
 *		or the server is stopping (answer with what is).
 *
 * A parked watch holds no thread: `fire` is called from whichever thread
 * notices, the listener for other processes' changes and for deadlines,
 * or the thread in this process that made the change.  It must not block;
 * the watch is disarmed before it is called, so `fire` may arm it again.
 *
 * Changes arrive through the store's wake sockets (queue/wake.h), so a
 * change made by another daemon process wakes the waiter as well as one
 * made by this process's workers.  Watches sit in a hash table by object,
 * and parked ones in a heap by deadline, so ten thousand parked long
 * polls cost a notification one bucket and the listener one wake-up per
 * deadline.
 */
#ifndef DD_HTTP_WATCH_H
#define DD_HTTP_WATCH_H

#include "core/error.h"

#include <stdbool.h>
#include <stddef.h>

enum dd_watch_why {
	DD_WATCH_STOPPING = -1, /* the server is stopping */
	DD_WATCH_DEADLINE = 0,	/* the deadline passed */
	DD_WATCH_CHANGED = 1,	/* the object changed */
	DD_WATCH_PARKED = 2	/* (dd_watch_park only) fire comes later */
};

typedef void dd_watch_fire(void *arg, enum dd_watch_why why);

struct dd_watch {
	char object[48];
	double deadline; /* monotonic */
	dd_watch_fire *fire;
	void *arg;
	/* The rest is watch.c's, under its lock. */
	bool armed, parked, woken;
	struct dd_watch *next, *prev; /* in the object's bucket */
	size_t heap;		      /* index in the deadline heap */
};

/* Start listening for changes to the store at `store_path`. */
int dd_watch_start(const char *store_path, struct dd_error *err);
/*
 * Fire every parked watch with DD_WATCH_STOPPING, make every later park
 * answer it at once, and stop listening.
 */
void dd_watch_stop(void);

/* Count changes to `object` from now on; `deadline` is monotonic. */
void dd_watch_arm(struct dd_watch *w, const char *object, double deadline);
/*
 * Park an armed watch: DD_WATCH_PARKED, and fire(arg, why) is called
 * once later; or, when that has already happened (the object changed
 * since dd_watch_arm(), the deadline passed, the server is stopping),
 * the reason, and the watch is disarmed.
 */
enum dd_watch_why dd_watch_park(struct dd_watch *w, dd_watch_fire *fire,
				void *arg);
/* Stop counting changes for an armed watch that is not parked. */
void dd_watch_disarm(struct dd_watch *w);

/* Wake watches for `object`, or every watch when it is NULL. */
void dd_watch_notify(const char *object);
/* How many watches are parked now. */
size_t dd_watch_parked(void);

#endif
