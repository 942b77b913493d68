# SPDX-License-Identifier: MIT
"""Live migration between two hosts that reach each other only over TCP (claims 43, 44, 85;
docs/migration.md, "Over the network"). Two network namespaces made here stand for two hosts
joined by a veth pair; each runs its own system under ultra-boot. Host B's command partition
is reached through its gateway (ultra-cmdgw, TLS 1.3, mutual certificates); host A's command
partition holds a client certificate of the same cluster CA (ultra-command --tls-*).

A guest on A keeps a random token in a tmpfs file, a counter it goes on writing, and its uptime;
`ultra migrate NAME --to tls://B:PORT` moves it while it runs: the request path and the memory
stream both cross the network through B's gateway (the stream spliced to B's incoming engine
after a one-time token), the QEMUs keep no network of their own. On B the guest has the same
token, a counter that went on and an uptime that did not reset; A's engine is gone, A lists
nothing and its audit log shows the memory revoked. A wrong token and a replayed one are
refused by the gateway, with the reason logged. Namespaces, processes and files go at cleanup
whether the test passed or not."""
import json
import os
import re
import secrets
import subprocess
import time

import harness
from harness import check, pid_alive, wait_for, workspace
from test_cmdnet import Hosts, run
from test_defs import kill_guests, write_def
from test_migrate import check_moved, check_released, counter, guest_state, listing
from test_recovery import BIN, System

NAME = "netmig1"
PORT = 7443  # inside namespace B only

# A TLS client for the test's own checks (run inside namespace A): sends each line of argv[5:],
# prints each answer line, or "EOF" when the gateway ends the connection.
CLIENT = r'''
import socket, ssl, sys
host, port, ca, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_verify_locations(ca)
ctx.load_cert_chain(cert, key)
with socket.create_connection((host, port), timeout=60) as raw:
    with ctx.wrap_socket(raw, server_hostname=host) as s:
        f = s.makefile("rwb")
        for line in sys.argv[6:]:
            f.write(line.encode() + b"\n")
            f.flush()
            got = f.readline()
            print(got.decode().strip() if got else "EOF", flush=True)
'''


def make_certs(w, hosts):
    certs = os.path.join(w.dir, "certs")
    mk = os.path.join(harness.ROOT, "scripts", "mkcerts.sh")
    run(mk, certs, "ca")
    run(mk, certs, "host", "hosta", hosts.addr_a)
    run(mk, certs, "host", "hostb", hosts.addr_b)
    run(mk, certs, "client", "cmd-a")  # host A's command partition
    run(mk, certs, "client", "tester")  # this test's own client
    return certs


class NetHost(System):
    """test_recovery's system inside namespace ns; its command partition with a client
    certificate of the cluster CA, and, given gateway (ADDR:PORT), the gateway as its helper
    with the host certificate named cert."""

    def __init__(self, w, hosts, certs, ns, gateway=None, cert="hostb"):
        super().__init__(w)
        self.hosts, self.certs, self.ns, self.gateway, self.cert = hosts, certs, ns, gateway, cert

    def wrap(self, cmd):
        c = self.certs
        tls = f" --tls-ca {c}/ca.pem --tls-cert {c}/cmd-a.pem --tls-key {c}/cmd-a.key"
        cmd = [a + tls if a.startswith("2:command:") else a for a in cmd]
        if self.gateway:
            cmd += ["--helper", f"2:cmdgw={BIN}/ultra-cmdgw --listen {self.gateway} "
                    f"--ca {c}/ca.pem --cert {c}/{self.cert}.pem --key {c}/{self.cert}.key "
                    f"--allow-cn cmd-a --allow-cn tester --command {self.run}/command.sock"]
        return ["ip", "netns", "exec", self.ns, *cmd]


def tls_talk(hosts, certs, *lines):
    script = os.path.join(certs, "client.py")
    with open(script, "w") as f:
        f.write(CLIENT)
    r = run(*hosts.in_a("python3", script, hosts.addr_b, str(PORT), f"{certs}/ca.pem",
                        f"{certs}/tester.pem", f"{certs}/tester.key", *lines), timeout=120)
    return r.stdout.splitlines()


def request(execute, **args):
    return json.dumps({"version": 1, "execute": execute, "arguments": args})


def check_used_once(hosts, certs, gateway_log, tok):
    """The stream token tok is spliced on its first use; its second is refused as a replay,
    and the gateway logs why."""
    first = tls_talk(hosts, certs, f"ultra-stream 1 {tok}")
    check(first and '"connected"' in first[0], f"the token's first use: {first}")
    again = tls_talk(hosts, certs, f"ultra-stream 1 {tok}")
    check(again and "already used" in again[0], f"a replayed token: {again}")
    check('CN "tester"): refused: stream token already used (a replay)'
          in open(gateway_log).read(), "the gateway did not log the replay")


