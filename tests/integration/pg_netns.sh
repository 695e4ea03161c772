# Issue 13: nothing assumes one host.  Two "machines", each a network
# namespace of its own (ip netns) joined to this one by a veth pair on
# addresses the test picks (10.213.A.0/29: this side .1 and .5, the
# machines .2 and .6), reach the PostgreSQL server over TCP only: it
# listens on this side's addresses as well as loopback, and lets the two
# links in (lib_pg.sh's PG_CONF and PG_HBA).  Every process on a machine
# has a /tmp of its own (an empty tmpfs, mounted in the mount namespace
# `ip netns exec` makes), and the machine's own TMPDIR and state
# directory; the test's files (the hook trace, the host pool's
# directories) are on the filesystem both share, outside /tmp.
#  - A daemon on machine 2 alone serves a lease asked for by a waiting
#    `drydock lease` on machine 1: each was woken by the other's
#    notification across the link.
#  - With a daemon on each machine, a `drydock lease` on machine 2 waits
#    for the only host, which a release from machine 1 frees: the waiter
#    gets its lease.
#  - Each machine's daemon listens for wake-ups (LISTEN) from its own
#    address (pg_stat_activity), and no drydock process of either
#    machine has a Unix socket (ss in its namespace), nor left one in its
#    directories: no Unix-socket wake-ups between them.
#  - Everything converges (tests/lib_converge.sh), and the namespaces and
#    links are removed at the end, also when the test fails.
# Needs root (ip netns); CI runs the tests as root.
case "${TMPDIR:-/tmp}" in
/tmp | /tmp/*) export TMPDIR=/var/tmp ;; # the machines' /tmp is their own
esac
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib_pg.sh"
. "$(dirname "$0")/../lib_converge.sh"
[ "$(id -u)" = 0 ] || fail "this test makes network namespaces: run it as root"
# a drydock built under /tmp is out of the machines' sight: run a copy
case "$DD" in
/tmp/*) cp "$DD" "$T/drydock" && DD=$T/drydock ;;
esac

# namespaces a test killed outright left behind (named after its pid)
for ns in $(ip netns list | sed -n 's/^\(dd[0-9]*m[12]\)\b.*/\1/p'); do
	pid=${ns#dd}
	kill -0 "${pid%m*}" 2>/dev/null || ip netns del "$ns" 2>/dev/null || true
done

# a /29 of 10.213.0.0/16 that no interface here uses
for _ in $(seq 20); do
	a=$(shuf -i 1-254 -n 1)
	ip -o addr | grep -q " 10\.213\.$a\." || break
done
NS="dd$$"
net_down() {
	for m in 1 2; do ip netns del "${NS}m$m" 2>/dev/null || true; done
}
NET_PREV_TRAP=$(pg_prev_trap)
trap 'eval "$NET_PREV_TRAP"; net_down' EXIT
for m in 1 2; do
	here=10.213.$a.$((m * 4 - 3)) there=10.213.$a.$((m * 4 - 2))
	ip netns add "${NS}m$m"
	# the host side's end is named after it; its peer moves into the machine
	ip link add "${NS}h$m" type veth peer name "${NS}n$m"
	ip link set "${NS}n$m" netns "${NS}m$m"
	ip addr add "$here/30" dev "${NS}h$m"
	ip link set "${NS}h$m" up
	ip netns exec "${NS}m$m" ip addr add "$there/30" dev "${NS}n$m"
	ip netns exec "${NS}m$m" ip link set "${NS}n$m" up
	ip netns exec "${NS}m$m" ip link set lo up
	mkdir -p "$T/m$m/tmp" "$T/m$m/state"
done

PG_CONF="listen_addresses = '127.0.0.1,10.213.$a.1,10.213.$a.5'"
PG_HBA="host all all 10.213.$a.0/29 scram-sha-256"
pg_start
pg_store
# on M: ON is the command line that runs a command on machine M: in its
# network namespace, with a /tmp of its own, the machine's TMPDIR and
# state directory, and the store over TCP at this side's address of its
# link.  Each program execs the next, so "${ON[@]}" CMD & leaves $! the
# pid of CMD itself (which lib.sh's cleanup stops).
on() {
	ON=(ip netns exec "${NS}m$1" env TMPDIR="$T/m$1/tmp"
		DRYDOCK_STATE_DIR="$T/m$1/state"
		DRYDOCK_DB="postgres://$PG_USER:$PG_PASSWORD@10.213.$a.$(($1 * 4 - 3)):$PG_PORT/$PG_DB"
		sh -c 'mount -t tmpfs -o mode=1777 tmpfs /tmp && exec "$@"' on)
}
host_pool netns '[{"name": "h1"}]'

# a daemon on machine 2 alone; a waiting `drydock lease` on machine 1
on 2; "${ON[@]}" "$DD" daemon --workers 2 2>>"$T/daemon2.log" &
daemon2=$!
track "$daemon2"
on 1; "${ON[@]}" "$DD" lease --type host >"$T/lease1.out" 2>"$T/lease1.err" ||
	fail "a lease asked for on machine 1: $(cat "$T/lease1.err" "$T/daemon2.log")"
expect_eq "lease 1" "$(lease_status 1)" active
grep -q 'event=lease.activated lease=1 ' "$T/daemon2.log" ||
	fail "machine 2's daemon did not activate lease 1: $(cat "$T/daemon2.log")"

# a daemon on each; a waiter on machine 2, freed by a release on machine 1
on 1; "${ON[@]}" "$DD" daemon --workers 2 2>>"$T/daemon1.log" &
daemon1=$!
track "$daemon1"
on 2; "${ON[@]}" "$DD" lease --type host >"$T/lease2.out" 2>"$T/lease2.err" &
waiter=$!
track "$waiter"
waiting() { [ "$(sql "SELECT count(*) FROM log WHERE lease = 2 AND type = 'lease.waiting-for-resources'")" -ge 1 ]; }
wait_until 60 waiting || fail "lease 2 does not wait for the host: $(sql 'SELECT id, status FROM lease')"
kill -0 "$waiter" || fail "the waiter on machine 2 ended: $(cat "$T/lease2.err")"
released=$(date +%s.%N)
on 1; "${ON[@]}" "$DD" release-lease --id 1 >/dev/null
gone() { ! kill -0 "$waiter" 2>/dev/null; }
wait_until 60 gone || fail "the waiter on machine 2 still waits: lease 2 is $(lease_status 2)"
got=$(date +%s.%N)
wait "$waiter" || fail "the waiter on machine 2 failed: $(cat "$T/lease2.err")"
expect_eq "lease 2" "$(lease_status 2)" active

# each machine's daemon listens from its own address; no Unix sockets
for m in 1 2; do
	eval "pid=\$daemon$m"
	there=10.213.$a.$((m * 4 - 2))
	n=$(sql "SELECT count(*) FROM pg_stat_activity WHERE datname = '$PG_DB' AND client_addr = '$there' AND application_name = 'drydock wake daemon'")
	[ "$n" -ge 1 ] || fail "no LISTEN from machine $m ($there): $(sql "SELECT application_name, client_addr, query FROM pg_stat_activity WHERE datname = '$PG_DB'")"
	unix=$(ip netns exec "${NS}m$m" ss -xpn | grep -c "pid=$pid," || true)
	expect_eq "Unix sockets of machine $m's daemon" "$unix" 0
	kill -0 "$pid" || fail "machine $m's daemon ended: $(cat "$T/daemon$m.log")"
done
found=$(find "$T/m1" "$T/m2" -type s)
[ -z "$found" ] || fail "Unix sockets in the machines' directories: $found"

on 1; "${ON[@]}" "$DD" release-lease --id 2 >/dev/null
expect_converged "$DRYDOCK_HOOK_TRACE"
echo "the waiter on machine 2 had its lease $(echo "($got - $released) * 1000 / 1" | bc) ms after the release on machine 1 was started"
