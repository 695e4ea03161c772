/*
 * bench.c - drydock's benchmarks (`make bench`, `make bench-quick`).
 *
 * Each scenario starts from a fresh store in a temporary directory, a host
 * blueprint, and workers: either in this process (the library figure), a
 * separate `drydock daemon` (as users run it), or `drydock serve`.  Client
 * threads drive leases through the same library calls the CLI uses,
 * waiting on the store's wake socket, never on a fixed sleep; against
 * serve (the `api` scenario, mode `http`) they speak its JSON API over
 * loopback and wait with its long poll.  Every scenario reports request->active
 * and release->destroyed latencies, lifecycles per second, the daemon's
 * peak RSS, the store's raw commit rate (its ceiling) and how many commits
 * one lifecycle costs, and checks that every lease was released and
 * destroyed exactly once.  The `files` scenario instead sends one file
 * artifact through serve's API and back (1 GiB; 128 MiB with --quick),
 * reporting MB/s each way and how far serve's peak RSS grew.
 *
 * The `ssh` scenario times `drydock exec --lease L -- true` on a lease of
 * a remote host (tests/lib_sshd.sh's sshd, started by tests/bench/
 * sshd.sh) against plain `ssh HOST true`, with a fresh connection and
 * over a warm ControlMaster, alternating, and `drydock lease` to active
 * on the warm host.  What exec adds to the warm ssh is split by three
 * more commands in the same rotation: the plain ssh running drydock's
 * remote wrapper around `true` (what the wrapper costs), `drydock
 * --version` and `true` (what starting drydock's process costs).
 * The `run` scenario times whole commands instead: `drydock run --type
 * host -- true` end to end on a hot pool, next to `true` by itself and to
 * `drydock lease`, `exec` and `release-lease` run one after another, as a
 * CI job would without `run`; the three alternate, so a change of the
 * machine's load meets each alike.
 *
 * The `git` scenario (issue 14) generates a repository of realistic
 * size (git_repo.c) and holds the `working-copy` blueprint against git
 * run by hand: the first working copy to active against `git clone
 * --no-local`, a second one of the same repository on the same host
 * against the first, and a re-lease of a warm working copy at a new
 * commit against `git fetch && git checkout && git clean -ffdx`; every
 * lease checked at its commit on a clean tree.  A drydock without the
 * type gets only the commands by hand measured, saying why.
 *
 * On PostgreSQL (issue 13), one throwaway server for the run (tests/
 * pg_server.sh --fsync) and a fresh database per scenario: pgbench's
 * -N rate first (pg-ceiling, the ceiling), then the hot pool, the cold
 * pool and the contention with 1 and with 3 `drydock daemon`s, each
 * reported against that ceiling with the write transactions one
 * lifecycle costs the server; and pg-wake, the wake-ups between two
 * processes on one database (a release sent here -> another process's
 * daemon listener woken; a lease asked for here -> active as seen by
 * another process's watcher).
 *
 * usage: bench [--quick | --check] [--only SCENARIO] [--mode MODE] [--clients C]
 *              [--backlog N] [--workers N] [--min-ready N] [--keep]
 *              [--drydock PATH] [--out FILE]
 */
#include "api/api.h"
#include "blueprint/ssh.h"
#include "core/metrics.h"
#include "core/sha256.h"
#include "core/util.h"
#include "queue/wake.h"
#include "store/store.h"
#include "worker/pool.h"

#include "git_repo.h"
#include "http_client.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * Where the workers run and how clients reach them: in this process
 * through the library, a separate `drydock daemon` with clients on the
 * store, or `drydock serve` with clients speaking HTTP to it.
 */
enum mode { MODE_LIBRARY, MODE_PROCESS, MODE_HTTP };
static const char *const mode_names[] = {"library", "process", "http"};

struct samples {
	double *v;
	size_t n, cap;
	pthread_mutex_t mu;
};

/*
 * The `git` scenario's figures (ms, p50): by hand, `git clone
 * --no-local` and `git fetch` + `checkout` + `clean -ffdx`; drydock's
 * first and second working copy to active and its re-lease at a new
 * commit (NAN when not measured, `why` saying why).
 */
struct git_result {
	int files, commits, rounds, relets;
	long long pack_bytes;
	double generate_s;
	double clone_p50, hand_relet_p50, first_p50, second_p50, relet_p50;
	bool measured, failed; /* failed: a lease not as asked, `why` */
	bool check;	       /* --check: correctness only */
	char why[512];
};

struct result {
	const char *scenario;
	const char *mode;
	int clients, resources;
	long long existing_resources, finished_leases;
	double seconds;
	long long lifecycles;
	double p50, p95, p99, rel_p50, rel_p99;
	long peak_rss_kb;
	double ceiling;
	double commits_per_lifecycle;
	double cpu_ms_per_lifecycle; /* user + system, workers and clients */
	bool exactly_once;
	double converge_s; /* contention only */
	/* api, http mode: against the library run of the same workload */
	double vs_library_p50, vs_library_throughput;
	/* backlog: leases served before an older one, update passes run */
	long long out_of_order;
	double tasks_per_lifecycle;
	/* long-polls only */
	int long_polls, long_polls_answered, long_polls_early;
	long long long_polls_parked;
	long rss_parked_kb, threads;
	double livez_p50, livez_p99, api_p50, api_p99;
	/* files only: one file up and down through the API */
	long long file_bytes;
	double up_mbs, down_mbs;
	long rss_before_kb, rss_growth_kb;
	/* run only: `true` by itself, and lease + exec + release-lease */
	double true_p50, true_p99, hand_p50, hand_p99;
	/* prewarm: the blueprint's min_ready */
	int min_ready;
	/*
	 * ssh only: p50/p99 is drydock exec on a lease of a remote host;
	 * plain ssh with a fresh connection and over a warm ControlMaster,
	 * and drydock lease to active on the warm host; the plain ssh over
	 * the master running drydock's remote wrapper, `drydock --version`
	 * (and true_p50/true_p99: `true`)
	 */
	double fresh_p50, fresh_p99, warm_p50, warm_p99, lease_p50, lease_p99;
	double wrapper_p50, wrapper_p99, version_p50, version_p99;
	bool skipped;
	/* the store it ran on: NULL for SQLite */
	const char *backend;
	/* pg-ceiling only: the server's version ("15.18"), pgbench's count */
	char pg_version[32];
	long long pg_transactions;
	/*
	 * PostgreSQL rows: how many daemons served it, and the write
	 * transactions (those given a transaction id) the server ran in the
	 * timed part, per lifecycle
	 */
	int daemons;
	double xacts_per_lifecycle;
	/*
	 * and the CPU time (user + system) of the server's processes in the
	 * timed part, per lifecycle: with cpu_ms_per_lifecycle, what a
	 * lifecycle costs the machine, so what its cores allow at most
	 */
	double server_cpu_ms_per_lifecycle;
	/*
	 * and how often a busy backend of the scenario's database was
	 * waiting for a lock (lock_sampler): the share of lock thrash
	 */
	double lock_wait_share;
	/*
	 * pg-wake: a release sent from this process -> a daemon's listener
	 * in another process woken, and the release call itself (p50/p99:
	 * a lease asked for here -> active seen by a watcher there)
	 */
	double wake_p50, wake_p99, call_p50, call_p99;
	int strays;
	struct git_result git; /* git only */
};

static const char *drydock_bin = "build/std/drydock";
static char root[1024];
static int scenario_seq;

static void die(const char *what, const struct dd_error *err)
{
	fprintf(stderr, "bench: %s: %s\n", what, err ? err->msg : "");
	exit(1);
}

static void samples_add(struct samples *s, double v)
{
	pthread_mutex_lock(&s->mu);
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->v = realloc(s->v, s->cap * sizeof(double));
		if (!s->v)
			die("out of memory", NULL);
	}
	s->v[s->n++] = v;
	pthread_mutex_unlock(&s->mu);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(struct samples *s, double p)
{
	size_t i;

	if (!s->n)
		return NAN;
	qsort(s->v, s->n, sizeof(double), cmp_double);
	i = (size_t)(p * (double)(s->n - 1) + 0.5);
	return s->v[i] * 1000.0;
}

/* ---- the store's ceiling ------------------------------------------------ */

/* Raw single-row-update commits per second with drydock's settings. */
static double store_ceiling(const char *dir, double secs)
{
	char path[4200];
	sqlite3 *db;
	sqlite3_stmt *st;
	struct dd_store_options o;
	double start, n = 0;

	dd_store_options_from_env(&o);
	snprintf(path, sizeof(path), "%s/ceiling.db", dir);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return 0;
	sqlite3_exec(db,
		     o.durability == DD_DURABILITY_FULL
			     ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL"
			     : "PRAGMA journal_mode=WAL; PRAGMA "
			       "synchronous=NORMAL",
		     NULL, NULL, NULL);
	sqlite3_exec(db,
		     "CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER);"
		     "INSERT INTO t VALUES(1, 0)",
		     NULL, NULL, NULL);
	sqlite3_prepare_v2(db, "UPDATE t SET v = v + 1 WHERE id = 1", -1, &st,
			   NULL);
	start = dd_monotonic();
	while (dd_monotonic() - start < secs) {
		sqlite3_step(st);
		sqlite3_reset(st);
		n++;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	unlink(path);
	return n / (dd_monotonic() - start);
}

/* ---- a scenario's store and workers ----------------------------------- */

#define MAX_DAEMONS 4

/*
 * Where a scenario's store is: an SQLite file in its directory, or a
 * fresh database on the run's PostgreSQL server, served by `daemons`
 * `drydock daemon` processes (process mode).
 */
struct where {
	bool pg;
	int daemons;
};

static const struct where on_sqlite = {false, 1};

static void pg_newdb(char *location, size_t n);

struct bench {
	char dir[4096];
	char path[4200]; /* the store's location: a file, or a conninfo */
	char state_dir[4200]; /* PostgreSQL: the daemons' state directory */
	bool pg;
	enum mode mode;
	pthread_t pool_thread;
	struct dd_pool_options pool;
	int daemons;		   /* process mode: how many */
	pid_t pids[MAX_DAEMONS];   /* and theirs; serve's in pids[0] */
	pid_t daemon;		   /* the first daemon, or serve */
	char http_addr[64];  /* http mode: "127.0.0.1:PORT" */
	char http_token[64]; /* and serve's first admin token */
	long daemon_rss_kb;
	double daemon_cpu_s; /* process mode: the daemon's whole life */
	long long daemon_commits; /* its store commits, from its last word */
	long long daemon_tasks;	  /* and the tasks it ran */
};

static void *pool_main(void *arg)
{
	struct bench *b = arg;
	struct dd_error err = DD_ERROR_INIT;

	if (dd_pool_run(&b->pool, &err))
		die("worker pool", &err);
	return NULL;
}

static void bench_open_at(struct bench *b, const struct where *w,
			  enum mode mode, int hosts, int slots)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *s;
	json_t *cfg, *list = json_array();
	char hroot[4300];

	memset(b, 0, sizeof(*b));
	b->mode = mode;
	b->pg = w->pg;
	b->daemons = w->daemons > 0 && w->daemons <= MAX_DAEMONS ? w->daemons
								  : 1;
	snprintf(b->dir, sizeof(b->dir), "%s/s%d", root, ++scenario_seq);
	if (dd_mkdir_p(b->dir))
		die("mkdir", NULL);
	if (b->pg) {
		pg_newdb(b->path, sizeof(b->path));
		snprintf(b->state_dir, sizeof(b->state_dir), "%s/state",
			 b->dir);
	} else {
		snprintf(b->path, sizeof(b->path), "%s/dd.db", b->dir);
	}
	snprintf(hroot, sizeof(hroot), "%s/hosts", b->dir);
	if (dd_store_open(b->path, NULL, &s, &err) ||
	    dd_store_migrate(s, &err))
		die("create store", &err);
	for (int i = 0; i < hosts; i++) {
		char name[32];

		snprintf(name, sizeof(name), "h%d", i);
		json_array_append_new(list, json_pack("{s:s, s:i}", "name",
						      name, "slots", slots));
	}
	cfg = json_pack("{s:o, s:s}", "hosts", list, "root", hroot);
	if (dd_api_blueprint_create(s, "host", "bench", cfg, true, NULL, &err))
		die("create blueprint", &err);
	json_decref(cfg);
	dd_store_close(s);
}

static void bench_open(struct bench *b, enum mode mode, int hosts, int slots)
{
	bench_open_at(b, &on_sqlite, mode, hosts, slots);
}

/* In a child: the store's location (and state directory) in its environment. */
static void store_env(const struct bench *b)
{
	setenv("DRYDOCK_DB", b->path, 1);
	if (b->state_dir[0])
		setenv("DRYDOCK_STATE_DIR", b->state_dir, 1);
}

/* In a child: send stderr to the scenario's daemon.log (kept by --keep). */
static void log_to(const struct bench *b)
{
	char path[4300];
	int fd;

	snprintf(path, sizeof(path), "%s/daemon.log", b->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0)
		dup2(fd, 2);
}

/*
 * Start `drydock serve` on a free loopback port and read, from its
 * stdout, the address it listens on and the admin token it made.
 */
static void serve_start(struct bench *b, int workers)
{
	int out[2];
	FILE *f;
	char line[512], w[16];

	if (pipe(out))
		die("pipe", NULL);
	b->daemon = fork();
	if (b->daemon == 0) {
		snprintf(w, sizeof(w), "%d", workers);
		store_env(b);
		log_to(b);
		dup2(out[1], 1);
		close(out[0]);
		close(out[1]);
		execl(drydock_bin, drydock_bin, "serve", "--quiet", "--listen",
		      "127.0.0.1:0", "--workers", w, (char *)NULL);
		perror("bench: exec drydock serve");
		_exit(127);
	}
	b->pids[0] = b->daemon;
	close(out[1]);
	f = fdopen(out[0], "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *p;

		if (sscanf(line, " ddt_%60s", b->http_token + 4) == 1)
			memcpy(b->http_token, "ddt_", 4);
		if ((p = strstr(line, "serving http://")) &&
		    sscanf(p + 15, "%63[^/]", b->http_addr) == 1)
			break;
	}
	if (f)
		fclose(f);
	if (!b->http_addr[0] || !b->http_token[0])
		die("drydock serve did not say where it listens", NULL);
}

/* The last lines of DIR/NAME, on stderr. */
static void print_file_tail(const char *dir, const char *name)
{
	char path[4400], buf[2048];
	FILE *f;
	long size;
	size_t got;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return;
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, size > (long)sizeof(buf) - 1 ? size - (long)sizeof(buf) + 1
					      : 0,
	      SEEK_SET);
	got = fread(buf, 1, sizeof(buf) - 1, f);
	buf[got] = '\0';
	fputs(buf, stderr);
	fclose(f);
}

static void bench_start(struct bench *b, int workers)
{
	if (b->mode == MODE_LIBRARY) {
		b->pool.store_path = b->path;
		b->pool.workers = workers;
		b->pool.idle_cap = 30;
		b->pool.quiet = 1;
		pthread_create(&b->pool_thread, NULL, pool_main, b);
		return;
	}
	if (b->mode == MODE_HTTP) {
		serve_start(b, workers);
		return;
	}
	for (int d = 0; d < b->daemons; d++) {
		b->pids[d] = fork();
		if (b->pids[d] == 0) {
			char w[16];

			snprintf(w, sizeof(w), "%d", workers);
			store_env(b);
			log_to(b);
			execl(drydock_bin, drydock_bin, "daemon", "--quiet",
			      "--workers", w, (char *)NULL);
			perror("bench: exec drydock");
			_exit(127);
		}
	}
	b->daemon = b->pids[0];
	/*
	 * wait until every daemon listens, so no request goes unheard; one
	 * that exits instead is the end of the run
	 */
	for (double end = dd_monotonic() + 10;
	     dd_wake_count(b->path, DD_WAKE_DAEMON) < b->daemons;) {
		if (dd_monotonic() > end) {
			fprintf(stderr,
				"bench: %d daemons started, %d listen after "
				"10 s; going on\n",
				b->daemons,
				dd_wake_count(b->path, DD_WAKE_DAEMON));
			break;
		}
		for (int d = 0; d < b->daemons; d++) {
			int st;

			if (waitpid(b->pids[d], &st, WNOHANG) == b->pids[d]) {
				fprintf(stderr,
					"bench: drydock daemon exited at "
					"start (status %d): %s/daemon.log "
					"says:\n",
					WIFEXITED(st) ? WEXITSTATUS(st) : -1,
					b->dir);
				print_file_tail(b->dir, "daemon.log");
				exit(1);
			}
		}
		usleep(10000);
	}
}

static double cpu_seconds(const struct rusage *ru)
{
	return (double)ru->ru_utime.tv_sec + ru->ru_utime.tv_usec / 1e6 +
	       (double)ru->ru_stime.tv_sec + ru->ru_stime.tv_usec / 1e6;
}

static double self_cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return cpu_seconds(&ru);
}

/*
 * How many store commits the daemon (or serve) made in its life: it says
 * so when it stops ("... stopped: N tasks run, M store commits").
 * -1 when it did not.  The tasks it ran go to b->daemon_tasks.
 */
static long long daemon_commits(struct bench *b)
{
	char path[4300], line[512];
	long long n = 0;
	int said = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/daemon.log", b->dir);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, " stopped: ");
		unsigned long long tasks;
		long long commits;

		if (p && sscanf(p, " stopped: %llu tasks run, %lld store commits",
				&tasks, &commits) == 2) {
			n += commits;
			b->daemon_tasks += (long long)tasks;
			said++;
		}
	}
	if (f)
		fclose(f);
	return said == b->daemons ? n : -1;
}

static void bench_stop(struct bench *b)
{
	if (b->mode == MODE_LIBRARY) {
		struct rusage ru;

		dd_pool_stop();
		pthread_join(b->pool_thread, NULL);
		getrusage(RUSAGE_SELF, &ru);
		b->daemon_rss_kb = ru.ru_maxrss;
	} else {
		/* all at once: several daemons stop side by side */
		for (int d = 0; d < b->daemons; d++)
			kill(b->pids[d], SIGTERM);
		for (int d = 0; d < b->daemons; d++) {
			struct rusage ru;
			int status;

			wait4(b->pids[d], &status, 0, &ru);
			if (ru.ru_maxrss > b->daemon_rss_kb)
				b->daemon_rss_kb = ru.ru_maxrss;
			b->daemon_cpu_s += cpu_seconds(&ru);
		}
		b->daemon_commits = daemon_commits(b);
	}
}

