#!/usr/bin/env bash
# CI-sized make mission-fleet (ctest mission.fleet_smoke): the run with cluster: only, a small
# flood for a few seconds, the ban, mode and replay probes. Checks that the table is produced and
# that a ban and a mode made on node 1 hold on nodes 2 and 3 within a second, and that a challenge
# answer replayed to node 3 once the news of the claim had 100 ms is refused there.
# Usage: fleet_smoke.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
rc=0
FLEET_RUNS=cluster FLEET_PROBES="ban mode replay" FLEET_DURATION=8 FLEET_DRAIN=0 FLEET_ACCOUNTS=20 \
  FLEET_FLOOD_RATE=50 MISSION_OUT="$out" timeout 100 "$src/scripts/mission-fleet" "$build" || rc=$?
table="$out/results.md"
if [ "$rc" -ne 0 ] || [ ! -s "$table" ]; then
  echo "fleet_smoke: mission-fleet exited $rc without a table" >&2
  exit 1
fi
cat "$table"
fail=0
check() {  # check ROW-LABEL PATTERN
  local line
  line=$(grep -F "| $1" "$table" || true)
  if ! grep -Eq "$2" <<<"$line"; then
    echo "fleet_smoke: row '$1' does not match /$2/: $line" >&2
    fail=1
  fi
}
check "ban on node 1 refused on nodes 2, 3" "PASS"
check "mode set on node 1 holds on nodes 2, 3" "PASS"
check "challenge answer replayed to nodes 2, 3" "node 3 after 100 ms: 403 already used"
check "residents served over the flood" "[0-9.]+ %"
exit $fail
