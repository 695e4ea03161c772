/*
 * cmd_artifact.c - "drydock artifact": add an artifact to a build target,
 * list a target's artifacts, show one.
 *
 * The options of `add` are the fields of the artifact's data: --uri (with
 * --name and --external) makes a uri artifact, --lease a host artifact.
 * The type table (core/target.h) checks them, as it does for the API, so
 * an option that does not belong to the type is refused naming its field.
 *
 * --file makes a file artifact.  The CLI opens the store itself, so the
 * file goes straight into it through the same calls as an upload to the
 * API (api/file.h): a piece at a time, hashed as it goes, never whole in
 * memory; a failure halfway deletes what was stored.  `get` writes a
 * file artifact a chunk at a time and checks its SHA-256 at the end;
 * into a path, it writes a temporary file beside it and renames it only
 * once the hash matches.
 */
#include "api/api.h"
#include "api/file.h"
#include "cli/cli.h"
#include "core/sha256.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
	"usage: drydock artifact add TARGET --key KEY\n"
	"                            (--uri URL [--name NAME] [--external] | "
	"--lease ID |\n"
	"                             --file PATH [--name NAME]) [--json]\n"
	"       drydock artifact list TARGET [--limit N] [--cursor C] "
	"[--json]\n"
	"       drydock artifact show ID [--json]\n"
	"       drydock artifact get ID [-o PATH|-]\n"
	"\n"
	"An artifact is what a build target produced or holds, under a key "
	"unique\nwithin the target: a link (--uri; only the schemes the "
	"operator allows, http\nand https by default), a lease (--lease: a "
	"lease of the target's owner that\nis not released; finishing the "
	"target releases it) or a file (--file, '-' for\nstdin; NAME is "
	"PATH's last part by default), whose bytes drydock keeps with\ntheir "
	"size and SHA-256.  'get' writes a file artifact to PATH, or to "
	"stdout\nwithout -o or with -o -, and checks its SHA-256: a file "
	"that does not match is\nnot left at PATH.\n";

#define VERB_SPEC(verb, opts, json_)                                           \
	{.name = "artifact " verb,                                             \
	 .usage = usage,                                                       \
	 .options = (opts),                                                    \
	 .json = (json_),                                                      \
	 .positional = true}

void cli_print_artifact_row(const struct dd_artifact *a)
{
	char *d = json_dumps(a->data, JSON_COMPACT | JSON_SORT_KEYS);

	printf("%-6lld %-6s %-24s %-9s %s\n", a->id, a->type, a->key,
	       a->released ? "released" : "-", d ? d : "{}");
	free(d);
}

/* The one positional argument, an id; 0 after a usage error. */
static long long one_id(int n, char **argv, const char *what)
{
	long long id;

	if (n > 1) {
		cli_usage_error(usage, "unexpected argument '%s'", argv[1]);
		return 0;
	}
	if (n < 1) {
		cli_usage_error(usage, "'artifact %s' needs an id", what);
		return 0;
	}
	id = cli_parse_id(argv[0]);
	if (id <= 0)
		cli_usage_error(usage, "bad id '%s'", argv[0]);
	return id > 0 ? id : 0;
}

