/*
 * test_files.c - a lease's files interface as every type gets it
 * (blueprint/files_posix.c, through the dd_bp_file_*() wrappers on a
 * host lease): the listing parser, the path rules, a file larger than
 * every buffer on the way streamed in and out unchanged, directories as
 * tar streams, the errors, and a write that is stopped leaving the old
 * file as it was.
 */
#include "testutil.h"

#include "api/api.h"
#include "blueprint/files_posix.h"
#include "core/sha256.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

struct fx {
	struct test_env env;
	struct dd_worker w;
	struct dd_api_lease h;
	char dir[PATH_MAX]; /* the lease's directory */
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease_request req = {.type = "host", .owner = "test"};
	struct dd_lease l = {0};
	char root[PATH_MAX + 16];
	json_t *cfg;

	test_env_init(&x->env);
	snprintf(root, sizeof(root), "%s/hosts", x->env.dir);
	cfg = json_pack("{s:[{s:s}], s:s}", "hosts", "name", "a", "root",
			root);
	assert_ok(dd_api_blueprint_create(x->env.store, "host", "pool", cfg,
					  true, NULL, &err),
		  &err);
	json_decref(cfg);
	assert_ok(dd_worker_init(&x->w, x->env.path, "t", &err), &err);
	assert_ok(dd_api_lease_create(x->env.store, &req, &l, &err), &err);
	dd_lease_release(&l);
	assert_ok(dd_worker_drain(&x->w, 100, &err), &err);
	assert_ok(dd_api_lease_open(x->env.store, 1, "copy files to", &x->h,
				    &err),
		  &err);
	snprintf(x->dir, sizeof(x->dir), "%s",
		 json_string_value(
			 json_object_get(x->h.lease.attributes, "path")));
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;

	dd_api_lease_close(&x->h);
	dd_worker_release(&x->w);
	test_env_release(&x->env);
	free(x);
	return 0;
}

#define H(x) (x)->h.bp.type, &(x)->h.bp.ctx, &(x)->h.resource, &(x)->h.lease

static const struct dd_file_options no_limit = {0, -1};

/* ---- the listing parser -------------------------------------------- */

#define REC(s) s "\0"

static void test_parse_listing(void **state)
{
	static const char out[] = REC("0 d 4096 755 1700000000.5 ")
		REC("1 f 12 644 1700000001.0000000000 zeta")
		REC("1 l 4 777 1700000002.25 a link")
		REC("1 d 4096 700 1700000003 sub dir")
		REC("1 p 0 600 1700000004.0 fifo");
	struct dd_error err = DD_ERROR_INIT;
	struct dd_file_list l;

	(void)state;
	assert_ok(dd_files_parse_list(out, sizeof(out) - 1, &l, &err), &err);
	assert_int_equal(l.n, 5);
	assert_string_equal(l.entries[0].name, "");
	assert_int_equal(l.entries[0].type, 'd');
	assert_int_equal(l.entries[0].mode, 0755);
	assert_true(l.entries[0].mtime == 1700000000.5);
	/* sorted by name; kinds other than these three are "other" */
	assert_string_equal(l.entries[1].name, "a link");
	assert_int_equal(l.entries[1].type, 'l');
	assert_string_equal(l.entries[2].name, "fifo");
	assert_int_equal(l.entries[2].type, 'o');
	assert_string_equal(l.entries[3].name, "sub dir");
	assert_string_equal(l.entries[4].name, "zeta");
	assert_int_equal(l.entries[4].size, 12);
	assert_int_equal(l.entries[4].mode, 0644);
	dd_file_list_release(&l);
}

static void test_parse_listing_is_strict(void **state)
{
	static const struct {
		const char *s;
		size_t n;
	} bad[] = {
		{"", 0},					/* nothing */
		{REC("1 f 1 644 1.0 a"), 16},			/* no self */
		{REC("0 d 1 755 1.0 x"), 16},			/* self named */
		{REC("0 d 1 755 1.0 ") REC("1 f 1 644 1.0 "), 30}, /* no name */
		{REC("0 d 1 755 1.0 ") REC("0 f 1 644 1.0 a"), 31}, /* depth */
		{REC("0 d 1 755 1.0 ") REC("1 f 1 644 1.0 a/b"), 33}, /* slash */
		{REC("0 d 1 755 1.0 ") REC("1 q 1 644 1.0 a"), 31}, /* type */
		{REC("0 d 1 789 1.0 "), 15},			/* not octal */
		{REC("0 d 1 17777 1.0 "), 17},			/* mode > 07777 */
		{REC("0 d -1 755 1.0 "), 16},			/* size */
		{REC("0 d 1 755 1e5 "), 15},			/* mtime */
		{"0 d 1 755 1.0 ", 14},				/* no NUL */
		{REC("0 d 1 755 1.0 ") "1 f 1 644 1.0 a", 30},	/* cut */
		{REC("0 d 99999999999999999999 755 1.0 "), 34}, /* huge */
	};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_file_list l = {NULL, 0};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (dd_files_parse_list(bad[i].s, bad[i].n, &l, &err) !=
		    DD_ERR_INVALID)
			fail_msg("listing %zu was accepted", i);
		assert_null(l.entries);
	}
}

