#!/bin/sh
# kubectl-microseg: launcher of the krew archive. It runs microseg.pyz (next to this file) with a
# Python 3 for which the archive carries compiled wheels. KUBECTL_MICROSEG_PYTHON names an interpreter
# to use instead of searching PATH.
set -u

supported="@PYTHONS@"  # newest first; python3 is tried before them
build_id="@BUILD_ID@"   # the zipapp's shiv build id: it unpacks into ${SHIV_ROOT:-~/.shiv}/microseg.pyz_<id>

# krew links ~/.krew/bin/kubectl-microseg to this file: follow the links to find microseg.pyz.
self=$0
while [ -L "$self" ]; do
    link=$(readlink "$self")
    case $link in
        /*) self=$link ;;
        *) self=$(dirname "$self")/$link ;;
    esac
done
pyz=$(cd "$(dirname "$self")" && pwd -P)/microseg.pyz

if [ -n "${KUBECTL_MICROSEG_PYTHON:-}" ]; then
    candidates=$KUBECTL_MICROSEG_PYTHON
else
    candidates=python3
    for v in $supported; do candidates="$candidates python$v"; done
fi

for py in $candidates; do
    command -v "$py" >/dev/null 2>&1 || continue
    v=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || continue
    case " $supported " in
        *" $v "*)
            # the first run of this version unpacks the zipapp (seconds): say so once, on stderr
            root=${SHIV_ROOT:-${HOME:-~}/.shiv}
            if [ ! -d "$root/microseg.pyz_$build_id/site-packages" ]; then
                echo "kubectl-microseg: first run of this version: unpacking into $root (this can take 10 s; later runs start at once)" >&2
            fi
            exec "$py" "$pyz" "$@" ;;
    esac
done

echo "error: kubectl-microseg needs CPython $(echo "$supported" | sed 's/ /, /g') on PATH" \
     "(tried: $candidates); install one, set KUBECTL_MICROSEG_PYTHON, or use: pipx install kubectl-microseg" >&2
exit 127
