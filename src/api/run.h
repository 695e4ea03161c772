/*
 * run.h - a build as one call sequence: the library behind `drydock run`,
 * kept apart from the CLI so that the API or the web UI can run builds
 * the same way.
 *
 * A run is a build target holding one lease.  dd_run_start() creates the
 * target, the lease, the lease's `host` artifact and the `uri` artifacts
 * in ONE store transaction.  That is what makes the lease impossible to
 * orphan: the lease's update task is queued in the same transaction, so no
 * worker can see the lease, let alone activate it, before the artifact
 * that ties it to the target exists; and once it exists, every ending of
 * the target (finished by the run, or aborted at its deadline after the
 * run died) releases the lease.  A refusal of any part (bad attributes,
 * a URI with a forbidden scheme, two URIs with one name) rolls all of it
 * back: nothing is created.
 *
 * Then the caller waits for the lease, runs its command with
 * dd_api_exec(), keeps the command's output in a `file` artifact as it
 * comes (dd_run_output_*: a bounded buffer, never the whole output),
 * uploads the lease's files matching its globs through the lease's files
 * interface (dd_run_glob, dd_run_upload_lease_file) and finishes the
 * target with dd_run_finish(), a "finish" command that the target's update worker
 * applies, releasing the lease.  Nothing here releases the lease itself.
 */
#ifndef DD_API_RUN_H
#define DD_API_RUN_H

#include "api/api.h"
#include "api/file.h"
#include "core/target.h"

/* A run's deadline when none is given: after it the daemon aborts it. */
#define DD_RUN_TTL_DEFAULT 3600.0
/* The key of the artifact holding the command's combined output. */
#define DD_RUN_OUTPUT_KEY "output.log"
/* The key of the artifact holding the run's lease. */
#define DD_RUN_LEASE_KEY "lease"

/* A `--uri NAME=URL`: a uri artifact with key and name NAME. */
struct dd_run_uri {
	const char *name, *uri;
};

struct dd_run_request {
	const char *name;  /* the target's name, or NULL */
	double ttl;	   /* seconds to the target's deadline (> 0) */
	const char *owner; /* of the target and the lease */
	struct dd_lease_request lease; /* its owner is `owner` */
	const struct dd_run_uri *uris;
	size_t n_uris;
	const struct dd_artifact_rules *rules; /* NULL: the defaults */
};

/*
 * Check what can be checked without a store: the name, the ttl, and each
 * URI artifact's key and data.  DD_ERR_INVALID naming what is wrong.
 */
int dd_run_check(const struct dd_run_request *req, struct dd_error *err);

/*
 * Create the run's target, lease and artifacts in one transaction (see
 * above) and wake the daemons after the commit; *target and *lease are
 * their ids.  Refuses as dd_run_check(), dd_api_target_create(),
 * dd_api_lease_create() and dd_api_artifact_add() do, creating nothing.
 */
int dd_run_start(struct dd_store *s, const struct dd_run_request *req,
		 long long *target, long long *lease, struct dd_error *err);

/*
 * The command's output, kept as file artifact DD_RUN_OUTPUT_KEY while it
 * runs.  Bytes are gathered up to DD_CHUNK_SIZE and written as a chunk
 * when that is full, or when they come more than a second after the
 * previous write (nothing here runs between outputs, so a quiet command's
 * last bytes wait for its next output or the end): the output is in
 * the store while the build goes on, and memory holds at most one
 * chunk.  A write that fails stops the keeping (the
 * command goes on); dd_run_output_end() reports it.
 */
struct dd_run_output {
	struct dd_file_upload up;
	char *buf;
	size_t n;
	double written; /* dd_monotonic() of the last write */
	bool begun, failed;
	struct dd_error err; /* why keeping stopped */
};
int dd_run_output_begin(struct dd_store *s, long long target,
			struct dd_run_output *o, struct dd_error *err);
void dd_run_output_add(struct dd_store *s, struct dd_run_output *o,
		       const char *data, size_t n);
/*
 * Write what is gathered and complete the artifact (or, when keeping
 * failed, delete what was stored and report why); frees the buffer.
 */
int dd_run_output_end(struct dd_store *s, struct dd_run_output *o,
		      struct dd_error *err);

/*
 * Upload the regular file open at `fd` as file artifact `key` of
 * `target`, a piece at a time, hashing it as it goes; *out (may be NULL)
 * receives the artifact.  A failure halfway deletes what was stored.
 */
int dd_run_upload_file(struct dd_store *s, long long target, int fd,
		       const char *key, struct dd_artifact *out,
		       struct dd_error *err);

/*
 * Upload the file `path` of lease `h` (dd_api_lease_open()) as file
 * artifact `path` of `target`, read through the lease's files interface
 * (so from any blueprint type) into a pipe by a thread of its own and
 * stored a chunk at a time as it comes; the artifact is completed only
 * when the whole file was read, else what was stored is deleted.
 */
int dd_run_upload_lease_file(struct dd_store *s, long long target,
			     const struct dd_api_lease *h, const char *path,
			     const struct dd_file_options *o,
			     struct dd_artifact *out, struct dd_error *err);

/*
 * Match the glob `pattern` (relative, components separated by '/', each
 * as fnmatch(3) reads it, a leading '.' matched only by a '.') against
 * lease `h`'s files through its files interface, in name order as
 * glob(3) gives them: `each` gets every match's path and kind ('f', 'd',
 * 'l' for a link, 'o'), and its nonzero return stops the walk and is
 * returned.  *matches counts them.  A directory that is missing matches
 * nothing; a listing that fails is the error returned.
 */
int dd_run_glob(const struct dd_api_lease *h, const char *pattern,
		const struct dd_file_options *o,
		int (*each)(void *arg, const char *path, char type),
		void *arg, size_t *matches, struct dd_error *err);

/*
 * Finish `target` as `result` ("passed", "failed" or "aborted") with an
 * optional `reason` for its log: the finish command, which releases the
 * run's lease when the target's update worker applies it.
 */
int dd_run_finish(struct dd_store *s, long long target, const char *result,
		  const char *reason, const char *author,
		  struct dd_error *err);

#endif
