/*
 * test_wake.c - wake-ups between processes (queue/wake.c, on the SQLite
 * backend's Unix sockets, store/sqlite_wake.c): an empty location
 * refused and a PostgreSQL one left to its own transport, targeted
 * wake-ups reach their own watcher only, untargeted ones reach all, a
 * watcher told by direct calls in its own process (and left out by its
 * transport's name for it, renamed or not), counting listeners,
 * many listeners at once, listeners that never read, a sender that
 * follows a wake directory made anew, the sweep of sockets left by a
 * killed watcher, and the wake directories refused (a symbolic link, open
 * to others, another user's) and the one made (0700).
 */
#include "testutil.h"

#include "queue/wake.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct fx {
	struct test_env env;
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));

	test_env_init(&x->env);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;

	test_env_release(&x->env);
	free(x);
	return 0;
}

static struct dd_wake *listen_or_fail(struct fx *x, enum dd_wake_role role)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_wake *w = NULL;

	assert_ok(dd_wake_listen(x->env.path, role, &w, &err), &err);
	return w;
}

static void test_targeted_wake_reaches_its_watcher_only(void **state)
{
	struct fx *x = *state;
	struct dd_wake *a = listen_or_fail(x, DD_WAKE_WATCHER);
	struct dd_wake *b = listen_or_fail(x, DD_WAKE_WATCHER);

	/* the first wait names the socket and returns at once: look again */
	assert_int_equal(dd_wake_wait_for(a, "lease:1", 0.01), 1);
	assert_int_equal(dd_wake_wait_for(b, "lease:2", 0.01), 1);
	dd_wake_notify_about(x->env.path, "lease:1");
	assert_int_equal(dd_wake_wait_for(a, "lease:1", 5), 1);
	/* b was not sent anything: its socket is empty */
	assert_int_equal(dd_wake_drain(b), 0);
	/* an untargeted wake-up reaches both */
	dd_wake_notify(x->env.path, DD_WAKE_WATCHER);
	assert_int_equal(dd_wake_wait_for(a, "lease:1", 5), 1);
	assert_int_equal(dd_wake_wait_for(b, "lease:2", 5), 1);
	dd_wake_close(a);
	dd_wake_close(b);
}

/* What the local watcher below was told, in order. */
static char told[4][32];
static int ntold;

static void local_fn(const char *object)
{
	if (ntold < 4)
		snprintf(told[ntold++], sizeof(told[0]), "%s",
			 object ? object : "(all)");
}

/*
 * A watcher registered for direct calls is told about this process's
 * notifications without a datagram; other watchers still get theirs, and
 * once it unregisters, its socket gets them again.
 */
static void test_local_watcher_is_called_directly(void **state)
{
	struct fx *x = *state;
	struct dd_wake *local = listen_or_fail(x, DD_WAKE_WATCHER);
	struct dd_wake *other = listen_or_fail(x, DD_WAKE_WATCHER);

	ntold = 0;
	dd_wake_set_local_watcher(local, local_fn);
	dd_wake_notify_about(x->env.path, "lease:7");
	dd_wake_notify(x->env.path, DD_WAKE_WATCHER);
	assert_int_equal(ntold, 2);
	assert_string_equal(told[0], "lease:7");
	assert_string_equal(told[1], "(all)");
	assert_int_equal(dd_wake_drain(local), 0);
	assert_int_equal(dd_wake_drain(other), 2);
	/* another store's notifications are not its business */
	dd_wake_notify_about("/nonexistent/other.db", "lease:7");
	assert_int_equal(ntold, 2);
	dd_wake_set_local_watcher(NULL, NULL);
	dd_wake_notify_about(x->env.path, "lease:7");
	assert_int_equal(ntold, 2);
	assert_int_equal(dd_wake_drain(local), 1);
	assert_int_equal(dd_wake_drain(other), 1);
	dd_wake_close(local);
	dd_wake_close(other);
}

