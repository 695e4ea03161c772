/*
 * pq.c - libpq loaded on first use (pq.h): dlopen() of the library, a
 * table of its functions, and the functions drydock calls, each a call
 * through that table, as http/mhd.c does for libmicrohttpd.
 *
 * A libpq function added to drydock's calls must be added here too: the
 * link fails until it is (drydock is not linked with the library).  The
 * compiler holds each definition below to <libpq-fe.h>'s declaration.
 */
#include "store/pq.h"

#include <dlfcn.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

/* Every libpq function drydock calls. */
#define PQ_FUNCTIONS(X) \
	X(PQclear) \
	X(PQresultStatus) \
	X(PQgetvalue) \
	X(PQexec) \
	X(PQntuples) \
	X(PQnfields) \
	X(PQfinish) \
	X(PQstatus) \
	X(PQtransactionStatus) \
	X(PQerrorMessage) \
	X(PQgetisnull) \
	X(PQgetlength) \
	X(PQexecParams) \
	X(PQprepare) \
	X(PQexecPrepared) \
	X(PQresultErrorField) \
	X(PQresultErrorMessage) \
	X(PQcmdStatus) \
	X(PQcmdTuples) \
	X(PQdb) \
	X(PQconnectdb) \
	X(PQconnectdbParams) \
	X(PQconnectStartParams) \
	X(PQconnectPoll) \
	X(PQfreemem) \
	X(PQconninfoParse) \
	X(PQconninfoFree) \
	X(PQescapeIdentifier) \
	X(PQescapeLiteral) \
	X(PQconsumeInput) \
	X(PQsocket) \
	X(PQbackendPID) \
	X(PQisBusy) \
	X(PQgetResult) \
	X(PQsetnonblocking) \
	X(PQisnonblocking) \
	X(PQsetNoticeProcessor) \
	X(PQsendQuery) \
	X(PQsendQueryParams) \
	X(PQflush) \
	X(PQputCopyData) \
	X(PQputCopyEnd) \
	X(PQnotifies) \
	X(PQserverVersion) \
	X(PQlibVersion)

/* The library's functions, each by its own name and type. */
static struct {
#define FIELD(name) __typeof__(name) *name;
	PQ_FUNCTIONS(FIELD)
#undef FIELD
} lib;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool loaded;
static char why[512]; /* why it could not be loaded */
static char empty[] = "";

