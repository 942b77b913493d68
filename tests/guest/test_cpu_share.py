# SPDX-License-Identifier: MIT
"""Whole and fractional CPUs (claims 26-28): the host scheduler gives each partition its share."""
import os
import signal
import time

from harness import check, on_cleanup, pid_alive, wait_for, workspace


def cgroup_of(pid, controller):
    """(mount point, path in the hierarchy) of pid's cgroup for a controller, v1 or v2."""
    with open(f"/proc/{pid}/cgroup") as f:
        lines = [ln.rstrip("\n").split(":", 2) for ln in f]
    v1 = [ln for ln in lines if controller in ln[1].split(",")]
    with open("/proc/mounts") as f:
        mounts = [ln.split() for ln in f]
    if v1:
        mnt = [m[1] for m in mounts if m[2] == "cgroup" and controller in m[3].split(",")]
        return mnt[0], v1[0][2]
    mnt = [m[1] for m in mounts if m[2] == "cgroup2"]
    return mnt[0], [ln for ln in lines if ln[0] == "0"][0][2]


def quota_share(pid):
    """The share the cpu cgroup of pid enforces, from the kernel's own files (0 = none)."""
    root, path = cgroup_of(pid, "cpu")
    d = root + path
    if os.path.exists(d + "/cpu.max"):
        q, p = open(d + "/cpu.max").read().split()
        return 0 if q == "max" else int(q) / int(p)
    q = int(open(d + "/cpu.cfs_quota_us").read())
    return 0 if q < 0 else q / int(open(d + "/cpu.cfs_period_us").read())


