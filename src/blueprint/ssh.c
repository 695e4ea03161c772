/*
 * ssh.c - the OpenSSH transport (ssh.h): the client's argv with options
 * that make it safe and quiet, the remote wrapper, quoting, stopping a
 * remote command's process group when drydock stops its ssh, and reading
 * ssh's own failures off its exit status and standard error.
 */
#include "blueprint/ssh.h"
#include "core/sha256.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * The start time of process $1 into t (the 22nd field of /proc/PID/stat,
 * counted after the command's name, which may hold blanks), or "-" where
 * there is no such process or no /proc.  With the pid it names a
 * process for good: a pid comes back, a pid and its start time do not.
 */
#define START_TIME                                                             \
	"st() { t=-; if [ -r /proc/$1/stat ] && read -r l </proc/$1/stat; "    \
	"then l=${l##*') '}; set -- $l; t=${20:--}; fi; }\n"

/*
 * The remote wrapper, run as
 * `sh -c WRAPPER drydock-run MODE DIR ENV... -- ARGV...`.  It enters DIR
 * (when not empty), then, in a subshell, sets the ENV variables and runs
 * ARGV in the subshell's place: so none of the wrapper's own variables
 * is one of the command's, nor one of the command's the wrapper's.
 * sshd has made it the leader of a session and process group of its
 * own (OpenSSH's does for every command without a terminal).
 *
 * MODE "w": the command's input is /dev/null, and a watcher in the
 * background reads the wrapper's input, the channel, which reaches its
 * end only when the channel closes (drydock never writes to it nor
 * closes it while ssh lives): then the whole group (the command, what it
 * started, the wrapper) gets SIGTERM and, once the wrapper is gone or
 * after the grace, SIGKILL.  This needs the group, so the wrapper checks
 * that it leads one.  MODE "i": the command reads the channel, and
 * nothing watches it.  MODE "wr" or "ir": the same, and the wrapper
 * first reports its group on stderr, one line
 * `drydock-run: group PGID START` (START: its start time, START_TIME),
 * which drydock's reader takes out of the stream (struct dd_exec_far):
 * when drydock stops the command, it stops that group through the
 * master connection (the stopper, below), which also reaches a
 * command that reads the channel, and what the command left running
 * once the wrapper was gone.
 *
 * The wrapper traps SIGTERM (a handler, so the command still gets the
 * default) to outlive the command, and says nothing once the command
 * runs (a shell tells of a command a signal ended, "Terminated", which
 * is not the command's to say); at the end it stops the watcher and
 * exits with the command's status (128+N for signal N); 125 is the
 * wrapper's own failure (bad directory or environment entry, no process
 * group of its own), 126 and 127 that of starting the program, as in a
 * shell.
 */
#define STR(x) #x
#define XSTR(x) STR(x)
#define REPORT "drydock-run: group "
static const char wrapper[] =
	"m=$1 d=$2 w=; shift 2\n"
	"if [ -n \"$d\" ]; then cd -- \"$d\" || exit 125; fi\n"
	START_TIME
	"if kill -0 -$$ 2>/dev/null; then\n"
	"[ \"${m%r}\" = \"$m\" ] || { st $$; echo \"" REPORT "$$ $t\" >&2; }\n"
	"elif [ \"${m%r}\" = w ]; then echo \"drydock: the command does not "
	"lead a process group of its own (is the server OpenSSH's sshd?)\" "
	">&2; exit 125; fi\n"
	"if [ \"${m%r}\" = w ]; then\n"
	"exec 3<&0\n"
	"{ while read -r _; do :; done\n"
	"trap '' TERM; kill -TERM 0; n=" XSTR(DD_SSH_GRACE) "\n"
	"while [ $n -gt 0 ] && kill -0 $$; do sleep 1; n=$((n - 1)); done\n"
	"kill -KILL 0; } <&3 >/dev/null 2>&1 &\n"
	"w=$!\n"
	"exec 3<&- </dev/null\n"
	"fi\n"
	"trap : TERM\n"
	"exec 4>&2 2>/dev/null\n"
	"(exec 2>&4 4>&-\n"
	"while [ \"$1\" != -- ]; do export -- \"$1\" || exit 125; shift; done\n"
	"shift; exec \"$@\")\n"
	"s=$?\n"
	"[ -z \"$w\" ] || kill $w 2>/dev/null\n"
	"exit $s\n";

/*
 * Stopping a reported group, run through the master connection as
 * `sh -c STOPPER drydock-stop PGID START SIGNAL`: SIGNAL (TERM or KILL)
 * to the group, if it is still the command's: its leader, while it
 * lives, must have started at START (a group outlives its leader, and
 * its id is then no process's until the group is empty).  After TERM,
 * in the background so that the call returns at once, KILL once the
 * grace has passed and something of the group is left.
 */
