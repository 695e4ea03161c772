# lease -> exec -> release -> destroyed, through the CLI against a real daemon.
. "$(dirname "$0")/../lib.sh"

host_pool local '[{"name": "a", "slots": 2}]'
start_daemon

id=$(dd lease --type host 2>"$T/lease.err")
expect_eq "lease id" "$id" 1
grep -q 'lease.activated' "$T/lease.err" || fail "lease log was not streamed"
expect_eq "status" "$(lease_status 1)" active

# exec runs in the lease's own directory and passes the status through
out=$(dd exec --lease 1 -- sh -c 'echo hello > f; pwd; exit 7') && fail "exit status lost"
rc=$?
expect_eq "exec status" "$rc" 7
dir=$(echo "$out" | tail -1)
[ -f "$dir/f" ] || fail "command did not run in $dir"
case "$dir" in "$T"/hosts/*) ;; *) fail "lease dir $dir not under root" ;; esac
dd exec --lease 1 -- uname -a | grep -q Linux || fail "uname through exec"

# show (human and JSON) names everything
dd show lease 1 | grep -q 'resource:1:slot:0' || fail "show lacks slot lock"
dd show lease 1 --json >"$T/l.json"
for f in '"id": 1' '"status": "active"' '"type": "host"' '"resource": 1' \
	'"commands": \[' '"log": \[' '"attributes": {'; do
	grep -q "$f" "$T/l.json" || fail "lease JSON lacks $f"
done
dd show resource 1 --json | grep -q '"blueprint": 1' || fail "resource JSON lacks blueprint"

# release: queue a command; the daemon performs it
dd release-lease --id 1 | grep -q 'queued release of lease 1' || fail "release output"
wait_until 10 sql_is 5 "SELECT status FROM lease WHERE id=1" ||
	fail "lease did not reach destroyed: $(lease_status 1)"
[ ! -e "$dir" ] || fail "lease directory $dir survived its lease"
dd show lease 1 --json | grep -q '"outcome": "done"' || fail "command outcome not shown"
expect_eq "slot locks of lease" "$(sql "SELECT count(*) FROM slot_lock WHERE owner_kind=3")" 0

# exec on a destroyed lease is refused with the state error status
dd exec --lease 1 -- true 2>"$T/e" && fail "exec on destroyed lease ran"
rc=$?
expect_eq "exec refused status" "$rc" 4
grep -q 'lease 1: it is destroyed' "$T/e" || fail "unclear refusal: $(cat "$T/e")"

# releasing it again is an illegal state change and changes nothing
before=$(sql 'SELECT count(*) FROM command')
dd release-lease --id 1 2>"$T/e" && fail "second release accepted"
rc=$?
expect_eq "release destroyed status" "$rc" 4
grep -q 'cannot release lease 1: it is already destroyed' "$T/e" || fail "message: $(cat "$T/e")"
expect_eq "commands after refused release" "$(sql 'SELECT count(*) FROM command')" "$before"

# the resource stays, free for the next lease: reused, not rebuilt
id=$(dd lease --type host 2>/dev/null)
expect_eq "second lease resource" "$(sql "SELECT resource FROM lease WHERE id=$id")" 1
expect_eq "resources built" "$(sql 'SELECT count(*) FROM resource')" 1

# exactly one release and destroy hook ran for lease 1
expect_eq "release hooks" "$(grep -c '^release_lease lease 1$' "$DRYDOCK_HOOK_TRACE")" 1
expect_eq "destroy hooks" "$(grep -c '^destroy_lease lease 1$' "$DRYDOCK_HOOK_TRACE")" 1
echo ok
