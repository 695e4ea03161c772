/*
 * api_leases.c - /api/v1/leases: create leases (pending, with an
 * idempotency key), list and show them (?wait= long-polls until the lease
 * gets somewhere), release and extend them (commands for the lease's
 * update worker, answered 202), run commands on them, and their logs
 * and command queues.
 */
#include "api/api.h"
#include "core/exec.h"
#include "core/input.h"
#include "core/util.h"
#include "http/api_v1.h"
#include "http/internal.h"
#include "http/objects.h"
#include "http/transfer.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const lease_list_args[] = {
	"status", "owner", "type", "resource", "limit", "cursor", NULL};
static const char *const lease_show_args[] = {"wait", "timeout", NULL};

#define LONG_POLL_MAX 60.0

/* What exec takes: arguments, and its deadline in seconds. */
#define DD_EXEC_MAX_ARGS 256
#define DD_EXEC_DEFAULT_TIMEOUT 60
#define DD_EXEC_MAX_TIMEOUT 3600

/* ---- leases -------------------------------------------------------- */

static int lease_status_parse(const char *s)
{
	return dd_lease_status_parse(s);
}

#define LEASE_STATES "pending, acquired, active, released, broken, destroyed"

/*
 * Leases and resources are read a row at a time (dd_store_*_each), so a
 * page costs the memory of what it holds, not of `limit` rows.
 */
static int visit_lease(void *arg, struct dd_lease *l, struct dd_error *err)
{
	(void)err;
	if (!dd_v1_page_room(arg))
		return 1;
	dd_v1_page_add(arg, dd_lease_to_json(l), l->id);
	return 0;
}

static int walk_leases(struct dd_store *s, const struct dd_filter *f,
		       struct dd_v1_page *p, struct dd_error *err)
{
	return dd_store_lease_each(s, f, visit_lease, p, err);
}

/*
 * A lease expiry from "until" (a time as core/input.h reads them) or "ttl"
 * (a number of seconds from now); 0 for none.  Returns false when answered.
 */
static bool expiry_fields(struct dd_http_req *r, json_t *b, double *until,
			  bool required)
{
	json_t *u = json_object_get(b, "until"), *t = json_object_get(b, "ttl");
	struct dd_error err = DD_ERROR_INIT;
	double now = dd_now();

	*until = 0;
	if (u && t) {
		dd_http_error(r, 400, "invalid",
			      "give 'until' or 'ttl', not both");
		return false;
	}
	if (u && !json_is_string(u)) {
		dd_http_error(r, 400, "invalid",
			      "'until' must be a string such as "
			      "\"2026-12-01T10:00:00Z\" or \"+2h\"");
		return false;
	}
	if (t && !json_is_number(t)) {
		dd_http_error(r, 400, "invalid",
			      "'ttl' must be a number of seconds");
		return false;
	}
	if ((u && (dd_time_parse(json_string_value(u), now, until, &err) ||
		   dd_expiry_check(*until, now, &err))) ||
	    (t && dd_duration_check(json_number_value(t), &err))) {
		dd_http_error(r, 400, "invalid", "'%s': %s",
			      u ? "until" : "ttl", err.msg);
		return false;
	}
	if (t)
		*until = now + json_number_value(t);
	else if (!u && required) {
		dd_http_error(r, 400, "invalid", "give 'until' or 'ttl'");
		return false;
	}
	return true;
}

