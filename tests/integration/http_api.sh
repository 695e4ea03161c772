# The JSON API end to end, used like a client would: every endpoint of
# src/http/api_*.c against a real "drydock serve" on a fresh store.
# Nothing waits on a fixed sleep: the long poll (?wait=STATE) or a bounded
# wait on a condition.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib_http.sh"

start_server
[ -n "${ADMIN:-}" ] || fail "the first serve printed no admin token"
CI=$(token ci client)
VIEW=$(token dash viewer)

# hold_lock OBJECT / drop_lock OBJECT: while an object's named lock is
# held, no worker claims its update, so a queued command stays visible.
# (A worker may hold it for a moment: try until the row goes in.)
hold_lock() { wait_until 20 sql "INSERT INTO lock(name, owner, expires) VALUES ('$1', 'test', $(date +%s) + 3600)" || fail "cannot take lock $1"; }
drop_lock() { sql "DELETE FROM lock WHERE name = '$1'"; }

# ---- who am I -------------------------------------------------------------
call 200 "$ADMIN" GET /api/v1/whoami
expect_eq "whoami" "$(j '[.identity, .role, .token] | join(" ")')" "token:admin admin 1"
call 200 "$CI" GET /api/v1/whoami
expect_eq "whoami ci" "$(j '[.identity, .role] | join(" ")')" "token:ci client"
call 200 "$VIEW" GET /api/v1/whoami
expect_eq "whoami viewer" "$(j .role)" viewer

# ---- blueprints -----------------------------------------------------------
call 200 "$ADMIN" GET /api/v1/blueprints
expect_eq "no blueprints" "$(jq -c . "$T/body")" '{"items":[],"next_cursor":null}'
call 201 "$ADMIN" POST /api/v1/blueprints \
	"{\"type\": \"host\", \"name\": \"pool\", \"config\": {\"root\": \"$T/hosts\", \"hosts\": [{\"name\": \"a\", \"slots\": 2}]}}"
bp=$(j .id)
expect_eq "blueprint Location" "$(header Location)" "/api/v1/blueprints/$bp"
expect_eq "new blueprint" "$(j '[.name, .type, .enabled, (.config.hosts | length)] | join(" ")')" "pool host true 1"
call 201 "$ADMIN" POST /api/v1/blueprints \
	"{\"type\": \"host\", \"name\": \"spare\", \"enabled\": false, \"config\": {\"root\": \"$T/hosts\", \"hosts\": [{\"name\": \"s\"}]}}"
spare=$(j .id)
expect_eq "created disabled" "$(j .enabled)" false
created=$(j '[.created, .modified] | join(" ")')
call 200 "$ADMIN" GET "/api/v1/blueprints/$spare"
expect_eq "shown disabled" "$(j '[.name, .enabled] | join(" ")')" "spare false"
# the answer is the blueprint as stored, made disabled in one step: its
# times are the stored ones and its log has one entry, not an edit
expect_eq "created disabled: times as stored" "$(j '[.created, .modified] | join(" ")')" "$created"
expect_eq "created disabled: log" "$(sql "SELECT type || ' ' || data FROM log WHERE blueprint = $spare")" \
	'blueprint.created {"name":"spare","enabled":false}'
expect_eq "disabled in the store" "$(sql "SELECT enabled FROM blueprint WHERE id = $spare")" 0
call 200 "$ADMIN" GET /api/v1/blueprints
expect_eq "blueprint list, newest first" "$(j '[.items[].name] | join(",")')" "spare,pool"
call 200 "$ADMIN" GET "/api/v1/blueprints/$bp"
expect_eq "blueprint show" "$(j '[.id, .name, .config.hosts[0].name] | join(" ")')" "$bp pool a"

call 200 "$ADMIN" PATCH "/api/v1/blueprints/$bp" '{"name": "main"}'
expect_eq "renamed" "$(j .name)" main
expect_eq "rename keeps config" "$(j '.config.hosts[0].slots')" 2
call 200 "$ADMIN" PATCH "/api/v1/blueprints/$bp" '{"enabled": false}'
expect_eq "disabled" "$(j .enabled)" false
call 200 "$ADMIN" PATCH "/api/v1/blueprints/$bp" \
	"{\"enabled\": true, \"config\": {\"root\": \"$T/hosts\", \"hosts\": [{\"name\": \"a\", \"slots\": 2}, {\"name\": \"b\"}]}}"
expect_eq "enabled with new config" "$(j '[.enabled, ([.config.hosts[].name] | join("+"))] | join(" ")')" "true a+b"
call 200 "$ADMIN" GET "/api/v1/blueprints/$bp"
expect_eq "edits stored" "$(j '[.name, .enabled, (.config.hosts | length)] | join(" ")')" "main true 2"