/*
 * The local watcher is left out by its transport's name for it, whatever
 * object it watches since it registered: it is told once, directly, not
 * again through its socket.
 */
static void test_local_watcher_renamed_is_still_left_out(void **state)
{
	struct fx *x = *state;
	struct dd_wake *local = listen_or_fail(x, DD_WAKE_WATCHER);

	ntold = 0;
	dd_wake_set_local_watcher(local, local_fn);
	assert_true(dd_wake_watch(local, "lease:7"));
	dd_wake_notify_about(x->env.path, "lease:7");
	dd_wake_notify(x->env.path, DD_WAKE_WATCHER);
	assert_int_equal(ntold, 2);
	assert_int_equal(dd_wake_drain(local), 0);
	dd_wake_set_local_watcher(NULL, NULL);
	dd_wake_close(local);
}

/*
 * Wake-ups go by the store's backend: a location no backend of this
 * build takes (a PostgreSQL one) cannot be listened to, with the reason,
 * and notifying or counting its listeners does nothing, making nothing.
 */
/*
 * A location takes its backend's transport: an empty one is refused; a
 * PostgreSQL one is PostgreSQL's (LISTEN/NOTIFY, store/pg_wake.c), so a
 * server that is not there fails listening with the reason, and
 * notifying and counting it do nothing and make no file of its name
 * (before the PostgreSQL transport, they made a wake directory name of
 * it).
 */
static void test_location_of_each_backend(void **state)
{
	static const char loc[] = "postgres://127.0.0.1:1/drydock";
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_wake *w = (struct dd_wake *)&err;
	char cwd[PATH_MAX];
	DIR *d;
	struct dirent *e;
	int n = 0;

	assert_int_equal(dd_wake_listen("", DD_WAKE_WATCHER, &w, &err),
			 DD_ERR_INVALID);
	assert_null(w);
	assert_non_null(strstr(err.msg, "no store given"));
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(x->env.dir), 0);
	w = (struct dd_wake *)&err;
	assert_int_equal(dd_wake_listen(loc, DD_WAKE_WATCHER, &w, &err),
			 DD_ERR_STORE);
	assert_null(w);
	assert_non_null(strstr(err.msg, "cannot listen for wake-ups on the "
				       "PostgreSQL store: "));
	dd_wake_notify(loc, DD_WAKE_DAEMON);
	dd_wake_notify(loc, DD_WAKE_WATCHER);
	dd_wake_notify_about(loc, "lease:1");
	assert_int_equal(dd_wake_count(loc, DD_WAKE_WATCHER), 0);
	/* only the test's store and its files are in its directory */
	assert_non_null(d = opendir("."));
	while ((e = readdir(d)))
		if (strncmp(e->d_name, "dd.db", 5) && strcmp(e->d_name, ".") &&
		    strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(n, 0);
}

static void test_count_sees_live_listeners(void **state)
{
	struct fx *x = *state;
	struct dd_wake *d = listen_or_fail(x, DD_WAKE_DAEMON);

	assert_int_equal(dd_wake_count(x->env.path, DD_WAKE_DAEMON), 1);
	dd_wake_close(d);
	assert_int_equal(dd_wake_count(x->env.path, DD_WAKE_DAEMON), 0);
}

/*
 * More listeners than one listing's inline buffer holds names: every one
 * is still counted and woken.
 */
static void test_many_listeners_are_all_woken(void **state)
{
	struct fx *x = *state;
	enum { N = 300 };
	struct dd_wake *w[N];

	for (int i = 0; i < N; i++)
		w[i] = listen_or_fail(x, DD_WAKE_WATCHER);
	assert_int_equal(dd_wake_count(x->env.path, DD_WAKE_WATCHER), N);
	dd_wake_notify(x->env.path, DD_WAKE_WATCHER);
	for (int i = 0; i < N; i++) {
		assert_int_equal(dd_wake_drain(w[i]), 1);
		dd_wake_close(w[i]);
	}
	assert_int_equal(dd_wake_count(x->env.path, DD_WAKE_WATCHER), 0);
}

