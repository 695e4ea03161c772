# The benchmark's SSH host: tests/lib_sshd.sh's sshd, started for
# bench.c's `ssh` scenario.  Prints one line, "PORT USER KEY" (the
# client's private key), or "SKIPPED: WHY" where no sshd can run, then
# waits until its standard input ends and stops sshd.
set -eu
T=$(mktemp -d "${TMPDIR:-/tmp}/dd-bench-sshd-XXXXXX")
PIDS="$T/pids"
touch "$PIDS"
track() { echo "$1" >>"$PIDS"; }
fail() {
	echo "sshd.sh: $*" >&2
	exit 1
}
wait_until() {
	limit=$1
	shift
	end=$(($(date +%s) + limit))
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.05
	done
}
cleanup() { rm -rf "$T"; }
. "$(dirname "$0")/../lib_sshd.sh"
sshd_require
sshd_start
echo "$SSHD_PORT $SSHD_USER $SSHD_KEY"
cat >/dev/null
