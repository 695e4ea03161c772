# Shared by the integration tests: a fresh store in a temp directory, a
# real daemon on it, and helpers to drive drydock like a user would.
# Every daemon a test starts is stopped on exit.
#
# The store is SQLite's (a file, $T/dd.db), or with
# DRYDOCK_TEST_STORE=postgres a fresh database of its own on the run's
# PostgreSQL server (DRYDOCK_TEST_PG, which tests/run.sh exports), or on a
# server of the script's own (tests/lib_pg.sh) when that is unset, so
# that a script still runs alone.  DRYDOCK_DB is then the database's
# libpq key=value location, and the state directory (DRYDOCK_STATE_DIR)
# $T/state.  $STATE_DIR is the state directory on either.  sql, snapshot
# and the helpers below take SQLite's dialect on both (see "the store").
set -eu

DD=${DRYDOCK_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/drydock}
T=$(mktemp -d "${TMPDIR:-/tmp}/dd-int-XXXXXX")
export DRYDOCK_TEST_STORE=${DRYDOCK_TEST_STORE:-sqlite}
STATE_DIR=$T
if [ "$DRYDOCK_TEST_STORE" = sqlite ]; then
	export DRYDOCK_DB="$T/dd.db"
fi
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
	if [ "${KEEP:-}" = "" ]; then
		rm -rf "$T"
		# a PostgreSQL store's database (its server may be gone already)
		[ -z "${PG_TEST_DB:-}" ] || pg_psql "$DRYDOCK_TEST_PG" \
			-c "DROP DATABASE IF EXISTS \"$PG_TEST_DB\" WITH (FORCE)" >/dev/null 2>&1 || true
	fi
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

# ---- the store ----------------------------------------------------------------
# A script's SQL is SQLite's.  On PostgreSQL, sql runs it through psql,
# with the few SQLite functions scripts use (json_extract, json_object,
# group_concat, ifnull, hex, zeroblob) defined in a schema of the test
# database's own, dd_sqlite, made after `drydock init` and on the search
# path of sql's sessions only (drydock's own connections never see it);
# `sql .dump` is the dump snapshot takes.  Output as sqlite3's: fields
# split by |, NULL empty.  What differs and is not covered (a
# comparison's value is t or f, not 1 or 0) a script writes in SQL both
# take.
case $DRYDOCK_TEST_STORE in
sqlite)
	sql() { sqlite3 -cmd '.timeout 10000' "$DRYDOCK_DB" "$@"; }
	store_dump() { sql .dump; }
	;;
postgres)
	if [ -z "${DRYDOCK_TEST_PG:-}" ]; then
		. "$(dirname "${BASH_SOURCE[0]}")/lib_pg.sh"
		pg_start
		DRYDOCK_TEST_PG=$(pg_conninfo postgres)
	fi
	export DRYDOCK_TEST_PG
	PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
	[ -x "$PG_BIN/psql" ] || fail "no /usr/lib/postgresql/*/bin/psql: install Debian's postgresql"
	# pg_psql CONNINFO ARGS...: psql printing as sqlite3 does, stopping
	# at the first error
	pg_psql() {
		local ci=$1
		shift
		PGOPTIONS='-c search_path=public,dd_sqlite' "$PG_BIN/psql" -X -q -A -t \
			-F'|' -v ON_ERROR_STOP=1 -d "$ci" "$@"
	}
	PG_TEST_DB="$(basename "$0" .sh)_$$"
	pg_psql "$DRYDOCK_TEST_PG" -c "CREATE DATABASE \"$PG_TEST_DB\" STRATEGY file_copy" ||
		fail "cannot create database '$PG_TEST_DB' on '$DRYDOCK_TEST_PG'"
	case $DRYDOCK_TEST_PG in
	*dbname=*) DRYDOCK_DB=$(echo "$DRYDOCK_TEST_PG" | sed "s/dbname=[^ ]*/dbname=$PG_TEST_DB/") ;;
	*) DRYDOCK_DB="$DRYDOCK_TEST_PG dbname=$PG_TEST_DB" ;;
	esac
	export DRYDOCK_DB
	STATE_DIR=$T/state
	export DRYDOCK_STATE_DIR=$STATE_DIR
	sql() {
		if [ "$#" = 1 ] && [ "$1" = .dump ]; then
			store_dump
		elif [ "$#" = 0 ]; then
			pg_psql "$DRYDOCK_DB" -f -
		else
			pg_psql "$DRYDOCK_DB" -c "$*"
		fi
	}
	# pg_dump's rows, sorted (an update moves a row in its table),
	# without the identities' next values (a sequence is not
	# transactional: an insert rolled back has still used its id)
	store_dump() {
		"$PG_BIN/pg_dump" --data-only --inserts -d "$DRYDOCK_DB" |
			grep '^INSERT INTO ' | sort
	}
	;;
