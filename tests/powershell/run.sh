#!/usr/bin/env bash
# Runs the Pester 5 tests of the PowerShell module (tests/powershell/*.Tests.ps1) when pwsh is on PATH.
# Without pwsh it says so and exits 0: PowerShell cannot be installed on every CI machine, and the module
# is still checked statically there by tests/unit/test_psmodule_static.py.
# With pwsh but without Pester 5.2+, it skips too, except under CI=true, where that is a failure.
# Arguments go to run.ps1 (e.g. -Output Detailed). Set PYBRIDGE_PYTHON and start a lab to run the
# real-engine tests; they skip with the reason otherwise.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

if ! command -v pwsh >/dev/null 2>&1; then
  echo "tests/powershell: SKIPPED: pwsh (PowerShell 7) is not on PATH, so the Pester tests did not run." >&2
  echo "tests/powershell: the module is checked statically by tests/unit/test_psmodule_static.py." >&2
  exit 0
fi

if [ -z "${PYBRIDGE_PYTHON:-}" ] && [ -x "$here/../../.venv/bin/python" ]; then
  PYBRIDGE_PYTHON="$here/../../.venv/bin/python"
  export PYBRIDGE_PYTHON
fi

exec pwsh -NoLogo -NoProfile -NonInteractive -File "$here/run.ps1" "$@"
