/*
 * exec.h - running a program and seeing it through: the one place where
 * drydock waits for a command it started, reads its output, enforces its
 * deadline and stops it.  The API's exec endpoint and `drydock exec` both
 * run commands through dd_exec_run(); a lease's command interface
 * (blueprint.h) only starts them, with the streams it is given.
 *
 * The program is started from an argv, never through a shell, by the
 * caller's start function.  Its stdout and stderr are each either the
 * caller's own (or a given descriptor), captured (the first
 * DD_EXEC_MAX_OUTPUT bytes kept, the rest read and dropped, and the
 * result says it was truncated), or streamed to a sink as they come;
 * the two streams never mix.  A command with a deadline, a cancel, or
 * output drydock reads runs in a process group of its own: at the
 * deadline or on cancel the whole group (its children too) gets SIGTERM
 * and, if anything of it is left after the grace period, SIGKILL; or
 * SIGKILL at once without a grace period (the API's exec, whose answer
 * promises the deadline).
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

/*
 * Where a started command's standard input, output and error go: a file
 * descriptor each, or -1 to share drydock's own.  With own_group the
 * command leads a new process group, so a caller can kill it and its
 * children together.
 */
struct dd_exec_io {
	int in, out, err;
	bool own_group;
};

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
	DD_EXEC_STREAM	     /* handed to the sink as it comes */
};

struct dd_exec_options {
	double timeout;	   /* seconds from the start; 0: none */
	double grace;	   /* seconds from SIGTERM to SIGKILL; 0: SIGKILL
			      at once */
	int cancel_fd;	   /* readable (a byte, or closed): stop the
			      command; -1: none */
	bool null_input;   /* /dev/null as stdin, not drydock's */
	enum dd_exec_output out, err;
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

/*
 * Wait for a started command; *exit_status is its exit status, or 128+N
 * when signal N ended it, as a shell reports it.
 */
int dd_exec_wait(pid_t pid, int *exit_status, struct dd_error *err);

#endif
