/*
 * pool.c - the daemon's worker pool (pool.h): N threads draining the task
 * queue, sleeping until the next due task or a wake-up, plus the store
 * event hook that counts events for /metrics and logs them.
 */
#include "worker/pool.h"
#include "core/metrics.h"
#include "core/util.h"
#include "queue/wake.h"
#include "worker/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A thread asleep in sleep_until(), on pool.idle until woken. */
struct idler {
	pthread_cond_t cv;
	bool woken;   /* by wake_local(), not by its deadline */
	bool backoff; /* after a store error: it may fail again */
	struct idler *next;
};

static struct {
	pthread_mutex_t mu;
	struct idler *idle; /* the threads asleep, the latest first */
	bool missed;	    /* a wake-up found none asleep: look again */
	atomic_bool stop;
	atomic_int quiet;
	int stop_pipe[2];
} pool = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.stop_pipe = {-1, -1},
};

struct thread_arg {
	const struct dd_pool_options *o;
	int index;
	pthread_t tid;
	int rc;
	struct dd_error err;
};

/*
 * Committed store events become counters for /metrics and, unless the pool
 * is quiet, one key=value line each on stderr: every state change of every
 * lease and resource, whichever thread of this process made it.
 */
static void on_event(const struct dd_store_event *ev)
{
	char line[256];
	int n;

	if (!strcmp(ev->type, "command.consumed")) {
		dd_metric_inc(strcmp(ev->detail, "done")
				      ? DD_METRIC_COMMANDS_IGNORED
				      : DD_METRIC_COMMANDS_DONE);
		return; /* the object's own log entry says what it did */
	}
	if (!strcmp(ev->type, "lease.acquired"))
		dd_metric_observe_allocation(ev->value);
	if (atomic_load(&pool.quiet))
		return;
	/*
	 * One line per event, written at once so threads do not interleave;
	 * ids that do not apply are left out.
	 */
	n = snprintf(line, sizeof(line), "drydock: event=%s", ev->type);
	if (ev->lease)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " lease=%lld",
			      ev->lease);
	if (ev->resource)
		n += snprintf(line + n, sizeof(line) - (size_t)n,
			      " resource=%lld", ev->resource);
	if (ev->blueprint)
		n += snprintf(line + n, sizeof(line) - (size_t)n,
			      " blueprint=%lld", ev->blueprint);
	if (!strcmp(ev->type, "lease.acquired"))
		n += snprintf(line + n, sizeof(line) - (size_t)n,
			      " waited_ms=%.1f", ev->value * 1000.0);
	snprintf(line + n, sizeof(line) - (size_t)n, "\n");
	fputs(line, stderr);
}

/*
 * Wake up to `n` idle threads, one per new task, not all of them: every
 * thread woken for nothing costs two context switches and a look at the
 * queue.  A thread that claims a task wakes one more (task_claimed) if
 * its claim saw another task to claim, so a burst of tasks still spreads
 * over the pool, one hand-off at a time.
 *
 * The thread woken is the one that fell asleep last (its stack is
 * warm), and only it: each sleeper waits on a condition of its own.  A
 * wake-up that finds no thread asleep is not lost: the next thread about
 * to sleep looks at the queue once more instead (pool.missed), which
 * covers a claim that ran just before the task was committed.  One look
 * is enough however many wake-ups it stands for: a claim that takes a
 * task and sees another wakes the next thread.  Returns how many of the
 * woken threads will surely look (none backing off after a store error,
 * and the pool not stopping): a caller may leave other daemons untold
 * only for as many tasks (queue/wake.h).
 */
static int wake_local(int n)
{
	int sure = 0;

	pthread_mutex_lock(&pool.mu);
	for (int k = 0; k < n; k++) {
		struct idler **p = &pool.idle, *i;

		/* one backing off is on top again every 0.5 s: pass it by */
		while (*p && (*p)->backoff)
			p = &(*p)->next;
		if (!*p)
			p = &pool.idle;
		i = *p;
		if (!i) {
			pool.missed = true;
			break;
		}
		*p = i->next;
		i->woken = true;
		pthread_cond_signal(&i->cv);
		sure += !i->backoff;
	}
	pthread_mutex_unlock(&pool.mu);
	return atomic_load(&pool.stop) ? 0 : sure;
}

/* Stopping: every sleeper wakes, sees pool.stop and leaves the stack. */
static void wake_all(void)
{
	pthread_mutex_lock(&pool.mu);
	for (struct idler *i = pool.idle; i; i = i->next)
		pthread_cond_signal(&i->cv);
	pthread_mutex_unlock(&pool.mu);
}

static void task_claimed(void)
{
	(void)wake_local(1);
}

static bool pool_stopping(void)
{
	return atomic_load(&pool.stop);
}

void dd_pool_stop(void)
{
	char c = 's';

	atomic_store(&pool.stop, true);
	if (pool.stop_pipe[1] >= 0 && write(pool.stop_pipe[1], &c, 1) < 0) {
		/* the flag alone stops the threads at their next deadline */
	}
}

