#!/usr/bin/env bash
# Build the guest initramfs: busybox, our /init, the requested kernel modules plus everything
# they depend on (closure and load order from modules.dep), and the static guest tools.
#
#   guest/mkinitramfs.sh --modules-dir DIR --busybox FILE --init FILE [--tools DIR] \
#                        [--binary FILE ...] --out FILE MODULE...
#
# Layout inside the archive:
#   /init                    guest/init
#   /bin/busybox, /bin/*     busybox (applets are linked by /init at boot) and the guest tools
#   /usr/sbin/NAME, /lib*/.. each --binary (a host dynamic executable, e.g. mke2fs) with the
#                            shared libraries ldd names, at the same paths as on the host;
#                            not in /bin, where busybox's applet of the same name would win
#   /lib/modules/NAME.ko     modules, uncompressed, flat
#   /etc/modules.load        module names, one a line, in load order (dependencies first)
#   /dev/console             so the kernel can give /init its stdio before devtmpfs is mounted
# Needs root for mknod (scripts/setup.sh runs as root).
set -euo pipefail

die() { printf 'mkinitramfs: %s\n' "$*" >&2; exit 1; }
usage() { die "usage: $0 --modules-dir DIR --busybox FILE --init FILE [--tools DIR] [--binary FILE ...] --out FILE MODULE..."; }

moddir="" busybox="" init="" tools="" out=""
binaries=()
while [ $# -gt 0 ]; do
    case $1 in
        --modules-dir) moddir=$2; shift 2 ;;
        --busybox) busybox=$2; shift 2 ;;
        --init) init=$2; shift 2 ;;
        --tools) tools=$2; shift 2 ;;
        --binary) binaries+=("$2"); shift 2 ;;
        --out) out=$2; shift 2 ;;
        --) shift; break ;;
        -*) usage ;;
        *) break ;;
    esac
done
if [ -z "$moddir" ] || [ -z "$busybox" ] || [ -z "$init" ] || [ -z "$out" ]; then usage; fi
[ -f "$moddir/modules.dep" ] || die "no modules.dep in $moddir"
[ -x "$busybox" ] || die "$busybox is not executable"
[ -f "$init" ] || die "no init script at $init"

# Module names compare with '-' and '_' as one character, as modprobe does.
modname() {
    local b=${1##*/}
    b=${b%%.ko*}
    printf '%s\n' "${b//-/_}"
}

declare -A path deps builtin
while IFS= read -r line; do
    file=${line%%:*}
    n=$(modname "$file")
    path[$n]=$file
    deps[$n]=${line#*:}
done < "$moddir/modules.dep"
if [ -f "$moddir/modules.builtin" ]; then
    while IFS= read -r file; do builtin[$(modname "$file")]=1; done < "$moddir/modules.builtin"
fi

# Depth-first, dependencies before dependents: the kernel refuses a module whose symbols are not
# loaded yet (virtio needs virtio_ring, virtio_net needs net_failover which needs failover).
declare -A state
order=()
visit() {
    local n=$1 d
    case ${state[$n]:-} in
        done) return ;;
        active) die "dependency cycle through $n" ;;
    esac
    if [ -z "${path[$n]:-}" ]; then
        if [ -n "${builtin[$n]:-}" ]; then state[$n]="done"; return; fi
        die "module $n is not in $moddir/modules.dep"
    fi
    state[$n]=active
    for d in ${deps[$n]}; do visit "$(modname "$d")"; done
    state[$n]="done"
    order+=("$n")
}
for m in "$@"; do visit "$(modname "$m")"; done

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,etc,lib/modules,proc,sys,tmp,run,root}
mknod -m 600 "$stage/dev/console" c 5 1 || die "mknod /dev/console failed (run as root)"
install -m 0755 "$init" "$stage/init"
install -m 0755 "$busybox" "$stage/bin/busybox"

for n in "${order[@]}"; do
    src=$moddir/${path[$n]}
    dst=$stage/lib/modules/$n.ko
    case $src in
        *.ko) cp "$src" "$dst" ;;
        *.ko.xz) xz -dc "$src" > "$dst" ;;
        *.ko.zst) zstd -qdc "$src" > "$dst" ;;
        *.ko.gz) gzip -dc "$src" > "$dst" ;;
        *) die "unknown module format: $src" ;;
    esac
    printf '%s\n' "$n" >> "$stage/etc/modules.load"
done
touch "$stage/etc/modules.load"

if [ -n "$tools" ] && [ -d "$tools" ]; then
    for t in "$tools"/*; do
        [ -f "$t" ] && [ -x "$t" ] && install -m 0755 "$t" "$stage/bin/"
    done
fi

# Host executables with their shared libraries and loader (ldd prints "name => path (addr)"
# for libraries and "path (addr)" for the loader).
for b in ${binaries[@]+"${binaries[@]}"}; do
    [ -x "$b" ] || die "$b is not executable"
    install -D -m 0755 "$b" "$stage/usr/sbin/$(basename "$b")"
    libs=$(ldd "$b" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }') \
        || die "ldd $b failed"
    for lib in $libs; do
        [ -e "$stage$lib" ] || install -D -m 0755 "$lib" "$stage$lib"
    done
done

# Fixed timestamps and sorted names keep the archive identical for identical inputs.
find "$stage" -exec touch -h -d @0 {} +
mkdir -p "$(dirname "$out")"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
    cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -9n > "$out.tmp"
mv "$out.tmp" "$out"
printf 'mkinitramfs: %s: %s modules (%s)\n' "$out" "${#order[@]}" "${order[*]}" >&2
