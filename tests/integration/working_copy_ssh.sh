# The working-copy blueprint on a remote host: a host blueprint pointing
# at the test sshd (tests/lib_sshd.sh; skipped, saying so, where no sshd
# can run), a working-copy blueprint on it, repositories on the host
# reached with file:// there.  Every git command goes over SSH through
# the host lease's command interface: a lease at a branch (exec prints
# the commit, the copy and the cache are on the host, the copy borrows
# the cache's objects), a second lease at a commit on the same copy
# (fetched, not cloned, ignored files gone), a merge that conflicts (a
# clear failure), and the copy's directory removed from the host when
# it is reclaimed, its cache kept.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib_sshd.sh"
. "$(dirname "$0")/../lib_repos.sh"
sshd_require
sshd_start

# the repositories live on the host, as its user's
make_repos "$SSHD_HOME/repos"
[ "$(id -u)" != 0 ] || chown -R "$SSHD_UID:$SSHD_UID" "$SSHD_HOME/repos/src.git" "$SSHD_HOME/repos/other.git"
ROOT=$SSHD_HOME/wc
dd blueprint create --type host --name remote --config "{\"hosts\": [{\"name\": \"r1\", \"address\": \"127.0.0.1\", \"port\": $SSHD_PORT, \"user\": \"$SSHD_USER\", \"key\": \"$SSHD_KEY\", \"root\": \"$SSHD_HOME/hosts\", \"slots\": 2}]}" >/dev/null
dd blueprint create --type working-copy --name wc --config \
	"{\"hosts\": [1], \"root\": \"$ROOT\", \"reclaim_grace\": 0}" >/dev/null
start_daemon
resource_gone() { [ "$(resource_status "$1")" = destroyed ]; }

l1=$(dd lease --type working-copy --attributes "$(src_at '"branch": "main"')" 2>"$T/err") ||
	fail "lease over SSH: $(cat "$T/err")"
r1=$(lease_resource "$l1")
# an SSH host is reachable from anywhere: its copies live on no machine
expect_eq "the copy's machine" "$(sql "SELECT coalesce(machine, '-') FROM resource WHERE id = $r1")" -
expect_eq "exec over SSH prints the commit" "$(dd exec --lease "$l1" -- git rev-parse HEAD)" "$(rev main)"
expect_eq "the copy's directory" "$(dd exec --lease "$l1" -- pwd)" "$ROOT/wc-$r1/src"
cache=$ROOT/cache/$(printf %s "$SRC" | sha256sum | cut -d' ' -f1).git
expect_eq "the copy borrows the cache" "$(sshd_run cat "$ROOT/wc-$r1/src/.git/objects/info/alternates")" "$cache/objects"
dd exec --lease "$l1" -- sh -c 'echo x >junk.o && touch .git/drydock-test-mark'
release "$l1"

l2=$(dd lease --type working-copy --attributes "$(src_at "\"commit\": \"$(rev v1)\"")" 2>/dev/null)
expect_eq "same copy" "$(lease_resource "$l2")" "$r1"
sshd_run test -e "$ROOT/wc-$r1/src/.git/drydock-test-mark" || fail "the copy was cloned again"
sshd_run test ! -e "$ROOT/wc-$r1/src/junk.o" || fail "an ignored file of the last lease is there"
expect_eq "commit over SSH" "$(dd exec --lease "$l2" -- git rev-parse HEAD)" "$(rev v1)"
release "$l2"

lease_fails --attributes "$(src_at "\"branch\": \"main\", \"merges\": [{\"uri\": \"$SRC\", \"ref\": \"conflict\"}]")"
grep -q "src: merge failed: .*CONFLICT" "$T/err" || fail "conflict not said: $(cat "$T/err")"

# the idle copy reclaimed: its directory goes from the host, the cache stays
dd reclaim >/dev/null
wait_until 30 resource_gone "$r1" || fail "the copy was not destroyed"
sshd_run test ! -d "$ROOT/wc-$r1" || fail "the reclaimed copy's directory is still on the host"
sshd_run test -d "$cache" || fail "the cache went with the copy"
wait_until 30 all_leases_destroyed || fail "leases left"
echo "PASS: working_copy_ssh"
