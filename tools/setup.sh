#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs what a fresh Debian 12 machine lacks for regsweep, then builds it
# into build/.  Run as root (or with sudo available).  Idempotent: packages
# already present are left alone and an existing build/ is reused.
set -eu
cd "$(dirname "$0")/.."

PACKAGES="gcc clang meson ninja-build pkg-config zlib1g-dev libhdf5-dev
  hdf5-tools libyaml-dev libcriterion-dev python3 python3-h5py python3-numpy
  python3-pandas python3-matplotlib python3-xarray python3-h5netcdf
  r-cran-hdf5r dataset-fashion-mnist
  libclang-rt-14-dev gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
  slurm-wlm munge openmpi-bin libopenmpi-dev"

missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing:$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ ! -f build/build.ninja ]; then
  meson setup build --buildtype=release >/dev/null
fi
ninja -C build
