/*
 * test_ssh.c - the OpenSSH transport (blueprint/ssh.c) without a server:
 * the remote command string run by local shells as a login shell would
 * run it (hostile words come out unchanged, the directory and environment
 * are set, the command's status comes back), the wrapper stopping the
 * command's whole tree when its input (the channel) ends, the wrapper's
 * report of its group and the stop of that group (checked against its
 * leader's start time), the whole way with a stand-in ssh, endpoint and
 * key checks, the ssh argv's safety options, and ssh's failures read off
 * its messages.  tests/integration/ssh_hosts.sh runs it against a real
 * sshd.
 */
#include "testutil.h"

#include "blueprint/ssh.h"
#include "core/exec.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

/* Words a shell would love to interpret. */
static const char *const hostile[] = {
	"plain",
	"",
	"two words",
	"it's",
	"''",
	"'\\''",
	"\"double\"",
	"$(touch pwned)",
	"`touch pwned`",
	"$HOME ${HOME} $0 $1 $@ $*",
	"a;b&&c||d|e",
	"*",
	"~",
	"-n",
	"--",
	"back\\slash\\",
	"new\nline",
	"tab\there",
	"!event",
	"#comment",
	"> redirect",
	"é ü \xe2\x82\xac",
};
#define NHOSTILE (sizeof(hostile) / sizeof(*hostile))

struct shell_run {
	const char *shell;
	const char *remote;
	int in; /* the wrapper's input; kept open by the test */
};

/* Start `shell -c REMOTE`, as sshd starts the login shell. */
static int shell_start(void *arg, const struct dd_exec_io *io, pid_t *pid,
		       struct dd_error *err)
{
	struct shell_run *s = arg;
	char *argv[] = {(char *)s->shell, "-c", (char *)s->remote, NULL};
	struct dd_exec_spec sp = {.argv = argv};
	struct dd_exec_io own = *io;

	own.in = s->in;
	return dd_exec_spawn(&sp, &own, pid, NULL, err);
}

/* Run the remote string for `cmd` with `shell`; its stdin a held pipe. */
static void run_remote(const char *shell, const struct dd_ssh_command *cmd,
		       struct dd_exec_result *res)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_buf remote = DD_BUF_INIT;
	struct dd_exec_options o = {.cancel_fd = -1,
				    .timeout = 60,
				    .out = DD_EXEC_CAPTURE,
				    .err = DD_EXEC_CAPTURE};
	struct shell_run s = {shell, NULL, -1};
	int p[2];

	assert_ok(dd_ssh_remote_command(cmd, &remote, &err), &err);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	s.remote = remote.buf;
	s.in = p[0];
	assert_ok(dd_exec_run(shell_start, &s, &o, res, &err), &err);
	close(p[0]);
	close(p[1]);
	dd_buf_release(&remote);
}

static void test_hostile_words_arrive_unchanged(void **state)
{
	static const char *const shells[] = {"/bin/sh", "/bin/bash"};
	char dir[] = "/tmp/dd-ssh-XXXXXX", cwd[PATH_MAX];
	const char *argv[NHOSTILE + 6];
	char *env[NHOSTILE + 1];
	char envbuf[NHOSTILE][64], script[1024];

	(void)state;
	assert_non_null(mkdtemp(dir));
	/* a directory whose name is hostile too */
	snprintf(cwd, sizeof(cwd), "%s/it's $(x) `y` \"z\"", dir);
	assert_int_equal(mkdir(cwd, 0700), 0);
	/* prints its directory, the variables, then its own arguments */
	snprintf(script, sizeof(script), "printf '%%s\\0' \"$(pwd)\"");
	for (size_t i = 0; i < NHOSTILE; i++)
		snprintf(script + strlen(script), sizeof(script) - strlen(script),
			 " \"$DD_T%zu\"", i);
	strcat(script, "; printf '%s\\0' \"$@\"");
	argv[0] = "/bin/sh";
	argv[1] = "-c";
	argv[2] = script;
	argv[3] = "sh";
	for (size_t i = 0; i < NHOSTILE; i++) {
		argv[4 + i] = hostile[i];
		snprintf(envbuf[i], sizeof(envbuf[i]), "DD_T%zu=%s", i,
			 hostile[i]);
		env[i] = envbuf[i];
	}
	argv[4 + NHOSTILE] = NULL;
	env[NHOSTILE] = NULL;
	for (size_t s = 0; s < sizeof(shells) / sizeof(*shells); s++) {
		struct dd_ssh_command cmd = {cwd, env, (char *const *)argv,
					     false, false};
		struct dd_exec_result res;
		const char *at, *end;

		if (access(shells[s], X_OK))
			continue;
		run_remote(shells[s], &cmd, &res);
		if (res.exit_status)
			fail_msg("%s: exit %d: %s", shells[s], res.exit_status,
				 res.err.buf ? res.err.buf : "");
		at = res.out.buf;
		end = at + res.out.len;
		assert_non_null(at);
		assert_string_equal(at, cwd);
		at += strlen(at) + 1;
		for (size_t pass = 0; pass < 2; pass++)
			for (size_t i = 0; i < NHOSTILE; i++) {
				assert_true(at < end);
				if (strcmp(at, hostile[i]))
					fail_msg("%s: %s %zu: got '%s', want "
						 "'%s'",
						 shells[s],
						 pass ? "argument" : "variable",
						 i, at, hostile[i]);
				at += strlen(at) + 1;
			}
		assert_true(at == end);
		dd_exec_result_release(&res);
		/* nothing was run by a shell that should not have been */
		assert_int_not_equal(access("pwned", F_OK), 0);
	}
	dd_remove_tree(dir);
}

