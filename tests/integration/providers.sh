# The exec blueprint type (docs/providers.md) with real providers, through
# the CLI against a real daemon:
#   1. examples/providers/sandbox.py end to end: lease, exec in a bubblewrap
#      sandbox (streams apart, exit status), release, destroyed once;
#   2. broken providers (crash, hang past its timeout, garbage output,
#      non-zero exit, an error reply) on resource.allocate: the reason and
#      the provider's stderr in the logs, the lease broken, and every key
#      the provider was asked to build destroyed, once;
#   3. lease.activate failing breaks the lease; resource.destroy failing
#      once is logged on the resource and retried, and the resource is
#      destroyed only after it succeeded; the provider's exec crashing
#      or hanging ends `drydock exec` (its signal; its --timeout);
#   4. bad configs and a provider speaking another protocol version are
#      refused at blueprint create, changing nothing;
#   5. destroy exactly once across kill -9 of the daemon: stopped right
#      after the provider answered resource.allocate, and again right
#      after it answered resource.destroy, before drydock recorded either;
#   6. examples/providers/ssh_accounts.py against the test sshd
#      (tests/lib_sshd.sh): drydock runs commands and copies files over
#      SSH itself, refuses a changed host key (which breaks the resource
#      at once, as it does a remote host's), and the resource is
#      destroyed once the provider can reach the host again.
. "$(dirname "$0")/../lib.sh"
CHAOS_BIN=${DRYDOCK_CHAOS_BIN:-$DD}
top=$(cd "$(dirname "$0")/../.." && pwd)
SANDBOX=$top/examples/providers/sandbox.py
BROKEN=$top/tests/providers/broken.py
mkdir -p "$T/sb"

# sandbox_bp NAME TYPE RECORD: a blueprint of sandbox.py
sandbox_bp() {
	dd blueprint create --type exec --name "$1" --config "{
		\"resource_type\": \"$2\", \"limit\": 2, \"slots\": 2,
		\"command\": [\"$SANDBOX\", \"--root\", \"$T/sb\"],
		\"env\": {\"SANDBOX_RECORD\": \"$3\"}}" >/dev/null
}

# broken_bp NAME MODE OP [TIMEOUTS]: a blueprint of broken.py, recording
# to $T/rec-NAME, building resources of type NAME
broken_bp() {
	dd blueprint create --type exec --name "$1" --config "{
		\"resource_type\": \"$1\", \"grace\": 1,
		\"timeouts\": {${4:-}},
		\"command\": [\"$BROKEN\", \"--record\", \"$T/rec-$1\",
		             \"--mode\", \"$2\", \"--op\", \"$3\"]}" >/dev/null
}

# once_each RECORD: every key the provider was asked about was destroyed,
# and what it built for a key (if the call got that far) was built once
# and removed once
once_each() {
	[ -s "$1" ] || fail "$1: the provider recorded nothing"
	for key in $(awk '{print $2}' "$1" | sort -u); do
		created=$(grep -c "^allocate $key created$" "$1" || true)
		[ "$created" -le 1 ] || fail "$1: $key created $created times"
		expect_eq "$1: $key removed" "$(grep -c "^destroy $key removed$" "$1" || true)" "$created"
		grep -q "^destroy $key " "$1" || fail "$1: $key never destroyed"
	done
}

log_of() { sql "SELECT type || ' ' || data FROM log WHERE $1 ORDER BY id"; }

# --- 1. the sandbox provider, end to end ---------------------------------
sandbox_bp sandboxes sandbox "$T/rec-sandbox"
start_daemon
id=$(dd lease --type sandbox 2>"$T/lease.err") || fail "sandbox lease: $(cat "$T/lease.err")"
expect_eq "status" "$(lease_status "$id")" active
dd exec --lease "$id" -- sh -c 'echo out; echo err >&2; echo data > f; pwd; exit 7' \
	>"$T/out" 2>"$T/err" && fail "exit status lost"
rc=$?
expect_eq "exec status" "$rc" 7
expect_eq "stdout" "$(head -1 "$T/out")" out
grep -q '^err$' "$T/err" || fail "stderr lost: $(cat "$T/err")"
grep -q '^out$' "$T/err" && fail "stdout went to stderr"
expect_eq "stdin" "$(echo piped | dd exec --lease "$id" -- cat)" piped
expect_eq "env" "$(dd exec --lease "$id" --env GREETING=hi -- sh -c 'echo $GREETING')" hi
# a command past its --timeout is stopped with what it left behind in
# the sandbox (the provider exec'd bwrap, in the group drydock stops)
dd exec --lease "$id" --timeout 1 -- sh -c 'sleep 317 & sleep 318' 2>/dev/null &&
	fail "a command past its timeout ended well"
