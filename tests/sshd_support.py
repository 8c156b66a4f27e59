"""Debian's sshd on loopback addresses, with pwsh as its `powershell` subsystem: PowerShell's SSH remoting.

Used by the module's SSH remoting Pester suite (tests/integration/test_pester.py) and by `pybridge sync
--transport ssh` (tests/integration/test_remote_ssh.py). Each test gets its own instances on loopback
addresses and a free port (never port 22, never on all interfaces), a generated ed25519 host key written to a
known_hosts file of its own, a client key in authorized_keys and one that is not (refused), and BatchMode, so
that nothing can wait for a password or a host-key answer.

sshd's StrictModes refuses an authorized_keys file below a world-writable folder such as /tmp, so the
servers' files live in a private folder under /run. Needs root and openssh-server; under CI a missing one
is a failure (tests.support.missing_prerequisite).
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support import missing_prerequisite

SSHD = "/usr/sbin/sshd"  # sshd must be started by its absolute path
#: Loopback addresses of the SSH test servers (the last one is kept free: nothing listens there).
SSH_HOSTS = os.environ.get("PYBRIDGE_TEST_SSH_HOSTS", "127.0.3.61,127.0.3.62,127.0.3.63,127.0.3.64").split(",")


def require_sshd() -> None:
    """Skip (fail under CI) where sshd cannot be started here."""
    if os.name != "posix" or os.geteuid() != 0:
        missing_prerequisite("the SSH remoting tests start sshd, which needs root (CI runs as root)")
    if not (os.access(SSHD, os.X_OK) and shutil.which("ssh") and shutil.which("ssh-keygen")):
        missing_prerequisite("the SSH remoting tests need Debian's openssh-server and openssh-client "
                             "(scripts/setup installs them)")


def keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)],
                   check=True, capture_output=True, timeout=60)


def free_port(addresses: list[str]) -> int:
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


def wait_listening(address: str, port: int, proc: subprocess.Popen, log: Path) -> None:
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


def sshd_config(base: Path, name: str, address: str, port: int, subsystem: str | None, env: dict[str, str]) -> Path:
    """An sshd_config for one instance; *subsystem* is the `powershell` subsystem's command (None: no such
    subsystem, as on a server where PowerShell's SSH remoting is not set up)."""
    setenv = " ".join(f'{key}="{value}"' for key, value in env.items())
    config = base / f"sshd_config.{name}"
    lines = [
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
    ]
    if setenv:
        lines.append(f"SetEnv {setenv}")
    if subsystem:
        lines.append(f"Subsystem powershell {subsystem}")
    config.write_text("\n".join(lines + [""]), encoding="utf-8")
    return config


@dataclass
class SshLab:
    """Keys and files of one set of sshd instances; start() adds an instance, stop() ends them all."""

    base: Path
    port: int
    known_hosts: Path
    client_key: Path
    refused_key: Path
    closed_port: int
    processes: list[subprocess.Popen] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    _closed: socket.socket | None = None

    @property
    def options(self) -> dict[str, str]:
        """ssh options for PowerShell's -Options (BatchMode, strict host keys against our known_hosts)."""
        return {"BatchMode": "yes", "StrictHostKeyChecking": "yes", "UserKnownHostsFile": str(self.known_hosts),
                "GlobalKnownHostsFile": "/dev/null", "IdentitiesOnly": "yes", "ConnectTimeout": "15"}

    def start(self, address: str, subsystem: str | None, env: dict[str, str], name: str | None = None) -> None:
        name = name or address
        config = sshd_config(self.base, name, address, self.port, subsystem, env)
        log = self.base / f"sshd.{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(proc)
        self.logs.append(log)
        wait_listening(address, self.port, proc, log)

    def read_logs(self, limit: int = 3000) -> str:
        return "\n".join(f"--- {log}\n{log.read_text(errors='replace')[-limit:]}" for log in self.logs
                         if log.exists())

    def stop(self) -> None:
        if self._closed is not None:
            self._closed.close()
        for proc in self.processes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.processes:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        shutil.rmtree(self.base, ignore_errors=True)


def new_ssh_lab(addresses: list[str] | None = None) -> SshLab:
    """Keys, known_hosts (the host key for every address, on the port and the closed port) and a free port.

    The closed port is bound on the first address and never listens: connections to it are refused.
    """
    addresses = addresses or SSH_HOSTS
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory
    base = Path(tempfile.mkdtemp(prefix="pybridge-sshd-", dir="/run"))  # 0700, below no world-writable folder
    for key in ("host_key", "client_key", "refused_key"):
        keygen(base / key)
    authorized = base / "authorized_keys"
    authorized.write_text((base / "client_key.pub").read_text(), encoding="utf-8")
    authorized.chmod(0o600)
    port = free_port(addresses)
    closed = socket.socket()
    closed.bind((addresses[0], 0))
    closed_port = closed.getsockname()[1]
    host_key = (base / "host_key.pub").read_text().split()
    known_hosts = base / "known_hosts"
    known_hosts.write_text("".join(f"[{a}]:{p} {host_key[0]} {host_key[1]}\n"
                                   for a in addresses for p in (port, closed_port)), encoding="utf-8")
    lab = SshLab(base=base, port=port, known_hosts=known_hosts, client_key=base / "client_key",
                 refused_key=base / "refused_key", closed_port=closed_port)
    lab._closed = closed
    return lab