static void test_status_and_streams(void **state)
{
	char *argv[] = {"/bin/sh", "-c", "echo out; echo err >&2; exit 7",
			NULL};
	char *missing[] = {"no-such-program-dd", NULL};
	char *env[] = {"X=1", NULL};
	struct dd_ssh_command cmd = {NULL, env, argv, false, false};
	struct dd_exec_result res;

	(void)state;
	run_remote("/bin/sh", &cmd, &res);
	assert_int_equal(res.exit_status, 7);
	assert_string_equal(res.out.buf, "out\n");
	assert_string_equal(res.err.buf, "err\n");
	dd_exec_result_release(&res);
	/* a program that is not there: 127, as from a shell */
	cmd.argv = missing;
	run_remote("/bin/sh", &cmd, &res);
	assert_int_equal(res.exit_status, 127);
	dd_exec_result_release(&res);
	/* a directory that is not there: the wrapper's own 125 */
	cmd.argv = argv;
	cmd.cwd = "/no/such/dir-dd";
	run_remote("/bin/sh", &cmd, &res);
	assert_int_equal(res.exit_status, 125);
	dd_exec_result_release(&res);
}

static bool gone(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;

	if (kill(pid, 0))
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return true;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	p = p ? strrchr(buf, ')') : NULL;
	return p && p[1] == ' ' && p[2] == 'Z';
}

static pid_t read_pid(const char *path)
{
	FILE *f = fopen(path, "r");
	int pid = 0;

	if (f) {
		if (fscanf(f, "%d", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	return (pid_t)pid;
}

/* Is `pid` gone within 30 s (a bound on the test, not a wait it needs)? */
static bool gone_soon(pid_t pid)
{
	double end = dd_monotonic() + 30;

	while (!gone(pid) && dd_monotonic() < end)
		usleep(20000);
	return gone(pid);
}

struct cancel_run {
	struct shell_run s;
	int hold; /* the write end of the wrapper's input */
};

static void *close_input_later(void *arg)
{
	struct cancel_run *c = arg;
	double end = dd_monotonic() + 30;

	/* once the command's child is up, the "channel" closes */
	while (dd_monotonic() < end && access("/tmp/dd-ssh-cancel.ready", F_OK))
		usleep(10000);
	close(c->hold);
	return NULL;
}

/*
 * The channel ends (the wrapper's input: ssh was killed): the command and
 * the child it left in the background are both stopped, though neither
 * reads its input, and a child that ignores SIGTERM gets SIGKILL.
 */
static void test_channel_end_stops_the_tree(void **state)
{
	char *argv[] = {"/bin/sh", "-c",
			"trap '' TERM; sleep 1000 & echo $! "
			">/tmp/dd-ssh-cancel.child; echo $$ "
			">/tmp/dd-ssh-cancel.sh; touch "
			"/tmp/dd-ssh-cancel.ready; wait",
			NULL};
	struct dd_ssh_command cmd = {NULL, NULL, argv, false, false};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_buf remote = DD_BUF_INIT;
	struct dd_exec_options o = {.cancel_fd = -1,
				    .timeout = 60,
				    .out = DD_EXEC_CAPTURE,
				    .err = DD_EXEC_CAPTURE};
	struct dd_exec_result res;
	struct cancel_run c;
	pthread_t t;
	pid_t child, sh;
	int p[2];
	double end;

	(void)state;
	unlink("/tmp/dd-ssh-cancel.ready");
	assert_ok(dd_ssh_remote_command(&cmd, &remote, &err), &err);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	c.s = (struct shell_run){"/bin/sh", remote.buf, p[0]};
	c.hold = p[1];
	assert_int_equal(pthread_create(&t, NULL, close_input_later, &c), 0);
	assert_ok(dd_exec_run(shell_start, &c.s, &o, &res, &err), &err);
	pthread_join(t, NULL);
	close(p[0]);
	/* SIGTERM is ignored: SIGKILL after the grace; 128+9 */
	assert_int_equal(res.exit_status, 128 + SIGKILL);
	assert_false(res.timed_out);
	dd_exec_result_release(&res);
	child = read_pid("/tmp/dd-ssh-cancel.child");
	sh = read_pid("/tmp/dd-ssh-cancel.sh");
	assert_true(child > 0 && sh > 0);
	end = dd_monotonic() + 30;
	while ((!gone(child) || !gone(sh)) && dd_monotonic() < end)
		usleep(20000);
	assert_true(gone(child));
	assert_true(gone(sh));
	unlink("/tmp/dd-ssh-cancel.ready");
	unlink("/tmp/dd-ssh-cancel.child");
	unlink("/tmp/dd-ssh-cancel.sh");
	dd_buf_release(&remote);
}

/* The start time of `pid` (/proc/PID/stat's 22nd field), or 0. */
static unsigned long long start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long t = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	p = p ? strrchr(buf, ')') : NULL;
	/* after ") ": state is field 3, the start time field 22 */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%*u %*u %*d %*d %*d %*d %*d %*d %llu",
			 &t) != 1)
		return 0;
	return t;
}

