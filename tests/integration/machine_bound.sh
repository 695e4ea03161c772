# Resources that exist on one machine only: a host blueprint's hosts
# without an address are directories on the machine whose daemon built
# them.  Two daemons on one store, made two machines by DRYDOCK_MACHINE
# ("a" and "b"), each writing its own hook trace, show the routing:
#  - a resource records the machine that built it, and every hook of it
#    and of the leases placed on it ran in that machine's daemon, once;
#  - with "a"'s daemon stopped, a lease that "b" places on "a"'s
#    resource waits, acquired and not broken, while "b" goes on serving
#    what it may; "a" restarted finishes it;
#  - drydock exec on a lease on "a"'s resource is refused on "b", clearly,
#    and changes nothing.
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/../lib_machines.sh"
touch "$T/a.trace" "$T/b.trace"

host_pool here '[{"name": "h1", "slots": 2}]'
host_pool there '[{"name": "h2"}]'

# ---- built on a: its machine is recorded and shown ----------------------------
start_on a
grep -q "daemon $daemon_a on machine 'a'" "$T/daemon-a.log" ||
	wait_until 10 grep -q "daemon $daemon_a on machine 'a'" "$T/daemon-a.log" ||
	fail "daemon a did not say its machine: $(cat "$T/daemon-a.log")"
l1=$(dd lease --type host --attr host=h1 2>/dev/null)
r1=$(sql "SELECT resource FROM lease WHERE id = $l1")
expect_eq "resource $r1's machine" "$(machine_of_resource "$r1")" a
dd show resource "$r1" | grep -q '^machine *a$' || fail "show resource lacks the machine: $(dd show resource "$r1")"
dd show resource "$r1" --json | grep -q '"machine": "a"' || fail "resource JSON lacks the machine"
DRYDOCK_MACHINE=a dd exec --lease "$l1" -- true || fail "exec on a's lease failed on a"

# ---- exec from another machine is refused --------------------------------------
expect_refused 4 "cannot run a command on lease $l1: its resource $r1 lives on machine 'a', not this one ('b'); run this there" \
	env DRYDOCK_MACHINE=b "$DD" exec --lease "$l1" -- true
expect_refused 4 "lives on machine 'a'" \
	env DRYDOCK_MACHINE=b "$DD" cp "$l1:x" "$T/x"

# ---- a stopped: b places a lease on a's resource, and it waits ----------------------
stop_daemon "$daemon_a"
start_on b
l2=$(dd lease --type host --attr host=h1 --no-wait 2>/dev/null)
placed() { [ "$(lease_status "$l2")" = acquired ]; }
wait_until 20 placed ||
	fail "lease $l2 was not placed: $(lease_status "$l2")"
expect_eq "lease $l2's resource" "$(sql "SELECT resource FROM lease WHERE id = $l2")" "$r1"
# b serves what it may: a lease on a host of its own, after l2 in the
# queue, is active once b has looked past l2's task
l3=$(dd lease --type host --attr host=h2 2>/dev/null)
r3=$(sql "SELECT resource FROM lease WHERE id = $l3")
expect_eq "resource $r3's machine" "$(machine_of_resource "$r3")" b
expect_eq "lease $l2 while a is away" "$(lease_status "$l2")" acquired
expect_eq "lease $l2's task, queued for a" \
	"$(sql "SELECT count(*) FROM task WHERE object_kind = 3 AND object = $l2 AND claimed_by IS NULL")" 1
grep -q "lease $l2\$" "$T/b.trace" && fail "b ran a hook of lease $l2: $(cat "$T/b.trace")"

# ---- a back: it finishes the lease ---------------------------------------------
start_on a
active() { [ "$(lease_status "$l2")" = active ]; }
wait_until 20 active ||
	fail "lease $l2 did not become active with a back: $(lease_status "$l2")"

# ---- both: more leases, then everything released ----------------------------------
host_pool mixed '[{"name": "m1"}, {"name": "m2"}, {"name": "m3"}]'
for i in 1 2 3; do
	dd lease --type host --attr "host=m$i" --no-wait >/dev/null
done
all_active() { [ "$(sql 'SELECT count(*) FROM lease WHERE status != 2')" = 0 ]; }
wait_until 30 all_active || fail "not every lease became active: $(sql 'SELECT id, status FROM lease')"
for l in $(sql 'SELECT id FROM lease'); do dd release-lease --id "$l" >/dev/null; done
for r in $(sql 'SELECT id FROM resource'); do dd release-resource --id "$r" >/dev/null; done
wait_until 30 all_leases_destroyed || fail "leases left: $(sql 'SELECT id, status FROM lease WHERE status != 5')"
wait_until 30 all_resources_destroyed || fail "resources left: $(sql 'SELECT id, status FROM resource WHERE status != 4')"

# every hook ran once, in the daemon of the machine its resource lives on
for m in a b; do
	while read -r hook kind id; do
		case $kind in
		resource) where=$(machine_of_resource "$id") ;;
		lease) where=$(machine_of_lease "$id") ;;
		*) fail "unexpected trace line '$hook $kind $id'" ;;
		esac
		expect_eq "machine of '$hook $kind $id' (ran on $m)" "$where" "$m"
	done <"$T/$m.trace"
done
dups=$(cat "$T/a.trace" "$T/b.trace" | sort | uniq -d)
[ -z "$dups" ] || fail "hooks ran twice: $dups"
for l in $(sql 'SELECT id FROM lease'); do
	for hook in activate_lease destroy_lease; do
		cat "$T/a.trace" "$T/b.trace" | grep -q "^$hook lease $l\$" || fail "$hook of lease $l never ran"
	done
done
for r in $(sql 'SELECT id FROM resource'); do
	for hook in activate_resource destroy_resource; do
		cat "$T/a.trace" "$T/b.trace" | grep -q "^$hook resource $r\$" || fail "$hook of resource $r never ran"
	done
done
echo ok
