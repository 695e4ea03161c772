/*
 * objects.c - what the JSON API and the web UI both read about a lease or
 * resource beyond its row (objects.h).
 */
#include "http/objects.h"
#include "core/command.h"

bool dd_http_release_queued(struct dd_store *s, struct dd_ref target)
{
	return dd_http_command_queued(s, target, DD_CMD_RELEASE);
}

bool dd_http_command_queued(struct dd_store *s, struct dd_ref target,
			    enum dd_command_kind kind)
{
	struct dd_filter f = {.target = target, .pending_only = true};
	struct dd_command_list l = {0};
	bool found = false;

	if (dd_store_command_list(s, &f, &l, NULL))
		return false;
	for (size_t i = 0; i < l.n; i++)
		if (dd_command_kind_parse(l.items[i].kind) == (int)kind)
			found = true;
	dd_command_list_release(&l);
	return found;
}
