# The state directory is a setting of its own (--state-dir, else
# DRYDOCK_STATE_DIR, else the store's directory): init and the daemon make
# it, and the host blueprint's default root goes in it, for the daemon and
# for exec, not beside the store.
. "$(dirname "$0")/../lib.sh"

mode() { stat -c '%a' "$1"; }

# the default: the store's directory
dd blueprint create --type host --name here --config '{"hosts": [{"name": "a"}]}' >/dev/null
start_daemon
id=$(dd lease --type host 2>"$T/lease.err") || fail "lease: $(cat "$T/lease.err")"
dir=$(dd exec --lease "$id" -- pwd)
expect_eq "lease directory by default" "$dir" "$T/hosts/resource-1/lease-$id"
stop_daemon "$DAEMON"

# given: a fresh store whose state lives elsewhere
export DRYDOCK_DB="$T/store/dd.db"
cd "$T"
dd --state-dir state init >"$T/out" 2>"$T/err" || fail "init: $(cat "$T/err")"
[ -d "$T/state" ] || fail "init made no state directory '$T/state'"
expect_eq "mode of the state directory" "$(mode "$T/state")" 700
dd blueprint create --type host --name there --config '{"hosts": [{"name": "a"}]}' >/dev/null
"$DD" daemon --workers 2 --state-dir "$T/state" 2>>"$T/daemon.log" &
DAEMON=$!
track "$DAEMON"
id=$(dd lease --type host 2>"$T/lease.err") || fail "lease: $(cat "$T/lease.err")"
[ -d "$T/state/hosts/resource-1/lease-$id" ] ||
	fail "no lease directory under the state directory: $(find "$T/state" "$T/store")"
[ ! -e "$T/store/hosts" ] || fail "host directories made beside the store too"
# exec finds the lease's directory through the same setting, from the
# environment as from the option
dir=$(DRYDOCK_STATE_DIR="$T/state" dd exec --lease "$id" -- pwd)
expect_eq "lease directory (DRYDOCK_STATE_DIR)" "$dir" "$T/state/hosts/resource-1/lease-$id"
dir=$(dd exec --state-dir "$T/state" --lease "$id" -- pwd)
expect_eq "lease directory (--state-dir)" "$dir" "$T/state/hosts/resource-1/lease-$id"
dd release-lease --id "$id" >/dev/null
wait_until 20 test ! -e "$T/state/hosts/resource-1/lease-$id" ||
	fail "the lease's directory outlived its release"
stop_daemon "$DAEMON"

# a daemon makes a state directory that is missing
DRYDOCK_STATE_DIR="$T/new/state" "$DD" daemon --workers 1 2>>"$T/daemon.log" &
DAEMON=$!
track "$DAEMON"
wait_until 20 test -d "$T/new/state" || fail "the daemon made no state directory: $(cat "$T/daemon.log")"
expect_eq "mode of the state directory the daemon made" "$(mode "$T/new/state")" 700
echo ok
