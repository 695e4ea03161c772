/*
 * git_repo.h - the `git` benchmark's fixtures: a bare repository of a
 * chosen size, generated quickly by `git fast-import` from a stream this
 * module writes, grown one commit at a time as an upstream is, and git
 * run as a program (an argv, never a shell) with a deadline.
 *
 * The repository is the same for the same shape on every machine: its
 * files, their contents and its history come from a fixed pseudo-random
 * sequence, and its commits from fixed times and identities, so two runs
 * of the benchmark clone the same objects.  Its files read like source
 * (lines of words, indentation, braces), so that zlib and git's deltas
 * do about what they do on real code; each later commit rewrites a few
 * lines of a few files, which fast-import stores as deltas.  A
 * `.gitignore` ignores `*.o` and `build/`, so that a build's leftovers
 * in a working copy are ignored files, as they are in real trees.
 */
#ifndef BENCH_GIT_REPO_H
#define BENCH_GIT_REPO_H

#include "core/error.h"
#include "core/util.h"

#include <stdbool.h>
#include <stddef.h>

/* Seconds any one git command of the benchmark may take. */
#define GIT_REPO_TIMEOUT 900.0

/* What to generate. */
struct git_repo_shape {
	int files;   /* tracked files, in directories of 100 */
	int commits; /* the first adds every file, each later one
			changes 1 to 2 * changes - 1 of them */
	int changes; /* files changed by a later commit, on average */
};

struct git_repo {
	char path[4096]; /* the bare repository */
	char uri[4200];	 /* file://PATH, as a lease names it */
	char head[48];	 /* the commit refs/heads/main is at */
	struct git_repo_shape shape;
	int commits;		/* made so far */
	unsigned *versions;	/* per file: how many times changed */
	unsigned long long rng; /* the sequence, where it stands */
	long long pack_bytes;	/* the size of its packs, after create */
};

/*
 * Make a bare repository at `path` (which must not exist) of the given
 * shape, on branch main, its HEAD there; its commit in r->head.  The
 * stream goes through a file beside it, removed after.  0, or an error
 * code with the failed command and its stderr in `err`.
 */
int git_repo_create(struct git_repo *r, const char *path,
		    const struct git_repo_shape *shape, struct dd_error *err);

/*
 * One more commit on main changing `files` files, as a push to the
 * upstream would; r->head is then that commit.
 */
int git_repo_commit(struct git_repo *r, int files, struct dd_error *err);

/*
 * What main holds, as git reads it: its tracked files (the shape's, a
 * `.gitignore` and a README) and its commits.
 */
int git_repo_count(const struct git_repo *r, long long *files,
		   long long *commits, struct dd_error *err);

void git_repo_release(struct git_repo *r);

/*
 * Run `git ARGV...` in `dir` (NULL: here), stdin /dev/null, stderr
 * captured for the error, stdout into `out` when not NULL (else
 * dropped), within GIT_REPO_TIMEOUT (the whole process group stopped at
 * the deadline).  0 when it exited 0; else an error code saying which
 * command and what it wrote on stderr.  *secs, when not NULL, receives
 * the seconds from its start to its end.
 */
int git_run(const char *dir, const char *const argv[], struct dd_buf *out,
	    double *secs, struct dd_error *err);

#endif
