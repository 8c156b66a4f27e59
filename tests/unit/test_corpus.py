"""The bad-input corpus under tests/data/, one test case per entry, without the lab.

dns.json      every DN through pybridge.core.dn: an InvalidDistinguishedName error (a PyBridgeError with a
              bounded message and no raw NUL) or a clean split that normalize()/canonical() keep.
configs.json  every configuration fragment through pybridge.config.parse (or load, for whole documents):
              a ConfigError listing exactly the expected key paths, and through `pybridge sync`: exit 2
              with one JSON result whose ErrorCode is ConfigurationError and which lists every problem.

An entry with "bug" describes what pybridge gets wrong today; it runs as a strict xfail.
tests/integration/test_corpus_lab.py drives the same DNs and directory.json against the lab.
"""
from __future__ import annotations

import copy
import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import yaml

from pybridge import config as configlib
from pybridge.cli import main
from pybridge.core import dn as dnlib
from pybridge.errors import ConfigError, PyBridgeError

DATA = Path(__file__).resolve().parents[1] / "data"
SECRET = "corpus-secret-7c1f0e9a-never-printed"


def load_corpus(name: str) -> list[dict[str, Any]]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def expand_dn(entry: dict[str, Any]) -> str:
    pad = entry.get("pad")
    return entry["dn"].replace("@@PAD@@", pad["unit"] * pad["times"]) if pad else entry["dn"]


def corpus_params(name: str, key: str, bug_exc: type[BaseException] = AssertionError) -> list:
    out = []
    for i, entry in enumerate(load_corpus(name)):
        label = f"{i:02d}-{entry[key] if key == 'name' else entry['why']}"[:60]
        marks = [pytest.mark.xfail(strict=True, raises=bug_exc, reason="BUG: " + entry["bug"])] \
            if entry.get("bug") else []
        out.append(pytest.param(entry, id=label, marks=marks))
    return out


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(list(args))
    except Exception as exc:  # noqa: BLE001 - a traceback for the user
        raise AssertionError(f"main() raised {type(exc).__name__}: {exc}") from exc
    return code, out.getvalue(), err.getvalue()


# -- DNs --------------------------------------------------------------------------------------------------

def test_the_dn_corpus_covers_what_the_issue_lists():
    entries = load_corpus("dns.json")
    dns = [expand_dn(e) for e in entries]
    assert "" in dns
    assert any(len(d) >= 65536 for d in dns)
    assert any("\x00" in d for d in dns)
    assert any(not d.isascii() for d in dns)
    assert all(e["expect"] in ("InvalidDistinguishedName", "valid") and e["why"] for e in entries)
    for special in ',+"\\<>;=':
        assert any(f"\\{special}" in d for d in dns), special
    for meta in "*()|&!":
        assert any(meta in d for d in dns), meta
    assert any("$(" in d for d in dns) and any("`" in d for d in dns)


@pytest.mark.parametrize("entry", corpus_params("dns.json", "why"))
def test_dn_corpus_through_pybridge_core_dn(entry):
    text = expand_dn(entry)
    if entry["expect"] == "InvalidDistinguishedName":
        with pytest.raises(dnlib.InvalidDnError) as info:
            dnlib.split(text)
        assert info.value.error_code == "InvalidDistinguishedName"
        assert isinstance(info.value, PyBridgeError)
        assert "\x00" not in info.value.message
        assert len(info.value.message) <= min(len(text), 20000) + 400
        for fn in (dnlib.canonical, dnlib.normalize):
            with pytest.raises(dnlib.InvalidDnError):
                fn(text)
        return
    try:
        rdns = dnlib.split(text)
    except dnlib.InvalidDnError as exc:
        raise AssertionError(f"valid DN refused: {exc.message}") from exc
    assert rdns and all(a and a == a.lower() for rdn in rdns for a, _ in rdn)
    normal = dnlib.normalize(text)
    assert dnlib.split(normal) == rdns
    key = dnlib.canonical(text)
    assert dnlib.canonical(key) == key == dnlib.canonical(normal)
    assert dnlib.is_descendant(text, text)


# -- configurations --------------------------------------------------------------------------------------

@pytest.fixture
def files(tmp_path):
    from pybridge_lab.ca import create_ca
    ca = create_ca(tmp_path / "ca")
    (tmp_path / "secret").write_text(SECRET + "\n")
    (tmp_path / "secret").chmod(0o600)
    (tmp_path / "empty").write_text("")
    (tmp_path / "not.pem").write_text("hello, I am not a certificate\n")
    (tmp_path / "binary.pem").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "key-only.pem").write_bytes(ca.key.read_bytes())
    (tmp_path / "a-directory").mkdir()
    return {"{ca}": str(ca.cert), "{secret}": str(tmp_path / "secret"), "{empty}": str(tmp_path / "empty"),
            "{not_pem}": str(tmp_path / "not.pem"), "{binary}": str(tmp_path / "binary.pem"),
            "{key_only}": str(tmp_path / "key-only.pem"), "{dir}": str(tmp_path / "a-directory"),
            "{missing}": str(tmp_path / "does-not-exist.pem"), "{tmp}": str(tmp_path)}


