"""Hostile and careless configuration: YAML bombs, endless files, FIFOs, secret files others can read.

Each attack is a configuration error (exit 2, a clear message, and for `pybridge sync` the one JSON
result the contract promises), reached at once: pybridge reads only regular files of bounded size,
walks YAML's events with limits on depth, aliases and expansion before building anything
(pybridge.yamlcheck), and reads secrets only from owner-only files (pybridge.secret).

The attacks that would hang or exhaust memory on an unprotected pybridge run as real processes with
a generous timeout and an address-space limit, so that a regression fails the test instead of the
machine.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pybridge import config as configlib
from pybridge import settings_reader, yamlcheck
from pybridge.errors import ConfigError
from pybridge.secret import Secret

ROOT = Path(__file__).resolve().parents[2]
DN = "CN=Jane Doe,OU=Users,OU=Corp,DC=contoso,DC=com"
LAUGHS = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{c}: &{c} [{','.join(['*' + p] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi")])


def base(tmp_path: Path, **extra) -> dict:
    pw = tmp_path / "pw"
    pw.write_text("secret\n")
    pw.chmod(0o600)
    doc = {
        "version": 1,
        "ad_connectors": [{"name": "contoso.com", "servers": ["ldaps://127.0.0.1:1"],
                           "account": {"username": "CONTOSO\\svc", "password_file": str(pw)},
                           "partitions": ["DC=contoso,DC=com"]}],
        "entra": {"tenant_id": "t", "client_id": "c", "client_secret_file": str(pw),
                  "authority_host": "https://127.0.0.1:9", "graph_endpoint": "https://127.0.0.1:9"},
        "state": {"path": str(tmp_path / "state" / "pybridge.db")},
    }
    doc.update(extra)
    return doc


def write(tmp_path: Path, doc: dict | str, name: str = "pybridge.yaml") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc), encoding="utf-8")
    return path


def pybridge(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    def limit() -> None:  # pragma: no cover - runs in the child
        resource.setrlimit(resource.RLIMIT_AS, (1 << 31, 1 << 31))  # 2 GiB: a bomb fails, not the machine
    return subprocess.run([sys.executable, "-m", "pybridge", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL, preexec_fn=limit,
                          env={**os.environ, **(env or {})})


def config_failure(proc: subprocess.CompletedProcess[str]) -> dict:
    """`pybridge sync` refused its configuration: exit 2, one failure result, a message and no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr and "configuration error" in proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1
    doc = json.loads(lines[0])
    assert doc["StatusInfo"]["Status"] == "Failure" and doc["StatusInfo"]["ErrorCode"] == "ConfigurationError"
    return doc


# -- the YAML reader ----------------------------------------------------------------------------------

def test_billion_laughs_in_the_configuration_is_refused(tmp_path):
    # the bomb sits where a message would repr it: "unsupported version [...]"
    cfg = write(tmp_path, LAUGHS + "\nversion: *i\n")
    proc = pybridge("sync", "--config", str(cfg), DN)
    config_failure(proc)
    assert "aliases" in proc.stderr


def test_billion_laughs_in_a_rules_file_is_refused(tmp_path):
    rules = tmp_path / "bomb.yaml"
    rules.write_text(LAUGHS + "\nrules:\n  - name: *i\n", encoding="utf-8")
    proc = pybridge("sync", "--config", str(write(tmp_path, base(tmp_path, rules={"files": [str(rules)]}))), DN)
    config_failure(proc)
    assert str(rules) in proc.stderr and "aliases" in proc.stderr


@pytest.mark.parametrize("depth", [500, 50_000])
def test_deep_nesting_is_refused_without_a_recursion_error(tmp_path, depth):
    cfg = write(tmp_path, "version: 1\nsync: " + "[" * depth + "]" * depth + "\n")
    proc = pybridge("sync", "--config", str(cfg), DN)
    config_failure(proc)
    assert "RecursionError" not in proc.stderr and "nest" in proc.stderr


def test_deep_nesting_in_a_rules_file_is_refused(tmp_path):
    rules = tmp_path / "deep.yaml"
    rules.write_text("rules: " + "[" * 500 + "]" * 500 + "\n", encoding="utf-8")
    proc = pybridge("sync", "--config", str(write(tmp_path, base(tmp_path, rules={"files": [str(rules)]}))), DN)
    config_failure(proc)
    assert "nested deeper" in proc.stderr


def test_the_limits_leave_ordinary_documents_alone():
    anchors = "defaults: &d {auth: ntlm, port: 5986}\nservers:\n  a: *d\n  b: {<<: *d, port: 5985}\n"
    assert yamlcheck.parse(anchors)["servers"]["b"] == {"auth": "ntlm", "port": 5985}
    yamlcheck.check((ROOT / "pybridge" / "core" / "rules" / "defaults.yaml").read_text(encoding="utf-8"))
    yamlcheck.check((ROOT / "config" / "pybridge.example.yaml").read_text(encoding="utf-8"))
    deepest = yamlcheck.MAX_DEPTH - 1  # the top-level mapping is one level
    yamlcheck.check("x: " + "[" * deepest + "]" * deepest)
    with pytest.raises(yamlcheck.YamlLimitError):
        yamlcheck.check("x: " + "[" * (deepest + 1) + "]" * (deepest + 1))


