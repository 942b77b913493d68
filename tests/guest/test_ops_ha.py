# SPDX-License-Identifier: MIT
"""The redundant operations partition (claim 47; claims 35-38; docs/ops-ha.md).

Two network namespaces stand for two hosts, A and B, joined by a veth pair (as in
test_cmdnet.py). Each runs an ultra-ops with --peer naming the other's gateway: an ultra-cmdgw
in front of its own ops.sock, listening on its host's address with TLS 1.3 and mutual
certificates, so the peers reach each other only over the network. Both drive one command
partition (ultra-boot in the root namespace, registered as host h1 by its socket path: the
hosts' guests are not what is under test here, the operations partitions are).

A, started first, becomes active (epoch 1); B follows as standby. A domain, a schedule and
three definitions made on A (one started: a guest that boots) appear in B's store; B refuses a
write and names A, and `ultra` says so. kill -9 of host A (its ultra-ops and its gateway): B
takes over within --peer-dead-ms plus a tick or two, at epoch 2; the guest keeps running (same
QEMU, answers on its console); every definition, the domain and the schedule are on B, which
starts another partition. A, restarted on its old store, finds epoch 2 and stays standby: it
never acts, refuses writes naming B, and receives B's later changes. Namespaces, processes and
files go at cleanup, failed or not."""
import json
import os
import signal
import subprocess
import time

import harness
from harness import check, pid_alive, wait_for
from test_cmdnet import Hosts, run
from test_command import kill_monitors
from test_recovery import BIN, System

PORT = 7444  # inside the namespaces only
TICK_MS = 300
DEAD_MS = 3000


def make_certs(w, hosts):
    certs = os.path.join(w.dir, "certs")
    mk = os.path.join(harness.ROOT, "scripts", "mkcerts.sh")
    run(mk, certs, "ca")
    run(mk, certs, "host", "gwa", hosts.addr_a)
    run(mk, certs, "host", "gwb", hosts.addr_b)
    run(mk, certs, "client", "ops-a")
    run(mk, certs, "client", "ops-b")
    return certs


class OpsHost:
    """One host's operations partition and the gateway in front of its ops.sock."""

    def __init__(self, w, hosts, certs, me, command_sock):
        self.me = me
        self.other = "b" if me == "a" else "a"
        self.ns = hosts.a if me == "a" else hosts.b
        self.addr = hosts.addr_a if me == "a" else hosts.addr_b
        peer_addr = hosts.addr_b if me == "a" else hosts.addr_a
        self.peer = f"tls://{peer_addr}:{PORT}"
        self.run = os.path.join(w.dir, f"ops-{me}")
        os.mkdir(self.run)
        self.sock = os.path.join(self.run, "ops.sock")
        self.log = os.path.join(self.run, "ops.log")
        self.certs = certs
        self.command_sock = command_sock
        self.procs = []
        self.extra_args = []  # more ultra-ops arguments (test_ops_witness.py: --witness)
        harness.on_cleanup(self.kill)

    def _spawn(self, *cmd):
        log = open(self.log, "ab")
        p = subprocess.Popen(["ip", "netns", "exec", self.ns, *cmd], stdout=log, stderr=log,
                             start_new_session=True, env=dict(os.environ, TZ="UTC"))
        log.close()
        self.procs.append(p)
        return p

    def start(self):
        c = self.certs
        if os.path.exists(self.sock):
            os.unlink(self.sock)  # kill -9 left it; ultra-ops binds anew
        self.ops = self._spawn(
            os.path.join(BIN, "ultra-ops"), "--run-dir", self.run,
            "--db", os.path.join(self.run, "ops.db"), "--command", self.command_sock,
            "--peer", self.peer, "--name", self.me, "--tick-ms", str(TICK_MS),
            "--peer-dead-ms", str(DEAD_MS), "--tls-ca", f"{c}/ca.pem",
            "--tls-cert", f"{c}/ops-{self.me}.pem", "--tls-key", f"{c}/ops-{self.me}.key",
            *self.extra_args)
        self.gw = self._spawn(
            os.path.join(BIN, "ultra-cmdgw"), "--listen", f"{self.addr}:{PORT}",
            "--ca", f"{c}/ca.pem", "--cert", f"{c}/gw{self.me}.pem",
            "--key", f"{c}/gw{self.me}.key", "--allow-cn", f"ops-{self.other}",
            "--command", self.sock)
        wait_for(lambda: os.path.exists(self.sock) and "listening on" in self.text()
                 or self.ops.poll() is not None or self.gw.poll() is not None, 30,
                 f"ultra-ops and its gateway on host {self.me.upper()}")
        check(self.ops.poll() is None and self.gw.poll() is None,
              f"host {self.me.upper()}: exited: {self.text()}")
        return self

    def kill(self):
        """kill -9 of everything this host runs: a dead host."""
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait()
        self.procs = []

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def call(self, execute, **args):
        return harness.json_request(self.sock, {"version": 1, "execute": execute,
                                                "arguments": args})

    def ok(self, execute, **args):
        r = self.call(execute, **args)
        check("return" in r, f"{execute} on {self.me.upper()}: {r}; log:\n{self.text()[-2000:]}")
        return r["return"]

    def status(self):
        return self.call("replica-status").get("return", {})

    def ultra(self, *args, tls=True):
        """ultra on this host, with its RUN/ops.sock; with tls, the cluster certificates."""
        c = self.certs
        creds = ["--tls-ca", f"{c}/ca.pem", "--tls-cert", f"{c}/ops-{self.me}.pem",
                 "--tls-key", f"{c}/ops-{self.me}.key"] if tls else []
        return subprocess.run(["ip", "netns", "exec", self.ns, os.path.join(BIN, "ultra"),
                               *creds, *args], capture_output=True, text=True, timeout=60,
                              env=dict(os.environ, ULTRA_RUN_DIR=self.run))


