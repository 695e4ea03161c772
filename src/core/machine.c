/*
 * machine.c - this machine's name (machine.h): DRYDOCK_MACHINE, else
 * /etc/machine-id, else the host name.
 */
#include "core/machine.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MACHINE_CHARS                                                          \
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:"

int dd_machine_check(const char *name, struct dd_error *err)
{
	size_t n = strlen(name);

	if (n == 0 || n > DD_MACHINE_MAX || strspn(name, MACHINE_CHARS) != n)
		return dd_error_set(err, DD_ERR_INVALID,
				    "machine name '%.80s' must be 1 to %d "
				    "letters, digits, '.', '-', '_' or ':'",
				    name, DD_MACHINE_MAX);
	return 0;
}

/* The first line of /etc/machine-id, if it is a usable name. */
static int machine_id(char *out)
{
	char line[DD_MACHINE_MAX + 2];
	FILE *f = fopen("/etc/machine-id", "r");
	bool ok;

	if (!f)
		return -1;
	ok = fgets(line, sizeof(line), f) != NULL;
	fclose(f);
	if (!ok)
		return -1;
	line[strcspn(line, "\n")] = 0;
	if (dd_machine_check(line, NULL))
		return -1;
	memcpy(out, line, strlen(line) + 1); /* checked: it fits */
	return 0;
}

int dd_machine(char *out, struct dd_error *err)
{
	const char *env = getenv("DRYDOCK_MACHINE");
	char host[256] = "";

	if (env && *env) {
		struct dd_error why = DD_ERROR_INIT;

		if (dd_machine_check(env, &why))
			return dd_error_set(err, DD_ERR_INVALID,
					    "DRYDOCK_MACHINE: %s", why.msg);
		memcpy(out, env, strlen(env) + 1);
		return 0;
	}
	if (!machine_id(out))
		return 0;
	if (gethostname(host, sizeof(host) - 1) || dd_machine_check(host, NULL))
		return dd_error_set(err, DD_ERR_INVALID,
				    "cannot tell this machine's name: no "
				    "/etc/machine-id and no usable host name; "
				    "set DRYDOCK_MACHINE");
	memcpy(out, host, strlen(host) + 1);
	return 0;
}