/* Start the shell as shell_start() does, and note its pid. */
struct report_run {
	struct shell_run s;
	pid_t pid;
};

static int report_start(void *arg, const struct dd_exec_io *io, pid_t *pid,
			struct dd_error *err)
{
	struct report_run *r = arg;
	int rc = shell_start(&r->s, io, pid, err);

	r->pid = *pid;
	return rc;
}

/*
 * With `report`, the wrapper's first line on stderr names its process
 * group and its start time (sshd makes it a group leader: here its own
 * group, which a deadline gives it); then come the command's own.
 */
static void test_wrapper_reports_its_group(void **state)
{
	static const char *const shells[] = {"/bin/sh", "/bin/bash"};
	char *argv[] = {"/bin/sh", "-c", "echo out; echo err >&2; exit 3",
			NULL};
	struct dd_ssh_command cmd = {NULL, NULL, argv, false, true};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_exec_options o = {.cancel_fd = -1,
				    .timeout = 60,
				    .out = DD_EXEC_CAPTURE,
				    .err = DD_EXEC_CAPTURE};

	(void)state;
	for (size_t i = 0; i < sizeof(shells) / sizeof(*shells); i++) {
		struct dd_buf remote = DD_BUF_INIT;
		struct report_run r = {{shells[i], NULL, -1}, 0};
		struct dd_exec_result res;
		char want[128];
		int p[2];

		if (access(shells[i], X_OK))
			continue;
		for (int input = 0; input < 2; input++) {
			cmd.input = input;
			dd_buf_release(&remote);
			assert_ok(dd_ssh_remote_command(&cmd, &remote, &err),
				  &err);
			assert_int_equal(pipe2(p, O_CLOEXEC), 0);
			r.s.remote = remote.buf;
			r.s.in = p[0];
			assert_ok(dd_exec_run(report_start, &r, &o, &res, &err),
				  &err);
			close(p[0]);
			close(p[1]);
			assert_int_equal(res.exit_status, 3);
			assert_string_equal(res.out.buf, "out\n");
			assert_non_null(res.err.buf);
			/* the start time: the wrapper's, now gone; digits */
			snprintf(want, sizeof(want), "drydock-run: group %d ",
				 (int)r.pid);
			if (strncmp(res.err.buf, want, strlen(want)))
				fail_msg("%s: stderr '%s', want '%s...'",
					 shells[i], res.err.buf, want);
			assert_true(strspn(res.err.buf + strlen(want),
					   "0123456789") > 0);
			assert_string_equal(strchr(res.err.buf, '\n') + 1,
					    "err\n");
			dd_exec_result_release(&res);
		}
		dd_buf_release(&remote);
	}
}

/*
 * dd_ssh_stop_command() run by a shell, as the host's login shell would:
 * a group whose leader started at the time given is stopped, also when
 * it ignores SIGTERM (SIGKILL after the grace); one whose leader started
 * at another time (the pid is someone else's now) is left alone; and a
 * group whose leader is gone is stopped whatever time is given.
 */
struct stop_group {
	pid_t leader;
	pid_t child; /* in the group, left by the leader */
};

/* A group of its own: `script` run by sh as its leader. */
static int group_start(void *arg, const struct dd_exec_io *io, pid_t *pid,
		       struct dd_error *err)
{
	char *argv[] = {"/bin/sh", "-c", arg, NULL};
	struct dd_exec_spec sp = {.argv = argv};
	struct dd_exec_io own = *io;

	own.own_group = true;
	return dd_exec_spawn(&sp, &own, pid, NULL, err);
}

/* Run dd_ssh_stop_command()'s string with sh, as a login shell would. */
static void run_stopper(long pgid, const char *start, int sig)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_buf b = DD_BUF_INIT;
	struct dd_exec_options o = {.cancel_fd = -1,
				    .timeout = 30,
				    .null_input = true,
				    .out = DD_EXEC_CAPTURE,
				    .err = DD_EXEC_CAPTURE};
	struct dd_exec_result res;

	assert_ok(dd_ssh_stop_command(pgid, start, sig, &b), &err);
	assert_ok(dd_exec_run(group_start, b.buf, &o, &res, &err), &err);
	assert_int_equal(res.exit_status, 0);
	dd_exec_result_release(&res);
	dd_buf_release(&b);
}

static void *run_group(void *arg)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_exec_options o = {.cancel_fd = -1,
				    .timeout = 60,
				    .out = DD_EXEC_CAPTURE,
				    .err = DD_EXEC_CAPTURE};
	struct dd_exec_result *res = dd_calloc(1, sizeof(*res));

	dd_exec_run(group_start, arg, &o, res, &err);
	return res;
}

