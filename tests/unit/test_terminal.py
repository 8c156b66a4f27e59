"""Everything printed for a person shows control and bidi characters escaped; JSON on stdout stays exact."""
from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout

import pytest

from pybridge.cli import main
from pybridge.terminal import BIDI_CONTROLS, for_terminal, table, width

HOSTILE = "\x1b[2J\x1b[1;32mSuccess\x07\r\x08\x7f\x9b31m\u202eevil\u2066x\u2069\u200e\u200f\u061c"


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def _raw_controls(text: str) -> list[str]:
    return [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) < 0xA0 or ord(c) in BIDI_CONTROLS]


def test_control_and_bidi_characters_come_out_visible():
    shown = for_terminal(HOSTILE)
    assert _raw_controls(shown) == []
    for escape in ("\\x1b", "\\x07", "\\x0d", "\\x08", "\\x7f", "\\x9b", "\\u202e", "\\u2066", "\\u2069",
                   "\\u200e", "\\u200f", "\\u061c"):
        assert escape in shown
    assert "Success" in shown and "evil" in shown


def test_newlines_are_kept_only_where_a_message_spans_lines():
    assert for_terminal("a\nb") == "a\\x0ab"
    assert for_terminal("a\nb\r\nc", newlines=True) == "a\nb\\x0d\nc"


def test_ordinary_text_and_dn_escapes_are_untouched():
    for text in ("CN=Smith\\, John,OU=Users,DC=contoso,DC=com", "Zoë Ångström", "漢字", "tab-less"):
        assert for_terminal(text) == text


def test_escaping_is_idempotent():
    once = for_terminal(HOSTILE)
    assert for_terminal(once) == once


def test_table_columns_fit_the_longest_value_and_escapes():
    rows = [("short", "x"), ("a much longer value than the header", "y"), ("\x1b[31mred", "z"), ("漢字", "w")]
    lines = table(("NAME", "LAST"), rows).splitlines()
    starts = {line.rindex(" ") + 1 for line in lines}  # where the last column begins, in characters
    # every line's last column starts after the same number of terminal cells
    cells = {width(line[:line.rindex(" ") + 1]) for line in lines}
    assert len(cells) == 1 and starts
    assert _raw_controls("".join(lines)) == []
    assert "\\x1b[31mred" in lines[3]


def test_table_right_aligns_numbers_and_shows_none_empty():
    lines = table(("N", "NAME"), [(5, "a"), (12345, None)], right=(0,)).splitlines()
    assert lines[1] == "    5  a" and lines[2] == "12345"


def test_compare_text_is_escaped_and_its_json_exact(tmp_path):
    doc = {"Action": "Update", "StartTime": "2026-01-01T00:00:00.000Z", "EndTime": "2026-01-01T00:00:01.000Z",
           "SourceSystem": {"Name": "Active Directory"}, "TargetSystem": {"Name": "Azure Active Directory"},
           "SourceIdentity": {"Id": None, "Type": "user", "Name": "CN=x,DC=contoso,DC=com"},
           "TargetIdentity": {"Id": None, "Type": None, "Name": None},
           "StatusInfo": {"Status": "Failure", "ErrorCode": "X", "Reason": HOSTILE},
           "ModifiedProperties": [], "ProvisioningSteps": []}
    other = json.loads(json.dumps(doc))
    other["StatusInfo"]["Reason"] = "plain"
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(doc))
    b.write_text(json.dumps(other))
    code, out, _ = run("compare", str(a), str(b))
    assert code == 1 and "Reason" in out
    assert _raw_controls(out) == [] and "\\x1b[2J" in out
    code, out, _ = run("compare", str(a), str(b), "--format", "json")
    values = [v for d in json.loads(out)["Differences"] for v in d["Values"].values()]
    assert HOSTILE in values


def test_the_echo_of_pybridge_config_is_escaped(monkeypatch, tmp_path):
    monkeypatch.setenv("PYBRIDGE_CONFIG", str(tmp_path / "\x1b[2J\x1b[32mok\u202e.yaml"))
    code, out, err = run("sync", "CN=x,DC=contoso,DC=com")
    assert code == 2 and "(from $PYBRIDGE_CONFIG) not found" in err
    assert _raw_controls(err) == [] and "\\x1b[2J" in err and "\\u202e" in err
    assert "pybridge config example" in err
    doc = json.loads(out)  # the JSON result is still printed, exactly
    assert doc["StatusInfo"]["ErrorCode"] == "ConfigurationError"


def test_a_failure_reason_from_ad_is_escaped_on_the_progress_line():
    from pybridge.cli import _progress_printer
    from pybridge.core.model import ProvisioningStep, Status, StepType
    step = ProvisioningStep(number=9, type=StepType.SYNC, name="SyncSpecificObject", description="",
                            status=Status.SKIPPED, details={"Reason": f'adminDescription = "{HOSTILE}"'})
    err = io.StringIO()
    with redirect_stderr(err):
        _progress_printer("text")(step)
    assert err.getvalue().startswith("[ 9/10] SyncSpecificObject (Sync): Skipped - adminDescription")
    assert _raw_controls(err.getvalue()) == [] and "\\x1b[2J" in err.getvalue()


@pytest.mark.parametrize("text", ["", "plain", HOSTILE])
def test_width_counts_terminal_cells(text):
    assert width(for_terminal(text)) >= 0
    assert width("漢") == 2 and width("e\u0301") == 1
