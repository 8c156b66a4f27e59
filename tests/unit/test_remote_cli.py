"""`pybridge sync --computer-name`: options, passwords, output, exit codes; error classification."""
from __future__ import annotations

import argparse
import io
import json

import pytest
import requests

from pybridge.config import parse_remote as parse
from pybridge.remote import (ERROR_CODES, RemoteError, Streams, from_requests_error, from_wsman_fault)
from pybridge.remote.cli import add_compare_parser, add_sync_arguments, run_sync
from pybridge.remote.settings import RemoteSettings

DN = "CN=Jane Doe,OU=Corp,DC=contoso,DC=com"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pybridge sync", exit_on_error=False)
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


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def result(status: str = "Success") -> str:
    return json.dumps({"Action": "Update", "StartTime": "2026-01-01T10:00:00.000Z", "EndTime": None,
                       "SourceSystem": {"Name": "Active Directory"}, "TargetSystem": {"Name": "Azure Active Directory"},
                       "SourceIdentity": {"Id": "g", "Type": "user", "Name": DN},
                       "TargetIdentity": {"Id": "t", "Type": "user", "Name": "jane@contoso.com"},
                       "StatusInfo": {"Status": status, "ErrorCode": None if status == "Success" else "Code",
                                      "Reason": None, "AdditionalDetails": None, "ErrorCategory": None,
                                      "RecommendedAction": None},
                       "ModifiedProperties": [], "ProvisioningSteps": [], "ReportPath": None})


class Fake:
    def __init__(self, status: str) -> None:
        self.status = status

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def sync(self, request):
        return Streams(stage="Done", output=[result(self.status)], warnings=["remote warning"])

    def read_report(self, **kw):
        raise AssertionError("no report")


def run(argv: list[str], remote: RemoteSettings | None = None, stdin: io.StringIO | None = None,
        statuses: dict[str, str] | None = None, prompts: list[str] | None = None):
    out, err = io.StringIO(), io.StringIO()
    seen: dict[str, str | None] = {}

    def session(settings, password):
        seen[settings.name] = password
        return Fake((statuses or {}).get(settings.name, "Success"))

    def prompt(text: str) -> str:
        if prompts is not None:
            prompts.append(text)
        return "typed-password"

    code = run_sync(parser().parse_args(argv), remote or RemoteSettings(), out=out, err=err,
                    stdin=stdin or io.StringIO(), session_factory=session, prompt=prompt)
    return code, out.getvalue(), err.getvalue(), seen


def test_one_document_per_server_in_order_and_the_worst_exit_code(monkeypatch):
    monkeypatch.setenv("PW", "pw")
    code, out, err, seen = run(["--computer-name", "b,a", "--computer-name", "c", "-d", DN, "--username", "u",
                                "--auth", "ntlm", "--password-env", "PW", "--no-html-report", "--progress", "none"],
                               statuses={"a": "Skipped", "c": "Failure"})
    docs = [json.loads(line) for line in out.splitlines()]
    assert [d["ComputerName"] for d in docs] == ["b", "a", "c"] and code == 1
    assert seen == {"b": "pw", "a": "pw", "c": "pw"}
    assert "pybridge: a: WARNING: remote warning" in err and "pybridge: c: Failure: Code" in err
    code, *_ = run(["--computer-name", "a", "-d", DN, "--no-html-report"], statuses={"a": "Skipped"})
    assert code == 3


def test_graph_format_is_tagged_too():
    code, out, _, _ = run(["--computer-name", "aadc01", DN, "--format", "graph", "--no-html-report"])
    doc = json.loads(out)
    assert code == 0 and doc["computerName"] == "aadc01" and "provisioningSteps" in doc


def test_passwords_never_from_argv():
    with pytest.raises(SystemExit) as exc:
        parser().parse_args(["--computer-name", "a", "--password", "hunter2"])
    assert exc.value.code == 2


def test_prompted_once_per_account_only_on_a_terminal(tmp_path):
    remote, _ = parse({"defaults": {"auth": "ntlm", "username": "CONTOSO\\svc"}, "servers": {"a": {}, "b": {}}},
                      base_dir=tmp_path, check_secrets=True)
    prompts: list[str] = []
    code, _, _, seen = run(["--computer-name", "a,b", "-d", DN, "--no-html-report"], remote=remote, stdin=Tty(),
                           prompts=prompts)
    assert code == 0 and len(prompts) == 1 and seen == {"a": "typed-password", "b": "typed-password"}
    code, out, err, _ = run(["--computer-name", "a", "-d", DN], remote=remote)
    assert code == 2 and out == "" and "--password-env" in err
    # Kerberos without a terminal falls back to the ticket cache
    code, _, _, seen = run(["--computer-name", "a", "-d", DN, "--auth", "kerberos", "--no-html-report"],
                           remote=remote)
    assert code == 0 and seen == {"a": None}


@pytest.mark.parametrize("argv,needle", [
    (["--computer-name", "a", "--what-if", "-d", DN], "--what-if"),
    (["--computer-name", "a", "--wait", "5", "-d", DN], "--wait"),
    (["--computer-name", "a"], "distinguished name is required"),
    (["--computer-name", "a", DN, "-d", DN], "give the DN once"),
    (["--computer-name", "a", "-d", DN, "--password-env", "NOT_SET_ANYWHERE_X"], "NOT_SET_ANYWHERE_X"),
    (["--computer-name", "a", "-d", DN, "--ca-file", "/nonexistent/ca.pem"], "--ca-file"),
    (["--computer-name", "a", "-d", DN, "--no-ssl", "--auth", "basic", "--username", "u"], "--allow-unencrypted"),
    (["--computer-name", "a", "-d", DN, "--auth", "credssp", "--username", "u"], None),
])
def test_usage_errors_exit_2_and_print_nothing_on_stdout(argv, needle):
    # numbers out of range (--port 0, --operation-timeout 0, NaN) are refused by the parser's type
    # functions: tests/unit/test_cli_args.py
    import importlib.util
    if needle is None:
        if importlib.util.find_spec("requests_credssp") is not None:
            pytest.skip("requests-credssp is installed here")
        needle = "requests-credssp"
    code, out, err, _ = run(argv)
    assert code == 2 and out == "" and needle in err


