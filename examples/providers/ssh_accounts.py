#!/usr/bin/env python3
"""ssh_accounts.py - a drydock provider of SSH endpoints: directories on an
SSH server, one per resource.

What it shows: the smallest useful provider.  It implements only
describe, resource.allocate and resource.destroy; its allocate answers
with an SSH endpoint (address, port, user, key, host key, directory), and
drydock then runs commands and copies files over SSH itself, checking
the host key.  It reaches the server with ssh too, to make and remove
the directory, checking the same host key.

    ssh_accounts.py --address 127.0.0.1 --port 2222 --user ci \\
        --key /var/lib/drydock/keys/ci --host-key 'ssh-ed25519 AAAA...' \\
        --base /home/ci/drydock

Idempotent, as the protocol asks: allocate makes the directory if it is
missing (the same key, the same directory), destroy of a directory that
is gone succeeds.  With SSH_RECORD set, it appends "allocate KEY created"
or "existing", "destroy KEY removed" or "absent" to that file.
"""
import json
import os
import subprocess
import sys
import tempfile

VERSIONS = [1]
OPERATIONS = ["resource.allocate", "resource.destroy"]


def args():
    a, argv = {}, sys.argv[1:]
    while argv:
        if len(argv) < 2 or not argv[0].startswith("--"):
            fail("usage: ssh_accounts.py --address A --port P --user U "
                 "--key FILE --host-key 'TYPE BASE64' --base DIR")
        a[argv[0][2:]] = argv[1]
        argv = argv[2:]
    for k in ("address", "port", "user", "key", "host-key", "base"):
        if k not in a:
            fail("ssh_accounts.py: --%s is missing" % k)
    return a


def fail(message):
    print(message, file=sys.stderr)
    print(json.dumps({"error": message}))
    sys.exit(1)


def record(line):
    path = os.environ.get("SSH_RECORD")
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.write(fd, (line + "\n").encode())
        os.close(fd)


def remote(a, script, *words):
    """Run a fixed sh script on the server, its words as arguments."""
    with tempfile.NamedTemporaryFile("w", suffix=".known_hosts") as kh:
        kh.write("[%s]:%s %s\n" % (a["address"], a["port"], a["host-key"]))
        kh.flush()
        quoted = " ".join("'" + w.replace("'", "'\\''") + "'"
                          for w in ("sh", "-c", script, "sh") + words)
        p = subprocess.run(
            ["ssh", "-F", "/dev/null", "-o", "BatchMode=yes",
             "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
             "-o", "StrictHostKeyChecking=yes",
             "-o", "UserKnownHostsFile=" + kh.name,
             "-o", "GlobalKnownHostsFile=/dev/null",
             "-o", "ConnectTimeout=10", "-i", a["key"], "-p", a["port"],
             "-l", a["user"], a["address"], quoted],
            stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if p.returncode != 0:
        fail("ssh to %s:%s failed (%d): %s" % (a["address"], a["port"],
                                               p.returncode, p.stderr.strip()))
    return p.stdout.strip()


def main():
    req = json.load(sys.stdin)
    op = req["operation"]
    if op == "describe":
        print(json.dumps({"versions": VERSIONS, "operations": OPERATIONS,
                          "name": "directories on an SSH server"}))
        return
    if req.get("protocol") not in VERSIONS:
        fail("protocol version %r is not spoken here" % req.get("protocol"))
    a = args()
    key = req["resource"]["key"]
    if not key or not all(c.isalnum() or c == "-" for c in key):
        fail("bad resource key %r" % key)
    d = a["base"].rstrip("/") + "/" + key
    if op == "resource.allocate":
        said = remote(a, 'if [ -d "$1" ]; then echo existing; '
                      'else mkdir -p "$1" && echo created; fi', d)
        record("allocate %s %s" % (key, said))
        print(json.dumps({
            "id": "dir-" + key,
            "ssh": {"address": a["address"], "port": int(a["port"]),
                    "user": a["user"], "key": a["key"],
                    "host_key": a["host-key"], "dir": d}}))
    elif op == "resource.destroy":
        said = remote(a, 'if [ -d "$1" ]; then rm -rf "$1" && echo removed; '
                      'else echo absent; fi', d)
        record("destroy %s %s" % (key, said))
        print("{}")
    else:
        fail("unknown operation %r" % op)


if __name__ == "__main__":
    main()
