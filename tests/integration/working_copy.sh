# The working-copy blueprint, driven through the CLI like a user: bare
# repositories made here and reached with file://, a local host
# blueprint, working copies on it.  A lease at a branch, a commit, a ref,
# with squash merges; a merge that conflicts (a clear failure, and the
# next lease on that copy succeeds); an unknown commit; reuse (same
# resource, fetched not cloned: what a clone would remove stays in
# .git); ignored, untracked and changed files of the last lease gone;
# the shared object cache (alternates, size); limit and per_host_limit;
# reclaim of an idle copy for a lease of another shape, after its
# grace period; a host lease that never activates (the copy fails with
# that reason in time); `drydock run` on a working copy; and injection
# attempts refused with nothing queued.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib_repos.sh"
. "$(dirname "$0")/../lib_http.sh"
make_repos "$T/repos"

host_pool local '[{"name": "a", "slots": 8}]'
dd blueprint create --type working-copy --name wc --config \
	"{\"hosts\": [1], \"root\": \"$T/wc\", \"limit\": 2, \"per_host_limit\": 2,
	  \"reclaim_grace\": 1}" >/dev/null
start_daemon

# ---- a branch ------------------------------------------------------------------
l1=$(dd lease --type working-copy --attributes "$(src_at '"branch": "main"')" 2>/dev/null)
expect_eq "branch lease" "$(lease_status "$l1")" active
r1=$(lease_resource "$l1")
expect_eq "exec prints the commit" "$(dd exec --lease "$l1" -- git rev-parse HEAD)" "$(rev main)"
expect_eq "commits attribute" "$(attr "$l1" commits.src)" "$(rev main)"
expect_eq "path attribute" "$(attr "$l1" path)" "$T/wc/wc-$r1/src"
expect_eq "cp from the copy" "$(dd cp "$l1:a" -)" 2
echo new | dd cp - "$l1:copied.txt"
[ -f "$T/wc/wc-$r1/src/copied.txt" ] || fail "cp into the copy"

# the API's file endpoints, as on a host lease: paths from the lease's
# directory (the copy's default directory), the bytes streamed
start_server
printf 'via the API\n' >"$T/up.txt"
req "$ADMIN" PUT "/api/v1/leases/$l1/files/api/up.txt?mode=0755" "" -T "$T/up.txt"
expect_eq "API upload into the copy: $(cat "$T/body")" "$(cat "$T/code")" 201
expect_eq "uploaded where the copy is" "$(cat "$T/wc/wc-$r1/src/api/up.txt")" "via the API"
[ -x "$T/wc/wc-$r1/src/api/up.txt" ] || fail "the upload's mode was not kept"
req "$ADMIN" GET "/api/v1/leases/$l1/files/a"
expect_eq "API download from the copy: $(cat "$T/body")" "$(cat "$T/code")" 200
expect_eq "the copy's file" "$(cat "$T/body")" 2
req "$ADMIN" GET "/api/v1/leases/$l1/files?path=api"
expect_eq "API listing in the copy: $(cat "$T/body")" "$(cat "$T/code")" 200
grep -q '"name":"up.txt"' "$T/body" || fail "the listing lacks up.txt: $(cat "$T/body")"
req "$ADMIN" GET "/api/v1/leases/$l1/files/nope"
expect_eq "API download of a missing file: $(cat "$T/body")" "$(cat "$T/code")" 404
# the exec stream, also on a thread of its own
req "$ADMIN" POST "/api/v1/leases/$l1/exec" '{"argv": ["git", "rev-parse", "HEAD"], "stream": true}'
expect_eq "API exec stream on the copy: $(cat "$T/body")" "$(cat "$T/code")" 200
grep -q "$(rev main)" "$T/body" || fail "the exec stream lacks the commit: $(cat "$T/body")"
stop_server
expect_eq "on the branch" "$(dd exec --lease "$l1" -- git symbolic-ref --short HEAD)" main
cache=$T/wc/cache/$(printf %s "$SRC" | sha256sum | cut -d' ' -f1).git
[ -d "$cache/objects" ] || fail "no cache '$cache'"
grep -qx "$cache/objects" "$T/wc/wc-$r1/src/.git/objects/info/alternates" ||
	fail "the copy does not borrow the cache's objects"

# what the next lease must not see: ignored, untracked, changed; and a
# mark in .git that a new clone would not have
dd exec --lease "$l1" -- sh -c 'echo x >junk.o && echo y >untracked && echo z >a && mkdir -p d && touch d/f.o && touch .git/drydock-test-mark'
release "$l1"