def test_compare_flag_prints_differences_on_stderr():
    code, out, err, _ = run(["--computer-name", "a,b", "-d", DN, "--no-html-report", "--compare", "--progress",
                             "none"], statuses={"b": "Failure"})
    assert code == 1 and len(out.splitlines()) == 2
    assert "StatusInfo / Status" in err and "Compared 2 results: a, b" in err
    _, _, err, _ = run(["--computer-name", "a", "-d", DN, "--no-html-report", "--compare"])
    assert "--compare needs at least two servers" in err


def test_progress_modes():
    _, _, err, _ = run(["--computer-name", "a", "-d", DN, "--no-html-report", "--progress", "json"])
    events = [json.loads(line.split(" ", 1)[1]) for line in err.splitlines() if line.startswith("PYBRIDGE-PROGRESS")]
    assert [e["stage"] for e in events] == ["connect", "invoke", "done"] and events[0]["computer"] == "a"


def test_compare_subcommand_is_registered():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command")
    add_compare_parser(sub)
    ns = p.parse_args(["compare", "a.json", "-", "--format", "json"])
    assert ns.results == ["a.json", "-"] and ns.compare_format == "json"


# -- classification of transport failures -------------------------------------------------------------------------
def classify(exc: BaseException) -> RemoteError:
    mapped = from_requests_error(exc, computer_name="aadc01", endpoint="https://aadc01:5986/wsman", stage="Connect")
    assert mapped is not None
    return mapped


def test_requests_failures_are_classified():
    refused = requests.exceptions.ConnectionError(
        "HTTPSConnectionPool(host='aadc01', port=5986): Max retries exceeded with url: /wsman (Caused by "
        "NewConnectionError('<urllib3.connection.HTTPSConnection object at 0x7f>: Failed to establish a new "
        "connection: [Errno 111] Connection refused'))")
    e = classify(refused)
    assert e.error_code == "RemoteHostUnreachable" and e.retriable and e.message.endswith("[Errno 111] Connection refused")
    tls = requests.exceptions.SSLError("... [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to "
                                       "get local issuer certificate (_ssl.c:1006)')))")
    e = classify(tls)
    assert e.error_code == "RemoteTlsValidationFailed" and not e.retriable
    assert "unable to get local issuer certificate" in e.message
    assert classify(requests.exceptions.SSLError("[SSL: WRONG_VERSION_NUMBER] wrong version number")).error_code == \
        "RemoteProtocolError"
    assert classify(requests.exceptions.ReadTimeout("read timed out")).error_code == "RemoteTimeout"
    assert classify(requests.exceptions.ConnectTimeout("timed out")).error_code == "RemoteHostUnreachable"
    assert classify(requests.exceptions.RetryError("too many 503 error responses")).error_code == "RemoteThrottled"
    assert from_requests_error(ValueError("x"), computer_name="a", endpoint="e", stage="s") is None


def test_wsman_faults_are_classified():
    assert from_wsman_fault(2150859173, "This user is allowed a maximum number of 5 concurrent shells",
                            computer_name="a", stage="Connect").error_code == "RemoteThrottled"
    assert from_wsman_fault("w:InternalError", "The maximum number of concurrent commands per shell has been "
                            "exceeded.", computer_name="a", stage="Invoke").error_code == "RemoteThrottled"
    assert from_wsman_fault(5, "Access is denied.", computer_name="a", stage="Connect").error_code == \
        "RemoteAccessDenied"
    assert from_wsman_fault(2150858752, "Cannot find the X session configuration", computer_name="a",
                            stage="Connect").error_code == "RemoteWinRMError"


def test_every_remote_error_class_has_a_documented_code():
    import pybridge.remote as remote
    import pybridge.remote.common as common
    classes = [c for c in vars(common).values() if isinstance(c, type) and issubclass(c, RemoteError)]
    assert {c.__name__ for c in classes} <= set(remote.__all__)  # each reachable as pybridge.remote.<Name>
    assert {c.error_code for c in classes} == set(ERROR_CODES)
    for entry in ERROR_CODES.values():
        assert entry.category in ("failure", "nonServiceFailure") and entry.meaning and entry.action


def test_a_string_with_note_properties_is_read_as_the_string():
    """pybridge's module writes its JSON string with note properties (ReportPath...); pypsrp does not decode it."""
    from pypsrp.complex_objects import GenericComplexObject

    from pybridge.remote.psrp import _plain_output

    wrapped = GenericComplexObject()
    wrapped._xml = ('<Obj RefId="0"><S>{"StatusInfo":{"Status":"Success"},"A":"x_x000A_y"}</S>'
                    '<MS><S N="ReportPath">C:\\r.htm</S></MS></Obj>')
    assert _plain_output(wrapped) == '{"StatusInfo":{"Status":"Success"},"A":"x\ny"}'
    assert _plain_output("plain") == "plain" and _plain_output(42) == 42
    other = GenericComplexObject()
    other._xml = '<Obj RefId="0"><MS><S N="x">y</S></MS></Obj>'
    assert _plain_output(other) is other
