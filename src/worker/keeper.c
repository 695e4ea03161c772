/*
 * keeper.c - keeping a worker's claim alive while it works: a thread of
 * the worker's own, with a store handle of its own, that renews the task's
 * claim and its object's lock (or a lock taken directly) every third of
 * their lifetime for as long as the worker holds them.
 *
 * Why: a hook may take longer than DRYDOCK_CLAIM_TTL (a VM boots, a clone
 * runs).  Without renewal the claim expires under it, a second worker
 * claims the task and runs the same hook again, and fencing stops only
 * the first worker's store writes, not what its hook does outside.  The
 * grant keeps its token when renewed: it is still the same holder, and
 * every fenced write checks the token and the expiry as before.
 *
 * When a renewal fails (the grant is gone, or the store refuses until the
 * grant runs out) the work must stop: the keeper writes a byte to a pipe
 * whose read end the hooks get as ctx->cancel_fd, so dd_exec_run() stops
 * their programs, and the worker's next fenced write is refused anyway.
 *
 * The worker's thread only sets what is kept under a mutex; it wakes the
 * keeper only when the keeper sleeps with no deadline (it kept nothing),
 * so back-to-back tasks cost no thread switch: the keeper wakes at the
 * renewal time of an earlier grant, sees the newer one, and sleeps on.
 */
#include "worker/internal.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* How soon a renewal refused by a busy store is tried again. */
#define BUSY_RETRY 0.05

struct dd_keeper {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *store_path;
	double ttl;
	int cancel[2]; /* [0]: the hooks' cancel_fd; [1]: written on a loss */
	/* under mu: */
	bool stop;
	bool idle;	       /* waiting with no deadline */
	unsigned long arming;  /* bumped by every arm and disarm */
	bool armed;
	bool lost;	       /* this arming's renewal failed */
	bool has_task;	       /* renew task (claim + lock), else grant */
	struct dd_task task;   /* id, claim_token and lock only */
	struct dd_lock_grant grant;
	double expires;	       /* the grant's end, as last renewed */
	double retry_at;       /* after a busy store: the next try */
};

static void wait_until(struct dd_keeper *k, double when)
{
	struct timespec ts;
	double s = floor(when);

	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((when - s) * 1e9);
	pthread_cond_timedwait(&k->cv, &k->mu, &ts);
}

/* Renew what is kept; called without the mutex. */
static int renew(struct dd_store *s, bool has_task, const struct dd_task *t,
		 const struct dd_lock_grant *g, double now, double ttl)
{
	if (has_task)
		return dd_store_task_renew(s, t, now, ttl, NULL);
	return dd_store_lock_renew(s, g, now, ttl, NULL);
}

/*
 * The work lost its claim: tell the hooks (under the mutex).  The pass
 * itself learns it from its next fenced write, which is refused.
 */
static void lose(struct dd_keeper *k)
{
	char byte = 1;

	k->lost = true;
	if (write(k->cancel[1], &byte, 1) < 0) {
		/* full: a byte is there already, which is all it takes */
	}
}

