# The web UI against a real `drydock serve`: with curl, sessions, the
# CSRF check, escaping, error pages and who may release; then, in a real
# Chromium (tests/browser/release.mjs), signing in, releasing a lease
# through the confirmation page until it is destroyed, and narrow widths.
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
DRYDOCK_HOOK_TRACE=$fifo "$DD" serve --listen 127.0.0.1:0 --workers 1 >"$T/serve.out" 2>"$T/serve.log" &
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
for p in / /leases "/leases/$id" /resources /blueprints /tasks; do
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
wait_until 20 sh -c "[ \"\$(sqlite3 '$DRYDOCK_DB' 'SELECT status FROM lease WHERE id = $id2')\" = 1 ]" ||
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
wait_until 20 sh -c "[ \"\$(sqlite3 '$DRYDOCK_DB' 'SELECT status FROM lease WHERE id = $id2')\" = 2 ]" ||
	fail "lease $id2 is $(lease_status "$id2") after the worker went on"

# one release command, by the admin's identity, performed by the worker
expect_eq "lease status" "$(lease_status "$id")" destroyed
expect_eq "release commands" "$(sql "SELECT author || ' ' || kind || ' ' || outcome FROM command WHERE target_kind = 3 AND target = $id")" "token:admin release done"

# signing out ends the session; so does revoking its token
csrf_token=$(csrf "$T/admin.jar")
expect_eq "sign-out" "$(redir /logout -X POST -b "$T/admin.jar" -d "csrf=$csrf_token")" "303 $url/login"
expect_eq "page after sign-out" "$(code / -b "$T/admin.jar")" 303
expect_eq "viewer before revoke" "$(code / -b "$T/viewer.jar")" 200
dd token revoke viewer-1 >/dev/null
expect_eq "viewer after revoke" "$(redir / -b "$T/viewer.jar")" "303 $url/login?next=%2F"
echo ok
