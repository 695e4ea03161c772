# Pre-warmed pools, driven like an operator would: a blueprint with
# min_ready fills its pool with no lease; a burst of leases takes the
# ready resources and the pool refills to min_ready within the
# blueprint's hosts; idle_ttl (a short one) lets the idle resources
# beyond min_ready go, by itself (the pass queues itself at the next
# expiry); editing the config grows the pool and, with max_idle, shrinks
# it; a disabled blueprint builds nothing until enabled; an exec
# blueprint (another type) takes the same keys.  The pool shows in 'show
# blueprint', the API, the web UI and /metrics.  Every wait is a poll
# with a deadline; nothing sleeps for the pool.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib_http.sh"

hosts='[{"name": "a"}, {"name": "b"}, {"name": "c"}, {"name": "d"}]'
config() { echo "{\"root\": \"$T/hosts\", \"hosts\": $hosts, $1}"; }

# pool_is BP "READY IN_USE BUILDING RELEASING"
pool_state() {
	dd show blueprint "$1" --json |
		jq -r '[.pool.ready, .pool.in_use, .pool.building, .pool.releasing] | map(tostring) | join(" ")'
}
pool_is() { [ "$(pool_state "$1")" = "$2" ]; }
pool_field() { dd show blueprint "$1" --json | jq -r ".pool.$2"; }

dd blueprint create --type host --name warm --config "$(config '"min_ready": 2, "idle_ttl": 3')" >/dev/null
dd blueprint create --type host --name cold \
	--config "{\"root\": \"$T/cold\", \"hosts\": [{\"name\": \"x\"}, {\"name\": \"y\"}], \"min_ready\": 2}" >/dev/null
dd blueprint disable 2 >/dev/null

# bad settings are refused and change nothing
expect_refused 2 "config: max_idle: must be at least min_ready (2)" \
	dd blueprint edit 1 --config "$(config '"min_ready": 2, "max_idle": 1')"
expect_refused 2 "min_ready" dd blueprint edit 1 --config "$(config '"min_ready": -1')"
expect_refused 2 "idle_ttl" dd blueprint edit 1 --config "$(config '"idle_ttl": "1h"')"
expect_refused 2 "max_idle" dd blueprint edit 1 --config "$(config '"max_idle": 2.5')"

start_server

# min_ready fills the pool with no lease at all
wait_until 30 pool_is 1 "2 0 0 0" || fail "warm pool: $(pool_state 1)"
expect_eq "leases" "$(sql 'SELECT count(*) FROM lease')" 0
expect_eq "pre-warmed" "$(pool_field 1 built)" 2

# the disabled blueprint's pass ran and built nothing
cold_pass_done() { [ "$(sql "SELECT count(*) FROM task_archive WHERE kind = 'blueprint.update' AND object = 2 AND outcome = 'done'")" -gt 0 ]; }
wait_until 30 cold_pass_done || fail "no pass of the disabled blueprint"
expect_eq "disabled pool" "$(pool_state 2)" "0 0 0 0"
expect_eq "disabled resources" "$(sql 'SELECT count(*) FROM resource WHERE blueprint = 2')" 0

# a burst of three leases: two take the ready resources, the pool and the
# third lease share the two hosts left, and the pool refills what the
# hosts allow (4 hosts, 3 in use: 1 ready)
warm_ids=$(sql 'SELECT group_concat(id) FROM resource WHERE blueprint = 1 AND status = 1')
for i in 1 2 3; do
	timeout 60 "$DD" lease --type host --blueprint 1 >"$T/lease$i" 2>>"$T/lease.err" &
	track $!
