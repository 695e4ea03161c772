/*
 * file.h - file artifacts' bytes in and out of the store, a piece at a
 * time: the one upload and download path behind the HTTP API's streamed
 * body and content routes and the CLI's `artifact add --file` and
 * `artifact get`.
 *
 * An upload inserts the artifact incomplete, appends each piece as a
 * chunk (store.h's artifact_append) while hashing it, and completes it
 * with its size and SHA-256; an upload that stops halfway is aborted,
 * which deletes the artifact and every chunk it had.  Nothing here holds
 * more than the piece it is given, so a file's size is bounded by the
 * store's disk, not by memory.  Each piece is its own transaction,
 * committed lazily (the last one, completing the file, is durable): an
 * upload never holds the store's write lock between pieces, so the
 * workers and other uploads go on meanwhile.
 */
#ifndef DD_API_FILE_H
#define DD_API_FILE_H

#include "core/model.h"
#include "core/sha256.h"
#include "store/store.h"

/* The largest file artifact a server takes unless configured otherwise. */
#define DD_FILE_MAX_DEFAULT (1024LL * 1024 * 1024)

/* One upload in progress. */
struct dd_file_upload {
	long long id;	 /* the incomplete artifact */
	long long size;	 /* bytes written so far */
	struct dd_sha256_ctx sha; /* of the bytes hashed so far */
};

/*
 * Check `key` and `name` (may be NULL) as a file artifact's, then insert
 * the artifact incomplete in target `target` and start `u`.  Refuses as
 * artifact_insert does (no such target, a target no longer building, a
 * key it has) and DD_ERR_INVALID for a bad key or name, changing nothing.
 */
int dd_file_begin(struct dd_store *s, long long target, const char *key,
		  const char *name, struct dd_file_upload *u,
		  struct dd_error *err);
/*
 * Append the n bytes at data (1 to DD_CHUNK_MAX).  Every byte appended
 * must also be passed to dd_file_hash(), in order: apart, so that a
 * server can hash the bytes as they arrive while a piece before them is
 * being written (it needs no store, and touches only u->sha).
 */
int dd_file_write(struct dd_store *s, struct dd_file_upload *u,
		  const void *data, size_t n, struct dd_error *err);
void dd_file_hash(struct dd_file_upload *u, const void *data, size_t n);
/*
 * Complete the artifact with the size written and the hash of the bytes
 * hashed, durably, and fill
 * *out (may be NULL) with it as stored.
 */
int dd_file_end(struct dd_store *s, struct dd_file_upload *u,
		struct dd_artifact *out, struct dd_error *err);
/*
 * Delete the incomplete artifact and its chunks (an upload cut off, or
 * refused halfway).  Errors are reported in `err` (may be NULL); what is
 * left then is an incomplete artifact that artifact_prune removes.
 */
int dd_file_abort(struct dd_store *s, struct dd_file_upload *u,
		  struct dd_error *err);

/*
 * A range of a file artifact's bytes: first byte and length, out of
 * `size`.  dd_file_range() parses an HTTP Range header's value ("bytes=
 * a-b", "bytes=a-", "bytes=-n"; one range only) against `size`:
 * 1 when it fits (the range set), 0 when the header is to be ignored (not
 * a bytes range, or several ranges: the whole file is sent), -1 when it
 * cannot be satisfied (416).
 */
struct dd_file_range {
	long long first, length;
};
int dd_file_range(const char *header, long long size,
		  struct dd_file_range *out);

#endif
