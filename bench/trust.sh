#!/usr/bin/env bash
# The cost of --key and --trust (issue 10): the (b) OS disk sent to N = 3
# receivers at 0 % loss, plain and keyed runs alternating in one run.
#   bash bench/trust.sh            (root; ~30 s once the (b) workload is cached)
#   ROUNDS=12 KINDS="plain keyed key trust" bash bench/trust.sh   (~3.5 min; plain must be among KINDS)
# Env: ROUNDS=3 (runs of each kind), TRUST_SIZE=512|2048 (default: 2048 if
# bench/cache has it, else 512), RUN_TIMEOUT=60 (seconds per process),
# TRUST_PROFILE=1 (Go CPU profiles of the sender and r1: bench/out/trust/KIND-ROUND/*.prof),
# SEND_ARGS / RECV_ARGS (extra flags for mcsend / every mcrecv, e.g. -v),
# KINDS="plain keyed" (what each round runs, in order; also: key, trust):
#   plain:  mcimage create SRC plain.dsc;             mcsend plain.dsc          -> 3x mcrecv
#   keyed:  mcimage create --sign KEY SRC signed.dsc; mcsend --key K signed.dsc -> 3x mcrecv --key K --trust KEY.pub
#   key:    mcsend --key K plain.dsc -> 3x mcrecv --key K;  trust: mcsend signed.dsc -> 3x mcrecv --trust KEY.pub
# Builds the commands from the working tree (DSC_SRC=head: from the committed HEAD,
# as bench/run.sh does by default). Per run: wall s (launching the
# receivers to the last receiver's exit), CPU s (user+sys, /usr/bin/time) of the
# sender and of each receiver, wire bytes/packets on the sender's e0, and every
# target's xxh128 against `mcimage extract` of the image sent (plus e2fsck -fn on r1),
# and from the stats JSON the blocks sent and what receivers lost, deferred (a chunk
# waiting for its manifest piece) or dropped for want of room. The summary gives
# medians over all runs and over the clean ones (none of those three happened).
# Writes bench/results/trust-DATE.csv, trust-DATE-meta.txt and trust-DATE-summary.txt;
# logs, stats JSON and /usr/bin/time output in bench/out/trust/ (replaced each run).
# Never touches real interfaces: everything runs in the namespace testbed (198.18.0.0/24).
set -euo pipefail
main() {
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
ROUNDS=${ROUNDS:-3}
KINDS=(${KINDS:-plain keyed})
RUN_TIMEOUT=${RUN_TIMEOUT:-60}
N=3

echo "== dependencies"
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v xxhsum >/dev/null || need+=(xxhash)
command -v iptables >/dev/null || need+=(iptables)
command -v ssh-keygen >/dev/null || need+=(openssh-client)
[ -x /usr/bin/time ] || need+=(time)
if [ "${#need[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

OUT=bench/out/trust
rm -rf "$OUT"; mkdir -p "$OUT"
echo "== building Discus (${DSC_SRC:-worktree})"
BIN=$OUT/bin
mkdir -p "$BIN"
if [ "${DSC_SRC:-worktree}" = head ]; then
  commit=$(git rev-parse --short HEAD)
  src=$(mktemp -d)
  git archive HEAD | tar -x -C "$src"
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -o "$OLDPWD/$BIN/" ./cmd/...)
  rm -rf "$src"
else
  commit="$(git rev-parse --short HEAD)+worktree"
  CGO_ENABLED=0 go build -trimpath -o "$BIN/" ./cmd/...
fi

size=${TRUST_SIZE:-}
if [ -z "$size" ]; then size=512; [ -f bench/cache/b-2048.raw ] && size=2048; fi
echo "== workload b $size MiB (cached in bench/cache)"
src=$(bash bench/workloads.sh b "$size")

echo "== keys and images"
K=$OUT/keys
mkdir -p "$K"
ssh-keygen -q -t ed25519 -N '' -C discus-bench -f "$K/sign" >/dev/null
cp "$K/sign.pub" "$K/trusted"   # authorized_keys: the .pub line
head -c 32 /dev/urandom >"$K/group.key"
IMG=$OUT/img
mkdir -p "$IMG"
/usr/bin/time -f "%e %U %S" -o "$IMG/plain.time" $BIN/mcimage create --quiet "$src" "$IMG/plain.dsc"
/usr/bin/time -f "%e %U %S" -o "$IMG/signed.time" $BIN/mcimage create --quiet --sign "$K/sign" "$src" "$IMG/signed.dsc"
$BIN/mcimage verify --trust "$K/trusted" "$IMG/signed.dsc" >"$IMG/verify.log" 2>&1 \
  || { echo "mcimage verify --trust failed:"; cat "$IMG/verify.log"; exit 1; }
SHM=/dev/shm/dsctrust
mkdir -p "$SHM"
rm -f "$SHM/expected.raw"
$BIN/mcimage extract "$IMG/plain.dsc" "$SHM/expected.raw" >"$IMG/extract.log" 2>&1
exp_plain=$(xxhsum -H2 "$SHM/expected.raw" 2>/dev/null | cut -d' ' -f1)
rm -f "$SHM/expected.raw"
$BIN/mcimage extract --trust "$K/trusted" "$IMG/signed.dsc" "$SHM/expected.raw" >>"$IMG/extract.log" 2>&1
exp_signed=$(xxhsum -H2 "$SHM/expected.raw" 2>/dev/null | cut -d' ' -f1)
rm -f "$SHM/expected.raw"
[ "$exp_plain" = "$exp_signed" ] || echo "   note: plain and signed images extract to different disks"
for k in plain signed; do
  printf '   %-6s %s bytes, create %s s wall, %s CPU s\n' "$k" "$(stat -c %s "$IMG/$k.dsc")" \
    $(awk '{ printf "%s %.2f", $1, $2 + $3 }' "$IMG/$k.time")
done

source bench/testbed.sh
source bench/lib.sh   # bench_net, set_loss, targets, drop_targets, hash_target, tb_txpkts
stamp=$(date -u +%Y-%m-%d-%H%M%S)
CSV=$OUT/runs.csv
echo "round,kind,disk_mib,n,wall_s,ok,send_cpu_s,r1_cpu_s,r2_cpu_s,r3_cpu_s,recv_cpu_s,wire_bytes,wire_pkts,data_blocks,parity_blocks,recv_lost,recv_dups,recv_deferred,recv_window_drops,send_rc,load1_start,load1_end,note" >"$CSV"
{
  echo "name=trust-$stamp"
  echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit=$commit"
  if [ "${DSC_SRC:-worktree}" != head ]; then
    echo "worktree_changes=$(git status --short -- cmd mcast image fec internal | tr '\n' ' ')"
    echo "worktree_diff_sha256=$(git diff HEAD -- cmd mcast image fec internal | sha256sum | cut -c1-16)"
  fi
  echo "binaries=$(cd "$BIN" && sha256sum mcsend mcrecv mcimage | awk '{ printf "%s %s  ", $2, substr($1, 1, 12) }')"
  echo "kernel=$(uname -r)"
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') x $(nproc)"
  echo "workload=$src"
  echo "debroot=$(cat bench/cache/debroot.source)"
  for k in plain signed; do
    echo "image_$k=$(stat -c %s "$IMG/$k.dsc") bytes, create $(awk '{ printf "%s s wall %.2f CPU s", $1, $2 + $3 }' "$IMG/$k.time")"
  done
  echo "rounds=$ROUNDS kinds=${KINDS[*]} n=$N loss=0 mtu=1500 targets=tmpfs"
  echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/meta.txt"
t_start=$(date +%s)

echo "== runs: ${KINDS[*]} alternating, $ROUNDS each, N=$N, 0 % loss"
bench_net "$N" 1500
trap 'drop_targets; testbed_down' EXIT   # after testbed_up, which sets its own
set_loss 0
FAILED=0 KEEP=bench/out/trust-failed-$stamp
for r in $(seq 1 "$ROUNDS"); do
  for k in "${KINDS[@]}"; do trust_run "$r" "$k"; done
done

echo "elapsed_s=$(( $(date +%s) - t_start ))" >>"$OUT/meta.txt"
if [ "$FAILED" = 0 ]; then echo "failed_runs=0"; else echo "failed_runs=$FAILED (kept in $KEEP)"; fi >>"$OUT/meta.txt"
echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/meta.txt"
drop_targets; testbed_down; trap - EXIT

mkdir -p bench/results
cp "$CSV" "bench/results/trust-$stamp.csv"
cp "$OUT/meta.txt" "bench/results/trust-$stamp-meta.txt"
echo "== summary (medians of $ROUNDS runs of each kind; bench/results/trust-$stamp.csv)"
summary "$CSV" | tee "bench/results/trust-$stamp-summary.txt"
}

# trust_run ROUND plain|keyed|key|trust: one transfer; appends a row to $CSV.
trust_run() {
  local round=$1 kind=$2 d i t0 tx0 tx1 px0 px1 ok=0 wall scpu rc note="" l0 expect img
  d=$OUT/$kind-$round
  mkdir -p "$d"
  targets tmpfs "$N" 0
  local to=(timeout -k 5 "$RUN_TIMEOUT" /usr/bin/time -f "%e %U %S")
  local prof_s=() prof_r=()
  if [ -n "${TRUST_PROFILE:-}" ]; then
    prof_s=(env "DISCUS_CPUPROFILE=$d/s.prof") prof_r=(env "DISCUS_CPUPROFILE=$d/r1.prof")
  fi
  local snd=("${prof_s[@]}" $BIN/mcsend --interface e0 --nokbd --quiet --min-receivers "$N" --start-timeout 30
    --stats-json "$d/send.json")
  local rcv=($BIN/mcrecv --interface e0 --nokbd --quiet --start-timeout 30 --receive-timeout 30)
  case $kind in
    plain) img=$IMG/plain.dsc expect=$exp_plain ;;
    keyed) img=$IMG/signed.dsc expect=$exp_signed
      snd+=(--key "$K/group.key"); rcv+=(--key "$K/group.key" --trust "$K/trusted") ;;
    key) img=$IMG/plain.dsc expect=$exp_plain
      snd+=(--key "$K/group.key"); rcv+=(--key "$K/group.key") ;;
    trust) img=$IMG/signed.dsc expect=$exp_signed
      rcv+=(--trust "$K/trusted") ;;
    *) echo "unknown kind $kind" >&2; exit 2 ;;
  esac
  snd+=(${SEND_ARGS:-} "$img")
  rcv+=(${RECV_ARGS:-})
  l0=$(cut -d' ' -f1 /proc/loadavg)
  tx0=$(tb_txbytes s) px0=$(tb_txpkts s)
  t0=$(date +%s.%N)
  for i in $(seq 1 "$N"); do
    local pr=(); [ "$i" = 1 ] && pr=("${prof_r[@]}")
    ( rc=0
      tb_exec "r$i" "${to[@]}" -o "$d/time.r$i" "${pr[@]}" "${rcv[@]}" --stats-json "$d/r$i.json" "${TGT[$((i - 1))]}" \
        </dev/null >"$d/r$i.log" 2>&1 || rc=$?
      date +%s.%N >"$d/end.r$i"; echo "$rc" >"$d/rc.r$i" ) &
  done
  rc=0
  tb_exec s "${to[@]}" -o "$d/time.s" "${snd[@]}" </dev/null >"$d/s.log" 2>&1 || rc=$?
  echo "$rc" >"$d/rc.s"
  wait
  local h left
  for h in "${TB_HOSTS[@]}"; do
    left=$(ip netns pids "$TB-$h" 2>/dev/null || true)
    if [ -n "$left" ]; then note="${note:+$note; }killed leftover pids in $h"; kill -9 $left 2>/dev/null || true; fi
  done
  tx1=$(tb_txbytes s) px1=$(tb_txpkts s)
  wall=$(cat "$d"/end.r* | awk -v s="$t0" 'BEGIN { m = 0 } { if ($1 - s > m) m = $1 - s } END { printf "%.2f", m }')
  for i in $(seq 1 "$N"); do
    if [ "$(cat "$d/rc.r$i")" = 0 ] && [ "$(hash_target "${TGT[$((i - 1))]}" 0 2>/dev/null)" = "$expect" ]; then ok=$((ok + 1))
    else note="${note:+$note; }r$i exit $(cat "$d/rc.r$i")"; fi
  done
  e2fsck -fn "${TGT[0]}" >/dev/null 2>&1 || note="${note:+$note; }r1 e2fsck failed"
  [ "$rc" = 0 ] || note="${note:+$note; }sender exit $rc"
  # /usr/bin/time puts "Command exited with non-zero status N" before its numbers.
  # (empty when the process was killed: timeout(1) takes /usr/bin/time with it).
  cpu() { { tail -n1 "$1" 2>/dev/null || true; } | awk 'NF == 3 { printf "%.2f", $2 + $3 }'; }
  scpu=$(cpu "$d/time.s")
  local rc1 rc2 rc3 rsum
  rc1=$(cpu "$d/time.r1") rc2=$(cpu "$d/time.r2") rc3=$(cpu "$d/time.r3")
  rsum=$(awk -v a="$rc1" -v b="$rc2" -v c="$rc3" 'BEGIN { printf "%.2f", a + b + c }')
  # From the stats JSON: blocks sent, and what the receivers missed (a loss at 0 %
  # means a receiver fell behind; its first loss also costs it the FEC tables).
  jnum() { { cat "${@:2}" 2>/dev/null || true; } | tr -d ' \t\n' | { grep -o "\"$1\":[0-9]*" || true; } | awk -F: '{ s += $NF } END { print s + 0 }'; }
  local dblk pblk lost dups defer wdrop
  dblk=$(jnum data_blocks "$d/send.json") pblk=$(jnum parity_blocks "$d/send.json")
  lost=$(jnum lost_packets "$d"/r*.json) dups=$(jnum duplicate_blocks "$d"/r*.json) defer=$(jnum deferred_deliveries "$d"/r*.json)
  # dropped_packets.window: blocks of a chunk that found no room among the partial
  # chunks (a receiver holding chunks it cannot deliver yet).
  wdrop=$(jnum window "$d"/r*.json)
  drop_targets
  if [ "$ok" != "$N" ] || [ "$rc" != 0 ]; then
    FAILED=$((FAILED + 1))
    mkdir -p "$KEEP"; cp -r "$d" "$KEEP/"
    echo "   FAILED: kept in $KEEP/$(basename "$d"); sender: ${snd[*]}; receivers: ${rcv[*]}" >&2
  fi
  echo "$round,$kind,$(( $(stat -c %s "$src") / 1048576 )),$N,$wall,$ok,$scpu,$rc1,$rc2,$rc3,$rsum,$((tx1 - tx0)),$((px1 - px0)),$dblk,$pblk,$lost,$dups,$defer,$wdrop,$rc,$l0,$(cut -d' ' -f1 /proc/loadavg),$note" >>"$CSV"
  printf '  round %d %-5s %6ss %d/%d wire=%dMB/%dk pkts parity=%d lost=%d deferred=%d window-drops=%d cpu send=%s recv=%s/%s/%s load=%s %s\n' \
    "$round" "$kind" "$wall" "$ok" "$N" $(((tx1 - tx0) / 1000000)) $(((px1 - px0) / 1000)) "$pblk" "$lost" "$defer" "$wdrop" \
    "$scpu" "$rc1" "$rc2" "$rc3" "$l0" "$note" >&2
}

