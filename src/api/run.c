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
		dd_wake_notify(s->path, DD_WAKE_DAEMON);
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

int dd_run_upload_file(struct dd_store *s, long long target, int fd,
		       const char *key, struct dd_artifact *out,
		       struct dd_error *err)
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
