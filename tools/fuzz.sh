#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds the libFuzzer targets (tests/fuzz/) with clang and
# AddressSanitizer + UndefinedBehaviorSanitizer, then runs each for a while.
#
#   tools/fuzz.sh [-t SECONDS] [-b BUILD_DIR] [-j JOBS] [spec] [idx]
#
#   -t  seconds per target (default 60)
#   -b  where to build and keep the working corpora and crash artifacts
#       (default build-fuzz)
#   -j  parallel fuzzing processes per target (default 1)
#
# Seeds: tests/fuzz/corpus/<target>/ (committed), plus experiments/*.yaml
# and the hostile spec corpus for the spec target, and the hostile IDX
# files for the idx target.  The working corpus grows in BUILD_DIR/corpus-*
# and is reused by the next run; the committed seeds are never modified.
# Prints "fuzz_<target>: <N> executions in <S> s, ..." per target; exits 1
# if a target found a crash (the input is in BUILD_DIR/artifacts/), 77 if
# clang or its fuzzer runtime is missing (meson counts 77 as skipped).
set -eu
cd "$(dirname "$0")/.."
secs=60
build=build-fuzz
jobs=1
while getopts t:b:j: opt; do
  case $opt in
    t) secs=$OPTARG ;;
    b) build=$OPTARG ;;
    j) jobs=$OPTARG ;;
    *) echo "usage: $0 [-t SECONDS] [-b BUILD_DIR] [-j JOBS] [spec] [idx]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
targets=${*:-"spec idx"}

CC=${CC_FUZZ:-clang}
if ! command -v "$CC" >/dev/null 2>&1; then
  echo "fuzz.sh: $CC not found (apt-get install clang libclang-rt-14-dev)" >&2
  exit 77
fi
mkdir -p "$build/artifacts"
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' |
     "$CC" -x c -fsanitize=fuzzer - -o "$build/probe" 2>/dev/null; then
  echo "fuzz.sh: $CC cannot link -fsanitize=fuzzer (apt-get install libclang-rt-14-dev)" >&2
  exit 77
fi

CFLAGS="-std=c11 -D_POSIX_C_SOURCE=200809L -ffp-contract=off -fno-math-errno -g -O1
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
  -Wall -Wextra -Iinclude -Isrc"
YAML=$(pkg-config --cflags --libs yaml-0.1)
ZLIB=$(pkg-config --cflags --libs zlib)
# shellcheck disable=SC2086
"$CC" $CFLAGS -o "$build/fuzz_spec" tests/fuzz/fuzz_spec.c src/spec.c src/yamltree.c \
  src/data.c src/rng.c src/detmath.c src/common.c src/sha256.c $YAML $ZLIB -lm
# shellcheck disable=SC2086
"$CC" $CFLAGS -o "$build/fuzz_idx" tests/fuzz/fuzz_idx.c src/data.c src/rng.c \
  src/detmath.c src/common.c $ZLIB -lm

status=0
for t in $targets; do
  corpus="$build/corpus-$t"
  mkdir -p "$corpus"
  seeds="tests/fuzz/corpus/$t"
  case $t in
    spec) extra="-dict=tests/fuzz/spec.dict -max_len=8192"
          set -- "$seeds" experiments tests/hostile/specs ;;
    idx)  extra="-max_len=65536"
          set -- "$seeds" ;;
    *) echo "fuzz.sh: unknown target $t" >&2; exit 2 ;;
  esac
  log="$build/fuzz_$t.log"
  rc=0
  # -jobs, even -jobs=1, makes libFuzzer fork workers that log to
  # fuzz-N.log in the current directory: only ask for it when wanted
  par=""
  [ "$jobs" -gt 1 ] && par="-jobs=$jobs -workers=$jobs"
  # shellcheck disable=SC2086
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$build/fuzz_$t" "$corpus" "$@" $extra -max_total_time="$secs" \
      -rss_limit_mb=2048 -timeout=20 $par \
      -artifact_prefix="$build/artifacts/$t-" -print_final_stats=1 \
      >"$log" 2>&1 || rc=$?
  if [ "$jobs" -gt 1 ]; then cat fuzz-[0-9]*.log >>"$log" 2>/dev/null; rm -f fuzz-[0-9]*.log; fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | awk '{s += $1} END {print s + 0}')
  secs_used=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
  size=$(ls "$corpus" | wc -l)
  if [ "$rc" -ne 0 ]; then
    echo "fuzz_$t: FAILED (exit $rc) after $runs executions; see $log and $build/artifacts/"
    grep -E 'ERROR|SUMMARY|runtime error' "$log" | head -n 5
    status=1
  else
    echo "fuzz_$t: $runs executions in ${secs_used:-$secs} s, coverage ${cov:-?} edges, corpus $size inputs, no crash"
  fi
done
exit $status
