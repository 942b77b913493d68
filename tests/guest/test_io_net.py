# SPDX-License-Identifier: MIT
"""Two Debian guests with vhost-user-net NICs on one ultra-io switch: the kernel's virtio_net
binds, they ping each other and move a file whose md5 both sides agree on (claims 17-19, 25).
The 10.99.0.0/24 addresses exist only inside the two guests: their frames go guest ->
shared memory -> ultra-io's switch -> the other guest, and no host interface is involved."""
import os
import re
import subprocess

from harness import check, wait_for, workspace
from test_io_blk import IoPartition

FILE_KIB = 512
GUESTS = [("neta", "10.99.0.1"), ("netb", "10.99.0.2")]


def bring_up(p, ip):
    """Checks virtio_net drives eth0, configures it; returns its MAC (the monitor's)."""
    wait_for(lambda: p.sh("test -e /sys/class/net/eth0")[1] == 0, 30, f"{p.name}: eth0")
    driver = p.out("basename $(readlink /sys/class/net/eth0/device/driver)").strip()
    check(driver == "virtio_net", f"{p.name}: eth0 is driven by {driver!r}, not virtio_net")
    p.out(f"ip addr add {ip}/24 dev eth0 && ip link set eth0 up")
    return p.out("cat /sys/class/net/eth0/address").strip()


def ping(p, ip):
    text = p.out(f"ping -c 3 -W 10 {ip}", timeout=90)
    m = re.search(r"(\d+) packets transmitted, (\d+) packets received", text)
    check(m and m.group(2) == "3", f"{p.name}: ping {ip}: {text}")


def test_two_guests_ping_and_copy_through_switch():
    w = workspace()
    socks = [os.path.join(w.dir, f"net{i}.sock") for i in range(2)]
    io = IoPartition(w, net=[socks[0], f"{socks[1]},switch=default"])
    try:
        ps = [w.partition(name, memory_mib=256,
                          devices=[{"kind": "vhost-user-net", "path": s}]).start()
              for (name, _), s in zip(GUESTS, socks)]
        for p in ps:
            p.wait_boot()
        macs = [bring_up(p, ip) for p, (_, ip) in zip(ps, GUESTS)]
        # The monitor gives each partition its own locally administered MAC (QEMU's default
        # is the same in every process, which a switch cannot tell apart).
        check(macs[0] != macs[1], f"both guests have MAC {macs[0]}")
        check(all(int(m.split(":")[0], 16) & 3 == 2 for m in macs), f"MACs {macs}")
        a, b = ps
        ping(a, GUESTS[1][1])
        ping(b, GUESTS[0][1])
        # A file of random bytes neither side chose, served by b's busybox httpd, fetched by a.
        b.out(f"mkdir -p /tmp/www && dd if=/dev/urandom of=/tmp/www/f bs=1k count={FILE_KIB} "
              "2>/dev/null")
        want = b.out("md5sum /tmp/www/f").split()[0]
        b.out("httpd -p 8080 -h /tmp/www")
        a.out(f"wget -q -O /tmp/f http://{GUESTS[1][1]}:8080/f", timeout=180)
        got = a.out("md5sum /tmp/f").split()[0]
        check(got == want, f"the copy reads {got}, the original {want}")
        check(io.alive(), "ultra-io died: " + io.output())
    finally:
        io.stop()
    log = io.output()
    for s in socks:
        check(not os.path.exists(s), "ultra-io left its socket behind")
    check("refused (" not in log, "well-behaved guests had chains refused: " + log)
    # Each port's closing tally: frames went both ways, none oversize or from a bad source.
    ports = re.findall(r"port \d+: in (\d+) out (\d+) dropped: size (\d+) source (\d+)", log)
    check(len(ports) == 2, f"expected two ports' tallies: {log}")
    for pin, pout, size, src in ports:
        check(int(pin) > 0 and int(pout) > 0 and size == "0" and src == "0",
              f"port tally in {pin} out {pout} size {size} source {src}: {log}")


def test_tap_uplink_reaches_a_namespace():
    """ultra-io runs in a network namespace of its own (unshare, gone when it ends) with a tap
    uplink there; the guest and the namespace ping each other. Only util-linux and busybox."""
    w = workspace()
    sock = os.path.join(w.dir, "net.sock")
    io = IoPartition(w, net=[f"{sock},switch=up"], tap=["uvtap0,switch=up"],
                     prefix=["unshare", "--net"])

    def in_ns(*cmd):
        return subprocess.run(["nsenter", "-t", str(io.proc.pid), "-n", "busybox", *cmd],
                              capture_output=True, text=True, timeout=60)
    try:
        for cmd in (("ip", "addr", "add", "10.99.0.254/24", "dev", "uvtap0"),
                    ("ip", "link", "set", "uvtap0", "up")):
            r = in_ns(*cmd)
            check(r.returncode == 0, f"configuring the tap: {cmd}: {r.stderr}")
        p = w.partition("netup", memory_mib=256,
                        devices=[{"kind": "vhost-user-net", "path": sock}]).start().wait_boot()
        bring_up(p, "10.99.0.1")
        ping(p, "10.99.0.254")
        r = in_ns("ping", "-c", "3", "-W", "10", "10.99.0.1")
        check(r.returncode == 0, f"the namespace cannot ping the guest: {r.stdout}{r.stderr}")
        check(io.alive(), "ultra-io died: " + io.output())
    finally:
        io.stop()
    log = io.output()
    m = re.search(r"tap uvtap0 port \d+: in (\d+) out (\d+)", log)
    check(m and int(m.group(1)) > 0 and int(m.group(2)) > 0, f"tap tally: {log}")
