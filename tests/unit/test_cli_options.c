/*
 * test_cli_options.c - the CLI's option parser (cli/options.h): what every
 * command's options do alike (--opt=value and --opt value, options after
 * positional arguments, `--`, stopping at the first argument for exec),
 * what it refuses and how it says so, the options every command takes,
 * and the help it generates from the same table.
 */
#include "testutil.h"

#include "cli/cli.h"
#include "cli/options.h"

/* A command's options, as a command declares them. */
struct values {
	bool flag, json;
	const char *string;
	long long id;
	struct cli_ids ids;
	int count;
	int calls;
	const char *last;
};

static int record(const struct cli_option *o, const char *arg,
		  struct dd_error *err)
{
	struct values *v = o->value;

	if (arg && !strcmp(arg, "refuse"))
		return dd_error_set(err, DD_ERR_INVALID, "refused '%s'", arg);
	if (arg && !strcmp(arg, "missing"))
		return dd_error_set(err, DD_ERR_NOTFOUND, "no such thing");
	v->calls++;
	v->last = arg;
	return 0;
}

static struct values v;

static const struct cli_option options[] = {
	CLI_FLAG("flag", &v.flag, "a flag"),
	CLI_STRING("string", "S", &v.string, "a string"),
	CLI_ID("id", &v.id, "an id"),
	CLI_IDS("ids", &v.ids, "ids (repeatable)"),
	CLI_INT("count", "N", &v.count, 1, 10, "a count"),
	CLI_CALLBACK("call", "X", record, &v, NULL),
	CLI_CALLBACK("poke", NULL, record, &v,
		     "a callback without an argument, whose help is long "
		     "enough that it has to be wrapped onto a second line"),
	CLI_END,
};

static const struct cli_spec spec = {
	.name = "test",
	.usage = "usage: drydock test [--flag] ARGS\n\nWhat it does.\n",
	.options = options,
	.epilog = "After the options.\n",
	.json = &v.json,
	.positional = true,
};

static int setup(void **state)
{
	(void)state;
	cli_ids_release(&v.ids);
	memset(&v, 0, sizeof(v));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cli_ids_release(&v.ids);
	return 0;
}

/* Parse a NULL-terminated argv list against `s`; n or a negative code. */
#define PARSE(s, err, help, ...)                                               \
	parse((s), (err), (help), (char *[]){"test", __VA_ARGS__, NULL})

static char **args; /* the last argv parsed, its positionals in front */

static int parse(const struct cli_spec *s, struct dd_error *err, bool *help,
		 char **argv)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	args = argv;
	return cli_parse_options(s, argc, argv, help, err);
}

static void test_values(void **state)
{
	struct dd_error err = DD_ERROR_INIT;
	bool help;
	int n;

	(void)state;
	n = PARSE(&spec, &err, &help, "--flag", "--string", "a", "--id=7",
		  "--ids", "1", "--ids=2", "--count", "10", "--call=x",
		  "--poke", "--json");
	assert_int_equal(n, 0);
	assert_false(help);
	assert_true(v.flag);
	assert_true(v.json);
	assert_string_equal(v.string, "a");
	assert_int_equal(v.id, 7);
	assert_int_equal(v.ids.n, 2);
	assert_int_equal(v.ids.v[0], 1);
	assert_int_equal(v.ids.v[1], 2);
	assert_int_equal(v.count, 10);
	assert_int_equal(v.calls, 2);
	assert_null(v.last); /* --poke takes no argument */
	assert_int_equal(err.code, 0);
}