def names(lst):
    return sorted(x["name"] for x in lst)


def test_standby_takes_over_and_the_old_active_steps_down():
    w = harness.workspace()
    hosts = Hosts()
    certs = make_certs(w, hosts)
    sysp = System(w).start()
    harness.on_cleanup(lambda: kill_monitors(sysp.run))
    command_sock = os.path.join(sysp.run, "command.sock")

    a = OpsHost(w, hosts, certs, "a", command_sock).start()
    wait_for(lambda: a.status().get("role") == "active", DEAD_MS / 1000 + 15,
             "A, alone, to become active")
    check(a.status()["epoch"] == 1, f"A's first epoch: {a.status()}")
    b = OpsHost(w, hosts, certs, "b", command_sock).start()
    wait_for(lambda: b.status().get("peer", {}).get("role") == "active", 15,
             "B to hear from A over TLS")
    check(b.status()["role"] == "standby" and a.status()["role"] == "active",
          f"roles: A {a.status()}, B {b.status()}")

    # Definitions on the active one: a domain, a schedule, three partitions, one of them
    # autostart.
    a.ok("host-add", name="h1", address=command_sock, zone="z1")  # placement and failover
    a.ok("domain-create", name="web", memory_mib=1024)
    g1 = w.partition("ha1", memory_mib=128, domain="web", autostart=True)
    defs = [g1.definition, w.definition("ha2", memory_mib=128, domain="web"),
            w.definition("ha3", memory_mib=128)]
    for d in defs:
        a.ok("define", definition=d)
    a.ok("schedule-add", partition="ha1", window="00:00-24:00", setting="cpu_share", value=0.5)
    g1.wait_boot()  # autostart: A's tick starts it
    qemu = g1.qemu_pid()
    check(qemu and pid_alive(qemu), "ha1's QEMU is not running")

    # ... are on the standby, every one, as soon as it has pulled A's counter.
    seq = a.status()["seq"]
    wait_for(lambda: b.status().get("seq") == seq, 15, f"B's store to reach A's change {seq}")
    check(names(b.ok("list")) == ["ha1", "ha2", "ha3"], f"B's definitions: {b.ok('list')}")
    check([p["host"] for p in b.ok("list") if p["name"] == "ha1"] == ["h1"],
          f"B does not know where ha1 runs: {b.ok('list')}")
    check(names(b.ok("domain-list")) == ["web"], "B lacks the domain")
    check([s["partition"] for s in b.ok("schedule-list")] == ["ha1"], "B lacks the schedule")

    # The standby refuses writes and names the active one. `ultra` on host B says so, and
    # with the cluster's certificates goes on to the active one over TLS.
    r = b.call("domain-create", name="nope")
    check(r.get("error", {}).get("code") == "standby" and
          f"the active one is a at tls://{hosts.addr_a}:{PORT}" in r["error"]["message"],
          f"a write on the standby: {r}")
    u = b.ultra("domain", "create", "nope", tls=False)
    check(u.returncode != 0 and "standby" in u.stderr and "the active one is a" in u.stderr,
          f"ultra through the standby: exit {u.returncode}: {u.stderr}")
    check("nope" not in names(a.ok("domain-list")), "a refused write was made")
    u = b.ultra("domain", "create", "viab")
    check(u.returncode == 0 and "asking the active one, a at" in u.stderr,
          f"ultra on B, following to A: exit {u.returncode}: {u.stderr}")
    check("viab" in names(a.ok("domain-list")), "ultra's write did not reach A")

    # Host A dies: kill -9 of its operations partition and its gateway.
    a.kill()
    t0 = time.monotonic()
    wait_for(lambda: b.status().get("role") == "active", DEAD_MS / 1000 + 10,
             "B to take over")
    took = time.monotonic() - t0
    check(took < DEAD_MS / 1000 + 5, f"B took {took:.1f} s to take over (dead after "
          f"{DEAD_MS} ms)")
    check(b.status()["epoch"] == 2, f"B's epoch after the takeover: {b.status()}")
    check("active at epoch 2 (the peer at" in b.text(), "B's log does not say why it took over")

    # The guest ran on through it all, and B has every definition made before the kill.
    check(g1.qemu_pid() == qemu and pid_alive(qemu), "ha1's QEMU changed or died")
    check(g1.out("echo still-here").strip() == "still-here", "ha1 does not answer")
    check(names(b.ok("list")) == ["ha1", "ha2", "ha3"], f"B's definitions: {b.ok('list')}")
    check(names(b.ok("domain-list")) == ["viab", "web"],
          f"B lost a domain: {b.ok('domain-list')}; A:\n{a.text()[-1500:]}\nB:\n{b.text()[-1500:]}")
    wait_for(lambda: [h["state"] for h in b.ok("host-list")] == ["up"], 15,
             "B to find host h1 up (fenced: nothing of the store's elsewhere)")
    b.ok("start", name="ha2")  # the new active one acts
    wait_for(lambda: any(p["name"] == "ha2" and p["state"] == "running"
                         for p in json.loads(sysp.ultra("--json", "list").stdout)), 60,
             "ha2, started by B, to run")
    b.ok("domain-create", name="late")

    # A comes back on its old store (epoch 1): it finds epoch 2 and stays standby.
    a.start()
    wait_for(lambda: a.status().get("peer", {}).get("role") == "active", 20,
             "the returning A to hear from B")
    wait_for(lambda: a.status().get("seq") == b.status().get("seq"), 15,
             "A's store to catch up with B's")
    st = a.status()
    check(st["role"] == "standby" and st["epoch"] == 2 and b.status()["role"] == "active",
          f"after A's return: A {st}, B {b.status()}")
    check("standby of b, active at epoch 2 (ours was 1)" in a.text(),
          "A's log does not say it stood down for B's epoch")
    check(a.text().count("replica: active at epoch") == 1,
          "A acted again after its return:\n" + a.text())
    check(names(a.ok("domain-list")) == ["late", "viab", "web"], "A lacks B's later change")
    r = a.call("define", definition=w.definition("ha4"))
    check(r.get("error", {}).get("code") == "standby" and "the active one is b" in
          r["error"]["message"], f"a write on the returned A: {r}")
    time.sleep(3 * TICK_MS / 1000)
    check(a.status()["role"] == "standby" and b.status()["role"] == "active",
          "the roles changed after A's return")

    # B, the active one, stops (SIGSTOP: alive, silent) for longer than --peer-dead-ms: A
    # takes over at epoch 3. B, continued, still believes it is active at epoch 2; it must
    # learn of epoch 3 before it acts, and step down.
    os.kill(b.ops.pid, signal.SIGSTOP)
    try:
        wait_for(lambda: a.status().get("role") == "active", DEAD_MS / 1000 + 10,
                 "A to take over from the stopped B")
        check(a.status()["epoch"] == 3, f"A's epoch: {a.status()}")
        a.ok("domain-create", name="third")
        # A change B would undo if it acted on its old store: ha1's schedule goes, and A
        # puts ha1's own share back in force.
        a.ok("schedule-remove", id=a.ok("schedule-list")[0]["id"])
        wait_for(lambda: "ultra-ops: ha1: cpu_share 0.500 ->" in a.text(), 10,
                 "A to put ha1's own share in force")
        lines_before = len(b.text().split("\n")) - 1
    finally:
        os.kill(b.ops.pid, signal.SIGCONT)
    wait_for(lambda: b.status().get("role") == "standby", 10, "the continued B to step down")
    check("standby: a is active at epoch 3, ours is 2" in b.text(),
          "B's log does not say it stepped down for epoch 3:\n" + b.text()[-1500:])
    new_lines = b.text().split("\n")[lines_before:]
    check(all("replica" in ln for ln in new_lines if ln.startswith("ultra-ops: ")),
          "B did something besides stepping down:\n" + "\n".join(new_lines))
    wait_for(lambda: "third" in names(b.ok("domain-list")), 15, "B to receive A's change")
    time.sleep(3 * TICK_MS / 1000)
    new_lines = b.text().split("\n")[lines_before:]
    check(not any("cpu_share" in ln for ln in new_lines),
          "the continued B acted on its old store:\n" + "\n".join(new_lines))
    check(g1.qemu_pid() == qemu and pid_alive(qemu), "ha1's QEMU changed or died")
