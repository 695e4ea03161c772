# A store that is deleted, emptied or damaged under a running serve, and
# what everybody then says (issue 10, items 6 and 9):
#  - deleted: the API refuses writes with 503 instead of acknowledging
#    them into the deleted file, /readyz says not ready, and goes on
#    saying it after 'drydock init' made a new store at the path, since
#    serve still has the old one open; the CLI works on the new store;
#  - emptied (truncated to 0 bytes): API, CLI and /readyz all say "store
#    'PATH' is damaged", 503 and exit 15, and the CLI leaves the empty
#    file as it is (it used to make a new database of it);
#  - a 4 KiB page overwritten in the middle: /readyz notices (the
#    periodic quick_check, here every 0.2 s) and 'drydock check' lists the
#    problems and exits 15; on an intact store it exits 0.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib_http.sh"

host_pool pool '[{"name": "a", "slots": 100}]'

# ---- deleted under a running serve -----------------------------------------
start_server
call 201 "$ADMIN" POST /api/v1/leases '{"type": "host"}'
lease=$(j .id)
call 200 "" GET /readyz
rm -f "$DRYDOCK_DB" "$DRYDOCK_DB-wal" "$DRYDOCK_DB-shm"
for i in 1 2 3; do
	req "$ADMIN" POST /api/v1/leases '{"type": "host"}'
	expect_error 503 store_unavailable
	grep -q "was deleted or replaced while in use" "$T/body" ||
		fail "create on a deleted store: $(cat "$T/body")"
done
req "$ADMIN" POST "/api/v1/leases/$lease/release"
expect_error 503 store_unavailable
req "" GET /readyz
expect_eq "readyz, store deleted" "$(cat "$T/code")" 503
dd init >/dev/null
req "" GET /readyz
expect_eq "readyz, a new store at the path" "$(cat "$T/code")" 503
grep -q "^store unavailable: store '.*' was deleted or replaced while in use" "$T/body" ||
	fail "readyz body: $(cat "$T/body")"
req "$ADMIN" POST /api/v1/leases '{"type": "host"}'
[ "$(cat "$T/code")" != 201 ] || fail "a create was acknowledged into the old store"
# the CLI opens the store at the path: the new, empty one
dd list leases >"$T/out" || fail "list on the new store failed"
expect_eq "leases in the new store" "$(sql 'SELECT count(*) FROM lease')" 0
stop_server

# ---- emptied under a running serve ------------------------------------------
rm -f "$DRYDOCK_DB" "$DRYDOCK_DB-wal" "$DRYDOCK_DB-shm"
dd init >/dev/null
host_pool pool '[{"name": "a", "slots": 100}]'
start_server
call 201 "$ADMIN" POST /api/v1/leases '{"type": "host"}'
: >"$DRYDOCK_DB"
req "$ADMIN" POST /api/v1/leases '{"type": "host"}'
expect_error 503 store_damaged
grep -q "store '$DRYDOCK_DB' is damaged: " "$T/body" || fail "API: $(cat "$T/body")"
req "$ADMIN" GET /api/v1/leases/1
expect_error 503 store_damaged
req "" GET /readyz
expect_eq "readyz, store emptied" "$(cat "$T/code")" 503
grep -q "^store unavailable: store '$DRYDOCK_DB' is damaged: " "$T/body" ||
	fail "readyz body: $(cat "$T/body")"
for cmd in "show lease 1" "list leases" "check"; do
	set +e
	# shellcheck disable=SC2086
	dd $cmd >"$T/out" 2>"$T/err"
	rc=$?
	set -e
	expect_eq "exit of '$cmd' on an empty store" "$rc" 15
	grep -q "^drydock: store '$DRYDOCK_DB' is damaged: the file is empty" "$T/err" ||
		fail "'$cmd': $(cat "$T/err")"
done
expect_eq "the empty store is left empty" "$(stat -c %s "$DRYDOCK_DB")" 0
stop_server

# ---- a damaged page ----------------------------------------------------------
rm -f "$DRYDOCK_DB" "$DRYDOCK_DB-wal" "$DRYDOCK_DB-shm"
dd init >/dev/null
dd check >"$T/out" || fail "check of an intact store failed"
grep -q "^store '$DRYDOCK_DB' is intact: integrity_check found no problems" "$T/out" ||
	fail "check: $(cat "$T/out")"
# enough finished leases for the lease table to span many pages
sql "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000)
	INSERT INTO lease(type, status, owner, attributes, created, modified)
	SELECT 'host', 5, 'history', '{}', 1, 1 FROM c; PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
export DRYDOCK_CHECK_INTERVAL=0.2
start_server
call 200 "" GET /readyz
# page 101 of about 280, in the middle of the lease table
python3 - "$DRYDOCK_DB" <<'EOF'
import os, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(100 * 4096)
    f.write(os.urandom(4096))
EOF
readyz_damaged() {
	req "" GET /readyz
	[ "$(cat "$T/code")" = 503 ] && grep -q "is damaged: " "$T/body"
}
wait_until 30 readyz_damaged || fail "readyz did not notice the damaged page: $(cat "$T/code") $(cat "$T/body")"
grep -q "drydock: store '$DRYDOCK_DB' is damaged: " "$T/serve.log" ||
	fail "serve did not say so: $(cat "$T/serve.log")"
set +e
dd check >"$T/out" 2>"$T/err"
rc=$?
set -e
expect_eq "exit of check on a damaged store" "$rc" 15
grep -q "^problem: " "$T/out" || fail "check listed no problem: $(cat "$T/out")"
grep -q "^drydock: store '$DRYDOCK_DB' is damaged: " "$T/err" || fail "check: $(cat "$T/err")"
stop_server
echo "ok"
