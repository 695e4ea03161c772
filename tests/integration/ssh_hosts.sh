# Remote hosts of the host blueprint, reached over SSH, against a real
# sshd (tests/lib_sshd.sh) that plays the remote machine: configs that
# cannot work are refused; a lease's directory is made on the host and
# removed with it; exec streams stdout and stderr apart, passes exit
# statuses, sets the lease's directory and variables, honours --timeout
# and Ctrl-C, and in both cases the remote command and what it left in
# the background are gone from the host (without a pty nothing would stop
# them); a key the host does not accept and a host key that changed each
# break the resource with a clear reason, and the changed key is never
# accepted.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib_sshd.sh"
sshd_require
sshd_start

ROOT=$SSHD_HOME/drydock
host_json() { # NAME [KEY]
	echo "{\"name\": \"$1\", \"address\": \"127.0.0.1\", \"port\": $SSHD_PORT, \"user\": \"$SSHD_USER\", \"key\": \"${2:-$SSHD_KEY}\", \"root\": \"$ROOT\", \"slots\": 2}"
}
bp() { dd blueprint create --type host --name "$1" --config "{\"hosts\": [$2]}"; }

# ---- configs that cannot work are refused, nothing stored -------------------
cp "$SSHD_KEY" "$T/open_key"
chmod 644 "$T/open_key"
expect_refused 2 "can be read by others than drydock's user" bp bad "$(host_json a "$T/open_key")"
expect_refused 2 "No such file or directory" bp bad "$(host_json a "$T/no_such_key")"
expect_refused 2 "hosts\[0\]: a host with an 'address' needs a 'user'" \
	bp bad '{"name": "a", "address": "127.0.0.1", "key": "'"$SSHD_KEY"'"}'
expect_refused 2 "hosts\[0\]: 'port' needs an 'address'" bp bad '{"name": "a", "port": 22}'
expect_refused 2 "hosts\[0\].address: must be a host name or IP address" \
	bp bad '{"name": "a", "address": "-oProxyCommand=x", "user": "u", "key": "'"$SSHD_KEY"'"}'
expect_refused 2 "hosts\[0\].user: must be a user name" \
	bp bad '{"name": "a", "address": "h", "user": "a b", "key": "'"$SSHD_KEY"'"}'

bp remote "$(host_json r1)" >/dev/null
start_daemon

# ---- a lease: its directory on the host --------------------------------------
lease=$(dd lease --type host 2>"$T/lease.err") || fail "lease: $(cat "$T/lease.err")"
expect_eq "lease active" "$(lease_status "$lease")" active
lpath=$(dd show lease "$lease" --json | jq -r .attributes.path)
case "$lpath" in "$ROOT"/resource-*/lease-"$lease") ;; *) fail "lease path '$lpath'" ;; esac
sshd_run test -d "$lpath" || fail "no lease directory on the host"

# ---- exec: output, streams, statuses, directory, variables -------------------
out=$(dd exec --lease "$lease" -- sh -c 'echo out; echo err >&2; pwd; echo "$DRYDOCK_LEASE $DRYDOCK_LEASE_PATH"' 2>"$T/err")
expect_eq "stdout" "$out" "out
$lpath
$lease $lpath"
expect_eq "stderr" "$(cat "$T/err")" "err"
set +e
dd exec --lease "$lease" -- sh -c 'exit 7'
rc=$?
dd exec --lease "$lease" -- no-such-program-dd 2>/dev/null
rc2=$?
set -e
expect_eq "exit status" "$rc" 7
expect_eq "missing program" "$rc2" 127
# arguments arrive as they were given, none interpreted by a shell
out=$(dd exec --lease "$lease" -- printf '[%s]' "a b" "it's" '$(touch pwned)' '*' '')
expect_eq "arguments" "$out" "[a b][it's][\$(touch pwned)][*][]"
sshd_run test ! -e "$lpath/pwned" || fail "a shell ran an argument"
# streamed: the first line arrives while the command still runs
dd exec --lease "$lease" -- sh -c 'echo first; while [ ! -e done ]; do sleep 0.05; done; echo second' \
	>"$T/stream.out" &
