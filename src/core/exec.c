/*
 * exec.c - starting a program and seeing it through (exec.h): the only
 * file in drydock that forks, spawns or reaps.  A start is posix_spawn(),
 * or fork() when the child must do more than it can (switch users), with
 * a close-on-exec pipe telling the parent which step failed; the run is
 * its output read from pipes, its end seen through a pidfd, its deadline
 * and cancel turned into SIGTERM and then SIGKILL for its whole process
 * group (and, for a command that runs elsewhere, into its start
 * function's stop, with the report line it sent taken out of its
 * stderr), all in one poll loop on the caller's thread.
 */
#include "core/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* The length of an environment entry's name: up to '=', or all of it. */
static size_t env_name_len(const char *entry)
{
	return strcspn(entry, "=");
}

int dd_exec_env_check(char *const env[], struct dd_error *err)
{
	for (size_t i = 0; env && env[i]; i++) {
		const char *e = env[i];
		size_t n = env_name_len(e);

		if (i == DD_EXEC_MAX_ENV)
			return dd_error_set(err, DD_ERR_INVALID,
					    "more than %d environment "
					    "variables",
					    DD_EXEC_MAX_ENV);
		if (!e[n] || n == 0 || (e[0] >= '0' && e[0] <= '9'))
			goto bad;
		for (size_t k = 0; k < n; k++)
			if (!(e[k] == '_' || (e[k] >= '0' && e[k] <= '9') ||
			      (e[k] >= 'a' && e[k] <= 'z') ||
			      (e[k] >= 'A' && e[k] <= 'Z')))
				goto bad;
		continue;
bad:
		return dd_error_set(err, DD_ERR_INVALID,
				    "bad environment variable '%.64s': "
				    "expected NAME=VALUE, NAME of letters, "
				    "digits and '_', not starting with a digit",
				    e);
	}
	return 0;
}

/* Does `vars` (its first `n`) set the variable `entry` sets? */
static bool env_has(char *const vars[], size_t n, const char *entry)
{
	size_t len = env_name_len(entry);

	for (size_t i = 0; i < n; i++)
		if (env_name_len(vars[i]) == len &&
		    !strncmp(vars[i], entry, len))
			return true;
	return false;
}

char **dd_exec_environ(char *const base[], char *const vars[])
{
	size_t n = 0, k = 0, extra = 0;
	char **env;

	if (!base)
		base = environ;
	while (base[n])
		n++;
	while (vars && vars[extra])
		extra++;
	env = dd_calloc(n + extra + 1, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!env_has(vars, extra, base[i]))
			env[k++] = base[i];
	/* a name given twice: the last one counts, as with env(1) */
	for (size_t j = 0; j < extra; j++)
		if (!env_has(vars + j + 1, extra - j - 1, vars[j]))
			env[k++] = vars[j];
	return env;
}

/* Wait for a started program: its exit status, or 128+N for signal N. */
static int reap(pid_t pid, int *exit_status, struct dd_error *err)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return dd_error_set(err, DD_ERR_IO,
					    "cannot wait for process %d: %s",
					    (int)pid, strerror(errno));
	}
	if (WIFEXITED(status))
		*exit_status = WEXITSTATUS(status);
	else
		*exit_status = 128 + WTERMSIG(status);
	return 0;
}

static int spawn_failed(const struct dd_exec_spec *sp,
			struct dd_exec_failure *why, enum dd_exec_step step,
			int errnum, struct dd_error *err)
{
	static const char *const doing[] = {
		[DD_EXEC_STEP_START] = "start",
		[DD_EXEC_STEP_SETUP] = "prepare",
		[DD_EXEC_STEP_DIR] = "enter the directory of",
		[DD_EXEC_STEP_EXEC] = "run",
	};

	if (why)
		*why = (struct dd_exec_failure){step, errnum};
	return dd_error_set(err,
			    step == DD_EXEC_STEP_EXEC && errnum == ENOENT
				    ? DD_ERR_INVALID
				    : DD_ERR_IO,
			    "cannot %s '%s': %s", doing[step], sp->argv[0],
			    strerror(errnum));
}

/*
 * In the child of fork(), in a threaded process: only async-signal-safe
 * calls, what posix_spawn() does plus the spec's setup, then the
 * directory, then exec.  A failure is reported as {step, errno} on
 * `report` (close-on-exec: the parent reads nothing once exec worked).
 */