# ---- a commit, on the same copy: fetched, not cloned ----------------------------
l2=$(dd lease --type working-copy --attributes "$(src_at "\"commit\": \"$(rev v1)\"")" 2>/dev/null)
expect_eq "reused copy" "$(lease_resource "$l2")" "$r1"
[ -e "$T/wc/wc-$r1/src/.git/drydock-test-mark" ] || fail "the copy was cloned again"
expect_eq "one copy allocated" "$(sql "SELECT count(*) FROM log WHERE type = 'resource.allocated' AND blueprint = 2")" 1
expect_eq "commit checked out" "$(dd exec --lease "$l2" -- git rev-parse HEAD)" "$(rev v1)"
expect_eq "tracked file restored" "$(dd exec --lease "$l2" -- cat a)" 1
for f in junk.o untracked d copied.txt; do
	[ ! -e "$T/wc/wc-$r1/src/$f" ] || fail "'$f' of the last lease is still there"
done
expect_eq "clean tree" "$(dd exec --lease "$l2" -- git status --porcelain --ignored)" ""
release "$l2"

# ---- a git stopped mid-way (its index lock left) does not spoil the copy ------
touch "$T/wc/wc-$r1/src/.git/index.lock"
l2b=$(dd lease --type working-copy --attributes "$(src_at '"branch": "feature"')" 2>/dev/null)
expect_eq "a stale index lock removed" "$(dd exec --lease "$l2b" -- git rev-parse HEAD)" "$(rev feature)"
release "$l2b"

# ---- a ref ---------------------------------------------------------------------
l3=$(dd lease --type working-copy --attributes "$(src_at '"ref": "refs/changes/01/1/1"')" 2>/dev/null)
expect_eq "ref checked out" "$(dd exec --lease "$l3" -- git rev-parse HEAD)" "$(rev feature)"
release "$l3"

# ---- merges ----------------------------------------------------------------------
l4=$(dd lease --type working-copy --attributes "$(src_at "\"commit\": \"$(rev main)\", \"merges\": [{\"uri\": \"$SRC\", \"ref\": \"patch\"}]")" 2>/dev/null)
expect_eq "merged file" "$(dd exec --lease "$l4" -- cat p)" p
expect_eq "one squash commit on the commit" "$(dd exec --lease "$l4" -- git rev-parse HEAD^)" "$(rev main)"
expect_eq "its author" "$(dd exec --lease "$l4" -- git log -1 --format=%an)" drydock
expect_eq "commits says the merge" "$(attr "$l4" commits.src)" "$(dd exec --lease "$l4" -- git rev-parse HEAD)"
release "$l4"

# ---- a merge that conflicts: a clear failure, then a usable copy -------------------
lease_fails --attributes "$(src_at "\"branch\": \"main\", \"merges\": [{\"uri\": \"$SRC\", \"ref\": \"conflict\"}]")"
grep -q "src: merge failed: 'git merge -q --no-stat --squash -- FETCH_HEAD' exited with 1: .*CONFLICT (content): Merge conflict in a" "$T/err" ||
	fail "conflict not said: $(cat "$T/err")"
lc=$(sql "SELECT max(id) FROM lease WHERE type = 'working-copy'")
sql "SELECT data FROM log WHERE lease = $lc AND type = 'lease.broken'" | grep -q "merge failed" ||
	fail "the lease's log does not say the merge failed"
l5=$(dd lease --type working-copy --attributes "$(src_at '"branch": "main"')" 2>/dev/null)
expect_eq "after the conflict: same copy" "$(lease_resource "$l5")" "$r1"
expect_eq "after the conflict: clean" "$(dd exec --lease "$l5" -- git status --porcelain)" ""
expect_eq "after the conflict: the commit" "$(dd exec --lease "$l5" -- git rev-parse HEAD)" "$(rev main)"
release "$l5"

# ---- an unknown commit -------------------------------------------------------------
lease_fails --attributes "$(src_at '"commit": "0123456789abcdef0123456789abcdef01234567"')"
grep -q "commit '0123456789abcdef0123456789abcdef01234567' is not in '$SRC'" "$T/err" ||
	fail "unknown commit not said: $(cat "$T/err")"

# ---- drydock run on a working copy ----------------------------------------------------
out=$(dd run --type working-copy --attributes "$(src_at '"branch": "feature"')" -- sh -c 'git rev-parse HEAD; cat b' 2>/dev/null)
expect_eq "run on a working copy" "$out" "$(rev feature)
feat"

# ---- a second copy shares the cache; the limit ------------------------------------------
la=$(dd lease --type working-copy --attributes "$(src_at '"branch": "main"')" 2>/dev/null)
lb=$(dd lease --type working-copy --attributes "$(src_at '"branch": "main"')" 2>/dev/null)
ra=$(lease_resource "$la") rb=$(lease_resource "$lb")
[ "$ra" != "$rb" ] || fail "two leases on one copy at once"
other=$ra
[ "$ra" = "$r1" ] && other=$rb
grep -qx "$cache/objects" "$T/wc/wc-$other/src/.git/objects/info/alternates" ||
	fail "the second copy does not share the cache"
