# What a hostile or broken client can send "drydock serve": malformed and
# mistyped JSON, unknown fields, huge numbers, bytes that are not UTF-8,
# SQL, oversized bodies, wrong paths and methods, illegal state changes,
# a store that is gone or locked, idle, half-open and slow connections,
# and a SIGTERM during a long poll.  Each is rejects with the right status
# and the error JSON, or stored verbatim, and changes nothing else.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib_http.sh"

# A short busy timeout, so a locked store answers quickly.
export DRYDOCK_BUSY_TIMEOUT_MS=500
start_server --max-connections 8 --timeout 2
unset DRYDOCK_BUSY_TIMEOUT_MS
call 201 "$ADMIN" POST /api/v1/blueprints \
	"{\"type\": \"host\", \"name\": \"pool\", \"config\": {\"root\": \"$T/hosts\", \"hosts\": [{\"name\": \"a\", \"slots\": 4}]}}"
bp=$(j .id)
call 201 "$ADMIN" POST /api/v1/leases '{"type": "host"}'
lease=$(j .id)
call 200 "$ADMIN" GET "/api/v1/leases/$lease?wait=active&timeout=30"
expect_eq "lease active" "$(j .status)" active
settled() { [ "$(sql "SELECT count(*) FROM task WHERE not_before <= $(date +%s) + 60")" = 0 ]; }
wait_until 20 settled || fail "tasks still queued"

# bad CODE BODY [PATH]: POST BODY to PATH (/api/v1/leases) is refused
# with 400 and CODE.  Each section below checks that its refusals left
# the store as it was.
bad() { rejects 400 "$1" "$ADMIN" POST "${3:-/api/v1/leases}" "$2"; }

# ---- malformed JSON ------------------------------------------------------
mark
bad malformed '{"type":'
bad malformed '{"type": "host",}'
bad malformed "{'type': 'host'}"
bad malformed 'type=host'
bad malformed '[{"type": "host"}]'
bad malformed '"host"'
bad malformed 'null'
bad malformed '{"type": "host"} {"type": "host"}'
bad malformed '{"type": "host", "type": "host"}'
printf '{"type": "host"}\0' >"$T/nul.json"
bad malformed "@$T/nul.json"
printf '{"type": "ho\0st"}' >"$T/nul2.json"
bad malformed "@$T/nul2.json"
bad malformed '{"type": "ho\u0000st"}'
bad invalid "$(printf '%0.s[' $(seq 3000))"
bad malformed '{"argv": ["true"' "/api/v1/leases/$lease/exec"
bad malformed '{"ttl": 60' "/api/v1/leases/$lease/extend"
bad malformed '{' "/api/v1/blueprints"
rejects 400 malformed "$ADMIN" PATCH "/api/v1/blueprints/$bp" '{"name": }'
expect_eq "malformed message" "$(j .error.message | cut -c1-32)" "request body is not valid JSON: "
unchanged "malformed JSON"

