# SPDX-License-Identifier: MIT
"""The witness of a redundant operations partition (claim 47; claims 35-38; docs/ops-ha.md
"The witness").

Three network namespaces stand for three hosts: A and B, each with its ultra-ops --peer behind
its own gateway (as in test_ops_ha.py), and W with ultra-witness behind a gateway of its own.
Each pair of hosts has its own veth link, so one link can be cut while the others carry on:
W's address lives on its loopback and A and B reach it over their own link to W. One command
partition (ultra-boot in the root namespace, host h1 by its socket path) gives the active one
something to act on.

* A tick's change reaches the standby by a push: with A's gateway stopped B cannot pull from
  A (A still reaches B, so B does not take over), and the host A's tick places an autostart
  partition on is in B's store all the same.
* The A-B link cut, both still reaching W: B finds A silent for well over --peer-dead-ms and
  asks W, which refuses (A holds the lease); B stays standby and refuses writes, A goes on
  acting (a write succeeds there); after the link is back nothing changed hands and B has A's
  change. Without the witness (UV_TEST_NO_WITNESS=1) B takes over and the test fails.
* A cut from both B and W: A's lease runs out and its writes are refused, saying why; B takes
  over at epoch 2 with W's grant. W, killed and restarted, still knows B holds the lease and
  refuses anyone else; B acts. A, reconnected, steps down and gets B's change.
* B, active, stopped (SIGSTOP) past its lease: A takes over at epoch 3 with W's grant; B,
  continued, steps down without acting.
Namespaces, processes and files go at cleanup, failed or not."""
import os
import signal
import time

import harness
from harness import check, wait_for
from test_cmdnet import run
from test_command import kill_monitors
from test_ops_ha import DEAD_MS, PORT, OpsHost, names
from test_recovery import BIN, System

WITNESS = not os.environ.get("UV_TEST_NO_WITNESS")


class Hosts3:
    """Namespaces A, B and W, a veth link between each two; W's service address on its lo."""

    LINKS = {"ab": 221, "aw": 222, "bw": 223}

    def __init__(self):
        tag = f"uw{os.getpid() % 100000}"
        self.a, self.b, self.w = tag + "a", tag + "b", tag + "w"
        self.ns = {"a": self.a, "b": self.b, "w": self.w}
        self.tag = tag
        n = os.getpid() % 250
        self.n = n
        self.addr_a, self.addr_b = f"10.221.{n}.1", f"10.221.{n}.2"
        self.addr_w = f"10.224.{n}.1"
        harness.on_cleanup(self.remove)
        for ns in self.ns.values():
            run("ip", "netns", "add", ns)
            run("ip", "-n", ns, "link", "set", "lo", "up")
        run("ip", "-n", self.w, "addr", "add", f"{self.addr_w}/32", "dev", "lo")
        for link, net in self.LINKS.items():
            x, y = link
            run("ip", "link", "add", self.dev(x, y), "netns", self.ns[x], "type", "veth",
                "peer", "name", self.dev(y, x), "netns", self.ns[y])
            run("ip", "-n", self.ns[x], "addr", "add", f"10.{net}.{n}.1/24", "dev",
                self.dev(x, y))
            run("ip", "-n", self.ns[y], "addr", "add", f"10.{net}.{n}.2/24", "dev",
                self.dev(y, x))
            self.up(link)

    def dev(self, x, y):
        return f"{self.tag}{x}{y}"

    def up(self, link):
        x, y = link
        for p, q in ((x, y), (y, x)):
            run("ip", "-n", self.ns[p], "link", "set", self.dev(p, q), "up")
        if y == "w":  # the route to W's address goes with its link: put it back
            run("ip", "-n", self.ns[x], "route", "replace", f"{self.addr_w}/32", "via",
                f"10.{self.LINKS[link]}.{self.n}.2")

    def cut(self, link):
        """The link between the two hosts goes down: each still runs, neither hears the other
        over it."""
        x, y = link
        run("ip", "-n", self.ns[x], "link", "set", self.dev(x, y), "down")

    def remove(self):
        for ns in self.ns.values():
            if os.path.exists(f"/run/netns/{ns}"):
                run("ip", "netns", "del", ns, ok=False)
        left = [ns for ns in self.ns.values() if os.path.exists(f"/run/netns/{ns}")]
        check(not left, f"namespaces left behind: {left}")


