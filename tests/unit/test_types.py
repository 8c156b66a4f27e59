"""mypy on the package pybridge/, with the configuration in pyproject.toml ([tool.mypy]): it must find nothing.

The checker comes with the test extra (pip install -e '.[test]', as scripts/setup does). Without it the test
skips, saying so, except under CI (CI=true), where a missing checker fails the run rather than passing unseen.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_mypy_finds_nothing_in_pybridge():
    if importlib.util.find_spec("mypy") is None:
        message = f"mypy is not installed in {sys.executable}'s environment (pip install -e '.[test]')"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    # The files to check come from the configuration ("pybridge"); its cache (.mypy_cache, git-ignored) makes a
    # second run take a fraction of a second.
    done = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"mypy exited {done.returncode}:\n{done.stdout}{done.stderr}"
