#!/bin/sh
# Installs what is missing, builds, and runs the whole test suite: the unit
# tests (Criterion), the end-to-end tests (h5py, h5diff, pandas; results of
# a clang -O0 build must equal the gcc release build's), the cross-compiler
# and aarch64 check, and the unit tests again in a debug build with
# AddressSanitizer and UndefinedBehaviorSanitizer.  Ends with one line
# "N passed, M failed".
set -u
cd "$(dirname "$0")/.."
tools/setup.sh || exit 1

status=0
# A second compiler and build type: clang at -O0.  The end-to-end tests
# require its results files to equal the gcc release build's.
if [ ! -f build-clang/build.ninja ]; then
  CC=clang meson setup build-clang --buildtype=debug -Dtests=disabled >/dev/null || exit 1
fi
ninja -C build-clang >/dev/null || exit 1

REGSWEEP_OTHER=$PWD/build-clang/regsweep \
  meson test -C build --num-processes 2 --print-errorlogs >build/test-release.txt 2>&1 || status=1
tail -n 25 build/test-release.txt

if [ ! -f build-asan/build.ninja ]; then
  meson setup build-asan --buildtype=debug -Db_sanitize=address,undefined \
    -Db_lundef=false >/dev/null || exit 1
fi
ninja -C build-asan >/dev/null || exit 1
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --num-processes 2 --print-errorlogs --suite unit --suite hostile \
  >build/test-asan.txt 2>&1 || status=1
tail -n 15 build/test-asan.txt

/usr/bin/python3 tools/count_tests.py build/meson-logs/testlog.json \
  build-asan/meson-logs/testlog.json
exit $status
