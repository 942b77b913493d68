# SPDX-License-Identifier: MIT
"""The operations partition (issue 6 item 2; claims 35-38, 46, 86). The system runs under
ultra-boot with ultra-ops, whose clock the test moves through a file (--now-file): a partition
defined in a domain, with autostart and a schedule, gets its scheduled CPU share when the clock
enters the window and its own when it leaves; a domain limit refuses a start; the definition
survives kill -9 of ultra-ops, the schedule goes on after kill -9 of the command partition, and
the definition survives kill -9 of the whole system, whose restart reads it back from the store
and autostarts it."""
import calendar
import json
import os
import signal
import time

import harness
from harness import check, pid_alive, wait_for, workspace
from test_command import kill_monitors
from test_cpu_share import forget_groups, quota_share
from test_recovery import System


def at(hh, mm, ss=0):
    return calendar.timegm((2026, 3, 2, hh, mm, ss))


def set_clock(sysp, t):
    with open(sysp.now_file + ".tmp", "w") as f:
        f.write(f"{t}\n")
    os.replace(sysp.now_file + ".tmp", sysp.now_file)


def listed(sysp, name):
    return next((p for p in json.loads(sysp.ultra("--json", "list").stdout)
                 if p["name"] == name), None)


def share_in_force(g):
    """The share the kernel enforces on the guest's QEMU (its cpu cgroup's quota)."""
    try:
        return round(quota_share(g.qemu_pid()), 3)
    except (OSError, IndexError, ValueError):
        return None


def wait_share(sysp, g, want, what):
    try:
        wait_for(lambda: listed(sysp, g.name)["cpu_share"] == want and
                 share_in_force(g) == want, 30, f"{g.name}'s CPU share to become {want} ({what})")
    except harness.TestFailure as e:
        raise harness.TestFailure(f"{e}; listed {listed(sysp, g.name)}, in force "
                                  f"{share_in_force(g)}; ultra-boot's log:\n"
                                  + open(sysp.log).read()[-2000:])


def kill_everything(sysp):
    """kill -9 of ultra-boot and of every process of the system, monitors and guests too."""
    pids = [sysp.pid("ultravisor")] + [sysp.pid(n) for n in ("command", "ops")]
    sysp.proc.send_signal(signal.SIGKILL)
    sysp.proc.wait()
    for pid in pids:
        if pid and pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    kill_monitors(sysp.run)
    for pid in pids:
        wait_for(lambda: not pid_alive(pid), 10, f"pid {pid} to die")


