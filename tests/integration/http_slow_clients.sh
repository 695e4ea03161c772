# Slow and half-open clients cannot hold the server: more slow-loris
# clients than --max-connections, each trickling a header byte every half
# second, are cut off once --request-timeout passes without a whole
# request, and then the server answers everybody else again.  Also: a
# deeply nested body is refused, not a crash.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib_http.sh"

start_server --max-connections 8 --request-timeout 2
python3 - "$PORT" <<'PY' || fail "slow clients held the server"
import socket, sys, time
port = int(sys.argv[1])

def livez():
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        c.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        got = c.recv(65536)
        c.close()
        return got.startswith(b"HTTP/1.1 200")
    except OSError:
        return False

slow = []
for i in range(12):
    try:
        slow.append(socket.create_connection(("127.0.0.1", port), timeout=5))
    except OSError:
        pass
req = b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"z" * 200 + b"\r\n\r\n"
cut, served, start = set(), False, time.monotonic()
# keep trickling until the server has both cut the slow clients off and
# answered a normal client; the loop's bound is far past the 2 s deadline
for i in range(len(req) - 4):
    for n, s in enumerate(slow):
        if n in cut:
            continue
        try:
            s.sendall(req[i:i + 1])
        except OSError:
            cut.add(n)
    if len(cut) == len(slow) and livez():
        served = True
        break
    if time.monotonic() - start > 30:
        break
    time.sleep(0.5)  # the slow clients' pace, not a wait for the server
assert len(cut) == len(slow), "%d of %d slow clients still connected" % (
    len(slow) - len(cut), len(slow))
assert served, "the server did not answer after cutting the slow clients"
PY
grep -q 'method=GET path="/livez" status=200' "$T/serve.log" ||
	fail "no request line for the answered client"

# 100 levels of nesting: refused before parsing, and the server lives on
deep=$(python3 -c 'print("{\"type\": \"host\", \"attributes\": {\"a\": " + "[" * 100 + "]" * 100 + "}}")')
rejects 400 invalid "$ADMIN" POST /api/v1/leases "$deep"
expect_eq "nesting message" "$(j .error.message)" "request body is nested deeper than 32 levels"
deep=$(python3 -c 'print("{\"type\": \"host\", \"attributes\": {\"a\": " + "[" * 30 + "]" * 30 + "}}")')
call 201 "$ADMIN" POST /api/v1/leases "$deep"
call 200 "" GET /livez
stop_server
echo ok
