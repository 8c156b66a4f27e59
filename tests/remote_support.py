"""Helpers of the remote path's integration tests (WinRM: test_remote.py; SSH: test_remote_ssh.py).

The sync servers there are the lab's test sync servers (pybridge_lab.sync_server): real PowerShell 7 runs
what pybridge sends, with pybridge's module and a stand-in of Microsoft's installed. The PowerShell is the
one scripts/find-pwsh finds (tests/pester_support.find_pwsh): none anywhere, the tests skip saying so; a
shared one that does not work, a failure under CI.
"""
from __future__ import annotations

import argparse
import io
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pybridge.remote.cli import add_sync_arguments, run_sync
from pybridge.remote.settings import RemoteSettings
from tests.pester_support import find_pwsh

#: pybridge's PowerShell module in this checkout: what the test sync servers install
PSMODULE = Path(__file__).resolve().parents[1] / "psmodule" / "ADSyncDiagnostics"
INJECTION_DN = "CN=x'; Remove-Item C:\\ -Recurse #,OU=Corp,DC=contoso,DC=com"
QUOTES_DN = 'CN=Müller\\, "$(Get-Date)" `n,OU=Corp,DC=contoso,DC=com'


def remote_pwsh() -> str:
    return find_pwsh("the remote tests (their test sync servers run PowerShell)",
                     "the remote path's unit tests run with fake transports")


def parser() -> argparse.ArgumentParser:
    """`pybridge sync`'s own options (as pybridge.cli defines them) plus the remote ones."""
    p = argparse.ArgumentParser(prog="pybridge sync")
    p.add_argument("dn_positional", nargs="?")
    p.add_argument("--distinguished-name", "-d", dest="dn")
    p.add_argument("--staging-mode", action="store_true")
    p.add_argument("--what-if", action="store_true")
    p.add_argument("--no-html-report", action="store_true")
    p.add_argument("--report-dir")
    p.add_argument("--format", choices=("adsync", "graph"), default="adsync")
    p.add_argument("--progress", choices=("text", "json", "none"), default="text")
    p.add_argument("--wait", type=float, default=0.0)
    add_sync_arguments(p)
    return p


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def docs(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    @property
    def doc(self) -> dict[str, Any]:
        docs = self.docs
        assert len(docs) == 1, f"expected one JSON document, got {len(docs)}: {self.stderr}"
        return docs[0]

    def remote_errors(self) -> list[str]:
        """The servers' error stream, as printed (`pybridge: NAME: error: ...`)."""
        return [line for line in self.stderr.splitlines() if re.match(r"pybridge: [^:]+: error: ", line)]

    def assert_clean(self) -> None:
        """No PowerShell error came back: a payload or module that fails in PowerShell fails the test."""
        assert self.remote_errors() == [], self.stderr
        assert "Traceback" not in self.stderr, self.stderr


def sync(*argv: str, remote: RemoteSettings | None = None) -> Run:
    out, err = io.StringIO(), io.StringIO()
    code = run_sync(parser().parse_args(list(argv)), remote or RemoteSettings(), out=out, err=err,
                    stdin=io.StringIO())
    return Run(code, out.getvalue(), err.getvalue())


def engine_dn(run: Any) -> str | None:
    """The DN one engine run on a server was given (`--distinguished-name DN` or `--distinguished-name=DN`)."""
    argv = list(run.argv)
    for i, arg in enumerate(argv):
        if arg == "--distinguished-name" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--distinguished-name="):
            return arg.split("=", 1)[1]
    return None


def writes(emulator: Any) -> list[dict[str, Any]]:
    return [r for r in emulator.requests if r["method"] in ("POST", "PATCH", "DELETE")
            and r["path"].startswith("/v1.0/")]


def slow_engine(path: Any, pid_file: Any) -> str:
    """An engine that answers `--version` at once and otherwise records its process id and sleeps ten minutes."""
    path.write_text("#!/bin/sh\n"
                    'case "$*" in *--version*) echo "pybridge 0.1.0"; exit 0 ;; esac\n'
                    f'echo $$ > "{pid_file}"\n'
                    "exec sleep 600\n")
    path.chmod(0o755)
    return str(path)


def process_ends(pid: int, within: float = 60.0) -> bool:
    """True once process *pid* no longer runs (checked every 0.2 s, up to *within* seconds)."""
    import os

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # a zombie has ended too (its parent has not reaped it yet)
            with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
                if fh.read().split(") ", 1)[1].startswith("Z"):
                    return True
        except OSError:
            return True
        time.sleep(0.2)
    return False