def two_hosts():
    """Namespaces A and B, the certificates, host A and host B with its gateway, and a guest
    running on A with a token in RAM and tmpfs, 32 MiB of random bytes in tmpfs and a counter:
    (hosts, certs, a, b, target, g, token, blob digest)."""
    hosts = Hosts()
    w_a, w_b = workspace(), workspace()
    certs = make_certs(w_a, hosts)
    os.chmod(w_a.dir, 0o755)  # the certificates: B's gateway reads its own from here
    for w in (w_a, w_b):
        harness.on_cleanup(lambda d=w.dir: kill_guests(d))
    a = NetHost(w_a, hosts, certs, hosts.a).start()
    b = NetHost(w_b, hosts, certs, hosts.b, gateway=f"{hosts.addr_b}:{PORT}").start()
    target = f"tls://{hosts.addr_b}:{PORT}"
    wait_for(lambda: "listening on" in open(b.log).read(), 30, "B's gateway to listen")

    a.ultra("define", write_def(a.w, NAME))
    a.ultra("start", NAME)
    g = harness.Partition(a.run, a.w.definition(NAME)).wait_boot()
    token = secrets.token_hex(16)
    g.out(f"mkdir -p /mnt/t && mount -t tmpfs t /mnt/t && echo {token} > /mnt/t/token && "
          f"cp /mnt/t/token /tmp/token")
    # 32 MiB of random bytes in RAM: a page the stream lost or changed shows in its digest.
    g.out("dd if=/dev/urandom of=/mnt/t/blob bs=1M count=32 2>/dev/null", timeout=120)
    blob = g.out("md5sum /mnt/t/blob").split()[0]
    # Idle-ish: QEMU 7.2's TCG can hang a busy guest at the switchover (docs/migration.md).
    g.out("(i=0; while :; do i=$((i+1)); echo $i > /tmp/counter; sleep 0.2; done) &")
    return hosts, certs, a, b, target, g, token, blob


def test_migrate_a_running_guest_over_the_network():
    hosts, certs, a, b, target, g, token, blob = two_hosts()
    _, up0 = guest_state(g)
    qemu_a = g.qemu_pid()
    check(qemu_a and pid_alive(qemu_a), "no engine on host A")
    # The engine has no network of its own: QEMU's namespace is its host's, and it was given
    # no NIC; what crosses is the monitor's relay and the gateway.

    # Nobody at that port: refused before anything is made on B, the guest runs on here.
    r = a.ultra("migrate", NAME, "--to", f"tls://{hosts.addr_b}:{PORT + 1}", ok=False)
    check(r.returncode == 1 and "(migration)" in r.stderr and "refused" in r.stderr.lower(),
          f"a migration to a port nobody listens on: rc {r.returncode}: {r.stderr}")
    check(listing(a)[NAME]["state"] == "running" and g.qemu_pid() == qemu_a,
          f"after the refusal A lists {listing(a)}")
    check(listing(b) == {}, f"B kept {listing(b)}")
    n0 = counter(g)

    r = a.ultra("migrate", NAME, "--to", target, ok=False)
    check(r.returncode == 0, f"ultra migrate --to {target}: {r.stderr}\nA's monitor: "
          + (open(os.path.join(a.run, "monitor-10.log")).read()[-1500:]
             if os.path.exists(os.path.join(a.run, "monitor-10.log")) else "")
          + "\nB's log: " + open(b.log).read()[-2000:])
    m = re.search(r"migrated to (\S+) \(there: running\) in (\d+) ms: ([\d.]+) MiB sent in "
                  r"(\d+) passes.*here: undefined", r.stdout)
    check(m and m.group(1) == target, f"ultra migrate said: {r.stdout} {r.stderr}")
    print("  " + r.stdout.strip())

    # The stream went through B's gateway, spliced after its token, and A's relay carried it.
    blog = open(b.log).read()
    check(re.search(r"CN \"cmd-a\"\): stream token accepted, spliced to \S+/partitions/"
                    + NAME + "/migrate.sock", blog), f"B's gateway log:\n{blog[-2000:]}")
    wait_for(lambda: "stream relay ended" in open(os.path.join(a.run, "monitor-10.log")).read(),
             15, "A's relay to end")
    mlog = open(os.path.join(a.run, "monitor-10.log")).read()
    sent = re.search(r"stream relay ended: (\d+) bytes sent", mlog)
    check(sent and int(sent.group(1)) >= float(m.group(3)) * 1048576 * 0.9,
          f"A's relay did not carry the stream: {mlog[-800:]}")

    # A released everything; B runs the same guest, its memory intact (RAM and tmpfs).
    check_released(a, qemu_a, NAME)
    try:
        gb = check_moved(b, NAME, token, up0, n0)
    except harness.TestFailure as e:
        raise harness.TestFailure(f"{e}\nB's console:\n" + harness.Partition(
            b.run, b.w.definition(NAME)).console_log()[-1500:].decode(errors="replace")
            + f"\nB lists {listing(b)}")
    check(gb.out("cat /mnt/t/token").strip() == token, "the tmpfs file did not survive")
    check(gb.out("md5sum /mnt/t/blob").split()[0] == blob, "32 MiB in RAM changed on the way")

    # A wrong token: refused, the client told why, the gateway logs it.
    wrong = secrets.token_hex(32)
    out = tls_talk(hosts, certs, f"ultra-stream 1 {wrong}")
    check(len(out) == 1 and "unknown stream token" in out[0] and '"refused"' in out[0],
          f"a wrong token got: {out}")
    check('CN "tester"): refused: unknown stream token' in open(b.log).read(),
          "the gateway did not log the wrong token")
    # A hostile first line that looks like a stream line: refused, not relayed.
    out = tls_talk(hosts, certs, "ultra-stream 1 " + "Z" * 64)
    check(out and "not 64 lowercase hex digits" in out[0], f"a malformed stream line got: {out}")

    # A replay: the test plays a source. migrate-in gives a token; the first use is spliced,
    # the second refused as a replay; migrate-abort takes the copy away again.
    d2 = json.load(open(write_def(a.w, "netmig2", memory_mib=128)))
    out = tls_talk(hosts, certs, request("migrate-in", definition=d2, stream_token=True))
    reply = json.loads(out[0])
    check("return" in reply and len(reply["return"].get("stream_token", "")) == 64,
          f"migrate-in over the gateway: {out}")
    check_used_once(hosts, certs, b.log, reply["return"]["stream_token"])
    out = tls_talk(hosts, certs, request("migrate-abort", name="netmig2"))
    check("return" in json.loads(out[0]), f"migrate-abort: {out}")
    check("netmig2" not in listing(b), f"B kept {listing(b)}")

    b.ultra("destroy", NAME)
    wait_for(lambda: listing(b)[NAME]["state"] == "stopped", 30, f"{NAME} to stop on B")
    b.ultra("undefine", NAME)


