/*
 * test_provider.c - the exec blueprint type (blueprint/exec.c) against a
 * provider written in sh whose every answer the test chooses: describe at
 * blueprint create (versions, operations, each way of failing), the
 * requests a lease's life sends (protocol, key, settings, the provider's
 * id and attributes handed back), an allocate that fails or hangs past
 * its hook's deadline breaking the resource with the reason (the failure
 * with its stderr) and destroy still called with the key, and exec with
 * its request on descriptor 3 (argv and env) and stdin the command's.
 * Each call failing each way (exit status, crash, not JSON, past its
 * deadline): the reason and the stderr on the object's log, the state
 * it leaves, and the provider's call log showing every resource it was
 * told about destroyed exactly once.
 */
#include "testutil.h"

#include "api/api.h"
#include "blueprint/blueprint.h"
#include "core/exec.h"
#include "core/input.h"

#include <fcntl.h>
#include <sys/stat.h>

/*
 * The provider: saves its request as req-OP.json, counts its calls
 * (lines of count-OP; resource.activate also notes the resource's
 * attributes in the store, in seen) and notes "OP KEY" in calls, then, as
 * files in its directory say, answers once-OP once, refuses (a request
 * holding the text of refuse-OP), sleeps (sleep-OP), fails (exit-OP holds
 * the status), crashes (crash-OP: SIGSEGV), prints what is not JSON
 * (garbage-OP), or answers reply-OP (else a default), noting "ok OP KEY"
 * in calls.  Each failure writes to stderr first.  exec runs `cat`, or
 * fails as its files say.
 */
static const char provider[] =
	"#!/bin/sh\n"
	"d=$(dirname \"$0\")\n"
	"op=$DRYDOCK_OPERATION\n"
	"crash() { echo \"about to crash\" >&2; kill -SEGV $$; }\n"
	"garbage() { echo \"this is not JSON {\"; exit 0; }\n"
	"if [ \"$op\" = exec ]; then cat <&3 >\"$d/req-exec.json\";"
	" exec 3<&-;"
	" [ -f \"$d/crash-exec\" ] && crash;"
	" [ -f \"$d/garbage-exec\" ] && garbage;"
	" [ -f \"$d/sleep-exec\" ] && exec sleep 30;"
	" exec cat; fi\n"
	"cat >\"$d/req-$op.json\"\n"
	"echo >>\"$d/count-$op\"\n"
	"key=$(grep -o '\"key\":\"[^\"]*\"' \"$d/req-$op.json\" | head -n 1"
	" | cut -d '\"' -f 4)\n"
	"echo \"$op $key\" >>\"$d/calls\"\n"
	"[ \"$op\" = resource.activate ] && sqlite3 \"$d/dd.db\""
	" 'SELECT attributes FROM resource WHERE id = 1' >>\"$d/seen\"\n"
	"if [ -f \"$d/once-$op\" ]; then cat \"$d/once-$op\";"
	" rm \"$d/once-$op\"; exit 0; fi\n"
	"if [ -f \"$d/refuse-$op\" ] && grep -qF \"$(cat \"$d/refuse-$op\")\""
	" \"$d/req-$op.json\"; then echo '{\"accept\": false}'; exit 0; fi\n"
	"[ -f \"$d/sleep-$op\" ] && { echo \"sleeping\" >&2; sleep 30; }\n"
	"if [ -f \"$d/exit-$op\" ]; then echo \"it went wrong\" >&2;"
	" exit \"$(cat \"$d/exit-$op\")\"; fi\n"
	"[ -f \"$d/crash-$op\" ] && crash\n"
	"[ -f \"$d/garbage-$op\" ] && garbage\n"
	"if [ -f \"$d/reply-$op\" ]; then cat \"$d/reply-$op\"; else\n"
	"case $op in\n"
	"describe) echo '{\"versions\": [1], \"operations\": "
	"[\"resource.allocate\", \"resource.destroy\", \"exec\"]}' ;;\n"
	"resource.allocate) echo '{\"id\": \"thing\", \"attributes\": "
	"{\"size\": 3}}' ;;\n"
	"*) echo '{}' ;;\n"
	"esac; fi\n"
	"echo \"ok $op $key\" >>\"$d/calls\"\n";

struct fx {
	struct test_env env;
	char prog[PATH_MAX + 16];
	/*
	 * The hook whose deadline is 0.5 s, for a test's hang; the
	 * others have SLOW_LOAD_TIMEOUT, so that a provider slow to start
	 * on a loaded machine (a sanitizer's build, two cores busy) is not
	 * taken for one that hangs.
	 */
	const char *slow_hook;
};

#define SLOW_LOAD_TIMEOUT 20.0

static void put(struct fx *x, const char *name, const char *text)
{
	char path[PATH_MAX + 64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", x->env.dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The request the provider saved for `op` (a new reference). */
static json_t *request_of(struct fx *x, const char *op)
{
	char path[PATH_MAX + 64];
	json_t *j;

	snprintf(path, sizeof(path), "%s/req-%s.json", x->env.dir, op);
	j = json_load_file(path, 0, NULL);
	assert_non_null(j);
	return j;
}

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));

	test_env_init(&x->env);
	snprintf(x->prog, sizeof(x->prog), "%s/p.sh", x->env.dir);
	put(x, "p.sh", provider);
	assert_int_equal(chmod(x->prog, 0700), 0);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;

	test_env_release(&x->env);
	free(x);
	return 0;
}

