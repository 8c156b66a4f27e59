"""`pybridge sync --transport ssh`: PowerShell's SSH remoting to test sync servers behind Debian's sshd.

Each test starts sshd instances on loopback addresses (PYBRIDGE_TEST_SSH_HOSTS) and a free port
(tests/sshd_support.py), with a generated host key in a known_hosts file of the test's own, a client key in
authorized_keys, and the portable pwsh as the `powershell` subsystem of a test sync server
(pybridge_lab.sync_server: pybridge's module on its PSModulePath, a stand-in of Microsoft's module where
Entra Connect installs it, pybridge's engine against the lab's Samba AD DC and Graph emulator). pybridge
runs the OpenSSH client and speaks PSRP through psrpcore, as PowerShell's own -HostName does.
"""
from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import pytest

from pybridge.config import parse_remote as parse
from pybridge.remote.cli import run_compare
from pybridge_lab.sync_server import SyncServer
from tests.remote_support import (INJECTION_DN, PSMODULE, engine_dn, process_ends, remote_pwsh, slow_engine, sync,
                                  writes)
from tests.sshd_support import SSH_HOSTS, keygen, new_ssh_lab, require_sshd

pytestmark = pytest.mark.integration
ACTIVE, STAGING, BARE, PLAIN = SSH_HOSTS[:4]  # the sync servers; one without modules; one without the subsystem


@pytest.fixture
def ssh(tmp_path):
    require_sshd()
    pwsh = remote_pwsh()
    lab = new_ssh_lab(SSH_HOSTS)
    lab.pwsh = pwsh  # type: ignore[attr-defined]
    try:
        yield lab
    finally:
        lab.stop()


def start_server(ssh: Any, address: str, root: Path, **kw: Any) -> SyncServer:
    """A test sync server behind sshd on *address*, PowerShell's SSH remoting as its `powershell` subsystem."""
    kw.setdefault("pybridge_module", PSMODULE)
    server = SyncServer(root, name=kw.pop("name", address), pwsh=ssh.pwsh, **kw)
    ssh.start(address, server.ssh_subsystem(), server.server_variables())
    return server


def ssh_args(ssh: Any, address: str, *extra: str) -> list[str]:
    return ["--computer-name", address, "--transport", "ssh", "--port", str(ssh.port), "--username", "root",
            "--ssh-key", str(ssh.client_key), "--known-hosts", str(ssh.known_hosts), "--retries", "0", *extra]


def test_sync_over_ssh_in_staging_mode_and_for_real(lab, ssh, tmp_path):
    server = start_server(ssh, ACTIVE, tmp_path / "aadc01", engine_config=lab.config(_dir(tmp_path / "engine")))
    staged = sync(*ssh_args(ssh, ACTIVE), "--distinguished-name", lab.dns["user"], "--staging-mode",
                  "--no-html-report")
    assert staged.code == 0, staged.stderr + ssh.read_logs()
    staged.assert_clean()
    export = staged.doc["ProvisioningSteps"][9]
    assert export["Description"].startswith("[Staging Mode] ") and writes(lab.emulator) == []
    assert f"connecting to ssh://root@{ACTIVE}:{ssh.port} (ssh, key {ssh.client_key})" in staged.stderr
    real = sync(*ssh_args(ssh, ACTIVE), "--distinguished-name", lab.dns["user"], "--report-dir",
                str(tmp_path / "local"))
    assert real.code == 0, real.stderr
    real.assert_clean()
    doc = real.doc
    assert doc["StatusInfo"]["Status"] == "Success" and doc["ComputerName"] == ACTIVE
    assert any(r["method"] == "POST" and r["path"] == "/v1.0/users" for r in writes(lab.emulator))
    assert [engine_dn(r) for r in server.engine_runs()] == [lab.dns["user"]] * 2
    assert "--staging-mode" in server.engine_runs()[0].argv and "--staging-mode" not in server.engine_runs()[1].argv
    # Microsoft's module (the default) does not say where its report is: the newest one, copied and verified
    (server_report,) = server.reports()
    local = Path(doc["ReportPath"])
    assert local.parent == tmp_path / "local" / ACTIVE and local.read_bytes() == server_report.read_bytes()
    assert local.stat().st_mode & 0o077 == 0 and "SHA-256 verified" in real.stderr


