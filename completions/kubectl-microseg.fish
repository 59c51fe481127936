# fish completion for kubectl-microseg (`kubectl microseg <TAB>` is completed by kubectl's own
# completion through kubectl_complete-microseg: see `kubectl microseg completion install`).
# Load with:  kubectl-microseg completion fish | source
#   or save as ~/.config/fish/completions/kubectl-microseg.fish
function __kubectl_microseg_complete
    set -l words (commandline -opc)
    set -l cur (commandline -ct)
    set -l out ($words[1] completion __complete -- $words[2..-1] "$cur" 2>/dev/null)
    or return
    set -l directive (string replace -r '^:' '' -- $out[-1])
    string match -qr '^[0-9]+$' -- $directive; or set directive 1
    set -e out[-1]
    if test (count $out) -eq 0
        if test (math "bitand($directive, 5)") -eq 0
            __fish_complete_path "$cur"
        end
        return
    end
    printf '%s\n' $out
end
complete -c kubectl-microseg -f -a '(__kubectl_microseg_complete)'
