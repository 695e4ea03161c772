# The web UI against a real `drydock serve`: with curl, sessions, the
# CSRF check, escaping, error pages and who may release; then, in a real
# Chromium (tests/browser/release.mjs), signing in, releasing a lease
# through the confirmation page until it is destroyed, and narrow widths.
# Then build targets: with curl, who sees and finishes which target and
# how artifacts show (escaped; a javascript: URI never a link); in
# Chromium (tests/browser/targets.mjs), a client aborts its target
# through the confirmation page and sees its lease released.
. "$(dirname "$0")/../lib.sh"

top=$(cd "$(dirname "$0")/../.." && pwd)
browser="$top/tests/browser"
export DRYDOCK_TEST_OUT=${DRYDOCK_TEST_OUT:-$top/tests/out}
command -v node >/dev/null || fail "node is missing: run scripts/install-deps.sh check"
[ -x /usr/bin/chromium ] || fail "/usr/bin/chromium is missing: run scripts/install-deps.sh check"
[ -d "$browser/node_modules/playwright-core" ] ||
	fail "playwright-core is missing: run scripts/install-deps.sh check"

# The server's one worker writes the hook trace into a FIFO.  While
# something reads it, hooks run as usual; when nothing does, the next
# hook waits in open(), which holds the worker: that is how the browser
# test gets to see a release queued ("Releasing") before it is performed.
fifo="$T/hooks.fifo"
mkfifo "$fifo"
cat <>"$fifo" >>"$T/hooks.trace" &
drain=$!
track $drain
host_pool local '[{"name": "a", "slots": 4}]'
# javascript: is an allowed URI scheme here only so that the target page
# can be shown not to make such a URI a link (defence in depth)
DRYDOCK_URI_SCHEMES=http,https,javascript DRYDOCK_HOOK_TRACE=$fifo "$DD" serve --listen 127.0.0.1:0 --workers 1 >"$T/serve.out" 2>"$T/serve.log" &
track $!
wait_until 20 grep -q '^drydock: serving http://' "$T/serve.out" ||
	fail "serve did not start: $(cat "$T/serve.log")"
url=$(sed -n 's|^drydock: serving \(http://[^/]*\)/.*|\1|p' "$T/serve.out")
admin=$(sed -n 's/^  \(ddt_[A-Za-z0-9_-]*\)$/\1/p' "$T/serve.out")
[ -n "$url" ] && [ -n "$admin" ] || fail "no URL or token in: $(cat "$T/serve.out")"

# a lease whose attribute would be markup if it were not escaped
curl -sS -H "Authorization: Bearer $admin" -X POST "$url/api/v1/leases" \
	-d '{"type": "host", "attributes": {"note": "<script>alert(1)</script><b>bold</b>"}}' >"$T/lease.json"
id=$(grep -o '"id":[0-9]*' "$T/lease.json" | cut -d: -f2)
[ -n "$id" ] || fail "lease not created: $(cat "$T/lease.json")"
curl -sS -H "Authorization: Bearer $admin" "$url/api/v1/leases/$id?wait=active&timeout=30" >"$T/active.json"
grep -q '"status":"active"' "$T/active.json" || fail "lease $id not active: $(cat "$T/active.json")"

viewer=$(dd token create --name viewer-1 --role viewer | sed -n 's/^secret: //p')
[ -n "$viewer" ] || fail "no viewer token"

# code PATH [CURL ARGS...]: the HTTP status, the body in $T/body;
# redir: the status and where it redirects to
code() {
	u=$1
	shift
	curl -sS -o "$T/body" -w '%{http_code}' "$@" "$url$u"
}
redir() {
	u=$1
	shift
	curl -sS -o "$T/body" -w '%{http_code} %{redirect_url}' "$@" "$url$u"
}
# sign_in JAR TOKEN: a session in cookie jar JAR
sign_in() {
	curl -sS -o /dev/null -D "$T/headers" -c "$1" --data-urlencode "token=$2" "$url/login"
	grep -q '^HTTP/1.1 303' "$T/headers" || fail "sign-in: $(cat "$T/headers")"
}
# csrf JAR: the CSRF token of the session in JAR, from a page's form
csrf() {
	curl -sS -b "$1" "$url/" | grep -o 'name="csrf" value="[0-9a-f]*"' | head -1 | cut -d'"' -f4
}
unchanged() {
	expect_eq "lease $id status after $1" "$(lease_status "$id")" active
	expect_eq "commands after $1" "$(sql 'SELECT count(*) FROM command')" 0
}

