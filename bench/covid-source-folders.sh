#!/usr/bin/env bash
# Splits covid-ct-20 by source into folders of symbolic links (nothing copied), for the transfer
# study in RESULTS.md: coronacases (slices 0-1246, v00-v09), radiopaedia-val (1247-1442, v10-v12)
# and radiopaedia-test (1443-1613, v13-v18). The boundary at 1247 is bench/covid-sources.ts's.
# Usage: bash bench/covid-source-folders.sh [covid-ct-20 folder] [output folder]
set -euo pipefail
src=$(realpath "${1:-../shared/data/covid-ct-20}")
out=${2:-out/covid-sources}
[ -d "$src/ct" ] && [ -d "$src/covid" ] || { echo "covid-source-folders: $src has no ct/ and covid/ (covid-ct-20 absent?)" >&2; exit 2; }
[ "$(ls "$src/ct" | wc -l)" = 1614 ] || { echo "covid-source-folders: $src/ct does not hold covid-ct-20's 1614 slices" >&2; exit 2; }
for part in coronacases radiopaedia-val radiopaedia-test; do mkdir -p "$out/$part/ct" "$out/$part/covid"; done
for i in $(seq 0 1613); do
  f=$(printf %04d.png "$i")
  if [ "$i" -lt 1247 ]; then part=coronacases; elif [ "$i" -lt 1443 ]; then part=radiopaedia-val; else part=radiopaedia-test; fi
  ln -sfn "$src/ct/$f" "$out/$part/ct/$f"
  ln -sfn "$src/covid/$f" "$out/$part/covid/$f"
done
echo "$out: coronacases 1247, radiopaedia-val 196, radiopaedia-test 171 slices (links into $src)"
