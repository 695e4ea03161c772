/*
 * objects.h - what the JSON API and the web UI both need to know about a
 * lease or resource beyond its row.
 */
#ifndef DD_HTTP_OBJECTS_H
#define DD_HTTP_OBJECTS_H

#include "store/store.h"

#include <stdbool.h>

/*
 * Is a release command waiting, not yet consumed, in `target`'s queue?
 * Reads only; a store error answers false.
 */
bool dd_http_release_queued(struct dd_store *s, struct dd_ref target);

#endif
