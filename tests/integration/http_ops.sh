# What operators and their monitoring see: /livez, /readyz and /metrics
# (Prometheus text format) without a token, figures that match the store,
# counters that move with what happens, and one log line per request and
# per state change.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib_http.sh"

start_server
call 200 "" GET /livez
expect_eq "livez" "$(cat "$T/body")" ok
expect_eq "livez type" "$(header Content-Type)" "text/plain; charset=utf-8"
call 200 "" GET /readyz
# the version `drydock init` says the store has (SQLite's and
# PostgreSQL's migrations are numbered apart)
version=$(dd init | sed -n 's/.*(schema version \([0-9]*\))$/\1/p')
expect_eq "readyz" "$(cat "$T/body")" "ok: store reachable, schema version $version"

# a second server on the port taken: exit 11, and both lines name the
# port asked for (libmicrohttpd's own said "port 0")
set +e
"$DD" serve --listen "127.0.0.1:$PORT" >"$T/second.out" 2>"$T/second.err"
rc=$?
set -e
expect_eq "second server on a taken port" "$rc" 11
grep -q "^drydock: cannot listen on 127.0.0.1:$PORT (is the port in use" "$T/second.err" ||
	fail "taken port message: $(cat "$T/second.err")"
grep -q "port $PORT: Address already in use" "$T/second.err" ||
	fail "taken port, libmicrohttpd's line: $(cat "$T/second.err")"

# well-formed: HELP and TYPE once per family, before its samples, which
# stay together; every sample a known family, a name, labels, a number
check_format() {
	python3 - "$1" <<'EOF'
import re, sys
typed, done, current = {}, set(), None
sample = re.compile(r'^([a-z_:][a-z0-9_:]*)(\{([a-z_]+="[^"\\]*",?)*\})? (-?[0-9.e+-]+|\+Inf|NaN)$')
for n, line in enumerate(open(sys.argv[1]), 1):
    line = line.rstrip("\n")
    m = re.match(r'^# (HELP|TYPE) ([a-z_:][a-z0-9_:]*) (.+)$', line)
    if m:
        kind, name, rest = m.groups()
        if kind == "TYPE":
            assert name not in typed, "line %d: second TYPE for %s" % (n, name)
            assert rest in ("counter", "gauge", "histogram"), line
            typed[name] = rest
            if current:
                done.add(current)
            current = name
        continue
    m = sample.match(line)
    assert m, "line %d: not a sample: %r" % (n, line)
    name = m.group(1)
    family = re.sub(r'_(bucket|sum|count)$', '', name) if typed.get(re.sub(r'_(bucket|sum|count)$', '', name)) == "histogram" else name
    assert family in typed, "line %d: %s has no TYPE" % (n, name)
    assert family == current and family not in done, "line %d: %s is not with its family" % (n, name)
EOF
}
scrape() { curl -sS -D "$T/metrics.headers" -o "$T/metrics" "$URL/metrics"; }
# value NAME{LABELS}: one sample of the last scrape (0 when absent)
value() { awk -v k="$1" '$1 == k { v = $2 } END { print v == "" ? 0 : v }' "$T/metrics"; }

scrape
tr -d '\r' <"$T/metrics.headers" | grep -qi '^content-type: text/plain; version=0.0.4' ||
	fail "metrics content type: $(cat "$T/metrics.headers")"
check_format "$T/metrics" || fail "metrics format: $(cat "$T/metrics")"
for f in leases resources queue_depth tasks_claimed queue_oldest_age_seconds tasks_run_total \
	tasks_finished_total tasks_yielded_total tasks_failed_total tasks_fenced_total \
	commands_consumed_total allocation_seconds store_commits_total http_requests_total \
	http_long_polls_waiting targets artifacts artifact_bytes; do
	grep -q "^# TYPE drydock_$f " "$T/metrics" || fail "no metric family drydock_$f"
	grep -q "^# HELP drydock_$f ." "$T/metrics" || fail "no help for drydock_$f"
done
for s in pending acquired active released broken destroyed; do
	grep -q "^drydock_leases{status=\"$s\"} 0$" "$T/metrics" || fail "no lease status $s"
