#!/usr/bin/env bash
# Print the host's TSC frequency in kHz, for the guest kernel's tsc_early_khz= parameter.
# Under CPU contention a TCG guest's PIT calibration can fail and leave the guest hung before
# init (docs/guest-image.md); telling the kernel the frequency skips that calibration.
# Sources, best first: the kernel's refined calibration, its first detection (both from the
# kernel log), then /proc/cpuinfo's "cpu MHz" (the current clock: right on hosts with a
# constant TSC, which is what cpuinfo's constant_tsc flag says).
set -euo pipefail

mhz_to_khz() { awk '{ printf "%d\n", $1 * 1000 + 0.5 }'; }

log=$(dmesg 2>/dev/null || journalctl -k -b --no-pager 2>/dev/null || true)
mhz=$(sed -n 's/.*tsc: Refined TSC clocksource calibration: \([0-9.]*\) MHz.*/\1/p' <<<"$log" | tail -n 1)
if [ -z "$mhz" ]; then
    mhz=$(sed -n 's/.*tsc: Detected \([0-9.]*\) MHz.*/\1/p' <<<"$log" | tail -n 1)
fi
if [ -z "$mhz" ]; then
    mhz=$(awk -F: '/^cpu MHz/ { gsub(/ /, "", $2); print $2; exit }' /proc/cpuinfo)
fi
if [ -z "$mhz" ]; then
    echo "host-tsc-khz: cannot find the TSC frequency (dmesg, /proc/cpuinfo)" >&2
    exit 1
fi
mhz_to_khz <<<"$mhz"
