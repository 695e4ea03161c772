# Lists and histories stay bounded however long the store's history grows.
#
# A store that served many leases used to make `drydock show resource R
# --json` carry the resource's whole log (3 MB after 1,500 leases) and
# `drydock list leases` print every lease ever made, built whole in memory
# first (714 MB for 100,000 as JSON).  Now `list` shows the unfinished
# objects, newest first, a page at a time, with a cursor to page on, and
# --all adds the finished ones; `show` and the API's /log endpoints give the
# newest log entries with a cursor to older ones; and rows are printed as
# the query yields them, so listing 50,000 rows takes the memory of 1,000.
#
# The history is written straight into the store, as the benchmark's scale
# fixture is (tests/bench/bench.c, add_history): destroyed leases on one
# resource, each with its two log entries.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib_http.sh"

command -v /usr/bin/time >/dev/null || fail "this test needs /usr/bin/time (GNU time)"

host_pool pool '[{"name": "a", "slots": 2}]'
start_daemon
live1=$(dd lease --type host 2>/dev/null)
res=$(sql "SELECT resource FROM lease WHERE id = $live1")
[ -n "$res" ] || fail "lease $live1 has no resource"
stop_daemon "$DAEMON"

# add_history N TAG: N destroyed leases of resource $res, with their log
add_history() {
	sql "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $1)
	INSERT INTO lease(type, status, resource, owner, attributes, created, modified)
	SELECT 'host', 5, $res, '$2', '{}', 1, 1 FROM c;
	INSERT INTO log(resource, lease, type, time)
	SELECT resource, id, 'lease.released', 1 FROM lease WHERE owner = '$2';
	INSERT INTO log(resource, lease, type, time)
	SELECT resource, id, 'lease.destroyed', 1 FROM lease WHERE owner = '$2';"
}
add_history 1500 history
# unfinished leases after the history: pending (no daemon runs), and one
# each released and broken (written directly: only listing is tested here)
live2=$(dd lease --type host --no-wait)
live3=$(dd lease --type host --no-wait)
sql "INSERT INTO lease(type, status, resource, owner, attributes, created, modified) VALUES ('host', 3, $res, 'x', '{}', 1, 1), ('host', 4, NULL, 'x', '{}', 1, 1)"
unfinished=$(sql "SELECT group_concat(id, ' ') FROM (SELECT id FROM lease WHERE status != 5 ORDER BY id DESC) AS s")
[ "$(wc -w <<<"$unfinished")" = 5 ] || fail "setup: unfinished leases $unfinished"

ids() { awk 'NR > 1 { print $1 }' | paste -sd' '; }
# newest TABLE [N]: the ids of TABLE's newest N rows (all without N)
newest() { sql "SELECT group_concat(id, ' ') FROM (SELECT id FROM $1 ORDER BY id DESC${2:+ LIMIT $2}) AS s"; }

# ---- list: unfinished by default, newest first ---------------------------
dd list leases >"$T/out" 2>"$T/err"
head -1 "$T/out" | grep -q "^ID *STATUS *TYPE *RESOURCE *OWNER$" || fail "header: $(head -1 "$T/out")"
expect_eq "list leases: the unfinished, newest first" "$(ids <"$T/out")" "$unfinished"
[ ! -s "$T/err" ] || fail "a whole list says there is more: $(cat "$T/err")"
grep -q " released " "$T/out" && grep -q " broken " "$T/out" && grep -q " pending " "$T/out" ||
	fail "released, broken and pending leases are listed: $(cat "$T/out")"

# --all: every lease, newest first, the default page of 50, and the cursor
dd list leases --all >"$T/out" 2>"$T/err"
expect_eq "list --all: the newest 50" "$(ids <"$T/out")" "$(newest lease 50)"
last=$(newest lease 50 | awk '{ print $NF }')
expect_eq "list --all says how to page on" "$(cat "$T/err")" "drydock: more leases: repeat with --cursor $last"
dd list leases --all --cursor "$last" --limit 3 >"$T/out" 2>/dev/null
expect_eq "the next page" "$(ids <"$T/out")" \
	"$(sql "SELECT group_concat(id, ' ') FROM (SELECT id FROM lease WHERE id < $last ORDER BY id DESC LIMIT 3) AS s")"

# --json: the API's page object; following next_cursor visits every lease once
dd list leases --json >"$T/page"
expect_eq "json: unfinished" "$(jq -r '[.items[].id] | join(" ")' "$T/page")" "$unfinished"
expect_eq "json: no next page" "$(jq -r '.next_cursor' "$T/page")" null
cursor="" seen="" pages=0
while :; do
	dd list leases --all --json --limit 400 ${cursor:+--cursor "$cursor"} >"$T/page"
	jq -e '(keys == ["items", "next_cursor"]) and (.items | length <= 400)' "$T/page" >/dev/null ||
		fail "not a page: $(head -c 300 "$T/page")"
	seen="$seen $(jq -r '[.items[].id] | join(" ")' "$T/page")"
	pages=$((pages + 1))
	cursor=$(jq -r '.next_cursor // empty' "$T/page")
	[ -n "$cursor" ] || break
