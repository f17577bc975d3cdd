#!/usr/bin/env bash
# Issue 12's incremental-session figures on the Debian release series of
# bench/releases.sh (base = debootstrap minbase bookworm ext4): for update,
# upgrade and local-1 against base, 16 KiB blocks, filesystem-aware images as
# `mcimage create` makes them by default (1 MiB chunks, zstd level 1):
#
#  1. the full image, the increment (mcimage create --base) and the zstd size
#     of the blocks the base lacks (target: increment <= 1.1 x that);
#  2. one incremental multicast session (mcsend --base) to 3 receivers whose
#     targets are copies of base.img (target: sender's wire bytes <= 1.1 x the
#     increment; bytes written per target <= 1.1 x the changed blocks' bytes);
#  3. for the upgrade, mixed sessions: a base holder, an empty target and a
#     drifted target (base.img with random 4 KiB blocks overwritten), one
#     session per drift in $DRIFTS (default 64 and 2000 blocks).
#
# Every target must end byte-identical (cmp, whole file) to what
# `mcimage extract --base base.dsc inc.dsc` makes on a copy of the same
# starting content (gaps are left as they were, as mcrecv leaves them), and
# pass e2fsck -fn.
#
# Sessions run in a private network namespace (unshare -rn) with multicast
# on its loopback only: nothing reaches a real interface. One session at a
# time. Needs root (bench/releases.sh), python3, zstd, e2fsck.
#
# Output ($OUT, default bench/results/incr-DATE): .md (tables), .csv (one row per
# target per session), .log (raw: image info, reference figures, every stats JSON).
#
# How the reference figures are computed (the Python helper below): the new
# disk's used ranges are the allocated ranges of `mcimage extract --base`
# onto a fresh file (it writes every used byte, zeros too, and leaves gaps
# as holes); the base's used bytes are those of `mcimage extract base.dsc`.
# A 16 KiB block of the new disk is "lacked" when its content (used bytes,
# the rest zero) equals no block of the base anywhere; the lacked blocks'
# used bytes, concatenated, are compressed with the zstd CLI at the image's
# level, as one stream (and, as the image frames them, in 1 MiB frames).
# A block is "changed" when the extraction onto a copy of base.img differs
# from base.img in it; the changed blocks' bytes are their used bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
[ "$(id -u)" -eq 0 ] || { echo "incr-figures.sh: needs root (bench/releases.sh)" >&2; exit 1; }
for c in python3 zstd e2fsck unshare cmp; do
  command -v "$c" >/dev/null || { echo "incr-figures.sh: $c missing (scripts/install-deps.sh)" >&2; exit 1; }
done
bench/releases.sh 2>/dev/null
cache=${RELEASES_CACHE:-bench/cache/releases}
NEWS=${NEWS:-update upgrade local-1}
# 4 KiB blocks overwritten on the drifted target (half anywhere, half in the
# base's used data), one mixed session each.
DRIFTS=${DRIFTS:-64 2000}
AVOID_ZERO_SKIP=${AVOID_ZERO_SKIP:-1}
go build -o bench/out/ ./cmd/mcimage ./cmd/mcsend ./cmd/mcrecv
bin=$PWD/bench/out
day=$(date -u +%Y-%m-%d)
res=${OUT:-bench/results/incr-$day}   # .md, .csv, .log
mkdir -p "$(dirname "$res")"
w=$(mktemp -d "${TMPDIR:-/tmp}/incr-figures.XXXXXX")
trap 'rm -rf "$w"' EXIT
py=$w/incr.py
cat >"$py" <<'PY'
# bench/incr-figures.sh's helper (written to its work directory).
import hashlib, json, os, random, subprocess, sys

BS = 16384

