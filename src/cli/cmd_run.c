/*
 * cmd_run.c - "drydock run": a build in one command, for a CI job.
 *
 * Starts a build target holding a new lease (api/run.h: one transaction,
 * so no ending can orphan the lease), waits for the lease, runs the
 * command on it with its stdout and stderr streamed live and apart while
 * their combined output is kept as the `output.log` artifact, uploads the
 * files matching each --artifact glob, and finishes the target passed or
 * failed, which releases the lease.  It exits with the command's status.
 *
 * A signal (Ctrl-C, SIGTERM, SIGHUP) stops the command's process group,
 * TERM then KILL, finishes the target aborted and exits 128+N.  If this
 * process dies without finishing (kill -9), the target's deadline (--ttl)
 * makes the daemon abort it, releasing the lease.  A target finished or
 * a lease released elsewhere while the command runs stops the command
 * the same way (the watch below) and exits 125.
 */
#include "api/run.h"
#include "cli/cli.h"
#include "core/exec.h"
#include "core/input.h"
#include "core/util.h"
#include "queue/wake.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * drydock's own failures, as opposed to the command's: a refused input,
 * a lease that breaks, a store that fails, an upload that fails (usage
 * errors are 2, as for every command, caught before anything).  125, as
 * `docker run` and `git bisect run` use it, so that a CI job can tell
 * them from any status a build commonly exits with.
 */
#define RUN_FAILED 125

static const char usage[] =
	"usage: drydock run --type TYPE [--attr KEY=VALUE]... "
	"[--attributes JSON|@FILE]\n"
	"                   [--blueprint ID]... [--ttl DURATION] [--name "
	"NAME]\n"
	"                   [--artifact GLOB]... [--uri NAME=URL]... [--db "
	"PATH]\n"
	"                   -- COMMAND [ARGS...]\n"
	"\n"
	"Run COMMAND as a build: create a build target holding a new lease "
	"on a\nresource of TYPE, wait for the lease (its progress on "
	"stderr), run COMMAND\nin the lease's working directory with its "
	"stdout and stderr streamed here\nas they come, keep its combined "
	"output as the target's artifact "
	"'output.log',\nupload the files matching each GLOB (relative to the "
	"lease's directory) as\nfile artifacts, record each URI, and finish "
	"the target passed or failed,\nwhich releases the lease.  COMMAND's "
	"standard input is /dev/null.\n";

static const char epilog[] =
	"exit status: COMMAND's own (128+N if signal N ended it); 2 for bad "
	"usage;\n125 when drydock fails (input refused, the lease ends broken, "
	"the store or\nan upload fails, the target's deadline passes: the "
	"target is then failed\nor aborted, never passed); 128+N when signal N (SIGINT, "
	"SIGTERM, SIGHUP) interrupts the run:\nCOMMAND and its children get "
	"SIGTERM, and SIGKILL 5 s later, and the\ntarget is aborted.  If "
	"the target is finished or the lease released\nelsewhere while "
	"COMMAND runs, COMMAND is stopped the same way and the exit\nstatus "
	"is 125.  If drydock itself is killed, the daemon aborts the\ntarget "
	"at its deadline (--ttl, default 1h) and releases the lease.\n";

/* The repeatable string options: --artifact and --uri. */
struct run_opts {
	const char **globs;
	size_t n_globs;
	struct dd_run_uri *uris;
	size_t n_uris;
	double ttl;
};

static int grow(void *pp, size_t n, size_t size, struct dd_error *err)
{
	void **p = pp;
	void *q = dd_realloc(*p, (n + 1) * size);

	if (!q)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	*p = q;
	return 0;
}

/*
 * --artifact GLOB: relative to the lease's directory and inside it, so
 * that its matches are keys that say where the file was.
 */
static int add_glob(const struct cli_option *o, const char *arg,
		    struct dd_error *err)
{
	struct run_opts *r = o->value;
	size_t len = strlen(arg);

