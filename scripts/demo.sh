#!/usr/bin/env bash
# Sets everything up, boots one Linux guest partition through its monitor and shows its console.
# On a terminal the console is interactive (Ctrl-] detaches and stops the guest); otherwise the
# boot log is shown, a few commands run in the guest, and it is powered off.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

scripts/setup.sh
make -j2 >/dev/null

run_dir=${ULTRA_RUN_DIR:-/run/ultravisor}
name=demo
def=$repo/build/demo/$name.json
mkdir -p "$(dirname "$def")"
cat >"$def" <<JSON
{
  "name": "$name",
  "memory_mib": 256,
  "vcpus": 2,
  "kernel": "$repo/build/guest/vmlinux",
  "initrd": "$repo/build/guest/initramfs.cpio.gz",
  "cmdline": "console=ttyS0 quiet",
  "devices": [ { "kind": "rng" } ]
}
JSON
pdir=$run_dir/partitions/$name
mon_log=$repo/build/demo/monitor.log

ctl() { # send one control request, print the answer
	printf '%s\n' "$1" | socat -t 2 - "UNIX-CONNECT:$pdir/monitor.sock" 2>/dev/null | head -n 1
}

cleanup() {
	if [ -S "$pdir/monitor.sock" ]; then ctl '{"execute":"destroy"}' >/dev/null || true; fi
	if [ -n "${mon_pid:-}" ]; then wait "$mon_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

echo "== starting partition '$name' (2 vCPUs, 256 MiB) through ultra-monitor"
ULTRA_RUN_DIR=$run_dir build/release/bin/ultra-monitor --definition "$def" >"$mon_log" 2>&1 &
mon_pid=$!
for _ in $(seq 300); do
	[ -S "$pdir/console.sock" ] && grep -q ULTRA-INIT-OK "$pdir/console.log" 2>/dev/null && break
	if ! kill -0 "$mon_pid" 2>/dev/null; then cat "$mon_log"; exit 1; fi
	sleep 0.1
done
cat "$mon_log"
echo "== monitor status: $(ctl '{"execute":"status"}')"

if [ -t 0 ] && [ -t 1 ]; then
	echo "== console of '$name' (Ctrl-] to detach and stop the guest)"
	cat "$pdir/console.log"
	socat -,raw,echo=0,escape=0x1d "UNIX-CONNECT:$pdir/console.sock" || true
else
	echo "== console of '$name'"
	{
		sleep 0.5
		echo 'echo; uname -a; grep -c ^processor /proc/cpuinfo; grep MemTotal /proc/meminfo'
		sleep 2
		echo 'poweroff -f'
		sleep 2
	} | socat - "UNIX-CONNECT:$pdir/console.sock" >/dev/null 2>&1 || true
	cat "$pdir/console.log"
	wait "$mon_pid" || true
	echo "== final state: $(cat "$pdir/state.json")"
fi
