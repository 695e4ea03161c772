/*
 * run.c - a build as one call sequence (run.h): the one transaction that
 * starts a run, its output kept as it comes, files uploaded a piece at a
 * time, and the finish that releases its lease.
 */
#include "api/run.h"
#include "core/input.h"
#include "core/util.h"
#include "queue/wake.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Seconds of output gathered at most before it is written. */
#define OUTPUT_INTERVAL 1.0

int dd_run_check(const struct dd_run_request *req, struct dd_error *err)
{
	int rc = dd_target_name_check(req->name, err);

	if (!rc)
		rc = dd_duration_check(req->ttl, err);
	for (size_t i = 0; !rc && i < req->n_uris; i++) {
		json_t *data = json_pack("{s:s, s:s}", "uri", req->uris[i].uri,
					 "name", req->uris[i].name);

		if (!data)
			return dd_error_set(err, DD_ERR_INVALID,
					    "--uri %s: not valid UTF-8",
					    req->uris[i].name);
		rc = dd_artifact_key_check(req->uris[i].name, err);
		if (!rc)
			rc = dd_artifact_data_check("uri", data, req->rules,
						    err);
		json_decref(data);
		if (!rc && (!strcmp(req->uris[i].name, DD_RUN_LEASE_KEY) ||
			    !strcmp(req->uris[i].name, DD_RUN_OUTPUT_KEY)))
			rc = dd_error_set(err, DD_ERR_INVALID,
					  "a URI cannot be named '%s': the "
					  "run's own artifact has that key",
					  req->uris[i].name);
		for (size_t j = 0; !rc && j < i; j++)
			if (!strcmp(req->uris[i].name, req->uris[j].name))
				rc = dd_error_set(err, DD_ERR_INVALID,
						  "two URIs named '%s'",
						  req->uris[i].name);
	}
	return rc;
}

/* Add an artifact in the caller's transaction. */
static int add_artifact(struct dd_store *s, const struct dd_run_request *req,
			long long target, const char *key, const char *type,
			json_t *data, struct dd_error *err)
{
	struct dd_artifact_request a = {.target = target,
					.key = key,
					.type = type,
					.data = data,
					.rules = req->rules};
	int rc;

	if (!data)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	rc = dd_api_artifact_add(s, &a, NULL, err);
	json_decref(data);
	return rc;
}

int dd_run_start(struct dd_store *s, const struct dd_run_request *req,
		 long long *target, long long *lease, struct dd_error *err)
{
	struct dd_target_request treq = {
		.name = req->name, .ttl = req->ttl, .owner = req->owner};
	struct dd_lease_request lreq = req->lease;
	struct dd_target t = {0};
	struct dd_lease l = {0};
	int rc = dd_run_check(req, err);

	if (rc)
		return rc;
	lreq.owner = req->owner;
	lreq.idem = NULL;
	/*
	 * One transaction (the calls below nest in it): the lease and its
	 * update task become visible to the workers together with the
	 * artifact that makes the target release it, or not at all.  The
	 * wake-ups the inner calls send before this commit find nothing new;
	 * the one after it does.
	 */
	rc = dd_store_begin(s, err);
	if (!rc)
		rc = dd_api_target_create(s, &treq, &t, err);
	if (!rc)
		rc = dd_api_lease_create(s, &lreq, &l, err);
	if (!rc)
		rc = add_artifact(s, req, t.id, DD_RUN_LEASE_KEY, "host",
				  json_pack("{s:I}", "lease", l.id), err);
	for (size_t i = 0; !rc && i < req->n_uris; i++)
		rc = add_artifact(s, req, t.id, req->uris[i].name, "uri",
				  json_pack("{s:s, s:s}", "uri",
					    req->uris[i].uri, "name",
					    req->uris[i].name),
				  err);
	if (rc)
		dd_store_rollback(s);
	else
		rc = dd_store_commit(s, err);
	if (!rc) {
		dd_wake_notify_on(s, DD_WAKE_DAEMON);
		*target = t.id;
		*lease = l.id;
	}
	dd_target_release(&t);
	dd_lease_release(&l);
	return rc;
}

int dd_run_output_begin(struct dd_store *s, long long target,
			struct dd_run_output *o, struct dd_error *err)
{
	int rc;

	memset(o, 0, sizeof(*o));
	rc = dd_file_begin(s, target, DD_RUN_OUTPUT_KEY, NULL, &o->up, err);
	if (rc)
		return rc;
	o->buf = dd_malloc(DD_CHUNK_SIZE);
	if (!o->buf) {
		dd_file_abort(s, &o->up, NULL);
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	}
	o->begun = true;
	o->written = dd_monotonic();
	return 0;
}

