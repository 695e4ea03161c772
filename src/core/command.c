/*
 * command.c - names of the command kinds, generated from DD_COMMAND_MAP.
 */
#include "core/command.h"

#include <string.h>

static const char *const kind_names[DD_COMMAND_KIND_COUNT] = {
#define DD_COMMAND_NAME(name, word) [DD_CMD_##name] = word,
	DD_COMMAND_MAP(DD_COMMAND_NAME)
#undef DD_COMMAND_NAME
};

const char *dd_command_kind_name(enum dd_command_kind kind)
{
	if ((unsigned)kind >= DD_COMMAND_KIND_COUNT)
		return "unknown";
	return kind_names[kind];
}

int dd_command_kind_parse(const char *name)
{
	for (int i = 0; name && i < DD_COMMAND_KIND_COUNT; i++)
		if (!strcmp(name, kind_names[i]))
			return i;
	return -1;
}
