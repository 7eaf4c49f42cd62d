#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Builds the test guest used by the vm suite: the host's Debian kernel
# (package linux-image-amd64) and a minimal busybox initramfs holding
# /init plus the modules for virtio-net, virtio-blk and the ACPI power button.
#
# usage: build-guest.sh OUTDIR
# Always writes OUTDIR/vmlinux, OUTDIR/initramfs.cpio.gz and
# OUTDIR/guest-status.  When something the guest needs is not installed the
# build must not fail: vmlinux and the initramfs are then empty and
# guest-status says "skip: <reason>", which the vm tests report when they skip.
#
# Environment (for experiments): HOLDER_GUEST_KVER picks a kernel version.
set -eu

outdir=${1:?usage: build-guest.sh OUTDIR}
srcdir=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

skip () {
  : > "$outdir/vmlinux"
  : > "$outdir/initramfs.cpio.gz"
  printf 'skip: %s\n' "$1" > "$outdir/guest-status"
  echo "build-guest: $1; the vm tests will skip" >&2
  exit 0
}

# The newest Debian amd64 kernel whose modules are installed too.
kver=${HOLDER_GUEST_KVER:-}
if [ -z "$kver" ]; then
  for k in $(ls -1 /boot/vmlinuz-*-amd64 2>/dev/null | sort -V); do
    v=${k#/boot/vmlinuz-}
    [ -f "/lib/modules/$v/modules.dep" ] && kver=$v
  done
fi
[ -n "$kver" ] && [ -r "/boot/vmlinuz-$kver" ] || skip "linux-image-amd64 not installed"
moddir=/lib/modules/$kver
[ -f "$moddir/modules.dep" ] || skip "linux-image-amd64 not installed (no $moddir/modules.dep)"

busybox=
for b in /bin/busybox /usr/bin/busybox; do
  if [ -x "$b" ] && "$b" --list 2>/dev/null | grep -qx nc \
     && ! ldd "$b" >/dev/null 2>&1; then
    busybox=$b
    break
  fi
done
[ -n "$busybox" ] || skip "busybox-static not installed"

if command -v cpio >/dev/null 2>&1; then
  cpio_cmd="cpio --quiet -o -H newc -R 0:0"
else
  cpio_cmd="$busybox cpio -o -H newc -R 0:0"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/holder-guest.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/tmp" \
         "$root/etc" "$root/lib/modules" "$root/root"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
ln -s bin "$root/sbin"
cp "$srcdir/init" "$root/init"
chmod 0755 "$root/init"

# Resolve the modules and their dependencies from modules.dep, in load order
# (dependencies first: virtio_ring before virtio before virtio_pci, failover
# before net_failover before virtio_net).  Built-in modules need nothing.
order=$work/order
: > "$order"
dep_line () {
  awk -v m="$1" -F': *' '{
      n = $1; sub(/.*\//, "", n); sub(/\.ko(\.(xz|zst|gz))?$/, "", n)
      gsub(/-/, "_", n)
      if (n == m) { print; exit }
    }' "$moddir/modules.dep"
}
add_module () {
  # "local" (dash, busybox ash): this function recurses.
  local name line path deps rev d dn
  name=$(echo "$1" | tr - _)
  grep -qx "$name" "$order" && return 0
  line=$(dep_line "$name")
  if [ -z "$line" ]; then
    if grep -Eq "/$name\.ko(\.|$)|/$(echo "$name" | tr _ -)\.ko(\.|$)" "$moddir/modules.builtin" 2>/dev/null; then
      return 0
    fi
    echo "build-guest: module $name not found for $kver" >&2
    return 1
  fi
  path=${line%%:*}
  deps=${line#*:}
  # modules.dep lists dependencies so that the last one loads first.
  rev=
  for d in $deps; do rev="$d $rev"; done
  for d in $rev; do
    dn=${d##*/}; dn=${dn%%.ko*}
    add_module "$dn" || return 1
  done
  grep -qx "$name" "$order" && return 0
  case "$path" in
    *.ko.xz)  xz -dc "$moddir/$path" > "$root/lib/modules/$name.ko" ;;
    *.ko.zst) zstd -qdc "$moddir/$path" > "$root/lib/modules/$name.ko" ;;
    *.ko.gz)  gzip -dc "$moddir/$path" > "$root/lib/modules/$name.ko" ;;
    *)        cp "$moddir/$path" "$root/lib/modules/$name.ko" ;;
  esac
  echo "$name" >> "$order"
}
# button: the ACPI power button; evdev: its /dev/input/event* node.
for m in virtio_pci virtio_net virtio_blk button evdev; do
  add_module "$m" || skip "kernel $kver lacks module $m"
done
cp "$order" "$root/etc/modules.order"

(cd "$root" && find . | LC_ALL=C sort | $cpio_cmd) | gzip -9n > "$work/initramfs.cpio.gz"
# The kernel as an uncompressed ELF vmlinux, the format cloud-hypervisor
# boots (PVH entry point; Debian sets CONFIG_PVH).  It also saves the stand-in
# several seconds: under TCG, SeaBIOS plus the xz decompression of a bzImage
# take about 4.5 s before the kernel prints its first line, the PVH entry
# about 1 s.  Like the kernel's scripts/extract-vmlinux: try each compressed
# stream found in the bzImage until one yields an ELF file.
extract_vmlinux () {
  local image=$1 out=$2 magic tool off
  for magic in 'xz:\xfd7zXZ\x00' 'zstd:\x28\xb5\x2f\xfd' 'gzip:\x1f\x8b\x08'; do
    tool=${magic%%:*}
    command -v "$tool" >/dev/null 2>&1 || continue
    for off in $(LC_ALL=C grep -aboP "${magic#*:}" "$image" | cut -d: -f1); do
      case $tool in
        xz)   tail -c +$((off + 1)) "$image" | xz -dc --single-stream > "$out" 2>/dev/null ;;
        zstd) tail -c +$((off + 1)) "$image" | zstd -qdc > "$out" 2>/dev/null ;;
        gzip) tail -c +$((off + 1)) "$image" | gzip -dc > "$out" 2>/dev/null ;;
      esac
      if [ "$(head -c 4 "$out" | od -An -c | tr -d ' ')" = '177ELF' ]; then
        return 0
      fi
    done
  done
  return 1
}
if extract_vmlinux "/boot/vmlinuz-$kver" "$work/vmlinux"; then
  kformat="ELF vmlinux (PVH)"
else
  # qemu boots the bzImage too, only more slowly.
  cp "/boot/vmlinuz-$kver" "$work/vmlinux"
  kformat="bzImage (no vmlinux could be extracted)"
fi
mv "$work/initramfs.cpio.gz" "$outdir/initramfs.cpio.gz"
mv "$work/vmlinux" "$outdir/vmlinux"
printf 'ok: kernel %s as %s, modules %s\n' "$kver" "$kformat" \
  "$(tr '\n' ' ' < "$order")" > "$outdir/guest-status"
