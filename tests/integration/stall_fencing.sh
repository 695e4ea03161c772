# A daemon that stalls (SIGSTOP) past its locks' expiry must not write once
# it wakes: another daemon took the objects over, and every write is fenced
# by the lock grant.  Stall a daemon at random moments while another one
# works; state changes must still happen exactly once each.
. "$(dirname "$0")/../lib.sh"
CHAOS_BIN=${DRYDOCK_CHAOS_BIN:-$DD}
N=${STALL_LEASES:-60}
export DRYDOCK_CLAIM_TTL=0.5

hosts=$(for i in $(seq 5); do printf '{"name": "h%d", "slots": 2},' "$i"; done)
host_pool stall "[${hosts%,}]"
start_daemon "$CHAOS_BIN" 4
victim=$DAEMON
start_daemon "$CHAOS_BIN" 2

(
	while [ ! -e "$T/stop" ]; do
		sleep "0.0$(shuf -i 1-9 -n 1)"
		kill -STOP "$victim" 2>/dev/null || break
		echo stalled >>"$T/stalls"
		sleep "0.$(shuf -i 6-9 -n 1)"
		kill -CONT "$victim" 2>/dev/null || break
	done
	kill -CONT "$victim" 2>/dev/null || true
) &
staller=$!
track "$staller"

# rounds of N leases, each released once active, until the victim has
# been stalled at least 5 times (so the run always tests something)
stalls() { grep -c stalled "$T/stalls" 2>/dev/null || echo 0; }
round=0
while [ "$round" -lt 2 ] || { [ "$(stalls)" -lt 5 ] && [ "$round" -lt 20 ]; }; do
	round=$((round + 1))
	for i in $(seq "$N"); do
		dd lease --type host --no-wait >/dev/null
	done
	end=$(($(date +%s) + 120))
	while [ "$(sql 'SELECT count(*) FROM lease WHERE status IN (0, 1, 2)')" != 0 ]; do
		[ "$(date +%s)" -lt "$end" ] || fail "leases stuck: $(sql 'SELECT id, status FROM lease WHERE status IN (0, 1, 2)')"
		for i in $(sql 'SELECT id FROM lease WHERE status = 2'); do
			dd release-lease --id "$i" >/dev/null 2>&1 || true
		done
		sleep 0.2 # a look is two queries: not too often
	done
done
dd release-resource --all >/dev/null 2>&1 || true
wait_until 60 all_resources_destroyed || fail "resources left: $(sql 'SELECT id, status FROM resource WHERE status != 4')"
touch "$T/stop"
wait "$staller" || true
stalls=$(stalls)
[ "$stalls" -ge 5 ] || fail "only $stalls stalls in $round rounds: the test did not test much"

for i in $(sql 'SELECT id FROM lease'); do
	for ev in lease.acquired lease.activated lease.released lease.destroyed; do
		expect_eq "$ev logs of lease $i" "$(sql "SELECT count(*) FROM log WHERE lease = $i AND type = '$ev'")" 1
	done
done
for r in $(sql 'SELECT id FROM resource'); do
	for ev in resource.activated resource.released resource.destroyed; do
		expect_eq "$ev logs of resource $r" "$(sql "SELECT count(*) FROM log WHERE resource = $r AND lease IS NULL AND type = '$ev'")" 1
	done
done
expect_eq "slot locks left" "$(sql 'SELECT count(*) FROM slot_lock')" 0
expect_eq "unconsumed commands" "$(sql 'SELECT count(*) FROM command WHERE consumed = 0')" 0
fenced=$(grep -c ' fenced ' "$T/daemon.log" || true)
echo "$stalls stalls over $round rounds of $N leases; $fenced fenced writes refused; every transition exactly once"
