# The end of a run that raced, crashed or lost its store on purpose,
# checked as release_race.sh and crash_recovery.sh check theirs: sourced
# after lib.sh, with sql() querying the run's store (PostgreSQL's through
# lib_pg.sh's pg_store, or SQLite's).
#
# expect_converged OK_TRACES [REPEATABLE]
#   waits (bounded) until every lease and resource is destroyed and no
#   task is queued, then checks that
#   - each lease was released and destroyed exactly once, each resource
#     released and destroyed exactly once (the log entries are written in
#     the transaction that changes the state: they count the transitions);
#   - no slot lock is held and no command is left unconsumed;
#   - each lease that had a resource had its release_lease and
#     destroy_lease hooks run and each resource its destroy_resource hook,
#     and no hook ran twice.  OK_TRACES are the hook traces
#     (DRYDOCK_HOOK_TRACE) to count in.  A hook may run again only where
#     an earlier run could not be committed: a run whose task the daemon
#     reported failed or fenced (its line "task=N kind=K lease=ID ..." in
#     $T/daemon.log or $T/serve.log), or one REPEATABLE lists: a file of
#     trace lines ("HOOK KIND ID"), such as every line a daemon killed
#     with kill -9 traced.  A hook may run once more than such runs
#     explain; any other repeat is a failure, shown with the object's log
#     and its tasks' archive.
#   Prints one line of figures.
expect_converged() {
	local ok=$1 repeatable=${2:-/dev/null} all=$T/converge.hooks
	wait_until 120 all_leases_destroyed ||
		fail "leases left: $(sql 'SELECT id, status FROM lease WHERE status != 5')"
	dd release-resource --all >/dev/null 2>&1 || true
	wait_until 120 all_resources_destroyed ||
		fail "resources left: $(sql 'SELECT id, status FROM resource WHERE status != 4')"
	wait_until 60 queue_empty ||
		fail "tasks left: $(sql 'SELECT * FROM task')"

	# transitions: one query each, not one per object (a process per
	# query costs more than the query on a busy machine)
	bad=$(sql "SELECT l.id, t.type, (SELECT count(*) FROM log g WHERE g.lease = l.id AND g.type = t.type)
		FROM lease l, (VALUES ('lease.released'), ('lease.destroyed')) t(type)
		WHERE (SELECT count(*) FROM log g WHERE g.lease = l.id AND g.type = t.type) != 1")
	[ -z "$bad" ] || fail "leases not released or destroyed exactly once (id|log|times): $(echo $bad | head -c 600)"
	bad=$(sql "SELECT r.id, t.type, (SELECT count(*) FROM log g WHERE g.resource = r.id AND g.lease IS NULL AND g.type = t.type)
		FROM resource r, (VALUES ('resource.released'), ('resource.destroyed')) t(type)
		WHERE (SELECT count(*) FROM log g WHERE g.resource = r.id AND g.lease IS NULL AND g.type = t.type) != 1")
	[ -z "$bad" ] || fail "resources not released or destroyed exactly once (id|log|times): $(echo $bad | head -c 600)"
	expect_eq "slot locks left" "$(sql 'SELECT count(*) FROM slot_lock')" 0
	expect_eq "unconsumed commands" "$(sql 'SELECT count(*) FROM command WHERE consumed = 0')" 0

	# hooks: what must have run, and what ran more than allowed
	{
		sql 'SELECT id FROM lease WHERE resource IS NOT NULL' |
			sed 's/.*/release_lease lease &\ndestroy_lease lease &/'
		sql 'SELECT id FROM resource' | sed 's/^/destroy_resource resource /'
	} | sort >"$T/converge.want"
	# shellcheck disable=SC2086 # OK_TRACES is a list of files
	cat $ok 2>/dev/null | grep -E '^(release|destroy)_' | sort >"$all" || true
	missing=$(sort -u "$all" | comm -23 "$T/converge.want" -)
	[ -z "$missing" ] || fail "hooks that never ran: $(echo $missing | head -c 600)"
	# each reported run of an object's task may have run its hooks
	sed -n 's/^drydock: task=[0-9]* kind=[a-z.]* \(lease\|resource\)=\([0-9]*\) .*/\1 \2/p' \
		"$T/daemon.log" "$T/serve.log" 2>/dev/null |
		sed 's/^lease \(.*\)/release_lease lease \1\ndestroy_lease lease \1/; s/^resource /destroy_resource resource /' |
		cat - "$repeatable" >"$T/converge.allowed"
	twice=$(uniq -c "$all" | awk '$1 > 1 {print $2, $3, $4, $1}' |
		while read -r hook kind id n; do
			allowed=$(grep -cx "$hook $kind $id" "$T/converge.allowed" || true)
			[ "$n" -le $((allowed + 1)) ] || echo "$hook $kind $id ran $n times,"
		done)
	[ -z "$twice" ] || fail "hooks that ran more often than failed, fenced or killed runs explain: $(echo $twice | head -c 600)
$(for o in $(echo "$twice" | awk '{print $2 "=" $3}' | sort -u); do
		kind=${o%=*} id=${o#*=}
		echo "$kind $id's log: $(sql "SELECT type FROM log WHERE $kind = $id ORDER BY id" | tr '\n' ' ')"
		echo "$kind $id's finished tasks: $(sql "SELECT a.kind, a.outcome, a.failures, a.error FROM task_archive a WHERE a.object = $id AND a.kind LIKE '$kind.%' ORDER BY a.id" | tr '\n' ' ')"
	done)
$([ -z "${PG_DIR:-}" ] || grep -h 'ERROR' "$PG_DIR"/*.log 2>/dev/null | sed 's/^[^E]*ERROR/ERROR/' | sort | uniq -c | sort -rn | head -5)"
	reruns=$(uniq -d "$all" | wc -l)
	echo "converged: $(sql 'SELECT count(*) FROM lease') leases, $(sql 'SELECT count(*) FROM resource') resources destroyed once each; $(wc -l <"$all") release and destroy hooks, $reruns of them run again after a run that failed, was fenced or was killed"
}
