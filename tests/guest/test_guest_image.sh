#!/usr/bin/env bash
# Guest image checks under plain QEMU (no monitor): the image boots to ULTRA-INIT-OK from the
# vmlinux and from the bzImage, with one and two vCPUs; virtio devices bind; ultra.run runs;
# memscan covers all RAM, finds a planted string and nothing else; poweroff -f ends QEMU.
# Needs scripts/setup.sh to have run. Prints "N passed, N failed"; exits non-zero on a failure.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
EXPECT=$ROOT/scripts/guest-expect.py
LOGDIR=$(mktemp -d)
trap 'rm -rf "$LOGDIR"' EXIT
passed=0
failed=0

check() {
    local name=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
        echo "ok   $name"
    else
        failed=$((failed + 1))
        echo "FAIL $name"
    fi
}

# guest LOG [guest-expect args...]: run one guest quietly, console to $LOGDIR/LOG.
guest() {
    local log=$LOGDIR/$1
    shift
    "$EXPECT" --quiet --timeout 60 --log "$log" "$@" > "$log.steps" 2>&1
}

hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }

# At least 95% of the RAM that /proc/iomem lists was scanned (the scanner skips only its own
# few hundred pages, and the kernel rounds partial pages away).
covers_ram() {
    local n ram
    read -r n ram < <(sed -n 's/^\(NOT\)\{0,1\}FOUND[-A-Z]* .*scanned \([0-9]*\) bytes (RAM \([0-9]*\) bytes).*/\2 \3/p' "$1" | head -n 1)
    [ -n "${n:-}" ] && [ "$ram" -gt $((200 << 20)) ] && [ $((n * 100)) -ge $((ram * 95)) ]
}

found_at_least() { local k; k=$(sed -n 's/^FOUND-TOTAL \([0-9]*\) .*/\1/p' "$2"); [ "${k:-0}" -ge "$1" ]; }

main() {
    if [ ! -s "$ROOT/build/guest/vmlinux" ] || [ ! -s "$ROOT/build/guest/initramfs.cpio.gz" ]; then
        echo "build/guest is missing: run scripts/setup.sh first"
        echo "0 passed, 1 failed"
        exit 1
    fi
    local secret absent
    secret="ultra-test-$(od -An -tx4 -N8 /dev/urandom | tr -d ' \n')"
    absent=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')

    check "vmlinux boots, rng binds, memscan plant/find, poweroff" \
        guest one --qemu-arg=-device --qemu-arg=virtio-rng-device \
        --expect '^ULTRA-INIT-OK$' --expect 'guest# ' \
        --send 'readlink /sys/bus/virtio/devices/*/driver' --expect 'drivers/virtio_rng$' \
        --send "memscan find hex:$absent" --expect '^NOTFOUND scanned' \
        --send "memscan plant $secret" --expect '^PLANTED 64 ' \
        --send "memscan find hex:$(hex "$secret")" --expect '^FOUND-TOTAL ' \
        --send 'poweroff -f' --wait-exit
    check "memscan scans at least 95% of RAM" covers_ram "$LOGDIR/one"
    check "memscan finds every planted copy" found_at_least 64 "$LOGDIR/one"
    check "memscan finds no string that was never in RAM" grep -q '^NOTFOUND scanned' "$LOGDIR/one"

    # ultra.run's output races the console shell's first prompt (and its cursor-position
    # query, ESC [6n) onto the same line.
    check "vmlinux boots with 2 vCPUs and runs ultra.run" \
        guest two --smp 2 --append 'ultra.run="grep -c ^processor /proc/cpuinfo"' \
        --expect '^ULTRA-INIT-OK$' --expect '^(guest# (\x1b\[6n)?)?2$' \
        --expect '^ULTRA-RUN-EXIT 0$'

    check "bzImage boots" guest bz --bzimage --expect '^ULTRA-INIT-OK$'

    for f in one two bz; do
        [ -f "$LOGDIR/$f.steps" ] && grep -q FAILED "$LOGDIR/$f.steps" && {
            echo "--- $f: steps"; cat "$LOGDIR/$f.steps"; echo "--- $f: console"; cat "$LOGDIR/$f"; }
    done
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

main "$@"