done
for s in pending active released broken destroyed; do
	grep -q "^drydock_resources{status=\"$s\"} 0$" "$T/metrics" || fail "no resource status $s"
done

# ---- counters move with what happens ---------------------------------------
scrape
u0=$(value 'drydock_http_requests_total{code="401"}')
n0=$(value 'drydock_http_requests_total{code="404"}')
req "" GET /api/v1/leases
req "bad" GET /api/v1/leases
req "" POST /api/v1/leases '{"type": "host"}'
req "$ADMIN" GET /api/v1/nope
scrape
expect_eq "401s counted" "$(value 'drydock_http_requests_total{code="401"}')" $((u0 + 3))
expect_eq "404s counted" "$(value 'drydock_http_requests_total{code="404"}')" $((n0 + 1))
ok0=$(value 'drydock_http_requests_total{code="200"}')
scrape
[ "$(value 'drydock_http_requests_total{code="200"}')" -gt "$ok0" ] || fail "the scrape itself is not counted"

call 201 "$ADMIN" POST /api/v1/blueprints \
	"{\"type\": \"host\", \"name\": \"pool\", \"config\": {\"root\": \"$T/hosts\", \"hosts\": [{\"name\": \"a\", \"slots\": 2}, {\"name\": \"b\"}]}}"
scrape
run0=$(value drydock_tasks_run_total)
done0=$(value 'drydock_commands_consumed_total{outcome="done"}')
alloc0=$(value drydock_allocation_seconds_count)
commits0=$(value drydock_store_commits_total)
ids=""
for i in 1 2 3 4 5; do
	call 201 "$ADMIN" POST /api/v1/leases '{"type": "host", "ttl": 3600}'
	ids="$ids $(j .id)"
done
set -- $ids
for id in "$1" "$2" "$3"; do
	call 200 "$ADMIN" GET "/api/v1/leases/$id?wait=active&timeout=30"
	expect_eq "lease $id" "$(j .status)" active
done
# the other two wait for room; release the first and one of them
call 202 "$ADMIN" POST "/api/v1/leases/$1/release"
call 202 "$ADMIN" POST "/api/v1/leases/$5/release"
call 200 "$ADMIN" GET "/api/v1/leases/$1?wait=destroyed&timeout=30"
call 200 "$ADMIN" GET "/api/v1/leases/$4?wait=active&timeout=30"
expect_eq "lease $4 got the freed slot" "$(j .status)" active
call 200 "$ADMIN" GET "/api/v1/leases/$5?wait=destroyed&timeout=30"
expect_eq "lease $5" "$(j .status)" destroyed
settled() { [ "$(sql "SELECT count(*) FROM task WHERE claimed_by IS NOT NULL OR not_before <= $(date +%s) + 60")" = 0 ]; }
wait_until 20 settled || fail "tasks still running"

scrape
check_format "$T/metrics" || fail "metrics format: $(cat "$T/metrics")"
# leases and resources by status are the store's
i=0
for s in pending acquired active released broken destroyed; do
	expect_eq "leases $s" "$(value "drydock_leases{status=\"$s\"}")" "$(sql "SELECT count(*) FROM lease WHERE status = $i")"
	i=$((i + 1))
done
expect_eq "active leases" "$(value 'drydock_leases{status="active"}')" 3
expect_eq "destroyed leases" "$(value 'drydock_leases{status="destroyed"}')" 2
i=0
for s in pending active released broken destroyed; do
	expect_eq "resources $s" "$(value "drydock_resources{status=\"$s\"}")" "$(sql "SELECT count(*) FROM resource WHERE status = $i")"
	i=$((i + 1))
done
# the queue: the three live leases' expiry tasks, none claimed or due
expect_eq "queue depth" "$(value drydock_queue_depth)" "$(sql 'SELECT count(*) FROM task WHERE claimed_by IS NULL')"
expect_eq "queue depth, by hand" "$(value drydock_queue_depth)" 3
expect_eq "claimed" "$(value drydock_tasks_claimed)" 0
expect_eq "oldest due" "$(value drydock_queue_oldest_age_seconds)" 0.000
[ "$(value drydock_tasks_run_total)" -gt "$run0" ] || fail "tasks_run_total did not move"
[ "$(value drydock_store_commits_total)" -gt "$commits0" ] || fail "store_commits_total did not move"
[ "$(value drydock_tasks_run_total)" -ge "$(value 'drydock_tasks_finished_total{outcome="done"}')" ] ||
	fail "more tasks finished than run"
