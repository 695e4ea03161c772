/*
 * wake.c - wake-ups between processes that share one store (wake.h):
 * what is the same whatever carries them.  The store's backend brings the
 * transport (store/wake_transport.h, picked by dd_store_wake_transport()
 * from the location); this file finds it for each call and keeps the
 * in-process shortcuts: a daemon's own workers and a process's own
 * watcher are told by a direct call, and the transport leaves their
 * listeners out.
 */
#include "queue/wake.h"
#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static _Atomic(int (*)(int)) local_wake;

void dd_wake_set_local(int (*fn)(int n))
{
	atomic_store(&local_wake, fn);
}

/* This process's watcher that takes notifications by a direct call. */
static struct {
	pthread_mutex_t mu;
	void (*fn)(const char *object);
	const struct dd_wake *w;
	char id[128]; /* w's, as its transport names it */
} local_watcher = {.mu = PTHREAD_MUTEX_INITIALIZER};

void dd_wake_set_local_watcher(const struct dd_wake *w,
			       void (*fn)(const char *object))
{
	pthread_mutex_lock(&local_watcher.mu);
	local_watcher.fn = w && fn ? fn : NULL;
	local_watcher.w = local_watcher.fn ? w : NULL;
	if (local_watcher.w)
		w->t->id(w, local_watcher.id, sizeof(local_watcher.id));
	pthread_mutex_unlock(&local_watcher.mu);
}

int dd_wake_listen(const char *location, enum dd_wake_role role,
		   struct dd_wake **out, struct dd_error *err)
{
	const struct dd_wake_transport *t =
		dd_store_wake_transport(location, err);

	*out = NULL;
	if (!t)
		return err->code;
	return t->listen(location, role, out, err);
}

int dd_wake_fd(const struct dd_wake *w)
{
	return w->t->fd(w);
}

int dd_wake_drain(struct dd_wake *w)
{
	return w->t->drain(w);
}

int dd_wake_next(struct dd_wake *w, char *object, size_t n)
{
	return w->t->next(w, object, n);
}

void dd_wake_close(struct dd_wake *w)
{
	if (w)
		w->t->close(w);
}

bool dd_wake_watch(struct dd_wake *w, const char *object)
{
	return w->t->watch(w, object);
}

int dd_wake_wait_for(struct dd_wake *w, const char *object, double timeout)
{
	return w->t->wait_for(w, object, timeout);
}

static void notify_about(const char *location, struct dd_store *via,
			 const char *object);

static void notify(const char *location, struct dd_store *via,
		   enum dd_wake_role role)
{
	const struct dd_wake_transport *t =
		dd_store_wake_transport(location, NULL);
	int (*fn)(int) = atomic_load(&local_wake);
	struct dd_wake_skip skip = {0};
	bool away = true;
	int n = 0;

	if (!t)
		return;
	if (role == DD_WAKE_WATCHER) {
		notify_about(location, via, NULL);
		return;
	}
	/* without the handle, nobody can say what was queued, nor where */
	if (via)
		n = dd_store_scheduled(via, &away);
	if (fn) {
		/*
		 * Our own threads directly, not through our own listener.
		 * If one was idle for each task queued, they take the work:
		 * the other daemons need not look, unless it is bound
		 * elsewhere.
		 */
		skip.own_daemons = true;
		if (fn(n > 0 ? n : 1) >= n && n > 0 && !away)
			return;
	}
	t->notify(location, via, role, NULL, &skip);
}

void dd_wake_notify(const char *location, enum dd_wake_role role)
{
	notify(location, NULL, role);
}

void dd_wake_notify_on(struct dd_store *s, enum dd_wake_role role)
{
	notify(s->location, s, role);
}

void dd_wake_notify_about(const char *location, const char *object)
{
	notify_about(location, NULL, object);
}

static void notify_about(const char *location, struct dd_store *via,
			 const char *object)
{
	const struct dd_wake_transport *t =
		dd_store_wake_transport(location, NULL);
	struct dd_wake_skip skip = {0};
	void (*fn)(const char *) = NULL;
	char id[sizeof(local_watcher.id)];

	if (!t)
		return;
	/* this process's watcher of this store directly; its listener not */
	pthread_mutex_lock(&local_watcher.mu);
	if (local_watcher.fn && local_watcher.w->t == t &&
	    t->hears(local_watcher.w, location)) {
		fn = local_watcher.fn;
		snprintf(id, sizeof(id), "%s", local_watcher.id);
		skip.listener = id;
	}
	pthread_mutex_unlock(&local_watcher.mu);
	if (fn)
		fn(object);
	t->notify(location, via, DD_WAKE_WATCHER, object, &skip);
}

static int count(const char *location, struct dd_store *via,
		 enum dd_wake_role role)
{
	const struct dd_wake_transport *t =
		dd_store_wake_transport(location, NULL);

	return t ? t->count(location, via, role) : 0;
}

int dd_wake_count(const char *location, enum dd_wake_role role)
{
	return count(location, NULL, role);
}

int dd_wake_count_on(struct dd_store *s, enum dd_wake_role role)
{
	return count(s->location, s, role);
}