static bool keep; /* --keep: leave the stores behind for inspection */
static const char *only; /* --only SCENARIO */
static int workers = 8;  /* --workers N, as the daemon's default */
static const char *only_mode; /* --mode library|process */
static int hot_clients = 16;  /* --clients C, for the hot pool */
static int backlog_size;      /* --backlog N: that size only */
static int any_min_ready;     /* --min-ready N: every pool run's blueprint */

static void bench_remove(struct bench *b)
{
	if (!keep)
		dd_remove_tree(b->dir);
}

/* ---- clients ------------------------------------------------------------ */

struct client {
	struct bench *b;
	int index;
	double deadline;
	long long max_lifecycles;
	struct samples *active, *release;
	atomic_llong *done;
	bool release_resource; /* cold: take the resource away too */
	pthread_t tid;
	int failed;
};

/*
 * Wait (woken by the daemon) until lease `id` reaches `want` or ends, or
 * until the monotonic `deadline` (-1 then, the lease as it was in *out).
 */
static int wait_lease_by(struct dd_store *s, struct dd_wake *wake,
			 long long id, enum dd_lease_status want,
			 double deadline, struct dd_lease *out)
{
	struct dd_error err = DD_ERROR_INIT;
	char what[48];

	snprintf(what, sizeof(what), "lease:%lld", id);
	dd_wake_watch(wake, what); /* before the first look */
	for (;;) {
		struct dd_lease l = {0};

		if (!dd_store_lease_get(s, id, &l, &err)) {
			bool done = l.status == want ||
				    l.status == DD_LEASE_DESTROYED ||
				    l.status == DD_LEASE_BROKEN;

			if (done || dd_monotonic() > deadline) {
				int ok = l.status == want ? 0 : -1;

				if (out)
					*out = l;
				else
					dd_lease_release(&l);
				return ok;
			}
			dd_lease_release(&l);
		}
		dd_wake_wait_for(wake, what, 1.0);
	}
}

/* The same without a deadline. */
static int wait_lease(struct dd_store *s, struct dd_wake *wake, long long id,
		      enum dd_lease_status want, struct dd_lease *out)
{
	return wait_lease_by(s, wake, id, want, INFINITY, out);
}

/*
 * A client's store handle.  In library mode the clients live in the same
 * process as the workers, as requests do in `drydock serve`, so their
 * writes join the workers' group commits.
 */
static int client_open(struct bench *b, struct dd_store **s,
		       struct dd_error *err)
{
	struct dd_store_options o;

	dd_store_options_from_env(&o);
	o.group_commit = b->mode == MODE_LIBRARY &&
			 !getenv("BENCH_CLIENTS_DIRECT");
	return dd_store_open_ready(b->path, &o, s, err);
}

/* A client of `drydock serve`: the same lifecycle, over HTTP. */
static void http_client_main(struct client *c)
{
	struct http_conn conn;
	long long n = 0;

	if (http_conn_init(&conn, c->b->http_addr, c->b->http_token))
		die("bad serve address", NULL);
	while (dd_now() < c->deadline &&
	       (!c->max_lifecycles || n < c->max_lifecycles)) {
		double to_active, to_destroyed;

		if (http_lease_cycle(&conn, &to_active, &to_destroyed)) {
			c->failed++;
			continue;
		}
		samples_add(c->active, to_active);
		samples_add(c->release, to_destroyed);
		atomic_fetch_add(c->done, 1);
		n++;
	}
	http_conn_close(&conn);
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *s;
	struct dd_wake *wake;
	struct dd_lease_request req = {0};
	long long n = 0;

	if (c->b->mode == MODE_HTTP) {
		http_client_main(c);
		return NULL;
	}
	if (client_open(c->b, &s, &err) ||
	    dd_wake_listen(c->b->path, DD_WAKE_WATCHER, &wake, &err))
		die("client", &err);
	req.type = "host";
	req.owner = "bench";
	while (dd_now() < c->deadline &&
	       (!c->max_lifecycles || n < c->max_lifecycles)) {
		struct dd_lease l = {0}, active = {0};
		double t0, t1, t2;

		t0 = dd_monotonic();
		if (dd_api_lease_create(s, &req, &l, &err))
			die("lease", &err);
		if (wait_lease(s, wake, l.id, DD_LEASE_ACTIVE, &active)) {
			c->failed++;
			dd_lease_release(&l);
			continue;
		}
		t1 = dd_monotonic();
		samples_add(c->active, t1 - t0);
		if (c->release_resource) {
			if (dd_api_send(s,
					(struct dd_ref){DD_OBJ_RESOURCE,
							active.resource},
					"release", "bench", NULL, NULL, &err))
				die("release resource", &err);
		} else if (dd_api_send(s, (struct dd_ref){DD_OBJ_LEASE, l.id},
				       "release", "bench", NULL, NULL, &err)) {
			die("release", &err);
		}
		wait_lease(s, wake, l.id, DD_LEASE_DESTROYED, NULL);
		if (c->release_resource) {
			/* the host is free again once its resource is gone */
			struct dd_resource r = {0};

			while (!dd_store_resource_get(s, active.resource, &r,
						      &err) &&
			       r.status != DD_RESOURCE_DESTROYED) {
				char what[48];

				snprintf(what, sizeof(what), "resource:%lld",
					 active.resource);
				dd_resource_release(&r);
				dd_wake_wait_for(wake, what, 1.0);
			}
			dd_resource_release(&r);
		}
		t2 = dd_monotonic();
		samples_add(c->release, t2 - t1);
		atomic_fetch_add(c->done, 1);
		n++;
		dd_lease_release(&l);
		dd_lease_release(&active);
	}
	dd_wake_close(wake);
	dd_store_close(s);
	return NULL;
}

/*
 * Wait until the workers have nothing left to do: a release sent to a
 * lease that was already on its way out is consumed (as ignored) by a
 * task that may still be queued when the lease reads destroyed, and
 * stopping the pool before it runs would leave the command for the next
 * start.  Read on `s`, woken by changes through the watcher `wake`; the
 * short wait only bounds a missed one.
 */
static void queue_drained(struct dd_store *s, struct dd_wake *wake)
{
	struct dd_error err = DD_ERROR_INIT;

	for (int i = 0; i < 3000; i++) {
		struct dd_store_stats st;

		if (dd_store_stats(s, dd_now() + 3600, &st, &err))
			die("stats", &err);
		if (st.tasks_queued == 0 && st.tasks_claimed == 0)
			break;
		dd_wake_wait_for(wake, "queue", 0.01);
	}
}

/* The same on a handle and listener of its own. */
static void wait_queue_empty(const char *path)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *s;
	struct dd_wake *wake;

	if (dd_store_open_ready(path, NULL, &s, &err) ||
	    dd_wake_listen(path, DD_WAKE_WATCHER, &wake, &err))
		die("wait for the queue", &err);
	queue_drained(s, wake);
	dd_wake_close(wake);
	dd_store_close(s);
}

/* ---- PostgreSQL: the run's server, read directly ----------------------- */

/*
 * The run's PostgreSQL server (tests/pg_server.sh --fsync, started once
 * by pg_server_up() for every PostgreSQL scenario of the run): its
 * superuser's conninfo over the Unix socket (database "drydock", where
 * pgbench runs), its programs' directory, and the ceiling pgbench
 * measured on it in this run.  Each scenario has a database of its own.
 */
static struct {
	bool tried, up;
	char conninfo[4096];
	char bin[1024];
	int dbs;
	double ceiling;
} pg_srv;

/* Database `db` on the run's server (libpq: the last of a repeated key wins). */
static void pg_location(char *buf, size_t n, const char *db)
{
	snprintf(buf, n, "%s dbname=%s", pg_srv.conninfo, db);
}

/*
 * Run `sql` on `location` as the superuser; the first row's first `n`
 * columns, as integers, into `out`.  A failure ends the run.
 */
static void pg_run(const char *location, const char *sql, long long *out,
		   int n)
{
	PGconn *c = PQconnectdb(location);
	PGresult *res = NULL;
	bool ok = c && PQstatus(c) == CONNECTION_OK;

	if (ok) {
		res = PQexec(c, sql);
		ok = PQresultStatus(res) == PGRES_COMMAND_OK ||
		     PQresultStatus(res) == PGRES_TUPLES_OK;
	}
	if (ok && n && (PQntuples(res) < 1 || PQnfields(res) < n)) {
		fprintf(stderr, "bench: postgresql: no row from: %s\n", sql);
		exit(1);
	}
	if (!ok) {
		fprintf(stderr, "bench: postgresql: %s: %s", sql,
			c ? PQerrorMessage(c) : "out of memory\n");
		exit(1);
	}
	for (int i = 0; i < n; i++)
		out[i] = strtoll(PQgetvalue(res, 0, i), NULL, 10);
	PQclear(res);
	PQfinish(c);
}

/* A fresh, empty database on the run's server: its location in `location`. */
static void pg_newdb(char *location, size_t n)
{
	char admin[4200], sql[64], name[32];

	snprintf(name, sizeof(name), "bench%d", ++pg_srv.dbs);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
	pg_location(admin, sizeof(admin), "postgres");
	pg_run(admin, sql, NULL, 0);
	pg_location(location, n, name);
}

/*
 * The next transaction id the server will give.  The difference between
 * two looks is how many write transactions ran in between: those given
 * an id, which is every one that wrote a row, locked one (FOR SHARE,
 * FOR UPDATE) or sent a NOTIFY, on any database of the server (in a
 * scenario, only its own is busy).  Reading takes none.
 */
static long long pg_next_xid(const char *location)
{
	long long x;

	pg_run(location,
	       "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint",
	       &x, 1);
	return x;
}

/*
 * User + system seconds of the server's processes now: every child of
 * the postmaster (the backends, the WAL writer, the checkpointer...),
 * found through the parent of a backend of our own.  A backend that
 * ends between two looks takes its time with it: the daemons' and the
 * clients' connections live through a timed part.  -1 where /proc
 * cannot tell.
 */
static bool read_small(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got;

	if (fd < 0)
		return false;
	got = read(fd, buf, n - 1);
	close(fd);
	if (got <= 0)
		return false;
	buf[got] = '\0';
	return true;
}

static double pg_server_cpu_s(const char *location)
{
	long long backend, postmaster = 0;
	long tick = sysconf(_SC_CLK_TCK);
	double total = 0;
	char path[300], buf[1024];
	struct dirent *de;
	DIR *d;

	pg_run(location, "SELECT pg_backend_pid()", &backend, 1);
	snprintf(path, sizeof(path), "/proc/%lld/stat", backend);
	if (read_small(path, buf, sizeof(buf)) && strrchr(buf, ')'))
		sscanf(strrchr(buf, ')') + 2, "%*c %lld", &postmaster);
	if (postmaster <= 0 || tick <= 0 || !(d = opendir("/proc")))
		return -1;
	while ((de = readdir(d))) {
		long long ppid;
		unsigned long long ut, st;
		const char *f;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if (!read_small(path, buf, sizeof(buf)) ||
		    !(f = strrchr(buf, ')')))
			continue;
		/* after "pid (comm) ": state ppid ..., utime and stime 14, 15 */
		if (sscanf(f + 2,
			   "%*c %lld %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu "
			   "%llu",
			   &ppid, &ut, &st) == 3 &&
		    ppid == postmaster)
			total += (double)(ut + st) / (double)tick;
	}
	closedir(d);
	return total;
}

/*
 * How much of the server's work in a timed part is waiting for a lock:
 * a thread looks at pg_stat_activity every SAMPLE_EVERY seconds and
 * counts the scenario database's backends that are busy (state
 * 'active') and those of them waiting for a heavyweight lock (a row's, a
 * transaction's, a table's, an advisory one: wait_event_type 'Lock').
 * Daemons that thrash on one another's locks show as a large share;
 * daemons that only share the machine's cores, as a small one.  One
 * look costs the server about 0.1 ms of CPU.
 */
#define SAMPLE_EVERY 0.01

struct lock_sampler {
	pthread_t tid;
	PGconn *conn;
	atomic_bool stop;
	long long busy, waiting;
	bool running;
};

static void *lock_sampler_main(void *arg)
{
	struct lock_sampler *ls = arg;
	const struct timespec pause = {0, (long)(SAMPLE_EVERY * 1e9)};
	PGresult *r = PQprepare(
		ls->conn, "sample",
		"SELECT count(*) FILTER (WHERE state = 'active'),"
		" count(*) FILTER (WHERE state = 'active'"
		" AND wait_event_type = 'Lock')"
		" FROM pg_stat_activity WHERE datname = current_database()"
		" AND pid <> pg_backend_pid()",
		0, NULL);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;

	PQclear(r);
	while (ok && !atomic_load(&ls->stop)) {
		/* each look is a transaction of its own: a fresh snapshot */
		r = PQexecPrepared(ls->conn, "sample", 0, NULL, NULL, NULL, 0);
		ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
		if (ok) {
			ls->busy += strtoll(PQgetvalue(r, 0, 0), NULL, 10);
			ls->waiting += strtoll(PQgetvalue(r, 0, 1), NULL, 10);
		}
		PQclear(r);
		nanosleep(&pause, NULL);
	}
	if (!ok)
		ls->busy = -1;
	return NULL;
}

static void lock_sampler_start(struct lock_sampler *ls, const char *location)
{
	memset(ls, 0, sizeof(*ls));
	ls->conn = PQconnectdb(location);
	if (PQstatus(ls->conn) != CONNECTION_OK)
		die("postgresql: the lock sampler cannot connect", NULL);
	ls->running = !pthread_create(&ls->tid, NULL, lock_sampler_main, ls);
}

/* The share of busy backend looks that waited for a lock, or NAN. */
static double lock_sampler_stop(struct lock_sampler *ls)
{
	if (ls->running) {
		atomic_store(&ls->stop, true);
		pthread_join(ls->tid, NULL);
	}
	PQfinish(ls->conn);
	if (!ls->running || ls->busy <= 0)
		return NAN;
	return (double)ls->waiting / (double)ls->busy;
}

/* ---- the exactly-once check --------------------------------------------- */

/*
 * The first row of `sql` (in SQL both SQLite and PostgreSQL take), its
 * first `n` columns as integers, read from the scenario's store
 * directly.  False when SQLite could not answer.
 */
static bool store_counts(const struct bench *b, const char *sql,
			 long long *out, int n)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	bool ok;

	if (b->pg) {
		pg_run(b->path, sql, out, n);
		return true;
	}
	if (sqlite3_open(b->path, &db) != SQLITE_OK) {
		sqlite3_close(db);
		return false;
	}
	sqlite3_busy_timeout(db, 10000);
	ok = sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	     sqlite3_step(st) == SQLITE_ROW;
	for (int i = 0; ok && i < n; i++)
		out[i] = sqlite3_column_int64(st, i);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ok;
}

/* Every lease released and destroyed exactly once, per the store's log. */
static bool exactly_once(const struct bench *b)
{
	long long c[4];
	bool ok;

	if (!store_counts(
		    b,
		    "SELECT"
		    " (SELECT count(*) FROM lease WHERE status != 5),"
		    " (SELECT count(*) FROM ("
		    "   SELECT l.id FROM lease l LEFT JOIN log g"
		    "   ON g.lease = l.id AND g.type IN ('lease.released',"
		    "   'lease.destroyed') GROUP BY l.id"
		    "   HAVING sum(CASE WHEN g.type = 'lease.released'"
		    "   THEN 1 ELSE 0 END) != 1"
		    "   OR sum(CASE WHEN g.type = 'lease.destroyed'"
		    "   THEN 1 ELSE 0 END) != 1) AS wrong),"
		    " (SELECT count(*) FROM command WHERE consumed = 0),"
		    " (SELECT count(*) FROM slot_lock WHERE owner_kind = 3)",
		    c, 4))
		return false;
	ok = !c[0] && !c[1] && !c[2] && !c[3];
	if (!ok)
		fprintf(stderr,
			"bench: %s: %lld leases not destroyed, %lld not "
			"released and destroyed exactly once, %lld commands "
			"unconsumed, %lld slot locks held by leases\n",
			b->pg ? "postgresql" : b->path, c[0], c[1], c[2], c[3]);
	return ok;
}

/* ---- run: whole commands, timed from fork to exit ----------------------- */

/*
 * Run argv (drydock's or, by PATH, any program) on the scenario's store
 * (b; NULL: none) with stdin and stderr on /dev/null and stdout in `out` (up to cap - 1
 * bytes; NULL: to /dev/null).  Returns seconds from fork to reaping;
 * *status is the exit status.
 */
/*
 * Run argv with `in` as its standard input (-1: /dev/null); the seconds
 * from fork to exit.  With `out`, its standard output is read into it.
 */
