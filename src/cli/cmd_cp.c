/*
 * cmd_cp.c - "drydock cp": copy a file or a directory into or out of a
 * lease, through the lease's files interface (blueprint.h), so it works
 * the same on every blueprint type.
 *
 * One side is LEASE:PATH, the other a local path ('-': stdin or stdout,
 * for a file).  Like cp(1): a directory needs -r, and a destination that
 * is an existing directory receives the source under its own name.  A
 * file arrives whole or not at all on either side (written beside its
 * name and renamed).  A directory travels as a tar stream between the
 * lease's files interface and a local tar, through a pipe, so nothing is
 * ever whole in memory.
 */
#include "api/api.h"
#include "cli/cli.h"
#include "core/input.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
	"usage: drydock cp [-r] [--timeout DURATION] [--db PATH] SOURCE "
	"DEST\n"
	"\n"
	"Copy SOURCE to DEST, one of them on a lease as LEASE:PATH (the "
	"lease's id,\na colon and a path relative to the lease's working "
	"directory, or absolute),\nthe other here ('-' is stdin or stdout, "
	"for a file).  The lease must be\nactive.  A directory needs -r.  If "
	"DEST is an existing directory, SOURCE is\ncopied into it under its "
	"own name.  A file is written beside its name and\nrenamed, so it "
	"appears whole or not at all; missing parent directories are\nmade "
	"on the lease.  A file keeps its permission bits; what lands on the "
	"lease\nbelongs to the user the lease's commands run as.\n";

static const char epilog[] =
	"exit status: 0 when copied; 3 when SOURCE, DEST's directory or the "
	"lease\ndoes not exist; 2 for bad usage or a directory without -r; "
	"4 when the lease\nis not active; 11 when the copy fails on the way "
	"or takes longer than\n--timeout; 128+N when signal N (SIGINT, "
	"SIGTERM, SIGHUP) stopped it.\n";

/* One side of the copy: on lease `lease` (0: here) at `path`. */
struct side {
	long long lease;
	const char *path;
};

/* "12:PATH" is on lease 12; anything else (also "./12:x") is local. */
static int side_parse(const char *arg, struct side *s)
{
	const char *colon = strchr(arg, ':');
	size_t digits = strspn(arg, "0123456789");
	char id[24];

	s->lease = 0;
	s->path = arg;
	if (!*arg)
		return cli_usage_error(usage, "an empty path");
	if (!colon || digits == 0 || arg + digits != colon)
		return 0;

	snprintf(id, sizeof(id), "%.*s", (int)digits, arg);
	s->lease = digits < sizeof(id) ? cli_parse_id(id) : 0;
	if (s->lease <= 0)
		return cli_usage_error(usage, "bad lease id in '%s'", arg);
	s->path = colon + 1;
	if (!*s->path)
		return cli_usage_error(usage,
				       "'%s' names no path on the lease (use "
				       "'%lld:.' for its directory)",
				       arg, s->lease);
	return 0;
}

/* What copying needs: the lease, the options, a cancel for the signals. */
struct copy {
	struct dd_api_lease h;
	struct dd_file_options o;
	bool recursive;
	double timeout;
};

/* --timeout DURATION, as core/input.c reads durations. */
static int set_timeout(const struct cli_option *o, const char *arg,
		       struct dd_error *err)
{
	return dd_duration_parse(arg, o->value, err);
}

/*
 * The last part of `path`, without trailing slashes; "" when copying
 * into a directory should put the source's contents there rather than
 * the source under its name ("." and "..", a root).
 */
static void base_name(const char *path, char *out, size_t n)
{
	size_t end = strlen(path), start;

	while (end > 1 && path[end - 1] == '/')
		end--;
	start = end;
	while (start > 0 && path[start - 1] != '/')
		start--;
	snprintf(out, n, "%.*s", (int)(end - start), path + start);
	if (!strcmp(out, ".") || !strcmp(out, "..") || !strcmp(out, "/"))
		out[0] = '\0';
}

/* `dir` + "/" + `name`, or `dir` alone for no name. */
static int join(const char *dir, const char *name, char *out, size_t n,
		struct dd_error *err)
{
	size_t l = strlen(dir);
	int w;

	if (!*name)
		w = snprintf(out, n, "%s", dir);
	else
		w = snprintf(out, n, "%s%s%s", dir,
			     l && dir[l - 1] == '/' ? "" : "/", name);
	if (w < 0 || (size_t)w >= n)
		return dd_error_set(err, DD_ERR_INVALID,
				    "path '%.64s...' is too long", dir);
	return 0;
}