rc=$?
expect_eq "exec past its timeout" "$rc" 124
wait_until 10 sh -c '! pgrep -f "sleep 31[78]"' || fail "the sandbox's commands survived: $(pgrep -af 'sleep 31[78]')"
# files go through the command interface (files_posix.c over exec)
head -c 300000 /dev/urandom >"$T/blob"
dd cp "$T/blob" "$id:sub/blob" || fail "cp into the sandbox"
dd cp "$id:sub/blob" "$T/blob.back" || fail "cp out of the sandbox"
cmp -s "$T/blob" "$T/blob.back" || fail "the file came back changed"
dir=$(tail -1 "$T/out")
case "$dir" in "$T/sb/dd-1-"*"/lease-$id") ;; *) fail "command ran in '$dir'" ;; esac
expect_eq "file written" "$(cat "$dir/f")" data
# the sandbox: the rest of the file system is read-only, /tmp its own,
# pids its own
esc=/var/tmp/dd-escaped-$$
dd exec --lease "$id" -- touch "$esc" 2>/dev/null && fail "wrote outside the sandbox"
[ ! -e "$esc" ] || { rm -f "$esc"; fail "a file escaped the sandbox"; }
dd exec --lease "$id" -- touch "$T/escaped" || fail "cannot write the sandbox's /tmp"
[ ! -e "$T/escaped" ] || fail "the sandbox's /tmp is the machine's"
expect_eq "pid in the sandbox" "$(dd exec --lease "$id" -- sh -c 'echo $$')" 2
dd show resource 1 --json | grep -q '"provider_id": "sandbox-dd-1-' || fail "resource lacks the provider's id"
dd release-lease --id "$id" >/dev/null
wait_until 30 sql_is 5 "SELECT status FROM lease WHERE id=$id" ||
	fail "lease not destroyed: $(lease_status "$id")"
[ ! -e "$dir" ] || fail "lease.destroy left $dir"
dd release-resource --id 1 >/dev/null
wait_until 30 all_resources_destroyed || fail "resource not destroyed: $(resource_status 1)"
[ -z "$(ls -A "$T/sb")" ] || fail "sandboxes left: $(ls "$T/sb")"
once_each "$T/rec-sandbox"

# --- 2. providers that fail resource.allocate ----------------------------
broken_bp crash crash resource.allocate
broken_bp hang hang resource.allocate '"activate_resource": 2'
broken_bp garbage garbage resource.allocate
broken_bp exit exit resource.allocate
broken_bp error error resource.allocate
for mode in crash hang garbage exit error; do
	dd lease --type "$mode" --no-wait >"$T/id-$mode"
done
for mode in crash hang garbage exit error; do
	l=$(cat "$T/id-$mode")
	wait_until 90 sql_is 5 "SELECT status FROM lease WHERE id=$l" ||
		fail "$mode: lease $l not destroyed: $(lease_status "$l")"
done
wait_until 60 all_resources_destroyed || fail "resources left: $(sql 'SELECT id, type, status FROM resource WHERE status != 4')"
check_reason() { # MODE REASON: on the lease's log and its resources'
	l=$(cat "$T/id-$1")
	log_of "lease = $l AND type = 'lease.broken'" | grep -q "$2" ||
		fail "$1: lease.broken lacks '$2': $(log_of "lease = $l")"
	log_of "resource IN (SELECT id FROM resource WHERE type = '$1') AND type = 'resource.broken'" |
		grep -q "$2" ||
		fail "$1: resource.broken lacks '$2': $(log_of "resource IN (SELECT id FROM resource WHERE type = '$1')")"
	once_each "$T/rec-$1"
}
check_reason crash "provider '$BROKEN' failed on resource.allocate: killed by signal 11; stderr: broken.py: about to crash"
check_reason hang 'activate_resource timed out after 2 s'
check_reason garbage "provider '$BROKEN' failed on resource.allocate: its reply is not a JSON object: 'this is not JSON {"
check_reason exit "provider '$BROKEN' failed on resource.allocate: exit status 3; stderr: broken.py: exploded on resource.allocate"
check_reason error "provider '$BROKEN' failed on resource.allocate: the lab is closed"
log_of "type = 'provider.stderr'" | grep -q '"stderr":"broken.py: exploded on resource.allocate"' ||
	fail "no provider.stderr entry: $(log_of "type = 'provider.stderr'")"
