# The API's OpenAPI description, docs/openapi.json: it is valid OpenAPI
# (swagger-parser), the server serves it as written, without a token, and
# every operation it describes, exercised here against a real "drydock
# serve", answers as it says (tests/openapi/check.mjs with ajv: status,
# content type, and the body against its schema, extra and missing fields
# included).  The checker itself is shown to catch drift: doctored answers
# (a field added, one missing, a wrong type, an undeclared status, an
# undescribed path) fail it.  tests/unit/test_openapi.c holds the router's
# routes against the description; tests/run.sh holds every HTTP test's
# answers against it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib_http.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
spec=$top/docs/openapi.json
check=$top/tests/openapi/check.mjs
[ -d "$top/tests/openapi/node_modules/@apidevtools/swagger-parser" ] ||
	fail "tests/openapi's npm packages are missing: run scripts/install-deps.sh check"

# ---- the file is valid OpenAPI ----------------------------------------------
node "$check" validate "$spec" || fail "docs/openapi.json is not valid OpenAPI"

# This script's answers go to a directory of its own, checked below, and
# join tests/run.sh's at the end.
shared=${DRYDOCK_HTTP_RECORD:-}
export DRYDOCK_HTTP_RECORD="$T/record"

start_server
CI=$(token ci client)
VIEW=$(token dash viewer)

# ---- served as written, without a token -------------------------------------
call 200 "" GET /api/v1/openapi.json
cmp -s "$T/body" "$spec" || fail "GET /api/v1/openapi.json is not docs/openapi.json"
expect_eq "description type" "$(header Content-Type)" application/json
rejects 400 invalid "" GET "/api/v1/openapi.json?x=1"

# ---- every operation, as a client would use it -------------------------------
call 200 "" GET /livez
call 200 "" GET /readyz
call 200 "" GET /metrics
call 200 "$VIEW" GET /api/v1/whoami
rejects 401 unauthorized "" GET /api/v1/whoami

call 201 "$ADMIN" POST /api/v1/blueprints \
	"{\"type\": \"host\", \"name\": \"pool\", \"config\": {\"root\": \"$T/hosts\", \"hosts\": [{\"name\": \"a\", \"slots\": 2}]}}" \
	-H "Idempotency-Key: bp-1"
bp=$(j .id)
rejects 409 exists "$ADMIN" POST /api/v1/blueprints \
	"{\"type\": \"host\", \"name\": \"pool\", \"config\": {\"hosts\": [{\"name\": \"b\"}]}}"
call 200 "$VIEW" GET "/api/v1/blueprints?type=host&limit=1"
call 200 "$VIEW" GET "/api/v1/blueprints/$bp"
call 200 "$ADMIN" PATCH "/api/v1/blueprints/$bp" '{"name": "main"}'
rejects 403 forbidden "$CI" PATCH "/api/v1/blueprints/$bp" '{"enabled": false}'

# a blueprint that requires authorization: a client's lease on it is
# refused and requests it; listed, shown, decided both ways
call 201 "$ADMIN" POST /api/v1/blueprints \
	"{\"type\": \"host\", \"name\": \"locked\", \"config\": {\"root\": \"$T/hosts\", \"hosts\": [{\"name\": \"z\"}], \"authorization\": \"required\"}}"
locked=$(j .id)
call 201 "$CI" POST /api/v1/leases "{\"type\": \"host\", \"blueprints\": [$locked]}"
refused_lease=$(j .id)
call 200 "$CI" GET "/api/v1/leases/$refused_lease?wait=destroyed&timeout=30"
call 200 "$VIEW" GET "/api/v1/authorizations?blueprint=$locked&state=requested&requester=token:ci&limit=1"
auth=$(j '.items[0].id')
call 200 "$VIEW" GET "/api/v1/authorizations/$auth"
call 200 "$ADMIN" POST "/api/v1/authorizations/$auth/approve"
rejects 409 conflict "$ADMIN" POST "/api/v1/authorizations/$auth/approve" '{}'
rejects 403 forbidden "$CI" POST "/api/v1/authorizations/$auth/decline"
call 200 "$ADMIN" POST "/api/v1/authorizations/$auth/decline" '{}'
rejects 404 not_found "$VIEW" GET /api/v1/authorizations/999