# ---- wrong types ------------------------------------------------------------
mark
bad invalid '{"type": 5}'
bad invalid '{"type": ["host"]}'
bad invalid '{"type": null}'
bad invalid '{"type": "host", "ttl": "60"}'
bad invalid '{"type": "host", "ttl": true}'
bad invalid '{"type": "host", "until": 1893456000}'
bad invalid '{"type": "host", "attributes": [1]}'
bad invalid '{"type": "host", "attributes": "x"}'
bad invalid '{"type": "host", "blueprints": "1"}'
bad invalid '{"type": "host", "blueprints": [1.5]}'
bad invalid '{"type": "host", "blueprints": ["1"]}'
bad invalid '{"type": "host", "blueprints": []}'
bad invalid '{"type": "host", "ttl": 0}'
bad invalid '{"type": "host", "ttl": -5}'
bad invalid '{"type": "host", "until": "yesterday"}'
bad invalid '{"type": "host", "until": "@1000"}'
bad invalid '{"type": "host", "ttl": 60, "until": "+1h"}'
bad invalid '{"type": ""}'
bad invalid '{}'
bad invalid '{"type": "vm"}'
bad invalid '{"argv": "ls"}' "/api/v1/leases/$lease/exec"
bad invalid '{"argv": []}' "/api/v1/leases/$lease/exec"
bad invalid '{"argv": [1]}' "/api/v1/leases/$lease/exec"
bad invalid '{"argv": [""]}' "/api/v1/leases/$lease/exec"
bad invalid '{"argv": ["true"], "timeout": "1"}' "/api/v1/leases/$lease/exec"
bad invalid '{"argv": ["true"], "timeout": 0}' "/api/v1/leases/$lease/exec"
bad invalid '{"ttl": "1h"}' "/api/v1/leases/$lease/extend"
bad invalid '{}' "/api/v1/leases/$lease/extend"
bad invalid '{"type": "host", "name": 5, "config": {}}' /api/v1/blueprints
bad invalid '{"type": "host", "name": "x"}' /api/v1/blueprints
bad invalid '{"type": "host", "name": "x", "config": {"hosts": "a"}}' /api/v1/blueprints
bad invalid '{"type": "host", "name": "x", "config": {"hosts": [{"name": "../etc"}]}}' /api/v1/blueprints
rejects 400 invalid "$ADMIN" PATCH "/api/v1/blueprints/$bp" '{"enabled": "yes"}'
rejects 400 invalid "$ADMIN" PATCH "/api/v1/blueprints/$bp" '{"config": 5}'
rejects 400 invalid "$ADMIN" PATCH "/api/v1/blueprints/$bp" '{"name": ""}'
rejects 400 invalid "$ADMIN" PATCH "/api/v1/blueprints/$bp" '{}'
unchanged "a wrong type"

# ---- unknown fields -----------------------------------------------------------
mark
bad invalid '{"type": "host", "owner": "token:someone-else"}'
expect_eq "unknown field message" "$(j .error.message)" \
	"unknown field 'owner' (known: type, attributes, blueprints, until, ttl)"
bad invalid '{"type": "host", "Type": "host"}'
bad invalid '{"type": "host", "id": 99}'
bad invalid '{"argv": ["true"], "cwd": "/"}' "/api/v1/leases/$lease/exec"
bad invalid '{"ttl": 60, "owner": "x"}' "/api/v1/leases/$lease/extend"
bad invalid '{"force": true}' "/api/v1/leases/$lease/release"
bad invalid '{"type": "host", "name": "x", "config": {"hosts": [{"name": "b"}]}, "id": 7}' /api/v1/blueprints
rejects 400 invalid "$ADMIN" PATCH "/api/v1/blueprints/$bp" '{"type": "host"}'
unchanged "an unknown field"

# ---- huge numbers ---------------------------------------------------------------
mark
bad malformed '{"type": "host", "ttl": 1e400}'
bad malformed '{"type": "host", "ttl": -1e400}'
bad malformed '{"type": "host", "blueprints": [99999999999999999999]}'
bad invalid '{"type": "host", "ttl": 1e300}'
bad invalid '{"type": "host", "ttl": 315360001}'
bad invalid '{"type": "host", "until": "+1e400s"}'
bad invalid '{"type": "host", "until": "+99999999999999999999d"}'
bad invalid '{"type": "host", "until": "@0"}'
bad invalid '{"type": "host", "until": "1970-01-01T00:00:00Z"}'
# the CLI's time parser: no rolled-over dates, no spaces, at most ten years
bad invalid '{"type": "host", "until": "2027-02-30T00:00:00Z"}'
expect_eq "impossible date message" "$(j .error.message)" \
	"'until': bad time '2027-02-30T00:00:00Z': February 2027 has no day 30"
bad invalid '{"type": "host", "until": " +1h"}'
bad invalid '{"type": "host", "until": "+1h "}'
bad invalid "{\"type\": \"host\", \"until\": \"$(($(date -u +%Y) + 11))-01-01T00:00:00Z\"}"
bad invalid '{"until": "+3651d"}' "/api/v1/leases/$lease/extend"
bad malformed '{"argv": ["true"], "timeout": 1e999}' "/api/v1/leases/$lease/exec"
bad invalid '{"argv": ["true"], "timeout": 1e300}' "/api/v1/leases/$lease/exec"
bad invalid '{"ttl": 1e300}' "/api/v1/leases/$lease/extend"
rejects 400 invalid "$ADMIN" POST /api/v1/leases '{"type": "host", "blueprints": [9223372036854775807]}'
for id in 99999999999999999999 18446744073709551617 9223372036854775808 9007199254740993 0 -1 01 1e3 0x10 " 1"; do
	rejects 404 not_found "$ADMIN" GET "/api/v1/leases/$(printf %s "$id" | jq -sRr @uri)"
	rejects 404 not_found "$ADMIN" POST "/api/v1/leases/$(printf %s "$id" | jq -sRr @uri)/release"
