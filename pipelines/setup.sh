#!/usr/bin/env bash
# Install vtrain's build and test dependencies from Debian (when missing),
# then configure and build into build/.  Usage: pipelines/setup.sh [cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(build-essential cmake pkg-config liblz4-dev libopenblas-dev libxxhash-dev
      bats bats-assert bats-support bats-file python3-numpy python3-xxhash util-linux
      dataset-fashion-mnist bc gnuplot-nox
      lz4 time python3-faiss openssh-server openssh-client parallel rsync)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

cmake -S . -B build "$@" >/dev/null
cmake --build build -j"$(nproc)"
