# Shared by the integration tests: a fresh store in a temp directory, a
# real daemon on it, and helpers to drive drydock like a user would.
# Every daemon a test starts is stopped on exit.
set -eu

DD=${DRYDOCK_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/drydock}
T=$(mktemp -d "${TMPDIR:-/tmp}/dd-int-XXXXXX")
export DRYDOCK_DB="$T/dd.db"
export DRYDOCK_HOOK_TRACE="$T/hooks.trace"
PIDS="$T/pids" # every process a test starts in the background
touch "$PIDS"

# track PID: stop it when the test ends, however it ends
track() { echo "$1" >>"$PIDS"; }

cleanup() {
	touch "$T/stop"
	for p in $(cat "$PIDS"); do kill -CONT "$p" 2>/dev/null || true; done
	for p in $(cat "$PIDS"); do kill -TERM "$p" 2>/dev/null || true; done
	for i in 1 2 3 4 5 6 7 8 9 10; do
		alive=""
		for p in $(cat "$PIDS"); do
			kill -0 "$p" 2>/dev/null && alive="$alive $p"
		done
		[ -z "$alive" ] && break
		sleep 0.2
	done
	for p in $alive; do kill -KILL "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ "${KEEP:-}" = "" ]; then rm -rf "$T"; fi
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

dd() { "$DD" "$@"; }

# start_daemon [BIN] [WORKERS]: start a daemon in the background.
start_daemon() {
	bin=${1:-$DD}
	workers=${2:-4}
	"$bin" daemon --workers "$workers" 2>>"$T/daemon.log" &
	DAEMON=$!
	track "$DAEMON"
}

stop_daemon() {
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

sql() { sqlite3 -cmd '.timeout 10000' "$DRYDOCK_DB" "$@"; }

# wait_until TIMEOUT_S CMD...: run CMD until it succeeds or time is up.
# This bounds a test; it is not a sleep the system needs.
wait_until() {
	limit=$1
	shift
	end=$(($(date +%s) + limit))
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.05
	done
}

lease_status() { sql "SELECT CASE status WHEN 0 THEN 'pending' WHEN 1 THEN 'acquired' WHEN 2 THEN 'active' WHEN 3 THEN 'released' WHEN 4 THEN 'broken' WHEN 5 THEN 'destroyed' END FROM lease WHERE id = $1"; }
resource_status() { sql "SELECT CASE status WHEN 0 THEN 'pending' WHEN 1 THEN 'active' WHEN 2 THEN 'released' WHEN 3 THEN 'broken' WHEN 4 THEN 'destroyed' END FROM resource WHERE id = $1"; }
all_leases_destroyed() { [ "$(sql 'SELECT count(*) FROM lease WHERE status != 5')" = 0 ]; }
all_resources_destroyed() { [ "$(sql 'SELECT count(*) FROM resource WHERE status != 4')" = 0 ]; }
queue_empty() { [ "$(sql 'SELECT count(*) FROM task')" = 0 ]; }

# expect_eq WHAT GOT WANT
expect_eq() {
	[ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
}

# snapshot: a hash of the whole store; the dump it hashed is kept as
# $T/dump.HASH so that store_diff can show what a refused call changed.
# A token's last_used is left out: an authenticated call that is then
# refused has still used its token (refreshed at most once a minute).
snapshot() {
	sql .dump | sed "s/^\(INSERT INTO token VALUES([0-9]*,'[^']*','[^']*','[^']*',[^,]*,\)[^,]*/\1-/" >"$T/dump.tmp"
	h=$(md5sum <"$T/dump.tmp" | cut -d' ' -f1)
	mv "$T/dump.tmp" "$T/dump.$h"
	# keep the newest few: a dump of a store holding files is large
	ls -t "$T"/dump.* | tail -n +5 | xargs -r rm -f
	echo "$h"
}
# store_diff BEFORE AFTER: the lines that differ between two snapshots.
store_diff() { diff "$T/dump.$1" "$T/dump.$2" | head -20 || true; }

# expect_refused STATUS PATTERN CMD...: CMD fails with STATUS, says PATTERN
# on stderr (one line, or two for a usage error), prints nothing on
# stdout, and the store is unchanged.
expect_refused() {
	want=$1 pattern=$2
	shift 2
	before=$(snapshot)
	set +e
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	set -e
	[ "$rc" = "$want" ] || fail "'$*': exit $rc, want $want ($(cat "$T/err"))"
	grep -q -- "$pattern" "$T/err" || fail "'$*': '$(cat "$T/err")' lacks '$pattern'"
	[ "$(grep -c . "$T/err")" -le 2 ] || fail "'$*': error is not short: $(cat "$T/err")"
	[ ! -s "$T/out" ] || fail "'$*' printed on stdout: $(cat "$T/out")"
	after=$(snapshot)
	[ "$after" = "$before" ] ||
		fail "'$*' changed the store: $(store_diff "$before" "$after")"
}

# host_pool NAME HOSTS_JSON: create a local host blueprint rooted in $T.
host_pool() {
	dd blueprint create --type host --name "$1" \
		--config "{\"root\": \"$T/hosts\", \"hosts\": $2}" >/dev/null
}

dd init >/dev/null
