"""The remote path end to end over WinRM: the real pypsrp and pywinrm clients, and real PowerShell on the server.

The lab's WinRM test endpoint (pybridge_lab.winrm_endpoint) stands in for a Windows sync server: it speaks
WS-Management over HTTPS or HTTP and authenticates with Basic or NTLM, and what arrives runs on a test sync
server (pybridge_lab.sync_server) in real PowerShell 7: each runspace pool is a `pwsh -s`, each WinRS command
a process (pwsh standing in for powershell.exe). pybridge's module is on the server's PSModulePath and a
stand-in of Microsoft's module (written from its documented surface) where Entra Connect installs it; both
run pybridge's engine against the Samba AD DC and the Graph emulator of the lab. A PowerShell error in a
payload comes back as an error and fails the test (Run.assert_clean). Tests that need no engine run without
Samba.
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
from pathlib import Path
from typing import Any

import pytest

from pybridge.config import parse_remote as parse
from pybridge.remote.cli import run_compare
from pybridge.remote.settings import MICROSOFT_MODULE_PATH, RemoteSettings, ServerOptions, resolve
from pybridge.secret import Secret
from pybridge_lab.ca import create_ca, issue_server_cert
from pybridge_lab.sync_server import JEA_CONFIGURATION, SyncServer
from pybridge_lab.winrm_endpoint import WinRMEndpoint
from tests.remote_support import (INJECTION_DN, PSMODULE, QUOTES_DN, engine_dn, process_ends, remote_pwsh,
                                  slow_engine, sync, writes)

pytestmark = pytest.mark.integration

ACCOUNT = "CONTOSO\\svc-sync"
PASSWORD = "Winrm-Test-Pa55!" + os.urandom(4).hex()
PW_ENV = "PYBRIDGE_TEST_WINRM_PASSWORD"
HOST = os.environ.get("PYBRIDGE_TEST_WINRM_HOST", "127.0.0.1")
TRANSPORTS = pytest.mark.parametrize("transport", ["psrp", "winrs"])


# -- fixtures and helpers -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pwsh():
    return remote_pwsh()


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    root = tmp_path_factory.mktemp("winrm-pki")
    ca = create_ca(root / "ca")
    names = tuple(dict.fromkeys(("localhost", "127.0.0.1", HOST)))
    good = issue_server_cert(ca, root / "srv", "winrm", names=names)
    wrong_name = issue_server_cert(ca, root / "srv", "winrm-other-name", names=("sync.example.net",))
    other_ca = create_ca(root / "other-ca", common_name="Some other CA")
    untrusted = issue_server_cert(other_ca, root / "srv", "winrm-untrusted", names=names)
    return {"ca": ca.cert, "good": good, "wrong_name": wrong_name, "untrusted": untrusted}


@pytest.fixture
def endpoints(tmp_path, pki, pwsh, monkeypatch):
    """Start test sync servers behind endpoints on demand: endpoints(name, engine_config=..., https=True, ...)."""
    monkeypatch.setenv(PW_ENV, PASSWORD)
    started: list[WinRMEndpoint] = []

    def start(name: str = "aadc01", *, engine_config: Path | None = None, https: bool = True, cert: str = "good",
              server: dict[str, Any] | None = None, **kw: Any) -> WinRMEndpoint:
        pair = pki[cert]
        box = SyncServer(tmp_path / f"server-{name}", name=name.upper(), engine_config=engine_config, pwsh=pwsh,
                         **{"pybridge_module": PSMODULE, **(server or {})})
        ep = WinRMEndpoint(users={ACCOUNT: PASSWORD}, server=box, host=HOST, certfile=pair.cert if https else None,
                           keyfile=pair.key if https else None, **kw)
        started.append(ep.start())
        return ep

    yield start
    for ep in started:
        ep.stop()


def connect_args(ep: WinRMEndpoint, pki: dict[str, Any], *, transport: str = "psrp", auth: str = "negotiate",
                 password_env: str = PW_ENV) -> list[str]:
    args = ["--computer-name", HOST, "--port", str(ep.port), "--transport", transport, "--auth", auth,
            "--username", ACCOUNT, "--password-env", password_env, "--retries", "0"]
    args += ["--ca-file", str(pki["ca"])] if ep.use_ssl else ["--no-ssl"]
    return args


def commands(ep: WinRMEndpoint, name: str) -> list[Any]:
    """The PSRP commands named *name* the endpoint forwarded."""
    return [c for c in ep.calls if c.transport == "psrp" and c.command == name]


def report_reads(ep: WinRMEndpoint) -> list[Any]:
    """The report transfers the endpoint forwarded (psrp: the script; winrs: the powershell.exe commands)."""
    return [c for c in ep.calls if "Read-PyBridgeReport" in c.command
            or c.transport == "winrs" and "Offset" in winrs_input(c)]


def winrs_input(call: Any) -> dict[str, Any]:
    """The values a WinRS payload got on stdin (one line of base64 JSON)."""
    raw = call.parameters.get("Input", ("String", ""))[1].strip()
    return json.loads(base64.b64decode(raw)) if raw else {}


def engine_config(lab, path: Path, **overrides: Any) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return lab.config(path, **overrides)


# -- the endpoint runs real PowerShell --------------------------------------------------------------------------
def test_the_endpoint_runs_what_it_receives_in_real_powershell(endpoints, pki):
    import winrm
    from pypsrp.exceptions import WSManFaultError
    from pypsrp.powershell import PowerShell, RunspacePool
    from pypsrp.wsman import WSMan

    ep = endpoints()

    def wsman() -> WSMan:
        return WSMan(HOST, port=ep.port, username=ACCOUNT, password=PASSWORD, cert_validation=str(pki["ca"]),
                     auth="ntlm")

    with wsman() as w, RunspacePool(w) as pool:
        ps = PowerShell(pool)
        ps.add_script("$PSVersionTable.PSEdition")
        assert ps.invoke() == ["Core"] and not ps.had_errors
        ps = PowerShell(pool)  # the server's disk: C: and Microsoft's module where Entra Connect installs it
        ps.add_cmdlet("Test-Path").add_parameter("LiteralPath", MICROSOFT_MODULE_PATH)
        assert ps.invoke() == [True]
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-Item").add_parameter("LiteralPath", "C:\\nowhere\\nothing.txt")
        ps.invoke()  # a non-terminating error of PowerShell's own
        assert ps.streams.error and "does not exist" in str(ps.streams.error[0])
    assert [c.command for c in ep.calls if c.transport == "psrp"] == ["$PSVersionTable.PSEdition", "Test-Path",
                                                                      "Get-Item"]
    with wsman() as w, RunspacePool(w, configuration_name=JEA_CONFIGURATION) as pool:
        ps = PowerShell(pool)  # a JEA endpoint: NoLanguage, one function visible
        ps.add_script("$PSVersionTable.PSEdition")
        ps.invoke()
        assert ps.had_errors and "no-language mode" in str(ps.streams.error[0])
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-Command").add_parameter("CommandType", "Function")
        assert "Invoke-ADSyncSingleObjectSync" in [str(o) for o in ps.invoke()]
    with pytest.raises(WSManFaultError, match="session configuration"):
        with wsman() as w, RunspacePool(w, configuration_name="No.Such.Endpoint"):
            pass

    protocol = winrm.Protocol(ep.base_url, transport="ntlm", username=ACCOUNT, password=PASSWORD,
                              ca_trust_path=str(pki["ca"]))
    shell = protocol.open_shell()
    try:
        encoded = base64.b64encode("$PSVersionTable.PSEdition; @($input) -join '+'".encode("utf-16-le")).decode()
        command = protocol.run_command(shell, "powershell.exe", ["-NoProfile", "-EncodedCommand", encoded])
        protocol.send_command_input(shell, command, b"a\r\nb\r\n", end=True)
        out, err, code = protocol.get_command_output(shell, command)
        assert (out.decode().split(), code) == (["Core", "a+b"], 0), err
        command = protocol.run_command(shell, "cmd.exe", ["/c", "whoami"])
        out, err, code = protocol.get_command_output(shell, command)
        assert code == 9009 and b"is not recognized" in err
    finally:
        protocol.close_shell(shell)


# -- success, staging, streams, report --------------------------------------------------------------------------
@TRANSPORTS
def test_pybridge_module_on_the_server_returns_its_result_streams_and_report(lab, endpoints, pki, tmp_path,
                                                                              transport):
    # the engine's configuration turns certificate validation off, so the engine warns on every run
    unvalidated = {"ad_connectors.0.tls": {"validate": False}}
    ep = endpoints(engine_config=engine_config(lab, tmp_path / "engine", **unvalidated))
    run = sync(*connect_args(ep, pki, transport=transport), "--module-path", "pybridge",
               "--distinguished-name", lab.dns["user"], "--report-dir", str(tmp_path / "local"))
    assert run.code == 0, run.stderr
    run.assert_clean()
    doc = run.doc
    assert doc["StatusInfo"]["Status"] == "Success" and doc["Action"] == "Create"
    assert doc["ComputerName"] == HOST and list(doc)[-1] == "ComputerName"
    assert doc["SourceIdentity"]["Name"] == lab.dns["user"]
    assert any(r["method"] == "POST" and r["path"] == "/v1.0/users" for r in writes(lab.emulator))
    (engine,) = ep.server.engine_runs()
    assert engine_dn(engine) == lab.dns["user"] and engine.exit_code == 0
    if transport == "psrp":
        assert [c.command for c in ep.calls][:3] == ["Get-Command", "Import-Module", "Invoke-ADSyncSingleObjectSync"]
        assert commands(ep, "Import-Module")[0].parameters["Name"] == ("String", "ADSyncDiagnostics")
        assert commands(ep, "Invoke-ADSyncSingleObjectSync")[0].parameters == {
            "DistinguishedName": ("String", lab.dns["user"])}
    else:
        sent = winrs_input(ep.calls[0])
        assert sent == {"ModulePath": "ADSyncDiagnostics", "DistinguishedName": lab.dns["user"], "StagingMode": False,
                        "NoHtmlReport": False}
    assert all(c.user == ACCOUNT for c in ep.calls)
    # the engine's warning came back through the remote warning stream
    assert f"pybridge: {HOST}: WARNING: TLS certificate validation is OFF for AD connector" in run.stderr
    # pybridge's module says where the report is: copied, verified, owner-only
    local = Path(doc["ReportPath"])
    assert local.parent == tmp_path / "local" / HOST and local.stat().st_mode & 0o077 == 0
    server_report = Path(next(c for c in report_reads(ep)).parameters["Path"][1]) if transport == "psrp" \
        else Path(winrs_input(report_reads(ep)[0])["Path"])
    assert server_report.is_file() and local.read_bytes() == server_report.read_bytes()
    assert "SHA-256 verified" in run.stderr


@TRANSPORTS
def test_microsoft_module_without_report_path_gets_the_newest_report(lab, endpoints, pki, tmp_path, transport):
    ep = endpoints(engine_config=engine_config(lab, tmp_path / "engine"))
    run = sync(*connect_args(ep, pki, transport=transport), "--distinguished-name", lab.dns["user"],
               "--staging-mode", "--report-dir", str(tmp_path / "local"))
    assert run.code == 0, run.stderr
    run.assert_clean()
    if transport == "psrp":  # the default module: Microsoft's, at the path where Entra Connect installs it
        assert commands(ep, "Import-Module")[0].parameters["Name"] == ("String", MICROSOFT_MODULE_PATH)
    # Microsoft's cmdlet wrote its report where Microsoft writes it, and said nothing about it
    (server_report,) = ep.server.reports()
    assert server_report.parent == ep.server.program_data / "AADConnect" / "ADSyncObjectDiagnostics"
    local = Path(run.doc["ReportPath"])
    assert local.read_bytes() == server_report.read_bytes() and local.name == server_report.name
    (read, *_) = report_reads(ep)
    values = read.parameters if transport == "psrp" else {k: ("String", v) for k, v in winrs_input(read).items()}
    assert "Path" not in values and values["Since"][0] == "String"
    assert run.doc["StatusInfo"]["Status"] == "Success"


@TRANSPORTS
def test_staging_mode_reaches_the_cmdlet_and_nothing_is_exported(lab, endpoints, pki, tmp_path, transport):
    ep = endpoints(engine_config=engine_config(lab, tmp_path / "engine"))
    run = sync(*connect_args(ep, pki, transport=transport), "--distinguished-name", lab.dns["user"],
               "--staging-mode", "--no-html-report")
    assert run.code == 0, run.stderr
    run.assert_clean()
    doc = run.doc
    export = doc["ProvisioningSteps"][9]
    assert export["Details"]["Export step result"].startswith("Not exported: staging mode")
    assert export["Description"].startswith("[Staging Mode] ")
    assert writes(lab.emulator) == []
    (engine,) = ep.server.engine_runs()
    assert "--staging-mode" in engine.argv and "--no-html-report" in engine.argv
    if transport == "psrp":
        assert commands(ep, "Invoke-ADSyncSingleObjectSync")[0].parameters == {
            "DistinguishedName": ("String", lab.dns["user"]), "StagingMode": ("Boolean", True),
            "NoHtmlReport": ("Boolean", True)}
    assert doc["ReportPath"] is None and ep.server.reports() == [] and report_reads(ep) == []
    # Microsoft's shape: no ReportPath from the server, the compressed depth-3 JSON (no truncation warning)
    assert "ReportPath" not in json.dumps({k: v for k, v in doc.items() if k not in ("ReportPath", "ComputerName")})
    assert "truncated" not in run.stderr


@TRANSPORTS
def test_injection_dn_reaches_the_cmdlet_verbatim(lab, endpoints, pki, tmp_path, transport):
    ep = endpoints(engine_config=engine_config(lab, tmp_path / "engine"))
    for dn in (INJECTION_DN, QUOTES_DN):
        run = sync(*connect_args(ep, pki, transport=transport), "--distinguished-name", dn, "--no-html-report")
        assert run.code in (1, 3), run.stderr
        assert engine_dn(ep.server.engine_runs()[-1]) == dn
        assert run.doc["SourceIdentity"]["Name"] == dn
        if transport == "psrp":
            assert commands(ep, "Invoke-ADSyncSingleObjectSync")[-1].parameters["DistinguishedName"] == ("String", dn)
    assert writes(lab.emulator) == []
    assert not (ep.server.system_drive / "Recurse").exists()


# -- the report transfer on its own (no engine needed) ---------------------------------------------------------
@TRANSPORTS
def test_report_transfer_in_chunks_with_hash_check(endpoints, pki, tmp_path, transport):
    from pybridge.remote.runner import ReportCopyError, copy_report, default_session

    ep = endpoints()
    # three chunks of 40000 bytes (each WinRS chunk is a powershell.exe of its own on the server)
    content = ("<html><title>ADSync Single Object Sync Result</title>" + "é€" * 20000 + "</html>").encode("utf-8")
    placed = ep.server.reports_dir / "ADSyncSingleObjectSyncResult-20260101120000.htm"
    placed.write_bytes(content)
    servers, problems, _ = resolve(RemoteSettings(), [HOST], ServerOptions(
        port=ep.port, transport=transport, username=ACCOUNT, password=Secret(env=PW_ENV), ca_file=pki["ca"]))
    assert not problems
    session = default_session(servers[0], PASSWORD)
    session.open()
    try:
        local, remote = copy_report(session, "aadc01", tmp_path / "local", path=str(placed), chunk=40000)
        assert local.read_bytes() == content and remote == str(placed)
        assert hashlib.sha256(local.read_bytes()).hexdigest() == hashlib.sha256(content).hexdigest()
        reads = report_reads(ep)
        assert len(reads) == -(-len(content) // 40000) == 3
        if transport == "psrp":
            assert reads[1].parameters["Offset"] == ("Int32", 40000)
        else:
            assert winrs_input(reads[1])["Offset"] == 40000
        # the newest report since a time, as for Microsoft's module (which does not say where it wrote it):
        # Read-PyBridgeReport looks in %ProgramData%\AADConnect\ADSyncObjectDiagnostics on the server
        local2, remote2 = copy_report(session, "aadc01", tmp_path / "local2", path=None, since="2000-01-01T00:00:00Z")
        assert remote2 == str(placed) and local2.read_bytes() == content
        # a byte changed in transit is caught by the hash, and nothing is kept
        ep.tamper_next_reports = 1
        with pytest.raises(ReportCopyError, match="SHA-256"):
            copy_report(session, "aadc01", tmp_path / "local3", path=str(placed), chunk=40000)
        assert ep.tamper_next_reports == 0
        assert not (tmp_path / "local3" / "aadc01").exists() or not list((tmp_path / "local3" / "aadc01").iterdir())
        # PowerShell's own error for a report that is not there
        with pytest.raises(ReportCopyError, match="does not exist"):
            copy_report(session, "aadc01", tmp_path / "local4", path=str(ep.server.reports_dir / "gone.htm"))
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
    assert ep.calls == [] and ep.auth_failures >= 1 and ep.shells_created == 0
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
        s.bind((HOST, 0))
        port = s.getsockname()[1]
    run = sync("--computer-name", HOST, "--port", str(port), "--transport", transport, "--username", ACCOUNT,
               "--password-env", PW_ENV, "--retries", "2", "--connect-timeout", "2", "--distinguished-name",
               INJECTION_DN, remote=parse({"defaults": {"retry_backoff": 0.05}}, base_dir=tmp_path,
                                          check_secrets=True)[0])
    assert run.code == 1
    status = run.doc["StatusInfo"]
    assert status["ErrorCode"] == "RemoteHostUnreachable" and "Connection refused" in status["Reason"]
    assert run.stderr.count("retrying in") == 2
    assert status["RecommendedAction"].startswith("Check the computer name")


@TRANSPORTS
def test_module_not_found_and_cmdlet_failed(endpoints, pki, tmp_path, transport):
    ep = endpoints(server={"engine": str(tmp_path / "no-such-python")})  # an engine that is not installed
    run = sync(*connect_args(ep, pki, transport=transport), "--module-path", "C:\\nowhere\\Missing.psm1",
               "--distinguished-name", INJECTION_DN)
    assert run.code == 1 and run.doc["StatusInfo"]["ErrorCode"] == "RemoteModuleNotFound", run.stderr
    assert "C:\\nowhere\\Missing.psm1" in run.doc["StatusInfo"]["Reason"]
    assert "no valid module file was found" in run.doc["StatusInfo"]["Reason"]  # PowerShell's own words
    assert not commands(ep, "Invoke-ADSyncSingleObjectSync")
    run = sync(*connect_args(ep, pki, transport=transport), "--module-path", "pybridge",
               "--distinguished-name", INJECTION_DN)
    status = run.doc["StatusInfo"]
    assert run.code == 1 and status["ErrorCode"] == "RemoteCmdletFailed", run.stderr
    assert "no-such-python" in status["Reason"]  # the module's EngineNotFound names what it tried
    assert ep.server.engine_runs(None) == []


@TRANSPORTS
def test_throttled_server_is_retried_then_reported(endpoints, pki, tmp_path, transport):
    ep = endpoints()  # no engine configuration: the cmdlet answers ConfigurationError
    remote = parse({"defaults": {"retry_backoff": 0.05}}, base_dir=tmp_path, check_secrets=True)[0]
    ep.throttle_next_creates = 1
    args = connect_args(ep, pki, transport=transport)
    args[args.index("--retries") + 1] = "1"
    run = sync(*args, "--distinguished-name", INJECTION_DN, "--no-html-report", remote=remote)
    assert "retrying in" in run.stderr and "maximum number of 5 concurrent shells" in run.stderr
    assert run.doc["StatusInfo"]["ErrorCode"] == "ConfigurationError"  # it got through the second time, and ran
    ep.throttle_next_creates = 5
    run = sync(*connect_args(ep, pki, transport=transport), "--distinguished-name", INJECTION_DN, remote=remote)
    assert run.code == 1 and run.doc["StatusInfo"]["ErrorCode"] == "RemoteThrottled"


@TRANSPORTS
def test_a_run_that_outlasts_the_operation_timeout_is_stopped_on_the_server(endpoints, pki, tmp_path, transport):
    pid_file = tmp_path / "engine.pid"
    ep = endpoints(server={"engine": slow_engine(tmp_path / "slow-engine", pid_file)})
    run = sync(*connect_args(ep, pki, transport=transport), "--operation-timeout", "40", "--distinguished-name",
               INJECTION_DN, "--no-html-report")
    assert run.code == 1 and run.doc["StatusInfo"]["ErrorCode"] == "RemoteTimeout", run.stderr
    assert pid_file.exists(), "the engine never started on the server"
    assert process_ends(int(pid_file.read_text())), "the server did not stop the engine"


def test_plain_http_needs_message_encryption_or_an_explicit_allowance(endpoints, pki):
    ep = endpoints(https=False, allow_unencrypted=True)
    encrypted = sync(*connect_args(ep, pki, auth="negotiate"), "--distinguished-name", INJECTION_DN,
                     "--no-html-report")
    assert encrypted.doc["StatusInfo"]["ErrorCode"] == "ConfigurationError"  # connected and ran; no engine config
    refused = sync(*connect_args(ep, pki, auth="basic"), "--distinguished-name", INJECTION_DN)
    assert refused.code == 2 and refused.stdout == "" and "--allow-unencrypted" in refused.stderr
    allowed = sync(*connect_args(ep, pki, auth="basic"), "--allow-unencrypted", "--distinguished-name", INJECTION_DN,
                   "--no-html-report")
    assert allowed.doc["StatusInfo"]["ErrorCode"] == "ConfigurationError"
    assert "UNENCRYPTED" in allowed.stderr
    strict = endpoints("strict", https=False)  # a server that refuses unencrypted traffic, as Windows does
    run = sync(*connect_args(strict, pki, auth="basic"), "--allow-unencrypted", "--distinguished-name", INJECTION_DN)
    assert run.code == 1 and run.doc["StatusInfo"]["ErrorCode"] == "RemoteAccessDenied"


# -- a JEA endpoint -----------------------------------------------------------------------------------------------
def test_a_jea_configuration_runs_the_sync_with_the_cmdlet_it_provides(lab, endpoints, pki, tmp_path):
    ep = endpoints(engine_config=engine_config(lab, tmp_path / "engine"))
    base = [*connect_args(ep, pki), "--configuration-name", JEA_CONFIGURATION, "--distinguished-name",
            lab.dns["user"], "--staging-mode"]
    run = sync(*base, "--no-html-report")
    assert run.code == 0, run.stderr
    run.assert_clean()
    assert run.doc["StatusInfo"]["Status"] == "Success"
    # the endpoint provides the cmdlet (its module is imported there): importing it again would hide it
    assert [c.command for c in ep.calls] == ["Get-Command", "Invoke-ADSyncSingleObjectSync"]
    assert writes(lab.emulator) == []
    # the report transfer is a script, which a NoLanguage endpoint does not run: the report stays on the server
    run = sync(*base, "--report-dir", str(tmp_path / "local"))
    assert run.code == 0 and run.doc["StatusInfo"]["Status"] == "Success", run.stderr
    assert run.doc["ReportPath"] is None and "the HTML report was not copied" in run.stderr
    assert "no-language mode" in run.stderr and len(ep.server.reports()) == 1


# -- several servers --------------------------------------------------------------------------------------------
def test_two_servers_in_parallel_and_compare_shows_where_they_differ(lab, endpoints, pki, tmp_path):
    active = endpoints("aadc01", engine_config=engine_config(lab, tmp_path / "active"))
    staging = endpoints("aadc02", engine_config=engine_config(lab, tmp_path / "staging",
                                                              **{"sync.staging_mode": True}))
    remote, problems = parse({
        "defaults": {"username": ACCOUNT, "password_env": PW_ENV, "ca_file": str(pki["ca"]), "retries": 0},
        "servers": {"aadc01": {"host": HOST, "port": active.port},
                    "aadc02": {"host": HOST, "port": staging.port, "transport": "winrs"}},
        "groups": {"sync-servers": ["aadc01", "aadc02"]},
    }, base_dir=tmp_path, check_secrets=True)
    assert not problems
    run = sync("--computer-name", "sync-servers", "--distinguished-name", lab.dns["user"], "--no-html-report",
               "--compare", "--progress", "none", remote=remote)
    assert run.code == 0, run.stderr
    run.assert_clean()
    docs = run.docs
    assert [d["ComputerName"] for d in docs] == ["aadc01", "aadc02"]
    assert all(d["StatusInfo"]["Status"] == "Success" for d in docs)
    ((a_open, a_close),) = active.shell_times.values()
    ((b_open, b_close),) = staging.shell_times.values()
    assert a_open < b_close and b_open < a_close, "the two servers were not worked on at the same time"
    assert len(active.server.engine_runs()) == len(staging.server.engine_runs()) == 1
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
    # which server reads Entra ID first is a race (they run at the same time): the staging server sees the change
    # still to be made, or the active server's write already done; either way the two differ at the export step
    assert export["aadc01"] != export["aadc02"]
    assert export["aadc02"].startswith(("Not exported: staging mode", "No changes to export")), export
    assert not any(p.endswith(("StartTime", "EndTime", "Timestamp")) for p in paths)


# -- the endpoint as a process, and the real command line ---------------------------------------------------------
def test_endpoint_runs_as_a_process(tmp_path, pki, pwsh, monkeypatch):
    monkeypatch.setenv(PW_ENV, PASSWORD)
    users = tmp_path / "users"
    users.write_text(f"{ACCOUNT}:{PASSWORD}\n")
    ready = tmp_path / "ready.json"
    proc = subprocess.Popen([sys.executable, "-m", "pybridge_lab.winrm_endpoint", "--users-file", str(users),
                             "--server-dir", str(tmp_path / "server"), "--host", HOST, "--cert",
                             str(pki["good"].cert), "--key", str(pki["good"].key), "--ready-file", str(ready)],
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYBRIDGE_PWSH": pwsh})
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.05)
        port = json.loads(ready.read_text())["port"]
        run = sync("--computer-name", HOST, "--port", str(port), "--username", ACCOUNT, "--password-env",
                   PW_ENV, "--ca-file", str(pki["ca"]), "--retries", "0", "--distinguished-name", INJECTION_DN,
                   "--no-html-report")
        assert run.doc["StatusInfo"]["ErrorCode"] == "ConfigurationError", run.stderr  # ran; not configured
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0
    assert not ready.exists()


def test_cli_remote_settings_from_the_configuration(lab, endpoints, pki, tmp_path):
    from contextlib import redirect_stderr, redirect_stdout

    from pybridge.cli import main

    ep = endpoints("aadc01", engine_config=engine_config(lab, tmp_path / "server"))
    cfg = tmp_path / "workstation.yaml"
    cfg.write_text(
        "remote:\n"
        "  servers:\n"
        f"    aadc01: {{host: '{HOST}', port: {ep.port}, ca_file: '{pki['ca']}', username: '{ACCOUNT}',\n"
        f"             password_env: {PW_ENV}, auth: ntlm, retries: 0}}\n"
        "  groups:\n"
        "    sync-servers: [aadc01]\n"
        f"report:\n  directory: '{tmp_path / 'local-reports'}'\n")
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["sync", "--config", str(cfg), "--computer-name", "sync-servers", "--staging-mode",
                     INJECTION_DN])
    assert code in (1, 3), err.getvalue()
    doc = json.loads(out.getvalue())
    assert doc["ComputerName"] == "aadc01"
    (call,) = commands(ep, "Invoke-ADSyncSingleObjectSync")
    assert call.parameters["DistinguishedName"] == ("String", INJECTION_DN)  # a typed string, verbatim
    assert call.parameters["StagingMode"] == ("Boolean", True)
    assert engine_dn(ep.server.engine_runs()[-1]) == INJECTION_DN
    assert writes(lab.emulator) == []