# without a session every page sends the browser to the sign-in page
# (with the page in ?next=, to come back to it after signing in)
for p in / /leases "/leases/$id" /resources /blueprints /tasks /targets /targets/1; do
	expect_eq "GET $p without a session" "$(redir "$p")" \
		"303 $url/login?next=$(jq -rn --arg p "$p" '$p | @uri')"
done
expect_eq "POST without a session" "$(redir "/leases/$id/release" -X POST -d csrf=x)" "303 $url/login"
unchanged "a POST without a session"

# a bad token gets no session
expect_eq "sign-in with a bad token" "$(code /login -D "$T/h" --data-urlencode 'token=ddt_nope')" 401
if grep -qi '^set-cookie' "$T/h"; then fail "a bad token got a cookie: $(cat "$T/h")"; fi
grep -q 'not valid' "$T/body" || fail "sign-in refusal: $(cat "$T/body")"
# signing in from /login?next=PAGE lands on PAGE; another site is no PAGE
grep -q "name=\"next\" value=\"/leases/$id\"" <<<"$(curl -sS "$url/login?next=%2Fleases%2F$id")" ||
	fail "the sign-in form does not carry next"
expect_eq "sign-in with next" \
	"$(redir /login --data-urlencode "token=$admin" --data-urlencode "next=/leases/$id")" "303 $url/leases/$id"
for bad in //evil.example/x https://evil.example/ /login '/\evil'; do
	expect_eq "sign-in with next=$bad" \
		"$(redir /login --data-urlencode "token=$admin" --data-urlencode "next=$bad")" "303 $url/"
done
# a sign-in form posted from another site gets no session (login CSRF),
# even with a good token; the browser's headers tell
for h in "Origin: http://evil.example" "Sec-Fetch-Site: cross-site"; do
	expect_eq "cross-site sign-in ($h)" "$(code /login -D "$T/h" -H "$h" --data-urlencode "token=$admin")" 403
	if grep -qi '^set-cookie' "$T/h"; then fail "cross-site sign-in got a cookie"; fi
done

# the session cookie is HttpOnly and SameSite; the page is locked down
sign_in "$T/admin.jar" "$admin"
grep -qi '^set-cookie: drydock_session=[0-9a-f]\{64\}; Path=/; HttpOnly; SameSite=Strict' "$T/headers" ||
	fail "session cookie: $(cat "$T/headers")"
curl -sS -D "$T/h" -o "$T/page" -b "$T/admin.jar" "$url/leases/$id"
grep -qi "^content-security-policy: default-src 'none'; style-src 'unsafe-inline'" "$T/h" || fail "CSP: $(cat "$T/h")"
grep -q '<span class="badge s-active" id="status">active</span>' "$T/page" || fail "lease page: no active badge"
grep -q '<a class="button danger" id="release" href="/leases/'"$id"'/release">Release</a>' "$T/page" ||
	fail "lease page: no Release button"

# every stored string is escaped: the attribute shows as text
grep -q '&lt;script&gt;alert(1)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;' "$T/page" || fail "attribute not escaped as expected"
if grep -q '<script\|<b>bold' "$T/page"; then fail "markup from an attribute reached the page"; fi
curl -sS -b "$T/admin.jar" "$url/leases" >"$T/page"
if grep -q '<script' "$T/page"; then fail "markup on the lease list"; fi

# the CSRF check: a POST without the session's token is refused
expect_eq "POST without csrf" "$(code "/leases/$id/release" -X POST -b "$T/admin.jar")" 403
grep -q 'CSRF token did not match' "$T/body" || fail "csrf refusal: $(cat "$T/body")"
expect_eq "POST with a wrong csrf" "$(code "/leases/$id/release" -X POST -b "$T/admin.jar" -d csrf=0123abcd)" 403
expect_eq "POST with a truncated csrf" "$(code "/leases/$id/release" -X POST -b "$T/admin.jar" -d "csrf=$(csrf "$T/admin.jar" | cut -c1-10)")" 403
expect_eq "sign-out without csrf" "$(code /logout -X POST -b "$T/admin.jar")" 403
unchanged "POSTs without the CSRF token"

# a viewer may look but not release, even with a good form
sign_in "$T/viewer.jar" "$viewer"
expect_eq "viewer reads the lease" "$(code "/leases/$id" -b "$T/viewer.jar")" 200
grep -q 'id="release" disabled title="your token&#39;s role is viewer' "$T/body" ||
	fail "viewer: button not disabled: $(grep -o '<div class="actions">.*</div><dl' "$T/body")"
