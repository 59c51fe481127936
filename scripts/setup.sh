#!/usr/bin/env bash
# Set up everything kubectl-microseg needs on a fresh Debian/Ubuntu machine:
#   - system packages for the nftables views and their kernel tests (as root, with apt-get);
#   - a virtual environment in .venv with the project installed (editable), its test, check, release and fast
#     extras, and build/layout/ (the installed namespace as mypy reads it: scripts/typecheck.py).
# Idempotent: a second run only checks. Nothing global is installed but Debian packages.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v nft >/dev/null 2>&1 || need_apt+=(nftables)
command -v iptables-nft >/dev/null 2>&1 || need_apt+=(iptables)  # iptables-save input, its kernel tests
command -v ipset >/dev/null 2>&1 || need_apt+=(ipset)
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
[ -e /usr/lib/python3/dist-packages/nftables/nftables.py ] || need_apt+=(python3-nftables libnftables1)
command -v git >/dev/null 2>&1 || need_apt+=(git)
command -v zsh >/dev/null 2>&1 || need_apt+=(zsh)    # completion tests
command -v fish >/dev/null 2>&1 || need_apt+=(fish)  # completion tests
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)  # matrix -o html rendered in a real browser
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing ${need_apt[*]} with apt-get" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "${need_apt[@]}" >/dev/null
    else
        echo "setup: note: missing ${need_apt[*]}; the nftables views and their tests need them (run as root to install)" >&2
    fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
log=$(mktemp)
pip_install() {  # quiet unless it fails; then show what pip said
    if ! .venv/bin/python -m pip install -q --disable-pip-version-check "$@" >"$log" 2>&1; then
        cat "$log" >&2
        echo "setup: pip install $* failed" >&2
        exit 1
    fi
}
pip_install --upgrade pip
pip_install -e '.[test,check,release,fast]'  # fast: rapidyaml (optional; see pyproject.toml)
.venv/bin/python scripts/typecheck.py --layout
rm -f "$log"
echo "setup: ready (.venv/bin/kubectl-microseg)" >&2
