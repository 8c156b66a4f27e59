"""The DN argument of `pybridge sync`, resolved in one place for the local and the remote path."""
from __future__ import annotations

import argparse
import io
import json
from contextlib import redirect_stderr, redirect_stdout

import pytest

from pybridge.cli import main
from pybridge.cli_args import resolve_dn
from pybridge.errors import UsageError
from pybridge.remote import Streams
from pybridge.remote.cli import add_sync_arguments, run_sync
from pybridge.remote.settings import RemoteSettings

DN = "CN=Jane Doe,OU=Corp,DC=contoso,DC=com"
ONCE = "give the DN once (positional or --distinguished-name)"
REQUIRED = "the distinguished name is required (--distinguished-name DN)"


@pytest.mark.parametrize("option,positional", [(DN, None), (None, DN)])
def test_either_spelling_gives_the_dn(option, positional):
    assert resolve_dn(option, positional) == DN


@pytest.mark.parametrize("option,positional,allow_blank,message", [
    (DN, DN, True, ONCE), ("", "", True, ONCE), (None, None, True, REQUIRED), (None, None, False, REQUIRED),
    ("", None, False, REQUIRED), (None, " \t", False, REQUIRED),
])
def test_both_or_none_is_a_usage_error(option, positional, allow_blank, message):
    with pytest.raises(UsageError) as err:
        resolve_dn(option, positional, allow_blank=allow_blank)
    assert str(err.value) == message


def test_a_blank_dn_is_left_to_the_dn_check_when_allowed():
    assert resolve_dn("", None) == "" and resolve_dn(None, "  ") == "  "


def test_undecodable_bytes_become_visible_escapes():
    raw = b"CN=J\xe9r\xf4me,DC=contoso,DC=com".decode("utf-8", "surrogateescape")  # how argv delivers them
    assert resolve_dn(raw, None) == "CN=J\\udce9r\\udcf4me,DC=contoso,DC=com"
    assert resolve_dn(None, "CN=Zoë,DC=contoso,DC=com") == "CN=Zoë,DC=contoso,DC=com"  # valid UTF-8 untouched


# -- both paths print the same messages with exit code 2 --------------------------------------------------

def _local(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["sync", *argv])
    return code, out.getvalue(), err.getvalue()


class _Recorder:
    """A remote session that remembers the DN it was asked to sync."""

    seen: list[str] = []

    def __init__(self, *_: object) -> None:
        pass

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def sync(self, request):  # type: ignore[no-untyped-def]
        _Recorder.seen.append(request.distinguished_name)
        return Streams(stage="Done", output=[json.dumps({"StatusInfo": {"Status": "Success"}})])

    def read_report(self, **_: object):  # type: ignore[no-untyped-def]
        raise AssertionError("no report")


def _remote(*argv: str) -> tuple[int, str, str]:
    p = argparse.ArgumentParser(prog="pybridge sync")
    p.add_argument("dn_positional", nargs="?")
    p.add_argument("--distinguished-name", "-d", dest="dn")
    p.add_argument("--no-html-report", action="store_true")
    p.add_argument("--progress", default="none")
    add_sync_arguments(p)
    out, err = io.StringIO(), io.StringIO()
    code = run_sync(p.parse_args(["--computer-name", "aadc01", "--auth", "kerberos", "--no-html-report", *argv]),
                    RemoteSettings(), out=out, err=err, stdin=io.StringIO(), session_factory=_Recorder)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("argv,message", [((), REQUIRED), ((DN, "-d", DN), ONCE)])
def test_local_and_remote_refuse_alike(argv, message):
    for run in (_local, _remote):
        code, out, err = run(*argv)
        assert (code, out, err) == (2, "", f"pybridge: error: {message}\n"), run.__name__


def test_only_the_remote_path_refuses_a_blank_dn():
    code, _, err = _remote("-d", " ")
    assert code == 2 and err == f"pybridge: error: {REQUIRED}\n"


def test_the_remote_path_sends_the_escaped_dn():
    _Recorder.seen.clear()
    raw = b"CN=J\xe9r\xf4me,DC=contoso,DC=com".decode("utf-8", "surrogateescape")
    code, out, _ = _remote(raw)
    assert code == 0 and json.loads(out)["ComputerName"] == "aadc01"
    assert _Recorder.seen == ["CN=J\\udce9r\\udcf4me,DC=contoso,DC=com"]