static void lease_create(struct dd_http_req *r)
{
	static const char *const fields[] = {"type", "attributes",
					     "blueprints", "until", "ttl",
					     NULL};
	struct dd_lease_request req = {0};
	struct dd_lease l = {0};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_idem key;
	bool bad = false;
	long long id;
	json_t *b;
	int rc;

	if (!dd_http_query_known(r, dd_v1_no_args))
		return;
	if (!dd_v1_allowed(r, DD_ACTION_LEASE_CREATE, NULL, "create leases"))
		return;
	b = dd_http_body_object(r, fields);
	if (!b)
		return;
	if (!dd_v1_idem_key(r, b, &key, &req.idem))
		goto out;
	/* a retry gets its lease even if its expiry has passed since */
	if (req.idem) {
		rc = dd_idem_find(r->store, req.idem, &id, &err);
		if (!rc)
			rc = dd_store_lease_get(r->store, id, &l, &err);
		if (!rc)
			goto created;
		if (rc != DD_ERR_NOTFOUND) {
			dd_http_fail(r, &err);
			goto out;
		}
	}
	req.type = dd_v1_get_string(r, b, "type", &bad);
	if (bad)
		goto out;
	if (!req.type) {
		dd_http_error(r, 400, "invalid",
			      "a lease needs a resource 'type', e.g. "
			      "{\"type\": \"host\"}");
		goto out;
	}
	req.attributes = json_object_get(b, "attributes");
	req.blueprints = json_object_get(b, "blueprints");
	if (req.attributes && json_is_null(req.attributes))
		req.attributes = NULL;
	if (req.blueprints && json_is_null(req.blueprints))
		req.blueprints = NULL;
	if (!expiry_fields(r, b, &req.until, false))
		goto out;
	req.owner = r->who.identity;
	if (dd_api_lease_create(r->store, &req, &l, &err)) {
		/* a blueprint the body names that does not exist: 400 */
		if (err.code == DD_ERR_NOTFOUND)
			err.code = DD_ERR_INVALID;
		dd_http_fail(r, &err);
		goto out;
	}
created:
	snprintf(r->location, sizeof(r->location), "/api/v1/leases/%lld",
		 l.id);
	dd_http_json(r, 201, dd_lease_to_json(&l));
	dd_lease_release(&l);
out:
	json_decref(b);
}

static void lease_list(struct dd_http_req *r)
{
	struct dd_filter f = {0};

	if (!dd_http_query_known(r, lease_list_args))
		return;
	if (!dd_v1_status_arg(r, lease_status_parse, LEASE_STATES,
			      &f.status_mask))
		return;
	f.owner = dd_http_query(r, "owner");
	f.type = dd_http_query(r, "type");
	f.resource = dd_v1_arg_id(r, "resource");
	if (f.resource < 0)
		return;
	if (!dd_v1_page_args(r, &f, true))
		return;
	dd_v1_walk_answer(r, &f, walk_leases);
}

/*
 * Has a lease in `now` reached `want`, or ended so that it never will?
 * Leases go pending, acquired, active, released, destroyed; broken ends a
 * lease early.
 */
bool dd_http_lease_reached(enum dd_lease_status now,
			   enum dd_lease_status want)
{
	static const int rank[] = {
		[DD_LEASE_PENDING] = 0,	 [DD_LEASE_ACQUIRED] = 1,
		[DD_LEASE_ACTIVE] = 2,	 [DD_LEASE_RELEASED] = 3,
		[DD_LEASE_BROKEN] = 3,	 [DD_LEASE_DESTROYED] = 4,
	};

	if (now == want || now == DD_LEASE_DESTROYED)
		return true;
	if (now == DD_LEASE_BROKEN) /* it ends here, then is destroyed */
		return want != DD_LEASE_DESTROYED;
	return rank[now] >= rank[want] && want != DD_LEASE_BROKEN;
}

static json_t *lease_detail(struct dd_http_req *r, const struct dd_lease *l)
{
	struct dd_ref ref = {DD_OBJ_LEASE, l->id};
	json_t *o = dd_lease_to_json(l);

	json_object_set_new(o, "releasing",
			    json_boolean(dd_http_release_queued(r->store,
								ref)));
	json_object_set_new(o, "slot_locks", dd_v1_locks_json(r->store, ref));
	return o;
}

