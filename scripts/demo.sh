#!/usr/bin/env bash
# Sets everything up and starts the system through its boot partition: ultra-boot starts the
# ultravisor partition, the command partition, an I/O partition (checking every guest memory
# table against the resource database) and the operations partition (definitions kept in
# SQLite); the `ultra` CLI then defines (through the operations partition) and starts a Linux
# guest partition with a disk (which the command partition places on the I/O partition at
# start), lists it and shows its console. On a terminal the console is interactive
# (Ctrl-] detaches, then everything is stopped); otherwise a few commands run in the guest.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

scripts/setup.sh
make -j2 >/dev/null

export ULTRA_RUN_DIR=${ULTRA_RUN_DIR:-/run/ultravisor}
export ULTRA_STATE_DIR=$repo/build/demo/state
run_dir=$ULTRA_RUN_DIR
bin=$repo/build/release/bin
name=demo
def=$repo/build/demo/$name.json
image=$repo/build/demo/$name.img
boot_log=$repo/build/demo/boot.log
ops_db=$repo/build/demo/ops.db
mkdir -p "$(dirname "$def")" "$run_dir"
truncate -s 64M "$image"
cat >"$def" <<JSON
{
  "name": "$name",
  "memory_mib": 256,
  "vcpus": 2,
  "cpu_share": 1.5,
  "kernel": "$repo/build/guest/vmlinux",
  "initrd": "$repo/build/guest/initramfs.cpio.gz",
  "cmdline": "console=ttyS0 quiet",
  "devices": [ { "kind": "rng" } ],
  "disks": [ { "image": "$name.img", "readonly": false } ]
}
JSON

cleanup() {
	"$bin/ultra" destroy "$name" >/dev/null 2>&1 || true
	if [ -n "${boot_pid:-}" ]; then kill "$boot_pid" 2>/dev/null || true; wait "$boot_pid" 2>/dev/null || true; fi
	rm -rf "$ULTRA_STATE_DIR" "$run_dir/partitions/$name"
	rm -f "$ops_db" "$ops_db"-wal "$ops_db"-shm "$run_dir"/ops.sock
	rm -f "$run_dir"/boot-status.json "$run_dir"/command.sock "$run_dir"/ultravisor.sock "$run_dir"/monitor-*.log
	rm -f "$run_dir"/io/control.sock "$run_dir"/io/"$name".disk*.sock "$image"
	rmdir "$run_dir/io" "$run_dir/partitions" "$run_dir" 2>/dev/null || true
}
trap cleanup EXIT
rm -rf "$ULTRA_STATE_DIR" "$ops_db"

echo "== boot partition: starts the ultravisor, command, I/O and operations partitions"
# ultra-boot gives each system partition ULTRA_UV_SOCK and ULTRA_PARTITION (single quotes: they
# are expanded when ultra-boot starts it).
"$bin/ultra-boot" --state-dir "$ULTRA_STATE_DIR" --run-dir "$run_dir" --pool-mib 2048 \
	--system "2:command:command=$bin/ultra-command --run-dir $run_dir" \
	--system "4:io:io0=$bin/ultra-io --control $run_dir/io/control.sock"' --ultravisor "$ULTRA_UV_SOCK" --partition "$ULTRA_PARTITION"' \
	--system "3:operations:ops=$bin/ultra-ops --run-dir $run_dir --db $ops_db" >"$boot_log" 2>&1 &
boot_pid=$!
for _ in $(seq 200); do
	[ -S "$run_dir/command.sock" ] && [ -S "$run_dir/io/control.sock" ] && [ -S "$run_dir/ops.sock" ] && break
	if ! kill -0 "$boot_pid" 2>/dev/null; then cat "$boot_log"; exit 1; fi
	sleep 0.05
done
cat "$boot_log"

echo "== ultra define / start: the operations partition stores the definition, the command partition turns them into transactions"
cat "$def"
"$bin/ultra" define "$def"
"$bin/ultra" start "$name"
echo "== the command partition placed the disk on the I/O partition:"
ls -l "$run_dir/io"
for _ in $(seq 300); do
	grep -q ULTRA-INIT-OK "$run_dir/partitions/$name/console.log" 2>/dev/null && break
	sleep 0.1
done
echo "== ultra list"
"$bin/ultra" list

if [ -t 0 ] && [ -t 1 ]; then
	echo "== console of '$name' (Ctrl-] to detach and stop everything)"
	cat "$run_dir/partitions/$name/console.log"
	"$bin/ultra" console "$name" || true
else
	echo "== console of '$name'"
	{
		sleep 0.5
		echo 'echo; uname -a; grep -c ^processor /proc/cpuinfo; grep MemTotal /proc/meminfo'
		echo 'echo disk vda: $(cat /sys/block/vda/size) sectors; echo hello > /dev/vda; head -c 5 /dev/vda; echo'
		sleep 2
	} | socat - "UNIX-CONNECT:$run_dir/partitions/$name/console.sock" >/dev/null 2>&1 || true
	# The guest shell asks its terminal for the cursor position (ESC[6n) after each prompt;
	# a terminal answers it, this log has no one to, so it is left out of what is shown.
	sed 's/\x1b\[6n//g' "$run_dir/partitions/$name/console.log"
	echo "== ultra stop (the guest powers off on the ACPI button)"
	"$bin/ultra" stop "$name"
	"$bin/ultra" list
	echo "== ultra log: the audit log"
	"$bin/ultra" log "$ULTRA_STATE_DIR"
fi
