# A lease's files and command interfaces, driven like a user: `drydock cp`
# both ways (a 100 MB file hash-checked, directories with -r, into an
# existing directory, stdin and stdout, a missing path, a directory
# without -r, an absolute path and '..', which the interface allows:
# it reaches what the lease's commands reach), `drydock exec --env`, and
# nothing left half-written when a copy is stopped; then the same through
# the API of a real `drydock serve`: upload (PUT, streamed), download
# (GET, streamed), listing, exec's env, the refusals, and an upload cut
# off halfway leaving the old file.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib_http.sh"

host_pool local '[{"name": "a", "slots": 2}]'
start_daemon
lease=$(dd lease --type host 2>/dev/null)
expect_eq "lease active" "$(lease_status "$lease")" active
dir=$(sql "SELECT json_extract(attributes, '$.path') FROM lease WHERE id = $lease")
[ -d "$dir" ] || fail "no lease directory '$dir'"

# ---- exec --env ---------------------------------------------------------------
out=$(dd exec --lease "$lease" --env GREETING=hello --env 'SPACED=a b' \
	--env GREETING=hi -- sh -c 'echo "$GREETING|$SPACED|$DRYDOCK_LEASE"')
expect_eq "exec --env" "$out" "hi|a b|$lease"
expect_refused 2 "bad environment variable '1X=y'" \
	dd exec --lease "$lease" --env 1X=y -- true
expect_refused 2 "bad environment variable 'NOVALUE'" \
	dd exec --lease "$lease" --env NOVALUE -- true

# ---- a 100 MB file in and out, hash-checked -----------------------------------
head -c 100000000 /dev/urandom >"$T/big"
chmod 640 "$T/big"
sum=$(sha256sum <"$T/big" | cut -d' ' -f1)
dd cp "$T/big" "$lease:in/big.bin"
expect_eq "uploaded bytes" "$(sha256sum <"$dir/in/big.bin" | cut -d' ' -f1)" "$sum"
expect_eq "uploaded mode" "$(stat -c %a "$dir/in/big.bin")" 640
dd cp "$lease:in/big.bin" "$T/big.back"
expect_eq "downloaded bytes" "$(sha256sum <"$T/big.back" | cut -d' ' -f1)" "$sum"
rm -f "$T/big" "$T/big.back" "$dir/in/big.bin"

# ---- into an existing directory, stdin and stdout ----------------------------
echo one >"$T/one.txt"
dd cp "$T/one.txt" "$lease:."
expect_eq "into the lease's directory" "$(cat "$dir/one.txt")" one
dd cp "$T/one.txt" "$lease:sub/"
expect_eq "into a new directory named with a slash" "$(cat "$dir/sub/one.txt")" one
mkdir "$T/here"
dd cp "$lease:sub/one.txt" "$T/here"
expect_eq "into a local directory" "$(cat "$T/here/one.txt")" one
echo piped | dd cp - "$lease:piped.txt"
expect_eq "from stdin" "$(cat "$dir/piped.txt")" piped
expect_eq "to stdout" "$(dd cp "$lease:piped.txt" -)" piped

# ---- absolute paths and '..' reach what commands reach ------------------------
dd cp "$lease:$dir/one.txt" "$T/abs.txt"
expect_eq "an absolute path" "$(cat "$T/abs.txt")" one
dd cp "$lease:../lease-$lease/one.txt" "$T/up.txt"
expect_eq "a path through '..'" "$(cat "$T/up.txt")" one

# ---- directories -------------------------------------------------------------
mkdir -p "$T/tree/deep/er"
echo a >"$T/tree/a"
echo b >"$T/tree/deep/er/b"
printf 'x\0y' >"$T/tree/deep/bin"
chmod 755 "$T/tree/a"
expect_refused 2 "'$T/tree' is a directory (use -r to copy it)" \
	dd cp "$T/tree" "$lease:tree"
dd cp -r "$T/tree" "$lease:tree"
diff -r "$T/tree" "$dir/tree" || fail "directory upload differs"
expect_eq "mode kept in a directory" "$(stat -c %a "$dir/tree/a")" 755
# an existing directory receives it under its own name
dd cp -r "$T/tree" "$lease:tree"
diff -r "$T/tree" "$dir/tree/tree" || fail "upload into a directory differs"
expect_refused 2 "'tree' on lease $lease is a directory (use -r to copy it)" \
	dd cp "$lease:tree" "$T/tree.back"
