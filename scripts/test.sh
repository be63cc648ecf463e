#!/usr/bin/env bash
# The whole test command: quality gates, then the test suite. CI runs exactly this.
# The suite runs in its own network namespace (only loopback exists there), so no test can
# reach, or send multicast to, any real network.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
mkdir -p artifacts

echo "== ruff (lint)"
ruff check .
echo "== ruff (format)"
ruff format --check .
echo "== mypy (strict: vms_core, vms_sdk, plug-ins)"
mypy
echo "== import-linter"
lint-imports

echo "== pytest"
workers=${PYTEST_WORKERS:-2}
pytest_cmd=(python -m pytest -n "$workers" --dist loadfile -q -ra "$@")
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && [ -z "${VMS_TEST_NO_NETNS:-}" ]; then
    exec unshare --net -- bash -c 'ip link set lo up && exec "$@"' bash "${pytest_cmd[@]}"
fi
exec "${pytest_cmd[@]}"
