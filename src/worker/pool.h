/*
 * pool.h - the daemon's worker pool.
 *
 * N threads, each with its own store handle, run update tasks.  An idle
 * thread sleeps until the next task is due or a wake-up arrives: from
 * another thread of this process (directly) or from another process that
 * queued work (through the store's wake socket, see queue/wake.h).  There
 * is no fixed polling interval; a long idle cap only guards against a
 * wake-up lost to a full socket buffer.
 *
 * Stopping (dd_pool_stop, safe from a signal handler) lets every thread
 * finish the task it is running; claimed tasks are never abandoned
 * half-done except by a crash, and then their claim expires and another
 * worker takes them.
 */
#ifndef DD_POOL_H
#define DD_POOL_H

#include "core/error.h"

struct dd_pool_options {
	const char *store_path;
	int workers;	  /* threads; default 8 */
	double idle_cap;  /* longest sleep without a deadline, seconds */
	int quiet;	  /* no progress lines on stderr */
};

/* Run until dd_pool_stop(); returns 0 or the error that stopped it. */
int dd_pool_run(const struct dd_pool_options *o, struct dd_error *err);
/* Ask a running pool to stop.  Async-signal-safe. */
void dd_pool_stop(void);

#endif
