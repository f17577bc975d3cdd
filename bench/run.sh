#!/usr/bin/env bash
# Discus against udpcast on a private namespace testbed (issue 5).
#   bash bench/run.sh           the full run (~35 min on 2 cores)
#   bash bench/run.sh --quick   small sizes, N = 3, a few loss points (< 5 min once workloads are cached)
# Env: DSC_SRC=head (default: build Discus from the committed HEAD) or worktree;
#      BENCH_NAME=NAME writes bench/out/NAME, bench/results/NAME-*, bench/results/RESULTS-NAME.md (default: the mode).
# Writes bench/out/<mode>/*.csv and logs, then bench/results/<mode>-*.csv,
# bench/results/RESULTS-<mode>.md (the generated tables) and bench/<mode>-*.png.
# Needs root (network namespaces, iptables, losetup); never touches real interfaces.
set -euo pipefail
main() {
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
mode=full
[ "${1:-}" = --quick ] && mode=quick
# BENCH_NAME keeps a rerun's files apart from an earlier run's (default: the mode).
name=${BENCH_NAME:-$mode}

echo "== dependencies"
bash scripts/install-deps.sh
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v gnuplot >/dev/null || need+=(gnuplot-nox)
command -v xxhsum >/dev/null || need+=(xxhash)
if [ "${#need[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

OUT=bench/out/$name
rm -rf "$OUT"; mkdir -p "$OUT"
echo "== building Discus (${DSC_SRC:-head}) and the bench tools"
BIN=$OUT/bin
if [ "${DSC_SRC:-head}" = head ]; then
  commit=$(git rev-parse --short HEAD)
  # A copy outside the tree: a nested module under bench/ would confuse tools run over the repo.
  src=$(mktemp -d)
  git archive HEAD | tar -x -C "$src"
  mkdir -p "$BIN"
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -o "$OLDPWD/$BIN/" ./cmd/...)
  rm -rf "$src"
else
  commit="$(git rev-parse --short HEAD)+worktree"
  CGO_ENABLED=0 go build -trimpath -o "$BIN/" ./cmd/...
fi
CGO_ENABLED=0 go build -trimpath -o "$BIN/" ./bench/blaster ./bench/fsexpect
# Images depend only on the Discus build: key the cache by mcimage's hash.
IMGDIR=bench/cache/images-$(sha256sum "$BIN/mcimage" | cut -c1-12)

if [ "$mode" = quick ]; then
  A=128 B=512 NS=(1 3) RUN_TIMEOUT=45 BLAST_S=2 LOSSES=(0 5) RATES=(none)
else
  A=1024 B=2048 NS=(1 3 8 16) RUN_TIMEOUT=120 BLAST_S=4 LOSSES=(0 1 5) RATES=(none 500m 800m)
fi
SCALE_B=512 # time vs N uses the 512 MiB disk so that 16 receivers fit in tmpfs
DSC_RATE=${DSC_RATE:-800m}

echo "== workloads (cached in bench/cache)"
wa=$(bash bench/workloads.sh a "$A")
wb=$(bash bench/workloads.sh b "$B")
wbz=$(bash bench/workloads.sh bz "$B")
wc=$(bash bench/workloads.sh c "$B")
ws=$(bash bench/workloads.sh b "$SCALE_B")

source bench/testbed.sh
source bench/lib.sh
trap 'drop_targets; testbed_down' EXIT
CSV=$OUT/runs.csv CEIL_CSV=$OUT/ceiling.csv
echo "$CSV_HEADER" >"$CSV"
echo "n,mtu,payload,send_MBps,min_recv_MBps,max_loss,load1" >"$CEIL_CSV"
{
  echo "mode=$mode"
  echo "name=$name"
  echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit=$commit"
  echo "kernel=$(uname -r)"
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') x $(nproc)"
  echo "mem=$(free -g | awk '/Mem:/ {print $2}') GiB"
  echo "udpcast=$(dpkg-query -W -f '${Version}' udpcast 2>/dev/null)"
  echo "debroot=$(cat bench/cache/debroot.source)"
  echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/meta.txt"
t_start=$(date +%s)

echo "== ceiling: plain UDP multicast blaster"
for mtu in 1500 9000; do for n in "${NS[@]}"; do blast "$n" "$mtu" "$BLAST_S"; done; done

echo "== images (mcimage create, timed separately)"
echo "workload,disk_mib,create_wall_s,create_cpu_s,stored_bytes" >"$OUT/images.csv"
ws_img=("$ws"); [ "$ws" = "$wb" ] && ws_img=()
for w in "$wa" "$wb" "$wbz" "$wc" "${ws_img[@]}"; do
  img=$(discus_image "$w")
  echo "$(basename "${w%-*}"),$(( $(stat -c %s "$w") / 1048576 )),$(awk '{ printf "%s,%.2f", $1, $2 + $3 }' "$img.time"),$(stat -c %s "$img")" >>"$OUT/images.csv"
done

echo "== udpcast --max-bitrate sweep (workload a, N=3, MTU 1500, 0 % loss)"
best=none bestt=999999
for r in "${RATES[@]}"; do
  UDP_RATE=$r run_one udp-tuned "$wa" 3 1500 0 tmpfs "sweep $r"
  t=$(tail -1 "$CSV" | cut -d, -f8) ok=$(tail -1 "$CSV" | cut -d, -f9)
  if [ "$ok" = 3 ] && awk -v a="$t" -v b="$bestt" 'BEGIN { exit !(a < b) }'; then best=$r bestt=$t; fi
done
UDP_RATE=$best
echo "udp_rate=$UDP_RATE" >>"$OUT/meta.txt"
echo "   tuned udpcast: --max-bitrate $UDP_RATE"

echo "== (a) incompressible, N=3"
for mtu in 1500 9000; do
  ss=(udp-default udp-tuned discus discus-rate)
  # udpcast's block size tops out at 1456 bytes: jumbo frames change nothing for it.
  [ "$mode" = quick ] && [ "$mtu" = 9000 ] && ss=(discus)
  for s in "${ss[@]}"; do run_one "$s" "$wa" 3 "$mtu" 0 tmpfs; done
done

echo "== (b) used ext4, (c) GPT disk: N=3, MTU 1500, loss ${LOSSES[*]} %"
for l in "${LOSSES[@]}"; do
  ss=(udp-tuned udp-zstd discus discus-onfly discus-rate); [ "$l" != 0 ] && ss+=(udp-patient)
  for s in "${ss[@]}"; do run_one "$s" "$wb" 3 1500 "$l" tmpfs; done
done
cl=("${LOSSES[@]}"); [ "$mode" = quick ] && cl=(0)
for l in "${cl[@]}"; do
  for s in udp-tuned discus discus-onfly; do run_one "$s" "$wc" 3 1500 "$l" tmpfs; done
done
[ "$mode" = quick ] || run_one udp-default "$wb" 3 1500 0 tmpfs
[ "$mode" = quick ] || run_one discus "$wb" 3 9000 0 tmpfs
run_one discus-onfly "$wb" 3 9000 0 tmpfs

echo "== (b) with zeroed free space, N=3"
ss=(udp-tuned udp-zstd discus discus-onfly); [ "$mode" = quick ] && ss=(udp-zstd discus discus-onfly)
for s in "${ss[@]}"; do run_one "$s" "$wbz" 3 1500 0 tmpfs; done

echo "== receivers on loop block devices, (b), N=3"
ss=(udp-tuned discus discus-onfly); [ "$mode" = quick ] && ss=(discus-onfly)
for s in "${ss[@]}"; do run_one "$s" "$wb" 3 1500 0 loop; done

echo "== time vs N: (b) $SCALE_B MiB, MTU 1500, 0 % loss"
for n in "${NS[@]}"; do
  ss=(udp-tuned discus discus-onfly); [ "$mode" = quick ] && ss=(udp-tuned discus-onfly)
  for s in "${ss[@]}"; do run_one "$s" "$ws" "$n" 1500 0 tmpfs; done
done

echo "elapsed_s=$(( $(date +%s) - t_start ))" >>"$OUT/meta.txt"
echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/meta.txt"
drop_targets; testbed_down; trap - EXIT

echo "== results"
mkdir -p bench/results
cp "$CSV" "bench/results/$name-runs.csv"
cp "$CEIL_CSV" "bench/results/$name-ceiling.csv"
cp "$OUT/images.csv" "bench/results/$name-images.csv"
cp "$OUT/meta.txt" "bench/results/$name-meta.txt"
bash bench/report.sh "$name" >"bench/results/RESULTS-$name.md"
echo "== done: bench/results/RESULTS-$name.md, bench/results/$name-*.csv, bench/$name-plot.png"
}
# All of it is parsed before it runs: editing this file during a run is safe.
main "$@"; exit $?
