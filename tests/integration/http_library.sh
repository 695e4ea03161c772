# libmicrohttpd, and the TLS libraries it brings (GnuTLS and eight more),
# are loaded by `drydock serve` alone (src/http/mhd.c), and libpq only on
# a PostgreSQL store (src/store/pq.c): every other command starts without
# them, which was most of the cost of a short
# command (docs/performance.md).  A command's own process has neither
# mapped; a serve that cannot load the library says why, exits, and
# leaves the store as it was (no admin token made).
. "$(dirname "$0")/../lib.sh"

host_pool pool '[{"name": "a"}]'
start_daemon
lease=$(dd lease --type host 2>/dev/null)

# ---- a command does not load them --------------------------------------------
# the command's parent is drydock exec's own process
dd exec --lease "$lease" -- sh -c 'cat /proc/$PPID/maps' >"$T/maps"
grep -q 'libsqlite3' "$T/maps" || fail "these are not drydock's maps: $(head -5 "$T/maps")"
# (on a PostgreSQL store, libpq, which it needs, brings GnuTLS of its own)
http_libs='libmicrohttpd|libgnutls'
[ "$DRYDOCK_TEST_STORE" = sqlite ] || http_libs='libmicrohttpd'
if grep -E "$http_libs" "$T/maps"; then
	fail "drydock exec loaded the HTTP library"
fi
# nor libpq, on an SQLite store (src/store/pq.c loads it for PostgreSQL)
if [ "$DRYDOCK_TEST_STORE" = sqlite ] && grep -E 'libpq|libssl|libkrb5|libldap' "$T/maps"; then
	fail "drydock exec on an SQLite store loaded the PostgreSQL library"
fi

# ---- serve without the library: a clear error, nothing changed -------------------
# The library's files (every one the loader knows) are hidden, /dev/null
# bound over each, in a mount namespace of serve's own; a serve that
# starts all the same is stopped by timeout (exit 124, the test fails).
# Needs root and namespaces; skipped without.
libs=$(ldconfig -p | sed -n 's/^[[:space:]]*libmicrohttpd\.so\.12 .*=> //p')
[ -n "$libs" ] || fail "ldconfig knows no libmicrohttpd.so.12"
if [ "$(id -u)" = 0 ] && unshare --mount true 2>/dev/null; then
	expect_refused 11 "^drydock: cannot load the HTTP library: .*libmicrohttpd\.so\.12: .* (install libmicrohttpd12)$" \
		timeout 60 unshare --mount sh -c 'd=$1; shift
			for l in "$@"; do mount --bind /dev/null "$l" || exit 1; done
			exec "$d" serve --listen 127.0.0.1:0' sh "$DD" $libs
	expect_eq "tokens" "$(sql 'SELECT count(*) FROM token')" 0
else
	echo "SKIPPED: serve without the library (needs root and unshare)"
fi
