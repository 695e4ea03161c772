/*
 * test_working_copy.c - what the working-copy blueprint checks without a
 * daemon: the git argument rules (blueprint/git_args.h) one by one, a
 * lease's attributes through dd_bp_check_lease() (every refusal names
 * the path and the rule: traversal, '/', leading '-' in a directory, a
 * URI or a ref, git's ext:: transport, unknown keys, a bad commit),
 * the same refused by dd_api_lease_create() with nothing stored, its
 * config through dd_bp_validate(), and the reclaim grace period.
 */
#include "testutil.h"

#include "api/api.h"
#include "blueprint/blueprint.h"
#include "blueprint/git_args.h"

typedef int check_fn(const char *s, struct dd_error *err);

struct arg_case {
	check_fn *check;
	const char *value;
	bool ok;
};

static void test_git_args(void **state)
{
	static const struct arg_case cases[] = {
		{dd_git_check_dir, "src", true},
		{dd_git_check_dir, "a.b-c_d", true},
		{dd_git_check_dir, ".hidden", true},
		{dd_git_check_dir, "", false},
		{dd_git_check_dir, ".", false},
		{dd_git_check_dir, "..", false},
		{dd_git_check_dir, "a/b", false},
		{dd_git_check_dir, "../etc", false},
		{dd_git_check_dir, "/etc", false},
		{dd_git_check_dir, "-rf", false},
		{dd_git_check_dir, "a\\b", false},
		{dd_git_check_dir, "a\nb", false},
		{dd_git_check_uri, "https://example.com/r.git", true},
		{dd_git_check_uri, "file:///srv/r.git", true},
		{dd_git_check_uri, "git@example.com:r.git", true},
		{dd_git_check_uri, "", false},
		{dd_git_check_uri, "-oProxyCommand=x", false},
		{dd_git_check_uri, "--upload-pack=touch /tmp/x", false},
		{dd_git_check_uri, "ext::sh -c x", false},
		{dd_git_check_uri, "fd::3", false},
		{dd_git_check_uri, "https://a b", false},
		{dd_git_check_uri, "https://a\tb", false},
		{dd_git_check_ref, "main", true},
		{dd_git_check_ref, "refs/changes/01/1/1", true},
		{dd_git_check_ref, "release-1.2+x", true},
		{dd_git_check_ref, "", false},
		{dd_git_check_ref, "-b", false},
		{dd_git_check_ref, "--exec=x", false},
		{dd_git_check_ref, "a/-b", false},
		{dd_git_check_ref, "a..b", false},
		{dd_git_check_ref, "../x", false},
		{dd_git_check_ref, "refs//x", false},
		{dd_git_check_ref, "/x", false},
		{dd_git_check_ref, "x/", false},
		{dd_git_check_ref, ".x", false},
		{dd_git_check_ref, "a/.x", false},
		{dd_git_check_ref, "x.lock", false},
		{dd_git_check_ref, "a b", false},
		{dd_git_check_ref, "a~1", false},
		{dd_git_check_ref, "a^", false},
		{dd_git_check_ref, "a:b", false},
		{dd_git_check_ref, "a@{1}", false},
		{dd_git_check_commit, "0123abcd", true},
		{dd_git_check_commit, "0123456789abcdef0123456789abcdef01234567",
		 true},
		{dd_git_check_commit, "ABCDEF12", true},
		{dd_git_check_commit, "abc", false},
		{dd_git_check_commit, "HEAD", false},
		{dd_git_check_commit, "-1234", false},
		{dd_git_check_commit, "deadbeef~1", false},
		{dd_git_check_commit,
		 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0",
		 false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct dd_error err = DD_ERROR_INIT;
		int rc = cases[i].check(cases[i].value, &err);

		if (cases[i].ok && rc)
			fail_msg("'%s' refused: %s", cases[i].value, err.msg);
		if (!cases[i].ok && rc != DD_ERR_INVALID)
			fail_msg("'%s' accepted", cases[i].value);
		if (!cases[i].ok && strncmp(err.msg, "must be ", 8))
			fail_msg("'%s': message '%s'", cases[i].value, err.msg);
	}
}

struct attr_case {
	const char *json;
	const char *msg; /* NULL: accepted */
};

typedef int json_check_fn(const json_t *v, struct dd_error *err);

static int check_lease(const json_t *v, struct dd_error *err)
{
	return dd_bp_check_lease("working-copy", v, err);
}

static int check_config(const json_t *v, struct dd_error *err)
{
	const struct dd_blueprint_type *t =
		dd_blueprint_type_find("working-copy");

	assert_non_null(t);
	return dd_bp_validate(t, v, err);
}

/* Each case accepted, or refused as invalid with exactly its message. */
static void run_cases(const struct attr_case *cases, size_t n,
		      json_check_fn *check)
{
	for (size_t i = 0; i < n; i++) {
		struct dd_error err = DD_ERROR_INIT;
		json_t *v = json_loads(cases[i].json, 0, NULL);
		int rc;

		assert_non_null(v);
		rc = check(v, &err);
		json_decref(v);
		if (!cases[i].msg) {
			assert_ok(rc, &err);
			continue;
		}
		if (rc != DD_ERR_INVALID)
			fail_msg("%s: accepted", cases[i].json);
		assert_string_equal(err.msg, cases[i].msg);
	}
}

static void test_lease_attributes(void **state)
{
	static const struct attr_case cases[] = {
		{"{\"repositories\": {\"src\": {\"uri\": \"file:///r\"}}}", NULL},
		{"{\"repositories\": {\"src\": {\"uri\": \"file:///r\", "
		 "\"branch\": \"main\", \"merges\": [{\"uri\": \"file:///r\", "
		 "\"ref\": \"refs/x\"}], \"submodules\": true}, "
		 "\"doc\": {\"uri\": \"file:///d\", \"commit\": \"abcd1234\"}}, "
		 "\"default\": \"src\", \"strict\": true}",
		 NULL},
		{"{}", "lease attributes: missing 'repositories' (a non-empty "
		       "object of directories)"},
		{"{\"repositories\": {}}",
		 "lease attributes: repositories: must be a non-empty object of "
		 "directories"},
		{"{\"repositories\": {\"..\": {\"uri\": \"file:///r\"}}}",
		 "lease attributes: repositories: directory '..' must be a "
		 "directory name: one path component of 1 to 255 bytes, not "
		 "'.' nor '..', without '/' and not starting with '-'"},
		{"{\"repositories\": {\"a/b\": {\"uri\": \"file:///r\"}}}",
		 "lease attributes: repositories: directory 'a/b' must be a "
		 "directory name: one path component of 1 to 255 bytes, not "
		 "'.' nor '..', without '/' and not starting with '-'"},
		{"{\"repositories\": {\"-x\": {\"uri\": \"file:///r\"}}}",
		 "lease attributes: repositories: directory '-x' must be a "
		 "directory name: one path component of 1 to 255 bytes, not "
		 "'.' nor '..', without '/' and not starting with '-'"},
		{"{\"repositories\": {\"s\": {\"uri\": \"--upload-pack=x\"}}}",
		 "lease attributes: repositories.s.uri: must be a repository "
		 "URI, not an option (it starts with '-')"},
		{"{\"repositories\": {\"s\": {\"uri\": \"ext::sh\"}}}",
		 "lease attributes: repositories.s.uri: must be a repository "
		 "URI, not git's 'ext' transport, which runs commands"},
		{"{\"repositories\": {\"s\": {\"uri\": \"file:///r\", "
		 "\"ref\": \"-x\"}}}",
		 "lease attributes: repositories.s.ref: must be a branch or ref "
		 "name of 1 to 255 bytes: letters, digits, '.', '_', '+', '-' "
		 "and '/' between parts, no part empty or starting with '.' or "
		 "'-', no '..', not ending in '.lock'"},
		{"{\"repositories\": {\"s\": {\"uri\": \"file:///r\", "
		 "\"merges\": [{\"uri\": \"-x\", \"ref\": \"m\"}]}}}",
		 "lease attributes: repositories.s.merges[0].uri: must be a "
		 "repository URI, not an option (it starts with '-')"},
		{"{\"repositories\": {\"s\": {\"uri\": \"file:///r\", "
		 "\"commit\": \"HEAD~1\"}}}",
		 "lease attributes: repositories.s.commit: must be a commit: a "
		 "hex object name of 4 to 64 digits"},
		{"{\"repositories\": {\"s\": {\"uri\": \"file:///r\", "
		 "\"commit\": \"abcd1234\", \"branch\": \"main\"}}}",
		 "lease attributes: repositories.s: must name at most one of "
		 "'commit', 'branch' and 'ref'"},
		{"{\"repositories\": {\"s\": {\"url\": \"file:///r\"}}}",
		 "lease attributes: repositories.s: unknown key 'url' (known: "
		 "uri, commit, branch, ref, merges, submodules)"},
		{"{\"repositories\": {\"s\": {\"uri\": \"file:///r\"}}, "
		 "\"path\": \"/x\"}",
		 "lease attributes: unknown key 'path' (known: repositories, "
		 "default, strict)"},
		{"{\"repositories\": {\"s\": {\"uri\": \"file:///r\"}}, "
		 "\"default\": \"t\"}",
		 "lease attributes: default: must be one of the directories in "
		 "'repositories'"},
	};

	(void)state;
	run_cases(cases, sizeof(cases) / sizeof(*cases), check_lease);
	/* other types' leases are not the working copy's business */
	{
		struct dd_error err = DD_ERROR_INIT;
		json_t *v = json_pack("{s:s}", "repos", "x");

		assert_ok(dd_bp_check_lease("host", v, &err), &err);
		json_decref(v);
	}
}

/* A refused lease is never stored, nor queued. */
static void test_refused_before_queueing(void **state)
{
	struct test_env e;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease_request req = {0};
	struct dd_lease_list all = {0};
	struct dd_filter f = {0};
	json_t *a = json_loads("{\"repositories\": {\"../../etc\": "
			       "{\"uri\": \"file:///r\"}}}",
			       0, NULL);

	(void)state;
	test_env_init(&e);
	req.type = "working-copy";
	req.attributes = a;
	req.owner = "test";
	assert_int_equal(dd_api_lease_create(e.store, &req, NULL, &err),
			 DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "directory '../../etc'"));
	assert_ok(dd_store_lease_list(e.store, &f, &all, &err), &err);
	assert_int_equal(all.n, 0);
	dd_lease_list_release(&all);
	json_decref(a);
	test_env_release(&e);
}

