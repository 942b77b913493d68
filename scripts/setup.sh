#!/usr/bin/env bash
# Prepare this host for Ultravisor: install the Debian packages the build and the tests need,
# fetch Debian's own kernel image package (unpacked into a cache, never installed), and build
# the guest image at stable paths under build/guest/. Idempotent: a second run reuses the cache,
# rebuilds nothing whose inputs are unchanged and leaves no temporary files behind.
#
#   sudo scripts/setup.sh            # cache in /var/cache/ultravisor (ULTRA_CACHE overrides)
#
# Outputs: build/guest/{vmlinux,bzImage,initramfs.cpio.gz,kernel.env}; see docs/guest-image.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${ULTRA_CACHE:-/var/cache/ultravisor}
OUT=$ROOT/build/guest
PACKAGES=(qemu-system-x86 busybox-static libjson-c-dev libseccomp-dev liburing-dev libcmocka-dev
          libsqlite3-dev clang clang-format libclang-rt-14-dev cpio xz-utils zstd socat python3 make gcc
          pkg-config libc6-dev binutils gzip kmod e2fsprogs libssl-dev openssl iproute2)
# Guest kernel modules the initramfs loads; their dependencies are added from modules.dep.
GUEST_MODULES=(virtio virtio_ring virtio_mmio virtio_blk virtio_net virtio_rng virtio_console
               uio uio_pci_generic button evdev ext4 crc32c_generic)
# Host executables copied into the initramfs with their shared libraries (busybox has no mkfs.ext4).
GUEST_BINARIES=(/usr/sbin/mke2fs)

TMP=""
cleanup() { if [ -n "$TMP" ]; then rm -rf "$TMP"; fi; }
trap cleanup EXIT

log() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

APT_UPDATED=0
apt_update_once() {
    if [ "$APT_UPDATED" = 0 ]; then
        log "apt-get update"
        apt-get update -qq || die "apt-get update failed"
        APT_UPDATED=1
    fi
}

is_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

install_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        is_installed "$p" || missing+=("$p")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        log "all ${#PACKAGES[@]} Debian packages present"
        return
    fi
    apt_update_once
    log "installing: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        || die "apt-get install failed for: ${missing[*]}"
}

# Prints "<package> <version>" of the kernel image that linux-image-amd64 currently points at.
resolve_kernel_package() {
    local pkg ver
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
          awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
    if [ -z "$pkg" ]; then
        apt_update_once
        pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
              awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
    fi
    [ -n "$pkg" ] || die "cannot resolve linux-image-amd64 to a kernel image package (apt lists?)"
    ver=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null | awk '/^Version:/ { print $2; exit }')
    [ -n "$ver" ] || die "no candidate version for $pkg"
    printf '%s %s\n' "$pkg" "$ver"
}

# With the cache lock held: removes kernels other than the one in use and fetches an
# interrupted run left behind (the lock says no fetch is under way). Guest images are built
# from the cache into build/guest, so nothing runs from an older kernel's folder.
prune_kernels() {
    local keep=$1 d
    for d in "$CACHE"/kernel/linux-image-* "$CACHE"/kernel/.fetch.*; do
        [ -e "$d" ] && [ "$d" != "$keep" ] || continue
        log "removing ${d#"$CACHE"/kernel/} from the kernel cache"
        rm -rf "$d"
    done
}

# Downloads and unpacks the kernel package into $CACHE/kernel/<pkg>_<version>/root unless present.
fetch_kernel() {
    local pkg=$1 ver=$2 dir=$3
    mkdir -p "$CACHE/kernel"
    # Worktrees share the cache: one setup fetches while the others wait, then reuse it.
    exec 9>"$CACHE/kernel/.lock"
    flock 9
    prune_kernels "$dir"
    if [ -f "$dir/.unpacked" ]; then
        log "kernel $pkg $ver cached in $dir"
        exec 9>&-
        return
    fi
    TMP=$(mktemp -d "$CACHE/kernel/.fetch.XXXXXX")
    log "downloading $pkg=$ver"
    # Downloads run as root here: the _apt sandbox user cannot write into a 0700 temp folder.
    if ! (cd "$TMP" && apt-get download -qq -o APT::Sandbox::User=root "$pkg=$ver"); then
        die "apt-get download $pkg=$ver failed: the guest kernel cannot be fetched (network or apt lists?)"
    fi
    local deb
    deb=$(find "$TMP" -maxdepth 1 -name '*.deb' -print -quit)
    [ -n "$deb" ] || die "apt-get download produced no .deb for $pkg"
    mkdir -p "$TMP/unpacked/root"
    dpkg -x "$deb" "$TMP/unpacked/root" || die "dpkg -x $deb failed"
    # The package ships no modules.dep (its postinst runs depmod); make it the same way.
    depmod -b "$TMP/unpacked/root" "${pkg#linux-image-}" || die "depmod for $pkg failed"
    touch "$TMP/unpacked/.unpacked"
    rm -rf "$dir"
    mv "$TMP/unpacked" "$dir"
    rm -rf "$TMP"
    TMP=""
    exec 9>&-
}

