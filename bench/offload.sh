#!/usr/bin/env bash
# The offload ceiling (issue 11): the per-packet blaster (sendmmsg/recvmmsg, one
# datagram per message, the reference of earlier runs) against the offload blaster
# (UDP GSO buffers out, UDP GRO reads in), on a testbed whose veths cut and merge
# frames as NICs do (tb_wire_offloads), at 0 % and with per-frame loss in the bridge.
#   bash bench/offload.sh [N receivers, default 3] [seconds, default 3]
# Prints one CSV line per run: mode,loss_pct,recv_MBps_min,loss_measured,sender_cpu_s,recv_cpu_s_max
# Needs root; never touches real interfaces (198.18.0.0/24 in private namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
bash scripts/install-deps.sh
N=${1:-3} SECS=${2:-3}
BIN=$(mktemp -d)
CGO_ENABLED=0 go build -trimpath -o "$BIN/" ./bench/blaster
source bench/testbed.sh
testbed_up "$N"
tb_wire_offloads
OUT=$(mktemp -d)
trap 'testbed_down; rm -rf "$BIN" "$OUT"' EXIT

# cpu PID: user+system seconds of a finished child, from GNU time's format.
run() {
  local mode=$1 pct=$2 sflag="" rflag="" i
  [ "$mode" = offload ] && sflag=-gso rflag=-gro
  ip netns exec "$TB-br" nft flush table bridge lossy 2>/dev/null || true
  if [ "$pct" != 0 ]; then for i in $(seq 1 "$N"); do tb_drop_frames "r$i" "$pct"; done; fi
  for i in $(seq 1 "$N"); do
    tb_exec "r$i" /usr/bin/time -f '%U %S' -o "$OUT/r$i.cpu" "$BIN/blaster" recv -iface e0 -idle 1 $rflag -json "$OUT/r$i.json" >/dev/null &
  done
  sleep 0.3
  tb_exec s /usr/bin/time -f '%U %S' -o "$OUT/s.cpu" "$BIN/blaster" send -iface e0 -size 1464 -seconds "$SECS" $sflag -json "$OUT/s.json" >/dev/null
  wait
  python3 - "$OUT" "$N" "$mode" "$pct" <<'PY'
import json, sys
out, n, mode, pct = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
cpu = lambda f: sum(map(float, open(f).read().split()[-2:]))
rs = [json.load(open(f"{out}/r{i}.json")) for i in range(1, n + 1)]
print(f"{mode},{pct},{min(r['MBps'] for r in rs):.1f},{max(r['loss'] for r in rs):.3f},"
      f"{cpu(out + '/s.cpu'):.2f},{max(cpu(f'{out}/r{i}.cpu') for i in range(1, n + 1)):.2f}")
PY
}
command -v /usr/bin/time >/dev/null || { export DEBIAN_FRONTEND=noninteractive; apt-get install -y -qq time >/dev/null; }
echo "mode,loss_pct,recv_MBps_min,loss_measured,sender_cpu_s,recv_cpu_s_max"
for pct in 0 10; do
  run packet "$pct"
  run offload "$pct"
done
