# The PostgreSQL schema (src/store/schema_pg.h) is the SQLite one: on a
# throwaway server (tests/lib_pg.sh), its migrations (store/pg_migrate.c,
# through tests/tools/pg_migrate) applied, then again (nothing changes),
# and its tables, columns (order, name, type class, NOT NULL, default,
# primary key), indexes and unique constraints (columns, uniqueness,
# predicate) and triggers held against those of a store `drydock init`
# made; the same writes on both leave the same counters.  A database
# that a newer drydock migrated is refused and left alone; a migration
# that fails leaves nothing; two migrating at once apply it once.  And the
# harness itself: a test that fails, is sent TERM, or is killed outright
# leaves no server and no directory behind, while others run beside it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib_pg.sh"

bin=$(dirname "$(readlink -f "$DD")")
migrate=$bin/tests/tools/pg_migrate
[ -x "$migrate" ] || fail "no $migrate: build it with 'make unit'"

# ---- the harness: failing, terminated and killed tests clean up --------------
# Three tests at once beside this one, each with its own server: one
# fails, one is sent TERM and one KILL; each writes where its server is
# (directory, postmaster pid, lib.sh's directory) once it runs.
here=$(cd "$(dirname "$0")/.." && pwd)
mkfifo "$T/never"
for how in fail term kill; do
	cat >"$T/child-$how.sh" <<EOF
. "$here/lib.sh"
. "$here/lib_pg.sh"
pg_start
pg_newdb
pg_sql "\$PG_DB" 'SELECT 1' >/dev/null
echo "\$PG_DIR \$(pg_server_pid) \$T" >"$T/info-$how.tmp"
mv "$T/info-$how.tmp" "$T/info-$how"
[ "$how" != fail ] || fail "this test fails on purpose"
read -r _ <"$T/never"
EOF
	env -u KEEP bash "$T/child-$how.sh" >"$T/child-$how.log" 2>&1 &
	eval "child_$how=\$!"
done
for how in fail term kill; do
	wait_until 120 test -s "$T/info-$how" ||
		fail "child '$how' did not start its server: $(cat "$T/child-$how.log")"
done
kill -TERM "$child_term"
kill -KILL "$child_kill"
set +e
wait "$child_fail"
rc_fail=$?
wait "$child_term"
rc_term=$?
wait "$child_kill"
set -e
expect_eq "the failing child's status" "$rc_fail" 1
expect_eq "the terminated child's status" "$rc_term" 143
pg_gone() { # PID exited (a zombie not yet reaped by init counts)
	! kill -0 "$1" 2>/dev/null ||
		[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]
}
left_behind() { ! pg_gone "$2" || [ -e "$1" ]; }
for how in fail term kill; do
	read -r dir pid libdir <"$T/info-$how"
	wait_until 60 eval "! left_behind $dir $pid" ||
		fail "child '$how' left its server behind: pid $pid, $(ls -d "$dir" 2>/dev/null)"
	case $how in
	kill) ;; # its own EXIT trap never ran: the guard did this
	*) [ ! -e "$libdir" ] || fail "child '$how' did not run lib.sh's cleanup" ;;
	esac
	sort -u "$T/info-$how" >>"$T/servers"
done
[ "$(awk '{print $1}' "$T/servers" | sort -u | wc -l)" = 3 ] ||
	fail "two servers shared a directory: $(cat "$T/servers")"

# ---- migrations, twice ---------------------------------------------------------
pg_start
pg_newdb schema
newest=4 # schema_pg.h's migrations
expect_eq "version before" "$("$migrate" --version "$PG_URL")" "0 $newest"
expect_eq "migrate" "$("$migrate" "$PG_URL")" "migrated from 0 to $newest"
# (without the random key of the \restrict lines that newer pg_dumps write)
dump() { "$PG_BIN/pg_dump" --no-owner "$@" | grep -v '^\\\(un\)\?restrict '; }
dump --schema-only "$PG_URL" >"$T/schema.1"
grep -q 'CREATE TABLE public.lease' "$T/schema.1" || fail "no lease table in: $(head "$T/schema.1")"
# again, over the Unix socket with key=value: nothing to do, nothing done
expect_eq "migrate again" "$("$migrate" "$PG_CONNINFO")" "up to date (schema version $newest)"
dump --schema-only "$PG_URL" >"$T/schema.2"
cmp -s "$T/schema.1" "$T/schema.2" || fail "migrating again changed the schema: $(diff "$T/schema.1" "$T/schema.2")"
expect_eq "migrations recorded" "$(pg_sql schema 'SELECT version FROM schema_migration ORDER BY version' | tr '\n' ' ')" "$(seq -s ' ' 1 "$newest") "

