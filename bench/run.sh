#!/usr/bin/env bash
# Every benchmark, each printing ours beside its peer measured in the same run.
# Usage: bench/run.sh [boot|system|io|virsh|ultravisor|txn_log|pagemap|channel|xcore|cmdgw|migstream|migrate_net ...]  (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
make -j2 >/dev/null

# bench/virsh.py's peer is Debian's libvirt: installed here, not by scripts/setup.sh, since only
# this benchmark needs it (19 packages with --no-install-recommends; the sysv flavour, as this
# host may have no systemd: the bench runs libvirtd itself).
LIBVIRT_PACKAGES=(libvirt-daemon-system libvirt-daemon-system-sysv libvirt-clients)
need_libvirt() {
	local p missing=()
	for p in "${LIBVIRT_PACKAGES[@]}"; do
		[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return
	if [ "$(id -u)" != 0 ]; then
		echo "bench: virsh needs ${missing[*]}: run as root or apt-get install them" >&2
		return 1
	fi
	echo "bench: installing ${missing[*]}" >&2
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >/dev/null ||
		{ echo "bench: apt-get install ${missing[*]} failed" >&2; return 1; }
}
want=("$@")
[ ${#want[@]} -gt 0 ] || want=(boot system io ultravisor txn_log pagemap channel xcore cmdgw migstream migrate_net virsh)
for b in "${want[@]}"; do
	echo "=== $b"
	case $b in
	boot) python3 bench/boot.py ;;
	system) python3 bench/system.py ;;
	migrate_net) python3 bench/migrate_net.py ;;
	io) python3 bench/io.py ;;
	virsh)
		need_libvirt
		python3 bench/virsh.py
		;;
	*) "build/release/bench/bench_$b" ;;
	esac
	echo
done
