#!/usr/bin/env bash
# The whole test command: quality gates and the test suite. CI runs exactly this.
#
# The gates (ruff, mypy --strict, import-linter) run beside pytest rather than before it:
# the suite mostly waits on real time (cameras, browsers), so the gates cost next to no wall
# time there. Their output is printed once pytest is done, and any failure fails the run.
# The suite runs in its own network namespace (only loopback exists there), so no test can
# reach, or send multicast to, any real network.
#
#   bash scripts/test.sh                    everything (what `make test` and CI run)
#   bash scripts/test.sh tests/playback     one area (arguments go to pytest; gates still run)
#   VMS_TEST_GATES=0 bash scripts/test.sh tests/media    skip the gates for a quick look
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
mkdir -p artifacts

gates_log=$(mktemp)
gates_pid=""
if [ "${VMS_TEST_GATES:-1}" != 0 ]; then
    (
        set -e
        echo "== ruff (lint)"
        ruff check .
        echo "== ruff (format)"
        ruff format --check .
        echo "== mypy (strict: vms_core, vms_sdk, plug-ins)"
        mypy
        echo "== import-linter"
        lint-imports --no-logo --cache-dir .venv/.import_linter_cache
    ) >"$gates_log" 2>&1 &
    gates_pid=$!
fi

echo "== pytest"
# The suite waits on real time far more than it computes: more workers than cores.
workers=${PYTEST_WORKERS:-4}
pytest_cmd=(python -m pytest -n "$workers" --dist worksteal -q -ra --durations=15 "$@")
status=0
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && [ -z "${VMS_TEST_NO_NETNS:-}" ]; then
    unshare --net -- bash -c 'ip link set lo up && exec "$@"' bash "${pytest_cmd[@]}" || status=$?
else
    "${pytest_cmd[@]}" || status=$?
fi

if [ -n "$gates_pid" ]; then
    gates_status=0
    wait "$gates_pid" || gates_status=$?
    cat "$gates_log"
    if [ "$gates_status" != 0 ]; then
        echo "== quality gates FAILED (above)"
        status=1
    fi
fi
rm -f "$gates_log"
exit "$status"