static const char stopper[] =
	"p=$1 w=$2 s=$3\n" START_TIME
	"ours() { st $p; [ \"$t\" = - ] || [ \"$w\" = - ] || "
	"[ \"$t\" = \"$w\" ]; }\n"
	"ours || exit 0\n"
	"kill -$s -$p 2>/dev/null || exit 0\n"
	"[ \"$s\" = TERM ] || exit 0\n"
	"{ n=" XSTR(DD_SSH_GRACE) "\n"
	"while [ $n -gt 0 ] && kill -0 -$p 2>/dev/null; do sleep 1; "
	"n=$((n - 1)); done\n"
	"ours && kill -KILL -$p; } </dev/null >/dev/null 2>&1 &\n";

/* Longest control directory: its sockets, and ssh's temporary names for
 * them (".XXXXXXXXXXXXXXXX"), must fit a Unix socket's 108 bytes. */
#define CONTROL_DIR_MAX 70

const char *dd_ssh_failure_name(enum dd_ssh_failure f)
{
	switch (f) {
	case DD_SSH_OK:
		return "ok";
	case DD_SSH_UNREACHABLE:
		return "unreachable";
	case DD_SSH_KEY_REFUSED:
		return "key refused";
	case DD_SSH_HOST_KEY_CHANGED:
		return "host key changed";
	case DD_SSH_HOST_KEY_UNKNOWN:
		return "host key unknown";
	case DD_SSH_LOCAL:
		return "local";
	case DD_SSH_OTHER:
		break;
	}
	return "failed";
}

