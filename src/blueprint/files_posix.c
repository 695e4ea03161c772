/*
 * files_posix.c - the generic files interface (files_posix.h): one fixed
 * sh script per operation, run on the lease through its type's command
 * interface, its stdin or stdout the caller's descriptor, so the bytes go
 * straight between the command and the caller's file or pipe and never
 * through drydock's memory.
 */
#include "blueprint/files_posix.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The scripts' own exit statuses: what went wrong, for the error code. */
#define EXIT_NOT_FOUND 90
#define EXIT_IS_DIR 91
#define EXIT_NOT_DIR 92

/*
 * $1 is the path (made "./PATH" when relative), $2 the mode.  `[ -e ]`
 * follows links; a dangling one is "no such file".
 */
static const char read_script[] = "[ -e \"$1\" ] || exit 90\n"
				  "[ -d \"$1\" ] && exit 91\n"
				  "exec cat -- \"$1\"\n";

/*
 * Written beside the file under a temporary name, then renamed over it:
 * a reader sees the old file or the whole new one.  A stop (TERM) at any
 * point removes the temporary file: the traps are set before it is made
 * (with noclobber, so it is ours: an O_EXCL create, kept open as fd 4),
 * and cat runs in the background, writing to fd 4, with the shell in
 * `wait`, which a trapped signal ends at once.  Had the shell waited for
 * cat in the foreground, a TERM that came while cat was being started
 * would stay pending until cat ends, which it never does while its input
 * stays open (an upload cut off), and the SIGKILL after the grace period
 * would leave the file behind; had cat opened the file by its name, it
 * could make it again after the trap removed it.
 *
 * $3, when given, is the size the file must have: a command that reads
 * its input over a connection (a remote host's) sees a cancelled copy
 * as an early end of its input, and must not take the part it got for
 * the file.
 */
static const char write_script[] =
	"p=$1\n"
	"[ -d \"$p\" ] && exit 91\n"
	"d=${p%/*}\n"
	"[ -n \"$d\" ] || d=/\n"
	"t=$d/.drydock-upload.$$\n"
	"c=\n"
	"trap 'rm -f \"$t\"' EXIT\n"
	"trap '[ -n \"$c\" ] && kill \"$c\" 2>/dev/null; exit 143' HUP INT TERM\n"
	"[ -d \"$d\" ] || mkdir -p \"$d\" || exit 1\n"
	"set -C\n"
	"exec 4>\"$t\"\n"
	"set +C\n"
	"exec 3<&0\n"
	"cat <&3 >&4 &\n"
	"c=$!\n"
	"wait \"$c\" || exit 1\n"
	"if [ -n \"$3\" ] && [ \"$(wc -c <\"$t\")\" -ne \"$3\" ]; then\n"
	"echo \"got $(wc -c <\"$t\") of $3 bytes\" >&2; exit 1; fi\n"
	"chmod \"$2\" \"$t\" && mv -f \"$t\" \"$p\" || exit 1\n"
	"trap - EXIT\n";

static const char read_tree_script[] = "[ -e \"$1\" ] || exit 90\n"
				       "[ -d \"$1\" ] || exit 92\n"
				       "exec tar -cf - -C \"$1\" .\n";

/* Owned by whoever unpacks, whatever the stream says (root would keep
   the stream's owners otherwise). */
static const char write_tree_script[] =
	"[ -e \"$1\" ] && ! [ -d \"$1\" ] && exit 92\n"
	"[ -d \"$1\" ] || mkdir -p \"$1\" || exit 1\n"
	"exec tar --no-same-owner -xf - -C \"$1\"\n";

/* -H: the path itself is followed if it is a link, its entries are not. */
static const char list_script[] =
	"[ -e \"$1\" ] || [ -L \"$1\" ] || exit 90\n"
	"exec find -H \"$1\" -maxdepth 1 -printf '%d %y %s %m %T@ %P\\0'\n";

/* Messages from the tools in a form that does not depend on a locale. */
static char *const command_env[] = {"LC_ALL=C", NULL};

/* One operation: the lease it runs on and what it is called. */
struct op {
	const struct dd_blueprint_type *t;
	const struct dd_bp_ctx *ctx;
	const struct dd_resource *r;
	const struct dd_lease *lease;
	const char *doing; /* "read", "write", ... */
	const char *path;  /* as the caller gave it */
	char *argv[8];
	char arg[DD_FILE_PATH_MAX + 3];
	char mode[8];
};