ex=$!
track "$ex"
wait_until 20 grep -q first "$T/stream.out" || fail "output was not streamed"
grep -q second "$T/stream.out" && fail "output arrived out of time"
sshd_run touch "$lpath/done"
wait "$ex"
expect_eq "streamed output" "$(cat "$T/stream.out")" "first
second"

# Is a process whose command line has $1 gone from the host?  (Seen from
# here: the host's processes are this machine's, in their own namespace.)
# Each sleep has this run's own tag: another run's host is in this
# machine's process list too.
tag=$$
remote_gone() { ! pgrep -f -- "$1" >/dev/null; }

# ---- timeout: the remote command and its background child are stopped -------
set +e
dd exec --lease "$lease" --timeout 1 -- sh -c "sleep 1001.$tag & sleep 1002.$tag; echo never" 2>"$T/timeout.err"
rc=$?
set -e
expect_eq "status past the timeout" "$rc" 124
wait_until 20 remote_gone "sleep 1001.$tag" || fail "the command's child survived its timeout on the host"
wait_until 20 remote_gone "sleep 1002.$tag" || fail "the command survived its timeout on the host"

# ---- Ctrl-C: the same ---------------------------------------------------------
"$DD" exec --lease "$lease" --timeout 1h -- sh -c "sleep 1003.$tag & sleep 1004.$tag" 2>"$T/int.err" &
ex=$!
track "$ex"
# "^sleep": the pattern must not match drydock exec's own command line,
# which is there before exec has its SIGINT handler (a background job of
# a script starts with SIGINT ignored, so an early SIGINT would be lost)
wait_until 20 pgrep -f "^sleep 1004.$tag" || fail "the command did not start"
kill -INT "$ex"
set +e
wait "$ex"
rc=$?
set -e
expect_eq "status after SIGINT" "$rc" 130
wait_until 20 remote_gone "sleep 1003.$tag" || fail "SIGINT left the command's child on the host"
wait_until 20 remote_gone "sleep 1004.$tag" || fail "SIGINT left the command on the host"

# ---- what the command left behind after it ended is stopped too --------------
# The command ends at once (`exec true`), leaving a child that holds its
# output, so the exec goes on.  The wrapper on the host, whose watcher
# stops the group when the channel closes, has ended with it: only the
# group the wrapper reported, stopped by drydock through the master
# connection, reaches the child, at the timeout and on Ctrl-C to exec and
# to run.  (The wrapper's command line has the command's words, which
# the local ssh's has quoted.)
wrapper_gone() { ! pgrep -f "drydock-run .* -- sh -c sleep $1" >/dev/null; }
set +e
dd exec --lease "$lease" --timeout 2 -- sh -c "sleep 1011.$tag & exec true" 2>"$T/left.err"
rc=$?
set -e
expect_eq "status past the timeout, the command ended" "$rc" 124
wait_until 20 remote_gone "sleep 1011.$tag" || fail "the timeout left the ended command's child on the host"
left_behind() { # NAME TAGGED CMD...: Ctrl-C to CMD once its command ended
	name=$1 what=$2
	shift 2
	"$@" 2>"$T/left.err" &
	ex=$!
	track "$ex"
	wait_until 20 pgrep -f "^sleep $what" >/dev/null || fail "$name: the command did not start: $(cat "$T/left.err")"
	wait_until 20 wrapper_gone "$what" || fail "$name: the command did not end"
	kill -INT "$ex"
	set +e
	wait "$ex"
	rc=$?
	set -e
	expect_eq "$name: status after SIGINT" "$rc" 130
	wait_until 20 remote_gone "sleep $what" || fail "$name: SIGINT left the ended command's child on the host"
}
left_behind exec "1012.$tag" "$DD" exec --lease "$lease" --timeout 1h -- sh -c "sleep 1012.$tag & exec true"
left_behind run "1013.$tag" "$DD" run --type host -- sh -c "sleep 1013.$tag & exec true"

