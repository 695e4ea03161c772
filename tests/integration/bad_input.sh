# Bad input gets a clear one-line error, a distinct exit status, and
# changes nothing in the store.
. "$(dirname "$0")/../lib.sh"

host_pool local '[{"name": "a"}]'
expect_refused 2 "unknown resource type 'vm' (known: host, working-copy)" dd lease --type vm --no-wait
expect_refused 2 "malformed JSON" dd lease --type host --attributes '{"a":' --no-wait
expect_refused 2 "must be a JSON object" dd lease --type host --attributes '[1]' --no-wait
expect_refused 3 "no such blueprint: 42" dd lease --type host --blueprint 42 --no-wait
expect_refused 2 "bad time" dd lease --type host --until yesterday --no-wait
expect_refused 2 "expiry 1970-01-01T00:16:40.000Z is in the past" dd lease --type host --until @1000 --no-wait
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
expect_refused 2 "config: missing 'hosts' (a non-empty array of objects)" dd blueprint create --type host --name x --config '{}'
expect_refused 2 "config: unknown key 'hostz' (known: timeouts, min_ready, max_idle, idle_ttl, root, run_as, check_interval, known_hosts, hosts)" dd blueprint create --type host --name x --config '{"hostz": []}'
expect_refused 2 "config: hosts\[0\]: a host with an 'address' needs a 'user'" dd blueprint create --type host --name x --config '{"hosts":[{"name":"r","address":"10.0.0.1"}]}'
expect_refused 2 "config: hosts: must be a non-empty array of objects" dd blueprint create --type host --name x --config '{"hosts": []}'
expect_refused 2 "config: hosts\[1\].slots: must be an integer from 1 to 1024" dd blueprint create --type host --name x --config '{"hosts":[{"name":"a"},{"name":"b","slots":0}]}'
expect_refused 2 "config: hosts\[1\].name: 'a' is also the name of hosts\[0\]" dd blueprint create --type host --name x --config '{"hosts":[{"name":"a"},{"name":"a"}]}'
expect_refused 5 "already taken" dd blueprint create --type host --name local --config '{"hosts":[{"name":"b"}]}'
expect_refused 2 "is not a drydock command" dd frobnicate
expect_refused 2 "unknown status" dd list leases --status happy

# illegal transitions: a pending lease (no daemon runs) is releasable once;
# once destroyed it is not
id=$(dd lease --type host --no-wait)
dd release-lease --id "$id" >/dev/null
start_daemon
wait_until 10 sql_is 5 "SELECT status FROM lease WHERE id=$id" || fail "lease $id not destroyed"
expect_refused 4 "cannot release lease $id: it is already destroyed" dd release-lease --id "$id"
expect_refused 4 "it is destroyed, not active" dd exec --lease "$id" -- true
stop_daemon "$DAEMON"
# its last word says what it did
grep -Eq "daemon [0-9]+ stopped: [1-9][0-9]* tasks run, [1-9][0-9]* store commits$" "$T/daemon.log" ||
	fail "no stopped message: $(tail -3 "$T/daemon.log")"

# a store that is missing, not a database (damaged: 15), or locked
expect_refused 7 "does not exist: run 'drydock init'" dd --db "$T/nope.db" list leases
printf 'this is not a database, just some text padding it out%.0s' 1 2 3 4 5 6 7 8 9 10 >"$T/junk.db"
set +e
dd --db "$T/junk.db" list leases >/dev/null 2>"$T/err"
rc=$?
set -e
expect_eq "junk store status" "$rc" 15
grep -q "not a database" "$T/err" || fail "junk store message: $(cat "$T/err")"

# an empty --db is refused before anything is opened (it used to open the
# current directory and exit 7); an empty $DRYDOCK_DB is skipped
expect_refused 2 "^drydock: --db needs a path, not an empty string$" dd --db '' list leases
expect_refused 2 "--db needs a path" dd --db= list leases
expect_refused 2 "--db needs a path" dd list leases --db ''
expect_refused 2 "--db needs a path" dd lease --type host --no-wait --db=
expect_refused 2 "--db needs a path" dd init --db ''
mkdir "$T/home"
expect_refused 7 "store '$T/home/.local/share/drydock/drydock.db' does not exist" \
	env DRYDOCK_DB= HOME="$T/home" XDG_DATA_HOME= "$DD" list leases

