# Shared by the SSH tests, sourced after lib.sh: a real OpenSSH server
# (Debian's openssh-server, /usr/sbin/sshd) on 127.0.0.1, on a free port,
# with its own host key, one authorized key and its own config (no PAM, no
# passwords, public keys only), stopped when the test ends however it
# ends.  It plays a remote build host: sshd_start, then point a host
# blueprint at $SSHD_PORT, $SSHD_USER and $SSHD_KEY.
#
# Who sshd runs as.  A non-root sshd can only log in as its own user, and
# an sshd that runs as root needs /run/sshd and logs in as whoever it
# likes.  So sshd never runs as root here:
#   - as root (CI, this machine), sshd runs as "ddssh" (uid 61022), a user
#     that exists only for it: sshd runs in its own mount and PID
#     namespaces (unshare), where a copy of /etc/passwd with that user is
#     mounted over the real one.  Nothing on the machine changes, and the
#     PID namespace makes "the host died" exact: sshd is its init, so
#     killing sshd kills every process of the "host" (sessions, the
#     commands they run and what those left behind), as a power cut would.
#   - as any other user, sshd runs as that user and logs in as it;
#     sshd_kill then kills sshd and every process below it.
# A root that cannot make namespaces skips the test (sshd_require).
#
# Functions: sshd_require, sshd_start [PORT], sshd_stop (TERM: a clean
# shutdown), sshd_kill (KILL, mid-lease), sshd_new_host_key (a different
# host key for the next start), sshd_run CMD... (run CMD on the "host"
# with a plain ssh of the test's own).  Variables after sshd_start:
# SSHD_PORT, SSHD_USER, SSHD_KEY (the client's private key, the test
# user's, 0600), SSHD_HOME (the remote user's home, writable by it),
# SSHD_HOST_KEY (the host's public key line "TYPE BASE64"), SSHD_PID.

SSHD_DIR=$(mktemp -d "${TMPDIR:-/tmp}/dd-sshd-XXXXXX")
SSHD_UID=61022
SSHD_PID=""
SSHD_PORT=""

# sshd_require: skip the test (exit 0, saying why) where no sshd can run.
sshd_require() {
	why=""
	[ -x /usr/sbin/sshd ] || why="no /usr/sbin/sshd (openssh-server)"
	command -v ssh >/dev/null || why="no ssh (openssh-client)"
	if [ -z "$why" ] && [ "$(id -u)" = 0 ] &&
		! unshare --pid --fork --mount --mount-proc true 2>/dev/null; then
		why="root cannot make namespaces here (unshare)"
	fi
	if [ -n "$why" ]; then
		echo "SKIPPED: $why" >&2
		echo "SKIPPED: $why"
		exit 0
	fi
}

sshd_cleanup() {
	sshd_kill
	rm -rf "$SSHD_DIR"
}

# A free TCP port on 127.0.0.1 (the kernel's choice; sshd_start retries
# should another process take it first).
sshd_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

sshd_setup() {
	if [ "$(id -u)" = 0 ]; then
		SSHD_USER=ddssh
		SSHD_HOME=$SSHD_DIR/home
	else
		SSHD_USER=$(id -un)
		SSHD_HOME=$SSHD_DIR/home
	fi
	mkdir -p "$SSHD_HOME" "$SSHD_DIR/etc"
	chmod 755 "$SSHD_DIR" # the user reaches its home and sshd its files
	ssh-keygen -q -t ed25519 -N '' -C drydock-test -f "$T/client_key"
	SSHD_KEY=$T/client_key
	cp "$T/client_key.pub" "$SSHD_DIR/etc/authorized_keys"
	sshd_new_host_key
	{
		grep -v "^$SSHD_USER:" /etc/passwd
		echo "$SSHD_USER:x:$SSHD_UID:$SSHD_UID:drydock test host:$SSHD_HOME:/bin/sh"
	} >"$SSHD_DIR/etc/passwd"
	{
		grep -v "^$SSHD_USER:" /etc/group
		echo "$SSHD_USER:x:$SSHD_UID:"
	} >"$SSHD_DIR/etc/group"
	if [ "$(id -u)" = 0 ]; then
		chown -R "$SSHD_UID:$SSHD_UID" "$SSHD_HOME" "$SSHD_DIR/etc"
	fi
	chmod 644 "$SSHD_DIR/etc/passwd" "$SSHD_DIR/etc/group"
}

# sshd_new_host_key: the host's key is replaced; the next sshd_start
# serves the new one (a reinstalled host, or a man in the middle).
sshd_new_host_key() {
	rm -f "$SSHD_DIR/etc/host_key" "$SSHD_DIR/etc/host_key.pub"
	ssh-keygen -q -t ed25519 -N '' -C '' -f "$SSHD_DIR/etc/host_key"
	[ "$(id -u)" != 0 ] || chown "$SSHD_UID:$SSHD_UID" "$SSHD_DIR/etc/host_key"
	SSHD_HOST_KEY=$(cut -d' ' -f1,2 "$SSHD_DIR/etc/host_key.pub")
}

