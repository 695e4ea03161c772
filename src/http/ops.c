/*
 * ops.c - what operators and their monitoring ask: /livez, /readyz and
 * /metrics (Prometheus text format 0.0.4).  None of them needs a token:
 * they say nothing about who owns what, and probes rarely carry secrets.
 */
#include "blueprint/prewarm.h"
#include "core/metrics.h"
#include "core/util.h"
#include "http/http.h"
#include "http/watch.h"

#include <stdio.h>
#include <string.h>

/* The process is up and serving requests. */
static void livez(struct dd_http_req *r)
{
	dd_buf_addstr(&r->out, "ok\n");
	dd_http_text(r, 200, "text/plain; charset=utf-8");
}

/*
 * The store at its path answers, its schema is the one this build
 * expects, it is still the file this process's writers have open, and
 * nobody here has found it damaged (dd_store_health()).  This opens a
 * handle of its own, on the probe's own thread, rather than waiting for
 * one of the API's.  Every part costs a few system calls and a read of
 * the schema, whatever the size of the store: it counts no rows, and it
 * does not read the whole file to look for damage.  Damage in pages
 * nobody reads is found by the worker pool's periodic quick_check
 * (DRYDOCK_CHECK_INTERVAL), whose finding this reports, and by 'drydock
 * check'.
 */
static void readyz(struct dd_http_req *r)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store_options opt;
	struct dd_store *s = NULL;
	int current = 0, newest = 0;

	dd_store_options_from_env(&opt);
	if (dd_store_open_ready(r->store_path, &opt, &s, &err) ||
	    dd_store_schema_version(s, &current, &newest, &err) ||
	    dd_store_health(s, &err)) {
		dd_store_close(s);
		dd_buf_addf(&r->out, "store unavailable: %s\n", err.msg);
		dd_http_text(r, 503, "text/plain; charset=utf-8");
		return;
	}
	dd_store_close(s);
	dd_buf_addf(&r->out, "ok: store reachable, schema version %d\n",
		    current);
	dd_http_text(r, 200, "text/plain; charset=utf-8");
}

static void header(struct dd_buf *b, const char *name, const char *type,
		   const char *help)
{
	dd_buf_addf(b, "# HELP drydock_%s %s\n# TYPE drydock_%s %s\n", name,
		    help, name, type);
}

static void count_requests(int status, unsigned long long n, void *arg)
{
	dd_buf_addf(arg, "drydock_http_requests_total{code=\"%d\"} %llu\n",
		    status, n);
}

static const char *help_for(const char *name)
{
	if (!strcmp(name, "tasks_run_total"))
		return "Update tasks claimed and run by this process.";
	if (!strcmp(name, "tasks_finished_total"))
		return "Update tasks finished, by outcome.";
	if (!strcmp(name, "tasks_yielded_total"))
		return "Update tasks handed back to wait (not ready, or busy).";
	if (!strcmp(name, "tasks_failed_total"))
		return "Update task runs that failed (each retry counts).";
	if (!strcmp(name, "tasks_fenced_total"))
		return "Update task runs whose writes were refused because "
		       "their lock had expired.";
	return "Commands consumed, by outcome.";
}

/* A label's value, with backslash, quote and newline escaped. */
static void label_value(struct dd_buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			dd_buf_addf(b, "\\%c", *s);
		else if (*s == '\n')
			dd_buf_addstr(b, "\\n");
		else
			dd_buf_addf(b, "%c", *s);
	}
}

/*
 * Each blueprint's pool (blueprint/prewarm.h): its ready resources and
 * min_ready as gauges, what its pool built and let go as counters.  Each
 * family's samples together, as the text format wants them.
 */
static int blueprint_pools(struct dd_http_req *r, struct dd_error *err)
{
	static const struct {
		const char *name, *type, *key, *help;
	} families[] = {
		{"blueprint_ready_resources", "gauge", "ready",
		 "Resources of a blueprint that are active with no lease on "
		 "them: its pool's ready ones."},
		{"blueprint_min_ready", "gauge", "min_ready",
		 "Ready resources a blueprint keeps built ahead of demand."},
		{"blueprint_prewarmed_total", "counter", "built",
		 "Resources a blueprint's pool built ahead of demand."},
		{"blueprint_idle_destroyed_total", "counter", "destroyed",
		 "Idle resources a blueprint's pool let go (max_idle, "
		 "idle_ttl)."},
	};
	struct dd_filter f = {0};
	struct dd_blueprint_list l = {0};
	json_t **pools;
	int rc = dd_store_blueprint_list(r->store, &f, &l, err);

	if (rc)
		return rc;
	pools = dd_calloc(l.n ? l.n : 1, sizeof(*pools));
	if (!pools)
		rc = dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	for (size_t i = 0; !rc && i < l.n; i++)
		rc = dd_prewarm_status(r->store, &l.items[i], &pools[i], err);
	for (size_t k = 0; !rc && k < sizeof(families) / sizeof(*families);
	     k++) {
		header(&r->out, families[k].name, families[k].type,
		       families[k].help);
		for (size_t i = 0; i < l.n; i++) {
			dd_buf_addf(&r->out,
				    "drydock_%s{blueprint=\"%lld\",name=\"",
				    families[k].name, l.items[i].id);
			label_value(&r->out, l.items[i].name);
			dd_buf_addf(&r->out, "\"} %" JSON_INTEGER_FORMAT "\n",
				    json_integer_value(json_object_get(
					    pools[i], families[k].key)));
		}
	}
	for (size_t i = 0; pools && i < l.n; i++)
		json_decref(pools[i]);
	dd_free(pools);
	dd_blueprint_list_release(&l);
	return rc;
}