# ---- files both ways: 100 MB hash-checked, a directory --------------------------
head -c 100000000 /dev/urandom >"$T/big"
want=$(sha256sum <"$T/big" | cut -d' ' -f1)
dd cp "$T/big" "$lease:in/big" || fail "cp to the host"
expect_eq "on the host" "$(sshd_run sha256sum "$lpath/in/big" | cut -d' ' -f1)" "$want"
dd cp "$lease:in/big" "$T/big.back" || fail "cp from the host"
expect_eq "back here" "$(sha256sum <"$T/big.back" | cut -d' ' -f1)" "$want"
rm -f "$T/big" "$T/big.back"
# a copy cut short (its --timeout) leaves the old file, not a part of the
# new one: the host sees the cut as an early end of its input
echo old >"$T/small"
dd cp "$T/small" "$lease:in/cut"
truncate -s 2G "$T/huge" # sparse: read at once here, seconds over ssh
set +e
dd cp --timeout 1 "$T/huge" "$lease:in/cut" 2>"$T/cut.err"
rc=$?
set -e
rm -f "$T/huge"
if [ "$rc" = 0 ]; then # this machine was quick: then the file is whole
	expect_eq "copied size" "$(sshd_run stat -c %s "$lpath/in/cut")" 2147483648
else
	expect_eq "the file after a cut copy" "$(sshd_run cat "$lpath/in/cut")" old
fi
no_upload_left() { [ -z "$(sshd_run ls -A "$lpath/in" | grep drydock-upload)" ]; }
wait_until 20 no_upload_left || fail "a cut copy left its part on the host: $(sshd_run ls -A "$lpath/in")"
mkdir -p "$T/tree/sub"
echo one >"$T/tree/a"
echo "two it's" >"$T/tree/sub/b c"
dd cp -r "$T/tree" "$lease:." || fail "cp -r to the host"
expect_eq "tree on the host" "$(sshd_run cat "'$lpath/tree/sub/b c'")" "two it's"
dd cp -r "$lease:tree" "$T/back" || fail "cp -r from the host"
diff -r "$T/tree" "$T/back/tree" >/dev/null 2>&1 || diff -r "$T/tree" "$T/back" || fail "tree changed on the way"

# ---- release: the lease's directory goes, then the resource's ------------------
dd release-lease --id "$lease" >/dev/null
wait_until 20 all_leases_destroyed || fail "lease not destroyed"
sshd_run test ! -e "$lpath" || fail "lease directory left on the host"
rid=$(sql "SELECT id FROM resource WHERE status = 1")
rpath=$(dirname "$lpath")
dd release-resource --id "$rid" >/dev/null
wait_until 20 all_resources_destroyed || fail "resource not destroyed"
sshd_run test ! -e "$rpath" || fail "host directory left on the host"

# reason_of RESOURCE: why it broke, from its log
reason_of() { sql "SELECT json_extract(data, '$.reason') FROM log WHERE resource = $1 AND type = 'resource.broken'"; }
broken_with() { # PATTERN: some resource broke saying PATTERN
	sql "SELECT json_extract(data, '$.reason') FROM log WHERE type = 'resource.broken'" | grep -q -- "$1"
}

# ---- a key the host does not take ------------------------------------------------
ssh-keygen -q -t ed25519 -N '' -f "$T/other_key"
bp wrongkey "$(host_json w1 "$T/other_key")" >/dev/null
wbp=$(sql "SELECT id FROM blueprint WHERE name = 'wrongkey'")
set +e
dd lease --type host --blueprint "$wbp" >/dev/null 2>"$T/wrong.err"
rc=$?
set -e
expect_eq "lease with a refused key" "$rc" 12
broken_with "'127.0.0.1:$SSHD_PORT' refused the key '$T/other_key' for user '$SSHD_USER': .*Permission denied (publickey)" ||
	fail "no clear reason for the refused key: $(sql "SELECT data FROM log WHERE type = 'resource.broken'")"