def regions(path):
    """The allocated (data) ranges of a sparse file, as (off, end)."""
    out = []
    with open(path, 'rb') as f:
        fd, size, off = f.fileno(), os.fstat(f.fileno()).st_size, 0
        while off < size:
            try:
                s = os.lseek(fd, off, os.SEEK_DATA)
            except OSError:
                break
            e = os.lseek(fd, s, os.SEEK_HOLE)
            out.append((s, e))
            off = e
    return out

def per_block(rs):
    """{block index: [(off, end) used within it]}, in order."""
    bl = {}
    for s, e in rs:
        while s < e:
            k = s // BS
            t = min(e, (k + 1) * BS)
            bl.setdefault(k, []).append((s, t))
            s = t
    return bl

def read(f, off, n):
    f.seek(off)
    b = f.read(n)
    return b + bytes(n - len(b))

def zsize(data, level):
    return len(subprocess.run(['zstd', '-q', '-c', '-%d' % level], input=data, stdout=subprocess.PIPE, check=True).stdout)

def analyze(base_used, new_used, base_raw, want, lacked_out, level):
    level = int(level)
    have = set()
    with open(base_used, 'rb') as f:
        for k in per_block(regions(base_used)):
            have.add(hashlib.sha256(read(f, k * BS, BS)).digest())
    used = blocks = lb = lbytes = cb = cbytes = 0
    with open(new_used, 'rb') as nf, open(base_raw, 'rb') as bf, open(want, 'rb') as wf, open(lacked_out, 'wb') as lo:
        for k, rs in per_block(regions(new_used)).items():
            n = sum(e - s for s, e in rs)
            used += n
            blocks += 1
            blk = read(nf, k * BS, BS)
            if hashlib.sha256(blk).digest() not in have:
                lb += 1
                lbytes += n
                for s, e in rs:
                    lo.write(blk[s - k * BS:e - k * BS])
            if read(wf, k * BS, BS) != read(bf, k * BS, BS):
                cb += 1
                cbytes += n
    with open(lacked_out, 'rb') as f:
        data = f.read()
    z = zsize(data, level)
    z1 = sum(zsize(data[i:i + (1 << 20)], level) for i in range(0, len(data), 1 << 20))
    print('used=%d blocks=%d lacked_blocks=%d lacked_bytes=%d lacked_zstd=%d lacked_zstd_1m=%d changed_blocks=%d changed=%d'
          % (used, blocks, lb, lbytes, z, z1, cb, cbytes))

def needed(start, want, new_used):
    """Used bytes of the new disk's blocks in which WANT differs from START
    (what a receiver starting on START must change; all of them when START
    is empty)."""
    n = 0
    with open(start, 'rb') as sf, open(want, 'rb') as wf:
        empty = os.fstat(sf.fileno()).st_size == 0
        for k, rs in per_block(regions(new_used)).items():
            if empty or read(wf, k * BS, BS) != read(sf, k * BS, BS):
                n += sum(e - s for s, e in rs)
    print(n)

