/*
 * test_store_chunks.c - the bytes of file artifacts (store.h's
 * artifact_append, _complete, _read, _delete and _prune) as every backend
 * must keep them, run against each backend in store_test.h's table: a
 * 5 MB file streamed in chunks of several sizes and read back, hash
 * checked, with reads of odd sizes across the chunk borders; the refusals
 * and their messages; several writers appending to one file at once from
 * handles of their own; a writer that cannot get the file while another
 * holds it refused cleanly, its caller's transaction intact; a prune
 * that leaves alone an upload another transaction holds; and an upload
 * under injected store faults leaving nothing.  Each test is named
 * "BACKEND: test" in the output.
 *
 * test_store_targets.c has the SQLite store's own checks of the chunk
 * rows; nothing here opens the store's files or tables directly.
 */
#include "store_test.h"

#include "core/sha256.h"

/* ---- helpers ---------------------------------------------------------- */

static long long add_target(struct dd_store *s)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_target t = {0};

	t.name = (char *)"t";
	t.status = DD_TARGET_BUILDING;
	assert_ok(dd_store_target_insert(s, &t, &err), &err);
	return t.id;
}

/* An artifact of target t: a file (incomplete, no bytes) or a uri. */
static long long add_artifact(struct dd_store *s, long long t,
			      const char *key, bool file)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_artifact a = {0};

	a.target = t;
	a.key = (char *)key;
	a.type = (char *)(file ? "file" : "uri");
	a.data = file ? json_object() : json_pack("{s:s}", "uri", "http://x");
	a.complete = !file;
	assert_ok(dd_store_artifact_insert(s, &a, &err), &err);
	json_decref(a.data);
	return a.id;
}

static long long stored_size(struct dd_store *s, long long id)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_artifact a = {0};
	long long size;

	assert_ok(dd_store_artifact_get(s, id, &a, &err), &err);
	size = a.size;
	dd_artifact_release(&a);
	return size;
}

static long long artifact_bytes(struct dd_store *s)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store_stats st;

	assert_ok(dd_store_stats(s, dd_now(), &st, &err), &err);
	return st.artifact_bytes;
}

/* Deterministic bytes that differ at every offset of a few MB. */
static void fill(unsigned char *p, size_t n, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
}

/* Another handle on the test's store, waiting at most busy_ms for it. */
static struct dd_store *open_other(const struct store_env *e, int busy_ms)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store_options opt;
	struct dd_store *s = NULL;

	dd_store_options_from_env(&opt);
	opt.busy_timeout_ms = busy_ms;
	assert_ok(dd_store_open(e->location, &opt, &s, &err), &err);
	return s;
}

/*
 * Read the whole file into `out` (`size` bytes expected) with reads of
 * the sizes in caps[] in turn, each checked: never more than asked, no
 * short read of nothing before the end, nothing at the end.
 */
static void read_all(struct dd_store *s, long long id, unsigned char *out,
		     size_t size, const size_t *caps, size_t ncaps)
{
	struct dd_error err = DD_ERROR_INIT;
	size_t pos = 0, n, k = 0;

	while (pos < size) {
		size_t cap = caps[k++ % ncaps];

		assert_ok(dd_store_artifact_read(s, id, (long long)pos,
						 out + pos, cap, &n, &err),
			  &err);
		assert_true(n > 0);
		assert_true(n <= cap);
		pos += n;
	}
	assert_int_equal(pos, size);
	assert_ok(dd_store_artifact_read(s, id, (long long)pos, out, 1, &n,
					 &err),
		  &err);
	assert_int_equal(n, 0);
}

/* ---- a big file ------------------------------------------------------- */

/*
 * 5 MB streamed in chunks of the usual size, the largest, odd sizes and
 * single bytes, in several transactions; read back whole with reads of
 * odd sizes that cross every chunk border, and at the bytes around each
 * border on their own; the hash the writer computed is the reader's.
 */