static double time_command_in(const struct bench *b, char *const argv[],
			      int in, char *out, size_t cap, int *status)
{
	int p[2] = {-1, -1}, ws;
	size_t got = 0;
	double t0;
	pid_t pid;

	if (out && pipe(p))
		die("pipe", NULL);
	t0 = dd_monotonic();
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		if (b)
			store_env(b);
		dup2(in >= 0 ? in : null, 0);
		dup2(out ? p[1] : null, 1);
		dup2(null, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (out) {
		ssize_t n;

		close(p[1]);
		while ((n = read(p[0], out + got, cap - 1 - got)) > 0)
			got += (size_t)n;
		out[got] = '\0';
		close(p[0]);
	}
	if (pid < 0 || waitpid(pid, &ws, 0) != pid)
		die("fork or wait", NULL);
	*status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	return dd_monotonic() - t0;
}

static double time_command(const struct bench *b, char *const argv[],
			   char *out, size_t cap, int *status)
{
	return time_command_in(b, argv, -1, out, cap, status);
}

static void must_pass(const char *what, int status)
{
	if (status) {
		fprintf(stderr, "bench: run: %s exited %d\n", what, status);
		exit(1);
	}
}

static struct result run_run(int n)
{
	struct result r = {0};
	struct samples run = {0}, bare = {0}, hand = {0};
	struct bench b;
	char *drydock = (char *)drydock_bin;
	char *run_argv[] = {drydock, "run", "--type", "host", "--", "true",
			    NULL};
	char *true_argv[] = {"true", NULL};
	char *lease_argv[] = {drydock, "lease", "--type", "host", NULL};
	char id[64], *exec_argv[] = {drydock, "exec", "--lease", id, "--",
				     "true", NULL};
	char *release_argv[] = {drydock, "release-lease", "--id", id, NULL};
	double t0;
	int st;

	pthread_mutex_init(&run.mu, NULL);
	pthread_mutex_init(&bare.mu, NULL);
	pthread_mutex_init(&hand.mu, NULL);
	bench_open(&b, MODE_PROCESS, 1, 16);
	bench_start(&b, workers);
	/* the resource is built by the first run: the pool is hot after */
	time_command(&b, run_argv, NULL, 0, &st);
	must_pass("the first drydock run", st);
	t0 = dd_monotonic();
	for (int i = 0; i < n; i++) {
		double secs;

		samples_add(&bare, time_command(&b, true_argv, NULL, 0, &st));
		must_pass("true", st);
		samples_add(&run, time_command(&b, run_argv, NULL, 0, &st));
		must_pass("drydock run", st);
		secs = time_command(&b, lease_argv, id, sizeof(id), &st);
		must_pass("drydock lease", st);
		id[strcspn(id, "\n")] = '\0';
		secs += time_command(&b, exec_argv, NULL, 0, &st);
		must_pass("drydock exec", st);
		secs += time_command(&b, release_argv, NULL, 0, &st);
		must_pass("drydock release-lease", st);
		samples_add(&hand, secs);
	}
	r.seconds = dd_monotonic() - t0;
	wait_queue_empty(b.path);
	bench_stop(&b);
	r.scenario = "run";
	r.mode = mode_names[MODE_PROCESS];
	r.clients = 1;
	r.resources = 16;
	r.lifecycles = n;
	r.p50 = pct(&run, 0.50);
	r.p95 = pct(&run, 0.95);
	r.p99 = pct(&run, 0.99);
	r.true_p50 = pct(&bare, 0.50);
	r.true_p99 = pct(&bare, 0.99);
	r.hand_p50 = pct(&hand, 0.50);
	r.hand_p99 = pct(&hand, 0.99);
	r.rel_p50 = r.rel_p99 = NAN;
	r.peak_rss_kb = b.daemon_rss_kb;
	r.exactly_once = exactly_once(&b);
	bench_remove(&b);
	free(run.v);
	free(bare.v);
	free(hand.v);
	return r;
}

static void print_run(const struct result *r)
{
	printf("run: drydock run -- true p50 %.2f ms, p99 %.2f ms; true "
	       "itself p50 %.2f ms, p99 %.2f ms (run's p50 %.2f ms more); "
	       "lease + exec + release-lease p50 %.2f ms, p99 %.2f ms; "
	       "%lld runs, exactly once: %s\n",
	       r->p50, r->p99, r->true_p50, r->true_p99, r->p50 - r->true_p50,
	       r->hand_p50, r->hand_p99, r->lifecycles,
	       r->exactly_once ? "yes" : "NO");
	fflush(stdout);
}

/* ---- helper scripts: servers the tests start ----------------------------- */

/*
 * A script of tests/ that starts a server, prints one line saying where it
 * is (or why it cannot), and keeps it until its standard input ends
 * (tests/bench/sshd.sh, tests/pg_server.sh).
 */
struct helper {
	pid_t pid;
	int in;
};

/* The repository's top, from this program's path (TOP/build/X/bench). */
static void repo_top(char *buf, size_t n)
{
	ssize_t got = readlink("/proc/self/exe", buf, n - 1);

	if (got <= 0)
		die("readlink /proc/self/exe", NULL);
	buf[got] = '\0';
	for (int i = 0; i < 3; i++) {
		char *slash = strrchr(buf, '/');

		if (!slash)
			die("where is the repository?", NULL);
		*slash = '\0';
	}
}

/*
 * Start TOP/tests/NAME with ARG (NULL: none), its stderr ours or, when
 * `quiet`, /dev/null; its first line in `line` (empty when it printed
 * none).  False when it printed none.
 */
static bool helper_open(struct helper *h, const char *name, const char *arg,
			bool quiet, char *line, int n)
{
	char top[4096], script[4200];
	int in[2], out[2];
	FILE *f;
	bool ok;

	repo_top(top, sizeof(top));
	snprintf(script, sizeof(script), "%s/tests/%s", top, name);
	if (pipe(in) || pipe(out))
		die("pipe", NULL);
	h->pid = fork();
	if (h->pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(in[0], 0);
		dup2(out[1], 1);
		if (quiet)
			dup2(null, 2);
		close(in[1]);
		close(out[0]);
		execl("/bin/bash", "bash", script, arg, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	/* only this process holds it: the server lives as long as the run */
	fcntl(in[1], F_SETFD, FD_CLOEXEC);
	h->in = in[1];
	line[0] = '\0';
	f = fdopen(out[0], "r");
	ok = f && fgets(line, n, f);
	if (f)
		fclose(f);
	else
		close(out[0]);
	return ok;
}

static void helper_close(struct helper *h)
{
	close(h->in);
	waitpid(h->pid, NULL, 0);
}

/* ---- ssh: a command on a lease of a remote host ------------------------ */

/* The benchmark's SSH host (tests/bench/sshd.sh), while its input is open. */
struct sshd {
	struct helper helper;
	int port;
	char user[64];
	char key[4096];
};

/* Start the host; false (and why, on stderr) where no sshd can run. */
static bool sshd_open(struct sshd *h)
{
	char line[4400];
	bool ok = helper_open(&h->helper, "bench/sshd.sh", NULL, true, line,
			      sizeof(line)) &&
		  sscanf(line, "%d %63s %4095s", &h->port, h->user, h->key) == 3;

	if (!ok)
		fprintf(stderr, "bench: ssh: no sshd: %s",
			line[0] ? line : "it did not start\n");
	return ok;
}

static void sshd_close(struct sshd *h)
{
	helper_close(&h->helper);
}

static struct result run_ssh(int n)
{
	struct result r = {0};
	struct samples exec = {0}, fresh = {0}, warm = {0}, lease = {0};
	struct samples wrapped = {0}, version = {0}, bare = {0};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_buf remote = {0};
	struct dd_lease l = {0};
	struct sshd h;
	struct bench b;
	struct dd_store *s;
	char *drydock = (char *)drydock_bin;
	char port[16], master[4400], cm[4500], id[64];
	char *lease_argv[] = {drydock, "lease", "--type", "host", "--attr",
			      "host=r1", NULL};
	char *exec_argv[] = {drydock, "exec", "--lease", id, "--", "true",
			     NULL};
	char *release_argv[] = {drydock, "release-lease", "--id", id, NULL};
	char *version_argv[] = {drydock, "--version", NULL};
	char *true_argv[] = {"true", NULL};
	char lease_env[64], path_env[4200];
	char *env[] = {lease_env, path_env, NULL};
	int endless[2];
	/* as close to drydock's own ssh as a plain one gets */
#define SSH_ARGV(ctl_master, ctl_path)                                         \
	{"ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o",                \
	 "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-i", h.key, "-o",  \
	 "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",     \
	 "-o", "LogLevel=ERROR", "-o", ctl_master, "-o", "ControlPersist=120", \
	 "-o", ctl_path, "-p", port, "-l", h.user, "127.0.0.1", "true", NULL}
	char *fresh_argv[] = SSH_ARGV("ControlMaster=no", "ControlPath=none");
	char *warm_argv[] = SSH_ARGV("ControlMaster=auto", cm);
	char *wrapped_argv[] = SSH_ARGV("ControlMaster=auto", cm);
	size_t last = sizeof(wrapped_argv) / sizeof(*wrapped_argv) - 2;
	char *exit_argv[] = {"ssh", "-F", "/dev/null", "-o", cm, "-O", "exit",
			     "127.0.0.1", NULL};
	json_t *cfg;
	double t0;
	int st;

	r.scenario = "ssh";
	r.mode = mode_names[MODE_PROCESS];
	if (!sshd_open(&h)) {
		r.skipped = true;
		r.exactly_once = true;
		return r;
	}
	snprintf(port, sizeof(port), "%d", h.port);
	pthread_mutex_init(&exec.mu, NULL);
	pthread_mutex_init(&fresh.mu, NULL);
	pthread_mutex_init(&warm.mu, NULL);
	pthread_mutex_init(&lease.mu, NULL);
	pthread_mutex_init(&wrapped.mu, NULL);
	pthread_mutex_init(&version.mu, NULL);
	pthread_mutex_init(&bare.mu, NULL);
	bench_open(&b, MODE_PROCESS, 1, 16);
	snprintf(master, sizeof(master), "%s/cm", b.dir);
	snprintf(cm, sizeof(cm), "ControlPath=%s", master);
	cfg = json_pack("{s:[{s:s, s:s, s:i, s:s, s:s, s:s, s:i}]}", "hosts",
			"name", "r1", "address", "127.0.0.1", "port", h.port,
			"user", h.user, "key", h.key, "root", ".drydock-bench",
			"slots", 16);
	if (dd_store_open(b.path, NULL, &s, &err) ||
	    dd_api_blueprint_create(s, "host", "bench-ssh", cfg, true, NULL,
				    &err))
		die("create the ssh blueprint", &err);
	json_decref(cfg);
	dd_store_close(s);
	bench_start(&b, workers);
	/* the host's resource is built, and the masters started, first */
	time_command(&b, lease_argv, id, sizeof(id), &st);
	must_pass("the first drydock lease", st);
	id[strcspn(id, "\n")] = '\0';
	time_command(&b, exec_argv, NULL, 0, &st);
	must_pass("the first drydock exec", st);
	time_command(&b, warm_argv, NULL, 0, &st);
	must_pass("ssh starting its master", st);
	/*
	 * drydock's remote command for this lease, as host_ssh.c builds it
	 * (its directory, its two variables, `true` under the wrapper), run
	 * by the plain ssh; its input a pipe that never ends, as drydock
	 * gives its ssh, so that the wrapper's watcher waits
	 */
	if (dd_store_open(b.path, NULL, &s, &err) ||
	    dd_store_lease_get(s, atoll(id), &l, &err))
		die("read the lease", &err);
	dd_store_close(s);
	if (!json_is_string(json_object_get(l.attributes, "path")))
		die("the lease has no path", NULL);
	snprintf(lease_env, sizeof(lease_env), "DRYDOCK_LEASE=%lld", l.id);
	snprintf(path_env, sizeof(path_env), "DRYDOCK_LEASE_PATH=%s",
		 json_string_value(json_object_get(l.attributes, "path")));
	{
		/* as drydock exec runs it: with the process group report */
		struct dd_ssh_command cmd = {
			.cwd = json_string_value(
				json_object_get(l.attributes, "path")),
			.env = env,
			.argv = true_argv,
			.report = true,
		};

		if (dd_ssh_remote_command(&cmd, &remote, &err))
			die("drydock's remote command", &err);
	}
	wrapped_argv[last] = remote.buf;
	if (pipe2(endless, O_CLOEXEC))
		die("pipe", NULL);
	t0 = dd_monotonic();
	for (int i = 0; i < n; i++) {
		samples_add(&exec, time_command(&b, exec_argv, NULL, 0, &st));
		must_pass("drydock exec", st);
		samples_add(&warm, time_command(&b, warm_argv, NULL, 0, &st));
		must_pass("ssh over the master", st);
		samples_add(&wrapped, time_command_in(&b, wrapped_argv,
						      endless[0], NULL, 0,
						      &st));
		must_pass("ssh over the master, drydock's wrapper", st);
		samples_add(&version,
			    time_command(&b, version_argv, NULL, 0, &st));
		must_pass("drydock --version", st);
		samples_add(&bare, time_command(&b, true_argv, NULL, 0, &st));
		must_pass("true", st);
		samples_add(&fresh, time_command(&b, fresh_argv, NULL, 0, &st));
		must_pass("ssh with a fresh connection", st);
	}
	r.seconds = dd_monotonic() - t0;
	close(endless[0]);
	close(endless[1]);
	dd_buf_release(&remote);
	dd_lease_release(&l);
	time_command(&b, release_argv, NULL, 0, &st);
	must_pass("drydock release-lease", st);
	/* lease to active on the warm host: its directory, one round trip */
	for (int i = 0; i < n; i++) {
		samples_add(&lease, time_command(&b, lease_argv, id, sizeof(id),
						 &st));
		must_pass("drydock lease", st);
		id[strcspn(id, "\n")] = '\0';
		time_command(&b, release_argv, NULL, 0, &st);
		must_pass("drydock release-lease", st);
	}
	time_command(&b, exit_argv, NULL, 0, &st);
	wait_queue_empty(b.path);
	bench_stop(&b);
	sshd_close(&h);
	r.clients = 1;
	r.resources = 16;
	r.lifecycles = n;
	r.p50 = pct(&exec, 0.50);
	r.p95 = pct(&exec, 0.95);
	r.p99 = pct(&exec, 0.99);
	r.fresh_p50 = pct(&fresh, 0.50);
	r.fresh_p99 = pct(&fresh, 0.99);
	r.warm_p50 = pct(&warm, 0.50);
	r.warm_p99 = pct(&warm, 0.99);
	r.lease_p50 = pct(&lease, 0.50);
	r.lease_p99 = pct(&lease, 0.99);
	r.wrapper_p50 = pct(&wrapped, 0.50);
	r.wrapper_p99 = pct(&wrapped, 0.99);
	r.version_p50 = pct(&version, 0.50);
	r.version_p99 = pct(&version, 0.99);
	r.true_p50 = pct(&bare, 0.50);
	r.true_p99 = pct(&bare, 0.99);
	r.rel_p50 = r.rel_p99 = NAN;
	r.peak_rss_kb = b.daemon_rss_kb;
	r.exactly_once = exactly_once(&b);
	bench_remove(&b);
	free(exec.v);
	free(fresh.v);
	free(warm.v);
	free(lease.v);
	free(wrapped.v);
	free(version.v);
	free(bare.v);
	return r;
#undef SSH_ARGV
}

static void print_ssh(const struct result *r)
{
	if (r->skipped) {
		printf("ssh: skipped (no sshd)\n");
		return;
	}
	printf("ssh: drydock exec -- true on a remote host p50 %.2f ms, p99 "
	       "%.2f ms; plain ssh over a warm master p50 %.2f ms, p99 %.2f "
	       "ms (exec %.2fx); fresh connection p50 %.2f ms, p99 %.2f ms "
	       "(%.1fx exec); lease to active on the warm host p50 %.2f ms, "
	       "p99 %.2f ms; %lld each, exactly once: %s\n",
	       r->p50, r->p99, r->warm_p50, r->warm_p99, r->p50 / r->warm_p50,
	       r->fresh_p50, r->fresh_p99, r->fresh_p50 / r->p50, r->lease_p50,
	       r->lease_p99, r->lifecycles, r->exactly_once ? "yes" : "NO");
	printf("ssh: exec over the warm ssh, p50: the remote wrapper %.2f ms "
	       "(plain ssh running it p50 %.2f, p99 %.2f ms), drydock here "
	       "%.2f ms (of which starting its process: drydock --version "
	       "p50 %.2f, p99 %.2f ms, true p50 %.2f, p99 %.2f ms)\n",
	       r->wrapper_p50 - r->warm_p50, r->wrapper_p50, r->wrapper_p99,
	       r->p50 - r->wrapper_p50, r->version_p50, r->version_p99,
	       r->true_p50, r->true_p99);
	fflush(stdout);
}

/* ---- git: working copies against git by hand ---------------------------- */

/*
 * How big the `git` scenario's repository is and how many times each
 * measurement is taken: `rounds` fresh stores (each a first and a
 * second working copy, and a clone by hand), and in each `relets`
 * re-leases at a new commit (and as many fetches by hand), each commit
 * changing `relet_changes` files.
 */
struct git_sizes {
	struct git_repo_shape shape;
	int rounds, relets, relet_changes;
	bool check; /* --check: correctness only, no figures printed */
};

/*
 * Full: a repository of realistic size (issue 14's example); quick and
 * check: small enough for `make bench-quick` and `make check`.
 */
static const struct git_sizes git_full = {{20000, 5000, 5}, 3, 4, 10, false};
static const struct git_sizes git_quick = {{2000, 500, 5}, 2, 2, 10, false};
static const struct git_sizes git_check = {{50, 10, 3}, 1, 2, 3, true};


/*
 * One round's drydock: a fresh store, a host blueprint of one local
 * host, a working-copy blueprint on it with its own root, and a daemon;
 * the benchmark's store handle and watcher on it.
 */
struct git_side {
	struct bench b;
	struct dd_store *s;
	struct dd_wake *wake;
	const struct git_repo *repo;
	long long leases[64]; /* the leases asked for, to release at the end */
	int nleases;
};

/*
 * Set a round's drydock up; false, with the reason in `why`, when this
 * build cannot (a drydock without the working-copy blueprint type).
 */
static bool git_side_open(struct git_side *g, const struct where *w,
			  const struct git_repo *repo, char *why, size_t n)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_blueprint host = {0};
	char host_root[4300], wc_root[4300];
	json_t *cfg;
	bool ok;

	memset(g, 0, sizeof(*g));
	g->repo = repo;
	bench_open_at(&g->b, w, MODE_PROCESS, 1, 16);
	snprintf(host_root, sizeof(host_root), "%s/git-host", g->b.dir);
	snprintf(wc_root, sizeof(wc_root), "%s/working-copies", g->b.dir);
	/* on PostgreSQL, the lease's commands run here need the daemons' */
	if (g->b.state_dir[0])
		setenv("DRYDOCK_STATE_DIR", g->b.state_dir, 1);
	if (dd_store_open(g->b.path, NULL, &g->s, &err))
		die("open the store", &err);
	cfg = json_pack("{s:[{s:s, s:i}], s:s}", "hosts", "name", "git",
			"slots", 16, "root", host_root);
	if (dd_api_blueprint_create(g->s, "host", "bench-git-host", cfg, true,
				    &host, &err))
		die("create the host blueprint", &err);
	json_decref(cfg);
	cfg = json_pack("{s:[I], s:s, s:i, s:i}", "hosts", (json_int_t)host.id,
			"root", wc_root, "limit", 4, "per_host_limit", 4);
	ok = !dd_api_blueprint_create(g->s, "working-copy", "bench-git", cfg,
				      true, NULL, &err);
	json_decref(cfg);
	dd_blueprint_release(&host);
	if (!ok) {
		snprintf(why, n, "%s", err.msg);
		dd_store_close(g->s);
		unsetenv("DRYDOCK_STATE_DIR");
		bench_remove(&g->b);
		return false;
	}
	bench_start(&g->b, workers);
	if (dd_wake_listen(g->b.path, DD_WAKE_WATCHER, &g->wake, &err))
		die("listen", &err);
	return true;
}

/* Why lease `id` failed, from its last log entries, in `why`. */
static void git_lease_why(struct git_side *g, long long id,
			  const struct dd_lease *l, char *why, size_t n)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_filter f = {.lease = id, .limit = 1, .descending = true};
	struct dd_log_entry_list log = {0};
	char *data = NULL;

	if (!dd_store_log_list(g->s, &f, &log, &err) && log.n &&
	    log.items[0].data)
		data = json_dumps(log.items[0].data, JSON_COMPACT);
	snprintf(why, n, "lease %lld is %s, not active after %.0f s; its last "
		 "log entry: %s %s",
		 id, dd_lease_status_name(l->status), GIT_REPO_TIMEOUT,
		 log.n ? log.items[0].type : "none", data ? data : "");
	free(data);
	dd_log_entry_list_release(&log);
}

/*
 * Lease a working copy of the repository at `commit` and wait until it is
 * active: the seconds that took in *secs, the lease in *out.  False, why
 * in `why`, when it did not become active.
 */
static bool git_lease(struct git_side *g, const char *commit,
		      struct dd_lease *out, double *secs, char *why, size_t n)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease_request req = {.type = "working-copy",
				       .owner = "bench"};
	struct dd_lease l = {0};
	double t0;
	int rc;

	req.attributes = json_pack("{s:{s:{s:s, s:s}}, s:s}", "repositories",
				   "repo", "uri", g->repo->uri, "commit",
				   commit, "default", "repo");
	t0 = dd_monotonic();
	rc = dd_api_lease_create(g->s, &req, &l, &err);
	json_decref(req.attributes);
	if (rc) {
		snprintf(why, n, "cannot lease a working copy: %.400s", err.msg);
		return false;
	}
	if (g->nleases < (int)(sizeof(g->leases) / sizeof(*g->leases)))
		g->leases[g->nleases++] = l.id;
	rc = wait_lease_by(g->s, g->wake, l.id, DD_LEASE_ACTIVE,
			   t0 + GIT_REPO_TIMEOUT, out);
	*secs = dd_monotonic() - t0;
	if (rc)
		git_lease_why(g, l.id, out, why, n);
	dd_lease_release(&l);
	return !rc;
}

