#!/usr/bin/env bash
# report.sh MODE: Markdown tables from bench/results/MODE-*.csv to stdout,
# and bench/MODE-plot.png (gnuplot) from the same numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
mode=$1
dat=bench/out/$mode/plot
mkdir -p "$dat"
go run ./bench/report -results bench/results -mode "$mode" -dat "$dat"
nmib=$(awk -F, '$1 == "b" && $4 == 1 { print $2; exit }' "bench/results/$mode-runs.csv")
gnuplot -e "dir='$dat'; out='bench/$mode-plot.png'; nmib='${nmib:-?}'; title='Discus vs udpcast ($mode run, $(date -u +%F))'" bench/plot.gp
