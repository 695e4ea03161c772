# A client token must not be as strong as drydock's user.  The local host
# type ran lease commands as drydock's own user, who can read and write
# the store: a client's `exec` could read every token hash, or run
# `drydock token create --role admin` and become an admin.  With `run_as`
# in the blueprint's config, commands run as that unprivileged user (here
# `nobody`), with its own groups, a clean environment and a lease
# directory of its own, and the store is out of its reach.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib_http.sh"

if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null ||
	! getent passwd nobody >/dev/null; then
	echo "SKIPPED: run_as needs root, setpriv and a user 'nobody'" >&2
	echo "SKIPPED: run_as needs root, setpriv and a user 'nobody'"
	exit 0
fi
NOBODY=$(id -u nobody)

# the store in a 0700 directory of its own; the hosts beside it, reachable
chmod 711 "$T"
mkdir -m 700 "$T/state"
export DRYDOCK_DB="$T/state/dd.db"
dd init >/dev/null
mkdir -p "$T/bin"
cp "$DD" "$T/bin/drydock"
chmod 755 "$T/bin" "$T/bin/drydock"

cfg() { echo "{\"root\": \"$T/hosts\", \"hosts\": [{\"name\": \"a\", \"slots\": 2}]$1}"; }
bp_create() { dd blueprint create --type host --name "$1" --config "$2"; }

# ---- a config that cannot work is refused, and nothing is stored -----------
expect_refused 2 "config: run_as: no such user 'no-such-user-dd'" \
	bp_create bad "$(cfg ', "run_as": "no-such-user-dd"')"
expect_refused 2 "config: run_as: user 'root' is root; name an unprivileged user" \
	bp_create bad "$(cfg ', "run_as": "root"')"
expect_refused 2 "config: run_as: must be a user name" \
	bp_create bad "$(cfg ', "run_as": 65534')"
expect_refused 2 "config: run_as: must be a user name" \
	bp_create bad "$(cfg ', "run_as": ""')"
expect_refused 2 "config: run_as: needs a 'root' outside the store's directory" \
	bp_create bad '{"hosts": [{"name": "a"}], "run_as": "nobody"}'
# drydock without the privilege to switch users refuses it too (uid 61003,
# with a store of its own)
as_user() {
	setpriv --reuid=61003 --regid=61003 --clear-groups \
		env -i PATH=/usr/bin:/bin HOME=/ DRYDOCK_DB="$T/u/state/dd.db" "$@"
}
mkdir -p "$T/u"
chown 61003:61003 "$T/u"
as_user "$T/bin/drydock" init >/dev/null
if as_user "$T/bin/drydock" blueprint create --type host --name p \
	--config "$(cfg ', "run_as": "nobody"')" >"$T/out" 2>"$T/err"; then
	fail "an unprivileged drydock took run_as"
fi
grep -q "config: run_as: needs drydock to run as root (or with CAP_SETUID, CAP_SETGID, CAP_CHOWN, CAP_DAC_OVERRIDE and CAP_FOWNER) to run commands as 'nobody'" "$T/err" ||
	fail "unclear refusal: $(cat "$T/err")"
expect_eq "blueprints after refusals" "$(sql 'SELECT count(*) FROM blueprint')" 0

# ---- commands run as nobody ---------------------------------------------------
bp=$(bp_create pool "$(cfg ', "run_as": "nobody"')" | sed -n 's/^created blueprint \([0-9]*\).*/\1/p')
[ -n "$bp" ] || fail "blueprint not created"
start_server
CI=$(token ci client)
call 201 "$CI" POST /api/v1/leases '{"type": "host"}'
l1=$(j .id)
call 200 "$CI" GET "/api/v1/leases/$l1?wait=active&timeout=30"
expect_eq "lease active" "$(j .status)" active
lpath=$(j .attributes.path)
expect_eq "lease directory owner and mode" "$(stat -c '%u %a' "$lpath")" "$NOBODY 700"
expect_eq "host root passable" "$(stat -c '%a' "$T/hosts")" 711

exec_ok() { # ARGV_JSON: run it as the client; it must exit 0
	call 200 "$CI" POST "/api/v1/leases/$l1/exec" "{\"argv\": $1}"
	[ "$(j .exit_status)" = 0 ] || fail "exec $1: exit $(j .exit_status): $(j .stderr)"
}
exec_ok '["id", "-u"]'
expect_eq "uid" "$(j .stdout)" "$NOBODY"
exec_ok '["sh", "-c", "id -G; pwd; touch f; stat -c %u f"]'
expect_eq "groups, directory, file owner" "$(j .stdout)" "$(id -G nobody)
$lpath
$NOBODY"
exec_ok '["env"]'
expect_eq "environment" "$(j .stdout | grep . | sort | tr '\n' ' ')" \
	"DRYDOCK_LEASE=$l1 DRYDOCK_LEASE_PATH=$lpath HOME=$(getent passwd nobody | cut -d: -f6) LOGNAME=nobody PATH=/usr/local/bin:/usr/bin:/bin SHELL=$(getent passwd nobody | cut -d: -f7) USER=nobody "
