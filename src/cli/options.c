/*
 * options.c - the CLI's option parser and the help it generates from the
 * same tables (see options.h).
 */
#include "cli/options.h"
#include "cli/cli.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

/* Where an option's help starts, and how wide a help line may be. */
#define HELP_COLUMN 23
#define HELP_WIDTH 79

void cli_ids_release(struct cli_ids *ids)
{
	dd_free(ids->v);
	ids->v = NULL;
	ids->n = 0;
}

static const struct cli_option *find(const struct cli_option *opts,
				     const char *name, size_t len)
{
	for (; opts && opts->kind != CLI_OPT_END; opts++)
		if (strlen(opts->name) == len && !strncmp(opts->name, name, len))
			return opts;
	return NULL;
}

static int take(const struct cli_option *o, const char *arg,
		struct dd_error *err)
{
	long long id;
	struct cli_ids *ids;
	long long *grown;

	switch (o->kind) {
	case CLI_OPT_FLAG:
		*(bool *)o->value = true;
		return 0;
	case CLI_OPT_STRING:
		*(const char **)o->value = arg;
		return 0;
	case CLI_OPT_ID:
	case CLI_OPT_IDS:
		id = cli_parse_id(arg);
		if (!id)
			return dd_error_set(err, DD_ERR_INVALID, "bad %s '%s'",
					    o->name, arg);
		if (o->kind == CLI_OPT_ID) {
			*(long long *)o->value = id;
			return 0;
		}
		ids = o->value;
		grown = dd_realloc(ids->v, (ids->n + 1) * sizeof(*ids->v));
		if (!grown)
			return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
		ids->v = grown;
		ids->v[ids->n++] = id;
		return 0;
	case CLI_OPT_INT:
		if (!cli_parse_count(arg, o->min, o->max, o->value))
			return dd_error_set(err, DD_ERR_INVALID,
					    "--%s takes a number from %lld to "
					    "%lld, not '%s'",
					    o->name, o->min, o->max, arg);
		return 0;
	case CLI_OPT_CALLBACK:
		return o->cb(o, arg, err);
	case CLI_OPT_END:
		break;
	}
	return dd_error_set(err, DD_ERR_INVALID, "bad option table");
}

/*
 * What every command takes besides its own table: where the store is and
 * where this machine's state that goes with it is kept.  An empty value
 * is refused (see cli_set_store_path()).
 */
static const struct global_option {
	struct cli_option opt;
	const char *what; /* what the value must be, for the error */
	void (*set)(const char *arg);
} globals[] = {
	{CLI_STRING("db", "PATH", NULL, NULL), "a path", cli_set_store_path},
	{CLI_STRING("state-dir", "DIR", NULL, NULL), "a directory",
	 cli_set_state_dir},
};

static const struct global_option *find_global(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(globals) / sizeof(*globals); i++)
		if (strlen(globals[i].opt.name) == len &&
		    !strncmp(name, globals[i].opt.name, len))
			return &globals[i];
	return NULL;
}

/*
 * One "--name[=value]" at argv[*i]; the value may be the next argument.
 * Returns 0, or a code with `err` set.
 */
static int long_option(const struct cli_spec *spec, int argc, char **argv,
		       int *i, bool *help, struct dd_error *err)
{
	const char *name = argv[*i] + 2, *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	const struct cli_option *o = find(spec->options, name, len);
	struct cli_option json;
	const char *arg = eq ? eq + 1 : NULL;
	const struct global_option *g = NULL;

	if (!o && len == 4 && !strncmp(name, "help", 4) && !eq) {
		*help = true;
		return 0;
	}
	if (!o && (g = find_global(name, len)))
		o = &g->opt;
	if (!o && spec->json && len == 4 && !strncmp(name, "json", 4)) {
		json = (struct cli_option)CLI_FLAG("json", spec->json, NULL);
		o = &json;
	}
	if (!o)
		return dd_error_set(err, DD_ERR_INVALID,
				    "'%s' takes no option '--%.*s'", spec->name,
				    (int)len, name);
	if (!o->argh && o->kind != CLI_OPT_STRING) {
		if (eq)
			return dd_error_set(err, DD_ERR_INVALID,
					    "--%s takes no value", o->name);
		return take(o, NULL, err);
	}
	if (!eq) {
		if (*i + 1 >= argc)
			return dd_error_set(err, DD_ERR_INVALID,
					    "--%s needs a value", o->name);
		arg = argv[++*i];
	}
	if (g) {
		if (!*arg)
			return dd_error_set(err, DD_ERR_INVALID,
					    "--%s needs %s, not an empty string",
					    g->opt.name, g->what);
		g->set(arg);
		return 0;
	}
	return take(o, arg, err);
}

/* The option whose short name is `c`, or NULL. */
static const struct cli_option *short_option(const struct cli_spec *spec,
					     char c)
{
	for (const struct cli_option *o = spec->options;
	     o && o->kind != CLI_OPT_END; o++)
		if (o->short_name == c)
			return o;
	return NULL;
}