*)
	fail "DRYDOCK_TEST_STORE is '$DRYDOCK_TEST_STORE': it is sqlite or postgres"
	;;
esac

# sql_is WANT QUERY: whether QUERY gives WANT (for wait_until)
sql_is() { [ "$(sql "$2")" = "$1" ]; }

# wait_until TIMEOUT_S CMD...: run CMD until it succeeds or time is up.
# This bounds a test; it is not a sleep the system needs.
# The first looks come quickly (50 ms), then further apart, up to 0.3 s:
# each look is a process or two (a query is a psql and a server backend
# on PostgreSQL), and the suite runs three scripts at once on two cores.
wait_until() {
	local limit=$1 end pause=0.05
	shift
	end=$((SECONDS + limit))
	while ! "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep "$pause"
		case $pause in
		0.05) pause=0.1 ;;
		0.1) pause=0.2 ;;
		*) pause=0.3 ;;
		esac
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
	store_dump | sed -e "s/^\(INSERT INTO token VALUES([0-9]*,'[^']*','[^']*','[^']*',[^,]*,\)[^,]*/\1-/" \
		-e "s/^\(INSERT INTO public\.token VALUES ([0-9]*, '[^']*', '[^']*', '[^']*', [^,]*, \)[^,]*/\1-/" >"$T/dump.tmp"
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
if [ "$DRYDOCK_TEST_STORE" = postgres ]; then
	sql <<'EOF'
CREATE SCHEMA dd_sqlite;
CREATE FUNCTION dd_sqlite.json_extract(j text, path text) RETURNS text
	LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN path = '$' THEN j
		ELSE (j::jsonb) #>> string_to_array(substr(path, 3), '.') END $$;
CREATE FUNCTION dd_sqlite.ifnull(a anycompatible, b anycompatible)
	RETURNS anycompatible LANGUAGE sql IMMUTABLE AS $$ SELECT coalesce(a, b) $$;
CREATE FUNCTION dd_sqlite.json_object(k text, v text) RETURNS text
	LANGUAGE sql IMMUTABLE AS $$ SELECT json_build_object(k, v)::text $$;
CREATE FUNCTION dd_sqlite.hex(b bytea) RETURNS text LANGUAGE sql IMMUTABLE
	AS $$ SELECT upper(encode(b, 'hex')) $$;
CREATE FUNCTION dd_sqlite.zeroblob(n integer) RETURNS bytea LANGUAGE sql
	IMMUTABLE AS $$ SELECT decode(repeat('00', n), 'hex') $$;
CREATE FUNCTION dd_sqlite.group_concat_step(acc text, v anyelement, sep text)
	RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN v IS NULL THEN acc WHEN acc IS NULL THEN v::text
		ELSE acc || sep || v::text END $$;
CREATE FUNCTION dd_sqlite.group_concat_step(acc text, v anyelement)
	RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT dd_sqlite.group_concat_step(acc, v, ',') $$;
CREATE AGGREGATE dd_sqlite.group_concat(anyelement, text)
	(SFUNC = dd_sqlite.group_concat_step, STYPE = text);
CREATE AGGREGATE dd_sqlite.group_concat(anyelement)
	(SFUNC = dd_sqlite.group_concat_step, STYPE = text);
EOF
fi
