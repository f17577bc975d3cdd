#!/usr/bin/env bash
# Netboot end to end (issue 14): qemu VMs (TCG) boot Debian's kernel with
# mcinitrd's initramfs, receive an OS image from mcsend, write their virtio
# disks and power off; each disk must equal `mcimage extract`'s output; then
# each VM boots its installed disk with Debian's own initrd until the
# installed system runs a command (init=/bin/cat of a token file).
#
# Runs: dhcp (1 VM, address from dnsmasq), static (1 VM, discus.ip=), lab
# (3 VMs in one session, the third with discus.target=auto), grow (1 VM, a
# disk 64 MiB larger than the image's, discus.grow=1), reboot (1 VM,
# discus.then=reboot: the kernel must restart it, then it boots the disk), fail (two empty
# disks and discus.target=auto: refused, and the VM stays stopped). In every run a host namespace runs mcrecv in the
# same session, for the VM-vs-host imaging time.
#
# Networks: everything is in private namespaces on 198.18.0.0/24. qemu runs
# inside the bridge namespace with -nodefaults and a tap netdev only, so no
# VM ever reaches this machine's real network (no user-mode networking).
#
#   sudo bash bench/netboot.sh             # all runs, results in bench/results/netboot-DATE/
#   NB_RUNS="static" bash bench/netboot.sh # a subset (dhcp static lab grow reboot fail)
#   NB_TREE=minimal bash bench/netboot.sh  # a tiny OS tree instead of the debootstrap base
# Exits 0 only when every run's disks verified and booted.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
export PATH=/usr/local/go/bin:$PATH
[ "$(id -u)" = 0 ] || { echo "netboot: needs root (namespaces, taps, loop-free mkfs)" >&2; exit 1; }

NB_RUNS=${NB_RUNS:-"dhcp static lab grow reboot fail"}
NB_TREE=${NB_TREE:-auto}
NB_TIMEOUT=${NB_TIMEOUT:-1200} # seconds per imaging run; TCG on 2 shared cores is slow
NB_MEM=${NB_MEM:-256}
# qemu's default TCG CPU (qemu64) has no SSSE3, which no lab machine of
# this century lacks; klauspost/reedsolomon v1.14.2 then dereferences a
# nil table in its GF(2^16) decoder (mcrecv panics on the first FEC repair
# of a large chunk). "max" gives TCG's full x86-64 feature set.
NB_CPU=${NB_CPU:-max}
# mcimage's chunk size. A receiver holds up to MaxPartial (2*Window+4 = 20)
# partly received chunks, and a slow one (a TCG VM) holds many: its memory
# scales with the chunk size.
NB_CHUNK=${NB_CHUNK:-1m}
KVER=${KVER:-}
CACHE=$REPO/bench/cache
STAMP=$(date -u +%Y-%m-%d-%H%M)
RES=${NB_RESULTS:-$REPO/bench/results/netboot-$STAMP}
W=${NB_WORK:-$REPO/bench/out/netboot}
NS=nb$$
mkdir -p "$RES" "$W" "$CACHE"
log() { printf '%s netboot: %s\n' "$(date -u +%T)" "$*" | tee -a "$RES/log.txt" >&2; }

# --- what it needs -----------------------------------------------------------
need_pkgs=()
command -v qemu-system-x86_64 >/dev/null || need_pkgs+=(qemu-system-x86)
command -v dnsmasq >/dev/null || need_pkgs+=(dnsmasq-base)
command -v mkinitramfs >/dev/null || need_pkgs+=(initramfs-tools)
command -v depmod >/dev/null || need_pkgs+=(kmod)
command -v sfdisk >/dev/null || need_pkgs+=(fdisk)
command -v mkfs.ext4 >/dev/null || need_pkgs+=(e2fsprogs)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# Debian's kernel, unpacked into the cache (never installed into /boot).
KDIR=$CACHE/kernel
if [ -z "$KVER" ]; then
  KVER=$(ls "$KDIR/root/lib/modules" 2>/dev/null | head -1 || true)
fi
if [ -z "$KVER" ]; then
  log "fetching Debian's linux-image-amd64"
  mkdir -p "$KDIR" && (cd "$KDIR" && apt-get update -qq >/dev/null 2>&1 || true)
  pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
  (cd "$KDIR" && apt-get download "$pkg" >/dev/null 2>&1 && dpkg -x "$pkg"_*.deb root && rm -f "$pkg"_*.deb)
  KVER=$(ls "$KDIR/root/lib/modules" | head -1)
