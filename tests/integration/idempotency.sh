# Idempotency keys (src/api/idem.h): a create retried with the same key
# gets the object the first attempt made, never a second one; the same
# key with another request is refused; keys are per caller; bad keys are
# refused; concurrent duplicates make one object; and a server killed
# after the commit but before its answer leaves a lease that the retry
# finds.  Over HTTP (Idempotency-Key) and in the CLI (--idempotency-key).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib_http.sh"
CHAOS_BIN=${DRYDOCK_CHAOS_BIN:-$DD}

host_pool pool '[{"name": "a", "slots": 64}]'
start_server
CI=$(token ci client)
CI2=$(token ci2 client)
BURST=$(token burst client)

leases_of() { sql "SELECT count(*) FROM lease WHERE owner = '$1'"; }
key() { echo "Idempotency-Key: $1"; }

# ---- a retry gets the same lease ------------------------------------------
body='{"type": "host", "ttl": 600, "attributes": {"host": "a"}}'
call 201 "$CI" POST /api/v1/leases "$body" -H "$(key run-1)"
id=$(j .id)
expect_eq "first Location" "$(header Location)" "/api/v1/leases/$id"
# the same body with other spacing and key order is the same request
call 201 "$CI" POST /api/v1/leases '{"attributes":{"host":"a"},"ttl":600,"type":"host"}' -H "$(key run-1)"
expect_eq "retried id" "$(j .id)" "$id"
expect_eq "retried Location" "$(header Location)" "/api/v1/leases/$id"
expect_eq "retried owner" "$(j .owner)" "token:ci"
expect_eq "leases of ci" "$(leases_of token:ci)" 1
expect_eq "queued logs" "$(sql "SELECT count(*) FROM log WHERE lease = $id AND type = 'lease.queued'")" 1
expect_eq "records" "$(sql "SELECT caller, key, request, object_kind, object FROM idempotency")" \
	"token:ci|run-1|POST /api/v1/leases|lease|$id"
# a retry answers with the lease as it is now
wait_until 30 sql_is 2 "SELECT status FROM lease WHERE id = $id" ||
	fail "lease $id never became active"
call 201 "$CI" POST /api/v1/leases "$body" -H "$(key run-1)"
expect_eq "replay shows it active" "$(j '[.id, .status] | join(" ")')" "$id active"
# without a key, the same body makes another lease
call 201 "$CI" POST /api/v1/leases "$body"
[ "$(j .id)" != "$id" ] || fail "a request without a key got lease $id"
expect_eq "leases of ci" "$(leases_of token:ci)" 2

# ---- the same key with another request is refused ------------------------
refused 422 idempotency_key_reused "$CI" POST /api/v1/leases '{"type": "host", "ttl": 601, "attributes": {"host": "a"}}' -H "$(key run-1)"
grep -q "other parameters (it made lease $id)" "$T/body" || fail "mismatch message: $(cat "$T/body")"
refused 422 idempotency_key_reused "$CI" POST /api/v1/leases '{"type": "host"}' -H "$(key run-1)"
call 201 "$ADMIN" POST /api/v1/leases '{"type": "host"}' -H "$(key shared)"
refused 422 idempotency_key_reused "$ADMIN" POST /api/v1/blueprints \
	"{\"type\": \"host\", \"name\": \"x\", \"config\": {\"root\": \"$T/hosts\", \"hosts\": [{\"name\": \"x\"}]}}" -H "$(key shared)"
grep -q "was used for 'POST /api/v1/leases'" "$T/body" || fail "endpoint message: $(cat "$T/body")"

# ---- keys belong to their token ------------------------------------------
call 201 "$CI2" POST /api/v1/leases "$body" -H "$(key run-1)"
other=$(j .id)
[ "$other" != "$id" ] || fail "ci2's key run-1 answered with ci's lease $id"
expect_eq "ci2's owner" "$(j .owner)" "token:ci2"
call 201 "$CI2" POST /api/v1/leases "$body" -H "$(key run-1)"
expect_eq "ci2's retry" "$(j .id)" "$other"
expect_eq "leases of ci2" "$(leases_of token:ci2)" 1

