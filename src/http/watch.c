/*
 * watch.c - long polls parked until an object changes (see watch.h): a
 * hash table of armed watches by object, a heap of parked ones by
 * deadline, and one listener thread for the store's wake-ups and the
 * deadlines.
 */
#include "http/watch.h"
#include "core/util.h"
#include "queue/wake.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define BUCKETS 4096

static struct {
	pthread_mutex_t mu;
	struct dd_watch *bucket[BUCKETS];
	struct dd_watch **heap; /* parked watches, earliest deadline first */
	size_t parked, heap_cap;
	double listener_due; /* when the listener wakes up on its own */
	bool stopping;
	struct dd_wake *wake;
	int kick[2]; /* a byte: look at the heap again, or stop */
	pthread_t tid;
	bool running;
} watch = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.kick = {-1, -1},
};

static unsigned bucket_of(const char *object)
{
	unsigned h = 2166136261u; /* FNV-1a */

	for (; *object; object++)
		h = (h ^ (unsigned char)*object) * 16777619u;
	return h % BUCKETS;
}

/* ---- the deadline heap (under watch.mu) ------------------------------- */

static void heap_set(size_t i, struct dd_watch *w)
{
	watch.heap[i] = w;
	w->heap = i;
}

static void heap_up(size_t i)
{
	struct dd_watch *w = watch.heap[i];

	while (i > 0 && watch.heap[(i - 1) / 2]->deadline > w->deadline) {
		heap_set(i, watch.heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(i, w);
}

static void heap_down(size_t i)
{
	struct dd_watch *w = watch.heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= watch.parked)
			break;
		if (c + 1 < watch.parked &&
		    watch.heap[c + 1]->deadline < watch.heap[c]->deadline)
			c++;
		if (watch.heap[c]->deadline >= w->deadline)
			break;
		heap_set(i, watch.heap[c]);
		i = c;
	}
	heap_set(i, w);
}

static bool heap_push(struct dd_watch *w)
{
	if (watch.parked == watch.heap_cap) {
		size_t cap = watch.heap_cap ? 2 * watch.heap_cap : 256;
		struct dd_watch **h =
			dd_realloc(watch.heap, cap * sizeof(*h));

		if (!h)
			return false;
		watch.heap = h;
		watch.heap_cap = cap;
	}
	heap_set(watch.parked++, w);
	heap_up(w->heap);
	return true;
}

static void heap_remove(struct dd_watch *w)
{
	size_t i = w->heap;
	struct dd_watch *last = watch.heap[--watch.parked];

	if (last == w)
		return;
	heap_set(i, last);
	heap_up(i);
	heap_down(last->heap);
}

/* ---- arming and firing ------------------------------------------------ */

/* Take `w` out of its bucket (and the heap); under watch.mu. */
static void unlink_watch(struct dd_watch *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		watch.bucket[bucket_of(w->object)] = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->next = w->prev = NULL;
	if (w->parked)
		heap_remove(w);
	w->armed = w->parked = false;
}

/*
 * Fire the watches chained on `list` (through next) once watch.mu is
 * released: fire() may take the server's locks, or arm the watch again.
 */
static void fire_all(struct dd_watch *list, enum dd_watch_why why)
{
	while (list) {
		struct dd_watch *w = list;

		list = w->next;
		w->next = NULL;
		w->fire(w->arg, why);
	}
}

void dd_watch_notify(const char *object)
{
	struct dd_watch *fired = NULL;

	pthread_mutex_lock(&watch.mu);
	for (unsigned b = object ? bucket_of(object) : 0; b < BUCKETS; b++) {
		struct dd_watch *w = watch.bucket[b], *next;

		for (; w; w = next) {
			next = w->next;
			if (object && strcmp(object, w->object))
				continue;
			if (!w->parked) {
				w->woken = true; /* its park() tells */
				continue;
			}
			unlink_watch(w);
			w->next = fired;
			fired = w;
		}
		if (object)
			break;
	}
	pthread_mutex_unlock(&watch.mu);
	fire_all(fired, DD_WATCH_CHANGED);
}

void dd_watch_arm(struct dd_watch *w, const char *object, double deadline)
{
	unsigned b = bucket_of(object);

	snprintf(w->object, sizeof(w->object), "%s", object);
	w->deadline = deadline;
	w->woken = w->parked = false;
	w->armed = true;
	pthread_mutex_lock(&watch.mu);
	w->prev = NULL;
	w->next = watch.bucket[b];
	if (w->next)
		w->next->prev = w;
	watch.bucket[b] = w;
	pthread_mutex_unlock(&watch.mu);
}