static void child(const struct dd_exec_spec *sp, const struct dd_exec_io *io,
		  int report)
{
	struct sigaction dfl;
	sigset_t none;
	int msg[2] = {DD_EXEC_STEP_START, 0};

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL); /* some refuse; that is fine */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if ((io->own_group && setpgid(0, 0)) ||
	    (io->in >= 0 && dup2(io->in, 0) < 0) ||
	    (io->out >= 0 && dup2(io->out, 1) < 0) ||
	    (io->err >= 0 && dup2(io->err, 2) < 0))
		goto fail;
	msg[0] = DD_EXEC_STEP_SETUP;
	if (sp->setup(sp->setup_arg))
		goto fail;
	msg[0] = DD_EXEC_STEP_DIR;
	if (sp->dir && chdir(sp->dir))
		goto fail;
	msg[0] = DD_EXEC_STEP_EXEC;
	if (sp->env)
		environ = (char **)sp->env; /* execvp() searches its PATH */
	execvp(sp->argv[0], sp->argv);
fail:
	msg[1] = errno;
	if (write(report, msg, sizeof(msg)) != (ssize_t)sizeof(msg))
		_exit(126); /* the parent then sees the command start and fail */
	_exit(127);
}

static int fork_spawn(const struct dd_exec_spec *sp,
		      const struct dd_exec_io *io, pid_t *pid,
		      struct dd_exec_failure *why, struct dd_error *err)
{
	int report[2], msg[2], ignored;
	ssize_t got;

	if (pipe2(report, O_CLOEXEC))
		return spawn_failed(sp, why, DD_EXEC_STEP_START, errno, err);
	fflush(NULL);
	*pid = fork();
	if (*pid == 0)
		child(sp, io, report[1]);
	close(report[1]);
	if (*pid < 0) {
		msg[1] = errno;
		close(report[0]);
		return spawn_failed(sp, why, DD_EXEC_STEP_START, msg[1], err);
	}
	while ((got = read(report[0], msg, sizeof(msg))) < 0 && errno == EINTR)
		;
	close(report[0]);
	if (got != (ssize_t)sizeof(msg))
		return 0;
	reap(*pid, &ignored, NULL);
	return spawn_failed(sp, why, (enum dd_exec_step)msg[0], msg[1], err);
}

int dd_exec_spawn(const struct dd_exec_spec *sp, const struct dd_exec_io *io,
		  pid_t *pid, struct dd_exec_failure *why,
		  struct dd_error *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t all, none;
	int rc;

	if (sp->setup)
		return fork_spawn(sp, io, pid, why, err);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	/* Signals start as a fresh process would have them. */
	sigfillset(&all);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(
		&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK |
			       (io->own_group ? POSIX_SPAWN_SETPGROUP : 0));
	posix_spawnattr_setpgroup(&attr, 0);
	if (sp->dir)
		posix_spawn_file_actions_addchdir_np(&fa, sp->dir);
	if (io->in >= 0)
		posix_spawn_file_actions_adddup2(&fa, io->in, 0);
	if (io->out >= 0)
		posix_spawn_file_actions_adddup2(&fa, io->out, 1);
	if (io->err >= 0)
		posix_spawn_file_actions_adddup2(&fa, io->err, 2);
	fflush(NULL);
	rc = posix_spawnp(pid, sp->argv[0], &fa, &attr, sp->argv,
			  sp->env ? sp->env : environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rc)
		return spawn_failed(sp, why, DD_EXEC_STEP_EXEC, rc, err);
	return 0;
}

/*
 * How long to wait, once the group got SIGKILL, for output that is still
 * open: a process that left the group (setsid) may hold it for ever.
 */
#define KILL_WAIT 1.0
/* Without a pidfd, how often to look whether the command ended. */
#define POLL_TICK 0.02

/* One of the command's output streams, as drydock reads it. */
struct stream {
	int fd; /* the pipe's read end; -1 when not read or at its end */
	int which; /* 1 stdout, 2 stderr */
	enum dd_exec_output mode;
	struct dd_buf *keep;
	bool *truncated;
	/*
	 * A far command's stderr (struct dd_exec_far), read by drydock
	 * whatever the mode: `to` is where it goes for DD_EXEC_INHERIT and
	 * DD_EXEC_TO_FD (-1 otherwise); while `far` is set, the report line
	 * is looked for, and `head` holds a line not yet whole.
	 */
	int to;
	const struct dd_exec_far *far;
	struct dd_buf head;
	size_t looked; /* bytes looked at for the report */
};

/* Hand bytes of the stream on, as its mode says. */
static void deliver(struct stream *st, const struct dd_exec_options *o,
		    const char *buf, size_t n)
{
	if (!n)
		return;
	if (st->to >= 0) {
		/* like the program's own write: a failed one loses the bytes */
		dd_write_full(st->to, buf, n);
		return;
	}
	if (st->mode == DD_EXEC_STREAM) {
		o->sink(o->sink_arg, st->which, buf, n);
		return;
	}
	if (st->keep->len < DD_EXEC_MAX_OUTPUT) {
		size_t keep = DD_EXEC_MAX_OUTPUT - st->keep->len;

		if (n < keep)
			keep = n;
		dd_buf_add(st->keep, buf, keep);
		if (keep < n)
			*st->truncated = true;
	} else {
		*st->truncated = true;
	}
}