static json_t *config(struct fx *x)
{
	json_t *c = json_pack("{s:s, s:[s], s:{s:s}, s:{s:f}, s:i, s:i}",
			      "resource_type", "thing", "command", x->prog,
			      "settings", "image", "debian", "timeouts",
			      "activate_resource", SLOW_LOAD_TIMEOUT, "grace",
			      0, "limit", 2);

	if (x->slow_hook)
		json_object_set_new(json_object_get(c, "timeouts"),
				    x->slow_hook, json_real(0.5));
	return c;
}

/* Validate with the provider answering describe with `reply`. */
static int validate(struct fx *x, const char *reply, struct dd_error *err)
{
	json_t *c = config(x);
	int rc;

	if (reply)
		put(x, "reply-describe", reply);
	rc = dd_bp_validate(&dd_exec_blueprint_type, c, err);
	json_decref(c);
	return rc;
}

static void test_describe(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	char path[PATH_MAX + 32];
	json_t *req;

	assert_ok(validate(x, NULL, &err), &err);
	req = request_of(x, "describe");
	assert_string_equal(json_string_value(json_object_get(req, "operation")),
			    "describe");
	assert_int_equal(json_integer_value(json_array_get(
				 json_object_get(req, "versions"), 0)),
			 1);
	json_decref(req);
	/* the highest version both speak is taken */
	assert_ok(validate(x,
			   "{\"versions\": [0, 1, 2], \"operations\": "
			   "[\"resource.allocate\", \"resource.destroy\"]}",
			   &err),
		  &err);

	assert_int_equal(validate(x,
				  "{\"versions\": [2, 3], \"operations\": "
				  "[\"resource.allocate\", "
				  "\"resource.destroy\"]}",
				  &err),
			 DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "speaks protocol versions 2, 3; "
					"drydock speaks 1"));
	assert_int_equal(validate(x,
				  "{\"versions\": [1], \"operations\": "
				  "[\"resource.allocate\"]}",
				  &err),
			 DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "does not implement "
					"resource.destroy, which every "
					"provider must"));
	assert_int_equal(validate(x, "{\"versions\": 1}", &err),
			 DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "needs 'versions' and 'operations'"));
	assert_int_equal(validate(x, "not json", &err), DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "failed on describe: its reply is "
					"not a JSON object: 'not json"));
	assert_int_equal(validate(x, "{} {}", &err), DD_ERR_INVALID);
	assert_int_equal(validate(x, "{\"error\": \"no licence\"}", &err),
			 DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "failed on describe: no licence"));

	put(x, "exit-describe", "3");
	assert_int_equal(validate(x, NULL, &err), DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "failed on describe: exit status 3; "
					"stderr: it went wrong"));
	snprintf(path, sizeof(path), "%s/exit-describe", x->env.dir);
	assert_int_equal(unlink(path), 0);
	put(x, "crash-describe", "");
	assert_int_equal(validate(x, NULL, &err), DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "failed on describe: killed by "
					"signal 11; stderr: about to crash"));
	snprintf(path, sizeof(path), "%s/crash-describe", x->env.dir);
	assert_int_equal(unlink(path), 0);
	assert_ok(validate(x, "{\"versions\": [1], \"operations\": "
			      "[\"resource.allocate\", "
			      "\"resource.destroy\"]}",
			   &err),
		  &err);
}

static void test_missing_program(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	json_t *c = config(x);

	json_array_set_new(json_object_get(c, "command"), 0,
			   json_string("/nonexistent/provider"));
	assert_int_equal(dd_bp_validate(&dd_exec_blueprint_type, c, &err),
			 DD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "cannot run provider "
					"'/nonexistent/provider': No such "
					"file or directory"));
	json_decref(c);
}

/* A blueprint, a lease on it driven to its end by a worker: the lease id. */
static long long lease_on(struct fx *x, struct dd_worker *w)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease_request req = {.type = "thing", .owner = "test"};
	struct dd_lease l = {0};
	json_t *c = config(x);
	long long id;

	assert_ok(dd_api_blueprint_create(x->env.store, "exec", "things", c,
					  true, NULL, &err),
		  &err);
	json_decref(c);
	assert_ok(dd_worker_init(w, x->env.path, "t", &err), &err);
	assert_ok(dd_api_lease_create(x->env.store, &req, &l, &err), &err);
	id = l.id;
	dd_lease_release(&l);
	assert_ok(dd_worker_drain(w, 100, &err), &err);
	return id;
}