/* Read up to n bytes; short only at the end.  -1 on an error. */
static ssize_t read_full(int fd, char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static int file_add(long long target, const char *key, const char *path,
		    const char *name, bool json)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_file_upload u;
	struct dd_artifact a = {0};
	struct dd_store *s;
	const char *slash;
	char *buf;
	int fd, rc;

	if (!name && strcmp(path, "-")) {
		slash = strrchr(path, '/');
		name = slash ? slash + 1 : path;
	}
	fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : 0;
	if (fd < 0)
		return cli_error(dd_err_exit_status(DD_ERR_IO),
				 "cannot open '%s': %s", path,
				 strerror(errno));
	buf = dd_malloc(DD_CHUNK_SIZE);
	if (!buf) {
		if (fd)
			close(fd);
		return cli_error(dd_err_exit_status(DD_ERR_NOMEM),
				 "out of memory");
	}
	s = cli_open_store();
	rc = dd_file_begin(s, target, key, name && *name ? name : NULL, &u,
			   &err);
	while (!rc) {
		ssize_t n = read_full(fd, buf, DD_CHUNK_SIZE);

		if (n < 0) {
			rc = dd_error_set(&err, DD_ERR_IO,
					  "cannot read '%s': %s", path,
					  strerror(errno));
			dd_file_abort(s, &u, NULL);
			break;
		}
		if (n == 0) {
			rc = dd_file_end(s, &u, &a, &err);
			if (rc)
				dd_file_abort(s, &u, NULL);
			break;
		}
		dd_file_hash(&u, buf, (size_t)n);
		rc = dd_file_write(s, &u, buf, (size_t)n, &err);
		if (rc)
			dd_file_abort(s, &u, NULL);
	}
	dd_free(buf);
	if (fd)
		close(fd);
	if (rc) {
		rc = cli_fail(&err);
	} else if (json) {
		cli_print_json(dd_artifact_to_json(&a));
	} else {
		printf("%lld\n", a.id);
	}
	dd_artifact_release(&a);
	dd_store_close(s);
	return rc;
}

/* Copy artifact `a`'s bytes to fd, checking them against its SHA-256. */
static int copy_out(struct dd_store *s, const struct dd_artifact *a, int fd,
		    const char *where, struct dd_error *err)
{
	struct dd_sha256_ctx sha;
	char hex[DD_SHA256_HEX_LEN + 1];
	char *buf = dd_malloc(DD_CHUNK_SIZE);
	long long pos = 0;
	int rc = 0;

	if (!buf)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	dd_sha256_init(&sha);
	while (!rc && pos < a->size) {
		size_t n = 0;

		rc = dd_store_artifact_read(s, a->id, pos, buf, DD_CHUNK_SIZE,
					    &n, err);
		if (!rc && n == 0)
			rc = dd_error_set(err, DD_ERR_DAMAGED,
					  "artifact %lld ends at byte %lld of "
					  "%lld",
					  a->id, pos, a->size);
		if (!rc && dd_write_full(fd, buf, n))
			rc = dd_error_set(err, DD_ERR_IO,
					  "cannot write to %s: %s", where,
					  strerror(errno));
		dd_sha256_update(&sha, buf, n);
		pos += (long long)n;
	}
	dd_free(buf);
	if (rc)
		return rc;
	dd_sha256_final_hex(&sha, hex);
	if (strcmp(hex, a->sha256))
		return dd_error_set(err, DD_ERR_DAMAGED,
				    "artifact %lld does not match its SHA-256: "
				    "stored %s, read %s",
				    a->id, a->sha256, hex);
	return 0;
}

static int get(long long id, const char *out)
{
	struct dd_error err = DD_ERROR_INIT;
	const struct dd_artifact_type *type;
	struct dd_artifact a = {0};
	struct dd_store *s = cli_open_store();
	bool to_stdout = !out || !strcmp(out, "-");
	char *tmp = NULL;
	int fd = 1, rc;

	rc = dd_store_artifact_get(s, id, &a, &err);
	type = rc ? NULL : dd_artifact_type_find(a.type);
	if (!rc && (!type || !type->content))
		rc = dd_error_set(&err, DD_ERR_INVALID,
				  "artifact %lld is a %s artifact: it has no "
				  "file to get",
				  id, a.type);
	else if (!rc && !a.complete)
		rc = dd_error_set(&err, DD_ERR_STATE,
				  "artifact %lld is still being uploaded "
				  "(%lld bytes so far)",
				  id, a.size);
	if (!rc && !to_stdout) {
		tmp = dd_malloc(strlen(out) + 16);
		if (!tmp) {
			rc = dd_error_set(&err, DD_ERR_NOMEM, "out of memory");
		} else {
			sprintf(tmp, "%s.XXXXXX", out);
			fd = mkstemp(tmp);
			if (fd < 0)
				rc = dd_error_set(&err, DD_ERR_IO,
						  "cannot write '%s': %s", out,
						  strerror(errno));
		}
	}
	if (!rc)
		rc = copy_out(s, &a, fd, to_stdout ? "stdout" : tmp, &err);
	if (!to_stdout && fd >= 0) {
		/* mkstemp's 0600 would be a surprise: as a new file's */
		mode_t mask = umask(0);

		umask(mask);
		if (!rc && fchmod(fd, 0666 & ~mask))
			rc = dd_error_set(&err, DD_ERR_IO, "cannot write '%s': %s",
					  out, strerror(errno));
		if (close(fd) && !rc)
			rc = dd_error_set(&err, DD_ERR_IO, "cannot write '%s': %s",
					  out, strerror(errno));
		if (!rc && rename(tmp, out))
			rc = dd_error_set(&err, DD_ERR_IO, "cannot write '%s': %s",
					  out, strerror(errno));
		if (rc)
			unlink(tmp);
	}
	dd_free(tmp);
	dd_artifact_release(&a);
	dd_store_close(s);
	return rc ? cli_fail(&err) : 0;
}

