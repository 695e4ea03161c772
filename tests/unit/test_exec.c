/*
 * test_exec.c - running commands on a lease (core/exec.c, through
 * dd_api_exec() as the API and the CLI do): captured output, its bounds,
 * streams kept apart when streamed, the deadline and a cancel stopping
 * the whole process group (SIGTERM, then SIGKILL after the grace period),
 * refusals, and output that is not UTF-8; and dd_exec_spawn() itself, on
 * both of its ways (posix_spawn, and fork with a setup): environment,
 * directory, signals as a new process has them, and each failed step;
 * the environment a command on a lease is given, and its stdin fed from
 * a descriptor and its stdout written to one (how copies feed them).
 */
#include "testutil.h"

#include "api/api.h"
#include "core/exec.h"
#include "core/input.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct fx {
	struct test_env env;
	struct dd_worker w;
	long long lease;
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease_request req = {.type = "host", .owner = "test"};
	struct dd_lease l = {0};
	char root[PATH_MAX + 16];
	json_t *cfg;

	test_env_init(&x->env);
	snprintf(root, sizeof(root), "%s/hosts", x->env.dir);
	cfg = json_pack("{s:[{s:s}], s:s}", "hosts", "name", "a", "root",
			root);
	assert_ok(dd_api_blueprint_create(x->env.store, "host", "pool", cfg,
					  true, NULL, &err),
		  &err);
	json_decref(cfg);
	assert_ok(dd_worker_init(&x->w, x->env.path, "t", &err), &err);
	assert_ok(dd_api_lease_create(x->env.store, &req, &l, &err), &err);
	x->lease = l.id;
	dd_lease_release(&l);
	assert_ok(dd_worker_drain(&x->w, 100, &err), &err);
	assert_ok(dd_store_lease_get(x->env.store, x->lease, &l, &err), &err);
	assert_int_equal(l.status, DD_LEASE_ACTIVE);
	dd_lease_release(&l);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;

	dd_worker_release(&x->w);
	test_env_release(&x->env);
	free(x);
	return 0;
}

/* As the API runs a command: /dev/null as input, both streams kept. */
static const struct dd_exec_options captured = {
	.cancel_fd = -1,
	.null_input = true,
	.out = DD_EXEC_CAPTURE,
	.err = DD_EXEC_CAPTURE,
};

static void run_with(struct fx *x, const char *script,
		     const struct dd_exec_options *o,
		     struct dd_exec_result *res)
{
	struct dd_error err = DD_ERROR_INIT;
	char *argv[] = {"sh", "-c", (char *)script, NULL};

	assert_ok(dd_api_exec(x->env.store, x->lease, argv, NULL, o, res, &err),
		  &err);
}

static void run(struct fx *x, const char *script, double timeout,
		struct dd_exec_result *res)
{
	struct dd_exec_options o = captured;

	o.timeout = timeout;
	run_with(x, script, &o, res);
}

/*
 * Has process `pid` ended (gone, or a zombie nobody has reaped yet)?
 * Polled: a process killed with its group may take a moment to go.
 */
static bool gone(pid_t pid)
{
	char path[64], stat[256];
	double until = dd_monotonic() + 10;
	FILE *f;

	while (dd_monotonic() < until) {
		const char *state;

		if (kill(pid, 0))
			return true;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		f = fopen(path, "r");
		if (!f)
			return true;
		state = fgets(stat, sizeof(stat), f) ? strrchr(stat, ')')
						     : NULL;
		fclose(f);
		if (state && state[1] == ' ' && state[2] == 'Z')
			return true;
		usleep(10000);
	}
	return false;
}

static void test_captures_status_and_both_streams(void **state)
{
	struct fx *x = *state;
	struct dd_exec_result res;

	run(x, "echo out; echo err >&2; cat; pwd; exit 3", 30, &res);
	assert_int_equal(res.exit_status, 3);
	assert_false(res.timed_out);
	/* stdin is /dev/null, so cat ends at once; cwd is the lease's */
	assert_non_null(strstr(res.out.buf, "out\n"));
	assert_non_null(strstr(res.out.buf, "/lease-"));
	assert_string_equal(res.err.buf, "err\n");
	assert_false(res.out_truncated);
	dd_exec_result_release(&res);
}