done
expect_eq "pages cover every lease once, newest first" "$(echo $seen)" "$(newest lease)"
expect_eq "pages" "$pages" 4

dd list leases --all --limit 0 --json >"$T/page"
expect_eq "--limit 0 lists all" "$(jq '.items | length' "$T/page")" "$(sql 'SELECT count(*) FROM lease')"
dd list leases --status destroyed --limit 2 >"$T/out" 2>/dev/null
expect_eq "--status destroyed" "$(ids <"$T/out")" \
	"$(sql "SELECT group_concat(id, ' ') FROM (SELECT id FROM lease WHERE status = 5 ORDER BY id DESC LIMIT 2) AS s")"
dd list leases --resource "$res" --json >"$T/page"
expect_eq "--resource: its unfinished leases" "$(jq -r '[.items[].id] | join(" ")' "$T/page")" \
	"$(sql "SELECT group_concat(id, ' ') FROM (SELECT id FROM lease WHERE resource = $res AND status != 5 ORDER BY id DESC) AS s")"

# resources: destroyed ones only with --all
sql "INSERT INTO resource(blueprint, type, status, attributes, created, modified) VALUES (1, 'host', 4, '{}', 1, 1)"
gone=$(sql "SELECT max(id) FROM resource")
expect_eq "list resources: unfinished" "$(dd list resources | ids)" "$res"
expect_eq "list resources --all" "$(dd list resources --all --blueprint 1 | ids)" "$gone $res"

# tasks: the queue, oldest first, paged the same way
dd list tasks --limit 1 --json >"$T/page"
t1=$(jq -r '.items[0].id' "$T/page")
expect_eq "tasks: first page" "$(jq -r '[(.items | length), .next_cursor] | join(" ")' "$T/page")" "1 $t1"
dd list tasks --cursor "$t1" --json >"$T/page"
expect_eq "tasks: after the cursor" "$(jq -r '[.items[].id] | join(" ")' "$T/page")" \
	"$(sql "SELECT group_concat(id, ' ') FROM (SELECT id FROM task WHERE id > $t1 ORDER BY id) AS s")"

expect_refused 2 "give --all or --status, not both" dd list leases --all --status active
expect_refused 2 "bad limit '-1'" dd list leases --limit -1
expect_refused 2 "bad limit '9223372036854775807'" dd list leases --limit 9223372036854775807
dd list leases --all --limit 9223372036854775806 --json | jq -e '.items | length > 50' >/dev/null ||
	fail "the largest --limit lists"
expect_refused 2 "bad cursor 'x'" dd list leases --cursor x
expect_refused 2 "'list resources' takes --blueprint, not --resource" dd list resources --resource 1
expect_refused 2 "'list tasks' takes no --all" dd list tasks --all
expect_refused 2 "bad cursor '0'" dd show lease "$live1" --cursor 0

# ---- show: the newest log entries and leases, and cursors to the rest -----
log_desc=$(sql "SELECT group_concat(id, ' ') FROM (SELECT id FROM log WHERE resource = $res ORDER BY id DESC) AS s")
dd show resource "$res" --json >"$T/show"
size=$(stat -c %s "$T/show")
[ "$size" -lt 40000 ] || fail "show resource --json is $size bytes after 1,500 leases"
expect_eq "show: the newest 50 log entries" "$(jq -r '[.log[].id] | join(" ")' "$T/show")" \
	"$(echo $log_desc | cut -d' ' -f1-50)"
expect_eq "show: the newest 50 leases" "$(jq -r '[.leases[].id] | join(" ")' "$T/show")" \
	"$(sql "SELECT group_concat(id, ' ') FROM (SELECT id FROM lease WHERE resource = $res ORDER BY id DESC LIMIT 50) AS s")"
expect_eq "show: leases cursor" "$(jq -r .leases_next_cursor "$T/show")" "$(jq -r '.leases[49].id' "$T/show")"
seen="$(jq -r '[.log[].id] | join(" ")' "$T/show")"
cursor=$(jq -r .log_next_cursor "$T/show")
while [ "$cursor" != null ]; do
	dd show resource "$res" --json --limit 500 --cursor "$cursor" >"$T/show"
	seen="$seen $(jq -r '[.log[].id] | join(" ")' "$T/show")"
	cursor=$(jq -r .log_next_cursor "$T/show")
done
expect_eq "show --cursor pages through the whole log" "$(echo $seen)" "$(echo $log_desc)"

# the human form says how to see older entries, and that command does
dd show resource "$res" >"$T/out"
grep -q "^leases (newest 50; older: drydock list leases --all --resource $res --cursor [0-9]*)$" "$T/out" ||
	fail "show resource: leases heading: $(grep '^leases' "$T/out")"
more=$(sed -n 's/^log (newest 50; older: \(drydock show .*\))$/\1/p' "$T/out")
[ -n "$more" ] || fail "show resource: log heading: $(grep '^log' "$T/out")"
$(sed 's/^drydock /dd /' <<<"$more") >"$T/out"
grep -q "^log (next 50; older: drydock show resource $res --cursor [0-9]*)$" "$T/out" ||
	fail "show --cursor: $(grep '^log' "$T/out")"