/* ---- paths --------------------------------------------------------- */

static void test_path_rules(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_file_list l;
	char *long_path = calloc(1, DD_FILE_PATH_MAX + 2);
	char path[PATH_MAX + 32];
	FILE *f;

	/* empty and too long are refused before anything runs */
	assert_int_equal(dd_bp_file_list(H(x), "", &l, &no_limit, &err),
			 DD_ERR_INVALID);
	memset(long_path, 'a', DD_FILE_PATH_MAX + 1);
	assert_int_equal(dd_bp_file_list(H(x), long_path, &l, &no_limit, &err),
			 DD_ERR_INVALID);
	free(long_path);
	/* relative to the lease's directory; a leading '-' is a name */
	snprintf(path, sizeof(path), "%s/-n", x->dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("dash\n", f);
	fclose(f);
	assert_ok(dd_bp_file_list(H(x), "-n", &l, &no_limit, &err), &err);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.entries[0].type, 'f');
	assert_int_equal(l.entries[0].size, 5);
	dd_file_list_release(&l);
	/* absolute paths are allowed: the same file by its full name */
	assert_ok(dd_bp_file_list(H(x), path, &l, &no_limit, &err), &err);
	assert_int_equal(l.entries[0].size, 5);
	dd_file_list_release(&l);
	/* and '..' leads where it leads, as for a command */
	snprintf(path, sizeof(path), "../lease-%lld/-n", x->h.lease.id);
	assert_ok(dd_bp_file_list(H(x), path, &l, &no_limit, &err), &err);
	dd_file_list_release(&l);
}

/* ---- streaming ----------------------------------------------------- */