# ---- a lease, from request to active ---------------------------------------
call 201 "$CI" POST /api/v1/leases \
	"{\"type\": \"host\", \"attributes\": {\"host\": \"a\", \"note\": \"build 7\"}, \"blueprints\": [$bp], \"ttl\": 3600}"
l1=$(j .id)
expect_eq "lease Location" "$(header Location)" "/api/v1/leases/$l1"
expect_eq "new lease" "$(j '[.type, .owner, .attributes.note, (.blueprints | tostring)] | join(" ")')" "host token:ci build 7 [$bp]"
until1=$(j .until)
now=$(date +%s)
u=$(date -d "$until1" +%s)
[ "$u" -ge $((now + 3590)) ] && [ "$u" -le $((now + 3610)) ] || fail "ttl 3600 gave until $until1 (now $now)"

call 200 "$CI" GET "/api/v1/leases/$l1?wait=active&timeout=30"
expect_eq "long poll answers active" "$(j .status)" active
res=$(j .resource)
[ "$res" != null ] || fail "active lease without resource: $(cat "$T/body")"
expect_eq "lease slot lock" "$(j '.slot_locks | join(",")')" "resource:$res:slot:0"
expect_eq "lease not releasing" "$(j .releasing)" false
lpath=$(j .attributes.path)
[ -d "$lpath" ] || fail "lease directory '$lpath' missing"
expect_eq "owner in the CLI" "$(dd show lease "$l1" --json | jq -r .owner)" token:ci

# "until" as a relative time; a lease with no expiry
call 201 "$ADMIN" POST /api/v1/leases "{\"type\": \"host\", \"until\": \"+2h\", \"attributes\": {\"host\": \"a\"}}"
l2=$(j .id)
u=$(date -d "$(j .until)" +%s)
[ "$u" -ge $((now + 7190)) ] && [ "$u" -le $((now + 7210)) ] || fail "until +2h gave $(j .until)"
call 200 "$ADMIN" GET "/api/v1/leases/$l2?wait=active&timeout=30"
expect_eq "second lease active" "$(j .status)" active

# ---- resources --------------------------------------------------------------
call 200 "$VIEW" GET "/api/v1/resources/$res"
expect_eq "resource show" "$(j '[.status, .blueprint, .attributes.host, .releasing] | join(" ")')" "active $bp a false"
expect_eq "resource slot lock" "$(j '.slot_locks | join(",")')" "blueprint:$bp:host:a"
call 200 "$VIEW" GET "/api/v1/resources?status=active"
expect_eq "active resources" "$(j '[.items[].id] | join(",")')" "$res"
call 200 "$VIEW" GET "/api/v1/resources?status=destroyed,broken"
expect_eq "no destroyed resources" "$(j '.items | length')" 0
call 200 "$VIEW" GET "/api/v1/resources?blueprint=$bp"
expect_eq "resources of the blueprint" "$(j '[.items[].id] | join(",")')" "$res"
call 200 "$VIEW" GET "/api/v1/resources?blueprint=$spare"
expect_eq "resources of the spare" "$(j '.items | length')" 0

# ---- exec -------------------------------------------------------------------
call 200 "$CI" POST "/api/v1/leases/$l1/exec" '{"argv": ["sh", "-c", "pwd; echo oops >&2; exit 3"]}'
expect_eq "exec result" "$(j '[.exit_status, .timed_out, .stdout_truncated, .stderr_truncated] | join(" ")')" "3 false false false"
expect_eq "exec stdout (runs in the lease directory)" "$(j .stdout)" "$lpath"
expect_eq "exec stderr" "$(j .stderr)" oops

call 200 "$CI" POST "/api/v1/leases/$l1/exec" \
	'{"argv": ["sh", "-c", "head -c 1500000 /dev/zero | tr \"\\\\000\" x; echo done >&2"]}'
expect_eq "big output" "$(j '[(.stdout | length), .stdout_truncated, .stderr, .stderr_truncated, .exit_status] | join(" ")')" \
	"1048576 true done
 false 0"
expect_eq "kept output is the command's" "$(j '.stdout | test("^x+$")')" true

call 200 "$CI" POST "/api/v1/leases/$l1/exec" \
	"{\"argv\": [\"sh\", \"-c\", \"echo \$\$ >'$T/exec.pid'; echo started; exec sleep 120\"], \"timeout\": 1}"