# the hanging provider ignored SIGTERM: SIGKILL after the grace ended it
pgrep -f "$BROKEN.*--mode hang" >/dev/null && fail "a hanging provider survived its timeout"
expect_eq "slot locks left" "$(sql 'SELECT count(*) FROM slot_lock')" 0

# --- 3. lease.activate fails; resource.destroy fails once; exec fails -----
broken_bp lactivate exit lease.activate
broken_bp dfail once resource.destroy
dd lease --type lactivate 2>"$T/la.err" && fail "a lease whose activation failed was handed out"
grep -q "provider '$BROKEN' failed on lease.activate: exit status 3" "$T/la.err" ||
	fail "lease.activate's failure not reported: $(cat "$T/la.err")"
id=$(dd lease --type dfail 2>/dev/null) || fail "dfail lease"
r=$(sql "SELECT resource FROM lease WHERE id = $id")
dd release-lease --id "$id" >/dev/null
dd release-resource --id "$r" >/dev/null
wait_until 60 sql_is 4 "SELECT status FROM resource WHERE id=$r" ||
	fail "resource $r not destroyed after a failed destroy: $(resource_status "$r")"
# the first call failed (after removing it), the retry found it gone
expect_eq "destroy calls" "$(grep -c '^destroy ' "$T/rec-dfail")" 2
once_each "$T/rec-dfail"
[ -e "$T/rec-dfail.once" ] || fail "resource.destroy never failed"
grep -q "provider '$BROKEN' failed on resource.destroy: exit status 3" "$T/daemon.log" ||
	fail "the failed destroy was not reported: $(cat "$T/daemon.log")"
log_of "resource = $r AND type = 'resource.destroy-failure'" |
	grep -q "failed on resource.destroy: exit status 3; stderr: broken.py: failing once" ||
	fail "the failed destroy is not on the resource's log: $(log_of "resource = $r")"
# the provider's exec crashing, or hanging (deaf to SIGTERM): the
# command ends with the signal's status, or is stopped at its timeout
broken_bp xcrash crash exec
broken_bp xhang hang exec
id=$(dd lease --type xcrash 2>/dev/null) || fail "xcrash lease"
rc=0
dd exec --lease "$id" -- true 2>"$T/xcrash.err" || rc=$?
expect_eq "exec whose provider crashed" "$rc" 139
grep -q "broken.py: about to crash" "$T/xcrash.err" ||
	fail "the crash's stderr was not passed on: $(cat "$T/xcrash.err")"
id=$(dd lease --type xhang 2>/dev/null) || fail "xhang lease"
rc=0
dd exec --timeout 1 --lease "$id" -- true 2>"$T/xhang.err" || rc=$?
expect_eq "exec whose provider hung" "$rc" 124
grep -q "ran longer than 1 s: stopped it" "$T/xhang.err" ||
	fail "the hang was not reported: $(cat "$T/xhang.err")"
# exec returns once the provider is gone, killed after the grace
pgrep -f "[b]roken.py .*--mode hang --op exec" >/dev/null &&
	fail "a hanging provider exec survived its timeout"
dd release-lease --all >/dev/null 2>&1 || true
dd release-resource --all >/dev/null 2>&1 || true
wait_until 60 all_resources_destroyed || fail "resources left"
once_each "$T/rec-lactivate"
once_each "$T/rec-xcrash"
once_each "$T/rec-xhang"
stop_daemon "$DAEMON"

# --- 4. refused at blueprint create ---------------------------------------
expect_refused 2 "config: command: must start with the provider's absolute path" \
	dd blueprint create --type exec --name bad --config '{"resource_type": "x", "command": ["sandbox.py"]}'
expect_refused 2 "config: unknown key 'comand' (known: timeouts, min_ready, max_idle, idle_ttl, resource_type, command," \
	dd blueprint create --type exec --name bad --config '{"resource_type": "x", "comand": ["/bin/true"]}'
expect_refused 2 "config: timeouts: unknown key 'allocate' (known: activate_resource," \
	dd blueprint create --type exec --name bad --config "{\"resource_type\": \"x\", \"command\": [\"$SANDBOX\"], \"timeouts\": {\"allocate\": 5}}"
expect_refused 2 "config: env: '1A' is not a variable name" \
	dd blueprint create --type exec --name bad --config "{\"resource_type\": \"x\", \"command\": [\"$SANDBOX\"], \"env\": {\"1A\": \"x\"}}"