static void lease_show(struct dd_http_req *r)
{
	const char *wait = dd_http_query(r, "wait");
	const char *tmo = dd_http_query(r, "timeout");
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease l = {0};
	char object[48];
	double timeout = 30;
	int want = -1;

	if (!dd_http_query_known(r, lease_show_args))
		return;
	if (wait) {
		want = dd_lease_status_parse(wait);
		if (want < 0)
			return dd_http_error(r, 400, "invalid",
					     "'wait' must be a lease status "
					     "(%s), not '%.64s'",
					     LEASE_STATES, wait);
	}
	if (tmo) {
		char *end;

		errno = 0;
		timeout = strtod(tmo, &end);
		if (!*tmo || *end || errno || !isfinite(timeout) ||
		    timeout < 0 || timeout > LONG_POLL_MAX)
			return dd_http_error(r, 400, "invalid",
					     "'timeout' must be a number of "
					     "seconds from 0 to %.0f",
					     LONG_POLL_MAX);
		if (want < 0)
			return dd_http_error(r, 400, "invalid",
					     "'timeout' needs 'wait'");
	}
	/* armed before the read: a change in between is not missed */
	if (want >= 0 && !r->wait_over) {
		snprintf(object, sizeof(object), "lease:%lld", r->params[0]);
		dd_http_wait(r, object, r->started + timeout);
	}
	if (dd_store_lease_get(r->store, r->params[0], &l, &err))
		return dd_http_fail(r, &err);
	if (want >= 0 && !r->wait_over &&
	    !dd_http_lease_reached(l.status, want)) {
		dd_lease_release(&l);
		return; /* parked: this runs again when the lease changes */
	}
	dd_http_json(r, 200, lease_detail(r, &l));
	dd_lease_release(&l);
}

bool dd_v1_lease_for(struct dd_http_req *r, enum dd_action a,
		     const char *what, struct dd_lease *l)
{
	struct dd_error err = DD_ERROR_INIT;
	char msg[96];

	if (dd_store_lease_get(r->store, r->params[0], l, &err)) {
		dd_http_fail(r, &err);
		return false;
	}
	snprintf(msg, sizeof(msg), "%s lease %lld, which %s owns", what, l->id,
		 l->owner ? l->owner : "nobody");
	if (!dd_v1_allowed(r, a, l->owner, msg)) {
		dd_lease_release(l);
		return false;
	}
	return true;
}

static void lease_release(struct dd_http_req *r)
{
	static const char *const fields[] = {NULL};
	struct dd_lease l = {0};
	json_t *b;

	if (!dd_http_query_known(r, dd_v1_no_args))
		return;
	if (!dd_v1_lease_for(r, DD_ACTION_LEASE_RELEASE, "release", &l))
		return;
	dd_lease_release(&l);
	b = dd_http_body_object(r, fields);
	if (!b)
		return;
	json_decref(b);
	dd_v1_send_command(r, (struct dd_ref){DD_OBJ_LEASE, r->params[0]},
			   "release", NULL);
}

static void lease_extend(struct dd_http_req *r)
{
	static const char *const fields[] = {"until", "ttl", NULL};
	struct dd_lease l = {0};
	double until;
	json_t *b, *data;

	if (!dd_http_query_known(r, dd_v1_no_args))
		return;
	if (!dd_v1_lease_for(r, DD_ACTION_LEASE_EXTEND, "extend", &l))
		return;
	dd_lease_release(&l);
	b = dd_http_body_object(r, fields);
	if (!b)
		return;
	if (expiry_fields(r, b, &until, true)) {
		data = json_pack("{s:f}", "until", until);
		dd_v1_send_command(r,
				   (struct dd_ref){DD_OBJ_LEASE, r->params[0]},
				   "extend", data);
		json_decref(data);
	}
	json_decref(b);
}

/* What exec answers; output that is not UTF-8 is repaired to fit JSON. */
static json_t *exec_result_json(const struct dd_exec_result *res)
{
	return json_pack("{s:i,s:b,s:o,s:o,s:b,s:b,s:f}", "exit_status",
			 res->exit_status, "timed_out", res->timed_out,
			 "stdout",
			 dd_json_string_lossy(res->out.buf, res->out.len),
			 "stderr",
			 dd_json_string_lossy(res->err.buf, res->err.len),
			 "stdout_truncated", res->out_truncated,
			 "stderr_truncated", res->err_truncated, "duration",
			 res->duration);
}

/*
 * An exec whose output is streamed (`"stream": true`): the program runs
 * on a transfer's thread (transfer.h), and each piece of its stdout and
 * stderr becomes a line of JSON in the answer as it comes,
 * {"stdout": "..."} or {"stderr": "..."}, the last line its end,
 * {"exit_status": N, "timed_out": B, "duration": S}.  The answer starts
 * once the program has started (a program not found is still a 400),
 * and a client that goes away stops the program.
 */