static void op_init(struct op *op, const struct dd_blueprint_type *t,
		    const struct dd_bp_ctx *ctx, const struct dd_resource *r,
		    const struct dd_lease *lease, const char *doing,
		    const char *path, const char *script)
{
	*op = (struct op){.t = t, .ctx = ctx, .r = r, .lease = lease,
			  .doing = doing, .path = path};
	snprintf(op->arg, sizeof(op->arg), "%s%s", path[0] == '/' ? "" : "./",
		 path);
	op->argv[0] = "sh";
	op->argv[1] = "-c";
	op->argv[2] = (char *)script;
	op->argv[3] = "drydock"; /* $0: what sh's own messages start with */
	op->argv[4] = op->arg;
	op->argv[5] = NULL;
}

static int op_start(void *arg, const struct dd_exec_io *io, pid_t *pid,
		    struct dd_error *err)
{
	const struct op *op = arg;

	return dd_bp_spawn(op->t, op->ctx, op->r, op->lease, op->argv,
			   command_env, io, pid, err);
}

/* The last non-empty line of what the command said on stderr. */
static void last_line(const struct dd_buf *b, char *out, size_t n)
{
	size_t end = b->len, start;

	while (end > 0 && (b->buf[end - 1] == '\n' || b->buf[end - 1] == ' '))
		end--;
	start = end;
	while (start > 0 && b->buf[start - 1] != '\n')
		start--;
	snprintf(out, n, "%.*s", (int)(end - start), b->buf + start);
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
}

/* The error for a command that ran and did not succeed. */
static int op_failed(const struct op *op, const struct dd_exec_result *res,
		     double timeout, struct dd_error *err)
{
	char why[256];

	if (res->cancelled)
		return dd_error_set(err, DD_ERR_INTERRUPTED,
				    "cannot %s '%s' on lease %lld: stopped",
				    op->doing, op->path, op->lease->id);
	if (res->timed_out)
		return dd_error_set(err, DD_ERR_IO,
				    "cannot %s '%s' on lease %lld: it took "
				    "longer than %g s",
				    op->doing, op->path, op->lease->id, timeout);
	switch (res->exit_status) {
	case EXIT_NOT_FOUND:
		return dd_error_set(err, DD_ERR_NOTFOUND,
				    "cannot %s '%s' on lease %lld: no such "
				    "file or directory",
				    op->doing, op->path, op->lease->id);
	case EXIT_IS_DIR:
		return dd_error_set(err, DD_ERR_INVALID,
				    "cannot %s '%s' on lease %lld: it is a "
				    "directory",
				    op->doing, op->path, op->lease->id);
	case EXIT_NOT_DIR:
		return dd_error_set(err, DD_ERR_INVALID,
				    "cannot %s '%s' on lease %lld: it is not "
				    "a directory",
				    op->doing, op->path, op->lease->id);
	}
	last_line(&res->err, why, sizeof(why));
	if (!why[0])
		snprintf(why, sizeof(why), "the command exited with status %d",
			 res->exit_status);
	return dd_error_set(err, DD_ERR_IO, "cannot %s '%s' on lease %lld: %s",
			    op->doing, op->path, op->lease->id, why);
}

/*
 * Run the operation's command with stdin from `in` (-1: /dev/null) and
 * stdout to `out` (-1: to `sink`, with `sink_arg`), stderr kept for the
 * reason of a failure.
 */
static int op_run(struct op *op, int in, int out,
		  void (*sink)(void *, int, const char *, size_t),
		  void *sink_arg, const struct dd_file_options *o,
		  struct dd_error *err)
{
	struct dd_exec_options eo = {
		.timeout = o ? o->timeout : 0,
		.grace = DD_EXEC_GRACE,
		.cancel_fd = o ? o->cancel_fd : -1,
		.null_input = in < 0,
		.in_fd = in,
		.out = out >= 0 ? DD_EXEC_TO_FD : DD_EXEC_STREAM,
		.out_fd = out,
		.err = DD_EXEC_CAPTURE,
		.sink = sink,
		.sink_arg = sink_arg,
	};
	struct dd_exec_result res;
	int rc;