static void test_big_file_odd_reads(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	const size_t size = 5 * 1024 * 1024;
	const size_t sizes[] = {DD_CHUNK_SIZE, 77777, 1, DD_CHUNK_MAX, 3,
				65536, 123457};
	const size_t caps[] = {4093, 1, 65537, 300001, DD_CHUNK_MAX + 7, 2};
	unsigned char *data = malloc(size), *back = malloc(size);
	size_t borders[64], nb = 0, at = 0, k = 0, n;
	char wrote[65], got[65];
	struct dd_sha256_ctx c;
	struct dd_artifact a = {0};
	long long id = add_artifact(e->store, add_target(e->store), "f", true);

	assert_non_null(data);
	assert_non_null(back);
	fill(data, size, 7);
	dd_sha256_init(&c);
	while (at < size) {
		size_t len = sizes[k++ % (sizeof(sizes) / sizeof(*sizes))];

		if (len > size - at)
			len = size - at;
		/* every fourth chunk in the caller's transaction, with one */
		if (k % 4 == 0)
			assert_ok(dd_store_begin(e->store, &err), &err);
		assert_ok(dd_store_artifact_append(e->store, id, data + at, len,
						   &err),
			  &err);
		if (k % 4 == 0)
			assert_ok(dd_store_commit(e->store, &err), &err);
		dd_sha256_update(&c, data + at, len);
		at += len;
		if (nb < sizeof(borders) / sizeof(*borders))
			borders[nb++] = at;
	}
	dd_sha256_final_hex(&c, wrote);
	/* an incomplete file reads as far as it is stored */
	assert_ok(dd_store_artifact_read(e->store, id, 0, back, 10, &n, &err),
		  &err);
	assert_int_equal(n, 10);
	assert_memory_equal(back, data, 10);
	assert_ok(dd_store_artifact_complete(e->store, id, (long long)size,
					     wrote, &err),
		  &err);
	assert_int_equal(stored_size(e->store, id), (long long)size);
	assert_int_equal(artifact_bytes(e->store), (long long)size);

	memset(back, 0, size);
	read_all(e->store, id, back, size, caps, sizeof(caps) / sizeof(*caps));
	assert_memory_equal(back, data, size);
	dd_sha256_hex(back, size, got);
	assert_string_equal(got, wrote);

	/* around each border: the last byte of a chunk, the first of the next */
	for (size_t i = 0; i + 1 < nb; i++) {
		unsigned char two[2] = {0};

		assert_ok(dd_store_artifact_read(e->store, id,
						 (long long)borders[i] - 1, two,
						 2, &n, &err),
			  &err);
		assert_int_equal(n, 1); /* a read ends with its chunk */
		assert_int_equal(two[0], data[borders[i] - 1]);
		assert_ok(dd_store_artifact_read(e->store, id,
						 (long long)borders[i], two, 2,
						 &n, &err),
			  &err);
		assert_true(n >= 1);
		assert_memory_equal(two, data + borders[i], n);
	}
	/* far past the end: nothing, not an error */
	assert_ok(dd_store_artifact_read(e->store, id, 1LL << 50, back, 10, &n,
					 &err),
		  &err);
	assert_int_equal(n, 0);
	assert_ok(dd_store_artifact_get(e->store, id, &a, &err), &err);
	assert_true(a.complete);
	assert_string_equal(a.sha256, wrote);
	dd_artifact_release(&a);
	free(data);
	free(back);
}

/* ---- refusals --------------------------------------------------------- */