expect_eq "viewer confirm page" "$(code "/leases/$id/release" -b "$T/viewer.jar")" 403
expect_eq "viewer POST" "$(code "/leases/$id/release" -X POST -b "$T/viewer.jar" -d "csrf=$(csrf "$T/viewer.jar")")" 403
expect_eq "viewer resource POST" "$(code /resources/1/release -X POST -b "$T/viewer.jar" -d "csrf=$(csrf "$T/viewer.jar")")" 403
unchanged "a viewer's POSTs"

# unknown ids are 404 pages, bad query arguments 400 pages
expect_eq "unknown lease" "$(code /leases/999 -b "$T/admin.jar")" 404
grep -q 'no such lease: 999' "$T/body" || fail "404 page: $(cat "$T/body")"
expect_eq "unknown resource" "$(code /resources/999/release -b "$T/admin.jar")" 404
expect_eq "unknown blueprint" "$(code /blueprints/999 -b "$T/admin.jar")" 404
expect_eq "bad status" "$(code '/leases?status=%3Cb%3E' -b "$T/admin.jar")" 400
grep -q "unknown status &#39;&lt;b&gt;&#39;" "$T/body" || fail "400 page: $(cat "$T/body")"
expect_eq "bad cursor" "$(code '/leases?cursor=-1' -b "$T/admin.jar")" 400
expect_eq "bad blueprint" "$(code '/resources?blueprint=x' -b "$T/admin.jar")" 400
for p in / "/leases?status=active" "/leases?owner=token%3Aadmin" /resources /resources/1 /blueprints /blueprints/1 /tasks; do
	expect_eq "GET $p" "$(code "$p" -b "$T/admin.jar")" 200
done
unchanged "reading every page"

# hold the worker: stop reading the trace, and let a second lease's
# activation hook wait for a reader
kill "$drain"
wait "$drain" 2>/dev/null || true
curl -sS -H "Authorization: Bearer $admin" -X POST "$url/api/v1/leases" -d '{"type": "host"}' >"$T/lease2.json"
id2=$(grep -o '"id":[0-9]*' "$T/lease2.json" | cut -d: -f2)
wait_until 20 sql_is 1 "SELECT status FROM lease WHERE id = $id2" ||
	fail "lease $id2 is $(lease_status "$id2"), not acquired"

# in a real browser: release through the confirmation page; once it has
# seen the release queued, let the worker go on
DRYDOCK_URL=$url DRYDOCK_ADMIN_TOKEN=$admin DRYDOCK_VIEWER_TOKEN=$viewer \
	DRYDOCK_LEASE=$id DRYDOCK_RELEASING_FILE="$T/releasing-seen" \
	node "$browser/release.mjs" &
node=$!
track $node
wait_until 90 sh -c "[ -e '$T/releasing-seen' ] || ! kill -0 $node" || fail "browser test hangs"
if [ -e "$T/releasing-seen" ]; then
	expect_eq "lease $id while held" "$(lease_status "$id")" active
	cat <>"$fifo" >>"$T/hooks.trace" &
	track $!
fi
wait "$node" || fail "browser test failed"
wait_until 20 sql_is 2 "SELECT status FROM lease WHERE id = $id2" ||
	fail "lease $id2 is $(lease_status "$id2") after the worker went on"

# one release command, by the admin's identity, performed by the worker
expect_eq "lease status" "$(lease_status "$id")" destroyed
expect_eq "release commands" "$(sql "SELECT author || ' ' || kind || ' ' || outcome FROM command WHERE target_kind = 3 AND target = $id")" "token:admin release done"

# ---- build targets ----------------------------------------------------------
# a client's target with a uri, a host and a javascript: artifact, names
# and keys that would be markup if they were not escaped
api() { # TOKEN METHOD PATH [BODY]: the body of the answer on stdout
	curl -sS -H "Authorization: Bearer $1" -X "$2" "$url$3" ${4:+-d "$4"}
}
client=$(dd token create --name ci --role client | sed -n 's/^secret: //p')
other=$(dd token create --name other --role client | sed -n 's/^secret: //p')
[ -n "$client" ] && [ -n "$other" ] || fail "no client tokens"
tid=$(api "$client" POST /api/v1/targets '{"name": "<i>nightly</i> & co", "ttl": "1h"}' | jq -r .id)
[ "$tid" -gt 0 ] 2>/dev/null || fail "target not created"
lid=$(api "$client" POST /api/v1/leases '{"type": "host"}' | jq -r .id)
expect_eq "client lease" "$(api "$client" GET "/api/v1/leases/$lid?wait=active&timeout=30" | jq -r .status)" active
for a in '{"key": "host", "type": "host", "data": {"lease": '"$lid"'}}' \
	'{"key": "<b>docs</b>", "type": "uri", "data": {"uri": "https://example.org/r?a=1&b=\"x\"", "name": "<em>report</em>", "external": true}}' \
	'{"key": "js", "type": "uri", "data": {"uri": "javascript:alert(1)"}}'; do
	api "$client" POST "/api/v1/targets/$tid/artifacts" "$a" | jq -e .id >/dev/null ||
		fail "artifact not added: $a"