static void test_output_is_bounded(void **state)
{
	struct fx *x = *state;
	struct dd_exec_result res;

	/* 2 MiB on stdout: the first 1 MiB is kept and the command ends */
	run(x, "head -c 2097152 /dev/zero | tr '\\0' a", 30, &res);
	assert_int_equal(res.exit_status, 0);
	assert_int_equal(res.out.len, DD_EXEC_MAX_OUTPUT);
	assert_true(res.out_truncated);
	assert_false(res.err_truncated);
	dd_exec_result_release(&res);
}

static void test_deadline_kills_the_process_group(void **state)
{
	struct fx *x = *state;
	struct dd_exec_result res;

	/* the child sleeps in a grandchild too: the whole group goes */
	run(x, "sleep 30 & echo $!; sleep 30", 0.3, &res);
	assert_true(res.timed_out);
	assert_false(res.cancelled);
	/* the API's way: no grace period, SIGKILL at the deadline */
	assert_int_equal(res.exit_status, 128 + 9);
	assert_non_null(res.out.buf);
	assert_true(gone((pid_t)atoi(res.out.buf)));
	assert_true(res.duration < 10);
	dd_exec_result_release(&res);
}

static void test_deadline_sends_sigterm_first(void **state)
{
	struct fx *x = *state;
	struct dd_exec_options o = captured;
	struct dd_exec_result res;

	/* with a grace period: SIGTERM, which sleep and its shell take */
	o.timeout = 0.3;
	o.grace = 60;
	run_with(x, "sleep 30 & echo $!; sleep 30", &o, &res);
	assert_true(res.timed_out);
	assert_int_equal(res.exit_status, 128 + SIGTERM);
	assert_true(gone((pid_t)atoi(res.out.buf)));
	assert_true(res.duration < 30);
	dd_exec_result_release(&res);
}

static void test_deadline_kills_what_ignores_sigterm(void **state)
{
	struct fx *x = *state;
	struct dd_exec_options o = captured;
	struct dd_exec_result res;

	/* SIGTERM ignored by the shell and the sleeps it starts */
	o.timeout = 0.3;
	o.grace = 0.3;
	run_with(x, "trap '' TERM; sleep 30 & echo $!; sleep 30", &o, &res);
	assert_true(res.timed_out);
	assert_int_equal(res.exit_status, 128 + SIGKILL);
	assert_non_null(res.out.buf);
	assert_true(gone((pid_t)atoi(res.out.buf)));
	dd_exec_result_release(&res);
}

/* A sink that keeps each stream apart and cancels on "go" in stdout. */
struct sink {
	struct dd_buf streams[3];
	int cancel; /* the cancel pipe's write end, or -1 */
};

static void sink(void *arg, int stream, const char *buf, size_t n)
{
	struct sink *k = arg;

	dd_buf_add(&k->streams[stream], buf, n);
	if (k->cancel >= 0 && stream == 1 && k->streams[1].buf &&
	    strstr(k->streams[1].buf, "go\n")) {
		assert_int_equal(write(k->cancel, "", 1), 1);
		k->cancel = -1;
	}
}

static void test_streams_are_kept_apart(void **state)
{
	struct fx *x = *state;
	struct sink k = {.cancel = -1};
	struct dd_exec_options o = {
		.cancel_fd = -1,
		.null_input = true,
		.out = DD_EXEC_STREAM,
		.err = DD_EXEC_STREAM,
		.sink = sink,
		.sink_arg = &k,
	};
	struct dd_exec_result res;

	run_with(x, "for i in 1 2 3; do echo out$i; echo err$i >&2; done",
		 &o, &res);
	assert_int_equal(res.exit_status, 0);
	assert_string_equal(k.streams[1].buf, "out1\nout2\nout3\n");
	assert_string_equal(k.streams[2].buf, "err1\nerr2\nerr3\n");
	/* streamed, not kept */
	assert_int_equal(res.out.len, 0);
	assert_int_equal(res.err.len, 0);
	dd_exec_result_release(&res);
	for (int i = 0; i < 3; i++)
		dd_buf_release(&k.streams[i]);
}

