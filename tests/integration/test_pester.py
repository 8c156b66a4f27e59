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

sshd's StrictModes refuses an authorized_keys file below a world-writable folder such as /tmp, so the
servers' files live in a private folder under /run. The lab is described to Pester in one JSON file
($PYBRIDGE_PESTER_LAB). Needs root, openssh-server and pwsh; under CI a missing one is a failure.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.pester_support import ROOT, find_pwsh, run_pester
from tests.support import missing_prerequisite

SSHD = "/usr/sbin/sshd"  # sshd must be started by its absolute path
# Four loopback addresses of their own: two servers, the server without the module, the unreachable one.
SSH_HOSTS = os.environ.get("PYBRIDGE_TEST_SSH_HOSTS", "127.0.3.61,127.0.3.62,127.0.3.63,127.0.3.64").split(",")


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)],
                   check=True, capture_output=True, timeout=60)


def _free_port(addresses: list[str]) -> int:
    """A port that is free on every address (bound and released; sshd takes it right after)."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind((addresses[0], 0))
            port = probe.getsockname()[1]
        try:
            for address in addresses:
                with socket.socket() as s:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind((address, port))
            return port
        except OSError:
            continue
    raise RuntimeError(f"no port free on all of {addresses}")


def _wait_listening(address: str, port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd on {address}:{port} exited with {proc.returncode}: {log.read_text()}")
        try:
            with socket.create_connection((address, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"sshd on {address}:{port} did not listen within 30 s: {log.read_text()}")


def _sshd_config(base: Path, name: str, address: str, port: int, pwsh: str, env: dict[str, str]) -> Path:
    setenv = " ".join(f'{key}="{value}"' for key, value in env.items())
    config = base / f"sshd_config.{name}"
    config.write_text("\n".join([
        f"ListenAddress {address}:{port}",
        f"HostKey {base / 'host_key'}",
        f"AuthorizedKeysFile {base / 'authorized_keys'}",
        "PidFile none",
        "StrictModes yes",
        "PermitRootLogin prohibit-password",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "PermitUserEnvironment no",
        "AllowTcpForwarding no",
        "X11Forwarding no",
        "PrintMotd no",
        "LogLevel VERBOSE",
        f"SetEnv {setenv}",
        f"Subsystem powershell {pwsh} -sshs -NoLogo -NoProfile",
        "",
    ]), encoding="utf-8")
    return config


@pytest.fixture
def ssh_servers(lab, tmp_path):
    """Three sshd instances with pwsh as their powershell subsystem; yields the 'ssh' part of the lab JSON."""
    if os.name != "posix" or os.geteuid() != 0:
        missing_prerequisite("the SSH remoting tests start sshd, which needs root (CI runs as root)")
    if not (os.access(SSHD, os.X_OK) and shutil.which("ssh") and shutil.which("ssh-keygen")):
        missing_prerequisite("the SSH remoting tests need Debian's openssh-server and openssh-client "
                             "(scripts/setup installs them)")
    pwsh = find_pwsh()
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory
    base = Path(tempfile.mkdtemp(prefix="pybridge-sshd-", dir="/run"))  # 0700, below no world-writable folder
    processes: list[subprocess.Popen] = []
    closed = socket.socket()
    try:
        for key in ("host_key", "client_key", "refused_key"):
            _keygen(base / key)
        authorized = base / "authorized_keys"
        authorized.write_text((base / "client_key.pub").read_text(), encoding="utf-8")
        authorized.chmod(0o600)

        servers, no_module, unreachable = SSH_HOSTS[:2], SSH_HOSTS[2], SSH_HOSTS[3]
        port = _free_port(SSH_HOSTS)
        closed.bind((servers[0], 0))  # bound, never listening: connections to it are refused
        closed_port = closed.getsockname()[1]

        host_key = (base / "host_key.pub").read_text().split()
        known_hosts = base / "known_hosts"
        known_hosts.write_text("".join(f"[{a}]:{p} {host_key[0]} {host_key[1]}\n"
                                       for a in SSH_HOSTS for p in (port, closed_port)), encoding="utf-8")

        common = {"PYBRIDGE_PYTHON": sys.executable}
        instances = []
        for address in servers:
            server_dir = tmp_path / "servers" / address
            server_dir.mkdir(parents=True)
            home = base / f"home-{address}"
            home.mkdir()
            instances.append((address, {**common, "HOME": str(home), "PSModulePath": str(ROOT / "psmodule"),
                                        "PYBRIDGE_CONFIG": str(lab.config(server_dir))}))
        bare = base / "home-no-module"
        bare.mkdir()
        (base / "empty-modules").mkdir()
        (tmp_path / "servers" / "no-module").mkdir(parents=True)
        instances.append((no_module, {**common, "HOME": str(bare), "PSModulePath": str(base / "empty-modules"),
                                      "PYBRIDGE_CONFIG": str(lab.config(tmp_path / "servers" / "no-module"))}))

        for address, env in instances:
            config = _sshd_config(base, address, address, port, pwsh, env)
            log = base / f"sshd.{address}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdin=subprocess.DEVNULL,
                                        stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            processes.append(proc)
            _wait_listening(address, port, proc, log)

        yield {
            "user": "root",
            "key": str(base / "client_key"),
            "refused_key": str(base / "refused_key"),
            "port": port,
            "closed_port": closed_port,
            "servers": servers,
            "no_module": no_module,
            "unreachable": unreachable,
            "options": {"BatchMode": "yes", "StrictHostKeyChecking": "yes", "UserKnownHostsFile": str(known_hosts),
                        "GlobalKnownHostsFile": "/dev/null", "IdentitiesOnly": "yes", "ConnectTimeout": "15"},
            "logs": [str(base / f"sshd.{a}.log") for a, _ in instances],
        }
    finally:
        closed.close()
        for proc in processes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in processes:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        shutil.rmtree(base, ignore_errors=True)


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
