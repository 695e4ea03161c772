# The docs say what the program does.  Each check below takes a kind of
# statement from docs/ or README.md that once drifted from the program
# and compares it with the program itself: usage synopses against --help,
# the schema version `init` prints, the keys of every log entry's data
# against state-machines.md's table, the locked-store message, the
# packages install-deps.sh installs, every DRYDOCK_* variable, and the
# README's shell steps.
. "$(dirname "$0")/../lib.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
docs=$top/docs

# ---- usage: cli.md's synopses are what --help prints -------------------------
# Each ```usage: drydock CMD``` block of cli.md starts with the synopsis
# `drydock CMD --help` prints, its option lines are the program's, and
# every option the program lists is in its synopsis.
python3 - "$DD" "$docs/cli.md" <<'EOF' || fail "cli.md and --help disagree"
import re, subprocess, sys
drydock, path = sys.argv[1], sys.argv[2]
doc = open(path).read()
bad = []
for block in re.findall(r"```\n(usage: drydock [a-z].*?)```", doc, re.S):
    said = block.split("\n\n")[0].rstrip("\n")
    cmds = re.findall(r"^\s*usage: drydock ([a-z-]+)", block, re.M)
    lines = []  # every line the block's commands print for --help
    for cmd in cmds:
        out = subprocess.run([drydock, cmd, "--help"], capture_output=True,
                             text=True).stdout
        lines += out.splitlines()
        synopsis = out.split("\n\n")[0].rstrip("\n")
        if len(cmds) > 1:
            if not re.search("^" + re.escape(synopsis) + "$", block, re.M):
                bad.append(f"{cmd}: cli.md lacks the synopsis {synopsis!r}")
        elif said != synopsis:
            bad.append(f"{cmd}: cli.md says {said!r}, --help {synopsis!r}")
        for opt in re.findall(r"^  (--[a-z-]+)", out, re.M):
            if opt not in synopsis:
                bad.append(f"{cmd}: {opt} is not in the synopsis")
    for line in re.findall(r"^  --.*$", block, re.M):
        if line not in lines:
            bad.append(f"{cmds}: cli.md's option line {line!r} is not --help's")
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
EOF

# ---- init: the schema version cli.md shows ---------------------------------
dd --db "$T/new.db" init >"$T/out"
version=$(sed -n "s/^created store '.*' (schema version \([0-9]*\))$/\1/p" "$T/out")
[ -n "$version" ] || fail "init printed: $(cat "$T/out")"
dd --db "$T/new.db" init >"$T/out"
expect_eq "init again" "$(cat "$T/out")" "store '$T/new.db' is up to date (schema version $version)"
for line in "created store 'PATH' (schema version $version)" \
	"store 'PATH' is up to date (schema version $version)"; do
	grep -qxF "$line" "$docs/cli.md" || fail "cli.md lacks the line '$line'"
done

# ---- log entries: every key of their data is in state-machines.md ------------
# A lease's whole life, an extension, a disabled and an edited blueprint,
# a reclaimed resource: then each entry type's keys against its table row.
host_pool pool '[{"name": "a"}]'
dd blueprint create --type host --name off --config '{"hosts": [{"name": "b"}]}' >/dev/null
dd blueprint disable 2 >/dev/null
start_daemon
id=$(dd lease --type host --ttl 1h 2>/dev/null)
dd extend-lease --id "$id" --ttl 2h >/dev/null
extended() { [ "$(sql "SELECT count(*) FROM log WHERE type = 'lease.extended'")" = 1 ]; }
wait_until 20 extended || fail "lease $id not extended"
dd release-lease --id "$id" >/dev/null
wait_until 20 all_leases_destroyed || fail "lease $id not destroyed"
dd reclaim >/dev/null
wait_until 20 all_resources_destroyed || fail "resources not destroyed"
stop_daemon "$DAEMON"
sql "SELECT DISTINCT l.type, j.key FROM log l, json_each(l.data) j WHERE json_type(l.data) = 'object' ORDER BY 1, 2" >"$T/keys"
grep -q '^lease.acquired|waited$' "$T/keys" || fail "no lease.acquired entry with 'waited': $(cat "$T/keys")"
while IFS='|' read -r type key; do
	row=$(grep -F "| \`$type\` |" "$docs/state-machines.md") || fail "state-machines.md has no row for '$type'"
	case $row in
	*"\"$key\""*) ;;
	*) fail "state-machines.md's row for '$type' lacks the key \"$key\": $row" ;;
	esac
done <"$T/keys"