	if (!*arg || arg[0] == '/')
		return dd_error_set(err, DD_ERR_INVALID,
				    "--artifact takes a glob relative to the "
				    "lease's directory, not '%s'",
				    arg);
	for (const char *p = arg; (p = strstr(p, "..")); p += 2)
		if ((p == arg || p[-1] == '/') &&
		    (p + 2 == arg + len || p[2] == '/'))
			return dd_error_set(err, DD_ERR_INVALID,
					    "--artifact '%s' leaves the "
					    "lease's directory ('..')",
					    arg);
	if (grow(&r->globs, r->n_globs, sizeof(*r->globs), err))
		return err->code;
	r->globs[r->n_globs++] = arg;
	return 0;
}

/* --uri NAME=URL; the URL is checked with the other artifacts' data. */
static int add_uri(const struct cli_option *o, const char *arg,
		   struct dd_error *err)
{
	struct run_opts *r = o->value;
	const char *eq = strchr(arg, '=');

	if (!eq || eq == arg || !eq[1])
		return dd_error_set(err, DD_ERR_INVALID,
				    "--uri takes NAME=URL, not '%s'", arg);
	if (grow(&r->uris, r->n_uris, sizeof(*r->uris), err))
		return err->code;
	/* the NAME is cut out of argv in place: argv outlives the run */
	((char *)eq)[0] = '\0';
	r->uris[r->n_uris].name = arg;
	r->uris[r->n_uris++].uri = eq + 1;
	return 0;
}

static int set_ttl(const struct cli_option *o, const char *arg,
		   struct dd_error *err)
{
	struct run_opts *r = o->value;

	return dd_duration_parse(arg, &r->ttl, err);
}

/* Write all of buf to fd; a reader that went away gets no more. */
static void write_all(int fd, const char *buf, size_t n, bool *gone)
{
	while (n && !*gone) {
		ssize_t w = write(fd, buf, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			*gone = true;
			return;
		}
		buf += w;
		n -= (size_t)w;
	}
}

/* The command's streams: passed through apart, and kept together. */
struct run_sink {
	struct dd_store *s;
	struct dd_run_output out;
	bool gone[3];
};

static void sink(void *arg, int stream, const char *buf, size_t n)
{
	struct run_sink *k = arg;

	write_all(stream == 1 ? STDOUT_FILENO : STDERR_FILENO, buf, n,
		  &k->gone[stream]);
	dd_run_output_add(k->s, &k->out, buf, n);
}

/* What a run has done so far, for the finish and the exit status. */
struct run {
	struct dd_store *s;
	long long target, lease;
	char who[128];
	bool own_failure; /* drydock failed after the command ran */
	char reason[600];
};

static void note_failure(struct run *r, const struct dd_error *err)
{
	cli_fail(err);
	if (!r->own_failure)
		snprintf(r->reason, sizeof(r->reason), "%s", err->msg);
	r->own_failure = true;
}

/*
 * Finish the target.  A target already finishing (its deadline came
 * first) is not our failure: the daemon aborts it either way.
 */
static void finish(struct run *r, const char *result, const char *reason)
{
	struct dd_error err = DD_ERROR_INIT;
	int rc = dd_run_finish(r->s, r->target, result, reason, r->who, &err);

	if (rc == DD_ERR_STATE)
		fprintf(stderr, "drydock: target %lld: %s\n", r->target,
			err.msg);
	else if (rc)
		note_failure(r, &err);
	else
		fprintf(stderr, "drydock: target %lld %s%s%s\n", r->target,
			result, reason ? ": " : "", reason ? reason : "");
}

/* The run was interrupted by a signal: abort the target, exit 128+N. */
static int abort_run(struct run *r, const char *while_doing)
{
	char reason[128];

	snprintf(reason, sizeof(reason), "interrupted by %s %s",
		 cli_stop_signal == SIGINT	 ? "SIGINT"
		 : cli_stop_signal == SIGTERM ? "SIGTERM"
					 : "SIGHUP",
		 while_doing);
	finish(r, "aborted", reason);
	return 128 + cli_stop_signal;
}

/*
 * While the command runs, a thread watches the run's target and lease
 * and stops the command (through the cancel pipe, as a signal does) once
 * someone else ends either: the target finished (an abort in the web UI,
 * `target finish`, its deadline) or the lease released or broken.  It is
 * woken by the workers' wake-ups about the two objects, one socket named
 * after each, with a store connection of its own (the main thread writes
 * the output meanwhile); nothing is re-read on a timer.  A lost wake-up
 * leaves the command running until the target's deadline stops it.
 */
