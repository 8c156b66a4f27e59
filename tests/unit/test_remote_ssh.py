"""`--transport ssh` without servers: settings, the ssh command line, ssh's failures, the out-of-process framing.

The OpenSSH client is replaced by a small script on PATH where a test needs one; the integration tests
(tests/integration/test_remote_ssh.py) run the real client against Debian's sshd and real PowerShell.
"""
from __future__ import annotations

import io
import os
import uuid
from pathlib import Path

import pytest

from pybridge.config import parse_remote as parse
from pybridge.remote import SyncRequest
from pybridge.remote.cli import run_sync
from pybridge.remote.outofproc import Channel, ChannelClosed, ChannelTimeout, data_packet, packet, parse_packet
from pybridge.remote.settings import RemoteSettings, ServerOptions, resolve
from pybridge.remote.ssh import SSHSession, classify_ssh_failure, ssh_command
from tests.unit.test_remote_cli import parser

DN = "CN=Jane Doe,OU=Corp,DC=contoso,DC=com"


def server(name: str = "aadc01", **kw):
    servers, problems, warnings = resolve(RemoteSettings(), [name], ServerOptions(transport="ssh", **kw))
    assert problems == [] and warnings == []
    return servers[0]


# -- settings -----------------------------------------------------------------------------------------------------
def test_ssh_settings_default_to_port_22_keys_and_no_password(tmp_path):
    s = server("aadc01.contoso.com", username="CONTOSO\\syncadmin")
    assert (s.transport, s.port, s.needs_password, s.password) == ("ssh", 22, False, None)
    assert s.endpoint == "ssh://CONTOSO\\syncadmin@aadc01.contoso.com:22"
    assert s.authentication == "ssh keys"
    # WinRM settings that cannot apply to SSH (Basic over HTTP...) are no problem for an SSH server
    servers, problems, _ = resolve(RemoteSettings(), ["x"], ServerOptions(transport="ssh", use_ssl=False,
                                                                          auth="basic"))
    assert problems == [] and servers[0].port == 22
    # a host that ssh would read as an option is refused
    _, problems, _ = resolve(RemoteSettings(), ["a"], ServerOptions(transport="ssh", host="-oProxyCommand"))
    assert problems and "is not a host name" in problems[0]


def test_the_configuration_takes_transport_ssh_and_its_files(tmp_path):
    key = tmp_path / "id_ed25519"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n...\n-----END OPENSSH PRIVATE KEY-----\n")
    known = tmp_path / "known_hosts"
    known.write_text("")
    remote, problems = parse({"defaults": {"transport": "ssh", "ssh_key_file": "id_ed25519",
                                           "known_hosts_file": str(known)},
                              "servers": {"aadc01": {"port": 2222}, "aadc02": {"transport": "psrp"}}},
                             base_dir=tmp_path, check_secrets=True)
    assert problems == []
    a, b = resolve(remote, ["aadc01", "aadc02"])[0]
    assert (a.transport, a.port, a.ssh_key_file, a.known_hosts_file) == ("ssh", 2222, key, known)
    assert (b.transport, b.port) == ("psrp", 5986)
    _, problems = parse({"servers": {"x": {"transport": "ssh", "ssh_key_file": "missing",
                                           "known_hosts_file": "nope"}}}, base_dir=tmp_path, check_secrets=True)
    assert any(p.startswith("remote.servers.x.ssh_key_file: file") for p in problems)
    assert any(p.startswith("remote.servers.x.known_hosts_file: file") for p in problems)


def test_the_command_line_options(tmp_path, monkeypatch):
    code, err = _usage(["--computer-name", "a", "--transport", "ssh", "--ssh-key", str(tmp_path / "none"), DN])
    assert code == 2 and "--ssh-key: file" in err
    monkeypatch.setattr("pybridge.remote.ssh.find_ssh", lambda: None)
    code, err = _usage(["--computer-name", "a", "--transport", "ssh", DN])
    assert code == 2 and "needs the OpenSSH client" in err


