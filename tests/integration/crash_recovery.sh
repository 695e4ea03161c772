# kill -9 the daemon at random moments while leases are requested and
# released; restart it each time.  Everything must converge: every lease
# and resource destroyed, each lease released and destroyed exactly once
# (the log entries are written in the same transaction as the state
# change, so they count the transitions), no slot lock or command left.
# Hooks may run again after a crash that hit between a hook and its
# commit (they are idempotent); the trace shows each ran at least once.
. "$(dirname "$0")/../lib.sh"
CHAOS_BIN=${DRYDOCK_CHAOS_BIN:-$DD}
N=${CRASH_LEASES:-40}
# a dead worker's claims, and with them the objects' locks, expire after a second
export DRYDOCK_CLAIM_TTL=1

hosts=$(for i in $(seq 6); do printf '{"name": "h%d", "slots": 2},' "$i"; done)
host_pool crash "[${hosts%,}]"
start_daemon "$CHAOS_BIN" 4

# the killer: every 50-400 ms, kill -9 the daemon and start a new one
(
	while [ ! -e "$T/stop" ]; do
		sleep "0.$(shuf -i 5-40 -n 1)"
		pid=$(cat "$T/daemon.pid" 2>/dev/null || true)
		[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null && echo "killed $pid" >>"$T/kills"
		"$CHAOS_BIN" daemon --workers 4 2>>"$T/daemon.log" &
		echo $! >"$T/daemon.pid"
		track $!
	done
	pid=$(cat "$T/daemon.pid" 2>/dev/null || true)
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
	wait
) &
killer=$!
track "$killer"
echo "$DAEMON" >"$T/daemon.pid"

# the workload: request leases, release each once it is active (or while
# still pending, for some), all concurrently with the kills
for i in $(seq "$N"); do
	dd lease --type host --no-wait >/dev/null
	if [ $((i % 5)) = 0 ]; then dd release-lease --id "$i" >/dev/null 2>&1 || true; fi
done
# release every lease once it is active, in whatever order they get there
end=$(($(date +%s) + 90))
while [ "$(sql 'SELECT count(*) FROM lease WHERE status IN (0, 1, 2)')" != 0 ]; do
	[ "$(date +%s)" -lt "$end" ] || fail "leases stuck: $(sql 'SELECT id, status FROM lease WHERE status IN (0, 1, 2)')"
	for i in $(sql 'SELECT id FROM lease WHERE status = 2'); do
		dd release-lease --id "$i" >/dev/null 2>&1 || true
	done
	sleep 0.2 # a look is two queries: not too often
done
dd release-resource --all >/dev/null 2>&1 || true
# a fast run may finish before the killer struck thrice: let it strike
wait_until 20 sh -c "[ \$(grep -c killed '$T/kills' 2>/dev/null || echo 0) -ge 3 ]" || true
touch "$T/stop"
wait "$killer" || true
kills=$(grep -c killed "$T/kills" || true)
[ "$kills" -ge 3 ] || fail "only $kills kills happened: the test did not test much"

# one last daemon, left alone, must finish the job
start_daemon "$DD" 4
wait_until 60 all_leases_destroyed || fail "leases left: $(sql 'SELECT id, status FROM lease WHERE status != 5')"
dd release-resource --all >/dev/null 2>&1 || true
wait_until 60 all_resources_destroyed || fail "resources left: $(sql 'SELECT id, status FROM resource WHERE status != 4')"
wait_until 30 queue_empty || fail "tasks left: $(sql 'SELECT * FROM task')"

for i in $(seq "$N"); do
	expect_eq "lease.destroyed logs of $i" "$(sql "SELECT count(*) FROM log WHERE lease = $i AND type = 'lease.destroyed'")" 1
	expect_eq "lease.released logs of $i" "$(sql "SELECT count(*) FROM log WHERE lease = $i AND type = 'lease.released'")" 1
	if [ "$(sql "SELECT count(*) FROM lease WHERE id = $i AND resource IS NOT NULL")" = 1 ]; then
		grep -q "^destroy_lease lease $i\$" "$DRYDOCK_HOOK_TRACE" || fail "destroy hook of lease $i never ran"
	fi
done
for r in $(sql 'SELECT id FROM resource'); do
	expect_eq "resource.destroyed logs of $r" "$(sql "SELECT count(*) FROM log WHERE resource = $r AND lease IS NULL AND type = 'resource.destroyed'")" 1
	grep -q "^destroy_resource resource $r\$" "$DRYDOCK_HOOK_TRACE" || fail "destroy hook of resource $r never ran"
done
expect_eq "slot locks left" "$(sql 'SELECT count(*) FROM slot_lock')" 0
expect_eq "unconsumed commands" "$(sql 'SELECT count(*) FROM command WHERE consumed = 0')" 0
[ -z "$(ls -A "$T/hosts" 2>/dev/null)" ] || fail "directories left: $(ls -R "$T/hosts")"
reruns=$(grep -E "^(release|destroy)_" "$DRYDOCK_HOOK_TRACE" | sort | uniq -d | wc -l)
echo "$kills kills; $N leases, $(sql 'SELECT count(*) FROM resource') resources converged; $reruns release or destroy hooks re-ran after a crash"
