#!/usr/bin/env bash
# Installs what Discus's tests, demo and benchmarks use from Debian's
# packages. Safe to run again: it installs only what is missing.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have ip           || need+=(iproute2)
have iptables     || need+=(iptables)
have mkfs.ext4    || need+=(e2fsprogs)
have mkfs.vfat    || need+=(dosfstools)
have mcopy        || need+=(mtools)
have mkfs.ntfs    || need+=(ntfs-3g)
have mkfs.xfs     || need+=(xfsprogs)
have sgdisk       || need+=(gdisk)
have sfdisk       || need+=(fdisk)
have parted       || need+=(parted)
have resize2fs    || need+=(e2fsprogs)
have xfs_growfs   || need+=(xfsprogs)
have ntfsresize   || need+=(ntfs-3g)
have losetup      || need+=(mount)
have udp-sender   || need+=(udpcast)
have zstd         || need+=(zstd)
have unshare      || need+=(util-linux)
have ssh-keygen   || need+=(openssh-client)
have nft          || need+=(nftables)
have ethtool      || need+=(ethtool)
have debootstrap  || need+=(debootstrap)  # bench/releases.sh, bench/workloads.sh
have python3      || need+=(python3)      # bench/incr-figures.sh
# netboot (cmd/mcinitrd, bench/netboot.sh): VMs, their DHCP server, initrds
have cpio         || need+=(cpio)
have dnsmasq      || need+=(dnsmasq-base)
have qemu-system-x86_64 || need+=(qemu-system-x86)
have mkinitramfs  || need+=(initramfs-tools)
have depmod       || need+=(kmod)
have qemu-x86_64  || need+=(qemu-user)  # fec's TestNoSSSE3 (a CPU without SSSE3)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing ${need[*]}; run as root to install them" >&2
    exit 1
  fi
  echo "install-deps: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! have go; then
  if [ -x /usr/local/go/bin/go ]; then export PATH=/usr/local/go/bin:$PATH; else
    echo "install-deps: Go 1.26 is needed (https://go.dev/dl/)" >&2; exit 1; fi
fi
