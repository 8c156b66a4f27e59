"""The remote: section (read by pybridge.config) and the merge of defaults, server settings and command-line options."""
from __future__ import annotations

from pathlib import Path

import pytest

from pybridge.config import parse_remote as parse
from pybridge.remote.settings import (BUILTIN, MICROSOFT_MODULE_PATH, PYBRIDGE_MODULE_NAME, RemoteSettings,
                                      ServerOptions, expand_names, resolve, system_ca_bundle, verify_argument)
from pybridge.secret import Secret

CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@pytest.fixture
def ca(tmp_path: Path) -> Path:
    p = tmp_path / "ca.pem"
    p.write_text(CA_PEM)
    return p


def full(ca: Path) -> dict:
    return {
        "max_parallel": 4,
        "report_directory": "reports",
        "defaults": {"transport": "psrp", "auth": "kerberos", "username": "CONTOSO\\svc-sync",
                     "password_env": "AADC_PW", "ca_file": str(ca), "connect_timeout": 5, "operation_timeout": 300,
                     "retries": 1, "retry_backoff": 0.5, "module_path": "pybridge"},
        "servers": {"aadc01": {"host": "aadc01.contoso.com"},
                    "aadc02": {"host": "aadc02.contoso.com", "transport": "winrs", "auth": "ntlm", "port": 15986},
                    "legacy": {"use_ssl": False, "auth": "basic", "allow_unencrypted": True, "username": "admin",
                               "password_file": "pw.txt"}},
        "groups": {"sync-servers": ["aadc01", "aadc02"]},
    }


def test_a_full_section_parses_and_every_layer_applies(tmp_path, ca, monkeypatch):
    monkeypatch.setenv("AADC_PW", "x")
    (tmp_path / "pw.txt").write_text("secret\n")
    (tmp_path / "pw.txt").chmod(0o600)  # secret files are owner-only (pybridge refuses others)
    remote, problems = parse(full(ca), base_dir=tmp_path, check_secrets=True)
    assert problems == []
    assert remote.max_parallel == 4 and remote.report_directory == tmp_path / "reports"
    servers, problems, warnings = resolve(remote, ["sync-servers", "legacy"], ServerOptions(connect_timeout=9))
    assert problems == []
    a, b, legacy = servers
    assert (a.name, a.host, a.transport, a.auth, a.port, a.use_ssl) == ("aadc01", "aadc01.contoso.com", "psrp",
                                                                          "kerberos", 5986, True)
    assert a.module_path == PYBRIDGE_MODULE_NAME and a.connect_timeout == 9 and a.operation_timeout == 300
    assert a.password == Secret(env="AADC_PW") and a.ca_file == ca and a.retries == 1
    assert (b.transport, b.auth, b.port) == ("winrs", "ntlm", 15986)
    assert (legacy.use_ssl, legacy.port, legacy.message_encryption) == (False, 5985, "never")
    assert legacy.password == Secret(file=tmp_path / "pw.txt") and legacy.password.reveal() == "secret"
    assert legacy.ca_file is None
    assert any("UNENCRYPTED" in w for w in warnings) and any("ca_file is ignored" in w for w in warnings)


def test_builtin_defaults_are_safe():
    servers, problems, warnings = resolve(RemoteSettings(), ["aadc01.contoso.com"], None)
    s = servers[0]
    assert problems == [] and warnings == []
    assert (s.transport, s.use_ssl, s.port, s.auth, s.validate_tls) == ("psrp", True, 5986, "negotiate", True)
    assert s.module_path == MICROSOFT_MODULE_PATH and s.endpoint == "https://aadc01.contoso.com:5986/wsman"
    assert s.message_encryption == "auto" and s.retries == BUILTIN.retries


