# `drydock migrate-store` copies an SQLite store into PostgreSQL: every
# lease, resource, log line, target, file artifact (its bytes), token and
# counter arrives with its id, new objects get ids after them, and the
# copy is refused, changing nothing, into a database that is not empty,
# from a store a daemon still serves, and without --to.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib_pg.sh"

host_pool local '[{"name": "h1", "slots": 4}]'
start_daemon
l1=$(dd lease --type host 2>/dev/null)
l2=$(dd lease --type host 2>/dev/null)
dd release-lease --id "$l2" >/dev/null
wait_until 20 sh -c "[ \"\$('$DD' show lease $l2 --json | jq -r .status)\" = destroyed ]" ||
	fail "lease $l2 was not destroyed"
dd token create --name ci --role client >/dev/null
target=$(dd target create --name build1)
head -c 1234567 /dev/urandom >"$T/file.bin"
art=$(dd artifact add "$target" --key out --file "$T/file.bin")

# a daemon still on the store: refused
pg_start
pg_newdb dst
expect_code() {
	want=$1
	shift
	set +e
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	set -e
	[ "$rc" = "$want" ] || fail "'$*': exit $rc, want $want ($(cat "$T/err"))"
}
expect_code 4 dd migrate-store --to "$PG_CONNINFO"
grep -q "still serve" "$T/err" || fail "running daemon: $(cat "$T/err")"
stop_daemon "$DAEMON"

expect_code 2 dd migrate-store
grep -q -- "--to LOCATION is required" "$T/err" || fail "no --to: $(cat "$T/err")"
expect_code 2 dd migrate-store --to "$T/other.db"
grep -q "not a PostgreSQL store" "$T/err" || fail "--to sqlite: $(cat "$T/err")"

# what the SQLite store says, to hold the copy against
for what in "list leases --all" "list resources --all" "list blueprints" \
	"show lease $l1" "show lease $l2" "token list" "target show $target" \
	"artifact show $art"; do
	# shellcheck disable=SC2086 # the command's words
	dd $what >"$T/before.$(echo "$what" | tr ' ' _)"
done

dd migrate-store --to "$PG_URL" >"$T/out" || fail "migrate-store failed"
grep -q "^copied 2 rows of lease$" "$T/out" || fail "said: $(cat "$T/out")"
grep -q "^copied store .* into 'postgres://drydock:\*\*\*@" "$T/out" ||
	fail "the password is shown or the summary missing: $(tail -1 "$T/out")"

sqlite_db=$DRYDOCK_DB
export DRYDOCK_DB="$PG_URL" DRYDOCK_STATE_DIR="$T/state"
for what in "list leases --all" "list resources --all" "list blueprints" \
	"show lease $l1" "show lease $l2" "token list" "target show $target" \
	"artifact show $art"; do
	# shellcheck disable=SC2086 # the command's words
	dd $what >"$T/after"
	diff "$T/before.$(echo "$what" | tr ' ' _)" "$T/after" ||
		fail "'$what' differs after the copy"
done
dd artifact get "$art" -o "$T/back.bin"
cmp "$T/file.bin" "$T/back.bin" || fail "the file's bytes differ"
[ "$(pg_sql dst "SELECT value FROM counter WHERE name = 'leases.destroyed'")" = 1 ] ||
	fail "counter leases.destroyed: $(pg_sql dst "SELECT value FROM counter WHERE name = 'leases.destroyed'")"
# every part a waiting lease holds exists (schema_pg.h, migration 4)
expect_eq "capacity's parts" "$(pg_sql dst "SELECT count(*) FROM counter WHERE name LIKE 'capacity#%'")" 16
# new objects get ids after the copied ones
l3=$(dd lease --type host --no-wait)
[ "$l3" -gt "$l2" ] || fail "new lease $l3 is not after $l2"

# into a database that is not empty: refused, nothing changed
before=$(pg_sql dst "SELECT count(*) FROM lease")
DRYDOCK_DB=$sqlite_db expect_code 4 dd migrate-store --to "$PG_URL"
grep -q "is not empty" "$T/err" || fail "not empty: $(cat "$T/err")"
[ "$(pg_sql dst "SELECT count(*) FROM lease")" = "$before" ] ||
	fail "a refused copy changed the database"
echo ok