# the store is out of reach: no reading it, no admin token from it
call 200 "$CI" POST "/api/v1/leases/$l1/exec" "{\"argv\": [\"cat\", \"$DRYDOCK_DB\"]}"
[ "$(j .exit_status)" != 0 ] || fail "nobody read the store"
j .stderr | grep -q 'Permission denied' || fail "cat: $(j .stderr)"
call 200 "$CI" POST "/api/v1/leases/$l1/exec" \
	"{\"argv\": [\"$T/bin/drydock\", \"token\", \"create\", \"--db\", \"$DRYDOCK_DB\", \"--name\", \"evil\", \"--role\", \"admin\"]}"
[ "$(j .exit_status)" != 0 ] || fail "nobody made a token: $(j .stdout)"
expect_eq "tokens named evil" "$(sql "SELECT count(*) FROM token WHERE name = 'evil'")" 0
# `drydock exec` from the CLI goes the same way
expect_eq "CLI exec uid" "$(dd exec --lease "$l1" -- id -u)" "$NOBODY"
# ---- files go through the same user: written as nobody, the store out of reach -----
printf 'up\n' >"$T/up.txt"
dd cp "$T/up.txt" "$l1:cp/up.txt"
expect_eq "cp upload owner" "$(stat -c %u "$lpath/cp/up.txt")" "$NOBODY"
expect_eq "cp upload" "$(cat "$lpath/cp/up.txt")" up
call 201 "$CI" PUT "/api/v1/leases/$l1/files/api.txt" "" -T "$T/up.txt"
expect_eq "API upload owner" "$(stat -c %u "$lpath/api.txt")" "$NOBODY"
mkdir -p "$T/tree/sub" && echo t >"$T/tree/sub/t"
dd cp -r "$T/tree" "$l1:tree"
expect_eq "cp -r owner" "$(stat -c %u "$lpath/tree/sub/t")" "$NOBODY"
dd cp "$l1:cp/up.txt" "$T/down.txt"
expect_eq "cp download" "$(cat "$T/down.txt")" up
# the store is out of nobody's sight; a root-only file in the lease, of its reading
expect_refused 3 "no such file or directory" dd cp "$l1:$DRYDOCK_DB" "$T/stolen.db"
[ ! -e "$T/stolen.db" ] || fail "nobody copied the store out"
rejects 404 not_found "$CI" GET "/api/v1/leases/$l1/files/$DRYDOCK_DB"
echo secret >"$lpath/secret" && chmod 600 "$lpath/secret"
expect_refused 11 "cannot read 'secret' on lease $l1: .*Permission denied" \
	dd cp "$l1:secret" "$T/secret"
rejects 500 io_error "$CI" GET "/api/v1/leases/$l1/files/secret"
rejects 500 io_error "$CI" PUT "/api/v1/leases/$l1/files/$T/state/x" "" --data-binary x \
	-H 'Content-Type: application/octet-stream'
[ ! -e "$T/state/x" ] || fail "nobody wrote into the store's directory"
# a missing program is reported as before
call 400 "$CI" POST "/api/v1/leases/$l1/exec" '{"argv": ["no-such-program-dd"]}'
j .error.message | grep -q "cannot run 'no-such-program-dd' on lease $l1 as 'nobody': No such file or directory" ||
	fail "missing program: $(cat "$T/body")"

# ---- a store directory opened up is refused, with the reason ----------------
chmod 755 "$T/state"
call 500 "$CI" POST "/api/v1/leases/$l1/exec" '{"argv": ["true"]}'
j .error.message | grep -q "'run_as' user 'nobody' could open the store: its directory '$T/state' (uid 0, mode 0755) must be 0700" ||
	fail "open store directory: $(cat "$T/body")"
# and a lease is not handed out on it: it breaks, saying why
set +e
dd lease --type host >"$T/out" 2>"$T/err"
rc=$?
set -e
expect_eq "lease while the store is open" "$rc" 12
grep -q "could open the store" "$T/err" || fail "broken lease: $(cat "$T/err")"
chmod 700 "$T/state"
exec_ok '["true"]'

# ---- release: the lease's directory, nobody's files and all, is removed -----
call 202 "$CI" POST "/api/v1/leases/$l1/release"
call 200 "$CI" GET "/api/v1/leases/$l1?wait=destroyed&timeout=30"
expect_eq "lease destroyed" "$(j .status)" destroyed
[ ! -e "$lpath" ] || fail "lease directory '$lpath' left behind"
stop_server
echo ok