def base_config(files: dict[str, str]) -> dict[str, Any]:
    """A valid configuration; its servers are closed loopback ports, so that nothing leaves the machine."""
    return {
        "version": 1,
        "ad_connectors": [{"name": "contoso.com", "servers": ["ldaps://127.0.0.1:1"],
                           "tls": {"validate": True, "ca_file": files["{ca}"]},
                           "account": {"username": "CONTOSO\\svc-pybridge", "password_file": files["{secret}"]},
                           "partitions": ["DC=contoso,DC=com"]}],
        "entra": {"tenant_id": "00000000-0000-0000-0000-000000000001", "client_id": "app",
                  "client_secret_file": files["{secret}"], "authority_host": "https://127.0.0.1:9",
                  "graph_endpoint": "https://127.0.0.1:9"},
        "state": {"path": str(Path(files["{tmp}"]) / "state" / "pybridge.db")},
        "report": {"directory": str(Path(files["{tmp}"]) / "reports")},
    }


def _fill(value: Any, files: dict[str, str]) -> Any:
    if isinstance(value, str):
        for k, v in files.items():
            value = value.replace(k, v)
        return value
    if isinstance(value, list):
        return [_fill(v, files) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, files) for k, v in value.items()}
    return value


def _node(cfg: Any, dotted: str) -> tuple[Any, str | int]:
    keys = dotted.split(".")
    node = cfg
    for k in keys[:-1]:
        node = node[int(k)] if isinstance(node, list) else node.setdefault(k, {})
    last = keys[-1]
    return node, int(last) if isinstance(node, list) else last


def build(entry: dict[str, Any], files: dict[str, str]) -> Any:
    cfg = base_config(files)
    for dotted, value in entry.get("set", {}).items():
        node, key = _node(cfg, dotted)
        if isinstance(value, str) and value.startswith("@copy "):
            source, skey = _node(cfg, value[len("@copy "):])
            value = copy.deepcopy(source[skey])
        value = _fill(value, files)
        if isinstance(node, list) and key == len(node):
            node.append(value)
        else:
            node[key] = value
    for dotted, text in entry.get("set_yaml", {}).items():
        node, key = _node(cfg, dotted)
        node[key] = yaml.safe_load(text)
    for dotted in entry.get("delete", []):
        node, key = _node(cfg, dotted)
        del node[key]
    return cfg


def write_config(entry: dict[str, Any], files: dict[str, str], tmp_path: Path) -> Path:
    path = tmp_path / "pybridge.yaml"
    if "raw" in entry:
        path.write_text(entry["raw"], encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(build(entry, files), allow_unicode=True), encoding="utf-8")
    return path


def key_path(problem: str) -> str:
    return problem.split(": ", 1)[0]


def assert_problems_match(problems: list[str], expected: list[str]) -> None:
    keys = [key_path(p) for p in problems]
    matches = lambda k, e: k == e or k.startswith(e + " ")  # noqa: E731 - "(yaml) at line 3, column 1"
    assert problems, "a ConfigError without problems"
    for e in expected:
        assert any(matches(k, e) for k in keys), f"no problem at {e!r}: {problems}"
    for k in keys:
        assert any(matches(k, e) for e in expected), f"unexpected problem {k!r}: {problems}"


def test_the_config_corpus_covers_what_the_issue_lists():
    names = {e["name"] for e in load_corpus("configs.json")}
    for wanted in ("servers-not-a-list", "unknown-top-level-key", "password-missing", "client-secret-missing",
                   "server-http", "authority-http", "ad-ca-missing", "ad-ca-not-pem", "entra-ca-missing", "not-yaml"):
        assert wanted in names


@pytest.mark.parametrize("entry", corpus_params("configs.json", "name"))
def test_config_corpus_through_config_parse(entry, files, tmp_path, monkeypatch):
    monkeypatch.delenv("PYBRIDGE_CORPUS_UNSET", raising=False)
    path = write_config(entry, files, tmp_path)
    try:
        if "raw" in entry:
            configlib.load(path)
        else:
            configlib.parse(build(entry, files), path=path)
    except ConfigError as exc:
        assert_problems_match(exc.problems, entry["problems"])
        assert SECRET not in str(exc)
        return
    except Exception as exc:  # noqa: BLE001
        raise AssertionError(f"config.parse raised {type(exc).__name__}: {exc}") from exc
    raise AssertionError(f"accepted; expected problems at {entry['problems']}")


@pytest.mark.parametrize("entry", [p for p in corpus_params("configs.json", "name") if not p.values[0].get("bug")])
def test_config_corpus_through_the_cli(entry, files, tmp_path, monkeypatch):
    """Exit 2 and one ConfigurationError result listing every problem (entries with a bug are left to the
    test above: the CLI would go on and try to reach the configured servers)."""
    monkeypatch.delenv("PYBRIDGE_CORPUS_UNSET", raising=False)
    path = write_config(entry, files, tmp_path)
    code, out, err = run("sync", "--config", str(path), "CN=Jane Doe,OU=Users,DC=contoso,DC=com")
    assert code == 2, (out, err)
    assert "Traceback" not in err and "configuration error" in err
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1
    doc = json.loads(lines[0])
    info = doc["StatusInfo"]
    assert info["Status"] == "Failure" and info["ErrorCode"] == "ConfigurationError"
    details = info["AdditionalDetails"] or ""
    for expected in entry["problems"]:
        assert expected in details, (expected, details)
    assert all(s["Status"] == "Skipped" for s in doc["ProvisioningSteps"])
    assert SECRET not in out + err
    assert not (tmp_path / "state").exists()  # nothing was created for a run that could not start