# ---- invalid keys change nothing -----------------------------------------
refused 400 invalid "$CI" POST /api/v1/leases "$body" -H "Idempotency-Key;"
grep -q "1 to 255 characters" "$T/body" || fail "empty key message: $(cat "$T/body")"
long=$(head -c 256 /dev/zero | tr '\0' k)
refused 400 invalid "$CI" POST /api/v1/leases "$body" -H "$(key "$long")"
refused 400 invalid "$CI" POST /api/v1/leases "$body" -H "$(key "caf$(printf '\303\251')")"
grep -q "printable ASCII" "$T/body" || fail "non-ASCII key message: $(cat "$T/body")"
refused 400 invalid "$CI" POST /api/v1/leases "$body" -H "$(key "a$(printf '\t')b")"
# two keys: libmicrohttpd reads the first, a proxy may join them ("a, b")
refused 400 invalid "$CI" POST /api/v1/leases "$body" -H "$(key two-a)" -H "idempotency-key: two-b"
expect_eq "two keys message" "$(j .error.message)" "the Idempotency-Key header is given twice"
call 201 "$CI" POST /api/v1/leases "$body" -H "$(key "${long%k}")"
call 201 "$CI" POST /api/v1/leases "$body" -H "$(key ' ~!"#%&')"
# a refused request leaves no record: corrected, the key still works
refused 400 invalid "$CI" POST /api/v1/leases '{"type": "vm"}' -H "$(key fixme)"
call 201 "$CI" POST /api/v1/leases "$body" -H "$(key fixme)"

# ---- concurrent duplicates make one lease --------------------------------
pids=""
for i in 1 2 3 4 5 6 7 8; do
	curl -sS --max-time 60 -o "$T/burst.$i" -w '%{http_code}\n' -X POST -H "Authorization: Bearer $BURST" \
		-H "$(key burst-1)" --data-binary "$body" "$URL/api/v1/leases" >"$T/burst.$i.code" &
	pids="$pids $!"
done
for p in $pids; do wait "$p" || fail "a burst request failed"; done
expect_eq "burst statuses" "$(cat "$T"/burst.*.code | sort | uniq -c | tr -s ' ')" " 8 201"
expect_eq "burst ids" "$(jq -r .id "$T"/burst.[0-9] | sort -u | wc -l)" 1
expect_eq "leases of burst" "$(leases_of token:burst)" 1

# ---- blueprints -----------------------------------------------------------
bp="{\"type\": \"host\", \"name\": \"spare\", \"enabled\": false, \"config\": {\"root\": \"$T/hosts\", \"hosts\": [{\"name\": \"s\"}]}}"
call 201 "$ADMIN" POST /api/v1/blueprints "$bp" -H "$(key bp-1)"
bpid=$(j .id)
expect_eq "blueprint Location" "$(header Location)" "/api/v1/blueprints/$bpid"
call 200 "$ADMIN" PATCH "/api/v1/blueprints/$bpid" '{"enabled": true}'
call 201 "$ADMIN" POST /api/v1/blueprints "$bp" -H "$(key bp-1)"
expect_eq "blueprint retry" "$(j '[.id, .enabled] | join(" ")')" "$bpid true"
expect_eq "blueprint retry Location" "$(header Location)" "/api/v1/blueprints/$bpid"
expect_eq "blueprints named spare" "$(sql "SELECT count(*) FROM blueprint WHERE name = 'spare'")" 1
refused 409 exists "$ADMIN" POST /api/v1/blueprints "$bp"
refused 422 idempotency_key_reused "$ADMIN" POST /api/v1/blueprints "${bp/spare/spare2}" -H "$(key bp-1)"

# ---- the CLI --------------------------------------------------------------
a=$(dd lease --type host --ttl 600 --no-wait --idempotency-key cli-1)
b=$(dd lease --type host --ttl 600 --no-wait --idempotency-key cli-1)
expect_eq "CLI retry" "$b" "$a"
# waiting: the rerun follows the same lease to active
c=$(dd lease --type host --attr host=a --idempotency-key cli-2 2>"$T/cli.err")
d=$(dd lease --type host --attr host=a --idempotency-key cli-2 2>"$T/cli.err")
expect_eq "CLI waiting retry" "$d" "$c"
grep -q "lease $c was already queued with idempotency key 'cli-2'" "$T/cli.err" || fail "CLI retry message: $(cat "$T/cli.err")"
me=$(sql "SELECT owner FROM lease WHERE id = $a")
expect_eq "CLI leases" "$(leases_of "$me")" 2
expect_refused 14 "idempotency key 'cli-1' was used at .* for a request with other parameters (it made lease $a)" \
	dd lease --type host --ttl 601 --no-wait --idempotency-key cli-1
expect_refused 2 "an idempotency key must be 1 to 255 characters" dd lease --type host --no-wait --idempotency-key ''
# the CLI's keys are not the API's: same key, other caller
call 201 "$CI" POST /api/v1/leases '{"type": "host"}' -H "$(key cli-1)"
[ "$(j .id)" != "$a" ] || fail "token ci got the CLI's lease"