struct exec_job {
	json_t *body; /* holds argv's strings */
	char *argv[DD_EXEC_MAX_ARGS + 1];
	char *env[DD_EXEC_MAX_ENV + 1];
	struct dd_buf env_buf; /* holds env's strings */
	double timeout;
	int fd, cancel_fd;
	double deadline; /* the program's, on dd_monotonic(); 0: none */
	bool stalled;	 /* the client took nothing in time: lines dropped */
	/* a UTF-8 character cut between two reads, for the next line */
	char carry[2][4];
	size_t ncarry[2];
};

static void exec_job_free(void *arg)
{
	struct exec_job *x = arg;

	json_decref(x->body);
	dd_buf_release(&x->env_buf);
	dd_free(x);
}

/* The end of `s` up to which no UTF-8 character is cut short. */
static size_t utf8_whole(const char *s, size_t n)
{
	for (size_t k = 1; k <= 3 && k <= n; k++) {
		unsigned char c = (unsigned char)s[n - k];
		size_t len;

		if ((c & 0xc0) == 0x80)
			continue; /* a continuation byte: look further back */
		len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
		return len > k ? n - k : n;
	}
	return n;
}

/*
 * Wait for room in the pipe to the answer: false once the program's
 * deadline has passed or the job is cancelled (the client went away).
 */
static bool exec_room(struct exec_job *x)
{
	for (;;) {
		struct pollfd p[2] = {{x->fd, POLLOUT, 0},
				      {x->cancel_fd, POLLIN, 0}};
		int ms = -1, n;

		if (x->deadline) {
			double left = x->deadline - dd_monotonic();

			if (left <= 0)
				return false;
			ms = (int)(left * 1000) + 1;
		}
		n = poll(p, 2, ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || p[1].revents)
			return false;
		if (p[0].revents)
			return true; /* room, or an error the write will see */
	}
}

/*
 * One line of the answer.  The pipe does not block (exec_job_run()): this
 * runs inside dd_exec_run()'s loop, which must get back to its deadline
 * and its cancel however slowly the client reads.  So a line waits for
 * room only until either, and then it and every later line are dropped:
 * the loop stops the program, and the answer ends cut short.
 */
static void exec_line(struct exec_job *x, json_t *o)
{
	char *line = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(o);
	if (!line)
		return;
	for (size_t n = strlen(line), off = 0; off <= n && !x->stalled;) {
		ssize_t w;

		line[n] = '\n'; /* the NUL's place: one write per line */
		w = write(x->fd, line + off, n + 1 - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			x->stalled = !exec_room(x);
			continue;
		}
		if (w <= 0) {
			x->stalled = true; /* EPIPE: nobody reads any more */
			break;
		}
		off += (size_t)w;
	}
	dd_free(line);
}

static void exec_sink(void *arg, int stream, const char *buf, size_t n)
{
	struct exec_job *x = arg;
	int i = stream == 2;
	size_t have = x->ncarry[i] + n, whole;
	char *all = dd_malloc(have);

	if (!all)
		return;
	memcpy(all, x->carry[i], x->ncarry[i]);
	memcpy(all + x->ncarry[i], buf, n);
	whole = utf8_whole(all, have);
	x->ncarry[i] = have - whole;
	memcpy(x->carry[i], all + whole, x->ncarry[i]);
	if (whole)
		exec_line(x, json_pack("{s:o}", i ? "stderr" : "stdout",
				       dd_json_string_lossy(all, whole)));
	dd_free(all);
}

/* dd_exec_run()'s start: the lease's command interface; tells the
   request whether the program started. */
static int exec_job_start(void *arg, const struct dd_exec_io *io, pid_t *pid,
			  struct dd_error *err)
{
	struct dd_transfer *t = arg;
	struct exec_job *x = t->arg;
	int rc = dd_bp_spawn(t->h.bp.type, &t->h.bp.ctx, &t->h.resource,
			     &t->h.lease, x->argv, x->env, io, pid, err);

	dd_transfer_ready(t, rc, err);
	return rc;
}

static int exec_job_run(struct dd_transfer *t, int fd, int cancel_fd,
			struct dd_error *err)
{
	struct exec_job *x = t->arg;
	struct dd_exec_options o = {.timeout = x->timeout,
				    .cancel_fd = cancel_fd,
				    .null_input = true,
				    .out = DD_EXEC_STREAM,
				    .err = DD_EXEC_STREAM,
				    .sink = exec_sink,
				    .sink_arg = x};
	struct dd_exec_result res;
	int rc;

