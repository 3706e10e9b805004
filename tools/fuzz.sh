#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds the libFuzzer targets (tests/fuzz/) with clang and
# AddressSanitizer + UndefinedBehaviorSanitizer, then runs each for a while.
#
#   tools/fuzz.sh [-t SECONDS] [-b BUILD_DIR] [-j JOBS] [spec] [idx] [results]
#
#   -t  seconds per target (default 60)
#   -b  where to build and keep the working corpora and crash artifacts
#       (default build-fuzz)
#   -j  parallel fuzzing processes per target (default 1)
#   -a  no fuzzing: only sort the results target's saved crash inputs in
#       BUILD_DIR/artifacts/ again (see below)
#
# Seeds: tests/fuzz/corpus/<target>/ (committed), plus experiments/*.yaml
# and the hostile spec corpus for the spec target, and the hostile IDX
# files for the idx target.  The working corpus grows in BUILD_DIR/corpus-*
# and is reused by the next run; the committed seeds are never modified.
# Prints "fuzz_<target>: <N> executions in <S> s, ..." per target; exits 1
# if a target found a crash in our code (the input is in
# BUILD_DIR/artifacts/), 77 if clang or its fuzzer runtime is missing
# (meson counts 77 as skipped).
#
# The results target (tests/fuzz/fuzz_results.c: the results- and job-file
# readers) feeds libhdf5 malformed files, and libhdf5 1.10.8 crashes on
# some (docs/RELIABILITY.md).  It runs in libFuzzer's fork mode, which goes
# on after a crash; every crash, out-of-memory and timeout input is then
# run again and sorted by the innermost frame that is ours (src/,
# tests/fuzz/) or libhdf5's, an overrun by whose buffer it was (see
# blame() below): those inside libhdf5 are listed with the libhdf5
# function and do not fail the run; any in our code does.  Leaks
# allocated inside libhdf5 (it leaks on some error paths) are suppressed
# for that target only.  Its seeds: tools/fuzz_results_seeds.sh.
set -eu
cd "$(dirname "$0")/.."
secs=60
build=build-fuzz
jobs=1
analyse_only=0
while getopts t:b:j:a opt; do
  case $opt in
    t) secs=$OPTARG ;;
    b) build=$OPTARG ;;
    j) jobs=$OPTARG ;;
    a) analyse_only=1 ;;
    *) echo "usage: $0 [-t SECONDS] [-b BUILD_DIR] [-j JOBS] [spec] [idx] [results]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
targets=${*:-"spec idx results"}

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
# spec.c checks every combination of an axes sweep against the training
# core (rs_spec_check_data calls rs_train_check): train.c, nn.c and the
# reference kernels come along
# shellcheck disable=SC2086
"$CC" $CFLAGS -o "$build/fuzz_spec" tests/fuzz/fuzz_spec.c src/spec.c src/yamltree.c \
  src/data.c src/rng.c src/detmath.c src/common.c src/sha256.c src/train.c src/nn.c \
  src/kernels.c $YAML $ZLIB -lm
# shellcheck disable=SC2086
"$CC" $CFLAGS -o "$build/fuzz_idx" tests/fuzz/fuzz_idx.c src/data.c src/rng.c \
  src/detmath.c src/common.c $ZLIB -lm
case " $targets " in
  *" results "*)
    # store.c needs regsweep/version.h, which meson generates from
    # project()'s version: the same substitution here
    version=$(sed -n "s/^ *version: '\([0-9.]*\)',.*/\1/p" meson.build | head -n 1)
    mkdir -p "$build/include/regsweep"
    # shellcheck disable=SC2046
    set -- $(echo "$version" | tr . ' ')
    sed -e "s/@VERSION@/$version/" -e "s/@MAJOR@/$1/" -e "s/@MINOR@/$2/" \
        -e "s/@PATCH@/$3/" include/regsweep/version.h.in >"$build/include/regsweep/version.h"
    H5=$(pkg-config --cflags --libs hdf5)
    # the store also uses HDF5's high-level library (dimension scales),
    # which the pkg-config file does not name: Debian's name, else the plain
    # one (as meson.build looks for it)
    H5HL=-lhdf5_serial_hl
    # shellcheck disable=SC2086
    echo 'int main(void) { return 0; }' |
      "$CC" -x c - $H5 $H5HL -o "$build/probe" 2>/dev/null || H5HL=-lhdf5_hl
    # store.c sizes a sweep up front (rs_store_estimate): train.c and the
    # reference kernels come along
    # shellcheck disable=SC2086
    "$CC" $CFLAGS -I"$build/include" -o "$build/fuzz_results" tests/fuzz/fuzz_results.c \
      src/store.c src/spec.c src/yamltree.c src/sha256.c src/common.c src/data.c \
      src/rng.c src/detmath.c src/nn.c src/train.c src/kernels.c $H5 $H5HL $YAML $ZLIB -lm
    printf 'leak:libhdf5\n' >"$build/lsan-results.supp" ;;
esac

