/*
 * api_tasks.c - GET /api/v1/tasks: the task queue, oldest first.
 */
#include "http/api_v1.h"

/* ---- tasks --------------------------------------------------------- */

static void task_list(struct dd_http_req *r)
{
	struct dd_filter f = {0};
	struct dd_task_list l = {0};
	struct dd_error err = DD_ERROR_INIT;

	if (!dd_http_query_known(r, dd_v1_page_only_args))
		return;
	if (!dd_v1_page_args(r, &f, false))
		return;
	if (dd_store_task_list(r->store, &f, &l, &err))
		return dd_http_fail(r, &err);
	DD_V1_LIST_ANSWER(r, l, f, dd_task_to_json);
	dd_task_list_release(&l);
}

const struct dd_http_route dd_v1_task_routes[] = {
	{"GET", "/api/v1/tasks", DD_HTTP_BEARER, task_list, false},
	{NULL, NULL, 0, NULL, false},
};