# SQLite's own (its single writer, held by the sqlite3 shell):
if [ "$DRYDOCK_TEST_STORE" = sqlite ]; then
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
fi

# ---- the one option parser (cli/options.h): every command alike -------------
# --help on stdout with exit 0; an unknown option refused, naming it, with
# the usage line; each verb of blueprint and token takes only its own options
for cmd in $(dd --help | sed -n '/^commands:/,/^$/s/^  \([a-z-]*\) .*/\1/p'); do
	dd "$cmd" --help >"$T/out" 2>"$T/err" || fail "'$cmd --help' exits $?"
	[ ! -s "$T/err" ] && grep -q "^usage: drydock $cmd" "$T/out" ||
		fail "'$cmd --help': $(cat "$T/out" "$T/err")"
	expect_refused 2 "^drydock: '$cmd' takes no option '--frob'$" dd "$cmd" --frob=1
	grep -q "^usage: drydock $cmd" "$T/err" || fail "'$cmd --frob': no usage line: $(cat "$T/err")"
done
[ "$(dd --help | grep -c '^  [a-z]')" -ge 15 ] || fail "drydock --help lists no commands"
expect_refused 2 "^drydock: --no-wait takes no value$" dd lease --type host --no-wait=yes
expect_refused 2 "^drydock: --type needs a value$" dd lease --no-wait --type
expect_refused 2 "^drydock: 'lease' takes no option '--no'$" dd lease --type host --no
expect_refused 2 "^drydock: 'blueprint list' takes no option '--name'$" dd blueprint list --name x
expect_refused 2 "^drydock: 'token revoke' takes no option '--role'$" dd token revoke x --role admin
expect_refused 2 "^drydock: bad blueprint 'x'$" dd lease --type host --blueprint x --no-wait
expect_refused 2 "^drydock: --workers takes a number from 1 to 256, not '0'$" dd daemon --workers=0
expect_refused 2 "^drydock: unexpected argument 'now'$" dd reclaim now
dd blueprint create --help | grep -q "^  --config JSON|@FILE " || fail "blueprint create --help lists no --config"
# --opt=value is --opt value
id=$(dd lease --type=host --ttl=1h --attr=k=v --no-wait --json | jq -r .id)
expect_eq "lease from --opt=value" "$(sql "SELECT type, json_extract(attributes, '$.k') FROM lease WHERE id = $id")" "host|v"
dd release-lease --id="$id" >/dev/null

