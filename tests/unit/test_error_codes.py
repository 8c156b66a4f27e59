"""Every ErrorCode the code can emit is in the table, and docs/error-codes.md is the table."""
from __future__ import annotations

import re
from pathlib import Path

from pybridge.core.errorcodes import ERROR_CODES, markdown

ROOT = Path(__file__).resolve().parents[2]
# error_code="X", error_code = "X", StepFailed(Status.X, "Code", ...), Finding("Code", ...), class attribute error_code
PATTERNS = [re.compile(r'error_code\s*=\s*"([^"]+)"'), re.compile(r'StepFailed\(\s*Status\.\w+,\s*"([^"]+)"'),
            re.compile(r'Finding\(\s*"([^"]+)"'), re.compile(r'code, action = "([^"]+)"'),
            re.compile(r'code = "([^"]+)"')]


def emitted_codes() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in (ROOT / "pybridge").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for pattern in PATTERNS:
            for m in pattern.finditer(text):
                found.setdefault(m.group(1), str(path.relative_to(ROOT)))
    return found


def test_the_scan_finds_codes():
    codes = emitted_codes()
    assert {"InvalidDistinguishedName", "LdapAuthenticationFailed", "AttributeValueMustBeUnique", "Throttled",
            "no-start-ma-already-running", "LargeObject"} <= set(codes)


def test_every_emitted_code_is_documented():
    missing = {code: where for code, where in emitted_codes().items() if code not in ERROR_CODES}
    assert missing == {}


def test_docs_match_the_table():
    assert (ROOT / "docs" / "error-codes.md").read_text(encoding="utf-8") == markdown()
