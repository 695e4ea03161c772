# Build targets and their uri and host artifacts through the JSON API,
# against a real "drydock serve" (which runs the update workers) on a
# fresh store: every artifact type's validation (each missing, extra and
# mistyped field), duplicate keys, a forbidden URI scheme, a host artifact
# naming another owner's lease, roles, and finishing.
#
# The race: 20 concurrent POST /targets/ID/finish on one target holding
# three leases.  Exactly one is accepted (202), the other 19 are 409, and
# each lease is released exactly once (one lease.released log entry and
# one event line each), as release_race.sh checks for leases.  Then a
# target with a two-second deadline that nobody finishes is aborted by the
# daemon, releasing its lease.  Nothing sleeps for synchronisation: the
# long poll (?wait=finished) or a bounded wait on a condition.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib_http.sh"

host_pool pool '[{"name": "a", "slots": 8}]'
start_server
[ -n "${ADMIN:-}" ] || fail "the first serve printed no admin token"
CI=$(token ci client)
OTHER=$(token other client)
VIEW=$(token dash viewer)

# lease TOKEN: an active lease of TOKEN's; prints its id.
lease() {
	call 201 "$1" POST /api/v1/leases '{"type": "host"}'
	id=$(j .id)
	call 200 "$1" GET "/api/v1/leases/$id?wait=active&timeout=30"
	[ "$(j .status)" = active ] || fail "lease $id is $(j .status)"
	echo "$id"
}

# ---- targets --------------------------------------------------------------
call 201 "$CI" POST /api/v1/targets '{"name": "build 7"}'
t=$(j .id)
expect_eq "target Location" "$(header Location)" "/api/v1/targets/$t"
expect_eq "new target" "$(j '[.name, .owner, .status, .finished] | join(" ")')" "build 7 token:ci building "
rejects 403 forbidden "$VIEW" POST /api/v1/targets '{}'
refused 400 invalid "$CI" POST /api/v1/targets '{"name": "x", "colour": 1}'
refused 400 invalid "$CI" POST /api/v1/targets '{"ttl": -1}'
refused 400 invalid "$CI" POST /api/v1/targets '{"ttl": "soon"}'
refused 400 invalid "$CI" POST /api/v1/targets '{"name": 5}'
refused 400 invalid "$CI" POST /api/v1/targets '{"name": ""}'

# an Idempotency-Key retried gets the same target
call 201 "$CI" POST /api/v1/targets '{"name": "idem"}' -H 'Idempotency-Key: k-1'
ti=$(j .id)
call 201 "$CI" POST /api/v1/targets '{"name": "idem"}' -H 'Idempotency-Key: k-1'
expect_eq "retried create" "$(j .id)" "$ti"
rejects 422 idempotency_key_reused "$CI" POST /api/v1/targets '{"name": "other"}' -H 'Idempotency-Key: k-1'

# roles: a client sees its own targets, a viewer every one
call 201 "$OTHER" POST /api/v1/targets '{"name": "theirs"}'
theirs=$(j .id)
call 200 "$CI" GET /api/v1/targets
expect_eq "ci's targets" "$(j '[.items[].id] | join(" ")')" "$ti $t"
call 200 "$VIEW" GET /api/v1/targets
expect_eq "every target" "$(j '[.items[].id] | join(" ")')" "$theirs $ti $t"
call 200 "$VIEW" GET "/api/v1/targets?owner=token:other"
expect_eq "other's targets" "$(j '[.items[].id] | join(" ")')" "$theirs"
rejects 403 forbidden "$CI" GET "/api/v1/targets?owner=token:other"
rejects 403 forbidden "$CI" GET "/api/v1/targets/$theirs"
rejects 403 forbidden "$CI" POST "/api/v1/targets/$theirs/finish" '{"result": "passed"}'
rejects 403 forbidden "$VIEW" POST "/api/v1/targets/$t/finish" '{"result": "passed"}'
rejects 400 invalid "$CI" GET "/api/v1/targets?status=done"
rejects 404 not_found "$CI" GET /api/v1/targets/999
call 200 "$CI" GET "/api/v1/targets?limit=1"
expect_eq "page of one" "$(j '[(.items | length), .next_cursor] | join(" ")')" "1 $ti"
call 200 "$CI" GET "/api/v1/targets?limit=1&cursor=$ti"
expect_eq "next page" "$(j '[.items[].id, .next_cursor] | join(" ")')" "$t "