# ---- tables and columns ----------------------------------------------------------
# one line per column: table|position|name|class|not null|default|pk position
sql "SELECT m.name, p.cid, p.name,
	CASE WHEN upper(p.type) LIKE '%INT%' THEN 'integer'
	WHEN upper(p.type) GLOB '*CHAR*' OR upper(p.type) GLOB '*TEXT*' OR upper(p.type) GLOB '*CLOB*' THEN 'text'
	WHEN upper(p.type) = 'BLOB' THEN 'blob'
	WHEN upper(p.type) GLOB '*REAL*' OR upper(p.type) GLOB '*FLOA*' OR upper(p.type) GLOB '*DOUB*' THEN 'real'
	ELSE 'other:' || p.type END,
	p.\"notnull\" OR p.pk > 0, coalesce(p.dflt_value, ''), p.pk
	FROM sqlite_master m, pragma_table_info(m.name) p
	WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'
	ORDER BY m.name, p.cid" >"$T/columns.sqlite"
pg_sql schema "SELECT c.table_name,
	row_number() OVER (PARTITION BY c.table_name ORDER BY c.ordinal_position) - 1,
	c.column_name,
	CASE WHEN c.data_type IN ('bigint', 'integer', 'smallint') THEN 'integer'
	WHEN c.data_type IN ('text', 'character varying') THEN 'text'
	WHEN c.data_type = 'bytea' THEN 'blob'
	WHEN c.data_type IN ('double precision', 'real') THEN 'real'
	ELSE 'other:' || c.data_type END,
	CASE WHEN c.is_nullable = 'NO' THEN 1 ELSE 0 END,
	coalesce(c.column_default, ''), coalesce(k.ordinal_position, 0)
	FROM information_schema.columns c
	LEFT JOIN information_schema.table_constraints t
	ON t.table_schema = c.table_schema AND t.table_name = c.table_name
	AND t.constraint_type = 'PRIMARY KEY'
	LEFT JOIN information_schema.key_column_usage k
	ON k.constraint_name = t.constraint_name
	AND k.table_schema = c.table_schema AND k.column_name = c.column_name
	WHERE c.table_schema = current_schema() AND c.table_name <> 'schema_migration'
	ORDER BY c.table_name, c.ordinal_position" >"$T/columns.pg"
[ "$(wc -l <"$T/columns.sqlite")" -gt 100 ] || fail "too few SQLite columns: $(cat "$T/columns.sqlite")"
diff "$T/columns.sqlite" "$T/columns.pg" >"$T/columns.diff" ||
	fail "columns differ (< SQLite, > PostgreSQL): $(cat "$T/columns.diff")"

# ---- indexes, unique constraints, triggers ------------------------------------------
# one line per index but primary keys (compared with the columns above):
# table|name (- for a UNIQUE constraint's)|unique|columns|predicate, the
# predicate without blanks and parentheses, in lower case
sql "SELECT m.name, CASE il.origin WHEN 'c' THEN il.name ELSE '-' END,
	il.\"unique\",
	(SELECT group_concat(name, ',') FROM
	 (SELECT name FROM pragma_index_info(il.name) ORDER BY seqno)),
	CASE WHEN il.partial THEN substr(x.sql, instr(upper(x.sql), ' WHERE ') + 7)
	ELSE '' END
	FROM sqlite_master m, pragma_index_list(m.name) il
	LEFT JOIN sqlite_master x ON x.type = 'index' AND x.name = il.name
	WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND il.origin <> 'pk'" |
	tr -d ' ()' | tr 'A-Z' 'a-z' | LC_ALL=C sort >"$T/indexes.sqlite"
