# SPDX-License-Identifier: MIT
"""Network offloads between guests on one ultra-io switch (claims 18-21, 24): the guests'
virtio_net drivers negotiate checksum and TCP segmentation offloads and mergeable receive
buffers with the I/O partition, 64 KiB TSO packets cross the switch whole (its counters say
so) and a TCP transfer delivers the same bytes it sent. A port exported with offload=off
negotiates none of them: the switch segments and checksums in software for it, and transfers
both ways still deliver the right bytes. The tap uplink carries TSO packets to and from a
network namespace's TCP."""
import hashlib
import os
import re
import subprocess

from harness import check, workspace
from test_io_blk import IoPartition
from test_io_net import bring_up, ping

FILE_KIB = 4096
GUESTS = [("offa", "10.99.1.1"), ("offb", "10.99.1.2")]
# virtio 1.2, 5.1.3: CSUM, GUEST_CSUM, GUEST_TSO4, GUEST_TSO6, HOST_TSO4, HOST_TSO6, MRG_RXBUF
OFFLOAD_BITS = (0, 1, 7, 8, 11, 12, 15)
TALLY = re.compile(r"(\S+): client \d+ port \d+: in (\d+) out (\d+) dropped: size (\d+) "
                   r"source (\d+) undeliverable \d+ hairpin \d+ header (\d+); tso in (\d+) "
                   r"out (\d+) segmented (\d+); checksummed (\d+)")


def negotiated(p):
    """The feature bits the guest's virtio_net driver accepted (virtio bus sysfs)."""
    bits = p.out("cat /sys/class/net/eth0/device/features").strip()
    check(re.fullmatch(r"[01]{64}", bits), f"{p.name}: features {bits!r}")
    return {i for i, b in enumerate(bits) if b == "1"}


def transfer(src, dst, dst_ip_of_src):
    """dst fetches a fresh random file from src's httpd; both md5s must agree."""
    src.out(f"mkdir -p /tmp/www && dd if=/dev/urandom of=/tmp/www/f bs=1k count={FILE_KIB} "
            "2>/dev/null")
    want = src.out("md5sum /tmp/www/f").split()[0]
    src.sh("httpd -p 8080 -h /tmp/www")
    dst.out(f"rm -f /tmp/f && wget -q -O /tmp/f http://{dst_ip_of_src}:8080/f", timeout=240)
    got = dst.out("md5sum /tmp/f").split()[0]
    check(got == want, f"{src.name} -> {dst.name}: the copy reads {got}, the original {want}")


def tallies(log, socks):
    """Each socket's port counters from ultra-io's closing log."""
    out = {}
    for m in TALLY.finditer(log):
        path = m.group(1)
        keys = ("in", "out", "size", "source", "header", "tso_in", "tso_out", "segmented",
                "csummed")
        out[path] = dict(zip(keys, map(int, m.groups()[1:])))
    check(set(out) == set(socks), f"tallies for {sorted(out)}, want {socks}: {log}")
    return out


def two_guests(w, specs, socks):
    io = IoPartition(w, net=specs)
    ps = [w.partition(name, memory_mib=256,
                      devices=[{"kind": "vhost-user-net", "path": s}]).start()
          for (name, _), s in zip(GUESTS, socks)]
    for p in ps:
        p.wait_boot()
    for p, (_, ip) in zip(ps, GUESTS):
        bring_up(p, ip)
    return io, ps


def test_offloads_negotiated_and_tso_crosses_whole():
    w = workspace()
    socks = [os.path.join(w.dir, f"off{i}.sock") for i in range(2)]
    io, (a, b) = two_guests(w, socks, socks)
    try:
        for p in (a, b):
            missing = set(OFFLOAD_BITS) - negotiated(p)
            check(not missing, f"{p.name} did not negotiate feature bits {sorted(missing)}")
        ping(a, GUESTS[1][1])
        transfer(b, a, GUESTS[1][1])
        transfer(a, b, GUESTS[0][1])
        check(io.alive(), "ultra-io died: " + io.output())
    finally:
        io.stop()
    log = io.output()
    check("refused (" not in log, "well-behaved guests had chains refused: " + log)
    t = tallies(log, socks)
    for s in socks:
        k = t[s]
        check(k["header"] == 0 and k["size"] == 0, f"{s}: frames dropped: {k}")
        check(k["tso_in"] > 0 and k["tso_out"] > 0, f"{s}: no TSO frame crossed whole: {k}")
        check(k["segmented"] == 0 and k["csummed"] == 0,
              f"{s}: the switch did work a guest with offloads could do: {k}")


