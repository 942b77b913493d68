# SPDX-License-Identifier: MIT
"""Guest channels granted by transactions (claims 4, 15, 16, 51): the command partition creates a
channel between two partitions; the ultravisor makes and formats its memory object and hands it
only to the two endpoints' monitors, which show it to their guests as ivshmem; the guests exchange
messages through it and a third partition has no device to find it on."""
import os

from harness import check, wait_for, workspace
from test_channels import check_ok, qemu_args
from test_ultravisor import Ultravisor

ID_A, ID_B, ID_C, CHAN = 20, 21, 22, 5
CHAN_BYTES = 48 << 10  # the ultravisor rounds it up to a power of two (a PCI BAR)


def fd_targets(p):
    d = f"/proc/{p.qemu_pid()}/fd"
    out = []
    for fd in os.listdir(d):
        try:
            out.append(os.readlink(os.path.join(d, fd)))
        except OSError:
            pass  # closed meanwhile
    return out


def test_guests_exchange_over_a_channel_granted_by_transaction():
    w = workspace()
    uv = Ultravisor(w).start()
    uv.ctl("boot-command")
    parts = {}
    for pid, name in ((ID_A, "uvch-a"), (ID_B, "uvch-b"), (ID_C, "uvch-c")):
        parts[pid] = w.partition(name, memory_mib=128)
        uv.ctl("create", str(pid), parts[pid].def_file())
    out = uv.ctl("channel", str(CHAN), str(ID_A), str(ID_B), str(CHAN_BYTES)).stdout
    check(f"channel {CHAN} between partitions {ID_A} and {ID_B}" in out, out)
    # A channel to a partition that does not exist is refused.
    r = uv.ctl("channel", str(CHAN + 1), str(ID_A), "77", "64K", ok=False)
    check(r.returncode != 0 and "refused" in r.stderr, f"channel to nobody: {r.stderr}")

    for pid, p in parts.items():
        p.start_monitor("--ultravisor", uv.sock, "--partition", str(pid))
    for p in parts.values():
        p.wait_boot()
    a, b, c = parts[ID_A], parts[ID_B], parts[ID_C]

    # The device is backed by the ultravisor's object, inherited as fd 9 (QEMU_CHAN_FD0, after
    # RAM, QMP, console, console log, kernel and initrd; no path names it).
    for p in (a, b):
        obj = os.readlink(f"/proc/{p.qemu_pid()}/fd/9")
        check(obj.startswith(f"/memfd:uv-chan-{CHAN}-p{ID_A}-p{ID_B}"), f"{p.name}: fd 9 is {obj}")
        args = qemu_args(p)
        check(args.count("ivshmem-plain") == 1 and "pcie=on" in args and
              f"mem-path=/proc/self/fd/9,size={64 << 10}," in args, f"{p.name}'s QEMU: {args}")
        ids = p.out("cat /sys/bus/pci/devices/*/vendor /sys/bus/pci/devices/*/device | "
                    "tr '\\n' ' '")
        check(ids.split().count("0x1110") == 1, f"{p.name}: not one ivshmem device: {ids}")
    args = qemu_args(c)
    check("ivshmem" not in args and "pcie=on" not in args, f"C's QEMU: {args}")
    check(not any(o.startswith("/memfd:uv-chan") for o in fd_targets(c)),
          f"C's QEMU holds a channel object: {fd_targets(c)}")

    # Both directions at once; order, length, checksum and bytes are checked by chanmsg.
    n = 300
    a.out(f"(chanmsg a {ID_A} {ID_B} xchg {n} 150 > /tmp/ab.log 2>&1 &)")
    check_ok(b.name, b.out(f"chanmsg b {ID_B} {ID_A} xchg {n} 150", timeout=180), n)
    wait_for(lambda: "CHANMSG " in a.out("cat /tmp/ab.log"), 60, "A's exchange to end")
    check_ok(a.name, a.out("cat /tmp/ab.log"), n)

    # The third partition was granted nothing: no ivshmem device, no PCI bus at all.
    ids, _ = c.sh("cat /sys/bus/pci/devices/*/device 2>/dev/null")
    check("0x1110" not in ids, f"C sees an ivshmem device: {ids}")
    out, rc = c.sh(f"chanmsg b {ID_B} {ID_A} xchg 1 5")
    check(rc != 0 and "no ivshmem device" in out, f"C: {out}")