/* The SHA-256 of the file at `path`, as hex. */
static void file_hash(const char *path, char hex[65])
{
	struct dd_sha256_ctx h;
	unsigned char buf[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	dd_sha256_init(&h);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		dd_sha256_update(&h, buf, (size_t)n);
	close(fd);
	dd_sha256_final_hex(&h, hex);
}

/*
 * 24 MiB, more than any buffer on the way (a pipe's 64 KiB, exec's
 * 16 KiB reads, a listing's limit), in and out: the same bytes.
 */
static void test_big_file_round_trip(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_file_list l;
	char src[PATH_MAX + 16], back[PATH_MAX + 16], a[65], b[65];
	struct stat st;
	int fd;

	snprintf(src, sizeof(src), "%s/src", x->env.dir);
	snprintf(back, sizeof(back), "%s/back", x->env.dir);
	fd = open(src, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	for (int i = 0; i < 24 * 16; i++) {
		char block[65536];

		for (size_t k = 0; k < sizeof(block); k++)
			block[k] = (char)(i * 31 + k * 7);
		assert_int_equal(write(fd, block, sizeof(block)),
				 sizeof(block));
	}
	close(fd);
	fd = open(src, O_RDONLY | O_CLOEXEC);
	assert_ok(dd_bp_file_write(H(x), "out/big.bin", 0640, fd, &no_limit,
				   &err),
		  &err);
	close(fd);
	assert_ok(dd_bp_file_list(H(x), "out/big.bin", &l, &no_limit, &err),
		  &err);
	assert_int_equal(l.entries[0].size, 24 * 1024 * 1024);
	assert_int_equal(l.entries[0].mode, 0640);
	dd_file_list_release(&l);
	fd = open(back, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_ok(dd_bp_file_read(H(x), "out/big.bin", fd, &no_limit, &err),
		  &err);
	close(fd);
	assert_int_equal(stat(back, &st), 0);
	assert_int_equal(st.st_size, 24 * 1024 * 1024);
	file_hash(src, a);
	file_hash(back, b);
	assert_string_equal(a, b);
}

static void test_directory_round_trip(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_file_list l;
	char tar[PATH_MAX + 16], cmd[4 * PATH_MAX];
	int fd;

	snprintf(cmd, sizeof(cmd),
		 "mkdir -p %s/tree/sub && echo one >%s/tree/a && "
		 "echo two >%s/tree/sub/b",
		 x->dir, x->dir, x->dir);
	assert_int_equal(system(cmd), 0);
	snprintf(tar, sizeof(tar), "%s/tree.tar", x->env.dir);
	fd = open(tar, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_ok(dd_bp_file_read_tree(H(x), "tree", fd, &no_limit, &err),
		  &err);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	/* unpacked elsewhere, parents made */
	assert_ok(dd_bp_file_write_tree(H(x), "copy/of/tree", fd, &no_limit,
					&err),
		  &err);
	close(fd);
	assert_ok(dd_bp_file_list(H(x), "copy/of/tree", &l, &no_limit, &err),
		  &err);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.entries[0].type, 'd');
	assert_string_equal(l.entries[1].name, "a");
	assert_int_equal(l.entries[1].type, 'f');
	assert_string_equal(l.entries[2].name, "sub");
	assert_int_equal(l.entries[2].type, 'd');
	dd_file_list_release(&l);
	snprintf(cmd, sizeof(cmd), "diff -r %s/tree %s/copy/of/tree", x->dir,
		 x->dir);
	assert_int_equal(system(cmd), 0);
}

static void test_errors(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_file_list l;
	char cmd[3 * PATH_MAX];
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	snprintf(cmd, sizeof(cmd), "mkdir %s/d && echo x >%s/f", x->dir,
		 x->dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(dd_bp_file_read(H(x), "nope", null, &no_limit, &err),
			 DD_ERR_NOTFOUND);
	assert_non_null(strstr(err.msg, "'nope'"));
	assert_non_null(strstr(err.msg, "no such file"));
	assert_int_equal(dd_bp_file_list(H(x), "nope", &l, &no_limit, &err),
			 DD_ERR_NOTFOUND);
	assert_int_equal(dd_bp_file_read_tree(H(x), "nope", null, &no_limit,
					      &err),
			 DD_ERR_NOTFOUND);
	assert_int_equal(dd_bp_file_read(H(x), "d", null, &no_limit, &err),
			 DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "is a directory"));
	assert_int_equal(dd_bp_file_write(H(x), "d", 0644, null, &no_limit,
					  &err),
			 DD_ERR_INVALID);
	assert_int_equal(dd_bp_file_read_tree(H(x), "f", null, &no_limit,
					      &err),
			 DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "not a directory"));
	assert_int_equal(dd_bp_file_write_tree(H(x), "f", null, &no_limit,
					       &err),
			 DD_ERR_INVALID);
	/* a parent that is a file: the tool's own reason */
	assert_int_equal(dd_bp_file_write(H(x), "f/g", 0644, null, &no_limit,
					  &err),
			 DD_ERR_IO);
	assert_non_null(strstr(err.msg, "cannot write 'f/g' on lease"));
	close(null);
}

/*
 * A write stopped halfway (its input still open, as an upload cut off)
 * leaves the old file as it was and no temporary file behind.
 */
static void test_stopped_write_leaves_old_file(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_file_options o = {0, -1};
	struct dd_file_list l;
	char path[PATH_MAX + 16], got[32] = "";
	int in[2], stop[2];
	FILE *f;

	snprintf(path, sizeof(path), "%s/keep", x->dir);
	f = fopen(path, "w");
	fputs("old\n", f);
	fclose(f);
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(stop, O_CLOEXEC), 0);
	assert_int_equal(write(in[1], "new but cut", 11), 11);
	assert_int_equal(write(stop[1], "x", 1), 1);
	o.cancel_fd = stop[0];
	assert_int_equal(dd_bp_file_write(H(x), "keep", 0644, in[0], &o,
					  &err),
			 DD_ERR_INTERRUPTED);
	close(in[0]);
	close(in[1]);
	close(stop[0]);
	close(stop[1]);
	f = fopen(path, "r");
	assert_non_null(fgets(got, sizeof(got), f));
	fclose(f);
	assert_string_equal(got, "old\n");
	assert_ok(dd_bp_file_list(H(x), ".", &l, &no_limit, &err), &err);
	for (size_t i = 1; i < l.n; i++)
		if (strncmp(l.entries[i].name, ".drydock-upload", 15) == 0)
			fail_msg("left '%s' behind", l.entries[i].name);
	dd_file_list_release(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_listing),
		cmocka_unit_test(test_parse_listing_is_strict),
		cmocka_unit_test_setup_teardown(test_path_rules, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_big_file_round_trip,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_directory_round_trip,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_stopped_write_leaves_old_file, setup, teardown),
	};

	dd_alloc_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
