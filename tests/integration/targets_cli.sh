# Build targets and their artifacts through the CLI, like a CI script:
# `drydock target create|list|show|finish` and `drydock artifact
# add|list|show`, their refusals (each with its exit status and nothing
# stored), 20 concurrent `target finish` processes of which exactly one
# queues the finish (the other 19 exit 4), the finish releasing the
# target's lease exactly once, and a target with a one-second deadline
# that a `kill -9`ed client left behind, aborted by the daemon.  No fixed
# sleeps: bounded waits on conditions.
. "$(dirname "$0")/../lib.sh"

host_pool pool '[{"name": "a", "slots": 4}]'
start_daemon

# exits WANT CMD...: CMD exits WANT; its stderr is in $T/err
exits() {
	want=$1
	shift
	set +e
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	set -e
	[ "$rc" = "$want" ] || fail "'$*' exited $rc, want $want: $(cat "$T/err")"
}
me=$(dd lease --type host 2>/dev/null)
owner=$(sql "SELECT owner FROM lease WHERE id = $me")

# ---- create, list, show -----------------------------------------------------
t=$(dd target create --name "build 1")
expect_eq "target's owner" "$(sql "SELECT owner FROM target WHERE id = $t")" "$owner"
dd target create --name "build 2" --json >"$T/t2.json"
t2=$(jq -r .id "$T/t2.json")
expect_eq "created as JSON" "$(jq -r '[.name, .status] | join(" ")' "$T/t2.json")" "build 2 building"
# an idempotency key rerun prints the same target
k1=$(dd target create --name idem --idempotency-key k-1)
expect_eq "rerun with the key" "$(dd target create --name idem --idempotency-key k-1)" "$k1"
expect_refused 14 "idempotency key" dd target create --name other --idempotency-key k-1
expect_refused 2 "--ttl" dd target create --ttl soon
expect_refused 2 "--ttl" dd target create --ttl 0
expect_refused 2 "colour" dd target create --colour red
expect_refused 2 "control character" dd target create --name "$(printf 'a\tb')"
expect_refused 2 "unexpected argument 'extra'" dd target create extra

dd target list >"$T/list"
expect_eq "list: building, newest first" "$(awk 'NR > 1 {print $1}' "$T/list" | tr '\n' ' ')" "$k1 $t2 $t "
dd target list --limit 1 --json >"$T/page"
expect_eq "a page of one" "$(jq -r '[(.items | length), .next_cursor] | join(" ")' "$T/page")" "1 $k1"
dd target list --limit 1 --cursor "$k1" --json >"$T/page"
expect_eq "the next page" "$(jq -r '.items[0].id' "$T/page")" "$t2"
expect_refused 2 "unknown target status 'done'" dd target list --status done
expect_refused 2 "give --all or --status" dd target list --all --status building
expect_refused 3 "no such target: 999" dd target show 999
expect_refused 2 "needs a target's id" dd target show
expect_refused 2 "bad target id 'x'" dd target show x

