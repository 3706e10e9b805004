#!/bin/sh
# shellcheck shell=bash disable=SC2016
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The regsweep authors
#
# Tests tools/completion/regsweep.bash and docs/regsweep.1:
#   - sources the completion in this (non-interactive) bash, sets
#     COMP_WORDS/COMP_CWORD/COMP_LINE/COMP_POINT as bash would, calls
#     _regsweep and compares COMPREPLY (sorted) with the expected words;
#   - when bash-completion is installed, runs the same cases again with its
#     _init_completion loaded;
#   - `groff -man -ww -z docs/regsweep.1` prints nothing (passes with a note
#     when groff is missing);
#   - every option the completion offers or names is in docs/regsweep.1, and
#     the spec keys it offers match docs/SPEC.md.
#
# usage: test_completion.sh [SOURCE_ROOT]     (default: this script's ../..)
# Prints one line per case, then "Ran N tests" and, on failures,
# "FAILED (failures=F)".  Exit 0 pass, 1 fail, 77 skip (no bash).

if [ -z "${RS_COMPLETION_TEST_IN_BASH-}" ]; then
    if ! command -v bash >/dev/null 2>&1; then
        echo "SKIP: bash not found"
        exit 77
    fi
    RS_COMPLETION_TEST_IN_BASH=1 exec bash "$0" "$@"
fi

# ---- bash from here on ---------------------------------------------------

set -u
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
root=$(cd "$root" && pwd) || { echo "no source root '$1'"; exit 1; }
comp=$root/tools/completion/regsweep.bash
man=$root/docs/regsweep.1
specmd=$root/docs/SPEC.md
bash_completion=${RS_BASH_COMPLETION-/usr/share/bash-completion/bash_completion}

ran=0
failures=0
mode=

pass() { ran=$((ran + 1)); echo "ok   $1${2:+ ($2)}"; }
fail() { ran=$((ran + 1)); failures=$((failures + 1)); echo "FAIL $1: $2"; }

