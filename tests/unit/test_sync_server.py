"""The lab's test sync server on disk (pybridge_lab.sync_server), without starting PowerShell."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pybridge_lab.errors import LabError
from pybridge_lab.sync_server import (DEFAULT_CONFIGURATION, JEA_CONFIGURATION, MICROSOFT_MODULE_PATH, SyncServer,
                                      find_pwsh)
from tests.remote_support import PSMODULE


def test_pwsh_comes_from_pybridge_pwsh_else_path(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "pwsh"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PYBRIDGE_PWSH", str(fake))
    assert find_pwsh() == str(fake)
    monkeypatch.setenv("PYBRIDGE_PWSH", str(tmp_path / "nothing"))
    with pytest.raises(LabError, match="PYBRIDGE_PWSH"):
        find_pwsh()
    monkeypatch.delenv("PYBRIDGE_PWSH")
    monkeypatch.setenv("PATH", str(fake.parent))
    assert find_pwsh() == str(fake)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LabError, match="PowerShell 7"):
        find_pwsh()


def test_the_server_s_disk_configurations_and_environment(tmp_path):
    config = tmp_path / "engine.yaml"
    server = SyncServer(tmp_path / "aadc01", name="AADC01", engine_config=config, pwsh="/opt/pwsh",
                        pybridge_module=PSMODULE)
    assert server.microsoft_module_file.is_file() and server.microsoft_module_file.name == "ADSyncDiagnostics.psm1"
    assert str(server.microsoft_module_file).endswith("C/Program Files/Microsoft Azure AD Sync/Bin/ADSyncDiagnostics/"
                                                      "ADSyncDiagnostics.psm1") and MICROSOFT_MODULE_PATH[0] == "C"
    assert (server.modules_dir / "ADSyncDiagnostics" / "ADSyncDiagnostics.psd1").is_file()
    assert server.reports_dir.is_dir() and server.reports_dir.parent.name == "AADConnect"
    default = server.configuration_file(DEFAULT_CONFIGURATION).read_text()
    jea = server.configuration_file(JEA_CONFIGURATION.upper()).read_text()
    assert "SessionType = 'Default'" in default and "Enter-SyncServerSession.ps1" in default
    assert "SessionType = 'RestrictedRemoteServer'" in jea and "LanguageMode = 'NoLanguage'" in jea
    assert "VisibleFunctions = 'Invoke-ADSyncSingleObjectSync'" in jea and "ModulesToImport" in jea
    assert server.configuration_file("No.Such") is None
    variables = server.server_variables()
    assert variables["PYBRIDGE_CONFIG"] == str(config) and variables["PSModulePath"] == str(server.modules_dir)
    assert variables["ProgramData"] == str(server.program_data) and variables["COMPUTERNAME"] == "AADC01"
    assert server.environment()["PATH"] == os.environ["PATH"]
    assert server.server_command("pybridge.jea")[:2] == ["/opt/pwsh", "-s"]
    assert server.powershell_command(["-EncodedCommand", "x"])[-2:] == ["-EncodedCommand", "x"]
    assert server.ssh_subsystem().startswith("/opt/pwsh -sshs -NoLogo -NoProfile -ConfigurationFile ")
    bare = SyncServer(tmp_path / "bare", pwsh="/opt/pwsh", pybridge_module=False, microsoft_module=False)
    assert not bare.microsoft_module_file.exists() and not list(bare.modules_dir.iterdir())
    assert "ModulesToImport" not in bare.configuration_file(JEA_CONFIGURATION).read_text()


def test_the_engine_script_logs_each_run_and_runs_the_module(tmp_path):
    server = SyncServer(tmp_path / "s", pwsh="/opt/pwsh", pybridge_module=False)
    env = server.environment()
    done = subprocess.run([server.engine, "-m", "pybridge", "--version"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("pybridge ")
    failed = subprocess.run([server.engine, "-m", "pybridge", "sync", "--distinguished-name=CN=x,DC=y",
                             "--config", str(tmp_path / "missing.yaml")], capture_output=True, text=True, env=env,
                            timeout=120)
    assert failed.returncode == 2
    refused = subprocess.run([server.engine, "-c", "print(1)"], capture_output=True, text=True, env=env, timeout=60)
    assert refused.returncode == 2 and "only `-m MODULE" in refused.stderr
    (run,) = server.engine_runs()
    assert run.command == "sync" and run.exit_code == 2 and run.end is not None and run.end >= run.start
    assert [r.command for r in server.engine_runs(None)] == ["--version", "sync"]
    assert all(json.loads(line)["event"] in ("start", "end") for line in server.engine_log.read_text().splitlines())
    assert server.engine.startswith(str(server.root)) and open(server.engine).readline() == f"#!{sys.executable}\n"
