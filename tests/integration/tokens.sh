# API tokens through the CLI: the secret is shown once and never stored,
# list never shows a hash, revoke sticks, and bad input changes nothing.
. "$(dirname "$0")/../lib.sh"

# create prints the secret once, and says it cannot be shown again
dd token create --name root --role admin >"$T/root.out"
grep -q "^created token 1 'root' (admin)$" "$T/root.out" || fail "create: $(cat "$T/root.out")"
grep -q "cannot be shown again" "$T/root.out" || fail "no warning: $(cat "$T/root.out")"
root=$(sed -n 's/^secret: //p' "$T/root.out")
echo "$root" | grep -Eq '^ddt_[A-Za-z0-9_-]{43}$' || fail "secret looks wrong: '$root'"

dd token create --name ci-01 --role client --json >"$T/ci.json" 2>"$T/ci.err"
ci=$(sed -n 's/^ *"secret": "\(.*\)",*$/\1/p' "$T/ci.json")
echo "$ci" | grep -Eq '^ddt_[A-Za-z0-9_-]{43}$' || fail "json secret: $(cat "$T/ci.json")"
grep -q '"role": "client"' "$T/ci.json" || fail "json role: $(cat "$T/ci.json")"
grep -q "cannot be shown again" "$T/ci.err" || fail "no warning with --json"
dd token create --name dash@example.org --role viewer >/dev/null

# only the SHA-256 of each secret reaches the store
for s in "$root" "$ci"; do
	if sql .dump | grep -qF "${s#ddt_}"; then fail "secret $s is in the store"; fi
	h=$(printf %s "$s" | sha256sum | cut -d' ' -f1)
	expect_eq "stored hash" "$(sql "SELECT count(*) FROM token WHERE hash = '$h'")" 1
done
for f in "$DRYDOCK_DB"*; do
	if grep -qF "${root#ddt_}" "$f"; then fail "secret in $f"; fi
done

# list: every token, never a hash or secret
dd token list >"$T/list"
expect_eq "list lines" "$(wc -l <"$T/list")" 4
head -1 "$T/list" | grep -q "ID *ROLE *CREATED *LAST USED *REVOKED *NAME" || fail "header: $(head -1 "$T/list")"
grep -Eq "^3 +viewer .* dash@example.org$" "$T/list" || fail "list: $(cat "$T/list")"
dd token list --json >"$T/list.json"
expect_eq "json tokens" "$(grep -c '"name"' "$T/list.json")" 3
for f in "$T/list" "$T/list.json"; do
	if grep -q hash "$f"; then fail "$f shows a hash"; fi
	for h in $(sql 'SELECT hash FROM token'); do
		if grep -qF "$h" "$f"; then fail "$f shows hash $h"; fi
	done
	if grep -qF "${ci#ddt_}" "$f"; then fail "$f shows a secret"; fi
done

# revoke by name and by id; revoked tokens stay listed, marked
dd token revoke ci-01 >"$T/out"
expect_eq "revoke output" "$(cat "$T/out")" "revoked token 2 'ci-01' (client)"
dd token revoke 3 --json >"$T/out"
grep -q '"revoked": "20' "$T/out" || fail "revoke --json: $(cat "$T/out")"
expect_eq "revoked rows" "$(sql 'SELECT group_concat(name) FROM (SELECT name FROM token WHERE revoked > 0 ORDER BY id) AS s')" "ci-01,dash@example.org"
expect_eq "live rows" "$(sql 'SELECT name FROM token WHERE revoked = 0')" root
dd token list | grep -Eq "^2 +client +[0-9TZ:.-]+ +- +20[0-9TZ:.-]+ +ci-01$" || fail "revoked in list: $(dd token list)"

# bad input: a clear error, its exit status, and nothing changed
expect_refused 2 "unknown role 'boss' (known: viewer, client, admin)" dd token create --name x --role boss
expect_refused 2 "invalid token name 'a b'" dd token create --name 'a b' --role admin
expect_refused 2 "invalid token name 'x/y'" dd token create --name x/y --role admin
expect_refused 2 "cannot be all digits" dd token create --name 42 --role admin
expect_refused 2 "too long" dd token create --name "$(printf 'n%.0s' $(seq 65))" --role admin
expect_refused 2 "a token needs a name" dd token create --name '' --role admin
expect_refused 5 "token name 'root' is already taken" dd token create --name root --role viewer
expect_refused 5 "token name 'ci-01' is already taken" dd token create --name ci-01 --role client
expect_refused 3 "no such token: 'nobody'" dd token revoke nobody
expect_refused 3 "no such token: 9" dd token revoke 9
expect_refused 4 "cannot revoke token 2 'ci-01': it is already revoked" dd token revoke ci-01
expect_refused 2 "needs --name and --role" dd token create --name x
expect_refused 2 "needs a token's name or id" dd token revoke
expect_refused 2 "'token list' takes no option '--role'" dd token list --role admin
expect_refused 2 "unknown token command 'delete'" dd token delete root
expect_refused 7 "does not exist: run 'drydock init'" dd --db "$T/nope.db" token list

# --help explains the roles
dd token --help | grep -q "client  also asks for leases" || fail "help lacks roles"
dd --help | grep -q "^  token  " || fail "drydock --help lacks token"
echo ok