/* No control characters, and not empty. */
static bool printable(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* A word ssh could take for an option, or split, or that is empty. */
static bool bad_word(const char *s)
{
	return !printable(s) || s[0] == '-' || strpbrk(s, " \t\"'\\@");
}

/* ssh's config parser splits on blanks and takes quotes and '%' specially. */
static bool bad_path(const char *s)
{
	return !printable(s) || s[0] != '/' || strpbrk(s, "\"\\%");
}

static int port_of(const struct dd_ssh_endpoint *ep)
{
	return ep->port ? ep->port : 22;
}

int dd_ssh_endpoint_check(const struct dd_ssh_endpoint *ep,
			  struct dd_error *err)
{
	if (bad_word(ep->address))
		return dd_error_set(err, DD_ERR_INVALID,
				    "ssh: bad address '%s'",
				    ep->address ? ep->address : "");
	if (ep->port < 0 || ep->port > 65535)
		return dd_error_set(err, DD_ERR_INVALID,
				    "ssh: port %d of '%s' is not from 1 to "
				    "65535",
				    ep->port, ep->address);
	if (bad_word(ep->user))
		return dd_error_set(err, DD_ERR_INVALID,
				    "ssh: bad user name '%s' for '%s'",
				    ep->user ? ep->user : "", ep->address);
	if (bad_path(ep->key))
		return dd_error_set(err, DD_ERR_INVALID,
				    "ssh: the key of '%s' must be an absolute "
				    "path without quotes, '\\' or '%%'",
				    ep->address);
	if (bad_path(ep->known_hosts))
		return dd_error_set(err, DD_ERR_INVALID,
				    "ssh: the known_hosts file of '%s' must be "
				    "an absolute path without quotes, '\\' or "
				    "'%%'",
				    ep->address);
	if (ep->control_dir && bad_path(ep->control_dir))
		return dd_error_set(err, DD_ERR_INVALID,
				    "ssh: bad control directory '%s'",
				    ep->control_dir);
	if (ep->host_key) {
		const char *sp = strchr(ep->host_key, ' ');

		if (!printable(ep->host_key) || !sp || sp == ep->host_key ||
		    !sp[1] || strchr(sp + 1, ' '))
			return dd_error_set(err, DD_ERR_INVALID,
					    "ssh: the host key of '%s' must be "
					    "'TYPE BASE64', as in a .pub file "
					    "without its comment",
					    ep->address);
	}
	if (ep->connect_timeout < 0)
		return dd_error_set(err, DD_ERR_INVALID,
				    "ssh: negative connect timeout");
	return 0;
}

int dd_ssh_key_check(const char *path, const char *what, struct dd_error *err)
{
	struct stat st;

	if (stat(path, &st))
		return dd_error_set(err, DD_ERR_INVALID, "%s '%s': %s", what,
				    path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return dd_error_set(err, DD_ERR_INVALID,
				    "%s '%s' is not a regular file", what,
				    path);
	if (st.st_uid != geteuid() || (st.st_mode & 077))
		return dd_error_set(err, DD_ERR_INVALID,
				    "%s '%s' can be read by others than "
				    "drydock's user (owner uid %u, mode %04o): "
				    "make it drydock's and 0600",
				    what, path, (unsigned)st.st_uid,
				    (unsigned)(st.st_mode & 07777));
	return 0;
}

int dd_ssh_private_dir(const char *dir, struct dd_error *err)
{
	struct stat st;

	if (mkdir(dir, 0700) && errno != EEXIST)
		return dd_error_set(err, DD_ERR_IO,
				    "cannot create ssh directory '%s': %s", dir,
				    strerror(errno));
	if (lstat(dir, &st))
		return dd_error_set(err, DD_ERR_IO, "ssh directory '%s': %s",
				    dir, strerror(errno));
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
		return dd_error_set(err, DD_ERR_IO,
				    "ssh directory '%s' is not a directory of "
				    "drydock's user",
				    dir);
	if ((st.st_mode & 077) && chmod(dir, 0700))
		return dd_error_set(err, DD_ERR_IO,
				    "cannot close ssh directory '%s' to "
				    "others: %s",
				    dir, strerror(errno));
	return 0;
}

int dd_ssh_control_dir(const char *state_dir, char *buf, size_t n,
		       struct dd_error *err)
{
	int len = snprintf(buf, n, "%s/ssh", state_dir);

	if (len < 0 || (size_t)len >= n || len > CONTROL_DIR_MAX ||
	    bad_path(buf))
		len = snprintf(buf, n, "/tmp/drydock-ssh-%u",
			       (unsigned)geteuid());
	if (len < 0 || (size_t)len >= n)
		return dd_error_set(err, DD_ERR_INVALID,
				    "no room for the ssh control directory");
	return dd_ssh_private_dir(buf, err);
}

/* "addr" for port 22, else "[addr]:port", as known_hosts names hosts. */
static void host_pattern(const struct dd_ssh_endpoint *ep, char *buf,
			 size_t n)
{
	if (port_of(ep) == 22)
		snprintf(buf, n, "%s", ep->address);
	else
		snprintf(buf, n, "[%s]:%d", ep->address, port_of(ep));
}

/* Does the file at `path` hold exactly `want`? */
static bool file_holds(const char *path, const char *want)
{
	size_t n = strlen(want);
	char buf[1024];
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0 || n >= sizeof(buf)) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	got = read(fd, buf, sizeof(buf));
	close(fd);
	return got == (ssize_t)n && !memcmp(buf, want, n);
}

int dd_ssh_prepare(const struct dd_ssh_endpoint *ep, struct dd_error *err)
{
	char pat[300], line[900], tmp[PATH_MAX];
	int fd, n;

	if (!ep->host_key) {
		if (ep->known_hosts_given)
			return 0;
		fd = open(ep->known_hosts, O_WRONLY | O_CREAT | O_CLOEXEC,
			  0600);
		if (fd < 0)
			return dd_error_set(err, DD_ERR_IO,
					    "cannot create known_hosts file "
					    "'%s': %s",
					    ep->known_hosts, strerror(errno));
		close(fd);
		return 0;
	}
	/*
	 * A given key: the file holds it alone.  Every spawn comes here, from
	 * any thread of the process, so the file is left alone when it
	 * already says this, and otherwise written whole under a name of
	 * this call's own (mkstemp) and renamed over it: a reader (ssh) sees
	 * the old file or the new one, never a part, and two writers never
	 * share a temporary file.
	 */
	host_pattern(ep, pat, sizeof(pat));
	n = snprintf(line, sizeof(line), "%s %s\n", pat, ep->host_key);
	if (n < 0 || (size_t)n >= sizeof(line))
		return dd_error_set(err, DD_ERR_INVALID,
				    "host key for '%s' is too long",
				    ep->address);
	if (file_holds(ep->known_hosts, line))
		return 0;
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", ep->known_hosts) >=
	    (int)sizeof(tmp))
		return dd_error_set(err, DD_ERR_INVALID,
				    "known_hosts path '%s' is too long",
				    ep->known_hosts);
	fd = mkostemp(tmp, O_CLOEXEC); /* 0600 */
	if (fd < 0)
		return dd_error_set(err, DD_ERR_IO,
				    "cannot write known_hosts file '%s': %s",
				    ep->known_hosts, strerror(errno));
	if (dd_write_full(fd, line, (size_t)n) || fsync(fd) || close(fd) ||
	    rename(tmp, ep->known_hosts)) {
		int e = errno;

		unlink(tmp);
		return dd_error_set(err, DD_ERR_IO,
				    "cannot write known_hosts file '%s': %s",
				    ep->known_hosts, strerror(e));
	}
	return 0;
}

int dd_ssh_quote(struct dd_buf *b, const char *word)
{
	const char *q;
	int rc = dd_buf_addstr(b, "'");

	while (!rc && (q = strchr(word, '\''))) {
		rc = dd_buf_add(b, word, (size_t)(q - word));
		if (!rc)
			rc = dd_buf_addstr(b, "'\\''");
		word = q + 1;
	}
	if (!rc)
		rc = dd_buf_addstr(b, word);
	if (!rc)
		rc = dd_buf_addstr(b, "'");
	return rc;
}

/* NAME=VALUE with NAME a shell variable's name. */
static bool env_entry(const char *s)
{
	const char *eq = strchr(s, '=');

	if (!eq || eq == s || ('0' <= s[0] && s[0] <= '9'))
		return false;
	for (; s < eq; s++)
		if (!(('a' <= *s && *s <= 'z') || ('A' <= *s && *s <= 'Z') ||
		      ('0' <= *s && *s <= '9') || *s == '_'))
			return false;
	return true;
}

