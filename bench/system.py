#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The whole system, measured against plain QEMU in the same run (issue 6's benchmark):

  start     `ultra start` to the guest's init marker, vs plain QEMU with the same kernel,
            initramfs and memory (median of ROUNDS alternating rounds)
  burst     16 small guests started at once through `ultra`, vs 16 plain QEMUs: starts per
            second until every guest reached init
  recovery  each system partition killed with SIGKILL under ultra-boot: milliseconds until it
            answers again, as ultra-boot measures it (median of ROUNDS)

libvirt (virsh) is compared in bench/virsh.py (docs/performance.md, "ultra vs libvirt").
"""
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "release", "bin")
GUEST = os.path.join(ROOT, "build", "guest")
VMLINUX, INITRD = os.path.join(GUEST, "vmlinux"), os.path.join(GUEST, "initramfs.cpio.gz")
ROUNDS = int(os.environ.get("ROUNDS", "3"))
BURST = int(os.environ.get("BURST", "16"))
MARKER = b"ULTRA-INIT-OK"


def tsc_khz():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("cpu MHz"):
                return int(float(line.split(":")[1]) * 1000 + 0.5)
    return 0


def guest_clock():
    """What the monitor adds to a TCG guest's command line (monitor/qemu_cmd.c), given to the
    plain-QEMU peers too so that both keep time alike: the TSC's frequency, and the TSC trusted
    when the host keeps time by it (else a busy host's guests fall back to jiffies, whose clocks
    run slow and whose self-timed rates read high; docs/monitor.md)."""
    try:
        with open("/sys/devices/system/clocksource/clocksource0/current_clocksource") as f:
            reliable = f.read().strip() == "tsc"
    except OSError:
        reliable = False
    return f"tsc_early_khz={tsc_khz()}" + (" tsc=reliable" if reliable else "")


def has_marker(path):
    try:
        with open(path, "rb") as f:
            return MARKER in f.read()
    except OSError:
        return False


def wait(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.005)
    raise SystemExit(f"bench: timed out waiting for {what}")


class System:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="uvsys-")
        self.state = os.path.join(self.dir, "state")
        self.env = dict(os.environ, ULTRA_RUN_DIR=self.dir, ULTRA_STATE_DIR=self.state)
        self.log = os.path.join(self.dir, "boot.log")
        with open(self.log, "wb") as log:
            self.boot = subprocess.Popen(
                [os.path.join(BIN, "ultra-boot"), "--state-dir", self.state, "--run-dir",
                 self.dir, "--pool-mib", "8192", "--max-restarts", "15",
                 "--system", f"2:command:command={BIN}/ultra-command --run-dir {self.dir}",
                 "--system", f"4:io:io0={BIN}/ultra-io --net {self.dir}/net0.sock"],
                stdout=log, stderr=log, env=self.env, start_new_session=True)
        wait(lambda: os.path.exists(os.path.join(self.dir, "command.sock")), 30,
             "the command partition")

    def ultra(self, *args):
        r = subprocess.run([os.path.join(BIN, "ultra"), *args], env=self.env,
                           capture_output=True, text=True, timeout=300)
        if r.returncode:
            raise SystemExit(f"bench: ultra {' '.join(args)}: {r.stderr}")
        return r.stdout

    def define(self, name, mib, cmdline="console=ttyS0 quiet"):
        path = os.path.join(self.dir, name + ".json")
        with open(path, "w") as f:
            json.dump({"name": name, "memory_mib": mib, "vcpus": 1, "accel": "tcg",
                       "kernel": VMLINUX, "initrd": INITRD, "cmdline": cmdline}, f)
        self.ultra("define", path)

    def console(self, name):
        return os.path.join(self.dir, "partitions", name, "console.log")

    def status(self):
        with open(os.path.join(self.dir, "boot-status.json")) as f:
            return json.load(f)

    def close(self):
        try:
            for p in json.loads(self.ultra("--json", "list")):
                subprocess.run([os.path.join(BIN, "ultra"), "destroy", p["name"]], env=self.env,
                               capture_output=True, timeout=60)
        except (SystemExit, ValueError):
            pass
        self.boot.send_signal(signal.SIGTERM)
        self.boot.wait(30)
        shutil.rmtree(self.dir, ignore_errors=True)


def plain_qemu(log, mib, cmdline="console=ttyS0 quiet"):
    return subprocess.Popen(
        ["qemu-system-x86_64", "-M", "microvm", "-accel", "tcg,thread=multi", "-cpu", "max",
         "-m", f"{mib}M", "-nodefaults", "-no-user-config", "-display", "none",
         "-chardev", f"file,id=c,path={log}", "-serial", "chardev:c", "-kernel", VMLINUX,
         "-initrd", INITRD, "-append", f"{cmdline} {guest_clock()}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def bench_start(sysm):
    ours, peer = [], []
    tmp = tempfile.mkdtemp(prefix="uvplain-")
    for i in range(ROUNDS):
        name = f"s{i}"
        sysm.define(name, 256)
        t0 = time.monotonic()
        sysm.ultra("start", name)
        wait(lambda: has_marker(sysm.console(name)), 60, name)
        ours.append(time.monotonic() - t0)
        sysm.ultra("destroy", name)
        log = os.path.join(tmp, f"p{i}.log")
        t0 = time.monotonic()
        q = plain_qemu(log, 256)
        wait(lambda: has_marker(log), 60, "plain QEMU")
        peer.append(time.monotonic() - t0)
        q.kill()
        q.wait()
    shutil.rmtree(tmp, ignore_errors=True)
    return statistics.median(ours), statistics.median(peer)


def bench_burst(sysm):
    names = [f"b{i}" for i in range(BURST)]
    for n in names:
        sysm.define(n, 128)
    t0 = time.monotonic()
    for n in names:
        sysm.ultra("start", n)
    wait(lambda: all(has_marker(sysm.console(n)) for n in names), 600, "the burst")
    ours = time.monotonic() - t0
    for n in names:
        sysm.ultra("destroy", n)
    tmp = tempfile.mkdtemp(prefix="uvplain-")
    logs = [os.path.join(tmp, f"{n}.log") for n in names]
    t0 = time.monotonic()
    qs = [plain_qemu(log, 128) for log in logs]
    wait(lambda: all(has_marker(log) for log in logs), 600, "the plain QEMU burst")
    peer = time.monotonic() - t0
    for q in qs:
        q.kill()
        q.wait()
    shutil.rmtree(tmp, ignore_errors=True)
    return BURST / ours, BURST / peer


def bench_recovery(sysm):
    out = {}
    for victim in ("ultravisor", "command", "io0"):
        times = []
        for _ in range(ROUNDS):
            s = sysm.status()
            pid = (s["ultravisor"]["pid"] if victim == "ultravisor" else
                   next(c["pid"] for c in s["system"] if c["name"] == victim))
            size = os.path.getsize(sysm.log)
            os.kill(pid, signal.SIGKILL)

            def answered():
                with open(sysm.log) as f:
                    f.seek(size)
                    return re.search(r"(?:answering|in) (\d+) ms", f.read())
            wait(answered, 30, f"{victim}'s restart")
            times.append(int(answered().group(1)))
            time.sleep(0.3)
        out[victim] = statistics.median(times)
    return out


def main():
    for p in ("ultra-boot", "ultra", "ultra-command", "ultravisor", "ultra-monitor", "ultra-io"):
        if not os.path.exists(os.path.join(BIN, p)):
            raise SystemExit(f"missing {p}: run make")
    sysm = System()
    try:
        ours_t, peer_t = bench_start(sysm)
        ours_b, peer_b = bench_burst(sysm)
        rec = bench_recovery(sysm)
    finally:
        sysm.close()
    print(f"whole system under ultra-boot vs plain QEMU, TCG, median of {ROUNDS}")
    print(f"{'':44}{'ours':>10}{'plain QEMU':>12}{'ratio':>8}")
    print(f"{'ultra start -> init marker, 256 MiB (s)':44}{ours_t:10.2f}{peer_t:12.2f}"
          f"{ours_t / peer_t:7.2f}x")
    print(f"{f'{BURST} guests of 128 MiB at once (starts/s)':44}{ours_b:10.2f}{peer_b:12.2f}"
          f"{ours_b / peer_b:7.2f}x")
    for victim, ms in rec.items():
        print(f"{'recovery after kill -9: ' + victim + ' (ms)':44}{ms:10d}")


if __name__ == "__main__":
    main()
