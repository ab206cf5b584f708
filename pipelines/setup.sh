#!/usr/bin/env bash
# Install vtrain's build and test dependencies from Debian (when missing),
# then configure and build into build/.
# Usage: pipelines/setup.sh [--tests] [cmake args...]
# --tests also installs the packages that only the tests need (test_pkgs).
set -euo pipefail
cd "$(dirname "$0")/.."
tests=
if [ "${1-}" = --tests ]; then tests=1; shift; fi

# What the build and the main job (pipelines/quickstart.sh) need.
pkgs=(build-essential cmake pkg-config liblz4-dev libopenblas-dev libxxhash-dev
      libhdf5-dev dataset-fashion-mnist gnuplot-nox go-md2man)
# Only for the tests (tests/run.sh): Bats, the Python checks and peers, h5py
# (the HDF5 files of tests/hdf5.bats), the loopback ssh hosts and GNU
# parallel (tests/distributed.bats), and a one-node Slurm cluster
# (tests/slurm.bats).
test_pkgs=(bats bats-assert bats-support bats-file python3-numpy python3-xxhash python3-h5py util-linux
           bc lz4 time python3-faiss openssh-server openssh-client parallel rsync
           munge slurmctld slurmd slurm-client man-db)
[ -z "$tests" ] || pkgs+=("${test_pkgs[@]}")
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
