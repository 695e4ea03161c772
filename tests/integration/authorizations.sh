# Blueprint authorizations, driven through the CLI and the HTTP API like
# an operator and a CI system would: a blueprint that requires
# authorization refuses a requester's lease (the reason on the lease)
# and requests the authorization once, however many leases ask; an
# admin approves it and the next lease is served; declining refuses new
# leases and keeps the one already held; deciding what is already
# decided, unknown ids and a client token's decisions are refused and
# change nothing; a blueprint that needs no authorization still serves
# anyone, also when one beside it requires it.  The web UI with curl
# (pages, who may decide, CSRF), then in Chromium
# (tests/browser/authorizations.mjs, on SQLite only: the pages do not
# depend on the store).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib_http.sh"

start_server
CI=$(token ci client)
VIEW=$(token dash viewer)

# ---- config: the key takes "required" or "none" -----------------------------
expect_refused 2 "authorization" dd blueprint create --type host --name bad \
	--config "{\"root\": \"$T/hosts\", \"hosts\": [{\"name\": \"z\"}], \"authorization\": \"maybe\"}"
call 201 "$ADMIN" POST /api/v1/blueprints \
	"{\"type\": \"host\", \"name\": \"ci-hosts\", \"config\": {\"root\": \"$T/hosts\", \"hosts\": [{\"name\": \"a\", \"slots\": 4}], \"authorization\": \"required\"}}"
locked=$(j .id)
call 201 "$ADMIN" POST /api/v1/blueprints \
	"{\"type\": \"host\", \"name\": \"open\", \"config\": {\"root\": \"$T/hosts\", \"hosts\": [{\"name\": \"b\", \"slots\": 4}], \"authorization\": \"none\"}}"
open=$(j .id)

# lease_ended ID: the lease is destroyed (refused leases break, then go)
lease_ended() { [ "$(lease_status "$1")" = destroyed ]; }
# ci_lease BLUEPRINT: a lease of the CI token on that blueprint; its id
ci_lease() {
	call 201 "$CI" POST /api/v1/leases "{\"type\": \"host\", \"blueprints\": [$1]}"
	j .id
}
# refused_lease ID STATE AUTH: lease ID failed for want of authorization
# AUTH, which is in STATE, and says so
refused_lease() {
	wait_until 30 lease_ended "$1" || fail "lease $1 is $(lease_status "$1")"
	call 200 "$ADMIN" GET "/api/v1/leases/$1/log?limit=50"
	reason=$(jq -r '.items[] | select(.type == "lease.broken") | .data.reason' "$T/body")
	want="blueprint $locked 'ci-hosts' requires authorization: requester 'token:ci' is not authorized ($2; an admin approves it with 'drydock authorization approve $3')"
	expect_eq "reason of lease $1" "$reason" "$want"
	expect_eq "no-authorization log of lease $1" \
		"$(jq '[.items[] | select(.type == "lease.no-authorization")] | length' "$T/body")" 1
}

# ---- a blueprint without authorization serves anyone ------------------------
first=$(ci_lease "$open")
call 200 "$CI" GET "/api/v1/leases/$first?wait=active&timeout=30"
expect_eq "lease on the open blueprint" "$(j .status)" active
# and with both allowed, the open one serves it rather than refusing
both=$(ci_lease "$locked, $open")
call 200 "$CI" GET "/api/v1/leases/$both?wait=active&timeout=30"
expect_eq "lease on either blueprint" "$(j .status)" active
expect_eq "it went to the open one" \
	"$(sql "SELECT blueprint FROM resource WHERE id = $(j .resource)")" "$open"
expect_eq "authorizations so far" "$(sql 'SELECT count(*) FROM blueprint_authorization')" 0