grep -q "refused the key" "$T/wrong.err" || fail "the lease did not say why: $(cat "$T/wrong.err")"

# ---- the host's key changes: refused, never accepted -----------------------------
kh=$STATE_DIR/ssh/known_hosts-$(sql "SELECT id FROM blueprint WHERE name = 'remote'")
grep -q "^\[127.0.0.1\]:$SSHD_PORT ssh-ed25519 " "$kh" || fail "first contact did not record the host key in $kh"
before=$(md5sum <"$kh")
sshd_stop
sshd_new_host_key
sshd_start "$SSHD_PORT"
rbp=$(sql "SELECT id FROM blueprint WHERE name = 'remote'")
set +e
dd lease --type host --blueprint "$rbp" >/dev/null 2>"$T/changed.err"
rc=$?
set -e
expect_eq "lease on a host whose key changed" "$rc" 12
broken_with "host key for '127.0.0.1:$SSHD_PORT' changed; drydock refuses it: the host presents SHA256:" ||
	fail "no clear reason for the changed key: $(sql "SELECT data FROM log WHERE type = 'resource.broken'")"
expect_eq "known_hosts unchanged" "$(md5sum <"$kh")" "$before"
[ "$(sshd_run ls "$ROOT")" = "" ] || fail "something was made on the host with a changed key: $(sshd_run ls "$ROOT")"

# ---- the host dies mid-lease: resources and leases broken, nothing hangs ---------
# Two blueprints of their own (the host's new key is first met here):
# "dying" is never checked on a timer (check_interval 0), so its death is
# noticed by the command that fails (ssh's 255 queues the check);
# "watched" is checked every second and has no command running.
dd blueprint create --type host --name dying \
	--config "{\"check_interval\": 0, \"root\": \"$T/hosts\", \"hosts\": [$(host_json d1), {\"name\": \"l1\"}]}" >/dev/null
dd blueprint create --type host --name watched \
	--config "{\"check_interval\": 1, \"hosts\": [$(host_json w1)]}" >/dev/null
