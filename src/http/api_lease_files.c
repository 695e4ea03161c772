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
 * its own (transfer.h), since dd_exec_run() waits for it; a client that
 * goes away stops it without waiting for it.  An upload is bounded by `drydock serve --max-artifact-size`,
 * as a file artifact's is.
 */
#include "http/api_v1.h"
#include "http/transfer.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

/*
 * How long a command of the files interface may run for the API: an
 * upload or download of a large file over a slow link, not more.
 */
#define FILES_TIMEOUT 3600.0

/* ---- the job -------------------------------------------------------- */

/* What a file's transfer (transfer.h) carries for its job. */
struct file_job {
	char path[DD_FILE_PATH_MAX + 1];
	unsigned mode;
	long long size; /* an upload's bytes so far */
};

/* Read or write the file, on the transfer's thread. */
static int file_run(struct dd_transfer *t, int fd, int cancel_fd,
		    struct dd_error *err)
{
	const struct file_job *f = t->arg;
	const struct dd_bp_handle *bp = &t->h.bp;
	struct dd_file_options o = {FILES_TIMEOUT, cancel_fd};

	if (t->upload)
		return dd_bp_file_write(bp->type, &bp->ctx, &t->h.resource,
					&t->h.lease, f->path, f->mode, fd, &o,
					err);
	return dd_bp_file_read(bp->type, &bp->ctx, &t->h.resource,
			       &t->h.lease, f->path, fd, &o, err);
}

/*
 * A transfer of the file r->tail on lease r->params[0], if the caller
 * may run commands on it; not started.  NULL after answering.
 */
static struct dd_transfer *file_transfer(struct dd_http_req *r, bool upload)
{
	const char *doing = upload ? "write files on" : "read files of";
	struct dd_lease l = {0};
	struct dd_transfer *t;
	struct file_job *f;

	if (!dd_v1_lease_for(r, DD_ACTION_LEASE_EXEC, doing, &l))
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
	f = dd_calloc(1, sizeof(*f));
	if (!f) {
		dd_http_error(r, 500, "out_of_memory", "out of memory");
		return NULL;
	}
	snprintf(f->path, sizeof(f->path), "%s", r->tail);
	t = dd_transfer_new(r, doing, upload);
	if (!t) {
		dd_free(f);
		return NULL;
	}
	t->arg = f;
	t->arg_free = dd_free;
	return t;
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

/* Has the command written bytes (true), or ended without (false)? */
static bool first_bytes(struct dd_transfer *t)
{
	struct pollfd p = {t->data[0], POLLIN, 0};

	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		;
	return p.revents & POLLIN;
}

static void file_get(struct dd_http_req *r)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_file_list l = {NULL, 0};
	struct dd_transfer *t;
	struct file_job *f;

	if (!dd_http_query_known(r, dd_v1_no_args))
		return;
	t = file_transfer(r, false);
	if (!t)
		return;
	f = t->arg;
	if (!dd_http_long_running(r))
		goto out;
	/* what it is and how large: a 404 or 400 before any byte is sent */
	if (dd_bp_file_list(t->h.bp.type, &t->h.bp.ctx, &t->h.resource,
			    &t->h.lease, f->path, &l,
			    &(struct dd_file_options){FILES_TIMEOUT, -1},
			    &err)) {
		dd_http_fail(r, &err);
		goto out;
	}
	if (l.entries[0].type != 'f') {
		dd_http_error(r, 400, "invalid",
			      "'%s' on lease %lld is a %s, not a file%s",
			      f->path, r->params[0],
			      kind_name(l.entries[0].type),
			      l.entries[0].type == 'd'
				      ? ": list it with GET .../files?path=DIR"
				      : "");
		goto out;
	}
	if (!dd_transfer_start(r, t, file_run))
		goto out;
	/*
	 * A read that fails before its first byte (the file cannot be read
	 * by the user commands run as) is an error, not a short 200: wait
	 * for the first bytes, or the command's end.
	 */
	if (!first_bytes(t) && dd_transfer_wait(t, &err)) {
		dd_http_fail(r, &err);
		goto out;
	}
	dd_transfer_answer(r, t, 200, "application/octet-stream",
			   l.entries[0].size);
	t = NULL; /* the answer's now */
out:
	dd_file_list_release(&l);
	if (t)
		dd_transfer_put(t);
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
	struct dd_transfer *t;
	unsigned mode;

	if (!dd_http_query_known(r, upload_args) || !mode_arg(r, &mode))
		return false;
	t = file_transfer(r, true);
	if (!t)
		return false;
	((struct file_job *)t->arg)->mode = mode;
	if (!dd_transfer_start(r, t, file_run)) {
		dd_transfer_put(t);
		return false;
	}
	*state = t;
	return true;
}

static bool upload_write(struct dd_http_req *r, void *state, const void *data,
			 size_t n)
{
	struct dd_transfer *t = state;
	struct file_job *f = t->arg;
	struct dd_error err = DD_ERROR_INIT;
	int why;

	/* blocks while the command reads: the body's pace is the lease's */
	if (dd_transfer_write(t, data, n)) {
		f->size += (long long)n;
		return true;
	}
	/* the command ended early (EPIPE): say why */
	why = errno;
	dd_transfer_close(t);
	if (dd_transfer_wait(t, &err))
		dd_http_fail(r, &err);
	else
		dd_http_error(r, 500, "io_error",
			      "cannot write '%s' on lease %lld: %s", f->path,
			      r->params[0], strerror(why));
	return false;
}

static void upload_abort(struct dd_http_req *r, void *state)
{
	struct dd_transfer *t = state;
	struct dd_error ignored = DD_ERROR_INIT;

	(void)r;
	/* stopped before the end of its input, so nothing is renamed */
	dd_transfer_cancel(t);
	dd_transfer_wait(t, &ignored);
	dd_transfer_put(t);
}

static void upload_end(struct dd_http_req *r, void *state)
{
	struct dd_transfer *t = state;
	const struct file_job *f = t->arg;
	struct dd_error err = DD_ERROR_INIT;
	char mode[8];

	dd_transfer_close(t);
	if (dd_transfer_wait(t, &err)) {
		dd_http_fail(r, &err);
	} else {
		snprintf(mode, sizeof(mode), "%04o", f->mode);
		dd_http_json(r, 201,
			     json_pack("{s:o,s:I,s:s}", "path",
				       dd_json_string_lossy(f->path,
							    strlen(f->path)),
				       "size", (json_int_t)f->size, "mode",
				       mode));
	}
	dd_transfer_put(t);
}

static const struct dd_http_stream file_put = {
	upload_begin, NULL, upload_write, upload_end, upload_abort,
};

const struct dd_http_route dd_v1_lease_file_routes[] = {
	{"GET", "/api/v1/leases/{id}/files", DD_HTTP_BEARER, files_list,
	 false},
	{"GET", "/api/v1/leases/{id}/files/{path}", DD_HTTP_BEARER, file_get,
	 false},
	/*
	 * The web UI's download link (web_leases.c): the same answer to a
	 * signed-in browser, whose session says who it is, as a token does.
	 */
	{"GET", "/leases/{id}/files/{path}", DD_HTTP_SESSION, file_get,
	 false},
	{NULL, NULL, 0, NULL, false},
};

const struct dd_http_stream_route dd_v1_lease_file_streams[] = {
	{"PUT", "/api/v1/leases/{id}/files/{path}", DD_HTTP_BEARER, &file_put,
	 NULL, true},
	{NULL, NULL, 0, NULL, NULL, false},
};
