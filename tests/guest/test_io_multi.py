# SPDX-License-Identifier: MIT
"""One ultra-io serves eight Debian guests at once (claims 17-19, 25, 63-65): eight raw images
in one directory, eight NICs on one switch. All eight run sustained direct I/O to their own
disk in the same time window while pinging two neighbours over the switch; the guests get
equal shares (Jain's index and a floor against the mean; when the host is shared with other
work, only that no guest is starved: see docs/io-partition.md, Fairness), each guest's clock
(by which it measures its rate) keeps the host's time, every guest's data lands in its own image and only there, and every ping crosses the switch."""
import base64
import hashlib
import os
import re
import time

from harness import check, wait_for, workspace
from test_io_blk import IoPartition, find_disk
from test_io_net import bring_up

GUESTS = 8
MEMORY_MIB = 128
DISK_MIB = 2048        # sparse: the readers stream through holes, never reaching the end
OWN_MIB = 8            # random bytes the host wrote, different in every image
SLOT_BLOCK = OWN_MIB * 16  # 64 KiB blocks: the guest's own 1 MiB pattern goes right after
READ_BLOCK = 256       # readers start at 16 MiB, 256 MiB apart, clear of both
WRITE_BLOCK = 20480    # the writer streams zeros from 1280 MiB on
READERS = 3            # O_DIRECT readers per guest, plus one writer: 4 requests in flight
MARGIN_S = 5           # load before the window opens, so that all eight windows overlap
WINDOW_S = 20
PINGS = 8
BOOT_S = 300           # eight TCG guests booting at once on two cores
# docs/io-partition.md, Fairness. When the test's own processes had the host (at least OWN_MIN
# of both cores in the window), equal shares are checked: fair runs measured Jain 0.97-0.996
# and min/mean 0.71-0.91 there. On a host shared with other work the split is noisy (fair runs
# down to Jain 0.69, min/mean 0.27), so only starvation is checked.
OWN_MIN = 0.8
JAIN_MIN, FLOOR = 0.9, 0.5
JAIN_SHARED, FLOOR_SHARED = 0.5, 0.15

# The load, run in the background by each guest's shell. It waits for /tmp/go so that all
# eight start together, writes the guest's own 1 MiB pattern into its slot, then runs READERS
# readers and one writer, all O_DIRECT (every block is a request to ultra-io), streaming
# through the sparse disk. After M seconds every dd reports its count (busybox dd does on
# SIGUSR1), again T seconds later: the difference over the guest's clock between the two is
# its rate in a window all eight share, free of start and stop skew. Two pings to
# neighbours run inside the window.
LOAD = r"""
M=$1; T=$2; A=$3; B=$4
while [ ! -e /tmp/go ]; do usleep 5000; done
dd if=/tmp/pat of=$DEV bs=64k seek=$SB oflag=direct conv=notrunc 2>/dev/null || echo PATTERN-FAILED
ps=
for k in $(seq 1 $NR); do
    dd if=$DEV of=/dev/null bs=64k skip=$((RB + (k - 1) * 4096)) iflag=direct 2>/tmp/d$k &
    ps="$ps $!"
done
dd if=/dev/zero of=$DEV bs=64k seek=$WB oflag=direct 2>/tmp/d0 & ps="$ps $!"
count() {  # the blocks all of them moved, from each one's Nth report
    s=0
    for k in $(seq 0 $NR); do
        while [ $(grep -c "records out" /tmp/d$k) -lt $1 ]; do usleep 200000; done
        s=$((s + $(grep 'records out' /tmp/d$k | sed -n "$1s/+.*//p")))
    done
    echo $s
}
cs() { t=$(cut -d' ' -f1 /proc/uptime); echo ${t%.*}${t#*.}; }
sleep $M; t0=$(cs); kill -USR1 $ps; a=$(count 1)
ping -c $PN -i 1 -W 5 $A > /tmp/pa 2>&1 &
ping -c $PN -i 1 -W 5 $B > /tmp/pb 2>&1 &
sleep $T; t1=$(cs); kill -USR1 $ps; b=$(count 2)
kill $ps
wait
echo "LOAD blocks=$((b - a)) cs=$((t1 - t0))"
echo LOAD-DONE
"""


def ip(i):
    return f"10.99.1.{i + 1}"


def jain(xs):
    return sum(xs) ** 2 / (len(xs) * sum(x * x for x in xs))