call 201 "$CI" POST /api/v1/leases \
	"{\"type\": \"host\", \"attributes\": {\"host\": \"a\"}, \"blueprints\": [$bp], \"ttl\": 3600}" \
	-H "Idempotency-Key: lease-1"
l1=$(j .id)
rejects 422 idempotency_key_reused "$CI" POST /api/v1/leases '{"type": "host"}' \
	-H "Idempotency-Key: lease-1"
call 201 "$CI" POST /api/v1/leases '{"type": "host", "until": "+2h"}'
l2=$(j .id)
call 200 "$CI" GET "/api/v1/leases/$l1?wait=active&timeout=30"
expect_eq "lease $l1" "$(j .status)" active
res=$(j .resource)
call 200 "$CI" GET "/api/v1/leases/$l2?wait=active&timeout=30"
expect_eq "lease $l2" "$(j .status)" active
# two pages: the first has a next_cursor, the second none
call 200 "$VIEW" GET "/api/v1/leases?status=active,pending&owner=token:ci&type=host&resource=$res&limit=1"
cursor=$(j .next_cursor)
[ "$cursor" != null ] || fail "no next_cursor on a page of one of two leases"
call 200 "$VIEW" GET "/api/v1/leases?status=active,pending&limit=1&cursor=$cursor"
expect_eq "last page" "$(j .next_cursor)" null
call 202 "$CI" POST "/api/v1/leases/$l1/extend" '{"ttl": 7200}'
call 200 "$CI" POST "/api/v1/leases/$l1/exec" '{"argv": ["sh", "-c", "echo hi; echo oops >&2; exit 3"], "timeout": 30}'
expect_eq "exec" "$(j '[.exit_status, .stdout, .stderr] | @json')" '[3,"hi\n","oops\n"]'
call 200 "$CI" POST "/api/v1/leases/$l1/exec" '{"argv": ["sh", "-c", "echo $X"], "env": {"X": "y"}}'
printf 'hello\n' >"$T/hello"
call 201 "$CI" PUT "/api/v1/leases/$l1/files/dir/hello.txt?mode=0640" "" -T "$T/hello"
call 200 "$CI" GET "/api/v1/leases/$l1/files/dir/hello.txt"
expect_eq "file" "$(cat "$T/body")" hello
call 200 "$CI" GET "/api/v1/leases/$l1/files?path=dir"
rejects 404 not_found "$CI" GET "/api/v1/leases/$l1/files/dir/nope"
rejects 400 invalid "$CI" GET "/api/v1/leases/$l1/files/dir"
call 200 "$VIEW" GET "/api/v1/leases/$l1/log?limit=2"
call 200 "$VIEW" GET "/api/v1/leases/$l1/commands"
call 200 "$VIEW" GET /api/v1/tasks
call 202 "$CI" POST "/api/v1/leases/$l1/release"
call 200 "$CI" GET "/api/v1/leases/$l1?wait=destroyed&timeout=30"
expect_eq "released lease" "$(j .status)" destroyed
rejects 409 conflict "$CI" POST "/api/v1/leases/$l1/release" '{}'
rejects 404 not_found "$VIEW" GET /api/v1/leases/999

call 200 "$VIEW" GET "/api/v1/resources?status=active&blueprint=$bp&type=host"
call 200 "$VIEW" GET "/api/v1/resources/$res"
call 200 "$VIEW" GET "/api/v1/resources/$res/log"
call 202 "$ADMIN" POST "/api/v1/resources/$res/drain"
call 202 "$ADMIN" POST "/api/v1/resources/$res/release"
call 200 "$VIEW" GET "/api/v1/resources/$res/commands"
call 200 "$CI" GET "/api/v1/leases/$l2?wait=destroyed&timeout=30"
expect_eq "lease of the released resource" "$(j .status)" destroyed