def drift(path, base_used, n, seed):
    n, rng = int(n), random.Random(int(seed))
    size = os.path.getsize(path)
    rs = [r for r in regions(base_used) if r[1] - r[0] >= 4096]
    tot = sum(e - s for s, e in rs)
    inused = 0
    with open(path, 'r+b') as f:
        for i in range(n):
            if i % 2 == 0:
                off = rng.randrange(size // 4096) * 4096
            else:
                x = rng.randrange(tot)
                for s, e in rs:
                    if x < e - s:
                        off = (s + x) // 4096 * 4096
                        break
                    x -= e - s
                inused += 1
            f.seek(off)
            f.write(rng.randbytes(4096))
    print('drift: %d random 4 KiB blocks overwritten, %d of them in the base\'s used data' % (n, inused))

def load(p):
    with open(p) as f:
        return json.load(f)

def row(release, tag, target, start, sj, rj, incsize, changed, c, e):
    # changed: the bytes the target had to change (needed above).
    s, r = load(sj), load(rj)
    sent, tx = s['sender']['sent_bytes'], s['transport']['tx_bytes']
    written, changed, incsize = r['install']['written_bytes'], int(changed), int(incsize)
    print(','.join(str(x) for x in [release, tag.rsplit('-', 1)[1], target, start, sent, tx, incsize, '%.3f' % (sent / incsize),
        r['receiver']['delivered_bytes'], r['image_bytes'], r['transport']['rx_bytes'], r['resume']['held_chunks'],
        r['install']['total_chunks'], written, changed, '%.3f' % (written / changed if changed else 0),
        '%.2f' % r['resume']['hash_seconds'], '%.1f' % r['elapsed_seconds'], c, e]))

def logjson(*paths):
    for p in paths:
        print(os.path.basename(p), json.dumps(load(p), separators=(',', ':')))

def mb(n):
    print('%.2f' % (int(n) / 1e6))

def report(sizes, csvp, logp, basesize, level, stamp):
    f = lambda n: '%.2f' % (int(n) / 1e6)
    print('# Incremental images and sessions on the bench/releases.sh series (%s)\n' % stamp)
    print('base = debootstrap minbase bookworm, ext4 of 1536 MiB (base.dsc %s MB); update = apt-get upgrade from '
          'bookworm-security and bookworm-updates in place; upgrade = + openssh-server python3 vim in place; '
          'local-1 = hostname, machine-id, ssh host keys, a user. Images as `mcimage create` makes them by default: '
          'filesystem-aware, 16 KiB blocks, 1 MiB chunks, zstd level %s. MB = 10^6 bytes. '
          'Made by bench/incr-figures.sh; raw figures in the .csv and .log beside this file. "creates": how many times '
          '`mcimage create --base` ran to get an increment whose chunks drop no zero bytes (AVOID_ZERO_SKIP; '
          'such an increment is refused by receivers: incr-2026-12-02-failure.md).\n' % (f(basesize), level))
    print('| new release | full image MB | increment MB | lacked blocks | lacked blocks zstd MB (one stream; 1 MiB frames) '
          '| increment / lacked zstd (target ≤ 1.1) | of which the block map MB | (increment − map) / lacked zstd '
          '| the increment\'s own stored blocks MB | increment / them | increment / full | changed blocks | changed blocks MB '
          '| zero bytes dropped from its chunks (creates) |')
    print('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    for line in open(sizes):
        rel, full, inc, lb, lbytes, z, z1, cb, cbytes, used, mp, sto, zs, cr = line.strip().split(',')
        print('| %s | %s | %s | %s (%s MB) | %s; %s | %.3f (%.3f) | %s | %.3f | %s | %.3f | %.1f %% | %s | %s | %s (%s) |' % (rel, f(full),
              f(inc), lb, f(lbytes), f(z), f(z1), int(inc) / int(z), int(inc) / int(z1), f(mp), (int(inc) - int(mp)) / int(z),
              f(sto), int(inc) / int(sto), 100 * int(inc) / int(full), cb, f(cbytes), zs, cr))
    print('\nSessions (`mcsend --base base.dsc INC.dsc`, one per row group, in `unshare -rn` on loopback multicast, '
          'default rate control). sent = the sender\'s protocol bytes (`sender.sent_bytes`); received = chunk bytes '
          'the receiver took (`receiver.delivered_bytes`); written = `install.written_bytes`; to change = the used bytes of the '
          'new disk\'s 16 KiB blocks that differ on the target at the start (the changed blocks for a base holder; all used '
          'bytes for an empty target). Every target was compared '
          'whole (cmp) with `mcimage extract --base` onto a copy of its starting content, and checked with e2fsck -fn.\n')
    print('| new release | session | target (start) | sent MB | sent / increment (target ≤ 1.1) | received MB | held chunks '
          '| to change MB | written MB | written / to change (target ≤ 1.1) | hash s | cmp | e2fsck |')
    print('| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |')
    rows = list(open(csvp))[1:]
    for line in rows:
        (rel, ses, tgt, st, sent, tx, inc, spi, dl, ib, rx, held, tot, wr, ch, wpc, hs, el, c, e) = line.strip().split(',')
        print('| %s | %s | %s (%s) | %s | %s | %s | %s / %s | %s | %s | %s | %s | %s | %s |' % (rel, ses, tgt, st, f(sent), spi, f(dl),
              held, tot, f(ch), f(wr), wpc, hs, c, e))
    # The sender's side of each session, from the stats JSON in the log.
    snd, rcv = {}, {}
    for line in open(logp):
        name, _, js = line.partition(' ')
        if name.endswith('.json') and js.startswith('{'):
            tag, _, who = name[:-5].rpartition('-')
            if who == 's':
                snd[tag] = json.loads(js)
            else:
                rcv.setdefault(tag, []).append(json.loads(js))
    print('\nThe sender\'s side: data blocks it sent vs the most any one receiver took (`receiver.new_blocks`), parity '
          'blocks, packets lost (sum over receivers) and the session\'s length.\n')
    print('| session | sent MB | data blocks sent | most new blocks one receiver took | parity blocks | packets lost | mcsend s |')
    print('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
    for tag, d in snd.items():
        s, rs = d['sender'], rcv.get(tag, [])
        print('| %s | %s | %d | %d | %d | %d | %.1f |' % (tag, f(s['sent_bytes']), s['data_blocks'],
              max((r['receiver']['new_blocks'] for r in rs), default=0), s['parity_blocks'],
              sum(r['receiver']['lost_packets'] for r in rs), d['elapsed_seconds']))

if __name__ == '__main__':
    cmd, args = sys.argv[1], sys.argv[2:]
    {'analyze': analyze, 'needed': needed, 'drift': drift, 'row': row, 'log': logjson, 'mb': mb, 'report': report}[cmd](*args)
PY
log=$res.log csv=$res.csv md=$res.md
: >"$log"
echo "release,session,target,start,sent_bytes,tx_bytes,increment_bytes,sent_per_increment,delivered_bytes,image_bytes,rx_bytes,held_chunks,total_chunks,written_bytes,to_change_bytes,written_per_to_change,hash_s,elapsed_s,cmp,e2fsck" >"$csv"
say() { echo "$*" | tee -a "$log" >&2; }
# The image's zstd level: as mcimage create chose it.
level_of() { "$bin/mcimage" info "$1" | sed -n 's/^codec: *zstd level \([0-9]*\).*/\1/p'; }

# session TAG TARGET...: mcsend --base $w/base.dsc $w/$inc.dsc to one mcrecv
# per TARGET in a private namespace; stats in $w/TAG-s.json, $w/TAG-rN.json.
session() {
  local tag=$1; shift
  unshare -rn env BIN="$bin" W="$w" TAG="$tag" INC="$w/$inc.dsc" sh -c '
    ip link set lo up; ip link set lo multicast on; ip route add 224.0.0.0/4 dev lo
    i=0 pids=
    for t in "$@"; do
      i=$((i + 1))
      "$BIN/mcrecv" --quiet --start-timeout 300 --receive-timeout 300 --stats-json "$W/$TAG-r$i.json" "$t" &
      pids="$pids $!"
    done
    rc=0
    "$BIN/mcsend" --quiet --min-receivers $# --start-timeout 300 --stats-json "$W/$TAG-s.json" \
      --base "$W/base.dsc" "$INC" || rc=$?
    for p in $pids; do wait "$p" || rc=$?; done
    exit $rc' sh "$@"
}

# check TAG STARTS NEEDS TARGET...: cmp and e2fsck of every target of session
# TAG against its wanted disk ($w/TAG-wantN); appends the CSV rows. STARTS and
# NEEDS: comma lists, per target, of what it held at the start and of the
# bytes it had to change.
check() {
  local tag=$1 starts=$2 needs=$3 i=0 t st c e
  shift 3
  for t in "$@"; do
    i=$((i + 1))
    st=$(echo "$starts" | cut -d, -f$i)
    nd=$(echo "$needs" | cut -d, -f$i)
    if cmp -s "$t" "$w/$tag-want$i"; then c=equal; else c=DIFFERENT failed=$((failed + 1)); fi
    if e2fsck -fn "$t" >"$w/fsck.out" 2>&1; then e=clean; else e=ERRORS failed=$((failed + 1)); cat "$w/fsck.out" >>"$log"; fi
    python3 "$py" row "$release" "$tag" "$(basename "$t")" "$st" "$w/$tag-s.json" "$w/$tag-r$i.json" \
      "$incsize" "$nd" "$c" "$e" >>"$csv"
    say "  $tag $(basename "$t") ($st): cmp $c, e2fsck $e"
  done
  python3 "$py" log "$w/$tag-s.json" "$w/$tag"-r*.json >>"$log"
}

failed=0
say "incr-figures $(date -u +%Y-%m-%dT%H:%MZ) $(git rev-parse --short HEAD); $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin/mcimage" create --quiet "$cache/base.img" "$w/base.dsc"
"$bin/mcimage" extract "$w/base.dsc" "$w/base-used" 2>/dev/null
level=$(level_of "$w/base.dsc")
basesize=$(stat -c %s "$w/base.dsc")
say "base.dsc: $basesize bytes, zstd level $level"
declare -A full incsz lack lackf chg
for release in $NEWS; do
  inc=$release
  "$bin/mcimage" create --quiet "$cache/$release.img" "$w/$release-full.dsc"
  "$bin/mcimage" create --quiet --base "$w/base.dsc" "$cache/$release.img" "$w/$inc.dsc"
  # An increment whose chunks dropped a zero run inside a literal block is
  # refused by every receiver (bench/results/incr-2026-12-02-failure.md);
  # whether the cutter drops one changes from run to run. With
  # AVOID_ZERO_SKIP=1 (the default) the increment is made again, up to 10
  # times, until it drops none, and the tables say how many it took.
  creates=1
  while [ "$AVOID_ZERO_SKIP" = 1 ] && [ "$creates" -lt 10 ] &&
    [ "$("$bin/mcimage" info "$w/$inc.dsc" | sed -n 's/^skipped: *\([0-9]*\) zero.*/\1/p')" != 0 ]; do
    say "$release: the increment's chunks dropped zero bytes; making it again"
    "$bin/mcimage" create --quiet --base "$w/base.dsc" "$cache/$release.img" "$w/$inc.dsc"
    creates=$((creates + 1))
  done
  "$bin/mcimage" info "$w/$inc.dsc" >"$w/info"
  cat "$w/info" >>"$log"
  mapbytes=$(sed -n 's/^block map: .* \([0-9]*\) bytes$/\1/p' "$w/info")
  stored=$(sed -n 's/^stored bytes: *\([0-9]*\) .*/\1/p' "$w/info")
  # Zero runs the cutter dropped from the increment's chunks (it varies from
  # run to run: job cuts follow the observed compression ratio).
  zeros=$(sed -n 's/^skipped: *\([0-9]*\) zero.*/\1/p' "$w/info")
  # What the increment rebuilds, on a fresh file (its used ranges) and on base.img.
  "$bin/mcimage" extract --base "$w/base.dsc" "$w/$inc.dsc" "$w/new-used" 2>>"$log"
  cp --sparse=always "$cache/base.img" "$w/want-onbase"
  "$bin/mcimage" extract --base "$w/base.dsc" "$w/$inc.dsc" "$w/want-onbase" 2>>"$log"
  eval "$(python3 "$py" analyze "$w/base-used" "$w/new-used" "$cache/base.img" "$w/want-onbase" "$w/lacked" "$level")"
  echo "$release: new used $used B in $blocks blocks; lacked $lacked_blocks blocks, $lacked_bytes B, zstd $lacked_zstd B ($lacked_zstd_1m B in 1 MiB frames); changed $changed_blocks blocks, $changed B" >>"$log"
  rm -f "$w/lacked"
  full[$release]=$(stat -c %s "$w/$release-full.dsc")
  incsize=$(stat -c %s "$w/$inc.dsc")
  incsz[$release]=$incsize lack[$release]=$lacked_zstd lackf[$release]=$lacked_zstd_1m chg[$release]=$changed
  echo "$release,${full[$release]},$incsize,$lacked_blocks,$lacked_bytes,$lacked_zstd,$lacked_zstd_1m,$changed_blocks,$changed,$used,$mapbytes,$stored,$zeros,$creates" >>"$w/sizes.csv"
  say "$release: full $(python3 "$py" mb "${full[$release]}") MB, increment $(python3 "$py" mb "$incsize") MB, lacked blocks zstd $(python3 "$py" mb "$lacked_zstd") MB, changed $(python3 "$py" mb "$changed") MB"

  # 3 base holders.
  tg=()
  for i in 1 2 3; do
    cp --sparse=always "$cache/base.img" "$w/holder$i"
    ln -f "$w/want-onbase" "$w/$release-3h-want$i"
    tg+=("$w/holder$i")
  done
  say "$release: session to 3 base holders"
  rc=0; session "$release-3h" "${tg[@]}" 2>>"$log" || rc=$?
  [ "$rc" -eq 0 ] || { say "  session exit $rc"; failed=$((failed + 1)); }
  check "$release-3h" base,base,base "$changed,$changed,$changed" "${tg[@]}"
  rm -f "${tg[@]}"

  if [ "$release" = upgrade ]; then
    # Mixed: a base holder, an empty target, a drifted one (one session per
    # drift in $DRIFTS).
    for d in $DRIFTS; do
      tag=$release-mixed$d
      cp --sparse=always "$cache/base.img" "$w/holder"
      ln -f "$w/want-onbase" "$w/$tag-want1"
      : >"$w/empty"
      ln -f "$w/new-used" "$w/$tag-want2"
      cp --sparse=always "$cache/base.img" "$w/drifted"
      python3 "$py" drift "$w/drifted" "$w/base-used" "$d" 12 >>"$log"
      cp --sparse=always "$w/drifted" "$w/$tag-want3"
      "$bin/mcimage" extract --base "$w/base.dsc" "$w/$inc.dsc" "$w/$tag-want3" 2>>"$log"
      nd=$changed,$(python3 "$py" needed "$w/empty" "$w/new-used" "$w/new-used"),$(python3 "$py" needed "$w/drifted" "$w/$tag-want3" "$w/new-used")
      say "$release: mixed session (base holder, empty, drifted: $d random 4 KiB blocks)"
      rc=0; session "$tag" "$w/holder" "$w/empty" "$w/drifted" 2>>"$log" || rc=$?
      [ "$rc" -eq 0 ] || { say "  session exit $rc"; failed=$((failed + 1)); }
      check "$tag" base,empty,"drift $d" "$nd" "$w/holder" "$w/empty" "$w/drifted"
      rm -f "$w/holder" "$w/empty" "$w/drifted" "$w/$tag-want"*
    done
  fi
  rm -f "$w/new-used" "$w/want-onbase" "$w/$release"-*-want* "$w/$release-full.dsc"
done

python3 "$py" report "$w/sizes.csv" "$csv" "$log" "$basesize" "$level" \
  "$(date -u +%Y-%m-%dT%H:%MZ) $(git rev-parse --short HEAD)" >"$md"
if [ "$failed" -gt 0 ]; then
  printf '\n**FAILED: %d session exits or target checks failed** (see the .log).\n' "$failed" >>"$md"
fi
cat "$md"
echo "$md $csv $log" >&2
[ "$failed" -eq 0 ]