/*
 * A local tar on one end of the pipe a directory travels through, run on
 * a thread of its own while the lease's side runs on the caller's.
 * Without this process's own stdin; its stderr kept for a failure.
 */
struct local_tar {
	char *const *argv;
	int in, out; /* the pipe's end it reads or writes; the other -1 */
	int cancel[2];
	pthread_t thread;
	int rc;
	struct dd_exec_result res;
	struct dd_error err;
};

static int tar_start(void *arg, const struct dd_exec_io *io, pid_t *pid,
		     struct dd_error *err)
{
	const struct local_tar *t = arg;
	const struct dd_exec_spec sp = {.argv = t->argv};

	return dd_exec_spawn(&sp, io, pid, NULL, err);
}

static void *tar_run(void *arg)
{
	struct local_tar *t = arg;
	struct dd_exec_options o = {
		.cancel_fd = t->cancel[0],
		.null_input = t->in < 0,
		.in_fd = t->in,
		.out = t->out >= 0 ? DD_EXEC_TO_FD : DD_EXEC_CAPTURE,
		.out_fd = t->out,
		.err = DD_EXEC_CAPTURE,
	};

	t->rc = dd_exec_run(tar_start, t, &o, &t->res, &t->err);
	/* its end of the pipe: the lease's side sees the end of the stream */
	close(t->in >= 0 ? t->in : t->out);
	return NULL;
}

/* Start `t` on its thread; on failure its end of the pipe is closed. */
static int tar_begin(struct local_tar *t, struct dd_error *err)
{
	int rc;

	if (pipe2(t->cancel, O_CLOEXEC)) {
		close(t->in >= 0 ? t->in : t->out);
		return dd_error_set(err, DD_ERR_IO, "cannot make a pipe: %s",
				    strerror(errno));
	}
	rc = pthread_create(&t->thread, NULL, tar_run, t);
	if (rc) {
		close(t->in >= 0 ? t->in : t->out);
		close(t->cancel[0]);
		close(t->cancel[1]);
		return dd_error_set(err, DD_ERR_IO,
				    "cannot start a thread: %s", strerror(rc));
	}
	return 0;
}

/*
 * See the local tar through once the lease's side is done: stopped if
 * that side failed (`rc`), else waited for and its status checked.
 */
static int tar_end(struct local_tar *t, int rc, const char *what,
		   struct dd_error *err)
{
	char why[200] = "";

	if (rc && write(t->cancel[1], "x", 1) < 0) {
		/* the pipe is ours and open: a stop always gets through */
	}
	pthread_join(t->thread, NULL);
	close(t->cancel[0]);
	close(t->cancel[1]);
	if (!rc && t->rc)
		rc = dd_error_set(err, t->rc, "%s", t->err.msg);
	else if (!rc && t->res.exit_status) {
		snprintf(why, sizeof(why), "%.*s", (int)t->res.err.len,
			 t->res.err.buf ? t->res.err.buf : "");
		why[strcspn(why, "\n")] = '\0';
		rc = dd_error_set(err, DD_ERR_IO,
				  "the local tar %s exited with status %d%s%s",
				  what, t->res.exit_status, why[0] ? ": " : "",
				  why);
	}
	if (!t->rc)
		dd_exec_result_release(&t->res);
	return rc;
}