[ "$(find "$T/wc/wc-$other/src/.git/objects" -type f -path '*/objects/??/*' | wc -l)" = 0 ] ||
	fail "the second copy has objects of its own"
lc=$(dd lease --no-wait --type working-copy --attributes "$(src_at '"branch": "main"')" 2>/dev/null)
sleep 1
expect_eq "third lease waits at the limit" "$(lease_status "$lc")" pending
expect_eq "copies at the limit" "$(sql "SELECT count(*) FROM resource WHERE blueprint = 2 AND status != 4")" 2
release "$la"
for i in $(seq 1 200); do [ "$(lease_status "$lc")" = active ] && break; sleep 0.1; done
expect_eq "third lease on the freed copy" "$(lease_status "$lc")" active
release "$lb"
release "$lc"

# ---- reclaim: at the limit, a lease of another shape takes an idle copy's place ------------
lo=$(dd lease --type working-copy --attributes "{\"repositories\": {\"o\": {\"uri\": \"$OTHER\"}}}" 2>/dev/null)
expect_eq "other shape leased" "$(lease_status "$lo")" active
expect_eq "other shape's file, from the copy's root" "$(dd exec --lease "$lo" -- cat o/o)" o
# one, not both: a pass while the first is being torn down waits for it
expect_eq "one copy reclaimed" "$(sql "SELECT count(*) FROM resource WHERE blueprint = 2 AND status = 4")" 1
expect_eq "still at the limit" "$(sql "SELECT count(*) FROM resource WHERE blueprint = 2 AND status != 4")" 2
sql "SELECT count(*) FROM log WHERE type = 'lease.reclaim' AND lease = $lo" | grep -qx 1 ||
	fail "no reclaim logged for lease $lo"
release "$lo"

# ---- per_host_limit: one copy on host 'b' at a time ---------------------------------------
host_pool pool-b '[{"name": "b", "slots": 8}]'
dd blueprint create --type working-copy --name wc-b --config \
	"{\"hosts\": [$(sql "SELECT id FROM blueprint WHERE name = 'pool-b'")], \"root\": \"$T/wcb\", \"limit\": 5, \"per_host_limit\": 1, \"reclaim_grace\": 3}" >/dev/null
wcb=$(sql "SELECT id FROM blueprint WHERE name = 'wc-b'")
lp=$(dd lease --type working-copy --blueprint "$wcb" --attributes "$(src_at '"branch": "main"')" 2>/dev/null)
lq=$(dd lease --no-wait --type working-copy --blueprint "$wcb" --attributes "{\"repositories\": {\"o\": {\"uri\": \"$OTHER\"}}}" 2>/dev/null)
sleep 1
expect_eq "second copy on the host waits" "$(lease_status "$lq")" pending
expect_eq "one copy on host b" "$(sql "SELECT count(*) FROM resource WHERE blueprint = $wcb AND status != 4")" 1
release "$lp"
idle=$(date +%s)
sleep 1
expect_eq "an idle copy in its grace period is kept" "$(lease_status "$lq")" pending
for i in $(seq 1 200); do [ "$(lease_status "$lq")" = active ] && break; sleep 0.1; done
expect_eq "after the grace period, reclaimed for the second" "$(lease_status "$lq")" active
[ $(($(date +%s) - idle)) -ge 2 ] || fail "reclaimed before its grace period ended"
release "$lq"

# ---- a host lease that never activates ----------------------------------------------------
host_pool pool-c '[{"name": "c", "slots": 1}]'
pc=$(sql "SELECT id FROM blueprint WHERE name = 'pool-c'")
hold=$(dd lease --type host --blueprint "$pc" 2>/dev/null)
dd blueprint create --type working-copy --name wc-c --config \
	"{\"hosts\": [$pc], \"root\": \"$T/wcc\", \"timeouts\": {\"activate_resource\": 3}}" >/dev/null
wcc=$(sql "SELECT id FROM blueprint WHERE name = 'wc-c'")
start=$(date +%s)
lease_fails --blueprint "$wcc" --attributes "$(src_at '"branch": "main"')"
took=$(($(date +%s) - start))
grep -q "its host lease [0-9]* did not become active in 3 s: it is still pending" "$T/err" ||
	fail "the lease does not say its copy's host lease never activated: $(cat "$T/err")"
first=$(sql "SELECT min(id) FROM resource WHERE blueprint = $wcc")
sql "SELECT data FROM log WHERE resource = $first AND type = 'resource.broken'" |
	grep -q "did not become active in 3 s" || fail "the copy's log does not say why it broke"
[ "$took" -lt 30 ] || fail "the copy took ${took}s to fail"
release "$hold"

