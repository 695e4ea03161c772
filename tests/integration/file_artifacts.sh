# File artifacts through "drydock serve" and the CLI: a 200 MB file
# uploaded (Content-Length and chunked) and downloaded intact, its hash
# checked, with serve's peak memory growing by far less than the file;
# Range and ETag/If-None-Match; who may upload and read; 413 from a
# Content-Length over the limit before a byte of the body is sent; a
# chunked body passing the limit; an upload cut off halfway, which must
# leave no artifact and no chunk; and "artifact add --file" and
# "artifact get" through the store.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib_http.sh"

# new_target TOKEN: a building target of that token; prints its id.
new_target() {
	call 201 "$1" POST /api/v1/targets '{"name": "build"}' >&2
	j .id
}

# upload TOKEN TARGET QUERY FILE [CURL OPTIONS...]: POST FILE's bytes.
upload() {
	tok=$1 target=$2 query=$3 file=$4
	shift 4
	req "$tok" POST "/api/v1/targets/$target/artifacts?$query" "" \
		-H 'Content-Type: application/octet-stream' \
		--data-binary "@$file" "$@"
}

no_orphans() {
	[ "$(sql "SELECT count(*) FROM chunk WHERE artifact NOT IN
		(SELECT id FROM artifact WHERE type = 'file')")" = 0 ]
}

hwm() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$SERVER/status"; }

# ---- a small limit: 413 before the body, chunked past the limit ---------
# --timeout 3: libmicrohttpd 0.9.75 on epoll may miss a client's close
# that comes with the last bytes it sent; the idle timeout then ends the
# connection, and the upload is aborted all the same
# DRYDOCK_CHECK_INTERVAL=1: the pool's periodic pass, which also prunes
# uploads whose writer died, every second
DRYDOCK_CHECK_INTERVAL=1 start_server --max-artifact-size 1M --timeout 3
client=$(token ci client)
other=$(token other client)
viewer=$(token look viewer)
t=$(new_target "$client")
head -c 300000 /dev/urandom >"$T/small"
head -c 1048577 /dev/zero >"$T/over"

# A Content-Length over the limit is answered before the body is sent:
# the client sends the headers only and still gets its answer.
python3 - "$PORT" "$client" "$t" >"$T/early" <<'EOF'
import socket, sys
port, tok, target = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(20)
s.sendall((f"POST /api/v1/targets/{target}/artifacts?key=big HTTP/1.1\r\n"
           f"Host: x\r\nAuthorization: Bearer {tok}\r\n"
           "Content-Type: application/octet-stream\r\n"
           "Content-Length: 1048577\r\n\r\n").encode())
data = b""
while b"\r\n\r\n" not in data:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print(data.split(b"\r\n")[0].decode())
EOF
grep -q '^HTTP/1.1 413' "$T/early" || fail "no early 413: $(cat "$T/early")"
upload "$client" "$t" key=over "$T/over"
expect_error 413 too_large
# chunked: no length to refuse up front; the connection is cut once the
# body passes the limit, and what was stored is deleted
req "$client" POST "/api/v1/targets/$t/artifacts?key=over" "" \
	-H 'Content-Type: application/octet-stream' \
	-H 'Transfer-Encoding: chunked' --data-binary "@$T/over"
[ "$(cat "$T/code")" != 201 ] || fail "a chunked body past the limit was stored"
gone() { [ "$(sql "SELECT count(*) FROM artifact WHERE key = 'over'")" = 0 ] && no_orphans; }
wait_until 20 gone || fail "the chunked upload past the limit left an artifact or chunks"

# who may upload: the target's owner and an admin; not another client,
# not a viewer, not without a token
upload "$other" "$t" key=a "$T/small"
expect_error 403 forbidden
upload "$viewer" "$t" key=a "$T/small"
expect_error 403 forbidden
upload "" "$t" key=a "$T/small"
expect_error 401 unauthorized
upload "$client" 999 key=a "$T/small"
expect_error 404 not_found
upload "$client" "$t" name=x "$T/small"
expect_error 400 invalid
upload "$client" "$t" "key=a&colour=red" "$T/small"
expect_error 400 invalid
upload "$client" "$t" "key=a&type=uri" "$T/small"
expect_error 400 invalid
expect_eq "nothing stored by the refusals" \
	"$(sql 'SELECT count(*) FROM artifact')" 0

upload "$client" "$t" "key=small&name=small.bin" "$T/small"
[ "$(cat "$T/code")" = 201 ] || fail "upload: $(cat "$T/code") $(cat "$T/body")"
small=$(j .id)
expect_eq "small's size" "$(j .size)" 300000
expect_eq "small's hash" "$(j .sha256)" "$(sha256sum <"$T/small" | cut -c1-64)"
expect_eq "small's name" "$(j .data.name)" small.bin
expect_eq "small's location" "$(header Location)" "/api/v1/artifacts/$small"
upload "$client" "$t" key=small "$T/small"
expect_error 409 exists
# with ?key= a body is a file's whatever its Content-Type (curl
# --data-binary sends a form's); without, the same path takes JSON
req "$client" POST "/api/v1/targets/$t/artifacts?key=form" "" \
	--data-binary "@$T/small"