struct watch {
	long long target, lease;
	int cancel;	/* the cancel pipe's write end */
	int stop[2];	/* the command ended: the watch ends */
	pthread_t thread;
	bool started;
	bool fired;	/* it stopped the command; `why` says why */
	bool lease_ended; /* the lease, not the target: that still builds */
	char why[700];
};

/* The newest log entry of the target or lease, of `type` if given. */
static json_t *last_log(struct dd_store *s, long long target,
			long long lease, const char *type)
{
	struct dd_filter f = {.target_id = target, .lease = lease,
			      .type = type, .descending = true, .limit = 1};
	struct dd_log_entry_list l = {0};
	json_t *data = NULL;

	if (!dd_store_log_list(s, &f, &l, NULL) && l.n && l.items[0].data)
		data = json_incref(l.items[0].data);
	dd_log_entry_list_release(&l);
	return data;
}

/* " by WHO (REASON)", as far as the log entry says. */
static void by_whom(const json_t *data, char *buf, size_t size)
{
	const char *who = json_string_value(json_object_get(data, "author"));
	const char *why = json_string_value(json_object_get(data, "reason"));

	snprintf(buf, size, "%s%s%s%s%s", who ? " by " : "", who ? who : "",
		 why ? " (" : "", why ? why : "", why ? ")" : "");
}

/*
 * Is the run still on?  0 and *over = false while the target builds and
 * the lease is active; *over = true with w->why set once either ended.
 */
static int watch_look(struct dd_store *s, struct watch *w, bool *over,
		      struct dd_error *err)
{
	struct dd_target t = {0};
	struct dd_lease l = {0};
	char by[400] = "";
	json_t *data = NULL;
	int rc = dd_store_target_get(s, w->target, &t, err);

	if (!rc && t.status != DD_TARGET_BUILDING) {
		data = last_log(s, w->target, 0, "target.finished");
		by_whom(data, by, sizeof(by));
		snprintf(w->why, sizeof(w->why),
			 "target %lld was %s%s while the command ran; "
			 "stopped it",
			 w->target, dd_target_status_name(t.status), by);
	} else if (!rc && !(rc = dd_store_lease_get(s, w->lease, &l, err)) &&
		   l.status != DD_LEASE_ACTIVE) {
		/* released by someone, or broken: whichever says more */
		const char *how = "released";

		w->lease_ended = true;
		data = last_log(s, 0, w->lease, "lease.released");
		if (!data) {
			how = dd_lease_status_name(l.status);
			data = last_log(s, 0, w->lease, NULL);
		}
		by_whom(data, by, sizeof(by));
		snprintf(w->why, sizeof(w->why),
			 "lease %lld was %s%s while the command ran; "
			 "stopped it",
			 w->lease, how, by);
	}
	*over = w->why[0] != '\0';
	json_decref(data);
	dd_target_release(&t);
	dd_lease_release(&l);
	return rc;
}

static void *watch_main(void *arg)
{
	struct watch *w = arg;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_wake *wake[2] = {NULL, NULL};
	struct dd_store *s = NULL;
	struct dd_lock_grant name[2]; /* what the workers' wake-ups name */
	bool over = false;
	int rc;

	dd_task_lock_name((struct dd_ref){DD_OBJ_TARGET, w->target}, &name[0]);
	dd_task_lock_name((struct dd_ref){DD_OBJ_LEASE, w->lease}, &name[1]);
	rc = dd_store_open_ready(cli_store_path(), NULL, &s, &err);
	/* named before the first look: no change after it is missed */
	for (int i = 0; !rc && i < 2; i++)
		rc = dd_wake_listen(cli_store_path(), DD_WAKE_WATCHER,
				    &wake[i], &err);
	for (int i = 0; !rc && i < 2; i++)
		dd_wake_watch(wake[i], name[i].name);
	while (!rc || rc == DD_ERR_BUSY) {
		struct pollfd p[3] = {{w->stop[0], POLLIN, 0},
				      {dd_wake_fd(wake[0]), POLLIN, 0},
				      {dd_wake_fd(wake[1]), POLLIN, 0}};

		rc = watch_look(s, w, &over, &err);
		if (over) {
			w->fired = true;
			if (write(w->cancel, "", 1) < 0) {
				/* the pipe holds a byte already */
			}
			break;
		}
		/* a busy store is looked at again soon, not at a wake-up */
		if (poll(p, 3, rc == DD_ERR_BUSY ? 100 : -1) < 0 &&
		    errno != EINTR)
			break;
		if (p[0].revents)
			break;
		dd_wake_drain(wake[0]);
		dd_wake_drain(wake[1]);
	}
	if (rc && rc != DD_ERR_BUSY && !w->fired)
		fprintf(stderr,
			"drydock: warning: cannot watch target %lld: %s\n",
			w->target, err.msg);
	dd_wake_close(wake[0]);
	dd_wake_close(wake[1]);
	dd_store_close(s);
	return NULL;
}

