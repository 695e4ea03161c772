/*
 * git_args.h - what a working-copy lease may hand to git, checked before
 * it is queued.
 *
 * Every string a requester gives (a directory name, a repository URI, a
 * branch, a ref, a commit) ends up in a git command line on a host.  git
 * is run as a program, never through a shell, so quoting is no concern;
 * what is, is a string git would read as an option ("--upload-pack=...")
 * or a directory name that leads out of the working copy ("..", "a/b").
 * These checks refuse both, so that nothing reaches a host unless it is
 * plainly a name; the commands also end their options with "--" where
 * git takes it.  Each returns 0, or DD_ERR_INVALID with the rule in
 * `err` ("must be ..."), without the value's path: the schema puts it in
 * front.
 */
#ifndef DD_GIT_ARGS_H
#define DD_GIT_ARGS_H

#include "core/error.h"

/* The longest URI and ref name accepted. */
#define DD_GIT_URI_MAX 4096
#define DD_GIT_REF_MAX 255

/*
 * A directory of a working copy: one path component, 1 to 255 bytes,
 * not "." nor "..", without '/', '\\' or a control character, not
 * starting with '-'.
 */
int dd_git_check_dir(const char *s, struct dd_error *err);
/*
 * A repository URI: 1 to DD_GIT_URI_MAX bytes, no control character nor
 * space, not starting with '-', and not git's "ext::" transport (which
 * runs a command of the URI's choosing).
 */
int dd_git_check_uri(const char *s, struct dd_error *err);
/*
 * A branch or ref name as git check-ref-format allows it, and more
 * strictly: components of [A-Za-z0-9._+-] and '/' between them, none
 * empty nor starting with '.' or '-', no "..", not ending in ".lock".
 */
int dd_git_check_ref(const char *s, struct dd_error *err);
/* A commit: a hex object name of 4 to 64 digits. */
int dd_git_check_commit(const char *s, struct dd_error *err);

#endif
