#!/usr/bin/env bash
# Installs the face models for the recognition core (issue 3) from the npm registry into a cache outside
# git, checking the tarball's and every model file's SHA-256. Idempotent: verified files are not fetched
# again. Nothing here is committed: weights never enter the repository.
#
#   scripts/fetch-models.sh            # installs into $GATETWIN_MODELS (default ~/.cache/gatetwin/models)
#   scripts/fetch-models.sh --check    # only verifies; exit 1 and the fixing command if anything is wrong
#
# Source: faceplugin-face-recognition-js@0.0.1 (package.json says MIT; its LICENSE file is a template and it
# says nothing about training data). See ../shared/design/MODELS.md for what was measured about them.
set -euo pipefail

package="faceplugin-face-recognition-js@0.0.1"
tarball_sha="7ea06031d9a3f83753254fcff60506a07b81b46fc84d4ee024cd041f260ec1ba"
declare -A model_sha=(
  [fr_detect.onnx]=6c0256ccd3164f844736a401faf936ec2930764a87ae39442180887d0c5c8854
  [fr_landmark.onnx]=f10b0ba1d2a8a099adefede1ebf3733e44fe370715e7303dbeb7f59c02142258
  [fr_feature.onnx]=87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581
  [fr_liveness.onnx]=afa783b7e902fdfcf323a7240cac2a1c580c25314ea4161129dc1b0d100dc32d
  [fr_eye.onnx]=1afcea006abc1ccac3c517022abde0aa092bed74ff3c9fe6878483ef9e6e38de
)
dest="${GATETWIN_MODELS:-${XDG_CACHE_HOME:-$HOME/.cache}/gatetwin/models}/faceplugin-0.0.1"

verify() {
  local ok=0 f
  for f in "${!model_sha[@]}"; do
    if [ ! -f "$dest/$f" ]; then
      echo "missing: $dest/$f" >&2; ok=1
    elif [ "$(sha256sum "$dest/$f" | cut -d' ' -f1)" != "${model_sha[$f]}" ]; then
      echo "altered: $dest/$f (SHA-256 differs from the pinned value)" >&2; ok=1
    fi
  done
  return $ok
}

if verify 2>/dev/null; then
  echo "models: all ${#model_sha[@]} files verified in $dest"
  exit 0
fi
if [ "${1:-}" = "--check" ]; then
  verify || true
  echo "fix with: scripts/fetch-models.sh" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if command -v npm >/dev/null; then
  (cd "$work" && npm pack --silent "$package" >/dev/null)
else
  # Without npm, the same tarball straight from the registry (the SHA-256 check below is what matters).
  python3 - "$work" <<'PY'
import sys, urllib.request
url = "https://registry.npmjs.org/faceplugin-face-recognition-js/-/faceplugin-face-recognition-js-0.0.1.tgz"
with urllib.request.urlopen(url, timeout=120) as r, open(sys.argv[1] + "/package.tgz", "wb") as f:
    f.write(r.read())
PY
fi
tgz=$(ls "$work"/*.tgz)
got=$(sha256sum "$tgz" | cut -d' ' -f1)
if [ "$got" != "$tarball_sha" ]; then
  echo "fetch-models: $package tarball SHA-256 is $got, expected $tarball_sha; refusing to install" >&2
  exit 1
fi
tar -xzf "$tgz" -C "$work"
mkdir -p "$dest.partial"
for f in "${!model_sha[@]}"; do cp "$work/package/model/$f" "$dest.partial/$f"; done
cp "$work/package/package.json" "$work/package/LICENSE" "$dest.partial/"
rm -rf "$dest" && mv "$dest.partial" "$dest"   # appears whole or not at all
verify
echo "models: installed and verified ${#model_sha[@]} files in $dest"