fi
MODDIR=$KDIR/root/lib/modules/$KVER
VMLINUZ=$KDIR/root/boot/vmlinuz-$KVER
[ -f "$MODDIR/modules.dep" ] || depmod -b "$KDIR/root" "$KVER"
# Debian's own initrd for the installed system (initramfs-tools, as on an
# installed Debian), made in a private mount namespace so the host's /lib
# and /boot stay as they are.
DEBINITRD=$KDIR/initrd.img-$KVER
if [ ! -s "$DEBINITRD" ]; then
  log "making Debian's initrd with mkinitramfs"
  mkdir -p /usr/lib/modules
  unshare -m sh -c "mount --bind '$KDIR/root/lib/modules' /usr/lib/modules && mount --bind '$KDIR/root/boot' /boot && mkinitramfs -o '$DEBINITRD.tmp' '$KVER'" >"$W/mkinitramfs.log" 2>&1
  mv "$DEBINITRD.tmp" "$DEBINITRD"
fi

# --- binaries and the initramfs -------------------------------------------
BIN=$W/bin
mkdir -p "$BIN"
REV=$(git rev-parse --short HEAD)$(git diff --quiet -- . ':!bench/RESULTS.md' ':!bench/results' || echo +dirty)
log "building static mcinitrd, mcrecv, mcsend, mcimage at $REV"
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$BIN/" ./cmd/mcinitrd ./cmd/mcrecv ./cmd/mcsend ./cmd/mcimage
INITRD=$W/initrd.gz
"$BIN/mcinitrd" -o "$INITRD" --modules "$MODDIR" 2>&1 | tee "$RES/mcinitrd.txt" >&2
INITRD_BYTES=$(stat -c %s "$INITRD")

# --- the OS image ------------------------------------------------------------
TOKEN=discus-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
TREE=$W/tree
rm -rf "$TREE"
DEBROOT=${DEBROOT:-}
for d in "$CACHE/debroot" /work/main/bench/cache/debroot; do
  if [ -z "$DEBROOT" ] && [ -x "$d/usr/bin/echo" ]; then DEBROOT=$d; fi
done
if [ "$NB_TREE" = auto ] && [ -n "$DEBROOT" ]; then NB_TREE=debroot; fi
if [ "$NB_TREE" = debroot ]; then
  log "OS tree: the debootstrap base $DEBROOT, without docs, manuals, locales and apt caches"
  mkdir -p "$TREE"
  tar -C "$DEBROOT" --exclude=./usr/share/doc --exclude=./usr/share/man --exclude=./usr/share/locale \
    --exclude=./usr/share/info --exclude=./var/cache/apt --exclude=./var/lib/apt/lists -cf - . | tar -C "$TREE" -xf -