expect_eq "show: the next 50" "$(awk '/^log /{on=1; next} on && NF' "$T/out" | wc -l)" 50

# a lease with a long log, and a blueprint's resources
sql "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 120)
	INSERT INTO log(lease, type, time) SELECT $live1, 'lease.extended', 1 FROM c"
dd show lease "$live1" --json --limit 100 >"$T/show"
expect_eq "show lease --limit 100" "$(jq '.log | length' "$T/show")" 100
expect_eq "show lease: log newest first" "$(jq -r '.log[0].id' "$T/show")" "$(sql "SELECT max(id) FROM log WHERE lease = $live1")"
dd show blueprint 1 --json --limit 1 >"$T/show"
expect_eq "show blueprint: newest resource and cursor" "$(jq -r '[(.resources | map(.id) | join(",")), .resources_next_cursor, (.log | length)] | join(" ")' "$T/show")" \
	"$gone $gone 1"

# ---- the API: /log newest first, the cursor pages to older entries --------
# nothing for serve's workers to do: the resource's log stays as it is
sql "DELETE FROM task"
start_server
VIEW=$(token dash viewer)
call 200 "$VIEW" GET "/api/v1/resources/$res/log?limit=3"
expect_eq "API log: the newest entries" "$(j '[.items[].id] | join(" ")')" "$(echo $log_desc | cut -d' ' -f1-3)"
seen="" cursor=""
while :; do
	call 200 "$VIEW" GET "/api/v1/resources/$res/log?limit=500${cursor:+&cursor=$cursor}"
	seen="$seen $(j '[.items[].id] | join(" ")')"
	cursor=$(j '.next_cursor // empty')
	[ -n "$cursor" ] || break
done
expect_eq "API log pages cover the whole log" "$(echo $seen)" "$(echo $log_desc)"
call 200 "$VIEW" GET "/api/v1/leases/$live1/log?limit=1"
expect_eq "API lease log: the newest" "$(j '.items[0].id')" "$(sql "SELECT max(id) FROM log WHERE lease = $live1")"

# A page also stops once its objects pass 1 MiB of JSON: 500 leases with
# attributes near their 64 KiB limit made a 33 MB answer and cost serve
# 100 MB of memory.  40 leases of 60,000-byte attributes are 2.4 MB.
sql "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 40)
	INSERT INTO lease(type, status, resource, owner, attributes, created, modified)
	SELECT 'host', 5, $res, 'big', json_object('a', replace(hex(zeroblob(30000)), '0', 'x')), 1, 1 FROM c"
call 200 "$VIEW" GET "/api/v1/leases?limit=500"
size=$(stat -c %s "$T/body")
n=$(j '.items | length')
[ "$size" -le $((1024 * 1024 + 65536 + 1024)) ] || fail "a page of big leases is $size bytes"
[ "$n" -ge 17 ] && [ "$n" -lt 40 ] || fail "a page of 40 leases of 60 KB each holds $n"
expect_eq "the cursor goes on from the page's last lease" "$(j .next_cursor)" "$(j '.items[-1].id')"
seen="" cursor="" pages=0
while :; do
	call 200 "$VIEW" GET "/api/v1/leases?limit=500${cursor:+&cursor=$cursor}"
	seen="$seen $(j '[.items[].id] | join(" ")')"
	pages=$((pages + 1))
	cursor=$(j '.next_cursor // empty')
	[ -n "$cursor" ] || break
done
expect_eq "pages of big leases cover every lease once" "$(echo $seen)" "$(newest lease)"
[ "$pages" -ge 6 ] || fail "$pages pages: big leases 3, then the other 1,545 at 500 a page"
sql "DELETE FROM lease WHERE owner = 'big'"
stop_server

# ---- streaming: memory stays flat whatever the count ----------------------
add_history 48500 more-history
[ "$(sql 'SELECT count(*) FROM lease')" -ge 50000 ] || fail "setup: fewer than 50,000 leases"
# (an AddressSanitizer build keeps freed memory in quarantine, which would
# be counted; ASAN_OPTIONS means nothing to other builds)
rss() {
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0" \
		/usr/bin/time -f %M -o "$T/rss" "$DD" list leases --all --json --limit "$1" >"$T/page"
	jq -e '.items | length' "$T/page" >/dev/null || fail "list --limit $1: not JSON"
	cat "$T/rss"
}
small=$(rss 1000)
big=$(rss 50000)
expect_eq "50,000 rows listed" "$(grep -c '^{"acquired"' "$T/page")" 50000
# a collected list of 50,000 leases takes hundreds of MB; a streamed one
# about what 1,000 take (give or take SQLite's page cache, at most 2 MB)
[ "$big" -lt $((small * 2)) ] || fail "peak RSS listing 50,000 rows: $big KiB, 1,000 rows: $small KiB"
echo "peak RSS: 1,000 rows $small KiB, 50,000 rows $big KiB"
