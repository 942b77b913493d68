# SPDX-License-Identifier: MIT
"""The command partition over the network (claims 36, 39, 43; docs/cmdnet.md).

Two network namespaces made here stand for two hosts joined by a veth pair on private
addresses. Host B runs the whole system under ultra-boot (ultravisor, command partition, I/O
partition, and the command partition's gateway ultra-cmdgw as its --helper), listening on B's
address only. From host A, `ultra -c tls://B:PORT` with a client certificate by the cluster CA
defines and starts a Linux guest on B and sees it running, and the console output whose path
`info` gives; the operations partition on host A (ultra-ops --command tls://B:PORT) defines
and starts another there; a client whose certificate another CA signed is refused with a clear
error;
nothing listens in the root namespace; the gateway, killed, is restarted by ultra-boot; a
restarted command partition is reached through the same gateway.
Namespaces, processes and files go at cleanup whether the test passed or not."""
import json
import os
import signal
import subprocess

import harness
from harness import check, pid_alive, wait_for
from test_command import kill_monitors
from test_recovery import BIN, System

PORT = 7443  # inside namespace B only: no other test can hold it


def run(*cmd, ok=True, timeout=60):
    r = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout)
    if ok:
        check(r.returncode == 0, f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr}")
    return r


class Hosts:
    """Namespaces A and B with a veth pair between them, 10.213.N.1 and 10.213.N.2."""

    def __init__(self):
        tag = f"uvcn{os.getpid()}"
        self.a, self.b = tag + "a", tag + "b"
        n = os.getpid() % 250
        self.addr_a, self.addr_b = f"10.213.{n}.1", f"10.213.{n}.2"
        harness.on_cleanup(self.remove)  # first registered: runs after the system is gone
        for ns in (self.a, self.b):
            run("ip", "netns", "add", ns)
            run("ip", "-n", ns, "link", "set", "lo", "up")
        run("ip", "link", "add", self.a, "netns", self.a, "type", "veth", "peer", "name",
            self.b, "netns", self.b)
        for ns, addr in ((self.a, self.addr_a), (self.b, self.addr_b)):
            run("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", ns)
            run("ip", "-n", ns, "link", "set", ns, "up")

    def remove(self):
        # Deleting a namespace takes its end of the veth pair, and so the pair, with it.
        for ns in (self.a, self.b):
            if os.path.exists(f"/run/netns/{ns}"):
                run("ip", "netns", "del", ns, ok=False)
        left = [ns for ns in (self.a, self.b) if os.path.exists(f"/run/netns/{ns}")]
        check(not left, f"namespaces left behind: {left}")

    def in_a(self, *cmd):
        return ["ip", "netns", "exec", self.a, *cmd]


class HostB(System):
    """The system of test_recovery, started inside namespace B, with the gateway."""

    def __init__(self, w, image, hosts, certs):
        super().__init__(w, image)
        self.hosts = hosts
        self.certs = certs

    def wrap(self, cmd):
        c = self.certs
        gw = (f"{BIN}/ultra-cmdgw --listen {self.hosts.addr_b}:{PORT} --ca {c}/ca.pem "
              f"--cert {c}/hostb.pem --key {c}/hostb.key --allow-cn ops-a "
              f"--command {self.run}/command.sock")
        return ["ip", "netns", "exec", self.hosts.b, *cmd, "--helper", f"2:cmdgw={gw}"]


def make_certs(w, addr_b):
    certs = os.path.join(w.dir, "certs")
    mk = os.path.join(harness.ROOT, "scripts", "mkcerts.sh")
    run(mk, certs, "ca")
    run(mk, certs, "host", "hostb", addr_b)
    run(mk, certs, "client", "ops-a")
    run(mk, os.path.join(certs, "other"), "ca")
    run(mk, os.path.join(certs, "other"), "client", "ops-a")  # the same CN, another CA
    return certs