else
  NB_TREE=minimal
  log "OS tree: minimal (the host's echo, cat and their libraries)"
  mkdir -p "$TREE"/{usr/bin,usr/lib,usr/lib64,etc,dev,proc,sys,run,tmp,root}
  ln -s usr/bin "$TREE/bin"; ln -s usr/bin "$TREE/sbin"; ln -s usr/lib "$TREE/lib"; ln -s usr/lib64 "$TREE/lib64"
  for b in echo cat; do
    cp /usr/bin/$b "$TREE/usr/bin/"
    for l in $(ldd /usr/bin/$b | grep -o '/[^ ]*'); do
      mkdir -p "$TREE/usr$(dirname "${l#/usr}")"; cp -L "$l" "$TREE/usr${l#/usr}"
    done
  done
fi
echo "$TOKEN" >"$TREE/etc/discus-token"
echo "/dev/vda1 / ext4 defaults 0 1" >"$TREE/etc/fstab"
TREE_KIB=$(du -sk "$TREE" | cut -f1)
PART_MIB=$(( TREE_KIB / 1024 * 5 / 4 + 32 ))
DISK_MIB=$(( PART_MIB + 2 ))
SRC=$W/os.raw
rm -f "$SRC" "$W/part.raw"
truncate -s "${DISK_MIB}M" "$SRC"
echo 'label: gpt
start=2048, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root' | sfdisk -q "$SRC"
mkfs.ext4 -q -F -L discusroot -d "$TREE" "$W/part.raw" "${PART_MIB}M"
dd if="$W/part.raw" of="$SRC" bs=1M seek=1 conv=notrunc,sparse status=none
rm -f "$W/part.raw"
IMG=$W/os.dsc
"$BIN/mcimage" create --chunk-size "$NB_CHUNK" "$SRC" "$IMG" 2>&1 | tee "$RES/mcimage-create.txt" >&2
EXPECTED=$W/expected.raw
rm -f "$EXPECTED"
"$BIN/mcimage" extract "$IMG" "$EXPECTED" >/dev/null 2>&1
DISK_BYTES=$(stat -c %s "$EXPECTED")
IMG_BYTES=$(stat -c %s "$IMG")
log "image: $NB_TREE tree $((TREE_KIB / 1024)) MiB on a ${DISK_MIB} MiB GPT disk, image $((IMG_BYTES / 1048576)) MiB, token $TOKEN"

# --- the network -------------------------------------------------------------
# $NS-sw: bridge br0 with the VMs' taps; $NS-s: mcsend (198.18.0.1);
# $NS-d: dnsmasq (198.18.0.2); $NS-h: mcrecv on the host (198.18.0.3).
QEMU_PIDS=()
VM_NAMES=()
DNSMASQ_PID=
# kill_vm NAME: ends that VM's qemu (its pid file; the stamping subshell then ends).
kill_vm() { [ -s "$W/$1.pid" ] && kill "$(cat "$W/$1.pid")" 2>/dev/null; rm -f "$W/$1.pid"; return 0; }
cleanup() {
  set +e
  for v in "${VM_NAMES[@]}"; do kill_vm "$v"; done
  [ -n "$DNSMASQ_PID" ] && kill "$DNSMASQ_PID" 2>/dev/null
  for h in s d h sw; do ip netns del "$NS-$h" 2>/dev/null; done
}
trap cleanup EXIT
ip netns add "$NS-sw"
ip -n "$NS-sw" link set lo up
ip -n "$NS-sw" link add br0 type bridge mcast_snooping 0
ip -n "$NS-sw" link set br0 up
i=0
for h in s d h; do
  i=$((i + 1))
  ip netns add "$NS-$h"
  ip -n "$NS-$h" link set lo up
  ip -n "$NS-$h" link add e0 type veth peer name "p$h" netns "$NS-sw"
  ip -n "$NS-sw" link set "p$h" master br0 up
  ip -n "$NS-$h" addr add "198.18.0.$i/24" brd + dev e0
  ip -n "$NS-$h" link set e0 up
  ip -n "$NS-$h" route add 224.0.0.0/4 dev e0
done
for v in 0 1 2; do
  ip -n "$NS-sw" tuntap add "tap$v" mode tap
  ip -n "$NS-sw" link set "tap$v" master br0 up
done

# --- one VM --------------------------------------------------------------------
# vm NAME TAP APPEND DISK INITRD: boots in the background, console lines
# stamped with host time (seconds since the epoch) into $W/NAME.console.
vm() {
  local name=$1 tap=$2 append=$3 disk=$4 initrd=$5 mac extra=()
  [ -n "${6:-}" ] && extra=(-drive "file=$6,format=raw,if=virtio,cache=writeback")
  mac=$(printf '52:54:00:4e:42:%02x' "$tap")
  (
    ip netns exec "$NS-sw" qemu-system-x86_64 -nodefaults -no-user-config -accel tcg -cpu "$NB_CPU" -m "$NB_MEM" -smp 1 \
      -display none -monitor none -serial stdio -no-reboot -pidfile "$W/$name.pid" \
      -kernel "$VMLINUZ" -initrd "$initrd" -append "$append" \
      -drive "file=$disk,format=raw,if=virtio,cache=writeback" "${extra[@]}" \
      -netdev "tap,id=n0,ifname=tap$tap,script=no,downscript=no" -device "virtio-net-pci,netdev=n0,mac=$mac" \
      </dev/null 2>&1 | while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "${line%$'\r'}"; done
  ) >"$W/$name.console" &
  QEMU_PIDS+=($!)
  VM_NAMES+=("$name")
}

# wait_pids TIMEOUT PID...: 0 if all ended within TIMEOUT seconds.
wait_pids() {
  local t=$1 deadline p alive
  shift
  deadline=$(( $(date +%s) + t ))
  while :; do
    alive=0
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && return 0
    [ "$(date +%s)" -ge $deadline ] && return 1
    sleep 1
  done
}

# first stamp of a console line matching a pattern (grep -E)
stamp_of() { grep -E -m1 "$2" "$1" | cut -d' ' -f1; }
# guest uptime on a discus init line matching a pattern
guest_of() { grep -E -m1 "$2" "$1" | sed -n 's/.*discus \[ *\([0-9.]*\)\].*/\1/p'; }

GROW_BYTES=$((64 << 20)) # the grow run's disk is this much larger than the image's
KCMD="console=ttyS0 panic=-1 loglevel=4"
NB_APPEND=${NB_APPEND:-} # more for the imaging kernel command line (e.g. GOMEMLIMIT=40MiB, passed to init and so mcrecv as environment)
ALL_OK=1
SUMMARY=$RES/summary.csv
echo "run,vm,addr,ok_image,ok_boot,qemu_to_first_packet_s,guest_uptime_at_mcrecv_s,vm_mcrecv_wall_s,host_imaging_s,vm_peak_rss_mib,boot_installed_s,reason" >"$SUMMARY"

# run NAME NVMS MODE(dhcp|static)
run() {
  local name=$1 n=$2 mode=$3 v t0 pids=() sp hp ok append disk dnsargs
  log "run $name: $n VM(s), $mode"
  if [ "$mode" = dhcp ]; then
    ip netns exec "$NS-d" dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts --port=0 \
      --interface=e0 --bind-interfaces --dhcp-range=198.18.0.100,198.18.0.150,255.255.255.0,1h \
      --dhcp-leasefile="$W/$name.leases" --log-dhcp >"$W/$name.dnsmasq.log" 2>&1 &
    DNSMASQ_PID=$!
  fi
  # The sender waits for the VMs and the host receiver: one session.
  ip netns exec "$NS-s" /usr/bin/time -f "%e %U %S %M" -o "$W/$name.mcsend.time" \
    "$BIN/mcsend" --interface e0 --min-receivers $((n + 1)) --progress --stats-json "$W/$name.mcsend.json" "$IMG" \
    >"$W/$name.mcsend.log" 2>&1 &
  sp=$!
  rm -f "$W/$name.host.raw"
  truncate -s "$DISK_BYTES" "$W/$name.host.raw"
  ip netns exec "$NS-h" /usr/bin/time -f "%e %U %S %M" -o "$W/$name.host.time" \
    "$BIN/mcrecv" --interface e0 --progress --stats-json "$W/$name.host.json" "$W/$name.host.raw" \
    >"$W/$name.host.log" 2>&1 &
  hp=$!
  t0=$EPOCHREALTIME
  for v in $(seq 0 $((n - 1))); do
    disk=$W/$name-vm$v.raw
    rm -f "$disk"
    truncate -s "$DISK_BYTES" "$disk"
    local then=poweroff
    [ "$mode" = reboot ] && then=reboot
    append="$KCMD $NB_APPEND discus.target=/dev/vda discus.then=$then"
    [ "$mode" != dhcp ] && append="$append discus.ip=198.18.0.$((10 + v))/24"
    if [ "$mode" = grow ]; then
      truncate -s "$((DISK_BYTES + GROW_BYTES))" "$disk"
      append="$append discus.grow=1"
    fi
    [ "$v" = 2 ] && append="${append/discus.target=\/dev\/vda/discus.target=auto}" # one VM finds its disk itself
    echo "$append" >"$W/$name-vm$v.cmdline"
    vm "$name-vm$v" "$v" "$append" "$disk" "$INITRD"
    pids+=("${QEMU_PIDS[-1]}")
  done
  ok=1
  if ! wait_pids "$NB_TIMEOUT" "${pids[@]}" "$sp" "$hp"; then
    log "run $name: timed out after ${NB_TIMEOUT}s"
    ok=0
  fi
  for v in $(seq 0 $((n - 1))); do kill_vm "$name-vm$v"; done
  for p in "$sp" "$hp"; do kill "$p" 2>/dev/null || true; done
  wait "$sp" || { log "run $name: mcsend failed: $(tail -1 "$W/$name.mcsend.log")"; ok=0; }
  wait "$hp" || { log "run $name: host mcrecv failed: $(tail -1 "$W/$name.host.log")"; ok=0; }
  if [ -n "$DNSMASQ_PID" ]; then kill "$DNSMASQ_PID" 2>/dev/null || true; wait "$DNSMASQ_PID" 2>/dev/null || true; DNSMASQ_PID=; fi
  cmp -s "$W/$name.host.raw" "$EXPECTED" || { log "run $name: host disk differs"; ok=0; }
  local host_s
  # Imaging time in the shared session, from the sender's view: from the
  # data start (the last receiver's join) to each receiver's completion.
  # The host's receiver joined first (it does not boot).
  python3 - "$W/$name.mcsend.json" >"$W/$name.session.txt" <<'PY' || true
import json, sys
from datetime import datetime
def t(s):
    s = s.rstrip('Z')
    if '.' in s:
        a, b = s.split('.')
        s = a + '.' + b[:6]
    return datetime.fromisoformat(s).timestamp()
rs = json.load(open(sys.argv[1]))['receivers']
first = lambda r: t(r.get('first_heard_at') or r['FirstHeard'])  # keys before and after --stats-json went snake_case
last = lambda r: t(r.get('last_heard_at') or r['LastHeard'])
rs.sort(key=first)
start = max(first(r) for r in rs)
done = [last(r) - start for r in rs]
print('host %.1f vms %s' % (done[0], ' '.join('%.1f' % d for d in done[1:])))
PY
  host_s=$(awk '{print $2}' "$W/$name.session.txt" 2>/dev/null || echo "")
  log "run $name: session imaging times from data start (s): $(cat "$W/$name.session.txt" 2>/dev/null); host mcrecv (wall user sys maxrss-KiB): $(cat "$W/$name.host.time" 2>/dev/null)"
  for v in $(seq 0 $((n - 1))); do
    local c=$W/$name-vm$v.console okimg=0 okboot=0 first up mc rss addr reason="" bt=""
    cp "$c" "$RES/$name-vm$v.console.txt"
    if [ "$mode" = grow ]; then
      # A larger disk: the partition table moved and grew (mcrecv --grow);
      # the partition's bytes are the image's (its ext4 keeps its size
      # unless resize2fs is in the initramfs).
      local pe ps
      pe=$(sfdisk -J "$EXPECTED" | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["partitions"][0]["size"])')
      ps=$(sfdisk -J "$W/$name-vm$v.raw" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["partitions"][0]["size"])' || echo 0)
      log "run $name vm$v: partition 1 has $ps sectors, the image's $pe"
      if grep -q 'DISCUS OK' "$c" && [ "$ps" -gt "$pe" ] &&
        cmp -s -n $((pe * 512)) -i 1048576:1048576 "$W/$name-vm$v.raw" "$EXPECTED"; then okimg=1; fi
    elif grep -q 'DISCUS OK' "$c" && cmp -s "$W/$name-vm$v.raw" "$EXPECTED"; then okimg=1; fi
    [ $okimg = 1 ] || reason=$(grep -m1 -o 'DISCUS FAILED.*' "$c" || echo "disk differs from mcimage extract or no DISCUS OK")
    if [ "$mode" = reboot ] && [ $okimg = 1 ] && ! grep -q 'reboot: Restarting system' "$c"; then
      # discus.then=reboot: the kernel restarts the machine (qemu, -no-reboot, exits).
      okimg=0; reason="discus.then=reboot: no 'reboot: Restarting system' on the console"
    fi
    first=$(stamp_of "$c" 'starting /bin/mcrecv')
    [ -n "$first" ] && first=$(awk -v a="$t0" -v b="$first" 'BEGIN { printf "%.1f", b - a }')
    up=$(guest_of "$c" 'starting /bin/mcrecv')
    mc=$(sed -n 's/.*mcrecv: \([0-9.]*\)s, user.*/\1/p' "$c" | head -1)
    rss=$(sed -n 's/.*peak RSS (VmHWM) \([0-9.]*\) MiB.*/\1/p' "$c" | head -1)
    addr=$(sed -n 's/.*network up: \([0-9./]*\) on.*/\1/p' "$c" | head -1)
    if [ $okimg = 1 ]; then
      # The installed system: Debian's kernel and initrd, root on the disk
      # just written, init=/bin/cat prints the image's token and exits.
      local bt0
      bt0=$EPOCHREALTIME
      vm "$name-vm$v-boot" "$v" "$KCMD root=/dev/vda1 ro init=/bin/cat -- /etc/discus-token" "$W/$name-vm$v.raw" "$DEBINITRD"
      if wait_pids 900 "${QEMU_PIDS[-1]}" && grep -q "$TOKEN" "$W/$name-vm$v-boot.console"; then
        okboot=1
        bt=$(awk -v a="$bt0" -v b="$(stamp_of "$W/$name-vm$v-boot.console" "$TOKEN")" 'BEGIN { printf "%.1f", b - a }')
      else
        reason="installed system did not print its token"
      fi
      kill_vm "$name-vm$v-boot"
      cp "$W/$name-vm$v-boot.console" "$RES/$name-vm$v-boot.console.txt"
    fi
    [ $okimg = 1 ] && [ $okboot = 1 ] || ok=0
    log "run $name vm$v: image $okimg boot $okboot addr $addr first-packet ${first}s (guest ${up}s) mcrecv ${mc}s vs host ${host_s}s, peak RSS ${rss} MiB, installed boot ${bt}s ${reason}"
    echo "$name,vm$v,$addr,$okimg,$okboot,$first,$up,$mc,$host_s,$rss,$bt,\"$reason\"" >>"$SUMMARY"
  done
  cp "$W/$name.mcsend.log" "$W/$name.host.log" "$RES/" 2>/dev/null || true
  [ "$mode" = dhcp ] && cp "$W/$name.dnsmasq.log" "$RES/" 2>/dev/null
  [ $ok = 1 ] || ALL_OK=0
  rm -f "$W/$name"-vm*.raw "$W/$name.host.raw"
}

# run_fail: a VM with two empty disks and discus.target=auto must refuse
# to choose, say why on the console, and stay stopped: no reboot (qemu
# would exit, -no-reboot), no poweroff, nothing written.
run_fail() {
  local c=$W/fail-vm0.console ok=0 d0=$W/fail-a.raw d1=$W/fail-b.raw i
  log "run fail: 1 VM, two empty disks, discus.target=auto"
  rm -f "$d0" "$d1"; truncate -s 64M "$d0" "$d1"
  vm fail-vm0 0 "$KCMD discus.target=auto discus.ip=198.18.0.10/24 discus.then=reboot" "$d0" "$INITRD" "$d1"
  for i in $(seq 1 300); do grep -q 'DISCUS FAILED' "$c" 2>/dev/null && break; sleep 1; done
  sleep 10
  if grep -q 'DISCUS FAILED: no single empty disk: 2 empty disks' "$c" && kill -0 "${QEMU_PIDS[-1]}" 2>/dev/null &&
    ! grep -q 'DISCUS OK' "$c" && [ -z "$(tr -d '\0' <"$d0" | head -c1)" ] && [ -z "$(tr -d '\0' <"$d1" | head -c1)" ]; then
    ok=1
  fi
  kill_vm fail-vm0
  cp "$c" "$RES/fail-vm0.console.txt"
  log "run fail vm0: refused and stayed stopped $ok: $(grep -a -m1 -o 'DISCUS FAILED.*' "$c" || echo 'no DISCUS FAILED line')"
  echo "fail,vm0,198.18.0.10/24,$ok,,,,,,,,\"$(grep -a -m1 -o 'DISCUS FAILED[^"]*' "$c" | tr -d '\r')\"" >>"$SUMMARY"
  [ $ok = 1 ] || ALL_OK=0
  rm -f "$d0" "$d1"
}

for r in $NB_RUNS; do
  case $r in
    dhcp) run dhcp 1 dhcp ;;
    static) run static 1 static ;;
    lab) run lab 3 static ;;
    grow) run grow 1 grow ;;
    reboot) run reboot 1 reboot ;;
    fail) run_fail ;;
    *) log "unknown run $r"; ALL_OK=0 ;;
  esac
done

{
  echo "commit $REV, kernel $KVER, qemu TCG -cpu $NB_CPU -m $NB_MEM, $(nproc) cores"
  echo "initramfs $INITRD_BYTES bytes ($(awk -v b="$INITRD_BYTES" 'BEGIN { printf "%.1f", b / 1048576 }') MiB) with $(grep -o '[0-9]* modules' "$RES/mcinitrd.txt" | head -1)"
  echo "image: $NB_TREE tree, disk $DISK_BYTES bytes, image file $IMG_BYTES bytes, chunks $NB_CHUNK"
  echo "ok: $ALL_OK"
} | tee "$RES/figures.txt" >&2
rm -f "$EXPECTED" "$SRC"
[ $ALL_OK = 1 ]
