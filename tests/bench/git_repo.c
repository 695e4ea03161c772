/*
 * git_repo.c - the `git` benchmark's generated repository and its git
 * runner (see git_repo.h).
 *
 * Why fast-import: 20,000 files and 5,000 commits made by `git add` and
 * `git commit` would take minutes of process starts and index writes;
 * one fast-import stream takes seconds, writes one pack, and deltifies
 * each new version of a file against its previous one, as a repacked
 * repository holds it.  A file's content is a function of its number
 * and of how many times it has been changed (each change rewrites one
 * line), so nothing but a counter per file is kept between commits.
 */
#include "git_repo.h"

#include "core/exec.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The first commit's time; each later one is ten minutes on. */
#define GIT_REPO_EPOCH 1600000000LL
#define GIT_REPO_IDENT "Drydock Bench <bench@drydock.invalid>"

/* ---- running git ---------------------------------------------------- */

struct git_start {
	const char *dir;
	char *const *argv;
	char *const *env; /* NULL: ours */
};

static int git_start(void *arg, const struct dd_exec_io *io, pid_t *pid,
		     struct dd_error *err)
{
	const struct git_start *g = arg;
	struct dd_exec_spec sp = {.argv = g->argv, .env = g->env,
				  .dir = g->dir};

	return dd_exec_spawn(&sp, io, pid, NULL, err);
}

/*
 * git_run() with `in` (a descriptor the caller keeps; -1: /dev/null)
 * and `env` (NULL: ours).
 */
static int git_run_in(const char *dir, const char *const argv[], int in,
		      char *const env[], struct dd_buf *out, double *secs,
		      struct dd_error *err)
{
	const char *full[32] = {"git"};
	struct git_start g = {dir, (char *const *)full, env};
	struct dd_exec_options o = {.timeout = GIT_REPO_TIMEOUT,
				    .grace = 2,
				    .cancel_fd = -1,
				    .null_input = in < 0,
				    .in_fd = in,
				    .out = out ? DD_EXEC_CAPTURE
					       : DD_EXEC_TO_FD,
				    .err = DD_EXEC_CAPTURE};
	struct dd_exec_result res;
	struct dd_error why = DD_ERROR_INIT;
	struct dd_buf what = DD_BUF_INIT;
	size_t n = 1;
	int null = -1, rc;
	double t0;

	while (argv[n - 1] && n < sizeof(full) / sizeof(*full) - 1) {
		full[n] = argv[n - 1];
		n++;
	}
	full[n] = NULL;
	if (!out) {
		null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		o.out_fd = null;
	}
	t0 = dd_monotonic();
	rc = dd_exec_run(git_start, &g, &o, &res, &why);
	if (secs)
		*secs = dd_monotonic() - t0;
	if (null >= 0)
		close(null);
	for (size_t i = 0; full[i]; i++)
		dd_buf_addf(&what, "%s%s", i ? " " : "", full[i]);
	if (rc) {
		dd_error_set(err, rc, "'%s' did not start: %s",
			     what.buf ? what.buf : "git", why.msg);
	} else if (res.timed_out || res.exit_status) {
		const char *e = res.err.buf ? res.err.buf : "";
		size_t len = strlen(e);

		while (len && e[len - 1] == '\n')
			len--;
		rc = dd_error_set(err, DD_ERR_IO, "'%s' %s %d: %.*s",
				  what.buf ? what.buf : "git",
				  res.timed_out ? "timed out, status"
						: "exited",
				  res.exit_status, (int)(len > 300 ? 300 : len),
				  e);
	} else if (out) {
		if (res.out.buf &&
		    dd_buf_add(out, res.out.buf, res.out.len))
			rc = dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	}
	dd_buf_release(&what);
	dd_exec_result_release(&res);
	return rc;
}

int git_run(const char *dir, const char *const argv[], struct dd_buf *out,
	    double *secs, struct dd_error *err)
{
	return git_run_in(dir, argv, -1, NULL, out, secs, err);
}

/* ---- the content --------------------------------------------------- */