def test_pybridge_module_over_ssh_with_a_verbatim_dn(lab, ssh, tmp_path):
    # the engine's configuration turns certificate validation off, so the engine warns on every run
    unvalidated = {"ad_connectors.0.tls": {"validate": False}}
    server = start_server(ssh, ACTIVE, tmp_path / "aadc01",
                          engine_config=lab.config(_dir(tmp_path / "engine"), **unvalidated))
    run = sync(*ssh_args(ssh, ACTIVE, "--module-path", "pybridge"), "--distinguished-name", lab.dns["user"],
               "--staging-mode", "--report-dir", str(tmp_path / "local"))
    assert run.code == 0, run.stderr
    run.assert_clean()
    local = Path(run.doc["ReportPath"])  # pybridge's module says where its report is
    assert local.is_file() and "SHA-256 verified" in run.stderr
    assert f"pybridge: {ACTIVE}: WARNING: TLS certificate validation is OFF for AD connector" in run.stderr
    injected = sync(*ssh_args(ssh, ACTIVE, "--module-path", "pybridge"), "--distinguished-name", INJECTION_DN,
                    "--no-html-report")
    assert injected.code in (1, 3) and injected.doc["SourceIdentity"]["Name"] == INJECTION_DN
    assert engine_dn(server.engine_runs()[-1]) == INJECTION_DN
    assert writes(lab.emulator) == []


def test_fan_out_over_ssh_each_failure_its_own_error_and_compare(lab, ssh, tmp_path):
    active = start_server(ssh, ACTIVE, tmp_path / "aadc01", engine_config=lab.config(_dir(tmp_path / "active")))
    staging = start_server(ssh, STAGING, tmp_path / "aadc02",
                           engine_config=lab.config(_dir(tmp_path / "staging"), **{"sync.staging_mode": True}))
    start_server(ssh, BARE, tmp_path / "bare", microsoft_module=False, pybridge_module=False)
    ssh.start(PLAIN, None, {})  # an SSH server where PowerShell's SSH remoting is not set up
    empty_known_hosts = tmp_path / "known_hosts.empty"
    empty_known_hosts.write_text("")
    keygen(tmp_path / "another_host_key")  # the key of some other server: the one in known_hosts is not this
    kind, blob = (tmp_path / "another_host_key.pub").read_text().split()[:2]
    other_key = tmp_path / "known_hosts.other"
    other_key.write_text(f"[{ACTIVE}]:{ssh.port} {kind} {blob}\n")
    remote, problems = parse({
        "defaults": {"transport": "ssh", "port": ssh.port, "username": "root", "ssh_key_file": str(ssh.client_key),
                     "known_hosts_file": str(ssh.known_hosts), "retries": 0, "connect_timeout": 10},
        "servers": {
            "aadc01": {"host": ACTIVE},
            "aadc02": {"host": STAGING},
            "no-module": {"host": BARE},
            "refused-key": {"host": ACTIVE, "ssh_key_file": str(ssh.refused_key)},
            "unknown-host-key": {"host": ACTIVE, "known_hosts_file": str(empty_known_hosts)},
            "changed-host-key": {"host": ACTIVE, "known_hosts_file": str(other_key)},
            "unreachable": {"host": ACTIVE, "port": ssh.closed_port},
            "no-subsystem": {"host": PLAIN},
        },
    }, base_dir=tmp_path, check_secrets=True)
    assert not problems, problems
    names = ["aadc02", "aadc01", "no-module", "refused-key", "unknown-host-key", "changed-host-key", "unreachable",
             "no-subsystem"]
    # one server at a time, the staging server first: it sees the object before the active server creates it
    # (in parallel, which of the two reads Entra ID first is a race)
    run = sync("--computer-name", ",".join(names), "--distinguished-name", lab.dns["user"], "--no-html-report",
               "--compare", "--max-parallel", "1", remote=remote)
    assert run.code == 1, run.stderr
    docs = {d["ComputerName"]: d for d in run.docs}
    assert list(docs) == names
    codes = {name: docs[name]["StatusInfo"]["ErrorCode"] for name in names}
    assert codes == {"aadc01": None, "aadc02": None, "no-module": "RemoteModuleNotFound",
                     "refused-key": "RemoteAuthenticationFailed", "unknown-host-key": "RemoteHostKeyUnknown",
                     "changed-host-key": "RemoteHostKeyChanged", "unreachable": "RemoteHostUnreachable",
                     "no-subsystem": "RemoteSubsystemMissing"}, run.stderr
    for name in names[2:]:  # one clear error per failing server, naming it, with what to do
        status = docs[name]["StatusInfo"]
        assert status["Status"] == "Failure" and status["RecommendedAction"], name
        assert run.stderr.count(f"pybridge: {name}: Failure: {codes[name]}: ") == 1, (name, run.stderr)
    assert "Permission denied" in docs["refused-key"]["StatusInfo"]["Reason"]
    assert str(empty_known_hosts) in docs["unknown-host-key"]["StatusInfo"]["Reason"]
    assert "no valid module file was found" in docs["no-module"]["StatusInfo"]["Reason"]
    # the host keys were never accepted: the files are as they were
    assert empty_known_hosts.read_text() == "" and len(other_key.read_text().splitlines()) == 1
    assert docs["aadc01"]["StatusInfo"]["Status"] == docs["aadc02"]["StatusInfo"]["Status"] == "Success"
    assert len(active.engine_runs()) == len(staging.engine_runs()) == 1
    assert "Step 10 ExportSpecificObject / Export step result" in run.stderr  # --compare
    # compare over SSH's results, saved
    saved = tmp_path / "results.json"
    saved.write_text("".join(json.dumps(docs[n]) + "\n" for n in ("aadc01", "aadc02")))
    out, err = io.StringIO(), io.StringIO()
    code = run_compare(argparse.Namespace(results=[str(saved)], compare_format="json"), out=out, err=err)
    assert code == 1, err.getvalue()
    comparison = json.loads(out.getvalue())
    assert comparison["Results"] == ["aadc01", "aadc02"] and comparison["SameObject"] is True
    paths = {d["Path"]: d["Values"] for d in comparison["Differences"]}
    assert paths["Step 10 ExportSpecificObject / Export step result"]["aadc02"].startswith("Not exported: staging")