	x->fd = fd;
	x->cancel_fd = cancel_fd;
	x->deadline = x->timeout > 0 ? dd_monotonic() + x->timeout : 0;
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK))
		return dd_error_set(err, DD_ERR_IO,
				    "cannot set up the answer's pipe: %s",
				    strerror(errno));
	rc = dd_exec_run(exec_job_start, t, &o, &res, err);
	if (rc)
		return rc;
	for (int i = 0; i < 2; i++)
		if (x->ncarry[i])
			exec_line(x, json_pack("{s:o}", i ? "stderr" : "stdout",
					       dd_json_string_lossy(
						       x->carry[i],
						       x->ncarry[i])));
	exec_line(x, json_pack("{s:i,s:b,s:f}", "exit_status",
			       res.exit_status, "timed_out", res.timed_out,
			       "duration", res.duration));
	dd_exec_result_release(&res);
	return 0;
}

static void exec_stream(struct dd_http_req *r, json_t *body, char *argv[],
			char *env[], struct dd_buf *env_buf, double timeout)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_transfer *t;
	struct exec_job *x = dd_calloc(1, sizeof(*x));

	if (!x) {
		dd_http_error(r, 500, "out_of_memory", "out of memory");
		return;
	}
	x->body = json_incref(body);
	for (size_t i = 0; argv[i]; i++)
		x->argv[i] = argv[i];
	/* env's strings are in env_buf, which the job takes over */
	for (size_t i = 0; env[i]; i++)
		x->env[i] = env[i];
	x->env_buf = *env_buf;
	*env_buf = (struct dd_buf)DD_BUF_INIT;
	x->timeout = timeout;
	t = dd_transfer_new(r, "run a command on", false);
	if (!t) {
		exec_job_free(x);
		return;
	}
	t->arg = x;
	t->arg_free = exec_job_free;
	if (!dd_transfer_start(r, t, exec_job_run)) {
		dd_transfer_put(t);
		return;
	}
	if (dd_transfer_wait_ready(t, &err)) {
		dd_http_fail(r, &err);
		dd_transfer_put(t);
		return;
	}
	dd_transfer_answer(r, t, 200, "application/x-ndjson", -1);
}