def test_an_integer_too_long_to_convert_is_a_configuration_error(tmp_path):
    cfg = write(tmp_path, "version: 1\nsync: {soft_match: " + "9" * 5000 + "}\n")
    with pytest.raises(ConfigError) as info:
        configlib.load(cfg)
    assert "cannot be read" in str(info.value)


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/urandom"])
def test_a_device_as_the_configuration_is_refused_unread(target):
    proc = pybridge("sync", "--config", target, DN)
    config_failure(proc)
    assert f"{target} is not a regular file" in proc.stderr


def test_a_fifo_as_the_configuration_is_refused_without_waiting(tmp_path):
    fifo = tmp_path / "config.fifo"
    os.mkfifo(fifo)
    proc = pybridge("sync", "--config", str(fifo), DN)
    config_failure(proc)
    assert "not a regular file" in proc.stderr


def test_a_configuration_larger_than_the_limit_is_refused_unread(tmp_path):
    cfg = tmp_path / "huge.yaml"
    with open(cfg, "w", encoding="utf-8") as fh:
        fh.write("version: 1\n")
        fh.write(("# " + "x" * 1000 + "\n") * (settings_reader.MAX_CONFIG_BYTES // 1000 + 10))
    with pytest.raises(ConfigError) as info:
        configlib.load(cfg)
    assert "larger than" in str(info.value)


# -- secret files -------------------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["/dev/zero", "fifo"])
def test_a_device_or_fifo_as_password_file_is_refused_without_reading_or_waiting(tmp_path, target):
    if target == "fifo":
        target = str(tmp_path / "pw.fifo")
        os.mkfifo(target)
    doc = base(tmp_path)
    doc["ad_connectors"][0]["account"]["password_file"] = target
    proc = pybridge("sync", "--config", str(write(tmp_path, doc)), DN)
    result = config_failure(proc)
    assert target in result["StatusInfo"]["AdditionalDetails"] and "not a regular file" in proc.stderr


@pytest.mark.parametrize("where", ["ad_connectors.0.account.password_file", "entra.client_secret_file",
                                   "entra.certificate.key_password_file", "remote.defaults.password_file"])
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_a_secret_file_others_can_access_is_refused_with_the_fix(tmp_path, where, mode):
    loose = tmp_path / "loose-secret"
    loose.write_text("secret\n")
    loose.chmod(mode)
    doc = base(tmp_path)
    if where.startswith("entra.certificate"):
        key = tmp_path / "app.pem"
        key.write_text("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n")
        doc["entra"].pop("client_secret_file")
        doc["entra"]["certificate"] = {"file": str(key), "key_password_file": str(loose)}
    elif where.startswith("remote"):
        doc["remote"] = {"defaults": {"password_file": str(loose)}}
    else:
        node: dict = doc
        keys = where.split(".")
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node[k]
        node[keys[-1]] = str(loose)
    with pytest.raises(ConfigError) as info:
        configlib.load(write(tmp_path, doc))
    problem = next(p for p in info.value.problems if str(loose) in p)
    assert f"chmod 600 {loose}" in problem and "owner only" in problem
    loose.chmod(0o600)
    configlib.load(write(tmp_path, doc))  # the fix the message names is enough


def test_a_certificate_file_holding_a_private_key_must_be_owner_only(tmp_path):
    pem = tmp_path / "app.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n"
                   "-----BEGIN PRIVATE KEY-----\ny\n-----END PRIVATE KEY-----\n")
    pem.chmod(0o644)
    doc = base(tmp_path)
    doc["entra"].pop("client_secret_file")
    doc["entra"]["certificate"] = {"file": str(pem)}
    with pytest.raises(ConfigError) as info:
        configlib.load(write(tmp_path, doc))
    assert any(f"chmod 600 {pem}" in p for p in info.value.problems)


def test_a_secret_file_that_is_not_utf8_is_a_configuration_error(tmp_path):
    pw = tmp_path / "latin1"
    pw.write_bytes("pässword\n".encode("latin-1"))
    pw.chmod(0o600)
    doc = base(tmp_path)
    doc["ad_connectors"][0]["account"]["password_file"] = str(pw)
    proc = pybridge("sync", "--config", str(write(tmp_path, doc)), DN)
    result = config_failure(proc)
    assert "not UTF-8" in result["StatusInfo"]["AdditionalDetails"]
    with pytest.raises(ConfigError, match="not UTF-8"):
        Secret(file=pw).reveal()


def test_a_secret_in_a_variable_ending_in_a_line_end_is_the_secret(monkeypatch):
    for value, expected in (("Pa55w.rd\r\n", "Pa55w.rd"), ("Pa55w.rd\n", "Pa55w.rd"), ("Pa55w.rd\r", "Pa55w.rd"),
                            (" Pa55 w.rd \r\n", " Pa55 w.rd ")):  # line ends go; other blanks are the secret's
        monkeypatch.setenv("PYBRIDGE_TEST_CRLF", value)
        assert Secret(env="PYBRIDGE_TEST_CRLF").reveal() == expected
    monkeypatch.setenv("PYBRIDGE_TEST_CRLF", "\r\n")
    assert Secret(env="PYBRIDGE_TEST_CRLF").problem() == "environment variable PYBRIDGE_TEST_CRLF is not set or empty"


def test_a_secret_file_larger_than_a_line_should_be_is_refused_unread(tmp_path):
    big = tmp_path / "big"
    big.write_bytes(b"x" * (1 << 20))
    big.chmod(0o600)
    problem = Secret(file=big).problem()
    assert problem is not None and "larger than" in problem