# ---- refused, and requested once ----------------------------------------------
one=$(ci_lease "$locked")
wait_until 30 lease_ended "$one" || fail "lease $one is $(lease_status "$one")"
call 200 "$VIEW" GET "/api/v1/authorizations?blueprint=$locked"
expect_eq "requests listed" "$(j '.items | length')" 1
auth=$(j '.items[0].id')
expect_eq "requester" "$(j '.items[0].requester')" token:ci
expect_eq "state" "$(j '.items[0].state')" requested
expect_eq "not decided" "$(j '.items[0].decided_by')" null
refused_lease "$one" requested "$auth"
two=$(ci_lease "$locked")
refused_lease "$two" requested "$auth"
expect_eq "one request for both leases" "$(sql 'SELECT count(*) FROM blueprint_authorization')" 1
dd authorization list >"$T/list"
grep -Eq "^$auth +requested +$locked +- +- +token:ci$" "$T/list" || fail "authorization list: $(cat "$T/list")"
expect_eq "list --state requested" "$(dd authorization list --state requested --json | jq length)" 1
expect_eq "list --state approved" "$(dd authorization list --state approved --json | jq length)" 0
expect_eq "list --blueprint open" "$(dd authorization list --blueprint "$open" --json | jq length)" 0
call 200 "$VIEW" GET "/api/v1/authorizations?state=requested,declined"
expect_eq "API state filter" "$(j '.items | length')" 1
call 200 "$VIEW" GET "/api/v1/authorizations?requester=token:ci2"
expect_eq "API requester filter" "$(j '.items | length')" 0

# ---- refusals change nothing ---------------------------------------------------
refused 403 forbidden "$CI" POST "/api/v1/authorizations/$auth/approve"
refused 403 forbidden "$VIEW" POST "/api/v1/authorizations/$auth/decline"
refused 404 not_found "$ADMIN" POST /api/v1/authorizations/999/approve
refused 404 not_found "$ADMIN" GET /api/v1/authorizations/999
refused 400 invalid "$ADMIN" GET "/api/v1/authorizations?state=maybe"
expect_refused 3 "no such authorization: 999" dd authorization approve 999
expect_refused 3 "no such authorization: 999" dd authorization decline 999
expect_refused 2 "needs an authorization's id" dd authorization approve
expect_refused 2 "bad authorization id 'x'" dd authorization decline x
expect_refused 2 "unknown state 'maybe'" dd authorization list --state maybe

# ---- approved: the next lease is served ---------------------------------------
call 200 "$ADMIN" POST "/api/v1/authorizations/$auth/approve"
expect_eq "approved" "$(j .state)" approved
expect_eq "decided by" "$(j .decided_by)" "$(sql "SELECT 'token:' || name FROM token WHERE role = 'admin'")"
held=$(ci_lease "$locked")
call 200 "$CI" GET "/api/v1/leases/$held?wait=active&timeout=30"
expect_eq "approved lease" "$(j .status)" active
expect_eq "on the blueprint that required it" \
	"$(sql "SELECT blueprint FROM resource WHERE id = $(j .resource)")" "$locked"
refused 409 conflict "$ADMIN" POST "/api/v1/authorizations/$auth/approve"
expect_eq "message" "$(j .error.message)" "authorization $auth is already approved"
expect_refused 4 "authorization $auth is already approved" dd authorization approve "$auth"

# ---- declined: new leases fail, the held one stays ----------------------------
dd authorization decline "$auth" >"$T/out"
expect_eq "decline says" "$(cat "$T/out")" \
	"declined authorization $auth: 'token:ci' may not use blueprint $locked 'ci-hosts'"
expect_eq "decided by the CLI user" "$(sql "SELECT decided_by FROM blueprint_authorization WHERE id = $auth")" \
	"cli:$(id -un)@$(hostname)"
three=$(ci_lease "$locked")
refused_lease "$three" declined "$auth"
expect_eq "the lease held before the decline" "$(lease_status "$held")" active
call 200 "$CI" POST "/api/v1/leases/$held/exec" '{"argv": ["true"]}'
expect_refused 4 "authorization $auth is already declined" dd authorization decline "$auth"
refused 409 conflict "$ADMIN" POST "/api/v1/authorizations/$auth/decline"

