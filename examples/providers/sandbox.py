#!/usr/bin/env python3
"""sandbox.py - a drydock provider of sandboxes on this machine.

What it shows: a complete provider of the exec blueprint's protocol
(docs/providers.md), version 1, implementing every operation.  Each
resource is a directory under --root named after drydock's key; each
lease a directory inside it; each command runs in the lease's directory
under bubblewrap, which sees the whole file system read-only except that
directory and a private /tmp, in a PID namespace of its own, and dies
with its parent.

It is idempotent, as the protocol asks: allocating a key it has already
built answers with the same sandbox, destroying one that is gone
succeeds.  With SANDBOX_RECORD set, it appends one line per call that
changed something or found nothing to change ("allocate KEY created",
"destroy KEY absent"), so that a test can check that every sandbox was
built once and removed once.

    drydock blueprint create --type exec --name sandboxes --config '{
      "resource_type": "sandbox",
      "command": ["/path/to/sandbox.py", "--root", "/srv/sandboxes"]}'
"""
import json
import os
import shutil
import sys

VERSIONS = [1]
OPERATIONS = ["resource.allocate", "resource.destroy", "lease.activate",
              "lease.destroy", "exec"]


def record(line):
    path = os.environ.get("SANDBOX_RECORD")
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.write(fd, (line + "\n").encode())
        os.close(fd)


def fail(message):
    """A provider's own failure: said in the reply (and on stderr)."""
    print(message, file=sys.stderr)
    print(json.dumps({"error": message}))
    sys.exit(1)


def root():
    args = sys.argv[1:]
    if len(args) != 2 or args[0] != "--root" or not args[1].startswith("/"):
        fail("usage: sandbox.py --root ABSOLUTE_DIR")
    return args[1]


def sandbox_dir(req):
    key = req["resource"]["key"]
    # the key is drydock's: [a-z0-9-], but a provider checks what it is told
    if not key or not all(c.isalnum() or c == "-" for c in key):
        fail("bad resource key %r" % key)
    return os.path.join(root(), key)


def lease_dir(req):
    return os.path.join(sandbox_dir(req), "lease-%d" % req["lease"]["id"])


def read_request():
    """The request: on stdin, but for exec on descriptor 3 (stdin is then
    the command's), which the command must not inherit."""
    if os.environ.get("DRYDOCK_OPERATION") == "exec":
        with os.fdopen(3, "r") as f:
            return json.load(f)
    return json.load(sys.stdin)


def main():
    req = read_request()
    op = req["operation"]
    if op == "describe":
        reply = {"versions": VERSIONS, "operations": OPERATIONS,
                 "name": "sandboxes with bubblewrap"}
    elif req.get("protocol") not in VERSIONS:
        fail("protocol version %r is not spoken here" % req.get("protocol"))
    elif op == "resource.allocate":
        d = sandbox_dir(req)
        try:
            os.makedirs(d, mode=0o700)
            record("allocate %s created" % req["resource"]["key"])
        except FileExistsError:
            record("allocate %s existing" % req["resource"]["key"])
        reply = {"id": "sandbox-" + req["resource"]["key"],
                 "attributes": {"dir": d}}
    elif op == "resource.destroy":
        d = sandbox_dir(req)
        if os.path.isdir(d):
            shutil.rmtree(d)
            record("destroy %s removed" % req["resource"]["key"])
        else:
            record("destroy %s absent" % req["resource"]["key"])
        reply = {}
    elif op == "lease.activate":
        d = lease_dir(req)
        os.makedirs(d, mode=0o700, exist_ok=True)
        reply = {"attributes": {"dir": d}}
    elif op == "lease.destroy":
        shutil.rmtree(lease_dir(req), ignore_errors=True)
        reply = {}
    elif op == "exec":
        d = lease_dir(req)
        if not os.path.isdir(d):
            print("sandbox.py: lease directory %s is gone" % d,
                  file=sys.stderr)
            sys.exit(125)
        argv = req["command"]["argv"]
        env = ["--setenv", "HOME", d]
        for name, value in req["command"].get("env", {}).items():
            env += ["--setenv", name, value]
        # the command replaces this process: a cancel reaches it directly
        os.execvp("bwrap", ["bwrap", "--ro-bind", "/", "/",
                            "--dev", "/dev", "--tmpfs", "/tmp",
                            "--bind", d, d, "--chdir", d,
                            "--unshare-pid", "--die-with-parent"] +
                  env + ["--"] + argv)
    else:
        fail("unknown operation %r" % op)
    print(json.dumps(reply))


if __name__ == "__main__":
    main()