static void test_stopper_checks_the_group(void **state)
{
	char dir[] = "/tmp/dd-ssh-stop-XXXXXX", script[512], path[600];
	char start[32];
	pthread_t t;
	void *res;
	pid_t leader, child;
	double end;

	(void)state;
	assert_non_null(mkdtemp(dir));
	/* a leader that ignores TERM and waits, with a child that does too */
	snprintf(script, sizeof(script),
		 "trap '' TERM; sleep 1000 & echo $! >%s/child; "
		 "echo $$ >%s/leader; wait",
		 dir, dir);
	assert_int_equal(pthread_create(&t, NULL, run_group, script), 0);
	snprintf(path, sizeof(path), "%s/leader", dir);
	end = dd_monotonic() + 30;
	while (!read_pid(path) && dd_monotonic() < end)
		usleep(10000);
	leader = read_pid(path);
	snprintf(path, sizeof(path), "%s/child", dir);
	child = read_pid(path);
	assert_true(leader > 0 && child > 0);
	/* another start time: someone else's group, left alone */
	snprintf(start, sizeof(start), "%llu", start_time(leader) + 1);
	run_stopper(leader, start, SIGKILL);
	assert_false(gone(leader));
	assert_false(gone(child));
	/* its own: SIGTERM, ignored, then SIGKILL after the grace */
	snprintf(start, sizeof(start), "%llu", start_time(leader));
	run_stopper(leader, start, SIGTERM);
	pthread_join(t, &res);
	assert_int_equal(((struct dd_exec_result *)res)->exit_status,
			 128 + SIGKILL);
	dd_exec_result_release(res);
	dd_free(res);
	assert_true(gone_soon(child));

	/* the leader gone, its child left in the group: stopped */
	snprintf(script, sizeof(script),
		 "sleep 1000 >/dev/null 2>&1 & echo $! >%s/child2", dir);
	res = run_group(script);
	assert_int_equal(((struct dd_exec_result *)res)->exit_status, 0);
	dd_exec_result_release(res);
	dd_free(res);
	snprintf(path, sizeof(path), "%s/child2", dir);
	child = read_pid(path);
	assert_true(child > 0 && !gone(child));
	run_stopper(getpgid(child), "12345", SIGTERM);
	assert_true(gone_soon(child));
	dd_remove_tree(dir);
}

/*
 * The whole way, with an "ssh" of the test's own first in PATH that runs
 * the remote string in a session of its own (setsid, as sshd does),
 * which no signal to the local ssh's group reaches: a host.  Through
 * dd_ssh_run() (dd_exec_run() sees it through): the report is taken
 * out of stderr, and at the deadline the group it named is stopped
 * through a second "ssh" call; so the child that a command which already
 * ended left holding its output is gone (SIGKILL: no grace), and so are a
 * command that reads its input (which never ends) and its child
 * (SIGTERM).  Nothing here closes the
 * wrapper's input, so no watcher helps.
 */
