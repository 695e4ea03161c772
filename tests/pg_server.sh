# tests/lib_pg.sh's throwaway PostgreSQL server for programs (tests/run.sh's
# for the whole test run; the benchmark's for its PostgreSQL scenarios):
# starts it with a fresh database "drydock", prints one line,
#   URL<tab>CONNINFO<tab>BINDIR
# (a postgres:// URL over TCP, libpq's key=value form over the Unix
# socket, the server's programs' directory), or "SKIPPED: WHY" where the
# server's programs are not installed, then keeps the server until its
# standard input ends, and stops and removes it.
#
# usage: tests/pg_server.sh [--fsync]    (--fsync: fsync on, as in use)
set -eu
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
	echo "SKIPPED: no /usr/lib/postgresql/*/bin/initdb (Debian's postgresql)"
	exit 0
fi
[ "${1:-}" != --fsync ] || export PG_FSYNC=on
. "$(dirname "$0")/lib_pg.sh"
pg_start
pg_newdb drydock
printf '%s\t%s\t%s\n' "$PG_URL" "$PG_CONNINFO" "$PG_BIN"
cat >/dev/null