/* The errors and their messages, the same on every backend. */
static void test_refusals(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	unsigned char b[16] = "0123456789abcdef", back[16];
	char hex[65];
	long long t = add_target(e->store);
	long long f = add_artifact(e->store, t, "f", true);
	long long u = add_artifact(e->store, t, "u", false);
	long long empty = add_artifact(e->store, t, "e", true);
	size_t n = 99;

	/* a file with no bytes yet reads as empty; no artifact, not found */
	assert_ok(dd_store_artifact_read(e->store, empty, 0, back, 16, &n,
					 &err),
		  &err);
	assert_int_equal(n, 0);
	assert_int_equal(dd_store_artifact_read(e->store, 99, 0, back, 16, &n,
						&err),
			 DD_ERR_NOTFOUND);
	assert_string_equal(err.msg, "no such artifact: 99");

	assert_ok(dd_store_artifact_append(e->store, f, b, 16, &err), &err);
	assert_int_equal(dd_store_artifact_append(e->store, u, b, 4, &err),
			 DD_ERR_STATE);
	assert_string_equal(err.msg,
			    "cannot append to artifact 2: it is complete");
	assert_int_equal(dd_store_artifact_append(e->store, 99, b, 4, &err),
			 DD_ERR_NOTFOUND);
	assert_string_equal(err.msg, "no such artifact: 99");

	dd_sha256_hex(b, 16, hex);
	assert_int_equal(dd_store_artifact_complete(e->store, f, 17, hex, &err),
			 DD_ERR_STATE);
	assert_string_equal(err.msg, "cannot complete artifact 1 with 17 "
				     "bytes: 16 are stored");
	assert_int_equal(dd_store_artifact_complete(e->store, 99, 16, hex,
						    &err),
			 DD_ERR_NOTFOUND);
	assert_string_equal(err.msg, "no such artifact: 99");
	assert_ok(dd_store_artifact_complete(e->store, f, 16, hex, &err),
		  &err);
	assert_int_equal(dd_store_artifact_complete(e->store, f, 16, hex, &err),
			 DD_ERR_STATE);
	assert_string_equal(err.msg, "cannot complete artifact 1: it is "
				     "complete");
	assert_int_equal(dd_store_artifact_append(e->store, f, b, 4, &err),
			 DD_ERR_STATE);
	assert_int_equal(dd_store_artifact_delete(e->store, f, &err),
			 DD_ERR_STATE);
	assert_string_equal(err.msg,
			    "cannot delete artifact 1: it is complete");
	assert_int_equal(dd_store_artifact_delete(e->store, 99, &err),
			 DD_ERR_NOTFOUND);
	assert_string_equal(err.msg, "no such artifact: 99");

	/* nothing refused changed anything */
	assert_int_equal(stored_size(e->store, f), 16);
	assert_int_equal(artifact_bytes(e->store), 16);
	assert_ok(dd_store_artifact_read(e->store, f, 0, back, 16, &n, &err),
		  &err);
	assert_int_equal(n, 16);
	assert_memory_equal(back, b, 16);

	/* an empty upload deleted is gone; its key is free again */
	assert_ok(dd_store_artifact_delete(e->store, empty, &err), &err);
	assert_int_equal(dd_store_artifact_read(e->store, empty, 0, back, 16,
						&n, &err),
			 DD_ERR_NOTFOUND);
	add_artifact(e->store, t, "e", true);
}

/*
 * Inside the caller's transaction a refused append leaves the caller's
 * other writes in place, and a deleted upload takes its bytes with it.
 */
static void test_refusal_inside_transaction(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	unsigned char b[10] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0};
	long long t = add_target(e->store);
	long long f = add_artifact(e->store, t, "f", true);
	long long u = add_artifact(e->store, t, "u", false);
	long long cut = add_artifact(e->store, t, "cut", true);

	assert_ok(dd_store_begin(e->store, &err), &err);
	assert_ok(dd_store_artifact_append(e->store, f, b, 10, &err), &err);
	assert_int_equal(dd_store_artifact_append(e->store, u, b, 10, &err),
			 DD_ERR_STATE);
	assert_int_equal(dd_store_artifact_append(e->store, 99, b, 10, &err),
			 DD_ERR_NOTFOUND);
	assert_ok(dd_store_artifact_append(e->store, cut, b, 10, &err), &err);
	assert_ok(dd_store_artifact_delete(e->store, cut, &err), &err);
	assert_ok(dd_store_artifact_append(e->store, f, b, 5, &err), &err);
	assert_ok(dd_store_commit(e->store, &err), &err);
	assert_int_equal(stored_size(e->store, f), 15);
	assert_int_equal(artifact_bytes(e->store), 15);

	/* and a rolled back one leaves nothing */
	assert_ok(dd_store_begin(e->store, &err), &err);
	assert_ok(dd_store_artifact_append(e->store, f, b, 7, &err), &err);
	dd_store_rollback(e->store);
	assert_int_equal(stored_size(e->store, f), 15);
	assert_int_equal(artifact_bytes(e->store), 15);
}

/* ---- several writers -------------------------------------------------- */

#define WRITERS 4
#define APPENDS 25

struct writer {
	const struct store_env *e;
	long long id;
	int who;
	int rc;
	char msg[512];
};

/*
 * A record: the writer, its sequence number, its length (2 bytes each,
 * big-endian), then bytes that depend on all three.
 */