expect_eq "timed out" "$(j '[.timed_out, .exit_status, .stdout] | join(" ")')" "true 137 started"
pid=$(cat "$T/exec.pid")
wait_until 10 sh -c "! kill -0 $pid" || fail "the timed-out command $pid still runs"

# ---- extend -----------------------------------------------------------------
call 202 "$CI" POST "/api/v1/leases/$l1/extend" '{"ttl": 7200}'
expect_eq "extend command" "$(j '[.command.kind, .command.target_kind, .command.target, .command.author, .command.consumed] | join(" ")')" \
	"extend lease $l1 token:ci false"
[ "$(j .command.data.until)" != null ] || fail "extend command without until: $(cat "$T/body")"
extended() { lease_get "$l1" && [ "$(j .until)" != "$until1" ]; }
wait_until 20 extended || fail "extend did not change until ($until1)"
u=$(date -d "$(j .until)" +%s)
[ "$u" -ge $((now + 7190)) ] || fail "extended until $(j .until) is not 2 h away"
call 202 "$ADMIN" POST "/api/v1/leases/$l1/extend" '{"until": "+2h30m"}'
consumed() { [ "$(sql "SELECT count(*) FROM command WHERE target = $l1 AND target_kind = 3 AND consumed = 0")" = 0 ]; }
wait_until 20 consumed || fail "extend commands not consumed"

# ---- release, with the command visible while queued -------------------------
hold_lock "lease:$l1"
call 202 "$CI" POST "/api/v1/leases/$l1/release"
expect_eq "release command" "$(j '[.command.kind, .command.target, .command.author, .command.consumed, .command.outcome] | join(" ")')" \
	"release $l1 token:ci false "
relcmd=$(j .command.id)
lease_get "$l1"
expect_eq "releasing while queued" "$(j '[.status, .releasing] | join(" ")')" "active true"
call 200 "$ADMIN" GET /api/v1/tasks
jq -e --argjson l "$l1" '.items | any(.kind == "lease.update" and .object_kind == "lease" and .object == $l)' \
	"$T/body" >/dev/null || fail "lease $l1's update is not in /api/v1/tasks: $(cat "$T/body")"
expect_eq "task list page" "$(j '.next_cursor')" null
drop_lock "lease:$l1"
dd update-lease --id "$l1" >/dev/null
call 200 "$CI" GET "/api/v1/leases/$l1?wait=destroyed&timeout=30"
expect_eq "released lease ends destroyed" "$(j '[.status, .releasing, (.slot_locks | length)] | join(" ")')" "destroyed false 0"

# its command queue and log
call 200 "$VIEW" GET "/api/v1/leases/$l1/commands"
expect_eq "lease commands" "$(j '[.items[] | "\(.kind):\(.consumed):\(.outcome)"] | join(",")')" \
	"extend:true:done,extend:true:done,release:true:done"
expect_eq "release command id" "$(j '.items[2].id')" "$relcmd"
call 200 "$VIEW" GET "/api/v1/leases/$l1/commands?limit=1"
expect_eq "commands page 1" "$(j '[(.items | length), .items[0].kind] | join(" ")')" "1 extend"
c=$(j .next_cursor)
call 200 "$VIEW" GET "/api/v1/leases/$l1/commands?limit=2&cursor=$c"
expect_eq "commands page 2" "$(j '[.items[].kind, .next_cursor] | join(" ")')" "extend release "
call 200 "$VIEW" GET "/api/v1/leases/$l1/log?limit=500"
types=$(j '[.items[].type] | join(",")')
for t in lease.queued lease.acquired lease.activated lease.extended lease.released lease.destroyed; do
	case ",$types," in *",$t,"*) ;; *) fail "lease log lacks $t: $types" ;; esac
done
expect_eq "log is newest first" "$(j '[.items[].id] == ([.items[].id] | sort | reverse)')" true
expect_eq "log entries are the lease's" "$(j "[.items[].lease] | unique | join(\",\")")" "$l1"

# ---- release a resource ------------------------------------------------------
hold_lock "resource:$res"
call 202 "$ADMIN" POST "/api/v1/resources/$res/release"
expect_eq "resource release command" "$(j '[.command.kind, .command.target_kind, .command.target, .command.author] | join(" ")')" \
	"release resource $res token:admin"
