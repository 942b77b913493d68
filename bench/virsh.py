#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Partitions started per second: `ultra` against `virsh` on Debian's libvirt, in one run
(issue 6's benchmark; method and figures in docs/performance.md, "ultra vs libvirt").

Both sides start BURST small guests from the same vmlinux, initramfs and kernel command line
(128 MiB, 1 vCPU, TCG, serial console to a file, no disk, no network), wait for every guest's
ULTRA-INIT-OK on its console, then destroy and undefine them:

  ultra    ultra-boot (ultravisor, command partition, an I/O partition) and the `ultra` CLI
  libvirt  libvirtd and virtlogd started by this script in a private mount namespace (their
           own /run, /var/lib, /var/log, /var/cache and /etc/libvirt on tmpfs or in a temporary
           folder), domains of type 'qemu' with direct kernel boot, driven by `virsh`

Starts are issued one command at a time (as a user types them) and then all at once. Needs
root and libvirt-daemon-system + libvirt-clients (bench/run.sh virsh installs them).
"""
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from system import BIN, INITRD, MARKER, VMLINUX, System, has_marker, plain_qemu, guest_clock, wait  # noqa: E402

BURST = int(os.environ.get("BURST", "16"))
ROUNDS = int(os.environ.get("ROUNDS", "1"))
MIB = 128
# no_timer_check: on libvirt's pc machine a TCG guest on a loaded host can miss the kernel's
# IO-APIC timer check and panic ("IO-APIC + timer doesn't work!"); microvm has no such check to
# fail. Both sides get the parameter so that the command lines stay the same.
CMDLINE = "console=ttyS0 quiet no_timer_check"
CGROUP_ROOT = "/sys/fs/cgroup"
# The daemons' state folders, each hidden under a tmpfs in the bench's mount namespace.
STATE_DIRS = ("/var/lib/libvirt", "/var/log/libvirt", "/var/cache/libvirt")
NEEDED = {"libvirtd": "libvirt-daemon", "virtlogd": "libvirt-daemon", "virsh": "libvirt-clients",
          "unshare": "util-linux", "nsenter": "util-linux"}
QEMU_DRIVER = "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so"

# Runs inside `unshare -m`: private state folders for this libvirt only, then virtlogd.
NAMESPACE_SH = r"""
set -e
dir=$1
mount -t tmpfs -o mode=755 uvbench /run
mkdir -p /run/lock /run/libvirt
ln -s /dev/shm /run/shm
for d in {state}; do mount -t tmpfs -o mode=755 uvbench "$d"; done
mount --bind "$dir/etc" /etc/libvirt
if [ -e "$dir/kvm" ]; then mount --bind "$dir/kvm" /dev/kvm; fi
exec virtlogd -p "$dir/virtlogd.pid"
""".replace("{state}", " ".join(STATE_DIRS))

DOMAIN_XML = """<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>{mib}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{kernel}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>{cmdline}</cmdline>
  </os>
  <features><acpi/></features>
  <cpu mode='maximum'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
    <serial type='file'><source path='{console}'/></serial>
  </devices>
</domain>
"""


class Watch:
    """Notes when each console file first shows the init marker, polled every 5 ms."""

    def __init__(self, paths):
        self.paths = dict(paths)
        self.seen = {}
        self.panicked = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            for name, path in self.paths.items():
                if name in self.seen or name in self.panicked:
                    continue
                text = read(path)
                if MARKER in text:
                    self.seen[name] = time.monotonic()
                elif b"Kernel panic" in text:
                    self.panicked[name] = text[text.index(b"Kernel panic"):].split(b"\n")[0]
            if len(self.seen) + len(self.panicked) == len(self.paths):
                return
            time.sleep(0.005)

    def all_seen(self, timeout, what):
        try:
            wait(lambda: len(self.seen) + len(self.panicked) == len(self.paths), timeout, what)
        finally:
            self.stop.set()
            self.thread.join()
        if self.panicked:
            first = sorted(self.panicked)[0]
            raise SystemExit(f"bench: kernel panic in {', '.join(sorted(self.panicked))}: "
                             f"{first}: {self.panicked[first].decode(errors='replace')}")


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def check_libvirt():
    if os.geteuid():
        raise SystemExit("bench: virsh.py runs libvirtd as root: run it as root")
    missing = sorted({pkg for exe, pkg in NEEDED.items() if not shutil.which(exe)} |
                     ({"libvirt-daemon-driver-qemu"} if not os.path.exists(QEMU_DRIVER) else set()))
    if missing:
        raise SystemExit("bench: libvirt is not installed (missing " + ", ".join(missing) +
                         "): run bench/run.sh virsh, which installs libvirt-daemon-system "
                         "libvirt-clients, or apt-get install them")


def cgroup_dirs():
    """The 'machine' cgroups libvirt makes on this host (no systemd: it writes cgroupfs)."""
    out = set()
    try:
        for c in os.listdir(CGROUP_ROOT):
            if os.path.isdir(os.path.join(CGROUP_ROOT, c, "machine")):
                out.add(os.path.join(CGROUP_ROOT, c, "machine"))
    except OSError:
        pass
    return out


class Libvirt:
    """Debian's libvirtd + virtlogd, owned by this process, with a throwaway state."""

    def __init__(self):
        check_libvirt()
        self.cgroups_before = cgroup_dirs()
        self.dir = tempfile.mkdtemp(prefix="uvvirsh-")
        self.virtlogd = self.libvirtd = None
        self.names = set()
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    def _start(self):
        # QEMU runs as libvirt-qemu: it must be able to reach the kernel, initrd and consoles.
        os.chmod(self.dir, 0o755)
        etc = os.path.join(self.dir, "etc")
        os.makedirs(os.path.join(self.dir, "sock"))
        os.makedirs(etc)
        with open(os.path.join(etc, "libvirtd.conf"), "w") as f:
            f.write(f'unix_sock_dir = "{self.dir}/sock"\nauth_unix_rw = "none"\n'
                    f'auth_unix_ro = "none"\nlog_outputs = "3:file:{self.dir}/libvirtd.log"\n')
        with open(os.path.join(etc, "qemu.conf"), "w") as f:  # otherwise Debian's defaults
            if os.environ.get("LIBVIRT_CGROUPS") == "0":
                # All guests share one cgroup, machine/, weighted as one task against the
                # host's; LIBVIRT_CGROUPS=0 leaves them in the root group as ultra's are.
                f.write("cgroup_controllers = [ ]\n")
        self._kvm_node()
        self.kernel = shutil.copy(VMLINUX, self.dir)
        self.initrd = shutil.copy(INITRD, self.dir)
        self.uri = f"qemu:///system?socket={self.dir}/sock/libvirt-sock"
        t0 = time.monotonic()
        self.virtlogd = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", NAMESPACE_SH, "sh",
             self.dir], stdout=self._log("virtlogd.out"), stderr=subprocess.STDOUT)
        wait(lambda: self.virtlogd.poll() is not None or
             os.path.exists(f"/proc/{self.virtlogd.pid}/root/run/libvirt/virtlogd-sock"), 30,
             "virtlogd")
        if self.virtlogd.poll() is not None:
            raise SystemExit(f"bench: virtlogd failed: see {self.dir}/virtlogd.out")
        self.libvirtd = subprocess.Popen(
            ["nsenter", f"--mount=/proc/{self.virtlogd.pid}/ns/mnt", "libvirtd", "-f",
             os.path.join(etc, "libvirtd.conf"), "-p", os.path.join(self.dir, "libvirtd.pid")],
            stdout=self._log("libvirtd.out"), stderr=subprocess.STDOUT)
        wait(lambda: self.libvirtd.poll() is not None or
             os.path.exists(os.path.join(self.dir, "sock", "libvirt-sock")), 60, "libvirtd")
        if self.libvirtd.poll() is not None:
            raise SystemExit(f"bench: libvirtd failed: see {self.dir}/libvirtd.out")
        # Ready means ready to start a guest: libvirtd probes QEMU's capabilities (two QEMU
        # processes, KVM and TCG) in the background after it answers; this waits for that.
        self.virsh("domcapabilities", "--virttype", "qemu")
        self.up_s = time.monotonic() - t0

    def _log(self, name):
        return open(os.path.join(self.dir, name), "wb")

    def _kvm_node(self):
        """Debian's udev rules give /dev/kvm to group kvm (0660); a host without udev leaves it
        root's only, and libvirt then finds its cached QEMU capabilities stale on every start
        (probed as root: KVM; checked as libvirt-qemu: no KVM) and probes QEMU again, ~3 s each
        time. A node with the usual mode, mounted over /dev/kvm in the bench's namespace only,
        gives libvirt the host it expects. The guests still run TCG."""
        try:
            st = os.stat("/dev/kvm")
        except OSError:
            return
        if st.st_mode & 0o060 == 0o060:
            return
        node = os.path.join(self.dir, "kvm")
        try:
            os.mknod(node, 0o600 | 0o020000, st.st_rdev)
            shutil.chown(node, group="kvm")
            os.chmod(node, 0o660)
        except (OSError, LookupError):
            try:
                os.unlink(node)
            except OSError:
                pass

    def virsh(self, *args, check=True):
        r = subprocess.run(["virsh", "-q", "-c", self.uri, *args], capture_output=True,
                           text=True, timeout=300)
        if check and r.returncode:
            raise SystemExit(f"bench: virsh {' '.join(args)}: {r.stderr.strip()}")
        return r.stdout

    def virsh_argv(self, *args):
        return ["virsh", "-q", "-c", self.uri, *args]

    def console(self, name):
        return os.path.join(self.dir, name + ".console")

    def define(self, name):
        path = os.path.join(self.dir, name + ".xml")
        with open(path, "w") as f:
            f.write(DOMAIN_XML.format(name=name, mib=MIB, kernel=self.kernel, initrd=self.initrd,
                                      cmdline=f"{CMDLINE} {guest_clock()}",
                                      console=self.console(name)))
        self.names.add(name)
        self.virsh("define", path)

    def undefine(self, name):
        self.virsh("undefine", name)
        self.names.discard(name)

    def _our_qemus(self):
        """QEMUs whose command line names this bench's folder: started by our libvirtd."""
        pids = []
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                with open(f"/proc/{p}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if argv and argv[0].endswith(b"qemu-system-x86_64") and \
                    any(self.dir.encode() in a for a in argv):
                pids.append(int(p))
        return pids

    def close(self):
        if self.libvirtd and self.libvirtd.poll() is None:
            for name in sorted(self.names):
                self.virsh("destroy", name, check=False)
                self.virsh("undefine", name, check=False)
        for pid in self._our_qemus():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for p in (self.libvirtd, self.virtlogd):
            if p and p.poll() is None:
                p.terminate()
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        wait(lambda: not self._our_qemus(), 30, "libvirt's QEMUs to exit")
        for d in sorted(cgroup_dirs() - self.cgroups_before):
            for sub, _, _ in sorted(os.walk(d), reverse=True):
                try:
                    os.rmdir(sub)
                except OSError:
                    pass
        shutil.rmtree(self.dir, ignore_errors=True)


class Ultra:
    """The same steps through `ultra` on a running ultra-boot."""

    def __init__(self):
        t0 = time.monotonic()
        self.sysm = System()
        self.up_s = time.monotonic() - t0

    def define(self, name):
        self.sysm.define(name, MIB, CMDLINE)

    def undefine(self, name):
        self.sysm.ultra("undefine", name)

    def console(self, name):
        return self.sysm.console(name)

    def start_argv(self, name):
        return [os.path.join(BIN, "ultra"), "start", name]

    def destroy_argv(self, name):
        return [os.path.join(BIN, "ultra"), "destroy", name]

    def env(self):
        return self.sysm.env

    def all_stopped(self, names):
        states = {p["name"]: p["state"] for p in json.loads(self.sysm.ultra("--json", "list"))}
        return all(states.get(n) in ("stopped", "defined", "crashed") for n in names)

    def close(self):
        self.sysm.close()


class LibvirtSide(Libvirt):
    def start_argv(self, name):
        return self.virsh_argv("start", name)

    def destroy_argv(self, name):
        return self.virsh_argv("destroy", name)

    def env(self):
        return None

    def all_stopped(self, names):
        out = self.virsh("list", "--name")  # running domains only
        return not set(out.split()) & set(names)


def run_all(side, names, argv_of, concurrent):
    """Runs one command per guest, one after the other or all at once; returns when each was
    issued (the clock a guest's own start latency counts from)."""
    issued = {}
    if concurrent:
        procs = []
        for n in names:
            issued[n] = time.monotonic()
            procs.append((n, subprocess.Popen(argv_of(n), env=side.env(), stdout=subprocess.DEVNULL,
                                              stderr=subprocess.PIPE)))
        for n, p in procs:
            _, err = p.communicate(timeout=300)
            if p.returncode:
                raise SystemExit(f"bench: {' '.join(argv_of(n))}: {err.decode().strip()}")
    else:
        for n in names:
            issued[n] = time.monotonic()
            r = subprocess.run(argv_of(n), env=side.env(), capture_output=True, timeout=300)
            if r.returncode:
                raise SystemExit(f"bench: {' '.join(argv_of(n))}: {r.stderr.decode().strip()}")
    return issued


def burst(side, prefix, concurrent):
    """Defines BURST guests, starts them, waits for every init marker, destroys, undefines."""
    names = [f"{prefix}{i}" for i in range(BURST)]
    r = {}
    t0 = time.monotonic()
    for n in names:
        side.define(n)
    r["define"] = time.monotonic() - t0
    watch = Watch((n, side.console(n)) for n in names)
    t0 = time.monotonic()
    issued = run_all(side, names, side.start_argv, concurrent)
    r["returned"] = time.monotonic() - t0
    watch.all_seen(900, f"{BURST} guests' init markers")
    r["up"] = max(watch.seen.values()) - t0
    r["latency"] = statistics.median(watch.seen[n] - issued[n] for n in names)
    t0 = time.monotonic()
    run_all(side, names, side.destroy_argv, concurrent)
    wait(lambda: side.all_stopped(names), 120, "every guest to stop")
    r["stop"] = time.monotonic() - t0
    t0 = time.monotonic()
    for n in names:
        side.undefine(n)
    r["undefine"] = time.monotonic() - t0
    return r


def single(side, name):
    """One guest defined, started to its init marker and destroyed: warms the caches (libvirt's
    QEMU capabilities, the page cache) and gives the one-guest start time."""
    side.define(name)
    t0 = time.monotonic()
    run_all(side, [name], side.start_argv, False)
    wait(lambda: has_marker(side.console(name)), 120, f"{name}'s init marker")
    t = time.monotonic() - t0
    run_all(side, [name], side.destroy_argv, False)
    wait(lambda: side.all_stopped([name]), 60, f"{name} to stop")
    side.undefine(name)
    return t


def plain_pc(log):
    """Plain QEMU with the machine libvirt gives the guest (pc, SeaBIOS, PVH kernel entry)."""
    return subprocess.Popen(
        ["qemu-system-x86_64", "-M", "pc", "-accel", "tcg", "-cpu", "max", "-m", f"{MIB}M",
         "-nodefaults", "-no-user-config", "-display", "none",
         "-chardev", f"file,id=c,path={log}", "-serial", "chardev:c", "-kernel", VMLINUX,
         "-initrd", INITRD, "-append", f"{CMDLINE} {guest_clock()}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def plain(launch):
    tmp = tempfile.mkdtemp(prefix="uvplain-")
    log = os.path.join(tmp, "console.log")
    t0 = time.monotonic()
    q = launch(log) if launch is plain_pc else launch(log, MIB, CMDLINE)
    try:
        wait(lambda: has_marker(log), 120, "plain QEMU")
        return time.monotonic() - t0
    finally:
        q.kill()
        q.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def med(rounds, key):
    return statistics.median(r[key] for r in rounds)


def row(label, ours, peer, rate=False):
    """The last column is how many times better ultra is: >1 means ultra wins."""
    ratio = (ours / peer if rate else peer / ours) if ours and peer else 0
    print(f"{label:46}{ours:10.2f}{peer:10.2f}{ratio:11.2f}x")


def main():
    for p in ("ultra-boot", "ultra", "ultra-command", "ultravisor", "ultra-monitor", "ultra-io"):
        if not os.path.exists(os.path.join(BIN, p)):
            raise SystemExit(f"missing {p}: run make")
    check_libvirt()
    ours = peer = None
    res = {"ours": {"seq": [], "par": [], "one": []}, "peer": {"seq": [], "par": [], "one": []}}
    plain_t = {"microvm": [], "pc": []}
    try:
        ours = Ultra()
        peer = LibvirtSide()
        for i in range(ROUNDS):
            for key, side in (("ours", ours), ("peer", peer)):
                res[key]["one"].append(single(side, f"w{i}"))
            plain_t["microvm"].append(plain(plain_qemu))
            plain_t["pc"].append(plain(plain_pc))
            for mode, concurrent in (("seq", False), ("par", True)):
                for key, side in (("ours", ours), ("peer", peer)):
                    res[key][mode].append(burst(side, f"{mode}{i}-", concurrent))
    finally:
        for side in (peer, ours):
            if side:
                side.close()
    o, p = res["ours"], res["peer"]
    print(f"{BURST} guests of {MIB} MiB, 1 vCPU, TCG, same vmlinux + initramfs + cmdline, "
          f"serial console to a file; median of {ROUNDS} round(s)"
          + ("; libvirt without cgroups" if os.environ.get("LIBVIRT_CGROUPS") == "0" else "")
          + f"; load average at the end {os.getloadavg()[0]:.1f}")
    print(f"{'':46}{'ultra':>10}{'libvirt':>10}{'ultra ahead':>12}")
    row("daemons up, answering (s)", ours.up_s, peer.up_s)
    row("one guest: start -> init marker (s)", statistics.median(o["one"]),
        statistics.median(p["one"]))
    print(f"{'  plain QEMU, microvm / pc, same guest (s)':46}"
          f"{statistics.median(plain_t['microvm']):10.2f}{statistics.median(plain_t['pc']):10.2f}")
    for mode, title in (("seq", "one start command after another"),
                        ("par", f"{BURST} start commands at once")):
        print(title + ":")
        row(f"  define {BURST} (s)", med(o[mode], "define"), med(p[mode], "define"))
        row("  start commands all returned (s)", med(o[mode], "returned"),
            med(p[mode], "returned"))
        row(f"  all {BURST} at init marker (s)", med(o[mode], "up"), med(p[mode], "up"))
        row("  partitions started/s", BURST / med(o[mode], "up"), BURST / med(p[mode], "up"),
            rate=True)
        row("  per-guest start -> init, median (s)", med(o[mode], "latency"),
            med(p[mode], "latency"))
        row(f"  destroy {BURST} -> all stopped (s)", med(o[mode], "stop"), med(p[mode], "stop"))
        row(f"  undefine {BURST} (s)", med(o[mode], "undefine"), med(p[mode], "undefine"))


if __name__ == "__main__":
    main()