/* Run argv on lease `id` through its command interface; its stdout in `out`. */
static bool git_exec(struct git_side *g, long long id, char *const argv[],
		     struct dd_buf *out, char *why, size_t n)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_exec_options o = {.timeout = 60,
				    .cancel_fd = -1,
				    .null_input = true,
				    .out = DD_EXEC_CAPTURE,
				    .err = DD_EXEC_CAPTURE};
	struct dd_exec_result res;
	bool ok;

	if (dd_api_exec(g->s, id, argv, NULL, &o, &res, &err)) {
		snprintf(why, n, "lease %lld: %.40s: %.400s", id, argv[0],
			 err.msg);
		return false;
	}
	ok = !res.exit_status && !res.timed_out;
	if (!ok)
		snprintf(why, n, "lease %lld: '%s %s' exited %d: %.200s", id,
			 argv[0], argv[1] ? argv[1] : "", res.exit_status,
			 res.err.buf ? res.err.buf : "");
	else if (res.out.buf)
		dd_buf_add(out, res.out.buf, res.out.len);
	dd_exec_result_release(&res);
	return ok;
}

/*
 * What the lease must show: HEAD at `commit` and nothing but the
 * commit's files (no untracked or ignored file, no change).  Then, for
 * the next lease of the same working copy to clean, an untracked and an
 * ignored file, as a build leaves them.
 */
static bool git_lease_check(struct git_side *g, long long id,
			    const char *commit, char *why, size_t n)
{
	char *head[] = {"git", "rev-parse", "HEAD", NULL};
	char *status[] = {"git", "status", "--porcelain", "--ignored",
			  "--untracked-files=all", NULL};
	char *dirty[] = {"touch", "left-by-a-build.txt", "left-by-a-build.o",
			 NULL};
	struct dd_buf h = DD_BUF_INIT, st = DD_BUF_INIT, none = DD_BUF_INIT;
	bool ok = git_exec(g, id, head, &h, why, n) &&
		  git_exec(g, id, status, &st, why, n);

	if (ok && (!h.buf || strncmp(h.buf, commit, 40))) {
		snprintf(why, n, "lease %lld: HEAD is %.40s, asked for %s", id,
			 h.buf ? h.buf : "nothing", commit);
		ok = false;
	} else if (ok && st.len) {
		snprintf(why, n, "lease %lld: the tree is not clean: %.200s",
			 id, st.buf);
		ok = false;
	}
	ok = ok && git_exec(g, id, dirty, &none, why, n);
	dd_buf_release(&h);
	dd_buf_release(&st);
	dd_buf_release(&none);
	return ok;
}

/* Send `release` to an object and wait until it is destroyed. */
static void git_release(struct git_side *g, enum dd_obj_kind kind,
			long long id)
{
	struct dd_error err = DD_ERROR_INIT;
	char what[48];

	snprintf(what, sizeof(what), "%s:%lld",
		 kind == DD_OBJ_LEASE ? "lease" : "resource", id);
	dd_wake_watch(g->wake, what);
	if (dd_api_send(g->s, (struct dd_ref){kind, id}, "release", "bench",
			NULL, NULL, &err) &&
	    err.code != DD_ERR_STATE)
		die("release", &err);
	if (kind == DD_OBJ_LEASE) {
		wait_lease_by(g->s, g->wake, id, DD_LEASE_DESTROYED,
			      dd_monotonic() + GIT_REPO_TIMEOUT, NULL);
		return;
	}
	for (double end = dd_monotonic() + GIT_REPO_TIMEOUT;
	     dd_monotonic() < end;) {
		struct dd_resource r = {0};
		bool gone = !dd_store_resource_get(g->s, id, &r, &err) &&
			    r.status == DD_RESOURCE_DESTROYED;

		dd_resource_release(&r);
		if (gone)
			break;
		dd_wake_wait_for(g->wake, what, 1.0);
	}
}

/*
 * The round's end: every lease it asked for released, then every working
 * copy they had (and with it its host lease), the daemon stopped; true
 * when every lease was released and destroyed exactly once.
 */
static bool git_side_close(struct git_side *g)
{
	struct dd_error err = DD_ERROR_INIT;
	long long left = 1;
	bool once;

	for (int i = 0; i < g->nleases; i++) {
		struct dd_lease l = {0};

		if (dd_store_lease_get(g->s, g->leases[i], &l, &err))
			die("read a lease", &err);
		git_release(g, DD_OBJ_LEASE, l.id);
		if (l.resource)
			git_release(g, DD_OBJ_RESOURCE, l.resource);
		dd_lease_release(&l);
	}
	for (double end = dd_monotonic() + 60; left && dd_monotonic() < end;) {
		store_counts(&g->b,
			     "SELECT count(*) FROM lease WHERE status != 5",
			     &left, 1);
		if (left)
			dd_wake_wait_for(g->wake, "queue", 0.1);
	}
	queue_drained(g->s, g->wake);
	dd_wake_close(g->wake);
	dd_store_close(g->s);
	unsetenv("DRYDOCK_STATE_DIR");
	bench_stop(&g->b);
	once = exactly_once(&g->b);
	bench_remove(&g->b);
	return once;
}

/* Write an untracked and an ignored file into a clone by hand. */
static void git_dirty(const char *dir)
{
	static const char *const names[] = {"left-by-a-build.txt",
					    "left-by-a-build.o"};

	for (size_t i = 0; i < 2; i++) {
		char path[4400];
		int fd;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd >= 0)
			close(fd);
	}
}

/* `git fetch && git checkout COMMIT && git clean -ffdx` in `dir`, timed. */
static double git_by_hand(const char *dir, const char *commit)
{
	const char *fetch[] = {"fetch", "--quiet", "origin", NULL};
	const char *checkout[] = {"checkout", "--quiet", commit, NULL};
	const char *clean[] = {"clean", "-ffdx", "--quiet", NULL};
	const char *const *steps[] = {fetch, checkout, clean};
	struct dd_error err = DD_ERROR_INIT;
	double t0 = dd_monotonic();

	for (size_t i = 0; i < 3; i++)
		if (git_run(dir, steps[i], NULL, NULL, &err))
			die("git by hand", &err);
	return dd_monotonic() - t0;
}

/* `git clone --no-local URI DIR`, timed. */
static double git_clone(const struct git_repo *repo, const char *dir)
{
	const char *clone[] = {"clone",	  "--quiet", "--no-local",
			       repo->uri, dir,	     NULL};
	struct dd_error err = DD_ERROR_INIT;
	double secs;

	if (git_run(NULL, clone, NULL, &secs, &err))
		die("git clone by hand", &err);
	return secs;
}

/* The scenario as it goes: the repository, the samples, the outcome. */
struct git_bench {
	const struct git_sizes *z;
	const struct where *w; /* the store: SQLite, or PostgreSQL */
	struct git_repo repo;
	/* clone by hand, first lease, second lease, by hand, re-lease */
	struct samples clone, first, second, hand, relet;
	bool side;   /* drydock takes part */
	bool failed; /* a lease was not as asked */
	bool once;   /* every lease released and destroyed exactly once */
	char why[512];
};

/* A leased working copy, timed into `to` and checked; false: why in gb. */
static bool git_leased(struct git_bench *gb, struct git_side *g,
		       struct samples *to, struct dd_lease *l)
{
	double secs;

	if (!git_lease(g, gb->repo.head, l, &secs, gb->why, sizeof(gb->why)))
		return false;
	samples_add(to, secs);
	return true;
}

/*
 * One round: a clone by hand and a first working copy on a fresh root,
 * in alternating order; a second working copy while the first is held;
 * then z->relets times a new commit upstream, a fetch by hand and a
 * re-lease of the warm working copy at it, in alternating order.
 * Without drydock (gb->side false, or turned false here when this build
 * has no working-copy type) only the commands by hand run.
 */
static void git_round(struct git_bench *gb, int round)
{
	struct dd_error err = DD_ERROR_INIT;
	struct git_side g;
	struct dd_lease first = {0}, second = {0};
	const char *head = gb->repo.head;
	char hand[4200], *why = gb->why;
	size_t n = sizeof(gb->why);
	bool dd, ok = true;

	snprintf(hand, sizeof(hand), "%s/git-hand-%d", root, round);
	if (gb->side && !git_side_open(&g, gb->w, &gb->repo, why, n))
		gb->side = false;
	dd = gb->side;
	/* a) the clone by hand and the first lease, the order alternating */
	if (!dd || round % 2 == 0)
		samples_add(&gb->clone, git_clone(&gb->repo, hand));
	if (dd) {
		ok = git_leased(gb, &g, &gb->first, &first);
		if (round % 2)
			samples_add(&gb->clone, git_clone(&gb->repo, hand));
		ok = ok && git_lease_check(&g, first.id, head, why, n);
		/* b) a second working copy while the first is held */
		ok = ok && git_leased(gb, &g, &gb->second, &second) &&
		     git_lease_check(&g, second.id, head, why, n);
	}
	if (dd && ok) {
		/* one warm working copy left, as on a host that had one */
		git_release(&g, DD_OBJ_LEASE, second.id);
		git_release(&g, DD_OBJ_RESOURCE, second.resource);
		git_release(&g, DD_OBJ_LEASE, first.id);
	}
	/* c) a new commit upstream, then the re-lease and the fetch by hand */
	git_dirty(hand);
	for (int i = 0; i < gb->z->relets && ok; i++) {
		struct dd_lease l = {0};

		if (git_repo_commit(&gb->repo, gb->z->relet_changes, &err))
			die("a new commit upstream", &err);
		if (!dd || i % 2 == 0)
			samples_add(&gb->hand, git_by_hand(hand, head));
		if (dd) {
			ok = git_leased(gb, &g, &gb->relet, &l);
			if (i % 2)
				samples_add(&gb->hand, git_by_hand(hand, head));
			if (ok && l.resource != first.resource) {
				snprintf(why, n,
					 "lease %lld got working copy %lld, "
					 "not the warm one (%lld)",
					 l.id, l.resource, first.resource);
				ok = false;
			}
			ok = ok && git_lease_check(&g, l.id, head, why, n);
			if (ok)
				git_release(&g, DD_OBJ_LEASE, l.id);
		}
		git_dirty(hand);
		dd_lease_release(&l);
	}
	if (dd) {
		gb->failed = gb->failed || !ok;
		gb->once = git_side_close(&g) && gb->once;
	}
	dd_lease_release(&first);
	dd_lease_release(&second);
	dd_remove_tree(hand);
}

static struct result run_git(const struct git_sizes *z,
			     const struct where *w)
{
	struct result r = {0};
	struct dd_error err = DD_ERROR_INIT;
	struct git_bench gb = {.z = z, .w = w, .side = true, .once = true};
	struct samples *all[] = {&gb.clone, &gb.first, &gb.second, &gb.hand,
				 &gb.relet};
	char path[1200];
	double t0;

	r.scenario = "git";
	r.mode = mode_names[MODE_PROCESS];
	r.backend = w->pg ? "postgresql" : NULL;
	for (size_t i = 0; i < 5; i++)
		pthread_mutex_init(&all[i]->mu, NULL);
	snprintf(path, sizeof(path), "%s/git-upstream-%d.git", root,
		 ++scenario_seq);
	t0 = dd_monotonic();
	if (git_repo_create(&gb.repo, path, &z->shape, &err))
		die("generate the repository", &err);
	r.git.generate_s = dd_monotonic() - t0;
	if (z->check) {
		/* the fixture itself: what was asked for, as git reads it */
		long long files, commits;

		if (git_repo_count(&gb.repo, &files, &commits, &err))
			die("count the repository", &err);
		if (files != z->shape.files + 2 ||
		    commits != z->shape.commits) {
			snprintf(gb.why, sizeof(gb.why),
				 "the generated repository has %lld files "
				 "and %lld commits, not %d and %d",
				 files, commits, z->shape.files + 2,
				 z->shape.commits);
			gb.failed = true;
		}
	}
	t0 = dd_monotonic();
	for (int i = 0; i < z->rounds && !gb.failed; i++)
		git_round(&gb, i);
	r.seconds = dd_monotonic() - t0;
	r.git.files = z->shape.files;
	r.git.commits = z->shape.commits;
	r.git.pack_bytes = gb.repo.pack_bytes;
	r.git.rounds = z->rounds;
	r.git.relets = z->relets;
	r.git.measured = gb.side && !gb.failed;
	r.git.failed = gb.failed;
	r.git.check = z->check;
	snprintf(r.git.why, sizeof(r.git.why), "%s", gb.why);
	r.git.clone_p50 = pct(&gb.clone, 0.50);
	r.git.hand_relet_p50 = pct(&gb.hand, 0.50);
	r.git.first_p50 = pct(&gb.first, 0.50);
	r.git.second_p50 = pct(&gb.second, 0.50);
	r.git.relet_p50 = pct(&gb.relet, 0.50);
	r.p50 = r.git.first_p50;
	r.p95 = r.p99 = r.rel_p50 = r.rel_p99 = NAN;
	r.clients = 1;
	r.lifecycles = (long long)(gb.first.n + gb.second.n + gb.relet.n);
	r.exactly_once = gb.once;
	if (!keep)
		dd_remove_tree(gb.repo.path);
	git_repo_release(&gb.repo);
	for (size_t i = 0; i < 5; i++)
		free(all[i]->v);
	return r;
}

/*
 * The goals issue 14 sets, each a ratio of two of the scenario's p50s
 * (offsets into struct git_result) at most or at least `goal`; the
 * figure printed with it, and its names in the JSON.
 */
static const struct git_goal {
	const char *what;  /* "a) first working copy to active" */
	size_t shown;	   /* its p50 */
	size_t num, den;   /* the ratio */
	const char *before, *after; /* around the ratio, printed */
	const char *json_ratio, *json_goal;
	double goal;
	bool at_least;
} git_goals[] = {
	{"a) first working copy to active",
	 offsetof(struct git_result, first_p50),
	 offsetof(struct git_result, first_p50),
	 offsetof(struct git_result, clone_p50), "", " git clone",
	 "first_vs_clone", "first_within_1_2x", 1.2, false},
	{"b) second working copy to active",
	 offsetof(struct git_result, second_p50),
	 offsetof(struct git_result, first_p50),
	 offsetof(struct git_result, second_p50),
	 "the first took ", " as long", "first_vs_second",
	 "second_3x_faster", 3.0, true},
	{"c) re-lease at a new commit", offsetof(struct git_result, relet_p50),
	 offsetof(struct git_result, relet_p50),
	 offsetof(struct git_result, hand_relet_p50),
	 "", " fetch + checkout + clean", "relet_vs_by_hand",
	 "relet_within_1_3x", 1.3, false},
};

static double git_field(const struct git_result *g, size_t off)
{
	return *(const double *)((const char *)g + off);
}

/* A goal's ratio, or NAN when either side was not measured. */
static double git_ratio(const struct git_result *g, const struct git_goal *k)
{
	double num = git_field(g, k->num), den = git_field(g, k->den);

	return isnan(num) || isnan(den) || den <= 0 ? NAN : num / den;
}

/* 1 met, 0 missed, -1 not measured. */
static int git_goal_met(const struct git_result *g, const struct git_goal *k)
{
	double r = git_ratio(g, k);

	if (isnan(r))
		return -1;
	return k->at_least ? r >= k->goal : r <= k->goal;
}

static void print_git(const struct result *r)
{
	const struct git_result *g = &r->git;
	const char *name = r->backend ? "git (postgresql)" : "git";

	printf("%s: a repository of %d files and %d commits (packs %.1f MB), "
	       "generated in %.1f s; %d round%s, %d re-lease%s each\n",
	       name, g->files, g->commits, (double)g->pack_bytes / 1e6,
	       g->generate_s, g->rounds, g->rounds == 1 ? "" : "s", g->relets,
	       g->relets == 1 ? "" : "s");
	if (g->failed)
		printf("%s: FAILED: %s\n", name, g->why);
	else if (!g->measured)
		printf("%s: drydock not measured: %s\n", name, g->why);
	else if (g->check)
		printf("%s: %lld leases, every one at its commit on a clean "
		       "tree; exactly once: %s\n",
		       name, r->lifecycles, r->exactly_once ? "yes" : "NO");
	if (!g->check && !g->failed)
		printf("%s: by hand: git clone --no-local p50 %.1f ms; fetch "
		       "+ checkout + clean -ffdx p50 %.1f ms\n",
		       name, g->clone_p50, g->hand_relet_p50);
	for (size_t i = 0; g->measured && !g->check &&
			   i < sizeof(git_goals) / sizeof(*git_goals);
	     i++) {
		const struct git_goal *k = &git_goals[i];

		printf("%s: %s p50 %.1f ms: %s%.2fx%s (goal at %s %.1fx: "
		       "%s)\n",
		       name, k->what, git_field(g, k->shown), k->before,
		       git_ratio(g, k), k->after,
		       k->at_least ? "least" : "most", k->goal,
		       git_goal_met(g, k) ? "met" : "MISSED");
	}
	if (g->measured && !g->check)
		printf("%s: every lease at its commit on a clean tree; "
		       "exactly once: %s\n",
		       name, r->exactly_once ? "yes" : "NO");
	fflush(stdout);
}

