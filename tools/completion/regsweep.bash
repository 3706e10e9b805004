# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The regsweep authors
#
# Bash completion for regsweep(1).  Source it, or install it as
# share/bash-completion/completions/regsweep.  It uses bash builtins and
# compgen only; bash-completion's _init_completion is used when loaded.
#
# Every option offered here must appear in docs/regsweep.1
# (tests/integration/test_completion.sh checks it).

# The options of each command ("" is the global level), one line.
_regsweep_options()
{
    case $1 in
        '') printf '%s\n' '--help -h --version' ;;
        run) printf '%s\n' '-o --output -j --threads --resume --fail-fast --allow-diverged --no-pack --shard --simd --help' ;;
        merge) printf '%s\n' '--allow-incomplete --help' ;;
        expand) printf '%s\n' '--help' ;;
        rerun) printf '%s\n' '--job -j --threads --simd --help' ;;
        report) printf '%s\n' '--baseline --at --rank-by --format --table --trajectory --no-store --help' ;;
        info) printf '%s\n' '--spec --verify --rebuild --help' ;;
    esac
}

# Succeeds if option $1 takes a value (as the next word or after '=').
_regsweep_takes_value()
{
    case $1 in
        -o | --output | -j | --threads | --simd | --job | --baseline | --at | --format | --rank-by | --table | --shard)
            return 0 ;;
    esac
    return 1
}

# The spec keys an override may set (docs/SPEC.md, src/spec.c); axes.<key>
# are the keys that can be axes (a list for a section key, train.lr=0.1,0.5,
# makes it one too).
_regsweep_spec_keys='name
dataset.kind dataset.n_train dataset.n_test dataset.noise_sd dataset.seed
dataset.dir dataset.train_images dataset.train_labels dataset.test_images
dataset.test_labels dataset.classes dataset.n_val dataset.split_seed
dataset.max_train dataset.max_test
model.layers model.activation model.init model.init_sd model.loss
train.lr train.epochs train.batch_size train.shuffle
reg.l1_mode reg.max_norm reg.input_noise_sd reg.noise
reg.dropconnect_keep reg.early_stopping_patience reg.early_stopping_min_delta
eval.mc_samples
record.masks record.masks.epochs record.masks.steps record.train_eval
record.zero_frac record.mc_dropout_samples record.act_var
record.act_var.epochs record.act_var.steps record.dropconnect_masks
record.dropconnect_masks.epochs record.dropconnect_masks.steps
axes.seed axes.seed.from axes.seed.to axes.keep_prob axes.l2 axes.l1
axes.dataset.n_train axes.dataset.n_test axes.dataset.n_val
axes.dataset.noise_sd axes.dataset.classes axes.dataset.max_train
axes.dataset.max_test axes.model.layers axes.model.activation axes.model.init
axes.model.init_sd axes.model.loss axes.train.lr axes.train.epochs
axes.train.batch_size axes.train.shuffle axes.reg.l1_mode axes.reg.max_norm
axes.reg.input_noise_sd axes.reg.noise axes.reg.dropconnect_keep
axes.reg.early_stopping_patience axes.eval.mc_samples
report.baseline report.baseline.keep_prob report.baseline.l2
report.baseline.l1 report.n_boot report.boot_seed'

# The lines that the command "$@" prints, into COMPREPLY (file names may
# hold blanks).
_regsweep_lines()
{
    local line
    COMPREPLY=()
    while IFS= read -r line; do
        [[ -n $line ]] && COMPREPLY+=("$line")
    done < <("$@")
}

# Directories, and files whose names end in .$2, .$3 ..., that start with
# $1, one a line.
_regsweep_compgen_files()
{
    local cur=$1 ext line
    shift
    compgen -d -- "$cur"
    for ext; do
        compgen -f -X "!*.$ext" -- "$cur"
    done | while IFS= read -r line; do
        [[ -d $line ]] || printf '%s\n' "$line"
    done
}

# Directories and files with the extensions $2 ... matching $1, into
# COMPREPLY.
_regsweep_files()
{
    _regsweep_lines _regsweep_compgen_files "$@"
    compopt -o filenames 2>/dev/null
}

