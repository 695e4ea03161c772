# Issue 13: three daemons against one PostgreSQL database, the release
# race and the crash test at once.  Three daemons of the chaos build
# (random sleeps at the marked points of the release and destroy paths)
# serve N leases; once all are active, each lease gets K (20) concurrent
# release-lease calls from separate processes and its resource K/4
# concurrent release-resource calls, while the third daemon is killed
# with kill -9 at random moments and started again.  Every lease and
# resource must end destroyed, each released and destroyed exactly once,
# every release and destroy hook run exactly once, and no slot lock or
# unconsumed command left (tests/lib_converge.sh).  A hook that a killed
# daemon ran may run once more (killed between the hook and its commit):
# each instance of the third daemon traces its hooks to a file of its
# own, so a repeat is allowed only where a killed instance made the
# earlier run (or a daemon reported the run failed or fenced: a worker
# stalled past its one-second lock on this busy machine).  Under SHARE
# row locks the fence check and the claim keeper's renewal deadlocked
# here, and the pass that lost ran its hooks again with nothing said.
# No release call may fail but as refused (exit 4: the lease was already
# released or destroyed).
#
# Size: 500 leases x 20 releases (and 5 resource releases) is 12,500
# drydock processes, each a libpq connection or two (its store's and its
# wake-up's) and so a server backend's start: on this 2-core machine,
# shared with other builds (load 15-50), 30 leases took 98-185 s, 10
# took 47 s of releases alone, about 5 processes a second; 500 would take
# about 40 minutes.  N is 16 (PG_RACE_LEASES to change it); the 20
# concurrent releases per lease stay.  The calls go out W leases at a
# time, each lease's all at once: 100 processes of a connection each, and
# the daemons', well within the server's 500 (lib_pg.sh).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib_pg.sh"
. "$(dirname "$0")/../lib_converge.sh"
CHAOS_BIN=${DRYDOCK_CHAOS_BIN:-$DD}
N=${PG_RACE_LEASES:-16}
K=${PG_RACE_CALLS:-20}
W=4
# a killed daemon's claims, and with them the objects' locks, expire after a second
export DRYDOCK_CLAIM_TTL=1

pg_start
pg_store socket
echo "${SECONDS}s: server and store ready"
hosts=$(for i in $(seq "$N"); do printf '{"name": "h%d"},' "$i"; done)
host_pool race "[${hosts%,}]"
start_daemon "$CHAOS_BIN" 4
start_daemon "$CHAOS_BIN" 4

# the third daemon: instance I traces its hooks to $T/trace.I; every
# 100-800 ms it is killed (I is listed in $T/killed) and another starts;
# once $T/stop exists the last one is left to run
(
	# bash's "Killed" job reports, not the test's output
	exec 2>>"$T/killer.log"
	i=0
	while :; do
		i=$((i + 1))
		DRYDOCK_HOOK_TRACE=$T/trace.$i "$CHAOS_BIN" daemon --workers 4 \
			2>>"$T/daemon.log" &
		pid=$!
		track "$pid"
		sleep "0.$(shuf -i 10-80 -n 1)"
		[ ! -e "$T/stop" ] || break
		kill -9 "$pid"
		echo "$i" >>"$T/killed"
		wait "$pid" || true
	done
) &
killer=$!
track "$killer"
for i in $(seq "$N"); do
	dd lease --type host --no-wait >/dev/null
done
all_active() { [ "$(sql 'SELECT count(*) FROM lease WHERE status = 2')" = "$N" ]; }
wait_until 90 all_active ||
	fail "leases did not all activate: $(sql 'SELECT status, count(*) FROM lease GROUP BY status')"
expect_eq "active resources" "$(sql 'SELECT count(*) FROM resource WHERE status = 1')" "$N"
echo "${SECONDS}s: $N leases active"

# storm ID RESOURCE: K release-lease calls on lease ID and K/4
# release-resource calls on its resource, all at once; their exit
# statuses are appended to $T/statuses.  A hundred processes connecting
# at once to a server on a loaded machine (CI's: a third of the calls
# found no answer within libpq's connect timeout, 5 s) wait for it as
# for a busy store: for the busy timeout, here 30 s (docs/postgresql.md)
storm() {
	local DRYDOCK_BUSY_TIMEOUT_MS=30000
	export DRYDOCK_BUSY_TIMEOUT_MS
	local pids="" p
	for _ in $(seq "$K"); do
		"$CHAOS_BIN" release-lease --id "$1" >/dev/null 2>>"$T/release.err" &
		pids="$pids $!"
	done
	for _ in $(seq $((K / 4))); do
		"$CHAOS_BIN" release-resource --id "$2" >/dev/null 2>>"$T/release.err" &
		pids="$pids $!"
	done
	for p in $pids; do
		if wait "$p"; then echo 0; else echo $?; fi
	done >>"$T/statuses"
}
# W leases' storms at a time (wait -n: the next of them to end; it says
# "no such job" of those already waited for)
storms="" running=0
while IFS='|' read -r id res; do
	storm "$id" "$res" &
	storms="$storms $!"
	running=$((running + 1))
	if [ "$running" -ge "$W" ]; then
		# shellcheck disable=SC2086 # a list of pids
		wait -n $storms 2>/dev/null || true
		running=$((running - 1))
	fi
done < <(sql 'SELECT id, resource FROM lease ORDER BY id')
for p in $storms; do wait "$p" || true; done
echo "${SECONDS}s: every release call answered"
# the killer has struck thrice at least, or the test did not test much
kills() { grep -c . "$T/killed" 2>/dev/null || echo 0; }
struck_thrice() { [ "$(kills)" -ge 3 ]; }
wait_until 30 struck_thrice || true
touch "$T/stop"
wait "$killer" || true
[ "$(kills)" -ge 3 ] || fail "only $(kills) kills happened: the test did not test much"
calls=$(sort "$T/statuses" | uniq -c | awk '{printf "%s%d exit %s", sep, $1, $2; sep = ", "}')
! grep -qvx '[04]' "$T/statuses" ||
	fail "release calls failed ($calls): $(sort "$T/release.err" | uniq -c | head -5)"

echo "${SECONDS}s: $(kills) kills; the last daemon left to run"
for k in $(cat "$T/killed"); do cat "$T/trace.$k"; done >"$T/repeatable" 2>/dev/null || true
expect_converged "$DRYDOCK_HOOK_TRACE $T/trace.*" "$T/repeatable"
done_n=$(sql "SELECT count(*) FROM command WHERE target_kind = 3 AND kind = 'release' AND outcome = 'done'")
expect_eq "release commands that did something" "$done_n" "$N"
echo "$N leases, $(kills) kills of the third daemon; release calls: $calls; $(sql 'SELECT count(*) FROM command') commands, $done_n releases done"
