# The store and its -wal and -shm files are 0600 and its directory 0700,
# whatever the umask (SQLite alone made the store 0644 less the umask, and
# its -wal and -shm files took the store's mode); an existing one that
# other users may open is left alone but warned about.
. "$(dirname "$0")/../lib.sh"

mode() { stat -c '%a' "$1"; }

# read_modes DB: the modes of DB, DB-wal, DB-shm and the wake directory
# DB-wake into $modes, read at once; fails while one of them is missing
read_modes() {
	m=$(stat -c '%a' "$1" "$1-wal" "$1-shm" "$1-wake") || return 1
	modes=$(echo $m)
}

# files_private DB: the store's files while a daemon has it open
files_private() {
	db=$1
	DRYDOCK_DB="$db" "$DD" daemon --workers 1 2>>"$T/daemon.log" &
	pid=$!
	track "$pid"
	# one stat of all four: SQLite removes -wal and -shm whenever the
	# process's last connection closes (the daemon opens and closes one
	# before its workers start), so they may come and go meanwhile, and
	# the wake directory is made only after that first close, when the
	# daemon starts listening: all four exist once its workers run
	wait_until 20 read_modes "$db" ||
		fail "no -wal, -shm and -wake beside '$db': $(cat "$T/daemon.log")"
	expect_eq "modes of $db, -wal, -shm and -wake" "$modes" "600 600 600 700"
	stop_daemon "$pid"
}

for mask in 022 000 077; do
	db="$T/u$mask/state/dd.db"
	(umask "$mask" && DRYDOCK_DB="$db" "$DD" init >/dev/null 2>"$T/err") ||
		fail "init under umask $mask: $(cat "$T/err")"
	[ ! -s "$T/err" ] || fail "init under umask $mask warned: $(cat "$T/err")"
	expect_eq "mode of the new store's directory (umask $mask)" "$(mode "$T/u$mask/state")" 700
	(umask "$mask" && files_private "$db")
done

# the test's own store (made by lib.sh under the caller's umask)
expect_eq "mode of the test's store" "$(mode "$DRYDOCK_DB")" 600

# an existing store others may read is warned about, once, and works
chmod 644 "$DRYDOCK_DB"
dd list leases >"$T/out" 2>"$T/err" || fail "list failed: $(cat "$T/err")"
expect_eq "warning" "$(cat "$T/err")" "drydock: warning: '$DRYDOCK_DB' is open to other users (mode 0644); it should be 0600"
expect_eq "mode left alone" "$(mode "$DRYDOCK_DB")" 644
chmod 600 "$DRYDOCK_DB"
# and so is a store directory others may enter
chmod 755 "$T"
dd list leases >"$T/out" 2>"$T/err" || fail "list failed: $(cat "$T/err")"
expect_eq "warning" "$(cat "$T/err")" "drydock: warning: the store's directory '$T' is open to other users (mode 0755); it should be 0700"
chmod 700 "$T"
dd list leases >"$T/out" 2>"$T/err" || fail "list failed: $(cat "$T/err")"
[ ! -s "$T/err" ] || fail "a private store was warned about: $(cat "$T/err")"
echo ok
