# Benchmark runner functions, sourced by bench/run.sh after bench/testbed.sh.
# One run = one system sending one workload to N receivers at one MTU and
# loss rate; it appends one CSV row to $CSV:
#   workload,disk_mib,system,n,mtu,loss_pct,target,wall_s,ok,n_total,wire_bytes,wire_pkts,
#   send_cpu_s,recv_cpu_s,load1,note
# wall_s runs from launching the receivers to the last receiver's exit (mcrecv
# exits only once its disk is verified complete; udp-receiver once its data is
# written). The harness then checks every target's xxh128 against the
# expected disk, which is not counted in wall_s for either system.

CSV_HEADER="workload,disk_mib,system,n,mtu,loss_pct,target,wall_s,ok,n_total,wire_bytes,wire_pkts,send_cpu_s,recv_cpu_s,load1,note"
RUN_TIMEOUT=${RUN_TIMEOUT:-300}
IMGDIR=${IMGDIR:-bench/cache/images}
SHM=${SHM:-/dev/shm/dscbench}
OUT=${OUT:-bench/out/run}
LOOPS=()

# tb_txpkts HOST: packets (IP fragments count one each) sent on the host's interface.
tb_txpkts() { tb_exec "$1" cat /sys/class/net/e0/statistics/tx_packets; }

# bench_net N MTU: a fresh testbed (removing the previous one).
CUR_N=0 CUR_MTU=0
bench_net() {
  if [ "$CUR_N" = "$1" ] && [ "$CUR_MTU" = "$2" ]; then return; fi
  testbed_down
  testbed_up "$1" "$2"
  CUR_N=$1 CUR_MTU=$2
}

# set_loss PCT: every receiver drops PCT % of incoming UDP.
set_loss() {
  local i p
  p=$(awk -v l="$1" 'BEGIN { printf "%.4f", l / 100 }')
  for i in $(seq 1 "$CUR_N"); do
    tb_exec "r$i" iptables -F INPUT
    if [ "$1" != 0 ]; then tb_drop "r$i" "$p"; fi
  done
}

# discus_image SRC: prints the path of SRC's cached Discus image; creates it
# (timed, workers = all CPUs) and the expected disk's hash on first use.
discus_image() {
  local src=$1 img
  mkdir -p "$IMGDIR"
  img=$IMGDIR/$(basename "${1%.raw}").dsc
  if [ ! -f "$img" ] || [ ! -f "$img.xxh" ]; then
    /usr/bin/time -f "%e %U %S" -o "$img.time" $BIN/mcimage create "$src" "$img.tmp" >"$img.log" 2>&1
    mv "$img.tmp" "$img"
    mkdir -p "$SHM"
    rm -f "$SHM/expected.raw"
    $BIN/mcimage extract "$img" "$SHM/expected.raw" >>"$img.log" 2>&1
    xxhsum -H2 "$SHM/expected.raw" | cut -d' ' -f1 >"$img.xxh"
    rm -f "$SHM/expected.raw"
  fi
  echo "$img"
}

# partclone_image SRC: prints the path of SRC's cached `partclone.ext4 -c | zstd -1`
# image; makes it (timed) and the hash of its local restore onto zeros on first use.
partclone_image() {
  local src=$1 img
  mkdir -p "$IMGDIR"
  img=$IMGDIR/$(basename "${1%.raw}").pc.zst
  if [ ! -f "$img" ] || [ ! -f "$img.xxh" ]; then
    /usr/bin/time -f "%e %U %S" -o "$img.time" sh -c "partclone.ext4 -c -q -s '$src' -o - 2>'$img.log' | zstd -1 -q >'$img.tmp'"
    mv "$img.tmp" "$img"
    mkdir -p "$SHM"
    rm -f "$SHM/expected.raw"; truncate -s "$(stat -c %s "$src")" "$SHM/expected.raw"
    zstd -d -q -c "$img" | partclone.ext4 -r -q -s - -O "$SHM/expected.raw" >>"$img.log" 2>&1
    xxhsum -H2 "$SHM/expected.raw" | cut -d' ' -f1 >"$img.xxh"
    rm -f "$SHM/expected.raw"
  fi
  echo "$img"
}