static void test_config(void **state)
{
	static const struct attr_case cases[] = {
		{"{\"hosts\": [1], \"root\": \"/srv/wc\"}", NULL},
		{"{\"hosts\": [1, 2], \"root\": \"/srv/wc\", \"limit\": 4, "
		 "\"per_host_limit\": 2, \"reclaim_grace\": 0.5, "
		 "\"timeouts\": {\"activate_lease\": 60}}",
		 NULL},
		{"{\"root\": \"/srv/wc\"}",
		 "config: missing 'hosts' (a non-empty array of host blueprint "
		 "ids)"},
		{"{\"hosts\": [], \"root\": \"/srv/wc\"}",
		 "config: hosts: must be a non-empty array of host blueprint "
		 "ids"},
		{"{\"hosts\": [0], \"root\": \"/srv/wc\"}",
		 "config: hosts[0]: must be a host blueprint's id"},
		{"{\"hosts\": [1]}",
		 "config: missing 'root' (an absolute path on the hosts)"},
		{"{\"hosts\": [1], \"root\": \"wc\"}",
		 "config: root: must be an absolute path"},
		{"{\"hosts\": [1], \"root\": \"/w\", \"limit\": 0}",
		 "config: limit: must be an integer from 1 to 1000"},
		{"{\"hosts\": [1], \"root\": \"/w\", \"per_host_limit\": 1001}",
		 "config: per_host_limit: must be an integer from 1 to 1000"},
		{"{\"hosts\": [1], \"root\": \"/w\", \"reclaim_grace\": -1}",
		 "config: reclaim_grace: must be a number of seconds from 0 to "
		 "86400"},
	};

	(void)state;
	run_cases(cases, sizeof(cases) / sizeof(*cases), check_config);
}

static void test_reclaim_grace(void **state)
{
	const struct dd_blueprint_type *t =
		dd_blueprint_type_find("working-copy");
	json_t *none = json_object();
	json_t *set = json_pack("{s:f}", "reclaim_grace", 2.5);

	(void)state;
	assert_true(dd_bp_reclaim_grace(t, none) > 0);
	assert_true(dd_bp_reclaim_grace(t, set) == 2.5);
	assert_true(dd_bp_reclaim_grace(&dd_host_blueprint_type, none) == 0);
	assert_true(dd_bp_reclaim_grace(NULL, none) == 0);
	json_decref(none);
	json_decref(set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_git_args),
		cmocka_unit_test(test_lease_attributes),
		cmocka_unit_test(test_refused_before_queueing),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_reclaim_grace),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
