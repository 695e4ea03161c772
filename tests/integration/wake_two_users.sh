# Another local user must not be able to take a store's wake-ups over.
# Two unprivileged users, run with setpriv by root: a victim (V) who runs
# drydock, and an attacker (A) who prepares the places the wake sockets
# could live in before the victim starts and meddles while it runs.
#
# Wake-ups once lived in /tmp/drydock-UID/HASH, which anyone could make
# first: A made /tmp/drydock-V world-writable, swapped the store's HASH
# directory for a symbolic link into V's files, and V's next `drydock
# lease` deleted V's files named like dead sockets (and, finding no
# daemon, waited up to 30 s).  Now they live in STORE-wake, which must be
# V's own 0700 directory and not a symbolic link, or drydock refuses it.
. "$(dirname "$0")/../lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
	echo "SKIPPED: wake_two_users needs root and setpriv to run two users" >&2
	echo "SKIPPED: wake_two_users needs root and setpriv to run two users"
	exit 0
fi

# uids without passwd entries, varied per run so that concurrent runs do
# not share /tmp/drydock-V
V=$((300000 + ($$ % 50000) * 2))
A=$((V + 1))
trap 'rm -rf "/tmp/drydock-$V"; cleanup' EXIT

# both users must reach the binary and their directories inside $T
chmod 711 "$T"
mkdir -p "$T/bin"
cp "$DD" "$T/bin/drydock"
chmod 755 "$T/bin" "$T/bin/drydock"
mkdir -p "$T/home/work" "$T/shared"
chmod 1777 "$T/shared" # like /tmp
chown -R "$V:$V" "$T/home"
chmod 700 "$T/home"

as() {
	uid=$1
	shift
	setpriv --reuid="$uid" --regid="$uid" --clear-groups \
		env -i PATH=/usr/bin:/bin HOME=/ "$@"
}
victim() { as "$V" DRYDOCK_DB="$VDB" "$T/bin/drydock" "$@"; }
# victim_daemon LOG ARGS: V's daemon in the background, tracked by its own
# pid (setpriv and env exec it), so that cleanup stops it; `victim daemon &`
# would track a subshell whose child outlives the test
victim_daemon() {
	log=$1
	shift
	setpriv --reuid="$V" --regid="$V" --clear-groups \
		env -i PATH=/usr/bin:/bin HOME=/ DRYDOCK_DB="$VDB" \
		"$T/bin/drydock" daemon "$@" 2>>"$log" &
	track $!
}
attacker() { as "$A" "$@"; }
mode() { stat -c '%a %u' "$1"; }

# V's files, named as drydock names its sockets
for f in d-1-0 w-2-0 'w-3-0@lease:1'; do
	as "$V" sh -c "echo mine > '$T/home/work/$f'"
done
intact() {
	for f in d-1-0 w-2-0 'w-3-0@lease:1'; do
		[ "$(cat "$T/home/work/$f" 2>/dev/null)" = mine ] ||
			fail "V's file '$f' was removed or changed"
	done
	[ -z "$(find "$T/home/work" -type s)" ] || fail "a socket was put among V's files"
}

# --- a store in V's own directory ------------------------------------
VDB="$T/home/state/dd.db"
as "$V" mkdir -m 700 "$T/home/state"
victim init >/dev/null
victim blueprint create --type host --name pool \
	--config "{\"root\": \"$T/home/hosts\", \"hosts\": [{\"name\": \"a\", \"slots\": 4}]}" >/dev/null

# A makes V's old wake directory before V first runs drydock
attacker mkdir -m 777 "/tmp/drydock-$V"

victim_daemon "$T/daemon.log" --workers 2
wait_until 20 sh -c "ls '$VDB-wake' /tmp/drydock-$V/* 2>/dev/null | grep -q '^d-'" ||
	fail "the daemon did not start: $(cat "$T/daemon.log")"
# A swaps whatever it finds in its directory for a link into V's files
attacker sh -c "for e in /tmp/drydock-$V/*; do [ -e \"\$e\" ] || continue; mv \"\$e\" \"\$e.gone\"; ln -s '$T/home/work' \"\$e\"; done"
# and cannot reach or create anything in V's wake directory
if attacker touch "$VDB-wake/w-1-1" 2>/dev/null; then
	fail "A created a file in V's wake directory"
fi

victim lease --type host >"$T/out" 2>"$T/err" || fail "V's lease failed: $(cat "$T/err")"
intact
if grep -q 'no daemon is running' "$T/err"; then
	fail "V's lease did not find V's daemon: $(cat "$T/err")"
fi
expect_eq "lease status" "$(DRYDOCK_DB="$VDB" lease_status "$(cat "$T/out")")" active
expect_eq "wake directory" "$(mode "$VDB-wake")" "700 $V"

# --- a store in a directory everyone may write (sticky, like /tmp) ----
VDB="$T/shared/store.db"
victim init >/dev/null

# a symbolic link into V's files is refused, and nothing is done through it
attacker ln -s "$T/home/work" "$VDB-wake"
if victim daemon --workers 1 >"$T/out" 2>"$T/err"; then
	fail "V's daemon accepted a symbolic link as its wake directory"
fi
grep -q "refusing wake directory '$VDB-wake': it is a symbolic link" "$T/err" ||
	fail "unclear refusal: $(cat "$T/err")"
intact
# so is A's own directory
attacker rm "$VDB-wake"
attacker mkdir -m 777 "$VDB-wake"
if victim daemon --workers 1 >"$T/out" 2>"$T/err"; then
	fail "V's daemon accepted A's directory as its wake directory"
fi
grep -q "refusing wake directory '$VDB-wake': it belongs to uid $A, not to uid $V" "$T/err" ||
	fail "unclear refusal: $(cat "$T/err")"
# a waiting client refuses it too, before queueing anything
if victim lease --type host >"$T/out" 2>"$T/err"; then
	fail "V's lease accepted A's directory"
fi
grep -q "belongs to uid $A" "$T/err" || fail "unclear refusal: $(cat "$T/err")"
expect_eq "leases queued" "$(sqlite3 "$VDB" 'SELECT count(*) FROM lease')" 0

# once A's directory is gone, V's daemon makes its own, which A cannot use
attacker rmdir "$VDB-wake"
victim_daemon "$T/daemon2.log" --workers 1
wait_until 20 sh -c "ls '$VDB-wake' 2>/dev/null | grep -q '^d-'" ||
	fail "the daemon did not start: $(cat "$T/daemon2.log")"
expect_eq "wake directory" "$(mode "$VDB-wake")" "700 $V"
if attacker touch "$VDB-wake/d-1-1" 2>/dev/null; then
	fail "A created a file in V's wake directory"
fi
if attacker rm -f "$VDB-wake"/d-* 2>/dev/null && ! ls "$VDB-wake" | grep -q '^d-'; then
	fail "A removed V's daemon's socket"
fi
echo ok