def test_an_ssh_run_that_outlasts_the_operation_timeout_is_stopped_on_the_server(ssh, tmp_path):
    pid_file = tmp_path / "engine.pid"
    start_server(ssh, ACTIVE, tmp_path / "slow", engine=slow_engine(tmp_path / "slow-engine", pid_file))
    run = sync(*ssh_args(ssh, ACTIVE, "--operation-timeout", "40"), "--distinguished-name", INJECTION_DN,
               "--no-html-report")
    assert run.code == 1 and run.doc["StatusInfo"]["ErrorCode"] == "RemoteTimeout", run.stderr
    assert pid_file.exists(), "the engine never started on the server"
    assert process_ends(int(pid_file.read_text())), "the server did not stop the engine"


def test_the_command_line_reaches_ssh_servers_from_the_configuration(lab, ssh, tmp_path):
    from contextlib import redirect_stderr, redirect_stdout

    from pybridge.cli import main

    server = start_server(ssh, ACTIVE, tmp_path / "aadc01", engine_config=lab.config(_dir(tmp_path / "engine")))
    cfg = tmp_path / "workstation.yaml"
    cfg.write_text(
        "remote:\n"
        "  servers:\n"
        f"    aadc01: {{host: '{ACTIVE}', transport: ssh, port: {ssh.port}, username: root,\n"
        f"             ssh_key_file: '{ssh.client_key}', known_hosts_file: '{ssh.known_hosts}', retries: 0}}\n"
        f"report:\n  directory: '{tmp_path / 'local-reports'}'\n")
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["sync", "--config", str(cfg), "--computer-name", "aadc01", "--staging-mode", "--no-html-report",
                     "--format", "graph", lab.dns["user"]])
    assert code == 0, err.getvalue()
    doc = json.loads(out.getvalue())
    assert doc["computerName"] == "aadc01" and doc["provisioningStatusInfo"]["status"] == "success"
    assert engine_dn(server.engine_runs()[-1]) == lab.dns["user"] and writes(lab.emulator) == []


def _dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