[ "$(cat "$T/code")" = 201 ] || fail "form-typed upload: $(cat "$T/body")"
expect_eq "form-typed upload's hash" "$(j .sha256)" "$(sha256sum <"$T/small" | cut -c1-64)"
req "$client" POST "/api/v1/targets/$t/artifacts" "" \
	--data '{"key": "docs", "type": "uri", "data": {"uri": "https://example.org/"}}'
[ "$(cat "$T/code")" = 201 ] || fail "JSON without its Content-Type: $(cat "$T/body")"
expect_eq "a uri artifact" "$(j .type)" uri

# ---- reading: ETag, If-None-Match, Range ----------------------------------
sum=$(sha256sum <"$T/small" | cut -c1-64)
call 200 "$client" GET "/api/v1/artifacts/$small/content"
cmp -s "$T/body" "$T/small" || fail "downloaded bytes differ"
expect_eq "ETag" "$(header ETag)" "\"$sum\""
expect_eq "Accept-Ranges" "$(header Accept-Ranges)" bytes
call 200 "$viewer" GET "/api/v1/artifacts/$small/content"
call 200 "$ADMIN" GET "/api/v1/artifacts/$small/content"
req "$other" GET "/api/v1/artifacts/$small/content"
expect_error 403 forbidden
call 304 "$client" GET "/api/v1/artifacts/$small/content" "" \
	-H "If-None-Match: \"$sum\""
[ ! -s "$T/body" ] || fail "304 with a body"
call 304 "$client" GET "/api/v1/artifacts/$small/content" "" \
	-H "If-None-Match: \"other\", W/\"$sum\""
call 200 "$client" GET "/api/v1/artifacts/$small/content" "" \
	-H 'If-None-Match: "other"'
call 206 "$client" GET "/api/v1/artifacts/$small/content" "" \
	-H 'Range: bytes=1000-1999'
expect_eq "Content-Range" "$(header Content-Range)" "bytes 1000-1999/300000"
cmp -s "$T/body" <(tail -c +1001 "$T/small" | head -c 1000) ||
	fail "bytes=1000-1999 differ"
call 206 "$client" GET "/api/v1/artifacts/$small/content" "" \
	-H 'Range: bytes=299990-'
cmp -s "$T/body" <(tail -c 10 "$T/small") || fail "bytes=299990- differ"
call 206 "$client" GET "/api/v1/artifacts/$small/content" "" \
	-H 'Range: bytes=-5'
expect_eq "Content-Range of -5" "$(header Content-Range)" "bytes 299995-299999/300000"
cmp -s "$T/body" <(tail -c 5 "$T/small") || fail "bytes=-5 differ"
call 206 "$client" GET "/api/v1/artifacts/$small/content" "" \
	-H 'Range: bytes=299000-999999'
expect_eq "a range past the end is cut" "$(header Content-Range)" \
	"bytes 299000-299999/300000"
req "$client" GET "/api/v1/artifacts/$small/content" "" \
	-H 'Range: bytes=300000-'
expect_error 416 range_not_satisfiable
expect_eq "416's Content-Range" "$(header Content-Range)" "bytes */300000"
# a Range for other bytes than the client has (If-Range) gets them all
call 200 "$client" GET "/api/v1/artifacts/$small/content" "" \
	-H 'Range: bytes=0-9' -H 'If-Range: "other"'
call 200 "$client" GET "/api/v1/artifacts/$small/content" "" \
	-H 'Range: bytes=0-9,20-29'
req "$client" GET "/api/v1/artifacts/999/content"
expect_error 404 not_found
# an empty file
: >"$T/empty"
upload "$client" "$t" key=empty "$T/empty"
[ "$(cat "$T/code")" = 201 ] || fail "empty upload: $(cat "$T/body")"
call 200 "$client" GET "/api/v1/artifacts/$(j .id)/content"
[ ! -s "$T/body" ] || fail "an empty file has bytes"

# ---- an upload whose server died: pruned once stale -------------------------
# (a row as a serve killed mid-upload leaves it: incomplete, written to
# long ago, a chunk stored)
sql "INSERT INTO artifact(target, key, type, data, complete, size, created,
	modified) VALUES($t, 'stale', 'file', '{}', 0, 3, 1, 1);
	INSERT INTO chunk(artifact, pos, data)
	SELECT id, 0, zeroblob(3) FROM artifact WHERE key = 'stale';"
stale_gone() { [ "$(sql "SELECT count(*) FROM artifact WHERE key = 'stale'")" = 0 ] && no_orphans; }
wait_until 20 stale_gone || fail "a stale incomplete upload was not pruned"