def make_certs(w, hosts):
    certs = os.path.join(w.dir, "certs")
    mk = os.path.join(harness.ROOT, "scripts", "mkcerts.sh")
    run(mk, certs, "ca")
    for gw, addr in (("gwa", hosts.addr_a), ("gwb", hosts.addr_b), ("gww", hosts.addr_w)):
        run(mk, certs, "host", gw, addr)
    run(mk, certs, "client", "ops-a")
    run(mk, certs, "client", "ops-b")
    return certs


class Witness:
    """ultra-witness in W and its gateway, which lets in both operations partitions."""

    def __init__(self, w, hosts, certs):
        self.hosts = hosts
        self.dir = os.path.join(w.dir, "wit")
        os.mkdir(self.dir)
        self.log = os.path.join(self.dir, "witness.log")
        self.sock = os.path.join(self.dir, "witness.sock")
        self.start()
        harness.start_daemon(["ip", "netns", "exec", hosts.w, os.path.join(BIN, "ultra-cmdgw"),
                              "--listen", f"{hosts.addr_w}:{PORT}", "--ca", f"{certs}/ca.pem",
                              "--cert", f"{certs}/gww.pem", "--key", f"{certs}/gww.key",
                              "--allow-cn", "ops-a", "--allow-cn", "ops-b", "--command",
                              self.sock],
                             os.path.join(self.dir, "gw.log"), os.path.join(self.dir, "gw.log"),
                             "W's gateway")

    def start(self):
        if os.path.exists(self.sock):
            os.unlink(self.sock)  # kill -9 left it
        self.proc = harness.start_daemon(
            ["ip", "netns", "exec", self.hosts.w, os.path.join(BIN, "ultra-witness"),
             "--run-dir", self.dir, "--state", os.path.join(self.dir, "witness.state")],
            self.log, self.sock, "ultra-witness")

    def restart(self):
        """kill -9 and start again on its record."""
        self.proc.kill()
        self.proc.wait()
        self.start()

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def ask(self, name, epoch):
        return harness.json_request(self.sock, {
            "version": 1, "execute": "lease",
            "arguments": {"name": name, "epoch": epoch, "lease_ms": DEAD_MS}})["return"]


def lines_after(host, n):
    return [ln for ln in host.text().split("\n")[n:] if ln.startswith("ultra-ops: ")]


