/*
 * objects.h - what the JSON API and the web UI both need to know about a
 * lease, resource or build target beyond its row.
 */
#ifndef DD_HTTP_OBJECTS_H
#define DD_HTTP_OBJECTS_H

#include "core/command.h"
#include "store/store.h"

#include <stdbool.h>

/*
 * Is a release command waiting, not yet consumed, in `target`'s queue?
 * Reads only; a store error answers false.
 */
bool dd_http_release_queued(struct dd_store *s, struct dd_ref target);
/* The same for any command kind: a finish waiting on a target. */
bool dd_http_command_queued(struct dd_store *s, struct dd_ref target,
			    enum dd_command_kind kind);

#endif
