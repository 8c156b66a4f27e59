"""SSH transport: PowerShell's SSH remoting through the system's OpenSSH client, PSRP through psrpcore.

``ssh -s HOST powershell`` starts the server's ``powershell`` subsystem (``pwsh -sshs``), which speaks PSRP in
PowerShell's out-of-process framing on the channel (outofproc.py). This is what PowerShell's own
``New-PSSession -HostName`` does: it also runs the OpenSSH client. Using that client means the admin's
``~/.ssh/config``, ssh-agent, keys, ``known_hosts``, ProxyJump and GSSAPI all apply as for any ``ssh``; pybridge
only insists on two things, whatever the configuration says:

- ``BatchMode=yes``: nothing ever waits for a password or a passphrase; a refused key is an error.
- ``StrictHostKeyChecking=yes``: the server's host key must already be in known_hosts (the user's, or the file
  given with ``--known-hosts`` / ``known_hosts_file``); an unknown or changed key is an error, never a question
  and never accepted silently.

ssh's own messages on stderr say why a connection failed; :func:`classify_ssh_failure` turns them into one
ErrorCode per server. What runs once the session is open is pipelines.py's, as over WinRM.
"""
from __future__ import annotations

import math
import re
import shutil
import subprocess
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Sequence

from .common import (RemoteAuthenticationFailed, RemoteError, RemoteHostKeyChanged, RemoteHostKeyUnknown,
                     RemoteProtocolError, RemoteSubsystemMissing, RemoteThrottled, RemoteTimeout, RemoteUnreachable,
                     Streams)
from .pipelines import Command, PipelineSession
from .settings import SSH_SUBSYSTEM, ServerSettings

if TYPE_CHECKING:  # imported when a session opens (psrpcore is loaded only then)
    from .outofproc import OutOfProcPool

#: Seconds PowerShell may take to start on the server and open the runspace pool, after ssh has connected.
OPEN_TIMEOUT = 120.0


def find_ssh() -> str | None:
    """The OpenSSH client (``ssh``, ``ssh.exe`` on Windows 10 and later), or None."""
    return shutil.which("ssh")


def _option_value(value: str) -> str:
    """An ssh_config value for ``-o Key=Value``: quoted when it holds blanks."""
    return f'"{value}"' if any(c.isspace() for c in value) else value


def ssh_command(server: ServerSettings, ssh: str = "ssh") -> list[str]:
    """The argv that opens PowerShell's SSH remoting on *server* (no shell ever parses it)."""
    argv = [ssh, "-T", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
            "-o", f"ConnectTimeout={max(1, math.ceil(server.connect_timeout))}", "-p", str(server.port)]
    if server.known_hosts_file is not None:
        argv += ["-o", f"UserKnownHostsFile={_option_value(str(server.known_hosts_file))}"]
    if server.ssh_key_file is not None:
        argv += ["-i", str(server.ssh_key_file), "-o", "IdentitiesOnly=yes"]
    if server.username:
        argv += ["-l", server.username]
    return argv + ["-s", "--", server.host, SSH_SUBSYSTEM]


_UNREACHABLE = re.compile(r"(connect to host .*?: .*|Could not resolve hostname .*|ssh: .*Name or service not known"
                          r"|Network is unreachable|No route to host|Connection timed out|Connection refused)",
                          re.I)


def classify_ssh_failure(server: ServerSettings, stderr: str, returncode: int | None, stage: str) -> RemoteError:
    """One RemoteError for what ssh said on stderr when the connection (or the subsystem) failed."""
    name = server.name
    where = f"{name} ({server.endpoint})"
    text = " ".join(line.strip() for line in stderr.splitlines() if line.strip())
    detail = text[-1500:] or None
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in text or "Host key for" in text and "has changed" in text:
        return RemoteHostKeyChanged(f"The SSH host key of {where} is not the one in known_hosts: the server was "
                                    "re-keyed, or the connection is being intercepted; not connecting",
                                    computer_name=name, stage=stage, detail=detail)
    if "Host key verification failed" in text or "host key is known" in text:
        known = f" in {server.known_hosts_file}" if server.known_hosts_file else " in known_hosts"
        return RemoteHostKeyUnknown(f"The SSH host key of {where} is not{known}: its identity cannot be checked, "
                                    "so pybridge does not connect", computer_name=name, stage=stage, detail=detail)
    if "Permission denied" in text or "Too many authentication failures" in text:
        who = server.username or "the current user"
        key = f" with the key {server.ssh_key_file}" if server.ssh_key_file else ""
        return RemoteAuthenticationFailed(f"{where} refused the SSH login of {who}{key}: "
                                          f"{_last(text, 'Permission denied')}", computer_name=name, stage=stage,
                                          detail=detail)
    if "subsystem request failed" in text:
        return RemoteSubsystemMissing(f"{where} has no '{SSH_SUBSYSTEM}' SSH subsystem (PowerShell's SSH remoting "
                                      "is not set up there)", computer_name=name, stage=stage, detail=detail)
    if re.search(r"kex_exchange_identification|Connection (reset|closed) by .*port", text) and stage == "Connect":
        return RemoteThrottled(f"{where} closed the SSH connection before the login (sshd refuses more "
                               f"connections, MaxStartups): {text[-300:]}", computer_name=name, stage=stage,
                               detail=detail)
    found = _UNREACHABLE.search(text)
    if found:
        why = found.group(0).strip()
        if "Could not resolve" in why or "not known" in why:
            why = "the name does not resolve"
        return RemoteUnreachable(f"{where} cannot be reached: {why}", computer_name=name, stage=stage, detail=detail,
                                 recommended_action="Check the computer name, that sshd runs on the server and "
                                 f"listens on port {server.port}, and that firewalls allow it.")
    code = f" (ssh exit code {returncode})" if returncode is not None else ""
    return RemoteProtocolError(f"The SSH connection to {where} ended before PowerShell answered{code}"
                               + (f": {text[-500:]}" if text else ""), computer_name=name, stage=stage, detail=detail)