dbp=$(sql "SELECT id FROM blueprint WHERE name = 'dying'")
wbp=$(sql "SELECT id FROM blueprint WHERE name = 'watched'")
lease=$(dd lease --type host --blueprint "$dbp" --attr host=d1 2>"$T/lease.err") || fail "lease: $(cat "$T/lease.err")"
rid=$(sql "SELECT resource FROM lease WHERE id = $lease")
wlease=$(dd lease --type host --blueprint "$wbp" 2>"$T/lease.err") || fail "lease: $(cat "$T/lease.err")"
wrid=$(sql "SELECT resource FROM lease WHERE id = $wlease")
"$DD" exec --lease "$lease" -- sh -c "echo started; sleep 1005.$tag" >"$T/dying.out" 2>"$T/dying.err" &
ex=$!
track "$ex"
wait_until 20 grep -q started "$T/dying.out" || fail "the command did not start"
sshd_kill
exec_done() { ! kill -0 "$ex" 2>/dev/null; }
wait_until 60 exec_done || fail "exec still waits for a dead host"
set +e
wait "$ex"
rc=$?
set -e
expect_eq "exec on a dead host" "$rc" 255
resource_is() { [ "$(resource_status "$1")" = "$2" ]; }
lease_is() { [ "$(lease_status "$1")" = "$2" ]; }
lease_broke() { [ -n "$(sql "SELECT 1 FROM log WHERE lease = $1 AND type = 'lease.broken'")" ]; }
for pair in "$rid:$lease" "$wrid:$wlease"; do
	r=${pair%:*} l=${pair#*:}
	wait_until 60 resource_is "$r" broken ||
		fail "resource $r of the dead host is $(resource_status "$r")"
	reason_of "$r" | grep -q "cannot reach '127.0.0.1:$SSHD_PORT'" ||
		fail "unclear reason for the dead host: $(reason_of "$r")"
	# broken, then destroyed at once: its directory goes with the resource's
	wait_until 60 lease_broke "$l" || fail "lease $l on the dead host is $(lease_status "$l")"
	wait_until 60 lease_is "$l" destroyed || fail "lease $l on the dead host is $(lease_status "$l")"
	sql "SELECT json_extract(data, '$.reason') FROM log WHERE lease = $l AND type = 'lease.broken'" |
		grep -q "resource $r broke: cannot reach" || fail "lease $l does not say why it broke"
done
# a new lease of the blueprint goes to its other host, at once
other=$(dd lease --type host --blueprint "$dbp" 2>"$T/other.err") || fail "lease on the other host: $(cat "$T/other.err")"
expect_eq "the other lease's host" "$(dd show lease "$other" --json | jq -r .attributes.host)" l1
# the host comes back: the broken resources' directories go, and so do they
sshd_start "$SSHD_PORT"
wait_until 120 resource_is "$rid" destroyed ||
	fail "the broken resource was not destroyed once its host came back"
wait_until 120 resource_is "$wrid" destroyed ||
	fail "the broken resource was not destroyed once its host came back"

# ---- host keys the operator gives: only those are taken --------------------------
pin() { # NAME HOST_KEY: a blueprint whose host must present HOST_KEY
	dd blueprint create --type host --name "$1" --config "{\"hosts\": [$(host_json "$1" | sed "s|}\$|, \"host_key\": \"$2\"}|")]}" >/dev/null
	sql "SELECT id FROM blueprint WHERE name = '$1'"
}
lease_on() { dd lease --type host --blueprint "$1" 2>"$T/pin.err"; }
pinned=$(pin pinned "$SSHD_HOST_KEY")
lease_on "$pinned" >/dev/null || fail "the host's own key was refused: $(cat "$T/pin.err")"
ssh-keygen -q -t ed25519 -N '' -f "$T/not_the_host"
wrongpin=$(pin wrongpin "$(cut -d' ' -f1,2 "$T/not_the_host.pub")")
set +e
lease_on "$wrongpin" >/dev/null
rc=$?
set -e
expect_eq "lease on a host presenting another key than given" "$rc" 12
broken_with "host key for '127.0.0.1:$SSHD_PORT' changed; drydock refuses it" ||
	fail "a host key other than the given one: $(sql "SELECT data FROM log WHERE type = 'resource.broken'" | tail -1)"
# the operator's known_hosts file, which does not know the host: refused
: >"$T/operator_known_hosts"
dd blueprint create --type host --name operatorkh \
	--config "{\"known_hosts\": \"$T/operator_known_hosts\", \"hosts\": [$(host_json k1)]}" >/dev/null
set +e
lease_on "$(sql "SELECT id FROM blueprint WHERE name = 'operatorkh'")" >/dev/null
rc=$?
set -e
expect_eq "lease on a host the operator's known_hosts lacks" "$rc" 12
broken_with "host key for '127.0.0.1:$SSHD_PORT' is not in '$T/operator_known_hosts'; drydock refuses a key it does not know" ||
	fail "an unknown host key: $(sql "SELECT data FROM log WHERE type = 'resource.broken'" | tail -1)"
[ ! -s "$T/operator_known_hosts" ] || fail "drydock wrote into the operator's known_hosts"
# and once the operator adds the host, it is taken
echo "[127.0.0.1]:$SSHD_PORT $SSHD_HOST_KEY" >"$T/operator_known_hosts"
lease_on "$(sql "SELECT id FROM blueprint WHERE name = 'operatorkh'")" >/dev/null ||
	fail "the host the operator's known_hosts knows was refused: $(cat "$T/pin.err")"

echo "ssh_hosts: ok"
