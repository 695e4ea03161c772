/*
 * exec.h - running a program and seeing it through: the one place where
 * drydock waits for a command it started, reads its output, enforces its
 * deadline and stops it.  The API's exec endpoint and `drydock exec` both
 * run commands through dd_exec_run(); a lease's command interface
 * (blueprint.h) only starts them, with the streams it is given.
 *
 * Programs are started from an argv, never through a shell, by
 * dd_exec_spawn(), which every part of drydock that starts a program
 * uses (a blueprint's command interface with the streams it is given,
 * and whatever else runs a helper program), and seen through by
 * dd_exec_run(), through the caller's start function.  Its stdin is
 * drydock's own, /dev/null, or a descriptor the caller gives (a file or
 * a pipe it feeds: an upload).  Its stdout and stderr are each either
 * drydock's own, a descriptor the caller gives (a download written
 * straight to its file or pipe), captured (the first DD_EXEC_MAX_OUTPUT
 * bytes kept, the rest read and dropped, and the result says it was
 * truncated), or streamed to a sink as they come; the two streams never
 * mix.  A command with a deadline, a cancel, or
 * output drydock reads runs in a process group of its own: at the
 * deadline or on cancel the whole group (its children too) gets SIGTERM
 * and, if anything of it is left after the grace period, SIGKILL; or
 * SIGKILL at once without a grace period (the API's exec, whose answer
 * promises the deadline).  A command that runs elsewhere, which the
 * local program's group does not hold, is stopped there too by the
 * start function's own means (struct dd_exec_far).
 */
#ifndef DD_EXEC_H
#define DD_EXEC_H

#include "core/error.h"
#include "core/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The bytes of each captured stream that are kept. */
#define DD_EXEC_MAX_OUTPUT (1024 * 1024)
/* Seconds between SIGTERM and SIGKILL that `drydock exec` gives. */
#define DD_EXEC_GRACE 5.0
/* The most NAME=VALUE pairs a command may be given. */
#define DD_EXEC_MAX_ENV 256

/*
 * A command that runs elsewhere (on a remote host, ssh.h), which
 * signalling the group of the local program that stands for it cannot
 * stop whole.  dd_exec_run() hands its start function one in io->far,
 * zeroed but for err_fd (-1), and a start function whose program has
 * started may fill it in:
 *   - err_fd: the read end (close-on-exec) of a pipe whose write end it
 *     gave the program as its standard error instead of io->err.
 *     dd_exec_run() reads it, closes it, and sends what it reads where
 *     io->err would have taken it (o->err: drydock's own, a descriptor,
 *     captured or streamed), except one report line: the first line
 *     that starts with `report`, looked for in the first
 *     DD_EXEC_REPORT_MAX bytes, goes to on_report() (without its
 *     newline), say how to reach the command over there.
 *   - stop(arg, sig): called each time dd_exec_run() sends the local
 *     program's group SIGTERM (just before) or SIGKILL (just after), at
 *     the deadline or on a cancel; stops the command over there the
 *     same way.  May block, for a bounded time.
 *   - release(arg): called once, when the run is over.
 * A start function that fails leaves it as it was.
 */
#define DD_EXEC_REPORT_MAX 4096
struct dd_exec_far {
	int err_fd;
	const char *report;
	void (*on_report)(void *arg, const char *line, size_t n);
	void (*stop)(void *arg, int sig);
	void (*release)(void *arg);
	void *arg;
};

/*
 * Where a started command's standard input, output and error go: a file
 * descriptor each, or -1 to share drydock's own.  With own_group the
 * command leads a new process group, so a caller can kill it and its
 * children together.  `far` is dd_exec_run()'s (above), handed on
 * unchanged by every start function to the command interface; NULL
 * where nothing sees the command through.
 */
struct dd_exec_io {
	int in, out, err;
	bool own_group;
	struct dd_exec_far *far;
};

/*
 * How dd_exec_spawn() starts a program.  Without `setup` it is started
 * with posix_spawn(), which is safe in a threaded process; with it, by
 * fork(), and the child runs `setup` after its streams and its group are
 * set and before it enters `dir` (a user switch, so that the directory is
 * entered as that user).  The child of a threaded process may only make
 * async-signal-safe calls: `setup` must not allocate, lock or print.
 */
struct dd_exec_spec {
	/*
	 * argv[0], without a slash, is looked up in drydock's PATH; with
	 * `setup`, in the PATH of `env` (the user's, after a switch).
	 */
	char *const *argv;
	char *const *env;  /* the environment; NULL: drydock's own */
	const char *dir;   /* the working directory; NULL: drydock's */
	int (*setup)(const void *arg); /* 0, or -1 with errno set */
	const void *setup_arg;
};

