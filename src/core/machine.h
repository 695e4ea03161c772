/*
 * machine.h - which machine this process runs on, by a name every
 * process on it agrees on.
 *
 * Some resources exist on one machine only (the local host type's
 * directories): the store records the machine they live on, and only a
 * daemon on that machine runs their hooks (the task claim filters on
 * it), while a lease from anywhere may still be placed on them.  The
 * name is DRYDOCK_MACHINE when set (tests make two daemons on one box
 * two machines with it; an operator names a machine whose id changes),
 * else the contents of /etc/machine-id, else the host name.
 */
#ifndef DD_MACHINE_H
#define DD_MACHINE_H

#include "core/error.h"

/* The longest machine name, in bytes (a hostname's 64). */
#define DD_MACHINE_MAX 64

/*
 * Write this machine's name into out (DD_MACHINE_MAX + 1 bytes).  A
 * DRYDOCK_MACHINE that is not 1 to DD_MACHINE_MAX letters, digits, '.',
 * '-', '_' or ':' is refused with DD_ERR_INVALID, saying so; a missing
 * or unusable /etc/machine-id falls back to the host name.
 */
int dd_machine(char *out, struct dd_error *err);

/* Is `name` a machine name dd_machine() could give? */
int dd_machine_check(const char *name, struct dd_error *err);

#endif