static void test_stop_reaches_the_host_side(void **state)
{
	char dir[] = "/tmp/dd-ssh-far-XXXXXX", path[600], kh[600], key[600];
	char left[700], reads[700], *old_path = getenv("PATH");
	char *path_env, *left_argv[] = {"/bin/sh", "-c", left, NULL};
	char *reads_argv[] = {"/bin/sh", "-c", reads, NULL};
	char *ok_argv[] = {"/bin/sh", "-c", "echo out; echo err >&2; exit 3",
			   NULL};
	struct dd_ssh_endpoint ep = {.address = "host.invalid",
				     .user = "ci",
				     .key = key,
				     .known_hosts = kh};
	struct dd_ssh_command cmd = {NULL, NULL, ok_argv, false, false};
	struct dd_exec_options o = {.cancel_fd = -1,
				    .null_input = true,
				    .out = DD_EXEC_CAPTURE,
				    .err = DD_EXEC_CAPTURE};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_exec_result res;
	FILE *f;
	pid_t child, cmd_pid;
	int in[2];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ssh", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	/* a line before the report, as a login shell may say something */
	fputs("#!/bin/sh\nfor a; do r=$a; done\necho motd >&2\n"
	      "exec setsid -w sh -c \"$r\"\n",
	      f);
	fclose(f);
	assert_int_equal(chmod(path, 0700), 0);
	snprintf(kh, sizeof(kh), "%s/known_hosts", dir);
	snprintf(key, sizeof(key), "%s/key", dir);
	path_env = dd_malloc(strlen(dir) + strlen(old_path) + 2);
	sprintf(path_env, "%s:%s", dir, old_path);
	old_path = dd_strdup(old_path);
	setenv("PATH", path_env, 1);

	/* an ordinary command: status and streams, the report taken out */
	o.timeout = 60;
	assert_ok(dd_ssh_run(&ep, &cmd, &o, &res, NULL, &err), &err);
	assert_int_equal(res.exit_status, 3);
	assert_string_equal(res.out.buf, "out\n");
	assert_string_equal(res.err.buf, "motd\nerr\n");
	dd_exec_result_release(&res);
	/* stderr to a descriptor: the same, taken out on the way */
	{
		struct dd_ssh_call call = {&ep, &cmd};
		struct dd_exec_options to = o;
		char got[64] = "";

		snprintf(path, sizeof(path), "%s/err", dir);
		to.err = DD_EXEC_TO_FD;
		to.err_fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		assert_true(to.err_fd >= 0);
		assert_ok(dd_exec_run(dd_ssh_start, &call, &to, &res, &err),
			  &err);
		assert_int_equal(res.exit_status, 3);
		dd_exec_result_release(&res);
		close(to.err_fd);
		f = fopen(path, "r");
		assert_non_null(f);
		assert_int_equal(fread(got, 1, sizeof(got) - 1, f), 9);
		fclose(f);
		assert_string_equal(got, "motd\nerr\n");
	}

	/* ended at once, its child holding its output: the deadline */
	snprintf(left, sizeof(left),
		 "sleep 1000 & echo $! >%s/left.child; exec true", dir);
	cmd.argv = left_argv;
	o.timeout = 1;
	assert_int_equal(dd_ssh_run(&ep, &cmd, &o, &res, NULL, &err),
			 DD_ERR_REMOTE);
	assert_true(res.timed_out);
	dd_exec_result_release(&res);
	snprintf(path, sizeof(path), "%s/left.child", dir);
	child = read_pid(path);
	assert_true(child > 0);
	assert_true(gone_soon(child));

	/* reading its input, which never ends: the deadline */
	snprintf(reads, sizeof(reads),
		 "sleep 1000 & echo $! >%s/reads.child; echo $$ "
		 ">%s/reads.cmd; cat >/dev/null",
		 dir, dir);
	cmd.argv = reads_argv;
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	o.null_input = false;
	o.in_fd = in[0];
	o.grace = DD_EXEC_GRACE; /* SIGTERM this time, SIGKILL above */
	assert_int_equal(dd_ssh_run(&ep, &cmd, &o, &res, NULL, &err),
			 DD_ERR_REMOTE);
	assert_true(res.timed_out);
	dd_exec_result_release(&res);
	snprintf(path, sizeof(path), "%s/reads.child", dir);
	child = read_pid(path);
	snprintf(path, sizeof(path), "%s/reads.cmd", dir);
	cmd_pid = read_pid(path);
	assert_true(child > 0 && cmd_pid > 0);
	assert_true(gone_soon(child));
	assert_true(gone_soon(cmd_pid));
	close(in[0]);
	close(in[1]);

	setenv("PATH", old_path, 1);
	dd_free(old_path);
	dd_free(path_env);
	dd_remove_tree(dir);
}

static void test_bad_commands_are_refused(void **state)
{
	char *argv[] = {"true", NULL}, *none[] = {NULL}, *empty[] = {"", NULL};
	char *bad_env[][2] = {{"NOEQUALS", NULL}, {"=x", NULL},
			      {"1X=y", NULL},	  {"A-B=c", NULL},
			      {"A B=c", NULL},	  {"$(x)=y", NULL}};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_buf b = DD_BUF_INIT;
	struct dd_ssh_command cmd = {NULL, NULL, none, false, false};

	(void)state;
	assert_int_equal(dd_ssh_remote_command(&cmd, &b, &err),
			 DD_ERR_INVALID);
	cmd.argv = empty;
	assert_int_equal(dd_ssh_remote_command(&cmd, &b, &err),
			 DD_ERR_INVALID);
	cmd.argv = argv;
	for (size_t i = 0; i < sizeof(bad_env) / sizeof(*bad_env); i++) {
		cmd.env = bad_env[i];
		assert_int_equal(dd_ssh_remote_command(&cmd, &b, &err),
				 DD_ERR_INVALID);
		assert_non_null(strstr(err.msg, "bad environment entry"));
	}
	assert_int_equal(b.len, 0);
}

static const struct dd_ssh_endpoint good = {
	.address = "build-1.example.org",
	.port = 2222,
	.user = "ci",
	.key = "/etc/drydock/key",
	.known_hosts = "/var/lib/drydock/ssh/known_hosts-1",
	.control_dir = "/var/lib/drydock/ssh",
};

static bool has_arg(const struct dd_ssh_args *a, const char *s)
{
	for (size_t i = 0; i < a->n; i++)
		if (!strcmp(a->argv[i], s))
			return true;
	return false;
}

static size_t arg_index(const struct dd_ssh_args *a, const char *s)
{
	for (size_t i = 0; i < a->n; i++)
		if (!strcmp(a->argv[i], s))
			return i;
	return (size_t)-1;
}