/* ---- pg-ceiling: pgbench -N on a throwaway PostgreSQL server ----------- */

static struct helper pg_helper; /* tests/pg_server.sh, while it runs */

/*
 * Start the run's PostgreSQL server, the first time; false (saying why
 * on stderr) where the server's programs are not installed.
 */
static bool pg_server_up(void)
{
	char line[8400];

	if (pg_srv.tried)
		return pg_srv.up;
	pg_srv.tried = true;
	if (!helper_open(&pg_helper, "pg_server.sh", "--fsync", false, line,
			 sizeof(line)) ||
	    !strncmp(line, "SKIPPED", 7)) {
		fprintf(stderr, "bench: postgresql: %s",
			line[0] ? line : "no PostgreSQL server\n");
		if (strncmp(line, "SKIPPED", 7))
			exit(1);
		helper_close(&pg_helper);
		return false;
	}
	/* "URL<tab>CONNINFO<tab>BINDIR" */
	if (sscanf(line, "%*[^\t]\t%4095[^\t]\t%1023[^\n]", pg_srv.conninfo,
		   pg_srv.bin) != 2)
		die("tests/pg_server.sh's line", NULL);
	/* its database is named by pg_location() */
	if (strstr(pg_srv.conninfo, " dbname="))
		*strstr(pg_srv.conninfo, " dbname=") = '\0';
	pg_srv.up = true;
	return true;
}

/*
 * Can drydock run on the run's server: is it up, and can this build
 * carry wake-ups over PostgreSQL (without them a daemon there exits at
 * start)?  Says why not, once.
 */
static bool pg_drydock_ready(void)
{
	static int ready = -1;
	struct dd_error err = DD_ERROR_INIT;
	char location[4200];

	if (ready >= 0)
		return ready;
	ready = pg_server_up();
	if (ready) {
		pg_location(location, sizeof(location), "drydock");
		if (!dd_store_wake_transport(location, &err)) {
			fprintf(stderr,
				"bench: postgresql: %s: drydock's scenarios "
				"on it are skipped\n",
				err.msg);
			ready = 0;
		}
	}
	return ready;
}

/* Stop it (at the end of the run). */
static void pg_server_down(void)
{
	if (pg_srv.up)
		helper_close(&pg_helper);
	pg_srv.up = false;
}

/*
 * The most a PostgreSQL server on this machine commits: pgbench's
 * simple-update transactions (-N: one UPDATE, one SELECT and one INSERT
 * each) from `clients` connections for `secs` seconds, on the run's
 * server (fsync on), at scale 1, on its database "drydock".  The ceiling
 * for drydock on PostgreSQL, as store_ceiling() is SQLite's; the
 * PostgreSQL scenarios of the run are held against it.  Skipped where
 * the server's programs are not installed.
 */
static struct result run_pg_ceiling(double secs, int clients)
{
	struct result r = {0};
	char pgbench[1100], out[16384], c[16], t[16], db[4200];
	char *init_argv[] = {pgbench, "-i", "-q", "-s", "1", db, NULL};
	char *run_argv[] = {pgbench, "-N", "-c", c, "-j", "2", "-T",
			    t, db, NULL};
	char *version_argv[] = {pgbench, "--version", NULL};
	const char *tps, *done;
	int st;

	r.scenario = "pg-ceiling";
	r.mode = "pgbench";
	r.backend = "postgresql";
	r.clients = clients;
	r.exactly_once = true;
	if (!pg_server_up()) {
		r.skipped = true;
		return r;
	}
	snprintf(pgbench, sizeof(pgbench), "%s/pgbench", pg_srv.bin);
	pg_location(db, sizeof(db), "drydock");
	snprintf(c, sizeof(c), "%d", clients);
	snprintf(t, sizeof(t), "%d", (int)ceil(secs));
	time_command(NULL, version_argv, out, sizeof(out), &st);
	must_pass("pgbench --version", st);
	/* "pgbench (PostgreSQL) 15.18" */
	sscanf(out, "%*s %*s %31s", r.pg_version);
	time_command(NULL, init_argv, NULL, 0, &st);
	must_pass("pgbench -i", st);
	time_command(NULL, run_argv, out, sizeof(out), &st);
	must_pass("pgbench -N", st);
	r.seconds = ceil(secs);
	tps = strstr(out, "tps = ");
	done = strstr(out, "actually processed: ");
	if (!tps || !done) {
		fprintf(stderr, "bench: pg-ceiling: pgbench said: %s\n", out);
		exit(1);
	}
	r.ceiling = strtod(tps + 6, NULL);
	r.pg_transactions = strtoll(done + 20, NULL, 10);
	pg_srv.ceiling = r.ceiling;
	return r;
}

static void print_pg_ceiling(const struct result *r)
{
	if (r->skipped) {
		printf("pg-ceiling: skipped (no PostgreSQL server)\n");
		return;
	}
	printf("pg-ceiling: pgbench -N on PostgreSQL %s, fsync on, %d "
	       "clients: %.0f transactions/s (%lld in %.0f s)\n",
	       r->pg_version, r->clients, r->ceiling, r->pg_transactions,
	       r->seconds);
	fflush(stdout);
}

/* Leases, resources, logs and commands of a long past, added in bulk. */
static void add_history(const char *path, long long resources,
			long long leases)
{
	sqlite3 *db;
	char sql[2048];

	if (sqlite3_open(path, &db) != SQLITE_OK)
		die("open history", NULL);
	snprintf(sql, sizeof(sql),
		 "PRAGMA synchronous=OFF; BEGIN;"
		 "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1"
		 " FROM c WHERE x < %lld)"
		 " INSERT INTO resource(blueprint, type, status, attributes,"
		 " created, modified) SELECT 1, 'host', 4, '{}', 1, 1 FROM c;"
		 "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1"
		 " FROM c WHERE x < %lld)"
		 " INSERT INTO lease(type, status, resource, owner, attributes,"
		 " created, modified) SELECT 'host', 5, 1 + x %% %lld,"
		 " 'history', '{}', 1, 1 FROM c;"
		 "INSERT INTO log(resource, lease, type, time)"
		 " SELECT resource, id, 'lease.released', 1 FROM lease"
		 " WHERE owner = 'history';"
		 "INSERT INTO log(resource, lease, type, time)"
		 " SELECT resource, id, 'lease.destroyed', 1 FROM lease"
		 " WHERE owner = 'history';"
		 "INSERT INTO command(target_kind, target, kind, author,"
		 " consumed, outcome, created)"
		 " SELECT 3, id, 'release', 'history', 1, 'done', 1 FROM lease"
		 " WHERE owner = 'history';"
		 "COMMIT; PRAGMA wal_checkpoint(TRUNCATE);",
		 resources, leases, resources > 0 ? resources : 1);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		die(sqlite3_errmsg(db), NULL);
	sqlite3_close(db);
}

/*
 * Build the hot pool: hold `n` leases at once, so that `n` resources are
 * built, then release them all.
 */
static void build_pool(struct bench *b, int n)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease_request req = {.type = "host", .owner = "bench"};
	struct dd_store *s;
	struct dd_wake *wake;
	long long *ids = calloc((size_t)n, sizeof(*ids));

	if (!ids || dd_store_open_ready(b->path, NULL, &s, &err) ||
	    dd_wake_listen(b->path, DD_WAKE_WATCHER, &wake, &err))
		die("build pool", &err);
	for (int i = 0; i < n; i++) {
		struct dd_lease l = {0};

		if (dd_api_lease_create(s, &req, &l, &err))
			die("lease", &err);
		ids[i] = l.id;
		dd_lease_release(&l);
	}
	for (int i = 0; i < n; i++)
		if (wait_lease(s, wake, ids[i], DD_LEASE_ACTIVE, NULL))
			die("pool lease did not activate", NULL);
	for (int i = 0; i < n; i++)
		if (dd_api_send(s, (struct dd_ref){DD_OBJ_LEASE, ids[i]},
				"release", "bench", NULL, NULL, &err))
			die("release", &err);
	for (int i = 0; i < n; i++)
		wait_lease(s, wake, ids[i], DD_LEASE_DESTROYED, NULL);
	dd_wake_close(wake);
	dd_store_close(s);
	free(ids);
}

/*
 * Give the scenario's blueprint a pre-warmed pool of `min_ready`
 * resources (before its workers start: they fill it first).
 */
static void set_min_ready(struct bench *b, int min_ready)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_blueprint bp = {0};
	struct dd_store *s;
	json_t *cfg;

	if (dd_store_open_ready(b->path, NULL, &s, &err) ||
	    dd_store_blueprint_get(s, 1, &bp, &err))
		die("pool settings", &err);
	cfg = json_deep_copy(bp.config);
	json_object_set_new(cfg, "min_ready", json_integer(min_ready));
	if (dd_api_blueprint_edit(s, bp.id, NULL, cfg, -1, NULL, &err))
		die("pool settings", &err);
	json_decref(cfg);
	dd_blueprint_release(&bp);
	dd_store_close(s);
}

/*
 * Hot pool (`cold` false): R resources already built, C clients looping
 * request -> active -> release -> destroyed.  Cold: each lifecycle also
 * releases its resource, so every lease waits for a new one, unless the
 * blueprint keeps `min_ready` resources built ahead (prewarm), which
 * the workers build before the clients start.  On PostgreSQL (`w`),
 * the ceiling is pgbench's of the run, and the server's write
 * transactions in the timed part are counted.
 */
static struct result run_pool_on(const struct where *w, const char *scenario,
				 enum mode mode, int clients, int resources,
				 bool cold, double secs,
				 long long history_resources,
				 long long history_leases, long long max_each,
				 int min_ready)
{
	struct result r = {0};
	struct bench b;
	struct samples active = {0}, release = {0};
	struct client *cs = calloc((size_t)clients, sizeof(*cs));
	atomic_llong done = 0;
	long long commits0, commits, xid0 = 0;
	double server_cpu0 = -1;
	double start, cpu0;
	struct lock_sampler locks;

	pthread_mutex_init(&active.mu, NULL);
	pthread_mutex_init(&release.mu, NULL);
	bench_open_at(&b, w, mode, resources, 1);
	if ((history_resources || history_leases) && b.pg)
		die("a history on PostgreSQL is not written", NULL);
	if (history_resources || history_leases)
		add_history(b.path, history_resources, history_leases);
	if (!min_ready)
		min_ready = any_min_ready;
	if (min_ready)
		set_min_ready(&b, min_ready);
	bench_start(&b, workers);
	if (!cold)
		build_pool(&b, resources);
	if (min_ready)
		wait_queue_empty(b.path); /* the pool is full */
	if (b.pg) {
		xid0 = pg_next_xid(b.path);
		server_cpu0 = pg_server_cpu_s(b.path);
		lock_sampler_start(&locks, b.path);
	}
	commits0 = dd_store_commit_count();
	cpu0 = self_cpu_seconds();
	start = dd_monotonic();
	for (int i = 0; i < clients; i++) {
		cs[i] = (struct client){.b = &b,
					.index = i,
					.deadline = dd_now() + secs,
					.max_lifecycles = max_each,
					.active = &active,
					.release = &release,
					.done = &done,
					.release_resource = cold};
		pthread_create(&cs[i].tid, NULL, client_main, &cs[i]);
	}
	for (int i = 0; i < clients; i++)
		pthread_join(cs[i].tid, NULL);
	r.seconds = dd_monotonic() - start;
	r.lifecycles = atomic_load(&done);
	/* this process (clients, and in library mode the workers) ... */
	r.cpu_ms_per_lifecycle = self_cpu_seconds() - cpu0;
	commits = dd_store_commit_count() - commits0;
	r.lock_wait_share = b.pg ? lock_sampler_stop(&locks) : NAN;
	if (b.pg && r.lifecycles) {
		double server_cpu = pg_server_cpu_s(b.path);

		r.xacts_per_lifecycle =
			(double)(pg_next_xid(b.path) - xid0) /
			(double)r.lifecycles;
		if (server_cpu >= 0 && server_cpu0 >= 0)
			r.server_cpu_ms_per_lifecycle =
				(server_cpu - server_cpu0) * 1000 /
				(double)r.lifecycles;
	}
	bench_stop(&b);
	/*
	 * Every commit of this process in the run (clients, and in library
	 * mode the workers), plus in the other modes the daemon's whole
	 * life, pool building included, like its CPU time below.
	 */
	if (r.lifecycles && (mode == MODE_LIBRARY || b.daemon_commits >= 0))
		r.commits_per_lifecycle =
			(double)(commits + (mode == MODE_LIBRARY
						     ? 0
						     : b.daemon_commits)) /
			(double)r.lifecycles;
	/* ... and the daemon's whole life (its pool building included) */
	r.cpu_ms_per_lifecycle += b.daemon_cpu_s;
	r.cpu_ms_per_lifecycle = r.lifecycles ? r.cpu_ms_per_lifecycle * 1000 /
							(double)r.lifecycles
					      : 0;
	r.scenario = scenario;
	r.mode = mode_names[mode];
	r.clients = clients;
	r.resources = resources;
	r.existing_resources = history_resources + resources;
	r.finished_leases = history_leases;
	r.min_ready = min_ready;
	r.p50 = pct(&active, 0.50);
	r.p95 = pct(&active, 0.95);
	r.p99 = pct(&active, 0.99);
	r.rel_p50 = pct(&release, 0.50);
	r.rel_p99 = pct(&release, 0.99);
	r.peak_rss_kb = b.daemon_rss_kb;
	r.exactly_once = exactly_once(&b);
	if (b.pg) {
		r.backend = "postgresql";
		r.daemons = b.daemons;
		r.ceiling = pg_srv.ceiling;
	} else {
		r.ceiling = store_ceiling(b.dir, secs > 2 ? 2 : secs / 2);
	}
	bench_remove(&b);
	free(active.v);
	free(release.v);
	free(cs);
	return r;
}

static struct result run_pool(const char *scenario, enum mode mode, int clients,
			      int resources, bool cold, double secs,
			      long long history_resources,
			      long long history_leases, long long max_each,
			      int min_ready)
{
	return run_pool_on(&on_sqlite, scenario, mode, clients, resources,
			   cold, secs, history_resources, history_leases,
			   max_each, min_ready);
}

/* K concurrent release requests for each of N active leases. */
struct releaser {
	const char *path;
	long long n;
	pthread_barrier_t *go;
	pthread_t tid;
};