dd cp -r "$lease:tree" "$T/tree.back"
diff -r "$dir/tree" "$T/tree.back" || fail "directory download differs"
dd cp --recursive "$lease:tree/deep" "$T/tree.back"
diff -r "$T/tree/deep" "$T/tree.back/deep" || fail "download into a directory differs"

# ---- refusals: nothing changes ------------------------------------------------
expect_refused 3 "cannot copy 'nope' from lease $lease: no such file or directory" \
	dd cp "$lease:nope" "$T/nope"
[ ! -e "$T/nope" ] || fail "a failed download left '$T/nope'"
expect_refused 3 "cannot copy '$T/nope': No such file or directory" \
	dd cp "$T/nope" "$lease:nope"
expect_refused 2 "one of SOURCE and DEST must be on a lease" dd cp "$T/a" "$T/b"
expect_refused 2 "one of SOURCE and DEST must be on a lease" dd cp "$lease:a" "$lease:b"
expect_refused 2 "names no path on the lease" dd cp "$T/one.txt" "$lease:"
expect_refused 3 "no such lease" dd cp "$T/one.txt" "999:x"
ls -A "$T/here" | grep -q drydock-cp && fail "a temporary file was left in '$T/here'"

# ---- a stopped upload leaves the old file ----------------------------------------
echo old >"$dir/keep.txt"
mkfifo "$T/fifo"
# the writer holds the fifo open and sends part of a file, never its end
(printf 'partial' ; sleep 300) >"$T/fifo" &
writer=$!
track "$writer"
"$DD" cp "$T/fifo" "$lease:keep.txt" 2>"$T/stop.err" &
cp_pid=$!
track "$cp_pid"
uploading() { ls -A "$dir" | grep -q '^\.drydock-upload\.'; }
wait_until 20 uploading || fail "the upload never started"
kill -INT "$cp_pid"
set +e
wait "$cp_pid"
rc=$?
set -e
expect_eq "status of a stopped cp" "$rc" 130
expect_eq "the old file" "$(cat "$dir/keep.txt")" old
gone_tmp() { ! uploading; }
wait_until 20 gone_tmp || fail "a stopped upload left its temporary file"
kill "$writer" 2>/dev/null || true

# ---- a lease that is not active -----------------------------------------------
dd release-lease --id "$lease" >/dev/null
wait_until 20 all_leases_destroyed || fail "lease $lease not destroyed"
expect_refused 4 "cannot copy files to lease $lease: it is destroyed, not active" \
	dd cp "$T/one.txt" "$lease:x"
expect_refused 4 "cannot copy files from lease $lease: it is destroyed, not active" \
	dd cp "$lease:x" "$T/x"
stop_daemon "$DAEMON"

# ==== the API ======================================================================
start_server
CI=$(token ci client)
OTHER=$(token other client)
VIEW=$(token dash viewer)
call 201 "$CI" POST /api/v1/leases '{"type": "host"}'
api=$(j .id)
call 200 "$CI" GET "/api/v1/leases/$api?wait=active&timeout=20"
expect_eq "API lease active" "$(j .status)" active
adir=$(sql "SELECT json_extract(attributes, '$.path') FROM lease WHERE id = $api")
F=/api/v1/leases/$api/files

# ---- exec's env -----------------------------------------------------------------
call 200 "$CI" POST "/api/v1/leases/$api/exec" \
	'{"argv": ["sh", "-c", "echo \"$A|$B\""], "env": {"A": "one", "B": "t w o"}}'
expect_eq "exec env" "$(j .stdout)" "one|t w o"
rejects 400 invalid "$CI" POST "/api/v1/leases/$api/exec" '{"argv": ["true"], "env": {"1A": "x"}}'
rejects 400 invalid "$CI" POST "/api/v1/leases/$api/exec" '{"argv": ["true"], "env": {"A=B": "x"}}'
rejects 400 invalid "$CI" POST "/api/v1/leases/$api/exec" '{"argv": ["true"], "env": {"A": 1}}'
rejects 400 invalid "$CI" POST "/api/v1/leases/$api/exec" '{"argv": ["true"], "env": ["A=1"]}'

# ---- exec with its output streamed, a line of JSON per piece --------------------
call 200 "$CI" POST "/api/v1/leases/$api/exec" \
	'{"argv": ["sh", "-c", "echo one; echo two >&2; printf caf; printf \"\\303\"; sleep 0.2; printf \"\\251\\n\"; exit 4"], "stream": true, "env": {"A": "b"}}'