static void test_cancel_stops_the_process_group(void **state)
{
	struct fx *x = *state;
	struct sink k;
	struct dd_exec_options o = {
		.grace = DD_EXEC_GRACE,
		.out = DD_EXEC_STREAM,
		.err = DD_EXEC_CAPTURE,
		.null_input = true,
		.sink = sink,
		.sink_arg = &k,
	};
	struct dd_exec_result res;
	int p[2];

	/* cancelled from the sink once the command is running */
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	k = (struct sink){.cancel = p[1]};
	o.cancel_fd = p[0];
	run_with(x, "sleep 30 & echo $!; echo go; sleep 30", &o, &res);
	assert_true(res.cancelled);
	assert_false(res.timed_out);
	assert_int_equal(res.exit_status, 128 + SIGTERM);
	assert_true(gone((pid_t)atoi(k.streams[1].buf)));
	assert_true(res.duration < 10);
	dd_exec_result_release(&res);
	for (int i = 0; i < 3; i++)
		dd_buf_release(&k.streams[i]);
	close(p[0]);
	close(p[1]);
}

static void test_refuses_lease_that_is_not_active(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_exec_result res;
	char *argv[] = {"true", NULL};

	assert_int_equal(dd_api_exec(x->env.store, 999, argv, NULL, &captured, &res,
				     &err),
			 DD_ERR_NOTFOUND);
	assert_ok(dd_api_send(x->env.store,
			      (struct dd_ref){DD_OBJ_LEASE, x->lease},
			      "release", "test", NULL, NULL, &err),
		  &err);
	assert_ok(dd_worker_drain(&x->w, 100, &err), &err);
	assert_int_equal(dd_api_exec(x->env.store, x->lease, argv, NULL, &captured,
				     &res, &err),
			 DD_ERR_STATE);
	assert_non_null(strstr(err.msg, "not active"));
}

static void test_missing_program_is_refused(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_exec_result res;
	char *argv[] = {"no-such-program-here", NULL};

	assert_int_equal(dd_api_exec(x->env.store, x->lease, argv, NULL, &captured,
				     &res, &err),
			 DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "no-such-program-here"));
}

/* ---- dd_exec_spawn() on its own ---------------------------------------- */

/* dd_exec_run()'s start function for a spec. */
struct spawn_arg {
	const struct dd_exec_spec *sp;
	struct dd_exec_failure why;
};

static int spawn_start(void *arg, const struct dd_exec_io *io, pid_t *pid,
		       struct dd_error *err)
{
	struct spawn_arg *a = arg;

	return dd_exec_spawn(a->sp, io, pid, &a->why, err);
}

/* Run `sp` to its end with stdout kept; its exit status. */
static int spawn_run(const struct dd_exec_spec *sp, struct dd_buf *out)
{
	struct dd_error err = DD_ERROR_INIT;
	struct spawn_arg a = {sp, {0, 0}};
	struct dd_exec_result res;
	int status;

	assert_ok(dd_exec_run(spawn_start, &a, &captured, &res, &err), &err);
	status = res.exit_status;
	dd_buf_add(out, res.out.buf ? res.out.buf : "", res.out.len);
	dd_buf_add(out, "", 1);
	dd_exec_result_release(&res);
	return status;
}

static int no_setup(const void *arg)
{
	(void)arg;
	return 0;
}

/* An async-signal-safe change the program can show: its umask. */
static int set_umask(const void *arg)
{
	umask(*(const mode_t *)arg);
	return 0;
}

static int refuse_setup(const void *arg)
{
	(void)arg;
	errno = EPERM;
	return -1;
}