static int artifact_add(int argc, char **argv)
{
	const char *key = NULL, *uri = NULL, *name = NULL, *file = NULL;
	long long lease = 0;
	bool json = false, external = false;
	const struct cli_option options[] = {
		CLI_STRING("key", "KEY", &key,
			   "the artifact's key, unique within the target"),
		CLI_STRING("uri", "URL", &uri, "a link (a uri artifact)"),
		CLI_STRING("name", "NAME", &name,
			   "the link's text, or the file's name"),
		CLI_FLAG("external", &external,
			 "the link leaves drydock (opened in a new tab)"),
		CLI_ID("lease", &lease,
		       "a lease the build holds (a host artifact)"),
		CLI_STRING("file", "PATH", &file,
			   "a file to store ('-' for stdin; a file artifact)"),
		CLI_END,
	};
	const struct cli_spec spec = VERB_SPEC("add", options, &json);
	struct dd_artifact_request req = {0};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_artifact_rules rules;
	struct dd_artifact a = {0};
	struct dd_store *s;
	int rc;

	req.target = one_id(cli_parse(&spec, argc, argv), argv, "add");
	if (!req.target)
		return dd_err_exit_status(DD_ERR_INVALID);
	if (!key)
		return cli_usage_error(usage, "'artifact add' needs --key");
	if (!!uri + !!lease + !!file != 1)
		return cli_usage_error(usage, "'artifact add' needs one of "
					      "--uri URL, --lease ID and --file "
					      "PATH");
	if (file && external)
		return cli_usage_error(usage, "--external is a link's, not a "
					      "file's");
	if (file)
		return file_add(req.target, key, file, name, json);
	req.key = key;
	req.type = uri ? "uri" : "host";
	/* every option given is a field: the type's row says if it fits */
	req.data = json_object();
	if (uri)
		json_object_set_new(req.data, "uri", json_string(uri));
	if (name)
		json_object_set_new(req.data, "name", json_string(name));
	if (external)
		json_object_set_new(req.data, "external", json_true());
	if (lease)
		json_object_set_new(req.data, "lease", json_integer(lease));
	dd_artifact_rules_from_env(&rules);
	req.rules = &rules;
	s = cli_open_store();
	rc = dd_api_artifact_add(s, &req, &a, &err);
	json_decref(req.data);
	dd_store_close(s);
	if (rc)
		return cli_fail(&err);
	if (json)
		cli_print_json(dd_artifact_to_json(&a));
	else
		printf("%lld\n", a.id);
	dd_artifact_release(&a);
	return 0;
}

static int print_row(void *arg, struct dd_artifact *a, struct dd_error *err)
{
	struct cli_listing *ls = arg;

	if (!cli_listing_row(ls, a->id))
		return 1;
	if (ls->json)
		return cli_listing_item(dd_artifact_to_json(a), err);
	cli_print_artifact_row(a);
	return 0;
}