def tcp_listeners(path):
    """Ports in LISTEN state in a /proc/.../net/tcp{,6} table."""
    ports = set()
    for table in (path, path + "6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            if state == "0A":
                ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


def start_ops_on_a(w, hosts, certs, target):
    """ultra-ops in namespace A, a client of B's command partition; its run directory."""
    run_a = os.path.join(w.dir, "host-a")
    os.mkdir(run_a)
    harness.start_daemon(hosts.in_a(
        os.path.join(BIN, "ultra-ops"), "--run-dir", run_a, "--db", os.path.join(run_a, "ops.db"),
        "--command", target, "--tls-ca", os.path.join(certs, "ca.pem"),
        "--tls-cert", os.path.join(certs, "ops-a.pem"), "--tls-key",
        os.path.join(certs, "ops-a.key")), os.path.join(run_a, "ops.log"),
        os.path.join(run_a, "ops.sock"), "ultra-ops on host A")
    return run_a


def test_ultra_drives_another_hosts_command_partition_over_tls():
    w = harness.workspace()
    hosts = Hosts()
    certs = make_certs(w, hosts.addr_b)
    image = os.path.join(w.dir, "disk0.img")
    with open(image, "wb") as f:
        f.truncate(16 << 20)
    sysp = HostB(w, image, hosts, certs)
    sysp.start()
    harness.on_cleanup(lambda: kill_monitors(sysp.run))
    target = f"tls://{hosts.addr_b}:{PORT}"

    def ultra_a(*args, cert="", ok=True):
        c = os.path.join(certs, cert)
        return run(*hosts.in_a(os.path.join(BIN, "ultra"), "-c", target, "--tls-ca",
                               os.path.join(certs, "ca.pem"), "--tls-cert",
                               os.path.join(c, "ops-a.pem"), "--tls-key",
                               os.path.join(c, "ops-a.key"), *args), ok=ok, timeout=120)

    wait_for(lambda: sysp.pid("cmdgw") and "listening on" in open(sysp.log).read(), 30,
             "the gateway to listen")
    gw = sysp.pid("cmdgw")

    # It listens in B, on B's address, and nowhere in the root namespace.
    check(PORT in tcp_listeners(f"/proc/{gw}/net/tcp"), "the gateway does not listen in B")
    check(PORT not in tcp_listeners("/proc/self/net/tcp"),
          "something listens on the gateway's port in the root namespace")
    check(f"listening on {hosts.addr_b}:{PORT}" in open(sysp.log).read(),
          "the gateway's log names another address")

    g = w.partition("netg", memory_mib=160)
    out = ultra_a("define", g.def_file()).stdout
    check("netg defined as number" in out, f"define over TLS said: {out}")
    ultra_a("start", "netg")
    try:
        wait_for(lambda: any(p["name"] == "netg" and p["state"] == "running"
                             for p in json.loads(ultra_a("--json", "list").stdout)), 60,
                 "netg to be listed running from host A")
    except harness.TestFailure as e:
        raise harness.TestFailure(f"{e}; ultra-boot's log:\n" + open(sysp.log).read()[-3000:])
    info = json.loads(ultra_a("--json", "info", "netg").stdout)
    # The console's output, where info says it is (host B's file system is ours here).
    check(info["console_log"] == g.path("console.log"), f"info's console_log: {info}")
    g.wait_boot()
    check(harness.MARKER in open(info["console_log"], "rb").read(), "no console output")

    # The operations partition on host A: define and start go through it to host B.
    run_a = start_ops_on_a(w, hosts, certs, target)

    def ultra_via_ops(*args):
        r = subprocess.run(hosts.in_a(os.path.join(BIN, "ultra"), *args), capture_output=True,
                           text=True, timeout=120, env=dict(os.environ, ULTRA_RUN_DIR=run_a))
        check(r.returncode == 0, f"ultra {args[0]} through ultra-ops on A: {r.stderr}; "
              + open(os.path.join(run_a, "ops.log")).read()[-1500:])

    g2 = w.partition("netops", memory_mib=128)
    ultra_via_ops("define", g2.def_file())
    ultra_via_ops("start", "netops")
    wait_for(lambda: any(p["name"] == "netops" and p["state"] == "running"
                         for p in json.loads(ultra_a("--json", "list").stdout)), 60,
             "netops, started by ultra-ops on A, to run on B")
    status = harness.json_request(os.path.join(run_a, "ops.sock"),
                                  {"version": 1, "execute": "status"})
    check(status.get("return", {}).get("command") is True, f"ultra-ops' status: {status}")

    # Another CA's client certificate, the same CN: refused, and it says so.
    r = ultra_a("list", cert="other", ok=False)
    check(r.returncode == 3 and "refused us" in r.stderr and "unknown ca" in r.stderr,
          f"a client certificate by another CA: exit {r.returncode}: {r.stderr}")
    check("refused: client certificate: unable to get local issuer" in open(sysp.log).read(),
          "the gateway did not log why it refused")

    # The gateway, killed, comes back under ultra-boot, and host A gets in again.
    os.kill(gw, signal.SIGKILL)
    wait_for(lambda: sysp.pid("cmdgw") not in (0, gw) and pid_alive(sysp.pid("cmdgw")), 30,
             "ultra-boot to restart the gateway")
    wait_for(lambda: ultra_a("list", ok=False).returncode == 0, 30,
             "host A to reach the restarted gateway")

    # The command partition, killed, comes back; the gateway relays to the new one.
    cmd = sysp.pid("command")
    os.kill(cmd, signal.SIGKILL)
    wait_for(lambda: sysp.pid("command") not in (0, cmd) and
             ultra_a("list", ok=False).returncode == 0, 30,
             "host A to reach the restarted command partition")

    for name in ("netg", "netops"):
        ultra_a("destroy", name)
        wait_for(lambda: json.loads(ultra_a("--json", "info", name).stdout)["state"] ==
                 "stopped", 30, f"{name} to stop")
    ultra_a("undefine", "netg")
    # ultra-ops' connection went with the old gateway (and the old command partition): it
    # connects again by itself.
    ultra_via_ops("undefine", "netops")
    check(json.loads(ultra_a("--json", "list").stdout) == [], "a partition is still listed")