/*
 * Listeners that never read keep their datagrams charged to the socket
 * that sent them; once the sender's buffer is full of them, a listener
 * that does read must still be woken.
 */
static void test_listeners_that_never_read_do_not_block_others(void **state)
{
	struct fx *x = *state;
	enum { STUCK = 40, ROUNDS = 12 };
	struct dd_wake *stuck[STUCK], *b;

	for (int i = 0; i < STUCK; i++)
		stuck[i] = listen_or_fail(x, DD_WAKE_WATCHER);
	/* 40 queues of up to 10 datagrams: more than one socket's buffer */
	for (int r = 0; r < ROUNDS; r++)
		dd_wake_notify(x->env.path, DD_WAKE_WATCHER);
	b = listen_or_fail(x, DD_WAKE_WATCHER);
	dd_wake_notify(x->env.path, DD_WAKE_WATCHER);
	assert_int_equal(dd_wake_drain(b), 1);
	for (int i = 0; i < STUCK; i++) {
		assert_true(dd_wake_drain(stuck[i]) >= 1);
		dd_wake_close(stuck[i]);
	}
	dd_wake_close(b);
}

/* The wake directory of the test's store: its real path and "-wake". */
static void wake_dir_of(struct fx *x, char *out, size_t n)
{
	char real[PATH_MAX];

	assert_non_null(realpath(x->env.path, real));
	snprintf(out, n, "%s-wake", real);
}

/*
 * A sender keeps the wake directory open between notifications; when the
 * directory is removed and made again, the sender must list the new one,
 * or its listeners would never be woken.
 */
static void test_notify_follows_a_new_wake_directory(void **state)
{
	struct fx *x = *state;
	struct dd_wake *a = listen_or_fail(x, DD_WAKE_WATCHER);
	struct dd_wake *b;
	char dir[PATH_MAX + 8];

	assert_int_equal(dd_wake_wait_for(a, "lease:1", 0.01), 1);
	dd_wake_notify_about(x->env.path, "lease:1");
	assert_int_equal(dd_wake_wait_for(a, "lease:1", 5), 1);
	wake_dir_of(x, dir, sizeof(dir));
	dd_wake_close(a);
	assert_int_equal(rmdir(dir), 0);
	b = listen_or_fail(x, DD_WAKE_WATCHER);
	assert_int_equal(dd_wake_wait_for(b, "lease:1", 0.01), 1);
	dd_wake_notify_about(x->env.path, "lease:1");
	assert_int_equal(dd_wake_wait_for(b, "lease:1", 5), 1);
	dd_wake_close(b);
}

/* An object no other test run waits for: "lease:PID". */
static char object[32];

/* How many sockets named after `object` the store's wake directory holds. */
static int named_sockets(struct fx *x)
{
	char dir[PATH_MAX + 8];
	DIR *d;
	struct dirent *e;
	const char *at;
	int n = 0;

	wake_dir_of(x, dir, sizeof(dir));
	d = opendir(dir);
	assert_non_null(d);
	while ((e = readdir(d)))
		if ((at = strchr(e->d_name, '@')) && !strcmp(at + 1, object))
			n++;
	closedir(d);
	return n;
}

static void test_sockets_of_killed_watchers_are_swept(void **state)
{
	struct fx *x = *state;
	pid_t pid;
	int status;

	snprintf(object, sizeof(object), "lease:%d", (int)getpid());
	/* a watcher that dies without cleaning up, as after kill -9 */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct dd_wake *w = NULL;

		if (dd_wake_listen(x->env.path, DD_WAKE_WATCHER, &w, NULL))
			_exit(1);
		dd_wake_wait_for(w, object, 0.01);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(named_sockets(x), 1);
	/* the next process to listen sweeps it away */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct dd_wake *w = NULL;

		if (dd_wake_listen(x->env.path, DD_WAKE_WATCHER, &w, NULL))
			_exit(1);
		dd_wake_close(w);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(named_sockets(x), 0);
}