static void test_lifecycle(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_worker w;
	struct dd_lease l = {0};
	struct dd_resource r = {0};
	json_t *req, *res;
	char key[64];

	assert_ok(dd_store_lease_get(x->env.store, lease_on(x, &w), &l, &err),
		  &err);
	assert_int_equal(l.status, DD_LEASE_ACTIVE);
	assert_ok(dd_store_resource_get(x->env.store, l.resource, &r, &err),
		  &err);
	assert_string_equal(r.type, "thing");
	assert_non_null(json_string_value(json_object_get(r.attributes, "key")));
	snprintf(key, sizeof(key), "%s",
		 json_string_value(json_object_get(r.attributes, "key")));
	/* dd-BLUEPRINT- and 16 hex digits */
	assert_int_equal(strlen(key), strlen("dd-1-") + 16);
	assert_int_equal(strncmp(key, "dd-1-", 5), 0);
	assert_int_equal(strspn(key + 5, "0123456789abcdef"), 16);
	assert_string_equal(json_string_value(json_object_get(r.attributes,
							      "provider_id")),
			    "thing");
	assert_int_equal(json_integer_value(json_object_get(r.attributes,
							    "protocol")),
			 1);

	req = request_of(x, "resource.allocate");
	assert_int_equal(json_integer_value(json_object_get(req, "protocol")),
			 1);
	res = json_object_get(req, "resource");
	assert_string_equal(json_string_value(json_object_get(res, "key")),
			    key);
	assert_true(json_is_null(json_object_get(res, "provider_id")));
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(req, "blueprint"),
					"settings"),
			"image")),
		"debian");
	json_decref(req);

	assert_ok(dd_api_send(x->env.store,
			      (struct dd_ref){DD_OBJ_RESOURCE, r.id},
			      "release", "test", NULL, NULL, &err),
		  &err);
	assert_ok(dd_worker_drain(&w, 100, &err), &err);
	dd_resource_release(&r);
	assert_ok(dd_store_resource_get(x->env.store, l.resource, &r, &err),
		  &err);
	assert_int_equal(r.status, DD_RESOURCE_DESTROYED);
	/* destroy gets back the key, the id and the attributes */
	req = request_of(x, "resource.destroy");
	res = json_object_get(req, "resource");
	assert_string_equal(json_string_value(json_object_get(res, "key")),
			    key);
	assert_string_equal(
		json_string_value(json_object_get(res, "provider_id")),
		"thing");
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(res, "attributes"), "size")),
			 3);
	json_decref(req);
	dd_resource_release(&r);
	dd_lease_release(&l);
	dd_worker_release(&w);
}

static void test_allocate_fails(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_worker w;
	struct dd_resource r = {0};
	struct dd_log_entry_list logs = {0};
	struct dd_filter f = {0};
	bool found = false;
	json_t *req;

	put(x, "exit-resource.allocate", "4");
	lease_on(x, &w);
	assert_ok(dd_store_resource_get(x->env.store, 1, &r, &err), &err);
	assert_int_equal(r.status, DD_RESOURCE_DESTROYED);
	f.resource = 1;
	assert_ok(dd_store_log_list(x->env.store, &f, &logs, &err), &err);
	for (size_t i = 0; i < logs.n; i++) {
		const char *reason = json_string_value(
			json_object_get(logs.items[i].data, "reason"));

		if (!strcmp(logs.items[i].type, "resource.broken") &&
		    strstr(reason, "failed on resource.allocate: exit status "
				   "4; stderr: it went wrong"))
			found = true;
	}
	assert_true(found);
	/* destroyed, with the key, although allocate never answered */
	req = request_of(x, "resource.destroy");
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(req, "resource"), "key")),
		json_string_value(json_object_get(r.attributes, "key")));
	assert_true(json_is_null(json_object_get(
		json_object_get(req, "resource"), "provider_id")));
	json_decref(req);
	dd_log_entry_list_release(&logs);
	dd_resource_release(&r);
	dd_worker_release(&w);
}

static void test_allocate_hangs(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_worker w;
	struct dd_resource r = {0};
	struct dd_log_entry_list logs = {0};
	struct dd_filter f = {0};
	bool found = false;
	json_t *req;

	x->slow_hook = "activate_resource";
	put(x, "sleep-resource.allocate", "");
	lease_on(x, &w);
	assert_ok(dd_store_resource_get(x->env.store, 1, &r, &err), &err);
	assert_int_equal(r.status, DD_RESOURCE_DESTROYED);
	f.resource = 1;
	assert_ok(dd_store_log_list(x->env.store, &f, &logs, &err), &err);
	for (size_t i = 0; i < logs.n; i++)
		if (!strcmp(logs.items[i].type, "resource.broken") &&
		    !strcmp(json_string_value(json_object_get(
				    logs.items[i].data, "reason")),
			    "activate_resource timed out after 0.5 s"))
			found = true;
	assert_true(found);
	req = request_of(x, "resource.destroy");
	json_decref(req);
	dd_log_entry_list_release(&logs);
	dd_resource_release(&r);
	dd_worker_release(&w);
}

/* Lines in the file `name` of the provider's directory. */
static int lines(struct fx *x, const char *name)
{
	char path[PATH_MAX + 64], buf[256];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", x->env.dir, name);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(buf, sizeof(buf), f))
		n++;
	fclose(f);
	return n;
}

