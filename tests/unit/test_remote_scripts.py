"""The constant PowerShell payloads and the WinRS wire format."""
from __future__ import annotations

import base64
import json
import re

import pytest

from pybridge.remote import compact, load_script
from pybridge.remote.winrs import (RESULT_MARKER, command_line, decode_result, encode_input, readable_stderr,
                                   report_script, streams_from_envelope, sync_script)

SCRIPTS = ["Read-PyBridgeReport.ps1", "WinRS-Common.ps1", "WinRS-Sync.ps1", "WinRS-ReadReport.ps1"]


def errors_in(source: str) -> list[str]:
    ts = pytest.importorskip("tree_sitter")
    tsp = pytest.importorskip("tree_sitter_powershell")
    parser = ts.Parser(ts.Language(tsp.language()))
    data = source.encode("utf-8")
    tree = parser.parse(data)
    found: list[str] = []

    def walk(node) -> None:  # type: ignore[no-untyped-def]
        if node.type == "ERROR" or node.is_missing:
            line = data[:node.start_byte].count(b"\n") + 1
            found.append(f"line {line}: {data[node.start_byte:node.end_byte][:60]!r}")
        for child in node.children:
            walk(child)
    walk(tree.root_node)
    return found


@pytest.mark.parametrize("name", SCRIPTS)
def test_payloads_are_package_data_and_parse(name):
    text = load_script(name)
    assert text.startswith("# ") and errors_in(text) == []


@pytest.mark.parametrize("build", [sync_script, report_script])
def test_winrs_commands_parse_and_fit_cmd_exe(build):
    script = build()
    assert errors_in(script) == []
    line = " ".join(["powershell.exe", *command_line(script)])
    assert len(line) < 8191  # cmd.exe's limit for the whole command line
    assert base64.b64decode(command_line(script)[-1]).decode("utf-16-le") == script


@pytest.mark.parametrize("name", SCRIPTS)
def test_payloads_build_no_code_from_values(name):
    text = load_script(name)
    # no evaluation of strings as code, no downloads, no expansion of values into commands
    assert not re.search(r"Invoke-Expression|\biex\b|ScriptBlock\]::Create|\.Invoke\(|DownloadString|"
                         r"Start-Process|cmd(\.exe)? /c|&\s*\$", text, re.I)


def test_compact_drops_only_comments_indentation_and_blank_lines():
    assert compact("# c\n  $a = 1\n\n    # d\n  if ($a) { 'x#y' }\n") == "$a = 1\nif ($a) { 'x#y' }"


def test_stdin_carries_only_base64_and_survives_any_dn():
    dn = "CN=x'; Remove-Item C:\\ -Recurse #,OU=Ü \"$(whoami)\" `n,DC=contoso,DC=com"
    line = encode_input({"DistinguishedName": dn, "StagingMode": True})
    assert re.fullmatch(rb"[A-Za-z0-9+/=]+\r\n", line)
    assert json.loads(base64.b64decode(line))["DistinguishedName"] == dn


def test_result_line_is_found_among_host_output():
    envelope = {"Stage": "Done", "Output": ["{}"], "Errors": [], "Warnings": ["w"]}
    line = RESULT_MARKER + base64.b64encode(json.dumps(envelope).encode()).decode()
    stdout = f"Write-Host noise\r\n{line}\r\n".encode()
    assert decode_result(stdout) == envelope
    assert decode_result(b"no marker here") is None
    assert decode_result((RESULT_MARKER + "!!!").encode()) is None
    streams = streams_from_envelope({"Stage": "ImportModule", "Errors": [{"Message": "m", "ErrorId": "E"}, "plain"]})
    assert streams.failed and streams.stage == "ImportModule"
    assert [(e.message, e.error_id) for e in streams.errors] == [("m", "E"), ("plain", None)]
    assert streams_from_envelope(envelope).failed is False


def test_clixml_errors_become_text():
    blob = ('#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
            '<S S="Error">powershell.exe : not found_x000D__x000A_</S><S S="Error">second</S></Objs>').encode()
    assert readable_stderr(blob) == "powershell.exe : not found\nsecond"
    assert readable_stderr(b"plain error\r\n") == "plain error"