pg_sql schema "SELECT t.relname,
	CASE WHEN con.contype = 'u' THEN '-' ELSE i.relname END,
	CASE WHEN ix.indisunique THEN 1 ELSE 0 END,
	(SELECT string_agg(a.attname, ',' ORDER BY k.n)
	 FROM unnest(ix.indkey::int2[]) WITH ORDINALITY k(attnum, n)
	 JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum),
	coalesce(pg_get_expr(ix.indpred, ix.indrelid), '')
	FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid
	JOIN pg_class t ON t.oid = ix.indrelid
	JOIN pg_namespace ns ON ns.oid = t.relnamespace
	LEFT JOIN pg_constraint con ON con.conindid = ix.indexrelid AND con.contype = 'u'
	WHERE ns.nspname = current_schema() AND NOT ix.indisprimary
	AND t.relname <> 'schema_migration'" |
	tr -d ' ()' | tr 'A-Z' 'a-z' | LC_ALL=C sort >"$T/indexes.pg"
[ "$(wc -l <"$T/indexes.sqlite")" -gt 25 ] || fail "too few SQLite indexes: $(cat "$T/indexes.sqlite")"
diff "$T/indexes.sqlite" "$T/indexes.pg" >"$T/indexes.diff" ||
	fail "indexes differ (< SQLite, > PostgreSQL): $(cat "$T/indexes.diff")"
sql "SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'" |
	LC_ALL=C sort >"$T/triggers.sqlite"
pg_sql schema "SELECT c.relname, t.tgname FROM pg_trigger t
	JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal" |
	LC_ALL=C sort >"$T/triggers.pg"
[ "$(wc -l <"$T/triggers.sqlite")" -ge 12 ] || fail "too few SQLite triggers: $(cat "$T/triggers.sqlite")"
diff "$T/triggers.sqlite" "$T/triggers.pg" >"$T/triggers.diff" ||
	fail "triggers differ (< SQLite, > PostgreSQL): $(cat "$T/triggers.diff")"

# ---- the counters' triggers: the same writes, the same counts ----------------
# every way a counted row changes: inserted counted or not, its status
# changed into, out of, within and without the counted ones, its counted
# column left alone, deleted counted or not
cat >"$T/writes.sql" <<'EOF'
INSERT INTO lease(type, status, attributes, created, modified) VALUES
 ('a', 0, '{}', 1, 1), ('b', 5, '{}', 1, 1), ('c', 5, '{}', 1, 1),
 ('d', 2, '{}', 1, 1), ('e', 5, '{}', 1, 1);
UPDATE lease SET status = 5 WHERE type = 'a';
UPDATE lease SET status = 3 WHERE type = 'b';
UPDATE lease SET status = 5, modified = 2 WHERE type = 'c';
UPDATE lease SET status = 4 WHERE type = 'd';
UPDATE lease SET modified = 3 WHERE type = 'e';
DELETE FROM lease WHERE type IN ('c', 'd');
INSERT INTO resource(blueprint, type, status, attributes, created, modified)
 VALUES (1, 'a', 1, '{}', 1, 1), (1, 'b', 4, '{}', 1, 1),
 (1, 'c', 4, '{}', 1, 1), (1, 'd', 2, '{}', 1, 1);
UPDATE resource SET status = 4 WHERE type IN ('a', 'd');
UPDATE resource SET status = 3 WHERE type = 'b';
DELETE FROM resource WHERE type = 'c';
INSERT INTO target(name, status, created, modified) VALUES
 ('a', 0, 1, 1), ('b', 1, 1, 1), ('c', 2, 1, 1), ('d', 3, 1, 1),
 ('e', 1, 1, 1), ('f', 0, 1, 1);
UPDATE target SET status = 1 WHERE name = 'a';
UPDATE target SET status = 2 WHERE name = 'b';
UPDATE target SET status = 0 WHERE name = 'c';
UPDATE target SET status = 3, modified = 2 WHERE name = 'd';
DELETE FROM target WHERE name IN ('e', 'f');
INSERT INTO artifact(target, key, type, data, complete, size, created, modified)
 VALUES (1, 'a', 'file', '{}', 0, 10, 1, 1), (1, 'b', 'file', '{}', 1, 5, 1, 1),
 (1, 'c', 'uri', '{}', 1, 0, 1, 1), (2, 'a', 'host', '{}', 1, 0, 1, 1);
UPDATE artifact SET size = size + 1000 WHERE key = 'a';
UPDATE artifact SET size = size WHERE key = 'b';
UPDATE artifact SET complete = 1 WHERE key = 'c';
DELETE FROM artifact WHERE target = 1 AND key = 'b';
DELETE FROM artifact WHERE type = 'host';
EOF
sql <"$T/writes.sql"
"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$PG_CONNINFO" -f "$T/writes.sql" >/dev/null ||
	fail "the writes failed on PostgreSQL"
