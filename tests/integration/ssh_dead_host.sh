# A host that dies between two checks (issue 12): two real sshd hosts, "a"
# and "b", in one host blueprint that checks them on no timer
# (check_interval 0), so that only a lease's activation can find out.
# Host a dies after it was checked healthy; leases asked for then are
# placed on it first (its resource is the older), cannot reach it, and
# go to b: all active there, none broken.  Each such failure queues a's
# check at once, which breaks a's resource with a clear reason, and the
# lease that was active on it with that reason.  Once b dies too, a new
# lease waits like any lease without room, never broken; a second one is
# released cleanly meanwhile; and the first is served as soon as a new
# host is added to the blueprint.  Without the fix, every lease placed
# on the dead host ended broken ("cannot reach ...").
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib_sshd.sh"
sshd_require

# lib_sshd.sh keeps one sshd in its SSHD_* variables: each host's are
# kept here, and put back before sshd_kill or sshd_start acts on it.
# Both hosts share the user, its home, the client key and the host key.
host_save() { eval "${1}_PORT=\$SSHD_PORT ${1}_PID=\$SSHD_PID ${1}_NS=\${SSHD_NS:-}"; }
host_use() { eval "SSHD_PORT=\$${1}_PORT SSHD_PID=\$${1}_PID SSHD_NS=\$${1}_NS"; }
host_kill() { # NAME: the host dies; the current sshd stays the other one
	host_save cur
	host_use "$1"
	sshd_kill
	host_save "$1"
	host_use cur
}

sshd_start
host_save a
SSHD_PORT="" SSHD_PID="" SSHD_NS=""
sshd_start
host_save b

ROOT=$SSHD_HOME/drydock
host_json() { # NAME PORT
	echo "{\"name\": \"$1\", \"address\": \"127.0.0.1\", \"port\": $2, \"user\": \"$SSHD_USER\", \"key\": \"$SSHD_KEY\", \"root\": \"$ROOT\", \"slots\": 8}"
}
pool_config() { # HOST_JSON...
	hosts=$(printf '%s, ' "$@")
	echo "{\"check_interval\": 0, \"hosts\": [${hosts%, }]}"
}
dd blueprint create --type host --name pool \
	--config "$(pool_config "$(host_json a "$a_PORT")" "$(host_json b "$b_PORT")")" >/dev/null
bp=$(sql "SELECT id FROM blueprint WHERE name = 'pool'")
start_daemon

lease_on() { # ATTRS...: a lease, waited for until active
	dd lease --type host --blueprint "$bp" "$@" 2>>"$T/lease.err"
}
lease_is() { [ "$(lease_status "$1")" = "$2" ]; }
resource_is() { [ "$(resource_status "$1")" = "$2" ]; }
host_of() { dd show lease "$1" --json | jq -r .attributes.host; }
reason_of() { # TYPE LEASE: the reason of the lease's last entry of TYPE
	sql "SELECT json_extract(data, '$.reason') FROM log WHERE lease = $2 AND type = '$1' ORDER BY id DESC LIMIT 1"
}
never_broke() { # LEASE
	[ -z "$(sql "SELECT 1 FROM log WHERE lease = $1 AND type = 'lease.broken'")" ] ||
		fail "lease $1 broke: $(reason_of lease.broken "$1")"
}

# ---- both hosts answer: a resource on each, checked healthy, a lease on each
la=$(lease_on --attr host=a) || fail "lease on a: $(cat "$T/lease.err")"
ra=$(sql "SELECT resource FROM lease WHERE id = $la")
lb=$(lease_on --attr host=b) || fail "lease on b: $(cat "$T/lease.err")"
rb=$(sql "SELECT resource FROM lease WHERE id = $lb")
[ "$ra" -lt "$rb" ] || fail "a's resource $ra is not the older"

# ---- a dies; new leases go to b --------------------------------------------------
host_kill a
moved=""
for i in 1 2 3; do
	l=$(lease_on) || fail "a lease broke instead of going to b: $(tail -1 "$T/lease.err")"
	expect_eq "lease $l's host" "$(host_of "$l")" b
	never_broke "$l"
	moved="$moved $l"
done
# the first was placed on a, found it dead, and says so on its log and a's
first=${moved# }
first=${first%% *}
reason_of lease.resource-failure "$first" | grep -q "cannot reach '127.0.0.1:$a_PORT'" ||
	fail "lease $first does not say why it moved: $(reason_of lease.resource-failure "$first")"
expect_eq "the failure on a's log" \
	"$(sql "SELECT count(*) FROM log WHERE resource = $ra AND lease = $first AND type = 'lease.resource-failure'")" 1
# a's check, queued by that failure, broke its resource with the reason, and
# the lease that was active on it
wait_until 60 resource_is "$ra" broken || fail "a's resource is $(resource_status "$ra")"
sql "SELECT json_extract(data, '$.reason') FROM log WHERE resource = $ra AND type = 'resource.broken'" |
	grep -q "cannot reach '127.0.0.1:$a_PORT'" || fail "a's resource broke without a clear reason"
wait_until 60 lease_is "$la" destroyed || fail "the lease on a is $(lease_status "$la")"
reason_of lease.broken "$la" | grep -q "resource $ra broke: cannot reach '127.0.0.1:$a_PORT'" ||
	fail "the lease on a does not say why it broke: $(reason_of lease.broken "$la")"
# nobody tries a again: one failure at most per lease, none since a broke
expect_eq "leases that failed on a" \
	"$(sql "SELECT count(DISTINCT lease) FROM log WHERE type = 'lease.resource-failure'")" \
	"$(sql "SELECT count(*) FROM log WHERE type = 'lease.resource-failure'")"
lease_is "$lb" active || fail "the lease on b is $(lease_status "$lb")"

# ---- b dies too: a new lease waits, never broken; another is released -------------
host_kill b
x=$(dd lease --type host --blueprint "$bp" --no-wait)
y=$(dd lease --type host --blueprint "$bp" --no-wait)
waiting() { [ "$(sql "SELECT waiting FROM lease WHERE id = $1 AND status = 0")" = 1 ]; }
wait_until 60 resource_is "$rb" broken || fail "b's resource is $(resource_status "$rb")"
wait_until 60 waiting "$x" || fail "lease $x is $(lease_status "$x"), not waiting"
for l in $moved "$lb"; do
	wait_until 60 lease_is "$l" destroyed || fail "lease $l on b is $(lease_status "$l")"
	reason_of lease.broken "$l" | grep -q "resource $rb broke: cannot reach '127.0.0.1:$b_PORT'" ||
		fail "lease $l does not say why it broke: $(reason_of lease.broken "$l")"
done
dd release-lease --id "$y" >/dev/null
wait_until 60 lease_is "$y" destroyed || fail "the released waiting lease is $(lease_status "$y")"
never_broke "$y"
waiting "$x" || fail "lease $x is $(lease_status "$x"), not waiting"
never_broke "$x"

# ---- a new host: the waiting lease is served there ---------------------------------
SSHD_PORT="" SSHD_PID="" SSHD_NS=""
sshd_start
host_save c
dd blueprint edit "$bp" --config "$(pool_config "$(host_json a "$a_PORT")" \
	"$(host_json b "$b_PORT")" "$(host_json c "$c_PORT")")" >/dev/null
wait_until 60 lease_is "$x" active || fail "the waiting lease is $(lease_status "$x") after a host was added"
expect_eq "the waiting lease's host" "$(host_of "$x")" c
never_broke "$x"
dd exec --lease "$x" -- true || fail "exec on the new host"

echo "ssh_dead_host: ok"