/* What failed when dd_exec_spawn() could not start a program. */
enum dd_exec_step {
	DD_EXEC_STEP_START, /* a pipe, fork, the streams or the group */
	DD_EXEC_STEP_SETUP, /* the spec's setup */
	DD_EXEC_STEP_DIR,   /* entering `dir` (without setup: a failure
			       there is reported as the exec's) */
	DD_EXEC_STEP_EXEC,  /* finding or executing the program */
};

struct dd_exec_failure {
	enum dd_exec_step step;
	int errnum; /* the errno of the failed step */
};

/*
 * Start sp->argv with the streams `io` names (its signals as a new
 * process has them: default actions, none blocked) and hand back its pid.
 * 0, or an error code (DD_ERR_INVALID when the program is not found,
 * else DD_ERR_IO) with a message in `err` and, if `why` is not NULL, the
 * failed step for callers that word it their own way; nothing is left
 * running then.  The caller sees the program through, with dd_exec_run().
 */
int dd_exec_spawn(const struct dd_exec_spec *sp, const struct dd_exec_io *io,
		  pid_t *pid, struct dd_exec_failure *why,
		  struct dd_error *err);

/*
 * Is every entry of `env` (NULL-terminated; NULL is none) a NAME=VALUE
 * pair with a NAME of letters, digits and '_' not starting with a digit,
 * and are there at most DD_EXEC_MAX_ENV?  DD_ERR_INVALID naming the
 * first that is not.
 */
int dd_exec_env_check(char *const env[], struct dd_error *err);
/*
 * `base` (NULL: drydock's own environment) with `vars` ("NAME=value",
 * NULL-terminated, may be NULL) set in it, replacing variables of the
 * same names; of a name given twice in `vars` the last counts, as with
 * env(1).  A NULL-terminated array of borrowed strings in one allocation
 * (dd_free() it), or NULL when out of memory.
 */
char **dd_exec_environ(char *const base[], char *const vars[]);

/*
 * Start the program with the streams `io` names and hand back its pid;
 * 0, or an error code with the reason (nothing started).
 */
typedef int dd_exec_start_fn(void *arg, const struct dd_exec_io *io,
			     pid_t *pid, struct dd_error *err);

/* What becomes of one of the command's output streams. */
enum dd_exec_output {
	DD_EXEC_INHERIT = 0, /* drydock's own stdout or stderr */
	DD_EXEC_CAPTURE,     /* kept in the result, up to the limit */
	DD_EXEC_STREAM,	     /* handed to the sink as it comes */
	DD_EXEC_TO_FD	     /* written to out_fd or err_fd */
};

struct dd_exec_options {
	double timeout;	   /* seconds from the start; 0: none */
	double grace;	   /* seconds from SIGTERM to SIGKILL; 0: SIGKILL
			      at once */
	int cancel_fd;	   /* readable (a byte, or closed): stop the
			      command; -1: none */
	bool null_input;   /* /dev/null as stdin, not drydock's */
	/*
	 * The command's stdin when not null_input: this descriptor, which
	 * the caller keeps (close-on-exec, or other commands inherit it
	 * too: a pipe's end would then never see its end); 0, the
	 * default, is drydock's own stdin, handed on as a descriptor like
	 * any other (a remote command gets it too); -1: none given (a
	 * local command keeps drydock's, a remote one reads nothing).
	 */
	int in_fd;
	enum dd_exec_output out, err;
	int out_fd, err_fd; /* for DD_EXEC_TO_FD; the caller keeps them */
	/*
	 * For DD_EXEC_STREAM: each chunk read from stdout (stream 1) or
	 * stderr (stream 2), in the order read from each.
	 */
	void (*sink)(void *arg, int stream, const char *buf, size_t n);
	void *sink_arg;
};

struct dd_exec_result {
	int exit_status; /* 128+N when signal N ended it */
	bool timed_out;	 /* stopped at the deadline */
	bool cancelled;	 /* stopped through cancel_fd */
	struct dd_buf out, err; /* captured streams */
	bool out_truncated, err_truncated;
	double duration; /* seconds */
};

/*
 * Start the program with `start` and wait until it has ended and its
 * output streams are closed, or until the deadline or a cancel stops it;
 * fills *res (release it with dd_exec_result_release(), also after an
 * error).  A program that does not start is an error; one that starts
 * and fails is an exit status.  Must not be used where SIGCHLD is
 * ignored.
 */
int dd_exec_run(dd_exec_start_fn *start, void *arg,
		const struct dd_exec_options *o, struct dd_exec_result *res,
		struct dd_error *err);
void dd_exec_result_release(struct dd_exec_result *res);

#endif