sql "SELECT name, value FROM counter ORDER BY name" >"$T/counters.sqlite"
# PostgreSQL's triggers add to parts NAME#K of a counter (migration 4)
pg_sql schema "SELECT split_part(name, '#', 1), sum(value) FROM counter
	GROUP BY 1 ORDER BY 1" >"$T/counters.pg"
[ "$(pg_sql schema "SELECT count(*) FROM counter WHERE name LIKE 'leases.destroyed#%'")" -gt 0 ] ||
	fail "no part of leases.destroyed on PostgreSQL: $(pg_sql schema 'SELECT name FROM counter')"
diff "$T/counters.sqlite" "$T/counters.pg" >"$T/counters.diff" ||
	fail "the counters differ (< SQLite, > PostgreSQL): $(cat "$T/counters.diff")"
# and SQLite's are what the writes should give (so neither counts nothing)
expect_eq "counters" "$(tr '\n' ' ' <"$T/counters.sqlite")" \
	"artifact_bytes|1010 artifacts.file|1 artifacts.host|0 artifacts.uri|1 capacity|0 leases.destroyed|2 resources.destroyed|2 targets.aborted|1 targets.failed|1 targets.passed|1 "

# ---- a newer database is refused and left alone --------------------------------------
pg_sql schema "INSERT INTO schema_migration VALUES($((newest + 1)), 0)"
dump "$PG_URL" >"$T/before"
if "$migrate" "$PG_URL" >"$T/out" 2>"$T/err"; then
	fail "a newer database was migrated: $(cat "$T/out")"
fi
grep -qx "pg_migrate: database 'schema' has schema version $((newest + 1)), newer than this drydock's $newest" "$T/err" ||
	fail "newer database: $(cat "$T/err")"
dump "$PG_URL" >"$T/after"
cmp -s "$T/before" "$T/after" || fail "refusing a newer database changed it"

# ---- a failed migration leaves nothing -----------------------------------------------
pg_newdb taken
pg_sql taken "CREATE TABLE chunk(x INTEGER)"
if "$migrate" "$PG_URL" >"$T/out" 2>"$T/err"; then
	fail "migrated over a table of the same name: $(cat "$T/out")"
fi
grep -q '^pg_migrate: schema migration 1 failed: .*relation "chunk" already exists' "$T/err" ||
	fail "failed migration: $(cat "$T/err")"
expect_eq "tables after a failed migration" \
	"$(pg_sql taken "SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname = 'public'")" chunk

# ---- two at once -----------------------------------------------------------------------
pg_newdb twice
"$migrate" "$PG_URL" >"$T/m1" 2>&1 &
m1=$!
"$migrate" "$PG_CONNINFO" >"$T/m2" 2>&1 &
m2=$!
wait "$m1" || fail "first of two migrations: $(cat "$T/m1")"
wait "$m2" || fail "second of two migrations: $(cat "$T/m2")"
expect_eq "two migrations at once" "$(cat "$T/m1" "$T/m2" | LC_ALL=C sort | tr '\n' ' ')" \
	"migrated from 0 to $newest up to date (schema version $newest) "
expect_eq "two migrations recorded" "$(pg_sql twice 'SELECT count(*) FROM schema_migration')" "$newest"

# ---- the server comes back after a restart, and connections can be cut -------------------
"$PG_BIN/psql" -X -q -d "$PG_CONNINFO" -c 'SELECT pg_sleep(60)' >"$T/cut.out" 2>&1 &
sleeper=$!
sleeping() { [ "$(pg_sql postgres "SELECT count(*) FROM pg_stat_activity WHERE datname = 'twice' AND query LIKE 'SELECT pg_sleep%'")" = 1 ]; }
wait_until 30 sleeping || fail "the sleeping query did not start"
expect_eq "connections cut" "$(pg_terminate twice)" 1
if wait "$sleeper"; then fail "a terminated connection's query succeeded"; fi
grep -q 'terminat' "$T/cut.out" || fail "cut connection: $(cat "$T/cut.out")"
port=$PG_PORT
pid=$(pg_server_pid)
pg_restart immediate
expect_eq "port after a restart" "$PG_PORT" "$port"
[ "$(pg_server_pid)" != "$pid" ] || fail "the server was not restarted"
expect_eq "data after a restart" "$(pg_sql twice 'SELECT max(version) FROM schema_migration')" "$newest"
echo "pg_schema: ok"
