# The race from the seed commit: with random sleeps injected at the marked
# points of the release and destroy paths (CHAOS=1 build), 50 leases each
# get 20 concurrent release-lease calls from separate processes, while
# their resources get concurrent release-resource calls too, and two
# daemons with several workers each run.  Every lease and resource must end
# destroyed, each release and destroy hook must run exactly once, and no
# slot lock or unconsumed command may be left.
. "$(dirname "$0")/../lib.sh"
CHAOS_BIN=${DRYDOCK_CHAOS_BIN:-$DD}
N=${RACE_LEASES:-50}
K=${RACE_CALLS:-20}

hosts=$(for i in $(seq "$N"); do printf '{"name": "h%d"},' "$i"; done)
host_pool race "[${hosts%,}]"
start_daemon "$CHAOS_BIN" 4
start_daemon "$CHAOS_BIN" 4

for i in $(seq "$N"); do
	dd lease --type host --no-wait >/dev/null
done
wait_until 60 sql_is $N "SELECT count(*) FROM lease WHERE status = 2" ||
	fail "leases did not all activate: $(sql 'SELECT status, count(*) FROM lease GROUP BY status')"
expect_eq "resources" "$(sql 'SELECT count(*) FROM resource WHERE status = 1')" "$N"

# K release-lease processes per lease, all at once, plus K/4 concurrent
# release-resource calls on its resource
pids=""
for i in $(seq "$N"); do
	r=$(sql "SELECT resource FROM lease WHERE id = $i")
	for k in $(seq "$K"); do
		"$CHAOS_BIN" release-lease --id "$i" >/dev/null 2>&1 &
		pids="$pids $!"
	done
	for k in $(seq $((K / 4))); do
		"$CHAOS_BIN" release-resource --id "$r" >/dev/null 2>&1 &
		pids="$pids $!"
	done
done
for p in $pids; do wait "$p" || true; done

wait_until 120 all_leases_destroyed || fail "leases left: $(sql 'SELECT id, status FROM lease WHERE status != 5')"
wait_until 120 all_resources_destroyed || fail "resources left: $(sql 'SELECT id, status FROM resource WHERE status != 4')"
wait_until 30 queue_empty || fail "tasks left: $(sql 'SELECT * FROM task')"

for i in $(seq "$N"); do
	for hook in release_lease destroy_lease; do
		n=$(grep -c "^$hook lease $i\$" "$DRYDOCK_HOOK_TRACE" || true)
		expect_eq "$hook hooks of lease $i" "$n" 1
	done
	for ev in lease.released lease.destroyed; do
		expect_eq "$ev logs of lease $i" "$(sql "SELECT count(*) FROM log WHERE lease = $i AND type = '$ev'")" 1
	done
done
for r in $(sql 'SELECT id FROM resource'); do
	n=$(grep -c "^destroy_resource resource $r\$" "$DRYDOCK_HOOK_TRACE" || true)
	expect_eq "destroy_resource hooks of resource $r" "$n" 1
	for ev in resource.released resource.destroyed; do
		expect_eq "$ev logs of resource $r" "$(sql "SELECT count(*) FROM log WHERE resource = $r AND lease IS NULL AND type = '$ev'")" 1
	done
done
expect_eq "slot locks left" "$(sql 'SELECT count(*) FROM slot_lock')" 0
expect_eq "unconsumed commands" "$(sql 'SELECT count(*) FROM command WHERE consumed = 0')" 0
done_n=$(sql "SELECT count(*) FROM command WHERE target_kind = 3 AND kind = 'release' AND outcome = 'done'")
expect_eq "release commands that did something" "$done_n" "$N"
echo "$(sql 'SELECT count(*) FROM command') commands, $done_n done, the rest ignored or refused; hooks exactly once"
