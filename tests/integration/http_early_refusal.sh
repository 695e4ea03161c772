# A request refused before its body is read still gets its answer while
# the client is sending the body.  The server answers (401, 403, 404, 413,
# 400) and closes the connection; a socket closed with the body's bytes
# unread used to be reset, and the client, still writing, got "broken
# pipe" instead of the answer (curl: status 000, which made
# file_artifacts.sh fail now and then).  The close now lingers: what the
# client still sends is read and dropped, within bounds in bytes and
# time.  Each client here sends the headers and 64 KiB of the body, waits
# for the answer to arrive, then sends the rest of the body through a
# small send buffer (so the server has to take it), and only then reads
# the answer: it must be whole.  Stream routes (an artifact upload, a
# lease file PUT) and plain ones (a JSON body over 64 KiB, an ambiguous
# length); with "Expect: 100-continue" the refusal comes instead of 100;
# a client that never stops sending is cut off after the bytes allowed,
# and one that never closes after the time allowed.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib_http.sh"

start_server --max-artifact-size 1M
client=$(token ci client)
other=$(token other client)
call 201 "$client" POST /api/v1/targets '{"name": "build"}'
t=$(j .id)

# One python for every case (its start is slow on a loaded machine): each
# line of its input is a case, tab-separated: WANT MODE METHOD PATH TOKEN
# LENGTH [HEADER...], WANT being what it must print.  MODE "answer": send
# the headers and 64 KiB of the body, wait for the answer to start, send
# the rest, then read the answer to its end: "STATUS ERROR-CODE" (of the
# JSON error, the body as long as its Content-Length).  "expect": send the
# headers with Expect: 100-continue, and nothing more: the first status
# line.  "endless": send the body without end (up to LENGTH): "cut" when
# the server cuts the connection before 256 MiB.  "hold": send the
# headers and 64 KiB, read the answer, never close: "let go" when the
# server closes its socket within 60 s.
cat >"$T/early.py" <<'EOF'
import json, select, socket, sys, time
port = int(sys.argv[1])
piece = b"x" * (256 * 1024)

def read_all(s):
    data = b""
    while True:
        c = s.recv(65536)
        if not c:
            return data
        data += c

def held_by_server(s):
    # the server's socket of this connection, still open in a process
    # (a closed one is orphaned, inode 0, or gone)
    me = "%04X" % s.getsockname()[1]
    for line in open("/proc/net/tcp").read().splitlines()[1:]:
        f = line.split()
        if f[1].endswith(":%04X" % port) and f[2].endswith(":" + me):
            return f[9] != "0"
    return False

def run(mode, method, path, tok, length, *headers):
    length = int(length)
    s = socket.socket()
    # a small send buffer: the body cannot wait in it, the server must
    # read it
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32 * 1024)
    s.settimeout(30)
    s.connect(("127.0.0.1", port))
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\n"
    if tok:
        head += f"Authorization: Bearer {tok}\r\n"
    for h in headers:
        head += h + "\r\n"
    head += f"Content-Length: {length}\r\n"
    sent = 0
    try:
        if mode == "expect":
            s.sendall((head + "Expect: 100-continue\r\n\r\n").encode())
            return read_all(s).split(b"\r\n")[0].decode()
        head += "\r\n"
        if mode == "endless":
            s.sendall(head.encode())
            while sent < length:
                sent += s.send(piece)
            return f"all {sent} bytes taken"
        first = min(length, 64 * 1024)
        s.sendall(head.encode() + b"x" * first)
        if not select.select([s], [], [], 30)[0]:
            return "no answer within 30 s"
        if mode == "hold":
            read_all(s)
            start = time.monotonic()
            while time.monotonic() - start < 60:
                if not held_by_server(s):
                    return "let go"
                time.sleep(0.1)  # polling /proc, not waiting for the server
            return "held for 60 s"
        rest = length - first
        while rest > 0:
            rest -= s.send(piece[:rest])
        data = read_all(s)
    except OSError as e:
        if mode == "endless":
            return "cut" if sent < 256 << 20 else f"cut after {sent} bytes"
        return f"socket error: {e}"
    finally:
        s.close()
    top, _, body = data.partition(b"\r\n\r\n")
    lines = top.decode().split("\r\n")
    size = [int(l.split(":")[1]) for l in lines
            if l.lower().startswith("content-length:")]
    if size != [len(body)]:
        return f"a body of {len(body)} bytes, Content-Length {size}"
    return lines[0].split(" ")[1] + " " + json.loads(body)["error"]["code"]

bad = 0
for line in sys.stdin.read().splitlines():
    want, *case = line.split("\t")
    got = run(*case)
    if got != want:
        bad += 1
        print(f"{case[1]} {case[2]} with {case[4]} bytes: {got}, want {want}")
sys.exit(1 if bad else 0)
EOF

# add_case WANT MODE METHOD PATH TOKEN LENGTH [HEADER...]: add a case
add_case() { (IFS=$'\t' && echo "$*") >>"$T/cases"; }

bytes='Content-Type: application/octet-stream'
art="/api/v1/targets/$t/artifacts?key=a"
# stream routes: refused by their begin, before the body is read
add_case "401 unauthorized" answer POST "$art" "" 1000000 "$bytes"
add_case "403 forbidden" answer POST "$art" "$other" 1000000 "$bytes"
add_case "404 not_found" answer POST "/api/v1/targets/999/artifacts?key=a" "$client" 1000000 "$bytes"
add_case "413 too_large" answer POST "$art" "$client" 2000000 "$bytes"
add_case "401 unauthorized" answer PUT /api/v1/leases/1/files/a.bin "" 1000000 "$bytes"
add_case "404 not_found" answer PUT /api/v1/leases/999/files/a.bin "$client" 1000000 "$bytes"
# plain routes: refused from the headers
add_case "413 too_large" answer POST /api/v1/targets "$client" 1000000 'Content-Type: application/json'
add_case "400 malformed" answer POST /api/v1/targets "$client" 1000000 \
	'Content-Type: application/json' 'Transfer-Encoding: chunked'
# with Expect: 100-continue the refusal is the answer, never a 100
add_case "HTTP/1.1 401 Unauthorized" expect POST "$art" "" 1000000 "$bytes"
# the bounds: a client that sends without end is cut off after 4 MiB
# (and what the sockets' buffers hold), long before 1 GiB; one that never
# closes is let go after 5 s
add_case cut endless POST "$art" "" $((1 << 30)) "$bytes"
add_case "let go" hold POST "$art" "" 1000000 "$bytes"
python3 "$T/early.py" "$PORT" <"$T/cases" >"$T/out" ||
	fail "refused before the body: $(cat "$T/out")"
expect_eq "nothing stored by the refusals" "$(sql 'SELECT count(*) FROM artifact')" 0

# the server lives on, and stops cleanly
call 200 "" GET /livez
stop_server
