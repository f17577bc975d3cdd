#!/usr/bin/env bash
# The partition-repository tables of seed 003 (Rauch et al.: Table 1 full
# images vs block-wise diff vs repository; Table 4 the cost of a localized
# copy) on the release series of bench/releases.sh, for block sizes 4, 16
# and 64 KiB. Builds the series first if missing (root, network).
# Output: bench/results/repo-DATE.md (the tables; bench/RESULTS.md quotes
# them) and the `mcimage repo ls` of the 16 KiB repository.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
bench/releases.sh
cache=${RELEASES_CACHE:-bench/cache/releases}
out=bench/results/repo-$(date -u +%Y-%m-%d).md
mkdir -p bench/results
{
  echo "# Partition repository on the bench/releases.sh series ($(date -u +%Y-%m-%dT%H:%MZ), $(git rev-parse --short HEAD))"
  echo
  echo "Series: $(ls "$cache"/*.img | xargs -n1 basename | tr '\n' ' ')(ext4, debootstrap minbase bookworm;"
  echo "update = apt-get upgrade from bookworm-security and bookworm-updates in place (12 packages);
upgrade = apt-get install ${UPGRADE_PKGS:-openssh-server python3 vim} in place; local-N = hostname, machine-id, ssh host keys, a user)."
  echo "MB = 10^6 bytes. Repository sizes are all bytes on disk (packs, recipes, catalog)."
  echo
} >"$out"
DISCUS_RELEASES=$PWD/$cache DISCUS_FIGURES_OUT=$PWD/$out.tables \
  go test -count=1 -timeout 60m -run '^TestReleaseFigures$' ./image/repo >/dev/null
cat "$out.tables" >>"$out"
rm -f "$out.tables"
# The listing a user sees, 16 KiB blocks.
go build -o bench/out/mcimage ./cmd/mcimage
r=$(mktemp -d)
bench/out/mcimage repo init "$r/repo" 2>/dev/null
bench/out/mcimage repo add --quiet "$r/repo" base "$cache/base.img"
for n in 1 2 3; do bench/out/mcimage repo add --quiet "$r/repo" "local-$n" "$cache/local-$n.img" --base base; done
bench/out/mcimage repo add --quiet "$r/repo" update "$cache/update.img" --base base
bench/out/mcimage repo add --quiet "$r/repo" upgrade "$cache/upgrade.img" --base base
{
  echo
  echo '`mcimage repo ls` (16 KiB blocks):'
  echo
  echo '```'
  bench/out/mcimage repo ls "$r/repo"
  echo '```'
} >>"$out"
rm -rf "$r"
echo "$out"