/* Start watching; a watch that cannot start is only a warning. */
static void watch_start(struct watch *w)
{
	sigset_t all, old;

	if (pipe2(w->stop, O_CLOEXEC)) {
		fprintf(stderr, "drydock: warning: cannot watch target %lld: "
				"%s\n",
			w->target, strerror(errno));
		return;
	}
	/* the signals stay the main thread's, whose wait they interrupt */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	w->started = !pthread_create(&w->thread, NULL, watch_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!w->started) {
		fprintf(stderr,
			"drydock: warning: cannot watch target %lld: cannot "
			"start a thread\n",
			w->target);
		close(w->stop[0]);
		close(w->stop[1]);
	}
}

static void watch_stop(struct watch *w)
{
	if (!w->started)
		return;
	close(w->stop[1]);
	pthread_join(w->thread, NULL);
	close(w->stop[0]);
	w->started = false;
}

/* What uploading the globs' matches needs, for each match. */
struct upload_ctx {
	struct run *r;
	const struct run_opts *o;
	size_t i; /* the glob being matched */
	struct dd_api_lease h;
	struct dd_file_options fo;
};

/* Did a glob before the i-th match `path` (and so upload it)? */
static bool matched_before(const struct run_opts *o, size_t i,
			   const char *path)
{
	for (size_t j = 0; j < i; j++)
		if (!fnmatch(o->globs[j], path, FNM_PATHNAME | FNM_PERIOD))
			return true;
	return false;
}

/*
 * Upload one match of a glob, a file on the lease read through its files
 * interface; a directory or anything but a file is skipped, saying so.
 */
static int upload_match(void *arg, const char *path, char type)
{
	struct upload_ctx *u = arg;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_artifact a = {0};
	struct dd_file_list l = {NULL, 0};

	if (cli_stop_signal)
		return DD_ERR_INTERRUPTED;
	if (matched_before(u->o, u->i, path))
		return 0;
	/* a link: what it leads to decides */
	if (type == 'l' && !dd_bp_file_list(u->h.bp.type, &u->h.bp.ctx,
					    &u->h.resource, &u->h.lease, path,
					    &l, &u->fo, &err))
		type = l.entries[0].type;
	dd_file_list_release(&l);
	if (type != 'f') {
		fprintf(stderr, "drydock: skipping '%s': %s\n", path,
			type == 'd' ? "a directory, not a file"
				    : "not a regular file");
		return 0;
	}
	if (dd_run_upload_lease_file(u->r->s, u->r->target, &u->h, path,
				     &u->fo, &a, &err)) {
		note_failure(u->r, &err);
	} else {
		fprintf(stderr,
			"drydock: uploaded '%s' (%lld bytes, sha256 %s)\n",
			path, a.size, a.sha256);
	}
	dd_artifact_release(&a);
	return 0;
}

/*
 * Upload every file the globs match on the lease, through its files
 * interface, so that it works on every blueprint type; a glob matching
 * nothing is worth a warning, not a failed build.  Ctrl-C stops the
 * command reading a file (the stop pipe is its cancel).
 */
