/*
 * pg.h - the PostgreSQL backend, for store.c's table of backends: a
 * store whose location is a postgres:// or postgresql:// URI or libpq's
 * "keyword=value ..." string (pg.c).
 */
#ifndef DD_STORE_PG_H
#define DD_STORE_PG_H

#include "store/store.h"

extern const struct dd_store_ops dd_pg_store_ops;

#endif