expect_eq "commands done" "$(value 'drydock_commands_consumed_total{outcome="done"}')" $((done0 + 2))
expect_eq "allocations observed" "$(value drydock_allocation_seconds_count)" $((alloc0 + 4))
expect_eq "+Inf bucket is the count" "$(value 'drydock_allocation_seconds_bucket{le="+Inf"}')" \
	"$(value drydock_allocation_seconds_count)"
grep '^drydock_allocation_seconds_bucket' "$T/metrics" | awk '{ if ($2 < last) exit 1; last = $2 }' ||
	fail "histogram buckets are not cumulative: $(grep bucket "$T/metrics")"
# build targets by status, artifacts by type and the bytes stored are
# the store's: one target aborted with a uri artifact, one building
call 201 "$ADMIN" POST /api/v1/targets '{"name": "metrics-a"}'
ta=$(j .id)
call 201 "$ADMIN" POST "/api/v1/targets/$ta/artifacts" \
	'{"key": "docs", "type": "uri", "data": {"uri": "https://example.org/"}}'
call 202 "$ADMIN" POST "/api/v1/targets/$ta/finish" '{"result": "aborted"}'
call 200 "$ADMIN" GET "/api/v1/targets/$ta?wait=finished&timeout=30"
call 201 "$ADMIN" POST /api/v1/targets '{"name": "metrics-b"}'
scrape
check_format "$T/metrics" || fail "metrics format: $(cat "$T/metrics")"
i=0
for s in building passed failed aborted; do
	expect_eq "targets $s" "$(value "drydock_targets{status=\"$s\"}")" "$(sql "SELECT count(*) FROM target WHERE status = $i")"
	i=$((i + 1))
done
expect_eq "building targets" "$(value 'drydock_targets{status="building"}')" 1
expect_eq "aborted targets" "$(value 'drydock_targets{status="aborted"}')" 1
expect_eq "uri artifacts" "$(value 'drydock_artifacts{type="uri"}')" 1
expect_eq "artifact bytes" "$(value drydock_artifact_bytes)" "$(sql 'SELECT coalesce(sum(size), 0) FROM artifact')"
# metrics say nothing about who owns what
if grep -q "token:" "$T/metrics"; then fail "metrics show an owner"; fi

# ---- log lines: one per request, one per state change ------------------------
grep -Eq '^drydock: http method=GET path="/api/v1/leases" status=401 ms=[0-9.]+ error=unauthorized$' "$T/serve.log" ||
	fail "no log line for the 401"
grep -Eq "^drydock: http method=POST path=\"/api/v1/leases/$1/release\" status=202 ms=[0-9.]+ who=token:admin$" "$T/serve.log" ||
	fail "no log line for the release"
grep -Eq "^drydock: event=lease.activated lease=$4 resource=[0-9]+$" "$T/serve.log" ||
	fail "no log line for lease $4's activation"
grep -Eq "^drydock: event=lease.destroyed lease=$5( |$)" "$T/serve.log" || fail "no log line for lease $5's end"
bad=$(grep -v '^drydock: ' "$T/serve.log" || true)
[ -z "$bad" ] || fail "log lines without the prefix: $bad"

# --quiet: no line per request or state change
stop_server
start_server --quiet
call 200 "$ADMIN" GET /api/v1/whoami
call 202 "$ADMIN" POST "/api/v1/leases/$2/release"
call 200 "$ADMIN" GET "/api/v1/leases/$2?wait=destroyed&timeout=30"
stop_server
if grep -E 'http method=GET path="/api/v1/whoami"|event=lease.destroyed lease='"$2"'( |$)' "$T/serve.log"; then
	fail "--quiet still logs"
fi
# counters start again with the process
start_server
scrape
expect_eq "401s after a restart" "$(value 'drydock_http_requests_total{code="401"}')" 0
expect_eq "leases after a restart" "$(value 'drydock_leases{status="active"}')" 2
stop_server
echo ok