done
rejects 404 not_found "$ADMIN" GET /api/v1/leases/9007199254740992
expect_eq "largest id" "$(j .error.message)" "no such lease: 9007199254740992"
for q in limit=99999999999999999999 limit=0 limit=501 limit=-1 limit=1e2 cursor=99999999999999999999 \
	cursor=0 cursor=x resource=18446744073709551616 status=happy status=,happy; do
	rejects 400 invalid "$ADMIN" GET "/api/v1/leases?$q"
done
rejects 400 invalid "$ADMIN" GET "/api/v1/resources?blueprint=99999999999999999999"
# a misspelt filter must not widen a list: unknown query arguments are refused
rejects 400 invalid "$ADMIN" GET "/api/v1/leases?stauts=active"
expect_eq "unknown argument message" "$(j .error.message)" \
	"unknown query argument 'stauts' (known: status, owner, type, resource, limit, cursor)"
rejects 400 invalid "$ADMIN" GET "/api/v1/whoami?x=1"
# nor may an empty, garbled or repeated one: each is refused, not ignored
for q in status= status=%00 status=active%00 status=active, status=,active status=active,,broken \
	owner= owner=%00x type=%01 type=host%0a resource= limit= cursor= status \
	'status=active&status=broken' 'owner=a&owner=b'; do
	rejects 400 invalid "$ADMIN" GET "/api/v1/leases?$q"
done
rejects 400 invalid "$ADMIN" GET "/api/v1/leases?status="
expect_eq "empty filter message" "$(j .error.message)" "query argument 'status' needs a value"
rejects 400 invalid "$ADMIN" GET "/api/v1/resources?status=%00"
expect_eq "NUL filter message" "$(j .error.message)" "query argument 'status' has a control character in its value"
# a control character in a name: "status%00x" must not pass for "status"
rejects 400 invalid "$ADMIN" GET "/api/v1/leases?status%00x=bogus"
expect_eq "NUL name message" "$(j .error.message)" "query argument 'status' has a control character in its name"
rejects 400 invalid "$ADMIN" GET "/api/v1/leases?status=active&status%00=bogus"
rejects 400 invalid "$ADMIN" GET "/api/v1/blueprints?type="
rejects 400 invalid "$ADMIN" GET "/api/v1/leases/$lease?wait="
rejects 400 invalid "$ADMIN" GET "/api/v1/leases/$lease?wait=active&timeout=1&then=2"
for q in "timeout=1e400" "timeout=nan" "timeout=inf" "timeout=-1" "timeout=61" "timeout=" "timeout=5s"; do
	rejects 400 invalid "$ADMIN" GET "/api/v1/leases/$lease?wait=destroyed&$q"
done
rejects 400 invalid "$ADMIN" GET "/api/v1/leases/$lease?timeout=1"
rejects 400 invalid "$ADMIN" GET "/api/v1/leases/$lease?wait=gone"
unchanged "a huge number"

# ---- request smuggling -------------------------------------------------------------
# A request whose length is ambiguous (two Content-Lengths, or one with
# Transfer-Encoding) gets 400 and its connection is closed, so what
# follows it never runs as a request of its own; a path with a control
# character (%00 above all: handlers see the path NUL-terminated) is 400.
mark
python3 - "$PORT" "$ADMIN" <<'EOF' || fail "request smuggling"
import socket, sys
port, token = int(sys.argv[1]), sys.argv[2].encode()
auth = b"Authorization: Bearer " + token + b"\r\n"
body = b'{"type": "host"}'
chunked = b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
smuggled = b"POST /api/v1/leases HTTP/1.1\r\nHost: x\r\n" + auth + \
    b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body
def exchange(raw):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(raw)
    got = b""
    while True:  # the server must close: a timeout fails the test
        d = s.recv(65536)
        if not d:
            return got
        got += d