# words/cword from COMP_WORDS/COMP_CWORD with the pieces that bash split
# at '=' (COMP_WORDBREAKS) glued back: "--format" "=" "md" -> "--format=md".
# COMP_LINE, when set, tells a separating blank from none.
_regsweep_join_words()
{
    local i w line=${COMP_LINE-} have_line=0 glue=0 blank
    [[ -n ${COMP_LINE+set} ]] && have_line=1
    words=()
    cword=0
    for ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do
        w=${COMP_WORDS[i]}
        blank=0
        if ((have_line)); then
            [[ $line == [[:blank:]]* ]] && blank=1
            line=${line#*"$w"}
        fi
        if ((i > 1 && !blank)) && [[ -n $w && -z ${w//=/} ]]; then
            words[${#words[@]} - 1]+=$w
            glue=1
        elif ((glue && !blank)); then
            words[${#words[@]} - 1]+=$w
            glue=0
        else
            words+=("$w")
            glue=0
        fi
        ((i == COMP_CWORD)) && cword=$((${#words[@]} - 1))
    done
    ((COMP_CWORD >= ${#COMP_WORDS[@]})) && { words+=(""); cword=$((${#words[@]} - 1)); }
    return 0
}

# Values of option $1 matching $2, into COMPREPLY.
_regsweep_option_values()
{
    local opt=$1 cur=$2 head=''
    COMPREPLY=()
    case $opt in
        --simd) _regsweep_lines compgen -W 'scalar avx2 avx512' -- "$cur" ;;
        --at) _regsweep_lines compgen -W 'final best' -- "$cur" ;;
        --format) _regsweep_lines compgen -W 'text md csv json' -- "$cur" ;;
        --rank-by) _regsweep_lines compgen -W 'test_loss gap abs_gap' -- "$cur" ;;
        --table) _regsweep_lines compgen -W 'configs comparisons trajectory mc_dropout' -- "$cur" ;;
        -o | --output) _regsweep_files "$cur" h5 hdf5 ;;
        --baseline)
            # key=value,key=value: complete the key after the last comma
            [[ $cur == *,* ]] && head=${cur%,*},
            if [[ ${cur##*,} != *=* ]]; then
                _regsweep_lines compgen -P "$head" -S = -W 'keep_prob l2 l1' -- "${cur##*,}"
                compopt -o nospace 2>/dev/null
            fi
            ;;
        # -j/--threads N, --job ID|INDEX, --shard I/N: nothing to offer
    esac
}

# An override: key= completions, or values of the keys that have a fixed set.
_regsweep_override()
{
    local cur=$1 key value
    COMPREPLY=()
    if [[ $cur != *=* ]]; then
        _regsweep_lines compgen -S = -W "$_regsweep_spec_keys" -- "$cur"
        compopt -o nospace 2>/dev/null
        return
    fi
    key=${cur%%=*}
    value=${cur#*=}
    case $key in
        dataset.kind) _regsweep_lines compgen -W 'sin idx fashion_mnist' -- "$value" ;;
        model.activation) _regsweep_lines compgen -W 'relu tanh sigmoid' -- "$value" ;;
        model.init) _regsweep_lines compgen -W 'he_normal normal' -- "$value" ;;
        model.loss) _regsweep_lines compgen -W 'mse softmax_cross_entropy' -- "$value" ;;
        train.batch_size) _regsweep_lines compgen -W 'full' -- "$value" ;;
        train.shuffle | record.train_eval | record.zero_frac) _regsweep_lines compgen -W 'true false' -- "$value" ;;
        reg.l1_mode) _regsweep_lines compgen -W 'subgradient proximal' -- "$value" ;;
        reg.noise) _regsweep_lines compgen -W 'bernoulli three_point gaussian' -- "$value" ;;
        record.masks | record.act_var | record.dropconnect_masks) _regsweep_lines compgen -W 'all none' -- "$value" ;;
        record.masks.epochs | record.masks.steps | record.act_var.epochs | record.act_var.steps | \
        record.dropconnect_masks.epochs | record.dropconnect_masks.steps) _regsweep_lines compgen -W 'all' -- "$value" ;;
        dataset.dir)
            _regsweep_lines compgen -d -- "$value"
            compopt -o filenames 2>/dev/null
            ;;
        dataset.train_images | dataset.train_labels | dataset.test_images | dataset.test_labels)
            _regsweep_lines compgen -f -- "$value"
            compopt -o filenames 2>/dev/null
            ;;
    esac
    COMPREPLY=("${COMPREPLY[@]/#/$key=}")
}

_regsweep()
{
    # shellcheck disable=SC2034  # prev: set by _init_completion, unused
    local cur prev words cword
    if declare -F _init_completion >/dev/null 2>&1; then
        _init_completion -n = || return
    else
        _regsweep_join_words
        cur=${words[cword]}
    fi
    COMPREPLY=()

    # the command: the first word after regsweep (global options take no value)
    local i cmd='' cmd_at=0
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            --help | -h | --version) return 0 ;;
            -*) ;;
            *) cmd=${words[i]}; cmd_at=$i; break ;;
        esac
    done

    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            _regsweep_lines compgen -W "$(_regsweep_options '')" -- "$cur"
        else
            _regsweep_lines compgen -W 'run expand rerun report info merge' -- "$cur"
        fi
        return 0
    fi
    case $cmd in
        run | expand | rerun | report | info | merge) ;;
        *) return 0 ;;
    esac

    # the arguments before the cursor: is the file argument given?  Is the
    # word before the cursor an option waiting for its value?
    local have_file=0 want_value=
    for ((i = cmd_at + 1; i < cword; i++)); do
        if [[ -n $want_value ]]; then
            want_value=
            continue
        fi
        case ${words[i]} in
            --help) return 0 ;;
            --*=*) ;;
            -*) _regsweep_takes_value "${words[i]}" && want_value=${words[i]} ;;
            *) have_file=1 ;;
        esac
    done

    if [[ -n $want_value ]]; then
        _regsweep_option_values "$want_value" "$cur"
    elif [[ $cur == --*=* ]]; then
        local opt=${cur%%=*}
        if _regsweep_takes_value "$opt" && [[ " $(_regsweep_options "$cmd") " == *" $opt "* ]]; then
            _regsweep_option_values "$opt" "${cur#*=}"
            COMPREPLY=("${COMPREPLY[@]/#/$opt=}")
        fi
    elif [[ $cur == -* ]]; then
        _regsweep_lines compgen -W "$(_regsweep_options "$cmd")" -- "$cur"
    elif ((!have_file)); then
        case $cmd in
            run | expand) _regsweep_files "$cur" yaml yml ;;
            *) _regsweep_files "$cur" h5 hdf5 ;;
        esac
    elif [[ $cmd == run || $cmd == expand ]]; then
        _regsweep_override "$cur"
    elif [[ $cmd == merge ]]; then
        _regsweep_files "$cur" h5 hdf5   # the parts
    fi

    # bash replaces only the text after the last '=' when '=' breaks words
    if [[ $cur == *=* && $COMP_WORDBREAKS == *=* ]]; then
        local head=${cur%"${cur##*=}"}
        COMPREPLY=("${COMPREPLY[@]#"$head"}")
    fi
    return 0
}

complete -F _regsweep regsweep