static void metrics(struct dd_http_req *r)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store_stats st;
	unsigned long long counts[DD_ALLOC_BUCKETS + 1];
	struct dd_buf *b = &r->out;
	const char *last = "";
	double now = dd_now(), sum;

	if (dd_store_stats(r->store, now, &st, &err)) {
		dd_http_fail(r, &err);
		return;
	}
	header(b, "leases", "gauge", "Leases in the store, by status.");
	for (int i = 0; i < DD_LEASE_STATUS_COUNT; i++)
		dd_buf_addf(b, "drydock_leases{status=\"%s\"} %lld\n",
			    dd_lease_status_name(i), st.leases[i]);
	header(b, "resources", "gauge", "Resources in the store, by status.");
	for (int i = 0; i < DD_RESOURCE_STATUS_COUNT; i++)
		dd_buf_addf(b, "drydock_resources{status=\"%s\"} %lld\n",
			    dd_resource_status_name(i), st.resources[i]);
	/* a failure drops what is written so far (dd_http_json()) */
	if (blueprint_pools(r, &err)) {
		dd_http_fail(r, &err);
		return;
	}
	header(b, "targets", "gauge", "Build targets in the store, by status.");
	for (int i = 0; i < DD_TARGET_STATUS_COUNT; i++)
		dd_buf_addf(b, "drydock_targets{status=\"%s\"} %lld\n",
			    dd_target_status_name(i), st.targets[i]);
	header(b, "artifacts", "gauge",
	       "Artifacts of build targets in the store, by type (a type "
	       "never stored is left out).");
	for (int i = 0; i < st.n_artifact_types; i++)
		dd_buf_addf(b, "drydock_artifacts{type=\"%s\"} %lld\n",
			    st.artifacts[i].type, st.artifacts[i].count);
	header(b, "artifact_bytes", "gauge",
	       "Bytes of file artifacts in the store, complete or not.");
	dd_buf_addf(b, "drydock_artifact_bytes %lld\n", st.artifact_bytes);
	header(b, "queue_depth", "gauge",
	       "Update tasks waiting for a worker (due now or later).");
	dd_buf_addf(b, "drydock_queue_depth %lld\n", st.tasks_queued);
	header(b, "tasks_claimed", "gauge",
	       "Update tasks claimed by a worker right now.");
	dd_buf_addf(b, "drydock_tasks_claimed %lld\n", st.tasks_claimed);
	header(b, "queue_oldest_age_seconds", "gauge",
	       "Age of the oldest due task no worker has claimed yet (0 "
	       "when none).");
	dd_buf_addf(b, "drydock_queue_oldest_age_seconds %.3f\n",
		    st.oldest_due > 0 && now > st.oldest_due
			    ? now - st.oldest_due
			    : 0.0);
	for (int m = 0; m < DD_METRIC_COUNT; m++) {
		const char *label = dd_metric_label(m);

		if (strcmp(last, dd_metric_name(m)))
			header(b, dd_metric_name(m), "counter",
			       help_for(dd_metric_name(m)));
		last = dd_metric_name(m);
		dd_buf_addf(b, "drydock_%s%s%s%s %llu\n", dd_metric_name(m),
			    label ? "{" : "", label ? label : "",
			    label ? "}" : "", dd_metric_get(m));
	}
	header(b, "allocation_seconds", "histogram",
	       "Time from a lease being queued to it acquiring a resource.");
	dd_metric_allocation(counts, &sum);
	for (int i = 0; i < DD_ALLOC_BUCKETS; i++)
		dd_buf_addf(b,
			    "drydock_allocation_seconds_bucket{le=\"%g\"} "
			    "%llu\n",
			    dd_alloc_bucket_bounds[i], counts[i]);
	dd_buf_addf(b,
		    "drydock_allocation_seconds_bucket{le=\"+Inf\"} %llu\n"
		    "drydock_allocation_seconds_sum %.6f\n"
		    "drydock_allocation_seconds_count %llu\n",
		    counts[DD_ALLOC_BUCKETS], sum, counts[DD_ALLOC_BUCKETS]);
	header(b, "store_commits_total", "counter",
	       "Transactions this process committed to the store (a group "
	       "commit's batch counts once).");
	dd_buf_addf(b, "drydock_store_commits_total %lld\n",
		    dd_store_commit_count());
	header(b, "http_requests_total", "counter",
	       "HTTP requests answered, by status code.");
	dd_http_count_requests(count_requests, b);
	header(b, "http_long_polls_waiting", "gauge",
	       "Long polls parked until their lease changes.");
	dd_buf_addf(b, "drydock_http_long_polls_waiting %zu\n",
		    dd_watch_parked());
	dd_http_text(r, 200, "text/plain; version=0.0.4; charset=utf-8");
}

const struct dd_http_route dd_ops_routes[] = {
	{"GET", "/livez", DD_HTTP_PUBLIC, livez, true},
	{"GET", "/readyz", DD_HTTP_PUBLIC, readyz, true},
	{"GET", "/metrics", DD_HTTP_PUBLIC, metrics, false},
	{NULL, NULL, 0, NULL, false},
};
