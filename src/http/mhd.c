/*
 * mhd.c - libmicrohttpd loaded on first use (mhd.h): dlopen() of the
 * library, a table of its functions, and the functions the server calls,
 * each a call through that table.
 *
 * Why: linked normally, the library is loaded by every run of the
 * program, and with it GnuTLS, p11-kit, nettle, hogweed, gmp, libtasn1,
 * libidn2, libunistring and libffi, whose relocations and constructors
 * (GnuTLS builds its ASN.1 trees when loaded) were 4.1 of the 7.4
 * million instructions `drydock exec -- true` ran on an SSH lease, and
 * as much again of `drydock --version`.  Only `drydock serve` answers
 * HTTP.  What it costs: serve loads the library when it starts, once,
 * and a call goes through one pointer more.
 *
 * A function added to the server's calls must be added here too: the
 * link fails until it is (drydock is not linked with the library).
 */
#include "http/mhd.h"

#include <dlfcn.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

/* Every libmicrohttpd function drydock calls. */
#define MHD_FUNCTIONS(X)                                                       \
	X(MHD_add_response_header)                                             \
	X(MHD_create_response_from_buffer)                                     \
	X(MHD_create_response_from_callback)                                   \
	X(MHD_destroy_response)                                                \
	X(MHD_get_connection_info)                                             \
	X(MHD_get_connection_values)                                           \
	X(MHD_get_connection_values_n)                                         \
	X(MHD_get_daemon_info)                                                 \
	X(MHD_lookup_connection_value)                                         \
	X(MHD_queue_response)                                                  \
	X(MHD_quiesce_daemon)                                                  \
	X(MHD_resume_connection)                                               \
	X(MHD_start_daemon_va)                                                 \
	X(MHD_stop_daemon)                                                     \
	X(MHD_suspend_connection)

/* The library's functions, each by its own name and type. */
static struct {
#define FIELD(name) __typeof__(name) *name;
	MHD_FUNCTIONS(FIELD)
#undef FIELD
} lib;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool loaded;
static char why[512]; /* why it could not be loaded */

static void load(void)
{
	void *h = dlopen(DD_MHD_LIBRARY, RTLD_NOW | RTLD_LOCAL);
	const char *missing = NULL;

	if (!h) {
		snprintf(why, sizeof(why),
			 "cannot load the HTTP library: %s (install "
			 "libmicrohttpd12)",
			 dlerror());
		return;
	}
#define LOOK(name)                                                             \
	if (!missing && !(lib.name = (__typeof__(name) *)dlsym(h, #name)))     \
		missing = #name;
	MHD_FUNCTIONS(LOOK)
#undef LOOK
	if (missing) {
		snprintf(why, sizeof(why),
			 "the HTTP library '%s' lacks %s(): it is older "
			 "than drydock needs",
			 DD_MHD_LIBRARY, missing);
		dlclose(h);
		return;
	}
	/* kept open for the rest of the process's life */
	loaded = true;
}

int dd_mhd_load(struct dd_error *err)
{
	pthread_once(&once, load);
	if (!loaded)
		return dd_error_set(err, DD_ERR_IO, "%s", why);
	return 0;
}

static bool ready(void)
{
	pthread_once(&once, load);
	return loaded;
}

/* ---- the functions, as microhttpd.h declares them ---------------------- */

struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port,
				    MHD_AcceptPolicyCallback apc,
				    void *apc_cls,
				    MHD_AccessHandlerCallback dh,
				    void *dh_cls, ...)
{
	struct MHD_Daemon *d;
	va_list ap;

	if (!ready())
		return NULL;
	va_start(ap, dh_cls);
	d = lib.MHD_start_daemon_va(flags, port, apc, apc_cls, dh, dh_cls, ap);
	va_end(ap);
	return d;
}

struct MHD_Daemon *MHD_start_daemon_va(unsigned int flags, uint16_t port,
				       MHD_AcceptPolicyCallback apc,
				       void *apc_cls,
				       MHD_AccessHandlerCallback dh,
				       void *dh_cls, va_list ap)
{
	return ready() ? lib.MHD_start_daemon_va(flags, port, apc, apc_cls,
						 dh, dh_cls, ap)
		       : NULL;
}

void MHD_stop_daemon(struct MHD_Daemon *daemon)
{
	if (ready())
		lib.MHD_stop_daemon(daemon);
}

MHD_socket MHD_quiesce_daemon(struct MHD_Daemon *daemon)
{
	return ready() ? lib.MHD_quiesce_daemon(daemon) : MHD_INVALID_SOCKET;
}

/*
 * The two info functions take more arguments only for kinds of
 * information drydock never asks for (none of 0.9's do): the call passes
 * none.
 */
const union MHD_DaemonInfo *
MHD_get_daemon_info(struct MHD_Daemon *daemon,
		    enum MHD_DaemonInfoType info_type, ...)
{
	return ready() ? lib.MHD_get_daemon_info(daemon, info_type) : NULL;
}

const union MHD_ConnectionInfo *
MHD_get_connection_info(struct MHD_Connection *connection,
			enum MHD_ConnectionInfoType info_type, ...)
{
	return ready() ? lib.MHD_get_connection_info(connection, info_type)
		       : NULL;
}

int MHD_get_connection_values(struct MHD_Connection *connection,
			      enum MHD_ValueKind kind,
			      MHD_KeyValueIterator iterator, void *iterator_cls)
{
	return ready() ? lib.MHD_get_connection_values(connection, kind,
						       iterator, iterator_cls)
		       : 0;
}

int MHD_get_connection_values_n(struct MHD_Connection *connection,
				enum MHD_ValueKind kind,
				MHD_KeyValueIteratorN iterator,
				void *iterator_cls)
{
	return ready() ? lib.MHD_get_connection_values_n(connection, kind,
							 iterator, iterator_cls)
		       : 0;
}

const char *MHD_lookup_connection_value(struct MHD_Connection *connection,
					enum MHD_ValueKind kind,
					const char *key)
{
	return ready() ? lib.MHD_lookup_connection_value(connection, kind, key)
		       : NULL;
}

void MHD_suspend_connection(struct MHD_Connection *connection)
{
	if (ready())
		lib.MHD_suspend_connection(connection);
}

void MHD_resume_connection(struct MHD_Connection *connection)
{
	if (ready())
		lib.MHD_resume_connection(connection);
}

enum MHD_Result MHD_queue_response(struct MHD_Connection *connection,
				   unsigned int status_code,
				   struct MHD_Response *response)
{
	return ready() ? lib.MHD_queue_response(connection, status_code,
						response)
		       : MHD_NO;
}

struct MHD_Response *
MHD_create_response_from_buffer(size_t size, void *buffer,
				enum MHD_ResponseMemoryMode mode)
{
	return ready() ? lib.MHD_create_response_from_buffer(size, buffer,
							     mode)
		       : NULL;
}

struct MHD_Response *
MHD_create_response_from_callback(uint64_t size, size_t block_size,
				  MHD_ContentReaderCallback crc, void *crc_cls,
				  MHD_ContentReaderFreeCallback crfc)
{
	return ready() ? lib.MHD_create_response_from_callback(
				 size, block_size, crc, crc_cls, crfc)
		       : NULL;
}

enum MHD_Result MHD_add_response_header(struct MHD_Response *response,
					const char *header,
					const char *content)
{
	return ready() ? lib.MHD_add_response_header(response, header, content)
		       : MHD_NO;
}

void MHD_destroy_response(struct MHD_Response *response)
{
	if (ready())
		lib.MHD_destroy_response(response);
}