/* Oldest first, as the build recorded them; --cursor pages on. */
static int artifact_list(int argc, char **argv)
{
	struct cli_page page = CLI_PAGE_INIT;
	bool json = false;
	const struct cli_option options[] = {
		CLI_CALLBACK("limit", "N", cli_opt_limit, &page,
			     "at most N rows (default 50; 0: all)"),
		CLI_CALLBACK("cursor", "C", cli_opt_cursor, &page,
			     "the rows after the page that gave cursor C"),
		CLI_END,
	};
	const struct cli_spec spec = VERB_SPEC("list", options, &json);
	struct dd_error err = DD_ERROR_INIT;
	struct dd_target t = {0};
	struct dd_filter f = {0};
	struct cli_listing ls = {.json = json};
	struct dd_store *s;
	int rc;

	f.target_id = one_id(cli_parse(&spec, argc, argv), argv, "list");
	if (!f.target_id)
		return dd_err_exit_status(DD_ERR_INVALID);
	f.after_id = page.cursor;
	f.limit = page.limit ? page.limit + 1 : 0;
	ls.json = json;
	ls.limit = page.limit;
	s = cli_open_store();
	/* a target without artifacts, or none at all: say which */
	rc = dd_store_target_get(s, f.target_id, &t, &err);
	dd_target_release(&t);
	if (rc) {
		dd_store_close(s);
		return cli_fail(&err);
	}
	cli_listing_start(&ls, "ID     TYPE   KEY                      "
			       "RELEASED  DATA\n");
	rc = dd_store_artifact_each(s, &f, print_row, &ls, &err);
	dd_store_close(s);
	return cli_listing_end(&ls, rc, &err, "artifacts");
}

static int artifact_show(int argc, char **argv)
{
	bool json = false;
	const struct cli_spec spec = VERB_SPEC("show", NULL, &json);
	struct dd_error err = DD_ERROR_INIT;
	struct dd_artifact a = {0};
	struct dd_store *s;
	long long id;
	char *d;
	int rc;

	id = one_id(cli_parse(&spec, argc, argv), argv, "show");
	if (!id)
		return dd_err_exit_status(DD_ERR_INVALID);
	s = cli_open_store();
	rc = dd_store_artifact_get(s, id, &a, &err);
	dd_store_close(s);
	if (rc)
		return cli_fail(&err);
	if (json) {
		cli_print_json(dd_artifact_to_json(&a));
	} else {
		d = json_dumps(a.data, JSON_COMPACT | JSON_SORT_KEYS);
		printf("artifact %lld\n", a.id);
		printf("%-12s %lld\n", "target", a.target);
		printf("%-12s %s\n", "key", a.key);
		printf("%-12s %s\n", "type", a.type);
		printf("%-12s %s\n", "data", d ? d : "{}");
		printf("%-12s %s\n", "released", a.released ? "yes" : "no");
		if (dd_artifact_type_find(a.type) &&
		    dd_artifact_type_find(a.type)->content)
			printf("%-12s %lld bytes%s\n%-12s %s\n", "size", a.size,
			       a.complete ? "" : " (upload incomplete)",
			       "sha256", a.sha256[0] ? a.sha256 : "-");
		cli_print_time(stdout, "created", a.created);
		free(d);
	}
	dd_artifact_release(&a);
	return 0;
}

static int artifact_get(int argc, char **argv)
{
	const char *out = NULL;
	const struct cli_option options[] = {
		{.kind = CLI_OPT_STRING,
		 .name = "output",
		 .short_name = 'o',
		 .argh = "PATH",
		 .value = &out,
		 .help = "write the file here ('-' or none: stdout)"},
		CLI_END,
	};
	const struct cli_spec spec = VERB_SPEC("get", options, NULL);
	long long id = one_id(cli_parse(&spec, argc, argv), argv, "get");

	if (!id)
		return dd_err_exit_status(DD_ERR_INVALID);
	return get(id, out);
}

int cmd_artifact(int argc, char **argv)
{
	static const struct cli_spec spec = {.name = "artifact",
					     .usage = usage};
	static const struct cli_verb verbs[] = {
		{"add", artifact_add},
		{"get", artifact_get},
		{"list", artifact_list},
		{"show", artifact_show},
		{NULL, NULL},
	};

	return cli_run_verb(&spec, verbs, argc, argv);
}
