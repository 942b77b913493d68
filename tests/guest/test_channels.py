# SPDX-License-Identifier: MIT
"""Guest-visible memory channels (claims 15, 16): a channel granted to a guest is an ivshmem PCI
device backed by the channel's memory; the two granted endpoints exchange messages through it,
and a partition that was not granted it has no way to see it."""
import os
import re
import secrets
import subprocess

import harness
from harness import check, engine_uid, workspace

CHANMSG = os.path.join(harness.BUILD, "guest", "chanmsg")
CHAN_BYTES = 64 << 10  # a power of two, as an ivshmem BAR must be
# Partition ids the channel headers name (the resource database will assign them).
ID_A, ID_B, ID_HOST = 10, 11, 1
OK = re.compile(r"CHANMSG OK sent=(\d+) received=(\d+)")


def make_channel(w, leaf, side_a, side_b):
    """A channel memory object formatted for partitions side_a and side_b (the ultravisor's job)."""
    path = w.shm_path(leaf)
    with open(path, "wb") as f:
        f.truncate(CHAN_BYTES)
    r = subprocess.run([CHANMSG, "format", path, str(side_a), str(side_b)], capture_output=True,
                       text=True, timeout=30)
    check(r.returncode == 0, f"formatting {leaf}: {r.stdout}{r.stderr}")
    # The engines map it through the fd their monitor opened, as their own uid: both ends here
    # are stand-alone partitions without a number (uid engine_uid(0)). Its folder stays closed.
    os.chown(path, engine_uid(0), engine_uid(0))
    return path


def check_ok(who, out, n):
    m = OK.search(out)
    check(m and int(m.group(1)) == n and int(m.group(2)) == n,
          f"{who}: expected {n} messages each way, got {out!r}")


def qemu_args(p):
    with open(f"/proc/{p.qemu_pid()}/cmdline", "rb") as f:
        return f.read().replace(b"\0", b" ").decode()


def test_guests_exchange_over_a_channel_that_others_cannot_see():
    w = workspace()
    ab = make_channel(w, "a-b.chan", ID_A, ID_B)
    ah = make_channel(w, "a-host.chan", ID_A, ID_HOST)
    # A marker in the channel's memory, past the rings: whoever holds the channel can read it.
    marker = "UVCHAN" + secrets.token_hex(10)
    with open(ab, "r+b") as f:
        f.seek(CHAN_BYTES - 4096)
        f.write(marker.encode())
    needle = marker.encode().hex()

    a = w.partition("chan-a", memory_mib=128, devices=[{"kind": "channel", "path": ab},
                                                        {"kind": "channel", "path": ah}]).start()
    b = w.partition("chan-b", memory_mib=128, devices=[{"kind": "channel", "path": ab}]).start()
    c = w.partition("chan-c", memory_mib=128).start()
    for p in (a, b, c):
        p.wait_boot()

    # Only partitions with channels get a PCI bus; each sees exactly its ivshmem devices.
    check(qemu_args(a).count("ivshmem-plain") == 2 and "pcie=on" in qemu_args(a),
          f"A's QEMU: {qemu_args(a)}")
    check("ivshmem-plain" not in qemu_args(c) and "pcie=on" not in qemu_args(c),
          f"C's QEMU has a channel or a PCI bus: {qemu_args(c)}")
    for p, want in ((a, 2), (b, 1)):
        ids = p.out("cat /sys/bus/pci/devices/*/vendor /sys/bus/pci/devices/*/device | "
                    "tr '\\n' ' '")
        n = ids.split().count("0x1110")
        check(n == want, f"{p.name}: {n} ivshmem devices, granted {want}: {ids}")

    # Guest <-> guest, both directions at once; order, length, checksum and bytes are checked.
    n = 400
    a.out(f"(chanmsg a {ID_A} {ID_B} xchg {n} 150 > /tmp/ab.log 2>&1 &)")
    check_ok(b.name, b.out(f"chanmsg b {ID_B} {ID_A} xchg {n} 150", timeout=180), n)
    harness.wait_for(lambda: "CHANMSG " in a.out("cat /tmp/ab.log"), 60, "A's exchange to end")
    check_ok(a.name, a.out("cat /tmp/ab.log"), n)

    # Guest <-> a host process standing in for a system partition, on A's second channel.
    host = subprocess.Popen([CHANMSG, "--file", ah, "b", str(ID_HOST), str(ID_A), "xchg",
                             str(n), "150"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        check_ok(a.name, a.out(f"chanmsg a {ID_A} {ID_HOST} xchg {n} 150", timeout=180), n)
        check_ok("host", host.communicate(timeout=60)[0], n)
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()
    # B was not granted A's host channel: it has no such channel to attach to.
    out, rc = b.sh(f"chanmsg a {ID_A} {ID_HOST} xchg 1 5")
    check(rc != 0 and "no channel between partitions" in out, f"B reached A's channel: {out}")

    # Positive control: the granted guests read the marker out of the channel's memory.
    for p in (a, b):
        check("CHANMSG FOUND" in p.out(f"chanmsg scan {needle}"),
              f"{p.name} cannot read the marker through its channel")
    # C was not granted the channel: no PCI device, and the marker is nowhere in its memory.
    pci, _ = c.sh("ls /sys/bus/pci/devices 2>/dev/null")
    check(pci.split() == [], f"C sees PCI devices {pci}")
    out, rc = c.sh(f"chanmsg scan {needle}")
    check(rc != 0 and "no ivshmem device" in out, f"C: {out}")
    out = c.out(f"memscan find hex:{needle}", timeout=180)
    m = re.search(r"scanned (\d+)", out)
    check(m and int(m.group(1)) >= (110 << 20), f"C: memscan did not cover its RAM: {out!r}")
    check("NOTFOUND" in out, f"C found the channel's marker in its memory: {out!r}")


def test_bad_channel_is_refused_with_clear_message():
    w = workspace()
    odd = w.shm_path("odd.chan")
    with open(odd, "wb") as f:
        f.truncate(5000)
    cases = [(odd, "power of two"), (w.shm_path("missing.chan"), "No such file"),
             (w.shm, "regular file")]
    for i, (path, needle) in enumerate(cases):
        p = w.partition(f"badchan{i}", devices=[{"kind": "channel", "path": path}])
        p.start_monitor("--definition", p.def_file())
        rc = p.monitor.wait(30)
        out = p.monitor_output()
        check(rc != 0, f"channel {path} was accepted")
        check("devices[0].path" in out and needle in out,
              f"{path}: message {out!r} does not say {needle!r}")
        check(not os.path.exists(p.path("qemu.pid")), f"{path}: an engine was started")
