/*
 * host_ssh.h - the remote half of the "host" blueprint (host.c): hosts
 * with an address, reached over SSH (blueprint/ssh.h).  host.c decides
 * which hosts there are and which leases go where; these functions do, on
 * a remote host, what host.c does on this machine: a directory per
 * resource and per lease under the host's `root`, commands run in the
 * lease's directory, and a check that the host still answers.
 *
 * A remote resource's attributes hold what it was built from: "address",
 * "port", "user", "key", "root", optionally "host_key", and, once active,
 * "path" (its directory on the host, absolute, as the host resolved it).
 */
#ifndef DD_HOST_SSH_H
#define DD_HOST_SSH_H

#include "blueprint/blueprint.h"

/* Does this resource live on a remote host? */
bool dd_host_ssh_is_remote(const struct dd_resource *r);

/*
 * Check a config's host entry with an address (the schema has checked
 * each field): user and key given, the key drydock's alone.
 */
int dd_host_ssh_check_host(const json_t *host, struct dd_error *err);

/* Copy a remote host's connection into a new resource's attributes. */
int dd_host_ssh_allocate(const json_t *host, json_t *attributes,
			 struct dd_error *err);

int dd_host_ssh_activate_resource(const struct dd_bp_ctx *ctx,
				  struct dd_resource *r, struct dd_error *err);
int dd_host_ssh_destroy_resource(const struct dd_bp_ctx *ctx,
				 const struct dd_resource *r,
				 struct dd_error *err);
/*
 * Remove the known_hosts file of its own that resource `r`'s host has
 * (one with a "host_key"), for a resource whose host goes with it;
 * a file already gone is fine.
 */
int dd_host_ssh_forget(const struct dd_bp_ctx *ctx, const struct dd_resource *r,
		       struct dd_error *err);
int dd_host_ssh_check_resource(const struct dd_bp_ctx *ctx,
			       const struct dd_resource *r,
			       struct dd_error *err);
int dd_host_ssh_activate_lease(const struct dd_bp_ctx *ctx,
			       const struct dd_resource *r,
			       struct dd_lease *lease, struct dd_error *err);
int dd_host_ssh_destroy_lease(const struct dd_bp_ctx *ctx,
			      const struct dd_resource *r,
			      struct dd_lease *lease, struct dd_error *err);
int dd_host_ssh_spawn(const struct dd_bp_ctx *ctx, const struct dd_resource *r,
		      const struct dd_lease *lease, char *const argv[],
		      char *const add[], const struct dd_exec_io *io,
		      pid_t *pid, struct dd_error *err);

#endif
