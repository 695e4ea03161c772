#!/usr/bin/env bash
# Run every test: unit test binaries and integration scripts, three at a
# time (see run_jobs below).
# usage: tests/run.sh BUILD_DIR CHAOS_BUILD_DIR
# Prints each test's result and ends with one line "N passed, N failed".
#
# One throwaway PostgreSQL server serves the whole run (tests/lib_pg.sh,
# kept by tests/pg_server.sh until this script ends, however it ends):
# DRYDOCK_TEST_PG, its superuser's conninfo on the maintenance database,
# is where the unit tests make their databases (tests/unit/pg_test.h).
set -u
build=${1:?build dir}
chaos=${2:?chaos build dir}
top=$(cd "$(dirname "$0")/.." && pwd)
out="$top/tests/out"
rm -rf "$out"
mkdir -p "$out"
passed=0
failed=0
failures=()

# Debian's python3 (the install script's) before a version manager's
# shim: a pyenv shim is a shell script that takes 0.4 s to start python
# on an idle machine and 5 s at load 10, and the tests start hundreds
# (providers, raw HTTP clients): a provider's describe missed its 10 s
if [ -x /usr/bin/python3 ] && [ "$(command -v python3)" != /usr/bin/python3 ]; then
	mkdir -p "$out/bin"
	ln -s /usr/bin/python3 "$out/bin/python3"
	export PATH="$out/bin:$PATH"
fi

export DRYDOCK_BIN="$top/$build/drydock"
export DRYDOCK_CHAOS_BIN="$top/$chaos/drydock"
export DRYDOCK_TEST_OUT="$out"
# every answer an HTTP test gets through lib_http.sh's req() is kept here,
# then held against the API's description after the last script
export DRYDOCK_HTTP_RECORD="$out/http-record"

# The server: pg_server.sh prints "URL<tab>CONNINFO<tab>BINDIR" once it
# runs, and stops it and removes its directory when its input ends.  Its
# input is a pipe only this script holds (bash marks a coprocess's
# descriptors close-on-exec, so no test inherits it).  A server that
# does not start is a failure, and the runs on PostgreSQL are not made.
pg_log="$out/pg-server.log"
coproc PG_SERVER { exec bash "$top/tests/pg_server.sh" 2>"$pg_log"; }
pg_server_pid=$PG_SERVER_PID
pg_server_in=${PG_SERVER[1]}
pg_line=""
read -r -u "${PG_SERVER[0]}" pg_line || true
IFS=$'\t' read -r _ pg_conninfo pg_bin <<<"$pg_line"
if [ -n "${pg_bin:-}" ] && [ -x "$pg_bin/psql" ]; then
	# the same server's maintenance database, not pg_server.sh's "drydock"
	export DRYDOCK_TEST_PG="${pg_conninfo% dbname=*} dbname=postgres"
	passed=$((passed + 1))
	echo "ok    postgresql/server ($DRYDOCK_TEST_PG)"
else
	failed=$((failed + 1))
	failures+=("postgresql-server")
	echo "FAIL  postgresql/server: the tests' PostgreSQL server did not start; the integration scripts do not run on PostgreSQL (see $pg_log)"
	{ echo "$pg_line"; tail -5 "$pg_log"; } | sed '/^$/d; s/^/      /'
fi

# run_unit TEST: run one unit test binary (cmocka) in tests/out, shown
# as unit/NAME with its count of tests; its result goes to
# tests/out/NAME.result and its counts ("PASSED FAILED") to NAME.counts
run_unit() {
	local t=$1 name log rc p f start secs
	name=$(basename "$t")
	log="$out/$name.log"
	start=$(date +%s)
	(cd "$out" && "$t") >"$log" 2>&1 </dev/null
	rc=$?
	secs=$(($(date +%s) - start))
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
	p=${p:-0}
	f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1 # crashed before cmocka could count
	fi
	echo "$p $f" >"$out/$name.counts"
	if [ "$f" -ne 0 ]; then
		echo "FAIL  unit/$name ($p passed, $f failed, ${secs}s; see $log)"
		grep -E '^\[  (FAILED|ERROR) +\]|Error|error:' "$log" | head -20
	else
		echo "ok    unit/$name ($p tests, ${secs}s)"
	fi >"$out/$name.result"
}

