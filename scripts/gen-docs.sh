#!/usr/bin/env bash
# Regenerates the schema reference in docs/scenarios.md from the code (gatetwin schema).
# Usage: scripts/gen-docs.sh [path/to/gatetwin]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/apps/gatetwin/gatetwin}
doc=docs/scenarios.md
begin='<!-- BEGIN GENERATED SCHEMA (scripts/gen-docs.sh) -->'
end='<!-- END GENERATED SCHEMA -->'
tmp=$(mktemp)
awk -v b="$begin" '{print} $0==b {exit}' "$doc" > "$tmp"
"$bin" schema >> "$tmp"
awk -v e="$end" 'f||$0==e {f=1; print}' "$doc" >> "$tmp"
mv "$tmp" "$doc"
echo "updated $doc"