def _usage(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_sync(parser().parse_args(argv), RemoteSettings(), out=out, err=err, stdin=io.StringIO(),
                    session_factory=lambda *a: pytest.fail("nothing may run"))
    assert out.getvalue() == ""
    return code, err.getvalue()


# -- the ssh command line -------------------------------------------------------------------------------------------
def test_the_ssh_command_insists_on_batch_mode_and_known_host_keys(tmp_path):
    known = tmp_path / "my hosts"
    s = server("aadc01.contoso.com", port=2222, username="CONTOSO\\syncadmin", ssh_key_file=Path("/k/id"),
               known_hosts_file=known, connect_timeout=7.5)
    argv = ssh_command(s, "/usr/bin/ssh")
    assert argv[0] == "/usr/bin/ssh" and "-T" in argv
    options = [argv[i + 1] for i, a in enumerate(argv) if a == "-o"]
    assert "BatchMode=yes" in options and "StrictHostKeyChecking=yes" in options
    assert "ConnectTimeout=8" in options and f'UserKnownHostsFile="{known}"' in options
    assert "IdentitiesOnly=yes" in options and not any("=no" in o.lower() for o in options)
    assert argv[argv.index("-p") + 1] == "2222" and argv[argv.index("-i") + 1] == "/k/id"
    assert argv[argv.index("-l") + 1] == "CONTOSO\\syncadmin"
    assert argv[-4:] == ["-s", "--", "aadc01.contoso.com", "powershell"]
    plain = ssh_command(server("[fe80::1]"))
    assert plain[-2] == "fe80::1" and "-i" not in plain and "-l" not in plain
    assert not any(o.startswith("UserKnownHostsFile") for o in plain)


@pytest.mark.parametrize("stderr,code", [
    ("root@h: Permission denied (publickey).", "RemoteAuthenticationFailed"),
    ("No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict checking.\n"
     "Host key verification failed.", "RemoteHostKeyUnknown"),
    ("@@@@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n@@@@@@@@@@@\n"
     "Host key verification failed.", "RemoteHostKeyChanged"),
    ("ssh: connect to host 10.0.0.9 port 22: Connection refused", "RemoteHostUnreachable"),
    ("ssh: connect to host 10.0.0.9 port 22: Connection timed out", "RemoteHostUnreachable"),
    ("ssh: Could not resolve hostname nowhere.invalid: Name or service not known", "RemoteHostUnreachable"),
    ("subsystem request failed on channel 0", "RemoteSubsystemMissing"),
    ("kex_exchange_identification: read: Connection reset by peer\nConnection reset by 10.0.0.9 port 22",
     "RemoteThrottled"),
    ("something else entirely", "RemoteProtocolError"),
])
def test_ssh_failures_are_one_clear_error_each(stderr, code):
    s = server("aadc01", ssh_key_file=Path("/k/id"), known_hosts_file=Path("/k/known"))
    error = classify_ssh_failure(s, stderr, 255, "Connect")
    assert error.error_code == code and error.computer_name == "aadc01"
    assert "aadc01" in error.message and error.recommended_action
    assert error.retriable == (code in ("RemoteHostUnreachable", "RemoteThrottled"))
    if code == "RemoteHostKeyUnknown":
        assert "/k/known" in error.message
    if code == "RemoteHostUnreachable" and "resolve" in stderr:
        assert "the name does not resolve" in error.message


def test_a_failing_ssh_client_becomes_the_servers_error(tmp_path, monkeypatch):
    """The session runs the ssh it finds on PATH and reads its messages (here a script that refuses)."""
    argv_file = tmp_path / "argv"
    fake = tmp_path / "bin" / "ssh"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{argv_file}"\n'
                    'echo "root@h: Permission denied (publickey)." >&2\nexit 255\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    session = SSHSession(server("aadc01", username="root", ssh_key_file=Path("/k/id")))
    with pytest.raises(Exception) as caught:
        session.open()
    assert getattr(caught.value, "error_code", None) == "RemoteAuthenticationFailed"
    assert argv_file.read_text().splitlines()[-4:] == ["-s", "--", "aadc01", "powershell"]
    with pytest.raises(Exception, match="not open"):
        session.sync(SyncRequest(DN))


# -- the out-of-process framing ---------------------------------------------------------------------------------
def test_packets_round_trip_and_other_lines_are_not_packets():
    guid = uuid.uuid4()
    found = parse_packet(data_packet(guid, b"\x00\x01fragment", "PromptResponse"))
    assert (found.kind, found.guid, found.stream, found.data) == ("Data", guid, "PromptResponse", b"\x00\x01fragment")
    for kind in ("Command", "CommandAck", "Signal", "SignalAck", "Close", "CloseAck", "DataAck"):
        assert parse_packet(packet(kind, guid)) == type(found)(kind, guid)
    assert parse_packet(f"<DataAck PSGuid='{guid}' />".encode()).kind == "DataAck"
    assert parse_packet(b"Welcome to aadc01") is None
    assert parse_packet(b"<Data Stream='Default' PSGuid='x'>AA==</Data>") is None


def test_a_channel_reads_packets_keeps_other_lines_and_sees_the_end():
    read_fd, write_fd = os.pipe()
    out_read, out_write = os.pipe()
    with os.fdopen(read_fd, "rb") as reader, os.fdopen(write_fd, "wb") as feeder, \
            os.fdopen(out_read, "rb") as sent, os.fdopen(out_write, "wb") as writer:
        channel = Channel(reader, writer)
        guid = uuid.uuid4()
        feeder.write(b"a banner line\n" + packet("CommandAck", guid))
        feeder.flush()
        assert channel.receive(10).kind == "CommandAck"
        assert channel.noise == ["a banner line"]
        with pytest.raises(ChannelTimeout):
            channel.receive(0.2)
        channel.send(packet("Close", guid))
        assert sent.readline() == packet("Close", guid)
        feeder.close()
        with pytest.raises(ChannelClosed):
            channel.receive(10)
