# `drydock exec --timeout`: a command that outlives its timeout is stopped
# with its children (SIGTERM to its process group) and exec exits 124; a
# command that ends in time passes its status through; Ctrl-C (SIGINT) to
# exec stops the command the same way and exec exits 130; a bad duration
# is refused before anything runs.  Each stopped process is checked gone.
. "$(dirname "$0")/../lib.sh"

host_pool local '[{"name": "a", "slots": 2}]'
start_daemon
lease=$(dd lease --type host 2>/dev/null)
expect_eq "lease active" "$(lease_status "$lease")" active

# Is process $1 gone (or a zombie nobody has reaped yet)?
gone() {
	! kill -0 "$1" 2>/dev/null ||
		[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]
}

# in time: the command's own status
set +e
dd exec --lease "$lease" --timeout 30s -- sh -c 'exit 7'
rc=$?
set -e
expect_eq "status within the timeout" "$rc" 7

# past its timeout: the command and the sleep it started in the background
set +e
dd exec --lease "$lease" --timeout 1 -- \
	sh -c "echo \$\$ >'$T/sh.pid'; sleep 300 & echo \$! >'$T/bg.pid'; wait" \
	2>"$T/timeout.err"
rc=$?
set -e
expect_eq "status past the timeout" "$rc" 124
grep -q "'sh' on lease $lease ran longer than 1 s: stopped it" "$T/timeout.err" ||
	fail "unclear timeout message: $(cat "$T/timeout.err")"
wait_until 10 gone "$(cat "$T/sh.pid")" || fail "the command survived its timeout"
wait_until 10 gone "$(cat "$T/bg.pid")" || fail "the command's child survived its timeout"

# Ctrl-C: exec stops the command's group and exits 128+2
"$DD" exec --lease "$lease" --timeout 1h -- \
	sh -c "sleep 300 & echo \$! >'$T/int.pid'; wait" 2>"$T/int.err" &
exec_pid=$!
track "$exec_pid"
wait_until 10 test -s "$T/int.pid" || fail "the command did not start"
kill -INT "$exec_pid"
set +e
wait "$exec_pid"
rc=$?
set -e
expect_eq "status after SIGINT" "$rc" 130
wait_until 10 gone "$(cat "$T/int.pid")" || fail "SIGINT left the command's child running"

# bad durations: refused, nothing run
for bad in 0 -5 abc 1x ''; do
	expect_refused 2 "bad duration" \
		dd exec --lease "$lease" --timeout "$bad" -- touch "$T/ran"
	[ ! -e "$T/ran" ] || fail "--timeout '$bad' ran the command"
done
echo "exec_timeout: ok"
