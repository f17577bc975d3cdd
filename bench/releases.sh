#!/usr/bin/env bash
# Builds a small release series of real Debian systems, after Rauch et al.'s
# partition repositories (seed 003): one base release, the same system
# upgraded in place, and three machines localized from the base. Everything
# is cached under bench/cache/releases/ (gitignored); run again, it rebuilds
# only what is missing. Needs root (debootstrap, chroot, loop mounts) and
# network access to deb.debian.org.
#
#   base.img      ext4 ($SIZE MiB) made with mkfs.ext4 -d from a debootstrap
#                 --variant=minbase bookworm tree
#   upgrade.img   base.img, mounted, with apt-get install $UPGRADE_PKGS run in
#                 a chroot, then apt-get clean and the package lists removed
#                 (an in-place upgrade: the file
#                 system's allocator places the new files, as on a real disk)
#   update.img    base.img with apt-get upgrade from bookworm-security and
#                 bookworm-updates run in a chroot (a small, frequent release)
#   local-N.img   base.img, mounted, localized as a machine would be after
#                 cloning: hostname, /etc/hosts, /etc/machine-id, fresh ssh
#                 host keys, one user with a home directory (N = 1..3)
#
# The images are files holding the whole file system; mcimage create and
# mcimage repo add read only its used blocks.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${RELEASES_CACHE:-bench/cache/releases}
SIZE=${SIZE:-1536}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
UPGRADE_PKGS=${UPGRADE_PKGS:-openssh-server python3 vim}
mkdir -p "$cache"
log=$cache/releases.log

