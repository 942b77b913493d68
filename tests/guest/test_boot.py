# SPDX-License-Identifier: MIT
"""The boot partition (claims 5, 8, 55): guests are not its children. A guest whose monitor was
started outside ultra-boot keeps running and answering on its console when ultra-boot is killed
with -9 (its system partitions go with it); a new ultra-boot restarts the ultravisor, which
recovers the guest's record from its audit log."""
import json
import os
import signal
import subprocess
import time

import harness
import test_ultravisor
from harness import check, pid_alive, wait_for, workspace

BOOT = os.path.join(harness.BUILD, "bin", "ultra-boot")


class Boot:
    def __init__(self, w):
        self.state = os.path.join(w.dir, "boot-state")
        self.run = w.dir
        self.sock = os.path.join(w.dir, "ultravisor.sock")
        self.status_file = os.path.join(w.dir, "boot-status.json")
        self.log = os.path.join(w.dir, "ultra-boot.log")
        self.proc = None
        self.seen = set()
        harness.on_cleanup(self.kill)

    def start(self):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [BOOT, "--state-dir", self.state, "--run-dir", self.run, "--pool-mib", "2048",
                 "--system", "4:io:io0=sleep 1000"],
                stdout=log, stderr=log, start_new_session=True)
        wait_for(lambda: self.ultravisor_pid() or self.proc.poll() is not None, 30,
                 "ultra-boot's ultravisor")
        check(self.proc.poll() is None, "ultra-boot exited: " + open(self.log).read())
        try:
            wait_for(lambda: self.ctl("show", "4", ok=False).returncode == 0, 30,
                     "the io partition's record")
        except harness.TestFailure as e:
            raise harness.TestFailure(f"{e}: {open(self.log).read()}")
        return self

    def status(self):
        try:
            with open(self.status_file) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def pids(self):
        s = self.status()
        pids = [c.get("pid", 0) for c in [s.get("ultravisor", {})] + s.get("system", [])]
        self.seen.update(p for p in pids if p)
        return pids

    def ultravisor_pid(self):
        return self.pids()[0] if self.status() else 0

    # uvctl on self.sock, as for a stand-alone ultravisor
    ctl = test_ultravisor.Ultravisor.ctl
    show = test_ultravisor.Ultravisor.show

    def kill(self):
        """ultra-boot and everything it ever started, even if a test failed half way."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.pids()
        for pid in self.seen:
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_guest_survives_kill_of_boot_partition():
    w = workspace()
    boot = Boot(w).start()
    p = w.partition("bootg", memory_mib=160)
    boot.ctl("create", "12", p.def_file())
    p.start_monitor("--ultravisor", boot.sock, "--partition", "12")
    p.wait_boot()
    qemu = p.qemu_pid()
    wait_for(lambda: boot.show(12)["state"] == "running", 10, "the monitor's running report")
    system = [x for x in boot.pids() if x]
    check(len(system) == 2, f"ultravisor and io partition running: {boot.status()}")

    p.out("(i=0; while true; do i=$((i+1)); echo $i > /tmp/count.n; mv /tmp/count.n /tmp/count; "
          "sleep 0.02; done) &")
    boot.proc.send_signal(signal.SIGKILL)
    boot.proc.wait()
    # Its system partitions go with it (a later ultra-boot must not find a second ultravisor).
    wait_for(lambda: not any(pid_alive(x) for x in system), 10, "the system partitions to end")
    c1 = int(p.out("cat /tmp/count"))
    time.sleep(0.5)
    check(int(p.out("cat /tmp/count")) > c1, "the guest stopped when ultra-boot died")
    check(pid_alive(qemu) and p.monitor.poll() is None, "guest or monitor died with ultra-boot")

    # A new boot partition brings the system back; the guest's record was kept.
    boot.start()
    rec = boot.show(12)
    check(rec["granted_mib"] == 160, f"after ultra-boot's restart: {rec}")
    check(p.out("echo still-here").strip() == "still-here", "the guest's console")