enum dd_watch_why dd_watch_park(struct dd_watch *w, dd_watch_fire *fire,
				void *arg)
{
	enum dd_watch_why why = DD_WATCH_PARKED;
	bool kick = false;

	pthread_mutex_lock(&watch.mu);
	if (watch.stopping)
		why = DD_WATCH_STOPPING;
	else if (w->woken)
		why = DD_WATCH_CHANGED;
	else if (w->deadline <= dd_monotonic())
		why = DD_WATCH_DEADLINE;
	w->fire = fire;
	w->arg = arg;
	if (why == DD_WATCH_PARKED) {
		w->parked = true;
		if (!heap_push(w)) {
			w->parked = false;
			why = DD_WATCH_DEADLINE; /* out of memory: answer now */
		}
	}
	if (why != DD_WATCH_PARKED) {
		unlink_watch(w);
	} else if (w->deadline < watch.listener_due) {
		watch.listener_due = w->deadline;
		kick = true;
	}
	pthread_mutex_unlock(&watch.mu);
	if (kick && write(watch.kick[1], "k", 1) < 0) {
		/* the pipe is full: the listener is about to look anyway */
	}
	return why;
}

void dd_watch_disarm(struct dd_watch *w)
{
	pthread_mutex_lock(&watch.mu);
	if (w->armed)
		unlink_watch(w);
	pthread_mutex_unlock(&watch.mu);
}

size_t dd_watch_parked(void)
{
	size_t n;

	pthread_mutex_lock(&watch.mu);
	n = watch.parked;
	pthread_mutex_unlock(&watch.mu);
	return n;
}

/*
 * Fire the parked watches whose deadline has passed; return how many
 * milliseconds until the next one (-1: none).
 */
static int fire_due(void)
{
	struct dd_watch *fired = NULL, **tail = &fired;
	double now = dd_monotonic(), next;
	int ms = -1;

	pthread_mutex_lock(&watch.mu);
	while (watch.parked && watch.heap[0]->deadline <= now) {
		struct dd_watch *w = watch.heap[0];

		unlink_watch(w); /* earliest first */
		*tail = w;
		tail = &w->next;
	}
	next = watch.parked ? watch.heap[0]->deadline : now + 3600;
	watch.listener_due = next;
	if (watch.parked)
		ms = (int)((next - now) * 1000) + 1;
	pthread_mutex_unlock(&watch.mu);
	fire_all(fired, DD_WATCH_DEADLINE);
	return ms;
}

/* Turns wake-ups into notifications, and deadlines into answers. */
static void *listener(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd p[2] = {
			{.fd = dd_wake_fd(watch.wake), .events = POLLIN},
			{.fd = watch.kick[0], .events = POLLIN},
		};
		char buf[64];
		bool stopping;

		if (poll(p, 2, fire_due()) < 0 && errno != EINTR)
			break;
		while (read(watch.kick[0], buf, sizeof(buf)) > 0)
			;
		pthread_mutex_lock(&watch.mu);
		stopping = watch.stopping;
		pthread_mutex_unlock(&watch.mu);
		if (stopping)
			break;
		while (dd_wake_next(watch.wake, buf, sizeof(buf)))
			dd_watch_notify(buf[0] ? buf : NULL);
	}
	return NULL;
}

int dd_watch_start(const char *store_path, struct dd_error *err)
{
	int rc;

	watch.stopping = false;
	watch.listener_due = 0;
	if (pipe2(watch.kick, O_CLOEXEC | O_NONBLOCK) < 0)
		return dd_error_set(err, DD_ERR_IO, "cannot create pipe: %s",
				    strerror(errno));
	rc = dd_wake_listen(store_path, DD_WAKE_WATCHER, &watch.wake, err);
	if (!rc && pthread_create(&watch.tid, NULL, listener, NULL))
		rc = dd_error_set(err, DD_ERR_IO,
				  "cannot start the watch thread");
	if (rc) {
		dd_wake_close(watch.wake);
		watch.wake = NULL;
		close(watch.kick[0]);
		close(watch.kick[1]);
		watch.kick[0] = watch.kick[1] = -1;
		return rc;
	}
	watch.running = true;
	/* notifications made in this process skip its listener */
	dd_wake_set_local_watcher(watch.wake, dd_watch_notify);
	return 0;
}

void dd_watch_stop(void)
{
	struct dd_watch *fired = NULL;

	pthread_mutex_lock(&watch.mu);
	watch.stopping = true;
	while (watch.parked) {
		struct dd_watch *w = watch.heap[0];

		unlink_watch(w);
		w->next = fired;
		fired = w;
	}
	pthread_mutex_unlock(&watch.mu);
	fire_all(fired, DD_WATCH_STOPPING);
	if (!watch.running)
		return;
	if (write(watch.kick[1], "s", 1) < 0) {
		/* the pipe is ours: a full one wakes the listener too */
	}
	pthread_join(watch.tid, NULL);
	dd_wake_set_local_watcher(NULL, NULL);
	dd_wake_close(watch.wake);
	watch.wake = NULL;
	close(watch.kick[0]);
	close(watch.kick[1]);
	watch.kick[0] = watch.kick[1] = -1;
	watch.running = false;
	pthread_mutex_lock(&watch.mu);
	dd_free(watch.heap);
	watch.heap = NULL;
	watch.heap_cap = 0;
	pthread_mutex_unlock(&watch.mu);
}