def test_witness_lets_exactly_one_act():
    t_start = time.monotonic()
    w = harness.workspace()
    hosts = Hosts3()
    certs = make_certs(w, hosts)
    sysp = System(w).start()
    harness.on_cleanup(lambda: kill_monitors(sysp.run))
    command_sock = os.path.join(sysp.run, "command.sock")
    wit = Witness(w, hosts, certs)

    a, b = (OpsHost(w, hosts, certs, me, command_sock) for me in ("a", "b"))
    if WITNESS:
        for h in (a, b):
            h.extra_args = ["--witness", f"tls://{hosts.addr_w}:{PORT}"]
    a.start()
    wait_for(lambda: a.status().get("role") == "active", DEAD_MS / 1000 + 15,
             "A, alone, to become active")
    b.start()
    wait_for(lambda: b.status().get("peer", {}).get("role") == "active", 15,
             "B to hear from A over TLS")
    if WITNESS:
        check(a.status()["witness"].get("holder") == "a", f"A's witness: {a.status()}")

    # A tick's change is pushed: B cannot pull (A's gateway stopped), yet it gets the host
    # A's tick placed an autostart partition on.
    a.ok("host-add", name="h1", address=command_sock, zone="z1")
    os.kill(a.gw.pid, signal.SIGSTOP)
    try:
        g = w.partition("wit1", memory_mib=128, autostart=True)
        a.ok("define", definition=g.definition)
        wait_for(lambda: [p.get("host") for p in a.ok("list")] == ["h1"], 30,
                 "A's tick to place wit1")
        wait_for(lambda: [p.get("host") for p in b.ok("list")] == ["h1"], 5,
                 "the placement to reach B without B pulling")
    finally:
        os.kill(a.gw.pid, signal.SIGCONT)

    # The A-B link is cut; both still reach W. B finds A silent and must not take over.
    b_lines = len(b.text().split("\n")) - 1
    hosts.cut("ab")
    try:
        until = time.monotonic() + 2 * DEAD_MS / 1000 + 1.5
        while time.monotonic() < until:
            check(b.status().get("role") == "standby",
                  f"B took over while A still acts: {b.status()}\nB:\n{b.text()[-1500:]}")
            time.sleep(0.1)
        check(b.status()["peer"]["heard_ms_ago"] > DEAD_MS, f"B heard from A: {b.status()}")
        check("the witness at" in b.text() and "refuses: a holds the lease at epoch 1" in
              b.text(), "B's log does not say why it stays standby:\n" + b.text()[-1500:])
        a.ok("domain-create", name="during-cut")  # A acts
        r = b.call("domain-create", name="nope")
        check(r.get("error", {}).get("code") == "standby", f"a write on B during the cut: {r}")
        check(a.status()["role"] == "active" and a.status()["epoch"] == 1,
              f"A after the cut: {a.status()}")
        acted = [ln for ln in lines_after(b, b_lines) if "replica" not in ln]
        check(not acted, "B acted during the cut:\n" + "\n".join(acted))
    finally:
        hosts.up("ab")
    wait_for(lambda: "during-cut" in names(b.ok("domain-list")), 15,
             "A's change to reach B once the link is back")
    check(a.status()["epoch"] == 1 and b.status()["role"] == "standby",
          f"the roles changed: A {a.status()}, B {b.status()}")

    # A is cut from both B and W: it stops acting, and B takes over with W's grant.
    hosts.cut("ab")
    hosts.cut("aw")
    t0 = time.monotonic()
    wait_for(lambda: a.status().get("witness", {}).get("lease_ms_left") == 0 and
             a.status()["peer"]["heard_ms_ago"] > DEAD_MS * 3 / 4, DEAD_MS / 1000 + 5,
             "A's lease and its peer's backing to run out")
    r = a.call("domain-create", name="isolated")
    check(r.get("error", {}).get("code") == "standby" and
          "holds no lease from its witness" in r["error"]["message"],
          f"a write on the isolated A: {r}")
    wait_for(lambda: b.status().get("role") == "active", DEAD_MS / 1000 + 10,
             "B to take over from the isolated A")
    took = time.monotonic() - t0
    check(took < DEAD_MS / 1000 + 6, f"B took {took:.1f} s to take over")
    check(b.status()["epoch"] == 2 and b.status()["witness"]["holder"] == "b",
          f"B after the takeover: {b.status()}")
    check("lease to b at epoch 2" in wit.text(), "W's log does not show its grant to B")

    # The witness restarts (kill -9) on its record: B keeps the lease, anyone else is refused.
    wit.restart()
    check("b holds the lease at epoch 2; no one else gets it for" in wit.text(),
          "the restarted witness forgot its holder:\n" + wit.text())
    r = wit.ask("c", 99)
    check(not r["granted"] and r["holder"] == "b", f"the restarted witness granted c: {r}")
    wait_for(lambda: b.status()["witness"].get("heard_ms_ago", 1e9) < 1000 and
             "error" not in b.status()["witness"], 10, "B to renew with the restarted witness")
    b.ok("domain-create", name="after")  # B acts on

    # A reconnected steps down without acting, and gets B's change.
    a_lines = len(a.text().split("\n")) - 1
    hosts.up("aw")
    hosts.up("ab")
    wait_for(lambda: a.status().get("role") == "standby", 15, "A to step down")
    wait_for(lambda: "after" in names(a.ok("domain-list")), 15, "B's change to reach A")
    check("isolated" not in names(a.ok("domain-list")), "A's refused write was made")
    acted = [ln for ln in lines_after(a, a_lines) if "replica" not in ln]
    check(not acted, "A acted after its return:\n" + "\n".join(acted))
    check(b.status()["role"] == "active", f"B after A's return: {b.status()}")

    # B, active, is stopped (SIGSTOP) past its lease: A takes over at epoch 3 with W's grant.
    # B, continued, acts on neither its old lease nor its peer's old answer: it steps down.
    os.kill(b.ops.pid, signal.SIGSTOP)
    try:
        wait_for(lambda: a.status().get("role") == "active", DEAD_MS / 1000 + 10,
                 "A to take over from the stopped B")
        check(a.status()["epoch"] == 3 and a.status()["witness"]["holder"] == "a",
              f"A after B stopped: {a.status()}")
        b_lines = len(b.text().split("\n")) - 1
    finally:
        os.kill(b.ops.pid, signal.SIGCONT)
    wait_for(lambda: b.status().get("role") == "standby", 10, "the continued B to step down")
    acted = [ln for ln in lines_after(b, b_lines) if "replica" not in ln]
    check(not acted, "the continued B acted:\n" + "\n".join(acted))
    print(f"  ({time.monotonic() - t_start:.1f} s)")