# Which code a crash report blames: the innermost stack frame in our
# sources ("ours FILE:LINE") or in libhdf5 ("libhdf5 FUNCTION"), skipping
# the sanitizers', libFuzzer's and libc's frames; "unknown" when there is a
# report but neither, "unreproduced" when the input alone runs clean (an
# out-of-memory of the fork's worker process, grown over many inputs).
# An overflow of a buffer that is ours (a variable of one of our frames, or
# memory our code allocated) is ours even when libhdf5 wrote it: HDF5
# writes as many elements as the file holds, so a buffer too small for
# them is a check we did not make.
blame() {
  awk 'function where(line,   name, i) {
         if (line ~ /libhdf5/) {
           name = ""
           for (i = 1; i < NF; i++) if ($i == "in") { name = $(i + 1); break }
           if (name != "" && name !~ /^\(/) return "libhdf5 " name
           # no symbol: the library and offset, "libhdf5_serial.so.103+0x..."
           if (match(line, /libhdf5[^ )]*\+0x[0-9a-f]+/))
             return "?" substr(line, RSTART, RLENGTH)
           return ""
         }
         if (match(line, /(src|tests\/fuzz)\/[^ ]*\.c:[0-9]+/))
           return "ours " substr(line, RSTART, RLENGTH)
         return ""
       }
       /ERROR:|runtime error|deadly signal|ALARM/ { started = 1 }
       /is located in stack of thread|allocated by thread/ { part = "owner"; next }
       /freed by thread/ { part = "freed"; next }
       started && /^ *#[0-9]+ / {
         w = where($0)
         if (w == "" || part == "freed") next
         if (part == "owner") { if (owner == "") owner = w; next }
         if (w ~ /^\?/) { if (first == "") first = substr(w, 2); next }
         if (w ~ /^ours/ && first != "") next
         if (verdict == "") verdict = w
       }
       END {
         if (owner ~ /^ours/ && verdict !~ /^ours/) {
           by = verdict != "" ? verdict : first
           sub(/^libhdf5 /, "", by)
           print owner " (a buffer of ours that " by " overran)"
         }
         else if (verdict != "") print verdict
         else if (first != "") print "libhdf5 " first
         else if (started) print "unknown"
         else print "unreproduced"
       }'
}

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
    results) extra="-max_len=65536 -fork=$jobs -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1"
          set -- "$seeds" ;;
    *) echo "fuzz.sh: unknown target $t" >&2; exit 2 ;;
  esac
  log="$build/fuzz_$t.log"
  rc=0
  # -jobs, even -jobs=1, makes libFuzzer fork workers that log to
  # fuzz-N.log in the current directory: only ask for it when wanted
  par=""
  [ "$jobs" -gt 1 ] && [ "$t" != results ] && par="-jobs=$jobs -workers=$jobs"
  lsan=""
  timeout=20
  # an input takes ~40 ms; libhdf5 loops on some malformed files, and each
  # 20 s hang would eat the run
  [ "$t" = results ] && lsan="suppressions=$build/lsan-results.supp" && timeout=5
  if [ "$analyse_only" = 0 ]; then
    [ "$t" = results ] && rm -f "$build/artifacts/$t-"*
    # shellcheck disable=SC2086
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 LSAN_OPTIONS="$lsan" \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      "$build/fuzz_$t" "$corpus" "$@" $extra -max_total_time="$secs" \
        -rss_limit_mb=2048 -timeout="$timeout" $par \
        -artifact_prefix="$build/artifacts/$t-" -print_final_stats=1 \
        >"$log" 2>&1 || rc=$?
  fi
  if [ "$jobs" -gt 1 ]; then cat fuzz-[0-9]*.log >>"$log" 2>/dev/null; rm -f fuzz-[0-9]*.log; fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | awk '{s += $1} END {print s + 0}')
  secs_used=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
  size=$(ls "$corpus" | wc -l)
  if [ "$t" = results ]; then
    # fork mode: "#RUNS: cov: ... time: Ss" lines, no final stats
    runs=$(sed -n 's/^#\([0-9]*\): cov:.*/\1/p' "$log" | tail -n 1)
    secs_used=$(sed -n 's/^#[0-9]*: cov:.* time: \([0-9]*\)s.*/\1/p' "$log" | tail -n 1)
    ours=0 known=0
    : >"$build/results-blame.txt"
    for a in "$build/artifacts/$t-"*; do
      [ -f "$a" ] || continue
      b=$(ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 LSAN_OPTIONS="$lsan" \
          UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
          "$build/fuzz_$t" -rss_limit_mb=2048 -timeout="$timeout" "$a" 2>&1 | blame) || true
      kind=$(basename "$a" | sed "s/^$t-//; s/-.*//")
      echo "$kind $b $a" >>"$build/results-blame.txt"
      case $b in
        libhdf5*) known=$((known + 1)) ;;
        unreproduced) ;;
        *) ours=$((ours + 1)) ;;
      esac
    done
    unrep=$(grep -c ' unreproduced ' "$build/results-blame.txt" || true)
    [ "$unrep" -gt 0 ] && echo "fuzz_$t: $unrep inputs ran clean when run again alone (see $build/results-blame.txt)"
    rc=0
    if [ "$ours" -gt 0 ]; then rc=1; fi
    if [ "$known" -gt 0 ]; then
      echo "fuzz_$t: $known inputs crash, exhaust memory or hang inside libhdf5 (known, docs/RELIABILITY.md):"
      grep ' libhdf5 ' "$build/results-blame.txt" | awk '{print "  " $1 " in " $3}' | sort | uniq -c
    fi
  fi
  if [ "$rc" -ne 0 ]; then
    echo "fuzz_$t: FAILED (exit $rc) after $runs executions; see $log and $build/artifacts/"
    grep -E 'ERROR|SUMMARY|runtime error' "$log" | head -n 5
    [ "$t" = results ] && grep -v ' libhdf5 ' "$build/results-blame.txt"
    status=1
  else
    what="no crash"
    [ "$t" = results ] && what="no crash in our code"
    echo "fuzz_$t: $runs executions in ${secs_used:-$secs} s, coverage ${cov:-?} edges, corpus $size inputs, $what"
  fi
done
exit $status
