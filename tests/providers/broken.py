#!/usr/bin/env python3
"""broken.py - a drydock provider that misbehaves on purpose, for
tests/integration/providers.sh.

    broken.py --record FILE --mode MODE --op OPERATION

It builds nothing real, but keeps the books a real provider must: every
resource.allocate and resource.destroy appends "allocate KEY created" (or
"existing") and "destroy KEY removed" (or "absent") to FILE, so the test
can check that every key it was asked to build was torn down once.  On
OPERATION it misbehaves as MODE says, after doing its work (so a key it
was asked to allocate may exist even though the call failed, as with a
provider that crashed halfway):

  crash     writes to stderr, then kills itself with SIGSEGV
  hang      writes to stderr, then sleeps for an hour (and ignores SIGTERM)
  garbage   prints something that is not JSON, exits 0
  exit      writes to stderr, exits 3 with no reply
  error     replies {"error": ...}, exits 1
  version   describe names only protocol version 7
  once      fails the first call of OPERATION (exit 3), then behaves
"""
import json
import os
import signal
import sys
import time


def arg(name):
    return sys.argv[sys.argv.index(name) + 1]


RECORD, MODE, OP = arg("--record"), arg("--mode"), arg("--op")
STATE = RECORD + ".keys"


def record(line):
    fd = os.open(RECORD, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.write(fd, (line + "\n").encode())
    os.close(fd)


def keys():
    try:
        with open(STATE) as f:
            return set(f.read().split())
    except FileNotFoundError:
        return set()


def save(ks):
    with open(STATE + ".new", "w") as f:
        f.write("\n".join(sorted(ks)))
    os.rename(STATE + ".new", STATE)


def misbehave():
    if MODE == "crash":
        print("broken.py: about to crash", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGSEGV)
    if MODE == "hang":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("broken.py: hanging", file=sys.stderr, flush=True)
        time.sleep(3600)
    if MODE == "garbage":
        print("this is not JSON {")
        sys.exit(0)
    if MODE == "exit":
        print("broken.py: exploded on %s" % OP, file=sys.stderr)
        sys.exit(3)
    if MODE == "error":
        print(json.dumps({"error": "the lab is closed"}))
        sys.exit(1)
    if MODE == "once":
        marker = RECORD + ".once"
        if not os.path.exists(marker):
            open(marker, "w").close()
            print("broken.py: failing once", file=sys.stderr)
            sys.exit(3)


def main():
    if os.environ.get("DRYDOCK_OPERATION") == "exec":
        with os.fdopen(3, "r") as f:
            req = json.load(f)
    else:
        req = json.load(sys.stdin)
    op = req["operation"]
    reply = {}
    if op == "describe":
        reply = {"versions": [7] if MODE == "version" else [1],
                 "operations": ["resource.allocate", "resource.destroy",
                                "lease.activate", "exec"]}
    elif op == "resource.allocate":
        key = req["resource"]["key"]
        ks = keys()
        record("allocate %s %s" % (key, "existing" if key in ks else "created"))
        save(ks | {key})
        reply = {"id": "thing-" + key}
    elif op == "resource.destroy":
        key = req["resource"]["key"]
        ks = keys()
        record("destroy %s %s" % (key, "removed" if key in ks else "absent"))
        save(ks - {key})
    elif op == "exec":
        if op == OP:
            misbehave()
        os.execvp(req["command"]["argv"][0], req["command"]["argv"])
    if op == OP:
        misbehave()
    print(json.dumps(reply))


if __name__ == "__main__":
    main()
