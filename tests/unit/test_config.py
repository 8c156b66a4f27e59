from pathlib import Path

import pytest
import yaml

from pybridge import config as configlib
from pybridge.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def minimal(tmp_path: Path) -> dict:
    return {
        "ad_connectors": [{"name": "contoso.com", "servers": ["ldaps://dc1.contoso.com"],
                           "account": {"username": "CONTOSO\\svc", "password_env": "T_AD_PW"},
                           "partitions": ["DC=contoso,DC=com"]}],
        "entra": {"tenant_id": "t", "client_id": "c", "client_secret_env": "T_SECRET"},
        "state": {"path": str(tmp_path / "state.db")},
    }


@pytest.fixture(autouse=True)
def secrets(monkeypatch):
    monkeypatch.setenv("T_AD_PW", "ad-pw-123")
    monkeypatch.setenv("T_SECRET", "client-secret-456")


def test_minimal_configuration_gets_documented_defaults(tmp_path):
    cfg = configlib.parse(minimal(tmp_path), path=tmp_path / "c.yaml")
    ad = cfg.ad_connectors[0]
    assert ad.include == ("DC=contoso,DC=com",)
    assert ad.object_types == ("user", "inetOrgPerson", "group", "contact")
    assert ad.tls.validate is True
    assert cfg.entra.authority_host == "https://login.microsoftonline.com"
    assert cfg.entra.graph_endpoint == "https://graph.microsoft.com"
    assert cfg.sync.source_anchor == "mS-DS-ConsistencyGuid" and cfg.sync.soft_match
    assert ad.password.reveal() == "ad-pw-123"
    assert "ad-pw-123" not in repr(cfg) and "client-secret-456" not in repr(cfg)


def test_every_problem_is_listed_with_its_key_path(tmp_path, monkeypatch):
    monkeypatch.delenv("T_AD_PW")
    data = minimal(tmp_path)
    data["ad_connectors"][0]["servers"] = ["http://dc1", "ldaps://"]
    data["ad_connectors"][0]["tls"] = {"validate": "yes", "ca_file": str(tmp_path / "missing.pem")}
    data["ad_connectors"][0]["partitions"] = ["not a dn"]
    data["ad_connectors"][0]["object_types"] = ["user", "printer"]
    data["entra"]["authority_host"] = "http://login.example"
    data["entra"]["timeout"] = -1
    data["bogus"] = 1
    with pytest.raises(ConfigError) as info:
        configlib.parse(data, path=tmp_path / "c.yaml")
    problems = "\n".join(info.value.problems)
    for expected in ["ad_connectors[0].servers[0]", "ad_connectors[0].servers[1]", "ad_connectors[0].tls.validate",
                     "ad_connectors[0].tls.ca_file", "ad_connectors[0].partitions[0]",
                     "ad_connectors[0].object_types[1]", "entra.authority_host", "entra.timeout", "bogus",
                     "ad_connectors[0].account.password_env: password of CONTOSO\\svc: environment variable T_AD_PW"]:
        assert expected in problems, expected
    assert len(info.value.problems) >= 10


def test_secrets_are_never_read_from_the_yaml(tmp_path):
    data = minimal(tmp_path)
    data["entra"]["client_secret"] = "inline-secret"
    data["ad_connectors"][0]["account"]["password"] = "inline-pw"
    with pytest.raises(ConfigError) as info:
        configlib.parse(data, path=tmp_path / "c.yaml")
    text = str(info.value)
    assert "entra.client_secret: secrets are never read" in text
    assert "ad_connectors[0].account.password: secrets are never read" in text
    assert "inline-secret" not in text and "inline-pw" not in text


def test_secret_from_file_relative_to_config(tmp_path):
    (tmp_path / "pw.txt").write_text("from-file\n")
    (tmp_path / "pw.txt").chmod(0o600)  # secret files are owner-only (pybridge refuses others)
    data = minimal(tmp_path)
    data["ad_connectors"][0]["account"] = {"username": "u", "password_file": "pw.txt"}
    cfg = configlib.parse(data, path=tmp_path / "c.yaml")
    assert cfg.ad_connectors[0].password.reveal() == "from-file"


