#!/bin/sh
# SPDX-License-Identifier: MIT
# The training path calls no libm function but fmaf: the objects of the
# training core may not reference any other symbol that libm defines.
# (fmaf is IEEE 754's fused multiply-add, correctly rounded by definition,
# so it returns the same bits everywhere; only the portable GEMM path calls
# it, and aarch64 compiles it to one instruction.)
#
# usage: tests/no_libm.sh BUILD_DIR
set -u
build=$1
libm=$(ls /lib/*/libm.so.6 /usr/lib/*/libm.so.6 2>/dev/null | head -1)
[ -n "$libm" ] || { echo "no_libm: libm.so.6 not found"; exit 77; }
nm -D --defined-only "$libm" | awk '{print $NF}' | sed 's/@.*//' | sort -u > "$build/libm_symbols.txt"
status=0
# the core's sources, as meson lists them (rs_core_sources.txt), compiled
# into libregsweep; plus the SIMD paths
. "$build/rs_core_sources.txt"
objs=""
for src in $SOURCES; do
  objs="$objs $(ls "$build"/libregsweep.*.p/"$(echo "$src" | tr / _)".o 2>/dev/null | head -1)"
done
[ -n "$(echo $objs)" ] || { echo "no_libm: no core objects in $build"; exit 1; }
for o in $objs "$build"/librs_avx2.a.p/*.o "$build"/librs_avx512.a.p/*.o; do
  [ -f "$o" ] || continue
  used=$(nm -u "$o" | awk '{print $2}' | sort -u | comm -12 - "$build/libm_symbols.txt" | grep -v '^fmaf$')
  if [ -n "$used" ]; then
    echo "no_libm: $(basename "$o") calls libm: $used"
    status=1
  fi
done
[ $status -eq 0 ] && echo "no_libm: the training core references no libm function but fmaf"
exit $status