static size_t record(unsigned char *p, int who, int seq)
{
	size_t len = 8 + (size_t)((who * 7919 + seq * 104729) % 5000);

	p[0] = (unsigned char)who;
	p[1] = (unsigned char)seq;
	p[2] = (unsigned char)(len >> 8);
	p[3] = (unsigned char)len;
	fill(p + 4, len - 4, (unsigned)(who * 1000 + seq));
	return len;
}

static void *write_records(void *arg)
{
	struct writer *w = arg;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store_options opt;
	struct dd_store *s = NULL;
	unsigned char buf[8 + 5000];

	dd_store_options_from_env(&opt);
	w->rc = dd_store_open(w->e->location, &opt, &s, &err);
	for (int seq = 0; !w->rc && seq < APPENDS; seq++) {
		size_t len = record(buf, w->who, seq);

		w->rc = dd_store_artifact_append(s, w->id, buf, len, &err);
	}
	if (w->rc)
		snprintf(w->msg, sizeof(w->msg), "%s", err.msg);
	dd_store_close(s);
	return NULL;
}

/*
 * Writers on handles of their own append to one file at once, each
 * append its own transaction: each goes after the one before, none is
 * refused or lost, the file is their records one after another, each
 * writer's in its order, and the size is the sum.
 */
static void test_writers_at_once(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	long long id = add_artifact(e->store, add_target(e->store), "f", true);
	struct writer w[WRITERS];
	pthread_t th[WRITERS];
	int next[WRITERS] = {0};
	unsigned char want[8 + 5000], got[8 + 5000];
	long long size, pos = 0;

	for (int i = 0; i < WRITERS; i++) {
		w[i] = (struct writer){.e = e, .id = id, .who = i};
		assert_int_equal(
			pthread_create(&th[i], NULL, write_records, &w[i]), 0);
	}
	for (int i = 0; i < WRITERS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		if (w[i].rc)
			fail_msg("writer %d: %s (%s)", i, w[i].msg,
				 dd_err_name(w[i].rc));
	}
	size = stored_size(e->store, id);
	while (pos < size) {
		size_t n, len, have = 0;

		/* a record is one chunk: read it, header first */
		assert_ok(dd_store_artifact_read(e->store, id, pos, got, 4, &n,
						 &err),
			  &err);
		assert_int_equal(n, 4);
		assert_true(got[0] < WRITERS);
		assert_int_equal(got[1], next[got[0]]);
		len = record(want, got[0], next[got[0]]++);
		while (have < len) {
			assert_ok(dd_store_artifact_read(e->store, id,
							 pos + (long long)have,
							 got + have,
							 sizeof(got) - have, &n,
							 &err),
				  &err);
			assert_true(n > 0);
			have += n;
		}
		assert_int_equal(have, len);
		assert_memory_equal(got, want, len);
		pos += (long long)len;
	}
	assert_int_equal(pos, size);
	for (int i = 0; i < WRITERS; i++)
		assert_int_equal(next[i], APPENDS);
	assert_int_equal(artifact_bytes(e->store), size);
}

/*
 * While one handle's transaction holds a file being written, another
 * handle's append waits at most its busy timeout and is refused
 * (DD_ERR_BUSY) having written nothing; once the first commits, the
 * second's append goes after its bytes.  A store that lets the second
 * handle open a transaction of its own at all keeps that transaction
 * usable after the refusal (a single-writer store refuses the begin).
 */