def post(headers, payload):
    return b"POST /api/v1/leases HTTP/1.1\r\nHost: x\r\n" + auth + \
        b"Content-Type: application/json\r\n" + headers + b"\r\n" + payload + smuggled
cases = {
    "two Content-Lengths": post(b"Content-Length: %d\r\nContent-Length: 5\r\n" % len(body), body),
    "two equal Content-Lengths": post(b"Content-Length: %d\r\ncontent-length: %d\r\n" % (len(body), len(body)), body),
    "Content-Length and chunked": post(b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n" % len(chunked), chunked),
    "chunked and Content-Length": post(b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", chunked),
    # libmicrohttpd reads the first of two, a proxy may read the last
    "two Transfer-Encodings": post(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n", chunked),
    # read to the end of the connection, which never came
    "Transfer-Encoding gzip": post(b"Transfer-Encoding: gzip\r\n", body),
    "chunked, not last": post(b"Transfer-Encoding: chunked, identity\r\n", chunked),
    # libmicrohttpd ignores "Content-Length :"; a proxy may not
    "space before the colon": post(b"Content-Length : 5\r\nContent-Length: %d\r\n" % len(body), body),
    # libmicrohttpd 0.9.75 joins a folded line to the name: the length is lost
    "folded Content-Length": post(b"Content-Length: 0\r\n %d\r\n" % len(body), body),
}
for what, raw in cases.items():
    got = exchange(raw)
    assert got.startswith(b"HTTP/1.1 400 "), (what, got[:200])
    assert got.count(b"HTTP/1.1 ") == 1, (what, got)
    assert b"\r\nConnection: close\r\n" in got, (what, got[:300])
    assert b'"code":"malformed"' in got, (what, got)
for path in [b"/api/v1/leases%00", b"/api/v1/leases%00/1", b"/api/v1/lea%0Ases", b"/livez%7f",
             b"/api/v1/leases\x01", b"/%00"]:
    got = exchange(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n")
    assert got.startswith(b"HTTP/1.1 400 "), (path, got[:200])
    assert b"the request path has a control character" in got, (path, got)
# a well-formed request on the same connection is still served
got = exchange(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
assert got.startswith(b"HTTP/1.1 200 ") and got.count(b"HTTP/1.1 200 ") == 2, got
EOF
unchanged "smuggled requests"

# ---- bytes that are not UTF-8 -----------------------------------------------------
mark
bad malformed "$(printf '{"type": "ho\377st"}')"
bad malformed "$(printf '{"type": "host", "attributes": {"a": "\300\257"}}')"
bad malformed "$(printf '{"type": "host", "attributes": {"\355\240\200": 1}}')"
bad malformed "$(printf '{"type": "host", "attributes": {"a": "\364\220\200\200"}}')"
bad malformed "$(printf '{"argv": ["echo", "\376"]}')" "/api/v1/leases/$lease/exec"
# in the path and the query: quoted back in the error, replaced by U+FFFD
rejects 404 not_found "$ADMIN" GET /api/v1/%ff%fe
expect_eq "path quoted as UTF-8" "$(j .error.message)" "no such API endpoint: /api/v1/��"
rejects 400 invalid "$ADMIN" GET "/api/v1/leases?status=%c3"
rejects 400 invalid "$ADMIN" GET "/api/v1/leases/$lease?wait=%e2%82"
rejects 404 not_found "" GET "/api/%80$(printf '%%C3%%A9%.0s' $(seq 400))"
# a filter that is not UTF-8 matches nothing any store holds: refused alike
rejects 400 invalid "$ADMIN" GET "/api/v1/leases?owner=%ff"
expect_eq "owner not UTF-8" "$(j .error.message)" "query argument 'owner' is not valid UTF-8"
# output that is not UTF-8 comes back with U+FFFD
call 200 "$ADMIN" POST "/api/v1/leases/$lease/exec" '{"argv": ["printf", "a\\377b\\300"]}'
expect_eq "exec output made UTF-8" "$(j .stdout)" "a�b�"
unchanged "bytes that are not UTF-8"

# ---- SQL-looking strings are data ----------------------------------------------------
cat >"$T/evil.json" <<'EOF'
{"note": "'); DROP TABLE lease; --", "q": "\" OR 1=1 --",
 "x": "Robert'); DELETE FROM token; --", "y": "%_\\ ; SELECT * FROM token",
 "z": "1; ATTACH DATABASE '/tmp/x' AS x; --"}
EOF
evil=$(cat "$T/evil.json")
call 201 "$ADMIN" POST /api/v1/leases "{\"type\": \"host\", \"attributes\": $evil}"
sqlid=$(j .id)
# the worker may already have activated the lease (adding host and path)
expect_eq "attributes as sent" "$(jq -S '.attributes | del(.path, .host)' "$T/body")" "$(jq -S . <<<"$evil")"
call 200 "$ADMIN" GET "/api/v1/leases/$sqlid?wait=active&timeout=30"
expect_eq "attributes read back" "$(jq -S '.attributes | del(.path, .host)' "$T/body")" "$(jq -S . <<<"$evil")"
expect_eq "stored verbatim" "$(sql "SELECT json_extract(attributes, '\$.note') FROM lease WHERE id = $sqlid")" \
	"'); DROP TABLE lease; --"
call 201 "$ADMIN" POST /api/v1/blueprints \
	"{\"type\": \"host\", \"name\": \"x'; DROP TABLE blueprint; --\", \"config\": {\"root\": \"$T/hosts\", \"hosts\": [{\"name\": \"z\"}]}}"
expect_eq "blueprint name" "$(j .name)" "x'; DROP TABLE blueprint; --"
call 200 "$ADMIN" GET "/api/v1/leases?owner=x%27%20OR%20%271%27%3D%271"
expect_eq "owner filter with SQL" "$(j '.items | length')" 0
call 200 "$ADMIN" GET "/api/v1/blueprints?type=host%27%20OR%201%3D1%20--"
expect_eq "type filter with SQL" "$(j '.items | length')" 0
for table in lease token blueprint; do
	sql "SELECT count(*) FROM $table" >/dev/null || fail "table $table is gone"
done
expect_eq "leases intact" "$(sql 'SELECT count(*) FROM lease')" 2
expect_eq "tokens intact" "$(sql 'SELECT count(*) FROM token')" 1
call 202 "$ADMIN" POST "/api/v1/leases/$sqlid/release"
call 200 "$ADMIN" GET "/api/v1/leases/$sqlid?wait=destroyed&timeout=30"
wait_until 20 settled || fail "tasks still queued"

# ---- bodies over the limit (64 KiB) ----------------------------------------------------
# exactly at the limit is fine; one byte more is 413
pad() {
	pre='{"type": "host", "attributes": {"p": "'
	printf '%s%s"}}' "$pre" "$(head -c $(($1 - ${#pre} - 3)) /dev/zero | tr '\0' x)"
}
pad 65536 >"$T/at-limit.json"
expect_eq "at-limit body size" "$(wc -c <"$T/at-limit.json")" 65536
call 201 "$ADMIN" POST /api/v1/leases "@$T/at-limit.json"
call 202 "$ADMIN" POST "/api/v1/leases/$(j .id)/release"
call 200 "$ADMIN" GET "/api/v1/leases/$(j .command.target)?wait=destroyed&timeout=30"
wait_until 20 settled || fail "tasks still queued"
pad 65537 >"$T/over.json"
mark
rejects 413 too_large "$ADMIN" POST /api/v1/leases "@$T/over.json"
head -c 20000000 /dev/zero | tr '\0' ' ' >"$T/big.json"
rejects 413 too_large "$ADMIN" POST /api/v1/leases "@$T/big.json"
expect_eq "413 closes the connection" "$(header Connection)" close
rejects 413 too_large "" POST /api/v1/leases "@$T/big.json"
# Refused before the body is read: the client announces 1 GB and sends
# none of it, and still gets its answer; with "Expect: 100-continue" it is
# not invited to send the body.
python3 - "$PORT" "$ADMIN" <<'EOF' || fail "413 before the body"
import socket, sys
port, tok = int(sys.argv[1]), sys.argv[2]
for expect in (b"", b"Expect: 100-continue\r\n"):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"POST /api/v1/leases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
              + tok.encode() + b"\r\nContent-Type: application/json\r\n"
              + expect + b"Content-Length: 1000000000\r\n\r\n")
    got = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        got += d
    s.close()
    first = got.split(b"\r\n", 1)[0]
    assert first.startswith(b"HTTP/1.1 413 "), got[:200]
    assert b"100 Continue" not in got, got[:200]
    assert b'"too_large"' in got, got[:300]
EOF
# a chunked body has no length to refuse up front: the server reads up to
# the limit and then closes the connection without taking the request
set +e
curl -sS -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $ADMIN" \
	-H 'Transfer-Encoding: chunked' -H 'Content-Type: application/json' \
	--data-binary "@$T/big.json" "$URL/api/v1/leases" >"$T/code" 2>"$T/curl.err"
rc=$?
set -e
[ "$rc" != 0 ] || [ "$(cat "$T/code")" = 413 ] || fail "chunked 20 MB body: curl $rc, status $(cat "$T/code")"
unchanged "a body over the limit"
call 200 "$ADMIN" GET /api/v1/whoami

# ---- unknown paths, wrong methods --------------------------------------------------------
mark
for p in /api /api/v1 /api/v1/ /api/v2/leases /api/v1/lease /api/v1/leases/ \
	/api/v1//leases "/api/v1/leases/$lease/" "/api/v1/leases/$lease/nope" \
	"/api/v1/leases/$lease/release/1" /api/v1/tokens; do
	rejects 404 not_found "$ADMIN" GET "$p"
done
# outside /api, a person is browsing: the web UI's "Not found" page
for p in /nope /metrics/x /apix; do
	call 404 "" GET "$p"
	grep -q "<title>Not found - drydock</title>" "$T/body" ||
		fail "$p: no web 404 page: $(head -c 300 "$T/body")"
done
# allowed: METHOD PATH ALLOW: a 405 whose Allow header lists ALLOW
allowed() {
	rejects 405 method_not_allowed "$ADMIN" "$1" "$2"
	expect_eq "Allow for $1 $2" "$(header Allow)" "$3"
}
allowed DELETE "/api/v1/leases/$lease" GET
allowed PUT /api/v1/leases "POST, GET"
allowed DELETE /api/v1/leases "POST, GET"
allowed GET "/api/v1/leases/$lease/release" POST
allowed GET "/api/v1/leases/$lease/exec" POST
allowed PUT "/api/v1/blueprints/$bp" "GET, PATCH"
allowed DELETE /api/v1/blueprints "GET, POST"
allowed POST /api/v1/tasks GET
allowed POST /api/v1/whoami GET
allowed POST /livez GET
allowed POST /metrics GET
allowed DELETE /readyz GET
# a 405 needs no token: it says nothing about the data
rejects 405 method_not_allowed "" DELETE "/api/v1/leases/$lease"

# ---- illegal state changes: 409 ------------------------------------------------------------
rejects 409 conflict "$ADMIN" POST "/api/v1/leases/$sqlid/release"
expect_eq "409 message" "$(j .error.message)" "cannot release lease $sqlid: it is already destroyed"
rejects 409 conflict "$ADMIN" POST "/api/v1/leases/$sqlid/extend" '{"ttl": 60}'
rejects 409 conflict "$ADMIN" POST "/api/v1/leases/$sqlid/exec" '{"argv": ["true"]}'
rejects 409 exists "$ADMIN" POST /api/v1/blueprints \
	"{\"type\": \"host\", \"name\": \"pool\", \"config\": {\"hosts\": [{\"name\": \"q\"}]}}"
rejects 409 exists "$ADMIN" PATCH "/api/v1/blueprints/$bp" "{\"name\": \"x'; DROP TABLE blueprint; --\"}"
unchanged "a 404, 405 or 409"

# ---- a store that is locked, or gone --------------------------------------------------------
# SQLite's own (its single writer held by the sqlite3 shell, its file
# moved and replaced):
if [ "$DRYDOCK_TEST_STORE" = sqlite ]; then
	# Another process holds the write lock: writes wait the busy timeout and
	# answer 503; reads go on (WAL), and so do /livez and /readyz.
	(
		printf 'BEGIN IMMEDIATE;\n.shell touch %s/locked\n' "$T"
		while [ ! -e "$T/unlock" ]; do sleep 0.05; done
		printf 'ROLLBACK;\n'
	) | sqlite3 "$DRYDOCK_DB" &
	locker=$!
	track "$locker"
	wait_until 10 test -e "$T/locked" || fail "could not lock the store"
	req "$ADMIN" POST /api/v1/leases '{"type": "host"}'
	expect_error 503 busy
	req "$ADMIN" POST "/api/v1/leases/$lease/release"
	expect_error 503 busy
	call 200 "$ADMIN" GET "/api/v1/leases/$lease"
	expect_eq "reads go on" "$(j .status)" active
	call 200 "" GET /livez
	touch "$T/unlock"
	wait "$locker"
	expect_eq "nothing written while locked" "$(sql 'SELECT count(*) FROM lease')" 3
	expect_eq "no command queued while locked" "$(sql "SELECT count(*) FROM command WHERE target_kind = 3 AND target = $lease")" 0
	call 200 "" GET /readyz

	# The store is moved away: /readyz says so, /livez is still up, nothing is
	# created at its path; moved back, all is well again.
	mkdir "$T/away"
	mv "$DRYDOCK_DB"* "$T/away/"
	req "" GET /readyz
	expect_eq "readyz, store gone" "$(cat "$T/code")" 503
	grep -q "store unavailable: .*does not exist" "$T/body" || fail "readyz body: $(cat "$T/body")"
	call 200 "" GET /livez
	expect_eq "livez body" "$(cat "$T/body")" ok
	# more requests at once than idle handles: new ones must not make a store
	many=""
	for i in 1 2 3 4 5 6; do
		curl -s -o /dev/null -H "Authorization: Bearer $ADMIN" "$URL/api/v1/leases?wait=active&timeout=1" &
		many="$many $!"
	done
	wait $many
	req "$ADMIN" GET /api/v1/whoami
	[ ! -e "$DRYDOCK_DB" ] || fail "a request created a store at $DRYDOCK_DB"
	mv "$T/away/"* "$T/"
	call 200 "" GET /readyz
	grep -q "^ok: store reachable, schema version" "$T/body" || fail "readyz body: $(cat "$T/body")"
	# a file that is not a store
	mv "$DRYDOCK_DB"* "$T/away/"
	echo "not a database, just text long enough to look like a file" >"$DRYDOCK_DB"
	req "" GET /readyz
	expect_eq "readyz, not a database" "$(cat "$T/code")" 503
	grep -q "not a database" "$T/body" || fail "readyz body: $(cat "$T/body")"
	rm "$DRYDOCK_DB"
	mv "$T/away/"* "$T/"
	call 200 "" GET /readyz
fi

# ---- idle, half-open and slow connections ---------------------------------------------------
# Ten connections that send nothing, half a request line, headers without
# the body they announce: near the limit of 8 (--max-connections) the
# one that has waited longest without a request is closed for each new
# one, so a new client is still answered; after 2 s idle (--timeout) all
# of them are closed.
python3 - "$PORT" <<'EOF' || fail "idle connections"
import socket, sys, time
port = int(sys.argv[1])
def get(path="/livez"):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    got = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        got += d
    return got
idle = []
for i in range(10):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    if i % 3 == 1:
        s.sendall(b"GET /liv")
    elif i % 3 == 2:
        s.sendall(b"POST /api/v1/leases HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"ty")
    idle.append(s)
# every slot was taken: the oldest idle connection made way
got = get()
assert got.startswith(b"HTTP/1.1 200"), got[:100]
start = time.monotonic()
closed = 0
for s in idle:
    try:
        while s.recv(65536):
            pass
        closed += 1
    except ConnectionResetError:
        closed += 1
    except socket.timeout:
        pass
waited = time.monotonic() - start
assert closed == 10, "only %d of 10 idle connections were closed" % closed
assert waited < 8, "idle connections closed after %.1f s" % waited
# the server frees a slot just after closing its connection: wait for it
for i in range(100):
    try:
        got = get()
    except OSError:
        got = b""
    if got.startswith(b"HTTP/1.1 200"):
        break
    time.sleep(0.05)
assert got.startswith(b"HTTP/1.1 200"), got[:100]
EOF
# Slow-loris clients, each sending a header byte every half second, hold
# their own connections but do not hold up anybody else.  The server
# cuts a connection that has not sent a whole request within its request
# timeout (5 s), or has been quiet for its --timeout (2 s here): on a
# loaded machine a round of this loop can take longer than either, and a
# slow client may find itself cut then, never within its first 2 s.
python3 - "$PORT" <<'EOF' || fail "slow clients"
import socket, sys, time
port = int(sys.argv[1])
start = time.monotonic()
slow = [socket.create_connection(("127.0.0.1", port), timeout=10) for i in range(4)]
req = b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"z" * 40 + b"\r\n\r\n"
answered = 0
for i in range(10):
    for s in list(slow):
        try:
            s.sendall(req[i:i + 1])
        except (BrokenPipeError, ConnectionResetError):
            cut = time.monotonic() - start
            assert cut >= 2, "a slow client was cut after %.1f s" % cut
            slow.remove(s)
    t = time.monotonic()
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    got = c.recv(65536)
    c.close()
    assert got.startswith(b"HTTP/1.1 200"), got[:100]
    assert time.monotonic() - t < 2, "a request took %.1f s" % (time.monotonic() - t)
    answered += 1
    time.sleep(0.5)  # the slow clients' pace, not a wait for the server
assert answered == 10
EOF
call 200 "$ADMIN" GET /api/v1/whoami

# ---- SIGTERM: stop accepting, answer the long poll, hand back tasks --------------------------
# a long poll that will not be satisfied, an exec in flight, and leases
# being worked on
curl -sS -o "$T/poll.body" -w '%{http_code}' -H "Authorization: Bearer $ADMIN" \
	"$URL/api/v1/leases/$lease?wait=destroyed&timeout=60" >"$T/poll.code" 2>"$T/poll.err" &
poll=$!
curl -sS -o "$T/exec.body" -w '%{http_code}' -H "Authorization: Bearer $ADMIN" \
	-H 'Content-Type: application/json' \
	--data-binary "{\"argv\": [\"sh\", \"-c\", \"touch '$T/exec.started'; sleep 1; echo finished\"]}" \
	"$URL/api/v1/leases/$lease/exec" >"$T/exec.code" 2>"$T/exec.err" &
ex=$!
wait_until 10 test -e "$T/exec.started" || fail "exec did not start"
# Both requests are in flight once the server has read them: two
# established connections to the server's port, nothing left unread in
# either (/proc/net/tcp: state 01, rx_queue 0).
inflight() {
	awk -v p="$(printf ':%04X' "$PORT")" '$2 ~ p "$" && $4 == "01" {
		n++; split($5, q, ":"); if (q[2] != "00000000") unread = 1 }
		END { exit !(n >= 2 && !unread) }' /proc/net/tcp
}
wait_until 10 inflight || fail "the server did not take the long poll: $(cat /proc/net/tcp)"
for i in 1 2 3 4 5 6; do call 201 "$ADMIN" POST /api/v1/leases '{"type": "host"}'; done
start=$(date +%s)
kill -TERM "$SERVER"
set +e
wait "$poll"
wait "$ex"
wait "$SERVER"
rc=$?
set -e
expect_eq "serve exit status after SIGTERM" "$rc" 0
expect_eq "long poll answered" "$(cat "$T/poll.code")" 200
expect_eq "long poll answer" "$(jq -r .status "$T/poll.body")" active
[ $(($(date +%s) - start)) -lt 30 ] || fail "the long poll was not answered at once"
expect_eq "exec in flight finished" "$(cat "$T/exec.code") $(jq -r .stdout "$T/exec.body")" "200 finished"
expect_eq "no task left claimed" "$(sql 'SELECT count(*) FROM task WHERE claimed_by IS NOT NULL')" 0
expect_eq "no object lock left" "$(sql 'SELECT count(*) FROM lock')" 0
grep -q "SIGTERM: stopping" "$T/serve.log" || fail "no stop message"
grep -Eq "serve [0-9]+ stopped: [0-9]+ tasks run, [1-9][0-9]* store commits$" "$T/serve.log" ||
	fail "no stopped message: $(tail -3 "$T/serve.log")"
set +e
curl -sS -o /dev/null "$URL/livez" 2>/dev/null
rc=$?
set -e
[ "$rc" != 0 ] || fail "the server still answers after it stopped"
echo ok
