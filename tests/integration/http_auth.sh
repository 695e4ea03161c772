# Tokens and roles over HTTP: every refusal (no token, a bad one, a
# revoked one, a role that may not, a client on another client's lease)
# answers 401 or 403 with the error JSON and changes nothing in the store;
# what a role may do, it can.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib_http.sh"

start_server
CI=$(token ci client)
CI2=$(token ci2 client)
VIEW=$(token dash viewer)
TEMP=$(token temp client)

call 201 "$ADMIN" POST /api/v1/blueprints \
	"{\"type\": \"host\", \"name\": \"pool\", \"config\": {\"root\": \"$T/hosts\", \"hosts\": [{\"name\": \"a\", \"slots\": 8}]}}"
bp=$(j .id)
call 201 "$CI" POST /api/v1/leases '{"type": "host"}'
mine=$(j .id)
expect_eq "owner of a client's lease" "$(j .owner)" token:ci
call 201 "$CI2" POST /api/v1/leases '{"type": "host"}'
theirs=$(j .id)
expect_eq "owner of the other client's lease" "$(j .owner)" token:ci2
call 200 "$CI" GET "/api/v1/leases/$mine?wait=active&timeout=30"
expect_eq "client lease active" "$(j .status)" active
res=$(j .resource)
call 200 "$CI2" GET "/api/v1/leases/$theirs?wait=active&timeout=30"
expect_eq "other lease active" "$(j .status)" active

# The owner is the token's identity everywhere.
dd show lease "$mine" >"$T/show"
grep -Eq '^owner +token:ci$' "$T/show" || fail "drydock show lease: $(cat "$T/show")"
expect_eq "owner in --json" "$(dd show lease "$theirs" --json | jq -r .owner)" token:ci2
expect_eq "owner in the store" "$(sql "SELECT owner FROM lease WHERE id = $mine")" token:ci
dd list leases >"$T/list"
grep -q "token:ci2" "$T/list" || fail "drydock list leases lacks the owner: $(cat "$T/list")"

# Let every token be used once, so that the refusals below find nothing
# left to record (a token's last use is written at most once a minute).
for t in "$ADMIN" "$CI" "$CI2" "$VIEW" "$TEMP"; do call 200 "$t" GET /api/v1/whoami; done
queue_settled() { [ "$(sql "SELECT count(*) FROM task WHERE not_before <= $(date +%s) + 60")" = 0 ]; }
wait_until 20 queue_settled || fail "tasks still queued: $(sql 'SELECT * FROM task')"

# ---- 401: no token, a bad one --------------------------------------------
refused 401 unauthorized "" GET /api/v1/leases
expect_eq "WWW-Authenticate" "$(header WWW-Authenticate)" 'Bearer realm="drydock"'
refused 401 unauthorized "" POST /api/v1/leases '{"type": "host"}'
expect_eq "WWW-Authenticate on POST" "$(header WWW-Authenticate)" 'Bearer realm="drydock"'
refused 401 unauthorized "" GET /api/v1/whoami
refused 401 unauthorized "ddt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" GET /api/v1/whoami
case $CI in *x) bad_ci="${CI%?}y" ;; *) bad_ci="${CI%?}x" ;; esac
refused 401 unauthorized "$bad_ci" POST /api/v1/leases '{"type": "host"}'
refused 401 unauthorized "not-a-token" GET /api/v1/leases
refused 401 unauthorized "$CI$CI" GET /api/v1/leases
refused 401 unauthorized "" GET /api/v1/leases "" -H "Authorization: Basic $(printf 'ci:%s' "$CI" | base64 -w0)"
refused 401 unauthorized "" GET /api/v1/leases "" -H "Authorization: Bearer"
refused 401 unauthorized "" GET /api/v1/leases "" -H "Authorization: $CI"
# the same answer whatever was wrong
# (the last character changed: to B if it was A, else to A)
case $VIEW in *A) bad_view="${VIEW%?}B" ;; *) bad_view="${VIEW%?}A" ;; esac
req "" GET /api/v1/whoami "" -H "Authorization: Bearer $bad_view"
m1=$(j .error.message)
req "" GET /api/v1/whoami "" -H "Authorization: Bearer zzz"
expect_eq "one message for every bad token" "$(j .error.message)" "$m1"
# the scheme is case-insensitive
call 200 "" GET /api/v1/whoami "" -H "Authorization: bearer $VIEW"
expect_eq "lower-case scheme" "$(j .identity)" token:dash

# ---- 401: a token revoked while the server runs ------------------------------
call 200 "$TEMP" GET /api/v1/leases
dd token revoke temp >/dev/null
refused 401 unauthorized "$TEMP" GET /api/v1/leases
refused 401 unauthorized "$TEMP" POST /api/v1/leases '{"type": "host"}'

# ---- 403: a viewer reads, and nothing else -------------------------------------
for p in /api/v1/leases "/api/v1/leases/$theirs" "/api/v1/leases/$theirs/log" \
	"/api/v1/leases/$theirs/commands" /api/v1/resources "/api/v1/resources/$res" \
	"/api/v1/resources/$res/log" "/api/v1/resources/$res/commands" \
	/api/v1/blueprints "/api/v1/blueprints/$bp" /api/v1/tasks; do
	call 200 "$VIEW" GET "$p"
