#!/bin/sh
# SPDX-License-Identifier: MIT
# `meson install` into a DESTDIR, then use what was installed as a user
# would: the executable, the man page, the bash completion, the example
# specs and plot tools, and a C program (tests/install/consumer.c) built
# against the installed libregsweep with `pkg-config --cflags --libs
# regsweep`, shared and static.  Every symbol the shared library exports
# must carry the rs_ prefix.
#
# usage: tests/install_test.sh BUILD_DIR SOURCE_ROOT
# Prints one line per check, then "Ran N tests" and "FAILED (failures=F)"
# when any failed (the format tools/count_tests.py counts).
set -u
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
bad=0
ok()   { n=$((n + 1)); echo "ok   $1"; }
fail() { n=$((n + 1)); bad=$((bad + 1)); echo "FAIL $1"; }
check() { # label, command...
  label=$1; shift
  if "$@" >"$tmp/out" 2>&1; then ok "$label"; else fail "$label"; sed 's/^/     /' "$tmp/out" | tail -20; fi
}

dest=$tmp/dest
check "meson install --destdir" meson install -C "$build" --destdir "$dest" --no-rebuild --quiet
prefix=$(meson introspect "$build" --buildoptions | /usr/bin/python3 -c \
  'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"))')
root=$dest$prefix
pc=$(find "$dest" -name regsweep.pc | head -1)
libdir=$(dirname "$(dirname "$pc")")

for f in bin/regsweep include/regsweep/version.h include/regsweep/spec.h \
         include/regsweep/store.h include/regsweep/stats.h include/regsweep/train.h \
         share/man/man1/regsweep.1 share/bash-completion/completions/regsweep \
         share/regsweep/experiments/ch311_sin.yaml \
         share/regsweep/experiments/d2l_fashion_mnist.yaml \
         share/regsweep/experiments/d2l_ex3_act_var.yaml \
         share/regsweep/experiments/ch311_mc_dropout.yaml \
         share/regsweep/tools/job_stats.py share/doc/regsweep/EXERCISES.md \
         share/regsweep/tools/plot_curves.py share/doc/regsweep/FORMAT.md \
         share/regsweep/tools/slurm/submit.sh share/regsweep/tools/slurm/array.sbatch \
         share/doc/regsweep/LICENSE; do
  check "installed $f" test -s "$root/$f"
done
check "installed libregsweep.a and libregsweep.so" \
  sh -c "test -f '$libdir/libregsweep.a' && test -L '$libdir/libregsweep.so'"
check "installed tools are executable" sh -c "test -x '$root/share/regsweep/tools/plot_curves.py' && test -x '$root/share/regsweep/tools/slurm/submit.sh'"

# every exported symbol is rs_* (OpenMP's names for our critical sections
# are the compiler's, not ours)
nm -D --defined-only "$libdir/libregsweep.so" | awk '{print $3}' |
  grep -v -e '^rs_' -e '^\.gomp_critical_user_' -e '^_init$' -e '^_fini$' \
          -e '^_edata$' -e '^_end$' -e '^__bss_start$' > "$tmp/foreign"
check "libregsweep.so exports only rs_* symbols" test ! -s "$tmp/foreign"
[ -s "$tmp/foreign" ] && head -5 "$tmp/foreign"

# the installed program and its data, with no build tree around
export LD_LIBRARY_PATH="$libdir"
check "installed regsweep --version" "$root/bin/regsweep" --version
check "installed example spec expands" "$root/bin/regsweep" expand \
  "$root/share/regsweep/experiments/ch311_sin.yaml"
cd "$tmp" || exit 1
check "installed regsweep runs a sweep" "$root/bin/regsweep" run \
  "$root/share/regsweep/experiments/ch311_sin.yaml" -o "$tmp/c.h5" \
  train.epochs=3 'axes.seed=[0]' 'axes.keep_prob=[1.0]' 'axes.l1=[0]'
if command -v man >/dev/null 2>&1; then
  check "man regsweep (installed page)" sh -c "MANPATH='$root/share/man' man -P cat regsweep | grep -q 'regsweep run'"
fi
check "bash completion loads and completes" bash -c \
  ". '$root/share/bash-completion/completions/regsweep'; COMP_WORDS=(regsweep re); COMP_CWORD=1; _regsweep; [ \"\${COMPREPLY[*]}\" = 'report rerun' ] || [ \"\${COMPREPLY[*]}\" = 'rerun report' ]"

# a C program against the installed library, through pkg-config
# (the .pc file names the real prefix; point a copy at the DESTDIR, so that
# the other packages' paths, e.g. HDF5's, stay as they are)
mkdir "$tmp/pc"
sed "s|^prefix=|prefix=$dest|" "$pc" > "$tmp/pc/regsweep.pc"
export PKG_CONFIG_PATH="$tmp/pc"
flags=$(pkg-config --cflags --libs regsweep)
echo "     pkg-config --cflags --libs regsweep: $flags"
# shellcheck disable=SC2086
check "cc consumer.c \$(pkg-config --cflags --libs regsweep)" \
  cc -std=c11 -Wall -Wextra -Werror -o "$tmp/consumer" "$src/tests/install/consumer.c" $flags
check "consumer (shared library) passes" "$tmp/consumer" "$tmp/c.h5"
grep -q "ok (libregsweep" "$tmp/out" || fail "consumer printed no ok"
sflags=$(pkg-config --static --cflags --libs regsweep)
# shellcheck disable=SC2086
check "cc -static-linked libregsweep.a via pkg-config --static" \
  sh -c "cc -std=c11 -o '$tmp/consumer_static' '$src/tests/install/consumer.c' \
         $(echo "$sflags" | sed 's/-lregsweep/-l:libregsweep.a/') -fopenmp"
check "consumer (static library) passes" env LD_LIBRARY_PATH= "$tmp/consumer_static" "$tmp/c.h5"

echo "Ran $n tests"
[ $bad -eq 0 ] || { echo "FAILED (failures=$bad)"; exit 1; }
echo OK
