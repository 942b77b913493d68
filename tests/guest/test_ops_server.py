# SPDX-License-Identifier: MIT
"""ultra-ops serves many clients at once (claims 35, 36; docs/operations.md, "The API socket"):
a client that dawdles over its request, or never reads its answers, holds only its own
connection; the others are answered meanwhile. Every request on a connection is answered in
order, a request that ends with the client's half-close still is, and an over-long request is
refused with bad-request. A migration's client waits for its answer; nobody else does. No guest
boots here: ultra-ops runs with no command partition, or with stand-ins (fake_command.py)."""
import json
import os
import socket
import threading
import time

import harness
from fake_command import FakeCommand
from harness import check

BIN = os.path.join(harness.BUILD, "bin")
LINE_MAX = 64 * 1024  # OPS_LINE_MAX in ops/ops.h
DEAF = 5000  # requests whose answers (~100 bytes each) overfill a Unix socket's buffers


def start_ops(w):
    run = os.path.join(w.dir, "run")
    os.mkdir(run)
    sock = os.path.join(run, "ops.sock")
    proc = harness.start_daemon(
        [os.path.join(BIN, "ultra-ops"), "--run-dir", run, "--db", os.path.join(w.dir, "ops.db"),
         "--command", os.path.join(w.dir, "no-command.sock")],
        os.path.join(w.dir, "ops.log"), sock, "ultra-ops")
    return proc, sock


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)  # blocking: waits while the listen backlog is full, as clients do
    s.settimeout(30)
    harness.on_cleanup(s.close)
    return s


def request(execute, **args):
    req = {"version": 1, "execute": execute}
    if args:
        req["arguments"] = args
    return (json.dumps(req) + "\n").encode()


def read_lines(s, n):
    buf = b""
    while buf.count(b"\n") < n:
        chunk = s.recv(65536)
        got = buf.count(b"\n")
        check(chunk, f"ultra-ops closed the connection after {got} of {n} answers")
        buf += chunk
    return [json.loads(x) for x in buf.split(b"\n")[:n]]


def test_one_slow_client_does_not_hold_the_others():
    w = harness.workspace()
    proc, sock = start_ops(w)

    # A dawdler: half a request, then a byte now and then, never the newline (yet).
    slow = connect(sock)
    slow.sendall(b'{"version": 1,')
    # A client that sends many requests and reads none of the answers: more than its socket
    # holds, so ultra-ops finds it full and must go on without it (and stops reading its
    # requests meanwhile, hence the sending thread).
    deaf = connect(sock)
    sender = threading.Thread(target=deaf.sendall, args=(request("status") * DEAF,), daemon=True)
    sender.start()
    time.sleep(0.5)
    # Meanwhile others are answered, each on its own connection.
    for i in range(5):
        slow.sendall(b" ")
        c = connect(sock)
        c.sendall(request("status"))
        rep = read_lines(c, 1)[0]
        check("return" in rep and rep["return"]["command"] is False,
              f"client {i} while others hold theirs: {rep}")
        c.close()
    # The dawdler's request, once whole, is answered too, and the deaf one's answers were kept
    # for it, every one.
    slow.sendall(b'"execute": "status"}\n')
    check("return" in read_lines(slow, 1)[0], "the dawdler's request")
    answers = read_lines(deaf, DEAF)
    sender.join(30)
    check(all("return" in a for a in answers),
          f"the deaf client's answers: {[a for a in answers if 'return' not in a][:3]}")
    check(proc.poll() is None, "ultra-ops died")


def test_requests_in_order_half_close_and_over_long():
    w = harness.workspace()
    proc, sock = start_ops(w)

    # Several requests in one write, then the client's half-close: all answered in order.
    c = connect(sock)
    c.sendall(request("status") + request("nonsense-verb") + request("domain-list"))
    c.shutdown(socket.SHUT_WR)
    a = read_lines(c, 3)
    check("return" in a[0] and a[1]["error"]["code"] == "unknown-command" and
          a[2]["return"] == [], f"answers in order: {a}")
    check(c.recv(1) == b"", "the connection closes after the last answer")

    # Over the bound with no newline: refused whole, the connection closed; the server lives.
    big = connect(sock)
    try:
        big.sendall(b"x" * (LINE_MAX + 100))
    except (BrokenPipeError, ConnectionResetError):
        pass  # it may close before taking all of it
    rep = read_lines(big, 1)[0]
    check(rep["error"]["code"] == "bad-request" and "longer than" in rep["error"]["message"],
          f"over-long request: {rep}")
    c = connect(sock)
    c.sendall(request("status"))
    check("return" in read_lines(c, 1)[0], "answers after an over-long request")

    # More clients than slots: the extra ones wait in the backlog and are served as others go.
    held = [connect(sock) for _ in range(70)]
    for s in held:
        s.sendall(request("status"))
    for s in held:
        check("return" in read_lines(s, 1)[0], "one of 70 clients at once")
        s.close()
    time.sleep(0.1)
    check(proc.poll() is None, "ultra-ops died")


