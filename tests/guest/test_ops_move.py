# SPDX-License-Identifier: MIT
"""The operations partition's store follows a partition that moves or changes while it runs
(claims 37, 44, 79, 85; docs/operations.md, "Changes the store follows").

Two hosts simulated on this machine (each its own ultra-boot, as in test_placement.py) and one
ultra-ops with both registered. A guest started through ultra-ops on A is migrated to B by
`ultra migrate NAME --to B` (through ultra-ops: the store records B); A's command partition is
then killed and restarted, and ultra-ops' reconciliation of A must not push the guest back there
(a second copy). The guest is migrated back to A on the command partitions directly (`ultra -c`):
ultra-ops finds it running on A and no more on B, and its store follows. A second guest's direct
disk gets a new I/O limit through ultra-ops while it runs on B; when all of host B is killed, the
guest is restarted on A with that limit, not the one it was defined with."""
import json
import os
import secrets
import time

import harness
from harness import check, wait_for, workspace
from test_ops import kill_everything
from test_defs import DefsSystem
from test_placement import Ops, listed_on, names_on, stop_host

LIMIT = 1 << 20  # bytes per second, set while it runs
DEFINED_LIMIT = 4 << 20


def start_host(w):
    """A host with an I/O partition: the command partition hands direct disks to it too."""
    h = DefsSystem(w).start()
    harness.on_cleanup(lambda: stop_host(h))
    return h


def info(host, name):
    rep = harness.json_request(os.path.join(host.run, "command.sock"),
                               {"version": 1, "execute": "info", "arguments": {"name": name}})
    check("return" in rep, f"info {name}: {rep}")
    return rep["return"]


def never(pred, seconds, what):
    """pred stays false for the whole time."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        check(not pred(), what)
        time.sleep(0.1)


def test_store_follows_migration_and_live_limits():
    wa, wb, wo = workspace(), workspace(), workspace()
    host_a, host_b = start_host(wa), start_host(wb)
    ops = Ops(wo).start(command=os.path.join(host_a.run, "command.sock"))
    ops.ultra("host", "add", "A", os.path.join(host_a.run, "command.sock"))
    ops.ultra("host", "add", "B", os.path.join(host_b.run, "command.sock"))
    wait_for(lambda: all(h["state"] == "up" for h in ops.hosts().values()), 30,
             "both hosts to be up")

    # om1 starts on A (both hosts equally free: the first by name).
    om = harness.Partition(wo.dir, wo.definition("om1", memory_mib=128, autostart=True))
    ops.ultra("define", om.def_file())
    ops.ultra("start", "om1")
    check(ops.stored("om1")["host"] == "A", f"om1: {ops.stored('om1')}")
    g = harness.Partition(host_a.run, om.definition).wait_boot()
    token = secrets.token_hex(8)
    g.out(f"echo {token} > /tmp/token")
    g.console.close()
    g.console = None

    # Refused with the reason, nothing moved: an unknown host, the host it is on already.
    r = ops.ultra("migrate", "om1", "--to", "Z", ok=False)
    check(r.returncode == 1 and "(no-such-host)" in r.stderr, f"migrate to Z: {r.stderr}")
    r = ops.ultra("migrate", "om1", "--to", "A", ok=False)
    check(r.returncode == 1 and "already" in r.stderr, f"migrate to A: {r.stderr}")

    # Through ultra-ops, by host name: the store says B once it runs there.
    out = ops.ultra("migrate", "om1", "--to", "B").stdout
    check("(there: running)" in out and "here: undefined" in out, f"migrate: {out}")
    check(ops.stored("om1")["host"] == "B", f"the store after migrating: {ops.stored('om1')}")
    check("om1" not in names_on(host_a) and names_on(host_b).get("om1") == "running",
          f"A: {names_on(host_a)}, B: {names_on(host_b)}")
    gb = harness.Partition(host_b.run, om.definition)
    gb.attach_console()
    check(gb.out("cat /tmp/token").strip() == token, "om1 on B is not the same guest")

    # A's command partition restarts: ultra-ops reconciles A with the store, which no longer
    # places om1 there (an autostart partition would otherwise be pushed and started again).
    old = host_a.pid("command")
    os.kill(old, 9)
    wait_for(lambda: host_a.pid("command") not in (0, old), 30, "A's command partition back")
    never(lambda: "om1" in names_on(host_a), 4, "om1 was pushed back to A after its command "
          f"partition restarted:\n{ops.output()[-2000:]}")

    # Back to A on the command partitions directly: ultra-ops sees it run on A, gone from B.
    r = host_b.ultra("-c", os.path.join(host_b.run, "command.sock"), "migrate", "om1", "--to",
                     host_a.run)
    check("(there: running)" in r.stdout, f"direct migrate: {r.stdout} {r.stderr}")
    wait_for(lambda: ops.stored("om1")["host"] == "A", 15, "the store to follow om1 to A")
    check("om1: runs on host A, no more on B: the store follows" in ops.output(),
          "ultra-ops did not say so")

    # lim1, a direct disk limited at definition, placed on B (A holds om1); its limit changed
    # while it runs, through ultra-ops.
    image = os.path.join(wo.dir, "lim1.img")
    with open(image, "wb") as f:
        f.truncate(16 << 20)
    lim = harness.Partition(wo.dir, wo.definition(
        "lim1", memory_mib=128, autostart=True,
        disks=[{"image": image, "direct": True, "limits": {"bytes_per_sec": DEFINED_LIMIT}}]))
    ops.ultra("define", lim.def_file())
    ops.ultra("start", "lim1")
    check(ops.stored("lim1")["host"] == "B", f"lim1: {ops.stored('lim1')}")
    r = ops.ultra("set-disk-limits", "lim1", "0", "--bytes-per-sec", str(LIMIT))
    got = info(host_b, "lim1")["disk_limits"][0]
    check(got["bytes_per_sec"] == LIMIT, f"lim1's limit on B: {got}")
    r = ops.ultra("set-disk-limits", "lim1", "3", "--iops", "10", ok=False)
    check(r.returncode == 1 and "(no-such-disk)" in r.stderr, f"a disk it lacks: {r.stderr}")

    # All of host B dies (its guests too, lim1 perhaps still starting): ultra-ops restarts
    # lim1 on A from the store, with the new limit.
    kill_everything(host_b)
    wait_for(lambda: (ops.stored("lim1") or {}).get("host") == "A", 60,
             "ultra-ops to restart lim1 on A")
    wait_for(lambda: (listed_on(host_a, "lim1") or {}).get("state") == "running", 60,
             "lim1 to run on A")
    got = info(host_a, "lim1")["disk_limits"][0]
    check(got["bytes_per_sec"] == LIMIT and got["iops"] == 0,
          f"lim1 restarted on A with {got}, not the limit set while it ran ({LIMIT})")
    print(f"  lim1 restarted on host A with bytes_per_sec {got['bytes_per_sec']}; stored: "
          + json.dumps(ops.stored("lim1")))
