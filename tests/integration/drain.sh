# Draining a resource (`drydock resource drain`, POST
# /api/v1/resources/{id}/drain): it keeps its leases, which go on and end
# as they would, takes no new lease, and stays, holding its host, until it
# is released; a lease waiting meanwhile gets the host only then.  Only an
# admin may drain; a second drain is ignored; an ended resource refuses it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib_http.sh"

host_pool local '[{"name": "a", "slots": 2}]'
start_server
client=$(token builder client)

l1=$(dd lease --type host 2>/dev/null)
rid=$(sql "SELECT resource FROM lease WHERE id = $l1")

# refused: a client, an unknown resource, a body field, bad ids
rejects 403 forbidden "$client" POST "/api/v1/resources/$rid/drain"
rejects 404 not_found "$ADMIN" POST /api/v1/resources/999/drain
rejects 400 invalid "$ADMIN" POST "/api/v1/resources/$rid/drain" '{"now": true}'
expect_refused 2 "needs a resource's id" dd resource drain
expect_refused 2 "bad resource id 'x'" dd resource drain x
expect_refused 3 "999" dd resource drain 999

call 202 "$ADMIN" POST "/api/v1/resources/$rid/drain"
[ "$(j .command.kind)" = drain ] || fail "drain answer: $(cat "$T/body")"
draining() { [ "$(sql "SELECT draining FROM resource WHERE id = $rid")" = 1 ]; }
wait_until 20 draining || fail "resource $rid is not draining"
call 200 "$ADMIN" GET "/api/v1/resources/$rid"
expect_eq "draining in the API" "$(j .draining)" true
dd show resource "$rid" | grep -q '^draining *yes' || fail "show does not say draining"
# the web UI: the resource's page and the list say so
curl -sS -o /dev/null -D "$T/login" -c "$T/jar" --data-urlencode "token=$ADMIN" "$URL/login"
grep -q '^HTTP/1.1 303' "$T/login" || fail "sign-in: $(cat "$T/login")"
curl -sS -b "$T/jar" "$URL/resources/$rid" | grep -q 'id="draining"' ||
	fail "the resource's page does not say draining"
curl -sS -b "$T/jar" "$URL/resources" | grep -q '>Draining<' ||
	fail "the resource list does not say draining"

# the lease on it goes on
out=$(dd exec --lease "$l1" -- echo still)
expect_eq "exec on a draining resource's lease" "$out" still

# a new lease does not get it (slot 2 is free): it waits
l2=$(dd lease --type host --no-wait 2>/dev/null)
waits() { [ "$(sql "SELECT waiting FROM lease WHERE id = $l2")" != 0 ]; }
wait_until 20 waits || fail "lease $l2 is $(lease_status "$l2"), not waiting"
expect_eq "new lease's resource" "$(sql "SELECT ifnull(resource, 0) FROM lease WHERE id = $l2")" 0

# the old lease ends; the resource stays, draining, and still takes none
dd release-lease --id "$l1" >/dev/null
wait_until 20 sql_is 5 "SELECT status FROM lease WHERE id = $l1" ||
	fail "lease $l1 was not destroyed"
expect_eq "drained resource" "$(resource_status "$rid")" active
expect_eq "waiting lease" "$(lease_status "$l2")" pending

# a second drain is taken and ignored
dd resource drain "$rid" | grep -q "queued drain of resource $rid" || fail "second drain not queued"
ignored() { sql "SELECT outcome FROM command WHERE kind = 'drain' ORDER BY id DESC LIMIT 1" | grep -q 'ignored: resource is already draining'; }
wait_until 20 ignored || fail "second drain: $(sql "SELECT outcome FROM command WHERE kind = 'drain'")"

# released, it goes; the waiting lease gets the host on a new resource
dd release-resource --id "$rid" >/dev/null
wait_until 30 sql_is 2 "SELECT status FROM lease WHERE id = $l2" ||
	fail "waiting lease is $(lease_status "$l2") after the drained resource went"
new=$(sql "SELECT resource FROM lease WHERE id = $l2")
[ "$new" != "$rid" ] || fail "the lease got the drained resource"
expect_refused 4 "cannot drain resource $rid: it is already destroyed" dd resource drain "$rid"
log_types=$(sql "SELECT type FROM log WHERE resource = $rid ORDER BY id" | tr '\n' ' ')
case "$log_types" in *resource.draining*resource.released*) ;; *) fail "resource log: $log_types" ;; esac
stop_server
echo "drain: ok"