def test_a_stream_cut_in_the_middle_leaves_the_guest_on_a():
    """A's link slowed to 40 Mbit/s so that the stream takes long; once B's gateway has spliced
    it, B's end of the link goes down. The migration times out and is cancelled, the guest runs
    on A as it was; with the link back, A's command partition (asking again) has B take its
    copy away."""
    hosts, certs, a, b, target, g, token, blob = two_hosts()
    qemu_a = g.qemu_pid()
    run("ip", "netns", "exec", hosts.a, "tc", "qdisc", "add", "dev", hosts.a, "root", "tbf",
        "rate", "40mbit", "burst", "32kbit", "latency", "400ms")
    env = dict(os.environ, ULTRA_RUN_DIR=a.run, ULTRA_STATE_DIR=a.state)
    mig = subprocess.Popen([os.path.join(BIN, "ultra"), "migrate", NAME, "--to", target,
                            "--timeout", "6"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, env=env)
    harness.on_cleanup(lambda: mig.poll() is None and mig.kill())
    wait_for(lambda: "stream token accepted" in open(b.log).read(), 60,
             "B's gateway to splice the stream")
    # (A's command partition is busy with the migrate request: its monitor's state file says.)
    wait_for(lambda: g.state().get("state") == "migrating", 10, "A's guest to be migrating")
    run("ip", "-n", hosts.b, "link", "set", hosts.b, "down")
    # Down past the timeout and the cancel; then back, while A asks B to abort its copy.
    wait_for(lambda: g.state().get("state") == "running", 30, "A's guest to be running again")
    time.sleep(3)
    run("ip", "-n", hosts.b, "link", "set", hosts.b, "up")
    out, err = mig.communicate(timeout=90)
    check(mig.returncode == 1 and "(migration)" in err and "stays on this host" in err,
          f"a migration whose link went down: rc {mig.returncode}: {out} {err}")
    print("  " + err.strip())

    # The guest runs on A, the same engine, its memory as it was.
    check(listing(a)[NAME]["state"] == "running", f"A lists {listing(a)}")
    check(g.qemu_pid() == qemu_a and pid_alive(qemu_a), "A's engine changed or died")
    check(g.out("cat /mnt/t/token").strip() == token, "the token changed on A")
    check(g.out("md5sum /mnt/t/blob").split()[0] == blob, "the 32 MiB changed on A")
    n = counter(g)
    wait_for(lambda: counter(g) > n, 10, "the counter to go on on A")
    # B took its copy away once it could be asked again.
    wait_for(lambda: NAME not in listing(b), 30, "B to drop its incoming copy")
    check("does not answer migrate-abort" in open(a.log).read(),
          "A's command partition did not have to ask B again (was the link down?)")
    mlog = open(os.path.join(a.run, "monitor-10.log")).read()
    check("migration cancelled" in mlog, f"A's monitor log: {mlog[-800:]}")
    a.ultra("destroy", NAME)