static void test_held_file_refused_cleanly(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *other = open_other(e, 200);
	unsigned char a[10] = "aaaaaaaaaa", b[6] = "bbbbbb", back[16];
	long long t = add_target(e->store);
	long long id = add_artifact(e->store, t, "f", true);
	struct dd_target got = {0};
	struct dd_target mark = {0};
	size_t n;
	int rc;

	assert_ok(dd_store_begin(e->store, &err), &err);
	assert_ok(dd_store_artifact_append(e->store, id, a, 10, &err), &err);

	assert_int_equal(dd_store_artifact_append(other, id, b, 6, &err),
			 DD_ERR_BUSY);
	rc = dd_store_begin(other, &err);
	if (rc) {
		assert_int_equal(rc, DD_ERR_BUSY);
	} else {
		mark.name = (char *)"other";
		mark.status = DD_TARGET_BUILDING;
		assert_ok(dd_store_target_insert(other, &mark, &err), &err);
		assert_int_equal(
			dd_store_artifact_append(other, id, b, 6, &err),
			DD_ERR_BUSY);
		assert_ok(dd_store_commit(other, &err), &err);
		assert_ok(dd_store_target_get(e->store, mark.id, &got, &err),
			  &err);
		assert_string_equal(got.name, "other");
		dd_target_release(&got);
	}
	assert_ok(dd_store_commit(e->store, &err), &err);
	assert_int_equal(stored_size(other, id), 10);

	assert_ok(dd_store_artifact_append(other, id, b, 6, &err), &err);
	assert_int_equal(stored_size(e->store, id), 16);
	assert_ok(dd_store_artifact_read(e->store, id, 0, back, 16, &n, &err),
		  &err);
	assert_int_equal(n, 10);
	assert_memory_equal(back, a, 10);
	assert_ok(dd_store_artifact_read(e->store, id, 10, back, 16, &n, &err),
		  &err);
	assert_int_equal(n, 6);
	assert_memory_equal(back, b, 6);
	assert_int_equal(artifact_bytes(e->store), 16);
	dd_store_close(other);
}

/*
 * prune removes stale uploads and every byte they had, oldest first and
 * at most `max`; never a complete file, and never one another
 * transaction holds at that moment, here one being completed (when the
 * store lets a second writer in at all: a single-writer store refuses
 * the pruner as busy, which removes nothing either).
 */
static void test_prune(void **state)
{
	struct store_env *e = *state;
	struct dd_error err = DD_ERROR_INIT;
	unsigned char b[100] = {1}, back[100];
	char hex[65], hex10[65];
	long long t = add_target(e->store);
	long long old1 = add_artifact(e->store, t, "a", true);
	long long old2 = add_artifact(e->store, t, "b", true);
	long long done_ = add_artifact(e->store, t, "c", true);
	long long held = add_artifact(e->store, t, "d", true);
	struct dd_store *other = open_other(e, 200);
	struct dd_artifact a = {0};
	size_t n;
	int pruned = -1, rc;

	assert_ok(dd_store_artifact_append(e->store, old1, b, 100, &err), &err);
	assert_ok(dd_store_artifact_append(e->store, old2, b, 50, &err), &err);
	assert_ok(dd_store_artifact_append(e->store, done_, b, 100, &err),
		  &err);
	dd_sha256_hex(b, 100, hex);
	assert_ok(dd_store_artifact_complete(e->store, done_, 100, hex, &err),
		  &err);
	assert_ok(dd_store_artifact_append(e->store, held, b, 10, &err), &err);

	/* `held` is being completed, stale as it looks to everyone else */
	dd_sha256_hex(b, 10, hex10);
	assert_ok(dd_store_begin(e->store, &err), &err);
	assert_ok(dd_store_artifact_complete(e->store, held, 10, hex10, &err),
		  &err);
	rc = dd_store_begin(other, &err);
	if (rc) {
		/* one writer at a time: the pruner cannot start */
		assert_int_equal(rc, DD_ERR_BUSY);
		assert_int_equal(dd_store_artifact_prune(other, dd_now() + 3600,
							 10, &pruned, &err),
				 DD_ERR_BUSY);
		assert_int_equal(pruned, 0);
	} else {
		/* the oldest first, at most max, and not the one held */
		assert_ok(dd_store_artifact_prune(other, dd_now() + 3600, 1,
						  &pruned, &err),
			  &err);
		assert_int_equal(pruned, 1);
		assert_int_equal(dd_store_artifact_get(other, old1, &a, &err),
				 DD_ERR_NOTFOUND);
		assert_ok(dd_store_artifact_prune(other, dd_now() + 3600, 10,
						  &pruned, &err),
			  &err);
		assert_int_equal(pruned, 1);
		assert_ok(dd_store_commit(other, &err), &err);
	}
	assert_ok(dd_store_commit(e->store, &err), &err);
	assert_ok(dd_store_artifact_get(other, held, &a, &err), &err);
	assert_true(a.complete);
	assert_int_equal(a.size, 10);
	dd_artifact_release(&a);
	assert_ok(dd_store_artifact_read(other, held, 0, back, 100, &n, &err),
		  &err);
	assert_int_equal(n, 10);

	/* nothing written since `before` is stale */
	assert_ok(dd_store_artifact_prune(other, 1, 10, &pruned, &err), &err);
	assert_int_equal(pruned, 0);
	assert_ok(dd_store_artifact_prune(other, dd_now() + 3600, 10, &pruned,
					  &err),
		  &err);
	assert_int_equal(pruned, rc ? 2 : 0);
	assert_ok(dd_store_artifact_prune(other, dd_now() + 3600, 10, &pruned,
					  &err),
		  &err);
	assert_int_equal(pruned, 0);
	assert_int_equal(dd_store_artifact_get(e->store, old1, &a, &err),
			 DD_ERR_NOTFOUND);
	assert_int_equal(dd_store_artifact_read(e->store, old2, 0, back, 10, &n,
						&err),
			 DD_ERR_NOTFOUND);
	assert_int_equal(stored_size(e->store, done_), 100);
	assert_int_equal(artifact_bytes(e->store), 110);
	dd_store_close(other);
}

