# drydock run against a real daemon: a build target holding a lease, the
# command's status passed through, its output kept as output.log, files
# and URIs recorded, the lease released by the target's finish (once),
# and the endings that do not go to plan: a signal to the command, the
# target's deadline, Ctrl-C
# to drydock, kill -9 of drydock (the target's deadline cleans up), bad
# input (nothing created; 2 or 125), a lease that breaks (exit 125), and
# a target aborted or a lease released elsewhere while the command runs.
. "$(dirname "$0")/../lib.sh"

host_pool local '[{"name": "a", "slots": 4}]'
start_daemon

target_status() { sql "SELECT CASE status WHEN 0 THEN 'building' WHEN 1 THEN 'passed' WHEN 2 THEN 'failed' WHEN 3 THEN 'aborted' END FROM target WHERE id = $1"; }
artifact_id() { sql "SELECT id FROM artifact WHERE target = $1 AND key = '$2'"; }
# the bytes of a file artifact, as stored chunk by chunk
artifact_bytes() { sql "SELECT hex(data) FROM chunk WHERE artifact = $1 ORDER BY pos" | xxd -r -p; }
lease_of() { sql "SELECT json_extract(data, '$.lease') FROM artifact WHERE target = $1 AND type = 'host'"; }
# the finish is a command the daemon applies after run exits: wait for it
target_is() { [ "$(target_status "$1")" = "$2" ]; }
expect_target() { wait_until 20 target_is "$2" "$3" || fail "$1: target $2 is $(target_status "$2"), want $3"; }
# the newest target: a run refused inside its transaction may still have
# used up an id (PostgreSQL's identities are not rolled back)
newest_target() { sql "SELECT max(id) FROM target"; }
lease_destroyed() { [ "$(lease_status "$1")" = destroyed ]; }
hooks() { grep -c "^$1 lease $2\$" "$DRYDOCK_HOOK_TRACE" || true; }

# --- passing: exit 0, streams apart, output.log as printed, target passed
dd run --type host --name build-1 -- sh -c 'seq 1 30000; echo to-stderr >&2' \
	>"$T/out" 2>"$T/err" || fail "passing run exited $?: $(cat "$T/err")"
seq 1 30000 >"$T/want"
cmp -s "$T/out" "$T/want" || fail "stdout is not the command's"
grep -qx to-stderr "$T/err" || fail "stderr lacks the command's: $(cat "$T/err")"
grep -q to-stderr "$T/out" && fail "stderr mixed into stdout"
grep -q 'lease.activated' "$T/err" || fail "lease progress not shown"
expect_target "target" 1 passed
expect_eq "name" "$(sql 'SELECT name FROM target WHERE id = 1')" build-1
out=$(artifact_id 1 output.log)
[ -n "$out" ] || fail "no output.log artifact"
artifact_bytes "$out" >"$T/log"
# both streams whole, each in its own order; between them, the order of
# the reads, which cut where the pipes had data: stderr may land inside
# a line of stdout, so it is taken out as bytes, not as a line
python3 - "$T/log" "$T/want" <<'EOF' || fail "output.log is not stdout with stderr's line in it once"
import sys
log, want = (open(p, 'rb').read() for p in sys.argv[1:])
err = b'to-stderr\n'
if log.count(err) != 1:
    sys.exit(f"stderr's line is in output.log {log.count(err)} times")
if log.replace(err, b'', 1) != want:
    sys.exit("output.log without stderr's line is not stdout")
EOF
expect_eq "output.log size" "$(sql "SELECT size FROM artifact WHERE id = $out")" "$(wc -c <"$T/log")"
expect_eq "output.log sha256" "$(sql "SELECT sha256 FROM artifact WHERE id = $out")" \
	"$(sha256sum <"$T/log" | cut -d' ' -f1)"
expect_eq "output.log complete" "$(sql "SELECT complete FROM artifact WHERE id = $out")" 1
l=$(lease_of 1)
wait_until 20 lease_destroyed "$l" || fail "lease $l of a passed run: $(lease_status "$l")"
expect_eq "release hooks" "$(hooks release_lease "$l")" 1
expect_eq "destroy hooks" "$(hooks destroy_lease "$l")" 1
expect_eq "release commands" "$(sql "SELECT count(*) FROM command WHERE target_kind = 3 AND target = $l AND kind = 'release'")" 1

# --- failing: the command's status passed through, target failed
set +e
dd run --type host -- sh -c 'echo failing; exit 3' >/dev/null 2>"$T/err"
rc=$?
set -e
expect_eq "failing status" "$rc" 3
expect_target "failed target" 2 failed
sql "SELECT data FROM log WHERE target = 2 AND type = 'target.finished'" | grep -q 'exited with status 3' ||
	fail "no reason for the failure in the target's log"
wait_until 20 lease_destroyed "$(lease_of 2)" || fail "lease of a failed run not destroyed"