/* Nothing a failed start made is left for anyone to reap. */
static void assert_no_children(void)
{
	errno = 0;
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static void test_spawn_environment_and_directory(void **state)
{
	char *vars[] = {"DD_SPAWN_A=new", "DD_SPAWN_B=added", NULL};
	char *argv[] = {"sh", "-c",
			"pwd; echo $DD_SPAWN_A $DD_SPAWN_B $DD_SPAWN_C; umask",
			NULL};
	struct dd_exec_spec sp = {.argv = argv, .dir = "/"};
	mode_t mask = 027;
	char **env;

	(void)state;
	setenv("DD_SPAWN_A", "old", 1);
	setenv("DD_SPAWN_C", "kept", 1);
	env = dd_exec_environ(NULL, vars);
	assert_non_null(env);
	sp.env = env;
	/* posix_spawn, then fork with a setup that runs in the child only */
	for (int way = 0; way < 2; way++) {
		struct dd_buf out = {0};
		mode_t before = umask(022);

		umask(before);
		sp.setup = way ? set_umask : NULL;
		sp.setup_arg = &mask;
		assert_int_equal(spawn_run(&sp, &out), 0);
		assert_string_equal(out.buf, way ? "/\nnew added kept\n0027\n"
						  : "/\nnew added kept\n0022\n");
		/* the setup changed the child's umask, not ours */
		assert_int_equal(umask(before), before);
		dd_buf_release(&out);
	}
	dd_free(env);
	unsetenv("DD_SPAWN_A");
	unsetenv("DD_SPAWN_C");
	assert_no_children();
}

/*
 * A program starts with default signal actions and nothing blocked, even
 * when drydock ignores or blocks signals (a daemon does: SIGPIPE, and the
 * signals its stop thread waits for).  Signals 1 to 31 are looked at:
 * glibc's posix_spawn leaves its two internal ones (32 and 33, below
 * SIGRTMIN) ignored, and no sigset_t can name them.
 */
static void test_spawn_signals_start_fresh(void **state)
{
	char *argv[] = {"grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status",
			NULL};
	struct dd_exec_spec sp = {.argv = argv};
	struct sigaction ign = {.sa_handler = SIG_IGN}, old_int;
	sigset_t usr1, old_mask;

	(void)state;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigaction(SIGINT, &ign, &old_int);
	pthread_sigmask(SIG_BLOCK, &usr1, &old_mask);
	for (int way = 0; way < 2; way++) {
		struct dd_buf out = {0};
		unsigned long long blocked = ~0ULL, ignored = ~0ULL;

		sp.setup = way ? no_setup : NULL;
		assert_int_equal(spawn_run(&sp, &out), 0);
		assert_int_equal(sscanf(out.buf, "SigBlk: %llx SigIgn: %llx",
					&blocked, &ignored),
				 2);
		assert_int_equal(blocked & 0x7fffffffULL, 0);
		assert_int_equal(ignored & 0x7fffffffULL, 0);
		dd_buf_release(&out);
	}
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	sigaction(SIGINT, &old_int, NULL);
}

/* Each step that can fail says which, with its errno; nothing is left. */
static void test_spawn_failures(void **state)
{
	static const struct dd_exec_io io = {-1, -1, -1, false, NULL};
	static const struct {
		const char *prog, *dir;
		int (*setup)(const void *arg);
		int code;
		enum dd_exec_step step;
		int errnum;
		const char *msg;
	} cases[] = {
		{"no-such-program-dd", NULL, NULL, DD_ERR_INVALID,
		 DD_EXEC_STEP_EXEC, ENOENT,
		 "cannot run 'no-such-program-dd': No such file or directory"},
		{"no-such-program-dd", NULL, no_setup, DD_ERR_INVALID,
		 DD_EXEC_STEP_EXEC, ENOENT,
		 "cannot run 'no-such-program-dd': No such file or directory"},
		{"/dev/null", NULL, no_setup, DD_ERR_IO, DD_EXEC_STEP_EXEC,
		 EACCES, "cannot run '/dev/null': Permission denied"},
		{"true", NULL, refuse_setup, DD_ERR_IO, DD_EXEC_STEP_SETUP,
		 EPERM, "cannot prepare 'true': Operation not permitted"},
		{"true", "/no/such/dir", no_setup, DD_ERR_IO, DD_EXEC_STEP_DIR,
		 ENOENT,
		 "cannot enter the directory of 'true': No such file or "
		 "directory"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char *argv[] = {(char *)cases[i].prog, NULL};
		struct dd_exec_spec sp = {.argv = argv,
					  .dir = cases[i].dir,
					  .setup = cases[i].setup};
		struct dd_error err = DD_ERROR_INIT;
		struct dd_exec_failure why = {0, 0};
		pid_t pid = 0;

		assert_int_equal(dd_exec_spawn(&sp, &io, &pid, &why, &err),
				 cases[i].code);
		assert_int_equal(why.step, cases[i].step);
		assert_int_equal(why.errnum, cases[i].errnum);
		assert_string_equal(err.msg, cases[i].msg);
		assert_no_children();
	}
}

static void test_environment_is_added(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_exec_result res;
	char *argv[] = {"sh", "-c",
			"echo \"$GREETING|$DRYDOCK_LEASE|$EMPTY|${UNSET-u}\"",
			NULL};
	char id[64];
	char *env[] = {"GREETING=first", "EMPTY=", "GREETING=hello world",
		       NULL};

	/* added to the lease's own; the last of a name given twice wins */
	assert_ok(dd_api_exec(x->env.store, x->lease, argv, env, &captured,
			      &res, &err),
		  &err);
	snprintf(id, sizeof(id), "hello world|%lld||u\n", x->lease);
	assert_string_equal(res.out.buf, id);
	dd_exec_result_release(&res);
}

static void test_bad_environment_is_refused(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_exec_result res;
	char *argv[] = {"true", NULL};
	char *bad[][2] = {{"NOVALUE", NULL}, {"=x", NULL}, {"1A=x", NULL},
			  {"A-B=x", NULL}, {"A B=x", NULL}};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(dd_api_exec(x->env.store, x->lease, argv,
					     bad[i], &captured, &res, &err),
				 DD_ERR_INVALID);
		assert_non_null(strstr(err.msg, "environment variable"));
	}
}

/* What a pipe gives the command on stdin comes back on its stdout. */
static void test_stdin_from_a_descriptor(void **state)
{
	struct fx *x = *state;
	struct dd_exec_options o = captured;
	struct dd_exec_result res;
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(write(p[1], "fed\n", 4), 4);
	close(p[1]);
	o.null_input = false;
	o.in_fd = p[0];
	run_with(x, "cat; echo end", &o, &res);
	close(p[0]);
	assert_int_equal(res.exit_status, 0);
	assert_string_equal(res.out.buf, "fed\nend\n");
	dd_exec_result_release(&res);
}

/* Output to a descriptor goes there, not through drydock. */
static void test_stdout_to_a_descriptor(void **state)
{
	struct fx *x = *state;
	struct dd_exec_options o = captured;
	struct dd_exec_result res;
	char path[PATH_MAX + 16], got[64] = "";
	int fd;
	FILE *f;

	snprintf(path, sizeof(path), "%s/out", x->env.dir);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	o.out = DD_EXEC_TO_FD;
	o.out_fd = fd;
	run_with(x, "echo to-file; echo err >&2", &o, &res);
	close(fd);
	assert_int_equal(res.out.len, 0);
	assert_string_equal(res.err.buf, "err\n");
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(got, sizeof(got), f));
	fclose(f);
	assert_string_equal(got, "to-file\n");
	dd_exec_result_release(&res);
}

