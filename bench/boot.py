#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Partition start time and memory: ours vs plain QEMU, measured in the same run.

Alternating rounds of:
  ours          ultra-monitor --definition  -> ULTRA-INIT-OK on the console (vmlinux, PVH entry)
  qemu-bzImage  qemu-system-x86_64 -M microvm with Debian's bzImage -> the same marker
  qemu-vmlinux  qemu-system-x86_64 -M microvm with the same vmlinux -> the same marker
Prints median wall time and peak RSS (monitor + QEMU for ours, QEMU alone for the peers).
"""
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from system import guest_clock  # bench/ is this script's folder, first on sys.path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MONITOR = os.path.join(ROOT, "build", "release", "bin", "ultra-monitor")
GUEST = os.path.join(ROOT, "build", "guest")
VMLINUX, BZIMAGE = os.path.join(GUEST, "vmlinux"), os.path.join(GUEST, "bzImage")
INITRD = os.path.join(GUEST, "initramfs.cpio.gz")
MARKER = b"ULTRA-INIT-OK"
MEM_MIB = 256
ROUNDS = int(os.environ.get("ROUNDS", "5"))


CMDLINE = f"console=ttyS0 quiet {guest_clock()}"


def hwm_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def wait_marker(path, deadline):
    while time.monotonic() < deadline:
        try:
            with open(path, "rb") as f:
                if MARKER in f.read():
                    return True
        except OSError:
            pass
        time.sleep(0.005)
    return False


def run_ours(tmp):
    d = {"name": "bench", "memory_mib": MEM_MIB, "vcpus": 1, "kernel": VMLINUX, "initrd": INITRD,
         "cmdline": "console=ttyS0 quiet", "accel": "tcg"}
    run_dir = os.path.join(tmp, "run")
    shutil.rmtree(run_dir, ignore_errors=True)
    path = os.path.join(tmp, "bench.json")
    with open(path, "w") as f:
        json.dump(d, f)
    pdir = os.path.join(run_dir, "partitions", "bench")
    t0 = time.monotonic()
    mon = subprocess.Popen([MONITOR, "--definition", path], env=dict(os.environ, ULTRA_RUN_DIR=run_dir),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ok = wait_marker(os.path.join(pdir, "console.log"), t0 + 60)
    wall = time.monotonic() - t0
    with open(os.path.join(pdir, "qemu.pid")) as f:
        qpid = int(f.read())
    mon_rss, qemu_rss = hwm_kib(mon.pid), hwm_kib(qpid)
    os.kill(qpid, signal.SIGKILL)
    mon.wait(30)
    if not ok:
        raise SystemExit("ours: no init marker")
    return wall, mon_rss, qemu_rss


def run_plain(tmp, kernel):
    log = os.path.join(tmp, "plain.log")
    if os.path.exists(log):
        os.unlink(log)
    argv = ["qemu-system-x86_64", "-M", "microvm", "-accel", "tcg,thread=multi", "-cpu", "max",
            "-m", f"{MEM_MIB}M", "-nodefaults", "-no-user-config", "-display", "none",
            "-chardev", f"file,id=con0,path={log}", "-serial", "chardev:con0",
            "-kernel", kernel, "-initrd", INITRD, "-append", CMDLINE]
    t0 = time.monotonic()
    q = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ok = wait_marker(log, t0 + 60)
    wall = time.monotonic() - t0
    rss = hwm_kib(q.pid)
    q.kill()
    q.wait()
    if not ok:
        raise SystemExit(f"plain QEMU with {kernel}: no init marker")
    return wall, rss


def main():
    for p in (MONITOR, VMLINUX, BZIMAGE, INITRD):
        if not os.path.exists(p):
            raise SystemExit(f"missing {p}: run scripts/setup.sh and make")
    tmp = tempfile.mkdtemp(prefix="uvbench-")
    res = {"ours": [], "bz": [], "vm": []}
    try:
        for i in range(ROUNDS):
            res["ours"].append(run_ours(tmp))
            res["bz"].append(run_plain(tmp, BZIMAGE))
            res["vm"].append(run_plain(tmp, VMLINUX))
            print(f"round {i + 1}: ours {res['ours'][-1][0]:.2f}s  qemu+bzImage {res['bz'][-1][0]:.2f}s"
                  f"  qemu+vmlinux {res['vm'][-1][0]:.2f}s", file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    med = lambda xs: statistics.median(xs)
    ours_t = med([r[0] for r in res["ours"]])
    mon_rss = med([r[1] for r in res["ours"]])
    ours_rss = med([r[1] + r[2] for r in res["ours"]])
    bz_t, bz_rss = med([r[0] for r in res["bz"]]), med([r[1] for r in res["bz"]])
    vm_t, vm_rss = med([r[0] for r in res["vm"]]), med([r[1] for r in res["vm"]])
    print(f"partition start to init marker, {MEM_MIB} MiB, 1 vCPU, TCG, median of {ROUNDS} alternating rounds")
    print(f"{'':28}{'wall s':>9}{'peak RSS MiB':>14}{'ours/peer time':>16}")
    print(f"{'ours (monitor + QEMU)':28}{ours_t:9.2f}{ours_rss / 1024:14.1f}{'':>16}")
    print(f"{'plain QEMU + bzImage':28}{bz_t:9.2f}{bz_rss / 1024:14.1f}{ours_t / bz_t:15.2f}x")
    print(f"{'plain QEMU + vmlinux':28}{vm_t:9.2f}{vm_rss / 1024:14.1f}{ours_t / vm_t:15.2f}x")
    print(f"monitor alone peak RSS: {mon_rss / 1024:.2f} MiB (goal < 4 MiB)")
    print(f"goals: <= 0.50x bzImage: {'met' if ours_t <= 0.5 * bz_t else 'MISSED'}; "
          f"within 5% of vmlinux: {'met' if ours_t <= 1.05 * vm_t else 'MISSED'}")


if __name__ == "__main__":
    main()