done
# a file artifact, whose name would be markup and breaks out of quotes
head -c 300000 /dev/urandom >"$T/upload.bin"
fsha=$(sha256sum "$T/upload.bin" | cut -d' ' -f1)
fid=$(curl -sS -H "Authorization: Bearer $client" -H 'Content-Type: application/octet-stream' \
	--data-binary "@$T/upload.bin" "$url/api/v1/targets/$tid/artifacts?key=out.bin&name=%3Cb%3Eout%22.bin" | jq -r .id)
[ "$fid" -gt 0 ] 2>/dev/null || fail "file artifact not uploaded"
otid=$(api "$other" POST /api/v1/targets '{"name": "other build"}' | jq -r .id)
sign_in "$T/client.jar" "$client"
sign_in "$T/other.jar" "$other"
sign_in "$T/admin2.jar" "$admin"

# the list: a client sees its own targets, a viewer and an admin all
expect_eq "client's target list" "$(code /targets -b "$T/client.jar")" 200
grep -q "href=\"/targets/$tid\"" "$T/body" || fail "client's list lacks its target"
if grep -q "href=\"/targets/$otid\"" "$T/body"; then fail "client's list shows another's target"; fi
grep -q '&lt;i&gt;nightly&lt;/i&gt; &amp; co' "$T/body" || fail "target name not escaped on the list"
expect_eq "client asks for another's list" "$(code '/targets?owner=token%3Aother' -b "$T/client.jar")" 403
expect_eq "viewer's target list" "$(code /targets -b "$T/viewer.jar")" 200
grep -q "href=\"/targets/$otid\"" "$T/body" || fail "viewer's list lacks a target"
grep -q 'id="building"' "$T/body" || fail "no building section first"
code / -b "$T/admin2.jar" >/dev/null
grep -q '<a href="/targets?status=building"><span class="badge s-building">building</span></a><span>2</span>' "$T/body" ||
	fail "overview: no building targets count: $(grep -o '<ul class="counts" id="target-counts">.*</ul>' "$T/body")"
expect_eq "bad target status" "$(code '/targets?status=done' -b "$T/admin2.jar")" 400
for p in "/targets?status=building" "/targets?status=aborted" "/targets?owner=token%3Aci" "/targets?cursor=5"; do
	expect_eq "GET $p" "$(code "$p" -b "$T/admin2.jar")" 200
done

# the target page: artifacts escaped, links as they should be
expect_eq "client's target page" "$(code "/targets/$tid" -b "$T/client.jar")" 200
cp "$T/body" "$T/target.html"
if grep -q '<i>nightly\|<b>docs\|<em>report' "$T/target.html"; then fail "markup from a target reached its page"; fi
grep -q '<code>&lt;b&gt;docs&lt;/b&gt;</code>' "$T/target.html" || fail "artifact key not escaped"
grep -q '<a href="https://example.org/r?a=1&amp;b=&quot;x&quot;" rel="noopener noreferrer">&lt;em&gt;report&lt;/em&gt;</a> <span class="badge s-external"' "$T/target.html" ||
	fail "uri artifact link: $(grep -o '<table id="artifacts">.*</table>' "$T/target.html")"
grep -q "<a href=\"/leases/$lid\">lease $lid</a> <span class=\"badge s-active\">active</span>" "$T/target.html" ||
	fail "host artifact link: $(grep -o '<table id="artifacts">.*</table>' "$T/target.html")"
grep -q "<a href=\"/artifacts/$fid/content\" download=\"&lt;b&gt;out&quot;.bin\">&lt;b&gt;out&quot;.bin</a> <span class=\"size\" title=\"300000 bytes\">293.0 KiB</span><br><code class=\"sha256\" title=\"SHA-256\">$fsha</code>" "$T/target.html" ||
	fail "file artifact: $(grep -o '<table id="artifacts">.*</table>' "$T/target.html")"