int dd_ssh_remote_command(const struct dd_ssh_command *cmd, struct dd_buf *b,
			  struct dd_error *err)
{
	size_t nenv = 0;
	int rc;

	if (!cmd->argv || !cmd->argv[0] || !cmd->argv[0][0])
		return dd_error_set(err, DD_ERR_INVALID, "no command to run");
	for (; cmd->env && cmd->env[nenv]; nenv++)
		if (!env_entry(cmd->env[nenv]))
			return dd_error_set(err, DD_ERR_INVALID,
					    "bad environment entry '%s': "
					    "want NAME=VALUE",
					    cmd->env[nenv]);
	rc = dd_buf_addstr(b, "exec sh -c ");
	if (!rc)
		rc = dd_ssh_quote(b, wrapper);
	if (!rc)
		rc = dd_buf_addf(b, " drydock-run %s%s ", cmd->input ? "i" : "w",
				 cmd->report ? "r" : "");
	if (!rc)
		rc = dd_ssh_quote(b, cmd->cwd ? cmd->cwd : "");
	for (size_t i = 0; !rc && i < nenv; i++) {
		rc = dd_buf_addstr(b, " ");
		if (!rc)
			rc = dd_ssh_quote(b, cmd->env[i]);
	}
	if (!rc)
		rc = dd_buf_addstr(b, " --");
	for (size_t i = 0; !rc && cmd->argv[i]; i++) {
		rc = dd_buf_addstr(b, " ");
		if (!rc)
			rc = dd_ssh_quote(b, cmd->argv[i]);
	}
	if (rc)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	return 0;
}

static int args_add(struct dd_ssh_args *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int args_add(struct dd_ssh_args *a, const char *fmt, ...)
{
	struct dd_buf b = {0};
	va_list ap;
	int n;

	if (a->n + 2 > a->alloc) {
		size_t alloc = a->alloc ? a->alloc * 2 : 64;
		char **p = dd_realloc(a->argv, alloc * sizeof(*p));

		if (!p)
			return DD_ERR_NOMEM;
		a->argv = p;
		a->alloc = alloc;
	}
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !(b.buf = dd_malloc((size_t)n + 1)))
		return DD_ERR_NOMEM;
	va_start(ap, fmt);
	vsnprintf(b.buf, (size_t)n + 1, fmt, ap);
	va_end(ap);
	a->argv[a->n++] = b.buf;
	a->argv[a->n] = NULL;
	return 0;
}

void dd_ssh_args_release(struct dd_ssh_args *a)
{
	for (size_t i = 0; i < a->n; i++)
		dd_free(a->argv[i]);
	dd_free(a->argv);
	memset(a, 0, sizeof(*a));
}

/*
 * The master socket's name: a hash of everything that makes a connection
 * different (who, where, with which key, trusting which known_hosts), so
 * two blueprints reaching one host with different keys share nothing.
 */
static void control_name(const struct dd_ssh_endpoint *ep, char out[17])
{
	struct dd_sha256_ctx c;
	char hex[65], port[16];

	snprintf(port, sizeof(port), "%d", port_of(ep));
	dd_sha256_init(&c);
	dd_sha256_update(&c, ep->user, strlen(ep->user) + 1);
	dd_sha256_update(&c, ep->address, strlen(ep->address) + 1);
	dd_sha256_update(&c, port, strlen(port) + 1);
	dd_sha256_update(&c, ep->key, strlen(ep->key) + 1);
	dd_sha256_update(&c, ep->known_hosts, strlen(ep->known_hosts) + 1);
	dd_sha256_final_hex(&c, hex);
	memcpy(out, hex, 16);
	out[16] = 0;
}

/* The ssh client's argv for running the string `remote` on `ep`. */
static int args_build(const struct dd_ssh_endpoint *ep, const char *remote,
		      struct dd_ssh_args *a, struct dd_error *err)
{
	static const char *const fixed[] = {
		"BatchMode=yes",
		"IdentitiesOnly=yes",
		"IdentityAgent=none",
		"PreferredAuthentications=publickey",
		"PasswordAuthentication=no",
		"KbdInteractiveAuthentication=no",
		"GlobalKnownHostsFile=/dev/null",
		"CheckHostIP=no",
		"HashKnownHosts=no",
		"UpdateHostKeys=no",
		"VerifyHostKeyDNS=no",
		"ConnectionAttempts=1",
		"ServerAliveInterval=5",
		"ServerAliveCountMax=3",
		"ForwardAgent=no",
		"ForwardX11=no",
		"ClearAllForwardings=yes",
		"PermitLocalCommand=no",
		"Tunnel=no",
		"AddKeysToAgent=no",
		"EscapeChar=none",
		"RequestTTY=no",
		"LogLevel=ERROR",
	};
	char name[17];
	int rc;

