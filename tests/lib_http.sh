# Shared by the HTTP integration tests, sourced after lib.sh: start a real
# "drydock serve" on a free port of the test's fresh store, and send it
# requests with curl.  The server is tracked, so it is stopped however the
# test ends.

# start_server [OPTIONS...]: serve the store; sets SERVER (its pid), URL,
# PORT and, on the store's first serve, ADMIN (the admin token it printed).
start_server() {
	: >"$T/serve.out"
	"$DD" serve --listen 127.0.0.1:0 --workers 4 "$@" \
		>"$T/serve.out" 2>>"$T/serve.log" &
	SERVER=$!
	track "$SERVER"
	wait_until 20 grep -q '^drydock: serving http://' "$T/serve.out" ||
		fail "serve did not start: $(cat "$T/serve.out" "$T/serve.log")"
	URL=$(sed -n 's|^drydock: serving \(http://[^/]*\)/ .*|\1|p' "$T/serve.out")
	PORT=${URL##*:}
	tok=$(sed -n 's/^  \(ddt_[A-Za-z0-9_-]*\)$/\1/p' "$T/serve.out")
	if [ -n "$tok" ]; then ADMIN=$tok; fi
}

# stop_server: SIGTERM, and the server must exit 0.  A sanitizer's report
# is shown from its start (its end is only the legend), else the log's end.
stop_server() {
	kill -TERM "$SERVER"
	set +e
	wait "$SERVER"
	rc=$?
	set -e
	[ "$rc" = 0 ] && return
	if grep -q 'Sanitizer\|runtime error' "$T/serve.log"; then
		fail "serve exited $rc: $(grep -m1 -A40 'ERROR: [A-Za-z]*Sanitizer\|runtime error' "$T/serve.log")"
	fi
	fail "serve exited $rc: $(tail -5 "$T/serve.log")"
}

# token NAME ROLE: make a token and print its secret.
token() {
	dd token create --name "$1" --role "$2" | sed -n 's/^secret: //p'
}

# req TOKEN METHOD PATH [BODY [CURL OPTIONS...]]: send one request (no
# token when TOKEN is "", no body when BODY is "").  The status goes to
# $T/code ("000" when there was no answer), the body to $T/body and the
# response headers to $T/headers.
req() {
	tok=$1 method=$2 path=$3
	shift 3
	args=(-sS -o "$T/body" -D "$T/headers" -w '%{http_code}' -X "$method")
	if [ -n "$tok" ]; then args+=(-H "Authorization: Bearer $tok"); fi
	if [ -n "${1:-}" ]; then
		args+=(-H 'Content-Type: application/json' --data-binary "$1")
	fi
	if [ $# -gt 0 ]; then shift; fi
	: >"$T/body"
	: >"$T/headers"
	status=$(curl "${args[@]}" "$@" "$URL$path") || status=000
	echo "$status" >"$T/code"
	if [ -n "${DRYDOCK_HTTP_RECORD:-}" ]; then record "$method" "$path" "$status"; fi
}

# record METHOD PATH STATUS: keep the answer just received in a file of its
# own under $DRYDOCK_HTTP_RECORD, for tests/openapi/check.mjs to hold
# against docs/openapi.json (see docs/testing.md).  One file per answer:
# requests sent at once from background jobs must not mix their lines.
record() {
	mkdir -p "$DRYDOCK_HTTP_RECORD"
	jq -cn --arg method "$1" --arg path "$2" --argjson status "$((10#$3))" \
		--arg type "$(header Content-Type)" --rawfile body "$T/body" \
		'{method: $method, path: $path, status: $status, type: $type, body: $body}' \
		>"$(mktemp "$DRYDOCK_HTTP_RECORD/$(basename "$0" .sh).XXXXXXXX.json")"
}

# call WANT TOKEN METHOD PATH [BODY [CURL OPTIONS...]]: req, and the
# status must be WANT.
call() {
	want=$1
	shift
	req "$@"
	[ "$(cat "$T/code")" = "$want" ] ||
		fail "$2 $3: status $(cat "$T/code"), want $want: $(head -c 600 "$T/body")"
}

# j FILTER: jq -r FILTER on the last response body.
j() { jq -r "$1" "$T/body"; }

# header NAME: the last response's header NAME (value only).
header() {
	tr -d '\r' <"$T/headers" | sed -n "s/^$1: //Ip" | tail -1
}

# expect_error STATUS CODE: the last response is STATUS with the error
# JSON {"error": {"code": CODE, "message": "..."}} and nothing else.
expect_error() {
	[ "$(cat "$T/code")" = "$1" ] ||
		fail "status $(cat "$T/code"), want $1: $(head -c 600 "$T/body")"
	jq -e --arg c "$2" '(keys == ["error"]) and (.error | keys == ["code", "message"])
		and .error.code == $c and (.error.message | type == "string" and length > 0)' \
		"$T/body" >/dev/null || fail "error body for $1 $2: $(head -c 600 "$T/body")"
}

# rejects STATUS CODE TOKEN METHOD PATH [BODY ...]: req, and the answer is
# that error.
rejects() {
	want=$1 ecode=$2
	shift 2
	req "$@"
	expect_error "$want" "$ecode" || exit 1
}

# mark, then unchanged WHAT: the store is exactly as it was at the mark.
mark() { MARK=$(snapshot); }
unchanged() {
	after=$(snapshot)
	[ "$after" = "$MARK" ] ||
		fail "$1 changed the store: $(store_diff "$MARK" "$after")"
}

# refused STATUS CODE TOKEN METHOD PATH [BODY ...]: the request is refused
# with that error, and the store is exactly as it was.
refused() {
	want=$1 ecode=$2
	shift 2
	before=$(snapshot)
	req "$@"
	expect_error "$want" "$ecode" || exit 1
	after=$(snapshot)
	[ "$after" = "$before" ] ||
		fail "refused $2 $3 changed the store: $(store_diff "$before" "$after")"
}

# lease_get ID: GET the lease as admin; its JSON goes to $T/body.
lease_get() { call 200 "$ADMIN" GET "/api/v1/leases/$1"; }