# ---- artifacts: every field of every type refused as it should ------------
mine=$(lease "$CI")
other_lease=$(lease "$OTHER")
A="/api/v1/targets/$t/artifacts"
bad() { # BODY MESSAGE-PART: refused 400, nothing stored, message names it
	refused 400 invalid "$CI" POST "$A" "$1"
	j .error.message | grep -qF "$2" || fail "$1: message '$(j .error.message)' lacks '$2'"
}
bad '{"key": "r", "type": "uri", "data": {}}' "missing field 'uri'"
bad '{"key": "r", "type": "uri", "data": {"uri": 5}}' "field 'uri' must be a string"
bad '{"key": "r", "type": "uri", "data": {"uri": "https://x/", "name": true}}' "field 'name' must be a string"
bad '{"key": "r", "type": "uri", "data": {"uri": "https://x/", "external": "yes"}}' "field 'external' must be a boolean"
bad '{"key": "r", "type": "uri", "data": {"uri": "https://x/", "size": 1}}' "unknown field 'size'"
bad '{"key": "r", "type": "uri", "data": {"uri": "javascript:alert(1)"}}' "scheme 'javascript' is not allowed"
bad '{"key": "r", "type": "uri", "data": {"uri": "file:///etc/passwd"}}' "scheme 'file' is not allowed"
bad '{"key": "r", "type": "uri", "data": {"uri": "no scheme"}}' "field 'uri' must be an absolute URI"
bad '{"key": "r", "type": "uri", "data": []}' "data must be a JSON object"
bad '{"key": "h", "type": "host", "data": {}}' "missing field 'lease'"
bad '{"key": "h", "type": "host", "data": {"lease": "1"}}' "field 'lease' must be an id"
bad '{"key": "h", "type": "host", "data": {"lease": 0}}' "field 'lease' must be an id"
bad "{\"key\": \"h\", \"type\": \"host\", \"data\": {\"lease\": $mine, \"host\": \"a\"}}" "unknown field 'host'"
bad '{"key": "h", "type": "host", "data": {"lease": 9999}}' "lease 9999 does not exist"
bad "{\"key\": \"h\", \"type\": \"host\", \"data\": {\"lease\": $other_lease}}" "belongs to 'token:other'"
bad '{"key": "h", "type": "floppy", "data": {}}' "unknown artifact type 'floppy'"
bad '{"type": "uri", "data": {"uri": "https://x/"}}' "needs a 'key' and a 'type'"
bad '{"key": "r", "data": {"uri": "https://x/"}}' "needs a 'key' and a 'type'"
bad '{"key": 3, "type": "uri", "data": {"uri": "https://x/"}}' "'key' must be a string"
bad '{"key": "", "type": "uri", "data": {"uri": "https://x/"}}' "artifact key is empty"
bad '{"key": "r", "type": "uri", "data": {"uri": "https://x/"}, "extra": 1}' "extra"
bad '{"key": "f", "type": "file", "data": {}}' "bytes are the request body"
rejects 403 forbidden "$VIEW" POST "$A" '{"key": "r", "type": "uri", "data": {"uri": "https://x/"}}'
rejects 403 forbidden "$OTHER" POST "$A" '{"key": "r", "type": "uri", "data": {"uri": "https://x/"}}'

call 201 "$CI" POST "$A" '{"key": "report", "type": "uri", "data": {"uri": "https://ci.example/7", "name": "CI page", "external": true}}'
uri_art=$(j .id)
expect_eq "artifact Location" "$(header Location)" "/api/v1/artifacts/$uri_art"
expect_eq "uri artifact" "$(j '[.target, .key, .type, .data.uri, .released] | join(" ")')" "$t report uri https://ci.example/7 false"
refused 409 exists "$CI" POST "$A" '{"key": "report", "type": "uri", "data": {"uri": "https://ci.example/8"}}'
call 201 "$CI" POST "$A" "{\"key\": \"host\", \"type\": \"host\", \"data\": {\"lease\": $mine}}"
# an admin may tie anybody's lease to a build
call 201 "$ADMIN" POST "$A" "{\"key\": \"borrowed\", \"type\": \"host\", \"data\": {\"lease\": $other_lease}}"
third=$(lease "$CI")
call 201 "$CI" POST "$A" "{\"key\": \"third\", \"type\": \"host\", \"data\": {\"lease\": $third}}"
call 200 "$CI" GET "$A"
expect_eq "artifacts, oldest first" "$(j '[.items[].key] | join(" ")')" "report host borrowed third"
call 200 "$CI" GET "$A?limit=2"
expect_eq "artifact page" "$(j '[(.items | length), .next_cursor] | join(" ")')" "2 $(j '.items[1].id')"
call 200 "$VIEW" GET "/api/v1/artifacts/$uri_art"
expect_eq "artifact by id" "$(j .key)" report
rejects 403 forbidden "$OTHER" GET "/api/v1/artifacts/$uri_art"
rejects 404 not_found "$CI" GET /api/v1/artifacts/9999

