# The store is named by a location, whose form picks the backend: a
# PostgreSQL URI or libpq keyword string goes to PostgreSQL, and one no
# server answers at is refused (exit 7, one clear line that hides the
# password, nothing made, not even a file of that name), from --db and
# from DRYDOCK_DB alike; any other location is an SQLite file, whatever
# characters its name has.
. "$(dirname "$0")/../lib.sh"

cd "$T"
before=$(ls -A "$T" | grep -v '^out$\|^err$')
for loc in "postgres://drydock:s3cret@db1.invalid:5432/drydock" \
	"postgresql:///drydock?host=$T/nosock" \
	"host=127.0.0.1 port=1 dbname=drydock password=s3cret" \
	"dbname=drydock host=$T/nosock"; do
	for cmd in init "list leases" daemon serve; do
		set +e
		# shellcheck disable=SC2086 # the command's words
		timeout 10 "$DD" $cmd --db "$loc" >"$T/out" 2>"$T/err"
		rc=$?
		set -e
		expect_eq "exit of '$cmd --db $loc'" "$rc" 7
		grep -q "cannot connect to store '" "$T/err" ||
			fail "'$cmd --db $loc' said: $(cat "$T/err")"
		if grep -q s3cret "$T/err"; then
			fail "'$cmd --db $loc' showed the password: $(cat "$T/err")"
		fi
		[ "$(grep -c . "$T/err")" = 1 ] ||
			fail "'$cmd --db $loc': error is not one line: $(cat "$T/err")"
	done
	set +e
	DRYDOCK_DB="$loc" "$DD" list leases >"$T/out" 2>"$T/err"
	rc=$?
	set -e
	expect_eq "exit of 'list leases' with DRYDOCK_DB='$loc'" "$rc" 7
	grep -q "cannot connect to store" "$T/err" ||
		fail "DRYDOCK_DB='$loc' said: $(cat "$T/err")"
done
expect_eq "files in the working directory" "$(ls -A "$T" | grep -v '^out$\|^err$')" "$before"

# a file path with '=' in it (written so that it does not start with a
# libpq keyword) is an SQLite store, made relative to the working directory
dd init --db "./dbname=x.db" >"$T/out" 2>"$T/err" || fail "init: $(cat "$T/err")"
grep -q "^created store '$T/.*dbname=x.db'" "$T/out" || fail "init said: $(cat "$T/out")"
[ -s "$T/dbname=x.db" ] || fail "no store file at '$T/dbname=x.db'"
echo ok