done
refused 403 forbidden "$VIEW" POST /api/v1/leases '{"type": "host"}'
refused 403 forbidden "$VIEW" POST "/api/v1/leases/$mine/release"
refused 403 forbidden "$VIEW" POST "/api/v1/leases/$mine/extend" '{"ttl": 60}'
refused 403 forbidden "$VIEW" POST "/api/v1/leases/$mine/exec" "{\"argv\": [\"touch\", \"$T/viewer-ran\"]}"
refused 403 forbidden "$VIEW" POST /api/v1/blueprints \
	"{\"type\": \"host\", \"name\": \"v\", \"config\": {\"hosts\": [{\"name\": \"v\"}]}}"
refused 403 forbidden "$VIEW" PATCH "/api/v1/blueprints/$bp" '{"enabled": false}'
refused 403 forbidden "$VIEW" POST "/api/v1/resources/$res/release"
expect_eq "message names who and what" "$(j .error.message)" "token:dash (role viewer) may not release resources"

# ---- 403: a client on what is not its own ---------------------------------------
refused 403 forbidden "$CI" POST "/api/v1/leases/$theirs/release"
expect_eq "message" "$(j .error.message)" \
	"token:ci (role client) may not release lease $theirs, which token:ci2 owns"
refused 403 forbidden "$CI" POST "/api/v1/leases/$theirs/extend" '{"ttl": 60}'
refused 403 forbidden "$CI" POST "/api/v1/leases/$theirs/exec" "{\"argv\": [\"touch\", \"$T/ci-ran\"]}"
refused 403 forbidden "$CI" POST /api/v1/blueprints \
	"{\"type\": \"host\", \"name\": \"c\", \"config\": {\"hosts\": [{\"name\": \"c\"}]}}"
refused 403 forbidden "$CI" PATCH "/api/v1/blueprints/$bp" '{"name": "mine"}'
refused 403 forbidden "$CI" POST "/api/v1/resources/$res/release"
# a lease the CLI made has no token owner: a client may not touch it
cli=$(dd lease --type host --no-wait)
wait_until 20 queue_settled || fail "CLI lease not settled"
refused 403 forbidden "$CI" POST "/api/v1/leases/$cli/release"
[ ! -e "$T/viewer-ran" ] && [ ! -e "$T/ci-ran" ] || fail "a refused exec ran its command"
# a refusal for an unknown lease is a 404, not a hint about owners
refused 404 not_found "$CI" POST /api/v1/leases/999/release

# ---- what a client may do with its own lease -------------------------------------
call 200 "$CI" POST "/api/v1/leases/$mine/exec" '{"argv": ["echo", "hello"]}'
expect_eq "client exec" "$(j .stdout)" hello
call 202 "$CI" POST "/api/v1/leases/$mine/extend" '{"ttl": 600}'
expect_eq "client extend author" "$(j .command.author)" token:ci
call 202 "$CI" POST "/api/v1/leases/$mine/release"
expect_eq "client release author" "$(j .command.author)" token:ci
call 200 "$CI" GET "/api/v1/leases/$mine?wait=destroyed&timeout=30"
expect_eq "client's lease released" "$(j .status)" destroyed
call 201 "$CI" POST /api/v1/leases '{"type": "host", "ttl": 600}'
expect_eq "client creates" "$(j .owner)" token:ci

# ---- an admin may do everything, on anyone's lease ---------------------------------
call 200 "$ADMIN" POST "/api/v1/leases/$theirs/exec" '{"argv": ["true"]}'
expect_eq "admin exec" "$(j .exit_status)" 0
call 202 "$ADMIN" POST "/api/v1/leases/$theirs/extend" '{"ttl": 600}'
call 202 "$ADMIN" POST "/api/v1/leases/$theirs/release"
expect_eq "admin release author" "$(j .command.author)" token:admin
call 200 "$ADMIN" PATCH "/api/v1/blueprints/$bp" '{"name": "renamed"}'
call 201 "$ADMIN" POST /api/v1/blueprints \
	"{\"type\": \"host\", \"name\": \"second\", \"config\": {\"root\": \"$T/hosts\", \"hosts\": [{\"name\": \"b\"}]}}"
call 202 "$ADMIN" POST "/api/v1/resources/$res/release"
call 200 "$ADMIN" GET "/api/v1/leases/$theirs?wait=destroyed&timeout=30"
expect_eq "other client's lease released by admin" "$(j .status)" destroyed

# the request log names who asked
grep -q 'path="/api/v1/leases/'"$theirs"'/release" status=403 .* who=token:ci error=forbidden' "$T/serve.log" ||
	fail "no log line for the refused release"
grep -q 'path="/api/v1/leases" status=401 .*error=unauthorized' "$T/serve.log" ||
	fail "no log line for the 401"

stop_server
echo ok
