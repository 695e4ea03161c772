/*
 * linger.h - lingering closes: the server's side of a connection it
 * ends while its client may still be sending.
 *
 * When the server answers a request before reading its body (a refused
 * upload: 401, 403, 404, 400, 413, 503), libmicrohttpd sends the answer
 * and closes the connection.  Closing a socket with unread bytes, or
 * receiving more after the close, makes the kernel answer with a reset;
 * the client, still writing its body, then gets "broken pipe" or
 * "connection reset" and may never read the answer that came first.  So
 * such a socket is handed here instead: its sending side is shut (the
 * client sees the answer end), and what the client still sends is read
 * and thrown away until the client closes, or LINGER_BYTES have come, or
 * LINGER_SECONDS have passed, whichever is first; then it is closed.  At
 * most LINGER_MAX sockets linger at once: past that the oldest is closed.
 *
 * One thread does it for every socket, with an epoll set: lingering holds
 * a descriptor and a few bytes, never a handler or an I/O thread.
 */
#ifndef DD_HTTP_LINGER_H
#define DD_HTTP_LINGER_H

/* What a lingering close allows a client before its socket is closed. */
#define DD_HTTP_LINGER_SECONDS 5
#define DD_HTTP_LINGER_BYTES (4 * 1024 * 1024)
#define DD_HTTP_LINGER_MAX 256

struct dd_http_linger;

/*
 * Start the lingering thread.  NULL, with errno set, when it cannot be
 * started (then sockets are closed at once, as without it).
 */
struct dd_http_linger *dd_http_linger_start(void);

/*
 * Close `fd`, a connected non-blocking socket, once its client is done
 * sending (see above).  Takes ownership of `fd`.  With `l` NULL or
 * stopped, closes it at once.  Safe from any thread; never blocks.
 */
void dd_http_linger_close(struct dd_http_linger *l, int fd);

/* Stop the thread and close every socket still lingering; frees `l`. */
void dd_http_linger_stop(struct dd_http_linger *l);

#endif
