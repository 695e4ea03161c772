# A streamed exec (POST /api/v1/leases/ID/exec with "stream": true) whose
# client stops reading keeps its deadline: `yes` fills the pipe and the
# connection, and is still stopped at its 2 s timeout; one whose client
# stops reading and then goes away is stopped at once, without a timeout.
# Either way the program is gone and the server still answers.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib_http.sh"

host_pool local '[{"name": "a", "slots": 1}]'
start_server
CI=$(token ci client)
call 201 "$CI" POST /api/v1/leases '{"type": "host"}'
api=$(j .id)
call 200 "$CI" GET "/api/v1/leases/$api?wait=active&timeout=20"
expect_eq "lease active" "$(j .status)" active

# stalled_client PIDFILE TIMEOUT HOLD: send a streamed exec of `yes` that
# writes its pid to PIDFILE, read until the first line, then read nothing;
# with HOLD the connection stays open until the program has ended (at most
# a minute), else it is closed once the program's pid is known.
stalled_client() {
	python3 - "$PORT" "$CI" "/api/v1/leases/$api/exec" "$1" "$2" "$3" <<'PY'
import json, os, socket, sys, time
port, tok, path, pidfile, timeout, hold = sys.argv[1:7]
body = {"argv": ["sh", "-c", "echo $$ >" + pidfile + "; exec yes stalled"],
        "stream": True}
if timeout != "0":
    body["timeout"] = int(timeout)
body = json.dumps(body).encode()
s = socket.create_connection(("127.0.0.1", int(port)))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.sendall((f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\n"
           f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body)
got, deadline = b"", time.time() + 30
while b"stalled" not in got:
    if time.time() > deadline:
        sys.exit("no output from the program: %r" % got)
    got += s.recv(4096)
while not os.path.exists(pidfile) or not open(pidfile).read().strip():
    if time.time() > deadline:
        sys.exit("the program's pid never came")
    time.sleep(0.05)
if hold == "hold":  # read nothing more, connected, until the program ends
    pid = open(pidfile).read().strip()
    while os.path.exists("/proc/" + pid) and time.time() < deadline + 60:
        time.sleep(0.1)
s.close()
PY
}
gone() { ! kill -0 "$(cat "$1")" 2>/dev/null; }

# ---- a client that stops reading: the timeout still stops the program --------
stalled_client "$T/held.pid" 2 hold &
held=$!
track "$held"
wait_until 30 test -s "$T/held.pid" || fail "the held client's program never started"
wait_until 30 gone "$T/held.pid" || fail "a stalled client's program outlived its 2 s timeout"
wait "$held" || fail "the held client failed"

# ---- a client that stops reading and goes away: the program is stopped --------
stalled_client "$T/gone.pid" 0 close || fail "the client could not start the program"
wait_until 30 gone "$T/gone.pid" || fail "a program outlived its stalled client that went away"

# ---- the server still answers ----------------------------------------------------
call 200 "$CI" POST "/api/v1/leases/$api/exec" '{"argv": ["echo", "still here"]}'
expect_eq "exec after" "$(j .stdout)" "still here"
stop_server
echo "ok"
