# SPDX-License-Identifier: MIT
"""ultra-ops serves many clients at once (claims 35, 36; docs/operations.md, "The API socket"):
a client that dawdles over its request, or never reads its answers, holds only its own
connection; the others are answered meanwhile. Every request on a connection is answered in
order, a request that ends with the client's half-close still is, and an over-long request is
refused with bad-request. No guest boots here: ultra-ops runs with no command partition."""
import json
import os
import socket
import threading
import time

import harness
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