static void upload_globs(struct run *r, const struct run_opts *o,
			 int cancel_fd)
{
	struct upload_ctx u = {.r = r, .o = o, .fo = {0, cancel_fd}};
	struct dd_error err = DD_ERROR_INIT;

	if (dd_api_lease_open(r->s, r->lease, "take artifacts from", &u.h,
			      &err)) {
		note_failure(r, &err);
		dd_api_lease_close(&u.h);
		return;
	}
	for (u.i = 0; u.i < o->n_globs && !cli_stop_signal; u.i++) {
		size_t matches = 0;
		int rc = dd_run_glob(&u.h, o->globs[u.i], &u.fo, upload_match,
				     &u, &matches, &err);

		if (rc == DD_ERR_INTERRUPTED)
			break;
		if (rc)
			fprintf(stderr,
				"drydock: warning: --artifact '%s': %s\n",
				o->globs[u.i], err.msg);
		else if (!matches)
			fprintf(stderr,
				"drydock: warning: --artifact '%s' matched "
				"no file\n",
				o->globs[u.i]);
	}
	dd_api_lease_close(&u.h);
}

/* Everything after the target and lease exist; returns the exit status. */
static int run_build(struct run *r, struct dd_wake *wake,
		     const struct cli_stop *stop,
		     const struct run_opts *o, char **argv)
{
	struct dd_exec_options eo = {.cancel_fd = stop->cancel,
				     .grace = DD_EXEC_GRACE,
				     .null_input = true,
				     .out = DD_EXEC_STREAM,
				     .err = DD_EXEC_STREAM,
				     .sink = sink};
	struct run_sink k = {.s = r->s};
	struct watch w = {.target = r->target,
			  .lease = r->lease,
			  .cancel = stop->notify};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_exec_result res = {0};
	struct dd_target t = {0};
	char reason[600];
	int rc;

	rc = cli_lease_wait(r->s, wake, r->lease, &cli_stop_signal, &err);
	if (rc == DD_ERR_INTERRUPTED)
		return abort_run(r, "while waiting for the lease");
	if (rc) {
		cli_fail(&err);
		finish(r, "aborted", err.msg);
		return RUN_FAILED;
	}
	fprintf(stderr, "drydock: lease %lld is active; running '%s'\n",
		r->lease, argv[0]);
	if (dd_store_target_get(r->s, r->target, &t, &err) ||
	    dd_run_output_begin(r->s, r->target, &k.out, &err)) {
		cli_fail(&err);
		dd_target_release(&t);
		finish(r, "aborted", err.msg);
		return RUN_FAILED;
	}
	/* the command stops where the target's deadline would abort it */
	eo.timeout = t.deadline - dd_now();
	if (eo.timeout <= 0)
		eo.timeout = 0.001;
	dd_target_release(&t);
	eo.sink_arg = &k;
	watch_start(&w);
	rc = dd_api_exec(r->s, r->lease, argv, NULL, &eo, &res, &err);
	watch_stop(&w);
	dd_exec_result_release(&res);
	if (rc) {
		struct dd_error ignored = DD_ERROR_INIT;

		dd_run_output_end(r->s, &k.out, &ignored);
		cli_fail(&err);
		finish(r, "failed", err.msg);
		return RUN_FAILED;
	}
	/*
	 * Ended elsewhere: output.log is still completed (a finished
	 * target's file can be, though it takes no new artifact), nothing
	 * more is uploaded, and a target finished already is left alone;
	 * one whose lease went is aborted, as it cannot go on.
	 */
	if (dd_run_output_end(r->s, &k.out, &err))
		note_failure(r, &err);
	if (w.fired) {
		cli_error(RUN_FAILED, "%s", w.why);
		if (w.lease_ended)
			finish(r, "aborted", w.why);
		return RUN_FAILED;
	}
	if (res.cancelled)
		return abort_run(r, "while the command ran");
	if (res.timed_out) {
		snprintf(reason, sizeof(reason),
			 "'%s' ran past the target's deadline: stopped it",
			 argv[0]);
		cli_error(RUN_FAILED, "target %lld: %s", r->target, reason);
		finish(r, "aborted", reason);
		return RUN_FAILED;
	}
	if (o->n_globs) {
		upload_globs(r, o, stop->cancel);
		if (cli_stop_signal)
			return abort_run(r, "while uploading artifacts");
	}
	if (res.exit_status) {
		snprintf(reason, sizeof(reason), "'%s' exited with status %d",
			 argv[0], res.exit_status);
		finish(r, "failed", reason);
		return res.exit_status;
	}
	if (r->own_failure) {
		finish(r, "failed", r->reason);
		return RUN_FAILED;
	}
	finish(r, "passed", NULL);
	return r->own_failure ? RUN_FAILED : 0;
}