/* ---- faults ----------------------------------------------------------- */

static size_t artifact_count(struct dd_store *s, long long target)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {.target_id = target};
	struct dd_artifact_list l = {0};
	size_t n;

	assert_ok(dd_store_artifact_list(s, &f, &l, &err), &err);
	n = l.n;
	dd_artifact_list_release(&l);
	return n;
}

/*
 * A whole upload in one transaction with the store failing at each call
 * in turn: whatever call fails, the rollback leaves no artifact and no
 * byte counted; with no fault, it is all there.
 */
static void test_fault_during_upload_leaves_nothing(void **state)
{
	struct store_env *e = *state;
	unsigned char data[3 * 1000], back[1000];
	long long t = add_target(e->store);
	bool finished = false;

	fill(data, sizeof(data), 4);
	for (long k = 0; !finished && k < 20; k++) {
		struct dd_error err = DD_ERROR_INIT;
		struct dd_sha256_ctx c;
		struct dd_artifact a = {0};
		char hex[65];
		size_t n;
		int rc;

		dd_store_fail_after(k, DD_ERR_STORE);
		rc = dd_store_begin(e->store, &err);
		if (!rc) {
			a.target = t;
			a.key = (char *)"f";
			a.type = (char *)"file";
			a.data = json_object();
			rc = dd_store_artifact_insert(e->store, &a, &err);
			json_decref(a.data);
		}
		dd_sha256_init(&c);
		for (int i = 0; !rc && i < 3; i++) {
			rc = dd_store_artifact_append(e->store, a.id,
						      data + i * 1000, 1000,
						      &err);
			dd_sha256_update(&c, data + i * 1000, 1000);
		}
		dd_sha256_final_hex(&c, hex);
		if (!rc)
			rc = dd_store_artifact_complete(e->store, a.id,
							sizeof(data), hex,
							&err);
		if (!rc)
			rc = dd_store_commit(e->store, &err);
		else
			dd_store_rollback(e->store);
		dd_store_fail_after(-1, 0);
		if (rc) {
			assert_int_equal(rc, DD_ERR_STORE);
			assert_string_equal(err.msg, "injected store fault");
			assert_int_equal(artifact_count(e->store, t), 0);
			assert_int_equal(artifact_bytes(e->store), 0);
			continue;
		}
		finished = true;
		assert_true(k >= 5); /* begin, insert, 3 appends, complete */
		assert_int_equal(artifact_count(e->store, t), 1);
		assert_int_equal(artifact_bytes(e->store), sizeof(data));
		assert_ok(dd_store_artifact_read(e->store, a.id, 2000, back,
						 sizeof(back), &n, &err),
			  &err);
		assert_int_equal(n, 1000);
		assert_memory_equal(back, data + 2000, 1000);
	}
	assert_true(finished);
}

#define SUITE(X)                                                               \
	X(test_big_file_odd_reads)                                             \
	X(test_refusals)                                                       \
	X(test_refusal_inside_transaction)                                     \
	X(test_writers_at_once)                                                \
	X(test_held_file_refused_cleanly)                                      \
	X(test_prune)                                                          \
	X(test_fault_during_upload_leaves_nothing)

STORE_SUITE_MAIN("store conformance: file chunks", SUITE)