# the download link gives the bytes to the owner's session, to nobody else's
curl -sS -o "$T/download.bin" -b "$T/client.jar" "$url/artifacts/$fid/content"
expect_eq "downloaded through the web UI" "$(sha256sum <"$T/download.bin" | cut -d' ' -f1)" "$fsha"
expect_eq "another client's download" "$(code "/artifacts/$fid/content" -b "$T/other.jar")" 403
expect_eq "download without a session" "$(redir "/artifacts/$fid/content")" \
	"303 $url/login?next=$(jq -rn --arg p "/artifacts/$fid/content" '$p | @uri')"
if grep -qi 'href="javascript' "$T/target.html"; then fail "a javascript: URI became a link"; fi
grep -q '<code>javascript:alert(1)</code>' "$T/target.html" || fail "the javascript: URI is not shown as text"
grep -q 'artifact.added' "$T/target.html" || fail "target page lacks its log"
for b in finish-passed finish-failed abort; do
	grep -q "id=\"$b\" href=\"/targets/$tid/finish?result=" "$T/target.html" || fail "owner sees no $b button"
done
# an admin gets the buttons, a viewer none, another client not even the page
code "/targets/$tid" -b "$T/admin2.jar" >/dev/null
grep -q 'id="abort"' "$T/body" || fail "admin sees no Abort"
expect_eq "viewer's target page" "$(code "/targets/$tid" -b "$T/viewer.jar")" 200
if grep -q 'id="abort"\|id="finish-' "$T/body"; then fail "viewer sees finish buttons"; fi
expect_eq "another client's view" "$(code "/targets/$tid" -b "$T/other.jar")" 403
expect_eq "unknown target" "$(code /targets/999 -b "$T/admin2.jar")" 404
expect_eq "bad result" "$(code "/targets/$tid/finish?result=done" -b "$T/client.jar")" 400
expect_eq "bad log cursor" "$(code "/targets/$tid?log_before=x" -b "$T/client.jar")" 400
# refused finishes change nothing: no CSRF token, a viewer, another client
expect_eq "finish without csrf" "$(code "/targets/$tid/finish" -X POST -b "$T/client.jar" -d result=aborted)" 403
expect_eq "viewer finish page" "$(code "/targets/$tid/finish?result=aborted" -b "$T/viewer.jar")" 403
expect_eq "viewer finish" "$(code "/targets/$tid/finish" -X POST -b "$T/viewer.jar" -d "result=aborted&csrf=$(csrf "$T/viewer.jar")")" 403
expect_eq "other client's finish" "$(code "/targets/$tid/finish" -X POST -b "$T/other.jar" -d "result=passed&csrf=$(csrf "$T/other.jar")")" 403
expect_eq "finish commands after refusals" "$(sql "SELECT count(*) FROM command WHERE target_kind = 4")" 0
expect_eq "target after refusals" "$(api "$client" GET "/api/v1/targets/$tid" | jq -r .status)" building

# in a real browser: the client aborts its target and its lease is released
DRYDOCK_URL=$url DRYDOCK_CLIENT_TOKEN=$client DRYDOCK_TARGET=$tid DRYDOCK_TARGET_LEASE=$lid \
	DRYDOCK_TARGET_FILE=$fid DRYDOCK_TARGET_FILE_SHA256=$fsha \
	node "$browser/targets.mjs" || fail "browser test of targets failed"
expect_eq "target after Abort" "$(api "$client" GET "/api/v1/targets/$tid" | jq -r .status)" aborted
expect_eq "its lease" "$(lease_status "$lid")" destroyed
expect_eq "finish commands" "$(sql "SELECT author || ' ' || kind || ' ' || outcome FROM command WHERE target_kind = 4 AND target = $tid")" "token:ci finish done"
# a finished target offers no buttons, and a late finish is refused
code "/targets/$tid" -b "$T/client.jar" >/dev/null
if grep -q 'id="abort"' "$T/body"; then fail "a finished target offers Abort"; fi
expect_eq "finish a finished target" "$(code "/targets/$tid/finish" -X POST -b "$T/client.jar" -d "result=passed&csrf=$(csrf "$T/client.jar")")" 409
grep -q "cannot finish target $tid: it is already aborted" "$T/body" || fail "409 page: $(cat "$T/body")"

# signing out ends the session; so does revoking its token
csrf_token=$(csrf "$T/admin.jar")
expect_eq "sign-out" "$(redir /logout -X POST -b "$T/admin.jar" -d "csrf=$csrf_token")" "303 $url/login"
expect_eq "page after sign-out" "$(code / -b "$T/admin.jar")" 303
expect_eq "viewer before revoke" "$(code / -b "$T/viewer.jar")" 200
dd token revoke viewer-1 >/dev/null
expect_eq "viewer after revoke" "$(redir / -b "$T/viewer.jar")" "303 $url/login?next=%2F"
echo ok
