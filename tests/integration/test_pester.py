"""The module's Pester suites tagged Lab, on real PowerShell 7, against the integration tests' lab.

RealEngine.Tests.ps1 and Runbook.Tests.ps1 run the cmdlets against the session's Samba AD DC and
Graph emulator (the samba_lab fixture); SshRemoting.Tests.ps1 remotes over SSH to Debian's sshd,
started here on loopback addresses and a free port (never port 22, never on all interfaces):

- two "sync servers" with the module on PSModulePath, the engine ($PYBRIDGE_PYTHON) and a lab
  configuration of their own ($PYBRIDGE_CONFIG, so each has its own state), set with sshd's SetEnv;
- one server whose pwsh cannot find the module (PSModulePath and HOME of its own);
- an address where nothing listens (unreachable), and a port kept bound without listening (closed);
- a generated ed25519 host key, written to a known_hosts file the client uses with
  StrictHostKeyChecking=yes, and a client key in authorized_keys (plus one that is not: refused);
- BatchMode=yes, so nothing can wait for a password or a host-key answer.

The sshd machinery is tests/sshd_support.py's (shared with `pybridge sync --transport ssh`'s tests). The lab
is described to Pester in one JSON file ($PYBRIDGE_PESTER_LAB). Needs root, openssh-server and pwsh; under
CI a missing one is a failure.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pester_support import ROOT, find_pwsh, run_pester
from tests.sshd_support import SSH_HOSTS, new_ssh_lab, require_sshd


@pytest.fixture
def ssh_servers(lab, tmp_path):
    """Three sshd instances with pwsh as their powershell subsystem; yields the 'ssh' part of the lab JSON."""
    require_sshd()
    pwsh = find_pwsh()
    ssh = new_ssh_lab(SSH_HOSTS)
    try:
        servers, no_module, unreachable = SSH_HOSTS[:2], SSH_HOSTS[2], SSH_HOSTS[3]
        subsystem = f"{pwsh} -sshs -NoLogo -NoProfile"
        common = {"PYBRIDGE_PYTHON": sys.executable}
        for address in servers:
            server_dir = tmp_path / "servers" / address
            server_dir.mkdir(parents=True)
            home = ssh.base / f"home-{address}"
            home.mkdir()
            ssh.start(address, subsystem, {**common, "HOME": str(home), "PSModulePath": str(ROOT / "psmodule"),
                                           "PYBRIDGE_CONFIG": str(lab.config(server_dir))})
        bare = ssh.base / "home-no-module"
        bare.mkdir()
        (ssh.base / "empty-modules").mkdir()
        (tmp_path / "servers" / "no-module").mkdir(parents=True)
        ssh.start(no_module, subsystem, {**common, "HOME": str(bare), "PSModulePath": str(ssh.base / "empty-modules"),
                                         "PYBRIDGE_CONFIG": str(lab.config(tmp_path / "servers" / "no-module"))})
        yield {
            "user": "root",
            "key": str(ssh.client_key),
            "refused_key": str(ssh.refused_key),
            "port": ssh.port,
            "closed_port": ssh.closed_port,
            "servers": servers,
            "no_module": no_module,
            "unreachable": unreachable,
            "options": ssh.options,
            "logs": [str(log) for log in ssh.logs],
        }
    finally:
        ssh.stop()


def _quiet_scheduler(config: Path) -> None:
    """SyncCycleEnabled false, as an admin sets it before Single Object Sync (no warning on every run)."""
    subprocess.run([sys.executable, "-m", "pybridge", "scheduler", "set", "--config", str(config),
                    "--sync-cycle-enabled", "false"], check=True, capture_output=True, timeout=120)


def test_pester_lab_suites(lab, ssh_servers, tmp_path):
    (tmp_path / "main").mkdir()
    (tmp_path / "scheduler").mkdir()
    config = lab.config(tmp_path / "main")
    _quiet_scheduler(config)
    description = {
        "config": str(config),
        "configs": {"scheduler": str(lab.config(tmp_path / "scheduler"))},
        "samples": lab.dns,
        "python": sys.executable,
        "ssh": ssh_servers,
    }
    lab_file = tmp_path / "pester-lab.json"
    lab_file.write_text(json.dumps(description, indent=2), encoding="utf-8")

    run = run_pester(tmp_path, "-Tag", "Lab", env={"PYBRIDGE_PESTER_LAB": str(lab_file), "PYBRIDGE_PYTHON": sys.executable})
    if run.returncode != 0:
        logs = "\n".join(f"--- {log}\n{Path(log).read_text(errors='replace')[-3000:]}"
                         for log in ssh_servers["logs"] if Path(log).exists())
        run.output += "\n" + logs
    run.assert_all_passed()
