#!/usr/bin/env bash
# Second half of demo.sh: the transfer. MODE is "bridge" (root: a bridge
# namespace joining a sender and 3 receiver namespaces, r3 losing 2 % of
# its packets) or "loopback" (inside unshare -rn: everything on one
# namespace's loopback).
set -euo pipefail
mode=$1 work=$2
n=3
if [ "$mode" = bridge ]; then
  echo "== private testbed: bridge + sender + $n receiver namespaces, 198.18.0.0/24; r3 drops 2 % of its packets"
  source bench/testbed.sh
  testbed_up "$n"
  tb_drop r3 0.02
  on() { local h=$1; shift; tb_exec "$h" "$@"; }
  net=(--interface e0)
else
  ip link set lo up
  ip link set lo multicast on
  ip route add 224.0.0.0/4 dev lo
  on() { shift; "$@"; }
  net=()
fi

echo "== sending to $n receivers"
start=$(date +%s.%N)
pids=()
for i in $(seq 1 "$n"); do
  on "r$i" bin/mcrecv "${net[@]}" --nokbd --quiet --start-timeout 30 --receive-timeout 30 \
    --stats-json "$work/r$i.json" "$work/r$i.raw" &
  pids+=($!)
done
on s bin/mcsend "${net[@]}" --nokbd --progress --min-receivers "$n" --start-timeout 30 \
  --stats-json "$work/send.json" "$work/disk.dsc"
status=0
for i in $(seq 1 "$n"); do
  if wait "${pids[$((i - 1))]}"; then :; else echo "receiver r$i exited $?"; status=1; fi
done
end=$(date +%s.%N)

echo "== verifying"
for i in $(seq 1 "$n"); do
  if cmp -s "$work/expected.raw" "$work/r$i.raw" && e2fsck -fn "$work/r$i.raw" >/dev/null 2>&1; then
    echo "   r$i: byte-identical to the image's disk, e2fsck clean"
  else
    echo "   r$i: MISMATCH"; status=1
  fi
done
stored=$(stat -c %s "$work/disk.dsc")
disk=$(stat -c %s "$work/expected.raw")
awk -v s="$start" -v e="$end" -v b="$stored" -v d="$disk" -v n="$n" 'BEGIN {
  t = e - s
  printf "== %d receivers got a %.0f MiB disk (%.1f MiB image) in %.2f s: %.1f MiB/s of disk, %.1f MiB/s on the wire\n",
    n, d / 1048576, b / 1048576, t, d / 1048576 / t, b / 1048576 / t }'
grep -h '"parity_blocks"\|"repair_bytes"\|"request_packets"' "$work/send.json" | tr -d ' ,' | head -3 | sed 's/^/   sender /'
if [ "$status" -eq 0 ]; then echo "== demo OK"; else echo "== demo FAILED"; fi
exit "$status"
