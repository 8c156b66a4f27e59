"""pybridge.secret.Secret: the one type for every password and key source."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pybridge import config as configlib
from pybridge.remote.settings import ServerOptions
from pybridge.secret import Secret

ROOT = Path(__file__).resolve().parents[2]


def test_reads_an_environment_variable_or_the_first_line_of_a_file(tmp_path, monkeypatch):
    monkeypatch.setenv("PYBRIDGE_TEST_SECRET", "from-env")
    assert Secret(env="PYBRIDGE_TEST_SECRET").reveal() == "from-env"
    f = tmp_path / "pw"
    f.write_text("  from-file  \nsecond line\n", encoding="utf-8")
    f.chmod(0o600)
    assert Secret(file=f).reveal() == "from-file"
    assert Secret(file=f).problem() is None and Secret(env="PYBRIDGE_TEST_SECRET").problem() is None


def test_problems_say_what_is_wrong(tmp_path, monkeypatch):
    monkeypatch.delenv("PYBRIDGE_TEST_UNSET", raising=False)
    assert Secret(env="PYBRIDGE_TEST_UNSET").problem() == "environment variable PYBRIDGE_TEST_UNSET is not set or empty"
    empty = tmp_path / "empty"
    empty.write_text("\n", encoding="utf-8")
    empty.chmod(0o600)
    assert Secret(file=empty).problem() == f"file {empty} is empty"
    assert Secret(file=tmp_path / "nope").problem() == f"file {tmp_path / 'nope'} cannot be read (No such file or directory)"


def test_repr_and_str_never_show_the_value(tmp_path, monkeypatch):
    monkeypatch.setenv("PYBRIDGE_TEST_SECRET", "topsecret")
    f = tmp_path / "pw"
    f.write_text("topsecret\n", encoding="utf-8")
    for s in (Secret(env="PYBRIDGE_TEST_SECRET"), Secret(file=f, label="client secret")):
        assert "topsecret" not in repr(s) and "topsecret" not in str(s)
    assert repr(Secret(env="X", label="client secret")) == "Secret(client secret from environment variable X)"
    assert repr(Secret(file=Path("/etc/pw"))) == "Secret(file /etc/pw)"
    assert "topsecret" not in repr(ServerOptions(password=Secret(env="PYBRIDGE_TEST_SECRET")))


def test_equal_and_hashed_by_source_not_label():
    a, b = Secret(env="PW", label="one"), Secret(env="PW", label="another")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert Secret(env="PW") != Secret(env="OTHER") != Secret(file=Path("PW"))
    assert ServerOptions(password=a) == ServerOptions(password=b)


def test_exactly_one_source():
    with pytest.raises(ValueError):
        Secret()
    with pytest.raises(ValueError):
        Secret(env="A", file=Path("b"))


def test_frozen():
    s = Secret(env="PW")
    with pytest.raises(AttributeError):
        s.env = "OTHER"  # type: ignore[misc]


def test_configuration_and_remote_section_use_the_same_type(tmp_path, monkeypatch):
    data = yaml.safe_load((ROOT / "config" / "pybridge.example.yaml").read_text(encoding="utf-8"))
    data["remote"] = {"defaults": {"username": "u", "password_env": "PYBRIDGE_TEST_SECRET"}}
    cfg = configlib.parse(data, path=ROOT / "config" / "pybridge.example.yaml", check_secrets=False)
    assert all(type(s) is Secret for s in cfg.secrets())
    assert type(cfg.remote.defaults.password) is Secret
    # the frozen configuration compares by value: the same document parses to equal settings
    again = configlib.parse(data, path=ROOT / "config" / "pybridge.example.yaml", check_secrets=False)
    assert cfg.ad_connectors == again.ad_connectors and cfg.entra == again.entra and cfg == again