def cpu_seconds(pid):
    """User + system CPU time of every thread of pid, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pin_all_threads(pid, cpus):
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(tid), cpus)
        except ProcessLookupError:
            pass


def forget_groups(*names):
    """A test that fails half-way leaves no group behind (the harness kills monitors first)."""
    def rm():
        for ctl in ("cpu", "cpuset"):
            root = cgroup_of(os.getpid(), ctl)[0]
            for n in names:
                d = f"{root}/ultravisor/{n}"
                if os.path.isdir(d):
                    wait_for(lambda: not open(d + "/cgroup.procs").read(), 10, f"{d} to empty")
                    os.rmdir(d)
    on_cleanup(rm)


def destroy_and_expect_no_group(p, pid):
    root, path = cgroup_of(pid, "cpu")
    check("return" in p.ctl().call("destroy"), f"{p.name}: destroy refused")
    wait_for(lambda: p.monitor.poll() is not None, 30, f"{p.name}'s monitor to exit")
    check(not pid_alive(pid), f"{p.name}: QEMU outlived its monitor")
    check(not os.path.exists(root + path), f"cgroup {root + path} left behind")


def test_fractional_shares_split_one_core():
    w = workspace()
    tag = os.getpid() % 100000
    a = w.partition(f"cs{tag}big", memory_mib=128, cpu_share=0.75).start()
    b = w.partition(f"cs{tag}small", memory_mib=128, cpu_share=0.25).start()
    forget_groups(a.name, b.name)
    a.wait_boot()
    b.wait_boot()
    pa, pb = a.qemu_pid(), b.qemu_pid()
    for p, pid, want in ((a, pa, 0.75), (b, pb, 0.25)):
        root, path = cgroup_of(pid, "cpu")
        check(path == f"/ultravisor/{p.name}", f"{p.name}: QEMU is in cgroup {path}")
        check(abs(quota_share(pid) - want) < 1e-9, f"{p.name}: quota {quota_share(pid)}")
        # Every thread, not just the main one, is under the quota.
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/cgroup") as f:
                check(f"/ultravisor/{p.name}" in f.read(), f"{p.name}: thread {tid} outside")
    for p in (a, b):
        p.out("sh -c 'while :; do :; done' >/dev/null 2>&1 &")
    # Both engines on one core: only the share decides who gets it.
    core = min(os.sched_getaffinity(0))
    for pid in (pa, pb):
        pin_all_threads(pid, {core})
    time.sleep(2)
    t0, ca0, cb0 = time.monotonic(), cpu_seconds(pa), cpu_seconds(pb)
    time.sleep(10)
    dt, da, db = time.monotonic() - t0, cpu_seconds(pa) - ca0, cpu_seconds(pb) - cb0
    split = da / (da + db)
    print(f"  measured over {dt:.1f}s: {a.name} {da:.2f}s, {b.name} {db:.2f}s of CPU, "
          f"split {100 * split:.1f}/{100 * (1 - split):.1f} (want 75/25)")
    check(da + db > 0.3 * dt, f"guests were not CPU-bound: {da:.2f}s + {db:.2f}s in {dt:.1f}s")
    check(abs(split - 0.75) <= 0.05, f"CPU split {100 * split:.1f}/{100 * (1 - split):.1f}, "
          f"want 75/25 within 5 points")
    # The quota is a cap, not only a weight: the small one never exceeds its 0.25 CPU.
    check(db <= 0.25 * dt * 1.1 + 0.1, f"{b.name} used {db:.2f}s in {dt:.1f}s over a 0.25 share")
    destroy_and_expect_no_group(a, pa)
    destroy_and_expect_no_group(b, pb)


def test_unlimited_partition_gets_no_group():
    w = workspace()
    p = w.partition(f"cs{os.getpid() % 100000}free", memory_mib=128).start()
    forget_groups(p.name)
    wait_for(lambda: p.state().get("state") == "running", 60, "running")
    pid = p.qemu_pid()
    for ctl in ("cpu", "cpuset"):
        check("ultravisor" not in cgroup_of(pid, ctl)[1], f"share 0 put QEMU in a {ctl} group")
    check(p.state()["cpu_share"] == 0, f"status: {p.state()}")


def test_share_survives_reattach_changes_live_and_is_removed():
    w = workspace()
    p = w.partition(f"cs{os.getpid() % 100000}live", memory_mib=128, cpu_share=0.5)
    forget_groups(p.name)
    # A stale group of the same name, as an engine that ended unwatched leaves it, is replaced.
    stale = f"{cgroup_of(os.getpid(), 'cpu')[0]}/ultravisor/{p.name}"
    os.makedirs(stale, exist_ok=True)
    if os.path.exists(stale + "/cpu.cfs_quota_us"):
        open(stale + "/cpu.cfs_quota_us", "w").write("10000")
    else:
        open(stale + "/cpu.max", "w").write("10000 100000")
    p.start()
    wait_for(lambda: p.state().get("state") == "running", 60, "running")
    pid = p.qemu_pid()
    root, path = cgroup_of(pid, "cpu")
    check(path == f"/ultravisor/{p.name}" and quota_share(pid) == 0.5,
          f"started: cgroup {path} share {quota_share(pid)}")
    # A restarted monitor finds the group and keeps it.
    p.monitor.send_signal(signal.SIGKILL)
    p.monitor.wait()
    p.start_monitor("--attach", p.name)
    wait_for(lambda: p.state().get("reason") == "re-attached", 30, "the re-attach")
    st = p.state()
    check(st["qemu_pid"] == pid and st["cpu_share"] == 0.5, f"after re-attach: {st}")
    check(cgroup_of(pid, "cpu")[1] == path, "QEMU left its cgroup on re-attach")
    c = p.ctl()
    r = c.call("set-cpu-share", cpu_share=0.2)
    check("return" in r and r["return"]["cpu_share"] == 0.2, f"set-cpu-share: {r}")
    check(abs(quota_share(pid) - 0.2) < 1e-9, f"quota after set-cpu-share: {quota_share(pid)}")
    r = c.call("set-cpu-share", cpu_share=2)
    check("error" in r and "out of range" in r["error"], f"2 CPUs for 1 vCPU accepted: {r}")
    # One whole CPU: pinned as well as capped.
    r = c.call("set-cpu-share", cpu_share=1)
    check("return" in r and r["return"]["cpus_pinned"], f"set-cpu-share 1: {r}")
    with open(f"/proc/{pid}/status") as f:
        allowed = [ln.split()[1] for ln in f if ln.startswith("Cpus_allowed_list")][0]
    check(allowed == r["return"]["cpus_pinned"] and "," not in allowed and "-" not in allowed,
          f"QEMU may run on {allowed}, pinned to {r['return']['cpus_pinned']}")
    check(quota_share(pid) == 1.0, f"quota for one whole CPU: {quota_share(pid)}")
    c.close()
    destroy_and_expect_no_group(p, pid)
    croot, cpath = cgroup_of(os.getpid(), "cpuset")
    check(not os.path.exists(f"{croot}/ultravisor/{p.name}"), "cpuset group left behind")