# --- killed by a signal: 128+N
set +e
dd run --type host -- sh -c 'kill -TERM $$' >/dev/null 2>"$T/err"
rc=$?
set -e
expect_eq "signalled status" "$rc" 143
expect_target "signalled target" 3 failed

# --- artifacts: globs in the lease's directory, content and sha256
dd run --type host --artifact 'dist/*.bin' --artifact 'nothing/*' --artifact 'dist/a.*' \
	--uri report=https://ci.example/report/7 --uri 'log=http://ci.example/l' -- \
	sh -c "mkdir -p dist/d.bin && printf abc >dist/a.bin &&
		head -c 600000 /dev/urandom >dist/big.bin && cp dist/big.bin '$T/big' &&
		echo not-me >dist/c.txt" >/dev/null 2>"$T/err" || fail "artifact run: $(cat "$T/err")"
expect_eq "file artifacts" "$(sql "SELECT group_concat(key, ' ') FROM (SELECT key FROM artifact WHERE target = 4 AND type = 'file' ORDER BY key) AS s")" \
	"dist/a.bin dist/big.bin output.log"
a=$(artifact_id 4 dist/a.bin)
expect_eq "a.bin" "$(artifact_bytes "$a")" abc
expect_eq "a.bin sha256" "$(sql "SELECT sha256 FROM artifact WHERE id = $a")" \
	"$(printf abc | sha256sum | cut -d' ' -f1)"
b=$(artifact_id 4 dist/big.bin)
artifact_bytes "$b" | cmp -s - "$T/big" || fail "big.bin differs"
expect_eq "big.bin sha256" "$(sql "SELECT sha256 FROM artifact WHERE id = $b")" \
	"$(sha256sum <"$T/big" | cut -d' ' -f1)"
grep -q "skipping 'dist/d.bin': a directory" "$T/err" || fail "directory not reported: $(cat "$T/err")"
grep -q "'nothing/\*' matched no file" "$T/err" || fail "empty glob not reported"
expect_eq "uri artifact" "$(sql "SELECT data FROM artifact WHERE target = 4 AND key = 'report'")" \
	'{"uri":"https://ci.example/report/7","name":"report"}'
expect_eq "uri artifacts" "$(sql "SELECT count(*) FROM artifact WHERE target = 4 AND type = 'uri'")" 2
expect_target "artifact target" 4 passed

# --- bad input: refused before anything is created, the store unchanged;
# usage errors exit 2 as for every command, refused input 125
expect_refused 2 "--uri takes NAME=URL" dd run --type host --uri nourl -- true
expect_refused 2 "--attr takes KEY=VALUE" dd run --type host --attr novalue -- true
expect_refused 2 "leaves the lease's directory" dd run --type host --artifact 'a/../../x' -- true
expect_refused 2 "relative to the lease's directory" dd run --type host --artifact '/etc/*' -- true
expect_refused 2 "no command to run" dd run --type host
expect_refused 2 "--type is required" dd run -- true
expect_refused 125 "scheme" dd run --type host --uri x=ftp://example.com/f -- true
expect_refused 125 "two URIs named 'x'" dd run --type host --uri x=http://a --uri x=http://b -- true
expect_refused 125 "cannot be named 'output.log'" dd run --type host --uri output.log=http://a -- true
# refused inside the transaction that creates them: no target either
expect_refused 125 "no such" dd run --type host --blueprint 99 -- true
expect_refused 125 "unknown resource type" dd run --type nosuch -- true

# --- a lease that breaks: 125, the target aborted with the reason
set +e
dd run --type host --attr host=nowhere -- true >/dev/null 2>"$T/err"
rc=$?
set -e
expect_eq "broken lease status" "$rc" 125
expect_target "broken lease target" "$(newest_target)" aborted
grep -q 'no allowed blueprint' "$T/err" || fail "why the lease broke: $(cat "$T/err")"

# --- past the target's deadline: the command stopped, target aborted, 125
set +e
dd run --type host --ttl 2 -- sleep 300 >/dev/null 2>"$T/err"
rc=$?
set -e
expect_eq "deadline status" "$rc" 125
t=$(newest_target)
expect_target "deadline target" "$t" aborted
wait_until 20 lease_destroyed "$(lease_of "$t")" || fail "lease of a run past its deadline not destroyed"

# --- Ctrl-C: the command's group (a grandchild too) stopped, target
# aborted, lease destroyed, exit 130
"$DD" run --type host -- sh -c "sleep 300 & echo \$! >'$T/grandchild'; echo \$\$ >'$T/child'; wait" \
	>/dev/null 2>"$T/int.err" &