/* Write the gathered bytes as a chunk. */
static void output_write(struct dd_store *s, struct dd_run_output *o)
{
	if (!o->n || o->failed)
		return;
	dd_file_hash(&o->up, o->buf, o->n);
	if (dd_file_write(s, &o->up, o->buf, o->n, &o->err))
		o->failed = true;
	o->n = 0;
	o->written = dd_monotonic();
}

void dd_run_output_add(struct dd_store *s, struct dd_run_output *o,
		       const char *data, size_t n)
{
	while (o->begun && !o->failed && n) {
		size_t take = DD_CHUNK_SIZE - o->n;

		if (take > n)
			take = n;
		memcpy(o->buf + o->n, data, take);
		o->n += take;
		data += take;
		n -= take;
		if (o->n == DD_CHUNK_SIZE ||
		    dd_monotonic() - o->written >= OUTPUT_INTERVAL)
			output_write(s, o);
	}
}

int dd_run_output_end(struct dd_store *s, struct dd_run_output *o,
		      struct dd_error *err)
{
	int rc = 0;

	if (!o->begun)
		return 0;
	output_write(s, o);
	if (!o->failed)
		rc = dd_file_end(s, &o->up, NULL, err);
	else
		rc = dd_error_set(err, o->err.code ? o->err.code : DD_ERR_IO,
				  "cannot keep the output in '%s': %s",
				  DD_RUN_OUTPUT_KEY, o->err.msg);
	if (rc)
		dd_file_abort(s, &o->up, NULL);
	dd_free(o->buf);
	o->buf = NULL;
	o->begun = false;
	return rc;
}

/*
 * Store what `fd` gives until its end as file artifact `key`; before
 * completing it, `source_ok` (may be NULL) says whether that end was
 * the whole file, and if not, what was stored is deleted.
 */
static int upload_fd(struct dd_store *s, long long target, int fd,
		     const char *key,
		     int (*source_ok)(void *arg, struct dd_error *err),
		     void *arg, struct dd_artifact *out, struct dd_error *err)
{
	struct dd_file_upload u;
	char *buf;
	int rc = dd_file_begin(s, target, key, NULL, &u, err);

	if (rc)
		return rc;
	buf = dd_malloc(DD_CHUNK_SIZE);
	if (!buf) {
		dd_file_abort(s, &u, NULL);
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	}
	for (;;) {
		ssize_t n = read(fd, buf, DD_CHUNK_SIZE);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = dd_error_set(err, DD_ERR_IO,
					  "cannot read '%s': %s", key,
					  strerror(errno));
			break;
		}
		if (n == 0) {
			rc = source_ok ? source_ok(arg, err) : 0;
			if (!rc)
				rc = dd_file_end(s, &u, out, err);
			break;
		}
		dd_file_hash(&u, buf, (size_t)n);
		rc = dd_file_write(s, &u, buf, (size_t)n, err);
		if (rc)
			break;
	}
	dd_free(buf);
	if (rc)
		dd_file_abort(s, &u, NULL);
	return rc;
}

int dd_run_upload_file(struct dd_store *s, long long target, int fd,
		       const char *key, struct dd_artifact *out,
		       struct dd_error *err)
{
	return upload_fd(s, target, fd, key, NULL, NULL, out, err);
}

/* A lease's file read into a pipe by a thread of its own. */
struct lease_read {
	const struct dd_api_lease *h;
	const char *path;
	struct dd_file_options o;
	int out; /* the pipe's write end, closed when the read is done */
	pthread_t thread;
	bool joined;
	int rc;
	struct dd_error err;
};

static void *lease_read_run(void *arg)
{
	struct lease_read *x = arg;

	x->rc = dd_bp_file_read(x->h->bp.type, &x->h->bp.ctx, &x->h->resource,
				&x->h->lease, x->path, x->out, &x->o, &x->err);
	close(x->out);
	return NULL;
}

/* At the end of the pipe: was it the whole file? */
static int lease_read_ok(void *arg, struct dd_error *err)
{
	struct lease_read *x = arg;

	pthread_join(x->thread, NULL);
	x->joined = true;
	if (x->rc)
		*err = x->err;
	return x->rc;
}

int dd_run_upload_lease_file(struct dd_store *s, long long target,
			     const struct dd_api_lease *h, const char *path,
			     const struct dd_file_options *o,
			     struct dd_artifact *out, struct dd_error *err)
{
	struct lease_read x = {.h = h, .path = path, .o = *o};
	int p[2], rc;