static void test_argv_is_safe(void **state)
{
	char *argv[] = {"make", "-j2", NULL};
	struct dd_ssh_command cmd = {"/work", NULL, argv, false, false};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_ssh_endpoint ep = good;
	struct dd_ssh_args a;
	size_t dash;

	(void)state;
	assert_ok(dd_ssh_args_build(&ep, &cmd, &a, &err), &err);
	assert_string_equal(a.argv[0], "ssh");
	assert_null(a.argv[a.n]);
	assert_string_equal(a.argv[1], "-F");
	assert_string_equal(a.argv[2], "/dev/null");
	assert_true(has_arg(&a, "BatchMode=yes"));
	assert_true(has_arg(&a, "IdentitiesOnly=yes"));
	assert_true(has_arg(&a, "IdentityAgent=none"));
	assert_true(has_arg(&a, "ForwardAgent=no"));
	assert_true(has_arg(&a, "ForwardX11=no"));
	assert_true(has_arg(&a, "ClearAllForwardings=yes"));
	assert_true(has_arg(&a, "UpdateHostKeys=no"));
	assert_true(has_arg(&a, "StrictHostKeyChecking=accept-new"));
	assert_true(has_arg(
		&a, "UserKnownHostsFile=\"/var/lib/drydock/ssh/known_hosts-1\""));
	assert_true(has_arg(&a, "IdentityFile=\"/etc/drydock/key\""));
	assert_true(has_arg(&a, "ConnectTimeout=10"));
	assert_true(has_arg(&a, "ControlMaster=auto"));
	/* the host comes after "--", the remote command last */
	dash = arg_index(&a, "--");
	assert_true(dash != (size_t)-1);
	assert_string_equal(a.argv[dash + 1], "build-1.example.org");
	assert_int_equal(dash + 3, a.n);
	assert_non_null(strstr(a.argv[dash + 2], " 'make' '-j2'"));
	assert_true(has_arg(&a, "2222"));
	for (size_t i = 0; i < a.n; i++)
		if (!strncmp(a.argv[i], "ControlPath=", 12))
			/* "DIR/16 hex" with its quotes, under 104 bytes */
			assert_int_equal(strlen(a.argv[i]),
					 strlen("ControlPath=\"\"") +
						 strlen(good.control_dir) + 17);
	dd_ssh_args_release(&a);

	/* the operator's known_hosts, or a given key: strict */
	ep.known_hosts_given = true;
	ep.control_dir = NULL;
	assert_ok(dd_ssh_args_build(&ep, &cmd, &a, &err), &err);
	assert_true(has_arg(&a, "StrictHostKeyChecking=yes"));
	assert_true(has_arg(&a, "ControlPath=none"));
	dd_ssh_args_release(&a);
	ep.known_hosts_given = false;
	ep.host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFake";
	assert_ok(dd_ssh_args_build(&ep, &cmd, &a, &err), &err);
	assert_true(has_arg(&a, "StrictHostKeyChecking=yes"));
	dd_ssh_args_release(&a);
}

static void test_bad_endpoints_are_refused(void **state)
{
	static const struct {
		const char *field, *value, *want;
	} bad[] = {
		{"address", "-oProxyCommand=touch /tmp/x", "bad address"},
		{"address", "", "bad address"},
		{"address", "a b", "bad address"},
		{"address", "user@host", "bad address"},
		{"address", "a\nb", "bad address"},
		{"user", "-l", "bad user name"},
		{"user", "a b", "bad user name"},
		{"user", "", "bad user name"},
		{"key", "relative/key", "must be an absolute path"},
		{"key", "/a/%d/key", "must be an absolute path"},
		{"known_hosts", "kh", "must be an absolute path"},
		{"host_key", "AAAAonlybase64", "'TYPE BASE64'"},
		{"host_key", "ssh-ed25519 AAAA comment", "'TYPE BASE64'"},
	};
	char *argv[] = {"true", NULL};
	struct dd_ssh_command cmd = {NULL, NULL, argv, false, false};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_ssh_args a;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct dd_ssh_endpoint ep = good;

		if (!strcmp(bad[i].field, "address"))
			ep.address = bad[i].value;
		else if (!strcmp(bad[i].field, "user"))
			ep.user = bad[i].value;
		else if (!strcmp(bad[i].field, "key"))
			ep.key = bad[i].value;
		else if (!strcmp(bad[i].field, "known_hosts"))
			ep.known_hosts = bad[i].value;
		else
			ep.host_key = bad[i].value;
		assert_int_equal(dd_ssh_args_build(&ep, &cmd, &a, &err),
				 DD_ERR_INVALID);
		if (!strstr(err.msg, bad[i].want))
			fail_msg("%s '%s': '%s' lacks '%s'", bad[i].field,
				 bad[i].value, err.msg, bad[i].want);
		assert_null(a.argv);
	}
	{
		struct dd_ssh_endpoint ep = good;

		ep.port = 65536;
		assert_int_equal(dd_ssh_endpoint_check(&ep, &err),
				 DD_ERR_INVALID);
		assert_non_null(strstr(err.msg, "not from 1 to 65535"));
	}
}

static void test_key_check(void **state)
{
	char dir[] = "/tmp/dd-ssh-XXXXXX", key[PATH_MAX];
	struct dd_error err = DD_ERROR_INIT;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(key, sizeof(key), "%s/key", dir);
	assert_int_equal(dd_ssh_key_check(key, "host 'a': key", &err),
			 DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "No such file"));
	fd = open(key, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_ok(dd_ssh_key_check(key, "key", &err), &err);
	assert_int_equal(chmod(key, 0640), 0);
	assert_int_equal(dd_ssh_key_check(key, "host 'a': key", &err),
			 DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "host 'a': key '"));
	assert_non_null(strstr(err.msg, "can be read by others than "
					"drydock's user"));
	assert_int_equal(chmod(key, 0604), 0);
	assert_int_equal(dd_ssh_key_check(key, "key", &err), DD_ERR_INVALID);
	assert_int_equal(dd_ssh_key_check(dir, "key", &err), DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "not a regular file"));
	dd_remove_tree(dir);
}

