/*
 * api_lease_files.c - a lease's files over the API, through its files
 * interface (blueprint.h), so they work the same on every blueprint type:
 *
 *   GET /api/v1/leases/{id}/files?path=DIR   list DIR (default: the
 *                                            lease's directory) as JSON
 *   GET /api/v1/leases/{id}/files/{path}     a file's bytes, streamed
 *   PUT /api/v1/leases/{id}/files/{path}     write a file from the body,
 *                                            streamed (?mode=0755)
 *
 * {path} is everything after "files/", slashes and all: relative to the
 * lease's working directory, or absolute when it starts with '/'
 * (files//etc/hostname).  The files interface reaches what the lease's
 * commands reach, so these take the right to run commands on the lease
 * (the exec action: a client on its own leases, an admin on any).
 *
 * The bytes never sit whole in memory.  A download's command writes into
 * a pipe that the server reads as the client takes the bytes (a body
 * that waits, http.h); an upload's body is written into a pipe, a piece
 * at a time, that the command reads.  Each command runs on a thread of
 * its own (struct transfer), since dd_exec_run() waits for it; whichever
 * of the request and the thread finishes last frees the transfer, so a
 * client that goes away stops the command (its cancel) without waiting
 * for it.  An upload is bounded by `drydock serve --max-artifact-size`,
 * as a file artifact's is.
 */
#include "api/api.h"
#include "http/api_v1.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/*
 * How long a command of the files interface may run for the API: an
 * upload or download of a large file over a slow link, not more.
 */
#define FILES_TIMEOUT 3600.0

/* ---- a command on its own thread ----------------------------------- */

struct transfer {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs; /* the request and the thread */
	bool done;
	int rc;
	struct dd_error err;
	struct dd_api_lease h;
	char path[DD_FILE_PATH_MAX + 1];
	bool upload;
	unsigned mode;
	/* download: the command writes data[1], the server reads data[0];
	   upload: the server writes data[1], the command reads data[0] */
	int data[2];
	int cancel[2];
	long long size;
};

static void transfer_put(struct transfer *t)
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
	dd_api_lease_close(&t->h);
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mu);
	dd_free(t);
}

static void *transfer_run(void *arg)
{
	struct transfer *t = arg;
	struct dd_file_options o = {FILES_TIMEOUT, t->cancel[0]};
	const struct dd_bp_handle *bp = &t->h.bp;
	struct dd_error err = DD_ERROR_INIT;
	int rc, mine = t->upload ? 0 : 1;

	if (t->upload)
		rc = dd_bp_file_write(bp->type, &bp->ctx, &t->h.resource,
				      &t->h.lease, t->path, t->mode,
				      t->data[0], &o, &err);
	else
		rc = dd_bp_file_read(bp->type, &bp->ctx, &t->h.resource,
				     &t->h.lease, t->path, t->data[1], &o,
				     &err);
	pthread_mutex_lock(&t->mu);
	/* the command's end of the pipe: the other side sees its end */
	close(t->data[mine]);
	t->data[mine] = -1;
	t->done = true;
	t->rc = rc;
	t->err = err;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
	transfer_put(t);
	return NULL;
}

/* Stop the command, if it still runs (a byte on its cancel). */
static void transfer_cancel(struct transfer *t)
{
	if (write(t->cancel[1], "x", 1) < 0) {
		/* the pipe is ours and open: a stop always gets through */
	}
}

/* Wait for the command to end; its result, with `err` filled. */
static int transfer_wait(struct transfer *t, struct dd_error *err)
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

/*
 * A transfer for lease r->params[0] and r->tail, the lease opened and
 * the pipes made, but not started; NULL after answering.
 */
static struct transfer *transfer_new(struct dd_http_req *r, bool upload)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease l = {0};
	struct transfer *t;

	if (!dd_v1_lease_for(r, DD_ACTION_LEASE_EXEC,
			     upload ? "write files on" : "read files of", &l))
		return NULL;
	dd_lease_release(&l);
	if (!r->tail || !r->tail[0]) {
		dd_http_error(r, 400, "invalid",
			      "no path after 'files/': GET or PUT "
			      "/api/v1/leases/%lld/files/PATH (list a "
			      "directory with GET /api/v1/leases/%lld/"
			      "files?path=DIR)",
			      r->params[0], r->params[0]);
		return NULL;
	}
	if (strlen(r->tail) > DD_FILE_PATH_MAX) {
		dd_http_error(r, 400, "invalid",
			      "the path is longer than %d bytes",
			      DD_FILE_PATH_MAX);
		return NULL;
	}
	t = dd_calloc(1, sizeof(*t));
	if (!t) {
		dd_http_error(r, 500, "out_of_memory", "out of memory");
		return NULL;
	}
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	t->refs = 1;
	t->upload = upload;
	t->data[0] = t->data[1] = t->cancel[0] = t->cancel[1] = -1;
	snprintf(t->path, sizeof(t->path), "%s", r->tail);
	if (dd_api_lease_open(r->store, r->params[0],
			      upload ? "write files on" : "read files of",
			      &t->h, &err)) {
		dd_http_fail(r, &err);
		transfer_put(t);
		return NULL;
	}
	/* the store is the request's: the thread runs without it */
	t->h.bp.ctx.store = NULL;
	if (pipe2(t->data, O_CLOEXEC) || pipe2(t->cancel, O_CLOEXEC)) {
		dd_http_error(r, 500, "io_error", "cannot make a pipe: %s",
			      strerror(errno));
		transfer_put(t);
		return NULL;
	}
	return t;
}