/*
 * Look for a far command's report line in what came (at its end: n 0):
 * whole lines before it are handed on, it goes to on_report(), and so
 * does nothing else once it was found or DD_EXEC_REPORT_MAX bytes came
 * without it.
 */
static void look(struct stream *st, const struct dd_exec_options *o,
		 const char *buf, size_t n)
{
	const struct dd_exec_far *far = st->far;
	size_t len = strlen(far->report), at = 0;
	char *nl;

	if (dd_buf_add(&st->head, buf, n)) {
		/* out of memory: no report, and nothing lost */
		st->far = NULL;
		deliver(st, o, st->head.buf, st->head.len);
		deliver(st, o, buf, n);
		dd_buf_release(&st->head);
		return;
	}
	st->looked += n;
	while (st->far && (nl = memchr(st->head.buf + at, '\n',
				       st->head.len - at))) {
		size_t line = (size_t)(nl - (st->head.buf + at));

		if (line >= len && !memcmp(st->head.buf + at, far->report, len)) {
			far->on_report(far->arg, st->head.buf + at, line);
			st->far = NULL;
		} else {
			deliver(st, o, st->head.buf + at, line + 1);
		}
		at += line + 1;
	}
	if (!n || st->looked >= DD_EXEC_REPORT_MAX)
		st->far = NULL;
	if (!st->far) {
		deliver(st, o, st->head.buf + at, st->head.len - at);
		dd_buf_release(&st->head);
	} else if (at) {
		memmove(st->head.buf, st->head.buf + at, st->head.len - at);
		st->head.len -= at;
		st->head.buf[st->head.len] = 0;
	}
}

/* Read what the stream has; false at its end. */
static bool drain(struct stream *st, const struct dd_exec_options *o)
{
	char chunk[16384];
	ssize_t got = read(st->fd, chunk, sizeof(chunk));

	if (got < 0)
		return errno == EINTR || errno == EAGAIN;
	if (got > 0 && !st->far)
		deliver(st, o, chunk, (size_t)got);
	else if (st->far)
		look(st, o, chunk, (size_t)got);
	return got > 0;
}

/*
 * A descriptor that polls readable once `pid` has ended, or -1 on a
 * kernel without pidfds (before Linux 5.3): then the loop looks every
 * POLL_TICK.
 */
static int pid_watch(pid_t pid)
{
#ifdef SYS_pidfd_open
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (fd >= 0)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
#else
	(void)pid;
	return -1;
#endif
}

/*
 * Has `pid` ended?  It is not reaped: as a zombie it keeps its process
 * group's id from being reused while the group is signalled.
 */
static bool has_ended(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT))
		return errno != EINTR;
	return si.si_pid == pid;
}

/*
 * Send `sig` to the command, and to its whole group if it has one, and
 * to the part of it that runs elsewhere, if any: SIGTERM there first,
 * while the local program still carries its input and output, so that
 * what the command does on SIGTERM (remove a file it was writing) is not
 * raced by the end of its input; SIGKILL, which nothing handles, here
 * first, so that the local program's status says it was killed.
 */
static void stop(pid_t pid, bool group, const struct dd_exec_far *far,
		 int sig)
{
	if (far->stop && sig != SIGKILL)
		far->stop(far->arg, sig);
	kill(group ? -pid : pid, sig);
	if (far->stop && sig == SIGKILL)
		far->stop(far->arg, sig);
}

int dd_exec_run(dd_exec_start_fn *start, void *arg,
		const struct dd_exec_options *o, struct dd_exec_result *res,
		struct dd_error *err)
{
	struct stream st[2] = {
		{-1, 1, o->out, &res->out, &res->out_truncated, -1, NULL,
		 DD_BUF_INIT, 0},
		{-1, 2, o->err, &res->err, &res->err_truncated, -1, NULL,
		 DD_BUF_INIT, 0},
	};
	struct dd_exec_far far = {.err_fd = -1};
	struct dd_exec_io io = {-1, -1, -1, false, &far};
	int wr[2] = {-1, -1}, null = -1, pidfd = -1;
	double began = dd_monotonic();
	double term_at = o->timeout > 0 ? began + o->timeout : 0;
	double kill_at = 0, give_up_at = 0;
	bool ended = false, cancel_open = o->cancel_fd >= 0;
	pid_t pid;
	int rc;