expect_eq "stream type" "$(header Content-Type)" application/x-ndjson
expect_eq "streamed stdout" "$(jq -rsj '[.[] | .stdout // empty] | join("")' "$T/body")" "$(printf 'one\ncaf\303\251\n')"
expect_eq "streamed stderr" "$(jq -rsj '[.[] | .stderr // empty] | join("")' "$T/body")" "two"
expect_eq "stream end" "$(tail -1 "$T/body" | jq -c '[.exit_status, .timed_out]')" '[4,false]'
rejects 400 invalid "$CI" POST "/api/v1/leases/$api/exec" '{"argv": ["no-such-program-x"], "stream": true}'
rejects 400 invalid "$CI" POST "/api/v1/leases/$api/exec" '{"argv": ["true"], "stream": "yes"}'
# the first line comes while the program runs; a client that goes away
# stops it (here: reads "first", then closes)
python3 - "$PORT" "$CI" "/api/v1/leases/$api/exec" "$T/streamer.pid" <<'PY'
import json, socket, sys, time
port, tok, path, pidfile = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
body = json.dumps({"argv": ["sh", "-c", "echo $$ >" + pidfile + "; echo first; exec sleep 300"],
                   "stream": True, "timeout": 600}).encode()
s = socket.create_connection(("127.0.0.1", port))
s.sendall((f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\n"
           f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body)
got, deadline = b"", time.time() + 30
while b'"stdout":"first\\n"' not in got:
    if time.time() > deadline:
        sys.exit("no first line while the program runs: %r" % got)
    got += s.recv(4096)
s.close()
PY
streamer_gone() { ! kill -0 "$(cat "$T/streamer.pid")" 2>/dev/null; }
wait_until 20 streamer_gone || fail "a streamed exec's program outlived its client"

# ---- upload and download, streamed, 100 MB hash-checked -------------------------
head -c 100000000 /dev/urandom >"$T/big"
sum=$(sha256sum <"$T/big" | cut -d' ' -f1)
call 201 "$CI" PUT "$F/up/big.bin?mode=0600" "" --data-binary "@$T/big" \
	-H 'Content-Type: application/octet-stream'
expect_eq "upload size" "$(j .size)" 100000000
expect_eq "upload mode" "$(j .mode)" 0600
expect_eq "uploaded bytes" "$(sha256sum <"$adir/up/big.bin" | cut -d' ' -f1)" "$sum"
expect_eq "uploaded mode" "$(stat -c %a "$adir/up/big.bin")" 600
rm -f "$T/big"
call 200 "$CI" GET "$F/up/big.bin"
expect_eq "download type" "$(header Content-Type)" application/octet-stream
expect_eq "download length" "$(header Content-Length)" 100000000
expect_eq "downloaded bytes" "$(sha256sum <"$T/body" | cut -d' ' -f1)" "$sum"
: >"$T/body"
# curl -T sends no Content-Type: a PUT is bytes whatever it says
printf 'small\n' >"$T/small"
call 201 "$CI" PUT "$F/small.txt" "" -T "$T/small"
expect_eq "default mode" "$(stat -c %a "$adir/small.txt")" 644
call 201 "$CI" PUT "$F/empty" "" --data-binary ""
call 200 "$CI" GET "$F/empty"
expect_eq "empty file" "$(stat -c %s "$T/body")" 0
# an absolute path: what follows files/ starts with '/'
call 200 "$CI" GET "$F/$adir/small.txt"
expect_eq "absolute path" "$(cat "$T/body")" small

# ---- listing -----------------------------------------------------------------------
call 200 "$CI" GET "$F"
expect_eq "listing of the lease's directory" "$(j '.path + " " + .type')" ". directory"
expect_eq "listed names" "$(j '[.entries[].name] | join(",")')" "empty,small.txt,up"
expect_eq "a file's entry" "$(j '.entries[1] | .type + " " + (.size|tostring) + " " + .mode')" "file 6 0644"
call 200 "$CI" GET "$F?path=up"
expect_eq "a subdirectory" "$(j '.entries[0].name + " " + (.entries[0].size|tostring) + " " + .entries[0].mode')" "big.bin 100000000 0600"
call 200 "$CI" GET "$F?path=small.txt"
expect_eq "a file listed" "$(j '.type + " " + (.entries|length|tostring)')" "file 0"

# ---- the web UI: the lease page lists its files, with download links -------------
sign_in() { # JAR TOKEN
	curl -sS -o /dev/null -D "$T/headers" -c "$1" --data-urlencode "token=$2" "$URL/login"
	grep -q '^HTTP/1.1 303' "$T/headers" || fail "sign-in: $(cat "$T/headers")"
}
sign_in "$T/ci.jar" "$CI"
curl -sS -b "$T/ci.jar" "$URL/leases/$api" >"$T/page"
grep -qF "<a href=\"/leases/$api/files/small.txt\" download>small.txt</a>" "$T/page" ||
	fail "no download link on the lease page: $(grep -A3 'id="files"' "$T/page")"
grep -qF "<a href=\"/leases/$api?path=up#files\">up/</a>" "$T/page" ||
	fail "no directory link on the lease page"
curl -sS -b "$T/ci.jar" "$URL/leases/$api?path=up" >"$T/page"
grep -qF "<a href=\"/leases/$api/files/up%2Fbig.bin\" download>big.bin</a>" "$T/page" ||
	fail "no download link in a subdirectory"
grep -qF "<a href=\"/leases/$api?path=.#files\">..</a>" "$T/page" || fail "no way up"
expect_eq "download from the page" "$(curl -sS -b "$T/ci.jar" "$URL/leases/$api/files/small.txt")" small
sign_in "$T/view.jar" "$VIEW"
curl -sS -b "$T/view.jar" "$URL/leases/$api" >"$T/page"
grep -q 'id="files"' "$T/page" && fail "a viewer was shown the lease's files"
expect_eq "a viewer's download" "$(curl -sS -o /dev/null -w '%{http_code}' -b "$T/view.jar" "$URL/leases/$api/files/small.txt")" 403

# ---- refusals, each changing nothing ------------------------------------------------
rejects 404 not_found "$CI" GET "$F/nope"
rejects 404 not_found "$CI" GET "$F?path=nope"
rejects 400 invalid "$CI" GET "$F/up"
rejects 400 invalid "$CI" GET "$F/"
rejects 400 invalid "$CI" PUT "$F/up" "" --data-binary x -H 'Content-Type: application/octet-stream'
rejects 400 invalid "$CI" PUT "$F/x?mode=999" "" --data-binary x -H 'Content-Type: application/octet-stream'
rejects 400 invalid "$CI" PUT "$F/x?size=1" "" --data-binary x -H 'Content-Type: application/octet-stream'
rejects 403 forbidden "$OTHER" GET "$F/small.txt"
rejects 403 forbidden "$VIEW" GET "$F"
rejects 403 forbidden "$OTHER" PUT "$F/small.txt" "" --data-binary x -H 'Content-Type: application/octet-stream'
rejects 401 unauthorized "" GET "$F/small.txt"
rejects 404 not_found "$CI" GET "/api/v1/leases/999/files/x"
expect_eq "refused writes changed nothing" "$(cat "$adir/small.txt")" small
[ ! -e "$adir/x" ] || fail "a refused upload wrote '$adir/x'"

# ---- an upload cut off halfway leaves the old file -----------------------------------
# a client that announces 10 MB, sends 1 MB and goes away
python3 - "$PORT" "$CI" "$F/small.txt" <<'PY'
import socket, sys
port, tok, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port))
s.sendall((f"PUT {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\n"
           "Content-Type: application/octet-stream\r\nContent-Length: 10000000\r\n\r\n").encode())
s.sendall(b"y" * 1000000)
s.close()
PY
upload_gone() { ! ls -A "$adir" | grep -q '^\.drydock-upload\.'; }
# seen once the megabyte sent has gone through the lease's command, the
# command stopped (SIGTERM) and its trap run: seconds on a loaded machine
# (20 s once ran out), at once on an idle one
wait_until 60 upload_gone || fail "a cut-off upload left its temporary file"
expect_eq "the old file after a cut-off upload" "$(cat "$adir/small.txt")" small

# ---- a download the client leaves halfway stops its command -------------------------
head -c 50000000 /dev/zero >"$adir/zeros"
python3 - "$PORT" "$CI" "$F/zeros" <<'PY'
import socket, sys
port, tok, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port))
s.sendall((f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\n\r\n").encode())
s.recv(65536)
s.close()
PY
no_cat() { ! pgrep -f "cat -- ./zeros" >/dev/null; }
wait_until 20 no_cat || fail "the command of a dropped download still runs"
call 200 "$CI" GET "$F/small.txt"
expect_eq "the server still serves" "$(cat "$T/body")" small

stop_server
echo "ok"