# -- numeric options: finite and bounded, refused by the parser (exit 2) before anything runs ---------------

def _main(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse's error()
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


EXAMPLE = str(__import__("pathlib").Path(__file__).resolve().parents[2] / "config" / "pybridge.example.yaml")
REMOTE = ["sync", DN, "--computer-name", "aadc01"]


@pytest.mark.parametrize("argv,option", [
    (["sync", DN, "--config", EXAMPLE, "--wait", "nan"], "--wait"),  # main: accepted, then waits forever
    (["sync", DN, "--config", EXAMPLE, "--wait", "inf"], "--wait"),
    (["sync", DN, "--config", EXAMPLE, "--wait", "-5"], "--wait"),
    (["sync", DN, "--config", EXAMPLE, "--wait", "1e300"], "--wait"),
    (["history", "list", "--config", EXAMPLE, "--limit", "99999999999999999999"], "--limit"),  # main: traceback
    (["history", "list", "--config", EXAMPLE, "--limit", "0"], "--limit"),
    ([*REMOTE, "--connect-timeout", "nan"], "--connect-timeout"),  # main: accepted
    ([*REMOTE, "--operation-timeout", "0"], "--operation-timeout"),
    ([*REMOTE, "--operation-timeout", "nan"], "--operation-timeout"),
    ([*REMOTE, "--port", "0"], "--port"),
    ([*REMOTE, "--port", "65536"], "--port"),
    ([*REMOTE, "--retries", "-1"], "--retries"),
    ([*REMOTE, "--retries", "99999999999999999999"], "--retries"),
    ([*REMOTE, "--max-parallel", "0"], "--max-parallel"),
    ([*REMOTE, "--max-parallel", "1000000000"], "--max-parallel"),
])
def test_numeric_options_must_be_finite_and_in_range(argv, option, monkeypatch):
    monkeypatch.delenv("PYBRIDGE_CONFIG", raising=False)
    code, out, err = _main(*argv)
    assert code == 2 and out == "", (code, out, err)
    assert f"argument {option}" in err and "Traceback" not in err


@pytest.mark.parametrize("text,value", [("0", 0.0), ("2.5", 2.5), ("86400", 86400.0)])
def test_seconds_within_bounds_are_read(text, value):
    from pybridge.cli_args import seconds
    assert seconds()(text) == value


def test_integer_bounds_are_inclusive_and_leading_zeros_are_digits_not_size():
    from pybridge.cli_args import integer
    read = integer(minimum=1, maximum=65535)
    assert read("1") == 1 and read("65535") == 65535 and read("000443") == 443
    for bad in ("0", "65536", "x", "1.5", "nan"):
        with pytest.raises(argparse.ArgumentTypeError):
            read(bad)


def test_nan_as_the_in_process_wait_is_refused(tmp_path):
    """The in-process API gets the same answer as the command line: NaN never becomes a deadline."""
    from pybridge import config as configlib
    from pybridge.scheduler import SyncLock
    cfg = configlib.parse(__import__("yaml").safe_load(open(EXAMPLE, encoding="utf-8")),
                          path=__import__("pathlib").Path(EXAMPLE), check_secrets=False)
    with pytest.raises(UsageError, match="NaN"):
        SyncLock(cfg, wait=float("nan"))


@pytest.mark.parametrize("argv", [
    ["rules", "test", "--config", EXAMPLE, "-e", "[sn]", "--attributes", "/dev/zero"],
    ["compare", "/dev/zero", "/dev/zero"],
])
def test_endless_inputs_are_read_only_up_to_a_limit(argv):
    """`rules test --attributes /dev/zero` and `compare /dev/zero x` read until memory ran out; in a child
    process with an address-space limit, so that a regression fails the test, not the machine."""
    import resource
    import subprocess
    import sys

    def limit():  # pragma: no cover - runs in the child
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
    proc = subprocess.run([sys.executable, "-m", "pybridge", *argv], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL, preexec_fn=limit)
    assert proc.returncode == 2 and proc.stdout == "", (proc.returncode, proc.stderr[-2000:])
    assert "more than" in proc.stderr and "Traceback" not in proc.stderr