static void test_control_dir(void **state)
{
	char dir[] = "/tmp/dd-ssh-XXXXXX", deep[PATH_MAX], got[PATH_MAX];
	struct dd_error err = DD_ERROR_INIT;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_ok(dd_ssh_control_dir(dir, got, sizeof(got), &err), &err);
	assert_true(!strncmp(got, dir, strlen(dir)));
	assert_int_equal(stat(got, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	/* opened up by someone: closed again */
	assert_int_equal(chmod(got, 0755), 0);
	assert_ok(dd_ssh_control_dir(dir, got, sizeof(got), &err), &err);
	assert_int_equal(stat(got, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	/* too long for socket names: a directory of drydock's in /tmp */
	snprintf(deep, sizeof(deep),
		 "%s/a-rather-long-state-directory-name/for-sockets/to-fit",
		 dir);
	assert_ok(dd_ssh_control_dir(deep, got, sizeof(got), &err), &err);
	assert_true(!strncmp(got, "/tmp/drydock-ssh-", 17));
	assert_int_equal(stat(got, &st), 0);
	assert_int_equal(st.st_uid, geteuid());
	dd_remove_tree(dir);
}

static void test_given_host_key_is_written(void **state)
{
	char dir[] = "/tmp/dd-ssh-XXXXXX", kh[PATH_MAX], line[512];
	struct dd_error err = DD_ERROR_INIT;
	struct dd_ssh_endpoint ep = good;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(kh, sizeof(kh), "%s/known", dir);
	ep.known_hosts = kh;
	ep.host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFake";
	assert_ok(dd_ssh_prepare(&ep, &err), &err);
	assert_ok(dd_ssh_prepare(&ep, &err), &err); /* again: same file */
	f = fopen(kh, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "[build-1.example.org]:2222 ssh-ed25519 "
				  "AAAAC3NzaC1lZDI1NTE5AAAAIFake\n");
	assert_null(fgets(line, sizeof(line), f));
	fclose(f);
	dd_remove_tree(dir);
}

/*
 * Every spawn prepares its endpoint, from any thread of the daemon or of
 * serve at once.  Writers that shared one temporary file (named by the
 * pid) renamed it into place while another had just truncated it: ssh
 * then read an empty known_hosts and refused the host, and the other
 * writer's rename failed.  Many threads preparing the same endpoint must
 * neither fail nor ever leave the file without its key.
 */
struct prepare_race {
	const struct dd_ssh_endpoint *ep;
	int failures;
};

static void *prepare_many(void *arg)
{
	struct prepare_race *r = arg;

	for (int i = 0; i < 400; i++) {
		struct dd_error err = DD_ERROR_INIT;

		if (dd_ssh_prepare(r->ep, &err))
			r->failures++;
	}
	return NULL;
}

static void test_prepare_from_many_threads(void **state)
{
	char dir[] = "/tmp/dd-ssh-XXXXXX", kh[PATH_MAX], line[512];
	struct dd_ssh_endpoint ep = good, other = good;
	struct prepare_race r[4];
	pthread_t t[4];
	int short_reads = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(kh, sizeof(kh), "%s/known", dir);
	ep.known_hosts = other.known_hosts = kh;
	ep.host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFake";
	/* half the threads want another key: the file keeps changing */
	other.host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOther";
	for (int i = 0; i < 4; i++) {
		r[i] = (struct prepare_race){i % 2 ? &other : &ep, 0};
		assert_int_equal(pthread_create(&t[i], NULL, prepare_many,
						&r[i]), 0);
	}
	for (int i = 0; i < 2000; i++) {
		FILE *f = fopen(kh, "r");

		if (!f)
			continue; /* not written yet */
		if (!fgets(line, sizeof(line), f) || !strchr(line, '\n'))
			short_reads++;
		fclose(f);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(r[i].failures, 0);
	}
	assert_int_equal(short_reads, 0);
	dd_remove_tree(dir);
}

/* What ssh 9.2 prints at LogLevel ERROR, as the integration test saw it. */
static const char changed[] =
	"@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\r\n"
	"@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\r\n"
	"@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\r\n"
	"IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\r\n"
	"Someone could be eavesdropping on you right now "
	"(man-in-the-middle attack)!\r\n"
	"It is also possible that a host key has just been changed.\r\n"
	"The fingerprint for the ED25519 key sent by the remote host is\r\n"
	"SHA256:VLdLBf4fpzLiXvq9xW84ZH6D0NLcDEw+aCRcLPv9QiU.\r\n"
	"Please contact your system administrator.\r\n"
	"Add correct host key in /s/known_hosts-1 to get rid of this "
	"message.\r\n"
	"Offending ED25519 key in /s/known_hosts-1:1\r\n"
	"Host key for [127.0.0.1]:2222 has changed and you have requested "
	"strict checking.\r\n"
	"Host key verification failed.\r\n";

static void test_failures_are_classified(void **state)
{
	static const struct {
		int status;
		const char *text;
		enum dd_ssh_failure want;
	} cases[] = {
		{0, "", DD_SSH_OK},
		{1, "Connection refused", DD_SSH_OK}, /* the command's words */
		{255, "", DD_SSH_OK}, /* the command's own 255 */
		{255, "the command said this\n", DD_SSH_OK},
		{255,
		 "ssh: connect to host 127.0.0.1 port 1: Connection refused\r\n",
		 DD_SSH_UNREACHABLE},
		{255,
		 "ssh: connect to host 10.9.9.9 port 22: Connection timed "
		 "out\r\n",
		 DD_SSH_UNREACHABLE},
		{255,
		 "ssh: Could not resolve hostname nowhere.invalid: Name or "
		 "service not known\r\n",
		 DD_SSH_UNREACHABLE},
		{255, "Connection closed by 127.0.0.1 port 2222\r\n",
		 DD_SSH_UNREACHABLE},
		{255, "Timeout, server 127.0.0.1 not responding.\r\n",
		 DD_SSH_UNREACHABLE},
		{255, "ddssh@127.0.0.1: Permission denied (publickey).\r\n",
		 DD_SSH_KEY_REFUSED},
		{255, changed, DD_SSH_HOST_KEY_CHANGED},
		{255,
		 "No ED25519 host key is known for [127.0.0.1]:2222 and you "
		 "have requested strict checking.\r\nHost key verification "
		 "failed.\r\n",
		 DD_SSH_HOST_KEY_UNKNOWN},
		{255,
		 "Load key \"/k\": bad permissions\r\nddssh@127.0.0.1: "
		 "Permission denied (publickey).\r\n",
		 DD_SSH_KEY_REFUSED},
		{255, "Warning: Identity file /k not accessible: No such file\r\n"
		      "ssh: something new\r\n",
		 DD_SSH_OTHER},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		enum dd_ssh_failure got = dd_ssh_classify(
			cases[i].status, cases[i].text, strlen(cases[i].text));

		if (got != cases[i].want)
			fail_msg("case %zu: got %s, want %s", i,
				 dd_ssh_failure_name(got),
				 dd_ssh_failure_name(cases[i].want));
	}
}

static void test_failure_messages(void **state)
{
	static const char refused[] =
		"ssh: connect to host 127.0.0.1 port 2222: Connection "
		"refused\r\n";
	static const char denied[] =
		"ddssh@127.0.0.1: Permission denied (publickey).\r\n";
	struct dd_ssh_endpoint ep = good;
	struct dd_error err = DD_ERROR_INIT;

	(void)state;
	ep.address = "127.0.0.1";
	ep.known_hosts = "/s/known_hosts-1";
	assert_int_equal(dd_ssh_failure_error(&ep, DD_SSH_HOST_KEY_CHANGED,
					      changed, strlen(changed), &err),
			 DD_ERR_REMOTE);
	assert_string_equal(
		err.msg,
		"host key for '127.0.0.1:2222' changed; drydock refuses it: "
		"the host presents SHA256:VLdLBf4fpzLiXvq9xW84ZH6D0NLcDEw+"
		"aCRcLPv9QiU, not the key in '/s/known_hosts-1' (if the "
		"change is expected, remove the host's line there)");
	dd_ssh_failure_error(&ep, DD_SSH_UNREACHABLE, refused, strlen(refused),
			     &err);
	assert_string_equal(err.msg,
			    "cannot reach '127.0.0.1:2222': connect to host "
			    "127.0.0.1 port 2222: Connection refused");
	dd_ssh_failure_error(&ep, DD_SSH_KEY_REFUSED, denied, strlen(denied),
			     &err);
	assert_string_equal(err.msg,
			    "'127.0.0.1:2222' refused the key "
			    "'/etc/drydock/key' for user 'ci': "
			    "ddssh@127.0.0.1: Permission denied (publickey)");
	assert_int_equal(dd_err_http_status(DD_ERR_REMOTE), 502);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostile_words_arrive_unchanged),
		cmocka_unit_test(test_status_and_streams),
		cmocka_unit_test(test_channel_end_stops_the_tree),
		cmocka_unit_test(test_wrapper_reports_its_group),
		cmocka_unit_test(test_stopper_checks_the_group),
		cmocka_unit_test(test_stop_reaches_the_host_side),
		cmocka_unit_test(test_bad_commands_are_refused),
		cmocka_unit_test(test_argv_is_safe),
		cmocka_unit_test(test_bad_endpoints_are_refused),
		cmocka_unit_test(test_key_check),
		cmocka_unit_test(test_control_dir),
		cmocka_unit_test(test_given_host_key_is_written),
		cmocka_unit_test(test_prepare_from_many_threads),
		cmocka_unit_test(test_failures_are_classified),
		cmocka_unit_test(test_failure_messages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
