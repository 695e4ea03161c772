#!/bin/sh
# Install the Debian packages drydock needs to build, run and test.
# Installs only what is missing; as root it runs apt-get, otherwise it
# prints the exact command to run.  Used by `make run` and `make check`.
set -eu

# build: compiler, make, libraries; tests: cmocka, the sqlite3 shell
# (integration tests inspect the store with it), procps (ps, pkill).
packages="gcc make libc6-dev pkg-config libsqlite3-dev libjansson-dev
libcmocka-dev sqlite3 procps"

missing=""
for p in $packages; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "drydock needs these Debian packages:$missing" >&2
	echo "run: sudo apt-get update && sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