done
leases_active() { [ "$(sql 'SELECT count(*) FROM lease WHERE status = 2')" = 3 ]; }
wait_until 60 leases_active || fail "burst: $(sql 'SELECT id, status FROM lease')"
wait_until 30 pool_is 1 "1 3 0 0" || fail "after the burst: $(pool_state 1)"
expect_eq "resources ever built" "$(sql 'SELECT count(*) FROM resource WHERE blueprint = 1')" 4
took=$(sql "SELECT count(*) FROM lease WHERE resource IN ($warm_ids)")
expect_eq "leases on pre-warmed resources" "$took" 2
# those two found theirs at once: no lease built or waited for them
for r in ${warm_ids//,/ }; do
	l=$(sql "SELECT id FROM lease WHERE resource = $r")
	expect_eq "lease $l waits" "$(sql "SELECT count(*) FROM log WHERE lease = $l AND type LIKE 'lease.waiting%'")" 0
done

# releasing them leaves 4 idle: idle_ttl lets the 2 beyond min_ready go,
# the oldest idle first (the never-leased one went idle at activation)
never=$(sql "SELECT id FROM resource WHERE blueprint = 1 AND status = 1 AND id NOT IN (SELECT resource FROM lease WHERE resource IS NOT NULL)")
[ -n "$never" ] || fail "no ready resource left after the burst"
dd release-lease --all >/dev/null
wait_until 60 pool_is 1 "2 0 0 0" || fail "after idle_ttl: $(pool_state 1)"
expect_eq "idle destroyed" "$(pool_field 1 destroyed)" 2
expect_eq "never-leased one" "$(resource_status "$never")" destroyed
expect_eq "reclaims for idle_ttl" \
	"$(sql "SELECT count(*) FROM log WHERE type = 'resource.reclaimed' AND json_extract(data, '\$.author') = 'blueprint:1' AND json_extract(data, '\$.reason') = 'idle_ttl'")" 2
# min_ready are kept however long they stay idle: no pass is queued
queue_settled() { [ "$(sql "SELECT count(*) FROM task WHERE kind = 'blueprint.update' AND object = 1")" = 0 ]; }
wait_until 30 queue_settled || fail "a pass still queued: $(sql 'SELECT * FROM task')"

# editing the config grows the pool...
dd blueprint edit 1 --config "$(config '"min_ready": 3, "max_idle": 3')" >/dev/null
wait_until 30 pool_is 1 "3 0 0 0" || fail "grown: $(pool_state 1)"
# ...and max_idle shrinks it
dd blueprint edit 1 --config "$(config '"min_ready": 1, "max_idle": 1')" >/dev/null
wait_until 30 pool_is 1 "1 0 0 0" || fail "shrunk: $(pool_state 1)"
expect_eq "reclaims for max_idle" \
	"$(sql "SELECT count(*) FROM log WHERE type = 'blueprint.reclaim' AND blueprint = 1 AND json_extract(data, '\$.reason') = 'max_idle'")" 2
expect_eq "idle destroyed" "$(pool_field 1 destroyed)" 4

# the text of 'show blueprint'
dd show blueprint 1 >"$T/show"
grep -q '^pool         1 ready, 0 in use, 0 building, 0 releasing$' "$T/show" || fail "show: $(cat "$T/show")"
grep -q '^             min_ready 1, max_idle 1, idle_ttl -$' "$T/show" || fail "show: $(cat "$T/show")"
grep -q "^             $(pool_field 1 built) built ahead of demand, 4 idle destroyed$" "$T/show" ||
	fail "show: $(cat "$T/show")"

# /metrics: gauges and counters per blueprint
curl -sS -o "$T/metrics" "$URL/metrics"
metric() { awk -v k="$1" '$1 == k { print $2 }' "$T/metrics"; }
expect_eq "ready gauge" "$(metric 'drydock_blueprint_ready_resources{blueprint="1",name="warm"}')" 1
expect_eq "min_ready gauge" "$(metric 'drydock_blueprint_min_ready{blueprint="1",name="warm"}')" 1
expect_eq "built counter" "$(metric 'drydock_blueprint_prewarmed_total{blueprint="1",name="warm"}')" "$(pool_field 1 built)"
expect_eq "destroyed counter" "$(metric 'drydock_blueprint_idle_destroyed_total{blueprint="1",name="warm"}')" 4
expect_eq "disabled ready gauge" "$(metric 'drydock_blueprint_ready_resources{blueprint="2",name="cold"}')" 0
for f in blueprint_ready_resources blueprint_min_ready blueprint_prewarmed_total blueprint_idle_destroyed_total; do
	grep -q "^# TYPE drydock_$f " "$T/metrics" || fail "no metric family drydock_$f"
done

# the API's blueprint, with its pool (lists leave it out)
call 200 "$ADMIN" GET /api/v1/blueprints/1
expect_eq "API pool" "$(j '[.pool.ready, .pool.in_use, .pool.min_ready, .pool.max_idle, .pool.idle_ttl, .pool.destroyed] | map(tostring) | join(" ")')" "1 0 1 1 null 4"
call 200 "$ADMIN" GET /api/v1/blueprints
expect_eq "API list without pools" "$(j '[.items[] | has("pool")] | any')" false

# the web UI's blueprint page
curl -sS -o /dev/null -c "$T/jar" --data-urlencode "token=$ADMIN" "$URL/login"
curl -sS -b "$T/jar" -o "$T/page" "$URL/blueprints/1"
grep -q '<dd id="pool-ready">1</dd>' "$T/page" || fail "web: no ready count: $(grep -o '<dl class="props" id="pool">.*</dl>' "$T/page")"
grep -q '<dd id="pool-min_ready">1</dd>' "$T/page" || fail "web: no min_ready"
grep -q '<dd id="pool-idle_ttl">none</dd>' "$T/page" || fail "web: no idle_ttl"
curl -sS -b "$T/jar" -o "$T/page" "$URL/blueprints"
grep -q '<td>1 (min_ready 1)</td>' "$T/page" || fail "web: the list has no ready count: $(cat "$T/page")"

# enabling the disabled blueprint fills its pool
dd blueprint enable 2 >/dev/null
wait_until 30 pool_is 2 "2 0 0 0" || fail "enabled pool: $(pool_state 2)"

# any type takes the keys: an exec blueprint of the example sandbox
# provider keeps one sandbox ready, and lets it go when max_idle drops to
# 0; the provider built it once and removed it once
top=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$T/sb"
sandboxes() {
	echo "{\"resource_type\": \"sandbox\", \"limit\": 2, \"env\": {\"SANDBOX_RECORD\": \"$T/rec\"},
	       \"command\": [\"$top/examples/providers/sandbox.py\", \"--root\", \"$T/sb\"], $1}"
}
dd blueprint create --type exec --name sandboxes --config "$(sandboxes '"min_ready": 1')" >/dev/null
wait_until 30 pool_is 3 "1 0 0 0" || fail "sandbox pool: $(pool_state 3)"
dd blueprint edit 3 --config "$(sandboxes '"max_idle": 0')" >/dev/null
sandboxes_gone() { [ "$(sql 'SELECT count(*) FROM resource WHERE blueprint = 3 AND status != 4')" = 0 ]; }
wait_until 30 sandboxes_gone || fail "sandboxes left: $(pool_state 3)"
expect_eq "sandboxes built" "$(grep -c '^allocate .* created$' "$T/rec")" 1
expect_eq "sandboxes removed" "$(grep -c '^destroy .* removed$' "$T/rec")" 1

expect_eq "failed tasks" "$(sql "SELECT count(*) FROM task_archive WHERE outcome = 'failed'")" 0
expect_eq "unconsumed commands" "$(sql 'SELECT count(*) FROM command WHERE consumed = 0')" 0
stop_server
echo "pool filled, refilled within its hosts, idle_ttl and max_idle let $(pool_field 1 destroyed) go"
