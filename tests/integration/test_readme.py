"""Every example in README.md, run as printed or, where a test cannot start what it needs, checked.

Shell examples (```sh blocks): `pybridge` command lines run as real processes in a temporary folder whose
`lab/pybridge.yaml` is the test lab's configuration, so `--config lab/pybridge.yaml` works exactly as
written; their exit codes and output shapes are asserted. Lines that need a Windows sync server
(`--computer-name`) or a freshly provisioned lab (`lab up`: tests/integration/test_lab_cli.py runs it) are
parsed by pybridge's own argument parser instead, and `bash scripts/...` lines are checked with `bash -n`.
The command-line synopsis is checked option by option against the parser. PowerShell examples: every line
parses with PowerShell's parser and uses only parameters the module's commands have; the runbook line and
Set-ADSyncScheduler run through the real module against the same lab.

An example this file does not know how to check fails the test: a new example needs an expectation here.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pybridge.cli import build_parser
from tests.support import missing_prerequisite

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w-]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)
PYBRIDGE = Path(sys.executable).with_name("pybridge")

# What each `pybridge sync` example must end with, by its DN (a new example needs a line here).
SYNC_OUTCOMES = {
    "CN=Smith\\, John,OU=Users,OU=Corp,DC=contoso,DC=com": ("Success", None),
    "CN=Sales,OU=Groups,OU=Corp,DC=contoso,DC=com": ("Success", None),
    "CN=Partner Contact,OU=Contacts,OU=Corp,DC=contoso,DC=com": ("Failure", "UnsupportedObjectType"),
    "jdoe@contoso.com": ("Success", None),
}
# Examples that name the object by another identity than its DN, and the DN it names.
NAMED = {"jdoe@contoso.com": "CN=Jane Doe,OU=Users,OU=Corp,DC=contoso,DC=com"}
EXIT = {"Success": 0, "Failure": 1, "Skipped": 3}


def blocks(*langs: str) -> list[str]:
    return [textwrap.dedent("\n".join(line[len(m["indent"]):] for line in m["body"].splitlines()))
            for m in FENCE.finditer(README) if m["lang"] in langs]


def shell_examples() -> list[list[str]]:
    lines = [line for body in blocks("sh", "bash", "shell") for line in body.splitlines() if line.strip()]
    return [shlex.split(line, comments=True) for line in lines]


def why_not_run(argv: list[str]) -> str | None:
    """Why a pybridge example is checked with the parser instead of run; None: it runs."""
    args = argv[1:]
    if "--computer-name" in args:
        return "needs a Windows sync server"
    if args[:1] == ["lab"] and "up" in args:
        return "provisions a Samba AD DC (tests/integration/test_lab_cli.py runs `lab up` for real)"
    return None


def test_the_readme_has_the_examples_this_test_knows():
    examples = shell_examples()
    assert examples and blocks("powershell")
    unknown = [e for e in examples if not (e[0] in (".venv/bin/pybridge", "pybridge")
                                            or len(e) > 1 and e[0] == "bash" and e[1].startswith("scripts/"))]
    assert unknown == [], f"README examples this test cannot check: {unknown}"
    # the up-front facts a newcomer must read before anything else
    head = README[:README.index("## Quick start")]
    for fact in ("proxyAddresses", "onPremises*", "contacts", "never deletes", "leaves the sync scope",
                 "accidental-delete threshold (500 by default)", "deletes nothing"):
        assert fact in head, fact


def test_every_pybridge_example_runs_against_the_lab(lab, tmp_path):
    (tmp_path / "lab").mkdir()
    config = lab.config(tmp_path / "lab")  # lab/pybridge.yaml, relative to the folder the examples run in
    assert config == tmp_path / "lab" / "pybridge.yaml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYBRIDGE_")}
    ran = []
    for argv in shell_examples():
        if argv[0] not in (".venv/bin/pybridge", "pybridge") or why_not_run(argv):
            continue
        args = argv[1:]
        lab.emulator.clear_log()
        proc = subprocess.run([str(PYBRIDGE), *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=300)
        where = f"README example `pybridge {shlex.join(args)}`: exit {proc.returncode}\n{proc.stderr[-2000:]}"
        if args[0] == "sync":
            dn = args[-1]
            assert dn in SYNC_OUTCOMES, f"add the expected outcome of {dn!r} to SYNC_OUTCOMES"
            status, code = SYNC_OUTCOMES[dn]
            lines = proc.stdout.splitlines()
            assert len(lines) == 1, where  # exactly one JSON document on stdout
            doc = json.loads(lines[0])
            assert (proc.returncode, doc["StatusInfo"]["Status"], doc["StatusInfo"]["ErrorCode"]) == \
                (EXIT[status], status, code), where
            assert len(doc["ProvisioningSteps"]) == 10 and doc["SourceIdentity"]["Name"] == NAMED.get(dn, dn)
            if dn in NAMED:
                assert f"is {NAMED[dn]}" in proc.stderr, where  # stderr says which DN it names
            assert Path(doc["ReportPath"]).parent == tmp_path / "lab" / "reports", where
            if "--staging-mode" in args:
                writes = [r for r in lab.emulator.requests if r["method"] in ("POST", "PATCH", "DELETE", "PUT")
                          and not r["path"].endswith("/token")]
                assert writes == [], where  # staging writes nothing to Entra ID
                if status == "Success":
                    assert doc["ProvisioningSteps"][9]["Description"].startswith("[Staging Mode] "), where
        elif args[:2] == ["lab", "status"]:
            # no lab was started in this folder: it says so, and 1 means nothing runs
            assert proc.returncode == 1 and "lab" in proc.stdout + proc.stderr, where
        elif args[:2] == ["lab", "down"]:
            assert proc.returncode == 0, where  # nothing to stop, and no error
        elif args[:2] == ["config", "check"]:
            rows = proc.stdout.splitlines()
            assert proc.returncode == 0 and rows[0].split()[0] == "STATUS", where
            assert rows[1:] and all(row.startswith("ok ") for row in rows[1:]), where
        else:
            pytest.fail(f"no expectation for the README example `pybridge {shlex.join(args)}`")
        ran.append(args[0])
    assert "sync" in ran and "lab" in ran


def test_examples_that_need_a_server_parse_with_pybridge_s_parser():
    parser = build_parser(plugins=True)
    checked = 0
    for argv in shell_examples():
        if argv[0] in (".venv/bin/pybridge", "pybridge") and why_not_run(argv):
            try:
                parser.parse_args(argv[1:])
            except SystemExit as exc:  # argparse reports the problem on stderr and exits
                pytest.fail(f"README example does not parse ({why_not_run(argv)}): {shlex.join(argv)} ({exc})")
            checked += 1
    inline = re.findall(r"`(pybridge sync --computer-name [^`]+)`", README)
    for text in inline:  # the remote examples in the text (DN is the README's placeholder for a DN)
        parser.parse_args(shlex.split(text)[1:])
        checked += 1
    assert checked


def test_scripts_the_readme_runs_exist_and_parse():
    for argv in shell_examples():
        if argv[0] != "bash":
            continue
        script = ROOT / argv[1]
        assert script.is_file(), argv
        proc = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        if argv[1] == "scripts/with-pwsh":  # what it wraps is the test command CI runs
            assert argv[2:] == [".venv/bin/python", "-m", "pytest"]
            assert "bash scripts/with-pwsh .venv/bin/python -m pytest" in (ROOT / ".ci" / "run").read_text()


def _subparsers(parser) -> dict:  # type: ignore[no-untyped-def]
    import argparse

    return {name: sub for a in parser._actions if isinstance(a, argparse._SubParsersAction)  # noqa: SLF001
            for name, sub in a.choices.items()}


def _options(parser) -> set[str]:  # type: ignore[no-untyped-def]
    """Every option string of *parser* and of its subcommands (`history list`, `scheduler set`, ...)."""
    found = {s for a in parser._actions for s in a.option_strings}  # noqa: SLF001
    for sub in _subparsers(parser).values():
        found |= _options(sub)
    return found


def test_the_command_line_synopsis_names_only_real_commands_and_options():
    [synopsis] = [b for b in blocks("") if b.startswith("pybridge ")]
    entries: list[str] = []
    for line in synopsis.splitlines():
        if line.startswith(" ") and entries:
            entries[-1] += " " + line.strip()
        elif line.strip():
            entries.append(line.strip())
    parser = build_parser(plugins=True)
    commands = _subparsers(parser)
    for entry in entries:
        words = entry.split()
        assert words[0] == "pybridge" and words[1] in commands, entry
        options = _options(commands[words[1]])
        for option in re.findall(r"(?<![\w-])--[a-z][a-z-]*", entry):
            assert option in options, f"{option} in the synopsis line {entry!r}"
    assert {e.split()[1] for e in entries} >= {"sync", "compare", "history", "report", "rules", "scheduler", "lab"}


# -- PowerShell -------------------------------------------------------------------------------------------------
CHECK_PS = r"""
param([Parameter(Mandatory)][string]$LinesFile)
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path -Path $PWD -ChildPath 'psmodule/ADSyncDiagnostics/ADSyncDiagnostics.psd1')
$module = @{}
Get-Command -Module ADSyncDiagnostics | ForEach-Object { $module[$_.Name] = $_ }
$problems = [System.Collections.Generic.List[string]]::new()
foreach ($line in (Get-Content -LiteralPath $LinesFile -Encoding utf8 | ConvertFrom-Json)) {
    $tokens = $null; $errors = $null
    $ast = [System.Management.Automation.Language.Parser]::ParseInput($line, [ref]$tokens, [ref]$errors)
    foreach ($e in $errors) { $problems.Add("syntax: $($e.Message) in: $line") }
    $commands = $ast.FindAll({ param($n) $n -is [System.Management.Automation.Language.CommandAst] }, $true)
    foreach ($c in $commands) {
        $name = $c.GetCommandName()
        if (-not $name -or -not $module.ContainsKey($name)) { continue }
        $known = @($module[$name].Parameters.Values | ForEach-Object { $_.Name; $_.Aliases })
        foreach ($p in $c.CommandElements) {
            if ($p -is [System.Management.Automation.Language.CommandParameterAst] -and $known -notcontains $p.ParameterName) {
                $problems.Add("$name has no parameter -$($p.ParameterName): $line")
            }
        }
    }
}
ConvertTo-Json -Compress -InputObject @($problems)
"""


def find_pwsh() -> str:
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "find-pwsh"), "--quiet"], capture_output=True, text=True,
                          timeout=120)
    if proc.returncode == 1:
        missing_prerequisite("no PowerShell 7 (scripts/find-pwsh): the README's PowerShell examples need it")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def powershell_examples() -> list[str]:
    return [line for body in blocks("powershell") for line in body.splitlines() if line.strip()]


def test_every_powershell_example_parses_and_uses_the_module_s_parameters(tmp_path):
    pwsh = find_pwsh()
    lines = powershell_examples()
    (tmp_path / "lines.json").write_text(json.dumps(lines), encoding="utf-8")
    (tmp_path / "check.ps1").write_text(CHECK_PS, encoding="utf-8")
    proc = subprocess.run([pwsh, "-NoLogo", "-NoProfile", "-NonInteractive", "-File", str(tmp_path / "check.ps1"),
                           "-LinesFile", str(tmp_path / "lines.json")], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_the_runbook_and_scheduler_examples_run_through_the_module(lab, tmp_path):
    pwsh = find_pwsh()
    lines = powershell_examples()
    imports = [line for line in lines if line.startswith("Import-Module ")]
    runbook = [line for line in lines if "-StagingMode" in line and line.rstrip().endswith("| ConvertFrom-Json")]
    scheduler = [line for line in lines if line.startswith("Set-ADSyncScheduler ")]
    # the other lines need Windows: the ActiveDirectory module (Get-ADUser), WinRM, or an SSH sync server;
    # test_every_powershell_example_parses_and_uses_the_module_s_parameters checks them
    assert len(imports) == len(runbook) == len(scheduler) == 1
    script = "\n".join(["$ErrorActionPreference = 'Stop'", imports[0], f"$readmeResult = {runbook[0]}",
                        "'STATUS=' + $readmeResult.StatusInfo.Status",
                        "'STEP10=' + $readmeResult.ProvisioningSteps[9].Description", scheduler[0]])
    (tmp_path / "readme.ps1").write_text(script + "\n", encoding="utf-8")
    config = lab.config(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYBRIDGE_")}
    env.update(PYBRIDGE_PYTHON=sys.executable, PYBRIDGE_CONFIG=str(config))
    lab.emulator.clear_log()
    proc = subprocess.run([pwsh, "-NoLogo", "-NoProfile", "-NonInteractive", "-File", str(tmp_path / "readme.ps1")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "STATUS=Success" in proc.stdout and "STEP10=[Staging Mode] " in proc.stdout
    assert [r for r in lab.emulator.requests if r["method"] in ("POST", "PATCH")
            and not r["path"].endswith("/token")] == []
    got = subprocess.run([str(PYBRIDGE), "scheduler", "get", "--config", str(config)], env=env, capture_output=True,
                         text=True, timeout=120)
    assert got.returncode == 0 and json.loads(got.stdout)["SyncCycleEnabled"] is False, got.stderr