def make_images(folder):
    """One directory of sparse images; each starts with OWN_MIB of its own random bytes."""
    os.makedirs(folder)
    images = []
    for i in range(GUESTS):
        path = os.path.join(folder, f"d{i}.img")
        with open(path, "wb") as f:
            f.write(os.urandom(OWN_MIB << 20))
            f.truncate(DISK_MIB << 20)
        images.append(path)
    return images


def md5_of(path, off, size):
    with open(path, "rb") as f:
        f.seek(off)
        return hashlib.md5(f.read(size)).hexdigest()


def prepare(p, i):
    """Disk, NIC and load script in place; returns the md5 of the guest's own pattern."""
    dev = find_disk(p)
    size = int(p.out(f"cat /sys/block/{dev[5:]}/size").strip())
    check(size == (DISK_MIB << 20) // 512, f"{p.name} sees {size} sectors")
    bring_up(p, ip(i))
    p.out("dd if=/dev/urandom of=/tmp/pat bs=64k count=16 2>/dev/null")
    script = (f"DEV={dev}; RB={READ_BLOCK}; SB={SLOT_BLOCK}; WB={WRITE_BLOCK}; PN={PINGS}; "
              f"NR={READERS}\n" + LOAD).encode()
    b64 = base64.b64encode(script).decode()
    for k in range(0, len(b64), 512):  # the shell's line editor takes ~1 KiB a line
        p.out(f"echo -n {b64[k:k + 512]} >> /tmp/load.b64")
    p.out("base64 -d /tmp/load.b64 > /tmp/load.sh")
    p.out(f"sh /tmp/load.sh {MARGIN_S} {WINDOW_S} {ip((i + 1) % GUESTS)} {ip((i + 3) % GUESTS)} "
          "> /tmp/load.out 2>&1 &")
    return dev, p.out("md5sum /tmp/pat").split()[0]


def clock(p):
    """The guest's clocksource, its uptime and the host's monotonic time, read together."""
    text = p.out("cat /sys/devices/system/clocksource/clocksource0/current_clocksource "
                 "/proc/uptime")
    source, up = text.split()[:2]
    return source, float(up), time.monotonic()


def cpu_seconds(pid):
    """User plus system time of a process, all its threads, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def finished(p, path):
    """The file's text once the guest has written it whole (None until then)."""
    text, rc = p.sh(f"cat {path}")
    return text if rc == 0 and text.strip() else None


def on_cpu0(pid):
    """How many of the process's threads last ran on host CPU 0, and how many threads."""
    n = k = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        n += 1
        k += fields[36] == "0"
    return k, n


def collect(p):
    """The guest's figures once its window is over: bytes per second, pings received per peer."""
    def done():
        text = finished(p, "/tmp/load.out")
        return text if text and "LOAD-DONE" in text else None
    text = wait_for(done, 60, f"{p.name}: the end of its load", 1.0)
    m = re.search(r"LOAD blocks=(\d+) cs=(\d+)", text)
    check(m and int(m.group(2)) > 0 and "PATTERN-FAILED" not in text,
          f"{p.name}: no counts in {text!r}")
    pings = []
    for f in ("/tmp/pa", "/tmp/pb"):
        t = p.out(f"cat {f}")
        pm = re.search(r"(\d+) packets received", t)
        pings.append(int(pm.group(1)) if pm else 0)
    return int(m.group(1)) * (64 << 10) * 100 / int(m.group(2)), pings


def test_eight_guests_share_one_io_partition_fairly():
    w = workspace()
    images = make_images(os.path.join(w.dir, "images"))
    blk = [os.path.join(w.dir, f"blk{i}.sock") for i in range(GUESTS)]
    net = [os.path.join(w.dir, f"net{i}.sock") for i in range(GUESTS)]
    io = IoPartition(w, *zip(blk, images), net=[f"{s},switch=lan" for s in net])
    try:
        ps = [w.partition(f"multi{i}", memory_mib=MEMORY_MIB,
                          devices=[{"kind": "vhost-user-blk", "path": blk[i]},
                                   {"kind": "vhost-user-net", "path": net[i]}]).start()
              for i in range(GUESTS)]
        for p in ps:
            p.wait_boot(BOOT_S)
        clocks = [clock(p) for p in ps]
        setup = [prepare(p, i) for i, p in enumerate(ps)]
        pats = [s[1] for s in setup]
        check(len(set(pats)) == GUESTS, f"two guests made the same pattern: {pats}")
        # Start all eight windows together: the lines go out without waiting for answers.
        for p in ps:
            p.console.sendall(b"touch /tmp/go\n")
        pids = [p.qemu_pid() for p in ps] + [io.proc.pid]
        time.sleep(MARGIN_S)
        cpu0 = [cpu_seconds(pid) for pid in pids]
        where = [[0, 0] for _ in pids]
        end = time.monotonic() + WINDOW_S
        while time.monotonic() < end:
            for wh, pid in zip(where, pids):
                k, n = on_cpu0(pid)
                wh[0] += k
                wh[1] += n
            time.sleep(0.2)
        cpu = [cpu_seconds(pid) - c for pid, c in zip(pids, cpu0)]
        print("  io-multi: share of thread samples on host CPU 0 " +
              " ".join(f"{k / max(n, 1):.2f}" for k, n in where))
        results = [collect(p) for p in ps]
        # The rates are by each guest's own clock, so that clock must keep the host's time
        # under this load: a guest whose kernel gave up its TSC for jiffies loses the ticks
        # its starved vCPU misses and reports inflated rates (docs/monitor.md, Guest clock).
        pace = []
        for p, (source, up0, t0) in zip(ps, clocks):
            _, up1, t1 = clock(p)
            pace.append((source, (up1 - up0) / (t1 - t0)))
        print("  io-multi: guest clock per host second " +
              " ".join(f"{r:.3f}({s})" for s, r in pace))
        for p, (source, r) in zip(ps, pace):
            check(abs(r - 1) < 0.05, f"{p.name}'s clock ({source}) ran {r:.3f}x the host's")
        check(io.alive(), "ultra-io died: " + io.output())

        rate = [r[0] for r in results]
        mean = sum(rate) / GUESTS
        index = jain(rate)
        figures = " ".join(f"{x / 1e6:.2f}" for x in rate)
        print(f"  io-multi: MB/s per guest {figures}; total {sum(rate) / 1e6:.2f}; "
              f"Jain {index:.3f}; min/mean {min(rate) / mean:.2f}; CPU s per QEMU "
              + " ".join(f"{c:.1f}" for c in cpu[:-1]) + f", ultra-io {cpu[-1]:.1f}")
        check(min(rate) > 0, f"a guest did no I/O at all: {figures} MB/s")
        own = sum(cpu) / (WINDOW_S * os.cpu_count())
        quiet = own >= OWN_MIN
        jain_min, floor = (JAIN_MIN, FLOOR) if quiet else (JAIN_SHARED, FLOOR_SHARED)
        print(f"  io-multi: the test's processes had {own:.0%} of the host: checking "
              f"{'equal shares' if quiet else 'only starvation (host shared)'}")
        check(index >= jain_min, f"unfair: Jain's index {index:.3f} < {jain_min} ({figures} MB/s)")
        check(min(rate) >= floor * mean,
              f"starved: min {min(rate) / mean:.2f} of the mean, below {floor} ({figures} MB/s)")
        for p, (_, pings) in zip(ps, results):
            check(all(n > 0 for n in pings), f"{p.name}: pings received from its peers: {pings}")

        # Each guest's disk is its own image: what it reads back is that file, byte for byte,
        # and its pattern landed in its own slot. All eight differ. The eight reads run at once.
        span = (OWN_MIB + 1) << 20
        for p, (dev, _) in zip(ps, setup):
            p.out(f"(dd if={dev} bs=1M count={OWN_MIB + 1} iflag=direct 2>/dev/null | md5sum "
                  "> /tmp/sum.part && mv /tmp/sum.part /tmp/sum) &")
        seen = []
        for i, (p, (_, pat)) in enumerate(zip(ps, setup)):
            got = wait_for(lambda: finished(p, "/tmp/sum"), 120, f"{p.name}: its disk's md5",
                           1.0).split()[0]
            check(got == md5_of(images[i], 0, span),
                  f"{p.name} reads {got} from its disk, its image holds something else")
            check(md5_of(images[i], OWN_MIB << 20, 1 << 20) == pat,
                  f"{p.name}'s pattern is not in its slot of {images[i]}")
            seen.append(got)
        check(len(set(seen)) == GUESTS, f"two guests read the same disk: {seen}")
    finally:
        io.stop()
    log = io.output()
    check("refused (" not in log, "well-behaved guests had requests refused: " + log)
    # Each export's closing tally: how many of its requests ran in io_uring batches of two or
    # more, a hint at how many each turn found waiting.
    tallies = sorted((int(i), r, c) for i, r, c in
                     re.findall(r"blk(\d+)\.sock: (\d+) requests, (\d+) run concurrently", log))
    check(len(tallies) == GUESTS, f"expected {GUESTS} disk tallies: {log}")
    print("  io-multi: requests (batched) per disk " +
          " ".join(f"{r}({c})" for _, r, c in tallies))
