"""Running the module's Pester suites (tests/powershell) from pytest, and finding PowerShell for tests.

pwsh (for the Pester suites and for the remote tests' test sync servers) is found by scripts/find-pwsh, the one place that knows where the project's PowerShell lives
($PYBRIDGE_PWSH, ../shared/tools/pwsh next to the checkout, its main worktree or its local origin, then
PATH). No pwsh anywhere: the test skips with the reason, also under CI (the module is still checked
statically). A shared PowerShell that exists but does not work: a failure under CI, a skip elsewhere.

run_pester() runs tests/powershell/run.sh with a tag filter and reads the JSON summary that run.ps1
writes, so that a failing or skipped Pester test fails the pytest test with its name and message.
"""
from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support import missing_prerequisite

ROOT = Path(__file__).resolve().parents[1]
FIND_PWSH = ROOT / "scripts" / "find-pwsh"
RUNNER = ROOT / "tests" / "powershell" / "run.sh"


def find_pwsh(needed_by: str = "the Pester tests",
              meanwhile: str = "the module is checked statically by tests/unit/test_psmodule_static.py") -> str:
    """The pwsh to test with; skips (or, for a broken shared PowerShell under CI, fails) without one."""
    proc = subprocess.run(["bash", str(FIND_PWSH)], capture_output=True, text=True, timeout=120)
    reason = proc.stderr.strip().replace("find-pwsh: ", "")
    if proc.returncode == 0 and proc.stdout.strip():
        return proc.stdout.strip()
    if proc.returncode == 2:
        missing_prerequisite(f"{needed_by} need PowerShell 7, and: {reason}")
    pytest.skip(f"{needed_by} need PowerShell 7 (pwsh): {reason}; {meanwhile}")
    raise AssertionError("unreachable")


@dataclass
class PesterRun:
    returncode: int
    summary: dict[str, Any]
    output: str

    def problems(self) -> str:
        lines = []
        for item in [*self.summary.get("Tests", []), *self.summary.get("Blocks", [])]:
            messages = "; ".join(m.strip() for m in item.get("Messages") or [])
            lines.append(f"{item.get('Result')}: {item.get('Path')}: {messages}")
        return "\n".join(lines) or self.output[-6000:]

    def assert_all_passed(self) -> None:
        s = self.summary
        assert s, f"Pester wrote no summary (exit code {self.returncode}):\n{self.output[-6000:]}"
        failed = s["Failed"] + s["FailedBlocks"] + s["FailedContainers"] + s["NotRun"]
        assert failed == 0 and self.returncode == 0, \
            f"{failed} Pester failure(s) of {s['Total']}:\n{self.problems()}"
        assert s["Skipped"] == 0, f"{s['Skipped']} Pester test(s) skipped:\n{self.problems()}"
        assert s["Passed"] == s["Total"] > 0, f"passed {s['Passed']} of {s['Total']}:\n{self.problems()}"


def run_pester(tmp_path: Path, *args: str, env: dict[str, str] | None = None, timeout: int = 1800) -> PesterRun:
    pwsh = find_pwsh()
    summary_file = tmp_path / "pester-summary.json"
    environment = {**os.environ, **(env or {}), "PYBRIDGE_PWSH": pwsh}
    proc = subprocess.run(["bash", str(RUNNER), "-Output", "Normal", "-ResultFile", str(summary_file), *args],
                          capture_output=True, text=True, timeout=timeout, env=environment, cwd=ROOT)
    summary: dict[str, Any] = {}
    if summary_file.exists():
        summary = json.loads(summary_file.read_text(encoding="utf-8-sig"))
    return PesterRun(proc.returncode, summary, proc.stdout + proc.stderr)
