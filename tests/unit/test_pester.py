"""Runs the module's Pester 5 tests (tests/powershell) where PowerShell exists.

No pwsh can be installed on this project's Linux machines (it is in neither Debian's archive, PyPI nor
npm), so here the test skips with that reason, and the module is checked statically by
test_psmodule_static.py. On a machine with pwsh and Pester 5.2+, a failing Pester test fails this test.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

RUNNER = Path(__file__).resolve().parents[1] / "powershell" / "run.sh"


def test_pester_suite():
    if shutil.which("pwsh") is None:
        pytest.skip("pwsh (PowerShell 7) is not on PATH; the Pester tests in tests/powershell need it")
    proc = subprocess.run(["bash", str(RUNNER)], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
