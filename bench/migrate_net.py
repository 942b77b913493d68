#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Live migration over the network (docs/migration.md, "Over the network") beside the plain
Unix-socket migration, in the same run, on the same two hosts and the same guest:

  unix  the target named by its command socket: QEMU writes straight into the target's
        migrate.sock (the path both hosts reach here)
  tls   the target named by its gateway, tls://ADDR:PORT: the source monitor's relay thread,
        TLS 1.3 over a veth pair between two network namespaces, the gateway's splice

Two hosts, each its own ultra-boot in its own namespace with a gateway; one 256 MiB guest that
writes a counter every 50 ms goes back and forth ROUNDS times each way, transports alternating
by direction, so that each transport carries it both ways. Per transport: QEMU's own figures
(total time, downtime, MiB sent) and the stream's rate (MiB sent / total time), medians.
"""
import json
import os
import statistics
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("ULTRA_BUILD", os.path.join(ROOT, "build", "release"))
sys.path.insert(0, os.path.join(ROOT, "tests", "guest"))

import harness  # noqa: E402
from test_cmdnet import Hosts  # noqa: E402
from test_defs import kill_guests, write_def  # noqa: E402
from test_migrate_net import PORT, NetHost, make_certs  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "4"))
NAME = "benchmig"


def main():
    hosts = Hosts()
    w_a, w_b = harness.workspace(), harness.workspace()
    certs = make_certs(w_a, hosts)
    os.chmod(w_a.dir, 0o755)
    for w in (w_a, w_b):
        harness.on_cleanup(lambda d=w.dir: kill_guests(d))
    a = NetHost(w_a, hosts, certs, hosts.a, gateway=f"{hosts.addr_a}:{PORT}", cert="hosta")
    b = NetHost(w_b, hosts, certs, hosts.b, gateway=f"{hosts.addr_b}:{PORT}", cert="hostb")
    a.start()
    b.start()
    for h in (a, b):
        harness.wait_for(lambda h=h: "listening on" in open(h.log).read(), 30, "a gateway")
    a.ultra("define", write_def(a.w, NAME))
    a.ultra("start", NAME)
    g = harness.Partition(a.run, a.w.definition(NAME)).wait_boot()
    g.out("(i=0; while :; do i=$((i+1)); echo $i > /tmp/counter; sleep 0.05; done) &")
    addr = {id(a): hosts.addr_a, id(b): hosts.addr_b}
    results = {"unix": [], "tls": []}
    src, dst = a, b
    for i in range(2 * ROUNDS):
        kind = ("unix", "tls")[(i // 2 + i) % 2]  # each transport once each way per 2 rounds
        target = dst.run if kind == "unix" else f"tls://{addr[id(dst)]}:{PORT}"
        r = src.ultra("--json", "migrate", NAME, "--to", target)
        reply = json.loads(r.stdout)
        m = dict(reply["migration"], elapsed_ms=reply["elapsed_ms"])
        results[kind].append(m)
        print(f"  {kind:4} {'A->B' if src is a else 'B->A'}: stream {m['total_ms']} ms, "
              f"downtime {m['downtime_ms']} ms, {m['transferred_bytes'] / 1048576:.1f} MiB; "
              f"migrate {m['elapsed_ms']} ms in all", flush=True)
        src, dst = dst, src
    print(f"{'transport':10} {'stream ms':>9} {'downtime ms':>12} {'MiB sent':>9} "
          f"{'MiB/s':>7} {'migrate ms':>11}   (medians of {ROUNDS})")
    for kind, ms in results.items():
        # QEMU now and then reports a completed stream with no total time: left out of both.
        timed = [x for x in ms if x["total_ms"] > 0]
        med = lambda k, xs=timed: statistics.median(x[k] for x in xs)  # noqa: E731
        rate = statistics.median(x["transferred_bytes"] / 1048576 / (x["total_ms"] / 1000)
                                 for x in timed)
        print(f"{kind:10} {med('total_ms'):9.0f} {med('downtime_ms'):12.0f} "
              f"{med('transferred_bytes', ms) / 1048576:9.1f} {rate:7.1f} "
              f"{med('elapsed_ms', ms):11.0f}")
    src.ultra("destroy", NAME)


if __name__ == "__main__":
    try:
        main()
    finally:
        harness.cleanup()