static void *releaser_main(void *arg)
{
	struct releaser *rl = arg;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *s;
	long long *order = malloc((size_t)rl->n * sizeof(*order));

	if (!order || dd_store_open_ready(rl->path, NULL, &s, &err))
		die("releaser", &err);
	for (long long i = 0; i < rl->n; i++)
		order[i] = i + 1;
	for (long long i = rl->n - 1; i > 0; i--) {
		long long j = (long long)(dd_random() * (double)(i + 1));
		long long t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	pthread_barrier_wait(rl->go);
	for (long long i = 0; i < rl->n; i++)
		dd_api_send(s, (struct dd_ref){DD_OBJ_LEASE, order[i]},
			    "release", "bench", NULL, NULL, NULL);
	dd_store_close(s);
	free(order);
	return NULL;
}

static struct result run_contention_on(const struct where *w,
					enum mode mode, int leases, int k)
{
	struct result r = {0};
	struct bench b;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *s;
	struct dd_wake *wake;
	struct dd_lease_request req = {.type = "host", .owner = "bench"};
	struct releaser *rl = calloc((size_t)k, sizeof(*rl));
	pthread_barrier_t go;
	struct lock_sampler locks;
	long long xid0 = 0;
	double start, server_cpu0 = -1;

	bench_open_at(&b, w, mode, leases, 1);
	bench_start(&b, workers);
	if (dd_store_open_ready(b.path, NULL, &s, &err) ||
	    dd_wake_listen(b.path, DD_WAKE_WATCHER, &wake, &err))
		die("contention", &err);
	for (int i = 0; i < leases; i++)
		if (dd_api_lease_create(s, &req, NULL, &err))
			die("lease", &err);
	for (int i = 1; i <= leases; i++)
		wait_lease(s, wake, i, DD_LEASE_ACTIVE, NULL);
	pthread_barrier_init(&go, NULL, (unsigned)k + 1);
	for (int i = 0; i < k; i++) {
		rl[i] = (struct releaser){b.path, leases, &go, 0};
		pthread_create(&rl[i].tid, NULL, releaser_main, &rl[i]);
	}
	if (b.pg) {
		xid0 = pg_next_xid(b.path);
		server_cpu0 = pg_server_cpu_s(b.path);
		lock_sampler_start(&locks, b.path);
	}
	pthread_barrier_wait(&go);
	start = dd_monotonic();
	for (int i = 0; i < k; i++)
		pthread_join(rl[i].tid, NULL);
	for (int i = 1; i <= leases; i++)
		wait_lease(s, wake, i, DD_LEASE_DESTROYED, NULL);
	r.converge_s = dd_monotonic() - start;
	if (b.pg) {
		double server_cpu = pg_server_cpu_s(b.path);

		r.lock_wait_share = lock_sampler_stop(&locks);
		r.xacts_per_lifecycle =
			(double)(pg_next_xid(b.path) - xid0) / leases;
		if (server_cpu >= 0 && server_cpu0 >= 0)
			r.server_cpu_ms_per_lifecycle =
				(server_cpu - server_cpu0) * 1000 / leases;
	}
	dd_wake_close(wake);
	dd_store_close(s);
	wait_queue_empty(b.path);
	bench_stop(&b);
	r.scenario = "contention";
	r.mode = mode_names[mode];
	r.clients = k;
	r.resources = leases;
	r.existing_resources = leases;
	r.lifecycles = leases;
	r.seconds = r.converge_s;
	r.p50 = r.p95 = r.p99 = r.rel_p50 = r.rel_p99 = NAN;
	r.peak_rss_kb = b.daemon_rss_kb;
	r.exactly_once = exactly_once(&b);
	if (b.pg) {
		r.backend = "postgresql";
		r.daemons = b.daemons;
		r.ceiling = pg_srv.ceiling;
	} else {
		r.ceiling = store_ceiling(b.dir, 0.5);
	}
	pthread_barrier_destroy(&go);
	bench_remove(&b);
	free(rl);
	return r;
}

static struct result run_contention(enum mode mode, int leases, int k)
{
	return run_contention_on(&on_sqlite, mode, leases, k);
}

/* ---- pg-wake: wake-ups between processes on one PostgreSQL database ---- */

/*
 * The other process of pg-wake (`bench --pg-waiter LOCATION`, started by
 * run_pg_wake()): a watcher and a daemon's listener on the store, as a
 * waiting `drydock lease` and a second daemon have, told what to wait
 * for on its standard input, a line each, answering each on its
 * standard output with the time (CLOCK_MONOTONIC, which every process of
 * the machine shares) it saw it, or -1:
 *   active ID   wait, as a client does, until lease ID is active
 *   arm         read what its daemon listener holds, answer "armed",
 *               then wait for the next wake-up to reach that listener
 * It first answers "ready", once both listen.
 */
static int pg_waiter_main(const char *location)
{
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *s;
	struct dd_wake *watcher, *daemon;
	char line[128];
	long long id;

	if (dd_store_open_ready(location, NULL, &s, &err) ||
	    dd_wake_listen(location, DD_WAKE_WATCHER, &watcher, &err) ||
	    dd_wake_listen(location, DD_WAKE_DAEMON, &daemon, &err))
		die("pg-waiter", &err);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready\n");
	while (fgets(line, sizeof(line), stdin)) {
		if (sscanf(line, "active %lld", &id) == 1) {
			bool ok = !wait_lease(s, watcher, id, DD_LEASE_ACTIVE,
					      NULL);

			printf("%.9f\n", ok ? dd_monotonic() : -1.0);
		} else if (!strcmp(line, "arm\n")) {
			struct pollfd p = {dd_wake_fd(daemon), POLLIN, 0};
			double t = -1;

			dd_wake_drain(daemon);
			printf("armed\n");
			/* readable with nothing for it is no wake-up */
			while (poll(&p, 1, 10000) == 1) {
				double seen = dd_monotonic();

				if (dd_wake_drain(daemon) > 0) {
					t = seen;
					break;
				}
			}
			printf("%.9f\n", t);
		} else {
			fprintf(stderr, "bench: pg-waiter: unknown request: %s",
				line);
			return 1;
		}
	}
	dd_wake_close(daemon);
	dd_wake_close(watcher);
	dd_store_close(s);
	return 0;
}

/* The waiter's next answer: a time, or -1 (also when it is gone). */
static double waiter_answer(FILE *from)
{
	char line[64];

	if (!fgets(line, sizeof(line), from))
		return -1;
	return strtod(line, NULL);
}

/*
 * Wake-ups across processes on one PostgreSQL database, as between two
 * machines: one `drydock daemon` on a host of one slot (built first),
 * this process as the client, and a waiter process (pg_waiter_main).
 * Each of `n` rounds: a lease asked for here -> active as seen by the
 * waiter's watcher (through the daemon: woken, allocates, activates,
 * notifies); then, with the daemon idle, a release sent from here -> the
 * waiter's daemon listener woken (the release's commit and NOTIFY, and
 * their delivery).  The lease is destroyed before the next round.
 */
static struct result run_pg_wake(int n)
{
	static const struct where on_pg = {true, 1};
	struct result r = {0};
	struct samples active = {0}, woken = {0}, call = {0};
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease_request req = {.type = "host", .owner = "bench"};
	struct dd_store *s;
	struct dd_wake *wake;
	struct bench b;
	int in[2], out[2];
	FILE *to, *from;
	char line[64];
	pid_t waiter;
	double t0;

	r.scenario = "pg-wake";
	r.mode = mode_names[MODE_PROCESS];
	r.backend = "postgresql";
	r.exactly_once = true;
	if (!pg_drydock_ready()) {
		r.skipped = true;
		return r;
	}
	pthread_mutex_init(&active.mu, NULL);
	pthread_mutex_init(&woken.mu, NULL);
	pthread_mutex_init(&call.mu, NULL);
	bench_open_at(&b, &on_pg, MODE_PROCESS, 1, 1);
	bench_start(&b, workers);
	build_pool(&b, 1);
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		die("pipe", NULL);
	waiter = fork();
	if (waiter == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		execl("/proc/self/exe", "bench", "--pg-waiter", b.path,
		      (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	to = fdopen(in[1], "w");
	from = fdopen(out[0], "r");
	if (!to || !from || !fgets(line, sizeof(line), from) ||
	    strcmp(line, "ready\n"))
		die("pg-wake: the waiter did not start", NULL);
	if (client_open(&b, &s, &err) ||
	    dd_wake_listen(b.path, DD_WAKE_WATCHER, &wake, &err))
		die("pg-wake", &err);
	t0 = dd_monotonic();
	for (int i = 0; i < n; i++) {
		struct dd_lease l = {0};
		double t1, t2, t3, seen;

		t1 = dd_monotonic();
		if (dd_api_lease_create(s, &req, &l, &err))
			die("lease", &err);
		fprintf(to, "active %lld\n", l.id);
		fflush(to);
		seen = waiter_answer(from);
		if (seen < 0)
			die("pg-wake: the lease did not become active", NULL);
		samples_add(&active, seen - t1);
		/* nothing else to wake the daemons while it is armed */
		queue_drained(s, wake);
		fprintf(to, "arm\n");
		fflush(to);
		if (!fgets(line, sizeof(line), from) || strcmp(line, "armed\n"))
			die("pg-wake: the waiter did not arm", NULL);
		t2 = dd_monotonic();
		if (dd_api_send(s, (struct dd_ref){DD_OBJ_LEASE, l.id},
				"release", "bench", NULL, NULL, &err))
			die("release", &err);
		t3 = dd_monotonic();
		seen = waiter_answer(from);
		if (seen < 0)
			die("pg-wake: the release woke no one within 10 s", NULL);
		samples_add(&call, t3 - t2);
		if (seen < t2)
			r.strays++; /* woken by something else: not counted */
		else
			samples_add(&woken, seen - t2);
		wait_lease(s, wake, l.id, DD_LEASE_DESTROYED, NULL);
		dd_lease_release(&l);
	}
	r.seconds = dd_monotonic() - t0;
	fclose(to);
	fclose(from);
	waitpid(waiter, NULL, 0);
	dd_wake_close(wake);
	dd_store_close(s);
	wait_queue_empty(b.path);
	bench_stop(&b);
	r.daemons = 1;
	r.clients = 1;
	r.resources = 1;
	r.existing_resources = 1;
	r.lifecycles = n;
	r.p50 = pct(&active, 0.50);
	r.p95 = pct(&active, 0.95);
	r.p99 = pct(&active, 0.99);
	r.wake_p50 = pct(&woken, 0.50);
	r.wake_p99 = pct(&woken, 0.99);
	r.call_p50 = pct(&call, 0.50);
	r.call_p99 = pct(&call, 0.99);
	r.rel_p50 = r.rel_p99 = NAN;
	r.ceiling = pg_srv.ceiling;
	r.peak_rss_kb = b.daemon_rss_kb;
	r.exactly_once = exactly_once(&b);
	bench_remove(&b);
	free(active.v);
	free(woken.v);
	free(call.v);
	return r;
}

static void print_pg_wake(const struct result *r)
{
	if (r->skipped) {
		printf("pg-wake: skipped (no PostgreSQL server)\n");
		return;
	}
	printf("pg-wake: a release sent here -> a daemon listener in another "
	       "process woken p50 %.2f ms, p99 %.2f ms (the release call "
	       "itself p50 %.2f, p99 %.2f ms); a lease asked for here -> "
	       "active seen by a watcher there p50 %.2f ms, p99 %.2f ms; "
	       "%lld rounds%s, exactly once: %s\n",
	       r->wake_p50, r->wake_p99, r->call_p50, r->call_p99, r->p50,
	       r->p99, r->lifecycles,
	       r->strays ? " (some woken by something else first)" : "",
	       r->exactly_once ? "yes" : "NO");
	fflush(stdout);
}

/* ---- a backlog of waiting leases -------------------------------------- */

/*
 * How the backlog was served, from the store once the run is over: the
 * log, in commit order, says when each lease started waiting and when it
 * was acquired; a lease acquired while an older one was waiting counts
 * as out of order (two leases on their first pass that both find a free
 * slot at once do not).  Request->active comes from the lease rows and
 * release->destroyed from the log.
 */
static void backlog_read(const char *path, struct result *r,
			 struct samples *active, struct samples *release)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	bool *waiting;
	long long max = 0, lo;

	if (sqlite3_open(path, &db) != SQLITE_OK)
		die("open backlog store", NULL);
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_prepare_v2(db, "SELECT max(id) FROM lease", -1, &st,
			       NULL) != SQLITE_OK)
		die(sqlite3_errmsg(db), NULL);
	if (sqlite3_step(st) == SQLITE_ROW)
		max = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	waiting = calloc((size_t)max + 2, sizeof(*waiting));
	if (!waiting)
		die("out of memory", NULL);
	lo = max + 1; /* the oldest waiting lease */
	if (sqlite3_prepare_v2(db,
			       "SELECT lease, type = 'lease.acquired' FROM log"
			       " WHERE type IN ('lease.waiting-for-resources',"
			       " 'lease.acquired') ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK)
		die(sqlite3_errmsg(db), NULL);
	while (sqlite3_step(st) == SQLITE_ROW) {
		long long l = sqlite3_column_int64(st, 0);

		if (l < 1 || l > max)
			continue;
		if (!sqlite3_column_int(st, 1)) {
			waiting[l] = true;
			if (l < lo)
				lo = l;
			continue;
		}
		if (lo < l)
			r->out_of_order++;
		waiting[l] = false;
		while (lo <= max && !waiting[lo])
			lo++;
	}
	sqlite3_finalize(st);
	free(waiting);
	if (sqlite3_prepare_v2(db,
			       "SELECT activated - created FROM lease"
			       " WHERE activated IS NOT NULL",
			       -1, &st, NULL) != SQLITE_OK)
		die(sqlite3_errmsg(db), NULL);
	while (sqlite3_step(st) == SQLITE_ROW)
		samples_add(active, sqlite3_column_double(st, 0));
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(db,
			       "SELECT d.time - r.time FROM log r JOIN log d"
			       " ON d.lease = r.lease AND d.type ="
			       " 'lease.destroyed' WHERE r.type ="
			       " 'lease.released'",
			       -1, &st, NULL) != SQLITE_OK)
		die(sqlite3_errmsg(db), NULL);
	while (sqlite3_step(st) == SQLITE_ROW)
		samples_add(release, sqlite3_column_double(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/*
 * Backlog: `n` leases asked for at once on a small pool (one host of two
 * slots, its resource built first), each released as soon as it is
 * active, like a burst of CI builds queued on a few machines.  What a lifecycle costs should not
 * grow with `n`.  One client creates the leases, then releases whichever
 * are active, woken by every change (its watcher names no object).
 */
static struct result run_backlog(enum mode mode, int n)
{
	struct result r = {0};
	struct bench b;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_lease_request req = {.type = "host", .owner = "bench"};
	struct samples active = {0}, release = {0};
	struct dd_store *s;
	struct dd_wake *wake;
	bool *released = calloc((size_t)n, sizeof(*released));
	long long *out = calloc((size_t)n, sizeof(*out)); /* released */
	long long first = 0, destroyed = 0, commits0, commits;
	size_t nout = 0;
	unsigned long long tasks0;
	double start, cpu0;

	pthread_mutex_init(&active.mu, NULL);
	pthread_mutex_init(&release.mu, NULL);
	bench_open(&b, mode, 1, 2);
	bench_start(&b, workers);
	/* the host's resource exists before the burst, as on a busy pool */
	build_pool(&b, 1);
	if (!released || !out || client_open(&b, &s, &err) ||
	    dd_wake_listen(b.path, DD_WAKE_WATCHER, &wake, &err))
		die("backlog", &err);
	commits0 = dd_store_commit_count();
	tasks0 = dd_metric_get(DD_METRIC_TASKS_RUN);
	cpu0 = self_cpu_seconds();
	start = dd_monotonic();
	for (int i = 0; i < n; i++) {
		struct dd_lease l = {0};

		if (dd_api_lease_create(s, &req, &l, &err))
			die("lease", &err);
		if (!first)
			first = l.id;
		dd_lease_release(&l);
	}
	while (destroyed < n) {
		struct dd_filter f = {0};
		struct dd_lease_list on = {0};
		struct pollfd p = {dd_wake_fd(wake), POLLIN, 0};

		f.status_mask = 1u << DD_LEASE_ACTIVE;
		if (dd_store_lease_list(s, &f, &on, &err))
			die("list active leases", &err);
		for (size_t i = 0; i < on.n; i++) {
			long long k = on.items[i].id - first;

			if (k < 0 || k >= n || released[k])
				continue;
			released[k] = true;
			out[nout++] = on.items[i].id;
			if (dd_api_send(s,
					(struct dd_ref){DD_OBJ_LEASE,
							on.items[i].id},
					"release", "bench", NULL, NULL, &err))
				die("release", &err);
		}
		dd_lease_list_release(&on);
		/* look only at those on their way out: counting is O(N) */
		for (size_t i = 0; i < nout;) {
			struct dd_lease l = {0};
			bool gone;

			if (dd_store_lease_get(s, out[i], &l, &err))
				die("read lease", &err);
			gone = l.status == DD_LEASE_DESTROYED;
			dd_lease_release(&l);
			if (gone) {
				destroyed++;
				out[i] = out[--nout];
			} else {
				i++;
			}
		}
		/* a wake-up that came after the look is still in the socket */
		if (destroyed < n && poll(&p, 1, 1000) > 0)
			dd_wake_drain(wake);
	}
	r.seconds = dd_monotonic() - start;
	r.cpu_ms_per_lifecycle = self_cpu_seconds() - cpu0;
	commits = dd_store_commit_count() - commits0;
	dd_wake_close(wake);
	dd_store_close(s);
	wait_queue_empty(b.path);
	bench_stop(&b);
	r.scenario = "backlog";
	r.mode = mode_names[mode];
	r.clients = 1;
	r.resources = 1;
	r.existing_resources = 1;
	r.lifecycles = n;
	if (mode == MODE_LIBRARY)
		r.tasks_per_lifecycle =
			(double)(dd_metric_get(DD_METRIC_TASKS_RUN) - tasks0) /
			n;
	else if (b.daemon_commits >= 0)
		r.tasks_per_lifecycle = (double)b.daemon_tasks / n;
	if (mode == MODE_LIBRARY || b.daemon_commits >= 0)
		r.commits_per_lifecycle =
			(double)(commits + (mode == MODE_LIBRARY
						     ? 0
						     : b.daemon_commits)) /
			n;
	r.cpu_ms_per_lifecycle =
		(r.cpu_ms_per_lifecycle + b.daemon_cpu_s) * 1000 / n;
	backlog_read(b.path, &r, &active, &release);
	r.p50 = pct(&active, 0.50);
	r.p95 = pct(&active, 0.95);
	r.p99 = pct(&active, 0.99);
	r.rel_p50 = pct(&release, 0.50);
	r.rel_p99 = pct(&release, 0.99);
	r.peak_rss_kb = b.daemon_rss_kb;
	r.exactly_once = exactly_once(&b);
	/* a short look: the ceiling is not what this scenario is about */
	r.ceiling = store_ceiling(b.dir, 0.2);
	bench_remove(&b);
	free(active.v);
	free(release.v);
	free(released);
	free(out);
	return r;
}

/* ---- long polls --------------------------------------------------------- */

/* serve's resident memory and threads now, from /proc. */
static void proc_status(pid_t pid, long *rss_kb, long *threads)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		sscanf(line, "VmRSS: %ld", rss_kb);
		sscanf(line, "Threads: %ld", threads);
	}
	if (f)
		fclose(f);
}

/* A probe as a monitor sends it: a new connection, GET, read to the end. */
static int probe_once(const struct sockaddr_in *addr, const char *path)
{
	char req[256], buf[4096];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok = -1;
	ssize_t got;
	size_t have = 0;

	if (fd < 0)
		return -1;
	snprintf(req, sizeof(req),
		 "GET %s HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n",
		 path);
	if (!connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) &&
	    send(fd, req, strlen(req), MSG_NOSIGNAL) == (ssize_t)strlen(req)) {
		while ((got = recv(fd, buf + have, sizeof(buf) - 1 - have,
				   0)) > 0 &&
		       have + (size_t)got < sizeof(buf) - 1)
			have += (size_t)got;
		buf[have] = '\0';
		ok = strncmp(buf, "HTTP/1.1 200", 12) ? -1 : 0;
	}
	close(fd);
	return ok;
}

/* The value of a sample in serve's /metrics, or -1. */
static long long metric(struct http_conn *c, const char *name)
{
	char *body = NULL, *p, line[128];
	long long v = -1;
	int status;

	/* the sample's line, not its # HELP and # TYPE lines */
	snprintf(line, sizeof(line), "\n%s ", name);
	if (!http_call(c, "GET", "/metrics", NULL, NULL, &status, &body) &&
	    status == 200 && (p = strstr(body, line)))
		v = atoll(p + strlen(line));
	free(body);
	return v;
}

/*
 * Many clients waiting for their leases at once, as a CI system with a
 * few thousand queued builds waits: `polls` connections each long-poll a
 * pending lease (GET /api/v1/leases/ID?wait=active&timeout=60; one host
 * slot, so all but the first lease wait), all parked in serve at once.
 * Meanwhile /livez (a new connection each, as a monitor probes) and an
 * API read (GET /api/v1/leases/ID, keep-alive) are timed one after the
 * other, and serve's resident memory and threads are read.  At SIGTERM
 * every parked poll must be answered, and none before.
 */
static struct result run_long_polls(int polls, int samples)
{
	struct result r = {0};
	struct bench b;
	struct samples livez = {0}, api = {0};
	struct http_conn ctl;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_store *s;
	struct rlimit rl;
	int leases = polls / 50 > 1 ? polls / 50 : 2, *fd, npending = 0;
	long long first = 0, last = 0, active = 0;
	long long *pending = calloc((size_t)leases, sizeof(*pending));
	char auth[160], req[512], path[64];
	double start;

	/* 10,000 client sockets: this process needs that many files */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (!getrlimit(RLIMIT_NOFILE, &rl) &&
	    rl.rlim_cur < (rlim_t)polls + 64) {
		fprintf(stderr, "bench: long-polls needs %d open files; the "
				"limit is %llu (ulimit -n)\n",
			polls + 64, (unsigned long long)rl.rlim_cur);
		exit(1);
	}
	fd = calloc((size_t)polls, sizeof(*fd));
	bench_open(&b, MODE_HTTP, 1, 1);
	if (dd_store_open_ready(b.path, NULL, &s, &err))
		die("open store", &err);
	for (int i = 0; i < leases; i++) {
		struct dd_lease_request q = {.type = "host", .owner = "bench"};
		struct dd_lease l = {0};

		if (dd_api_lease_create(s, &q, &l, &err))
			die("create lease", &err);
		if (!first)
			first = l.id;
		last = l.id;
		dd_lease_release(&l);
	}
	dd_store_close(s);
	bench_start(&b, workers);
	wait_queue_empty(b.path);
	/* one lease got the slot; the others wait for it */
	if (dd_store_open_ready(b.path, NULL, &s, &err))
		die("open store", &err);
	for (long long id = first; id <= last; id++) {
		struct dd_lease l = {0};

		if (dd_store_lease_get(s, id, &l, &err))
			die("read lease", &err);
		if (l.status == DD_LEASE_PENDING)
			pending[npending++] = id;
		else
			active = id;
		dd_lease_release(&l);
	}
	dd_store_close(s);
	if (!npending || !active)
		die("no lease waits (or none has the slot)", NULL);
	if (http_conn_init(&ctl, b.http_addr, b.http_token))
		die("bad serve address", NULL);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n",
		 b.http_token);
	start = dd_monotonic();
	for (int i = 0; i < polls; i++) {
		long long id = pending[i % npending];
		int n = snprintf(req, sizeof(req),
				 "GET /api/v1/leases/%lld?wait=active&"
				 "timeout=60 HTTP/1.1\r\nHost: bench\r\n%s\r\n",
				 id, auth);

		fd[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd[i] < 0 ||
		    connect(fd[i], (struct sockaddr *)&ctl.addr,
			    sizeof(ctl.addr)) ||
		    send(fd[i], req, (size_t)n, MSG_NOSIGNAL) != n)
			die("open a long poll", NULL);
	}
	while (metric(&ctl, "drydock_http_long_polls_waiting") < polls &&
	       dd_monotonic() - start < 50)
		usleep(10000);
	r.seconds = dd_monotonic() - start; /* to park them all */
	r.long_polls_parked = metric(&ctl, "drydock_http_long_polls_waiting");
	proc_status(b.daemon, &r.rss_parked_kb, &r.threads);
	pthread_mutex_init(&livez.mu, NULL);
	pthread_mutex_init(&api.mu, NULL);
	snprintf(path, sizeof(path), "/api/v1/leases/%lld", active);
	for (int i = 0; i < samples; i++) {
		double t = dd_monotonic();
		char *body = NULL;
		int status = 0;

		if (probe_once(&ctl.addr, "/livez"))
			die("/livez did not answer", NULL);
		samples_add(&livez, dd_monotonic() - t);
		t = dd_monotonic();
		if (http_call(&ctl, "GET", path, NULL, NULL, &status, &body) ||
		    status != 200)
			die("the API did not answer", NULL);
		samples_add(&api, dd_monotonic() - t);
		free(body);
	}
	/* none may have been answered yet: their leases are pending */
	for (int i = 0; i < polls; i++) {
		struct pollfd p = {.fd = fd[i], .events = POLLIN};

		if (poll(&p, 1, 0) > 0)
			r.long_polls_early++;
	}
	http_conn_close(&ctl);
	bench_stop(&b); /* SIGTERM: serve answers them all, then exits */
	for (int i = 0; i < polls; i++) {
		char buf[64] = "";

		if (recv(fd[i], buf, sizeof(buf) - 1, 0) > 12 &&
		    !strncmp(buf, "HTTP/1.1 200", 12))
			r.long_polls_answered++;
		close(fd[i]);
	}
	r.scenario = "long-polls";
	r.mode = mode_names[MODE_HTTP];
	r.clients = polls;
	r.resources = 1;
	r.long_polls = polls;
	r.p50 = r.p95 = r.p99 = r.rel_p50 = r.rel_p99 = NAN;
	r.livez_p50 = pct(&livez, 0.50);
	r.livez_p99 = pct(&livez, 0.99);
	r.api_p50 = pct(&api, 0.50);
	r.api_p99 = pct(&api, 0.99);
	r.peak_rss_kb = b.daemon_rss_kb;
	r.exactly_once = r.long_polls_answered == polls &&
			 r.long_polls_early == 0 &&
			 r.long_polls_parked == polls;
	r.ceiling = NAN;
	bench_remove(&b);
	free(livez.v);
	free(api.v);
	free(fd);
	free(pending);
	return r;
}

/* ---- files: one file artifact up and down through serve --------------- */

/* A process's peak resident set (VmHWM), in kB. */
static long peak_rss(pid_t pid)
{
	char path[64], line[256];
	long kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		sscanf(line, "VmHWM: %ld", &kb);
	if (f)
		fclose(f);
	return kb;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int connect_to(const struct sockaddr_in *addr)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || connect(fd, (const struct sockaddr *)addr, sizeof(*addr)))
		die("connect to serve", NULL);
	return fd;
}

/* Read an answer to its end (Connection: close) into buf; its length. */
static size_t read_answer(int fd, char *buf, size_t cap)
{
	size_t got = 0;
	ssize_t n;

	while (got + 1 < cap &&
	       (n = recv(fd, buf + got, cap - 1 - got, 0)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	return got;
}

#define PATTERN (1024 * 1024)

static struct result run_files(long long size)
{
	struct result r = {0};
	struct bench b;
	struct http_conn ctl;
	struct dd_error err = DD_ERROR_INIT;
	struct dd_target t = {.owner = (char *)"bench",
			      .status = DD_TARGET_BUILDING};
	struct dd_sha256_ctx sha;
	struct dd_store *s;
	char *pattern = malloc(PATTERN), *buf = malloc(PATTERN);
	char hex[65], head[1024], answer[4096];
	const char *p;
	long long id = 0, got = 0;
	bool same = true;
	uint32_t x = 1;
	double t0;
	int fd, n;

	if (!pattern || !buf)
		die("out of memory", NULL);
	for (size_t i = 0; i < PATTERN; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		pattern[i] = (char)x;
	}
	/* the file is the pattern over and over; its hash, beforehand */
	dd_sha256_init(&sha);
	for (long long at = 0; at < size; at += PATTERN)
		dd_sha256_update(&sha, pattern,
				 (size_t)(size - at < PATTERN ? size - at
							      : PATTERN));
	dd_sha256_final_hex(&sha, hex);
	bench_open(&b, MODE_HTTP, 1, 1);
	if (dd_store_open_ready(b.path, NULL, &s, &err) ||
	    dd_store_target_insert(s, &t, &err))
		die("make a target", &err);
	dd_store_close(s);
	bench_start(&b, workers);
	if (http_conn_init(&ctl, b.http_addr, b.http_token))
		die("bad serve address", NULL);
	r.rss_before_kb = peak_rss(b.daemon);

	fd = connect_to(&ctl.addr);
	n = snprintf(head, sizeof(head),
		     "POST /api/v1/targets/%lld/artifacts?key=bench HTTP/1.1\r\n"
		     "Host: bench\r\nAuthorization: Bearer %s\r\n"
		     "Content-Type: application/octet-stream\r\n"
		     "Content-Length: %lld\r\nConnection: close\r\n\r\n",
		     t.id, b.http_token, size);
	t0 = dd_monotonic();
	if (send_all(fd, head, (size_t)n))
		die("send the upload's headers", NULL);
	for (long long at = 0; at < size; at += PATTERN)
		if (send_all(fd, pattern,
			     (size_t)(size - at < PATTERN ? size - at
							  : PATTERN)))
			die("send the file", NULL);
	read_answer(fd, answer, sizeof(answer));
	r.up_mbs = (double)size / 1e6 / (dd_monotonic() - t0);
	close(fd);
	if (strncmp(answer, "HTTP/1.1 201", 12) ||
	    !(p = strstr(answer, "\"id\":")))
		die("the upload was refused", NULL);
	id = atoll(p + 5);
	same = strstr(answer, hex) != NULL;

	fd = connect_to(&ctl.addr);
	n = snprintf(head, sizeof(head),
		     "GET /api/v1/artifacts/%lld/content HTTP/1.1\r\n"
		     "Host: bench\r\nAuthorization: Bearer %s\r\n"
		     "Connection: close\r\n\r\n",
		     id, b.http_token);
	t0 = dd_monotonic();
	if (send_all(fd, head, (size_t)n))
		die("send the download's request", NULL);
	/* the headers, then the bytes, each compared with the pattern */
	answer[0] = '\0';
	for (size_t hl = 0; !strstr(answer, "\r\n\r\n");) {
		ssize_t k = recv(fd, answer + hl, 1, 0);

		if (k <= 0 || ++hl + 1 >= sizeof(answer))
			die("read the download's headers", NULL);
		answer[hl] = '\0';
	}
	if (strncmp(answer, "HTTP/1.1 200", 12))
		die("the download was refused", NULL);
	for (;;) {
		size_t off = (size_t)(got % PATTERN);
		ssize_t k = recv(fd, buf, PATTERN - off, 0);

		if (k <= 0)
			break;
		same = same && !memcmp(buf, pattern + off, (size_t)k);
		got += k;
	}
	r.down_mbs = (double)size / 1e6 / (dd_monotonic() - t0);
	close(fd);
	r.peak_rss_kb = peak_rss(b.daemon);
	r.rss_growth_kb = r.peak_rss_kb - r.rss_before_kb;
	http_conn_close(&ctl);
	bench_stop(&b);
	r.scenario = "files";
	r.mode = mode_names[MODE_HTTP];
	r.clients = 1;
	r.resources = 1;
	r.file_bytes = size;
	r.p50 = r.p95 = r.p99 = r.rel_p50 = r.rel_p99 = NAN;
	r.ceiling = NAN;
	r.exactly_once = same && got == size;
	bench_remove(&b);
	free(pattern);
	free(buf);
	return r;
}

static void print_files(const struct result *r)
{
	printf("files: %lld MB up %.0f MB/s, down %.0f MB/s; serve's peak RSS "
	       "%ld -> %ld MB (+%.1f MB)%s\n",
	       r->file_bytes / 1000000, r->up_mbs, r->down_mbs,
	       r->rss_before_kb / 1024, r->peak_rss_kb / 1024,
	       r->rss_growth_kb / 1024.0,
	       r->exactly_once ? "" : "  FAILED: the bytes differ");
	fflush(stdout);
}

static void print_long_polls(const struct result *r)
{
	printf("long-polls: %d parked in %.1f s; serve %ld MB resident "
	       "(peak %ld), %ld threads; /livez p50 %.2f p99 %.2f ms; API "
	       "read p50 %.2f p99 %.2f ms; %d answered at SIGTERM, %d "
	       "before%s\n",
	       (int)r->long_polls_parked, r->seconds, r->rss_parked_kb / 1024,
	       r->peak_rss_kb / 1024, r->threads, r->livez_p50, r->livez_p99,
	       r->api_p50, r->api_p99, r->long_polls_answered,
	       r->long_polls_early, r->exactly_once ? "" : "  FAILED");
	fflush(stdout);
}

/* ---- reporting ---------------------------------------------------------- */

static json_t *num(double v)
{
	return isnan(v) ? json_null() : json_real(round(v * 1000) / 1000);
}

static json_t *git_json(const struct git_result *g)
{
	json_t *goals = json_object();
	char drydock[600];
	json_t *o;

	if (g->measured)
		snprintf(drydock, sizeof(drydock), "measured");
	else
		snprintf(drydock, sizeof(drydock), "%s: %s",
			 g->failed ? "failed" : "not measured", g->why);
	o = json_pack("{s:i, s:i, s:I, s:o, s:i, s:i, s:s, s:o, s:o, s:o, "
		      "s:o, s:o}",
		      "files", g->files, "commits", g->commits, "pack_bytes",
		      (json_int_t)g->pack_bytes, "generate_s",
		      num(g->generate_s), "rounds", g->rounds, "relets",
		      g->relets, "drydock", drydock, "clone_p50_ms",
		      num(g->clone_p50), "fetch_checkout_clean_p50_ms",
		      num(g->hand_relet_p50), "first_lease_p50_ms",
		      num(g->first_p50), "second_lease_p50_ms",
		      num(g->second_p50), "relet_p50_ms", num(g->relet_p50));
	for (size_t i = 0; i < sizeof(git_goals) / sizeof(*git_goals); i++) {
		const struct git_goal *k = &git_goals[i];
		int met = git_goal_met(g, k);

		json_object_set_new(o, k->json_ratio, num(git_ratio(g, k)));
		json_object_set_new(goals, k->json_goal,
				    met < 0 ? json_null() : json_boolean(met));
	}
	json_object_set_new(o, "goals", goals);
	return o;
}

static json_t *result_json(const struct result *r, const char *durability)
{
	json_t *o = json_object();

	json_object_set_new(o, "scenario", json_string(r->scenario));
	json_object_set_new(o, "mode", json_string(r->mode));
	json_object_set_new(o, "backend",
			    json_string(r->backend ? r->backend : "sqlite"));
	json_object_set_new(o, "durability", json_string(durability));
	json_object_set_new(o, "clients", json_integer(r->clients));
	json_object_set_new(o, "resources", json_integer(r->resources));
	json_object_set_new(o, "existing_resources",
			    json_integer(r->existing_resources));
	json_object_set_new(o, "finished_leases",
			    json_integer(r->finished_leases));
	json_object_set_new(o, "lifecycles", json_integer(r->lifecycles));
	json_object_set_new(o, "seconds", num(r->seconds));
	json_object_set_new(o, "lifecycles_per_s",
			    num(r->seconds > 0 ? (double)r->lifecycles /
							 r->seconds
					       : NAN));
	json_object_set_new(o, "p50_ms", num(r->p50));
	json_object_set_new(o, "p95_ms", num(r->p95));
	json_object_set_new(o, "p99_ms", num(r->p99));
	json_object_set_new(o, "release_p50_ms", num(r->rel_p50));
	json_object_set_new(o, "release_p99_ms", num(r->rel_p99));
	json_object_set_new(o, "peak_rss_kb", json_integer(r->peak_rss_kb));
	json_object_set_new(o, "ceiling_commits_per_s", num(r->ceiling));
	json_object_set_new(o, "commits_per_lifecycle",
			    r->commits_per_lifecycle > 0
				    ? num(r->commits_per_lifecycle)
				    : json_null());
	json_object_set_new(o, "cpu_ms_per_lifecycle",
			    r->cpu_ms_per_lifecycle > 0
				    ? num(r->cpu_ms_per_lifecycle)
				    : json_null());
	json_object_set_new(o, "exactly_once", json_boolean(r->exactly_once));
	if (!strcmp(r->scenario, "contention"))
		json_object_set_new(o, "converge_s", num(r->converge_s));
	if (!strcmp(r->scenario, "backlog")) {
		json_object_set_new(o, "slots", json_integer(2));
		json_object_set_new(o, "out_of_order",
				    json_integer(r->out_of_order));
		json_object_set_new(o, "tasks_per_lifecycle",
				    num(r->tasks_per_lifecycle));
	}
	if (r->long_polls)
		json_object_set_new(
			o, "long_polls",
			json_pack("{s:i, s:I, s:i, s:i, s:o, s:I, s:I, s:o, "
				  "s:o, s:o, s:o}",
				  "polls", r->long_polls, "parked",
				  (json_int_t)r->long_polls_parked,
				  "answered_at_stop", r->long_polls_answered,
				  "answered_early", r->long_polls_early,
				  "seconds_to_park", num(r->seconds),
				  "serve_rss_kb", (json_int_t)r->rss_parked_kb,
				  "serve_threads", (json_int_t)r->threads,
				  "livez_p50_ms", num(r->livez_p50),
				  "livez_p99_ms", num(r->livez_p99),
				  "api_p50_ms", num(r->api_p50), "api_p99_ms",
				  num(r->api_p99)));
	if (r->file_bytes)
		json_object_set_new(
			o, "files",
			json_pack("{s:I, s:o, s:o, s:I, s:I}", "bytes",
				  (json_int_t)r->file_bytes, "upload_mb_s",
				  num(r->up_mbs), "download_mb_s",
				  num(r->down_mbs), "serve_peak_rss_before_kb",
				  (json_int_t)r->rss_before_kb,
				  "serve_peak_rss_growth_kb",
				  (json_int_t)r->rss_growth_kb));
	if (!strcmp(r->scenario, "prewarm") || r->min_ready)
		json_object_set_new(o, "min_ready", json_integer(r->min_ready));
	if (!strcmp(r->scenario, "ssh") && !r->skipped)
		json_object_set_new(
			o, "ssh",
			json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
				  "s:o, s:o, s:o, s:o, s:o, s:o}",
				  "warm_master_p50_ms", num(r->warm_p50),
				  "warm_master_p99_ms", num(r->warm_p99),
				  "fresh_p50_ms", num(r->fresh_p50),
				  "fresh_p99_ms", num(r->fresh_p99),
				  "exec_vs_warm_p50", num(r->p50 / r->warm_p50),
				  "fresh_vs_exec_p50",
				  num(r->fresh_p50 / r->p50),
				  "lease_to_active_p50_ms", num(r->lease_p50),
				  "lease_to_active_p99_ms", num(r->lease_p99),
				  "wrapper_p50_ms", num(r->wrapper_p50),
				  "wrapper_p99_ms", num(r->wrapper_p99),
				  "version_p50_ms", num(r->version_p50),
				  "version_p99_ms", num(r->version_p99),
				  "true_p50_ms", num(r->true_p50),
				  "true_p99_ms", num(r->true_p99)));
	if (r->daemons && strcmp(r->scenario, "pg-wake")) {
		double per_s = r->seconds > 0 ? (double)r->lifecycles /
							r->seconds
					      : NAN;

		json_object_set_new(
			o, "postgresql",
			json_pack("{s:i, s:o, s:o, s:o, s:o, s:o}", "daemons",
				  r->daemons, "server_cpu_ms_per_lifecycle",
				  num(r->server_cpu_ms_per_lifecycle > 0
					      ? r->server_cpu_ms_per_lifecycle
					      : NAN),
				  "lock_wait_share", num(r->lock_wait_share),
				  "pgbench_transactions_per_s", num(r->ceiling),
				  "ratio_to_ceiling",
				  num(r->ceiling > 0 ? per_s / r->ceiling
						     : NAN),
				  "transactions_per_lifecycle",
				  num(r->xacts_per_lifecycle > 0
					      ? r->xacts_per_lifecycle
					      : NAN)));
	}
	if (!strcmp(r->scenario, "pg-wake") && !r->skipped)
		json_object_set_new(
			o, "wake",
			json_pack("{s:i, s:o, s:o, s:o, s:o, s:i}", "daemons",
				  r->daemons,
				  "release_to_woken_p50_ms", num(r->wake_p50),
				  "release_to_woken_p99_ms", num(r->wake_p99),
				  "release_call_p50_ms", num(r->call_p50),
				  "release_call_p99_ms", num(r->call_p99),
				  "woken_by_something_else", r->strays));
	if (!strcmp(r->scenario, "pg-ceiling") && !r->skipped)
		json_object_set_new(
			o, "pgbench",
			json_pack("{s:s, s:s, s:o, s:I}", "postgresql",
				  r->pg_version, "fsync", "on",
				  "transactions_per_s", num(r->ceiling),
				  "transactions", (json_int_t)r->pg_transactions));
	if (!strcmp(r->scenario, "run"))
		json_object_set_new(
			o, "run",
			json_pack("{s:o, s:o, s:o, s:o, s:o}", "true_p50_ms",
				  num(r->true_p50), "true_p99_ms",
				  num(r->true_p99), "over_true_p50_ms",
				  num(r->p50 - r->true_p50), "by_hand_p50_ms",
				  num(r->hand_p50), "by_hand_p99_ms",
				  num(r->hand_p99)));
	if (!strcmp(r->scenario, "git"))
		json_object_set_new(o, "git", git_json(&r->git));
	if (r->vs_library_p50 > 0)
		json_object_set_new(
			o, "vs_library",
			json_pack("{s:o, s:o}", "p50_ratio",
				  num(r->vs_library_p50), "throughput_ratio",
				  num(r->vs_library_throughput)));
	return o;
}

static void print_row(const struct result *r)
{
	char mode[16];

	/* PostgreSQL's rows: "pg/1d", "pg/3d" (daemons) */
	if (r->daemons)
		snprintf(mode, sizeof(mode), "pg/%dd", r->daemons);
	else
		snprintf(mode, sizeof(mode), "%s", r->mode);
	printf("%-11s %-8s %4d %7lld %8lld %8.1f %7.2f %7.2f %7.2f %7.2f "
	       "%7.2f %7ld %7.0f %6.1f %6.2f %s\n",
	       r->scenario, mode, r->clients, r->existing_resources,
	       r->finished_leases,
	       r->seconds > 0 ? (double)r->lifecycles / r->seconds : 0, r->p50,
	       r->p95, r->p99, r->rel_p50, r->rel_p99, r->peak_rss_kb,
	       r->ceiling, r->commits_per_lifecycle, r->cpu_ms_per_lifecycle,
	       r->exactly_once ? "yes" : "NO");
	if (r->daemons && r->seconds > 0 && r->ceiling > 0)
		printf("  postgresql, %d daemon%s: %.2fx the pgbench ceiling "
		       "(%.0f transactions/s), %.1f write transactions and "
		       "%.2f ms of the server's CPU per lifecycle; %.1f%% of "
		       "busy backends waiting for a lock\n",
		       r->daemons, r->daemons > 1 ? "s" : "",
		       (double)r->lifecycles / r->seconds / r->ceiling,
		       r->ceiling, r->xacts_per_lifecycle,
		       r->server_cpu_ms_per_lifecycle,
		       r->lock_wait_share * 100);
	fflush(stdout);
}

/*
 * The PostgreSQL scenarios (issue 13), on one server started for them:
 * pgbench's ceiling first, then the hot pool (one client, then C), the
 * cold pool and the contention with 1 and with 3 daemons, and the
 * wake-ups between processes.  --quick keeps the hot pool at C with 1
 * and 3 daemons and a short pg-wake: each scenario's fresh database,
 * schema and daemons cost seconds of their own.  --only pg runs them
 * all, each also by its own name (pg-ceiling, pg-hot-pool, pg-cold,
 * pg-contention, pg-wake).  Returns how many results it added.
 */
static bool want_pg(const char *name)
{
	return !only || !strcmp(only, "pg") || !strcmp(only, name);
}

static size_t run_pg_scenarios(double secs, bool quick, struct result *rs)
{
	static const struct where one = {true, 1}, three = {true, 3};
	static const struct where *const sides[] = {&one, &three};
	bool pools = want_pg("pg-hot-pool") || want_pg("pg-cold") ||
		     want_pg("pg-contention");
	size_t n = 0;

	if (pools || want_pg("pg-ceiling")) {
		rs[n] = run_pg_ceiling(secs, hot_clients);
		print_pg_ceiling(&rs[n]);
		if (rs[n++].skipped)
			return n;
	}
	if (!pg_drydock_ready())
		return n;
	if (!quick && want_pg("pg-hot-pool")) {
		rs[n] = run_pool_on(&one, "hot-pool", MODE_PROCESS, 1, 16,
				    false, secs, 0, 0, 0, 0);
		print_row(&rs[n++]);
	}
	for (size_t i = 0; i < 2 && want_pg("pg-hot-pool"); i++) {
		rs[n] = run_pool_on(sides[i], "hot-pool", MODE_PROCESS,
				    hot_clients, 16, false, secs, 0, 0, 0, 0);
		print_row(&rs[n++]);
	}
	for (size_t i = 0; i < 2 && !quick && want_pg("pg-cold"); i++) {
		rs[n] = run_pool_on(sides[i], "cold", MODE_PROCESS, 16, 64, true,
				    secs, 0, 0, 0, 0);
		print_row(&rs[n++]);
	}
	for (size_t i = 0; i < 2 && !quick && want_pg("pg-contention"); i++) {
		rs[n] = run_contention_on(sides[i], MODE_PROCESS, 50, 20);
		print_row(&rs[n++]);
	}
	if (want_pg("pg-wake")) {
		rs[n] = run_pg_wake(quick ? 10 : 200);
		print_pg_wake(&rs[n++]);
	}
	return n;
}

static json_t *machine_json(void)
{
	struct utsname u;
	char model[256] = "unknown", line[512];
	FILE *f = fopen("/proc/cpuinfo", "r");
	FILE *g = popen("git rev-parse --short HEAD 2>/dev/null", "r");
	char rev[64] = "unknown";

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "model name", 10)) {
			char *c = strchr(line, ':');

			snprintf(model, sizeof(model), "%.200s",
				 c ? c + 2 : line);
			model[strcspn(model, "\n")] = '\0';
			break;
		}
	if (f)
		fclose(f);
	if (g && fgets(rev, sizeof(rev), g))
		rev[strcspn(rev, "\n")] = '\0';
	if (g)
		pclose(g);
	uname(&u);
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "host",
			 u.nodename, "kernel", u.release, "cpu", model, "cpus",
			 (json_int_t)sysconf(_SC_NPROCESSORS_ONLN), "memory_mb",
			 (json_int_t)(sysconf(_SC_PHYS_PAGES) / 1024 *
				      sysconf(_SC_PAGESIZE) / 1024),
			 "sqlite", sqlite3_libversion(), "git_revision", rev);
}