static void *keeper_main(void *arg)
{
	struct dd_keeper *k = arg;
	struct dd_store *s = NULL;
	struct dd_store_options opt;
	struct dd_error err = DD_ERROR_INIT;
	int orc;

	dd_store_options_from_env(&opt);
	orc = dd_store_open_ready(k->store_path, &opt, &s, &err);
	/*
	 * Without a store nothing is renewed and every hook that outlives
	 * its claim is cancelled: say why once here, and per cancel below.
	 */
	if (orc)
		fprintf(stderr,
			"drydock: claim keeper: cannot open store "
			"error=\"%s\"\n",
			err.msg);
	pthread_mutex_lock(&k->mu);
	while (!k->stop) {
		struct dd_task t;
		struct dd_lock_grant g;
		unsigned long arming;
		bool has_task;
		double now = dd_now(), due;
		int rc;

		if (!k->armed || k->lost) {
			k->idle = true;
			pthread_cond_wait(&k->cv, &k->mu);
			k->idle = false;
			continue;
		}
		/* renew once a third of the lifetime has gone by */
		due = k->expires - k->ttl * 2 / 3;
		if (k->retry_at > due)
			due = k->retry_at;
		if (now < due) {
			wait_until(k, due);
			continue;
		}
		if (orc) {
			if (k->has_task)
				fprintf(stderr,
					"drydock: task=%lld claim not renewed, "
					"its hooks are cancelled error=\"%s\"\n",
					k->task.id, err.msg);
			else
				fprintf(stderr,
					"drydock: lock not renewed, its hooks "
					"are cancelled error=\"%s\"\n",
					err.msg);
			lose(k);
			continue;
		}
		arming = k->arming;
		has_task = k->has_task;
		t = k->task;
		g = k->grant;
		pthread_mutex_unlock(&k->mu);
		rc = renew(s, has_task, &t, &g, now, k->ttl);
		pthread_mutex_lock(&k->mu);
		if (arming != k->arming)
			continue; /* the work ended meanwhile: nothing to say */
		if (!rc) {
			k->expires = now + k->ttl;
			k->retry_at = 0;
		} else if (rc == DD_ERR_BUSY && dd_now() + BUSY_RETRY <
							k->expires) {
			k->retry_at = dd_now() + BUSY_RETRY;
		} else {
			lose(k);
		}
	}
	pthread_mutex_unlock(&k->mu);
	if (s)
		dd_store_close(s);
	return NULL;
}

int dd_keeper_new(const char *store_path, double ttl, struct dd_keeper **out,
		  struct dd_error *err)
{
	struct dd_keeper *k = dd_calloc(1, sizeof(*k));
	int rc;

	if (!k || !(k->store_path = dd_strdup(store_path))) {
		dd_free(k);
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	}
	k->ttl = ttl;
	if (pipe2(k->cancel, O_CLOEXEC | O_NONBLOCK)) {
		rc = dd_error_set(err, DD_ERR_IO, "cannot make a pipe: %s",
				  strerror(errno));
		dd_free(k->store_path);
		dd_free(k);
		return rc;
	}
	pthread_mutex_init(&k->mu, NULL);
	pthread_cond_init(&k->cv, NULL);
	rc = pthread_create(&k->thread, NULL, keeper_main, k);
	if (rc) {
		close(k->cancel[0]);
		close(k->cancel[1]);
		pthread_cond_destroy(&k->cv);
		pthread_mutex_destroy(&k->mu);
		dd_free(k->store_path);
		dd_free(k);
		return dd_error_set(err, DD_ERR_IO,
				    "cannot start the claim keeper: %s",
				    strerror(rc));
	}
	*out = k;
	return 0;
}

void dd_keeper_free(struct dd_keeper *k)
{
	if (!k)
		return;
	pthread_mutex_lock(&k->mu);
	k->stop = true;
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
	pthread_join(k->thread, NULL);
	close(k->cancel[0]);
	close(k->cancel[1]);
	pthread_cond_destroy(&k->cv);
	pthread_mutex_destroy(&k->mu);
	dd_free(k->store_path);
	dd_free(k);
}

void dd_keeper_arm(struct dd_keeper *k, const struct dd_task *t,
		   const struct dd_lock_grant *g, double expires)
{
	char drain[64];

	pthread_mutex_lock(&k->mu);
	/* a loss of the last work must not stop this one */
	while (k->lost && read(k->cancel[0], drain, sizeof(drain)) > 0)
		;
	k->arming++;
	k->armed = true;
	k->lost = false;
	k->retry_at = 0;
	k->has_task = t != NULL;
	memset(&k->task, 0, sizeof(k->task));
	if (t) {
		k->task.id = t->id;
		k->task.claim_token = t->claim_token;
		k->task.lock = t->lock;
	}
	k->grant = g ? *g : k->task.lock;
	k->expires = expires;
	if (k->idle)
		pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
}

void dd_keeper_disarm(struct dd_keeper *k)
{
	pthread_mutex_lock(&k->mu);
	k->arming++;
	k->armed = false;
	pthread_mutex_unlock(&k->mu);
}

int dd_keeper_cancel_fd(const struct dd_keeper *k)
{
	return k->cancel[0];
}
