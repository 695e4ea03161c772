# The store is named by a location, whose form picks the backend: a
# PostgreSQL URI or libpq keyword string is refused by a build without
# that backend (exit 2, a clear message, nothing made, not even a file of
# that name), from --db and from DRYDOCK_DB alike; any other location is
# an SQLite file, whatever characters its name has.
. "$(dirname "$0")/../lib.sh"

cd "$T"
before=$(ls -A "$T" | grep -v '^out$\|^err$')
for loc in "postgres://drydock@db1:5432/drydock" \
	"postgresql:///drydock?host=/run/postgresql" \
	"host=db1 dbname=drydock" "dbname=drydock"; do
	for cmd in init "list leases" daemon serve; do
		set +e
		# shellcheck disable=SC2086 # the command's words
		timeout 10 "$DD" $cmd --db "$loc" >"$T/out" 2>"$T/err"
		rc=$?
		set -e
		expect_eq "exit of '$cmd --db $loc'" "$rc" 2
		grep -q "this build of drydock has no PostgreSQL backend yet" "$T/err" ||
			fail "'$cmd --db $loc' said: $(cat "$T/err")"
		[ "$(grep -c . "$T/err")" = 1 ] ||
			fail "'$cmd --db $loc': error is not one line: $(cat "$T/err")"
	done
	set +e
	DRYDOCK_DB="$loc" "$DD" list leases >"$T/out" 2>"$T/err"
	rc=$?
	set -e
	expect_eq "exit of 'list leases' with DRYDOCK_DB='$loc'" "$rc" 2
	grep -q "no PostgreSQL backend" "$T/err" ||
		fail "DRYDOCK_DB='$loc' said: $(cat "$T/err")"
done
expect_eq "files in the working directory" "$(ls -A "$T" | grep -v '^out$\|^err$')" "$before"

# a file path with '=' in it (written so that it does not start with a
# libpq keyword) is an SQLite store, made relative to the working directory
dd init --db "./dbname=x.db" >"$T/out" 2>"$T/err" || fail "init: $(cat "$T/err")"
grep -q "^created store '$T/.*dbname=x.db'" "$T/out" || fail "init said: $(cat "$T/out")"
[ -s "$T/dbname=x.db" ] || fail "no store file at '$T/dbname=x.db'"
echo ok