# ---- finish: 20 at once, exactly one accepted ------------------------------
refused 400 invalid "$CI" POST "/api/v1/targets/$t/finish" '{"result": "won"}'
refused 400 invalid "$CI" POST "/api/v1/targets/$t/finish" '{}'
refused 400 invalid "$CI" POST "/api/v1/targets/$t/finish" '{"result": "passed", "why": "x"}'
# a long poll for the end, parked before the finish
curl -sS -H "Authorization: Bearer $CI" "$URL/api/v1/targets/$t?wait=finished&timeout=60" >"$T/waited" &
waiter=$!
track "$waiter"
parked() { curl -sS "$URL/metrics" | grep -q '^drydock_http_long_polls_waiting [1-9]'; }
wait_until 20 parked || fail "the long poll was not parked"
for i in $(seq 20); do
	curl -sS -o /dev/null -w '%{http_code}\n' -X POST -H "Authorization: Bearer $CI" \
		-H 'Content-Type: application/json' --data-binary '{"result": "passed"}' \
		"$URL/api/v1/targets/$t/finish" >"$T/finish.$i" &
done
wait_for_finishers() { [ "$(cat "$T"/finish.* | grep -c .)" = 20 ]; }
wait_until 60 wait_for_finishers || fail "finish calls did not all answer"
accepted=$(cat "$T"/finish.* | grep -c '^202$' || true)
conflicts=$(cat "$T"/finish.* | grep -c '^409$' || true)
expect_eq "finish calls accepted" "$accepted" 1
expect_eq "finish calls refused 409" "$conflicts" 19
wait "$waiter" || fail "the long poll failed"
expect_eq "long poll answered finished" "$(jq -r .status "$T/waited")" passed
for l in $mine $other_lease $third; do
	wait_until 30 sql_is 5 "SELECT status FROM lease WHERE id = $l" ||
		fail "lease $l not destroyed: $(lease_status "$l")"
	expect_eq "lease.released logs of lease $l" "$(sql "SELECT count(*) FROM log WHERE lease = $l AND type = 'lease.released'")" 1
	expect_eq "lease.released events of lease $l" "$(grep -c "event=lease.released .*lease=$l\b" "$T/serve.log" || true)" 1
	expect_eq "release commands to lease $l" "$(sql "SELECT count(*) FROM command WHERE target_kind = 3 AND target = $l AND kind = 'release'")" 1
done
call 200 "$CI" GET "/api/v1/targets/$t"
expect_eq "finished target" "$(j '[.status, .finishing, (.finished != null), (.artifacts | map(.released) | all), (.artifacts | length)] | join(" ")')" "passed false true true 4"
expect_eq "finish logged" "$(j '[.log[] | select(.type == "target.finished") | .data.result] | join(" ")')" passed
expect_eq "finish commands" "$(sql "SELECT count(*) FROM command WHERE target_kind = 4 AND target = $t")" 1
refused 409 conflict "$CI" POST "/api/v1/targets/$t/finish" '{"result": "failed"}'
j .error.message | grep -qF "it is already passed" || fail "finish after: $(j .error.message)"
refused 409 conflict "$CI" POST "$A" '{"key": "late", "type": "uri", "data": {"uri": "https://x/"}}'
call 200 "$CI" GET "/api/v1/targets/$t/log"
expect_eq "log newest first" "$(j '.items[0].type')" target.finished
call 200 "$CI" GET "/api/v1/targets?status=building"
expect_eq "building only" "$(j '[.items[].id] | join(" ")')" "$ti"

# ---- a deadline nobody meets ------------------------------------------------
# the lease first: getting it active can take longer than the deadline
late_lease=$(lease "$CI")
call 201 "$CI" POST /api/v1/targets '{"name": "forgotten", "ttl": 2}'
late=$(j .id)
call 201 "$CI" POST "/api/v1/targets/$late/artifacts" "{\"key\": \"host\", \"type\": \"host\", \"data\": {\"lease\": $late_lease}}"
call 200 "$CI" GET "/api/v1/targets/$late?wait=finished&timeout=60"
expect_eq "deadline aborted it" "$(j .status)" aborted
j '.log[] | select(.type == "target.finished") | .data.reason' | grep -q "deadline .* passed" ||
	fail "no deadline reason in the log: $(jq -c .log "$T/body")"
expect_eq "aborted by" "$(j '.log[] | select(.type == "target.finished") | .data.author')" drydock:deadline
wait_until 30 sql_is 5 "SELECT status FROM lease WHERE id = $late_lease" ||
	fail "lease $late_lease not destroyed: $(lease_status "$late_lease")"

stop_server
echo "20 concurrent finishes: $accepted accepted, $conflicts refused; each of 3 leases released once; deadline aborted target $late"