/* The kind of `path` on the lease: 'f', 'd', ...; 0 when missing. */
static int remote_kind(struct copy *c, const char *path, char *kind,
		       mode_t *mode, struct dd_error *err)
{
	struct dd_file_list l;
	int rc;

	*kind = 0;
	rc = dd_bp_file_list(c->h.bp.type, &c->h.bp.ctx, &c->h.resource,
			     &c->h.lease, path, &l, &c->o, err);
	if (rc == DD_ERR_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	*kind = l.entries[0].type;
	if (mode)
		*mode = l.entries[0].mode;
	dd_file_list_release(&l);
	return 0;
}

/* ---- into the lease ------------------------------------------------ */

static int upload(struct copy *c, const char *local, const char *remote,
		  struct dd_error *err)
{
	char dest[DD_FILE_PATH_MAX + 1], name[NAME_MAX + 1];
	struct stat st;
	char kind;
	int rc, fd;

	if (!strcmp(local, "-")) {
		st.st_mode = S_IFREG | 0644;
	} else if (stat(local, &st)) {
		return dd_error_set(err, errno == ENOENT ? DD_ERR_NOTFOUND
							 : DD_ERR_IO,
				    "cannot copy '%s': %s", local,
				    strerror(errno));
	}
	if (S_ISDIR(st.st_mode) && !c->recursive)
		return dd_error_set(err, DD_ERR_INVALID,
				    "'%s' is a directory (use -r to copy it)",
				    local);
	/* into an existing directory: under the source's name */
	base_name(strcmp(local, "-") ? local : "", name, sizeof(name));
	rc = remote_kind(c, remote, &kind, NULL, err);
	if (rc)
		return rc;
	if (kind == 'd' ||
	    (!kind && remote[strlen(remote) - 1] == '/' &&
	     !S_ISDIR(st.st_mode)))
		rc = join(remote, name, dest, sizeof(dest), err);
	else
		rc = join(remote, "", dest, sizeof(dest), err);
	if (rc)
		return rc;
	if (!S_ISDIR(st.st_mode)) {
		fd = strcmp(local, "-") ? open(local, O_RDONLY | O_CLOEXEC) : 0;
		if (fd < 0)
			return dd_error_set(err, DD_ERR_IO,
					    "cannot open '%s': %s", local,
					    strerror(errno));
		rc = dd_bp_file_write(c->h.bp.type, &c->h.bp.ctx, &c->h.resource,
				      &c->h.lease, dest, st.st_mode & 07777,
				      fd, &c->o, err);
		if (fd > 0)
			close(fd);
		return rc;
	} else {
		char *argv[] = {"tar", "-cf", "-", "-C", (char *)local, ".",
				NULL};
		struct local_tar t = {.argv = argv, .in = -1};
		int p[2];

		if (pipe2(p, O_CLOEXEC))
			return dd_error_set(err, DD_ERR_IO,
					    "cannot make a pipe: %s",
					    strerror(errno));
		t.out = p[1];
		rc = tar_begin(&t, err);
		if (!rc) {
			rc = dd_bp_file_write_tree(c->h.bp.type, &c->h.bp.ctx,
						   &c->h.resource, &c->h.lease,
						   dest, p[0], &c->o, err);
			rc = tar_end(&t, rc, "reading it", err);
		}
		close(p[0]);
		return rc;
	}
}

/* ---- out of the lease ---------------------------------------------- */

/* Write the lease's file `remote` to `dest` here, whole or not at all. */
static int download_file(struct copy *c, const char *remote, const char *dest,
			 mode_t mode, struct dd_error *err)
{
	char tmp[PATH_MAX + 32], dir[PATH_MAX];
	const char *slash = strrchr(dest, '/');
	mode_t um;
	int fd, rc;

	if (!strcmp(dest, "-"))
		return dd_bp_file_read(c->h.bp.type, &c->h.bp.ctx, &c->h.resource,
				       &c->h.lease, remote, 1, &c->o, err);
	snprintf(dir, sizeof(dir), "%.*s",
		 slash ? (int)(slash - dest) + 1 : 1, slash ? dest : ".");
	snprintf(tmp, sizeof(tmp), "%s%s.drydock-cp.XXXXXX", dir,
		 slash ? "" : "/");
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return dd_error_set(err, errno == ENOENT ? DD_ERR_NOTFOUND
							 : DD_ERR_IO,
				    "cannot write into '%s': %s", dir,
				    strerror(errno));
	/* the lease's permission bits, less this process's umask */
	um = umask(0);
	umask(um);
	if (fchmod(fd, mode & 0777 & ~um))
		rc = dd_error_set(err, DD_ERR_IO, "cannot write '%s': %s", tmp,
				  strerror(errno));
	else
		rc = dd_bp_file_read(c->h.bp.type, &c->h.bp.ctx, &c->h.resource,
				     &c->h.lease, remote, fd, &c->o, err);
	if (close(fd) && !rc)
		rc = dd_error_set(err, DD_ERR_IO, "cannot write '%s': %s", tmp,
				  strerror(errno));
	if (!rc && rename(tmp, dest))
		rc = dd_error_set(err, DD_ERR_IO, "cannot write '%s': %s", dest,
				  strerror(errno));
	if (rc)
		unlink(tmp);
	return rc;
}

static int download(struct copy *c, const char *remote, const char *local,
		    struct dd_error *err)
{
	char dest[PATH_MAX], name[NAME_MAX + 1];
	struct stat st;
	mode_t mode = 0644;
	bool local_dir;
	char kind;
	int rc;

	rc = remote_kind(c, remote, &kind, &mode, err);
	if (rc)
		return rc;
	if (!kind)
		return dd_error_set(err, DD_ERR_NOTFOUND,
				    "cannot copy '%s' from lease %lld: no such "
				    "file or directory",
				    remote, c->h.lease.id);
	if (kind == 'd' && !c->recursive)
		return dd_error_set(err, DD_ERR_INVALID,
				    "'%s' on lease %lld is a directory (use "
				    "-r to copy it)",
				    remote, c->h.lease.id);
	if (kind == 'd' && !strcmp(local, "-"))
		return dd_error_set(err, DD_ERR_INVALID,
				    "a directory cannot go to stdout ('-')");
	local_dir = strcmp(local, "-") && !stat(local, &st) &&
		    S_ISDIR(st.st_mode);
	base_name(remote, name, sizeof(name));
	rc = join(local, local_dir ? name : "", dest, sizeof(dest), err);
	if (rc)
		return rc;
	if (kind != 'd')
		return download_file(c, remote, dest, mode, err);
	if (mkdir(dest, 0777) && errno != EEXIST)
		return dd_error_set(err, errno == ENOENT ? DD_ERR_NOTFOUND
							 : DD_ERR_IO,
				    "cannot make directory '%s': %s", dest,
				    strerror(errno));
	{
		char *argv[] = {"tar", "--no-same-owner", "-xf", "-",
				"-C", dest, NULL};
		struct local_tar t = {.argv = argv, .out = -1};
		int p[2];

		if (pipe2(p, O_CLOEXEC))
			return dd_error_set(err, DD_ERR_IO,
					    "cannot make a pipe: %s",
					    strerror(errno));
		t.in = p[0];
		rc = tar_begin(&t, err);
		if (!rc) {
			rc = dd_bp_file_read_tree(c->h.bp.type, &c->h.bp.ctx,
						  &c->h.resource, &c->h.lease,
						  remote, p[1], &c->o, err);
			/* the end of the stream, for the local tar */
			close(p[1]);
			p[1] = -1;
			rc = tar_end(&t, rc, "unpacking it", err);
		}
		if (p[1] >= 0)
			close(p[1]);
		return rc;
	}
}

int cmd_cp(int argc, char **argv)
{
	struct copy c = {.o = {0, -1}};
	const struct cli_option options[] = {
		{.kind = CLI_OPT_FLAG,
		 .name = "recursive",
		 .short_name = 'r',
		 .value = &c.recursive,
		 .help = "copy directories and what is in them"},
		CLI_CALLBACK("timeout", "DURATION", set_timeout, &c.o.timeout,
			     "stop the copy after DURATION (90, 30m, 1h30m)"),
		CLI_END,
	};
	const struct cli_spec spec = {.name = "cp",
				      .usage = usage,
				      .epilog = epilog,
				      .options = options,
				      .positional = true};
	struct dd_error err = DD_ERROR_INIT;
	struct cli_stop stop = CLI_STOP_INIT;
	struct side from, to;
	struct dd_store *s;
	int n, rc;

	n = cli_parse(&spec, argc, argv);
	if (n != 2)
		return cli_usage_error(usage, "cp takes a SOURCE and a DEST");
	if ((rc = side_parse(argv[0], &from)) ||
	    (rc = side_parse(argv[1], &to)))
		return rc;
	if (!from.lease == !to.lease)
		return cli_usage_error(usage,
				       "one of SOURCE and DEST must be on a "
				       "lease (LEASE:PATH), the other here");
	if (cli_stop_on_signals(&stop, &err))
		return cli_fail(&err);
	c.o.cancel_fd = stop.cancel;
	s = cli_open_store();
	rc = dd_api_lease_open(s, from.lease ? from.lease : to.lease,
			       from.lease ? "copy files from" : "copy files to",
			       &c.h, &err);
	if (!rc && from.lease)
		rc = download(&c, from.path, to.path, &err);
	else if (!rc)
		rc = upload(&c, from.path, to.path, &err);
	dd_api_lease_close(&c.h);
	dd_store_close(s);
	cli_stop_close(&stop);
	if (rc == DD_ERR_INTERRUPTED && cli_stop_signal)
		return 128 + cli_stop_signal;
	return rc ? cli_fail(&err) : 0;
}
