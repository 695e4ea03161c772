/*
 * wake_transport.h - how a store backend carries wake-ups between the
 * processes that share its store (queue/wake.h is what callers use).
 *
 * Each backend brings its own transport, chosen with the backend by the
 * store's location (store.c's table of backends): SQLite's are Unix
 * datagram sockets in a directory beside the store's file
 * (store/sqlite_wake.c); a database server's would be its own
 * notifications (PostgreSQL's LISTEN/NOTIFY), reaching other machines.
 * queue/wake.c does what is the same for every transport (finding it,
 * the in-process shortcuts) and calls these.
 *
 * What every transport must give: a listener of a role (daemon or
 * watcher) with a descriptor that turns readable (poll() for POLLIN)
 * when a wake-up may have arrived; a notification that never blocks and
 * may be lost (the durable rows are the truth: a listener looks again at
 * its next deadline, or after it reconnects); targeted wake-ups about one
 * object ("lease:12") that listeners watching another object need not
 * get; and a count of live listeners of a role.
 */
#ifndef DD_STORE_WAKE_TRANSPORT_H
#define DD_STORE_WAKE_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

enum dd_wake_role {
	DD_WAKE_DAEMON = 0,  /* woken when tasks are queued */
	DD_WAKE_WATCHER = 1, /* woken when objects change */
};

struct dd_wake_transport;
struct dd_store;

/* A listener; each transport's embeds it first. */
struct dd_wake {
	const struct dd_wake_transport *t;
	enum dd_wake_role role;
};

/* Which listeners one notification leaves out. */
struct dd_wake_skip {
	bool own_daemons;     /* this process's daemon listeners */
	const char *listener; /* the one with this id (see `id`), or NULL */
};

struct dd_wake_transport {
	const char *name;
	int (*listen)(const char *location, enum dd_wake_role role,
		      struct dd_wake **out, struct dd_error *err);
	int (*fd)(const struct dd_wake *w);
	/* read every pending wake-up; how many there were */
	int (*drain)(struct dd_wake *w);
	/*
	 * read one pending wake-up: 1 with its object in `object` ("" for
	 * an untargeted one), or 0 when none is left
	 */
	int (*next)(struct dd_wake *w, char *object, size_t n);
	void (*close)(struct dd_wake *w);
	/* as dd_wake_watch() and dd_wake_wait_for() (queue/wake.h) */
	bool (*watch)(struct dd_wake *w, const char *object);
	int (*wait_for)(struct dd_wake *w, const char *object,
			double timeout);
	/* does `w` listen to the store at `location`? */
	bool (*hears)(const struct dd_wake *w, const char *location);
	/* a name for `w` that stays its own while it is open */
	void (*id)(const struct dd_wake *w, char *buf, size_t n);
	/*
	 * Wake every listener of `role` for the store at `location` (about
	 * `object` only, when set: watchers of other objects may be left
	 * out), but those `skip` names.  Best effort, never blocking.
	 * `via`, when set, is a handle open on that store, owned by the
	 * calling thread and outside a transaction, whose connection the
	 * transport may send on rather than a connection of its own.
	 */
	void (*notify)(const char *location, struct dd_store *via,
		       enum dd_wake_role role, const char *object,
		       const struct dd_wake_skip *skip);
	/*
	 * live listeners of `role` (a transport may drop dead ones here);
	 * `via` as for notify
	 */
	int (*count)(const char *location, struct dd_store *via,
		     enum dd_wake_role role);
};

#endif