def test_ops_domain_schedule_and_persistence():
    w = workspace()
    store = os.path.join(w.dir, "ops-store")
    os.mkdir(store)
    db = os.path.join(store, "ops.db")
    now = os.path.join(store, "now")
    sysp = System(w, ops_db=db, now_file=now)
    set_clock(sysp, at(11, 59, 30))
    forget_groups("opsg")
    sysp.start()
    harness.on_cleanup(lambda: kill_monitors(sysp.run))

    sysp.ultra("domain", "create", "batch", "--memory-mib", "300", "--cpu-share", "1")
    g = w.partition("opsg", memory_mib=160, cpu_share=0.5, domain="batch", autostart=True)
    out = sysp.ultra("define", g.def_file()).stdout
    check("opsg defined as number" in out, f"define said: {out}")
    out = sysp.ultra("schedule", "add", "opsg", "12:00-13:00", "cpu_share=0.25").stdout
    check("schedule" in out, f"schedule add said: {out}")
    r = sysp.ultra("schedule", "add", "opsg", "12:30-14:00", "cpu_share=0.3", ok=False)
    check(r.returncode == 1 and "overlaps" in r.stderr, f"an overlapping window: {r.stderr}")
    r = sysp.ultra("schedule", "add", "opsg", "25:00-26:00", "cpu_share=0.3", ok=False)
    check(r.returncode == 1 and "HH:MM-HH:MM" in r.stderr, f"a bad window: {r.stderr}")

    # Definition errors name the field; a domain must exist and be able to hold it.
    for kw, needle in ((dict(domain="nowhere"), "domain: no domain named nowhere"),
                       (dict(autostart="yes"), "autostart: expected true or false"),
                       (dict(domain="batch", memory_mib=512), "can never run in it")):
        bad = w.partition("opsbad", **kw)
        r = sysp.ultra("define", bad.def_file(), ok=False)
        check(r.returncode == 1 and needle in r.stderr, f"define {kw}: {r.stderr}")
    # The command partition alone cannot carry domains out, and says where to go.
    r = sysp.ultra("-c", os.path.join(sysp.run, "command.sock"), "define",
                   w.partition("opsdirect", domain="batch").def_file(), ok=False)
    check(r.returncode == 1 and "operations partition" in r.stderr, f"direct: {r.stderr}")

    sysp.ultra("start", "opsg")
    g.wait_boot()
    wait_share(sysp, g, 0.5, "its own, before the window")

    # The clock enters the window: the scheduled share goes in force; it leaves: back again.
    set_clock(sysp, at(12, 0, 1))
    wait_share(sysp, g, 0.25, "12:00, inside 12:00-13:00")
    sched = json.loads(sysp.ultra("--json", "schedule", "list").stdout)
    check(len(sched) == 1 and sched[0]["active"] and sched[0]["window"] == "12:00-13:00",
          f"schedule list at 12:00: {sched}")
    set_clock(sysp, at(13, 0, 0))
    wait_share(sysp, g, 0.5, "13:00, the window's end")

    # ultra set-cpu-share goes through ultra-ops: the store keeps the new share (it outlives the
    # restarts below) and it is in force at once; more than its vCPUs is refused.
    out = sysp.ultra("set-cpu-share", "opsg", "0.75").stdout
    check("cpu_share 0.75" in out and "in force now: 0.75" in out, f"set-cpu-share: {out}")
    wait_share(sysp, g, 0.75, "after ultra set-cpu-share opsg 0.75")
    stored = next(p for p in sysp.ops("list")["return"] if p["name"] == "opsg")
    check(stored["cpu_share"] == 0.75, f"the store after set-cpu-share: {stored}")
    r = sysp.ultra("set-cpu-share", "opsg", "3", ok=False)
    check(r.returncode == 1 and "1 vCPUs" in r.stderr, f"set-cpu-share 3: {r.stderr}")

    # A domain limit refuses a start: 160 MiB in use + 160 MiB > 300 MiB.
    g2 = w.partition("opsg2", memory_mib=160, domain="batch")
    sysp.ultra("define", g2.def_file())
    r = sysp.ultra("start", "opsg2", ok=False)
    check(r.returncode == 1 and "domain batch" in r.stderr and "300 MiB" in r.stderr and
          "domain-limit" in r.stderr, f"start over the domain's limit: {r.stderr}")
    check(listed(sysp, "opsg2")["state"] == "defined", "a refused start changed the state")
    dom = json.loads(sysp.ultra("--json", "domain", "list").stdout)
    check(dom[0]["name"] == "batch" and dom[0]["used_memory_mib"] == 160 and
          sorted(dom[0]["partitions"]) == ["opsg", "opsg2"], f"domain list: {dom}")
    sysp.ultra("undefine", "opsg2")

    # kill -9 of ultra-ops: ultra-boot restarts it, the store still holds everything, and the
    # schedule goes on being carried out.
    old = sysp.pid("ops")
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: sysp.pid("ops") not in (0, old) and
             sysp.ultra("schedule", "list", ok=False).returncode == 0, 30,
             "ultra-ops to be restarted")
    stored = sysp.ops("list")["return"]
    check([(p["name"], p["domain"], p["autostart"]) for p in stored] == [("opsg", "batch", True)],
          f"the store after kill -9 of ultra-ops: {stored}")
    set_clock(sysp, at(12, 30))
    wait_share(sysp, g, 0.25, "12:30, after ultra-ops' restart")

    # kill -9 of the command partition: ultra-ops reconnects to the new one and goes on.
    old = sysp.pid("command")
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: sysp.pid("command") not in (0, old) and
             sysp.ultra("list", ok=False).returncode == 0, 30,
             "the command partition to be restarted")
    set_clock(sysp, at(13, 30))
    wait_share(sysp, g, 0.75, "13:30, after the command partition's restart")

    # The autostart guest dies with its monitor: the command partition records it crashed and
    # ultra-ops starts it again.
    qemu = g.qemu_pid()
    os.kill(g.state()["monitor_pid"], signal.SIGKILL)
    os.kill(qemu, signal.SIGKILL)
    wait_for(lambda: g.qemu_pid() not in (0, qemu) and pid_alive(g.qemu_pid()) and
             (listed(sysp, "opsg") or {}).get("state") == "running", 60,
             "the crashed autostart guest to be started again")
    check("opsg: crashed; restarting it" in open(sysp.log).read(), "ultra-ops did not say so")

    # kill -9 of everything, guests included. A new host: the resource database starts empty
    # (new state and run directories); only the operations store is kept. The definition comes
    # back from it and the autostart partition runs again.
    qemu = g.qemu_pid()
    kill_everything(sysp)
    wait_for(lambda: not pid_alive(qemu), 10, "the guest to die")
    w2 = workspace()
    sys2 = System(w2, ops_db=db, now_file=now)
    set_clock(sys2, at(13, 30))
    sys2.start()
    harness.on_cleanup(lambda: kill_monitors(sys2.run))
    wait_for(lambda: (listed(sys2, "opsg") or {}).get("state") == "running", 60,
             "opsg to be defined and autostarted from the store")
    p = listed(sys2, "opsg")
    check(p["memory_mib"] == 160 and p["cpu_share"] == 0.75, f"after the restart: {p}")
    g_again = harness.Partition(w2.dir, g.definition)
    g_again.wait_boot()
    check(share_in_force(g_again) == 0.75, f"share in force after the restart: "
          f"{share_in_force(g_again)}")
    check(g_again.out("echo back").strip() == "back", "the autostarted guest does not answer")
    sched = json.loads(sys2.ultra("--json", "schedule", "list").stdout)
    check(len(sched) == 1 and sched[0]["partition"] == "opsg", f"schedules: {sched}")
    log = open(sys2.log).read()
    check("opsg: definition pushed" in log and "opsg: autostarted" in log,
          f"ultra-ops said:\n{log[-2000:]}")