dd blueprint create --type host --name cli-pool --config "{\"root\": \"$T/hosts\", \"hosts\": [{\"name\": \"c\"}]}" \
	--idempotency-key cli-bp >"$T/bp1"
dd blueprint create --type host --name cli-pool --config "{\"root\": \"$T/hosts\", \"hosts\": [{\"name\": \"c\"}]}" \
	--idempotency-key cli-bp >"$T/bp2"
expect_eq "CLI blueprint retry" "$(cat "$T/bp2")" "$(cat "$T/bp1")"
expect_eq "CLI blueprints" "$(sql "SELECT count(*) FROM blueprint WHERE name = 'cli-pool'")" 1
expect_refused 2 "'blueprint enable' takes no option '--idempotency-key'" dd blueprint enable 1 --idempotency-key x

dd token create --name robot --role client --idempotency-key cli-tok >"$T/tok1"
grep -q '^secret: ddt_' "$T/tok1" || fail "token create: $(cat "$T/tok1")"
expect_refused 5 "token 'robot' (id [0-9]*) was already created with idempotency key 'cli-tok', and its secret cannot be shown again" \
	dd token create --name robot --role client --idempotency-key cli-tok
expect_refused 14 "idempotency key 'cli-tok'" dd token create --name robot2 --role client --idempotency-key cli-tok
expect_eq "CLI tokens" "$(sql "SELECT count(*) FROM token WHERE name LIKE 'robot%'")" 1

# ---- expired records are replaced and pruned -----------------------------
sql "UPDATE idempotency SET created = created - 90000 WHERE key = 'fixme'"
call 201 "$CI" POST /api/v1/leases '{"type": "host"}' -H "$(key fixme)"
expect_eq "expired key reused" "$(sql "SELECT object FROM idempotency WHERE key = 'fixme'")" "$(j .id)"
sql "UPDATE idempotency SET created = created - 90000 WHERE key IN ('run-1', 'shared')"
before=$(sql "SELECT count(*) FROM idempotency")
call 201 "$CI" POST /api/v1/leases '{"type": "host"}' -H "$(key prune)"
expect_eq "pruned" "$(sql "SELECT count(*) FROM idempotency WHERE key IN ('run-1', 'shared')")" 0
expect_eq "records after pruning" "$(sql "SELECT count(*) FROM idempotency")" $((before - 3 + 1))

# ---- kill -9 after the commit, before the answer -------------------------
# A CHAOS build stops itself (SIGSTOP) at DRYDOCK_CHAOS_STOP, just after
# the lease's transaction committed: killed there, the client gets no
# answer, and the retry must find the committed lease.
if [ "$CHAOS_BIN" = "$DD" ]; then
	echo "no chaos build (DRYDOCK_CHAOS_BIN): kill -9 part skipped"
	exit 0
fi
stop_server
std=$DD
DD=$CHAOS_BIN
export DRYDOCK_CHAOS_STOP=lease_create_committed
start_server
unset DRYDOCK_CHAOS_STOP
DD=$std
curl -sS -o "$T/lost.body" -w '%{http_code}' -X POST -H "Authorization: Bearer $CI" \
	-H "$(key lost-1)" --data-binary "$body" "$URL/api/v1/leases" >"$T/lost.code" 2>/dev/null &
client=$!
stopped() { [ "$(cut -d' ' -f3 "/proc/$SERVER/stat")" = T ]; }
wait_until 30 stopped || fail "serve did not stop after the commit"
kill -9 "$SERVER"
wait "$SERVER" 2>/dev/null || true
wait "$client" || true
expect_eq "answer of the killed server" "$(cat "$T/lost.code")" 000
lost=$(sql "SELECT object FROM idempotency WHERE caller = 'token:ci' AND key = 'lost-1'")
[ -n "$lost" ] || fail "the killed create left no record"
expect_eq "committed lease" "$(sql "SELECT owner FROM lease WHERE id = $lost")" "token:ci"
start_server
call 201 "$CI" POST /api/v1/leases "$body" -H "$(key lost-1)"
expect_eq "retry after kill -9" "$(j .id)" "$lost"
expect_eq "leases after the retry" "$(sql "SELECT count(*) FROM lease WHERE id >= $lost")" 1
stop_server
echo "ok: retries, mismatches, per-token keys, bad keys, 8 concurrent duplicates, blueprints, CLI, expiry, kill -9 after commit"