/*
 * A provider with resource.activate: the allocate's answer is saved
 * before activate is called (so it is asked once), and "retry_after"
 * makes drydock ask again later, keeping the attributes meanwhile.
 */
static void test_activate_later(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_worker w;
	struct dd_resource r = {0};
	struct dd_log_entry_list logs = {0};
	struct dd_filter f = {0};
	double give_up = dd_monotonic() + 30;
	bool waited = false;
	json_t *req;

	put(x, "reply-describe",
	    "{\"versions\": [1], \"operations\": [\"resource.allocate\", "
	    "\"resource.activate\", \"resource.destroy\"]}");
	put(x, "once-resource.activate",
	    "{\"retry_after\": 0.2, \"attributes\": {\"booting\": true}}");
	lease_on(x, &w);
	for (;;) {
		assert_ok(dd_store_resource_get(x->env.store, 1, &r, &err),
			  &err);
		if (r.status != DD_RESOURCE_PENDING)
			break;
		/* while it waits, what the provider said is stored */
		if (json_is_true(json_object_get(
			    json_object_get(r.attributes, "provider"),
			    "booting")))
			waited = true;
		dd_resource_release(&r);
		assert_true(dd_monotonic() < give_up);
		usleep(50000);
		assert_ok(dd_worker_drain(&w, 100, &err), &err);
	}
	assert_int_equal(r.status, DD_RESOURCE_ACTIVE);
	assert_true(waited);
	assert_int_equal(lines(x, "count-resource.allocate"), 1);
	/* the allocate's answer was in the store before activate ran */
	{
		char path[PATH_MAX + 16], seen[4096] = "";
		FILE *fs;

		snprintf(path, sizeof(path), "%s/seen", x->env.dir);
		fs = fopen(path, "r");
		assert_non_null(fs);
		assert_non_null(fgets(seen, sizeof(seen), fs));
		fclose(fs);
		assert_non_null(strstr(seen, "\"provider_id\":\"thing\""));
	}
	assert_int_equal(lines(x, "count-resource.activate"), 2);
	/* the second activate was handed what the first answered */
	req = request_of(x, "resource.activate");
	assert_true(json_is_true(json_object_get(
		json_object_get(json_object_get(req, "resource"), "attributes"),
		"booting")));
	json_decref(req);
	f.resource = 1;
	assert_ok(dd_store_log_list(x->env.store, &f, &logs, &err), &err);
	assert_true(logs.n > 0);
	dd_log_entry_list_release(&logs);
	dd_resource_release(&r);
	dd_worker_release(&w);
}

/*
 * lease.acquire refusing the lease on resource 1: the lease is not placed
 * there, another resource is built and takes it, and the provider is
 * handed the lease.
 */
static void test_acquire_refused(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_worker w;
	struct dd_lease l = {0};
	struct dd_filter f = {0};
	struct dd_resource_list rs = {0};
	long long id;
	double give_up = dd_monotonic() + 30;
	json_t *req;

	put(x, "reply-describe",
	    "{\"versions\": [1], \"operations\": [\"resource.allocate\", "
	    "\"resource.destroy\", \"lease.acquire\"]}");
	put(x, "reply-lease.acquire", "{\"accept\": true}");
	put(x, "refuse-lease.acquire", "\"resource\":{\"id\":1,");
	id = lease_on(x, &w);
	for (;;) {
		assert_ok(dd_store_lease_get(x->env.store, id, &l, &err), &err);
		if (l.status == DD_LEASE_ACTIVE)
			break;
		dd_lease_release(&l);
		assert_true(dd_monotonic() < give_up);
		usleep(50000);
		assert_ok(dd_worker_drain(&w, 100, &err), &err);
	}
	assert_true(lines(x, "count-lease.acquire") >= 2);
	assert_int_equal(l.resource, 2);
	/* refused on the first resource, so a second one was built */
	assert_ok(dd_store_resource_list(x->env.store, &f, &rs, &err), &err);
	assert_int_equal(rs.n, 2);
	dd_resource_list_release(&rs);
	req = request_of(x, "lease.acquire");
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(req, "lease"), "id")),
			 id);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(req, "lease"), "owner")),
			    "test");
	json_decref(req);
	dd_lease_release(&l);
	dd_worker_release(&w);
}

/*
 * Is there a log entry of `type` about the object (resource or lease
 * `id`) whose data, as JSON text, holds `text`?
 */
static bool logged(struct fx *x, bool lease, long long id, const char *type,
		   const char *text)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_log_entry_list logs = {0};
	struct dd_filter f = {0};
	bool found = false;

	if (lease)
		f.lease = id;
	else
		f.resource = id;
	assert_ok(dd_store_log_list(x->env.store, &f, &logs, &err), &err);
	for (size_t i = 0; i < logs.n && !found; i++) {
		char *data = json_dumps(logs.items[i].data, JSON_COMPACT);

		if (!strcmp(logs.items[i].type, type) && data &&
		    strstr(data, text))
			found = true;
		free(data);
	}
	if (!found)
		for (size_t i = 0; i < logs.n; i++) {
			char *data = json_dumps(logs.items[i].data, 0);

			print_message("  log: %s %s\n", logs.items[i].type,
				      data ? data : "");
			free(data);
		}
	dd_log_entry_list_release(&logs);
	return found;
}

