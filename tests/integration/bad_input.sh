# Bad input gets a clear one-line error, a distinct exit status, and
# changes nothing in the store.
. "$(dirname "$0")/../lib.sh"

host_pool local '[{"name": "a"}]'
expect_refused 2 "unknown resource type 'vm' (known: host)" dd lease --type vm --no-wait
expect_refused 2 "malformed JSON" dd lease --type host --attributes '{"a":' --no-wait
expect_refused 2 "must be a JSON object" dd lease --type host --attributes '[1]' --no-wait
expect_refused 3 "no such blueprint: 42" dd lease --type host --blueprint 42 --no-wait
expect_refused 2 "bad time" dd lease --type host --until yesterday --no-wait
expect_refused 2 "expiry is in the past" dd lease --type host --until @1000 --no-wait
expect_refused 2 "--type is required" dd lease
expect_refused 3 "no such lease: 9" dd show lease 9
expect_refused 3 "no such resource: 9" dd show resource 9
expect_refused 3 "no such blueprint: 9" dd show blueprint 9
expect_refused 3 "no such lease: 9" dd release-lease --id 9
expect_refused 3 "no such resource: 9" dd release-resource --id 9
expect_refused 3 "no such lease: 9" dd exec --lease 9 -- true
expect_refused 2 "bad id" dd release-lease --id abc
expect_refused 2 "unknown blueprint type 'vm'" dd blueprint create --type vm --name x
expect_refused 2 "malformed JSON" dd blueprint create --type host --name x --config '{'
expect_refused 2 "'hosts' must be a non-empty array" dd blueprint create --type host --name x --config '{}'
expect_refused 2 "unknown config key 'hostz'" dd blueprint create --type host --name x --config '{"hostz": []}'
expect_refused 2 "remote (SSH) hosts are not supported" dd blueprint create --type host --name x --config '{"hosts":[{"name":"r","address":"10.0.0.1"}]}'
expect_refused 5 "already taken" dd blueprint create --type host --name local --config '{"hosts":[{"name":"b"}]}'
expect_refused 2 "is not a drydock command" dd frobnicate
expect_refused 2 "unknown status" dd list leases --status happy

# illegal transitions: a pending lease (no daemon runs) is releasable once;
# once destroyed it is not
id=$(dd lease --type host --no-wait)
dd release-lease --id "$id" >/dev/null
start_daemon
wait_until 10 sh -c "[ \"\$(sqlite3 '$DRYDOCK_DB' 'SELECT status FROM lease WHERE id=$id')\" = 5 ]" || fail "lease $id not destroyed"
expect_refused 4 "cannot release lease $id: it is already destroyed" dd release-lease --id "$id"
expect_refused 4 "it is destroyed, not active" dd exec --lease "$id" -- true
stop_daemon "$DAEMON"
# its last word says what it did
grep -Eq "daemon [0-9]+ stopped: [1-9][0-9]* tasks run, [1-9][0-9]* store commits$" "$T/daemon.log" ||
	fail "no stopped message: $(tail -3 "$T/daemon.log")"

# a store that is missing, not a database, or locked
expect_refused 7 "does not exist: run 'drydock init'" dd --db "$T/nope.db" list leases
printf 'this is not a database, just some text padding it out%.0s' 1 2 3 4 5 6 7 8 9 10 >"$T/junk.db"
set +e
dd --db "$T/junk.db" list leases >/dev/null 2>"$T/err"
rc=$?
set -e
expect_eq "junk store status" "$rc" 7
grep -q "not a database" "$T/err" || fail "junk store message: $(cat "$T/err")"

# hold the write lock in another process; drydock waits, then gives up
( printf 'BEGIN EXCLUSIVE;\n'; sleep 3; printf 'COMMIT;\n' ) | sqlite3 "$DRYDOCK_DB" &
locker=$!
sleep 0.5
export DRYDOCK_BUSY_TIMEOUT_MS=300
set +e
dd lease --type host --no-wait >/dev/null 2>"$T/err"
rc=$?
set -e
unset DRYDOCK_BUSY_TIMEOUT_MS
wait $locker || true
expect_eq "locked store status" "$rc" 6
grep -q "is locked" "$T/err" || fail "locked message: $(cat "$T/err")"
expect_eq "leases after locked attempt" "$(sql 'SELECT count(*) FROM lease')" 1
echo ok
