"""Shared test helpers."""
from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def pytest_configure(config: pytest.Config) -> None:
    # the emulators, the lab CA and the Samba driver live in the lab's own distribution (pybridge-lab/)
    if importlib.util.find_spec("pybridge_lab") is None:
        raise pytest.UsageError("the tests need the lab too: python -m pip install -e ./pybridge-lab "
                                "(bash scripts/setup installs pybridge and the lab)")
    # pybridge keeps the configuration's parse in the user's cache directory (pybridge.cache.user_files): the
    # tests' thousands of configuration files get a cache directory of their own, not the user's
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="pybridge-test-cache-")