/* --opt=value and --opt value are one thing; the last string wins */
static void test_equals_form(void **state)
{
	struct dd_error err = DD_ERROR_INIT;
	bool help;

	(void)state;
	assert_int_equal(PARSE(&spec, &err, &help, "--string=a=b"), 0);
	assert_string_equal(v.string, "a=b");
	assert_int_equal(PARSE(&spec, &err, &help, "--string", "--flag"), 0);
	assert_string_equal(v.string, "--flag"); /* a value, not an option */
	assert_false(v.flag);
	assert_int_equal(PARSE(&spec, &err, &help, "--string=", "--string",
			       "last"),
			 0);
	assert_string_equal(v.string, "last");
	assert_int_equal(PARSE(&spec, &err, &help, "--string="), 0);
	assert_string_equal(v.string, "");
}

/* options may follow positional arguments; `--` ends the options */
static void test_positionals(void **state)
{
	struct dd_error err = DD_ERROR_INIT;
	bool help;
	int n;

	(void)state;
	n = PARSE(&spec, &err, &help, "lease", "--flag", "1", "--json", "-",
		  "--", "--id", "x");
	assert_int_equal(n, 5);
	assert_string_equal(args[0], "lease");
	assert_string_equal(args[1], "1");
	assert_string_equal(args[2], "-");
	assert_string_equal(args[3], "--id");
	assert_string_equal(args[4], "x");
	assert_true(v.flag);
	assert_true(v.json);
	assert_int_equal(v.id, 0);
}

/* exec's options end at the command it runs */
static void test_stop_at_arg(void **state)
{
	struct cli_spec s = spec;
	struct dd_error err = DD_ERROR_INIT;
	bool help;
	int n;

	(void)state;
	s.flags = CLI_STOP_AT_ARG;
	n = PARSE(&s, &err, &help, "--id", "3", "ls", "-l", "--flag");
	assert_int_equal(n, 3);
	assert_string_equal(args[0], "ls");
	assert_string_equal(args[1], "-l");
	assert_string_equal(args[2], "--flag");
	assert_int_equal(v.id, 3);
	assert_false(v.flag);
	n = PARSE(&s, &err, &help, "--id=4", "--", "--help");
	assert_int_equal(n, 1);
	assert_string_equal(args[0], "--help");
	assert_false(help);
}

static void expect_refused(const struct cli_spec *s, char **argv,
			   int code, const char *msg)
{
	struct dd_error err = DD_ERROR_INIT;
	bool help;
	int n = parse(s, &err, &help, argv);

	assert_true(n < 0);
	assert_int_equal(n, code);
	assert_int_equal(err.code, code);
	assert_string_equal(err.msg, msg);
	assert_false(help);
}

#define REFUSED(s, code, msg, ...)                                             \
	expect_refused((s), (char *[]){"test", __VA_ARGS__, NULL}, (code),     \
		       (msg))

static void test_refused(void **state)
{
	struct cli_spec s = spec;

	(void)state;
	REFUSED(&spec, DD_ERR_INVALID, "'test' takes no option '--frob'",
		"--frob");
	REFUSED(&spec, DD_ERR_INVALID, "'test' takes no option '--frob'",
		"a", "--frob=1");
	REFUSED(&spec, DD_ERR_INVALID, "'test' takes no option '-x'", "-x");
	REFUSED(&spec, DD_ERR_INVALID, "'test' takes no option '--fla'",
		"--fla"); /* no abbreviations */
	REFUSED(&spec, DD_ERR_INVALID, "--flag takes no value", "--flag=1");
	REFUSED(&spec, DD_ERR_INVALID, "--poke takes no value", "--poke=");
	REFUSED(&spec, DD_ERR_INVALID, "--string needs a value", "--string");
	REFUSED(&spec, DD_ERR_INVALID, "bad id 'abc'", "--id", "abc");
	REFUSED(&spec, DD_ERR_INVALID, "bad id '0'", "--id=0");
	REFUSED(&spec, DD_ERR_INVALID, "bad ids '-1'", "--ids", "-1");
	REFUSED(&spec, DD_ERR_INVALID, "--count takes a number from 1 to 10, "
				       "not '11'",
		"--count", "11");
	REFUSED(&spec, DD_ERR_INVALID, "refused 'refuse'", "--call=refuse");
	REFUSED(&spec, DD_ERR_NOTFOUND, "no such thing", "--call", "missing");
	REFUSED(&spec, DD_ERR_INVALID,
		"--db needs a path, not an empty string", "--db=");
	REFUSED(&spec, DD_ERR_INVALID,
		"--state-dir needs a directory, not an empty string",
		"--state-dir=");
	/* --json only where the command asks for it */
	s.json = NULL;
	REFUSED(&s, DD_ERR_INVALID, "'test' takes no option '--json'",
		"--json");
	/* a command without arguments is given none */
	s.positional = false;
	REFUSED(&s, DD_ERR_INVALID, "unexpected argument 'x'", "--flag", "x");
}