	rc = dd_exec_run(op_start, op, &eo, &res, err);
	if (rc)
		return rc;
	if (res.cancelled || res.timed_out || res.exit_status)
		rc = op_failed(op, &res, eo.timeout, err);
	dd_exec_result_release(&res);
	return rc;
}

int dd_files_posix_read(const struct dd_blueprint_type *t,
			const struct dd_bp_ctx *ctx,
			const struct dd_resource *r,
			const struct dd_lease *lease, const char *path,
			int out, const struct dd_file_options *o,
			struct dd_error *err)
{
	struct op op;

	op_init(&op, t, ctx, r, lease, "read", path, read_script);
	return op_run(&op, -1, out, NULL, NULL, o, err);
}

int dd_files_posix_write(const struct dd_blueprint_type *t,
			 const struct dd_bp_ctx *ctx,
			 const struct dd_resource *r,
			 const struct dd_lease *lease, const char *path,
			 unsigned mode, int in,
			 const struct dd_file_options *o,
			 struct dd_error *err)
{
	struct op op;
	struct stat st;
	off_t at;
	char size[32];

	op_init(&op, t, ctx, r, lease, "write", path, write_script);
	snprintf(op.mode, sizeof(op.mode), "%04o", mode & 07777);
	op.argv[5] = op.mode;
	op.argv[6] = NULL;
	/* from a regular file, the bytes that must arrive */
	if (in >= 0 && !fstat(in, &st) && S_ISREG(st.st_mode) &&
	    (at = lseek(in, 0, SEEK_CUR)) >= 0 && at <= st.st_size) {
		snprintf(size, sizeof(size), "%lld",
			 (long long)(st.st_size - at));
		op.argv[6] = size;
		op.argv[7] = NULL;
	}
	return op_run(&op, in, -1, NULL, NULL, o, err);
}

int dd_files_posix_read_tree(const struct dd_blueprint_type *t,
			     const struct dd_bp_ctx *ctx,
			     const struct dd_resource *r,
			     const struct dd_lease *lease, const char *path,
			     int out, const struct dd_file_options *o,
			     struct dd_error *err)
{
	struct op op;

	op_init(&op, t, ctx, r, lease, "read directory", path,
		read_tree_script);
	return op_run(&op, -1, out, NULL, NULL, o, err);
}

int dd_files_posix_write_tree(const struct dd_blueprint_type *t,
			      const struct dd_bp_ctx *ctx,
			      const struct dd_resource *r,
			      const struct dd_lease *lease, const char *path,
			      int in, const struct dd_file_options *o,
			      struct dd_error *err)
{
	struct op op;

	op_init(&op, t, ctx, r, lease, "write directory", path,
		write_tree_script);
	return op_run(&op, in, -1, NULL, NULL, o, err);
}

/* The listing as it comes, up to DD_FILE_LIST_MAX. */
struct listing {
	struct dd_buf b;
	bool too_large, nomem;
};

static void listing_add(void *arg, int stream, const char *buf, size_t n)
{
	struct listing *l = arg;

	(void)stream;
	if (l->too_large || l->nomem)
		return;
	if (l->b.len + n > DD_FILE_LIST_MAX)
		l->too_large = true;
	else if (dd_buf_add(&l->b, buf, n))
		l->nomem = true;
}

int dd_files_posix_list(const struct dd_blueprint_type *t,
			const struct dd_bp_ctx *ctx,
			const struct dd_resource *r,
			const struct dd_lease *lease, const char *path,
			struct dd_file_list *out,
			const struct dd_file_options *o,
			struct dd_error *err)
{
	struct listing l = {DD_BUF_INIT, false, false};
	struct dd_error why = DD_ERROR_INIT;
	struct op op;
	int rc;

	op_init(&op, t, ctx, r, lease, "list", path, list_script);
	rc = op_run(&op, -1, -1, listing_add, &l, o, err);
	if (!rc && l.nomem)
		rc = dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	else if (!rc && l.too_large)
		rc = dd_error_set(err, DD_ERR_IO,
				  "cannot list '%s' on lease %lld: the "
				  "listing is larger than %d bytes",
				  path, lease->id, DD_FILE_LIST_MAX);
	else if (!rc && dd_files_parse_list(l.b.buf, l.b.len, out, &why))
		rc = dd_error_set(err, why.code == DD_ERR_NOMEM ? why.code
								 : DD_ERR_IO,
				  "cannot list '%s' on lease %lld: %s", path,
				  lease->id, why.msg);
	dd_buf_release(&l.b);
	return rc;
}