def test_missing_or_invalid_ca_file(tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    data = minimal(tmp_path)
    data["entra"]["ca_file"] = str(bad)
    data["ad_connectors"][0]["tls"] = {"ca_file": str(tmp_path / "nope.pem")}
    with pytest.raises(ConfigError) as info:
        configlib.parse(data, path=tmp_path / "c.yaml")
    assert any("entra.ca_file" in p and "no PEM certificate" in p for p in info.value.problems)
    assert any("ad_connectors[0].tls.ca_file" in p and "does not exist" in p for p in info.value.problems)


def test_containers_must_lie_in_a_selected_partition(tmp_path):
    data = minimal(tmp_path)
    data["ad_connectors"][0]["containers"] = {"exclude": ["OU=x,DC=fabrikam,DC=com"]}
    with pytest.raises(ConfigError, match=r"containers.exclude\[0\].*not inside any selected partition"):
        configlib.parse(data, path=tmp_path / "c.yaml")


def test_tls_off_warns(tmp_path):
    data = minimal(tmp_path)
    data["ad_connectors"][0]["tls"] = {"validate": False}
    data["entra"]["verify_tls"] = False
    cfg = configlib.parse(data, path=tmp_path / "c.yaml")
    assert len(cfg.warnings) == 2 and all("OFF" in w for w in cfg.warnings)


def test_load_reports_yaml_errors_with_position(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("entra: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        configlib.load(p)


def test_load_order_explicit_then_env(tmp_path, monkeypatch):
    p = tmp_path / "env.yaml"
    p.write_text(yaml.safe_dump(minimal(tmp_path)))
    monkeypatch.setenv("PYBRIDGE_CONFIG", str(p))
    assert configlib.resolve_path(None) == p
    assert configlib.resolve_path("/other.yaml") == Path("/other.yaml")
    assert configlib.load().path == p.resolve()


def test_example_configuration_is_valid_and_documents_every_key(monkeypatch):
    monkeypatch.setenv("PYBRIDGE_AD_PASSWORD", "x")
    monkeypatch.setenv("PYBRIDGE_CLIENT_SECRET", "y")
    example = ROOT / "config" / "pybridge.example.yaml"
    cfg = configlib.load(example)
    assert cfg.ad_connectors[0].servers[0].startswith("ldaps://")
    text = example.read_text()
    for key in ["version", "servers", "validate", "ca_file", "server_name", "connect_timeout", "username",
                "password_env", "password_file", "partitions", "include", "exclude", "object_types", "group",
                "nested", "tenant_id", "client_id", "client_secret_env", "client_secret_file", "certificate",
                "key_password_env", "authority_host", "graph_endpoint", "verify_tls", "timeout", "source_anchor",
                "soft_match", "staging_mode", "path", "directory", "retry", "max_wait", "max_attempts",
                "block_cloud_object_takeover_through_hard_match", "rules", "files", "include_defaults",
                "remote", "max_parallel", "report_directory", "defaults", "transport", "use_ssl", "port", "auth",
                "certificate_file", "certificate_key_file", "validate_tls", "allow_unencrypted", "module_path",
                "configuration_name", "wsman_path", "operation_timeout", "retries", "retry_backoff", "servers",
                "host", "groups", "ssh_key_file", "known_hosts_file"]:
        assert f"{key}:" in text, key


def test_the_example_documents_every_key_the_configuration_accepts():
    """Every key config.py accepts (the key sets its reader checks mappings against) appears in the example
    configuration, so a setting added to the code without its documentation fails here. Keys that are
    refused on purpose (a password in the file) are the only exception."""
    import ast

    source = (ROOT / "pybridge" / "config.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    constants = {t.id: n.value for n in ast.walk(tree) if isinstance(n, ast.Assign)
                 for t in n.targets if isinstance(t, ast.Name)}
    accepted: set[str] = set()
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and getattr(call.func, "attr", None) == "mapping" and len(call.args) >= 3:
            keys = call.args[2]
            if isinstance(keys, ast.IfExp):
                keys = keys.body
            if isinstance(keys, ast.Name):
                keys = constants[keys.id]
            accepted |= {e.value for e in getattr(keys, "elts", []) if isinstance(e, ast.Constant)}
    assert len(accepted) > 60 and "ssh_key_file" in accepted and "group_anchor_property" in accepted
    text = (ROOT / "config" / "pybridge.example.yaml").read_text(encoding="utf-8")
    refused = {"password", "client_secret", "key_password"}  # read only to refuse them: secrets never live in the file
    missing = sorted(k for k in accepted - refused if f"{k}:" not in text)
    assert missing == [], f"config/pybridge.example.yaml does not document: {missing}"
