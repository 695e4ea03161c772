/*
 * pq.h - libpq, loaded when a PostgreSQL store is first opened rather
 * than when the program starts.
 *
 * drydock is not linked with libpq: pq.c defines the libpq functions
 * drydock calls, under their own names (so code includes <libpq-fe.h>
 * and calls them as usual), and each calls the library's through a
 * pointer looked up once.  Every command on an SQLite store (`drydock
 * exec`, `cp`, `lease` ...) then starts without loading libpq and the 21
 * libraries it brings (OpenSSL, Kerberos, LDAP, SASL ...): linked,
 * `drydock --version` mapped 27 libraries and took 486 page faults;
 * loaded on use, 5 and 100.
 */
#ifndef DD_STORE_PQ_H
#define DD_STORE_PQ_H

#include "core/error.h"

/* The library's file name, as dlopen() looks for it (its soname). */
#define DD_PQ_LIBRARY "libpq.so.5"

/*
 * Load libpq and look up every function drydock calls; the first call
 * does it, under a lock, and later calls return what it found.  Returns
 * 0, or DD_ERR_STORE with the reason in err.  A libpq function called
 * while the library could not be loaded returns its failure value (NULL,
 * 0, -1, CONNECTION_BAD, PGRES_FATAL_ERROR) and does nothing.
 */
int dd_pq_load(struct dd_error *err);

#endif