# ---- and approved again --------------------------------------------------------
dd authorization approve "$auth" --json >"$T/out"
expect_eq "approved again" "$(jq -r .state "$T/out")" approved
four=$(ci_lease "$locked")
call 200 "$CI" GET "/api/v1/leases/$four?wait=active&timeout=30"
expect_eq "lease after the second approval" "$(j .status)" active
expect_eq "decision logs on the blueprint" \
	"$(sql "SELECT group_concat(type, ' ') FROM (SELECT type FROM log WHERE blueprint = $locked AND type LIKE 'authorization.%' ORDER BY id) AS t")" \
	"authorization.approved authorization.declined authorization.approved"

# ---- a CLI user is its own requester, whichever host ---------------------------
set +e
dd lease --type host --blueprint "$locked" >"$T/out" 2>"$T/err"
rc=$?
set -e
expect_eq "CLI lease refused" "$rc" 12
grep -q "requester 'cli:$(id -un)' is not authorized (requested" "$T/err" || fail "CLI refusal: $(cat "$T/err")"
cli_auth=$(dd authorization list --json | jq -r --arg r "cli:$(id -un)" '.[] | select(.requester == $r) | .id')
dd authorization approve "$cli_auth" >/dev/null
dd lease --type host --blueprint "$locked" >"$T/out" 2>"$T/err" || fail "CLI lease after approval: $(cat "$T/err")"

call 200 "$VIEW" GET "/api/v1/authorizations/$cli_auth"
expect_eq "shown" "$(j .state)" approved

# ---- the web UI: the list, the blueprint's section, admins decide -------------
# page PATH JAR [CURL ARGS...]: the status, the page in $T/page
page() {
	p=$1 jar=$2
	shift 2
	curl -sS -o "$T/page" -w '%{http_code}' -b "$jar" "$@" "$URL$p"
}
sign_in() { # JAR TOKEN
	curl -sS -o /dev/null -D "$T/h" -c "$1" --data-urlencode "token=$2" "$URL/login"
	grep -q '^HTTP/1.1 303' "$T/h" || fail "sign-in: $(cat "$T/h")"
}
csrf_of() { grep -o 'name="csrf" value="[0-9a-f]*"' "$T/page" | head -1 | cut -d'"' -f4; }
sign_in "$T/admin.jar" "$ADMIN"
sign_in "$T/view.jar" "$VIEW"
expect_eq "blueprint page" "$(page "/blueprints/$locked" "$T/admin.jar")" 200
grep -q 'id="authorization-required">Required' "$T/page" || fail "blueprint page says nothing of authorization"
grep -q "href=\"/authorizations?blueprint=$locked\"" "$T/page" || fail "no link to the blueprint's authorizations"
grep -q "id=\"authorization-$auth\"" "$T/page" || fail "blueprint page lacks authorization $auth"
expect_eq "open blueprint page" "$(page "/blueprints/$open" "$T/admin.jar")" 200
grep -q 'id="authorization-required">Not required' "$T/page" || fail "open blueprint page"
expect_eq "authorizations page" "$(page "/authorizations?blueprint=$locked" "$T/admin.jar")" 200
grep -q "id=\"state-$auth\">approved<" "$T/page" || fail "state of $auth on the page"
grep -q "id=\"approve-$auth\">Approve</button>" "$T/page" || fail "Approve of an approved one is not disabled"
grep -q "action=\"/authorizations/$auth/decline\"" "$T/page" || fail "no Decline form"
csrf=$(csrf_of)
[ -n "$csrf" ] || fail "no CSRF token on the page"
expect_eq "bad state filter" "$(page "/authorizations?status=maybe" "$T/admin.jar")" 400
expect_eq "bad blueprint filter" "$(page "/authorizations?blueprint=x" "$T/admin.jar")" 400
expect_eq "declined filter" "$(page "/authorizations?status=declined" "$T/admin.jar")" 200
grep -q 'id="no-authorizations"' "$T/page" || fail "declined filter lists something"
# a viewer sees them, and no buttons; its POST and one without CSRF are refused
expect_eq "viewer's page" "$(page /authorizations "$T/view.jar")" 200
grep -q "id=\"authorization-$auth\"" "$T/page" || fail "viewer's page lacks $auth"
! grep -q 'action="/authorizations/' "$T/page" || fail "a viewer is offered decisions"
vcsrf=$(csrf_of)
mark
expect_eq "viewer's decline" "$(page "/authorizations/$auth/decline" "$T/view.jar" -X POST -d "csrf=$vcsrf")" 403
expect_eq "decline without CSRF" "$(page "/authorizations/$auth/decline" "$T/admin.jar" -X POST)" 403
expect_eq "approve of an approved one" "$(page "/authorizations/$auth/approve" "$T/admin.jar" -X POST -d "csrf=$csrf")" 409
grep -q "authorization $auth is already approved" "$T/page" || fail "409 page: $(cat "$T/page")"
expect_eq "unknown authorization" "$(page /authorizations/999/approve "$T/admin.jar" -X POST -d "csrf=$csrf")" 404
unchanged "refused web decisions"
# an admin declines from the blueprint's page and is sent back there
expect_eq "admin's decline" \
	"$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' -b "$T/admin.jar" -X POST \
		-d "csrf=$csrf&back=/blueprints/$locked" "$URL/authorizations/$auth/decline")" \
	"303 $URL/blueprints/$locked"