	memset(a, 0, sizeof(*a));
	/* -F /dev/null: neither ~/.ssh/config nor /etc/ssh/ssh_config */
	rc = args_add(a, "ssh");
	if (!rc)
		rc = args_add(a, "-F");
	if (!rc)
		rc = args_add(a, "/dev/null");
	for (size_t i = 0; !rc && i < sizeof(fixed) / sizeof(*fixed); i++) {
		rc = args_add(a, "-o");
		if (!rc)
			rc = args_add(a, "%s", fixed[i]);
	}
	if (!rc)
		rc = args_add(a, "-o");
	if (!rc)
		rc = args_add(a, "StrictHostKeyChecking=%s",
			      ep->known_hosts_given || ep->host_key
				      ? "yes"
				      : "accept-new");
	if (!rc)
		rc = args_add(a, "-o");
	if (!rc)
		rc = args_add(a, "UserKnownHostsFile=\"%s\"", ep->known_hosts);
	if (!rc)
		rc = args_add(a, "-o");
	if (!rc)
		rc = args_add(a, "IdentityFile=\"%s\"", ep->key);
	if (!rc)
		rc = args_add(a, "-o");
	if (!rc)
		rc = args_add(a, "ConnectTimeout=%d",
			      ep->connect_timeout ? ep->connect_timeout
						  : DD_SSH_CONNECT_TIMEOUT);
	if (ep->control_dir) {
		control_name(ep, name);
		if (!rc)
			rc = args_add(a, "-o");
		if (!rc)
			rc = args_add(a, "ControlMaster=auto");
		if (!rc)
			rc = args_add(a, "-o");
		if (!rc)
			rc = args_add(a, "ControlPersist=%d", DD_SSH_PERSIST);
		if (!rc)
			rc = args_add(a, "-o");
		if (!rc)
			rc = args_add(a, "ControlPath=\"%s/%s\"",
				      ep->control_dir, name);
	} else {
		if (!rc)
			rc = args_add(a, "-o");
		if (!rc)
			rc = args_add(a, "ControlMaster=no");
		if (!rc)
			rc = args_add(a, "-o");
		if (!rc)
			rc = args_add(a, "ControlPath=none");
	}
	if (!rc)
		rc = args_add(a, "-p");
	if (!rc)
		rc = args_add(a, "%d", port_of(ep));
	if (!rc)
		rc = args_add(a, "-l");
	if (!rc)
		rc = args_add(a, "%s", ep->user);
	if (!rc)
		rc = args_add(a, "--");
	if (!rc)
		rc = args_add(a, "%s", ep->address);
	if (!rc)
		rc = args_add(a, "%s", remote);
	if (rc) {
		dd_ssh_args_release(a);
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	}
	return 0;
}

int dd_ssh_args_build(const struct dd_ssh_endpoint *ep,
		      const struct dd_ssh_command *cmd, struct dd_ssh_args *a,
		      struct dd_error *err)
{
	struct dd_buf remote = DD_BUF_INIT;
	int rc;

	memset(a, 0, sizeof(*a));
	rc = dd_ssh_endpoint_check(ep, err);
	if (!rc)
		rc = dd_ssh_remote_command(cmd, &remote, err);
	if (!rc)
		rc = args_build(ep, remote.buf, a, err);
	dd_buf_release(&remote);
	return rc;
}

/*
 * A standard input that never ends while ssh lives: a pipe opened again
 * through /proc for reading and writing, so this one descriptor is its
 * only reader and its only writer.  ssh reads nothing from it and never
 * sees its end; the remote side sees the channel's end when ssh ends.
 */
static int endless_input(void)
{
	char path[64];
	int p[2], fd;

	if (pipe2(p, O_CLOEXEC))
		return -1;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p[0]);
	fd = open(path, O_RDWR | O_CLOEXEC);
	close(p[0]);
	close(p[1]);
	return fd;
}

/*
 * Is `fd` input to forward: not /dev/null, which gives nothing, and not
 * a terminal?  ssh reads its input whether or not the command does: from
 * a terminal that would take the user's typing from drydock's shell, stop
 * ssh when drydock runs it in a group of its own (SIGTTIN), and leave the
 * command unwatched (ssh.h) for every interactive exec.
 */
static bool forwarded_input(int fd)
{
	struct stat st, null;

	if (fd < 0 || fstat(fd, &st))
		return false;
	if (S_ISCHR(st.st_mode) && !stat("/dev/null", &null) &&
	    st.st_rdev == null.st_rdev)
		return false;
	return !isatty(fd);
}

/*
 * A command seen through by dd_exec_run(), whose wrapper reports its
 * process group (struct dd_exec_far): what stopping that group over
 * there takes, for the length of the run.  The endpoint is a copy: the
 * caller's is borrowed only for the spawn.
 */
struct far {
	struct dd_ssh_endpoint ep;
	char *copies[6];
	long pgid;     /* 0 until reported */
	char start[24]; /* its leader's start time, "-": unknown */
	int sent;      /* the last signal sent there, 0: none */
};

