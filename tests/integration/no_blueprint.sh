# A lease that no blueprint could ever serve fails at once, with its reason.
. "$(dirname "$0")/../lib.sh"
start_daemon

expect_broken() {
	reason=$1
	shift
	set +e
	dd lease --type host "$@" >"$T/out" 2>"$T/err"
	rc=$?
	set -e
	expect_eq "exit status ($*)" "$rc" 12
	grep -q "lease.no-blueprints" "$T/err" || fail "log not streamed: $(cat "$T/err")"
	tail -1 "$T/err" | grep -q "is destroyed: $reason" || fail "reason: $(tail -1 "$T/err")"
}

expect_broken "no blueprint builds 'host' resources"
host_pool pool '[{"name": "a"}]'
dd blueprint disable 1 >/dev/null
expect_broken "every blueprint for 'host' is disabled"
dd blueprint enable 1 >/dev/null
expect_broken "no allowed blueprint can ever serve" --attr host=zzz
host_pool other '[{"name": "b"}]'
dd blueprint disable 2 >/dev/null
expect_broken "none of the lease's allowed blueprints" --blueprint 2

# each broken lease was broken and destroyed exactly once
for id in $(sql 'SELECT id FROM lease'); do
	expect_eq "broken logs of $id" "$(sql "SELECT count(*) FROM log WHERE lease=$id AND type='lease.broken'")" 1
	expect_eq "destroyed logs of $id" "$(sql "SELECT count(*) FROM log WHERE lease=$id AND type='lease.destroyed'")" 1
done
expect_eq "resources built" "$(sql 'SELECT count(*) FROM resource')" 0

# and a servable lease still works
dd lease --type host --attr host=a >/dev/null 2>&1 || fail "lease on host a"
echo ok
