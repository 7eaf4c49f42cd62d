# bash completion for holderctl                           -*- shell-script -*-
# SPDX-License-Identifier: MIT
#
# Member and cluster names come from the store, through the hidden
# `holderctl __complete` command (with the --root given on the line).

_holderctl_names()
{
    holderctl "${_holderctl_root[@]}" __complete "$1" 2>/dev/null
}

_holderctl()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local commands="ls list status up stop down logs prune doctor"
    local global="--root --json --no-color --help"
    local cmd= i
    _holderctl_root=()

    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            --root) _holderctl_root=(--root "${COMP_WORDS[i+1]}"); ((i++)) ;;
            --root=*) _holderctl_root=("${COMP_WORDS[i]}") ;;
            -*) ;;
            *) [[ -z $cmd ]] && cmd=${COMP_WORDS[i]} ;;
        esac
    done

    case $prev in
        --root|--helper)
            COMPREPLY=($(compgen -d -- "$cur")); [[ $prev == --helper ]] && COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        -f|--file)
            if [[ $cmd == up ]]; then
                COMPREPLY=($(compgen -f -X '!*.json' -- "$cur") $(compgen -d -- "$cur"))
                return
            fi ;;
        -c|--cluster)
            COMPREPLY=($(compgen -W "$(_holderctl_names clusters)" -- "$cur"))
            return ;;
        -t|--timeout)
            COMPREPLY=($(compgen -W "10s 30s 1m 5m 10m" -- "$cur"))
            return ;;
        -b|--backend)
            COMPREPLY=($(compgen -W "fake cloud-hypervisor libvirt" -- "$cur"))
            return ;;
    esac

    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$global --version" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        fi
        return
    fi

    local options= names=
    case $cmd in
        ls|list) options="--cluster" ;;
        status) options=""; names=$(_holderctl_names members) ;;
        up) options="--file --timeout --helper" ;;
        stop) options="--cluster --all --timeout"; names=$(_holderctl_names running) ;;
        down) options="--timeout"; names=$(_holderctl_names clusters) ;;
        logs) options="--follow"; names=$(_holderctl_names members) ;;
        prune) options="--dry-run --backend" ;;
        doctor) options="" ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$options $global" -- "$cur"))
    else
        COMPREPLY=($(compgen -W "$names" -- "$cur"))
    fi
}

complete -F _holderctl holderctl
