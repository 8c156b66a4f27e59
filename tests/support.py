"""Helpers shared by the test packages."""
from __future__ import annotations

import os

import pytest


def missing_prerequisite(reason: str) -> None:
    """Skip with *reason*; under CI (CI=true) fail instead, because CI provides every prerequisite."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI must run this test, but: {reason}", pytrace=False)
    pytest.skip(reason)