def test_a_migration_holds_only_its_client():
    """A migration through ultra-ops takes as long as its stream (here: until the fake source
    host lets it end). Meanwhile ultra-ops answers everyone else and keeps ticking (host
    failover runs on ticks); the migration's own client gets its answer when it ends, and the
    store then places the partition on the target (claims 35, 44, 85)."""
    w = harness.workspace()
    a, b = FakeCommand(w, "A"), FakeCommand(w, "B")
    run = os.path.join(w.dir, "run")
    os.mkdir(run)
    sock = os.path.join(run, "ops.sock")
    proc = harness.start_daemon(
        [os.path.join(BIN, "ultra-ops"), "--run-dir", run, "--db", os.path.join(w.dir, "ops.db"),
         "--command", a.path, "--tick-ms", "100", "--host-dead-ms", "3000"],
        os.path.join(w.dir, "ops.log"), sock, "ultra-ops")

    def ask(execute, **args):
        try:
            return harness.json_request(
                sock, {"version": 1, "execute": execute, "arguments": args}, timeout=10)
        except socket.timeout:
            check(False, f"ultra-ops did not answer {execute} within 10 s")

    def call(execute, **args):
        rep = ask(execute, **args)
        check("return" in rep, f"{execute}: {rep}")
        return rep["return"]

    def host_of(name):
        return next(p["host"] for p in call("list") if p["name"] == name)

    call("host-add", name="A", address=a.path)
    call("host-add", name="B", address=b.path)
    harness.wait_for(lambda: all(h["state"] == "up" for h in call("host-list")), 10,
                     "both hosts up")
    for name in ("m1", "m2"):
        call("define", definition=w.definition(name))
        call("start", name=name)
        check(host_of(name) == "A", f"{name} placed on A")

    mover = connect(sock)
    mover.sendall(request("migrate", name="m1", host="B", timeout=60))
    check(a.migrating.wait(10), "A's command partition was never asked to migrate m1")
    # Held: others are answered at once, ticks go on (every tick asks A for its list), and a
    # second migration of the same partition is refused as busy.
    t0, lists = time.monotonic(), a.count("list")
    for _ in range(5):
        call("status")
        call("host-list")
    time.sleep(1)
    check(a.count("list") >= lists + 3, f"ultra-ops stopped ticking: {a.count('list') - lists} "
          "list requests to A in over a second while a migration was under way")
    check(time.monotonic() - t0 < 5, "ultra-ops answered slowly while a migration was under way")
    again = ask("migrate", name="m1", host="B")
    check(again.get("error", {}).get("code") == "busy" and "already" in again["error"]["message"],
          f"a second migration of m1: {again}")
    mover.settimeout(1)
    try:
        early = mover.recv(1)
    except socket.timeout:
        early = None
    check(early is None, f"the migration was answered before it ended: {early!r}")

    a.release.set()
    mover.settimeout(10)
    rep = read_lines(mover, 1)[0]
    check(rep.get("return", {}).get("host") == "B", f"migrate m1: {rep}")
    check(host_of("m1") == "B", "the store does not place m1 on B")
    check("m1: migrated from host A to host B" in open(os.path.join(w.dir, "ops.log")).read(),
          "ultra-ops did not record the migration itself")

    # One that fails: its client hears why, the store keeps it on A.
    a.migrating.clear()
    a.outcome = "partition m2 stays on this host: the stream failed"
    rep = ask("migrate", name="m2", host="B")
    check(rep.get("error", {}).get("code") == "migration" and "stays" in rep["error"]["message"],
          f"a failed migration: {rep}")
    check(host_of("m2") == "A", "the store moved m2 although its migration failed")
    check(proc.poll() is None, "ultra-ops died")
