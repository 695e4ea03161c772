#!/bin/sh
# `make run`: create the store if needed, make sure a local host pool
# exists, and run the daemon in the foreground.  The store is the default
# one (see `drydock --help`) unless DRYDOCK_DB says otherwise, so
# `./drydock lease --type host` in another terminal finds it.
set -eu
cd "$(dirname "$0")/.."
./drydock init
if ! ./drydock blueprint list | awk 'NR > 1 && $2 == "host" { found = 1 } END { exit !found }'; then
	slots=$(nproc 2>/dev/null || echo 2)
	./drydock blueprint create --type host --name local-pool \
		--config "{\"hosts\": [{\"name\": \"local\", \"slots\": $slots}]}"
fi
cat <<MSG

drydock is running.  In another terminal:
  ./drydock lease --type host            # prints the lease id once active
  ./drydock exec --lease 1 -- uname -a
  ./drydock show lease 1
  ./drydock release-lease --id 1
Stop with Ctrl-C.

MSG
exec ./drydock daemon