/* Run the transfer's command on its thread; false after answering. */
static bool transfer_start(struct dd_http_req *r, struct transfer *t)
{
	pthread_attr_t a;
	pthread_t th;
	int rc;

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

/* ---- listing ------------------------------------------------------- */

/* The listing's kinds by name, for JSON. */
static const struct {
	char type;
	const char *name;
} kinds[] = {
	{'f', "file"},
	{'d', "directory"},
	{'l', "link"},
	{'o', "other"},
};

static const char *kind_name(char type)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(*kinds); i++)
		if (kinds[i].type == type)
			return kinds[i].name;
	return "other";
}

static json_t *entry_json(const struct dd_file_entry *e, const char *key,
			  const char *name)
{
	char mode[8], modified[32];

	snprintf(mode, sizeof(mode), "%04o", e->mode & 07777);
	dd_time_format(e->mtime, modified);
	return json_pack("{s:o,s:s,s:I,s:s,s:s}", key,
			 dd_json_string_lossy(name, strlen(name)), "type",
			 kind_name(e->type), "size", (json_int_t)e->size,
			 "mode", mode, "modified", modified);
}

static void files_list(struct dd_http_req *r)
{
	static const char *const args[] = {"path", NULL};
	const char *path = dd_http_query(r, "path");
	struct dd_error err = DD_ERROR_INIT;
	struct dd_file_list l = {NULL, 0};
	struct dd_lease lease = {0};
	struct dd_api_lease h;
	json_t *body, *entries;

	if (!dd_http_query_known(r, args))
		return;
	if (!dd_v1_lease_for(r, DD_ACTION_LEASE_EXEC, "read files of", &lease))
		return;
	dd_lease_release(&lease);
	/* a command runs, maybe on a slow host: a thread it may hold */
	if (!dd_http_long_running(r))
		return;
	if (!path)
		path = ".";
	if (dd_api_lease_open(r->store, r->params[0], "read files of", &h,
			      &err) ||
	    dd_bp_file_list(h.bp.type, &h.bp.ctx, &h.resource, &h.lease, path,
			    &l, &(struct dd_file_options){FILES_TIMEOUT, -1},
			    &err)) {
		dd_api_lease_close(&h);
		dd_http_fail(r, &err);
		return;
	}
	dd_api_lease_close(&h);
	body = entry_json(&l.entries[0], "path", path);
	entries = json_array();
	for (size_t i = 1; i < l.n; i++)
		json_array_append_new(entries, entry_json(&l.entries[i], "name",
							  l.entries[i].name));
	json_object_set_new(body, "entries", entries);
	dd_file_list_release(&l);
	dd_http_json(r, 200, body);
}

/* ---- download ------------------------------------------------------ */

/* The next bytes the command wrote, on the server's I/O thread. */
static long download_read(void *arg, struct dd_store *st, long long pos,
			  char *buf, size_t cap)
{
	struct transfer *t = arg;
	ssize_t n;

	(void)st;
	(void)pos;
	n = read(t->data[0], buf, cap);
	if (n > 0)
		return (long)n;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0; /* nothing yet: the server waits for data[0] */
	return -1; /* the end before `size` bytes: the file shrank, or the
		      command failed */
}

/* The answer is sent or dropped: stop the command if it still runs. */
static void download_free(void *arg)
{
	struct transfer *t = arg;

	transfer_cancel(t);
	transfer_put(t);
}

static void file_get(struct dd_http_req *r)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_file_list l = {NULL, 0};
	struct dd_http_reader reader = {0};
	struct transfer *t;

	if (!dd_http_query_known(r, dd_v1_no_args))
		return;
	t = transfer_new(r, false);
	if (!t)
		return;
	if (!dd_http_long_running(r))
		goto out;
	/* what it is and how large: a 404 or 400 before any byte is sent */
	if (dd_bp_file_list(t->h.bp.type, &t->h.bp.ctx, &t->h.resource,
			    &t->h.lease, t->path, &l,
			    &(struct dd_file_options){FILES_TIMEOUT, -1},
			    &err)) {
		dd_http_fail(r, &err);
		goto out;
	}
	if (l.entries[0].type != 'f') {
		dd_http_error(r, 400, "invalid",
			      "'%s' on lease %lld is a %s, not a file%s",
			      t->path, r->params[0],
			      kind_name(l.entries[0].type),
			      l.entries[0].type == 'd'
				      ? ": list it with GET .../files?path=DIR"
				      : "");
		goto out;
	}
	t->size = l.entries[0].size;
	/* the server's end never waits; the command's end does */
	if (fcntl(t->data[0], F_SETFL, O_NONBLOCK) || !transfer_start(r, t)) {
		if (!r->status)
			dd_http_error(r, 500, "io_error",
				      "cannot set up the pipe: %s",
				      strerror(errno));
		goto out;
	}
	reader.size = t->size;
	reader.read = download_read;
	reader.free = download_free;
	reader.arg = t;
	reader.waits = true;
	reader.wait_fd = t->data[0];
	dd_http_stream(r, 200, "application/octet-stream", &reader);
	t = NULL; /* the answer's now */
