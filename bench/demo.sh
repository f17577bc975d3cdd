#!/usr/bin/env bash
# The Discus demo: builds the tools, makes a real ext4 filesystem from a
# directory tree on a "used" disk (free space full of old random bytes),
# turns it into a filesystem-aware image, multicasts it to 3 receivers in
# private network namespaces (one of them losing 2 % of its packets), and
# verifies every received disk. It installs what it needs and never touches
# the machine's real interfaces.
#   bash bench/demo.sh            (as root: a bridge with 4 namespaces)
#   DEMO_MB=512 bash bench/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
bash scripts/install-deps.sh
echo "== building"
CGO_ENABLED=0 go build -o bin/ ./cmd/...
work=bench/out/demo
rm -rf "$work"; mkdir -p "$work"
mb=${DEMO_MB:-256}
tree=${DEMO_TREE:-/usr/share/doc}

echo "== a used ${mb} MiB disk holding an ext4 filesystem of $tree"
head -c "${mb}M" /dev/urandom >"$work/disk.raw"
mkfs.ext4 -q -F -E nodiscard -d "$tree" "$work/disk.raw" 2>&1 | grep -v "^$" || true
bin/mcimage create "$work/disk.raw" "$work/disk.dsc"
bin/mcimage info "$work/disk.dsc" | sed 's/^/   /'
# The disk every receiver must end with: the image installed locally.
bin/mcimage extract "$work/disk.dsc" "$work/expected.raw" >/dev/null

if [ "$(id -u)" -eq 0 ]; then
  bash bench/demo-run.sh bridge "$work"
else
  echo "== not root: using one private namespace (unshare -rn) with multicast on its loopback"
  unshare -rn bash bench/demo-run.sh loopback "$work"
fi