/* "-X" at argv[*i], its value the next argument if it takes one. */
static int take_short(const struct cli_option *o, int argc, char **argv,
		      int *i, struct dd_error *err)
{
	if (!o->argh && o->kind != CLI_OPT_STRING)
		return take(o, NULL, err);
	if (*i + 1 >= argc)
		return dd_error_set(err, DD_ERR_INVALID, "-%c needs a value",
				    o->short_name);
	return take(o, argv[++*i], err);
}

int cli_parse_options(const struct cli_spec *spec, int argc, char **argv,
		      bool *help, struct dd_error *err)
{
	int n = 0, i, rc;
	bool options = true;

	*help = false;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (options && !strcmp(a, "--")) {
			options = false;
		} else if (options && a[0] == '-' && a[1] == '-' && a[2]) {
			rc = long_option(spec, argc, argv, &i, help, err);
			if (rc || *help)
				return rc ? -abs(rc) : 0;
		} else if (options && a[0] == '-' && a[1] && !a[2] &&
			   short_option(spec, a[1])) {
			rc = take_short(short_option(spec, a[1]), argc, argv,
					&i, err);
			if (rc)
				return -abs(rc);
		} else if (options && a[0] == '-' && a[1]) {
			if (strcmp(a, "-h"))
				return -abs(dd_error_set(
					err, DD_ERR_INVALID,
					"'%s' takes no option '%s'", spec->name,
					a));
			*help = true;
			return 0;
		} else if (!spec->positional) {
			return -abs(dd_error_set(err, DD_ERR_INVALID,
						 "unexpected argument '%s'",
						 a));
		} else {
			argv[n++] = argv[i];
			if (spec->flags & CLI_STOP_AT_ARG)
				options = false;
		}
	}
	if (n < argc)
		argv[n] = NULL; /* so that exec can pass them on as they are */
	return n;
}

int cli_parse(const struct cli_spec *spec, int argc, char **argv)
{
	struct dd_error err = DD_ERROR_INIT;
	bool help;
	int n = cli_parse_options(spec, argc, argv, &help, &err);

	if (help) {
		cli_print_usage(stdout, spec);
		exit(0);
	}
	if (n >= 0)
		return n;
	if (err.code == DD_ERR_INVALID)
		exit(cli_usage_error(spec->usage, "%s", err.msg));
	exit(cli_fail(&err));
}

/*
 * `text` from column `col`, broken at spaces (and at its own newlines)
 * so that no line is wider than HELP_WIDTH; later lines start at
 * HELP_COLUMN.
 */
static void print_wrapped(FILE *f, const char *text, int col)
{
	while (*text) {
		size_t room = (size_t)(HELP_WIDTH - col), len = 0, brk = 0;

		while (text[len] && text[len] != '\n') {
			if (text[len] == ' ')
				brk = len;
			if (++len > room && brk)
				break;
		}
		if (text[len] && text[len] != '\n' && brk)
			len = brk;
		fprintf(f, "%.*s\n", (int)len, text);
		text += len;
		if (*text == ' ' || *text == '\n')
			text++;
		if (*text)
			fprintf(f, "%*s", HELP_COLUMN, "");
		col = HELP_COLUMN;
	}
}

static void print_option(FILE *f, char short_name, const char *name,
			 const char *argh, const char *help)
{
	int col = short_name ? fprintf(f, "  -%c, ", short_name)
			     : fprintf(f, "  ");

	col += fprintf(f, "--%s%s%s", name, argh ? " " : "",
		       argh ? argh : "");

	if (col + 2 > HELP_COLUMN) {
		fputc('\n', f);
		col = 0;
	}
	fprintf(f, "%*s", HELP_COLUMN - col, "");
	print_wrapped(f, help, HELP_COLUMN);
}

void cli_print_usage(FILE *f, const struct cli_spec *spec)
{
	const struct cli_option *o = spec->options;
	bool listed = false;

	fputs(spec->usage, f);
	for (; o && o->kind != CLI_OPT_END; o++) {
		if (!o->help)
			continue;
		if (!listed)
			fputc('\n', f);
		listed = true;
		print_option(f, o->short_name, o->name, o->argh, o->help);
	}
	if (spec->json) {
		if (!listed)
			fputc('\n', f);
		listed = true;
		print_option(f, 0, "json", NULL,
			     spec->json_help ? spec->json_help
					     : "print JSON instead of text");
	}
	if (spec->epilog) {
		fputc('\n', f);
		fputs(spec->epilog, f);
	}
}

int cli_run_verb(const struct cli_spec *spec, const struct cli_verb *verbs,
		 int argc, char **argv)
{
	struct cli_spec lead = *spec;
	int n;

	/* --db, --state-dir and --help may come before the verb; its options
	   follow it */
	lead.options = NULL;
	lead.json = NULL;
	lead.flags |= CLI_STOP_AT_ARG;
	lead.positional = true;
	n = cli_parse(&lead, argc, argv);
	if (!n)
		return cli_usage_error(spec->usage, "which %s command?",
				       spec->name);
	for (; verbs->name; verbs++)
		if (!strcmp(argv[0], verbs->name))
			return verbs->fn(n, argv);
	return cli_usage_error(spec->usage, "unknown %s command '%s'",
			       spec->name, argv[0]);
}