/* Listening on the test's store fails, saying `why`. */
static void listen_refused(struct fx *x, const char *why)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_wake *w = NULL;

	assert_int_equal(dd_wake_listen(x->env.path, DD_WAKE_DAEMON, &w, &err),
			 DD_ERR_IO);
	assert_null(w);
	if (!strstr(err.msg, why))
		fail_msg("'%s' does not say '%s'", err.msg, why);
}

/*
 * A wake directory that is a symbolic link (someone else's doing) is
 * refused, and nothing is swept or sent through it: the files it points
 * at, named like dead sockets, stay where they are.
 */
static void test_symlinked_wake_directory_is_refused(void **state)
{
	struct fx *x = *state;
	char dir[PATH_MAX + 8], victim[PATH_MAX + 8], file[PATH_MAX + 16];
	struct stat st;
	FILE *f;

	wake_dir_of(x, dir, sizeof(dir));
	snprintf(victim, sizeof(victim), "%s/victim", x->env.dir);
	assert_int_equal(mkdir(victim, 0700), 0);
	snprintf(file, sizeof(file), "%s/d-1-0", victim);
	f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(symlink(victim, dir), 0);
	listen_refused(x, "is a symbolic link");
	assert_int_equal(dd_wake_count(x->env.path, DD_WAKE_DAEMON), 0);
	dd_wake_notify(x->env.path, DD_WAKE_DAEMON);
	assert_int_equal(stat(file, &st), 0);
	assert_true(S_ISREG(st.st_mode));
}

/* A wake directory others may enter is refused, not repaired. */
static void test_wake_directory_open_to_others_is_refused(void **state)
{
	struct fx *x = *state;
	char dir[PATH_MAX + 8];
	struct dd_wake *w;
	struct stat st;

	wake_dir_of(x, dir, sizeof(dir));
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(chmod(dir, 0777), 0);
	listen_refused(x, "lets other users in; it must be 0700");
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0777);
	assert_int_equal(chmod(dir, 0750), 0);
	listen_refused(x, "its mode 0750");
	assert_int_equal(chmod(dir, 0700), 0);
	w = listen_or_fail(x, DD_WAKE_DAEMON);
	assert_int_equal(dd_wake_count(x->env.path, DD_WAKE_DAEMON), 1);
	dd_wake_close(w);
}

/*
 * One that belongs to another user is refused (making it needs root;
 * tests/integration/wake_two_users.sh runs the whole attack as two users).
 */
static void test_wake_directory_of_another_user_is_refused(void **state)
{
	struct fx *x = *state;
	char dir[PATH_MAX + 8];

	if (geteuid() != 0) {
		fprintf(stderr, "SKIPPED: only root can give a directory "
				"away\n");
		skip();
	}
	wake_dir_of(x, dir, sizeof(dir));
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(chown(dir, 61002, 61002), 0);
	listen_refused(x, "belongs to uid 61002, not to uid 0");
}

/* A new wake directory is 0700 whatever the umask. */
static void test_new_wake_directory_is_private(void **state)
{
	struct fx *x = *state;
	char dir[PATH_MAX + 8];
	mode_t old = umask(0);
	struct dd_wake *w = listen_or_fail(x, DD_WAKE_WATCHER);
	struct stat st;

	umask(old);
	wake_dir_of(x, dir, sizeof(dir));
	assert_int_equal(lstat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	dd_wake_close(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_targeted_wake_reaches_its_watcher_only, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_local_watcher_is_called_directly, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_local_watcher_renamed_is_still_left_out, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_location_of_each_backend,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_count_sees_live_listeners,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_notify_follows_a_new_wake_directory, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_many_listeners_are_all_woken, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_listeners_that_never_read_do_not_block_others,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_sockets_of_killed_watchers_are_swept, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_symlinked_wake_directory_is_refused, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_wake_directory_open_to_others_is_refused, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_wake_directory_of_another_user_is_refused, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_new_wake_directory_is_private, setup, teardown),
	};

	dd_alloc_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