sorted() { printf '%s\n' "$@" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'; }

# compopt works only inside a real completion; record what is asked for.
compopt_log=
# shellcheck disable=SC2317  # called by the completion
compopt() { compopt_log+=" $*"; }

# tc NAME EXPECTED WORD... : complete the last WORD.  The words are
# COMP_WORDS as bash splits them: a word made of '=' is glued to its
# neighbours in COMP_LINE, as it was typed.  EXPECTED is the sorted,
# space-separated COMPREPLY.  NOSPACE=1 also requires `compopt -o nospace`;
# WORDBREAKS sets COMP_WORDBREAKS (default: bash's, with '=').
tc()
{
    local name=$1 expected=$2 w prev='' line='' got
    shift 2
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    for w in "${COMP_WORDS[@]}"; do
        if [[ -z $line ]]; then
            line=$w
        elif [[ ( -n $w && -z ${w//=/} ) || ( -n $prev && -z ${prev//=/} ) ]]; then
            line+=$w
        else
            line+=" $w"
        fi
        prev=$w
    done
    COMP_LINE=$line
    COMP_POINT=${#line}
    COMP_WORDBREAKS=${WORDBREAKS-$' \t\n"\'@><=;|&(:'}
    COMPREPLY=()
    compopt_log=
    _regsweep regsweep "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    got=$(sorted "${COMPREPLY[@]}")
    # shellcheck disable=SC2086  # split the expected words
    expected=$(sorted $expected)
    if [[ $got != "$expected" ]]; then
        fail "$name" "'$line': expected [$expected], got [$got]"
    elif [[ ${NOSPACE-0} == 1 && $compopt_log != *"-o nospace"* ]]; then
        fail "$name" "'$line': no 'compopt -o nospace' (got '$compopt_log')"
    else
        pass "$name" "${mode}"
    fi
}

completion_cases()
{
    tc "subcommands" "expand info merge report rerun run" regsweep ""
    tc "subcommand prefix" "report rerun" regsweep re
    tc "global options" "--help --version -h" regsweep -
    tc "nothing after --version" "" regsweep --version ""
    tc "run --si" "--simd" regsweep run --si
    tc "run options, long and short" \
        "-o --output -j --threads --resume --fail-fast --allow-diverged --no-pack --shard --simd --help" regsweep run -
    tc "run --simd values" "scalar avx2 avx512" regsweep run x.yaml --simd ""
    tc "report --format= (split at '=')" "text md csv json" \
        regsweep report r.h5 --format =
    tc "report --format=m (split at '=')" "md" regsweep report r.h5 --format = m
    WORDBREAKS=$' \t\n"\'><;|&(:' tc "report --format= (one word)" \
        "--format=text --format=md --format=csv --format=json" \
        regsweep report r.h5 --format=
    tc "report --at values" "final best" regsweep report r.h5 --at ""
    tc "report options" "--baseline --at --rank-by --format --table --trajectory --no-store --help" \
        regsweep report r.h5 --
    tc "report --baseline keys" "keep_prob= l2= l1=" regsweep report r.h5 --baseline ""
    tc "report --baseline second key (split at '=')" "1,l2= 1,l1=" \
        regsweep report r.h5 --baseline keep_prob = 1,l
    tc "rerun options" "--job -j --threads --simd --help" regsweep rerun r.h5 -
    tc "rerun --job takes an id" "" regsweep rerun r.h5 --job ""
    tc "info options" "--spec --verify --rebuild --help" regsweep info --
    tc "expand options" "--help" regsweep expand x.yaml -
    tc "merge options" "--allow-incomplete --help" regsweep merge m.h5 -
    tc "run --shard takes I/N" "" regsweep run x.yaml --shard ""
    NOSPACE=1 tc "run override train.l" "train.lr=" regsweep run x.yaml train.l
    NOSPACE=1 tc "expand override axes.s" \
        "axes.seed= axes.seed.from= axes.seed.to=" \
        regsweep expand x.yaml axes.s
    NOSPACE=1 tc "expand override axes.k" "axes.keep_prob=" regsweep expand x.yaml axes.k
    NOSPACE=1 tc "run override axes.train." \
        "axes.train.lr= axes.train.epochs= axes.train.batch_size= axes.train.shuffle=" \
        regsweep run x.yaml axes.train.
    tc "override value dataset.kind= (split at '=')" "sin idx fashion_mnist" \
        regsweep run x.yaml dataset.kind =
    tc "override value model.activation=t (split)" "tanh" \
        regsweep run x.yaml model.activation = t
    tc "no value offered for train.lr=" "" regsweep run x.yaml train.lr = ""
    tc "run -j takes a number" "" regsweep run x.yaml -j ""

    # file names, in a folder made for it
    local tmp
    tmp=$(mktemp -d) || { fail "temp dir" "mktemp failed"; return; }
    (
        cd "$tmp" && mkdir sub && : >a.yaml && : >b.yml && : >c.h5 && : >d.hdf5 &&
            : >e.txt && : >a.json
    ) || { fail "temp files" "cannot create them in $tmp"; rm -rf "$tmp"; return; }
    pushd "$tmp" >/dev/null || return
    tc "run SPEC: *.yaml, *.yml, folders" "a.yaml b.yml sub" regsweep run ""
    tc "expand SPEC with prefix" "a.yaml" regsweep expand a
    tc "run SPEC after -j N" "a.yaml b.yml sub" regsweep run -j 4 ""
    tc "report OUT: *.h5, *.hdf5, folders" "c.h5 d.hdf5 sub" regsweep report ""
    tc "info OUT" "c.h5 d.hdf5 sub" regsweep info ""
    tc "merge OUT and its parts" "c.h5 d.hdf5 sub" regsweep merge c.h5 ""
    tc "rerun OUT after --job" "c.h5 d.hdf5 sub" regsweep rerun --job 3 ""
    tc "run -o: *.h5, *.hdf5, folders" "c.h5 d.hdf5 sub" regsweep run a.yaml -o ""
    tc "run --output= (split at '=')" "c.h5 d.hdf5 sub" regsweep run a.yaml --output =
    popd >/dev/null || return
    rm -rf "$tmp"
}

# ---- the completion --------------------------------------------------------

# shellcheck source=/dev/null
if ! source "$comp"; then
    fail "source $comp" "failed"
elif [[ $(complete -p regsweep 2>&1) != "complete -F _regsweep regsweep" ]]; then
    fail "complete -p regsweep" "$(complete -p regsweep 2>&1)"
else
    pass "complete -F _regsweep regsweep"
    mode=
    completion_cases
    if [[ -r $bash_completion ]]; then
        # bash-completion's own script, then ours again (its functions used)
        if (
            set +u
            # shellcheck source=/dev/null
            source "$bash_completion" >/dev/null 2>&1
            declare -F _init_completion >/dev/null
        ); then
            set +u   # bash-completion is not written for set -u
            # shellcheck source=/dev/null
            source "$bash_completion" >/dev/null 2>&1
            mode="with bash-completion"
            completion_cases
            mode=
            set -u
        else
            pass "bash-completion" "skipped: $bash_completion has no _init_completion"
        fi
    else
        pass "bash-completion" "skipped: not installed"
    fi
fi

# ---- the man page ------------------------------------------------------------

if ! command -v groff >/dev/null 2>&1; then
    pass "groff -man -ww -z docs/regsweep.1" "skipped: groff not installed"
else
    out=$(groff -man -ww -z "$man" 2>&1)
    if [[ -n $out ]]; then
        fail "groff -man -ww -z docs/regsweep.1" "$out"
    else
        pass "groff -man -ww -z docs/regsweep.1"
    fi
fi

# The options: those the completion offers at each level and every --word
# written in the script; each must be in the man page's source, with its
# \- escapes and font changes undone.
man_text=$(sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "$man")
opts=$(
    {
        for c in "" run expand rerun report info; do _regsweep_options "$c"; done
        grep -o -- '--[a-z][a-z0-9-]*' "$comp"
    } | tr ' ' '\n' | grep . | LC_ALL=C sort -u
)
missing=
for o in $opts; do
    grep -Eq -- "(^|[^-[:alnum:]])${o}([^-[:alnum:]]|\$)" <<<"$man_text" ||
        missing+=" $o"
done
if [[ -n $missing ]]; then
    fail "completion options in docs/regsweep.1" "missing:$missing"
else
    pass "completion options in docs/regsweep.1" "$(wc -l <<<"$opts") options"
fi

# shellcheck disable=SC2154  # _regsweep_spec_keys: from the completion
: "${_regsweep_spec_keys:?}"

# Spec keys: each key's last part is a word of docs/SPEC.md, and every key in
# the first column of SPEC.md's key tables is the last part of a key offered.
missing=
for k in $_regsweep_spec_keys; do
    grep -qw -- "${k##*.}" "$specmd" || missing+=" $k"
done
documented=$(
    sed -n '/^## Keys/,/^## Overrides/p' "$specmd" |
        grep '^| `' | cut -d'|' -f2 | grep -o '`[a-z_0-9]*`' | tr -d '`'
    echo name
)
for d in $documented; do
    found=0
    for k in $_regsweep_spec_keys; do
        [[ ${k##*.} == "$d" ]] && { found=1; break; }
    done
    ((found)) || missing+=" SPEC.md:$d"
done
if [[ -n $missing ]]; then
    fail "spec keys match docs/SPEC.md" "not matched:$missing"
else
    pass "spec keys match docs/SPEC.md" "$(wc -w <<<"$_regsweep_spec_keys") keys"
fi

echo "Ran $ran tests"
if ((failures)); then
    echo "FAILED (failures=$failures)"
    exit 1
fi
echo "OK"
exit 0