expect_refused 2 "cannot run provider '$T/nothing': No such file or directory" \
	dd blueprint create --type exec --name bad --config "{\"resource_type\": \"x\", \"command\": [\"$T/nothing\"]}"
expect_refused 2 "provider '$BROKEN' speaks protocol versions 7; drydock speaks 1" \
	dd blueprint create --type exec --name bad --config "{\"resource_type\": \"x\", \"command\": [\"$BROKEN\", \"--record\", \"$T/r\", \"--mode\", \"version\", \"--op\", \"describe\"]}"
expect_refused 2 "failed on describe: exit status 3" \
	dd blueprint create --type exec --name bad --config "{\"resource_type\": \"x\", \"command\": [\"$BROKEN\", \"--record\", \"$T/r\", \"--mode\", \"exit\", \"--op\", \"describe\"]}"
expect_refused 2 "builds 'sandbox' resources, which cannot change" \
	dd blueprint edit 1 --config "{\"resource_type\": \"other\", \"command\": [\"$SANDBOX\", \"--root\", \"$T/sb\"]}"
expect_refused 2 "unknown resource type 'nosuch' (known: host, working-copy, sandbox, crash," dd lease --type nosuch

# --- 5. destroy exactly once across kill -9 -------------------------------
# a dead daemon's claims, and with them the objects' locks, expire after 1 s
export DRYDOCK_CLAIM_TTL=1
sandbox_bp crashy crashy "$T/rec-crashy"
# stop_at POINT: run a chaos daemon that stops itself at POINT, wait
# until it has, kill -9 it
stop_at() {
	DRYDOCK_CHAOS_STOP=$1 "$CHAOS_BIN" daemon --workers 2 2>>"$T/daemon.log" &
	victim=$!
	track "$victim"
	wait_until 60 sh -c "grep -q '^State:.*stopped' /proc/$victim/status" ||
		fail "the daemon never stopped at $1"
	kill -9 "$victim"
	wait "$victim" 2>/dev/null || true
}
id=$(dd lease --type crashy --no-wait)
stop_at exec_allocated
grep -q "^allocate .* created$" "$T/rec-crashy" || fail "the provider was not asked to allocate"
start_daemon
wait_until 60 sql_is 2 "SELECT status FROM lease WHERE id=$id" ||
	fail "lease $id not active after the crash: $(lease_status "$id")"
grep -q "^allocate .* existing$" "$T/rec-crashy" || fail "allocate was not asked again with the same key"
dd exec --lease "$id" -- true || fail "exec after the crash"
stop_daemon "$DAEMON"
r=$(sql "SELECT resource FROM lease WHERE id = $id")
dd release-lease --id "$id" >/dev/null
dd release-resource --id "$r" >/dev/null
stop_at exec_destroyed
grep -q "^destroy .* removed$" "$T/rec-crashy" || fail "the provider was not asked to destroy"
expect_eq "resource after the crash" "$(resource_status "$r")" released
start_daemon
wait_until 60 all_resources_destroyed || fail "resource $r not destroyed: $(resource_status "$r")"
grep -q "^destroy .* absent$" "$T/rec-crashy" || fail "destroy was not asked again"
expect_eq "resource.destroyed entries" "$(sql "SELECT count(*) FROM log WHERE resource = $r AND lease IS NULL AND type = 'resource.destroyed'")" 1
once_each "$T/rec-crashy"
expect_eq "resources allocated by the crashy blueprint" "$(sql "SELECT count(*) FROM resource WHERE type = 'crashy'")" 1
stop_daemon "$DAEMON"
unset DRYDOCK_CLAIM_TTL

# --- 6. an SSH endpoint: examples/providers/ssh_accounts.py ---------------
. "$top/tests/lib_sshd.sh"
if [ -n "$(sshd_require 2>/dev/null)" ]; then
	echo "SKIPPED the SSH endpoint: $(sshd_require 2>&1 >/dev/null)"
	echo "providers: sandbox end to end; 5 broken providers; destroy once across 2 kill -9"
	exit 0
fi
sshd_start
cp "$SSHD_DIR/etc/host_key" "$T/old_host_key"
cp "$SSHD_DIR/etc/host_key.pub" "$T/old_host_key.pub"
ACCOUNTS=$SSHD_HOME/accounts
sshd_run mkdir -p "$ACCOUNTS"
dd blueprint create --type exec --name accounts --config "{
	\"resource_type\": \"account\", \"slots\": 2,
	\"command\": [\"$top/examples/providers/ssh_accounts.py\",
	              \"--address\", \"127.0.0.1\", \"--port\", \"$SSHD_PORT\",
	              \"--user\", \"$SSHD_USER\", \"--key\", \"$SSHD_KEY\",
	              \"--host-key\", \"$SSHD_HOST_KEY\", \"--base\", \"$ACCOUNTS\"],
	\"env\": {\"SSH_RECORD\": \"$T/rec-ssh\"}}" >/dev/null