static void load(void)
{
	void *h = dlopen(DD_PQ_LIBRARY, RTLD_NOW | RTLD_LOCAL);
	const char *missing = NULL;

	if (!h) {
		snprintf(why, sizeof(why),
			 "cannot load the PostgreSQL client library: %s "
			 "(install libpq5)",
			 dlerror());
		return;
	}
#define LOOK(name)                                                             \
	if (!missing && !(lib.name = (__typeof__(name) *)dlsym(h, #name)))     \
		missing = #name;
	PQ_FUNCTIONS(LOOK)
#undef LOOK
	if (missing) {
		snprintf(why, sizeof(why),
			 "the PostgreSQL client library '%s' lacks %s(): it is "
			 "older than drydock needs",
			 DD_PQ_LIBRARY, missing);
		dlclose(h);
		return;
	}
	/* kept open for the rest of the process's life */
	loaded = true;
}

int dd_pq_load(struct dd_error *err)
{
	pthread_once(&once, load);
	if (!loaded)
		return dd_error_set(err, DD_ERR_STORE, "%s", why);
	return 0;
}

static bool ready(void)
{
	pthread_once(&once, load);
	return loaded;
}

/* ---- the functions, as libpq-fe.h declares them ------------------------ */

void PQclear(PGresult *res)
{
	if (ready())
		lib.PQclear(res);
}

ExecStatusType PQresultStatus(const PGresult *res)
{
	return ready() ? lib.PQresultStatus(res) : PGRES_FATAL_ERROR;
}

char *PQgetvalue(const PGresult *res, int tup_num, int field_num)
{
	return ready() ? lib.PQgetvalue(res, tup_num, field_num) : NULL;
}

PGresult *PQexec(PGconn *conn, const char *query)
{
	return ready() ? lib.PQexec(conn, query) : NULL;
}

int PQntuples(const PGresult *res)
{
	return ready() ? lib.PQntuples(res) : 0;
}

int PQnfields(const PGresult *res)
{
	return ready() ? lib.PQnfields(res) : 0;
}

void PQfinish(PGconn *conn)
{
	if (ready())
		lib.PQfinish(conn);
}

ConnStatusType PQstatus(const PGconn *conn)
{
	return ready() ? lib.PQstatus(conn) : CONNECTION_BAD;
}

PGTransactionStatusType PQtransactionStatus(const PGconn *conn)
{
	return ready() ? lib.PQtransactionStatus(conn) : PQTRANS_UNKNOWN;
}

char *PQerrorMessage(const PGconn *conn)
{
	return ready() ? lib.PQerrorMessage(conn) : why;
}

int PQgetisnull(const PGresult *res, int tup_num, int field_num)
{
	return ready() ? lib.PQgetisnull(res, tup_num, field_num) : 1;
}

int PQgetlength(const PGresult *res, int tup_num, int field_num)
{
	return ready() ? lib.PQgetlength(res, tup_num, field_num) : 0;
}

PGresult *PQexecParams(PGconn *conn, const char *command, int nParams, const Oid *paramTypes, const char *const *paramValues, const int *paramLengths, const int *paramFormats, int resultFormat)
{
	return ready() ? lib.PQexecParams(conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats, resultFormat) : NULL;
}

PGresult *PQprepare(PGconn *conn, const char *stmtName, const char *query, int nParams, const Oid *paramTypes)
{
	return ready() ? lib.PQprepare(conn, stmtName, query, nParams, paramTypes) : NULL;
}

PGresult *PQexecPrepared(PGconn *conn, const char *stmtName, int nParams, const char *const *paramValues, const int *paramLengths, const int *paramFormats, int resultFormat)
{
	return ready() ? lib.PQexecPrepared(conn, stmtName, nParams, paramValues, paramLengths, paramFormats, resultFormat) : NULL;
}

char *PQresultErrorField(const PGresult *res, int fieldcode)
{
	return ready() ? lib.PQresultErrorField(res, fieldcode) : NULL;
}

char *PQresultErrorMessage(const PGresult *res)
{
	return ready() ? lib.PQresultErrorMessage(res) : why;
}

char *PQcmdStatus(PGresult *res)
{
	return ready() ? lib.PQcmdStatus(res) : empty;
}

char *PQcmdTuples(PGresult *res)
{
	return ready() ? lib.PQcmdTuples(res) : empty;
}

char *PQdb(const PGconn *conn)
{
	return ready() ? lib.PQdb(conn) : NULL;
}

PGconn *PQconnectdb(const char *conninfo)
{
	return ready() ? lib.PQconnectdb(conninfo) : NULL;
}

PGconn *PQconnectdbParams(const char *const *keywords, const char *const *values, int expand_dbname)
{
	return ready() ? lib.PQconnectdbParams(keywords, values, expand_dbname) : NULL;
}

PGconn *PQconnectStartParams(const char *const *keywords, const char *const *values, int expand_dbname)
{
	return ready() ? lib.PQconnectStartParams(keywords, values, expand_dbname) : NULL;
}

PostgresPollingStatusType PQconnectPoll(PGconn *conn)
{
	return ready() ? lib.PQconnectPoll(conn) : PGRES_POLLING_FAILED;
}

void PQfreemem(void *ptr)
{
	if (ready())
		lib.PQfreemem(ptr);
}

PQconninfoOption *PQconninfoParse(const char *conninfo, char **errmsg)
{
	return ready() ? lib.PQconninfoParse(conninfo, errmsg) : NULL;
}

void PQconninfoFree(PQconninfoOption *connOptions)
{
	if (ready())
		lib.PQconninfoFree(connOptions);
}

char *PQescapeIdentifier(PGconn *conn, const char *str, size_t len)
{
	return ready() ? lib.PQescapeIdentifier(conn, str, len) : NULL;
}

char *PQescapeLiteral(PGconn *conn, const char *str, size_t len)
{
	return ready() ? lib.PQescapeLiteral(conn, str, len) : NULL;
}

int PQconsumeInput(PGconn *conn)
{
	return ready() ? lib.PQconsumeInput(conn) : 0;
}

int PQsocket(const PGconn *conn)
{
	return ready() ? lib.PQsocket(conn) : -1;
}

int PQbackendPID(const PGconn *conn)
{
	return ready() ? lib.PQbackendPID(conn) : 0;
}

int PQisBusy(PGconn *conn)
{
	return ready() ? lib.PQisBusy(conn) : 0;
}

PGresult *PQgetResult(PGconn *conn)
{
	return ready() ? lib.PQgetResult(conn) : NULL;
}

int PQsetnonblocking(PGconn *conn, int arg)
{
	return ready() ? lib.PQsetnonblocking(conn, arg) : -1;
}

int PQisnonblocking(const PGconn *conn)
{
	return ready() ? lib.PQisnonblocking(conn) : 0;
}

PQnoticeProcessor PQsetNoticeProcessor(PGconn *conn, PQnoticeProcessor proc, void *arg)
{
	return ready() ? lib.PQsetNoticeProcessor(conn, proc, arg) : NULL;
}

int PQsendQuery(PGconn *conn, const char *query)
{
	return ready() ? lib.PQsendQuery(conn, query) : 0;
}

int PQsendQueryParams(PGconn *conn, const char *command, int nParams, const Oid *paramTypes, const char *const *paramValues, const int *paramLengths, const int *paramFormats, int resultFormat)
{
	return ready() ? lib.PQsendQueryParams(conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats, resultFormat) : 0;
}

int PQflush(PGconn *conn)
{
	return ready() ? lib.PQflush(conn) : -1;
}

int PQputCopyData(PGconn *conn, const char *buffer, int nbytes)
{
	return ready() ? lib.PQputCopyData(conn, buffer, nbytes) : -1;
}

int PQputCopyEnd(PGconn *conn, const char *errormsg)
{
	return ready() ? lib.PQputCopyEnd(conn, errormsg) : -1;
}

PGnotify *PQnotifies(PGconn *conn)
{
	return ready() ? lib.PQnotifies(conn) : NULL;
}

int PQserverVersion(const PGconn *conn)
{
	return ready() ? lib.PQserverVersion(conn) : 0;
}

int PQlibVersion(void)
{
	return ready() ? lib.PQlibVersion() : 0;
}
