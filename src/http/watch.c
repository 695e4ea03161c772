#include "http/watch.h"
#include "core/util.h"
#include "queue/wake.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct {
	pthread_mutex_t mu;
	struct dd_watch *head;
	bool stopping;
	struct dd_wake *wake;
	int stop_pipe[2];
	pthread_t tid;
	bool running;
} watch = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.stop_pipe = {-1, -1},
};

void dd_watch_notify(const char *object)
{
	pthread_mutex_lock(&watch.mu);
	for (struct dd_watch *w = watch.head; w; w = w->next) {
		if (object && strcmp(object, w->object))
			continue;
		w->woken = true;
		pthread_cond_signal(&w->cv);
	}
	pthread_mutex_unlock(&watch.mu);
}

/* Turns datagrams from the wake socket into notifications. */
static void *listener(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd p[2] = {
			{.fd = dd_wake_fd(watch.wake), .events = POLLIN},
			{.fd = watch.stop_pipe[0], .events = POLLIN},
		};
		char buf[64];
		ssize_t got;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		while ((got = recv(dd_wake_fd(watch.wake), buf,
				   sizeof(buf) - 1, 0)) >= 0) {
			buf[got] = '\0';
			/* one byte is an untargeted wake-up */
			dd_watch_notify(got <= 1 ? NULL : buf);
		}
	}
	return NULL;
}

int dd_watch_start(const char *store_path, struct dd_error *err)
{
	int rc;

	watch.stopping = false;
	if (pipe2(watch.stop_pipe, O_CLOEXEC) < 0)
		return dd_error_set(err, DD_ERR_IO, "cannot create pipe: %s",
				    strerror(errno));
	rc = dd_wake_listen(store_path, DD_WAKE_WATCHER, &watch.wake, err);
	if (!rc && pthread_create(&watch.tid, NULL, listener, NULL))
		rc = dd_error_set(err, DD_ERR_IO,
				  "cannot start the watch thread");
	if (rc) {
		dd_wake_close(watch.wake);
		watch.wake = NULL;
		close(watch.stop_pipe[0]);
		close(watch.stop_pipe[1]);
		watch.stop_pipe[0] = watch.stop_pipe[1] = -1;
		return rc;
	}
	watch.running = true;
	/* notifications made in this process skip the socket */
	dd_wake_set_local_watcher(watch.wake, dd_watch_notify);
	return 0;
}

void dd_watch_stop(void)
{
	pthread_mutex_lock(&watch.mu);
	watch.stopping = true;
	pthread_mutex_unlock(&watch.mu);
	dd_watch_notify(NULL);
	if (!watch.running)
		return;
	if (write(watch.stop_pipe[1], "s", 1) < 0) {
		/* the pipe is ours and empty: cannot fail */
	}
	pthread_join(watch.tid, NULL);
	dd_wake_set_local_watcher(NULL, NULL);
	dd_wake_close(watch.wake);
	watch.wake = NULL;
	close(watch.stop_pipe[0]);
	close(watch.stop_pipe[1]);
	watch.stop_pipe[0] = watch.stop_pipe[1] = -1;
	watch.running = false;
}

void dd_watch_begin(struct dd_watch *w, const char *object)
{
	pthread_condattr_t a;

	snprintf(w->object, sizeof(w->object), "%s", object);
	w->woken = false;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &a);
	pthread_condattr_destroy(&a);
	pthread_mutex_lock(&watch.mu);
	w->next = watch.head;
	watch.head = w;
	pthread_mutex_unlock(&watch.mu);
}

int dd_watch_wait(struct dd_watch *w, double deadline)
{
	struct timespec ts;
	int rc = 0;

	ts.tv_sec = (time_t)floor(deadline);
	ts.tv_nsec = (long)((deadline - floor(deadline)) * 1e9);
	pthread_mutex_lock(&watch.mu);
	while (!w->woken && !watch.stopping) {
		if (pthread_cond_timedwait(&w->cv, &watch.mu, &ts) ==
		    ETIMEDOUT)
			break;
	}
	if (watch.stopping)
		rc = -1;
	else if (w->woken)
		rc = 1;
	w->woken = false;
	pthread_mutex_unlock(&watch.mu);
	return rc;
}

void dd_watch_end(struct dd_watch *w)
{
	pthread_mutex_lock(&watch.mu);
	for (struct dd_watch **p = &watch.head; *p; p = &(*p)->next) {
		if (*p == w) {
			*p = w->next;
			break;
		}
	}
	pthread_mutex_unlock(&watch.mu);
	pthread_cond_destroy(&w->cv);
}
