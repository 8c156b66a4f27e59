"""The module's Pester 5 suites that need no servers (tests/powershell, everything not tagged Lab).

They run on real PowerShell 7 with the engine mocked: the cmdlet surface and output contracts, the
error records (exactly one per failed object: -ErrorVariable and $Error counted), progress, warnings,
-ComputerName where WSMan does not exist, and PSScriptAnalyzer with the PowerShell Gallery's settings
and 5.1/7 syntax compatibility. The suites tagged Lab (the real engine, runbook scenarios, SSH
remoting) run in tests/integration/test_pester.py against the integration tests' lab.

pwsh: see tests/pester_support.py (skips with the reason where there is no PowerShell 7 at all).
"""
from __future__ import annotations

from tests.pester_support import run_pester


def test_pester_suites_without_a_lab(tmp_path):
    run = run_pester(tmp_path, "-ExcludeTag", "Lab")
    run.assert_all_passed()