# summary CSV: medians per kind (failed runs left out), and each kind against plain: the ratio of the
# medians and the median of the per-round ratios (a round runs the kinds back to
# back). Then the same over the clean runs only: no receiver deferred a chunk, lost a
# packet or dropped a block for want of room (each of those makes the receivers
# build the GF(2^16) tables and often fetch blocks again, whatever the flags).
summary() {
  awk -F, '
    function med(a, n,   i, j, t) {
      for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
      return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
    }
    function table(c,   m, o, k, i, na, np, v, a, ns, head) {
      printf "  %-14s", c ? "clean median" : "median"
      for (o = 1; o <= nk; o++) printf " %8s", order[o]
      for (o = 1; o <= nk; o++) if (order[o] != "plain") printf " %15s %10s", order[o] "/plain", "per-round"
      printf "\n"
      for (m = 1; m <= 6; m++) {
        printf "  %-14s", names[m]
        for (o = 1; o <= nk; o++) {
          k = order[o]; delete a; na = 0
          for (i = 1; i <= n[k]; i++) if (c ? clean[k, i] : good[k, i]) a[++na] = X[m, k, i]
          v[k] = na ? med(a, na) : 0
          if (na) printf " %8.2f", v[k]; else printf " %8s", "-"
        }
        for (o = 1; o <= nk; o++) {
          k = order[o]; if (k == "plain") continue
          delete a; np = 0
          for (i = 1; i <= n[k] && i <= n["plain"]; i++)
            if ((c ? clean[k, i] && clean["plain", i] : good[k, i] && good["plain", i]) && X[m, "plain", i]) a[++np] = X[m, k, i] / X[m, "plain", i]
          if (v["plain"] && v[k]) printf " %15.3f", v[k] / v["plain"]; else printf " %15s", "-"
          if (np) printf " %10.3f", med(a, np); else printf " %10s", "-"
        }
        printf "\n"
      }
      if (c) {
        printf "  clean runs:"
        for (o = 1; o <= nk; o++) { k = order[o]; ns = 0; for (i = 1; i <= n[k]; i++) ns += clean[k, i]; printf " %s %d/%d", k, ns, n[k] }
        printf "\n"
      }
    }
    NR > 1 {
      k = $2; if (!(k in n)) order[++nk] = k
      n[k]++; i = n[k]
      X[1, k, i] = $5; X[2, k, i] = $7; X[3, k, i] = $11; X[4, k, i] = $7 + $11
      X[5, k, i] = $12 / 1e6; X[6, k, i] = $13 / 1e3
      good[k, i] = $6 == 3 && $20 == 0
      clean[k, i] = good[k, i] && $16 == 0 && $18 == 0 && $19 == 0
      ok[k] += $6; if (!good[k, i]) failed[k]++
      if ($16 > 0) lossy[k]++; if ($18 > 0) deferred[k]++; if ($19 > 0) wdrop[k]++
    }
    END {
      split("wall_s send_cpu_s recv_cpu_s(3) total_cpu_s wire_MB wire_kpkts", names, " ")
      table(0)
      for (o = 1; o <= nk; o++) {
        k = order[o]
        printf "  %-6s correct targets %d/%d, failed runs %d (left out above); runs where receivers lost packets %d, deferred chunks %d, dropped blocks for want of room %d\n",
          k, ok[k], 3 * n[k], failed[k] + 0, lossy[k] + 0, deferred[k] + 0, wdrop[k] + 0
      }
      table(1)
    }' "$1"
}
# All of it is parsed before it runs: editing this file during a run is safe.
main "$@"; exit $?