/*
 * resource.destroy answering "not yet, ask again in 0.2 s": the resource
 * stays released, in progress (its destroy_resource, logged once) with
 * what the provider said, and is destroyed by the next call, which is
 * handed those attributes back.
 */
static void test_destroy_later(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_worker w;
	struct dd_resource r = {0};
	double give_up = dd_monotonic() + 30;
	bool waited = false;
	json_t *req;

	put(x, "once-resource.destroy",
	    "{\"retry_after\": 0.2, \"attributes\": {\"stopping\": true}}");
	lease_on(x, &w);
	assert_ok(dd_api_send(x->env.store, (struct dd_ref){DD_OBJ_RESOURCE, 1},
			      "release", "test", NULL, NULL, &err),
		  &err);
	for (;;) {
		assert_ok(dd_worker_drain(&w, 100, &err), &err);
		assert_ok(dd_store_resource_get(x->env.store, 1, &r, &err),
			  &err);
		if (r.status == DD_RESOURCE_DESTROYED)
			break;
		/* while it waits, what the provider said is stored */
		if (!strcmp(r.progress.hook, "destroy_resource") &&
		    json_is_true(json_object_get(
			    json_object_get(r.attributes, "provider"),
			    "stopping")))
			waited = true;
		dd_resource_release(&r);
		assert_true(dd_monotonic() < give_up);
		usleep(50000);
	}
	dd_resource_release(&r);
	dd_worker_release(&w);
	assert_true(waited);
	assert_int_equal(lines(x, "count-resource.destroy"), 2);
	req = request_of(x, "resource.destroy");
	assert_true(json_is_true(json_object_get(
		json_object_get(json_object_get(req, "resource"), "attributes"),
		"stopping")));
	json_decref(req);
	assert_true(logged(x, false, 1, "resource.in-progress",
			   "\"hook\":\"destroy_resource\""));
	assert_false(logged(x, false, 1, "resource.destroy-failure", ""));
}

/* Lines of the provider's call log that are exactly `line`. */
static int calls(struct fx *x, const char *line)
{
	char path[PATH_MAX + 16], buf[256];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/calls", x->env.dir);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(buf, sizeof(buf), f)) {
		buf[strcspn(buf, "\n")] = '\0';
		n += !strcmp(buf, line);
	}
	fclose(f);
	return n;
}

/*
 * Nothing leaked: every resource the store has that is destroyed was
 * destroyed by the provider exactly once (a success on its key), and
 * every other one not at all; and every key the provider was told about
 * is a resource the store has.
 */
static void assert_no_leak(struct fx *x)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_resource_list rs = {0};
	struct dd_filter f = {0};
	char path[PATH_MAX + 16], buf[256];
	FILE *fp;

	assert_ok(dd_store_resource_list(x->env.store, &f, &rs, &err), &err);
	for (size_t i = 0; i < rs.n; i++) {
		const char *key = json_string_value(
			json_object_get(rs.items[i].attributes, "key"));
		char line[128];

		assert_non_null(key);
		snprintf(line, sizeof(line), "ok resource.destroy %s", key);
		assert_int_equal(calls(x, line),
				 rs.items[i].status == DD_RESOURCE_DESTROYED);
	}
	snprintf(path, sizeof(path), "%s/calls", x->env.dir);
	fp = fopen(path, "r");
	while (fp && fgets(buf, sizeof(buf), fp)) {
		const char *key = strrchr(buf, ' ') + 1;
		bool known = false;

		buf[strcspn(buf, "\n")] = '\0';
		if (!strncmp(buf, "describe", 8) ||
		    !strncmp(buf, "ok describe", 11))
			continue;
		for (size_t i = 0; i < rs.n; i++)
			if (!strcmp(key, json_string_value(json_object_get(
						 rs.items[i].attributes, "key"))))
				known = true;
		if (!known)
			print_message("a key no resource has: %s\n", buf);
		assert_true(known);
	}
	if (fp)
		fclose(fp);
	dd_resource_list_release(&rs);
}

/* Drain `w` until `done` says so (a generous deadline). */
static void drain_until(struct fx *x, struct dd_worker *w,
			bool (*done)(struct fx *x, void *arg), void *arg)
{
	struct dd_error err = DD_ERROR_INIT;
	double give_up = dd_monotonic() + 60;

	while (!done(x, arg)) {
		if (dd_monotonic() > give_up) {
			logged(x, true, 1, "-", "-");
			logged(x, false, 1, "-", "-");
		}
		assert_true(dd_monotonic() < give_up);
		usleep(20000);
		assert_ok(dd_worker_drain(w, 100, &err), &err);
	}
}

static bool resource_is(struct fx *x, void *arg)
{
	const long long *want = arg; /* {id, status} */
	struct dd_error err = DD_ERROR_INIT;
	struct dd_resource r = {0};
	bool is;

	assert_ok(dd_store_resource_get(x->env.store, want[0], &r, &err),
		  &err);
	is = (long long)r.status == want[1];
	dd_resource_release(&r);
	return is;
}