/* --help and -h stop the parse wherever they are, before any error */
static void test_help(void **state)
{
	struct dd_error err = DD_ERROR_INIT;
	bool help;

	(void)state;
	assert_int_equal(PARSE(&spec, &err, &help, "a", "--help", "--frob"),
			 0);
	assert_true(help);
	assert_int_equal(PARSE(&spec, &err, &help, "-h"), 0);
	assert_true(help);
	assert_int_equal(err.code, 0);
	/* --help=x is not --help */
	REFUSED(&spec, DD_ERR_INVALID, "'test' takes no option '--help'",
		"--help=x");
}

/* An option with a short name takes "-X ARG" too, listed as "-X, --x" */
static void test_short_name(void **state)
{
	static const char *out;
	static bool quick;
	static const struct cli_option shorts[] = {
		{.kind = CLI_OPT_STRING, .name = "output", .short_name = 'o',
		 .argh = "PATH", .value = &out, .help = "where to"},
		{.kind = CLI_OPT_FLAG, .name = "quick", .short_name = 'q',
		 .value = &quick, .help = "fast"},
		CLI_END,
	};
	static const struct cli_spec s = {.name = "test",
					  .usage = "usage: drydock test\n",
					  .options = shorts,
					  .positional = true};
	struct dd_error err = DD_ERROR_INIT;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	bool help;

	(void)state;
	assert_int_equal(PARSE(&s, &err, &help, "a", "-o", "-", "-q"), 1);
	assert_string_equal(out, "-");
	assert_true(quick);
	assert_string_equal(args[0], "a");
	assert_int_equal(PARSE(&s, &err, &help, "--output", "x"), 0);
	assert_string_equal(out, "x");
	REFUSED(&s, DD_ERR_INVALID, "-o needs a value", "-o");
	REFUSED(&s, DD_ERR_INVALID, "'test' takes no option '-x'", "-x", "1");
	/* no short name on the spec's other options */
	REFUSED(&spec, DD_ERR_INVALID, "'test' takes no option '-o'", "-o",
		"x");
	f = open_memstream(&text, &len);
	assert_non_null(f);
	cli_print_usage(f, &s);
	fclose(f);
	assert_non_null(strstr(text, "\n  -o, --output PATH    where to\n"));
	assert_non_null(strstr(text, "\n  -q, --quick"));
	free(text);
}

static void test_db(void **state)
{
	struct dd_error err = DD_ERROR_INIT;
	bool help;

	(void)state;
	assert_int_equal(PARSE(&spec, &err, &help, "--db", "/x/one.db"), 0);
	assert_string_equal(cli_store_path(), "/x/one.db");
	assert_int_equal(PARSE(&spec, &err, &help, "--db=/x/two.db", "a"), 1);
	assert_string_equal(cli_store_path(), "/x/two.db");
}

/*
 * --state-dir, taken by every command like --db, sets DRYDOCK_STATE_DIR
 * for the whole process, made absolute.
 */
