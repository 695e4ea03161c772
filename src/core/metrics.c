/*
 * metrics.c - the process's counters and allocation latency histogram
 * (metrics.h), as atomics: worker threads count while the HTTP thread
 * reads them for /metrics, without a lock.
 */
#include "core/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static atomic_ullong counters[DD_METRIC_COUNT];

const double dd_alloc_bucket_bounds[DD_ALLOC_BUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1,   0.25,   0.5,   1,    5,     30,
};

static struct {
	pthread_mutex_t mu;
	unsigned long long buckets[DD_ALLOC_BUCKETS + 1]; /* not cumulative */
	double sum;
} alloc = {.mu = PTHREAD_MUTEX_INITIALIZER};

static const char *const names[] = {
#define DD_METRIC_NAME(name, metric, label) metric,
	DD_METRIC_MAP(DD_METRIC_NAME)
#undef DD_METRIC_NAME
};

static const char *const labels[] = {
#define DD_METRIC_LABEL(name, metric, label) label,
	DD_METRIC_MAP(DD_METRIC_LABEL)
#undef DD_METRIC_LABEL
};

void dd_metric_inc(enum dd_metric m)
{
	atomic_fetch_add(&counters[m], 1);
}

unsigned long long dd_metric_get(enum dd_metric m)
{
	return atomic_load(&counters[m]);
}

const char *dd_metric_name(enum dd_metric m)
{
	return names[m];
}

const char *dd_metric_label(enum dd_metric m)
{
	return labels[m];
}

void dd_metric_observe_allocation(double seconds)
{
	size_t i = 0;

	if (!isfinite(seconds) || seconds < 0)
		seconds = 0;
	while (i < DD_ALLOC_BUCKETS && seconds > dd_alloc_bucket_bounds[i])
		i++;
	pthread_mutex_lock(&alloc.mu);
	alloc.buckets[i]++;
	alloc.sum += seconds;
	pthread_mutex_unlock(&alloc.mu);
}

void dd_metric_allocation(unsigned long long counts[DD_ALLOC_BUCKETS + 1],
			  double *sum)
{
	unsigned long long run = 0;

	pthread_mutex_lock(&alloc.mu);
	for (size_t i = 0; i <= DD_ALLOC_BUCKETS; i++) {
		run += alloc.buckets[i];
		counts[i] = run;
	}
	*sum = alloc.sum;
	pthread_mutex_unlock(&alloc.mu);
}