def test_every_problem_is_reported_with_its_key_path(tmp_path):
    raw = {"defaults": {"transport": "telnet", "port": 70000, "auth": "digest", "password": "hunter2",
                        "connect_timeout": 0, "retries": 11, "colour": "blue"},
           "servers": {"bad,name": {}, "aadc01": {"password_env": "NOPE_NOT_SET", "ca_file": "missing.pem"}},
           "groups": {"g": [], "aadc01": ["x"]}, "max_parallel": 0, "extra": 1}
    _, problems = parse(raw, base_dir=tmp_path, check_secrets=True)
    text = "\n".join(problems)
    for needle in ("remote.defaults.transport: must be one of psrp, winrs, ssh", "remote.defaults.port:",
                   "remote.defaults.auth:", "remote.defaults.password: passwords are never read",
                   "remote.defaults.connect_timeout:", "remote.defaults.retries:", "remote.defaults.colour: unknown",
                   "remote.servers.bad,name:", "remote.servers.aadc01.password_env: environment variable NOPE_NOT_SET",
                   "remote.servers.aadc01.ca_file: file", "remote.groups.g: must be a non-empty list",
                   "remote.groups.aadc01: a group cannot have the name of a server", "remote.max_parallel:",
                   "remote.extra: unknown key"):
        assert needle in text, needle
    assert "hunter2" not in text


def test_secrets_are_not_checked_when_asked_not_to(tmp_path):
    _, problems = parse({"defaults": {"password_env": "NOPE_NOT_SET"}}, base_dir=tmp_path, check_secrets=False)
    assert problems == []


def test_none_is_an_empty_section(tmp_path):
    remote, problems = parse(None, base_dir=tmp_path, check_secrets=True)
    assert problems == [] and remote == RemoteSettings()


@pytest.mark.parametrize("opts,needle", [
    (ServerOptions(use_ssl=False, auth="basic", username="a"), "--allow-unencrypted"),
    (ServerOptions(use_ssl=False, auth="certificate"), "certificate authentication needs HTTPS"),
    (ServerOptions(auth="certificate"), "needs certificate_file and certificate_key_file"),
    (ServerOptions(auth="ntlm"), "ntlm authentication needs a username"),
    (ServerOptions(auth="basic"), "basic authentication needs a username"),
])
def test_unsafe_or_incomplete_combinations_are_refused(opts, needle):
    servers, problems, _ = resolve(RemoteSettings(), ["aadc01"], opts)
    assert servers == [] and any(needle in p for p in problems), problems


def test_http_with_negotiate_encrypts_messages_and_winrs_negotiate_is_ntlm():
    servers, problems, warnings = resolve(RemoteSettings(), ["a"], ServerOptions(use_ssl=False))
    assert problems == [] and warnings == []
    assert servers[0].message_encryption == "always" and servers[0].port == 5985
    servers, _, _ = resolve(RemoteSettings(), ["a"], ServerOptions(transport="winrs", username="u"))
    assert servers[0].auth == "ntlm"


def test_tls_validation_off_is_warned_and_verify_follows_the_settings(ca):
    servers, _, warnings = resolve(RemoteSettings(), ["a"], ServerOptions(validate_tls=False))
    assert any("validation is OFF" in w for w in warnings) and verify_argument(servers[0]) is False
    servers, _, _ = resolve(RemoteSettings(), ["a"], ServerOptions(ca_file=ca))
    assert verify_argument(servers[0]) == str(ca)
    servers, _, _ = resolve(RemoteSettings(), ["a"], None)
    assert verify_argument(servers[0]) == system_ca_bundle()


def test_names_commas_groups_and_duplicates():
    remote = RemoteSettings(groups={"Sync-Servers": ("aadc01", "aadc02")})
    names, problems = expand_names(remote, ["sync-servers,aadc03", "AADC01", "aadc03"])
    assert names == ["aadc01", "aadc02", "aadc03"] and problems == []
    names, problems = expand_names(remote, ["bad host!"])
    assert names == [] and problems
    assert expand_names(remote, [" , "])[1] == ["--computer-name: no server named"]