static void lease_exec(struct dd_http_req *r)
{
	static const char *const fields[] = {"argv", "env", "timeout",
					     "stream", NULL};
	struct dd_lease l = {0};
	struct dd_exec_result res = {0};
	struct dd_error err = DD_ERROR_INIT;
	char *argv[DD_EXEC_MAX_ARGS + 1];
	char *env[DD_EXEC_MAX_ENV + 1] = {NULL};
	json_t *b, *a, *t, *v, *e, *stream;
	double timeout = DD_EXEC_DEFAULT_TIMEOUT;
	const char *name;
	struct dd_buf env_buf = DD_BUF_INIT;
	size_t i, n_env = 0;

	if (!dd_http_query_known(r, dd_v1_no_args))
		return;
	if (!dd_v1_lease_for(r, DD_ACTION_LEASE_EXEC, "run commands on", &l))
		return;
	dd_lease_release(&l);
	b = dd_http_body_object(r, fields);
	if (!b)
		return;
	a = json_object_get(b, "argv");
	t = json_object_get(b, "timeout");
	if (!json_is_array(a) || json_array_size(a) == 0 ||
	    json_array_size(a) > DD_EXEC_MAX_ARGS) {
		dd_http_error(r, 400, "invalid",
			      "'argv' must be a list of 1 to %d strings, "
			      "e.g. [\"make\", \"test\"]",
			      DD_EXEC_MAX_ARGS);
		goto out;
	}
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v) ||
		    strlen(json_string_value(v)) != json_string_length(v)) {
			dd_http_error(r, 400, "invalid",
				      "'argv' must hold only strings "
				      "without NUL characters");
			goto out;
		}
		argv[i] = (char *)json_string_value(v);
	}
	argv[json_array_size(a)] = NULL;
	if (!argv[0][0]) {
		dd_http_error(r, 400, "invalid", "'argv[0]' is empty");
		goto out;
	}
	/* "env": {"NAME": "VALUE"}, added to the command's environment */
	e = json_object_get(b, "env");
	if (e && (!json_is_object(e) ||
		  json_object_size(e) > DD_EXEC_MAX_ENV)) {
		dd_http_error(r, 400, "invalid",
			      "'env' must be an object of at most %d "
			      "\"NAME\": \"VALUE\" strings",
			      DD_EXEC_MAX_ENV);
		goto out;
	}
	json_object_foreach(e, name, v)
	{
		if (strchr(name, '=')) {
			dd_http_error(r, 400, "invalid",
				      "'env': bad variable name '%.64s'", name);
			goto out;
		}
		if (!json_is_string(v) ||
		    strlen(json_string_value(v)) != json_string_length(v)) {
			dd_http_error(r, 400, "invalid",
				      "'env': the value of '%.64s' must be a "
				      "string without NUL characters",
				      name);
			goto out;
		}
		if (dd_buf_addf(&env_buf, "%s=%s", name,
				json_string_value(v)) ||
		    dd_buf_add(&env_buf, "", 1)) {
			dd_http_error(r, 500, "out_of_memory", "out of memory");
			goto out;
		}
		n_env++;
	}
	for (size_t k = 0, at = 0; k < n_env; k++) {
		env[k] = env_buf.buf + at;
		at += strlen(env[k]) + 1;
	}
	if (dd_exec_env_check(env, &err)) {
		dd_http_fail(r, &err);
		goto out;
	}
	if (t) {
		timeout = json_number_value(t);
		if (!json_is_number(t) || !isfinite(timeout) || timeout <= 0 ||
		    timeout > DD_EXEC_MAX_TIMEOUT) {
			dd_http_error(r, 400, "invalid",
				      "'timeout' must be a number of seconds "
				      "greater than 0 and at most %d",
				      DD_EXEC_MAX_TIMEOUT);
			goto out;
		}
	}
	stream = json_object_get(b, "stream");
	if (stream && !json_is_boolean(stream)) {
		dd_http_error(r, 400, "invalid", "'stream' must be true or false");
		goto out;
	}
	/* the command may run for an hour: on a thread it may hold */
	if (!dd_http_long_running(r))
		goto out;
	if (json_is_true(stream)) {
		exec_stream(r, b, argv, env, &env_buf, timeout);
		goto out;
	}
	/* /dev/null as input, its own group, both streams captured */
	if (dd_api_exec(r->store, r->params[0], argv, env,
			&(struct dd_exec_options){.timeout = timeout,
						  .cancel_fd = -1,
						  .null_input = true,
						  .out = DD_EXEC_CAPTURE,
						  .err = DD_EXEC_CAPTURE},
			&res, &err)) {
		dd_http_fail(r, &err);
		goto out;
	}
	dd_http_json(r, 200, exec_result_json(&res));
	dd_exec_result_release(&res);
out:
	dd_buf_release(&env_buf);
	json_decref(b);
}

static void lease_log(struct dd_http_req *r)
{
	if (!dd_http_query_known(r, dd_v1_page_only_args))
		return;
	if (dd_v1_exists(r, DD_OBJ_LEASE))
		dd_v1_log_list(r, DD_OBJ_LEASE);
}

static void lease_commands(struct dd_http_req *r)
{
	if (!dd_http_query_known(r, dd_v1_page_only_args))
		return;
	if (dd_v1_exists(r, DD_OBJ_LEASE))
		dd_v1_command_list(r, DD_OBJ_LEASE);
}

const struct dd_http_route dd_v1_lease_routes[] = {
	{"POST", "/api/v1/leases", DD_HTTP_BEARER, lease_create, false},
	{"GET", "/api/v1/leases", DD_HTTP_BEARER, lease_list, false},
	{"GET", "/api/v1/leases/{id}", DD_HTTP_BEARER, lease_show, false},
	{"POST", "/api/v1/leases/{id}/release", DD_HTTP_BEARER,
	 lease_release, false},
	{"POST", "/api/v1/leases/{id}/extend", DD_HTTP_BEARER, lease_extend, false},
	{"POST", "/api/v1/leases/{id}/exec", DD_HTTP_BEARER, lease_exec, false},
	{"GET", "/api/v1/leases/{id}/log", DD_HTTP_BEARER, lease_log, false},
	{"GET", "/api/v1/leases/{id}/commands", DD_HTTP_BEARER,
	 lease_commands, false},
	{NULL, NULL, 0, NULL, false},
};