# The initramfs inputs' content hash: rebuild only when one of them changed.
initramfs_inputs_hash() {
    local kroot=$1 kver=$2
    {
        sha256sum "$ROOT/guest/mkinitramfs.sh" "$ROOT/guest/init" "$(command -v busybox)" \
                  "$kroot/lib/modules/$kver/modules.dep" "${GUEST_BINARIES[@]}"
        echo "${GUEST_MODULES[*]}"
        if [ -d "$ROOT/build/release/guest" ]; then
            find "$ROOT/build/release/guest" -maxdepth 1 -type f -print0 | sort -z |
                xargs -0 -r sha256sum
        fi
    } | sed "s|$ROOT/||; s|$kroot/||" | sha256sum | cut -d' ' -f1
}

build_guest_tools() {
    local src targets=()
    for src in "$ROOT"/guest/tools/*.c; do
        [ -e "$src" ] || continue
        targets+=("build/release/guest/$(basename "$src" .c)")
    done
    [ "${#targets[@]}" -eq 0 ] && return
    log "building guest tools: ${targets[*]}"
    make -s -C "$ROOT" "${targets[@]}" >&2 || die "building the guest tools failed"
}

main() {
    [ "$(id -u)" = 0 ] || die "run as root (installs packages, writes $CACHE)"
    install_packages

    local resolved pkg ver dir kver kroot
    resolved=$(resolve_kernel_package)
    read -r pkg ver <<<"$resolved"
    dir="$CACHE/kernel/${pkg}_${ver}"
    fetch_kernel "$pkg" "$ver" "$dir"
    kroot="$dir/root"
    kver=${pkg#linux-image-}
    [ -f "$kroot/boot/vmlinuz-$kver" ] || die "$pkg has no boot/vmlinuz-$kver"
    [ -f "$kroot/lib/modules/$kver/modules.dep" ] || die "$pkg has no modules.dep"

    mkdir -p "$OUT"
    if ! cmp -s "$kroot/boot/vmlinuz-$kver" "$OUT/bzImage"; then
        cp "$kroot/boot/vmlinuz-$kver" "$OUT/bzImage.tmp"
        mv "$OUT/bzImage.tmp" "$OUT/bzImage"
        rm -f "$OUT/vmlinux"
    fi
    if [ ! -s "$OUT/vmlinux" ] || [ "$ROOT/guest/extract-vmlinux.sh" -nt "$OUT/vmlinux" ]; then
        log "extracting vmlinux"
        "$ROOT/guest/extract-vmlinux.sh" "$OUT/bzImage" "$OUT/vmlinux.tmp" \
            || { rm -f "$OUT/vmlinux.tmp"; die "extracting vmlinux failed"; }
        mv "$OUT/vmlinux.tmp" "$OUT/vmlinux"
    fi

    build_guest_tools
    local want have=""
    want=$(initramfs_inputs_hash "$kroot" "$kver")
    [ -f "$OUT/initramfs.stamp" ] && have=$(cat "$OUT/initramfs.stamp")
    if [ "$want" != "$have" ] || [ ! -s "$OUT/initramfs.cpio.gz" ]; then
        log "building initramfs"
        local b bin_args=()
        for b in "${GUEST_BINARIES[@]}"; do bin_args+=(--binary "$b"); done
        "$ROOT/guest/mkinitramfs.sh" --modules-dir "$kroot/lib/modules/$kver" \
            --busybox "$(command -v busybox)" --init "$ROOT/guest/init" \
            --tools "$ROOT/build/release/guest" --out "$OUT/initramfs.cpio.gz" \
            "${bin_args[@]}" \
            "${GUEST_MODULES[@]}" || die "building the initramfs failed"
        echo "$want" > "$OUT/initramfs.stamp"
    else
        log "initramfs up to date"
    fi

    printf 'KERNEL_VERSION=%s\nPKG=%s\nPKG_VERSION=%s\n' "$kver" "$pkg" "$ver" > "$OUT/kernel.env.tmp"
    mv "$OUT/kernel.env.tmp" "$OUT/kernel.env"
    log "guest image ready in ${OUT#"$ROOT"/}: vmlinux bzImage initramfs.cpio.gz kernel.env"
}

main "$@"
