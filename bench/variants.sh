#!/usr/bin/env bash
# One-off experiment behind RESULTS.md's "Two fixes, tried": the committed Discus
# (bench/out/full/bin, from `bash bench/run.sh`) against two patched builds made
# from the same commit in /tmp/vbin1 (cmd/mcsend: block size MTU - 28 - 60) and
# /tmp/vbin2 (also: mcast/run_send.go starts without waiting for warmFEC).
# The patches are described in RESULTS.md; they are not part of the project.
set -uo pipefail
cd /work/main
source bench/testbed.sh
OUT=bench/out/variants CSV=bench/out/variants/runs.csv RUN_TIMEOUT=120 UDP_RATE=none DSC_RATE=800m
mkdir -p $OUT
source bench/lib.sh
trap 'drop_targets; testbed_down' EXIT
echo "$CSV_HEADER" > $CSV
for rep in 1 2; do
for w in bench/cache/a-1024.raw bench/cache/b-2048.raw; do
  BIN=bench/out/full/bin IMGDIR=bench/cache/images-$(sha256sum bench/out/full/bin/mcimage | cut -c1-12)
  run_one discus $w 3 1500 0 tmpfs "HEAD 2d9cf97 rep$rep"
  BIN=/tmp/vbin1; run_one discus $w 3 1500 0 tmpfs "variant: block size MTU-88 rep$rep"
  BIN=/tmp/vbin2; run_one discus $w 3 1500 0 tmpfs "variant: block size MTU-88 + no FEC wait rep$rep"
  BIN=bench/out/full/bin
  if [ $rep = 1 ]; then run_one udp-tuned $w 3 1500 0 tmpfs "reference rep$rep"; fi
done
done
