# Standard input reaches a command on a remote host (tests/lib_sshd.sh's
# sshd): `drydock cp - LEASE:PATH` writes what it reads, `drydock exec`
# hands its stdin (a pipe, a file) to the command, and with /dev/null as
# stdin the command reads nothing and is still stopped by --timeout,
# with what it left in the background.
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
echo "ok"
