/*
 * idem.h - idempotency keys: a create retried with the same key gets the
 * object the first attempt made, never a second one.
 *
 * A client that loses the answer to a create (the connection broke, the
 * server or the client was killed after the commit) cannot tell whether
 * the object exists.  If it sent a key, it sends the same request with
 * the same key again, and the create answers with the object the first
 * attempt made, as it is now.  The record of a key (struct
 * dd_idem_record) is written in the transaction that creates the
 * object, so a crash leaves both or neither.
 *
 * A key belongs to its caller: a token's identity ("token:ci") over HTTP,
 * "cli:USER@HOST" in the CLI, so two callers' keys never meet.  It is
 * bound to its request (method and path, or CLI command) and to the
 * SHA-256 of the request's parameters in canonical JSON (sorted keys, no
 * spaces): the same key with another request is refused with
 * DD_ERR_KEY_REUSED and changes nothing.  Only a create that succeeded
 * leaves a record, so a refused request can be corrected and sent again
 * with the same key.  A record expires DD_IDEM_TTL after it was written;
 * each create that records a key deletes up to DD_IDEM_PRUNE expired
 * ones, so the table holds about a day of keyed creates.
 *
 * Concurrent requests with one key: the look-up that counts runs inside
 * the create's write transaction, and write transactions are serialised,
 * so the second sees the first's record once it has committed and
 * answers with its object.  The record's primary key (caller, key) keeps
 * a second record out even on a backend that does not serialise; there
 * the loser fails with DD_ERR_EXISTS ("in use by a request in progress").
 */
#ifndef DD_IDEM_H
#define DD_IDEM_H

#include <jansson.h>
#include <stdbool.h>

#include "core/error.h"
#include "core/model.h"
#include "store/store.h"

#define DD_IDEM_KEY_MAX 255
#define DD_IDEM_TTL (24 * 3600.0)
#define DD_IDEM_PRUNE 16

/* A keyed create: who asks, with which key, for what. */
struct dd_idem {
	struct dd_idem_record rec; /* caller, key, request and hash */
	bool replayed; /* set by a create that answered from the record */
	/*
	 * Set by dd_idem_record() when a concurrent request with the same
	 * key recorded it first (PostgreSQL, where both may look before
	 * either commits): the create rolls back and runs again, and its
	 * look then finds the winner's object (dd_idem_again()).
	 */
	bool raced;
};

/*
 * Is `key` a valid key: 1 to DD_IDEM_KEY_MAX printable ASCII characters
 * (space to '~')?  DD_ERR_INVALID saying why not.
 */
int dd_idem_check_key(const char *key, struct dd_error *err);

/*
 * Prepare `k` for a create: check `key`, and hash `params` (the
 * request's parameters, any JSON value) in canonical form.  `caller`
 * and `request` must fit their record fields (DD_ERR_INVALID otherwise).
 */
int dd_idem_init(struct dd_idem *k, const char *key, const char *caller,
		 const char *request, const json_t *params,
		 struct dd_error *err);

/*
 * Has `k`'s key made an object already?  0, with *id set and k->replayed
 * true, when it made one for this same request (so of the same kind);
 * DD_ERR_NOTFOUND, err untouched, when the key is unused or expired;
 * DD_ERR_KEY_REUSED when it was used for another request or with other
 * parameters.  A create calls it before checking its input (so a retry
 * gets its object even where its input would now be refused, such as an
 * expiry that has passed since), and again first thing in its write
 * transaction, where it decides.
 */
int dd_idem_find(struct dd_store *s, struct dd_idem *k, long long *id,
		 struct dd_error *err);

/*
 * In the create's transaction, once the object has its id: record that
 * `k`'s key made `kind` `id` ("lease", "blueprint", "token"), and prune a
 * few expired records.
 */
int dd_idem_record(struct dd_store *s, struct dd_idem *k, const char *kind,
		   long long id, struct dd_error *err);

/*
 * Run a keyed create again?  Yes when the run that returned `rc` lost the
 * race for its key (k->raced, DD_ERR_EXISTS) and fewer than DD_IDEM_RUNS
 * runs were made (`*runs` counts them, from 0): the next run answers
 * with the winner's object.  Clears the mark; false for no key.  A
 * create is `do rc = run(...); while (dd_idem_again(k, rc, &runs));`.
 */
bool dd_idem_again(struct dd_idem *k, int rc, int *runs);
/* How many times a create runs at most while it loses such races. */
#define DD_IDEM_RUNS 3

#endif
