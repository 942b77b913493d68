#!/usr/bin/env bash
# Every benchmark, each printing ours beside its peer measured in the same run.
# Usage: bench/run.sh [boot|system|io|ultravisor|txn_log|pagemap|channel ...]  (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
make -j2 >/dev/null
want=("$@")
[ ${#want[@]} -gt 0 ] || want=(boot system io ultravisor txn_log pagemap channel)
for b in "${want[@]}"; do
	echo "=== $b"
	case $b in
	boot) python3 bench/boot.py ;;
	system) python3 bench/system.py ;;
	io) python3 bench/io.py ;;
	*) "build/release/bench/bench_$b" ;;
	esac
	echo
done