# targets KIND N SIZE_BYTES: fills TGT[] with N fresh receiver targets:
# files on tmpfs, or loop devices over sparse files on the root disk.
targets() {
  local kind=$1 n=$2 size=$3 i f
  TGT=()
  drop_targets
  mkdir -p "$SHM"
  for i in $(seq 1 "$n"); do
    if [ "$kind" = loop ]; then
      mkdir -p bench/out/loop
      f=bench/out/loop/r$i.img
      rm -f "$f"; truncate -s "$size" "$f"
      LOOPS+=("$(losetup -f --show "$f")")
      TGT+=("${LOOPS[-1]}")
    else
      TGT+=("$SHM/r$i.raw")
    fi
  done
}
drop_targets() {
  local l
  for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null || true; done
  LOOPS=()
  rm -f "$SHM"/r*.raw bench/out/loop/r*.img
}

# hash_target PATH SIZE: xxh128 of the first SIZE bytes (a loop device is exact).
hash_target() {
  if [ -b "$1" ]; then head -c "$2" "$1" | xxhsum -H2 - | cut -d' ' -f1
  elif [ -f "$1" ]; then xxhsum -H2 "$1" | cut -d' ' -f1
  else echo missing; fi
}

# run_one SYSTEM WORKLOAD_PATH N MTU LOSS TARGETKIND [NOTE]
# SYSTEM: udp-default | udp-tuned | udp-zstd | udp-patient | pc-saved | pc-onfly |
#         discus | discus-onfly | discus-rate
# pc-*: what Clonezilla/FOG labs run for an ext4 partition (Debian's partclone):
#   pc-saved: a saved partclone image, `partclone.ext4 -c | zstd -1`, made once (cached,
#             like discus's image) and sent with `udp-sender --file`;
#   pc-onfly: `partclone.ext4 -c | zstd -1 | udp-sender` at send time (like discus-onfly);
#   receivers: `udp-receiver | zstd -d | partclone.ext4 -r -O TARGET`.
# (udp-tuned/udp-zstd use $UDP_RATE as --max-bitrate; discus-rate uses $DSC_RATE.)
run_one() {
  local sys=$1 src=$2 n=$3 mtu=$4 loss=$5 tk=$6 note=${7:-}
  local wl size mib d send expect i t0 tx0 tx1 px0 px1 ok=0 scpu rcpu=0 wall rates
  wl=$(basename "$src" .raw); wl=${wl%-*}
  size=$(stat -c %s "$src"); mib=$((size / 1048576))
  d=$OUT/$wl-$mib-$sys-n$n-m$mtu-l$loss-$tk
  rm -rf "$d"; mkdir -p "$d"
  bench_net "$n" "$mtu"
  set_loss "$loss"
  targets "$tk" "$n" "$size"
  local to=(timeout -k 5 "$RUN_TIMEOUT" /usr/bin/time -f "%e %U %S")
  local snd=() rcv=()
  case $sys in
    udp-*)
      expect=$(cat "$src.xxh")
      # Without hello retransmission a receiver whose one hello is lost never
      # connects and the sender waits forever (seen at 5 % loss).
      snd=(udp-sender --interface e0 --nokbd --min-receivers "$n" --rexmit-hello-interval 500 --file "$src")
      rcv=(udp-receiver --interface e0 --nokbd)
      [ "$sys" != udp-default ] && [ "$UDP_RATE" != none ] && snd+=(--max-bitrate "$UDP_RATE")
      if [ "$sys" = udp-zstd ]; then snd+=(--pipe "zstd -1 -q"); rcv+=(--pipe "zstd -d -q"); fi
      # udp-sender drops a receiver that misses REQACKs a few times in a row, then
      # reports success: under loss it needs far more patience than its default.
      if [ "$sys" = udp-patient ]; then snd+=(--retries-until-drop 100000); fi ;;
    pc-*)
      local pcimg; pcimg=$(partclone_image "$src"); expect=$(cat "$pcimg.xxh")
      local us=(udp-sender --interface e0 --nokbd --min-receivers "$n" --rexmit-hello-interval 500)
      if [ "$sys" = pc-saved ]; then
        snd=("${us[@]}" --file "$pcimg")
      else
        snd=(sh -c "partclone.ext4 -c -q -s '$src' -o - 2>/dev/null | zstd -1 -q | ${us[*]}")
      fi
      # partclone restores used blocks only: every target starts as zeros of the disk's size.
      for i in $(seq 1 "$n"); do [ -b "${TGT[$((i - 1))]}" ] || truncate -s "$size" "${TGT[$((i - 1))]}"; done ;;
    discus*)
      local img; img=$(discus_image "$src"); expect=$(cat "$img.xxh")
      send=$img
      if [ "$sys" = discus-onfly ]; then
        # mcsend images a raw disk filesystem-aware: free space stays zero.
        send=$src
        [ -f "$src.fsxxh" ] || $BIN/fsexpect "$src" 2>/dev/null | xxhsum -H2 - | cut -d' ' -f1 >"$src.fsxxh"
        expect=$(cat "$src.fsxxh")
      fi
      # discus-before: the binaries of another revision (dataplane.sh's DP_BEFORE).
      local db=$BIN; [ "$sys" = discus-before ] && db=$BEFORE_BIN
      snd=($db/mcsend --interface e0 --nokbd --quiet --min-receivers "$n" --start-timeout 30
        --mtu "$mtu" --stats-json "$d/send.json")
      [ "$sys" = discus-rate ] && snd+=(--rate "$DSC_RATE")
      snd+=("$send")
      rcv=($db/mcrecv --interface e0 --nokbd --quiet --start-timeout 30 --receive-timeout 30) ;;
  esac
  tx0=$(tb_txbytes s) px0=$(tb_txpkts s)
  t0=$(date +%s.%N)
  for i in $(seq 1 "$n"); do
    local extra=("${TGT[$((i - 1))]}")
    case $sys in
      udp-*) extra=(--file "${TGT[$((i - 1))]}") ;;
      pc-*) rcv=(sh -c "udp-receiver --interface e0 --nokbd | zstd -d -q | partclone.ext4 -r -q -s - -O '${TGT[$((i - 1))]}'")
        extra=() ;;
      discus*) extra=(--stats-json "$d/r$i.json" "${TGT[$((i - 1))]}") ;;
    esac
    ( rc=0
      tb_exec "r$i" "${to[@]}" -o "$d/time.r$i" "${rcv[@]}" "${extra[@]}" \
        </dev/null >"$d/r$i.log" 2>&1 || rc=$?
      date +%s.%N >"$d/end.r$i"; echo "$rc" >"$d/rc.r$i" ) &
  done
  # udp-sender must not start before its receivers are listening for its hello.
  case $sys in udp-*|pc-*) sleep 0.3 ;; esac
  tb_exec s "${to[@]}" -o "$d/time.s" "${snd[@]}" </dev/null >"$d/s.log" 2>&1 && echo 0 >"$d/rc.s" || echo $? >"$d/rc.s"
  wait
  # timeout(1) reaches its child, not always the grandchildren: udp-sender with --pipe
  # survived a timeout once and held the ports for the next run. Everything still
  # running in this testbed's namespaces was started by this run: end it by pid.
  local h left
  for h in "${TB_HOSTS[@]}"; do
    left=$(ip netns pids "$TB-$h" 2>/dev/null || true)
    if [ -n "$left" ]; then
      note="${note:+$note; }killed leftover pids in $h"
      kill -9 $left 2>/dev/null || true
    fi
  done
  tx1=$(tb_txbytes s) px1=$(tb_txpkts s)
  wall=$(cat "$d"/end.r* | awk -v s="$t0" 'BEGIN { m = 0 } { if ($1 - s > m) m = $1 - s } END { printf "%.2f", m }')
  for i in $(seq 1 "$n"); do
    if [ "$(hash_target "${TGT[$((i - 1))]}" "$size")" = "$expect" ]; then ok=$((ok + 1)); fi
  done
  # An independent check that the received filesystem is sound, not just equal to what we expect.
  case $wl in b|bz) e2fsck -fn "${TGT[0]}" >/dev/null 2>&1 || note="${note:+$note; }r1 e2fsck failed" ;; esac
  # /usr/bin/time puts "Command exited with non-zero status N" before its numbers.
  scpu=$(tail -n1 "$d/time.s" 2>/dev/null | awk '{ printf "%.2f", $2 + $3 }')
  rcpu=$(for f in "$d"/time.r*; do tail -n1 "$f"; done 2>/dev/null | awk '{ s += $2 + $3 } END { printf "%.2f", s }')
  [ "$(cat "$d/rc.s")" = 0 ] || note="${note:+$note; }sender exit $(cat "$d/rc.s")"
  [ "$(cat "$d/rc.s")" = 124 ] && note="${note}(timeout ${RUN_TIMEOUT}s)"
  drop_targets
  local row="$wl,$mib,$sys,$n,$mtu,$loss,$tk,$wall,$ok,$n,$((tx1 - tx0)),$((px1 - px0)),$scpu,$rcpu,$(cut -d' ' -f1 /proc/loadavg),$note"
  echo "$row" >>"$CSV"
  printf '  %-6s %5d MiB %-12s N=%-2d MTU=%-4d loss=%s%% %-5s %7ss %d/%d wire=%dMB cpu s/r=%s/%s %s\n' \
    "$wl" "$mib" "$sys" "$n" "$mtu" "$loss" "$tk" "$wall" "$ok" "$n" $(((tx1 - tx0) / 1000000)) "$scpu" "$rcpu" "$note" >&2
}

