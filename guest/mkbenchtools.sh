#!/usr/bin/env bash
# Build an extra, uncompressed initramfs segment with Debian's benchmark programs (fio, iperf3)
# for bench/io.py. It is appended to the normal guest initramfs at boot, so the default test
# initramfs stays as it is.
#
#   guest/mkbenchtools.sh [--cache DIR] [--add SRC=DST ...] --out FILE PROGRAM...
#
# PROGRAM is a Debian package whose /usr/bin/PROGRAM goes into the archive (fio, iperf3).
# The packages and the library packages apt would install with them (those missing on this
# host) are fetched with `apt-get download` and unpacked with `dpkg -x` into
# DIR/<package>_<version>/ (default /var/cache/ultravisor/bench-tools); they are never installed.
# The libraries ldd names are taken from there first, then from the host's own Debian packages
# (fio's rados/rbd/gluster libraries are already on any host with Debian's QEMU).
#
# Layout inside the archive: /usr/bin/PROGRAM, every library and the loader at the path ldd
# names, each --add file at DST. Uncompressed: the guest kernel copies it instead of inflating
# ~80 MiB under TCG. Needs root (apt-get download into a root-owned cache, mknod-free cpio).
set -euo pipefail

die() { printf 'mkbenchtools: %s\n' "$*" >&2; exit 1; }
usage() { die "usage: $0 [--cache DIR] [--add SRC=DST ...] --out FILE PROGRAM..."; }

cache=/var/cache/ultravisor/bench-tools out=""
adds=()
while [ $# -gt 0 ]; do
    case $1 in
        --cache) cache=$2; shift 2 ;;
        --add) adds+=("$2"); shift 2 ;;
        --out) out=$2; shift 2 ;;
        -*) usage ;;
        *) break ;;
    esac
done
if [ -z "$out" ] || [ $# -eq 0 ]; then usage; fi
for t in apt-get apt-cache dpkg ldd cpio flock; do
    command -v "$t" >/dev/null || die "$t is missing (Debian host needed)"
done

tmp=""
cleanup() { if [ -n "$tmp" ]; then rm -rf "$tmp"; fi; }
trap cleanup EXIT

# "<package> <version>" for the program's package and every package apt would add with it.
# python3 and init-system-helpers are script dependencies, not libraries the binary loads.
packages_for() {
    apt-get install -s -qq "$1" 2>/dev/null |
        awk '$1 == "Inst" { v = $3; if (v ~ /^\[/) v = $4; gsub(/[()]/, "", v); print $2, v }' |
        grep -Ev '^(python3|init-system-helpers|adduser|debconf)' || true
}

# Makes sure every "package version" line on stdin is unpacked in $cache/<package>_<version>/root:
# the missing ones are downloaded in one apt-get call, each unpacked beside the others and moved
# into place whole (so an interrupted run leaves no half folder; the EXIT trap removes $tmp).
fetch_all() {
    local pkg ver want=() deb
    while read -r pkg ver; do
        [ -n "$pkg" ] && [ ! -f "$cache/${pkg}_$ver/.unpacked" ] && want+=("$pkg=$ver")
    done
    [ ${#want[@]} -gt 0 ] || return 0
    tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
    (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root "${want[@]}") \
        || die "apt-get download ${want[*]} failed (network or apt lists? try apt-get update)"
    for deb in "$tmp"/*.deb; do
        [ -e "$deb" ] || die "apt-get download gave no .deb for ${want[*]}"
        pkg=$(dpkg-deb -f "$deb" Package) ver=$(dpkg-deb -f "$deb" Version)
        mkdir -p "$tmp/$pkg/root"
        dpkg -x "$deb" "$tmp/$pkg/root" || die "dpkg -x $deb failed"
        touch "$tmp/$pkg/.unpacked"
        rm -rf "$cache/${pkg}_$ver"
        mv "$tmp/$pkg" "$cache/${pkg}_$ver"
    done
    rm -rf "$tmp"
    tmp=""
}

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
list=""
for prog in "$@"; do
    # A program already installed on the host still comes from its package in the cache.
    ver=$(apt-cache show --no-all-versions "$prog" 2>/dev/null | awk '/^Version:/ { print $2; exit }')
    [ -n "$ver" ] || die "apt knows no package $prog (run apt-get update)"
    list+=$(printf '%s %s\n' "$prog" "$ver"; packages_for "$prog")$'\n'
done
fetch_all <<<"$list"
exec 9>&-
roots=() libpath=""
while read -r pkg pver; do
    [ -n "$pkg" ] || continue
    root=$cache/${pkg}_$pver/root
    roots+=("$root")
    for d in "$root/usr/lib/x86_64-linux-gnu" "$root/lib/x86_64-linux-gnu"; do
        if [ -d "$d" ]; then libpath="$libpath${libpath:+:}$d"; fi
    done
done <<<"$list"

tmp=$(mktemp -d)
stage=$tmp/stage
mkdir -p "$stage/usr/bin"
for prog in "$@"; do
    bin=""
    for r in "${roots[@]}"; do
        if [ -x "$r/usr/bin/$prog" ]; then bin=$r/usr/bin/$prog; break; fi
    done
    [ -n "$bin" ] || die "no usr/bin/$prog in its package"
    install -m 0755 "$bin" "$stage/usr/bin/$prog"
    ldd_out=$(LD_LIBRARY_PATH=$libpath ldd "$bin") || die "ldd $bin failed"
    if grep -q 'not found' <<<"$ldd_out"; then
        die "$prog: libraries missing on this host and in its packages: $(grep 'not found' <<<"$ldd_out" | tr -s ' \t\n' ' ')"
    fi
    # "name => /path (addr)" for libraries, "/path (addr)" for the loader. A library from the
    # cache lands at the path the guest's loader searches (/usr/lib/x86_64-linux-gnu).
    while read -r lib; do
        case $lib in
            "$cache"/*) dst=/usr/lib/x86_64-linux-gnu/$(basename "$lib") ;;
            *) dst=$lib ;;
        esac
        [ -e "$stage$dst" ] || install -D -m 0755 "$lib" "$stage$dst"
    done < <(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$ldd_out")
done
for a in ${adds[@]+"${adds[@]}"}; do
    src=${a%%=*} dst=${a#*=}
    [ -f "$src" ] || die "--add: no file $src"
    install -D -m 0755 "$src" "$stage$dst"
done

find "$stage" -exec touch -h -d @0 {} +
mkdir -p "$(dirname "$out")"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
    cpio -o -H newc -R 0:0 --reproducible --quiet) > "$out.tmp" || die "cpio failed"
mv "$out.tmp" "$out"
printf 'mkbenchtools: %s: %s (%s MiB)\n' "$out" "$*" "$(( $(stat -c %s "$out") >> 20 ))" >&2