# ---- a locked store: the message the operator guide gives --------------------
# The guide's `store 'PATH' is locked (...)`, as a pattern, must match what
# a command prints while another process holds the write lock.
said=$(grep -o "exit status 6 (\`[^\`]*\`)" "$docs/operator-guide.md" | head -1)
[ -n "$said" ] || fail "the operator guide gives no message for exit status 6"
pattern=$(python3 -c 'import re, sys
m = re.escape(sys.argv[1][len("exit status 6 (`"):-2])
print(m.replace("PATH", ".*").replace(re.escape("(...)"), r"\(.*\)"))' "$said")
python3 - "$DRYDOCK_DB" "$T" <<'EOF' &
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
db.execute("BEGIN EXCLUSIVE")
open(os.path.join(sys.argv[2], "locked"), "w").close()
stop = os.path.join(sys.argv[2], "unlock")
end = time.time() + 60
while not os.path.exists(stop) and time.time() < end:
    time.sleep(0.05)
db.execute("COMMIT")
EOF
locker=$!
track "$locker"
wait_until 20 test -e "$T/locked" || fail "could not lock the store"
set +e
DRYDOCK_BUSY_TIMEOUT_MS=200 "$DD" lease --type host --no-wait >/dev/null 2>"$T/err"
rc=$?
set -e
touch "$T/unlock"
wait "$locker" || true
expect_eq "locked store status" "$rc" 6
grep -Eq "^drydock: $pattern\$" "$T/err" ||
	fail "locked store: printed '$(cat "$T/err")', the guide says $said"

# ---- packages: the operator guide lists what install-deps.sh installs -------------
python3 - "$top/scripts/install-deps.sh" "$docs/operator-guide.md" <<'EOF' || fail "package lists disagree"
import re, sys
script, guide = open(sys.argv[1]).read(), open(sys.argv[2]).read()
# the packages set before the check branch are run's, those in it check's
before, _, inside = script.partition('if [ "$what" = check ]; then')
inside = inside.split("\nfi\n")[0]
run = re.search(r'^packages="([^"$]*)"', before, re.M).group(1).split()
for more in re.findall(r'packages="\$packages ([^"]*)"', before):
    run += more.split()
check = re.search(r'packages="\$packages ([^"]*)"', inside).group(1).split()
said_run = re.search(r"install-deps\.sh run` \(`([^`]*)`\)", guide).group(1).split()
said_check = re.search(r"install-deps\.sh check`, which adds `([^`]*)`", guide, re.S).group(1).split()
ok = sorted(run) == sorted(said_run) and sorted(check) == sorted(said_check)
if not ok:
    print("install-deps.sh run:", run, "guide:", said_run)
    print("install-deps.sh check adds:", check, "guide:", said_check)
sys.exit(0 if ok else 1)
EOF

# ---- processes: core/exec.c is the only file that starts or reaps one ----------
# (architecture.md, core/exec.h): a program started or waited for anywhere
# else would escape the deadline and the process-group kill of
# dd_exec_run(); start it with dd_exec_spawn() instead
others=$(grep -rnE '(^|[^>.[:alnum:]_])(fork|vfork|clone|posix_spawnp?|waitpid|waitid|wait|wait3|wait4|execvp?e?|execl[ep]?|system|popen)\(' \
	"$top/src" --include='*.c' | grep -v "^$top/src/core/exec.c:" |
	grep -vE '^[^:]+:[0-9]+:[[:space:]]*(/?\*|//)' || true)
[ -z "$others" ] || fail "processes started or reaped outside core/exec.c: $others"

# ---- environment: every DRYDOCK_* variable read is documented -----------------------
# in cli.md's Environment table, or, read only by test builds, in testing.md
for v in $( (grep -rhoE '"DRYDOCK_[A-Z_]+"' "$top/src" | tr -d '"'
	grep -rhoE 'DRYDOCK_[A-Z_]+' "$top/scripts") | sort -u); do
	grep -qF "| \`$v\`" "$docs/cli.md" || grep -qF "\`$v\`" "$docs/testing.md" ||
		fail "$v is read but not in cli.md's Environment table"
done

# ---- README: its shell steps set what they use --------------------------------------
# In the indented command lines, every $VAR is set by an earlier line
# (or is the environment's), and no URL has a placeholder such as /ID.
python3 - "$top/README.md" <<'EOF' || fail "README's steps use what no step sets"
import re, sys
known = {"HOME", "DRYDOCK_DB", "XDG_DATA_HOME", "PWD"}
bad = []
for line in open(sys.argv[1]):
    if not line.startswith("    "):
        continue
    cmd = line.split("#")[0]
    for var in re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", cmd):
        if var not in known:
            bad.append(f"${var} is used before any step sets it: {line.strip()}")
    for url in re.findall(r"https?://[^\s'\"]+", cmd):
        if re.search(r"/[A-Z]{2,}(?=[/?]|$)", url):
            bad.append(f"a placeholder in {url}")
    m = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)=", cmd)
    if m:
        known.add(m.group(1))
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
EOF
echo ok
