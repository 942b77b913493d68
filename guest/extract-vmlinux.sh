#!/usr/bin/env bash
# Extract the uncompressed ELF vmlinux from an x86 bzImage whose payload is XZ-compressed
# (Debian's kernels are), and check that it has a PVH entry note so QEMU can boot it directly.
# Booting the ELF skips the in-guest decompression, which costs seconds under TCG.
#
#   guest/extract-vmlinux.sh BZIMAGE OUT
set -euo pipefail

die() { printf 'extract-vmlinux: %s\n' "$*" >&2; exit 1; }

[ $# -eq 2 ] || die "usage: $0 BZIMAGE OUT"
in=$1
out=$2
[ -r "$in" ] || die "cannot read $in"

is_elf() { [ "$(head -c 4 "$1" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; }

# XZ stream magic: FD '7' 'z' 'X' 'Z' 00. The first offset that decompresses into an ELF wins;
# --single-stream stops at the end of the payload and ignores what the bzImage has after it.
# Offsets are in bytes from 0; tail -c +N counts from 1.
found=0
while read -r off; do
    # Fed through a process substitution: tail dies of SIGPIPE when xz stops early, which is
    # expected and must not fail the pipeline under pipefail.
    if xz -dc --single-stream < <(tail -c "+$((off + 1))" "$in") > "$out" 2>/dev/null &&
       is_elf "$out"; then
        found=1
        break
    fi
done < <(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$in" | cut -d: -f1)
if [ "$found" = 0 ]; then
    rm -f "$out"
    die "no XZ-compressed ELF payload in $in"
fi

# XEN_ELFNOTE_PHYS32_ENTRY (type 18) in a "Xen" note is the PVH entry point QEMU looks for.
notes=$(readelf -n "$out" 2>/dev/null || true)
if ! grep -Eq '^ *Xen[[:space:]].*(PHYS32_ENTRY|type: \(0x00000012\))' <<<"$notes"; then
    rm -f "$out"
    die "$out has no Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY): kernel built without CONFIG_PVH?"
fi