static void far_release(void *arg)
{
	struct far *f = arg;

	if (!f)
		return;
	for (size_t i = 0; i < sizeof(f->copies) / sizeof(*f->copies); i++)
		dd_free(f->copies[i]);
	dd_free(f);
}

/* A copy of `s` (NULL stays NULL) into the next of f->copies. */
static bool far_copy(struct far *f, size_t *n, const char *s,
		     const char **to)
{
	*to = NULL;
	if (!s)
		return true;
	f->copies[*n] = dd_strdup(s);
	*to = f->copies[*n];
	return f->copies[(*n)++] != NULL;
}

static struct far *far_new(const struct dd_ssh_endpoint *ep)
{
	struct far *f = dd_calloc(1, sizeof(*f));
	size_t n = 0;

	if (!f)
		return NULL;
	f->ep = *ep;
	if (!far_copy(f, &n, ep->address, &f->ep.address) ||
	    !far_copy(f, &n, ep->user, &f->ep.user) ||
	    !far_copy(f, &n, ep->key, &f->ep.key) ||
	    !far_copy(f, &n, ep->known_hosts, &f->ep.known_hosts) ||
	    !far_copy(f, &n, ep->host_key, &f->ep.host_key) ||
	    !far_copy(f, &n, ep->control_dir, &f->ep.control_dir)) {
		far_release(f);
		return NULL;
	}
	return f;
}

/* The wrapper's report, `drydock-run: group PGID START`. */
static void far_report(void *arg, const char *line, size_t n)
{
	struct far *f = arg;
	size_t skip = strlen(REPORT);
	char buf[64], *end;
	long pgid;

	if (n <= skip || n - skip >= sizeof(buf))
		return;
	memcpy(buf, line + skip, n - skip);
	buf[n - skip] = 0;
	pgid = strtol(buf, &end, 10);
	if (pgid <= 1 || *end != ' ' || strlen(end + 1) >= sizeof(f->start) ||
	    (strcmp(end + 1, "-") &&
	     (!end[1] || strspn(end + 1, "0123456789") != strlen(end + 1))))
		return;
	f->pgid = pgid;
	strcpy(f->start, end + 1);
}

int dd_ssh_stop_command(long pgid, const char *start, int sig,
			struct dd_buf *b)
{
	int rc = dd_buf_addstr(b, "exec sh -c ");

	if (!rc)
		rc = dd_ssh_quote(b, stopper);
	if (!rc)
		rc = dd_buf_addf(b, " drydock-stop %ld ", pgid);
	if (!rc)
		rc = dd_ssh_quote(b, start);
	if (!rc)
		rc = dd_buf_addstr(b, sig == SIGKILL ? " KILL" : " TERM");
	return rc ? DD_ERR_NOMEM : 0;
}

static int argv_start(void *arg, const struct dd_exec_io *io, pid_t *pid,
		      struct dd_error *err)
{
	const struct dd_ssh_args *a = arg;
	struct dd_exec_spec sp = {.argv = a->argv};

	return dd_exec_spawn(&sp, io, pid, NULL, err);
}

/*
 * dd_exec_run() stopped the local ssh: stop the reported group over
 * there the same way, through the master connection (the stopper).
 * Best effort, within DD_SSH_STOP_TIMEOUT: a host that cannot be
 * reached now could not be stopped any other way either; the watcher
 * of a command that does not read the channel still sees it close.
 */
static void far_stop(void *arg, int sig)
{
	struct far *f = arg;
	struct dd_exec_options o = {.timeout = DD_SSH_STOP_TIMEOUT,
				    .cancel_fd = -1,
				    .null_input = true,
				    .out = DD_EXEC_CAPTURE,
				    .err = DD_EXEC_CAPTURE};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_buf remote = DD_BUF_INIT;
	struct dd_exec_result res;
	struct dd_ssh_args a;
	int rc;

	if (!f->pgid || f->sent == SIGKILL || f->sent == sig)
		return;
	f->sent = sig;
	rc = dd_ssh_stop_command(f->pgid, f->start, sig, &remote);
	if (!rc && !args_build(&f->ep, remote.buf, &a, &err)) {
		if (!dd_exec_run(argv_start, &a, &o, &res, &err))
			dd_exec_result_release(&res);
		dd_ssh_args_release(&a);
	}
	dd_buf_release(&remote);
}