static void test_lossy_strings_are_valid_utf8(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		const char *out;
	} cases[] = {
		{"plain", 5, "plain"},
		{"caf\xc3\xa9", 5, "caf\xc3\xa9"},
		{"a\xff" "b", 3, "a\xef\xbf\xbd" "b"},
		{"\xc3", 1, "\xef\xbf\xbd"},		   /* cut short */
		{"\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd"}, /* overlong */
		{"\xed\xa0\x80", 3,
		 "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate */
		{"\xf0\x9f\x9a\xa2", 4, "\xf0\x9f\x9a\xa2"}, /* a ship */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = dd_json_string_lossy(cases[i].in, cases[i].n);

		assert_non_null(j);
		assert_string_equal(json_string_value(j), cases[i].out);
		json_decref(j);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_captures_status_and_both_streams, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_output_is_bounded, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_deadline_kills_the_process_group, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_deadline_sends_sigterm_first, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_deadline_kills_what_ignores_sigterm, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_streams_are_kept_apart,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_cancel_stops_the_process_group, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_refuses_lease_that_is_not_active, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_missing_program_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_environment_is_added,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_bad_environment_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stdin_from_a_descriptor,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_stdout_to_a_descriptor,
						setup, teardown),
		cmocka_unit_test(test_lossy_strings_are_valid_utf8),
		cmocka_unit_test(test_spawn_environment_and_directory),
		cmocka_unit_test(test_spawn_signals_start_fresh),
		cmocka_unit_test(test_spawn_failures),
	};

	dd_alloc_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
