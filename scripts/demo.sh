#!/usr/bin/env bash
# Sets everything up, starts the ultravisor partition, defines a Linux guest partition by
# transactions, boots it through its monitor and shows its console.
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
state=$repo/build/demo/state
mon_log=$repo/build/demo/monitor.log
uv_log=$repo/build/demo/ultravisor.log
sock=$run_dir/ultravisor.sock
bin=$repo/build/release/bin

ctl() { # send one control request to the monitor, print the answer
	printf '%s\n' "$1" | socat -t 2 - "UNIX-CONNECT:$pdir/monitor.sock" 2>/dev/null | head -n 1
}

cleanup() {
	if [ -S "$pdir/monitor.sock" ]; then ctl '{"execute":"destroy"}' >/dev/null || true; fi
	if [ -n "${mon_pid:-}" ]; then wait "$mon_pid" 2>/dev/null || true; fi
	if [ -n "${uv_pid:-}" ]; then kill "$uv_pid" 2>/dev/null || true; wait "$uv_pid" 2>/dev/null || true; fi
	rm -rf "$state" "$pdir"
	rmdir "$run_dir/partitions" "$run_dir" 2>/dev/null || true
}
trap cleanup EXIT
rm -rf "$state"
mkdir -p "$run_dir"

echo "== ultravisor partition: resource database, audit log in $state"
"$bin/ultravisor" --state-dir "$state" --run-dir "$run_dir" --pool-mib 2048 >"$uv_log" 2>&1 &
uv_pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
cat "$uv_log"
echo "== boot partition's step: record and start the command partition"
"$bin/uvctl" -s "$sock" boot-command
echo "== command partition's step: partition 10 '$name' (2 vCPUs, 256 MiB) by transactions"
"$bin/uvctl" -s "$sock" create 10 "$def"

echo "== its monitor: descriptor and memory from the resource database"
ULTRA_RUN_DIR=$run_dir "$bin/ultra-monitor" --ultravisor "$sock" --partition 10 >"$mon_log" 2>&1 &
mon_pid=$!
for _ in $(seq 300); do
	[ -S "$pdir/console.sock" ] && grep -q ULTRA-INIT-OK "$pdir/console.log" 2>/dev/null && break
	if ! kill -0 "$mon_pid" 2>/dev/null; then cat "$mon_log"; exit 1; fi
	sleep 0.1
done
cat "$mon_log"
echo "== monitor status: $(ctl '{"execute":"status"}')"
echo "== resource database: $("$bin/uvctl" -s "$sock" show 10)"

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
	echo "== resource database: $("$bin/uvctl" -s "$sock" show 10)"
	echo "== audit log:"
	"$bin/ultravisor" --dump-log "$state"
fi