def _last(text: str, marker: str) -> str:
    at = text.rfind(marker)
    return text[at:at + 200].strip() if at >= 0 else text[-200:]


class SSHSession(PipelineSession):
    """One PowerShell session over SSH on one server; ``sync`` and ``read_report`` (pipelines.py) run in it."""

    def __init__(self, server: ServerSettings, password: str | None = None) -> None:
        self.server = server
        self._proc: subprocess.Popen[bytes] | None = None
        self._pool: OutOfProcPool | None = None
        self._stderr: deque[str] = deque(maxlen=200)
        self._stderr_done = threading.Event()

    # -- the ssh process ------------------------------------------------------------------------------------------
    def _read_stderr(self, stream: Any) -> None:
        try:
            for raw in stream:
                line = raw.decode("utf-8", "replace").rstrip()
                if line:
                    self._stderr.append(line)
        except (OSError, ValueError):
            pass
        finally:
            self._stderr_done.set()

    def _failure(self, stage: str) -> RemoteError:
        """Why the connection ended, from ssh's exit code and messages."""
        proc = self._proc
        code = None
        if proc is not None:
            try:
                code = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
            self._stderr_done.wait(5)
        return classify_ssh_failure(self.server, "\n".join(self._stderr), code, stage)

    def open(self) -> None:
        from .outofproc import Channel, ChannelClosed, ChannelTimeout, OutOfProcPool, PoolBroken

        s = self.server
        ssh = find_ssh()
        if ssh is None:
            raise RemoteProtocolError(f"{s.name}: the OpenSSH client (ssh) was not found; install it (Debian: "
                                      "openssh-client; Windows: the OpenSSH Client optional feature)",
                                      computer_name=s.name, stage="Connect")
        try:
            self._proc = subprocess.Popen(ssh_command(s, ssh), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE)
        except OSError as exc:
            raise RemoteProtocolError(f"{s.name}: ssh could not be started: {exc}", computer_name=s.name,
                                      stage="Connect") from None
        threading.Thread(target=self._read_stderr, args=(self._proc.stderr,), daemon=True,
                         name=f"ssh-stderr-{s.name}").start()
        assert self._proc.stdout is not None and self._proc.stdin is not None
        channel = Channel(self._proc.stdout, self._proc.stdin, name=f"ssh-{s.name}")
        self._pool = OutOfProcPool(channel)
        try:
            self._pool.open(min(s.operation_timeout, s.connect_timeout + OPEN_TIMEOUT))
        except ChannelClosed:
            error = self._failure("Connect")
            self.close()
            raise error from None
        except ChannelTimeout:
            self.close()
            raise RemoteTimeout(f"{s.name}: PowerShell did not open a session over SSH in time",
                                computer_name=s.name, stage="Connect") from None
        except PoolBroken as exc:
            self.close()
            raise RemoteProtocolError(f"{s.name}: PowerShell refused to open a session over SSH: {exc}",
                                      computer_name=s.name, stage="Connect") from None
        except Exception as exc:  # noqa: BLE001 - an answer psrpcore could not read
            self.close()
            raise RemoteProtocolError(f"{s.name}: unexpected answer over SSH: {type(exc).__name__}: {exc}",
                                      computer_name=s.name, stage="Connect") from None

    def close(self) -> None:
        pool, proc = self._pool, self._proc
        self._pool = self._proc = None
        if pool is not None:
            pool.close()
            pool.channel.close()
        if proc is not None:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    # -- pipelines ------------------------------------------------------------------------------------------------
    def _invoke(self, commands: Sequence[Command], stage: str, deadline: float) -> Streams:
        from .outofproc import ChannelClosed, build_commands

        s = self.server
        if self._pool is None:
            raise RemoteProtocolError(f"{s.name}: the session is not open", computer_name=s.name)

        def timed_out() -> RemoteError:
            return RemoteTimeout(f"{s.name}: {stage} did not finish within {s.operation_timeout:g} s",
                                 computer_name=s.name, stage=stage)

        if time.monotonic() >= deadline:
            raise timed_out()
        try:
            return self._pool.run(build_commands(commands), deadline, timed_out)
        except ChannelClosed:
            raise self._failure(stage) from None
        except RemoteError:
            raise
        except Exception as exc:  # noqa: BLE001 - an answer psrpcore could not read
            raise RemoteProtocolError(f"{s.name}: unexpected answer over SSH: {type(exc).__name__}: {exc}",
                                      computer_name=s.name, stage=stage) from None


__all__ = ["SSHSession", "ssh_command", "classify_ssh_failure", "find_ssh"]