	memset(res, 0, sizeof(*res));
	/*
	 * The command gets a group of its own whenever drydock may have to
	 * stop it or reads its output; otherwise it stays in drydock's, so a
	 * command run from a terminal can still read from it.
	 */
	io.own_group = o->timeout > 0 || o->cancel_fd >= 0 ||
		       o->out != DD_EXEC_INHERIT || o->err != DD_EXEC_INHERIT;
	for (int i = 0; i < 2; i++) {
		int p[2];

		if (st[i].mode == DD_EXEC_INHERIT ||
		    st[i].mode == DD_EXEC_TO_FD)
			continue;
		if (pipe2(p, O_CLOEXEC))
			goto io_failed;
		st[i].fd = p[0];
		wr[i] = p[1];
	}
	if (o->null_input &&
	    (null = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		goto io_failed;
	io.in = o->null_input ? null : o->in_fd;
	io.out = o->out == DD_EXEC_TO_FD ? o->out_fd : wr[0];
	io.err = o->err == DD_EXEC_TO_FD ? o->err_fd : wr[1];
	rc = start(arg, &io, &pid, err);
	for (int i = 0; i < 2; i++) {
		if (wr[i] >= 0)
			close(wr[i]);
		wr[i] = -1;
	}
	if (rc)
		goto out;
	if (far.err_fd >= 0) {
		/* the program's stderr is the far pipe: read that instead */
		if (st[1].fd >= 0)
			close(st[1].fd);
		st[1].fd = far.err_fd;
		if (o->err == DD_EXEC_INHERIT)
			st[1].to = 2;
		else if (o->err == DD_EXEC_TO_FD)
			st[1].to = o->err_fd;
		if (far.report && far.on_report)
			st[1].far = &far;
	}
	pidfd = pid_watch(pid);
	for (;;) {
		struct pollfd p[4];
		int n = 0, at[4], sig = 0, ms = -1;
		double now = dd_monotonic(), next = 0;

		if (!ended)
			ended = has_ended(pid);
		if (ended && st[0].fd < 0 && st[1].fd < 0)
			break;
		/* something that left the group may hold the output open */
		if (give_up_at && now >= give_up_at)
			break;
		if (term_at && now >= term_at) {
			res->timed_out = !res->cancelled;
			sig = o->grace > 0 ? SIGTERM : SIGKILL;
		}
		if (kill_at && now >= kill_at)
			sig = SIGKILL;
		if (sig) {
			stop(pid, io.own_group, &far, sig);
			term_at = 0;
			kill_at = sig == SIGTERM ? now + o->grace : 0;
			give_up_at = sig == SIGKILL ? now + KILL_WAIT : 0;
		}
		for (int i = 0; i < 2; i++) {
			if (st[i].fd < 0)
				continue;
			at[n] = i;
			p[n++] = (struct pollfd){st[i].fd, POLLIN, 0};
		}
		if (!ended && pidfd >= 0) {
			at[n] = 2;
			p[n++] = (struct pollfd){pidfd, POLLIN, 0};
		}
		if (cancel_open) {
			at[n] = 3;
			p[n++] = (struct pollfd){o->cancel_fd, POLLIN, 0};
		}
		/* the next thing due: a signal, giving up, or a look */
		if (term_at)
			next = term_at;
		else if (kill_at)
			next = kill_at;
		else if (give_up_at)
			next = give_up_at;
		if (!ended && pidfd < 0 && (!next || next > now + POLL_TICK))
			next = now + POLL_TICK;
		if (next) /* at most a minute: the int must not overflow */
			ms = next - now < 60 ? (int)((next - now) * 1000) + 1
					     : 60000;
		if (poll(p, (nfds_t)n, ms) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int k = 0; k < n; k++) {
			if (!p[k].revents)
				continue;
			if (at[k] < 2 && !drain(&st[at[k]], o)) {
				close(st[at[k]].fd);
				st[at[k]].fd = -1;
			} else if (at[k] == 3) {
				/* cancelled: stop it as at a deadline */
				cancel_open = false;
				res->cancelled = true;
				if (term_at || (!kill_at && !give_up_at))
					term_at = now;
			}
		}
	}
	if (!ended && !give_up_at) /* the loop failed: do not wait for ever */
		stop(pid, io.own_group, &far, SIGKILL);
	rc = reap(pid, &res->exit_status, err);
	res->duration = dd_monotonic() - began;
	goto out;
io_failed:
	rc = dd_error_set(err, DD_ERR_IO,
			  "cannot set up the command's streams: %s",
			  strerror(errno));
out:
	for (int i = 0; i < 2; i++) {
		if (st[i].fd >= 0)
			close(st[i].fd);
		if (wr[i] >= 0)
			close(wr[i]);
		dd_buf_release(&st[i].head);
	}
	if (far.release)
		far.release(far.arg);
	if (null >= 0)
		close(null);
	if (pidfd >= 0)
		close(pidfd);
	if (rc)
		dd_exec_result_release(res);
	return rc;
}

void dd_exec_result_release(struct dd_exec_result *res)
{
	dd_buf_release(&res->out);
	dd_buf_release(&res->err);
}
