#!/usr/bin/env bash
# Builds the benchmark workloads into bench/cache (kept between runs):
#   a-SIZE.raw     SIZE MiB of incompressible bytes
#   debroot/       a minimal Debian (debootstrap minbase bookworm + a few packages),
#                  or, if the mirror is unreachable, a tree copied from this machine's /usr
#   b-SIZE.raw     SIZE MiB ext4 of debroot on a "used" disk: free space holds random bytes
#   bz-SIZE.raw    the same filesystem with its free space zeroed
#   c-SIZE.raw     GPT disk: FAT32 ESP + b-SIZE.raw's ext4 + swap (swap area random, as used)
#   *.xxh          xxh128 of each, the expected disk for udpcast
# Usage: bash bench/workloads.sh a|b|bz|c SIZE_MIB   (prints the path)
set -euo pipefail
cd "$(dirname "$0")/.."
cache=bench/cache
mkdir -p "$cache"
kind=$1 size=$2

log() { echo "workloads: $*" >&2; }

debroot() {
  [ -d "$cache/debroot" ] && return
  local tmp=$cache/debroot.tmp
  rm -rf "$tmp"
  log "debootstrap minbase bookworm (a few minutes)"
  if debootstrap --variant=minbase \
      --include=less,nano,iproute2,openssh-client,ca-certificates,curl,kmod,procps \
      bookworm "$tmp" http://deb.debian.org/debian >"$cache/debootstrap.log" 2>&1; then
    rm -rf "$tmp"/var/cache/apt/archives/*.deb
    echo "debootstrap minbase bookworm + less nano iproute2 openssh-client ca-certificates curl kmod procps" \
      >"$cache/debroot.source"
  else
    log "debootstrap failed (see $cache/debootstrap.log): falling back to a copy of /usr"
    rm -rf "$tmp"; mkdir -p "$tmp"
    cp -a /usr/bin /usr/lib /usr/share "$tmp/" 2>/dev/null || true
    echo "fallback: copy of this machine's /usr/{bin,lib,share}" >"$cache/debroot.source"
  fi
  mv "$tmp" "$cache/debroot"
}

hash_of() { [ -f "$1.xxh" ] || xxhsum -H2 "$1" | cut -d' ' -f1 >"$1.xxh"; }

# ext4 of debroot in a SIZE MiB file; FILL is urandom or zero.
mkext4() {
  local out=$1 mib=$2 fill=$3
  if [ "$fill" = urandom ]; then
    head -c "${mib}M" /dev/urandom >"$out.tmp"
  else
    rm -f "$out.tmp"; truncate -s "${mib}M" "$out.tmp"
  fi
  mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=0 -d "$cache/debroot" "$out.tmp" >/dev/null
  mv "$out.tmp" "$out"
}

out=
case $kind in
  a)
    out=$cache/a-$size.raw
    [ -f "$out" ] || { head -c "${size}M" /dev/urandom >"$out.tmp"; mv "$out.tmp" "$out"; } ;;
  b)
    out=$cache/b-$size.raw
    [ -f "$out" ] || { debroot; mkext4 "$out" "$size" urandom; } ;;
  bz)
    out=$cache/bz-$size.raw
    [ -f "$out" ] || { debroot; mkext4 "$out" "$size" zero; } ;;
  c)
    out=$cache/c-$size.raw
    if [ ! -f "$out" ]; then
      ext=$(bash "$0" b "$size")
      esp=$(( size >= 1024 ? 128 : 64 )) swap=$(( size >= 1024 ? 256 : 64 ))
      tmp=$out.tmp
      head -c "$(( (esp + size + swap + 2) ))M" /dev/urandom >"$tmp"
      sgdisk -Z "$tmp" >/dev/null 2>&1 || true
      sgdisk -n "1:2048:+${esp}M" -t 1:ef00 -c 1:ESP \
             -n "2:0:+${size}M" -t 2:8300 -c 2:root \
             -n "3:0:+${swap}M" -t 3:8200 -c 3:swap "$tmp" >/dev/null
      start() { sgdisk -i "$1" "$tmp" | awk '/First sector/ {print $3}'; }
      s1=$(start 1) s2=$(start 2) s3=$(start 3)
      head -c "${esp}M" /dev/urandom >"$cache/esp.tmp"
      mkfs.vfat -F 32 -n ESP "$cache/esp.tmp" >/dev/null
      # Something an ESP holds: a kernel-sized file and a few boot files.
      mmd -i "$cache/esp.tmp" ::/EFI ::/EFI/debian
      mcopy -i "$cache/esp.tmp" "$cache/debroot/usr/bin/bash" ::/EFI/debian/grubx64.efi
      head -c 8M /dev/urandom >"$cache/vmlinuz.tmp"
      mcopy -i "$cache/esp.tmp" "$cache/vmlinuz.tmp" ::/EFI/debian/vmlinuz
      rm -f "$cache/vmlinuz.tmp"
      dd if="$cache/esp.tmp" of="$tmp" bs=512 seek="$s1" conv=notrunc status=none
      dd if="$ext" of="$tmp" bs=512 seek="$s2" conv=notrunc status=none
      head -c "${swap}M" /dev/urandom >"$cache/swap.tmp"
      mkswap "$cache/swap.tmp" >/dev/null
      dd if="$cache/swap.tmp" of="$tmp" bs=512 seek="$s3" conv=notrunc status=none
      rm -f "$cache/esp.tmp" "$cache/swap.tmp"
      mv "$tmp" "$out"
    fi ;;
  *) echo "usage: workloads.sh a|b|bz|c SIZE_MIB" >&2; exit 2 ;;
esac
hash_of "$out"
echo "$out"
