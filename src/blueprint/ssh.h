/*
 * ssh.h - running a command on a remote machine with the system's OpenSSH
 * client: the one transport every SSH user in drydock calls (the host
 * blueprint's remote hosts, a provider's resource described as an SSH
 * endpoint).
 *
 * What it promises:
 *   - Host keys are checked.  An endpoint names a known_hosts file: one
 *     drydock keeps (first contact adds the key, StrictHostKeyChecking
 *     accept-new), one the operator gives (never written: a key must be in
 *     it), or, with a host key given in the endpoint, one holding just
 *     that key.  A changed key is refused and reported as such, never
 *     accepted.
 *   - Nothing of the user's ~/.ssh/config, agent or default keys changes
 *     what happens (-F /dev/null, IdentitiesOnly, IdentityAgent none), no
 *     forwarding of any kind, no password or keyboard prompt (BatchMode).
 *   - Connections are shared: ControlMaster=auto with a ControlPersist
 *     master per endpoint, its socket in a 0700 directory of drydock's
 *     under a short hashed name (a socket's path has room for about 100
 *     bytes), so a command on a warm host costs one round trip.
 *   - Every call has a deadline: ConnectTimeout for the connection,
 *     ServerAlive for a host that stops answering, and the caller's
 *     timeout for the command (core/exec.h).
 *   - The remote command is an argv, run in a directory with an
 *     environment.  ssh hands the remote side one string for its login
 *     shell (which must be a POSIX shell), so every word is quoted with
 *     single quotes here; nothing the caller passes is ever interpreted
 *     by a shell.
 *   - Stopping a command stops it on the host, with everything it
 *     started.  Without a terminal the remote side gets no SIGHUP, so the
 *     command runs under a small fixed wrapper (sh), which OpenSSH's sshd
 *     starts as the leader of a process group of its own.  Seen through
 *     by dd_exec_run() (every caller), the wrapper first reports that
 *     group on stderr, a line dd_exec_run() takes out of the stream
 *     (struct dd_exec_far, core/exec.h), and when dd_exec_run() stops
 *     the local ssh (the deadline, a cancel) the group gets the same
 *     signal on the host, through the master connection, if it is still
 *     the command's: SIGTERM and, after DD_SSH_GRACE seconds, SIGKILL to
 *     what is left, or SIGKILL at once.  This reaches a command given
 *     input (a file written through the files interface, exec's
 *     standard input when it is a pipe or a file), which reads it from
 *     the channel and would see a stopped ssh only as the end of its
 *     input, and what a command left behind holding its output once it
 *     and the wrapper ended.  A command given no input runs with
 *     /dev/null as its input, and a watcher in the wrapper also sends
 *     the group SIGTERM and then SIGKILL when the channel closes (its
 *     standard input, which drydock never closes while ssh lives,
 *     reaches its end): the local ssh died without a stop (drydock was
 *     killed).  stdout and stderr stay apart.
 *   - A failure of ssh itself (exit status 255 with ssh's own message on
 *     stderr) is told apart from the command's: the host cannot be
 *     reached, refused the key, presented a changed host key, or ssh
 *     failed otherwise (dd_ssh_classify()).
 */
#ifndef DD_SSH_H
#define DD_SSH_H

#include "core/error.h"
#include "core/exec.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Seconds from SIGTERM to SIGKILL for a remote command that is stopped. */
#define DD_SSH_GRACE 5
/* Seconds the call that stops a remote command's group may take. */
#define DD_SSH_STOP_TIMEOUT 5
/* Seconds a master connection stays after its last command. */
#define DD_SSH_PERSIST 300
/* ConnectTimeout when an endpoint gives none. */
#define DD_SSH_CONNECT_TIMEOUT 10
/* The exit status through which ssh reports a failure of its own. */
#define DD_SSH_FAILED 255

/*
 * Where and how to connect.  Strings are borrowed: they must outlive
 * every call that is given the endpoint.
 */
