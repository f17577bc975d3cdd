#!/usr/bin/env bash
# The number to beat: what labs run today for an ext4 partition, Clonezilla/FOG's
# filesystem-aware pipeline over udpcast (Debian's partclone and udpcast),
#   partclone.ext4 -c | zstd -1 | udp-sender   ->   udp-receiver | zstd -d | partclone.ext4 -r
# beside raw udpcast with zstd and Discus, in one run on bench/testbed.sh's namespaces.
#   bash bench/clonezilla.sh                 512 MiB OS disk (b), N = 3 and 8, loss 0 and 1 %
#   CZ_B=2048 CZ_NS="3" CZ_LOSS="0" CZ_REPS=1 CZ_SYSTEMS="pc-saved discus" bash bench/clonezilla.sh
# Systems (bench/lib.sh run_one): pc-saved (a saved partclone+zstd image sent with
# udp-sender --file), pc-onfly (partclone piped at send time), udp-zstd (the raw disk
# through zstd), discus (a saved image), discus-onfly (mcsend images the disk while sending).
# Correct = equal to the system's own local restore (partclone onto zeros; mcimage extract).
# Writes bench/out/clonezilla/runs.csv and prints medians; copy it to bench/results/ to keep.
# Needs root; never touches the machine's own interfaces.
set -euo pipefail
main() {
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
bash scripts/install-deps.sh
need=()
command -v xxhsum >/dev/null || need+=(xxhash)
command -v partclone.ext4 >/dev/null || need+=(partclone)
command -v zstd >/dev/null || need+=(zstd)
[ -x /usr/bin/time ] || need+=(time)
if [ "${#need[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
OUT=bench/out/clonezilla
rm -rf "$OUT"; mkdir -p "$OUT"
BIN=$OUT/bin
CGO_ENABLED=0 go build -trimpath -o "$BIN/" ./cmd/... ./bench/blaster ./bench/fsexpect
IMGDIR=bench/cache/images-$(sha256sum "$BIN/mcimage" | cut -c1-12)
RUN_TIMEOUT=${RUN_TIMEOUT:-240}
UDP_RATE=none
B=${CZ_B:-512}
NS=(${CZ_NS:-3 8})
LOSSES=(${CZ_LOSS:-0 1})
REPS=${CZ_REPS:-2}
SYSTEMS=(${CZ_SYSTEMS:-pc-saved pc-onfly udp-zstd discus discus-onfly})
source bench/testbed.sh
source bench/lib.sh
CSV=$OUT/runs.csv
echo "$CSV_HEADER" >"$CSV"
trap 'testbed_down; drop_targets' EXIT
wb=$(bash bench/workloads.sh b "$B")
echo "== image sizes of the $B MiB OS disk" >&2
pc=$(partclone_image "$wb"); img=$(discus_image "$wb")
printf '  partclone.ext4 -c | zstd -1: %d bytes (%s s)\n  mcimage create: %d bytes (%s s)\n' \
  "$(stat -c %s "$pc")" "$(cut -d' ' -f1 "$pc.time")" "$(stat -c %s "$img")" "$(cut -d' ' -f1 "$img.time")" >&2
for n in "${NS[@]}"; do
  for l in "${LOSSES[@]}"; do
    for r in $(seq 1 "$REPS"); do
      echo "== N = $n, loss $l %, rep $r" >&2
      for sys in "${SYSTEMS[@]}"; do
        run_one "$sys" "$wb" "$n" 1500 "$l" tmpfs "rep $r"
      done
    done
  done
done
python3 - "$CSV" <<'PY'
import csv, statistics as st, sys
rows = list(csv.DictReader(open(sys.argv[1])))
keys = sorted({(r["n"], r["loss_pct"]) for r in rows}, key=lambda k: (int(k[0]), float(k[1])))
print("N loss | system        | wall s (median) | correct | wire MB | sender CPU s | receivers CPU s | vs pc-saved")
for n, l in keys:
    base = None
    for sys_ in ("pc-saved", "pc-onfly", "udp-zstd", "discus", "discus-onfly"):
        rs = [r for r in rows if r["n"] == n and r["loss_pct"] == l and r["system"] == sys_]
        if not rs: continue
        ok = sum(int(r["ok"]) for r in rs); tot = sum(int(r["n"]) for r in rs)
        w = st.median(float(r["wall_s"]) for r in rs)
        mb = st.median(int(r["wire_bytes"]) for r in rs) / 1e6
        sc = st.median(float(r["send_cpu_s"] or 0) for r in rs)
        rc = st.median(float(r["recv_cpu_s"] or 0) for r in rs)
        if sys_ == "pc-saved": base = w
        print(f"{n:>1} {l:>3}% | {sys_:<13} | {w:15.2f} | {ok:>3}/{tot:<3} | {mb:7.0f} | {sc:12.2f} | {rc:15.2f} | {w / base if base else float('nan'):.2f}")
PY
}
main "$@"
