/*
 * pg_wake.h - the PostgreSQL backend's wake-ups, for store.c's table of
 * backends: LISTEN/NOTIFY on the store's database (pg_wake.c), reaching
 * every machine that shares it.
 */
#ifndef DD_STORE_PG_WAKE_H
#define DD_STORE_PG_WAKE_H

#include "store/wake_transport.h"

extern const struct dd_wake_transport dd_pg_wake;

#endif
