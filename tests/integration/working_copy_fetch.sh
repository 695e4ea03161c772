# A working copy's fetch into its cache is tried again only when it may
# pass on a retry.  The daemon runs a `git` of the script's own first on
# its PATH: it writes each fetch into a cache to a log, and, while
# $T/lock-once exists, fails one such fetch (once) as git does when
# another fetch into the cache holds a ref lock, and while
# $T/init-lock-once exists, one `git init` as two copies making one cache
# at once do.
#  - a lease whose cache fetch meets that lock succeeds (tried again);
#  - a copy whose cache's init meets the config lock is made (tried
#    again), not broken;
#  - a branch the remote does not have fails at once, clearly, with one
#    fetch, not three;
#  - a URI that is no repository fails each copy that tries it with one
#    fetch too.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib_repos.sh"
make_repos "$T/repos"

real_git=$(command -v git)
mkdir -p "$T/bin"
cat >"$T/bin/git" <<WRAP
#!/bin/sh
case " \$* " in
*" init "*)
	if rm "$T/init-lock-once" 2>/dev/null; then
		echo "error: could not lock config file $T/wc/cache/x.git/config: File exists" >&2
		echo "fatal: could not set 'core.repositoryformatversion' to '0'" >&2
		exit 128
	fi ;;
*" fetch "*)
	case " \$* " in
	*/cache/*)
		echo "\$*" >>"$T/fetches"
		if rm "$T/lock-once" 2>/dev/null; then
			echo "error: cannot lock ref 'refs/heads/main': Unable to create '$T/wc/cache/x.git/refs/heads/main.lock': File exists." >&2
			exit 1
		fi ;;
	esac ;;
esac
exec "$real_git" "\$@"
WRAP
chmod +x "$T/bin/git"
fetches() { if [ -f "$T/fetches" ]; then grep -c . "$T/fetches"; else echo 0; fi; }

host_pool local '[{"name": "a", "slots": 4}]'
dd blueprint create --type working-copy --name wc --config \
	"{\"hosts\": [1], \"root\": \"$T/wc\", \"limit\": 3, \"reclaim_grace\": 0}" >/dev/null
PATH="$T/bin:$PATH" start_daemon

# ---- a ref lock held by another fetch: tried again, and it passes -------------
touch "$T/lock-once"
l1=$(dd lease --type working-copy --attributes "$(src_at '"branch": "main"')" 2>/dev/null) ||
	fail "the lease failed on a ref lock: $(dd show lease "$(sql 'SELECT max(id) FROM lease WHERE type = '"'working-copy'")" 2>&1 | tail -3)"
[ ! -e "$T/lock-once" ] || fail "no fetch met the lock"
expect_eq "after the lock, the commit" "$(dd exec --lease "$l1" -- git rev-parse HEAD)" "$(rev main)"
release "$l1"

# ---- a cache's config lock held by another copy making it: tried again ---------
touch "$T/init-lock-once"
lo=$(dd lease --type working-copy --attributes "{\"repositories\": {\"o\": {\"uri\": \"$OTHER\"}}}" 2>/dev/null) ||
	fail "the lease failed"
[ ! -e "$T/init-lock-once" ] || fail "no git init met the lock"
expect_eq "copies broken by the lock" "$(sql "SELECT count(*) FROM log WHERE type = 'resource.broken'")" 0
expect_eq "the other repository's file" "$(dd exec --lease "$lo" -- cat o/o)" o
release "$lo"

# ---- a branch the remote lacks: one fetch, a clear failure ---------------------
: >"$T/fetches"
lease_fails --attributes "$(src_at '"branch": "no-such-branch"')"
grep -q "src: fetch failed: .*couldn't find remote ref" "$T/err" ||
	fail "a missing branch not said: $(cat "$T/err")"
expect_eq "fetches of a missing branch" "$(fetches)" 1

# ---- a URI that is no repository: one fetch per copy that tried ------------------
: >"$T/fetches"
lease_fails --attributes "{\"repositories\": {\"x\": {\"uri\": \"file://$T/no-such.git\"}}}"
n=$(sql "SELECT count(*) FROM resource WHERE blueprint = 2 AND attributes LIKE '%no-such.git%'")
[ "$n" -ge 1 ] || fail "no copy tried the URI"
sql "SELECT data FROM log WHERE type = 'resource.broken'" |
	grep -q "does not appear to be a git repository" ||
	fail "the copies' failures do not say why: $(sql "SELECT data FROM log WHERE type = 'resource.broken'")"
expect_eq "fetches of no repository (one per copy, $n copies)" "$(fetches)" "$n"
echo "PASS: working_copy_fetch"
