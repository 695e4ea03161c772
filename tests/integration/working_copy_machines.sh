# Working copies on local hosts, with daemons on two machines (made two
# by DRYDOCK_MACHINE, "a" and "b", on one store, each tracing its
# hooks).  A working copy runs its git through its host lease, so it
# lives where its host does: once its host lease is active, the copy's
# resource records the host's machine, and from then on only that
# machine's daemons run its hooks and its leases' (a daemon of the other
# machine would be refused the host's commands).
#  - host h1 is built on "a", h2 on "b"; copies are asked for while only
#    "b" runs, so that "b" starts them all, then "a" joins;
#  - every copy's row names its host's machine, every lease activates,
#    and `drydock exec -- git rev-parse HEAD` (run on that machine)
#    prints the requested commit;
#  - every hook that runs git (activate_lease, destroy_lease,
#    destroy_resource of a copy) ran on the copy's machine;
#  - copies on SSH hosts, reachable from anywhere, live on no machine
#    (working_copy_ssh.sh checks it).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib_repos.sh"
make_repos "$T/repos"

. "$(dirname "$0")/../lib_machines.sh"
touch "$T/a.trace" "$T/b.trace"

host_pool local '[{"name": "h1", "slots": 8}, {"name": "h2", "slots": 8}]'
hb=$(sql "SELECT id FROM blueprint WHERE name = 'local'")
dd blueprint create --type working-copy --name wc --config \
	"{\"hosts\": [$hb], \"root\": \"$T/wc\", \"limit\": 4, \"per_host_limit\": 2}" >/dev/null
wcb=$(sql "SELECT id FROM blueprint WHERE name = 'wc'")

# ---- the hosts: h1 built on a, h2 on b ------------------------------------------
start_on a
hl=$(dd lease --type host --attr host=h1 2>/dev/null)
rh1=$(lease_resource "$hl")
release "$hl"
stop_daemon "$daemon_a"
start_on b
hl=$(dd lease --type host --attr host=h2 2>/dev/null)
rh2=$(lease_resource "$hl")
release "$hl"
expect_eq "h1's machine" "$(machine_of_resource "$rh1")" a
expect_eq "h2's machine" "$(machine_of_resource "$rh2")" b

# ---- four copies, started by b alone; then a joins ----------------------------------
specs=('"branch": "main"' '"branch": "feature"' "\"commit\": \"$(rev v1)\"" '"ref": "refs/changes/01/1/1"')
wants=("$(rev main)" "$(rev feature)" "$(rev v1)" "$(rev feature)")
leases=()
for s in "${specs[@]}"; do
	leases+=("$(dd lease --no-wait --type working-copy --attributes "$(src_at "$s")" 2>/dev/null)")
done
# b's copies on h1 wait for their host leases, which only a may activate
some_placed() { [ "$(sql "SELECT count(*) FROM resource WHERE blueprint = $wcb")" = 4 ]; }
wait_until 20 some_placed || fail "four copies were not allocated: $(sql "SELECT id, status FROM resource WHERE blueprint = $wcb")"
start_on a
all_active() { [ "$(sql "SELECT count(*) FROM lease WHERE type = 'working-copy' AND status = 2")" = 4 ]; }
wait_until 60 all_active ||
	fail "not every copy's lease became active: $(sql "SELECT id, status, attributes FROM lease WHERE type = 'working-copy'")"

# two copies on h1 make its cache at once when a joins: neither breaks
expect_eq "copies broken: $(sql "SELECT data FROM log WHERE type = 'resource.broken'")" \
	"$(sql "SELECT count(*) FROM log WHERE type = 'resource.broken'")" 0
on_h1=0 on_h2=0
for i in 0 1 2 3; do
	l=${leases[$i]}
	r=$(lease_resource "$l")
	host=$(sql "SELECT json_extract(attributes, '\$.host') FROM resource WHERE id = $r")
	hlease=$(sql "SELECT json_extract(attributes, '\$.leases.host') FROM resource WHERE id = $r")
	hres=$(lease_resource "$hlease")
	m=$(machine_of_resource "$hres")
	expect_eq "copy $r's machine (host $host, resource $hres)" "$(machine_of_resource "$r")" "$m"
	case $m in a) on_h1=$((on_h1 + 1)) ;; b) on_h2=$((on_h2 + 1)) ;; esac
	expect_eq "lease $l: exec on machine $m" \
		"$(DRYDOCK_MACHINE=$m dd exec --lease "$l" -- git rev-parse HEAD)" "${wants[$i]}"
done
[ "$on_h1" -gt 0 ] && [ "$on_h2" -gt 0 ] ||
	fail "the copies did not use both hosts (on a: $on_h1, on b: $on_h2)"

# ---- everything released: the copies' teardown too runs where they live ------------
for l in "${leases[@]}"; do release "$l"; done
for r in $(sql "SELECT id FROM resource WHERE blueprint = $wcb"); do
	dd release-resource --id "$r" >/dev/null
done
wc_gone() { [ "$(sql "SELECT count(*) FROM resource WHERE blueprint = $wcb AND status != 4")" = 0 ]; }
wait_until 30 wc_gone || fail "copies left: $(sql "SELECT id, status FROM resource WHERE blueprint = $wcb")"

# every hook that runs git ran on the copy's machine, and did run
for m in a b; do
	while read -r hook kind id; do
		case "$hook $kind" in
		"activate_lease lease" | "destroy_lease lease")
			r=$(lease_resource "$id")
			[ "$(sql "SELECT blueprint FROM resource WHERE id = $r")" = "$wcb" ] || continue ;;
		"destroy_resource resource")
			r=$id
			[ "$(sql "SELECT blueprint FROM resource WHERE id = $r")" = "$wcb" ] || continue ;;
		*) continue ;;
		esac
		expect_eq "machine of '$hook $kind $id' (ran on $m)" "$(machine_of_resource "$r")" "$m"
	done <"$T/$m.trace"
done
for l in "${leases[@]}"; do
	cat "$T/a.trace" "$T/b.trace" | grep -q "^activate_lease lease $l\$" || fail "activate_lease of lease $l never ran"
done
for r in $(sql "SELECT id FROM resource WHERE blueprint = $wcb"); do
	cat "$T/a.trace" "$T/b.trace" | grep -q "^destroy_resource resource $r\$" || fail "destroy_resource of copy $r never ran"
done
echo "PASS: working_copy_machines"