/* splitmix64: a well-mixed 64-bit function of its argument. */
static unsigned long long mix(unsigned long long x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static unsigned long long next(struct git_repo *r)
{
	return mix(r->rng++);
}

static const char *const words[] = {
	"lease",   "resource", "blueprint", "command", "slot",	   "store",
	"error",   "status",   "buf",	    "len",     "count",	   "index",
	"next",	   "prev",     "head",	    "tail",    "node",	   "list",
	"key",	   "value",    "path",	    "name",    "flags",	   "mode",
	"offset",  "size",     "result",    "state",   "owner",	   "token",
	"if",	   "return",   "while",	    "for",     "struct",   "const",
	"int",	   "char",     "void",	    "static",  "unsigned", "long",
	"==",	   "!=",       "=",	    "+",       "->",	   "&&",
	"(",	   ")",	       "[",	    "]",       "0",	   "1",
	"NULL",	   "sizeof",   "goto",	    "out",     "fail",	   "done",
	"dd_free", "memcpy",   "strlen",    "assert",
};

/* Line `line` of file `file` as its change `change` (0: the first) wrote it. */
static void add_line(struct dd_buf *b, unsigned file, unsigned change,
		     unsigned line)
{
	unsigned long long x = mix(((unsigned long long)file << 40) ^
				   ((unsigned long long)change << 20) ^ line);
	int indent = (int)(x & 3), n = 2 + (int)((x >> 2) % 7);

	for (int i = 0; i < indent; i++)
		dd_buf_addstr(b, "\t");
	for (int i = 0; i < n; i++) {
		x = mix(x);
		dd_buf_addf(b, "%s%s", i ? " " : "",
			    words[x % (sizeof(words) / sizeof(*words))]);
	}
	dd_buf_addstr(b, (x >> 8) % 5 == 0 ? " {\n" : ";\n");
}

/*
 * File `file` after `version` changes: its first version's lines, each
 * change having rewritten the line it picks.
 */
static void file_content(struct dd_buf *b, unsigned file, unsigned version)
{
	unsigned lines = 8 + (unsigned)(mix(file) % 100);
	unsigned last[108] = {0};

	for (unsigned v = 1; v <= version; v++)
		last[mix(((unsigned long long)file << 32) | v) % lines] = v;
	dd_buf_addf(b, "/* f%05u.c - generated by drydock's benchmark */\n",
		    file);
	for (unsigned i = 0; i < lines; i++)
		add_line(b, file, last[i], i);
}

static void file_path(char *buf, size_t n, unsigned file)
{
	snprintf(buf, n, "src/d%03u/f%05u.c", file / 100, file);
}

static void put_file(FILE *f, const char *path, const char *data,
		     size_t len)
{
	fprintf(f, "M 100644 inline %s\ndata %zu\n", path, len);
	fwrite(data, 1, len, f);
	fputc('\n', f);
}

/* A commit's header; `from`: the branch as it is, for a later import. */
static void put_commit(FILE *f, int seq, const char *msg, bool from)
{
	long long t = GIT_REPO_EPOCH + 600LL * seq;

	fprintf(f,
		"commit refs/heads/main\n"
		"author " GIT_REPO_IDENT " %lld +0000\n"
		"committer " GIT_REPO_IDENT " %lld +0000\n"
		"data %zu\n%s\n",
		t, t, strlen(msg), msg);
	if (from)
		fputs("from refs/heads/main^0\n", f);
}

/* One changed file: its next version. */
static void put_change(struct git_repo *r, FILE *f, struct dd_buf *b)
{
	unsigned file = (unsigned)(next(r) % (unsigned)r->shape.files);
	char path[64];

	file_path(path, sizeof(path), file);
	b->len = 0;
	file_content(b, file, ++r->versions[file]);
	put_file(f, path, b->buf, b->len);
}

/* A commit after the first, changing `files` files. */
static void put_later_commit(struct git_repo *r, FILE *f, struct dd_buf *b,
			     int files, bool from)
{
	char msg[64];

	snprintf(msg, sizeof(msg), "change %d: %d files", r->commits + 1,
		 files);
	put_commit(f, r->commits, msg, from);
	for (int i = 0; i < files; i++)
		put_change(r, f, b);
	r->commits++;
}

/* ---- importing ----------------------------------------------------- */

/*
 * Feed the stream `emit` makes to `git fast-import` in the repository,
 * through a file beside it; then read where main is.
 */
static int import(struct git_repo *r,
		  void (*emit)(struct git_repo *r, FILE *f, void *arg),
		  void *arg, struct dd_error *err)
{
	static const char *const fast_import[] = {"fast-import", "--quiet",
						  "--done", NULL};
	static const char *const rev_parse[] = {"rev-parse", "--verify",
						"refs/heads/main", NULL};
	/*
	 * fast-import grows and shrinks its heap by small steps, a brk()
	 * each: 29,000 for 2,000 files, and on this project's virtual
	 * machine they were four fifths of its time (77 s of 20,000
	 * files, 12 s with the heap kept 64 MiB ahead)
	 */
	static char *const heap[] = {
		"GLIBC_TUNABLES=glibc.malloc.top_pad=67108864", NULL};
	struct dd_buf head = DD_BUF_INIT;
	char stream[4200], **env;
	FILE *f;
	int fd, rc;

	snprintf(stream, sizeof(stream), "%s.stream", r->path);
	f = fopen(stream, "w");
	if (!f)
		return dd_error_set(err, DD_ERR_IO, "cannot write '%s'",
				    stream);
	emit(r, f, arg);
	fputs("done\n", f);
	if (fclose(f)) {
		unlink(stream);
		return dd_error_set(err, DD_ERR_IO, "cannot write '%s'",
				    stream);
	}
	fd = open(stream, O_RDONLY | O_CLOEXEC);
	env = dd_exec_environ(NULL, heap);
	if (fd < 0 || !env)
		rc = dd_error_set(err, DD_ERR_IO, "cannot read '%s'", stream);
	else
		rc = git_run_in(r->path, fast_import, fd, env, NULL, NULL,
				err);
	dd_free(env);
	if (fd >= 0)
		close(fd);
	unlink(stream);
	if (!rc)
		rc = git_run(r->path, rev_parse, &head, NULL, err);
	if (!rc) {
		snprintf(r->head, sizeof(r->head), "%.40s",
			 head.buf ? head.buf : "");
		if (strlen(r->head) != 40)
			rc = dd_error_set(err, DD_ERR_IO,
					  "'%s' has no branch main after "
					  "fast-import",
					  r->path);
	}
	dd_buf_release(&head);
	return rc;
}

/* The whole history: every file, then the later commits. */
static void write_history(struct git_repo *r, FILE *f, void *arg)
{
	static const char gitignore[] = "*.o\nbuild/\n";
	static const char readme[] =
		"A repository generated by drydock's benchmark (tests/bench/"
		"git_repo.c).\n";
	struct dd_buf b = DD_BUF_INIT;

	(void)arg;
	put_commit(f, 0, "the first version of every file", false);
	put_file(f, ".gitignore", gitignore, sizeof(gitignore) - 1);
	put_file(f, "README", readme, sizeof(readme) - 1);
	for (int i = 0; i < r->shape.files; i++) {
		char path[64];

		file_path(path, sizeof(path), (unsigned)i);
		b.len = 0;
		file_content(&b, (unsigned)i, 0);
		put_file(f, path, b.buf, b.len);
	}
	r->commits = 1;
	while (r->commits < r->shape.commits) {
		int changes = r->shape.changes > 0 ? r->shape.changes : 1;

		put_later_commit(r, f, &b,
				 1 + (int)(next(r) % (unsigned)(2 * changes - 1)),
				 false);
	}
	dd_buf_release(&b);
}

/* One commit on top of what the repository has. */
static void write_one(struct git_repo *r, FILE *f, void *arg)
{
	struct dd_buf b = DD_BUF_INIT;

	put_later_commit(r, f, &b, *(const int *)arg, true);
	dd_buf_release(&b);
}

/* The size of its packs: count-objects' size-pack, in KiB. */
static long long pack_bytes(const struct git_repo *r)
{
	static const char *const count[] = {"count-objects", "-v", NULL};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_buf out = DD_BUF_INIT;
	const char *p;
	long long kib = -1;

	if (!git_run(r->path, count, &out, NULL, &err) && out.buf &&
	    (p = strstr(out.buf, "size-pack: ")))
		kib = atoll(p + 11);
	dd_buf_release(&out);
	return kib < 0 ? -1 : kib * 1024;
}

int git_repo_create(struct git_repo *r, const char *path,
		    const struct git_repo_shape *shape, struct dd_error *err)
{
	const char *init[] = {"init", "--quiet", "--bare", "-b", "main", path,
			      NULL};
	int rc;

	memset(r, 0, sizeof(*r));
	r->shape = *shape;
	if (r->shape.files < 1 || r->shape.commits < 1)
		return dd_error_set(err, DD_ERR_INVALID,
				    "a repository needs a file and a commit");
	snprintf(r->path, sizeof(r->path), "%s", path);
	snprintf(r->uri, sizeof(r->uri), "file://%s", path);
	r->versions = dd_calloc((size_t)r->shape.files, sizeof(unsigned));
	if (!r->versions)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	rc = git_run(NULL, init, NULL, NULL, err);
	if (!rc)
		rc = import(r, write_history, NULL, err);
	if (!rc)
		r->pack_bytes = pack_bytes(r);
	return rc;
}

int git_repo_commit(struct git_repo *r, int files, struct dd_error *err)
{
	return import(r, write_one, &files, err);
}

int git_repo_count(const struct git_repo *r, long long *files,
		   long long *commits, struct dd_error *err)
{
	static const char *const ls_tree[] = {"ls-tree", "-r", "--name-only",
					      "refs/heads/main", NULL};
	static const char *const rev_list[] = {"rev-list", "--count",
					       "refs/heads/main", NULL};
	struct dd_buf names = DD_BUF_INIT, count = DD_BUF_INIT;
	int rc = git_run(r->path, ls_tree, &names, NULL, err);

	if (!rc)
		rc = git_run(r->path, rev_list, &count, NULL, err);
	*files = 0;
	for (size_t i = 0; !rc && i < names.len; i++)
		*files += names.buf[i] == '\n';
	*commits = rc || !count.buf ? 0 : atoll(count.buf);
	dd_buf_release(&names);
	dd_buf_release(&count);
	return rc;
}

void git_repo_release(struct git_repo *r)
{
	dd_free(r->versions);
	r->versions = NULL;
}
