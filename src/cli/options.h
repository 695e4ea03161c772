/*
 * options.h - the CLI's one option parser, after git's parse-options.
 *
 * A command describes its options in a table (struct cli_option): the
 * long name, the argument's name in the help, the help line, and where
 * the value goes (or a callback that takes it).  cli_parse() walks argv
 * against that table, adds what every command takes (--db PATH, --help
 * or -h, and --json when the command asks for it), and generates the
 * option list of --help from the same table, so the help cannot name an
 * option the parser does not take, nor miss one it does.
 *
 * What it promises a command:
 *   --opt=value and --opt value are the same; a flag refuses a value;
 *   options may follow positional arguments, unless the command stops at
 *   its first one (CLI_STOP_AT_ARG, as `exec` does for the command it
 *   runs); `--` ends the options;
 *   --help prints the help on stdout and exits 0; a usage error prints
 *   "drydock: MESSAGE" and the usage's first line on stderr and exits 2.
 */
#ifndef DD_CLI_OPTIONS_H
#define DD_CLI_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/error.h"

enum cli_opt_kind {
	CLI_OPT_END,
	CLI_OPT_FLAG,	  /* no argument: *(bool *)value = true */
	CLI_OPT_STRING,	  /* *(const char **)value = arg; the last one wins */
	CLI_OPT_ID,	  /* a positive id: *(long long *)value */
	CLI_OPT_IDS,	  /* repeatable positive id: appended to a cli_ids */
	CLI_OPT_INT,	  /* a whole number from min to max: *(int *)value */
	CLI_OPT_CALLBACK, /* cb(opt, arg, err); arg NULL when argh is NULL */
};

struct cli_option;

/*
 * Take one occurrence of `o` with argument `arg`.  Returns 0, or a code
 * with `err` set: DD_ERR_INVALID is a usage error (the message and the
 * usage line, exit 2); any other code is reported as cli_fail() does.
 */
typedef int (*cli_option_fn)(const struct cli_option *o, const char *arg,
			     struct dd_error *err);

struct cli_option {
	enum cli_opt_kind kind;
	const char *name; /* long name, without the "--" */
	char short_name;  /* also taken as "-X ARG", or 0 */
	const char *argh; /* the argument in the help ("N"); NULL: takes none */
	const char *help; /* NULL: not listed in the help */
	void *value;
	cli_option_fn cb;
	long long min, max; /* CLI_OPT_INT */
};

#define CLI_FLAG(n, v, h)                                                      \
	{.kind = CLI_OPT_FLAG, .name = (n), .value = (v), .help = (h)}
#define CLI_STRING(n, a, v, h)                                                 \
	{.kind = CLI_OPT_STRING, .name = (n), .argh = (a), .value = (v),       \
	 .help = (h)}
#define CLI_ID(n, v, h)                                                        \
	{.kind = CLI_OPT_ID, .name = (n), .argh = "ID", .value = (v),          \
	 .help = (h)}
#define CLI_IDS(n, v, h)                                                       \
	{.kind = CLI_OPT_IDS, .name = (n), .argh = "ID", .value = (v),         \
	 .help = (h)}
#define CLI_INT(n, a, v, lo, hi, h)                                            \
	{.kind = CLI_OPT_INT, .name = (n), .argh = (a), .value = (v),          \
	 .min = (lo), .max = (hi), .help = (h)}
#define CLI_CALLBACK(n, a, f, v, h)                                            \
	{.kind = CLI_OPT_CALLBACK, .name = (n), .argh = (a), .cb = (f),        \
	 .value = (v), .help = (h)}
#define CLI_END {.kind = CLI_OPT_END}

/* The ids of a repeatable CLI_OPT_IDS, in the order given. */
struct cli_ids {
	long long *v;
	size_t n;
};
void cli_ids_release(struct cli_ids *ids);

/* A command stops taking options at its first positional argument. */
#define CLI_STOP_AT_ARG 1u

/*
 * What a command takes.  --help prints `usage` (the synopsis, "usage:
 * drydock ...", and what the command does), then the options with help,
 * then `epilog`.  A usage error shows the usage's first line.
 */
struct cli_spec {
	const char *name; /* "lease", "blueprint create": for messages */
	const char *usage;
	const struct cli_option *options; /* ends with CLI_END; may be NULL */
	const char *epilog;
	bool positional;       /* takes arguments besides options */
	bool *json;	       /* non-NULL: --json sets it */
	const char *json_help; /* NULL: "print JSON instead of text" */
	unsigned flags;
};

/*
 * Parse argv[1..argc-1] (argv[0] is the command's name) against `spec`.
 * The positional arguments, in order, are moved to argv[0..n-1], argv[n]
 * is set to NULL, and n is returned; on --help or a usage error, print and exit (0 or 2).  A
 * command without `positional` is given none: one is a usage error.
 */
int cli_parse(const struct cli_spec *spec, int argc, char **argv);

/*
 * cli_parse() without the exits, for tests and for callers that must
 * clean up: returns n as above, or a negative code with `err` set.
 * *help is set when --help (or -h) was given; parsing stops there.
 */
int cli_parse_options(const struct cli_spec *spec, int argc, char **argv,
		      bool *help, struct dd_error *err);

/* Print `spec`'s help: the usage, the generated option list, the epilog. */
void cli_print_usage(FILE *f, const struct cli_spec *spec);

/*
 * A command of verbs ("blueprint create", "token list"): the first
 * positional argument picks the verb, whose function parses its own
 * options (argv[0] is the verb's name).  Only --db and --help may come
 * before the verb.
 */
struct cli_verb {
	const char *name;
	int (*fn)(int argc, char **argv);
};
int cli_run_verb(const struct cli_spec *spec, const struct cli_verb *verbs,
		 int argc, char **argv);

#endif