static bool lease_is(struct fx *x, void *arg)
{
	const long long *want = arg; /* {id, status} */
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease l = {0};
	bool is;

	assert_ok(dd_store_lease_get(x->env.store, want[0], &l, &err), &err);
	is = (long long)l.status == want[1];
	dd_lease_release(&l);
	return is;
}

/* Each way a provider fails an operation, and the reason that says so. */
static const struct {
	const char *file; /* its file, before "-OPERATION" */
	const char *content;
	const char *reason; /* after "failed on OPERATION: " */
} failures[] = {
	{"exit", "4", "exit status 4; stderr: it went wrong"},
	{"crash", "", "killed by signal 11; stderr: about to crash"},
	{"garbage", "", "its reply is not a JSON object: 'this is not JSON {"},
};
#define NFAILURES (sizeof(failures) / sizeof(*failures))

/* Make the provider fail `op` the i-th way (or hang, for i == NFAILURES). */
static void fail_op(struct fx *x, size_t i, const char *op)
{
	char name[64];

	snprintf(name, sizeof(name), "%s-%s",
		 i < NFAILURES ? failures[i].file : "sleep", op);
	put(x, name, i < NFAILURES ? failures[i].content : "");
}

/* The reason a failure of `op` the i-th way gives (hook: its deadline). */
static void reason_of(size_t i, const char *op, const char *hook, char *buf,
		      size_t size)
{
	if (i < NFAILURES)
		snprintf(buf, size, "failed on %s: %s", op,
			 failures[i].reason);
	else
		snprintf(buf, size, "%s timed out after 0.5 s", hook);
}

/* A fresh store and provider (a test that loops over ways of failing). */
static void renew(void **state)
{
	teardown(state);
	setup(state);
}

static const char all_ops[] =
	"{\"versions\": [1], \"operations\": [\"resource.allocate\", "
	"\"resource.activate\", \"resource.destroy\", \"lease.acquire\", "
	"\"lease.activate\", \"lease.release\", \"lease.destroy\", "
	"\"exec\"]}";

/*
 * resource.activate failing each way (and hanging past its deadline): the
 * resource is broken with the reason, its stderr is in its log, and it
 * is destroyed once, as every resource built for the lease.
 */
static void test_resource_activate_fails(void **state)
{
	for (size_t i = 0; i <= NFAILURES; i++) {
		struct fx *x = *state;
		struct dd_worker w;
		long long destroyed[] = {1, DD_RESOURCE_DESTROYED};
		char reason[256];

		x->slow_hook = i == NFAILURES ? "activate_resource" : NULL;
		put(x, "reply-describe", all_ops);
		fail_op(x, i, "resource.activate");
		lease_on(x, &w);
		drain_until(x, &w, resource_is, destroyed);
		reason_of(i, "resource.activate", "activate_resource", reason,
			  sizeof(reason));
		assert_true(logged(x, false, 1, "resource.broken", reason));
		/* a hang's stderr is logged all the same */
		if (i == NFAILURES)
			assert_true(logged(x, false, 1, "provider.stderr",
					   "sleeping"));
		assert_no_leak(x);
		dd_worker_release(&w);
		renew(state);
	}
}

/*
 * lease.activate failing each way: the lease is broken with the reason
 * (its stderr in the log), lease.destroy still runs for it, and the
 * resource stays active, with nothing leaked once it is released.
 */
static void test_lease_activate_fails(void **state)
{
	for (size_t i = 0; i <= NFAILURES; i++) {
		struct fx *x = *state;
		struct dd_error err = DD_ERROR_INIT;
		struct dd_worker w;
		long long id, gone[] = {1, DD_RESOURCE_DESTROYED};
		long long destroyed[] = {0, DD_LEASE_DESTROYED};
		char reason[256];

		x->slow_hook = i == NFAILURES ? "activate_lease" : NULL;
		put(x, "reply-describe", all_ops);
		put(x, "reply-lease.acquire", "{\"accept\": true}");
		fail_op(x, i, "lease.activate");
		id = lease_on(x, &w);
		destroyed[0] = id;
		drain_until(x, &w, lease_is, destroyed);
		reason_of(i, "lease.activate", "activate_lease", reason,
			  sizeof(reason));
		assert_true(logged(x, true, id, "lease.activation-failure",
				   reason));
		if (i == NFAILURES)
			assert_true(logged(x, true, id, "provider.stderr",
					   "sleeping"));
		assert_true(resource_is(x, (long long[]){1,
							 DD_RESOURCE_ACTIVE}));
		/* the broken lease was destroyed, with the provider's help */
		assert_int_equal(lines(x, "count-lease.destroy"), 1);
		assert_ok(dd_api_send(x->env.store,
				      (struct dd_ref){DD_OBJ_RESOURCE, 1},
				      "release", "test", NULL, NULL, &err),
			  &err);
		drain_until(x, &w, resource_is, gone);
		assert_no_leak(x);
		dd_worker_release(&w);
		renew(state);
	}
}

