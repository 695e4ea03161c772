#!/bin/sh
# Install the Debian packages drydock needs to build, run and test.
# Installs only what is missing; as root it runs apt-get, otherwise it
# prints the exact command to run.
#
#   scripts/install-deps.sh run     what building and running need (make run)
#   scripts/install-deps.sh check   that and what the tests need (make check)
set -eu
what=${1:-check}

# build and run: compiler, make, libraries (libmicrohttpd serves HTTP,
# libpq reaches PostgreSQL), the OpenSSH client (the host blueprint
# reaches remote hosts with it).
packages="gcc make libc6-dev pkg-config libsqlite3-dev libjansson-dev
libmicrohttpd-dev libpq-dev openssh-client"
# tests: cmocka, the sqlite3 shell (integration tests inspect the store
# with it), procps (ps, pkill), curl and jq (the HTTP tests send requests
# and read the JSON answers), python3 (the HTTP tests' raw-socket
# clients: idle, half-open and slow connections), chromium (the web UI
# test, driven by playwright-core from npm; see tests/browser).
# The SSH tests start their own sshd (openssh-server), the PostgreSQL
# tests and the benchmark's ceiling their own server (postgresql: initdb,
# pg_ctl, psql, pgbench), and the example sandbox provider
# (examples/providers) isolates its sandboxes with bubblewrap.
if [ "$what" = check ]; then
	packages="$packages libcmocka-dev sqlite3 procps curl jq python3 chromium
openssh-server postgresql bubblewrap"
fi

missing=""
for p in $packages; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
# Node.js runs the browser test; any recent one will do, so only install
# Debian's when there is none.
if [ "$what" = check ] && ! command -v node >/dev/null 2>&1; then
	missing="$missing nodejs"
fi

if [ -n "$missing" ] && [ "$(id -u)" -ne 0 ]; then
	echo "drydock needs these Debian packages:$missing" >&2
	echo "run: sudo apt-get update && sudo apt-get install -y$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if [ -n "$missing" ]; then
	echo "installing:$missing" >&2
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
[ "$what" = check ] || exit 0
# Debian's nodejs comes without npm (NodeSource's brings its own).
if ! command -v npm >/dev/null 2>&1; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "drydock's browser test needs npm: sudo apt-get install -y npm" >&2
		exit 1
	fi
	echo "installing: npm" >&2
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends npm >/dev/null
fi
# npm packages, each folder's pinned by its package-lock.json:
# playwright-core (tests/browser), and swagger-parser, ajv and ajv-formats
# for the OpenAPI checks (tests/openapi).  npm writes
# node_modules/.package-lock.json last, so a folder without it, or with
# one older than the lock file, is installed (again).
for dir in browser openapi; do
	d="$(dirname "$0")/../tests/$dir"
	if [ -f "$d/package-lock.json" ] &&
		{ [ ! -f "$d/node_modules/.package-lock.json" ] ||
			[ "$d/package-lock.json" -nt "$d/node_modules/.package-lock.json" ]; }; then
		echo "installing: npm packages of tests/$dir" >&2
		(cd "$d" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
	fi
done
