#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The I/O partition against its peers, measured in the same run (issue 5's benchmark).

  disk  fio inside the guest (Debian's fio 3.33, direct I/O, libaio, fixed runtime) on /dev/vda,
        the same raw image served by
          ours      ultra-io --blk (vhost-user-blk)
          qsd       qemu-storage-daemon's vhost-user-blk export
          built-in  QEMU's own virtio-blk-device (the monitor's kind "blk")
  net   iperf3 (Debian's 3.12) TCP from one guest to another, 10.99.0.1 -> 10.99.0.2:
          ours      both guests' vhost-user-net NICs on one ultra-io switch (checksum and TSO
                    offloads, mergeable receive buffers: whatever QEMU's virtio-net negotiates)
          ours-nooff the same switch with both ports exported offload=off (plain frames)
          tap       QEMU's built-in virtio-net on taps in a Linux bridge, in a network
                    namespace the bench makes and removes (QEMU's default offloads: TSO/csum)
          tap-nooff the same with every offload and mergeable buffers off, as ours-nooff

Every guest is started by the same QEMU command line (it mirrors monitor/qemu_cmd.c: microvm,
TCG, -cpu max, shared memfd RAM, virtio-mmio modern transport), the same kernel, cmdline,
memory and vCPUs; only the one device differs. fio and iperf3 come from their Debian packages,
unpacked by guest/mkbenchtools.sh into an extra initramfs segment appended to the normal one.

Environment: RUNTIME (s per fio job / iperf3 run, default 10), ROUNDS (default 1; the median is
printed), ONLY=disk|net, JOB and BACKENDS (see below) to profile one case (BACKENDS may name
"noevidx": ours with QEMU's event_idx=off on the disk). BASE_IO=PATH adds
"base", another ultra-io binary (an older build: before and after in the same run). LOAD=N
keeps N more TCG guests (same QEMU line, no devices) spinning a shell loop on their vCPU for
the whole run: a host loaded the way other partitions load it. Needs root (network namespace, taps, apt-get download into the cache).
"""
import contextlib
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from system import guest_clock, wait  # bench/ is this script's folder, first on sys.path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "release", "bin")
ULTRA_IO = os.path.join(BIN, "ultra-io")
GUEST = os.path.join(ROOT, "build", "guest")
VMLINUX, INITRD = os.path.join(GUEST, "vmlinux"), os.path.join(GUEST, "initramfs.cpio.gz")
MKTOOLS = os.path.join(ROOT, "guest", "mkbenchtools.sh")
QSD = "/usr/bin/qemu-storage-daemon"
QEMU = "qemu-system-x86_64"
MEM_MIB, VCPUS, DISK_MIB = 512, 1, 512
RUNTIME = int(os.environ.get("RUNTIME", "10"))
ROUNDS = int(os.environ.get("ROUNDS", "1"))
RAMP = 2
# ultra-io lets a client in only as the engine uid of the partition its export is for
# (lib/engine_uid.h: base 0x70000000 + partition, 0 here): ours's QEMU runs as that uid, the
# way the monitor runs it. Peers' QEMU stays root (taps, qsd: no such check).
ENGINE_UID = 0x70000000
AS_ENGINE = ("setpriv", f"--reuid={ENGINE_UID}", f"--regid={ENGINE_UID}", "--clear-groups")

# name, fio options; all with --direct=1 --ioengine=libaio on the whole disk.
JOBS = [("seq-read 1M QD8", "--rw=read --bs=1M --iodepth=8"),
        ("seq-write 1M QD8", "--rw=write --bs=1M --iodepth=8"),
        ("rand-read 4K QD1", "--rw=randread --bs=4k --iodepth=1"),
        ("rand-read 4K QD32", "--rw=randread --bs=4k --iodepth=32")]
DISK_BACKENDS = ("ours", "qsd", "built-in")
NET_BACKENDS = ("ours", "tap", "ours-nooff", "tap-nooff")
# For profiling one case: JOB=substring of a job name, BACKENDS=comma list (the table needs all).
JOBS = [j for j in JOBS if os.environ.get("JOB", "") in j[0]]
if os.environ.get("BACKENDS"):
    DISK_BACKENDS = NET_BACKENDS = tuple(os.environ["BACKENDS"].split(","))
BASE_IO = os.environ.get("BASE_IO", "")
if BASE_IO and not os.environ.get("BACKENDS"):
    DISK_BACKENDS = ("ours", "base", *DISK_BACKENDS[1:])
    NET_BACKENDS = ("ours", "base", *NET_BACKENDS[1:])
LOAD = int(os.environ.get("LOAD", "0"))
NET_IPS = ("10.99.0.1", "10.99.0.2")
NOOFF = ("csum=off,guest_csum=off,gso=off,guest_tso4=off,guest_tso6=off,guest_ecn=off,"
         "guest_ufo=off,host_tso4=off,host_tso6=off,host_ecn=off,host_ufo=off,mrg_rxbuf=off")


def die(msg):
    raise SystemExit(f"bench/io.py: {msg}")


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace").replace("\r", "")
    except OSError:
        return ""


def check_prerequisites():
    if os.geteuid() != 0:
        die("run as root (network namespace, taps, apt-get download into the tool cache)")
    for p, how in ((ULTRA_IO, "run make"), (VMLINUX, "run scripts/setup.sh"),
                   (INITRD, "run scripts/setup.sh"), (QSD, "apt-get install qemu-system-common"),
                   ("/dev/net/tun", "load the tun module")):
        if not os.path.exists(p):
            die(f"missing {p}: {how}")
    for tool in (QEMU, "ip", "apt-get", "dpkg", "cpio", "ldd"):
        if not shutil.which(tool):
            die(f"missing {tool} on PATH")


class Bench:
    """Owns every process, temp file and namespace it makes; close() removes them all."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="uviobench-")
        os.chmod(self.tmp, 0o755)  # the engine-uid QEMU reads its initrd here
        self.procs = []
        self.netns = None
        self.clock = guest_clock()

    def close(self):
        if os.environ.get("KEEP"):
            print(f"kept {self.tmp}", file=sys.stderr)
            return
        for p in reversed(self.procs):
            self.stop(p)
        if self.netns:
            subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def spawn(self, argv, log):
        with open(log, "ab") as f:
            p = subprocess.Popen(argv, stdout=f, stderr=f, stdin=subprocess.DEVNULL,
                                 start_new_session=True)
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM):
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.procs:
            self.procs.remove(p)

    def path(self, name):
        return os.path.join(self.tmp, name)

    # -- guest image --------------------------------------------------------------------------
    def initrd(self, name, programs, script):
        """The normal initramfs followed by an uncompressed segment with the programs and the
        bench's guest script at /bench/run.sh (the kernel unpacks segments one after another)."""
        src = self.path(name + ".sh")
        with open(src, "w") as f:
            f.write(script)
        seg = self.path(name + ".cpio")
        r = subprocess.run([MKTOOLS, "--out", seg, "--add", f"{src}=/bench/run.sh", *programs],
                           capture_output=True, text=True)
        if r.returncode:
            die(f"building the guest tools failed: {r.stderr.strip()}")
        out = self.path(name + ".initrd")
        with open(out, "wb") as o:
            with open(INITRD, "rb") as f:
                shutil.copyfileobj(f, o)
            o.write(b"\0" * (-o.tell() % 4))  # each segment starts 4-byte aligned
            with open(seg, "rb") as f:
                shutil.copyfileobj(f, o)
        os.unlink(seg)
        return out

    def guest(self, name, initrd, run, devices, prefix=()):
        """One guest; the same argv for every backend but its devices. Returns (proc, log)."""
        log = self.path(name + ".console")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(log)
        if prefix[:1] == AS_ENGINE[:1]:  # it cannot create files in our folder
            with open(log, "wb"):
                pass
            os.chown(log, ENGINE_UID, ENGINE_UID)
        cmdline = f'console=ttyS0 quiet {self.clock} ultra.run="{run}"'
        argv = [*prefix, QEMU, "-name", name, "-nodefaults", "-no-user-config", "-display", "none",
                "-no-reboot", "-M", "microvm,memory-backend=ram0,isa-serial=on,rtc=on,acpi=on",
                "-accel", "tcg,thread=multi", "-cpu", "max", "-smp", str(VCPUS),
                "-m", f"{MEM_MIB}M", "-object",
                f"memory-backend-memfd,id=ram0,size={MEM_MIB}M,share=on",
                "-chardev", f"file,id=con0,path={log}", "-serial", "chardev:con0",
                "-global", "virtio-mmio.force-legacy=false",
                "-kernel", VMLINUX, "-initrd", initrd, "-append", cmdline, *devices]
        return self.spawn(argv, self.path(name + ".qemu.log")), log

    def run_guests(self, guests, timeout):
        """Waits until every guest powered itself off; returns their console texts."""
        procs = [g[0] for g in guests]
        try:
            wait(lambda: all(p.poll() is not None for p in procs), timeout,
                 "the guests to finish (consoles in " + self.tmp + ")")
        except SystemExit as e:
            if "timed out" not in str(e.code):
                raise  # a signal: nothing to explain
            for _, log in guests:
                sys.stderr.write(f"--- {log}\n{read_text(log)[-3000:]}\n")
            raise
        texts = [read_text(log) for _, log in guests]
        for p in procs:
            self.stop(p)
        return texts

    # -- servers ------------------------------------------------------------------------------
    def ultra_io(self, args, binary=ULTRA_IO):
        log = self.path("ultra-io.log")
        p = self.spawn([binary, *args], log)
        wait(lambda: "ready" in read_text(log) or p.poll() is not None, 30, "ultra-io")
        if p.poll() is not None:
            die(f"ultra-io exited: {read_text(log)}")
        return p, log

    def qsd(self, image, sock):
        log = self.path("qsd.log")
        p = self.spawn([QSD, "--blockdev",
                        f"driver=file,node-name=file0,filename={image},cache.direct=off,"
                        f"aio={QSD_AIO}",
                        "--export", f"type=vhost-user-blk,id=exp0,node-name=file0,"
                        f"addr.type=unix,addr.path={sock},writable=on"], log)
        wait(lambda: os.path.exists(sock) or p.poll() is not None, 30, "qemu-storage-daemon")
        if p.poll() is not None:
            die(f"qemu-storage-daemon exited: {read_text(log)}")
        return p

    def make_netns(self):
        ns = f"uviobench{os.getpid()}"

        def ip(*a):
            r = subprocess.run(["ip", "-n", ns, *a], capture_output=True, text=True)
            if r.returncode:
                die(f"ip -n {ns} {' '.join(a)}: {r.stderr.strip()}")
        r = subprocess.run(["ip", "netns", "add", ns], capture_output=True, text=True)
        if r.returncode:
            die(f"ip netns add {ns}: {r.stderr.strip()}")
        self.netns = ns
        ip("link", "add", "uvbr0", "type", "bridge")
        for t in ("uvtap0", "uvtap1"):
            ip("tuntap", "add", t, "mode", "tap")
            ip("link", "set", t, "master", "uvbr0")
            ip("link", "set", t, "up")
        ip("link", "set", "uvbr0", "up")
        return ns


QSD_AIO = os.environ.get("QSD_AIO", "threads")

FIO_SCRIPT = """#!/bin/sh
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
# Interrupts taken from the virtio-mmio devices so far (the disk's vring interrupt line).
irqs() {{ awk '/virtio/ {{ s += $2 }} END {{ print s + 0 }}' /proc/interrupts; }}
job() {{
    name=$1; shift
    before=$(irqs)
    /usr/bin/fio --name="$name" --filename=/dev/vda --direct=1 --ioengine=libaio \\
        --time_based --runtime={rt} --ramp_time={ramp} --output-format=terse --terse-version=3 \\
        "$@" | sed 's/^/UVFIO /'
    echo "UVIRQ $name $(( $(irqs) - before ))"
}}
{jobs}
poweroff -f
"""

NET_SCRIPT = """#!/bin/sh
# /bench/run.sh ME PEER server|client
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
ip addr add "$1/24" dev eth0 && ip link set eth0 up
if [ "$3" = server ]; then
    /usr/bin/iperf3 -s -1 >/dev/null
else
    i=0
    until ping -c 1 -W 1 "$2" >/dev/null 2>&1 || [ $i -ge 60 ]; do i=$((i + 1)); done
    i=0
    until /usr/bin/iperf3 -c "$2" -t {rt} -f m > /tmp/iperf.out 2>&1 || [ $i -ge 30 ]; do
        sleep 1; i=$((i + 1))
    done
    sed 's/^/UVIPERF /' /tmp/iperf.out
fi
poweroff -f
"""


def tally(b, backend):
    """Shows ultra-io's closing counters (requests, how many ran batched; switch ports), then
    starts its next log afresh."""
    log = b.path("ultra-io.log")
    if (backend.startswith("ours") or backend in ("base", "noevidx")) and os.path.exists(log):
        for line in read_text(log).splitlines():
            if re.search(r"requests,|port \d+: in|kick wake-ups", line):
                print("    " + line, file=sys.stderr)
        os.unlink(log)


def parse_fio(text, backend):
    out = {}
    for line in text.splitlines():
        at = line.find("UVFIO 3;")  # the shell's prompt may precede the first line
        if at < 0:
            continue
        f = line[at + len("UVFIO "):].split(";")
        if len(f) < 49 or f[4] != "0":
            die(f"{backend}: fio job failed: {line}")
        rd_kib, rd_iops, wr_kib, wr_iops = int(f[6]), float(f[7]), int(f[47]), float(f[48])
        kib, iops = (wr_kib, wr_iops) if wr_kib else (rd_kib, rd_iops)
        out[f[2]] = (kib * 1024 / 1e6, iops, 0)
    # Interrupts per completed request (the job's whole time, ramp included, over its I/Os).
    for name, n in re.findall(r"UVIRQ (\S+) (\d+)", text):
        if name in out and out[name][1] > 0:
            mbs, iops, _ = out[name]
            out[name] = (mbs, iops, int(n) / (iops * (RUNTIME + RAMP)))
    missing = [n for n, _ in JOBS if n.replace(" ", "_") not in out]
    if missing:
        die(f"{backend}: no fio result for {missing}; console tail:\n{text[-3000:]}")
    return out


def disk_round(b, initrd, image):
    res = {}
    sock = b.path("blk.sock")
    for backend in DISK_BACKENDS:
        server = None
        if backend in ("ours", "base", "noevidx"):
            server, _ = b.ultra_io(["--blk", f"{sock}={image}"],
                                   BASE_IO if backend == "base" else ULTRA_IO)
            # noevidx: ours with QEMU told not to negotiate VIRTIO_RING_F_EVENT_IDX
            off = ",event_idx=off" if backend == "noevidx" else ""
            dev = ["-chardev", f"socket,id=vub0,path={sock},reconnect=1",
                   "-device", f"vhost-user-blk,chardev=vub0{off}"]
        elif backend == "qsd":
            server = b.qsd(image, sock)
            dev = ["-chardev", f"socket,id=vub0,path={sock},reconnect=1",
                   "-device", "vhost-user-blk,chardev=vub0"]
        else:  # what monitor/qemu_cmd.c gives kind "blk"
            dev = ["-blockdev", f"driver=file,node-name=disk0,filename={image},read-only=off,"
                   "cache.direct=off,aio=threads", "-device", "virtio-blk-device,drive=disk0"]
        g = b.guest("disk-" + backend, initrd, "sh /bench/run.sh", dev,
                    AS_ENGINE if backend in ("ours", "base", "noevidx") else ())
        t0 = time.monotonic()
        (text,) = b.run_guests([g], 120 + len(JOBS) * (RUNTIME + RAMP + 30))
        if server:
            b.stop(server)
        tally(b, backend)
        res[backend] = parse_fio(text, backend)
        print(f"  {backend}: {time.monotonic() - t0:.0f} s", file=sys.stderr)
    return res


def parse_iperf(text, backend):
    m = re.search(r"UVIPERF .*?([\d.]+) Mbits/sec.*receiver", text)
    if not m:
        die(f"{backend}: no iperf3 result; console tail:\n{text[-3000:]}")
    return float(m.group(1))


def net_round(b, initrd):
    res = {}
    for backend in NET_BACKENDS:
        server, guests = None, []
        for i, (me, peer) in enumerate((NET_IPS, NET_IPS[::-1])):
            role = "client" if i == 0 else "server"
            mac = f"02:00:00:00:00:0{i + 1}"
            if backend.startswith("ours") or backend == "base":
                if server is None:
                    socks = [b.path(f"net{k}.sock") for k in range(2)]
                    opt = ",offload=off" if backend == "ours-nooff" else ""
                    server, _ = b.ultra_io(["--net", socks[0] + opt, "--net", socks[1] + opt],
                                           BASE_IO if backend == "base" else ULTRA_IO)
                dev = ["-chardev", f"socket,id=vun0,path={socks[i]},reconnect=1",
                       "-netdev", "vhost-user,id=net0,chardev=vun0",
                       "-device", f"virtio-net-device,netdev=net0,mac={mac}"]
                prefix = AS_ENGINE
            else:
                ns = b.netns or b.make_netns()
                extra = "," + NOOFF if backend == "tap-nooff" else ""
                dev = ["-netdev", f"tap,id=net0,ifname=uvtap{i},script=no,downscript=no,vhost=off",
                       "-device", f"virtio-net-device,netdev=net0,mac={mac}{extra}"]
                prefix = ("ip", "netns", "exec", ns)
            guests.append(b.guest(f"net{i}-{backend}", initrd,
                                  f"sh /bench/run.sh {me} {peer} {role}", dev, prefix))
        t0 = time.monotonic()
        texts = b.run_guests(guests, 240 + RUNTIME)
        if server:
            b.stop(server)
        tally(b, backend)
        res[backend] = parse_iperf(texts[0], backend)
        print(f"  {backend}: {time.monotonic() - t0:.0f} s", file=sys.stderr)
    return res


def make_image(path):
    """A raw image written through, so reads find data (not holes) on every backend."""
    chunk = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for _ in range(DISK_MIB):
            f.write(chunk)


def median_of(rounds, key_fn):
    return statistics.median(key_fn(r) for r in rounds)


def print_disk(rounds):
    print(f"fio in the guest on /dev/vda ({DISK_MIB} MiB raw image, host page cache on every "
          f"backend), direct libaio, {RUNTIME} s per job, {MEM_MIB} MiB, {VCPUS} vCPU, TCG, "
          f"median of {len(rounds)}; qsd aio={QSD_AIO}")
    peers = [b for b in DISK_BACKENDS if b != "ours" and "ours" in DISK_BACKENDS]
    print(f"{'job':20}" + "".join(f"{b:>18}" for b in DISK_BACKENDS) +
          "".join(f"{'ours/' + p:>15}" for p in peers))
    for name, _ in JOBS:
        key = name.replace(" ", "_")
        mbs = {b: median_of(rounds, lambda r: r[b][key][0]) for b in DISK_BACKENDS}
        iops = {b: median_of(rounds, lambda r: r[b][key][1]) for b in DISK_BACKENDS}
        irq = {b: median_of(rounds, lambda r: r[b][key][2]) for b in DISK_BACKENDS}
        # Sequential rows compare bandwidth, random rows IOPS (the same ratio either way
        # within a run; medians differ slightly).
        metric = mbs if name.startswith("seq") else iops
        cells = "".join(f"{mbs[b]:8.1f}MB/s {iops[b]:6.0f}" for b in DISK_BACKENDS)
        print(f"{name:20}{cells}" + "".join(f"{metric['ours'] / metric[p]:14.2f}x" for p in peers))
        print(f"{'  interrupts/request':20}" + "".join(f"{irq[b]:18.2f}" for b in DISK_BACKENDS))
    print("(columns: MB/s and IOPS; ratios > 1 mean ours is ahead; interrupts/request: the\n"
          " guest's virtio interrupts over the job, ramp included, per request fio counted)")


def print_net(rounds):
    print(f"iperf3 TCP guest -> guest, {RUNTIME} s, {MEM_MIB} MiB, {VCPUS} vCPU each, TCG, "
          f"median of {len(rounds)}")
    vals = {b: median_of(rounds, lambda r: r[b]) for b in NET_BACKENDS}
    for b in NET_BACKENDS:
        ours = "ours-nooff" if b == "tap-nooff" and "ours-nooff" in vals else "ours"
        ratio = (f"{vals[ours] / vals[b]:9.2f}x ({ours}/this)"
                 if not b.startswith("ours") and ours in vals else "")
        label = {"ours": "ours (ultra-io switch)", "tap": "tap bridge, QEMU virtio-net",
                 "ours-nooff": "ours, offload=off", "tap-nooff": "tap bridge, no offloads",
                 "base": "base (BASE_IO switch)"}[b]
        each = " ".join(f"{r[b]:.0f}" for r in rounds) if len(rounds) > 1 else ""
        print(f"{label:32}{vals[b]:10.1f} Mbit/s{ratio}" + (f"  (rounds: {each})" if each else ""))


def main():
    check_prerequisites()
    only = os.environ.get("ONLY", "")
    b = Bench()
    # SIGTERM/SIGHUP end the bench through the same cleanup as an error.
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, lambda *_: sys.exit("bench/io.py: signal, cleaning up"))
    disk, net = [], []
    try:
        for i in range(LOAD):  # spin until b.close() stops them
            b.guest(f"load{i}", INITRD, "while :; do :; done", [])
        if LOAD:
            print(f"load: {LOAD} spinning TCG guests", file=sys.stderr)
        if only in ("", "disk"):
            jobs = "\n".join(f"job {n.replace(' ', '_')} {o}" for n, o in JOBS)
            initrd = b.initrd("fio", ["fio"], FIO_SCRIPT.format(rt=RUNTIME, ramp=RAMP, jobs=jobs))
            image = b.path("disk.img")
            make_image(image)
            for i in range(ROUNDS):
                print(f"disk round {i + 1}", file=sys.stderr)
                disk.append(disk_round(b, initrd, image))
        if only in ("", "net"):
            initrd = b.initrd("iperf3", ["iperf3"], NET_SCRIPT.format(rt=RUNTIME))
            for i in range(ROUNDS):
                print(f"net round {i + 1}", file=sys.stderr)
                net.append(net_round(b, initrd))
    finally:
        b.close()
    if LOAD:
        print(f"under load: {LOAD} more TCG guests spinning their vCPU throughout")
    if disk:
        print_disk(disk)
    if net:
        print_net(net)


if __name__ == "__main__":
    main()