# ---- an upload cut off halfway --------------------------------------------
python3 - "$PORT" "$client" "$t" <<'EOF'
import socket, sys
port, tok, target = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port))
s.sendall((f"POST /api/v1/targets/{target}/artifacts?key=cut HTTP/1.1\r\n"
           f"Host: x\r\nAuthorization: Bearer {tok}\r\n"
           "Content-Type: application/octet-stream\r\n"
           "Content-Length: 1000000\r\n\r\n").encode())
s.sendall(b"x" * 600000)
s.close()
EOF
# it must get as far as storing chunks for the test to mean anything:
# the server's log shows the request aborted; then nothing is left
wait_until 20 grep -q 'path="/api/v1/targets/'"$t"'/artifacts" status=0.* aborted=1' "$T/serve.log" ||
	fail "the cut upload was not logged as aborted: $(tail -3 "$T/serve.log")"
cut_gone() { [ "$(sql "SELECT count(*) FROM artifact WHERE key = 'cut'")" = 0 ] && no_orphans; }
wait_until 20 cut_gone || fail "the cut upload left an artifact or chunks"
stop_server

# ---- the CLI: add --file and get, through the store -------------------------
out=$(dd artifact add "$t" --key cli --file "$T/small")
id=$(dd artifact add "$t" --key cli-json --file "$T/small" --name s.bin --json | jq -r .id)
dd artifact get "$id" -o "$T/got"
cmp -s "$T/got" "$T/small" || fail "artifact get -o wrote other bytes"
dd artifact get "$id" | cmp -s - "$T/small" || fail "artifact get to stdout differs"
dd artifact get "$id" -o - | cmp -s - "$T/small" || fail "artifact get -o - differs"
expect_eq "CLI name" "$(sql "SELECT json_extract(data, '$.name') FROM artifact WHERE id = $id")" s.bin
expect_refused 5 "already has an artifact 'cli'" dd artifact add "$t" --key cli --file "$T/small"
expect_refused 3 "no such target: 999" dd artifact add 999 --key x --file "$T/small"
expect_refused 11 "cannot open" dd artifact add "$t" --key x --file "$T/nonexistent"
expect_refused 3 "no such artifact: 999" dd artifact get 999
# a damaged chunk is caught by the hash, and nothing is left at the path
sql "UPDATE chunk SET data = zeroblob(length(data)) WHERE artifact = $id"
expect_refused 15 "does not match its SHA-256" dd artifact get "$id" -o "$T/bad"
[ ! -e "$T/bad" ] || fail "a file that fails its hash was left at the path"
expect_eq "no temporary files left" "$(ls "$T" | grep -c '^bad\.' || true)" 0
# ---- 200 MB through the API, memory bounded --------------------------------
# (an AddressSanitizer build keeps freed memory in quarantine, which would
# be counted as growth; ASAN_OPTIONS means nothing to other builds)
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0" start_server
head -c 200000000 /dev/urandom >"$T/big"
sum=$(sha256sum <"$T/big" | cut -c1-64)
before=$(hwm)
upload "$client" "$t" "key=big" "$T/big"
[ "$(cat "$T/code")" = 201 ] || fail "200 MB upload: $(cat "$T/code") $(cat "$T/body")"
big=$(j .id)
expect_eq "200 MB's hash" "$(j .sha256)" "$sum"
expect_eq "200 MB's size" "$(j .size)" 200000000
curl -sS -o "$T/big.out" -H "Authorization: Bearer $client" \
	"$URL/api/v1/artifacts/$big/content"
expect_eq "200 MB downloaded" "$(sha256sum <"$T/big.out" | cut -c1-64)" "$sum"
rm -f "$T/big.out"
dd artifact get "$big" -o "$T/big.out"
cmp -s "$T/big.out" "$T/big" || fail "CLI get of 200 MB"
rm -f "$T/big.out"
# chunked, too
req "$client" POST "/api/v1/targets/$t/artifacts?key=big-chunked" "" \
	-H 'Content-Type: application/octet-stream' \
	-H 'Transfer-Encoding: chunked' --data-binary "@$T/big"
[ "$(cat "$T/code")" = 201 ] || fail "chunked 200 MB: $(cat "$T/body")"
expect_eq "chunked 200 MB's hash" "$(j .sha256)" "$sum"
after=$(hwm)
# a buffered body would take 200 MB; streamed, a few buffers and caches
# (AddressSanitizer's allocator keeps per-thread caches and ignores the
# mmap threshold serve sets, so a sanitized build gets twice the room)
limit=49152
if ldd "$DD" 2>/dev/null | grep -q libasan; then limit=98304; fi
[ $((after - before)) -lt "$limit" ] ||
	fail "serve's peak RSS grew by $((after - before)) kB for 200 MB"
echo "serve's peak RSS: ${before} kB -> ${after} kB" >&2
stop_server

no_orphans || fail "orphaned chunks at the end"
echo "file artifacts: ok"