# blast N MTU SECONDS: appends the testbed's ceiling (slowest receiver's MB/s) to $CEIL_CSV.
blast() {
  local n=$1 mtu=$2 secs=$3 i d=$OUT/blast-n$1-m$2 size
  size=$((mtu - 28))
  rm -rf "$d"; mkdir -p "$d"
  bench_net "$n" "$mtu"
  set_loss 0
  for i in $(seq 1 "$n"); do tb_exec "r$i" $BIN/blaster recv -idle 1 -json "$d/r$i.json" >/dev/null & done
  sleep 0.5
  tb_exec s $BIN/blaster send -seconds "$secs" -size "$size" -json "$d/s.json" >/dev/null
  wait
  local smb rmin loss
  smb=$(grep -o '"MBps":[0-9.]*' "$d/s.json" | cut -d: -f2)
  rmin=$(cat "$d"/r*.json | grep -o '"MBps":[0-9.]*' | cut -d: -f2 | sort -g | head -1)
  loss=$(cat "$d"/r*.json | grep -o '"loss":[0-9.e-]*' | cut -d: -f2 | sort -g | tail -1)
  echo "$n,$mtu,$size,$smb,$rmin,$loss,$(cut -d' ' -f1 /proc/loadavg)" >>"$CEIL_CSV"
  printf '  blaster N=%-2d MTU=%-4d sent %.0f MB/s, slowest receiver %.0f MB/s (max loss %.2f%%)\n' \
    "$n" "$mtu" "$smb" "$rmin" "$(awk -v l="$loss" 'BEGIN { print l * 100 }')" >&2
}