# ---- times and durations: the API's parser (core/input.h) ------------------
# A time in the past is refused, never taken as "no expiry" (0); a date
# that does not exist is refused, not rolled over into the next month.
past="expiry 1970-01-01T00:00:00.000Z is in the past"
expect_refused 2 "$past" dd lease --type host --until @0 --no-wait
expect_refused 2 "$past" dd lease --type host --until 1970-01-01T00:00:00Z --no-wait
expect_refused 2 "February 2027 has no day 30" dd lease --type host --until 2027-02-30T00:00:00Z --no-wait
expect_refused 2 "bad time ' +1h'" dd lease --type host --until ' +1h' --no-wait
expect_refused 2 "bad duration ' 5'" dd lease --type host --ttl ' 5' --no-wait
expect_refused 2 "bad duration '5 '" dd lease --type host --ttl '5 ' --no-wait
expect_refused 2 "at most ten years" dd lease --type host --ttl 999999999999 --no-wait
expect_refused 2 "at most ten years" dd lease --type host --ttl 3651d --no-wait
expect_refused 2 "more than ten years from now" dd lease --type host --until "$(($(date -u +%Y) + 11))-01-01T00:00:00Z" --no-wait
expect_refused 2 "more than 0 seconds" dd lease --type host --ttl 0 --no-wait
expect_refused 2 "largest to smallest" dd lease --type host --ttl 30m1h --no-wait
expect_refused 2 "give --until or --ttl, not both" dd lease --type host --ttl 60 --until +1h --no-wait
id=$(dd lease --type host --no-wait)
expect_refused 2 "$past" dd extend-lease --id "$id" --until @0
expect_refused 2 "February 2027 has no day 30" dd extend-lease --id "$id" --until 2027-02-30T00:00:00Z
expect_refused 2 "at most ten years" dd extend-lease --id "$id" --ttl 999999999999
# durations as CI tools write them, for --ttl and for +DURATION
for form in 90:90 90s:90 30m:1800 1h30m:5400 2d:172800; do
	ttl=${form%%:*} secs=${form#*:}
	now=$(date +%s)
	id=$(dd lease --type host --no-wait --ttl "$ttl")
	left=$(sql "SELECT CAST(until - $now AS INTEGER) FROM lease WHERE id = $id")
	[ "$left" -ge "$secs" ] && [ "$left" -le $((secs + 30)) ] ||
		fail "--ttl $ttl: expiry $left s away, want $secs"
	dd extend-lease --id "$id" --until "+$ttl" >"$T/out"
	grep -q "^queued extension of lease $id to " "$T/out" || fail "extend-lease --until +$ttl: $(cat "$T/out")"
done

# ---- JSON values: the API's limits (core/input.h) ---------------------------
count=$(sql 'SELECT count(*) FROM lease')
expect_refused 2 "duplicate" dd lease --type host --attributes '{"a": 1, "a": 2}' --no-wait
printf '{"a": 1,\n "a": 2}' >"$T/dup.json"
expect_refused 2 "malformed JSON in --attributes '@$T/dup.json'" dd lease --type host --attributes "@$T/dup.json" --no-wait
expect_refused 2 "duplicate" dd blueprint create --type host --name d --config '{"hosts": [], "hosts": [{"name": "b"}]}'
# 5 MB of attributes, as once stored, and one byte over the limit; a file
# is read no further than 1 MiB, not even to its end: @/dev/zero has none
head -c 5000000 /dev/zero | tr '\0' x | sed 's/^/{"p": "/; s/$/"}/' >"$T/big.json"
expect_refused 2 "--attributes '@$T/big.json' is larger than 1048576 bytes" \
	dd lease --type host --attributes "@$T/big.json" --no-wait
head -c 900000 /dev/zero | tr '\0' x | sed 's/^/{"p": "/; s/$/"}/' >"$T/big.json"
expect_refused 2 "lease attributes too large: 900008 bytes as JSON, at most 65536" \
	dd lease --type host --attributes "@$T/big.json" --no-wait
expect_refused 2 "--attributes '@/dev/zero' is larger than 1048576 bytes" \
	timeout 60 "$DD" lease --type host --attributes @/dev/zero --no-wait
expect_refused 2 "--config '@/dev/zero' is larger than 1048576 bytes" \
	timeout 60 "$DD" blueprint create --type host --name z --config @/dev/zero
# the value's limit is on its compact form: a file may be laid out freely
{ echo '{"p":'; head -c 500000 /dev/zero | tr '\0' ' '; echo '"spaced"}'; } >"$T/spaced.json"
id=$(dd lease --type host --attributes "@$T/spaced.json" --no-wait)
expect_eq "a spaced-out file" "$(sql "SELECT attributes FROM lease WHERE id = $id")" '{"p":"spaced"}'
count=$((count + 1))
pad=$(head -c $((65536 - 8)) /dev/zero | tr '\0' x)
expect_refused 2 "lease attributes too large: 65537 bytes" dd lease --type host --attributes "{\"p\": \"${pad}x\"}" --no-wait
expect_refused 2 "blueprint config too large" dd blueprint create --type host --name big --config "{\"hosts\": [{\"name\": \"b\"}], \"p\": \"$pad\"}"
id=$(dd lease --type host --attributes "{\"p\": \"$pad\"}" --no-wait)
expect_eq "attributes at the limit" "$(sql "SELECT length(attributes) FROM lease WHERE id = $id")" 65536
expect_refused 2 "nested deeper than 32 levels" dd lease --type host --attributes "{\"a\": $(printf '%0.s[' $(seq 32))$(printf '%0.s]' $(seq 32))}" --no-wait
expect_refused 2 "lease attributes nested too deeply: more than 31 levels" \
	dd lease --type host --attributes "{\"a\": $(printf '%0.s[' $(seq 31))$(printf '%0.s]' $(seq 31))}" --no-wait
expect_eq "leases after refused attributes" "$(sql 'SELECT count(*) FROM lease')" $((count + 1))
echo ok