def test_port_without_offloads_gets_segments():
    w = workspace()
    socks = [os.path.join(w.dir, f"off{i}.sock") for i in range(2)]
    io, (a, b) = two_guests(w, [f"{socks[0]},offload=off", socks[1]], socks)
    try:
        check(not set(OFFLOAD_BITS) & negotiated(a), f"{a.name} negotiated offloads")
        check(set(OFFLOAD_BITS) <= negotiated(b), f"{b.name} lacks offloads")
        ping(a, GUESTS[1][1])
        transfer(b, a, GUESTS[1][1])  # b's TSO packets, segmented for a
        transfer(a, b, GUESTS[0][1])  # a's plain frames, to a guest that takes more
        check(io.alive(), "ultra-io died: " + io.output())
    finally:
        io.stop()
    log = io.output()
    check("refused (" not in log, "well-behaved guests had chains refused: " + log)
    t = tallies(log, socks)
    ka, kb = t[socks[0]], t[socks[1]]
    check(ka["tso_in"] == 0 and ka["tso_out"] == 0, f"a port without offloads: {ka}")
    check(kb["tso_in"] > 0 and ka["segmented"] > 0, f"b's TSO not segmented for a: {ka} {kb}")
    check(ka["header"] == 0 and kb["header"] == 0, f"headers dropped: {ka} {kb}")


def test_tap_uplink_carries_tso_both_ways():
    """The tap uplink with IFF_VNET_HDR and TUNSETOFFLOAD: a namespace's TCP (busybox wget and
    httpd there) and a guest's exchange files both ways, bytes intact, with TSO packets
    crossing the tap whole in both directions."""
    w = workspace()
    sock = os.path.join(w.dir, "net.sock")
    io = IoPartition(w, net=[f"{sock},switch=up"], tap=["uvtap0,switch=up"],
                     prefix=["unshare", "--net"])
    www = os.path.join(w.dir, "www")
    os.makedirs(www)
    with open(os.path.join(www, "f"), "wb") as f:
        f.write(os.urandom(FILE_KIB << 10))
    ns = ["nsenter", "-t", str(io.proc.pid), "-n", "busybox"]

    def in_ns(*cmd, timeout=60):
        return subprocess.run([*ns, *cmd], capture_output=True, timeout=timeout)
    httpd = None
    try:
        for cmd in (("ip", "addr", "add", "10.99.1.254/24", "dev", "uvtap0"),
                    ("ip", "link", "set", "uvtap0", "up")):
            r = in_ns(*cmd)
            check(r.returncode == 0, f"configuring the tap: {cmd}: {r.stderr}")
        httpd = subprocess.Popen([*ns, "httpd", "-f", "-p", "8080", "-h", www])
        p = w.partition("offup", memory_mib=256,
                        devices=[{"kind": "vhost-user-net", "path": sock}]).start().wait_boot()
        bring_up(p, GUESTS[0][1])
        ping(p, "10.99.1.254")
        # namespace -> guest: the host's TSO packets through the tap
        p.out("wget -q -O /tmp/f http://10.99.1.254:8080/f", timeout=240)
        with open(os.path.join(www, "f"), "rb") as f:
            want = hashlib.md5(f.read()).hexdigest()
        got = p.out("md5sum /tmp/f").split()[0]
        check(got == want, f"namespace -> guest: the copy reads {got}, the original {want}")
        # guest -> namespace: the guest's TSO packets out through the tap
        p.out("mkdir -p /tmp/www && mv /tmp/f /tmp/www/g && httpd -p 8080 -h /tmp/www")
        r = in_ns("wget", "-q", "-O", "-", f"http://{GUESTS[0][1]}:8080/g", timeout=240)
        check(r.returncode == 0, f"the namespace cannot fetch from the guest: {r.stderr}")
        got = hashlib.md5(r.stdout).hexdigest()
        check(got == want, f"guest -> namespace: the copy reads {got}, the original {want}")
        check(io.alive(), "ultra-io died: " + io.output())
    finally:
        if httpd:
            httpd.kill()
            httpd.wait()
        io.stop()
    log = io.output()
    check("uplink of switch up, with offloads" in log, "the tap has no offloads: " + log)
    m = re.search(r"tap uvtap0 port \d+: in (\d+) out (\d+) dropped: size (\d+) source \d+ "
                  r"undeliverable \d+ hairpin \d+ header (\d+); tso in (\d+) out (\d+)", log)
    check(m, f"tap tally: {log}")
    tap_in, tap_out, size, header, tso_in, tso_out = map(int, m.groups())
    check(size == 0 and header == 0, f"tap frames dropped: {m.group(0)}")
    check(tso_in > 0 and tso_out > 0, f"no TSO across the tap both ways: {m.group(0)}")