int cmd_run(int argc, char **argv)
{
	struct dd_lease_request lreq = {0};
	struct run_opts o = {.ttl = DD_RUN_TTL_DEFAULT};
	struct cli_ids blueprints = {0};
	const char *name = NULL;
	json_t *attrs = json_object(), *extra = NULL, *bps = NULL;
	const struct cli_option options[] = {
		CLI_STRING("type", "TYPE", &lreq.type,
			   "the type of resource to lease (required)"),
		CLI_CALLBACK("attr", "KEY=VALUE", cli_opt_attr, attrs,
			     "a string attribute of the lease (repeatable)"),
		CLI_CALLBACK("attributes", "JSON", cli_opt_attributes, &extra,
			     "the lease's attributes as a JSON object, "
			     "inline or @FILE (a working copy's "
			     "repositories)"),
		CLI_IDS("blueprint", &blueprints,
			"only these blueprints may serve it (repeatable)"),
		CLI_CALLBACK("ttl", "DURATION", set_ttl, &o,
			     "the target's deadline, from now (default 1h): "
			     "then the command is stopped and the target "
			     "aborted, by the daemon if drydock is gone"),
		CLI_STRING("name", "NAME", &name, "the target's name"),
		CLI_CALLBACK("artifact", "GLOB", add_glob, &o,
			     "upload the files matching GLOB in the lease's "
			     "directory once COMMAND ends (repeatable; "
			     "quote it)"),
		CLI_CALLBACK("uri", "NAME=URL", add_uri, &o,
			     "record URL as the target's artifact NAME "
			     "(repeatable)"),
		CLI_END,
	};
	const struct cli_spec spec = {.name = "run",
				      .usage = usage,
				      .options = options,
				      .epilog = epilog,
				      .positional = true,
				      .flags = CLI_STOP_AT_ARG};
	struct dd_artifact_rules rules;
	struct dd_run_request req = {0};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_wake *wake = NULL;
	struct run r = {0};
	struct cli_stop stop = CLI_STOP_INIT;
	int n, rc;

	/* usage errors exit 2, as for every command */
	n = cli_parse(&spec, argc, argv);
	rc = 2;
	if (!lreq.type) {
		cli_usage_error(usage, "--type is required");
		goto out;
	}
	if (!n) {
		cli_usage_error(usage, "no command to run");
		goto out;
	}
	rc = RUN_FAILED;
	for (size_t i = 0; i < blueprints.n; i++) {
		if (!bps)
			bps = json_array();
		json_array_append_new(bps, json_integer(blueprints.v[i]));
	}
	dd_api_cli_identity(r.who, sizeof(r.who));
	dd_artifact_rules_from_env(&rules);
	if (extra)
		json_object_update(attrs, extra);
	lreq.attributes = attrs;
	lreq.blueprints = bps;
	req.name = name;
	req.ttl = o.ttl;
	req.owner = r.who;
	req.lease = lreq;
	req.uris = o.uris;
	req.n_uris = o.n_uris;
	req.rules = &rules;
	/* refused before the store is opened: nothing is created */
	if (dd_run_check(&req, &err)) {
		cli_fail(&err);
		goto out;
	}
	/* a reader of our output that goes away must not kill the run */
	signal(SIGPIPE, SIG_IGN);
	if (dd_store_open_ready(cli_store_path(), NULL, &r.s, &err) ||
	    dd_wake_listen(cli_store_path(), DD_WAKE_WATCHER, &wake, &err) ||
	    cli_stop_on_signals(&stop, &err) ||
	    dd_run_start(r.s, &req, &r.target, &r.lease, &err)) {
		/* listening before the lease is queued: no wake-up missed */
		cli_fail(&err);
		goto out;
	}
	fprintf(stderr, "drydock: target %lld: queued lease %lld\n", r.target,
		r.lease);
	rc = cli_stop_signal ? abort_run(&r, "before the lease was queued")
			 : run_build(&r, wake, &stop, &o, argv);
out:
	dd_wake_close(wake);
	dd_store_close(r.s);
	cli_stop_close(&stop);
	cli_ids_release(&blueprints);
	json_decref(attrs);
	json_decref(extra);
	json_decref(bps);
	dd_free(o.globs);
	dd_free(o.uris);
	return rc;
}
