# SPDX-License-Identifier: MIT
"""The serial console of a guest on another host (claims 9-12, 36, 43; docs/cmdnet.md, "The
console"). Two network namespaces made here stand for two hosts joined by a veth pair; host B
runs the system under ultra-boot with its command partition's gateway (ultra-cmdgw, TLS 1.3,
mutual certificates). A Linux guest runs on B; from A, `ultra -c tls://B:PORT console NAME`
asks B's command partition for a one-time console token, opens a second TLS connection to the
gateway with it and gets the guest's console, raw: a command typed into the guest's shell gives
its output back, and Ctrl-] detaches. A replayed token and a wrong one are refused by the
gateway with the reason logged; a partition that does not run has no console to give.
Namespaces, processes and files go at cleanup whether the test passed or not."""
import json
import os
import re
import secrets
import subprocess
import threading
import time

import harness
from harness import check, wait_for, workspace
from test_cmdnet import Hosts, run
from test_defs import kill_guests, write_def
from test_migrate_net import PORT, NetHost, check_used_once, make_certs, request, tls_talk
from test_console_slow import check_log_complete, write_time, writer_cmdline
from test_recovery import BIN

NAME = "netcon1"


class Viewer:
    """`ultra console` run in namespace A, its output gathered by a thread (reading=False: left
    in its pipe until read_now)."""

    def __init__(self, hosts, certs, name, reading=True):
        c = certs
        argv = hosts.in_a(os.path.join(BIN, "ultra"), "-c", f"tls://{hosts.addr_b}:{PORT}",
                          "--tls-ca", f"{c}/ca.pem", "--tls-cert", f"{c}/tester.pem",
                          "--tls-key", f"{c}/tester.key", "console", name)
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        harness.on_cleanup(lambda: self.proc.poll() is None and self.proc.kill())
        self.out = b""
        if reading:
            self.read_now()

    def read_now(self):
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while True:
            d = self.proc.stdout.read1(65536)
            if not d:
                return
            self.out += d

    def type(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def ask(self, line, want, timeout=60):
        """Types line into the guest's shell until want shows (the first may meet a prompt
        that is not there yet)."""
        deadline = time.monotonic() + timeout
        while want not in self.out and time.monotonic() < deadline and self.proc.poll() is None:
            self.type(line)
            t = time.monotonic() + 5
            while want not in self.out and time.monotonic() < t:
                time.sleep(0.1)
        return want in self.out

    def err(self):
        return self.proc.stderr.read().decode(errors="replace") if self.proc.poll() is not None \
            else ""


def host_b():
    """Namespaces A and B, the certificates, and host B's system with its gateway:
    (hosts, w, certs, b)."""
    hosts = Hosts()
    w = workspace()
    certs = make_certs(w, hosts)
    os.chmod(w.dir, 0o755)  # the certificates: B's gateway reads its own from here
    harness.on_cleanup(lambda: kill_guests(w.dir))
    b = NetHost(w, hosts, certs, hosts.b, gateway=f"{hosts.addr_b}:{PORT}").start()
    wait_for(lambda: "listening on" in open(b.log).read(), 30, "B's gateway to listen")
    return hosts, w, certs, b


def test_console_of_a_guest_on_another_host():
    hosts, w, certs, b = host_b()
    b.ultra("define", write_def(w, NAME))
    b.ultra("start", NAME)
    g = harness.Partition(b.run, w.definition(NAME))
    wait_for(lambda: harness.MARKER in g.console_log(), harness.BOOT_TIMEOUT,
             f"{NAME} to reach init")

    # From A: the console, raw. The guest's shell computes the marker, so the echo of the
    # typed line never matches it.
    v = Viewer(hosts, certs, NAME)
    wait_for(lambda: "stream token accepted" in open(b.log).read() or v.proc.poll() is not None,
             30, "B's gateway to splice the console")
    check(v.proc.poll() is None, f"ultra console ended: {v.err()}")
    want = b"remote-console-" + str(6 * 7 * 1001).encode()
    check(v.ask(b"echo remote-console-$((6*7*1001))\n", want), f"no answer through the remote console; it showed {v.out[-600:]!r}\n"
          + open(b.log).read()[-1500:])
    v.type(b"\x1d")  # Ctrl-]
    try:
        rc = v.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        raise harness.TestFailure("ultra console did not detach on Ctrl-]")
    err = v.err()
    check(rc == 0 and f"Connected to {NAME}" in err and f"Detached from {NAME}" in err,
          f"ultra console: exit {rc}: {err}")
    blog = open(b.log).read()
    check(re.search(r'CN "tester"\): stream token accepted, spliced to \S+/partitions/' + NAME
                    + "/console.sock", blog), f"B's gateway log:\n{blog[-2000:]}")
    check(f"partition {NAME}: the console stream from" in blog, "B's command partition did not log")

    # The token is good once: a replay is refused and logged; so is a token nobody issued.
    out = tls_talk(hosts, certs, request("console-token", name=NAME))
    reply = json.loads(out[0])
    check("return" in reply and len(reply["return"].get("stream_token", "")) == 64,
          f"console-token over the gateway: {out}")
    check_used_once(hosts, certs, b.log, reply["return"]["stream_token"])
    out = tls_talk(hosts, certs, f"ultra-stream 1 {secrets.token_hex(32)}")
    check(out and "unknown stream token" in out[0], f"a wrong token got: {out}")

    # The guest is fine after all of it, and a stopped partition has no console to give.
    v2 = Viewer(hosts, certs, NAME)
    check(v2.ask(b"echo after-the-replay-$((2+2))\n", b"after-the-replay-4"),
          f"the second viewer got no answer: {v2.out[-400:]!r}")
    v2.type(b"\x1d")
    check(v2.proc.wait(timeout=15) == 0, f"the second viewer: {v2.err()}")
    b.ultra("destroy", NAME)
    wait_for(lambda: "stopped" in b.ultra("list").stdout, 30, f"{NAME} to stop")
    v3 = Viewer(hosts, certs, NAME)
    rc = v3.proc.wait(timeout=30)
    err = v3.err()
    check(rc == 1 and "not-running" in err, f"the console of a stopped partition: {rc} {err}")


def test_a_remote_viewer_that_does_not_read_never_slows_the_guest():
    """`ultra console` from A whose output nobody reads: its pipe, its relay, the TLS
    connection and the gateway's buffer fill, the gateway stops reading console.sock, and the
    console relay on B drops for it what it cannot take. The guest writes LINES lines at its own
    speed, console.log has every one, and the viewer, read at last, is told what it lost."""
    hosts, w, certs, b = host_b()
    # Small TCP buffers on both sides (per namespace), and more output than every buffer on
    # the way holds, so that the relay on B has to drop for this viewer.
    for ns in (hosts.a, hosts.b):
        for key in ("net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"):
            run("ip", "netns", "exec", ns, "sysctl", "-qw", f"{key}=4096 16384 65536")
    lines = 150000  # about 3 MB
    cmdline = writer_cmdline(delay_s=15, lines=lines)  # time for the viewer to attach first
    b.ultra("define", write_def(w, "netcon2", cmdline=cmdline))
    b.ultra("start", "netcon2")
    g = harness.Partition(b.run, w.definition("netcon2", cmdline=cmdline))
    wait_for(lambda: harness.MARKER in g.console_log(), harness.BOOT_TIMEOUT, "netcon2's init")
    v = Viewer(hosts, certs, "netcon2", reading=False)
    wait_for(lambda: "stream token accepted" in open(b.log).read() or v.proc.poll() is not None,
             30, "B's gateway to splice the console")
    check(b"CONSOLE-WRITE" not in g.console_log(), "the guest wrote before the viewer came")
    t = write_time(g, 90)
    check(t is not None, "a remote viewer that does not read stalled the guest for 90 s")
    print(f"  {lines} lines to ttyS0 in {t:.2f} s with a remote viewer that does not read")
    check_log_complete(g, lines)
    v.read_now()
    wait_for(lambda: b"bytes of console output dropped" in v.out, 30,
             "the notice of dropped output at the remote viewer")
    v.type(b"\x1d")
    check(v.proc.wait(timeout=15) == 0, f"ultra console: {v.err()}")
