/*
 * transfer.c - a job on a lease on a thread of its own, with a pipe to
 * its request (transfer.h).
 */
#include "http/transfer.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

void dd_transfer_put(struct dd_transfer *t)
{
	bool last;

	pthread_mutex_lock(&t->mu);
	last = --t->refs == 0;
	pthread_mutex_unlock(&t->mu);
	if (!last)
		return;
	for (int i = 0; i < 2; i++) {
		if (t->data[i] >= 0)
			close(t->data[i]);
		if (t->cancel[i] >= 0)
			close(t->cancel[i]);
	}
	if (t->arg_free)
		t->arg_free(t->arg);
	dd_api_lease_close(&t->h);
	dd_store_close(t->store);
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mu);
	dd_free(t);
}

/* A store handle of the transfer's own for its lease's hooks. */
static int own_store(struct dd_http_req *r, struct dd_transfer *t,
		     struct dd_error *err)
{
	struct dd_store_options opt;
	int rc;

	dd_store_options_from_env(&opt);
	rc = dd_store_open_ready(r->store_path, &opt, &t->store, err);
	if (!rc)
		t->h.bp.ctx.store = t->store;
	return rc;
}

struct dd_transfer *dd_transfer_new(struct dd_http_req *r, const char *doing,
				    bool upload)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_transfer *t = dd_calloc(1, sizeof(*t));

	if (!t) {
		dd_http_error(r, 500, "out_of_memory", "out of memory");
		return NULL;
	}
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	t->refs = 1;
	t->upload = upload;
	t->data[0] = t->data[1] = t->cancel[0] = t->cancel[1] = -1;
	if (dd_api_lease_open(r->store, r->params[0], doing, &t->h, &err)) {
		dd_http_fail(r, &err);
		dd_transfer_put(t);
		return NULL;
	}
	/*
	 * The store is the request's: the job runs without it, or, for a
	 * type whose interfaces read the store, with a handle of its own
	 */
	t->h.bp.ctx.store = NULL;
	if (t->h.bp.type->interfaces_use_store && own_store(r, t, &err)) {
		dd_http_fail(r, &err);
		dd_transfer_put(t);
		return NULL;
	}
	if (pipe2(t->data, O_CLOEXEC) || pipe2(t->cancel, O_CLOEXEC) ||
	    /* the I/O thread reads its end without waiting */
	    (!upload && fcntl(t->data[0], F_SETFL, O_NONBLOCK))) {
		dd_http_error(r, 500, "io_error", "cannot make a pipe: %s",
			      strerror(errno));
		dd_transfer_put(t);
		return NULL;
	}
	return t;
}

static void *transfer_run(void *arg)
{
	struct dd_transfer *t = arg;
	struct dd_error err = DD_ERROR_INIT;
	int mine = t->upload ? 0 : 1;
	int rc = t->job(t, t->data[mine], t->cancel[0], &err);

	pthread_mutex_lock(&t->mu);
	close(t->data[mine]);
	t->data[mine] = -1;
	t->done = true;
	t->rc = rc;
	t->err = err;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
	dd_transfer_put(t);
	return NULL;
}

bool dd_transfer_start(struct dd_http_req *r, struct dd_transfer *t,
		       dd_transfer_job *job)
{
	pthread_attr_t a;
	pthread_t th;
	int rc;

	t->job = job;
	t->refs++;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&th, &a, transfer_run, t);
	pthread_attr_destroy(&a);
	if (rc) {
		t->refs--;
		dd_http_error(r, 503, "busy", "cannot start a thread: %s",
			      strerror(rc));
		return false;
	}
	return true;
}

void dd_transfer_cancel(struct dd_transfer *t)
{
	if (write(t->cancel[1], "x", 1) < 0) {
		/* the pipe is ours and open: a stop always gets through */
	}
}

void dd_transfer_ready(struct dd_transfer *t, int rc,
		       const struct dd_error *err)
{
	pthread_mutex_lock(&t->mu);
	t->ready = true;
	t->ready_rc = rc;
	if (rc)
		t->ready_err = *err;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

int dd_transfer_wait_ready(struct dd_transfer *t, struct dd_error *err)
{
	int rc;

	pthread_mutex_lock(&t->mu);
	while (!t->ready && !t->done)
		pthread_cond_wait(&t->cv, &t->mu);
	if (t->ready) {
		rc = t->ready_rc;
		if (rc)
			*err = t->ready_err;
	} else {
		rc = t->rc;
		if (rc)
			*err = t->err;
	}
	pthread_mutex_unlock(&t->mu);
	return rc;
}

int dd_transfer_wait(struct dd_transfer *t, struct dd_error *err)
{
	int rc;

	pthread_mutex_lock(&t->mu);
	while (!t->done)
		pthread_cond_wait(&t->cv, &t->mu);
	rc = t->rc;
	if (rc)
		*err = t->err;
	pthread_mutex_unlock(&t->mu);
	return rc;
}

bool dd_transfer_write(struct dd_transfer *t, const void *data, size_t n)
{
	const char *p = data;

	while (n > 0) {
		ssize_t w = write(t->data[1], p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return false; /* EPIPE: the job ended */
		p += w;
		n -= (size_t)w;
	}
	return true;
}

void dd_transfer_close(struct dd_transfer *t)
{
	if (t->data[1] >= 0)
		close(t->data[1]);
	t->data[1] = -1;
}

/* The next bytes the job wrote, on the server's I/O thread. */
static long answer_read(void *arg, struct dd_store *st, long long pos,
			char *buf, size_t cap)
{
	struct dd_transfer *t = arg;
	ssize_t n;

	(void)st;
	(void)pos;
	n = read(t->data[0], buf, cap);
	if (n > 0)
		return (long)n;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0; /* nothing yet: the server waits for data[0] */
	/* the job's end: the whole body when its size was not known,
	   else fewer bytes than promised (a file that shrank, a failure) */
	return n == 0 ? DD_HTTP_READ_END : -1;
}

/* The answer is sent or dropped: stop the job if it still runs. */
static void answer_free(void *arg)
{
	struct dd_transfer *t = arg;

	dd_transfer_cancel(t);
	dd_transfer_put(t);
}

void dd_transfer_answer(struct dd_http_req *r, struct dd_transfer *t,
			int status, const char *type, long long size)
{
	struct dd_http_reader reader = {0};

	reader.size = size;
	reader.read = answer_read;
	reader.free = answer_free;
	reader.arg = t;
	reader.waits = true;
	reader.wait_fd = t->data[0];
	dd_http_stream(r, status, type, &reader);
}