int dd_ssh_spawn(const struct dd_ssh_endpoint *ep,
		 const struct dd_ssh_command *cmd, const struct dd_exec_io *io,
		 pid_t *pid, struct dd_error *err)
{
	struct dd_ssh_command mine = *cmd;
	struct dd_exec_io own = *io;
	struct dd_exec_spec sp = {0};
	struct dd_ssh_args a;
	struct far *f = NULL;
	int rep[2] = {-1, -1};
	int rc;

	/* input to give the command: the channel carries it */
	mine.input = forwarded_input(io->in);
	/* seen through by dd_exec_run(): the group is reported to it */
	mine.report = io->far != NULL;
	rc = dd_ssh_args_build(ep, &mine, &a, err);
	if (!rc)
		rc = dd_ssh_prepare(ep, err);
	if (rc) {
		dd_ssh_args_release(&a);
		return rc;
	}
	if (mine.report && !(f = far_new(ep))) {
		dd_ssh_args_release(&a);
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	}
	own.in = mine.input ? io->in : endless_input();
	if (own.in < 0 || (f && pipe2(rep, O_CLOEXEC))) {
		int e = errno;

		if (!mine.input && own.in >= 0)
			close(own.in);
		far_release(f);
		dd_ssh_args_release(&a);
		return dd_error_set(err, DD_ERR_IO,
				    "cannot make ssh's streams: %s",
				    strerror(e));
	}
	if (f)
		own.err = rep[1];
	sp.argv = a.argv;
	rc = dd_exec_spawn(&sp, &own, pid, NULL, err);
	if (!mine.input)
		close(own.in);
	dd_ssh_args_release(&a);
	if (f) {
		close(rep[1]);
		if (rc) {
			close(rep[0]);
			far_release(f);
		} else {
			*io->far = (struct dd_exec_far){
				.err_fd = rep[0],
				.report = REPORT,
				.on_report = far_report,
				.stop = far_stop,
				.release = far_release,
				.arg = f,
			};
		}
	}
	if (rc == DD_ERR_INVALID)
		return dd_error_set(err, DD_ERR_IO,
				    "cannot run ssh: it is not installed "
				    "(openssh-client)");
	return rc;
}

int dd_ssh_start(void *call, const struct dd_exec_io *io, pid_t *pid,
		 struct dd_error *err)
{
	const struct dd_ssh_call *c = call;

	return dd_ssh_spawn(c->ep, c->cmd, io, pid, err);
}

/* Does `text` (not NUL-terminated, `len` bytes) contain `s`? */
static const char *find(const char *text, size_t len, const char *s)
{
	return memmem(text, len, s, strlen(s));
}

/*
 * ssh's messages at LogLevel ERROR, by what they mean.  The first table
 * whose pattern appears wins, so the changed key (whose banner also says
 * "verification failed") comes before the unknown one.
 */
static const struct {
	enum dd_ssh_failure f;
	const char *pattern;
} patterns[] = {
	{DD_SSH_HOST_KEY_CHANGED, "REMOTE HOST IDENTIFICATION HAS CHANGED"},
	{DD_SSH_HOST_KEY_CHANGED, "has changed and you have requested strict"},
	{DD_SSH_HOST_KEY_UNKNOWN, "Host key verification failed"},
	{DD_SSH_HOST_KEY_UNKNOWN, "No matching host key"},
	{DD_SSH_KEY_REFUSED, "Permission denied ("},
	{DD_SSH_KEY_REFUSED, "Too many authentication failures"},
	{DD_SSH_LOCAL, "UNPROTECTED PRIVATE KEY FILE"},
	{DD_SSH_LOCAL, "Load key "},
	{DD_SSH_LOCAL, "no such identity"},
	{DD_SSH_LOCAL, "Bad owner or permissions"},
	{DD_SSH_LOCAL, "ControlPath too long"},
	{DD_SSH_LOCAL, "too long for Unix domain socket"},
	{DD_SSH_UNREACHABLE, "Connection refused"},
	{DD_SSH_UNREACHABLE, "Connection timed out"},
	{DD_SSH_UNREACHABLE, "Operation timed out"},
	{DD_SSH_UNREACHABLE, "No route to host"},
	{DD_SSH_UNREACHABLE, "Network is unreachable"},
	{DD_SSH_UNREACHABLE, "Host is down"},
	{DD_SSH_UNREACHABLE, "Could not resolve hostname"},
	{DD_SSH_UNREACHABLE, "Name or service not known"},
	{DD_SSH_UNREACHABLE, "Connection closed by"},
	{DD_SSH_UNREACHABLE, "Connection reset by"},
	{DD_SSH_UNREACHABLE, "Connection to "},
	{DD_SSH_UNREACHABLE, "kex_exchange_identification"},
	{DD_SSH_UNREACHABLE, "banner exchange"},
	{DD_SSH_UNREACHABLE, "not responding"},
	{DD_SSH_UNREACHABLE, "Broken pipe"},
	{DD_SSH_UNREACHABLE, "mux_client_"},
	{DD_SSH_UNREACHABLE, "client_loop: send disconnect"},
};

/* The pattern's line in `text`, or NULL. */
static const char *match(const char *text, size_t len,
			 enum dd_ssh_failure *f)
{
	for (size_t i = 0; i < sizeof(patterns) / sizeof(*patterns); i++) {
		const char *at = find(text, len, patterns[i].pattern);

		if (at) {
			*f = patterns[i].f;
			return at;
		}
	}
	*f = DD_SSH_OK;
	return NULL;
}

