/*
 * mhd.h - libmicrohttpd, loaded when the HTTP server starts rather than
 * when the program does.
 *
 * drydock is not linked with libmicrohttpd: mhd.c defines the library's
 * functions that the server calls, under their own names, and each calls
 * the library's through a pointer that dd_mhd_load() looks up once.  So
 * every command other than `drydock serve` (and the benchmark's HTTP
 * runs) starts without loading it and the TLS libraries it brings
 * (GnuTLS and eight more), which were most of the cost of starting a
 * short command such as `drydock exec` (docs/performance.md).
 */
#ifndef DD_HTTP_MHD_H
#define DD_HTTP_MHD_H

#include "core/error.h"

/* The library's file name, as dlopen() looks for it (its soname). */
#define DD_MHD_LIBRARY "libmicrohttpd.so.12"

/*
 * Load libmicrohttpd and look up every function drydock calls; the
 * first call does it, under a lock, and later calls return what it
 * found.  Returns 0, or DD_ERR_IO with the reason (the library missing,
 * or lacking a function) in err.  Call it before any MHD_* function: one
 * called while the library could not be loaded returns its failure
 * value (NULL, MHD_NO, MHD_INVALID_SOCKET) and does nothing.
 */
int dd_mhd_load(struct dd_error *err);

#endif
