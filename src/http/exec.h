/*
 * exec.h - run a command on a lease for an API caller, capturing its
 * output within bounds.
 *
 * The command gets /dev/null as input and runs in a process group of its
 * own; at the deadline the whole group is killed.  Each of stdout and
 * stderr keeps its first DD_EXEC_MAX_OUTPUT bytes; the rest is read and
 * dropped, and the result says it was truncated.  Output that is not
 * UTF-8 has each bad byte replaced by U+FFFD, so it fits in JSON.
 */
#ifndef DD_HTTP_EXEC_H
#define DD_HTTP_EXEC_H

#include "core/error.h"
#include "core/util.h"
#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>

#define DD_EXEC_MAX_ARGS 256
#define DD_EXEC_MAX_OUTPUT (1024 * 1024)
#define DD_EXEC_DEFAULT_TIMEOUT 60
#define DD_EXEC_MAX_TIMEOUT 3600

struct dd_exec_result {
	int exit_status; /* 128+N when signal N ended it */
	bool timed_out;
	struct dd_buf out, err;
	bool out_truncated, err_truncated;
	double duration;
};

int dd_exec_capture(struct dd_store *s, long long lease, char *const argv[],
		    double timeout, struct dd_exec_result *res,
		    struct dd_error *err);
json_t *dd_exec_result_to_json(const struct dd_exec_result *res);
void dd_exec_result_release(struct dd_exec_result *res);

/* `s` with every byte that is not part of valid UTF-8 replaced by U+FFFD. */
json_t *dd_json_string_lossy(const char *s, size_t n);

#endif