out:
	dd_file_list_release(&l);
	if (t)
		transfer_put(t);
}

/* ---- upload -------------------------------------------------------- */

static const char *const upload_args[] = {"mode", NULL};

/* ?mode=: permission bits in octal, 1 to 4 digits; 0644 without it. */
static bool mode_arg(struct dd_http_req *r, unsigned *mode)
{
	const char *m = dd_http_query(r, "mode");
	unsigned v = 0;
	size_t n;

	*mode = 0644;
	if (!m)
		return true;
	n = strlen(m);
	if (n == 0 || n > 4 || strspn(m, "01234567") != n) {
		dd_http_error(r, 400, "invalid",
			      "'mode' must be permission bits in octal, "
			      "0000 to 7777, e.g. 0755");
		return false;
	}
	for (size_t i = 0; i < n; i++)
		v = v * 8 + (unsigned)(m[i] - '0');
	*mode = v;
	return true;
}

static bool upload_begin(struct dd_http_req *r, void **state)
{
	struct transfer *t;
	unsigned mode;

	if (!dd_http_query_known(r, upload_args) || !mode_arg(r, &mode))
		return false;
	t = transfer_new(r, true);
	if (!t)
		return false;
	t->mode = mode;
	if (!transfer_start(r, t)) {
		transfer_put(t);
		return false;
	}
	*state = t;
	return true;
}

/* The command's failure, or why the pipe took no more. */
static void upload_failed(struct dd_http_req *r, struct transfer *t,
			  int wr_errno)
{
	struct dd_error err = DD_ERROR_INIT;

	close(t->data[1]);
	t->data[1] = -1;
	if (transfer_wait(t, &err))
		dd_http_fail(r, &err);
	else
		dd_http_error(r, 500, "io_error",
			      "cannot write '%s' on lease %lld: %s", t->path,
			      r->params[0], strerror(wr_errno));
}

static bool upload_write(struct dd_http_req *r, void *state, const void *data,
			 size_t n)
{
	struct transfer *t = state;
	const char *p = data;

	/* blocks while the command reads: the body's pace is the lease's */
	while (n > 0) {
		ssize_t w = write(t->data[1], p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			/* the command ended early (EPIPE): say why */
			upload_failed(r, t, errno);
			return false;
		}
		p += w;
		n -= (size_t)w;
		t->size += w;
	}
	return true;
}

static void upload_abort(struct dd_http_req *r, void *state)
{
	struct transfer *t = state;
	struct dd_error ignored = DD_ERROR_INIT;

	(void)r;
	/* stopped before the end of the body, so nothing is renamed */
	transfer_cancel(t);
	transfer_wait(t, &ignored);
	transfer_put(t);
}

static void upload_end(struct dd_http_req *r, void *state)
{
	struct transfer *t = state;
	struct dd_error err = DD_ERROR_INIT;
	char mode[8];

	close(t->data[1]);
	t->data[1] = -1;
	if (transfer_wait(t, &err)) {
		dd_http_fail(r, &err);
	} else {
		snprintf(mode, sizeof(mode), "%04o", t->mode);
		dd_http_json(r, 201,
			     json_pack("{s:o,s:I,s:s}", "path",
				       dd_json_string_lossy(t->path,
							    strlen(t->path)),
				       "size", (json_int_t)t->size, "mode",
				       mode));
	}
	transfer_put(t);
}

static const struct dd_http_stream file_put = {
	upload_begin, NULL, upload_write, upload_end, upload_abort,
};

const struct dd_http_route dd_v1_lease_file_routes[] = {
	{"GET", "/api/v1/leases/{id}/files", DD_HTTP_BEARER, files_list,
	 false},
	{"GET", "/api/v1/leases/{id}/files/{path}", DD_HTTP_BEARER, file_get,
	 false},
	{NULL, NULL, 0, NULL, false},
};

const struct dd_http_stream_route dd_v1_lease_file_streams[] = {
	{"PUT", "/api/v1/leases/{id}/files/{path}", DD_HTTP_BEARER, &file_put,
	 NULL, true},
	{NULL, NULL, 0, NULL, NULL, false},
};
