/*
 * transfer.h - a job on a lease (a command of its files or command
 * interface) run on a thread of its own while its request goes on, with a
 * pipe between them: a lease's file uploaded or downloaded
 * (api_lease_files.c), an exec's output streamed (api_leases.c).
 *
 * dd_exec_run() waits for its command, and a handler must not: so the job
 * runs on a thread, the request writes the pipe (an upload's body, a
 * piece at a time as it arrives) or answers with what the job writes into
 * it (a body that waits, http.h: the I/O thread is never held).  The
 * transfer is the request's and the thread's; whichever lets go last
 * frees it, so a client that goes away stops the job (its cancel) without
 * waiting for it.  The job's lease is opened when the transfer is made,
 * and its store pointer cleared: the job runs without the request's store,
 * or, when its type's interfaces read the store (blueprint.h,
 * interfaces_use_store: a working copy reaches its host lease), with a
 * handle of the transfer's own, closed with it.
 */
#ifndef DD_HTTP_TRANSFER_H
#define DD_HTTP_TRANSFER_H

#include "api/api.h"
#include "http/http.h"

#include <pthread.h>

struct dd_transfer;

/*
 * A job, on the transfer's thread: `fd` is its end of the pipe (closed
 * by the transfer once it returns: the other side then sees the end),
 * `cancel_fd` turns readable when it must stop.  0 or an error code.
 */
typedef int dd_transfer_job(struct dd_transfer *t, int fd, int cancel_fd,
			    struct dd_error *err);

struct dd_transfer {
	struct dd_api_lease h; /* the lease the job works on */
	struct dd_store *store; /* the job's own, or NULL (above) */
	void *arg;	       /* the job's own, freed by arg_free at the end */
	void (*arg_free)(void *arg);
	/* the rest is the transfer's */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;
	bool upload; /* the request writes the pipe; else it reads it */
	bool ready, done;
	int ready_rc, rc;
	struct dd_error ready_err, err;
	int data[2], cancel[2];
	dd_transfer_job *job;
};

/*
 * A transfer on lease r->params[0] (the caller has checked the caller's
 * right to it), opened for `doing` ("read files of": an inactive lease is
 * 409), with its pipes; NULL after answering.
 */
struct dd_transfer *dd_transfer_new(struct dd_http_req *r, const char *doing,
				    bool upload);
/* Run `job` on a thread of its own; false after answering. */
bool dd_transfer_start(struct dd_http_req *r, struct dd_transfer *t,
		       dd_transfer_job *job);
/* Stop the job, if it still runs. */
void dd_transfer_cancel(struct dd_transfer *t);
/*
 * For a job that has a moment at which the request may answer (a program
 * started, or not): the job tells it with dd_transfer_ready(), and
 * dd_transfer_wait_ready() waits for it, or for the job's end.
 */
void dd_transfer_ready(struct dd_transfer *t, int rc,
		       const struct dd_error *err);
int dd_transfer_wait_ready(struct dd_transfer *t, struct dd_error *err);
/* Wait for the job's end: its result, with `err` filled. */
int dd_transfer_wait(struct dd_transfer *t, struct dd_error *err);
/*
 * An upload's body, a piece at a time: blocks while the job reads.
 * False, errno set, when the job no longer reads (it ended).
 */
bool dd_transfer_write(struct dd_transfer *t, const void *data, size_t n);
/* The end of an upload's body: the job sees the end of its input. */
void dd_transfer_close(struct dd_transfer *t);
/*
 * Answer `status` with a body of `type` that is what the job writes, as
 * it comes: `size` bytes (fewer is a cut-off answer), or, for -1, until
 * the job's end (sent chunked).  The answer takes the request's hold on
 * the transfer, and cancels the job when it is done with.
 */
void dd_transfer_answer(struct dd_http_req *r, struct dd_transfer *t,
			int status, const char *type, long long size);
/* The request lets go (the answer, if any, holds on). */
void dd_transfer_put(struct dd_transfer *t);

#endif
