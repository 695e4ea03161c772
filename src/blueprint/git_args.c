/*
 * git_args.c - the checks of what a working-copy lease hands to git
 * (git_args.h).
 */
#include "blueprint/git_args.h"

#include <stdbool.h>
#include <string.h>

static bool is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

int dd_git_check_dir(const char *s, struct dd_error *err)
{
	size_t n = strlen(s);

	if (n == 0 || n > 255 || !strcmp(s, ".") || !strcmp(s, "..") ||
	    s[0] == '-')
		goto bad;
	for (; *s; s++)
		if (*s == '/' || *s == '\\' || is_control((unsigned char)*s))
			goto bad;
	return 0;
bad:
	return dd_error_set(err, DD_ERR_INVALID,
			    "must be a directory name: one path component "
			    "of 1 to 255 bytes, not '.' nor '..', without "
			    "'/' and not starting with '-'");
}

int dd_git_check_uri(const char *s, struct dd_error *err)
{
	size_t n = strlen(s);

	if (n == 0 || n > DD_GIT_URI_MAX)
		return dd_error_set(err, DD_ERR_INVALID,
				    "must be a repository URI of 1 to %d bytes",
				    DD_GIT_URI_MAX);
	if (s[0] == '-')
		return dd_error_set(err, DD_ERR_INVALID,
				    "must be a repository URI, not an option "
				    "(it starts with '-')");
	if (!strncmp(s, "ext::", 5) || !strncmp(s, "fd::", 4))
		return dd_error_set(err, DD_ERR_INVALID,
				    "must be a repository URI, not git's "
				    "'%.*s' transport, which runs commands",
				    s[0] == 'e' ? 3 : 2, s);
	for (; *s; s++)
		if (*s == ' ' || is_control((unsigned char)*s))
			return dd_error_set(err, DD_ERR_INVALID,
					    "must be a repository URI without "
					    "spaces or control characters");
	return 0;
}

static bool ref_char(char c)
{
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') ||
	       ('0' <= c && c <= '9') || c == '.' || c == '_' || c == '+' ||
	       c == '-';
}

int dd_git_check_ref(const char *s, struct dd_error *err)
{
	size_t n = strlen(s);
	const char *c = s;
	bool start = true; /* at the start of a component */

	if (n == 0 || n > DD_GIT_REF_MAX || strstr(s, "..") ||
	    (n >= 5 && !strcmp(s + n - 5, ".lock")) || s[n - 1] == '/')
		goto bad;
	for (; *c; c++) {
		if (*c == '/') {
			if (start)
				goto bad;
			start = true;
			continue;
		}
		if (!ref_char(*c) || (start && (*c == '.' || *c == '-')))
			goto bad;
		start = false;
	}
	return 0;
bad:
	return dd_error_set(err, DD_ERR_INVALID,
			    "must be a branch or ref name of 1 to %d bytes: "
			    "letters, digits, '.', '_', '+', '-' and '/' "
			    "between parts, no part empty or starting with "
			    "'.' or '-', no '..', not ending in '.lock'",
			    DD_GIT_REF_MAX);
}

int dd_git_check_commit(const char *s, struct dd_error *err)
{
	size_t n = strlen(s);

	if (n < 4 || n > 64 || strspn(s, "0123456789abcdefABCDEF") != n)
		return dd_error_set(err, DD_ERR_INVALID,
				    "must be a commit: a hex object name of 4 "
				    "to 64 digits");
	return 0;
}