# run_script KIND PREFIX SCRIPT [ENV...]: run one integration script
# with ENV (NAME=VALUE...) added, shown as KIND/NAME, its output in
# tests/out/PREFIXNAME.log; its result (a line "ok ..." or "FAIL ...",
# then on a failure its first FAIL lines and the log's end) goes to
# tests/out/PREFIXNAME.result and its counts ("1 0" or "0 1") to
# PREFIXNAME.counts
run_script() {
	local kind=$1 prefix=$2 t=$3 name log start rc secs
	shift 3
	name=$(basename "$t" .sh)
	log="$out/$prefix$name.log"
	start=$(date +%s)
	env "$@" bash "$t" >"$log" 2>&1 </dev/null
	rc=$?
	secs=$(($(date +%s) - start))
	if [ "$rc" -eq 0 ]; then
		echo "ok    $kind/$name (${secs}s)"
	else
		echo "FAIL  $kind/$name (exit $rc, ${secs}s; see $log)"
		# what failed first (lib.sh's fail() says "FAIL: ..."), then
		# the log's end; the whole log is in tests/out
		{
			grep -m 3 -A 4 '^FAIL' "$log"
			echo "... the log's end:"
			tail -15 "$log"
		} | cut -c1-300 | sed 's/^/      /'
	fi >"$out/$prefix$name.result"
	if [ "$rc" -eq 0 ]; then echo "1 0"; else echo "0 1"; fi \
		>"$out/$prefix$name.counts"
}

# The tests run JOBS at a time (DRYDOCK_TEST_JOBS, default 3: a script
# waits for the processes it drives, so three keep two cores busy, and
# a fourth gains nothing).  Each script makes its own directory, ports,
# stores and servers; two runs of one script (on
# SQLite and on PostgreSQL) never overlap, since some look for their own
# processes by their command lines (pgrep -f).  A job is "KIND PREFIX
# SCRIPT STORE" (tab-separated; KIND unit for a unit test binary);
# results are printed as the jobs end.
jobs_max=${DRYDOCK_TEST_JOBS:-3}
job_list=()
declare -A job_pid_name=() job_pid_result=()

# job_report FILE: print one ended job's result (FILE) and count it
# (its .counts: tests passed and failed)
job_report() {
	local p=0 f=1

	cat "$1"
	read -r p f <"${1%.result}.counts" || true
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-1}))
	if [ "${f:-1}" -ne 0 ]; then
		failures+=("$(head -1 "$1" | cut -d' ' -f3)")
	fi
}

run_jobs() {
	local i job kind prefix t store name busy pid
	local -a left=("${job_list[@]}")

	while [ "${#left[@]}" -gt 0 ] || [ "${#job_pid_name[@]}" -gt 0 ]; do
		for i in "${!left[@]}"; do
			[ "${#job_pid_name[@]}" -lt "$jobs_max" ] || break
			IFS=$'\t' read -r kind prefix t store <<<"${left[$i]}"
			[ "$prefix" = - ] && prefix=""
			name=$(basename "$t" .sh)
			busy=0
			for pid in "${!job_pid_name[@]}"; do
				[ "${job_pid_name[$pid]}" = "$name" ] && busy=1
			done
			[ "$busy" = 1 ] && continue
			if [ "$kind" = unit ]; then
				run_unit "$t" &
			else
				run_script "$kind" "$prefix" "$t" \
					DRYDOCK_TEST_STORE="$store" &
			fi
			job_pid_name[$!]=$name
			job_pid_result[$!]="$out/$prefix$name.result"
			unset "left[$i]"
		done
		left=("${left[@]}")
		[ "${#job_pid_name[@]}" -gt 0 ] || break
		pid=""
		wait -n -p pid
		# the PostgreSQL server's coprocess is a job too
		[ -n "${job_pid_result[${pid:-none}]:-}" ] || continue
		job_report "${job_pid_result[$pid]}"
		unset "job_pid_name[$pid]" "job_pid_result[$pid]"
	done
}

