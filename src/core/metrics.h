/*
 * metrics.h - the process's own counters, for GET /metrics.
 *
 * Counters only go up and live in memory: they start at zero with the
 * process, as Prometheus expects.  Figures that are state rather than
 * events (leases by status, queue depth) are read from the store when
 * scraped instead.
 */
#ifndef DD_METRICS_H
#define DD_METRICS_H

#include <stddef.h>

/* X(enum name, metric name suffix, label or NULL) */
#define DD_METRIC_MAP(X)                                                       \
	X(TASKS_RUN, "tasks_run_total", NULL)                                  \
	X(TASKS_DONE, "tasks_finished_total", "outcome=\"done\"")              \
	X(TASKS_FAILED_FOR_GOOD, "tasks_finished_total", "outcome=\"failed\"") \
	X(TASKS_YIELDED, "tasks_yielded_total", NULL)                          \
	X(TASKS_FAILED, "tasks_failed_total", NULL)                            \
	X(TASKS_FENCED, "tasks_fenced_total", NULL)                            \
	X(COMMANDS_DONE, "commands_consumed_total", "outcome=\"done\"")        \
	X(COMMANDS_IGNORED, "commands_consumed_total", "outcome=\"ignored\"")

enum dd_metric {
#define DD_METRIC_ENUM(name, metric, label) DD_METRIC_##name,
	DD_METRIC_MAP(DD_METRIC_ENUM)
#undef DD_METRIC_ENUM
	DD_METRIC_COUNT
};

void dd_metric_inc(enum dd_metric m);
unsigned long long dd_metric_get(enum dd_metric m);
const char *dd_metric_name(enum dd_metric m);
const char *dd_metric_label(enum dd_metric m);

/* The allocation latency histogram: queued -> acquired, in seconds. */
#define DD_ALLOC_BUCKETS 12
extern const double dd_alloc_bucket_bounds[DD_ALLOC_BUCKETS];
void dd_metric_observe_allocation(double seconds);
/* Cumulative counts per bucket (and +Inf last), the sum and the count. */
void dd_metric_allocation(unsigned long long counts[DD_ALLOC_BUCKETS + 1],
			  double *sum);

#endif
