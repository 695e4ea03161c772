# A lease's files and command interfaces, driven like a user: `drydock cp`
# both ways (a 100 MB file hash-checked, directories with -r, into an
# existing directory, stdin and stdout, a missing path, a directory
# without -r, an absolute path and '..', which the interface allows:
# it reaches what the lease's commands reach), `drydock exec --env`, and
# nothing left half-written when a copy is stopped.
. "$(dirname "$0")/../lib.sh"

host_pool local '[{"name": "a", "slots": 2}]'
start_daemon
lease=$(dd lease --type host 2>/dev/null)
expect_eq "lease active" "$(lease_status "$lease")" active
dir=$(sql "SELECT json_extract(attributes, '$.path') FROM lease WHERE id = $lease")
[ -d "$dir" ] || fail "no lease directory '$dir'"

# ---- exec --env ---------------------------------------------------------------
out=$(dd exec --lease "$lease" --env GREETING=hello --env 'SPACED=a b' \
	--env GREETING=hi -- sh -c 'echo "$GREETING|$SPACED|$DRYDOCK_LEASE"')
expect_eq "exec --env" "$out" "hi|a b|$lease"
expect_refused 2 "bad environment variable '1X=y'" \
	dd exec --lease "$lease" --env 1X=y -- true
expect_refused 2 "bad environment variable 'NOVALUE'" \
	dd exec --lease "$lease" --env NOVALUE -- true

# ---- a 100 MB file in and out, hash-checked -----------------------------------
head -c 100000000 /dev/urandom >"$T/big"
chmod 640 "$T/big"
want=$(sha256sum <"$T/big" | cut -d' ' -f1)
dd cp "$T/big" "$lease:in/big.bin"
expect_eq "uploaded bytes" "$(sha256sum <"$dir/in/big.bin" | cut -d' ' -f1)" "$want"
expect_eq "uploaded mode" "$(stat -c %a "$dir/in/big.bin")" 640
dd cp "$lease:in/big.bin" "$T/big.back"
expect_eq "downloaded bytes" "$(sha256sum <"$T/big.back" | cut -d' ' -f1)" "$want"
rm -f "$T/big" "$T/big.back" "$dir/in/big.bin"

# ---- into an existing directory, stdin and stdout ----------------------------
echo one >"$T/one.txt"
dd cp "$T/one.txt" "$lease:."
expect_eq "into the lease's directory" "$(cat "$dir/one.txt")" one
dd cp "$T/one.txt" "$lease:sub/"
expect_eq "into a new directory named with a slash" "$(cat "$dir/sub/one.txt")" one
mkdir "$T/here"
dd cp "$lease:sub/one.txt" "$T/here"
expect_eq "into a local directory" "$(cat "$T/here/one.txt")" one
echo piped | dd cp - "$lease:piped.txt"
expect_eq "from stdin" "$(cat "$dir/piped.txt")" piped
expect_eq "to stdout" "$(dd cp "$lease:piped.txt" -)" piped

# ---- absolute paths and '..' reach what commands reach ------------------------
dd cp "$lease:$dir/one.txt" "$T/abs.txt"
expect_eq "an absolute path" "$(cat "$T/abs.txt")" one
dd cp "$lease:../lease-$lease/one.txt" "$T/up.txt"
expect_eq "a path through '..'" "$(cat "$T/up.txt")" one

# ---- directories -------------------------------------------------------------
mkdir -p "$T/tree/deep/er"
echo a >"$T/tree/a"
echo b >"$T/tree/deep/er/b"
printf 'x\0y' >"$T/tree/deep/bin"
chmod 755 "$T/tree/a"
expect_refused 2 "'$T/tree' is a directory (use -r to copy it)" \
	dd cp "$T/tree" "$lease:tree"
dd cp -r "$T/tree" "$lease:tree"
diff -r "$T/tree" "$dir/tree" || fail "directory upload differs"
expect_eq "mode kept in a directory" "$(stat -c %a "$dir/tree/a")" 755
# an existing directory receives it under its own name
dd cp -r "$T/tree" "$lease:tree"
diff -r "$T/tree" "$dir/tree/tree" || fail "upload into a directory differs"
expect_refused 2 "'tree' on lease $lease is a directory (use -r to copy it)" \
	dd cp "$lease:tree" "$T/tree.back"
dd cp -r "$lease:tree" "$T/tree.back"
diff -r "$dir/tree" "$T/tree.back" || fail "directory download differs"
dd cp --recursive "$lease:tree/deep" "$T/tree.back"
diff -r "$T/tree/deep" "$T/tree.back/deep" || fail "download into a directory differs"

# ---- refusals: nothing changes ------------------------------------------------
expect_refused 3 "cannot copy 'nope' from lease $lease: no such file or directory" \
	dd cp "$lease:nope" "$T/nope"
[ ! -e "$T/nope" ] || fail "a failed download left '$T/nope'"
expect_refused 3 "cannot copy '$T/nope': No such file or directory" \
	dd cp "$T/nope" "$lease:nope"
expect_refused 2 "one of SOURCE and DEST must be on a lease" dd cp "$T/a" "$T/b"
expect_refused 2 "one of SOURCE and DEST must be on a lease" dd cp "$lease:a" "$lease:b"
expect_refused 2 "names no path on the lease" dd cp "$T/one.txt" "$lease:"
expect_refused 3 "no such lease" dd cp "$T/one.txt" "999:x"
ls -A "$T/here" | grep -q drydock-cp && fail "a temporary file was left in '$T/here'"

# ---- a stopped upload leaves the old file ----------------------------------------
echo old >"$dir/keep.txt"
mkfifo "$T/fifo"
# the writer holds the fifo open and sends part of a file, never its end
(printf 'partial' ; sleep 300) >"$T/fifo" &
writer=$!
track "$writer"
"$DD" cp "$T/fifo" "$lease:keep.txt" 2>"$T/stop.err" &
cp_pid=$!
track "$cp_pid"
uploading() { ls -A "$dir" | grep -q '^\.drydock-upload\.'; }
wait_until 20 uploading || fail "the upload never started"
kill -INT "$cp_pid"
set +e
wait "$cp_pid"
rc=$?
set -e
expect_eq "status of a stopped cp" "$rc" 130
expect_eq "the old file" "$(cat "$dir/keep.txt")" old
gone_tmp() { ! uploading; }
wait_until 20 gone_tmp || fail "a stopped upload left its temporary file"
kill "$writer" 2>/dev/null || true

# ---- a lease that is not active -----------------------------------------------
dd release-lease --id "$lease" >/dev/null
wait_until 20 all_leases_destroyed || fail "lease $lease not destroyed"
expect_refused 4 "cannot copy files to lease $lease: it is destroyed, not active" \
	dd cp "$T/one.txt" "$lease:x"
expect_refused 4 "cannot copy files from lease $lease: it is destroyed, not active" \
	dd cp "$lease:x" "$T/x"
echo "ok"