/*
 * Sleep until woken or `deadline` (dd_now() time), unless a wake-up came
 * while no thread slept (then return at once, to look again).  `backoff`:
 * the thread sleeps after a store error.
 */
static void sleep_until(double deadline, bool backoff)
{
	struct timespec ts;
	struct idler me = {.woken = false, .backoff = backoff};

	ts.tv_sec = (time_t)deadline;
	ts.tv_nsec = (long)((deadline - (double)ts.tv_sec) * 1e9);
	pthread_mutex_lock(&pool.mu);
	if (pool.missed || atomic_load(&pool.stop)) {
		pool.missed = false;
		pthread_mutex_unlock(&pool.mu);
		return;
	}
	pthread_cond_init(&me.cv, NULL);
	me.next = pool.idle;
	pool.idle = &me;
	while (!me.woken && !atomic_load(&pool.stop))
		if (pthread_cond_timedwait(&me.cv, &pool.mu, &ts) == ETIMEDOUT)
			break;
	if (!me.woken) {
		/* timed out, or stopping: off the stack */
		struct idler **p = &pool.idle;

		while (*p && *p != &me)
			p = &(*p)->next;
		if (*p)
			*p = me.next;
	}
	pthread_mutex_unlock(&pool.mu);
	pthread_cond_destroy(&me.cv);
}

/* One key=value line per failed task, for the operator's log. */
static void report_task(const struct dd_task *t, const char *error,
			double retry_in)
{
	if (retry_in == 0)
		fprintf(stderr,
			"drydock: task=%lld kind=%s %s=%lld fenced "
			"error=\"%s\"\n",
			t->id, t->kind, dd_obj_kind_name(t->object.kind),
			t->object.id, error);
	else if (retry_in > 0)
		fprintf(stderr,
			"drydock: task=%lld kind=%s %s=%lld failures=%d "
			"retry_in=%.2fs error=\"%s\"\n",
			t->id, t->kind, dd_obj_kind_name(t->object.kind),
			t->object.id, t->failures + 1, retry_in, error);
	else
		fprintf(stderr,
			"drydock: task=%lld kind=%s %s=%lld failed for good "
			"after %d failures error=\"%s\"\n",
			t->id, t->kind, dd_obj_kind_name(t->object.kind),
			t->object.id, t->failures + 1, error);
}

static void *worker_main(void *p)
{
	struct thread_arg *a = p;
	struct dd_worker w;
	char name[96], host[48] = "localhost";
	int store_errors = 0;

	gethostname(host, sizeof(host) - 1);
	snprintf(name, sizeof(name), "%s:%d:%d", host, (int)getpid(),
		 a->index);
	a->rc = dd_worker_init(&w, a->o->store_path, name, &a->err);
	if (a->rc) {
		dd_pool_stop();
		return NULL;
	}
	w.topt.report = report_task;
	w.topt.claimed = task_claimed;
	w.topt.stopping = pool_stopping;
	while (!atomic_load(&pool.stop)) {
		struct dd_error err = DD_ERROR_INIT;
		bool ran = false;
		double next = 0, now, deadline;
		int rc;

		rc = dd_worker_run_one(&w, &ran, &err);
		if (rc) {
			/*
			 * The store failed (locked past the busy timeout,
			 * full, gone).  Say so, back off, and keep going:
			 * claims expire, so nothing is lost.
			 */
			if (!a->o->quiet || store_errors++ < 3)
				fprintf(stderr, "drydock: worker %d: %s\n",
					a->index, err.msg);
			sleep_until(dd_now() + 0.2 + dd_random() * 0.3, true);
			continue;
		}
		store_errors = 0;
		if (ran && !dd_worker_found_nothing(&w))
			continue;
		now = dd_now();
		deadline = now + a->o->idle_cap;
		if (!dd_worker_next_due(&w, &next, NULL) && next > 0 &&
		    next < deadline)
			deadline = next;
		if (deadline > now)
			sleep_until(deadline, false);
	}
	dd_worker_release(&w);
	return NULL;
}

/*
 * The periodic check.  A page nobody reads can be damaged without anyone
 * noticing, and a readiness probe cannot afford to read every page (a
 * quick_check of the bench's store of a million finished leases takes
 * 1.4 s of CPU).  So a thread of the pool runs SQLite's quick_check every
 * DRYDOCK_CHECK_INTERVAL seconds (default 600, the first one interval
 * after start; 0 turns it off), on a connection of its own so that it
 * reads the file, not a cache.  Damage found is recorded for the process
 * (see dd_store_health()), so /readyz reports it from then on, and said
 * once on stderr.  Stopping the pool stops a check in progress.
 *
 * The same pass deletes file uploads whose writer died (a server killed
 * in the middle of one): incomplete file artifacts not written to for
 * STALE_UPLOAD seconds, with their chunks.  A live upload writes a chunk
 * at least every --timeout seconds (at most an hour), or its connection
 * is closed and the upload aborted by the server itself.
 */
#define STALE_UPLOAD 3600.0
#define PRUNE_MAX 100

