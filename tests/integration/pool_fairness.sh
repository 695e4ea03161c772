# Many clients on a small pool: waiting leases are served as others
# release, and none starves.
. "$(dirname "$0")/../lib.sh"

host_pool small '[{"name": "a", "slots": 2}, {"name": "b"}]'
start_daemon "$DD" 4

clients=12
rounds=3
client() {
	for r in $(seq "$rounds"); do
		id=$(timeout 120 "$DD" lease --type host 2>>"$T/client$1.err") || {
			echo "client $1 round $r: lease failed" >>"$T/failures"
			return 1
		}
		"$DD" exec --lease "$id" -- sh -c "echo $1 > owner; sleep 0.05; [ \"\$(cat owner)\" = $1 ]" ||
			echo "client $1: lease $id was shared" >>"$T/failures"
		"$DD" release-lease --id "$id" >/dev/null
	done
}
pids=""
for c in $(seq "$clients"); do
	client "$c" &
	pids="$pids $!"
done
for p in $pids; do wait "$p" || true; done
[ ! -s "$T/failures" ] || fail "$(cat "$T/failures")"

expect_eq "leases served" "$(sql 'SELECT count(*) FROM lease WHERE activated IS NOT NULL')" $((clients * rounds))
wait_until 20 all_leases_destroyed || fail "leases left: $(sql 'SELECT id, status FROM lease WHERE status != 5')"
# only the pool's two hosts were ever built, and never more at once
expect_eq "resources built" "$(sql 'SELECT count(*) FROM resource')" 2
waited=$(sql "SELECT count(DISTINCT lease) FROM log WHERE type = 'lease.waiting-for-resources'")
[ "$waited" -gt 0 ] || fail "no lease ever waited: the test did not exercise waiting"
# at most 3 leases were active at any instant: replay the log
sql "SELECT type FROM log WHERE type IN ('lease.activated', 'lease.released') ORDER BY id" |
	awk '/activated/ { n++; if (n > max) max = n } /released/ { n-- } END { if (max > 3) { print "max active " max; exit 1 } }' ||
	fail "more leases active at once than the pool has slots"
# first come, first served: once the pool is built (the first 3 leases may
# activate in any order), equal requests acquire in the order they came
order=$(sql "SELECT lease FROM log WHERE type = 'lease.acquired' ORDER BY id" | tail -n +4)
expect_eq "acquisition order" "$(echo "$order" | tr '\n' ' ')" "$(echo "$order" | sort -n | tr '\n' ' ')"
expect_eq "unconsumed commands" "$(sql 'SELECT count(*) FROM command WHERE consumed = 0')" 0
echo "served $((clients * rounds)) leases on 3 slots; $waited waited"