/* Stop failing `op` the i-th way. */
static void unfail_op(struct fx *x, size_t i, const char *op)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s-%s", x->env.dir,
		 i < NFAILURES ? failures[i].file : "sleep", op);
	assert_int_equal(unlink(path), 0);
}

static bool called_4_times(struct fx *x, void *arg)
{
	char name[64];

	snprintf(name, sizeof(name), "count-%s", (const char *)arg);
	return lines(x, name) >= 4;
}

/*
 * A teardown call (resource.destroy, lease.release, lease.destroy) that
 * keeps failing, each way: the object stays released, each failure is
 * on its log with the reason, and it is retried with backoff past the
 * task queue's max_failures (here 2: a task that failed for good would
 * never be tried again), never dropped; once the provider works again
 * it is destroyed, and every resource exactly once.
 */
static void test_teardown_fails(void **state)
{
	static const struct {
		const char *op, *hook, *log;
		bool lease;
	} calls_[] = {
		{"resource.destroy", "destroy_resource",
		 "resource.destroy-failure", false},
		{"lease.release", "release_lease", "lease.destroy-failure",
		 true},
		{"lease.destroy", "destroy_lease", "lease.destroy-failure",
		 true},
	};

	for (size_t c = 0; c < sizeof(calls_) / sizeof(*calls_); c++)
		for (size_t i = 0; i <= NFAILURES; i++) {
			struct fx *x = *state;
			struct dd_error err = DD_ERROR_INIT;
			struct dd_worker w;
			struct dd_resource r = {0};
			long long id, rgone[] = {1, DD_RESOURCE_DESTROYED};
			long long lgone[] = {0, DD_LEASE_DESTROYED};
			char reason[256], line[128];
			const char *op = calls_[c].op;

			x->slow_hook = i == NFAILURES ? calls_[c].hook : NULL;
			put(x, "reply-describe", all_ops);
			put(x, "reply-lease.acquire", "{\"accept\": true}");
			id = lease_on(x, &w);
			w.topt.max_failures = 2;
			w.topt.backoff_base = 0.01;
			w.topt.backoff_max = 0.05;
			fail_op(x, i, op);
			assert_ok(dd_api_send(x->env.store,
					      (struct dd_ref){
						      calls_[c].lease
							      ? DD_OBJ_LEASE
							      : DD_OBJ_RESOURCE,
						      calls_[c].lease ? id : 1},
					      "release", "test", NULL, NULL,
					      &err),
				  &err);
			drain_until(x, &w, called_4_times, (void *)op);
			if (calls_[c].lease)
				assert_true(lease_is(
					x, (long long[]){id, DD_LEASE_RELEASED}));
			else
				assert_true(resource_is(
					x, (long long[]){1,
							 DD_RESOURCE_RELEASED}));
			reason_of(i, op, calls_[c].hook, reason,
				  sizeof(reason));
			assert_true(logged(x, calls_[c].lease,
					   calls_[c].lease ? id : 1,
					   calls_[c].log, reason));
			unfail_op(x, i, op);
			if (calls_[c].lease) {
				lgone[0] = id;
				drain_until(x, &w, lease_is, lgone);
				assert_ok(dd_api_send(
						  x->env.store,
						  (struct dd_ref){
							  DD_OBJ_RESOURCE, 1},
						  "release", "test", NULL,
						  NULL, &err),
					  &err);
			}
			drain_until(x, &w, resource_is, rgone);
			assert_ok(dd_store_resource_get(x->env.store, 1, &r,
							&err),
				  &err);
			snprintf(line, sizeof(line), "ok %s %s", op,
				 json_string_value(json_object_get(
					 r.attributes, "key")));
			assert_int_equal(calls(x, line), 1);
			dd_resource_release(&r);
			assert_no_leak(x);
			dd_worker_release(&w);
			renew(state);
		}
}

/*
 * lease.acquire failing each way: the lease stays pending with the
 * reason on its log, its update is retried with backoff, and once the
 * provider answers the lease goes on the resource; nothing leaked.
 */
static void test_acquire_fails(void **state)
{
	for (size_t i = 0; i < NFAILURES; i++) {
		struct fx *x = *state;
		struct dd_error err = DD_ERROR_INIT;
		struct dd_worker w;
		long long id, active[] = {0, DD_LEASE_ACTIVE};
		long long gone[] = {1, DD_RESOURCE_DESTROYED};
		char reason[256];

		put(x, "reply-describe", all_ops);
		put(x, "reply-lease.acquire", "{\"accept\": true}");
		fail_op(x, i, "lease.acquire");
		id = lease_on(x, &w);
		w.topt.backoff_base = 0.01;
		w.topt.backoff_max = 0.05;
		drain_until(x, &w, called_4_times, (void *)"lease.acquire");
		assert_true(lease_is(x, (long long[]){id, DD_LEASE_PENDING}));
		reason_of(i, "lease.acquire", NULL, reason, sizeof(reason));
		assert_true(logged(x, true, id, "lease.acquire-failure",
				   reason));
		unfail_op(x, i, "lease.acquire");
		active[0] = id;
		drain_until(x, &w, lease_is, active);
		assert_ok(dd_api_send(x->env.store,
				      (struct dd_ref){DD_OBJ_RESOURCE, 1},
				      "release", "test", NULL, NULL, &err),
			  &err);
		drain_until(x, &w, resource_is, gone);
		assert_no_leak(x);
		dd_worker_release(&w);
		renew(state);
	}
}

