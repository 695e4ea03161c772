/*
 * watch.h - long polls: a request thread waits for an object to change.
 *
 * A waiter registers before it reads the object, so a change between the
 * read and the wait is never missed:
 *
 *	dd_watch_begin(&w, "lease:12");
 *	for (;;) {
 *		read the lease; if it is where the client wants it, break;
 *		if (dd_watch_wait(&w, deadline) <= 0) break;
 *	}
 *	dd_watch_end(&w);
 *
 * Changes arrive through the store's wake sockets (queue/wake.h), so a
 * change made by another daemon process wakes the waiter as well as one
 * made by this process's workers.
 */
#ifndef DD_HTTP_WATCH_H
#define DD_HTTP_WATCH_H

#include "core/error.h"

#include <pthread.h>
#include <stdbool.h>

struct dd_watch {
	char object[48];
	bool woken;
	pthread_cond_t cv;
	struct dd_watch *next;
};

/* Start listening for changes to the store at `store_path`. */
int dd_watch_start(const char *store_path, struct dd_error *err);
/* Wake every waiter for good (shutdown) and stop listening. */
void dd_watch_stop(void);

void dd_watch_begin(struct dd_watch *w, const char *object);
/*
 * Wait until `w`'s object changes (1), the monotonic `deadline` passes
 * (0), or the server is stopping (-1).  Clears the woken flag.
 */
int dd_watch_wait(struct dd_watch *w, double deadline);
void dd_watch_end(struct dd_watch *w);

/* Wake waiters for `object`, or every waiter when it is NULL. */
void dd_watch_notify(const char *object);

#endif