call 200 "$VIEW" GET "/api/v1/resources/$res"
expect_eq "resource releasing" "$(j '[.status, .releasing] | join(" ")')" "active true"
drop_lock "resource:$res"
dd update-resource --id "$res" >/dev/null
call 200 "$ADMIN" GET "/api/v1/leases/$l2?wait=destroyed&timeout=30"
expect_eq "lease on a released resource" "$(j .status)" destroyed
res_gone() { call 200 "$VIEW" GET "/api/v1/resources/$res" && [ "$(j .status)" = destroyed ]; }
wait_until 30 res_gone || fail "resource $res not destroyed: $(cat "$T/body")"
expect_eq "destroyed resource holds nothing" "$(j '[.releasing, (.slot_locks | length)] | join(" ")')" "false 0"
call 200 "$VIEW" GET "/api/v1/resources/$res/commands"
expect_eq "resource commands" "$(j '[.items[] | "\(.kind):\(.outcome)"] | join(",")')" "release:done"
call 200 "$VIEW" GET "/api/v1/resources/$res/log?limit=500"
types=$(j '[.items[].type] | join(",")')
for t in resource.allocated resource.activated resource.released resource.destroyed; do
	case ",$types," in *",$t,"*) ;; *) fail "resource log lacks $t: $types" ;; esac
done
call 200 "$VIEW" GET "/api/v1/resources?status=destroyed"
expect_eq "destroyed resources" "$(j '[.items[].id] | join(",")')" "$res"

# ---- lease lists: filters, and pages that cover every lease once -------------
for i in 1 2 3 4 5 6 7; do
	call 201 "$CI" POST /api/v1/leases "{\"type\": \"host\", \"blueprints\": [$bp], \"attributes\": {\"n\": $i}}"
	call 202 "$CI" POST "/api/v1/leases/$(j .id)/release"
done
call 201 "$ADMIN" POST /api/v1/leases "{\"type\": \"host\", \"blueprints\": [$bp]}"
l3=$(j .id)
call 200 "$ADMIN" GET "/api/v1/leases/$l3?wait=active&timeout=30"
expect_eq "third lease active" "$(j .status)" active
all=$(sql 'SELECT group_concat(id) FROM (SELECT id FROM lease ORDER BY id DESC) AS s')
seen="" cursor="" pages=0
while :; do
	call 200 "$VIEW" GET "/api/v1/leases?limit=3${cursor:+&cursor=$cursor}"
	n=$(j '.items | length')
	[ "$n" -ge 1 ] && [ "$n" -le 3 ] || fail "page of $n leases"
	seen="$seen${seen:+,}$(j '[.items[].id] | join(",")')"
	pages=$((pages + 1))
	cursor=$(j '.next_cursor // empty')
	[ -n "$cursor" ] || break
	[ "$pages" -lt 10 ] || fail "pagination does not end: $seen"
done
expect_eq "pages walk every lease once, newest first" "$seen" "$all"
expect_eq "page count" "$pages" 4
call 200 "$VIEW" GET "/api/v1/leases?limit=500"
expect_eq "one big page" "$(j '[.items[].id] | join(",")'),$(j .next_cursor)" "$all,null"

call 200 "$VIEW" GET "/api/v1/leases?owner=token:ci&limit=500"
expect_eq "leases by owner" "$(j '[.items[].id] | join(",")')" \
	"$(sql "SELECT group_concat(id) FROM (SELECT id FROM lease WHERE owner = 'token:ci' ORDER BY id DESC) AS s")"
expect_eq "owner filter" "$(j '[.items[].owner] | unique | join(",")')" token:ci
call 200 "$VIEW" GET "/api/v1/leases?owner=token:nobody"
expect_eq "unknown owner" "$(j '.items | length')" 0
# the released leases end destroyed; wait for the last one (a long poll)
call 200 "$VIEW" GET "/api/v1/leases/$((l3 - 1))?wait=destroyed&timeout=30"
wait_until 30 sql_is 1 "SELECT count(*) FROM lease WHERE status != 5" ||
	fail "released leases not destroyed"
call 200 "$VIEW" GET "/api/v1/leases?status=active"
expect_eq "active leases" "$(j '[.items[].id] | join(",")')" "$l3"
call 200 "$VIEW" GET "/api/v1/leases?status=active,destroyed&limit=500"
expect_eq "active or destroyed" "$(j '.items | length')" "$(sql 'SELECT count(*) FROM lease')"
call 200 "$VIEW" GET "/api/v1/leases?status=destroyed&owner=token:admin"
expect_eq "destroyed, by admin" "$(j '[.items[].id] | join(",")')" "$l2"

# a long poll that times out answers with the lease as it is
call 200 "$VIEW" GET "/api/v1/leases/$l3?wait=destroyed&timeout=0.2"
expect_eq "timed-out long poll" "$(j .status)" active

stop_server
expect_eq "no claimed task left" "$(sql 'SELECT count(*) FROM task WHERE claimed_by IS NOT NULL')" 0
echo ok
