/*
 * test_blueprint.c - reaching a blueprint through its handle
 * (blueprint.h: dd_bp_handle_init() and dd_bp_handle_load()), the one
 * loader the workers and the API's exec share: the type found, the hook
 * context filled, the blueprint's contents taken over, and a missing
 * blueprint or an unknown type refused the same way for both callers.
 */
#include "testutil.h"

#include <sqlite3.h>

#include "api/api.h"
#include "blueprint/blueprint.h"

/* A host blueprint "pool" and, by SQL, the same under the type "vm". */
struct fx {
	struct test_env env;
	long long pool, vm;
};

static void sql(struct fx *x, const char *stmt)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(x->env.path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, stmt, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct dd_error err = DD_ERROR_INIT;
	struct dd_blueprint bp = {0};
	json_t *cfg;

	test_env_init(&x->env);
	cfg = json_pack("{s:[{s:s}], s:s}", "hosts", "name", "a", "root",
			x->env.dir);
	assert_ok(dd_api_blueprint_create(x->env.store, "host", "pool", cfg,
					  true, &bp, &err),
		  &err);
	x->pool = bp.id;
	dd_blueprint_release(&bp);
	assert_ok(dd_api_blueprint_create(x->env.store, "host", "gone", cfg,
					  true, &bp, &err),
		  &err);
	x->vm = bp.id;
	dd_blueprint_release(&bp);
	json_decref(cfg);
	/* a type this build does not know (another version's, say) */
	sql(x, "UPDATE blueprint SET type = 'vm' WHERE name = 'gone'");
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

static void test_load_fills_the_context(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_bp_handle h;

	assert_ok(dd_bp_handle_load(&h, x->env.store, "/state", x->pool, &err),
		  &err);
	assert_ptr_equal(h.type, &dd_host_blueprint_type);
	assert_int_equal(h.bp.id, x->pool);
	assert_string_equal(h.bp.name, "pool");
	assert_ptr_equal(h.ctx.blueprint, &h.bp);
	assert_ptr_equal(h.ctx.store, x->env.store);
	assert_string_equal(h.ctx.state_dir, "/state");
	/* outside a worker: no claim to lose, and the caller's deadline */
	assert_int_equal(h.ctx.cancel_fd, -1);
	assert_true(h.ctx.deadline == 0);
	assert_non_null(json_object_get(h.ctx.blueprint->config, "hosts"));
	dd_bp_handle_release(&h);
	/* success leaves err alone */
	assert_int_equal(err.code, 0);
}

static void test_load_refusals(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_bp_handle h;
	char want[128];

	assert_int_equal(dd_bp_handle_load(&h, x->env.store, "/s", 999, &err),
			 DD_ERR_NOTFOUND);
	assert_string_equal(err.msg, "no such blueprint: 999");
	assert_int_equal(dd_bp_handle_load(&h, x->env.store, "/s", x->vm,
					   &err),
			 DD_ERR_INVALID);
	snprintf(want, sizeof(want), "blueprint %lld has unknown type 'vm'",
		 x->vm);
	assert_string_equal(err.msg, want);
}

/* init takes the blueprint's contents over, whether it succeeds or not. */
static void test_init_takes_over(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_blueprint bp = {0};
	struct dd_bp_handle h;

	assert_ok(dd_store_blueprint_get(x->env.store, x->pool, &bp, &err),
		  &err);
	assert_ok(dd_bp_handle_init(&h, &bp, x->env.store, "/s", &err), &err);
	assert_null(bp.name);
	assert_null(bp.config);
	assert_string_equal(h.bp.name, "pool");
	dd_bp_handle_release(&h);
	assert_ok(dd_store_blueprint_get(x->env.store, x->vm, &bp, &err),
		  &err);
	assert_int_equal(dd_bp_handle_init(&h, &bp, x->env.store, "/s", &err),
			 DD_ERR_INVALID);
	assert_null(bp.name);
	assert_null(bp.type);
	/* and nothing leaks: the sanitizer build checks */
}

/*
 * The API's exec (through dd_api_lease_open(), as `cp` and the API's
 * files) reaches the blueprint through the same loader as the workers:
 * an unknown type is refused with the same words.
 */
static void test_exec_uses_the_loader(void **state)
{
	struct fx *x = *state;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_exec_options o = {.cancel_fd = -1, .null_input = true};
	struct dd_exec_result res;
	char *argv[] = {"true", NULL}, stmt[256], want[128];

	/* an active lease on a resource of the "vm" blueprint */
	snprintf(stmt, sizeof(stmt),
		 "INSERT INTO resource (id, blueprint, type, status, "
		 "attributes, created, modified) VALUES (7, %lld, 'host', 1, "
		 "'{}', 0, 0);",
		 x->vm);
	sql(x, stmt);
	sql(x, "INSERT INTO lease (id, type, status, resource, owner, "
	       "attributes, created, modified) VALUES (9, 'host', 2, 7, 't', "
	       "'{\"path\": \"/\"}', 0, 0);");
	assert_int_equal(
		dd_api_exec(x->env.store, 9, argv, NULL, &o, &res, &err),
		DD_ERR_INVALID);
	snprintf(want, sizeof(want), "blueprint %lld has unknown type 'vm'",
		 x->vm);
	assert_string_equal(err.msg, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_load_fills_the_context,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_refusals, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_init_takes_over, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_exec_uses_the_loader,
						setup, teardown),
	};

	dd_alloc_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