run=$!
track "$run"
wait_until 20 test -s "$T/grandchild" || fail "command did not start: $(cat "$T/int.err")"
wait_until 5 test -s "$T/child" || fail "no child pid"
child=$(cat "$T/child") grandchild=$(cat "$T/grandchild")
track "$grandchild"
t=$(newest_target)
kill -INT "$run"
set +e
wait "$run"
rc=$?
set -e
expect_eq "interrupted status" "$rc" 130
gone() { ! kill -0 "$1" 2>/dev/null; }
wait_until 10 gone "$child" || fail "the command survived Ctrl-C"
wait_until 10 gone "$grandchild" || fail "the command's child survived Ctrl-C"
expect_target "interrupted target" "$t" aborted
sql "SELECT data FROM log WHERE target = $t AND type = 'target.finished'" | grep -q 'interrupted by SIGINT' ||
	fail "no reason for the abort in the target's log"
wait_until 20 lease_destroyed "$(lease_of "$t")" || fail "lease of an interrupted run not destroyed"
expect_eq "release hooks" "$(hooks release_lease "$(lease_of "$t")")" 1

# --- kill -9 of drydock run: the daemon aborts the target at its deadline
"$DD" run --type host --ttl 5 -- sh -c "echo \$\$ >'$T/orphan'; exec sleep 300" \
	>/dev/null 2>"$T/k9.err" &
run=$!
track "$run"
wait_until 20 test -s "$T/orphan" || fail "command did not start: $(cat "$T/k9.err")"
track "$(cat "$T/orphan")"
kill -KILL "$run"
wait "$run" 2>/dev/null || true
t=$(newest_target)
l=$(lease_of "$t")
wait_until 30 sql_is 3 "SELECT status FROM target WHERE id = $t" ||
	fail "the deadline did not abort the target: $(target_status "$t")"
wait_until 20 lease_destroyed "$l" || fail "the deadline did not release lease $l: $(lease_status "$l")"
expect_eq "release hooks" "$(hooks release_lease "$l")" 1

# --- ended elsewhere while the command runs (the target finished, the
# lease released): the command's group (a grandchild too) stopped at
# once, output.log completed, exit 125, the lease destroyed once
# ended_elsewhere NAME HOW...: start a run, its target $tid, end it with
# HOW (LEASE in it is the run's lease, TARGET its target), check the
# aftermath
ended_elsewhere() {
	name=$1
	shift
	"$DD" run --type host -- sh -c "sleep 1000 & echo \$! >'$T/$name.gc'; echo started;
		echo \$\$ >'$T/$name.child'; sleep 1000" >/dev/null 2>"$T/$name.err" &
	run=$!
	track "$run"
	wait_until 20 test -s "$T/$name.child" || fail "$name: command did not start: $(cat "$T/$name.err")"
	child=$(cat "$T/$name.child") grandchild=$(cat "$T/$name.gc")
	track "$child"
	track "$grandchild"
	tid=$(newest_target)
	l=$(lease_of "$tid")
	for arg; do
		shift
		[ "$arg" = LEASE ] && arg=$l
		[ "$arg" = TARGET ] && arg=$tid
		set -- "$@" "$arg"
	done
	"$@" >/dev/null
	wait_until 20 gone "$run" || fail "$name: drydock run did not stop: $(cat "$T/$name.err")"
	set +e
	wait "$run"
	rc=$?
	set -e
	expect_eq "$name: status" "$rc" 125
	wait_until 10 gone "$child" || fail "$name: the command survived"
	wait_until 10 gone "$grandchild" || fail "$name: the command's child survived"
	expect_target "$name: target" "$tid" aborted
	wait_until 20 lease_destroyed "$l" || fail "$name: lease $l: $(lease_status "$l")"
	expect_eq "$name: release hooks" "$(hooks release_lease "$l")" 1
	expect_eq "$name: destroy hooks" "$(hooks destroy_lease "$l")" 1
	a=$(artifact_id "$tid" output.log)
	expect_eq "$name: output.log" "$(artifact_bytes "$a")" started
	expect_eq "$name: incomplete artifacts" "$(sql "SELECT count(*) FROM artifact WHERE target = $tid AND complete = 0")" 0
}
ended_elsewhere aborted dd target finish TARGET --result aborted --reason "no more"
grep -q "drydock: target $tid was aborted by .* (no more) while the command ran; stopped it" "$T/aborted.err" ||
	fail "no message about the abort: $(cat "$T/aborted.err")"
expect_eq "finishes of an aborted run" "$(sql "SELECT count(*) FROM command WHERE target_kind = 4 AND target = $tid AND kind = 'finish'")" 1
ended_elsewhere released dd release-lease --id LEASE
grep -q "drydock: lease $(lease_of "$tid") was released by .* while the command ran; stopped it" "$T/released.err" ||
	fail "no message about the release: $(cat "$T/released.err")"

# every run's lease is gone, once each
wait_until 20 all_leases_destroyed || fail "leases left: $(sql 'SELECT id, status FROM lease WHERE status != 5')"
expect_eq "leases" "$(sql 'SELECT count(*) FROM lease')" 10
echo ok
