#!/usr/bin/env bash
# The data path's targets (issue 11), in one run on a testbed whose veths cut and
# merge frames as NICs do (tb_wire_offloads) and whose loss is dropped per wire frame
# in the bridge (tb_drop_frames; never in a receiver's INPUT chain, which sees merged
# packets): see bench/OFFLOADS.md.
#   bash bench/dataplane.sh            1 GiB (a) and 512 MiB (b), N = 3 (and 1, 8)
#   DP_A=256 DP_B=512 DP_NS="1 8" bash bench/dataplane.sh   smaller
#   DP_BEFORE=main bash bench/dataplane.sh   also (a) with mcsend/mcrecv built from
#                                            that revision (discus-before), same run
#   DP_REPS=4 DP_B=0 ...                     (a) 4 times each (default 2), no (b)
# Writes bench/out/dataplane/{runs.csv,ceiling.csv} and prints the ratios; copy the
# CSVs to bench/results/dataplane-DATE-* to keep them.
# Needs root; never touches the machine's own interfaces.
set -euo pipefail
main() {
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
bash scripts/install-deps.sh
need=()
command -v xxhsum >/dev/null || need+=(xxhash)
[ -x /usr/bin/time ] || need+=(time)
if [ "${#need[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
OUT=bench/out/dataplane
rm -rf "$OUT"; mkdir -p "$OUT"
BIN=$OUT/bin
CGO_ENABLED=0 go build -trimpath -o "$BIN/" ./cmd/... ./bench/blaster
BEFORE=${DP_BEFORE:-}
if [ -n "$BEFORE" ]; then
  BEFORE_BIN=$(realpath "$OUT")/bin-before
  wt=$(mktemp -d)
  git worktree add -q --detach "$wt" "$BEFORE"
  (cd "$wt" && CGO_ENABLED=0 go build -trimpath -o "$BEFORE_BIN/" ./cmd/mcsend ./cmd/mcrecv)
  git worktree remove --force "$wt"
fi
IMGDIR=bench/cache/images-$(sha256sum "$BIN/mcimage" | cut -c1-12)
RUN_TIMEOUT=${RUN_TIMEOUT:-180}
A=${DP_A:-1024} B=${DP_B:-512}
NS=(${DP_NS:-1 8})
source bench/testbed.sh
source bench/lib.sh
CSV=$OUT/runs.csv CEIL_CSV=$OUT/ceiling.csv
echo "$CSV_HEADER" >"$CSV"
echo "n,mtu,mode,sent_MBps,recv_MBps_min,loss_max,load1" >"$CEIL_CSV"

# The testbed with NIC-like offloads, and loss per wire frame.
bench_net() {
  if [ "$CUR_N" = "$1" ] && [ "$CUR_MTU" = "$2" ]; then return; fi
  testbed_down
  testbed_up "$1" "$2"
  tb_wire_offloads
  CUR_N=$1 CUR_MTU=$2
}
set_loss() {
  local i
  ip netns exec "$TB-br" nft flush table bridge lossy 2>/dev/null || true
  [ "$1" = 0 ] && return
  for i in $(seq 1 "$CUR_N"); do tb_drop_frames "r$i" "$1"; done
}
# ceiling N MODE: the blaster's slowest receiver (MODE packet or offload).
ceiling() {
  local n=$1 mode=$2 i d=$OUT/blast-$2-n$1 sflag="" rflag=""
  [ "$mode" = offload ] && sflag=-gso rflag=-gro
  rm -rf "$d"; mkdir -p "$d"
  bench_net "$n" 1500; set_loss 0
  for i in $(seq 1 "$n"); do tb_exec "r$i" $BIN/blaster recv -idle 1 $rflag -json "$d/r$i.json" >/dev/null & done
  sleep 0.5
  tb_exec s $BIN/blaster send -seconds 4 -size 1464 $sflag -json "$d/s.json" >/dev/null
  wait
  python3 - "$d" "$n" "$mode" "$(cut -d' ' -f1 /proc/loadavg)" >>"$CEIL_CSV" <<'PY'
import json, sys
d, n, mode, load = sys.argv[1:5]
s = json.load(open(f"{d}/s.json"))
rs = [json.load(open(f"{d}/r{i}.json")) for i in range(1, int(n) + 1)]
print(f"{n},1500,{mode},{s['MBps']:.1f},{min(r['MBps'] for r in rs):.1f},{max(r['loss'] for r in rs):.4f},{load}")
PY
  tail -n1 "$CEIL_CSV" | awk -F, '{ printf "  blaster %-7s N=%s: slowest receiver %s MB/s\n", $3, $1, $5 }' >&2
}

wa=$(bash bench/workloads.sh a "$A")
wb=""; [ "$B" != 0 ] && wb=$(bash bench/workloads.sh b "$B")
echo "== ceilings (N = 3)"
ceiling 3 packet; ceiling 3 offload
echo "== (a) $A MiB incompressible, N = 3, 0 %"
for r in $(seq 1 "${DP_REPS:-2}"); do
  run_one discus "$wa" 3 1500 0 tmpfs "rep $r"
  run_one udp-default "$wa" 3 1500 0 tmpfs "rep $r"
  if [ -n "$BEFORE" ]; then run_one discus-before "$wa" 3 1500 0 tmpfs "rep $r $BEFORE"; fi
done
if [ -n "$wb" ]; then
echo "== (b) $B MiB OS disk, N = 3: 0 % and 5 % frame loss"
for r in 1 2; do
  run_one discus "$wb" 3 1500 0 tmpfs "rep $r"
  run_one discus "$wb" 3 1500 5 tmpfs "rep $r"
done
echo "== (b) N = ${NS[*]}"
for n in "${NS[@]}"; do
  ceiling "$n" offload
  run_one discus "$wb" "$n" 1500 0 tmpfs
done
fi
python3 - "$CSV" "$CEIL_CSV" "$A" <<'PY'
import csv, statistics as st, sys
rows = list(csv.DictReader(open(sys.argv[1])))
ceil = {(r["n"], r["mode"]): float(r["recv_MBps_min"]) for r in csv.DictReader(open(sys.argv[2]))}
def med(f, **k):
    v = [float(r[f]) for r in rows if all(r[a] == b for a, b in k.items()) and r["ok"] == r["n"]]
    return st.median(v) if v else float("nan")
a_mib = int(sys.argv[3])
wall = med("wall_s", workload="a", system="discus")
good = a_mib * 1.048576 / wall
print(f"(a) Discus goodput {good:.0f} MB/s = {good / ceil[('3', 'packet')]:.2f} x the per-packet blaster "
      f"({ceil[('3', 'packet')]:.0f}), {good / ceil[('3', 'offload')]:.2f} x the offload blaster ({ceil[('3', 'offload')]:.0f})")
gib = a_mib / 1024
for f, who in (("recv_cpu_s", "receivers (sum of 3)"), ("send_cpu_s", "sender")):
    d, u = med(f, workload="a", system="discus"), med(f, workload="a", system="udp-default")
    print(f"(a) {who}: Discus {d / gib:.2f} CPU s/GiB, udpcast {u / gib:.2f}: ratio {d / u:.2f}")
if any(r["system"] == "discus-before" for r in rows):
    bw = med("wall_s", workload="a", system="discus-before")
    bg = a_mib * 1.048576 / bw
    print(f"(a) before: goodput {bg:.0f} MB/s = {bg / ceil[('3', 'packet')]:.2f} x the per-packet blaster, "
          f"{bg / ceil[('3', 'offload')]:.2f} x the offload blaster")
    for f, who in (("recv_cpu_s", "receivers (sum of 3)"), ("send_cpu_s", "sender")):
        d, u = med(f, workload="a", system="discus-before"), med(f, workload="a", system="udp-default")
        print(f"(a) before, {who}: {d / gib:.2f} CPU s/GiB: ratio {d / u:.2f}")
if not any(r["workload"] == "b" for r in rows):
    sys.exit(0)
b0, b5 = med("wall_s", workload="b", system="discus", n="3", loss_pct="0"), med("wall_s", workload="b", system="discus", n="3", loss_pct="5")
print(f"(b) 5 % frame loss {b5:.2f} s vs 0 % {b0:.2f} s: {b5 / b0:.2f} x")
ns = sorted({r["n"] for r in rows if r["workload"] == "b"}, key=int)
lo, hi = ns[0], ns[-1]
t = {n: med("wall_s", workload="b", system="discus", n=n, loss_pct="0") for n in (lo, hi)}
print(f"(b) N = {lo} -> {hi}: {t[lo]:.2f} s -> {t[hi]:.2f} s, {t[hi] / t[lo]:.2f} x; offload blaster "
      f"{ceil.get((lo, 'offload'), float('nan')):.0f} -> {ceil.get((hi, 'offload'), float('nan')):.0f} MB/s")
PY
}
main "$@"