[ "$(id -u)" -eq 0 ] || { echo "releases.sh: needs root (debootstrap, chroot, mount)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "releases.sh: debootstrap missing (scripts/install-deps.sh)" >&2; exit 1; }

mnt=
cleanup() {
  if [ -n "$mnt" ]; then
    for d in dev/pts dev proc sys; do umount "$mnt/$d" 2>/dev/null || true; done
    umount "$mnt" 2>/dev/null || true
    rmdir "$mnt" 2>/dev/null || true
  fi
}
trap cleanup EXIT

# mount_img IMG: loop-mounts IMG at $mnt.
mount_img() {
  mnt=$(mktemp -d /tmp/releases-mnt.XXXXXX)
  mount -o loop "$1" "$mnt"
}
umount_img() {
  sync
  umount "$mnt"
  rmdir "$mnt"
  mnt=
}

# The base tree: debootstrap minbase. Kept so that the image can be rebuilt
# with other mkfs options without downloading again.
if [ ! -d "$cache/root-base" ]; then
  echo "releases: debootstrap minbase bookworm (minutes; log in $log)" >&2
  rm -rf "$cache/root-base.tmp"
  debootstrap --variant=minbase bookworm "$cache/root-base.tmp" "$MIRROR" >"$log" 2>&1
  # A machine-id and hostname as an installer leaves them, so that the
  # localized copies change existing files rather than create new ones.
  echo "debian-base" >"$cache/root-base.tmp/etc/hostname"
  printf '%s\n' 0123456789abcdef0123456789abcdef >"$cache/root-base.tmp/etc/machine-id"
  rm -rf "$cache/root-base.tmp/var/cache/apt/archives/"*.deb
  # No package lists in any release (image builders drop them; each
  # release's apt-get update would otherwise add 40 MB of lists).
  rm -rf "$cache/root-base.tmp/var/lib/apt/lists/"*
  mv "$cache/root-base.tmp" "$cache/root-base"
fi

# base.img: a fixed UUID, hash seed and time so that two runs build the same
# bytes.
if [ ! -f "$cache/base.img" ]; then
  echo "releases: base.img (${SIZE} MiB ext4)" >&2
  rm -f "$cache/base.img.tmp"
  E2FSPROGS_FAKE_TIME=1700000000 mkfs.ext4 -q -F -L discus-base \
    -U 6b1f0c2e-6a53-4f7e-9d59-6f6c5a1f0b01 -E hash_seed=2a7c4d0e-1f43-4b8a-9e0d-3c5b7a9d1e22 \
    -d "$cache/root-base" "$cache/base.img.tmp" "${SIZE}M"
  mv "$cache/base.img.tmp" "$cache/base.img"
fi

# upgrade.img: apt-get install in a chroot on the mounted copy.
if [ ! -f "$cache/upgrade.img" ]; then
  echo "releases: upgrade.img (apt-get install $UPGRADE_PKGS)" >&2
  cp --sparse=always "$cache/base.img" "$cache/upgrade.img.tmp"
  mount_img "$cache/upgrade.img.tmp"
  mount -t proc proc "$mnt/proc"
  mount -t sysfs sys "$mnt/sys"
  mount --bind /dev "$mnt/dev"
  mount --bind /dev/pts "$mnt/dev/pts"
  cp /etc/resolv.conf "$mnt/etc/resolv.conf"
  # No service starts inside the chroot.
  printf '#!/bin/sh\nexit 101\n' >"$mnt/usr/sbin/policy-rc.d"
  chmod +x "$mnt/usr/sbin/policy-rc.d"
  chroot "$mnt" env DEBIAN_FRONTEND=noninteractive apt-get update >>"$log" 2>&1
  # shellcheck disable=SC2086
  chroot "$mnt" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    $UPGRADE_PKGS >>"$log" 2>&1
  chroot "$mnt" apt-get clean >>"$log" 2>&1
  # The package lists (40 MB) are not part of the release: as image
  # builders do, drop them, so that the increment is the packages' change.
  rm -rf "$mnt"/var/lib/apt/lists/*
  rm -f "$mnt/usr/sbin/policy-rc.d"
  for d in dev/pts dev proc sys; do umount "$mnt/$d"; done
  umount_img
  mv "$cache/upgrade.img.tmp" "$cache/upgrade.img"
fi

# update.img: base with the pending security and stable updates applied
# in place (apt-get upgrade from bookworm-security and bookworm-updates):
# the small, frequent kind of release, like the seed's Table 1.
if [ ! -f "$cache/update.img" ]; then
  echo "releases: update.img (apt-get upgrade from bookworm-security, bookworm-updates)" >&2
  cp --sparse=always "$cache/base.img" "$cache/update.img.tmp"
  mount_img "$cache/update.img.tmp"
  mount -t proc proc "$mnt/proc"
  mount -t sysfs sys "$mnt/sys"
  mount --bind /dev "$mnt/dev"
  mount --bind /dev/pts "$mnt/dev/pts"
  cp /etc/resolv.conf "$mnt/etc/resolv.conf"
  printf '#!/bin/sh\nexit 101\n' >"$mnt/usr/sbin/policy-rc.d"
  chmod +x "$mnt/usr/sbin/policy-rc.d"
  printf 'deb %s bookworm-updates main\ndeb %s bookworm-security main\n' \
    "$MIRROR" "${SECURITY_MIRROR:-http://security.debian.org/debian-security}" \
    >"$mnt/etc/apt/sources.list.d/updates.list"
  chroot "$mnt" env DEBIAN_FRONTEND=noninteractive apt-get update >>"$log" 2>&1
  chroot "$mnt" env DEBIAN_FRONTEND=noninteractive apt-get upgrade -y >>"$log" 2>&1
  chroot "$mnt" apt-get clean >>"$log" 2>&1
  # The package lists (40 MB) are not part of the release: as image
  # builders do, drop them, so that the increment is the packages' change.
  rm -rf "$mnt"/var/lib/apt/lists/*
  rm -f "$mnt/usr/sbin/policy-rc.d"
  for d in dev/pts dev proc sys; do umount "$mnt/$d"; done
  umount_img
  mv "$cache/update.img.tmp" "$cache/update.img"
fi

# local-N.img: what a machine changes after being cloned from base.
for n in 1 2 3; do
  img=$cache/local-$n.img
  [ -f "$img" ] && continue
  echo "releases: local-$n.img (hostname, machine-id, ssh host keys, a user)" >&2
  cp --sparse=always "$cache/base.img" "$img.tmp"
  mount_img "$img.tmp"
  host=lab-pc-$n
  echo "$host" >"$mnt/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n' "$host" >"$mnt/etc/hosts"
  head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$mnt/etc/machine-id"
  echo >>"$mnt/etc/machine-id"
  mkdir -p "$mnt/etc/ssh"
  rm -f "$mnt"/etc/ssh/ssh_host_*
  ssh-keygen -q -A -f "$mnt"
  chroot "$mnt" useradd -m -s /bin/bash -c "Lab user $n" "student$n"
  echo "student$n:lab-$n-$RANDOM" | chroot "$mnt" chpasswd
  umount_img
  mv "$img.tmp" "$img"
done

ls -l "$cache"/*.img >&2