# ---- artifacts ---------------------------------------------------------------
a=$(dd artifact add "$t" --key report --uri https://ci.example.org/1 --name "CI page" --external)
h=$(dd artifact add "$t" --key host --lease "$me")
dd artifact show "$a" --json >"$T/a.json"
expect_eq "uri artifact" "$(jq -cS '[.key, .type, .data, .released]' "$T/a.json")" '["report","uri",{"external":true,"name":"CI page","uri":"https://ci.example.org/1"},false]'
dd artifact show "$h" >"$T/h.txt"
grep -q '^data  *{"lease":'"$me"'}$' "$T/h.txt" || fail "artifact show: $(cat "$T/h.txt")"
# each refusal names what is wrong, exits with its status, stores nothing
refuses() { expect_refused "$@"; }
refuses 2 "scheme 'javascript' is not allowed" dd artifact add "$t" --key bad --uri 'javascript:alert(1)'
refuses 2 "scheme 'file' is not allowed" dd artifact add "$t" --key bad --uri file:///etc/passwd
refuses 2 "unknown field 'name'" dd artifact add "$t" --key bad --lease "$me" --name x
refuses 2 "unknown field 'external'" dd artifact add "$t" --key bad --lease "$me" --external
refuses 2 "needs one of --uri URL, --lease ID and --file PATH" dd artifact add "$t" --key bad
refuses 2 "needs one of --uri URL, --lease ID and --file PATH" dd artifact add "$t" --key bad --uri https://x/ --lease "$me"
refuses 2 "needs --key" dd artifact add "$t" --uri https://x/
refuses 2 "artifact key is empty" dd artifact add "$t" --key "" --uri https://x/
refuses 2 "lease 999 does not exist" dd artifact add "$t" --key bad --lease 999
refuses 2 "lease" dd artifact add "$t" --key bad --lease x
refuses 5 "already has an artifact with key 'report'" dd artifact add "$t" --key report --uri https://x/
refuses 3 "no such target: 999" dd artifact add 999 --key bad --uri https://x/
# a lease of another owner: made through the API's identity, in the store
sql "UPDATE lease SET owner = 'token:other' WHERE id = $me"
refuses 2 "belongs to 'token:other'" dd artifact add "$t2" --key theirs --lease "$me"
sql "UPDATE lease SET owner = '$owner' WHERE id = $me"
DRYDOCK_URI_SCHEMES=https,s3 dd artifact add "$t" --key bucket --uri s3://bucket/build-1 >/dev/null
refuses 2 "scheme 'http' is not allowed (allowed: https,s3)" env DRYDOCK_URI_SCHEMES=https,s3 "$DD" artifact add "$t" --key plain --uri http://x/
dd artifact list "$t" >"$T/arts"
expect_eq "artifact list" "$(awk 'NR > 1 {print $3}' "$T/arts" | tr '\n' ' ')" "report host bucket "
dd artifact list "$t" --limit 2 --json >"$T/arts.json"
expect_eq "artifact page" "$(jq -r '[(.items | length), .next_cursor] | join(" ")' "$T/arts.json")" "2 $h"
dd target show "$t" --json >"$T/show.json"
expect_eq "show: artifacts and log" "$(jq -r '[.status, (.artifacts | length), (.log | map(.type) | index("target.created") != null)] | join(" ")' "$T/show.json")" "building 3 true"

# ---- finish: 20 at once, one queued ------------------------------------------
stop_daemon "$DAEMON"
expect_refused 2 "'result' must be passed, failed or aborted" dd target finish "$t" --result won
expect_refused 2 "needs --result" dd target finish "$t"
pids=""
for i in $(seq 20); do
	( set +e; "$DD" target finish "$t" --result passed >/dev/null 2>"$T/fin.$i.err"; echo $? >"$T/fin.$i" ) &
	pids="$pids $!"
done
for p in $pids; do wait "$p"; done
ok=$(cat "$T"/fin.[0-9]* | grep -c '^0$' || true)
four=$(cat "$T"/fin.[0-9]* | grep -c '^4$' || true)
expect_eq "finishes queued" "$ok" 1
expect_eq "finishes refused with exit 4" "$four" 19
grep -qh "cannot finish target $t: it is already finishing" "$T"/fin.*.err || fail "no 'already finishing' message"
dd target show "$t" --json >"$T/show.json"
expect_eq "queued, not applied without a daemon" "$(jq -r .status "$T/show.json")" building
start_daemon
finished() { [ "$(sql "SELECT status FROM target WHERE id = $t")" = 1 ]; }
wait_until 30 finished || fail "target $t not passed: $(sql "SELECT status FROM target WHERE id = $t")"
wait_until 30 sql_is 5 "SELECT status FROM lease WHERE id = $me" ||
	fail "lease $me not destroyed: $(lease_status "$me")"
expect_eq "lease.released of lease $me" "$(sql "SELECT count(*) FROM log WHERE lease = $me AND type = 'lease.released'")" 1
expect_eq "artifacts released" "$(sql "SELECT count(*) FROM artifact WHERE target = $t AND released = 1")" 3
refuses 4 "cannot finish target $t: it is already passed" dd target finish "$t" --result failed
refuses 4 "it is already passed" dd artifact add "$t" --key late --uri https://x/
dd target show "$t" >"$T/show.txt"
grep -q '^status  *passed$' "$T/show.txt" || fail "target show: $(cat "$T/show.txt")"
grep -q 'target.finished' "$T/show.txt" || fail "target show lacks the finish: $(cat "$T/show.txt")"
dd target list --all >"$T/list"
grep -q "^$t  *passed " "$T/list" || fail "list --all: $(cat "$T/list")"
dd target list >"$T/list"
grep -q "^$t " "$T/list" && fail "list shows a finished target: $(cat "$T/list")"

# ---- a client killed with -9 leaves a target its deadline aborts ------------
l2=$(dd lease --type host 2>/dev/null)
(
	late=$("$DD" target create --name forgotten --ttl 3)
	"$DD" artifact add "$late" --key host --lease "$l2" >/dev/null
	echo "$late" >"$T/late.id"
	exec sleep 600 # the build runs; nothing finishes the target
) &
client=$!
track "$client"
wait_until 20 test -s "$T/late.id" || fail "the client did not start its build"
{ kill -9 "$client" && wait "$client"; } 2>/dev/null || true
late=$(cat "$T/late.id")
aborted() { [ "$(sql "SELECT status FROM target WHERE id = $late")" = 3 ]; }
wait_until 30 aborted || fail "target $late not aborted: $(sql "SELECT status FROM target WHERE id = $late")"
dd target show "$late" --json >"$T/late.json"
jq -r '.log[] | select(.type == "target.finished") | .data.reason' "$T/late.json" | grep -q '^deadline .* passed$' ||
	fail "no deadline reason: $(jq -c .log "$T/late.json")"
wait_until 30 sql_is 5 "SELECT status FROM lease WHERE id = $l2" ||
	fail "lease $l2 not destroyed: $(lease_status "$l2")"
dd target finish "$t2" --result failed --reason "3 tests failed" >/dev/null
failed() { [ "$(sql "SELECT status FROM target WHERE id = $t2")" = 2 ]; }
wait_until 30 failed || fail "target $t2 not failed"
expect_eq "the reason in the log" "$(sql "SELECT json_extract(data, '$.reason') FROM log WHERE target = $t2 AND type = 'target.finished'")" "3 tests failed"
for verb in "" create list show finish; do
	"$DD" target $verb --help >/dev/null || fail "target $verb --help"
done
for verb in "" add list show; do
	"$DD" artifact $verb --help >/dev/null || fail "artifact $verb --help"
done
echo "20 concurrent 'target finish': $ok queued, $four exit 4; lease released once; deadline aborted target $late"
