# Standard input reaches a command on a remote host (tests/lib_sshd.sh's
# sshd): `drydock cp - LEASE:PATH` writes what it reads, `drydock exec`
# hands its stdin (a pipe, a file) to the command, and with /dev/null as
# stdin the command reads nothing and is still stopped by --timeout,
# with what it left in the background; so is one that reads its input
# (exec at its timeout, cp on Ctrl-C), whose input never ends.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib_sshd.sh"
sshd_require
sshd_start

dd blueprint create --type host --name remote --config "{\"hosts\": [{\"name\": \"r1\", \"address\": \"127.0.0.1\", \"port\": $SSHD_PORT, \"user\": \"$SSHD_USER\", \"key\": \"$SSHD_KEY\", \"root\": \"$SSHD_HOME/drydock\"}]}" >/dev/null
start_daemon
lease=$(dd lease --type host 2>"$T/lease.err") || fail "lease: $(cat "$T/lease.err")"
lpath=$(dd show lease "$lease" --json | jq -r .attributes.path)

# ---- cp - LEASE:PATH: the file has what stdin gave --------------------------
printf hello | dd cp - "$lease:stdin.txt" || fail "cp from stdin"
expect_eq "file from stdin" "$(sshd_run cat "$lpath/stdin.txt")" hello
head -c 3000000 /dev/urandom >"$T/blob"
dd cp - "$lease:blob" <"$T/blob" || fail "cp from a file as stdin"
expect_eq "3 MB from stdin" "$(sshd_run sha256sum "$lpath/blob" | cut -d' ' -f1)" \
	"$(sha256sum <"$T/blob" | cut -d' ' -f1)"

# ---- exec: stdin from a pipe and from a file --------------------------------
expect_eq "exec stdin from a pipe" "$(printf 'x\ny\n' | dd exec --lease "$lease" -- cat)" "x
y"
expect_eq "exec stdin from a file" \
	"$(dd exec --lease "$lease" -- sha256sum <"$T/blob" | cut -d' ' -f1)" \
	"$(sha256sum <"$T/blob" | cut -d' ' -f1)"
expect_eq "exec stdin read line by line" \
	"$(printf 'a\nb\n' | dd exec --lease "$lease" -- sh -c 'read x; read y; echo "$y$x"')" "ba"

# ---- /dev/null: nothing to read, and the command is still watched -----------
expect_eq "exec stdin from /dev/null" "$(dd exec --lease "$lease" -- cat </dev/null)" ""
tag=$$
set +e
dd exec --lease "$lease" --timeout 1 -- sh -c "sleep 1101.$tag & sleep 1102.$tag" </dev/null
rc=$?
set -e
expect_eq "status past the timeout" "$rc" 124
wait_until 20 sh -c "! pgrep -f 'sleep 110[12].$tag' >/dev/null" ||
	fail "the command or its child survived the timeout on the host"

# ---- a command that reads its input is stopped too ----------------------------
# Its input is the channel, so nothing on the host watches the channel's
# end, and a stopped ssh would only be an end of input to it: drydock
# stops the group the wrapper reported, through the master connection.
# The input here never ends: a FIFO this shell holds open both ways.
mkfifo "$T/never"
exec 7<>"$T/never"
remote_gone() { ! pgrep -f -- "$1" >/dev/null; }
set +e
dd exec --lease "$lease" --timeout 1 -- sh -c "sleep 1111.$tag & cat >/dev/null" <&7
rc=$?
set -e
expect_eq "status past the timeout, input a pipe" "$rc" 124
wait_until 20 remote_gone "sleep 1111.$tag" || fail "the timeout left a command that reads its input (or its child) on the host"

# cp - LEASE:PATH stopped by Ctrl-C: the write is stopped on the host
# with its input still open (so the part it got is not taken for the
# file, and its temporary file goes), nothing of it keeps running
echo old | dd cp - "$lease:up.$tag"
printf new >&7
"$DD" cp - "$lease:up.$tag" <&7 2>"$T/cp.err" &
cp=$!
track "$cp"
part_written() { [ "$(sshd_run "cat $lpath/.drydock-upload.*" 2>/dev/null)" = new ]; }
wait_until 20 part_written || fail "the copy did not start: $(cat "$T/cp.err")"
kill -INT "$cp"
set +e
wait "$cp"
rc=$?
set -e
expect_eq "cp status after SIGINT" "$rc" 130
wait_until 20 remote_gone "up.$tag" || fail "SIGINT left the copy running on the host"
expect_eq "the file after a stopped copy" "$(sshd_run cat "$lpath/up.$tag")" old
expect_eq "temporary files left" "$(sshd_run ls -A "$lpath" | grep -c drydock-upload || true)" 0
exec 7>&-
echo "ok"
