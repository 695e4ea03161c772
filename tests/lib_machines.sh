# Shared by the tests of resources that live on one machine, sourced
# after lib.sh: daemons on one store made two or more machines by
# DRYDOCK_MACHINE, each tracing its hooks to $T/MACHINE.trace.

unset DRYDOCK_HOOK_TRACE
# start_on MACHINE: a daemon that is machine MACHINE, tracing its hooks;
# its pid in daemon_MACHINE
start_on() {
	DRYDOCK_MACHINE=$1 DRYDOCK_HOOK_TRACE="$T/$1.trace" \
		"$DD" daemon --workers 2 2>>"$T/daemon-$1.log" &
	eval "daemon_$1=\$!"
	track "$!"
}
# the machine a resource lives on, and that of a lease's resource ('-': any)
machine_of_resource() { sql "SELECT coalesce(machine, '-') FROM resource WHERE id = $1"; }
machine_of_lease() { sql "SELECT coalesce(r.machine, '-') FROM lease l JOIN resource r ON r.id = l.resource WHERE l.id = $1"; }