struct dd_ssh_endpoint {
	const char *address; /* host name or IP address */
	int port;	     /* 0: 22 */
	const char *user;
	const char *key;	 /* private key file, readable by us alone */
	const char *known_hosts; /* known_hosts file */
	/*
	 * true: known_hosts is the operator's, a key must already be in it
	 * (StrictHostKeyChecking yes); false: drydock's, first contact adds
	 * the key (accept-new).
	 */
	bool known_hosts_given;
	/*
	 * "TYPE BASE64" the host must present, or NULL.  Given, the
	 * known_hosts file is (re)written by dd_ssh_prepare() to hold just
	 * this key for this host, and checked strictly.
	 */
	const char *host_key;
	/* directory for master sockets (dd_ssh_control_dir()); NULL: none */
	const char *control_dir;
	int connect_timeout; /* seconds; 0: DD_SSH_CONNECT_TIMEOUT */
};

/* What to run on the remote machine. */
struct dd_ssh_command {
	const char *cwd;     /* directory to run in; NULL: the login's */
	char *const *env;    /* "NAME=VALUE" set for the command, or NULL */
	char *const *argv;   /* never through a shell */
	/*
	 * The command reads the channel as its input (dd_ssh_spawn() sets
	 * it when given input): then nothing watches for the channel's
	 * end, and only the stop through the report below reaches it.
	 */
	bool input;
	/*
	 * The wrapper reports its process group first thing on stderr
	 * (dd_ssh_spawn() sets it when dd_exec_run() sees the command
	 * through and takes the report out: struct dd_exec_far).
	 */
	bool report;
};

/* A built ssh argv (dd_ssh_args_build()); argv[n] is NULL. */
struct dd_ssh_args {
	char **argv;
	size_t n, alloc;
};

/* How ssh itself failed (the exit status was DD_SSH_FAILED). */
enum dd_ssh_failure {
	DD_SSH_OK = 0,		 /* not a failure of ssh */
	DD_SSH_UNREACHABLE,	 /* no connection: refused, timed out, ... */
	DD_SSH_KEY_REFUSED,	 /* the host would not take our key */
	DD_SSH_HOST_KEY_CHANGED, /* the host's key is not the one known */
	DD_SSH_HOST_KEY_UNKNOWN, /* no key known and none may be added */
	DD_SSH_LOCAL,		 /* our side: key file, known_hosts, ... */
	DD_SSH_OTHER
};

/* "unreachable", "key refused", ... */
const char *dd_ssh_failure_name(enum dd_ssh_failure f);

/*
 * Check an endpoint's fields: an address and user that ssh cannot take
 * for an option, a port from 1 to 65535, absolute paths.  Looks at no
 * file (dd_ssh_key_check() does, for the key).
 */
int dd_ssh_endpoint_check(const struct dd_ssh_endpoint *ep,
			  struct dd_error *err);

/*
 * Refuse a private key file that is missing, not a regular file, not
 * drydock's user's, or open to its group or others: ssh would refuse it
 * too, later and less clearly, and a key others can read is not secret.
 * `what` names it in the message ("host 'a': key").
 */
int dd_ssh_key_check(const char *path, const char *what,
		     struct dd_error *err);

/*
 * The directory for master sockets, made 0700 if missing: `state_dir`/ssh,
 * or, when socket paths under it could be too long for a Unix socket,
 * /tmp/drydock-ssh-UID.  Refuses a directory that is not ours or is open
 * to others (someone else's socket there would be our connection).
 */
int dd_ssh_control_dir(const char *state_dir, char *buf, size_t n,
		       struct dd_error *err);

/*
 * Make `dir` 0700 if missing (its parent must exist); refuse it unless it
 * is drydock's user's, and close it to others if it is open.  For the
 * control directory and the known_hosts files drydock keeps.
 */
int dd_ssh_private_dir(const char *dir, struct dd_error *err);

/*
 * Make what the endpoint needs on disk before a call: the control
 * directory's existence is the caller's; this writes the known_hosts file
 * of a given host key and makes drydock's own known_hosts file (0600) if
 * missing.
 */
