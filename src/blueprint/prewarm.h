/*
 * prewarm.h - pre-warmed pools: how many resources a blueprint keeps
 * built and idle ahead of demand, and which idle ones it lets go.
 *
 * Three config keys that every blueprint type takes:
 *
 *   min_ready  resources to keep active with no lease on them, so that a
 *              lease finds one at once (default 0), within what the
 *              blueprint can build (for the host type: its hosts);
 *   max_idle   idle resources to keep at most (default: no limit); not
 *              fewer than min_ready;
 *   idle_ttl   seconds an idle resource beyond min_ready is kept
 *              (default: for ever).
 *
 * A blueprint with any of them set is *pooled*: its maintenance pass
 * (worker/blueprint_update.c, task kind blueprint.update) builds what is
 * missing and sends the idle resources it lets go a `reclaim`.  It is
 * queued by events (the config changing; a resource of the blueprint
 * acquired, activated, freed by its last lease or destroyed, each when
 * the settings make it matter: dd_prewarm_wants()) and by itself at the
 * next idle_ttl expiry; nothing polls.
 *
 * An idle resource is an active one with no lease left undestroyed and
 * no command waiting; it has been idle since its last lease was destroyed
 * or, if it never had one, since its activation: the times of those log
 * entries, written in the transactions that made it so.
 *
 * dd_prewarm_plan() is the decision, a pure function of the settings,
 * the idle resources and the number being built; dd_prewarm_survey()
 * reads them from the store, for the pass and, through
 * dd_prewarm_status(), for whoever shows the pool (the CLI, the API, the
 * web UI, /metrics).
 */
#ifndef DD_PREWARM_H
#define DD_PREWARM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

struct dd_store;

#define DD_PREWARM_MAX 1000000	      /* min_ready and max_idle at most */
#define DD_PREWARM_TTL_MAX 315360000 /* idle_ttl at most: ten years */

struct dd_prewarm_settings {
	long long min_ready; /* 0: none */
	long long max_idle;  /* -1: no limit */
	long long idle_ttl;  /* seconds; 0: none */
};

/*
 * Read the settings from a blueprint's config (checked before it was
 * stored); true if any is set, that is, the blueprint is pooled.
 */
bool dd_prewarm_settings_get(const json_t *config,
			     struct dd_prewarm_settings *s);

/*
 * The rule joining the keys, the check of max_idle's row in the common
 * config fields (blueprint.c, schema.h): max_idle may not be below
 * min_ready, or the pool would build what it then destroys.
 */
int dd_prewarm_check_max_idle(const json_t *value, const json_t *config,
			      struct dd_error *err);

/*
 * What happened to one of a pooled blueprint's resources, as its pass
 * hears of it.  Each can change the plan only under some settings:
 */
enum dd_prewarm_event {
	DD_PREWARM_TAKEN, /* a lease acquired it: fewer ready (min_ready) */
	DD_PREWARM_GONE,  /* it was destroyed: fewer ready or building
			     (min_ready) */
	DD_PREWARM_FREED, /* its last lease was destroyed: one more idle
			     (max_idle), whose idle_ttl starts */
	DD_PREWARM_READY, /* it became active: likewise */
};

/*
 * Does `e` call for a pass of a blueprint with settings `s`?  So that a
 * hot pool with only min_ready runs no pass when a lease goes, and one
 * with only idle_ttl none when a lease comes.
 */
bool dd_prewarm_wants(const struct dd_prewarm_settings *s,
		      enum dd_prewarm_event e);

enum dd_prewarm_verdict {
	DD_PREWARM_KEEP = 0,
	DD_PREWARM_TOO_MANY, /* beyond max_idle */
	DD_PREWARM_EXPIRED,  /* beyond min_ready, idle longer than idle_ttl */
};

/* One idle resource, and what the plan does with it. */
struct dd_prewarm_idle {
	long long id;
	double since; /* idle since (epoch seconds) */
	enum dd_prewarm_verdict verdict;
};

struct dd_prewarm_plan {
	size_t build;	/* resources to build */
	size_t destroy; /* idle resources whose verdict is not KEEP */
	double next;	/* when a kept one's idle_ttl runs out; 0: never */
};

/*
 * Decide, at `now`, for a blueprint (`enabled` or not) with `building`
 * resources being built and `n` idle ones: sorts `idle` newest first and
 * sets each verdict.  The newest min_ready idle resources are kept
 * whatever their age; beyond max_idle the oldest go; of the rest, those
 * idle for idle_ttl or longer go.  Enough are built to bring idle and
 * building up to min_ready.  A disabled blueprint builds nothing and
 * keeps no minimum: its idle resources go as max_idle and idle_ttl say.
 */
void dd_prewarm_plan(const struct dd_prewarm_settings *s, bool enabled,
		     double now, struct dd_prewarm_idle *idle, size_t n,
		     size_t building, struct dd_prewarm_plan *out);

/* A blueprint's resources as the pool sees them. */
struct dd_prewarm_survey {
	size_t building; /* pending */
	size_t busy;	 /* active, with a lease on it or a pending lease
			    that built it and has yet to take it */
	size_t going;	 /* active and idle, with a command waiting */
	struct dd_prewarm_idle *idle; /* active, idle: the ready ones */
	size_t n_idle;
};

/*
 * Read blueprint `id`'s resources (a reader: in any transaction or none),
 * with the time each idle one went idle if `since` (two log look-ups
 * each: only max_idle and idle_ttl need it; else `since` is 0).
 */
int dd_prewarm_survey(struct dd_store *s, long long id, bool since,
		      struct dd_prewarm_survey *out, struct dd_error *err);
void dd_prewarm_survey_release(struct dd_prewarm_survey *v);

/*
 * What the CLI, the web UI, the API and /metrics show of blueprint `bp`'s
 * pool, as one JSON object (*out, the caller's): the settings
 * ("min_ready", "max_idle" and "idle_ttl", null when not set), its
 * resources ("ready": active and idle, "in_use": active with a lease,
 * "building": pending, "releasing": idle with a command waiting) and
 * its counters ("built": resources the pool built, "destroyed": idle
 * resources it let go).  A reader.
 */
struct dd_blueprint;
int dd_prewarm_status(struct dd_store *s, const struct dd_blueprint *bp,
		      json_t **out, struct dd_error *err);

/*
 * The names of blueprint `id`'s counters in the store's counter table:
 * pre-warmed resources built, and idle resources destroyed (`buf` holds
 * at least 48 bytes).
 */
const char *dd_prewarm_counter_built(long long id, char *buf, size_t n);
const char *dd_prewarm_counter_destroyed(long long id, char *buf, size_t n);

#endif
