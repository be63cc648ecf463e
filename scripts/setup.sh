#!/usr/bin/env bash
# Sets up everything vms needs on a fresh Debian machine: Debian packages (when root),
# a virtualenv in .venv with pinned Python packages, the SDK and the built-in plug-ins.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(ffmpeg postgresql chromium chromium-driver iproute2 util-linux fonts-dejavu-core)

missing_debian() {
    command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null \
        && command -v chromium >/dev/null && command -v ip >/dev/null \
        && command -v unshare >/dev/null && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
        && return 1
    return 0
}

if missing_debian; then
    if [ "$(id -u)" = 0 ]; then
        echo "setup: installing Debian packages: ${APT_PACKAGES[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${APT_PACKAGES[@]}" >/dev/null
    else
        echo "setup: please install (as root): apt-get install ${APT_PACKAGES[*]}" >&2
        exit 1
    fi
fi

PYTHON=${PYTHON:-python3}
"$PYTHON" - <<'PY'
import sys
if sys.version_info < (3, 11):
    raise SystemExit(f"setup: Python 3.11+ is needed, this is {sys.version.split()[0]}")
PY

if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip 'setuptools>=77' wheel 2>&1 | grep -v '^WARNING: Location' || true

editables=(-e ./sdk -e ".[test]")
for plugin in plugins/*/pyproject.toml; do
    [ -e "$plugin" ] && editables+=(-e "./$(dirname "$plugin")")
done
.venv/bin/python -m pip install -q -c constraints.txt "${editables[@]}" 2>&1 \
    | grep -v -e '^WARNING: Location' -e '^\s*$' || true
# The LPR plug-in's OCR engine, without its declared dependency on opencv-python (major 5
# needs libGL and shares the cv2 folder with the headless build the project uses); its
# other needs are in plugins/lpr/pyproject.toml.
if [ -e plugins/lpr/pyproject.toml ]; then
    .venv/bin/python -m pip install -q --no-deps -c constraints.txt rapidocr-onnxruntime 2>&1 \
        | grep -v -e '^WARNING: Location' -e '^\s*$' || true
fi
.venv/bin/python -c "import vms_core, vms_sdk" || { echo "setup: install failed" >&2; exit 1; }
# A server running as root runs each plug-in as this unprivileged user, which must be able
# to run this Python (an interpreter under /root is not reachable by other users until
# /root may be traversed; its files keep their own permissions).
if [ "$(id -u)" = 0 ]; then
    id -u vms-plugin >/dev/null 2>&1 \
        || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin vms-plugin
    if ! runuser -u vms-plugin -- .venv/bin/python -c "import vms_sdk" 2>/dev/null; then
        dir=$(.venv/bin/python -c 'import sys; print(sys.base_prefix)')
        while [ "$dir" != / ]; do
            [ -x "$dir" ] && [ "$(stat -c %A "$dir" | cut -c10)" = x ] || chmod o+x "$dir"
            dir=$(dirname "$dir")
        done
        runuser -u vms-plugin -- .venv/bin/python -c "import vms_sdk" \
            || echo "setup: user vms-plugin cannot run .venv/bin/python; plug-ins will not start" >&2
    fi
fi
# The Makefile's stamp: a setup run by hand counts too, so make does not repeat it.
touch .venv/.setup-stamp
echo "setup: ready (.venv)"
