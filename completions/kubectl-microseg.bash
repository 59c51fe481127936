# bash completion for kubectl-microseg (`kubectl microseg <TAB>` is completed by kubectl's own
# completion through kubectl_complete-microseg: see `kubectl microseg completion install`).
# Load with:  source <(kubectl-microseg completion bash)
_kubectl_microseg() {
    local cur words cword
    if declare -F _get_comp_words_by_ref >/dev/null 2>&1; then
        _get_comp_words_by_ref -n =: cur words cword
    else  # without bash-completion: glue back the words that COMP_WORDBREAKS split at '='
        local i; words=()
        for (( i = 0; i <= COMP_CWORD; i++ )); do
            if (( i > 0 )) && [[ ${COMP_WORDS[i]} == "=" || ${COMP_WORDS[i-1]} == "=" ]]; then
                words[${#words[@]}-1]+=${COMP_WORDS[i]}
            else
                words+=("${COMP_WORDS[i]}")
            fi
        done
        cword=$(( ${#words[@]} - 1 )); cur=${words[cword]}
    fi
    local out
    out=$("${words[0]}" completion __complete -- "${words[@]:1:cword-1}" "$cur" 2>/dev/null) || return 0
    local directive=${out##*:}
    [[ $directive =~ ^[0-9]+$ ]] || directive=1
    local strip=""
    [[ $cur == *[=:]* ]] && strip=${cur%"${cur##*[=:]}"}
    COMPREPLY=()
    local line
    while IFS= read -r line; do
        [[ -z $line || $line == :* ]] && continue
        line=${line%%$'\t'*}
        COMPREPLY+=("${line#"$strip"}")
    done <<< "$out"
    if (( ${#COMPREPLY[@]} == 0 && (directive & 4) == 0 && (directive & 1) == 0 )); then
        compopt -o default 2>/dev/null
    fi
    (( directive & 2 )) && compopt -o nospace 2>/dev/null
    return 0
}
complete -F _kubectl_microseg kubectl-microseg
