#!/bin/sh
# `make run`: create the store if needed, make sure a local host pool
# exists, and run `drydock serve` (API, web UI and workers) in the
# foreground.  The store is the default one (see `drydock --help`) unless
# DRYDOCK_DB says otherwise, so `./drydock lease --type host` in another
# terminal finds it.  DRYDOCK_LISTEN changes the address (default
# 127.0.0.1:8150).
set -eu
cd "$(dirname "$0")/.."
./drydock init
if ! ./drydock blueprint list | awk 'NR > 1 && $2 == "host" { found = 1 } END { exit !found }'; then
	slots=$(nproc 2>/dev/null || echo 2)
	./drydock blueprint create --type host --name local-pool \
		--config "{\"hosts\": [{\"name\": \"local\", \"slots\": $slots}]}"
fi
listen=${DRYDOCK_LISTEN:-127.0.0.1:8150}
cat <<MSG

Starting drydock.  Open http://$listen/ and sign in with an API token (the
first run prints an admin token below; make more with
'./drydock token create --name NAME --role admin|client|viewer').
In another terminal:
  ./drydock lease --type host            # prints the lease id once active
  ./drydock exec --lease 1 -- uname -a
  ./drydock release-lease --id 1
  curl -H "Authorization: Bearer TOKEN" http://$listen/api/v1/leases
Stop with Ctrl-C.

MSG
exec ./drydock serve --listen "$listen"