	if (pipe2(p, O_CLOEXEC))
		return dd_error_set(err, DD_ERR_IO, "cannot make a pipe: %s",
				    strerror(errno));
	x.out = p[1];
	rc = pthread_create(&x.thread, NULL, lease_read_run, &x);
	if (rc) {
		close(p[0]);
		close(p[1]);
		return dd_error_set(err, DD_ERR_IO,
				    "cannot start a thread: %s", strerror(rc));
	}
	rc = upload_fd(s, target, p[0], path, lease_read_ok, &x, out, err);
	/* stored no further (a failed write): the read ends on EPIPE */
	close(p[0]);
	if (!x.joined)
		pthread_join(x.thread, NULL);
	return rc;
}

/* Is there a glob character in the first `n` bytes of `s`? */
static bool has_magic(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '*' || s[i] == '?' || s[i] == '[')
			return true;
	return false;
}

/*
 * Match the rest of the glob, `rest` (components separated by '/'), in
 * the directory `dir` ("" for the lease's own), one component at a time:
 * a literal one is taken as it is, one with a glob character matched
 * against the directory's listing.
 */
static int glob_walk(const struct dd_api_lease *h, const char *dir,
		     const char *rest, const struct dd_file_options *o,
		     int (*each)(void *arg, const char *path, char type),
		     void *arg, size_t *matches, struct dd_error *err)
{
	size_t n = strcspn(rest, "/");
	bool last = !rest[n];
	struct dd_file_list l = {NULL, 0};
	char path[DD_FILE_PATH_MAX + 1];
	int rc;

	if (!n) /* "a//b": an empty component is none */
		return last ? 0
			    : glob_walk(h, dir, rest + 1, o, each, arg,
					matches, err);
	if (!has_magic(rest, n)) {
		if (snprintf(path, sizeof(path), "%s%s%.*s", dir,
			     *dir ? "/" : "", (int)n, rest) >= (int)sizeof(path))
			return 0;
		if (!last)
			return glob_walk(h, path, rest + n + 1, o, each, arg,
					 matches, err);
		/* a literal name matches only if it is there */
		rc = dd_bp_file_list(h->bp.type, &h->bp.ctx, &h->resource, &h->lease,
				     path, &l, o, err);
		if (rc == DD_ERR_NOTFOUND)
			return 0;
		if (!rc) {
			(*matches)++;
			rc = each(arg, path, l.entries[0].type);
		}
		dd_file_list_release(&l);
		return rc;
	}
	rc = dd_bp_file_list(h->bp.type, &h->bp.ctx, &h->resource, &h->lease,
			     *dir ? dir : ".", &l, o, err);
	if (rc == DD_ERR_NOTFOUND || (!rc && l.entries[0].type != 'd')) {
		dd_file_list_release(&l);
		return 0;
	}
	for (size_t i = 1; !rc && i < l.n; i++) {
		char pat[NAME_MAX + 1];
		const struct dd_file_entry *e = &l.entries[i];

		snprintf(pat, sizeof(pat), "%.*s", (int)n, rest);
		if (fnmatch(pat, e->name, FNM_PERIOD) ||
		    snprintf(path, sizeof(path), "%s%s%s", dir,
			     *dir ? "/" : "", e->name) >= (int)sizeof(path))
			continue;
		if (!last) {
			/* a link may lead to a directory: its listing says */
			if (e->type == 'd' || e->type == 'l')
				rc = glob_walk(h, path, rest + n + 1, o, each,
					       arg, matches, err);
			continue;
		}
		(*matches)++;
		rc = each(arg, path, e->type);
	}
	dd_file_list_release(&l);
	return rc;
}

int dd_run_glob(const struct dd_api_lease *h, const char *pattern,
		const struct dd_file_options *o,
		int (*each)(void *arg, const char *path, char type),
		void *arg, size_t *matches, struct dd_error *err)
{
	*matches = 0;
	return glob_walk(h, "", pattern, o, each, arg, matches, err);
}

int dd_run_finish(struct dd_store *s, long long target, const char *result,
		  const char *reason, const char *author,
		  struct dd_error *err)
{
	json_t *data = json_pack("{s:s}", "result", result);
	int rc;

	if (!data)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	if (reason)
		json_object_set_new(data, "reason", json_string(reason));
	rc = dd_api_send(s, (struct dd_ref){DD_OBJ_TARGET, target}, "finish",
			 author, data, NULL, err);
	json_decref(data);
	return rc;
}
