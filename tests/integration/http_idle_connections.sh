# Clients that connect and send nothing cannot starve the others: with
# 300 idle connections open (more than the old limit of 256 threads, and
# with --request-timeout far away, so no deadline comes to the rescue)
# /livez and the API still answer, both under the default limit and under
# a limit far below 300, where the connection that has waited longest
# without a request makes way for each new one.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib_http.sh"

# idle_then_probe PORT TOKEN: open 300 idle connections, then five
# /livez and one whoami must each be answered (a 20 s bound per request
# only keeps a broken server from hanging the test).
idle_then_probe() {
	python3 - "$1" "$2" <<'EOF'
import socket, sys
port, token = int(sys.argv[1]), sys.argv[2]
idle = [socket.create_connection(("127.0.0.1", port), timeout=20) for i in range(300)]
def get(path, auth=""):
    c = socket.create_connection(("127.0.0.1", port), timeout=20)
    c.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n" % (path, auth)).encode())
    got = b""
    while True:
        d = c.recv(65536)
        if not d:
            return got
        got += d
answered = 0
for i in range(5):
    try:
        answered += get("/livez").startswith(b"HTTP/1.1 200")
    except OSError:
        pass
assert answered == 5, "/livez answered %d of 5 with 300 idle connections" % answered
got = get("/api/v1/whoami", "Authorization: Bearer %s\r\n" % token)
assert got.startswith(b"HTTP/1.1 200"), got[:200]
print("300 idle connections: /livez answered 5 of 5")
EOF
}

start_server --request-timeout 60
idle_then_probe "$PORT" "$ADMIN" || fail "300 idle connections starved the server (default limit)"
stop_server

start_server --request-timeout 60 --max-connections 64
idle_then_probe "$PORT" "$ADMIN" || fail "300 idle connections starved the server (64 connections)"
grep -q 'method=GET path="/api/v1/whoami" status=200' "$T/serve.log" || fail "no log line for whoami"
stop_server
echo ok