# ---- refused before anything is queued -----------------------------------------------------
refused() {
	expect_refused 2 "$1" dd lease --no-wait --type working-copy --attributes "$2"
}
refused "repositories: a key is empty" "{\"repositories\": {\"\": {\"uri\": \"$SRC\"}}}"
for d in '..' '.' 'a/b' '../x' '-rf' '/etc'; do
	refused "repositories: directory '$d' must be a directory name" \
		"{\"repositories\": {\"$d\": {\"uri\": \"$SRC\"}}}"
done
for u in '-oProxyCommand=touch /tmp/x' '--upload-pack=touch /tmp/x'; do
	refused "repositories.src.uri: must be a repository URI, not an option" \
		"{\"repositories\": {\"src\": {\"uri\": \"$u\"}}}"
done
refused "repositories.src.uri: must be a repository URI, not git's 'ext' transport" \
	"{\"repositories\": {\"src\": {\"uri\": \"ext::sh -c touch% /tmp/x\"}}}"
for ref in '-b' '--exec=x' 'a..b' '../x' 'refs//x' 'x.lock' 'a b'; do
	refused "repositories.src.branch: must be a branch or ref name" \
		"{\"repositories\": {\"src\": {\"uri\": \"$SRC\", \"branch\": \"$ref\"}}}"
	refused "repositories.src.ref: must be a branch or ref name" \
		"{\"repositories\": {\"src\": {\"uri\": \"$SRC\", \"ref\": \"$ref\"}}}"
	refused "repositories.src.merges\[0\].ref: must be a branch or ref name" \
		"{\"repositories\": {\"src\": {\"uri\": \"$SRC\", \"merges\": [{\"uri\": \"$SRC\", \"ref\": \"$ref\"}]}}}"
done
refused "repositories.src.merges\[0\].uri: must be a repository URI, not an option" \
	"{\"repositories\": {\"src\": {\"uri\": \"$SRC\", \"merges\": [{\"uri\": \"-x\", \"ref\": \"main\"}]}}}"
for c in 'HEAD' '-1' 'abc' 'xyz1234' 'deadbeef~1'; do
	refused "repositories.src.commit: must be a commit" \
		"{\"repositories\": {\"src\": {\"uri\": \"$SRC\", \"commit\": \"$c\"}}}"
done
refused "repositories.src: unknown key 'urI'" \
	"{\"repositories\": {\"src\": {\"urI\": \"$SRC\"}}}"
refused "unknown key 'repos'" "{\"repos\": {}}"
refused "missing 'repositories'" "{}"
refused "repositories.src: must name at most one of 'commit', 'branch' and 'ref'" \
	"{\"repositories\": {\"src\": {\"uri\": \"$SRC\", \"branch\": \"main\", \"ref\": \"refs/x\"}}}"
refused "default: must be one of the directories" \
	"{\"repositories\": {\"src\": {\"uri\": \"$SRC\"}}, \"default\": \"..\"}"
[ ! -e /tmp/x ] || fail "an injection ran"

# ---- configs refused at create and edit -------------------------------------------
wc1=$(sql "SELECT id FROM blueprint WHERE name = 'wc'")
expect_refused 2 "config: min_ready: a working-copy blueprint cannot keep copies ready" \
	dd blueprint create --type working-copy --name wc-pool --config "{\"hosts\": [1], \"root\": \"$T/wcp\", \"min_ready\": 1}"
expect_refused 2 "config: min_ready: a working-copy blueprint cannot keep copies ready" \
	dd blueprint edit "$wc1" --config "{\"hosts\": [1], \"root\": \"$T/wc\", \"min_ready\": 2}"
expect_refused 2 "config: hosts\[1\]: blueprint $wc1 is of type 'working-copy', not a host blueprint (type 'host')" \
	dd blueprint create --type working-copy --name wc-on-wc --config "{\"hosts\": [1, $wc1], \"root\": \"$T/wcw\"}"
expect_refused 2 "config: hosts\[0\]: blueprint $wc1 is of type 'working-copy', not a host blueprint" \
	dd blueprint edit "$wc1" --config "{\"hosts\": [$wc1], \"root\": \"$T/wc\"}"
expect_refused 2 "config: hosts\[0\]: no blueprint 9999" \
	dd blueprint create --type working-copy --name wc-none --config "{\"hosts\": [9999], \"root\": \"$T/wcn\"}"
# letting idle copies go is sound: max_idle and idle_ttl are taken
dd blueprint edit "$wc1" --config "{\"hosts\": [1], \"root\": \"$T/wc\", \"limit\": 2, \"max_idle\": 1, \"idle_ttl\": 600}" >/dev/null ||
	fail "max_idle and idle_ttl refused on a working-copy blueprint"

wait_until 30 all_leases_destroyed || true
echo "PASS: working_copy"
