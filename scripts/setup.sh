#!/usr/bin/env bash
# Installs the Debian 12 packages GateTwin needs to build, run and test.
# Idempotent: packages already present are skipped, so a second run is quick.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libopencv-dev libsqlite3-dev libfaiss-dev libsodium-dev
  libboost-dev libmodbus-dev
  ffmpeg tshark mbpoll python3-pymodbus python3-serial-asyncio clang libfuzzer-14-dev
  libopenmpi-dev openmpi-bin
  python3
  libimgui-dev libglfw3-dev libgl-dev libgl1-mesa-dri xvfb xauth python3-pil
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

here=$(cd "$(dirname "$0")" && pwd)
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} Debian packages present"
  exec "$here/fetch-models.sh"
fi

echo "setup: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
"$here/fetch-models.sh"   # face models from the npm registry, SHA-256 pinned, into a cache outside git
