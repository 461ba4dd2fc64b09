#!/usr/bin/env bash
# CI step: the lazy FUSE file system (internal/lazyfs) and a short power-cut
# loop at synchronous=FULL and NORMAL (TestPowerCutLoop, 20 cycles each),
# plus the power cuts right after the database's files are created. It
# needs /dev/fuse; it mounts with mount(2) as root, or else through
# fusermount3 (Debian's fuse3 package, installed here when missing).
# Without /dev/fuse it skips, saying so. About a minute on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"

echo "== power cuts on a lazy FUSE file system (internal/lazyfs)"
if [ ! -c /dev/fuse ]; then
  echo "SKIPPED: /dev/fuse is missing on this machine; the power-cut tests need FUSE"
  exit 0
fi
if [ "$(id -u)" != 0 ] && ! command -v fusermount3 >/dev/null; then
  echo "installing fuse3 (fusermount3, to mount without root)"
  aptlog=$(mktemp)
  if ! { sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fuse3; } >"$aptlog" 2>&1; then
    cat "$aptlog"; echo "could not install Debian's fuse3 package"; exit 1
  fi
  rm -f "$aptlog"
fi
seed=${CHORUS_POWERCUT_SEED:-$(( $(date +%s) % 1000000000 ))}
echo "seed $seed"
go test -count=1 ./internal/lazyfs/
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! go test -count=1 -timeout 10m -run 'TestPowerCutLoop|TestPowerCutNewFiles' \
  -powercut.cycles=20 -powercut.seed="$seed" -v . >"$log" 2>&1; then
  tail -n 200 "$log"
  echo "the power-cut tests failed (replay: go test -run TestPowerCutLoop -powercut.cycles=20 -powercut.seed=$seed -v .)"
  exit 1
fi
# The summaries: one per synchronous setting, and the verdicts.
grep -E '^(--- |ok)|seed [0-9]+: [0-9]+ cycles' "$log"
