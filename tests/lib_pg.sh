# A throwaway PostgreSQL server for tests, from Debian's `postgresql`
# package (/usr/lib/postgresql/VERSION/bin, the newest there): sourced by a
# test script (after lib.sh, or on its own as tests/pg_server.sh does).
#
# pg_start makes a cluster with initdb in a temporary directory of its own
# and starts it with pg_ctl, listening only on a Unix socket in that
# directory and on 127.0.0.1 at a free port (another port is tried when
# another process takes it first), and waits until pg_isready answers on
# both.  Its superuser is "drydock": trusted on the socket (a directory
# only the server's user and root can enter), a password over TCP.  fsync
# is off unless PG_FSYNC=on (the benchmark's ceiling wants the real cost).
# PG_CONF, when set, is added to postgresql.conf (one setting a line);
# PG_HBA, to pg_hba.conf (a test that listens on more addresses than
# loopback lets clients in from them: "host all all 10.213.0.0/16
# scram-sha-256").
#
# Who the server runs as: initdb and postgres refuse to run as root.  As
# root (CI, this machine) the cluster belongs to the "postgres" user that
# the package creates, and its tools run as that user (setpriv); as any
# other user, as that user.
#
# The server is stopped and its directory removed when the test ends:
# by the EXIT trap (chained before any trap set earlier, such as lib.sh's
# cleanup), also on TERM, INT and HUP; and if the test is killed outright
# (KILL), by a guard process that waits for the end of a pipe the test
# holds open and then stops the server and removes the directory.  The
# guard knows the test is gone when the last holder of that pipe is: the
# server itself does not hold it, but processes the test leaves running
# do.  Each test has its own directory, port, socket and password, so two
# tests can run at once.
#
# Functions:
#   pg_start            initdb (the first time) and start; again after a stop
#   pg_stop [MODE]      stop (pg_ctl's mode: smart, fast (default), immediate)
#   pg_restart [MODE]   stop and start again on the same port
#   pg_newdb [NAME]     a fresh, empty database (named NAME, else db1, db2...);
#                       sets PG_DB, PG_URL and PG_CONNINFO for it
#   pg_store [socket]   a fresh database as an integration test's store
#                       (after lib.sh): DRYDOCK_DB is its URL (TCP), or its
#                       conninfo over the socket with "socket" (no password
#                       exchange: cheaper for a test that starts thousands
#                       of processes); DRYDOCK_STATE_DIR is $T/state; lib.sh's
#                       sql() then queries it; and `drydock init` made it
#   pg_url NAME         postgres://drydock:PASSWORD@127.0.0.1:PORT/NAME (TCP)
#   pg_conninfo NAME    "host=SOCKET_DIR port=PORT user=drydock dbname=NAME"
#                       (libpq's key=value form, over the Unix socket)
#   pg_sql NAME SQL     run SQL in database NAME as the superuser; prints
#                       rows unaligned, fields split by |, no header
#   pg_terminate NAME   end every connection to NAME but its own
#                       (pg_terminate_backend); prints how many it ended
#   pg_running          whether the server answers (pg_isready)
#   pg_server_pid       the postmaster's pid
#   pg_cleanup          stop the server and remove its directory (the trap)
# Variables: PG_BIN (the binaries), PG_DIR, PG_PORT, PG_SOCKET (the
# socket's directory), PG_USER (drydock), PG_PASSWORD, PG_OS_USER (who the
# server runs as).

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/dd-pg-XXXXXX")
PG_SOCKET=$PG_DIR/sock
PG_USER=drydock
PG_PORT=""
PG_DBS=0
PG_GUARD=""

pg_fail() {
	echo "FAIL: postgresql: $*" >&2
	exit 1
}

[ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] ||
	pg_fail "no /usr/lib/postgresql/*/bin/initdb: install Debian's postgresql (scripts/install-deps.sh check)"

if [ "$(id -u)" = 0 ]; then
	PG_OS_USER=postgres
	id "$PG_OS_USER" >/dev/null 2>&1 ||
		pg_fail "no user '$PG_OS_USER' to run the server as (the postgresql package makes it)"
else
	PG_OS_USER=$(id -un)
fi

# pg_as CMD...: run one of the server's tools as the server's user, in
# its directory (postgres wants a working directory it can read)
pg_as() {
	if [ "$(id -u)" = 0 ]; then
		(cd "$PG_DIR" && setpriv --reuid="$PG_OS_USER" \
			--regid="$PG_OS_USER" --init-groups "$@")
	else
		(cd "$PG_DIR" && "$@")
	fi
}

# The guard: started once, in the background and disowned (so a `wait`
# of the test never waits for it), reading a FIFO whose write end only the
# test holds; when that closes it stops the server, if it still runs, and
# removes the directory.  Signals sent to the test's process group leave
# it alone.
pg_guard() {
	trap '' TERM INT HUP
	cat >/dev/null
	if [ -f "$PG_DIR/data/postmaster.pid" ]; then
		pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w -t 60 \
			stop >/dev/null 2>&1 || true
	fi
	rm -rf "$PG_DIR"
}

pg_guard_start() {
	mkfifo "$PG_DIR/guard"
	pg_guard <"$PG_DIR/guard" >/dev/null 2>&1 &
	disown $!
	exec {PG_GUARD}>"$PG_DIR/guard"
}