def test_server_names_match_case_insensitively_and_keep_their_label(tmp_path):
    remote, _ = parse({"servers": {"AADC01": {"host": "10.0.0.5"}}}, base_dir=tmp_path, check_secrets=False)
    servers, problems, _ = resolve(remote, ["aadc01"], None)
    assert problems == [] and (servers[0].name, servers[0].host) == ("AADC01", "10.0.0.5")


def test_needs_password():
    def one(**kw):
        return resolve(RemoteSettings(), ["a"], ServerOptions(**kw))[0][0]
    assert one(auth="kerberos").needs_password is False
    assert one(auth="negotiate", username="u").needs_password is True
    assert one(auth="basic", username="u").needs_password is True


def test_secret_repr_never_shows_the_value(tmp_path, monkeypatch):
    monkeypatch.setenv("PW_X", "topsecret")
    assert "topsecret" not in repr(Secret(env="PW_X"))
    empty = tmp_path / "empty"
    empty.write_text("")
    empty.chmod(0o600)
    assert "is empty" in Secret(file=empty).problem()
    assert "cannot be read" in Secret(file=tmp_path / "nope").problem()


def test_docs_document_every_key_and_code_and_the_snippet_is_valid(tmp_path):
    import re

    import yaml

    from pybridge.remote import ERROR_CODES
    from pybridge.config import REMOTE_SERVER_KEYS

    text = (Path(__file__).resolve().parents[2] / "docs" / "remote.md").read_text(encoding="utf-8")
    snippet = re.search(r"```yaml\n(.*?)```", text, re.S).group(1)
    raw = yaml.safe_load(snippet)["remote"]
    for key in REMOTE_SERVER_KEYS:
        assert any(key in layer for layer in (raw["defaults"], *raw["servers"].values())), key
    for key in ("max_parallel", "report_directory", "defaults", "servers", "groups"):
        assert key in raw
    (tmp_path / "etc").mkdir()
    _, problems = parse(raw, base_dir=tmp_path, check_secrets=False)
    # only the example's files are missing on this machine
    assert all("does not exist" in p for p in problems), problems
    raw["defaults"]["password_file"] = "x"
    _, problems = parse(raw, base_dir=tmp_path, check_secrets=False)
    assert any("set only one of password_env and password_file" in p for p in problems)
    for entry in ERROR_CODES.values():
        assert f"| `{entry.code}` | {entry.category} | {entry.meaning} | {entry.action} |" in text


@pytest.mark.parametrize("name", ["..", "[", "%", "-", ".", "a..b", "-aadc01", "aadc01-", "aadc_01",
                                  "x" * 64, ("a" * 63 + ".") * 4 + "com", "[10.0.0.1]", "::1]", "%25"])
def test_computer_names_must_be_host_names_or_ip_literals(name):
    """RFC 1123 host names (labels of letters, digits and inner hyphens, at most 63 characters, 253 in all) or
    IP literals; anything else is refused before a connection is tried."""
    names, problems = expand_names(RemoteSettings(), [name])
    assert names == [] and problems == [f"--computer-name: {name!r} is not a host name or address"]


@pytest.mark.parametrize("name", ["aadc01", "AADC01.contoso.com", "aadc01.contoso.com.", "10.0.0.5", "::1",
                                  "[fe80::1]", "fe80::1%eth0", "1aadc", "a" * 63])
def test_host_names_and_ip_literals_are_accepted(name):
    assert expand_names(RemoteSettings(), [name]) == ([name], [])


def test_a_configured_server_name_may_be_an_alias_that_is_no_host_name(tmp_path):
    remote, problems = parse({"servers": {"aadc_01": {"host": "10.0.0.5"}}, "groups": {"all": ["aadc_01"]}},
                             base_dir=tmp_path, check_secrets=False)
    assert problems == [] and expand_names(remote, ["all"]) == (["aadc_01"], [])
    _, problems = parse({"servers": {"..": {}}}, base_dir=tmp_path, check_secrets=False)
    assert problems
    _, problems = parse({"servers": {"a": {"host": "[evil"}}}, base_dir=tmp_path, check_secrets=False)
    assert problems == ["remote.servers.a.host: '[evil' is not a host name or address"]