# the unit tests go first, then the integration scripts on PostgreSQL
# (the longest: started early, they do not hold up the end of the run),
# then on SQLite
for t in "$top/$build"/tests/test_*; do
	[ -x "$t" ] || continue
	job_list+=("unit	-	$t	-")
done

# The integration scripts again on PostgreSQL (tests/lib.sh: each its own
# database on the run's server), as integration-pg/NAME, but for those
# below: what they test is SQLite's own, or they make their stores
# themselves whatever the run's store is.  One line each: NAME, why.
not_on_pg="
store_faults	an SQLite file damaged, emptied, deleted and checked (integrity_check)
store_files	the SQLite file's and its wake directory's modes
store_location	the location's forms, with stores it names itself
state_dir	the state directory's default: an SQLite store's own directory
run_as	the SQLite file out of a lease command's reach, a store it makes itself
wake_two_users	the SQLite store's Unix-socket wake directory between two users
pg_schema	PostgreSQL already: the schema on servers of its own
pg_daemons_race	PostgreSQL already: three daemons on a database of its own
pg_outage	PostgreSQL already: a server of its own, restarted and cut
pg_netns	PostgreSQL already: daemons in network namespaces, a server of its own
migrate_store	copies an SQLite store into a PostgreSQL one of its own
docs_agree	the docs against the code; its concurrent writer is Python's sqlite3
"
# make check must stay under 15 minutes on a 2-core machine: by default
# the PostgreSQL pass runs the scripts that drive the store hardest (the
# races, crashes and fences, every kind of object, files, providers, SSH
# hosts, machine-bound resources); DRYDOCK_PG_PASS=all runs every one.
pg_pass="release_race crash_recovery stall_fencing lease_lifecycle
lease_wait lease_interrupt targets_api file_artifacts providers run
http_api idempotency pools ssh_hosts machine_bound http_robustness drain
lists authorizations working_copy working_copy_ssh working_copy_machines
working_copy_fetch"
if [ -n "${DRYDOCK_TEST_PG:-}" ]; then
	for t in "$top"/tests/integration/*.sh; do
		[ -f "$t" ] || continue
		name=$(basename "$t" .sh)
		if printf '%s\n' "$not_on_pg" | cut -f1 | grep -qx "$name"; then
			continue
		fi
		if [ "${DRYDOCK_PG_PASS:-}" != all ] &&
			! printf '%s\n' $pg_pass | grep -qx "$name"; then
			continue
		fi
		job_list+=("integration-pg	pg-	$t	postgres")
	done
fi
for t in "$top"/tests/integration/*.sh; do
	[ -f "$t" ] || continue
	job_list+=("integration	-	$t	sqlite")
done
run_jobs
if [ -n "${DRYDOCK_TEST_PG:-}" ]; then
	echo "      not run on PostgreSQL (tests/run.sh says why): $(printf '%s\n' "$not_on_pg" | sed '/^$/d' | cut -f1 | paste -sd' ')"
fi

# the answers the integration scripts got from the API, whichever script
# got them, fit docs/openapi.json (tests/openapi/check.mjs)
log="$out/openapi-answers.log"
if node "$top/tests/openapi/check.mjs" responses "$top/docs/openapi.json" \
	"$DRYDOCK_HTTP_RECORD" >"$log" 2>&1; then
	passed=$((passed + 1))
	echo "ok    openapi/answers ($(tail -1 "$log"))"
else
	failed=$((failed + 1))
	failures+=("openapi-answers")
	echo "FAIL  openapi/answers (see $log)"
	tail -25 "$log" | sed 's/^/      /'
fi

# a very short benchmark run keeps the benchmark from rotting: it asserts
# only correctness (every lease released and destroyed exactly once)
if [ -x "$top/$build/bench" ]; then
	log="$out/bench-check.log"
	if (cd "$out" && "$top/$build/bench" --check --drydock "$DRYDOCK_BIN") >"$log" 2>&1; then
		passed=$((passed + 1))
		echo "ok    bench/check"
	else
		failed=$((failed + 1))
		echo "FAIL  bench/check (see $log)"
		tail -10 "$log" | sed 's/^/      /'
	fi
fi

# the server stops once its input ends; wait for it to be gone
exec {pg_server_in}>&-
wait "$pg_server_pid" 2>/dev/null

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