/* ---- the listing's parser ------------------------------------------ */

/* Read a number in `base` ending at `stop`; false if there is none. */
static bool number(const char **p, const char *end, int base, char stop,
		   long long max, long long *v)
{
	const char *q = *p;
	long long n = 0;

	if (q == end || *q == stop)
		return false;
	for (; q < end && *q != stop; q++) {
		int d = *q - '0';

		if (d < 0 || d >= base || n > (max - d) / base)
			return false;
		n = n * base + d;
	}
	if (q == end)
		return false;
	*p = q + 1;
	*v = n;
	return true;
}

/* find's %T@: seconds, a dot and a fraction, ending at a space. */
static bool seconds(const char **p, const char *end, double *v)
{
	char tmp[48];
	const char *q = *p;
	size_t n;
	char *stop;

	while (q < end && *q != ' ')
		q++;
	n = (size_t)(q - *p);
	if (q == end || n == 0 || n >= sizeof(tmp))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((*p)[i] >= '0' && (*p)[i] <= '9') && (*p)[i] != '.')
			return false;
	memcpy(tmp, *p, n);
	tmp[n] = '\0';
	*v = strtod(tmp, &stop);
	if (*stop)
		return false;
	*p = q + 1;
	return true;
}

/* find's %y letters, as the listing's types. */
static char entry_type(char y)
{
	switch (y) {
	case 'f':
	case 'd':
	case 'l':
		return y;
	case 'b':
	case 'c':
	case 'p':
	case 's':
	case 'D':
		return 'o';
	}
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct dd_file_entry *)a)->name,
		      ((const struct dd_file_entry *)b)->name);
}

int dd_files_parse_list(const char *buf, size_t n, struct dd_file_list *out,
			struct dd_error *err)
{
	const char *p = buf, *end = buf + n;
	struct dd_file_list l = {NULL, 0};
	size_t cap = 0;

	while (p < end) {
		struct dd_file_entry e = {0};
		const char *nul;
		long long depth, size, mode;

		if (l.n == cap) {
			size_t c = cap ? cap * 2 : 16;
			void *v = dd_realloc(l.entries, c * sizeof(e));

			if (!v) {
				dd_file_list_release(&l);
				return dd_error_set(err, DD_ERR_NOMEM,
						    "out of memory");
			}
			l.entries = v;
			cap = c;
		}
		nul = memchr(p, '\0', (size_t)(end - p));
		if (!nul || !number(&p, nul, 10, ' ', 1, &depth) ||
		    depth != (l.n > 0) || nul - p < 2 ||
		    !(e.type = entry_type(p[0])) || p[1] != ' ')
			goto bad;
		p += 2;
		if (!number(&p, nul, 10, ' ', (1LL << 62), &size) ||
		    !number(&p, nul, 8, ' ', 07777, &mode) ||
		    !seconds(&p, nul, &e.mtime))
			goto bad;
		/* the path itself has no name; an entry a name without '/' */
		if ((depth == 0) != (p == nul) || memchr(p, '/', (size_t)(nul - p)))
			goto bad;
		e.size = size;
		e.mode = (unsigned)mode;
		e.name = dd_strdup(p);
		if (!e.name) {
			dd_file_list_release(&l);
			return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
		}
		l.entries[l.n++] = e;
		p = nul + 1;
	}
	if (l.n == 0) {
		dd_free(l.entries);
		return dd_error_set(err, DD_ERR_INVALID,
				    "the listing is empty");
	}
	if (l.n > 2)
		qsort(l.entries + 1, l.n - 1, sizeof(*l.entries), by_name);
	*out = l;
	return 0;
bad:
	dd_error_set(err, DD_ERR_INVALID,
		     "malformed listing record %zu at byte %zu", l.n + 1,
		     (size_t)(p - buf));
	dd_file_list_release(&l);
	return DD_ERR_INVALID;
}
