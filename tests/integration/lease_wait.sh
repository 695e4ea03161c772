# The wait of `drydock lease` shows the lease's whole log up to its
# activation, each entry once, even when the activation commits between
# the wait's look at the lease and its look at the log.  (It once read
# the log first: an activation committed between the two looks ended the
# wait on "active" without showing `lease.activated`, which run.sh saw
# now and then under load as "lease progress not shown".)  The chaos
# build stops the wait right after it showed the log
# (DRYDOCK_CHAOS_STOP=lease_wait_shown); only then does a daemon start
# and activate the lease, and then the wait goes on.
. "$(dirname "$0")/../lib.sh"

CHAOS_BIN=${DRYDOCK_CHAOS_BIN:-$DD}
if [ "$CHAOS_BIN" = "$DD" ]; then
	echo "no chaos build (DRYDOCK_CHAOS_BIN): skipped"
	echo ok
	exit 0
fi

host_pool local '[{"name": "a", "slots": 1}]'

# stopped PID: the process is stopped (state T)
stopped() { [ "$(sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f1)" = T ]; }
lease_active() { [ "$(lease_status 1)" = active ]; }

DRYDOCK_CHAOS_STOP=lease_wait_shown "$CHAOS_BIN" lease --type host \
	>"$T/id" 2>"$T/lease.err" &
client=$!
track "$client"
wait_until 20 stopped "$client" ||
	fail "the wait did not stop after showing the log: $(cat "$T/lease.err")"
grep -q 'lease.queued' "$T/lease.err" || fail "the queued lease was not shown: $(cat "$T/lease.err")"
grep -q 'lease.activated' "$T/lease.err" && fail "activated with no daemon running"

start_daemon
wait_until 20 lease_active || fail "lease 1 is $(lease_status 1), want active"
kill -CONT "$client"
wait "$client" || fail "drydock lease exited $?: $(cat "$T/lease.err")"
expect_eq "lease id" "$(cat "$T/id")" 1
for e in lease.queued lease.acquired lease.activated; do
	expect_eq "'$e' lines shown" "$(grep -c " $e " "$T/lease.err" || true)" 1
done
echo ok