expect_eq "declined from the web" "$(sql "SELECT state FROM blueprint_authorization WHERE id = $auth")" 2
# a page to go back to that is not this server's is not followed
expect_eq "approve sent back elsewhere" \
	"$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' -b "$T/admin.jar" -X POST \
		--data-urlencode "csrf=$csrf" --data-urlencode "back=//evil.example/" "$URL/authorizations/$auth/approve")" \
	"303 $URL/authorizations"
expect_eq "decline sent back to the list" \
	"$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' -b "$T/admin.jar" -X POST \
		--data-urlencode "csrf=$csrf" --data-urlencode "back=/authorizations?blueprint=$locked" "$URL/authorizations/$auth/decline")" \
	"303 $URL/authorizations?blueprint=$locked"
expect_eq "decided by the admin's session" \
	"$(sql "SELECT decided_by FROM blueprint_authorization WHERE id = $auth")" \
	"$(sql "SELECT 'token:' || name FROM token WHERE role = 'admin'")"
expect_eq "lease held through it all" "$(lease_status "$held")" active

# ---- in a real browser (the pages are the same on every store) ---------------
if [ "$DRYDOCK_TEST_STORE" = sqlite ]; then
	top=$(cd "$(dirname "$0")/../.." && pwd)
	export DRYDOCK_TEST_OUT=${DRYDOCK_TEST_OUT:-$top/tests/out}
	command -v node >/dev/null || fail "node is missing: run scripts/install-deps.sh check"
	[ -x /usr/bin/chromium ] || fail "/usr/bin/chromium is missing: run scripts/install-deps.sh check"
	[ -d "$top/tests/browser/node_modules/playwright-core" ] ||
		fail "playwright-core is missing: run scripts/install-deps.sh check"
	DRYDOCK_URL=$URL DRYDOCK_ADMIN_TOKEN=$ADMIN DRYDOCK_VIEWER_TOKEN=$VIEW \
		DRYDOCK_BLUEPRINT=$locked DRYDOCK_AUTHORIZATION=$auth \
		node "$top/tests/browser/authorizations.mjs" || fail "browser test of authorizations failed"
	expect_eq "declined in the browser" "$(sql "SELECT state FROM blueprint_authorization WHERE id = $auth")" 2
	expect_eq "decisions logged" "$(sql "SELECT count(*) FROM log WHERE blueprint = $locked AND type LIKE 'authorization.%'")" 9
fi
echo ok
