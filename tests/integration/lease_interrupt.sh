# Ctrl-C while `drydock lease` waits releases the lease; so does a lease
# whose time runs out; and a waiting lease is served when capacity frees.
. "$(dirname "$0")/../lib.sh"

host_pool one '[{"name": "a"}]'
start_daemon
first=$(dd lease --type host 2>/dev/null)

# the pool is full: the second lease waits; interrupt it
"$DD" lease --type host >"$T/out" 2>"$T/err" &
waiter=$!
track "$waiter"
wait_until 10 grep -q 'lease.waiting-for-resources' "$T/err" || fail "second lease did not wait: $(cat "$T/err")"
kill -INT "$waiter"
set +e
wait "$waiter"
rc=$?
set -e
expect_eq "interrupted lease exit" "$rc" 130
grep -q 'interrupted; releasing lease 2' "$T/err" || fail "no release message: $(cat "$T/err")"
wait_until 10 sql_is 5 "SELECT status FROM lease WHERE id=2" || fail "interrupted lease not destroyed: $(lease_status 2)"
expect_eq "interrupted lease never acquired" "$(sql 'SELECT count(*) FROM lease WHERE id=2 AND acquired IS NULL')" 1

# a third lease waits and is served as soon as the first is released
"$DD" lease --type host >"$T/out3" 2>"$T/err3" &
waiter=$!
track "$waiter"
wait_until 10 grep -q 'lease.waiting-for-resources' "$T/err3" || fail "third lease did not wait"
dd release-lease --id "$first" >/dev/null
wait "$waiter" || fail "third lease failed: $(cat "$T/err3")"
expect_eq "third lease id" "$(cat "$T/out3")" 3
expect_eq "third lease status" "$(lease_status 3)" active

# expiry: a lease with a 1 s ttl is released by the daemon on time
dd release-lease --id 3 >/dev/null
id=$(dd lease --type host --ttl 1 2>/dev/null)
wait_until 10 sql_is 5 "SELECT status FROM lease WHERE id=$id" || fail "expiring lease not destroyed: $(lease_status "$id")"
expect_eq "expired log" "$(sql "SELECT count(*) FROM log WHERE lease=$id AND type='lease.expired'")" 1
dd show lease "$id" | grep -q 'drydock:expiry' || fail "expiry command not shown"
echo ok
