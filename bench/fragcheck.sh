#!/usr/bin/env bash
# fragcheck.sh NAME: for every Discus run of bench/out/NAME, the sender interface's
# tx_packets (runs.csv wire_pkts) against mcsend's own datagram count (send.json
# transport.tx_packets). A ratio near 1.00 means no IP fragmentation; 2.00 means every
# datagram left as two frames. Also prints mcsend's mean datagram size.
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1
out=bench/out/$name
printf '| run | wire frames | mcsend datagrams | frames / datagram | mean datagram B |\n|---|---|---|---|---|\n'
tail -n +2 "$out/runs.csv" | while IFS=, read -r wl mib sys n mtu loss tk wall ok nt wb wp rest; do
  case $sys in discus*) ;; *) continue ;; esac
  j=$out/$wl-$mib-$sys-n$n-m$mtu-l$loss-$tk/send.json
  [ -f "$j" ] || continue
  # transport is the last object holding tx_packets/tx_bytes in send.json.
  tp=$(grep -o '"tx_packets": *[0-9]*' "$j" | tail -1 | grep -o '[0-9]*$')
  tb=$(grep -o '"tx_bytes": *[0-9]*' "$j" | tail -1 | grep -o '[0-9]*$')
  [ "${tp:-0}" -gt 0 ] || continue
  awk -v r="$wl $mib MiB $sys N=$n MTU $mtu loss $loss% $tk" -v wp="$wp" -v tp="$tp" -v tb="$tb" \
    'BEGIN { printf "| %s | %d | %d | %.3f | %.0f |\n", r, wp, tp, wp / tp, tb / tp }'
done