sshd_config() {
	cat >"$SSHD_DIR/etc/sshd_config" <<EOF
ListenAddress 127.0.0.1:$SSHD_PORT
HostKey $SSHD_DIR/etc/host_key
PidFile $SSHD_HOME/sshd.pid
AuthorizedKeysFile $SSHD_DIR/etc/authorized_keys
AllowUsers $SSHD_USER
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin no
StrictModes no
AllowAgentForwarding no
AllowTcpForwarding no
X11Forwarding no
PrintMotd no
PermitUserEnvironment no
MaxSessions 100
MaxStartups 100:30:200
LogLevel INFO
EOF
}

# sshd_start [PORT]: start sshd (on PORT, or a free port) and wait until it
# answers.  Each start appends to $T/sshd.log.
sshd_start() {
	[ -n "${SSHD_USER:-}" ] || sshd_setup
	want=${1:-$SSHD_PORT}
	for try in 1 2 3 4 5; do
		SSHD_PORT=${want:-$(sshd_free_port)}
		sshd_config
		: >"$T/sshd.try.log"
		if [ "$(id -u)" = 0 ]; then
			# sshd is the namespace's init: its own pid there is 1
			unshare --pid --fork --mount --mount-proc sh -c '
				mount --bind "$1/etc/passwd" /etc/passwd &&
				mount --bind "$1/etc/group" /etc/group &&
				exec setpriv --reuid="$2" --regid="$2" --clear-groups \
					/usr/sbin/sshd -D -e -f "$1/etc/sshd_config"' \
				sh "$SSHD_DIR" "$SSHD_UID" 2>>"$T/sshd.try.log" &
			SSHD_NS=$!
			track "$SSHD_NS"
			# sshd's pid outside the namespace: unshare's one child
			wait_until 10 sshd_ns_child ||
				fail "sshd: unshare started nothing: $(cat "$T/sshd.try.log")"
			SSHD_PID=$(sshd_ns_child)
		else
			/usr/sbin/sshd -D -e -f "$SSHD_DIR/etc/sshd_config" \
				2>>"$T/sshd.try.log" &
			SSHD_PID=$!
			SSHD_NS=""
		fi
		track "$SSHD_PID"
		if wait_until 20 sshd_listening; then
			cat "$T/sshd.try.log" >>"$T/sshd.log"
			wait_until 20 sshd_run true ||
				fail "sshd on port $SSHD_PORT refuses the test's key: $(tail -5 "$T/sshd.try.log")"
			return 0
		fi
		cat "$T/sshd.try.log" >>"$T/sshd.log"
		sshd_kill
		[ -z "$want" ] || break # a given port is not changed
	done
	fail "sshd did not start: $(tail -5 "$T/sshd.log")"
}

# unshare's one child, sshd, by its pid outside the namespace (a file in
# /proc always has size 0: read it)
sshd_ns_child() {
	c=$(tr -d ' ' <"/proc/$SSHD_NS/task/$SSHD_NS/children" 2>/dev/null)
	[ -n "$c" ] && echo "$c"
}

sshd_listening() {
	grep -q "Server listening on 127.0.0.1 port $SSHD_PORT" "$T/sshd.try.log"
}

# sshd_run CMD...: run CMD on the host with the test's own ssh (a fresh
# connection, any host key: this is the test looking at the host).
sshd_run() {
	ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes \
		-o IdentityAgent=none -i "$SSHD_KEY" \
		-o UserKnownHostsFile=/dev/null \
		-o GlobalKnownHostsFile=/dev/null \
		-o StrictHostKeyChecking=no -o LogLevel=ERROR \
		-o ConnectTimeout=10 -p "$SSHD_PORT" -l "$SSHD_USER" 127.0.0.1 "$@" </dev/null
}

# Every process at or below pid $1 (children first found through /proc).
sshd_tree() {
	echo "$1"
	for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		sshd_tree "$c"
	done
}

# sshd_kill [SIGNAL]: the host dies (KILL by default): sshd and everything
# that runs on the host.  sshd_stop is the same with TERM.  Waits until it
# is all gone.
sshd_kill() {
	sig=${1:-KILL}
	# started, but its pid not yet known: unshare's child, if any
	if [ -z "$SSHD_PID" ] && [ -n "${SSHD_NS:-}" ]; then
		SSHD_PID=$(sshd_ns_child) || SSHD_PID=""
	fi
	[ -n "$SSHD_PID" ] || return 0
	if [ -n "${SSHD_NS:-}" ]; then
		# init of its PID namespace: its death takes the rest with it
		kill "-$sig" "$SSHD_PID" 2>/dev/null || true
		wait "$SSHD_NS" 2>/dev/null || true
	else
		pids=$(sshd_tree "$SSHD_PID")
		kill "-$sig" $pids 2>/dev/null || true
		wait "$SSHD_PID" 2>/dev/null || true
		for p in $pids; do
			wait_until 10 sshd_gone "$p" || kill -KILL "$p" 2>/dev/null || true
		done
	fi
	SSHD_PID=""
	SSHD_NS=""
}

sshd_gone() {
	! kill -0 "$1" 2>/dev/null ||
		[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]
}

sshd_stop() { sshd_kill TERM; }

trap 'sshd_cleanup; cleanup' EXIT
