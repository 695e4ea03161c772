# Shared by the working-copy tests, sourced after lib.sh: bare git
# repositories to lease working copies of, reached with file://.
#
# make_repos DIR: sets R to DIR, SRC and OTHER to the URIs of
# DIR/src.git and DIR/other.git, and makes them.  DIR/src.git has main (c1 -> c2), tag v1 (c1), feature
# (c2 + b), patch (c2 + p), conflict (c1, a changed otherwise than by
# c2) and refs/changes/01/1/1 (feature); DIR/other.git one commit on
# main.  '*.o' is ignored in src.
make_repos() {
	R=$1
	git init -q -b main "$R/work"
	(
		cd "$R/work"
		git config user.name t
		git config user.email t@example.com
		echo '*.o' >.gitignore
		echo 1 >a
		git add . && git commit -qm c1
		git tag v1
		git checkout -qb conflict && echo X >a && git commit -qam conflict
		git checkout -q main && echo 2 >a && git commit -qam c2
		git checkout -qb feature && echo feat >b && git add b && git commit -qm feat
		git checkout -q main && git checkout -qb patch && echo p >p &&
			git add p && git commit -qm patch
		git checkout -q main
		git init -q --bare -b main "$R/src.git"
		git push -q "$R/src.git" main feature patch conflict v1 \
			feature:refs/changes/01/1/1
		git init -q -b main "$R/other"
		cd "$R/other"
		echo o >o && git add o && git -c user.name=t -c user.email=t@e commit -qm o
		git init -q --bare -b main "$R/other.git"
		git push -q "$R/other.git" main
	)
	SRC="file://$R/src.git"
	OTHER="file://$R/other.git"
}

# rev NAME: the commit NAME is (in the repository src.git was pushed from)
rev() { git -C "$R/work" rev-parse "$1"; }
# attr LEASE KEY: a lease's attribute (a JSON path below $)
attr() { sql "SELECT json_extract(attributes, '\$.$2') FROM lease WHERE id = $1"; }
lease_resource() { sql "SELECT resource FROM lease WHERE id = $1"; }
lease_gone() { [ "$(lease_status "$1")" = destroyed ]; }
# release LEASE: release it and wait until it is destroyed
release() { dd release-lease --id "$1" >/dev/null && wait_until 20 lease_gone "$1"; }

# src_at SPEC: a lease's attributes for $SRC's "src" at SPEC (JSON
# members, e.g. '"branch": "main"'), its default directory
src_at() { echo "{\"repositories\": {\"src\": {\"uri\": \"$SRC\", $1}}, \"default\": \"src\"}"; }
# lease_fails ARGS...: `drydock lease --type working-copy ARGS` ends with
# the lease broken (exit 12); its stderr in $T/err
lease_fails() {
	set +e
	dd lease --type working-copy "$@" >"$T/out" 2>"$T/err"
	lf_rc=$?
	set -e
	[ "$lf_rc" = 12 ] || fail "lease $*: exit $lf_rc, want 12 ($(cat "$T/err"))"
}