pg_initdb() {
	PG_PASSWORD=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	mkdir -p "$PG_SOCKET"
	echo "$PG_PASSWORD" >"$PG_DIR/password"
	[ "$(id -u)" != 0 ] || chown -R "$PG_OS_USER:" "$PG_DIR"
	chmod 700 "$PG_DIR" "$PG_SOCKET"
	pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U "$PG_USER" \
		--pwfile="$PG_DIR/password" --auth-local=trust \
		--auth-host=scram-sha-256 --encoding=UTF8 --no-locale \
		--no-sync >"$PG_DIR/initdb.log" 2>&1 ||
		pg_fail "initdb: $(tail -5 "$PG_DIR/initdb.log")"
	rm -f "$PG_DIR/password"
	# only what the tests need: no TCP but loopback, no logging collector
	{
		echo "listen_addresses = '127.0.0.1'"
		echo "unix_socket_directories = '$PG_SOCKET'"
		echo "fsync = ${PG_FSYNC:-off}"
		echo "full_page_writes = ${PG_FSYNC:-off}"
		echo "max_connections = 500"
		echo "logging_collector = off"
		echo "log_min_messages = warning"
		[ -z "${PG_CONF:-}" ] || echo "$PG_CONF"
	} >>"$PG_DIR/data/postgresql.conf"
	[ -z "${PG_HBA:-}" ] || echo "$PG_HBA" >>"$PG_DIR/data/pg_hba.conf"
}

pg_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# pg_launch: start on $PG_PORT; fails when the server does not come up
pg_launch() {
	sed -i '/^port = /d' "$PG_DIR/data/postgresql.conf"
	echo "port = $PG_PORT" >>"$PG_DIR/data/postgresql.conf"
	: >"$PG_DIR/start.log"
	[ "$(id -u)" != 0 ] || chown "$PG_OS_USER:" "$PG_DIR/start.log"
	# pg_ctl -w returns once the server accepts connections or has died
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/start.log" \
		-w -t 60 start </dev/null >/dev/null 2>&1 {PG_GUARD}>&- || return 1
	cat "$PG_DIR/start.log" >>"$PG_DIR/server.log"
	pg_running
}

pg_start() {
	if [ ! -d "$PG_DIR/data" ]; then
		pg_guard_start
		pg_initdb
	fi
	if [ -n "$PG_PORT" ]; then
		pg_launch || pg_fail "server did not start again on port $PG_PORT: $(tail -5 "$PG_DIR/start.log")"
		return 0
	fi
	for _ in 1 2 3 4 5; do
		PG_PORT=$(pg_free_port)
		pg_launch && return 0
		cat "$PG_DIR/start.log" >>"$PG_DIR/server.log"
		grep -q 'could not bind\|could not create any TCP/IP sockets' \
			"$PG_DIR/start.log" || break
	done
	pg_fail "server did not start: $(tail -5 "$PG_DIR/server.log")"
}

# both ways in answer: the socket and TCP
pg_running() {
	[ -n "$PG_PORT" ] &&
		"$PG_BIN/pg_isready" -q -h "$PG_SOCKET" -p "$PG_PORT" -t 10 &&
		"$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 10
}

pg_server_pid() {
	head -1 "$PG_DIR/data/postmaster.pid" 2>/dev/null
}

pg_stop() {
	[ -f "$PG_DIR/data/postmaster.pid" ] || return 0
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m "${1:-fast}" -w -t 60 \
		stop >/dev/null 2>>"$PG_DIR/server.log"
}

pg_restart() {
	pg_stop "${1:-fast}" || pg_fail "server did not stop"
	pg_start
}

pg_url() {
	echo "postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$1"
}

pg_conninfo() {
	echo "host=$PG_SOCKET port=$PG_PORT user=$PG_USER dbname=$1"
}

pg_sql() {
	local db=$1
	shift
	"$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -d "$(pg_conninfo "$db")" \
		-c "$*"
}

pg_newdb() {
	PG_DBS=$((PG_DBS + 1))
	PG_DB=${1:-db$PG_DBS}
	pg_sql postgres "CREATE DATABASE \"$PG_DB\" STRATEGY file_copy" ||
		pg_fail "cannot create database '$PG_DB'"
	PG_URL=$(pg_url "$PG_DB")
	PG_CONNINFO=$(pg_conninfo "$PG_DB")
}

pg_store() {
	pg_newdb
	if [ "${1:-}" = socket ]; then
		export DRYDOCK_DB=$PG_CONNINFO
	else
		export DRYDOCK_DB=$PG_URL
	fi
	export DRYDOCK_STATE_DIR=$T/state
	sql() { pg_sql "$PG_DB" "$@"; }
	"$DD" init >/dev/null || pg_fail "drydock init on database '$PG_DB' failed"
}

pg_terminate() {
	pg_sql postgres "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '$1' AND pid <> pg_backend_pid()"
}

pg_cleanup() {
	pg_stop fast || pg_stop immediate || true
	rm -rf "$PG_DIR"
	if [ -n "$PG_GUARD" ]; then
		exec {PG_GUARD}>&-
		PG_GUARD=""
	fi
}

# run before the EXIT trap already set (lib.sh's cleanup), if any:
# `trap -p` prints it as "trap -- 'COMMAND' EXIT", quoted for the shell
pg_prev_trap() {
	eval "set -- $(trap -p EXIT)"
	echo "${3:-}"
}
PG_PREV_TRAP=$(pg_prev_trap)
trap 'pg_cleanup; eval "$PG_PREV_TRAP"' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP
