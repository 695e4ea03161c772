/*
 * files_posix.h - the files interface (blueprint.h) of every blueprint
 * type that offers a command interface and no files interface of its
 * own: each operation is one command run on the lease through the type's
 * spawn and seen through by dd_exec_run(), so it works wherever commands
 * do (this machine, an SSH host, a provider's sandbox) with the same
 * permissions as commands (the run_as user's).
 *
 * The commands are fixed POSIX sh scripts run as `sh -c SCRIPT drydock
 * PATH [MODE]`: the path is an argument, never part of a script, so no
 * name can inject anything.  They need sh, cat, mkdir, chmod, mv, tar
 * and GNU find (its -printf) on the leased thing.  Relative paths
 * are given to them as "./PATH", so no argument starts with '-'.  The
 * scripts tell what went wrong through exit statuses of their own (90:
 * no such file, 91: a directory, 92: not a directory), and anything else
 * through their stderr, whose last line becomes the error's reason.
 */
#ifndef DD_FILES_POSIX_H
#define DD_FILES_POSIX_H

#include "blueprint/blueprint.h"

/* The largest listing read, in bytes of find's output (some 100k names). */
#define DD_FILE_LIST_MAX (16 * 1024 * 1024)

/* The methods of struct dd_files_interface, for type `t`. */
int dd_files_posix_read(const struct dd_blueprint_type *t,
			const struct dd_bp_ctx *ctx,
			const struct dd_resource *r,
			const struct dd_lease *lease, const char *path,
			int out, const struct dd_file_options *o,
			struct dd_error *err);
int dd_files_posix_write(const struct dd_blueprint_type *t,
			 const struct dd_bp_ctx *ctx,
			 const struct dd_resource *r,
			 const struct dd_lease *lease, const char *path,
			 unsigned mode, int in,
			 const struct dd_file_options *o,
			 struct dd_error *err);
int dd_files_posix_read_tree(const struct dd_blueprint_type *t,
			     const struct dd_bp_ctx *ctx,
			     const struct dd_resource *r,
			     const struct dd_lease *lease, const char *path,
			     int out, const struct dd_file_options *o,
			     struct dd_error *err);
int dd_files_posix_write_tree(const struct dd_blueprint_type *t,
			      const struct dd_bp_ctx *ctx,
			      const struct dd_resource *r,
			      const struct dd_lease *lease, const char *path,
			      int in, const struct dd_file_options *o,
			      struct dd_error *err);
int dd_files_posix_list(const struct dd_blueprint_type *t,
			const struct dd_bp_ctx *ctx,
			const struct dd_resource *r,
			const struct dd_lease *lease, const char *path,
			struct dd_file_list *out,
			const struct dd_file_options *o,
			struct dd_error *err);

/*
 * Parse the listing command's output, `n` bytes: records of find's
 * "%d %y %s %m %T@ %P\0" (depth, type, size, octal mode, mtime, name),
 * the path itself first (depth 0, no name), then its entries (depth 1, a
 * name without '/').  Strict: anything else is DD_ERR_INVALID naming the
 * record, and *out is left empty.  Entries come out sorted by name.
 */
int dd_files_parse_list(const char *buf, size_t n, struct dd_file_list *out,
			struct dd_error *err);

#endif