int dd_ssh_prepare(const struct dd_ssh_endpoint *ep, struct dd_error *err);

/* Append `word` to `b`, quoted for a POSIX shell ('...', ' as '\''). */
int dd_ssh_quote(struct dd_buf *b, const char *word);

/*
 * The one string the remote login shell gets: the wrapper (see the top
 * of this file) with the directory, the environment and the argv, each
 * word quoted.  Refuses an empty argv and an environment entry that is
 * not NAME=VALUE with a shell variable's name.
 */
int dd_ssh_remote_command(const struct dd_ssh_command *cmd, struct dd_buf *b,
			  struct dd_error *err);

/*
 * The string the remote login shell gets to stop a group that a wrapper
 * reported (`drydock-run: group PGID START`, see ssh.c): SIGKILL for
 * `sig` SIGKILL, else SIGTERM and, in the background, SIGKILL after
 * DD_SSH_GRACE seconds to what is left; only while the group is still
 * the command's (its leader, while it lives, started at START; "-":
 * unknown).  0 or DD_ERR_NOMEM.
 */
int dd_ssh_stop_command(long pgid, const char *start, int sig,
			struct dd_buf *b);

/* The ssh client's argv for running `cmd` on `ep` ("ssh", options, ...). */
int dd_ssh_args_build(const struct dd_ssh_endpoint *ep,
		      const struct dd_ssh_command *cmd, struct dd_ssh_args *a,
		      struct dd_error *err);
void dd_ssh_args_release(struct dd_ssh_args *a);

/*
 * Start ssh running `cmd` on `ep` with the streams `io` names.  io->in,
 * unless -1, /dev/null or a terminal, is the command's input
 * (cmd->input; 0 is drydock's own standard input); otherwise
 * ssh's standard input is a pipe nobody writes to or closes, so the remote
 * side sees the channel's end only when ssh ends.  Calls
 * dd_ssh_prepare().  A dd_exec_start_fn for dd_exec_run() is
 * dd_ssh_start() with a struct dd_ssh_call.
 */
int dd_ssh_spawn(const struct dd_ssh_endpoint *ep,
		 const struct dd_ssh_command *cmd, const struct dd_exec_io *io,
		 pid_t *pid, struct dd_error *err);

struct dd_ssh_call {
	const struct dd_ssh_endpoint *ep;
	const struct dd_ssh_command *cmd;
};
int dd_ssh_start(void *call, const struct dd_exec_io *io, pid_t *pid,
		 struct dd_error *err);

/*
 * Read ssh's exit status and standard error: DD_SSH_OK when ssh itself
 * did not fail (whatever the command's status), else what went wrong.
 */
enum dd_ssh_failure dd_ssh_classify(int exit_status, const char *err_text,
				    size_t len);

/*
 * Set `err` (DD_ERR_REMOTE) to a sentence on failure `f` of a call to
 * `ep`, quoting ssh's own message: "cannot reach 127.0.0.1:2222: ...",
 * "host key for '127.0.0.1:2222' changed; drydock refuses it: ...".
 */
int dd_ssh_failure_error(const struct dd_ssh_endpoint *ep,
			 enum dd_ssh_failure f, const char *err_text,
			 size_t len, struct dd_error *err);

/*
 * Run `cmd` on `ep` to its end, with the timeout and cancel of `o` (a
 * hook's: dd_bp_exec_options()), its output captured in *res (release it
 * with dd_exec_result_release(), also after an error).  A failure of ssh
 * itself is an error (DD_ERR_REMOTE, with the failure in *failure when
 * that is not NULL); a command that ran and failed is its exit status in
 * res; the timeout is DD_ERR_REMOTE too ("... did not finish ... within
 * N s"), a cancel DD_ERR_INTERRUPTED.
 */
int dd_ssh_run(const struct dd_ssh_endpoint *ep,
	       const struct dd_ssh_command *cmd,
	       const struct dd_exec_options *o, struct dd_exec_result *res,
	       enum dd_ssh_failure *failure, struct dd_error *err);

#endif