static void test_state_dir(void **state)
{
	struct dd_error err = DD_ERROR_INIT;
	char cwd[2048], want[4096];
	bool help;

	(void)state;
	unsetenv("DRYDOCK_STATE_DIR");
	assert_int_equal(PARSE(&spec, &err, &help, "--state-dir", "/x/state"),
			 0);
	assert_string_equal(getenv("DRYDOCK_STATE_DIR"), "/x/state");
	assert_int_equal(PARSE(&spec, &err, &help, "a", "--state-dir=st"), 1);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(want, sizeof(want), "%s/st", cwd);
	assert_string_equal(getenv("DRYDOCK_STATE_DIR"), want);
	unsetenv("DRYDOCK_STATE_DIR");
}

/* The help is the usage, every option with help from the table, the epilog. */
static void test_generated_help(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	const char *line;

	(void)state;
	assert_non_null(f);
	cli_print_usage(f, &spec);
	fclose(f);
	assert_true(!strncmp(text, spec.usage, strlen(spec.usage)));
	line = text + strlen(spec.usage);
	assert_true(!strncmp(line, "\n  --flag               a flag\n", 30));
	assert_non_null(strstr(text, "\n  --string S           a string\n"));
	assert_non_null(strstr(text, "\n  --count N            a count\n"));
	assert_non_null(strstr(text, "\n  --json               print JSON "
				     "instead of text\n"));
	assert_null(strstr(text, "--call")); /* no help: not listed */
	/* a long help wraps at a space, aligned, within 79 columns */
	assert_non_null(strstr(text, "\n  --poke               a callback "
				     "without an argument, whose help is "
				     "long\n                       enough that "
				     "it has to be wrapped onto a second "
				     "line\n"));
	assert_true(len > strlen(spec.epilog));
	assert_string_equal(text + len - strlen(spec.epilog) - 1,
			    "\nAfter the options.\n");
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');

		assert_non_null(nl);
		assert_true(nl - p <= 79);
		p = nl + 1;
	}
	/* every option with help is in it: help and parser cannot drift */
	for (const struct cli_option *o = options; o->kind != CLI_OPT_END;
	     o++) {
		char want[64];

		snprintf(want, sizeof(want), "\n  --%s ", o->name);
		if (o->help)
			assert_non_null(strstr(text, want));
	}
	free(text);
}

/* A name too long for the column puts its help on the next line. */
static void test_help_long_name(void **state)
{
	static const char *key;
	static const struct cli_option opts[] = {
		CLI_STRING("idempotency-key", "KEY", &key, "short"),
		CLI_END,
	};
	const struct cli_spec s = {.name = "t", .usage = "usage: t\n",
				   .options = opts};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(f);
	cli_print_usage(f, &s);
	fclose(f);
	assert_string_equal(text, "usage: t\n\n  --idempotency-key KEY\n"
				  "                       short\n");
	free(text);
}

static int verb_calls;
static char *verb_arg;

static int verb_one(int argc, char **argv)
{
	verb_calls++;
	assert_string_equal(argv[0], "one");
	verb_arg = argc > 1 ? argv[1] : NULL;
	return 7;
}

/* The verb picks the function, which gets the rest as it was given. */
static void test_verbs(void **state)
{
	static const struct cli_verb verbs[] = {{"one", verb_one},
						{NULL, NULL}};
	const struct cli_spec group = {.name = "group", .usage = "usage: g\n"};
	char *argv[] = {"group", "--db=/x/three.db", "one", "--json", "2",
			NULL};

	(void)state;
	assert_int_equal(cli_run_verb(&group, verbs, 5, argv), 7);
	assert_int_equal(verb_calls, 1);
	assert_string_equal(verb_arg, "--json");
	assert_string_equal(cli_store_path(), "/x/three.db");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_equals_form, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_positionals, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stop_at_arg, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_help, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_dir, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_short_name, setup,
						teardown),
		cmocka_unit_test(test_generated_help),
		cmocka_unit_test(test_help_long_name),
		cmocka_unit_test(test_verbs),
	};

	dd_alloc_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