/* The backlog at each size; returns how many results it added. */
static size_t run_backlogs(const int *sizes, size_t nsizes, struct result *rs)
{
	for (size_t i = 0; i < nsizes; i++) {
		rs[i] = run_backlog(MODE_PROCESS, sizes[i]);
		print_row(&rs[i]);
		printf("backlog: %d leases on 2 slots, %lld served while an "
		       "older one waited, %.2f update passes per lease\n",
		       sizes[i], rs[i].out_of_order,
		       rs[i].tasks_per_lifecycle);
	}
	return nsizes;
}

int main(int argc, char **argv)
{
	bool quick = false, check = false;
	const char *out = NULL, *tmp = getenv("TMPDIR");
	const char *durability =
		getenv("DRYDOCK_DURABILITY") &&
				!strcmp(getenv("DRYDOCK_DURABILITY"), "normal")
			? "normal"
			: "full";
	struct result rs[48];
	size_t n = 0;
	json_t *doc, *list;
	int ok = 1;
	bool wrong = false; /* git: a working copy not as asked */

	dd_alloc_init();
	signal(SIGPIPE, SIG_IGN);
	/* pg-wake's other process */
	if (argc == 3 && !strcmp(argv[1], "--pg-waiter"))
		return pg_waiter_main(argv[2]);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			quick = true;
		else if (!strcmp(argv[i], "--check"))
			check = true;
		else if (!strcmp(argv[i], "--keep"))
			keep = true;
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
		else if (!strcmp(argv[i], "--clients") && i + 1 < argc)
			hot_clients = atoi(argv[++i]) > 0 ? atoi(argv[i]) : 16;
		else if (!strcmp(argv[i], "--backlog") && i + 1 < argc)
			backlog_size = atoi(argv[++i]) > 0 ? atoi(argv[i]) : 0;
		else if (!strcmp(argv[i], "--mode") && i + 1 < argc)
			only_mode = argv[++i];
		else if (!strcmp(argv[i], "--workers") && i + 1 < argc)
			workers = atoi(argv[++i]) > 0 ? atoi(argv[i]) : 4;
		else if (!strcmp(argv[i], "--min-ready") && i + 1 < argc)
			any_min_ready = atoi(argv[++i]) > 0 ? atoi(argv[i]) : 0;
		else if (!strcmp(argv[i], "--drydock") && i + 1 < argc)
			drydock_bin = argv[++i];
		else if (!strcmp(argv[i], "--out") && i + 1 < argc)
			out = argv[++i];
		else {
			fprintf(stderr, "usage: bench [--quick | --check] [--only "
					"SCENARIO] [--mode library|process|http] [--clients C] "
					"[--backlog N] "
					"[--workers N] [--min-ready N] [--keep] "
					"[--drydock PATH] [--out FILE]\n");
			return 2;
		}
	}
	snprintf(root, sizeof(root), "%s/dd-bench-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(root))
		die("mkdtemp", NULL);

	printf("%-11s %-8s %4s %7s %8s %8s %7s %7s %7s %7s %7s %7s %7s %6s "
	       "%6s %s\n",
	       "scenario", "mode", "C", "res", "history", "cycles/s", "p50ms",
	       "p95ms", "p99ms", "rel50", "rel99", "rss_kb", "ceiling",
	       "c/cyc", "cpu/cyc", "once");
	if (check) {
		/* keep the benchmark from rotting: correctness only */
		rs[n] = run_pool("hot-pool", MODE_LIBRARY, 4, 4, false, 30, 0,
				 0, 5, 0);
		print_row(&rs[n++]);
		rs[n] = run_contention(MODE_LIBRARY, 10, 5);
		print_row(&rs[n++]);
		rs[n] = run_pool("api", MODE_HTTP, 2, 2, false, 30, 0, 0, 3, 0);
		print_row(&rs[n++]);
		n += run_backlogs((const int[]){20}, 1, rs + n);
		rs[n] = run_long_polls(100, 20);
		print_long_polls(&rs[n++]);
		rs[n] = run_files(20LL * 1024 * 1024 + 17);
		print_files(&rs[n++]);
		rs[n] = run_run(3);
		print_run(&rs[n++]);
		rs[n] = run_ssh(3);
		print_ssh(&rs[n++]);
		rs[n] = run_git(&git_check, &on_sqlite);
		print_git(&rs[n++]);
		rs[n] = run_pg_ceiling(1, 2);
		print_pg_ceiling(&rs[n]);
		if (!rs[n++].skipped && pg_drydock_ready()) {
			static const struct where three = {true, 3};

			/* several daemons on one database, exactly once */
			rs[n] = run_pool_on(&three, "hot-pool", MODE_PROCESS,
					    2, 2, false, 30, 0, 0, 3, 0);
			print_row(&rs[n++]);
			rs[n] = run_contention_on(&three, MODE_PROCESS, 6, 3);
			print_row(&rs[n++]);
			rs[n] = run_pg_wake(3);
			print_pg_wake(&rs[n++]);
			/* working copies served by several daemons */
			rs[n] = run_git(&git_check, &three);
			print_git(&rs[n++]);
		}
		rs[n] = run_pool("prewarm", MODE_LIBRARY, 1, 4, true, 30, 0, 0,
				 5, 2);
		print_row(&rs[n++]);
	} else {
		/*
		 * `make bench-quick` must finish within 30 s on a loaded
		 * machine: each of its eight pool runs costs its clients'
		 * time and half as much again measuring the ceiling, so
		 * the clients' time is what decides the whole run's.
		 */
		double secs = quick ? 1.5 : 8;

#define WANT_MODE(m) (!only_mode || !strcmp(only_mode, m))
#define WANT(name) (!only || !strcmp(only, name))
		if (WANT("hot-pool") && WANT_MODE("library")) {
			rs[n] = run_pool("hot-pool", MODE_LIBRARY, hot_clients, 16,
					 false, secs,
				 0, 0, 0, 0);
			print_row(&rs[n++]);
		}
		if (WANT("hot-pool") && WANT_MODE("process")) {
			rs[n] = run_pool("hot-pool", MODE_PROCESS, hot_clients, 16,
					 false, secs,
				 0, 0, 0, 0);
			print_row(&rs[n++]);
		}
		if (WANT("api")) {
			/*
			 * The hot pool through `drydock serve`'s API, next
			 * to the same workload through the library in one
			 * process (as serve runs it), back to back.
			 */
			struct result lib = run_pool("api", MODE_LIBRARY,
						     hot_clients, 16, false,
						     secs, 0, 0, 0, 0);

			struct result api = run_pool("api", MODE_HTTP,
						     hot_clients, 16, false,
						     secs, 0, 0, 0, 0);

			if (lib.p50 > 0)
				api.vs_library_p50 = api.p50 / lib.p50;
			if (lib.lifecycles)
				api.vs_library_throughput =
					((double)api.lifecycles / api.seconds) /
					((double)lib.lifecycles / lib.seconds);
			rs[n] = lib;
			rs[n + 1] = api;
			print_row(&rs[n]);
			print_row(&rs[n + 1]);
			printf("api: through HTTP, p50 is %.2fx and throughput "
			       "%.2fx the library's\n",
			       api.vs_library_p50, api.vs_library_throughput);
			n += 2;
		}
		if (WANT("cold") && WANT_MODE("library")) {
			rs[n] = run_pool("cold", MODE_LIBRARY, 16, 64, true, secs, 0, 0,
				 0, 0);
			print_row(&rs[n++]);
		}
		if (WANT("cold") && WANT_MODE("process")) {
			rs[n] = run_pool("cold", MODE_PROCESS, 16, 64, true, secs, 0, 0,
				 0, 0);
			print_row(&rs[n++]);
		}
		if (WANT("prewarm")) {
			/*
			 * Single-use resources (each lease releases its own,
			 * as a VM destroyed after every job), one client:
			 * without a pool every lease waits for a build; with
			 * min_ready 2 the workers build the next while the
			 * client holds its lease.
			 */
			struct result cold = run_pool("prewarm", MODE_PROCESS,
						      1, 4, true, secs, 0, 0,
						      0, 0);
			struct result warm = run_pool("prewarm", MODE_PROCESS,
						      1, 4, true, secs, 0, 0,
						      0, 2);

			rs[n] = cold;
			rs[n + 1] = warm;
			print_row(&rs[n]);
			print_row(&rs[n + 1]);
			printf("prewarm: lease to active p50 %.2f ms, p99 %.2f "
			       "ms with min_ready 2; %.2f ms, %.2f ms "
			       "without\n",
			       warm.p50, warm.p99, cold.p50, cold.p99);
			n += 2;
		}
		if (WANT("contention")) {
			rs[n] = run_contention(MODE_PROCESS, quick ? 20 : 50,
					       20);
			print_row(&rs[n++]);
		}
		if (WANT("backlog")) {
			static const int full[] = {10, 100, 1000, 10000};
			static const int brief[] = {10, 100};

			if (backlog_size)
				n += run_backlogs(&backlog_size, 1, rs + n);
			else
				n += quick ? run_backlogs(brief, 2, rs + n)
					   : run_backlogs(full, 4, rs + n);
		}
		if (WANT("scale")) {
			rs[n] = run_pool("scale", MODE_PROCESS, 16, 16, false, secs, 84,
				 0, 0, 0);
			print_row(&rs[n++]);
		}
		if (WANT("scale")) {
			rs[n] = run_pool("scale", MODE_PROCESS, 16, 16, false, secs,
				 quick ? 1000 : 10000 - 16,
				 quick ? 10000 : 100000, 0, 0);
			print_row(&rs[n++]);
		}
		if (WANT("long-polls")) {
			rs[n] = run_long_polls(quick ? 1000 : 10000,
					       quick ? 200 : 1000);
			print_long_polls(&rs[n++]);
		}
		if (WANT("files")) {
			rs[n] = run_files(quick ? 128LL << 20 : 1LL << 30);
			print_files(&rs[n++]);
		}
		if (WANT("run")) {
			rs[n] = run_run(quick ? 30 : 200);
			print_run(&rs[n++]);
		}
		if (WANT("ssh")) {
			rs[n] = run_ssh(quick ? 10 : 200);
			print_ssh(&rs[n++]);
		}
		if (WANT("git")) {
			rs[n] = run_git(quick ? &git_quick : &git_full,
					&on_sqlite);
			print_git(&rs[n++]);
		}
		n += run_pg_scenarios(secs, quick, rs + n);
		if (!quick && WANT("scale")) {
			rs[n] = run_pool("scale", MODE_PROCESS, 16, 16, false,
					 secs, 100000 - 16, 1000000, 0, 0);
			print_row(&rs[n++]);
		}
	}
	doc = json_object();
	list = json_array();
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(list, result_json(&rs[i], durability));
		ok &= rs[i].exactly_once;
		wrong |= rs[i].git.failed;
	}
	json_object_set_new(doc, "machine", machine_json());
	json_object_set_new(doc, "results", list);
	if (out) {
		if (json_dump_file(doc, out, JSON_INDENT(2))) {
			fprintf(stderr, "bench: cannot write '%s'\n", out);
			ok = 0;
		} else {
			printf("%s\n", out);
		}
	}
	json_decref(doc);
	pg_server_down();
	if (keep)
		printf("stores kept under %s\n", root);
	else
		dd_remove_tree(root);
	if (!ok)
		fprintf(stderr, "bench: the exactly-once check FAILED\n");
	if (wrong)
		fprintf(stderr, "bench: git: a working copy was not as asked "
				"(above)\n");
	return ok && !wrong ? 0 : 1;
}