call 201 "$CI" POST /api/v1/targets '{"name": "build 1", "ttl": "1h"}' -H "Idempotency-Key: target-1"
t=$(j .id)
call 201 "$CI" POST /api/v1/leases '{"type": "host"}'
l3=$(j .id)
call 200 "$CI" GET "/api/v1/leases/$l3?wait=active&timeout=30"
call 201 "$CI" POST "/api/v1/targets/$t/artifacts" '{"key": "report", "type": "uri", "data": {"uri": "https://ci.example.org/1", "name": "CI", "external": true}}'
art=$(j .id)
call 201 "$CI" POST "/api/v1/targets/$t/artifacts" "{\"key\": \"host\", \"type\": \"host\", \"data\": {\"lease\": $l3}}"
rejects 409 exists "$CI" POST "/api/v1/targets/$t/artifacts" '{"key": "report", "type": "uri", "data": {"uri": "https://x/"}}'
call 200 "$VIEW" GET "/api/v1/targets?status=building&owner=token:ci&limit=1"
call 200 "$CI" GET "/api/v1/targets/$t/artifacts?limit=1"
call 200 "$VIEW" GET "/api/v1/artifacts/$art"
call 202 "$CI" POST "/api/v1/targets/$t/finish" '{"result": "passed", "reason": "all green"}'
call 200 "$CI" GET "/api/v1/targets/$t?wait=finished&timeout=30"
expect_eq "finished target" "$(j .status)" passed
call 200 "$VIEW" GET "/api/v1/targets/$t/log?limit=2"
rejects 409 conflict "$CI" POST "/api/v1/targets/$t/finish" '{"result": "failed"}'
# a file artifact's bytes, up and down
call 201 "$CI" POST /api/v1/targets '{"name": "build 2"}'
t=$(j .id)
printf 'hello' >"$T/hello"
call 201 "$CI" POST "/api/v1/targets/$t/artifacts?key=hello&name=hello.txt" "" \
	-H 'Content-Type: application/octet-stream' --data-binary "@$T/hello"
art=$(j .id)
call 200 "$VIEW" GET "/api/v1/artifacts/$art/content"
etag=$(header ETag)
call 206 "$CI" GET "/api/v1/artifacts/$art/content" "" -H 'Range: bytes=1-2'
call 304 "$CI" GET "/api/v1/artifacts/$art/content" "" -H "If-None-Match: $etag"
rejects 416 range_not_satisfiable "$CI" GET "/api/v1/artifacts/$art/content" "" \
	-H 'Range: bytes=9-'
rejects 409 exists "$CI" POST "/api/v1/targets/$t/artifacts?key=hello" "" \
	-H 'Content-Type: application/octet-stream' --data-binary "@$T/hello"

# paths and methods the API lacks answer an Error
rejects 404 not_found "$VIEW" GET /api/v1/nope
rejects 405 method_not_allowed "$VIEW" DELETE "/api/v1/leases/$l1"

# ---- the answers fit the description, and every operation was answered -------
node "$check" responses "$spec" "$DRYDOCK_HTTP_RECORD" --cover ||
	fail "answers that do not fit docs/openapi.json (above)"

# ---- the checker catches drift ------------------------------------------------
# Each doctored copy of a real answer must fail the check, for its reason.
call 200 "$VIEW" GET /api/v1/whoami
real=$(ls -t "$DRYDOCK_HTTP_RECORD"/*.json | head -1)
jq -e '.path == "/api/v1/whoami" and .status == 200' "$real" >/dev/null ||
	fail "the last record is not the whoami answer: $(cat "$real")"
doctored() { # NAME JQ_FILTER REASON: the record changed by the filter fails
	mkdir "$T/$1"
	jq "$2" "$real" >"$T/$1/a.json"
	if node "$check" responses "$spec" "$T/$1" >"$T/$1.out" 2>&1; then
		fail "$1: the checker passed $(cat "$T/$1/a.json")"
	fi
	grep -q -- "$3" "$T/$1.out" || fail "$1: the checker said $(cat "$T/$1.out"), not '$3'"
}
doctored extra '.body |= (fromjson | .extra = 1 | tojson)' "must NOT have additional properties"
doctored missing '.body |= (fromjson | del(.role) | tojson)' "must have required property 'role'"
doctored mistyped '.body |= (fromjson | .token = "1" | tojson)' "must be integer"
doctored role '.body |= (fromjson | .role = "root" | tojson)' "must be equal to one of the allowed values"
doctored status '.status = 201' "status 201 is not declared"
doctored path '.path = "/api/v1/whoamI"' "a success on a path or method the description lacks"
doctored text '.type = "text/plain"' "content type 'text/plain' is not declared"

stop_server
if [ -n "$shared" ]; then
	mkdir -p "$shared"
	cp "$DRYDOCK_HTTP_RECORD"/*.json "$shared/"
fi
echo ok