static pthread_mutex_t check_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t check_cv = PTHREAD_COND_INITIALIZER;

static double check_interval(void)
{
	const char *v = getenv("DRYDOCK_CHECK_INTERVAL");
	char *end;
	double d;

	if (!v || !*v)
		return 600;
	d = strtod(v, &end);
	return *end || d < 0 || d != d ? 600 : d;
}

static bool check_cancelled(void *arg)
{
	(void)arg;
	return atomic_load(&pool.stop);
}

static void *checker_main(void *arg)
{
	const struct dd_pool_options *o = arg;
	double interval = check_interval();
	bool told = false;

	for (;;) {
		struct dd_store_check c = {.quick = true,
					   .cancelled = check_cancelled};
		struct dd_error err = DD_ERROR_INIT;
		struct dd_store_options opt;
		struct dd_store *s = NULL;
		double until = dd_now() + interval;
		struct timespec ts = {(time_t)until,
				      (long)((until - (double)(time_t)until) *
					     1e9)};
		int rc;

		pthread_mutex_lock(&check_mu);
		while (!atomic_load(&pool.stop) &&
		       pthread_cond_timedwait(&check_cv, &check_mu, &ts) !=
			       ETIMEDOUT)
			;
		pthread_mutex_unlock(&check_mu);
		if (atomic_load(&pool.stop))
			break;
		dd_store_options_from_env(&opt);
		rc = dd_store_open_ready(o->store_path, &opt, &s, &err);
		if (!rc)
			rc = dd_store_check(s, &c, &err);
		if (!rc) {
			int pruned = 0;

			dd_store_artifact_prune(s, dd_now() - STALE_UPLOAD,
						PRUNE_MAX, &pruned, &err);
		}
		dd_store_close(s);
		if (rc == DD_ERR_DAMAGED && !told) {
			fprintf(stderr, "drydock: %s\n", err.msg);
			told = true;
		}
	}
	return NULL;
}

int dd_pool_run(const struct dd_pool_options *o, struct dd_error *err)
{
	pthread_t checker;
	bool checking = false;
	struct dd_wake *wake = NULL;
	struct thread_arg *threads;
	int n = o->workers > 0 ? o->workers : 8;
	int rc = 0, started = 0;

	atomic_store(&pool.stop, false);
	atomic_store(&pool.quiet, o->quiet);
	dd_store_set_event_hook(on_event);
	if (pipe2(pool.stop_pipe, O_CLOEXEC) < 0)
		return dd_error_set(err, DD_ERR_IO, "cannot create pipe: %s",
				    strerror(errno));
	rc = dd_wake_listen(o->store_path, DD_WAKE_DAEMON, &wake, err);
	if (rc)
		goto out;
	dd_wake_set_local(wake_local);
	threads = dd_calloc((size_t)n, sizeof(*threads));
	if (!threads) {
		rc = dd_error_set(err, DD_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < n; i++) {
		threads[i].o = o;
		threads[i].index = i;
		if (pthread_create(&threads[i].tid, NULL, worker_main,
				   &threads[i])) {
			rc = dd_error_set(err, DD_ERR_IO,
					  "cannot start worker thread");
			dd_pool_stop();
			break;
		}
		started++;
	}
	if (!rc && check_interval() > 0)
		checking = !pthread_create(&checker, NULL, checker_main,
					   (void *)o);
	/*
	 * This thread turns wake-ups from other processes into a wake-up of
	 * one idle worker (a drain that read none is no wake-up).
	 */
	while (!atomic_load(&pool.stop)) {
		struct pollfd p[2] = {
			{.fd = dd_wake_fd(wake), .events = POLLIN},
			{.fd = pool.stop_pipe[0], .events = POLLIN},
		};

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if ((p[0].revents & POLLIN) && dd_wake_drain(wake))
			(void)wake_local(1);
	}
	atomic_store(&pool.stop, true);
	wake_all();
	if (checking) {
		pthread_mutex_lock(&check_mu);
		pthread_cond_broadcast(&check_cv);
		pthread_mutex_unlock(&check_mu);
		pthread_join(checker, NULL);
	}
	for (int i = 0; i < started; i++) {
		pthread_join(threads[i].tid, NULL);
		if (threads[i].rc && !rc) {
			rc = threads[i].rc;
			if (err)
				*err = threads[i].err;
		}
	}
	dd_free(threads);
out:
	dd_wake_set_local(NULL);
	/*
	 * The other daemons look at the queue once: what this one leaves
	 * (a task one of its threads was woken for in their place,
	 * queue/wake.h, and had not claimed yet; the next task a thread
	 * had claimed and gave back) is theirs now, not at their idle
	 * cap.
	 */
	dd_wake_notify(o->store_path, DD_WAKE_DAEMON);
	dd_store_set_event_hook(NULL);
	dd_wake_close(wake);
	close(pool.stop_pipe[0]);
	close(pool.stop_pipe[1]);
	pool.stop_pipe[0] = pool.stop_pipe[1] = -1;
	return rc;
}