start_daemon
id=$(dd lease --type account 2>"$T/ssh.err") || fail "ssh lease: $(cat "$T/ssh.err")"
r=$(sql "SELECT resource FROM lease WHERE id = $id")
key=$(sql "SELECT json_extract(attributes, '\$.key') FROM resource WHERE id = $r")
# drydock runs the command over SSH itself, in the lease's directory there
dd exec --lease "$id" -- sh -c 'pwd; echo out; echo err >&2; exit 5' >"$T/out" 2>"$T/err" &&
	fail "ssh exit status lost"
rc=$?
expect_eq "ssh exec status" "$rc" 5
expect_eq "ssh exec dir" "$(head -1 "$T/out")" "$ACCOUNTS/$key/lease-$id"
grep -q '^err$' "$T/err" || fail "ssh stderr lost: $(cat "$T/err")"
expect_eq "ssh user" "$(dd exec --lease "$id" -- id -un)" "$SSHD_USER"
head -c 300000 /dev/urandom >"$T/sblob"
dd cp "$T/sblob" "$id:blob" || fail "cp over ssh"
dd cp "$id:blob" "$T/sblob.back" || fail "cp back over ssh"
cmp -s "$T/sblob" "$T/sblob.back" || fail "the file came back changed over ssh"
sshd_run test -f "$ACCOUNTS/$key/lease-$id/blob" || fail "the file is not on the host"
# the endpoint's host key has a known_hosts file of the resource's own
ssh_known=$STATE_DIR/ssh
ls "$ssh_known"/known_hosts-*-resource-"$r" >/dev/null 2>&1 ||
	fail "no known_hosts file for resource $r: $(ls "$ssh_known")"
# the host key is checked: a host that now shows another key is refused,
# and ssh's failure (255) has the endpoint checked at once, which breaks
# the resource, and its lease, with the reason
sshd_stop
sshd_new_host_key
sshd_start "$SSHD_PORT"
dd exec --lease "$id" -- true 2>"$T/hk.err" && fail "a changed host key was accepted"
grep -qi "host key" "$T/hk.err" || fail "no word of the host key: $(cat "$T/hk.err")"
wait_until 60 sql_is 5 "SELECT status FROM lease WHERE id=$id" ||
	fail "the lease on an endpoint with a changed host key is $(lease_status "$id")"
log_of "resource = $r AND type = 'resource.broken'" | grep -q "host key for '127.0.0.1:$SSHD_PORT' changed" ||
	fail "the endpoint did not break on its changed host key: $(log_of "resource = $r")"
# nothing is torn down on a host drydock cannot trust: the provider's
# resource.destroy cannot reach it either, is retried, the resource stays
destroy_failed_on_key() { sql "SELECT data FROM log WHERE resource = $r AND type = 'resource.destroy-failure'" | grep -qi 'host key'; }
wait_until 60 destroy_failed_on_key ||
	fail "the resource's teardown did not fail on the changed host key: $(log_of "resource = $r")"
expect_eq "resource while its host is refused" "$(resource_status "$r")" broken
sshd_stop
SSHD_HOST_KEY=$(cut -d' ' -f1,2 "$T/old_host_key.pub")
cp "$T/old_host_key" "$SSHD_DIR/etc/host_key"
cp "$T/old_host_key.pub" "$SSHD_DIR/etc/host_key.pub"
[ "$(id -u)" != 0 ] || chown "$SSHD_UID:$SSHD_UID" "$SSHD_DIR/etc/host_key"
sshd_start "$SSHD_PORT"
dd update-resource --id "$r" >/dev/null
wait_until 90 sql_is 4 "SELECT status FROM resource WHERE id=$r" ||
	fail "ssh resource not destroyed: $(resource_status "$r")"
sshd_run test -e "$ACCOUNTS/$key" && fail "the account's directory survived"
ls "$ssh_known"/known_hosts-*-resource-"$r" >/dev/null 2>&1 &&
	fail "the destroyed resource's known_hosts file is left"
once_each "$T/rec-ssh"
echo "providers: sandbox end to end; 5 broken providers; destroy once across 2 kill -9; an SSH endpoint"
