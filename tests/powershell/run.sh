#!/usr/bin/env bash
# Runs the Pester 5 tests of the PowerShell module (tests/powershell/*.Tests.ps1) with PowerShell 7.
# pwsh is found by scripts/find-pwsh: $PYBRIDGE_PWSH, the project's ../shared/tools/pwsh next to the
# checkout (or next to its main worktree or its local origin), then pwsh on PATH.
# Without any pwsh it says so and exits 0 (skip): the module is still checked statically by
# tests/unit/test_psmodule_static.py. When a shared pwsh folder or $PYBRIDGE_PWSH exists but does not
# work, that is a failure under CI=true (CI provides it) and a skip otherwise. Pester 5.2+ is required
# the same way (run.ps1).
# Arguments go to run.ps1: -Output Detailed, -Tag Lab, -ExcludeTag Lab, -ResultFile summary.json.
# The suites tagged Lab need the lab: tests/integration/test_pester.py starts it and passes it in
# $PYBRIDGE_PESTER_LAB; by hand, `pybridge lab up` (or $PYBRIDGE_LAB_DIR) serves the real-engine suite.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

status=0
pwsh=$(bash "$root/scripts/find-pwsh") || status=$?
if [ "$status" -ne 0 ]; then
  if [ "$status" -eq 2 ] && [ "${CI:-}" = true ]; then
    echo "tests/powershell: FAILED: CI must run the Pester tests, but the PowerShell it provides does not work (see above)." >&2
    exit 1
  fi
  echo "tests/powershell: SKIPPED: no working pwsh (PowerShell 7), so the Pester tests did not run (command -v pwsh, scripts/find-pwsh)." >&2
  echo "tests/powershell: the module is checked statically by tests/unit/test_psmodule_static.py." >&2
  exit 0
fi

if [ -z "${PYBRIDGE_PYTHON:-}" ] && [ -x "$root/.venv/bin/python" ]; then
  PYBRIDGE_PYTHON="$root/.venv/bin/python"
  export PYBRIDGE_PYTHON
fi

exec "$pwsh" -NoLogo -NoProfile -NonInteractive -File "$here/run.ps1" "$@"
