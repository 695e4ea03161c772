# Clients waiting for their leases do not starve everyone else: 300 long
# polls (GET /api/v1/leases/ID?wait=...) are parked without a thread
# each, while /livez and the API answer; releasing the lease answers all
# of them.  Long polls past the cap (seven eighths of --max-connections)
# get 503, and the connections kept for other requests stay usable; so
# do commands (exec) past three quarters of the request threads.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib_http.sh"

# polls PORT TOKEN LEASE N WANT503 CONTROL: open N long polls for LEASE
# (until released), check the server while they wait, release the lease
# through CONTROL (a fifo: "go" when the checks passed) and check that
# every parked poll is answered with the lease released, and that exactly
# WANT503 were refused with 503 at once.
polls() {
	python3 - "$@" <<'EOF'
import json, os, selectors, socket, sys, time
port, token, lease, n, want503, status_file = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
port = int(port)
auth = "Authorization: Bearer %s\r\n" % token
def get(path):
    c = socket.create_connection(("127.0.0.1", port), timeout=20)
    c.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n" % (path, auth)).encode())
    got = b""
    while True:
        d = c.recv(65536)
        if not d:
            return got
        got += d
sel = selectors.DefaultSelector()
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.sendall(("GET /api/v1/leases/%s?wait=released&timeout=60 HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n" % (lease, auth)).encode())
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, [s, b""])
    socks.append(s)
answers = []
def read_ready(timeout):
    for key, _ in sel.select(timeout):
        s, buf = key.data[0], key.data[1]
        try:
            d = s.recv(65536)
        except BlockingIOError:
            continue
        if d:
            key.data[1] += d
            continue
        sel.unregister(s)
        s.close()
        answers.append(key.data[1])
# the polls past the cap are refused at once; the others wait
deadline = time.monotonic() + 30
while len(answers) < want503 and time.monotonic() < deadline:
    read_ready(0.5)
refused = [a for a in answers if a.startswith(b"HTTP/1.1 503")]
assert len(answers) == want503 and len(refused) == want503, \
    "%d answered early, %d of them 503, want %d: %r" % (len(answers), len(refused), want503, answers[:1])
assert all(b'"code":"busy"' in a for a in refused), refused[:1]
# while they wait, the probes and the API answer
for i in range(5):
    got = get("/livez")
    assert got.startswith(b"HTTP/1.1 200"), got[:200]
got = get("/readyz")
assert got.startswith(b"HTTP/1.1 200"), got[:200]
got = get("/api/v1/whoami")
assert got.startswith(b"HTTP/1.1 200"), got[:200]
got = get("/api/v1/leases/%s" % lease)
assert got.startswith(b"HTTP/1.1 200") and b'"status":"active"' in got, got[:300]
# every poll within the cap is parked, none answered
deadline = time.monotonic() + 30
while True:
    got = get("/metrics")
    waiting = [l for l in got.split(b"\n") if l.startswith(b"drydock_http_long_polls_waiting ")]
    if waiting == [b"drydock_http_long_polls_waiting %d" % (n - want503)] or time.monotonic() > deadline:
        break
    time.sleep(0.1)
assert waiting == [b"drydock_http_long_polls_waiting %d" % (n - want503)], waiting
read_ready(0)
assert len(answers) == want503, "%d long polls answered before their lease changed" % (len(answers) - want503)
with open(status_file + ".checked", "w") as f:
    f.write("checked\n")
# the lease is released now (by the shell): every parked poll is answered
deadline = time.monotonic() + 60
while len(answers) < n and time.monotonic() < deadline:
    read_ready(0.5)
assert len(answers) == n, "%d of %d long polls answered" % (len(answers) - want503, n - want503)
for a in answers:
    if a.startswith(b"HTTP/1.1 503"):
        continue
    assert a.startswith(b"HTTP/1.1 200"), a[:200]
    body = json.loads(a.split(b"\r\n\r\n", 1)[1])
    assert body["status"] in ("released", "destroyed"), body["status"]
print("%d long polls answered, %d refused" % (n - want503, want503))
EOF
}

# threads_of PID: the process's thread count.
threads_of() { sed -n 's/^Threads:[[:space:]]*//p' "/proc/$1/status"; }

# run_polls N WANT503: a fresh lease, N long polls on it; while they wait
# the server must not have grown a thread per poll; then release it.
run_polls() {
	call 201 "$ADMIN" POST /api/v1/leases '{"type": "host"}'
	lease=$(j .id)
	call 200 "$ADMIN" GET "/api/v1/leases/$lease?wait=active&timeout=30"
	expect_eq "lease active" "$(j .status)" active
	rm -f "$T/polls.checked"
	polls "$PORT" "$ADMIN" "$lease" "$1" "$2" "$T/polls" >"$T/polls.out" 2>&1 &
	poller=$!
	track "$poller"
	wait_until 60 test -e "$T/polls.checked" || {
		cat "$T/polls.out" >&2
		fail "the server did not answer while $1 long polls waited"
	}
	threads=$(threads_of "$SERVER")
	[ "$threads" -lt 100 ] || fail "serve runs $threads threads with $1 long polls waiting"
	call 202 "$ADMIN" POST "/api/v1/leases/$lease/release"
	wait "$poller" || { cat "$T/polls.out" >&2; fail "long polls"; }
	cat "$T/polls.out"
}

start_server
call 201 "$ADMIN" POST /api/v1/blueprints \
	"{\"type\": \"host\", \"name\": \"pool\", \"config\": {\"root\": \"$T/hosts\", \"hosts\": [{\"name\": \"a\", \"slots\": 4}]}}"
run_polls 300 0
stop_server

# 64 connections: at most 56 long polls wait, the 57th to 60th get 503,
# and the 8 connections kept for others serve the probes and the API
start_server --max-connections 64
run_polls 60 4

# Commands (exec) may hold three of --http-threads 4: a fourth while three
# run is 503 busy, and the fourth thread still answers the API.
stop_server
start_server --http-threads 4
call 201 "$ADMIN" POST /api/v1/leases '{"type": "host"}'
lease=$(j .id)
call 200 "$ADMIN" GET "/api/v1/leases/$lease?wait=active&timeout=30"
expect_eq "lease active" "$(j .status)" active
execs=""
for i in 1 2 3; do
	curl -sS -o "$T/exec$i.body" -w '%{http_code}' -H "Authorization: Bearer $ADMIN" \
		--data-binary "{\"argv\": [\"sh\", \"-c\", \"touch '$T/exec$i.started'; while [ ! -e '$T/go' ]; do sleep 0.05; done; echo done\"]}" \
		"$URL/api/v1/leases/$lease/exec" >"$T/exec$i.code" &
	execs="$execs $!"
	track "$!"
done
wait_until 30 test -e "$T/exec1.started" -a -e "$T/exec2.started" -a -e "$T/exec3.started" ||
	fail "the three commands did not start"
rejects 503 busy "$ADMIN" POST "/api/v1/leases/$lease/exec" '{"argv": ["true"]}'
expect_eq "exec cap message" "$(j .error.message)" \
	"3 commands are running, as many as the server runs at once; try again later"
call 200 "$ADMIN" GET /api/v1/whoami
call 200 "" GET /livez
touch "$T/go"
wait $execs
for i in 1 2 3; do
	expect_eq "exec $i" "$(cat "$T/exec$i.code") $(jq -r .stdout "$T/exec$i.body")" "200 done"
done
call 200 "$ADMIN" POST "/api/v1/leases/$lease/exec" '{"argv": ["true"]}'
stop_server
echo ok