enum dd_ssh_failure dd_ssh_classify(int exit_status, const char *err_text,
				    size_t len)
{
	enum dd_ssh_failure f;

	if (exit_status != DD_SSH_FAILED)
		return DD_SSH_OK;
	/* a remote command may exit 255 too: only ssh's words tell */
	match(err_text ? err_text : "", err_text ? len : 0, &f);
	if (f == DD_SSH_OK && err_text && find(err_text, len, "ssh: "))
		f = DD_SSH_OTHER;
	return f;
}

/* The line of `text` around `at`, trimmed, into buf ("ssh: " dropped). */
static void line_at(const char *text, size_t len, const char *at, char *buf,
		    size_t n)
{
	const char *b = at, *e = at, *end = text + len;

	while (b > text && b[-1] != '\n')
		b--;
	while (e < end && *e != '\n' && *e != '\r')
		e++;
	while (b < e && (*b == ' ' || *b == '@'))
		b++;
	if (e - b > 5 && !strncmp(b, "ssh: ", 5))
		b += 5;
	while (e > b && (e[-1] == ' ' || e[-1] == '.' || e[-1] == '@'))
		e--;
	snprintf(buf, n, "%.*s", (int)(e - b), b);
}

int dd_ssh_failure_error(const struct dd_ssh_endpoint *ep,
			 enum dd_ssh_failure f, const char *err_text,
			 size_t len, struct dd_error *err)
{
	const char *text = err_text ? err_text : "";
	char line[256] = "", fp[128] = "", who[300];
	enum dd_ssh_failure found;
	const char *at;

	if (!err_text)
		len = 0;
	snprintf(who, sizeof(who), "%s:%d", ep->address, port_of(ep));
	at = match(text, len, &found);
	if (!at && len)
		at = text;
	if (at)
		line_at(text, len, at, line, sizeof(line));
	switch (f) {
	case DD_SSH_HOST_KEY_CHANGED:
		/* "The fingerprint for the ED25519 key sent ... is\nSHA256:..." */
		at = find(text, len, "SHA256:");
		if (at)
			line_at(text, len, at, fp, sizeof(fp));
		return dd_error_set(err, DD_ERR_REMOTE,
				    "host key for '%s' changed; drydock "
				    "refuses it: the host presents %s, not "
				    "the key in '%s' (if the change is "
				    "expected, remove the host's line there)",
				    who, fp[0] ? fp : "another key",
				    ep->known_hosts);
	case DD_SSH_HOST_KEY_UNKNOWN:
		return dd_error_set(err, DD_ERR_REMOTE,
				    "host key for '%s' is not in '%s'; "
				    "drydock refuses a key it does not know: "
				    "%s",
				    who, ep->known_hosts, line);
	case DD_SSH_KEY_REFUSED:
		return dd_error_set(err, DD_ERR_REMOTE,
				    "'%s' refused the key '%s' for user "
				    "'%s': %s",
				    who, ep->key, ep->user, line);
	case DD_SSH_UNREACHABLE:
		return dd_error_set(err, DD_ERR_REMOTE,
				    "cannot reach '%s': %s", who, line);
	case DD_SSH_LOCAL:
		return dd_error_set(err, DD_ERR_REMOTE,
				    "ssh cannot connect to '%s' from here: %s",
				    who, line);
	case DD_SSH_OK:
	case DD_SSH_OTHER:
		break;
	}
	return dd_error_set(err, DD_ERR_REMOTE, "ssh to '%s' failed: %s", who,
			    line[0] ? line : "exit status 255");
}

int dd_ssh_run(const struct dd_ssh_endpoint *ep,
	       const struct dd_ssh_command *cmd,
	       const struct dd_exec_options *opt, struct dd_exec_result *res,
	       enum dd_ssh_failure *failure, struct dd_error *err)
{
	struct dd_ssh_call call = {ep, cmd};
	struct dd_exec_options o = *opt;
	enum dd_ssh_failure f = DD_SSH_OK;
	int rc;

	o.out = DD_EXEC_CAPTURE;
	o.err = DD_EXEC_CAPTURE;
	rc = dd_exec_run(dd_ssh_start, &call, &o, res, err);
	if (!rc && res->timed_out) {
		f = DD_SSH_UNREACHABLE;
		rc = dd_error_set(err, DD_ERR_REMOTE,
				  "'%s:%d' did not finish '%s' within %g s",
				  ep->address, port_of(ep), cmd->argv[0],
				  o.timeout);
	} else if (!rc && res->cancelled) {
		rc = dd_error_set(err, DD_ERR_INTERRUPTED,
				  "'%s' on '%s:%d' was cancelled",
				  cmd->argv[0], ep->address, port_of(ep));
	} else if (!rc) {
		f = dd_ssh_classify(res->exit_status, res->err.buf,
				    res->err.len);
		if (f != DD_SSH_OK)
			rc = dd_ssh_failure_error(ep, f, res->err.buf,
						  res->err.len, err);
	}
	if (failure)
		*failure = f;
	return rc;
}
