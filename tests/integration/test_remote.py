"""The remote path end to end: the real pypsrp and pywinrm clients against the loopback WinRM endpoint.

The endpoint (pybridge_lab.winrm_endpoint) stands in for a Windows sync server: it
speaks WS-Management over HTTPS or HTTP, authenticates with Basic or NTLM, and
runs the emulated cmdlet by calling the local engine, which syncs against the
Samba AD DC and the Graph emulator of the lab. Tests that need no engine run
without Samba.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pybridge.config import parse_remote as parse
from pybridge.remote.cli import add_sync_arguments, run_compare, run_sync
from pybridge.remote.settings import RemoteSettings, ServerOptions, resolve
from pybridge.secret import Secret
from pybridge_lab.ca import create_ca, issue_server_cert
from pybridge_lab.winrm_endpoint import WinRMEndpoint

pytestmark = pytest.mark.integration

ACCOUNT = "CONTOSO\\svc-sync"
PASSWORD = "Winrm-Test-Pa55!" + os.urandom(4).hex()
PW_ENV = "PYBRIDGE_TEST_WINRM_PASSWORD"
INJECTION_DN = "CN=x'; Remove-Item C:\\ -Recurse #,OU=Corp,DC=contoso,DC=com"


# -- fixtures and helpers -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    root = tmp_path_factory.mktemp("winrm-pki")
    ca = create_ca(root / "ca")
    good = issue_server_cert(ca, root / "srv", "winrm", names=("localhost", "127.0.0.1"))
    wrong_name = issue_server_cert(ca, root / "srv", "winrm-other-name", names=("sync.example.net",))
    other_ca = create_ca(root / "other-ca", common_name="Some other CA")
    untrusted = issue_server_cert(other_ca, root / "srv", "winrm-untrusted", names=("localhost", "127.0.0.1"))
    return {"ca": ca.cert, "good": good, "wrong_name": wrong_name, "untrusted": untrusted}


@pytest.fixture
def endpoints(tmp_path, pki, monkeypatch):
    """Start endpoints on demand: endpoints(name, engine_config=..., https=True, ...); all stopped afterwards."""
    monkeypatch.setenv(PW_ENV, PASSWORD)
    started: list[WinRMEndpoint] = []

    def start(name: str = "aadc01", *, engine_config: Path | None = None, https: bool = True, cert: str = "good",
              **kw: Any) -> WinRMEndpoint:
        pair = pki[cert]
        ep = WinRMEndpoint(users={ACCOUNT: PASSWORD}, report_dir=tmp_path / f"server-{name}" / "reports",
                           engine_config=engine_config, certfile=pair.cert if https else None,
                           keyfile=pair.key if https else None, computer_name=name.upper(), **kw)
        started.append(ep.start())
        return ep

    yield start
    for ep in started:
        ep.stop()


def _parser() -> argparse.ArgumentParser:
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
    seconds: float

    @property
    def docs(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    @property
    def doc(self) -> dict[str, Any]:
        docs = self.docs
        assert len(docs) == 1, f"expected one JSON document, got {len(docs)}: {self.stderr}"
        return docs[0]


def sync(*argv: str, remote: RemoteSettings | None = None) -> Run:
    out, err = io.StringIO(), io.StringIO()
    t = time.monotonic()
    code = run_sync(_parser().parse_args(list(argv)), remote or RemoteSettings(), out=out, err=err,
                    stdin=io.StringIO())
    return Run(code, out.getvalue(), err.getvalue(), time.monotonic() - t)


def connect_args(ep: WinRMEndpoint, pki: dict[str, Any], *, transport: str = "psrp", auth: str = "negotiate",
                 password_env: str = PW_ENV) -> list[str]:
    args = ["--computer-name", "127.0.0.1", "--port", str(ep.port), "--transport", transport, "--auth", auth,
            "--username", ACCOUNT, "--password-env", password_env, "--retries", "0"]
    args += ["--ca-file", str(pki["ca"])] if ep.use_ssl else ["--no-ssl"]
    return args


def invoke_calls(ep: WinRMEndpoint) -> list[Any]:
    return [c for c in ep.calls if c.command == "Invoke-ADSyncSingleObjectSync"]


def writes(emulator) -> list[dict[str, Any]]:
    return [r for r in emulator.requests if r["method"] in ("POST", "PATCH", "DELETE")
            and r["path"].startswith("/v1.0/")]


def engine_config(lab, path: Path, **overrides: Any) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return lab.config(path, **overrides)


TRANSPORTS = pytest.mark.parametrize("transport", ["psrp", "winrs"])


# -- success, staging, streams, report --------------------------------------------------------------------------
@TRANSPORTS
def test_sync_on_the_server_returns_its_result_streams_and_report(lab, endpoints, pki, tmp_path, transport):
    # the engine's configuration turns certificate validation off, so the engine warns on every run
    unvalidated = {"ad_connectors.0.tls": {"validate": False}}
    ep = endpoints(engine_config=engine_config(lab, tmp_path / "engine", **unvalidated))
    run = sync(*connect_args(ep, pki, transport=transport), "--distinguished-name", lab.dns["user"],
               "--report-dir", str(tmp_path / "local"))
    assert run.code == 0, run.stderr
    doc = run.doc
    assert doc["StatusInfo"]["Status"] == "Success" and doc["Action"] == "Create"
    assert doc["ComputerName"] == "127.0.0.1" and list(doc)[-1] == "ComputerName"
    assert doc["SourceIdentity"]["Name"] == lab.dns["user"]
    assert [c.command for c in ep.calls][:2] == ["Import-Module", "Invoke-ADSyncSingleObjectSync"]
    call = invoke_calls(ep)[0]
    assert call.transport == transport and call.user == ACCOUNT
    assert call.parameters == {"DistinguishedName": ("String", lab.dns["user"])}
    assert any(r["method"] == "POST" and r["path"] == "/v1.0/users" for r in writes(lab.emulator))
    # the engine's warning came back through the remote warning stream
    assert "pybridge: 127.0.0.1: WARNING: TLS certificate validation is OFF for AD connector" in run.stderr
    assert not ep.refused
    # the HTML report: copied and verified, or (while the engine writes none) said so
    server_reports = sorted((tmp_path / "server-aadc01" / "reports").glob("*.htm"))
    if doc["ReportPath"] is None:
        assert not server_reports and "the server wrote no HTML report" in run.stderr
    else:
        local = Path(doc["ReportPath"])
        assert local.parent == tmp_path / "local" / "127.0.0.1" and local.stat().st_mode & 0o077 == 0
        assert len(server_reports) == 1 and local.read_bytes() == server_reports[0].read_bytes()
        assert "SHA-256 verified" in run.stderr


@TRANSPORTS
def test_staging_mode_reaches_the_cmdlet_and_nothing_is_exported(lab, endpoints, pki, tmp_path, transport):
    ep = endpoints(engine_config=engine_config(lab, tmp_path / "engine"))
    run = sync(*connect_args(ep, pki, transport=transport), "--distinguished-name", lab.dns["user"],
               "--staging-mode", "--no-html-report")
    assert run.code == 0, run.stderr
    doc = run.doc
    export = doc["ProvisioningSteps"][9]
    assert export["Details"]["Export step result"].startswith("Not exported: staging mode")
    assert writes(lab.emulator) == []
    assert invoke_calls(ep)[0].parameters == {"DistinguishedName": ("String", lab.dns["user"]),
                                              "StagingMode": ("Boolean", True), "NoHtmlReport": ("Boolean", True)}
    assert doc["ReportPath"] is None and not list((tmp_path / "server-aadc01" / "reports").glob("*.htm"))
    assert not [c for c in ep.calls if c.command == "Read-PyBridgeReport"]


@TRANSPORTS
def test_injection_dn_reaches_the_cmdlet_verbatim(lab, endpoints, pki, tmp_path, transport):
    ep = endpoints(engine_config=engine_config(lab, tmp_path / "engine"))
    for dn in (INJECTION_DN, 'CN=Müller\\, "$(Get-Date)" `n,OU=Corp,DC=contoso,DC=com'):
        run = sync(*connect_args(ep, pki, transport=transport), "--distinguished-name", dn, "--no-html-report")
        assert run.code in (1, 3), run.stderr
        assert invoke_calls(ep)[-1].parameters["DistinguishedName"] == ("String", dn)
        assert run.doc["SourceIdentity"]["Name"] == dn
    assert not ep.refused and writes(lab.emulator) == []


@TRANSPORTS
def test_microsoft_module_without_report_path_gets_the_newest_report(lab, endpoints, pki, tmp_path, transport):
    ep = endpoints(engine_config=engine_config(lab, tmp_path / "engine"), flavour="microsoft")
    run = sync(*connect_args(ep, pki, transport=transport), "--distinguished-name", lab.dns["user"],
               "--staging-mode", "--report-dir", str(tmp_path / "local"))
    assert run.code == 0, run.stderr
    server_reports = sorted((tmp_path / "server-aadc01" / "reports").glob("ADSyncSingleObjectSyncResult-*.htm"))
    if not server_reports:
        pytest.skip("the engine writes no HTML report yet")
    local = Path(run.doc["ReportPath"])
    assert local.read_bytes() == server_reports[-1].read_bytes()
    read = [c for c in ep.calls if c.command == "Read-PyBridgeReport"][0]
    assert "Path" not in read.parameters and read.parameters["Since"][0] == "String"


# -- the report transfer on its own (no engine needed) ---------------------------------------------------------
@TRANSPORTS
def test_report_transfer_in_chunks_with_hash_check(endpoints, pki, tmp_path, transport):
    from pybridge.remote.runner import ReportCopyError, copy_report, default_session

    ep = endpoints()
    reports = tmp_path / "server-aadc01" / "reports"
    reports.mkdir(parents=True)
    content = ("<html><title>ADSync Single Object Sync Result</title>" + "é€" * 40000 + "</html>").encode("utf-8")
    placed = reports / "ADSyncSingleObjectSyncResult-20260101120000.htm"
    placed.write_bytes(content)
    servers, problems, _ = resolve(RemoteSettings(), ["127.0.0.1"], ServerOptions(
        port=ep.port, transport=transport, username=ACCOUNT, password=Secret(env=PW_ENV), ca_file=pki["ca"]))
    assert not problems
    session = default_session(servers[0], PASSWORD)
    session.open()
    try:
        local, remote = copy_report(session, "aadc01", tmp_path / "local", path=str(placed), chunk=50000)
        assert local.read_bytes() == content and remote == str(placed)
        assert hashlib.sha256(local.read_bytes()).hexdigest() == hashlib.sha256(content).hexdigest()
        reads = [c for c in ep.calls if c.command == "Read-PyBridgeReport"]
        assert len(reads) == -(-len(content) // 50000)
        assert reads[1].parameters["Offset"] == ("Int64" if transport == "winrs" else "Int32", 50000)
        # newest report since a time, as for Microsoft's module (which does not say where it wrote it)
        local2, remote2 = copy_report(session, "aadc01", tmp_path / "local2", path=None, since="2000-01-01T00:00:00Z")
        assert remote2 == str(placed) and local2.read_bytes() == content
        # a byte changed in transit is caught by the hash
        ep.module.corrupt_next_reports = 1
        with pytest.raises(ReportCopyError, match="SHA-256"):
            copy_report(session, "aadc01", tmp_path / "local3", path=str(placed), chunk=50000)
        assert not (tmp_path / "local3" / "aadc01").exists() or not list((tmp_path / "local3" / "aadc01").iterdir())
        # the endpoint reads nothing outside its report directory
        with pytest.raises(ReportCopyError, match="REFUSED"):
            copy_report(session, "aadc01", tmp_path / "local4", path=str(tmp_path / "secret.txt"))
    finally:
        session.close()


# -- failures as results and exit codes ------------------------------------------------------------------------
@pytest.mark.parametrize("transport,auth", [("psrp", "negotiate"), ("psrp", "basic"), ("winrs", "ntlm"),
                                            ("winrs", "basic")])
def test_wrong_password_is_authentication_failed(endpoints, pki, monkeypatch, transport, auth):
    ep = endpoints()
    monkeypatch.setenv("WRONG_PW", "not-the-password")
    run = sync(*connect_args(ep, pki, transport=transport, auth=auth, password_env="WRONG_PW"),
               "--distinguished-name", INJECTION_DN)
    assert run.code == 1
    status = run.doc["StatusInfo"]
    assert status["Status"] == "Failure" and status["ErrorCode"] == "RemoteAuthenticationFailed"
    assert status["ErrorCategory"] == "nonServiceFailure"
    assert ep.calls == [] and ep.auth_failures >= 1
    assert "not-the-password" not in run.stdout + run.stderr


@TRANSPORTS
@pytest.mark.parametrize("cert", ["untrusted", "wrong_name"])
def test_certificate_that_does_not_validate(endpoints, pki, monkeypatch, transport, cert):
    system = "/etc/ssl/certs/ca-certificates.crt"
    if os.path.exists(system):  # a bundle in the environment must not decide the outcome
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", system)
    ep = endpoints(cert=cert)
    run = sync(*connect_args(ep, pki, transport=transport), "--distinguished-name", INJECTION_DN)
    assert run.code == 1
    status = run.doc["StatusInfo"]
    assert status["ErrorCode"] == "RemoteTlsValidationFailed", status
    assert "certificate" in status["Reason"] and ep.calls == []


@TRANSPORTS
def test_server_that_is_down_is_unreachable_after_bounded_retries(tmp_path, monkeypatch, transport):
    import socket

    monkeypatch.setenv(PW_ENV, PASSWORD)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = sync("--computer-name", "127.0.0.1", "--port", str(port), "--transport", transport, "--username", ACCOUNT,
               "--password-env", PW_ENV, "--retries", "2", "--connect-timeout", "2", "--distinguished-name",
               INJECTION_DN, remote=parse({"defaults": {"retry_backoff": 0.05}}, base_dir=tmp_path,
                                          check_secrets=True)[0])
    assert run.code == 1
    status = run.doc["StatusInfo"]
    assert status["ErrorCode"] == "RemoteHostUnreachable" and "Connection refused" in status["Reason"]
    assert run.stderr.count("retrying in") == 2 and run.seconds < 30
    assert status["RecommendedAction"].startswith("Check the computer name")


@TRANSPORTS
def test_module_not_found_and_cmdlet_failed(endpoints, pki, transport):
    ep = endpoints()  # no engine configuration: the cmdlet fails on the server
    run = sync(*connect_args(ep, pki, transport=transport), "--module-path", "C:\\nowhere\\Missing.psm1",
               "--distinguished-name", INJECTION_DN)
    assert run.code == 1 and run.doc["StatusInfo"]["ErrorCode"] == "RemoteModuleNotFound"
    assert "C:\\nowhere\\Missing.psm1" in run.doc["StatusInfo"]["Reason"]
    assert not invoke_calls(ep)
    run = sync(*connect_args(ep, pki, transport=transport), "--module-path", "pybridge",
               "--distinguished-name", INJECTION_DN)
    assert run.code == 1 and run.doc["StatusInfo"]["ErrorCode"] == "RemoteCmdletFailed"
    assert "not configured" in run.doc["StatusInfo"]["Reason"]
    assert [c.parameters["Name"][1] for c in ep.calls if c.command == "Import-Module"][-1] == "ADSyncDiagnostics"


@TRANSPORTS
def test_throttled_server_is_retried_then_reported(endpoints, pki, tmp_path, transport):
    ep = endpoints()
    remote = parse({"defaults": {"retry_backoff": 0.05}}, base_dir=tmp_path, check_secrets=True)[0]
    ep.throttle_next_creates = 1
    args = connect_args(ep, pki, transport=transport)
    args[args.index("--retries") + 1] = "1"
    run = sync(*args, "--distinguished-name", INJECTION_DN, remote=remote)
    assert "retrying in" in run.stderr and "maximum number of 5 concurrent shells" in run.stderr
    assert run.doc["StatusInfo"]["ErrorCode"] == "RemoteCmdletFailed"  # it got through the second time
    ep.throttle_next_creates = 5
    run = sync(*connect_args(ep, pki, transport=transport), "--distinguished-name", INJECTION_DN, remote=remote)
    assert run.code == 1 and run.doc["StatusInfo"]["ErrorCode"] == "RemoteThrottled"


@TRANSPORTS
def test_a_run_that_outlasts_the_operation_timeout_is_stopped(endpoints, pki, tmp_path, transport):
    sleeper = tmp_path / "slow-engine"
    sleeper.write_text("#!/bin/sh\nexec sleep 60\n")
    sleeper.chmod(0o755)
    ep = endpoints(engine_config=sleeper)
    ep.module.python = str(sleeper)  # the emulated cmdlet now takes a minute
    run = sync(*connect_args(ep, pki, transport=transport), "--operation-timeout", "2", "--distinguished-name",
               INJECTION_DN)
    assert run.code == 1 and run.doc["StatusInfo"]["ErrorCode"] == "RemoteTimeout", run.stderr
    assert run.seconds < 30  # well before the minute the engine would take, even on a loaded machine
    deadline = time.monotonic() + 20
    while not ep.module.runs and time.monotonic() < deadline:  # the server side stops the engine as well
        time.sleep(0.1)
    assert ep.module.runs and ep.module.runs[0][1] - ep.module.runs[0][0] < 45


def test_plain_http_needs_message_encryption_or_an_explicit_allowance(endpoints, pki):
    ep = endpoints(https=False, allow_unencrypted=True)
    encrypted = sync(*connect_args(ep, pki, auth="negotiate"), "--distinguished-name", INJECTION_DN)
    assert encrypted.doc["StatusInfo"]["ErrorCode"] == "RemoteCmdletFailed"  # connected, ran, no engine
    refused = sync(*connect_args(ep, pki, auth="basic"), "--distinguished-name", INJECTION_DN)
    assert refused.code == 2 and refused.stdout == "" and "--allow-unencrypted" in refused.stderr
    allowed = sync(*connect_args(ep, pki, auth="basic"), "--allow-unencrypted", "--distinguished-name", INJECTION_DN)
    assert allowed.doc["StatusInfo"]["ErrorCode"] == "RemoteCmdletFailed"
    assert "UNENCRYPTED" in allowed.stderr
    strict = endpoints("strict", https=False)  # a server that refuses unencrypted traffic, as Windows does
    run = sync(*connect_args(strict, pki, auth="basic"), "--allow-unencrypted", "--distinguished-name", INJECTION_DN)
    assert run.code == 1 and run.doc["StatusInfo"]["ErrorCode"] == "RemoteAccessDenied"


# -- several servers --------------------------------------------------------------------------------------------
def test_two_servers_in_parallel_and_compare_shows_where_they_differ(lab, endpoints, pki, tmp_path):
    active = endpoints("aadc01", engine_config=engine_config(lab, tmp_path / "active"))
    staging = endpoints("aadc02", engine_config=engine_config(lab, tmp_path / "staging",
                                                              **{"sync.staging_mode": True}))
    remote, problems = parse({
        "defaults": {"username": ACCOUNT, "password_env": PW_ENV, "ca_file": str(pki["ca"]), "retries": 0},
        "servers": {"aadc01": {"host": "127.0.0.1", "port": active.port},
                    "aadc02": {"host": "127.0.0.1", "port": staging.port, "transport": "winrs"}},
        "groups": {"sync-servers": ["aadc01", "aadc02"]},
    }, base_dir=tmp_path, check_secrets=True)
    assert not problems
    run = sync("--computer-name", "sync-servers", "--distinguished-name", lab.dns["user"], "--no-html-report",
               "--compare", "--progress", "none", remote=remote)
    assert run.code == 0, run.stderr
    docs = run.docs
    assert [d["ComputerName"] for d in docs] == ["aadc01", "aadc02"]
    assert all(d["StatusInfo"]["Status"] == "Success" for d in docs)
    a, b = active.module.runs[0], staging.module.runs[0]
    assert a[0] < b[1] and b[0] < a[1], "the two servers did not run at the same time"
    assert "Step 10 ExportSpecificObject / Export step result" in run.stderr
    assert "aadc01" in run.stderr and "aadc02" in run.stderr
    # the same comparison from the printed results
    results = tmp_path / "results.json"
    results.write_text(run.stdout)
    out, err = io.StringIO(), io.StringIO()
    code = run_compare(argparse.Namespace(results=[str(results)], compare_format="json"), out=out, err=err)
    assert code == 1, err.getvalue()
    comparison = json.loads(out.getvalue())
    assert comparison["Results"] == ["aadc01", "aadc02"] and comparison["SameObject"] is True
    paths = {d["Path"]: d["Values"] for d in comparison["Differences"]}
    export = paths["Step 10 ExportSpecificObject / Export step result"]
    assert export["aadc01"] != export["aadc02"] and export["aadc02"].startswith("Not exported: staging mode")
    assert not any(p.endswith(("StartTime", "EndTime", "Timestamp")) for p in paths)


# -- the endpoint itself ----------------------------------------------------------------------------------------
def test_endpoint_refuses_anything_but_the_module_commands(endpoints, pki):
    from pypsrp.powershell import PowerShell, RunspacePool
    from pypsrp.wsman import WSMan
    import winrm

    ep = endpoints()
    wsman = WSMan("127.0.0.1", port=ep.port, username=ACCOUNT, password=PASSWORD, cert_validation=str(pki["ca"]),
                  auth="ntlm")
    with wsman, RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_script("Remove-Item C:\\ -Recurse")
        ps.invoke()
        assert ps.had_errors and "REFUSED" in str(ps.streams.error[0])
        ps = PowerShell(pool)
        ps.add_cmdlet("Invoke-ADSyncSingleObjectSync").add_parameter("DistinguishedName", "CN=x")
        ps.invoke()
        assert ps.had_errors  # the module was never imported in this runspace
    protocol = winrm.Protocol(ep.base_url, transport="ntlm", username=ACCOUNT, password=PASSWORD,
                              ca_trust_path=str(pki["ca"]))
    shell = protocol.open_shell()
    with pytest.raises(winrm.exceptions.WSManFaultError, match="REFUSED"):
        protocol.run_command(shell, "cmd.exe", ["/c", "whoami"])
    encoded = base64.b64encode("whoami".encode("utf-16-le")).decode()
    with pytest.raises(winrm.exceptions.WSManFaultError, match="REFUSED"):
        protocol.run_command(shell, "powershell.exe", ["-EncodedCommand", encoded])
    protocol.close_shell(shell)
    assert len(ep.refused) == 3 and ep.module.runs == []  # nothing reached the engine


def test_endpoint_runs_as_a_process(tmp_path, pki, monkeypatch):
    monkeypatch.setenv(PW_ENV, PASSWORD)
    users = tmp_path / "users"
    users.write_text(f"{ACCOUNT}:{PASSWORD}\n")
    ready = tmp_path / "ready.json"
    proc = subprocess.Popen([sys.executable, "-m", "pybridge_lab.winrm_endpoint", "--users-file", str(users),
                             "--report-dir", str(tmp_path / "reports"), "--cert", str(pki["good"].cert),
                             "--key", str(pki["good"].key), "--ready-file", str(ready)],
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.05)
        port = json.loads(ready.read_text())["port"]
        run = sync("--computer-name", "127.0.0.1", "--port", str(port), "--username", ACCOUNT, "--password-env",
                   PW_ENV, "--ca-file", str(pki["ca"]), "--retries", "0", "--distinguished-name", INJECTION_DN)
        assert run.doc["StatusInfo"]["ErrorCode"] == "RemoteCmdletFailed"
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0
    assert not ready.exists()



# -- through the real command line, settings from the configuration's remote: section ----------------------------
def test_cli_remote_settings_from_the_configuration(lab, endpoints, pki, tmp_path):
    from contextlib import redirect_stderr, redirect_stdout

    from pybridge.cli import main

    ep = endpoints("aadc01", engine_config=engine_config(lab, tmp_path / "server"))
    cfg = tmp_path / "workstation.yaml"
    cfg.write_text(
        "remote:\n"
        "  servers:\n"
        f"    aadc01: {{host: 127.0.0.1, port: {ep.port}, ca_file: '{pki['ca']}', username: '{ACCOUNT}',\n"
        f"             password_env: {PW_ENV}, auth: ntlm, retries: 0}}\n"
        "  groups:\n"
        "    sync-servers: [aadc01]\n"
        f"report:\n  directory: '{tmp_path / 'local-reports'}'\n")
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["sync", "--config", str(cfg), "--computer-name", "sync-servers", "--staging-mode",
                     INJECTION_DN])
    assert code in (0, 1), err.getvalue()
    doc = json.loads(out.getvalue())
    assert doc["ComputerName"] == "aadc01"
    (call,) = invoke_calls(ep)
    assert call.parameters["DistinguishedName"] == ("String", INJECTION_DN)  # a typed string, verbatim
    assert call.parameters["StagingMode"][1] is True
    assert writes(lab.emulator) == []