/* Start `cat` on the lease with stdin a file holding "hello". */
struct spawn_arg {
	struct dd_store *store;
	long long lease;
	int in;
};

static int start_cat(void *arg, const struct dd_exec_io *io, pid_t *pid,
		     struct dd_error *err)
{
	struct spawn_arg *a = arg;
	struct dd_lease l = {0};
	struct dd_resource r = {0};
	struct dd_blueprint bp = {0};
	struct dd_bp_ctx ctx = {0};
	struct dd_exec_io with = *io;
	char *argv[] = {"cat", NULL};
	char *env[] = {"GREETING=hi there", NULL};
	int rc;

	assert_ok(dd_store_lease_get(a->store, a->lease, &l, err), err);
	assert_ok(dd_store_resource_get(a->store, l.resource, &r, err), err);
	assert_ok(dd_store_blueprint_get(a->store, r.blueprint, &bp, err),
		  err);
	ctx.store = a->store;
	ctx.cancel_fd = -1;
	ctx.blueprint = &bp;
	with.in = a->in;
	rc = dd_bp_spawn(&dd_exec_blueprint_type, &ctx, &r, &l, argv, env,
			 &with, pid, err);
	dd_blueprint_release(&bp);
	dd_resource_release(&r);
	dd_lease_release(&l);
	return rc;
}

static void test_exec(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_worker w;
	struct dd_exec_options o = {0};
	struct dd_exec_result res;
	struct spawn_arg a = {x->env.store, 0, -1};
	char path[PATH_MAX + 16];
	json_t *req;

	a.lease = lease_on(x, &w);
	put(x, "stdin", "hello");
	snprintf(path, sizeof(path), "%s/stdin", x->env.dir);
	a.in = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(a.in >= 0);
	o.cancel_fd = -1;
	o.out = DD_EXEC_CAPTURE;
	o.err = DD_EXEC_CAPTURE;
	o.timeout = 30;
	o.grace = 1;
	assert_ok(dd_exec_run(start_cat, &a, &o, &res, &err), &err);
	assert_int_equal(res.exit_status, 0);
	assert_int_equal(res.out.len, 5);
	assert_memory_equal(res.out.buf, "hello", 5);
	dd_exec_result_release(&res);
	close(a.in);
	req = request_of(x, "exec");
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(json_object_get(req,
								    "command"),
						    "argv"),
				    0)),
			    "cat");
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(req, "lease"), "id")),
			 a.lease);
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(req, "command"), "env"),
			"GREETING")),
		"hi there");
	json_decref(req);
	dd_worker_release(&w);
}

/*
 * The provider's exec crashing, printing what is not JSON, or hanging:
 * the command ends (killed by its signal, with its stderr; the output
 * is the command's own, passed through as it is; stopped at its
 * timeout), never waits for ever.
 */
static void test_exec_fails(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_worker w;
	struct dd_exec_options o = {0};
	struct dd_exec_result res;
	struct spawn_arg a = {x->env.store, 0, -1};
	char path[PATH_MAX + 16];

	a.lease = lease_on(x, &w);
	o.cancel_fd = -1;
	o.out = DD_EXEC_CAPTURE;
	o.err = DD_EXEC_CAPTURE;
	o.timeout = 30;
	o.grace = 1;

	put(x, "crash-exec", "");
	assert_ok(dd_exec_run(start_cat, &a, &o, &res, &err), &err);
	assert_int_equal(res.exit_status, 128 + 11);
	assert_false(res.timed_out);
	assert_non_null(strstr(res.err.buf, "about to crash"));
	dd_exec_result_release(&res);
	snprintf(path, sizeof(path), "%s/crash-exec", x->env.dir);
	assert_int_equal(unlink(path), 0);

	put(x, "garbage-exec", "");
	assert_ok(dd_exec_run(start_cat, &a, &o, &res, &err), &err);
	assert_int_equal(res.exit_status, 0);
	assert_string_equal(res.out.buf, "this is not JSON {\n");
	dd_exec_result_release(&res);
	snprintf(path, sizeof(path), "%s/garbage-exec", x->env.dir);
	assert_int_equal(unlink(path), 0);

	put(x, "sleep-exec", "");
	o.timeout = 0.5;
	o.grace = 0.5;
	assert_ok(dd_exec_run(start_cat, &a, &o, &res, &err), &err);
	assert_true(res.timed_out);
	dd_exec_result_release(&res);
	dd_worker_release(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_describe, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_missing_program, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lifecycle, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_allocate_fails, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_allocate_hangs, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_activate_later, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_destroy_later, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_acquire_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_exec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_fails, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_resource_activate_fails,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_lease_activate_fails,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_teardown_fails, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_acquire_fails, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
