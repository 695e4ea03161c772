/*
 * sqlite.h - what the SQLite backend offers besides the store interface
 * (store/store.h): its ops table and wake-up transport, which store.c's
 * table of backends picks for a location that is a file path, and its
 * hooks for tests.  Only code
 * that means SQLite includes it: the backend, store.c, and tests of what
 * only SQLite does (tests/unit/test_store_sqlite.c).
 */
#ifndef DD_STORE_SQLITE_H
#define DD_STORE_SQLITE_H

#include <stdbool.h>

#include "store/store.h"
#include "store/wake_transport.h"

extern const struct dd_store_ops dd_sqlite_store_ops;
/* Its wake-ups: Unix sockets beside the store's file (sqlite_wake.c). */
extern const struct dd_wake_transport dd_sqlite_wake;

/*
 * For tests: make every WAL sync fail with EIO from now on (true), or
 * work again (false; handles that saw a failure keep refusing, as they
 * must).
 */
void dd_sqlite_fail_syncs(bool fail);

#endif
