"""The caches in the state directory (pybridge/cache.py): trusted only when they are ours, private, for this key
and intact; never followed through links; never written under --what-if; rebuilt when anything they depend on
changes. And what they keep behaves exactly like what they replace: the rules, msal's metadata."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from pybridge import cache as cachelib
from pybridge import config as configlib
from pybridge import engine, platform
from pybridge.cache import FileCache, MsalHttpCache
from pybridge.core.rules import RuleSet

ROOT = Path(__file__).resolve().parents[2]
OTHER_UID = 65534  # nobody


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def state(tmp_path) -> Path:
    d = tmp_path / "state"
    d.mkdir(mode=0o700)
    return d


def give_away(path: Path, monkeypatch) -> None:
    """Make *path* someone else's: really (as root), or as this process sees it (otherwise)."""
    if os.geteuid() == 0:
        os.chown(path, OTHER_UID, OTHER_UID, follow_symlinks=False)
    else:
        me = os.geteuid()
        monkeypatch.setattr(os, "geteuid", lambda: me + 1)


# -- the envelope and the files -------------------------------------------------------------------------------

def test_round_trip_owner_only_under_the_state_directory(state):
    files = FileCache(state)
    assert files.save("rules", "k1", b"payload")
    assert files.load("rules", "k1") == b"payload"
    assert files.path("rules").parent == state / "cache"
    assert mode(state / "cache") == 0o700 and mode(files.path("rules")) == 0o600
    assert [p.name for p in (state / "cache").iterdir()] == ["rules.cache"]  # no temporary file left


def test_another_key_or_kind_is_a_miss(state):
    files = FileCache(state)
    files.save("rules", "k1", b"payload")
    assert files.load("rules", "k2") is None
    files.path("rules").rename(files.path("msal-http"))
    assert files.load("msal-http", "k1") is None


@pytest.mark.parametrize("damage", [
    lambda raw: raw[:-1] + bytes([raw[-1] ^ 1]),  # a flipped bit in the payload
    lambda raw: raw[:-3],  # cut short
    lambda raw: raw + b"x",  # something appended
    lambda raw: raw.replace(b"PYBRIDGE-CACHE/1", b"PYBRIDGE-CACHE/9"),  # another format
    lambda raw: os.urandom(len(raw)),  # random bytes
    lambda raw: b"",  # empty
], ids=["bit-flip", "truncated", "appended", "other-format", "random", "empty"])
def test_a_damaged_file_is_ignored(state, damage):
    files = FileCache(state)
    files.save("rules", "k", b'{"format": 1}')
    path = files.path("rules")
    path.write_bytes(damage(path.read_bytes()))
    assert files.load("rules", "k") is None
    assert files.save("rules", "k", b"again") and files.load("rules", "k") == b"again"  # and rebuilt


@pytest.mark.parametrize("bits", [0o640, 0o604, 0o660])
def test_a_file_others_can_read_or_write_is_ignored(state, bits):
    files = FileCache(state)
    files.save("rules", "k", b"x")
    os.chmod(files.path("rules"), bits)
    assert files.load("rules", "k") is None


def test_a_file_owned_by_someone_else_is_ignored(state, monkeypatch):
    files = FileCache(state)
    files.save("rules", "k", b"x")
    give_away(files.path("rules"), monkeypatch)
    assert files.load("rules", "k") is None


def test_a_cache_directory_that_is_not_private_is_neither_read_nor_written(state, monkeypatch):
    files = FileCache(state)
    files.save("rules", "k", b"x")
    os.chmod(state / "cache", 0o770)
    assert files.load("rules", "k") is None
    assert not files.save("rules", "k", b"y")
    os.chmod(state / "cache", 0o700)
    give_away(state / "cache", monkeypatch)
    assert files.load("rules", "k") is None and not files.save("rules", "k", b"y")


def test_a_symlink_at_the_cache_path_is_not_followed(state, tmp_path):
    files = FileCache(state)
    files.save("rules", "k", b"genuine")
    elsewhere = tmp_path / "elsewhere.cache"
    os.replace(files.path("rules"), elsewhere)  # a valid cache file of ours, but reached through a link
    files.path("rules").symlink_to(elsewhere)
    assert files.load("rules", "k") is None
    assert files.save("rules", "k", b"new")
    assert elsewhere.read_bytes().endswith(b"genuine")  # the link's target is untouched
    assert not files.path("rules").is_symlink() and files.load("rules", "k") == b"new"


def test_a_symlinked_cache_directory_is_not_used(state, tmp_path):
    target = tmp_path / "planted"
    target.mkdir(mode=0o700)
    (state / "cache").symlink_to(target)
    files = FileCache(state)
    assert not files.save("rules", "k", b"x")
    assert list(target.iterdir()) == []
    assert files.load("rules", "k") is None


def test_a_fifo_at_the_cache_path_is_ignored_without_blocking(state):
    files = FileCache(state)
    files.save("rules", "k", b"x")
    files.path("rules").unlink()
    os.mkfifo(files.path("rules"), 0o600)
    assert files.load("rules", "k") is None


def test_what_if_reads_but_never_writes(state):
    FileCache(state).save("rules", "k", b"x")
    readonly = FileCache(state, writable=False)
    assert readonly.load("rules", "k") == b"x"
    assert not readonly.save("rules", "k2", b"y")
    assert FileCache(state).load("rules", "k2") is None


def test_nothing_is_created_before_the_state_directory_exists(tmp_path):
    files = FileCache(tmp_path / "not-yet")
    assert not files.save("rules", "k", b"x")
    assert not (tmp_path / "not-yet").exists()


def test_windows_leaves_ownership_and_access_to_the_acl(state):
    st = os.stat(state)
    assert platform._is_private(st, "win32")
    other = os.stat_result((st.st_mode | 0o077, *tuple(st)[1:4], OTHER_UID, *tuple(st)[5:]))
    assert platform._is_private(other, "win32") and not platform._is_private(other, "linux")


# -- the rules ------------------------------------------------------------------------------------------------

def make_config(tmp_path: Path, monkeypatch, *, rule_files: list[Path] | None = None) -> configlib.Config:
    monkeypatch.setenv("T_PW", "x")
    doc = {"ad_connectors": [{"name": "contoso.com", "servers": ["ldaps://dc"],
                              "account": {"username": "u", "password_env": "T_PW"},
                              "partitions": ["DC=contoso,DC=com"]}],
           "entra": {"tenant_id": "t", "client_id": "c", "client_secret_env": "T_PW"},
           "state": {"path": str(tmp_path / "state" / "pybridge.db")}}
    if rule_files:
        doc["rules"] = {"files": [str(f) for f in rule_files]}
    return configlib.parse(doc)


class Loads:
    """Counts RuleSet.load: a load from the rule files, i.e. a cache miss."""

    def __init__(self, monkeypatch) -> None:
        self.count = 0
        real = RuleSet.load.__func__

        def counting(cls, *a, **kw):
            self.count += 1
            return real(cls, *a, **kw)
        monkeypatch.setattr(RuleSet, "load", classmethod(counting))


def fresh_rules(cfg, persist: bool = True) -> RuleSet:
    engine._RULES.clear()  # a new process
    return engine.load_rules(cfg, persist=persist)


@pytest.fixture
def loads(monkeypatch):
    engine._RULES.clear()
    yield Loads(monkeypatch)
    engine._RULES.clear()


def test_rules_come_from_the_cache_and_behave_the_same(tmp_path, monkeypatch, loads):
    custom = ROOT / "config" / "rules" / "example-custom.yaml"
    cfg = make_config(tmp_path, monkeypatch, rule_files=[custom])
    cfg.state_path.parent.mkdir(mode=0o700)
    loaded = fresh_rules(cfg)
    assert loads.count == 1 and (cfg.state_path.parent / "cache" / "rules.cache").exists()
    cached = fresh_rules(cfg)
    assert loads.count == 1, "the second process loaded the rule files again"
    assert cached.rules == loaded.rules and cached.parameters == loaded.parameters
    assert cached.source_attributes() == loaded.source_attributes()
    attrs = {"cn": ["Jane Doe"], "sAMAccountName": ["jdoe"], "objectGUID": [bytes(range(16))],
             "userAccountControl": [512], "mail": ["jane@contoso.com"], "givenName": ["Jane"], "sn": ["Doe"],
             "proxyAddresses": ["SMTP:jane@contoso.com", "smtp:jd@contoso.com"]}
    ctx = {"Domain.FQDN": "contoso.com", "Domain.Netbios": "CONTOSO", "Connector.Name": "contoso.com"}
    a, b = loaded.inbound("contoso.com", "user", attrs, ctx), cached.inbound("contoso.com", "user", attrs, ctx)
    assert a.values == b.values and a.out_of_scope == b.out_of_scope and a.join_rule == b.join_rule
    mv = {k: v if isinstance(v, list) else [v] for k, v in a.values.items()}
    assert loaded.outbound(a.mv_type, mv, ctx).values == cached.outbound(b.mv_type, mv, ctx).values
    excluded = dict(attrs, isCriticalSystemObject=[True])
    assert loaded.inbound("contoso.com", "user", excluded, ctx).excluded == \
        cached.inbound("contoso.com", "user", excluded, ctx).excluded


def test_a_changed_rule_file_invalidates_the_cache(tmp_path, monkeypatch, loads):
    custom = tmp_path / "rules.yaml"
    text = (ROOT / "config" / "rules" / "example-custom.yaml").read_text()
    custom.write_text(text)
    cfg = make_config(tmp_path, monkeypatch, rule_files=[custom])
    cfg.state_path.parent.mkdir(mode=0o700)
    fresh_rules(cfg)
    custom.write_text(text.replace("precedence: 50", "precedence: 51"))
    rules = fresh_rules(cfg)
    assert loads.count == 2 and rules.get("In from AD - User Custom UPN and displayName").precedence == 51
    fresh_rules(cfg)
    assert loads.count == 2  # and the new content is cached in turn


def test_a_rule_file_added_to_a_directory_invalidates_the_cache(tmp_path, monkeypatch, loads):
    folder = tmp_path / "rules"
    folder.mkdir()
    cfg = make_config(tmp_path, monkeypatch, rule_files=[folder])
    cfg.state_path.parent.mkdir(mode=0o700)
    fresh_rules(cfg)
    (folder / "custom.yaml").write_text((ROOT / "config" / "rules" / "example-custom.yaml").read_text())
    assert fresh_rules(cfg).get("In from AD - User Custom UPN and displayName") is not None
    assert loads.count == 2


def test_another_pybridge_version_invalidates_the_cache(tmp_path, monkeypatch, loads):
    cfg = make_config(tmp_path, monkeypatch)
    cfg.state_path.parent.mkdir(mode=0o700)
    fresh_rules(cfg)
    monkeypatch.setattr(cachelib, "__version__", "99.0")
    fresh_rules(cfg)
    assert loads.count == 2


def test_another_source_anchor_is_another_cache_entry(tmp_path, monkeypatch, loads):
    cfg = make_config(tmp_path, monkeypatch)
    cfg.state_path.parent.mkdir(mode=0o700)
    fresh_rules(cfg)
    from msgspec.structs import replace
    other = replace(cfg, sync=replace(cfg.sync, source_anchor="objectGUID"))
    rules = fresh_rules(other)
    assert loads.count == 2
    join = rules.get("In from AD - User Join")
    assert any("objectGUID" in (f.expression or "") for f in join.flows)


@pytest.mark.parametrize("payload", [
    b"not json", b"[]", b'{"format": 1}', b'{"format": 2, "parameters": {}, "rules": []}',
    json.dumps({"format": 1, "parameters": {}, "rules": [{"name": 1}]}).encode(),
    json.dumps({"format": 1, "parameters": {"x": {"nested": 1}}, "rules": []}).encode(),
], ids=["not-json", "list", "no-rules", "other-format", "bad-rule", "bad-parameter"])
def test_a_cache_of_the_right_key_but_the_wrong_shape_is_not_trusted(tmp_path, monkeypatch, loads, payload):
    cfg = make_config(tmp_path, monkeypatch)
    cfg.state_path.parent.mkdir(mode=0o700)
    fresh_rules(cfg)
    files = FileCache(cfg.state_path.parent)
    raw = files.path("rules").read_bytes()
    key = raw.split(b" ")[2].decode()
    files.save("rules", key, payload)  # a well-formed envelope around something we never write
    rules = fresh_rules(cfg)
    assert loads.count == 2 and len(rules.rules) == len(RuleSet.load().rules)


def test_rules_under_what_if_write_no_cache(tmp_path, monkeypatch, loads):
    cfg = make_config(tmp_path, monkeypatch)
    cfg.state_path.parent.mkdir(mode=0o700)
    fresh_rules(cfg, persist=False)
    assert not (cfg.state_path.parent / "cache").exists()


def test_broken_rules_are_never_cached(tmp_path, monkeypatch, loads):
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: x\n    direction: sideways\n")
    cfg = make_config(tmp_path, monkeypatch, rule_files=[bad])
    cfg.state_path.parent.mkdir(mode=0o700)
    for _ in range(2):
        with pytest.raises(configlib.ConfigError):
            fresh_rules(cfg)
    assert not (cfg.state_path.parent / "cache" / "rules.cache").exists()


# -- msal's HTTP cache ----------------------------------------------------------------------------------------

class FakeResponse:
    def __init__(self, status_code: int, body: dict) -> None:
        self.status_code, self.text, self.headers = status_code, json.dumps(body), {"content-type": "application/json"}

    def raise_for_status(self) -> None:
        pass


class FakeAuthority:
    """What msal asks of an authority for a client-credential token."""

    def __init__(self, authority: str) -> None:
        self.authority = authority
        self.gets: list[str] = []
        self.posts: list[str] = []

    def get(self, url, **kwargs):
        self.gets.append(url)
        base = self.authority
        return FakeResponse(200, {"issuer": f"{base}/v2.0", "token_endpoint": f"{base}/oauth2/v2.0/token",
                                  "authorization_endpoint": f"{base}/oauth2/v2.0/authorize"})

    def post(self, url, **kwargs):
        self.posts.append(url)
        return FakeResponse(200, {"access_token": "token-" + str(len(self.posts)), "token_type": "Bearer",
                                  "expires_in": 3600})

    def close(self):
        pass


def app(authority: FakeAuthority, http_cache):
    import msal
    return msal.ConfidentialClientApplication("client", client_credential="secret", authority=authority.authority,
                                              instance_discovery=False, http_client=authority,
                                              http_cache=http_cache)


def test_msal_reads_the_openid_metadata_once_across_processes(state):
    authority = FakeAuthority("https://login.example/tenant")
    files = FileCache(state)
    first = MsalHttpCache.for_authority(files, authority.authority)
    app(authority, first).acquire_token_for_client(["https://graph.example/.default"])
    first.save()
    assert len(authority.gets) == 1
    text = files.path("msal-http").read_bytes()
    assert b"token-" not in text and b"secret" not in text  # metadata only: no token, no credential
    second = MsalHttpCache.for_authority(files, authority.authority)
    result = app(authority, second).acquire_token_for_client(["https://graph.example/.default"])
    assert "access_token" in result and len(authority.gets) == 1  # the second process asked nothing
    other = MsalHttpCache.for_authority(files, "https://login.example/other-tenant")
    assert len(other) == 0  # another authority: another key


def test_only_fresh_successful_gets_are_kept(state, monkeypatch):
    files = FileCache(state)
    cache = MsalHttpCache(files, "k")
    from msal.individual_cache import _ExpiringMapping
    mapping = _ExpiringMapping(mapping=cache, capacity=1024)
    mapping.set("GET https://a hash=1 2xx", FakeResponse(200, {"a": 1}), 3600)
    mapping.set("GET https://b hash=2 2xx", FakeResponse(200, {"b": 1}), 1)
    mapping.set("POST https://a/token client_id=c scope=s hash=3 429/5xx/Retry-After", FakeResponse(429, {}), 60)
    import time
    now = int(time.time())
    monkeypatch.setattr(time, "time", lambda: now + 5)
    cache.save()
    doc = json.loads(files.load(MsalHttpCache.KIND, "k"))
    assert list(doc["entries"]) == ["GET https://a hash=1 2xx"]
    again = MsalHttpCache(files, "k")
    assert json.loads(_ExpiringMapping(mapping=again)["GET https://a hash=1 2xx"].text) == {"a": 1}


@pytest.mark.parametrize("entry", [
    {"status": 200, "text": "{}", "headers": {}, "created_at": 0, "expires_at": 10 ** 12},  # for ever
    {"status": 500, "text": "{}", "headers": {}},  # an error answer
    {"status": 200, "text": 5, "headers": {}},  # not msal's shape
    {"status": 200, "text": "{}", "headers": {"a": ["b"]}},
], ids=["eternal", "error", "text-not-str", "header-not-str"])
def test_entries_msal_would_not_have_written_are_dropped(state, entry):
    import time
    now = int(time.time())
    files = FileCache(state)
    entry = {"created_at": now, "expires_at": now + 60, **entry}
    files.save(MsalHttpCache.KIND, "k", json.dumps({"entries": {"GET https://x hash=1 2xx": entry}}).encode())
    assert len(MsalHttpCache(files, "k")) == 0


def test_the_http_cache_is_not_written_under_what_if(state):
    authority = FakeAuthority("https://login.example/tenant")
    cache = MsalHttpCache.for_authority(FileCache(state, writable=False), authority.authority)
    app(authority, cache).acquire_token_for_client(["https://graph.example/.default"])
    cache.save()
    assert not (state / "cache").exists()


@pytest.mark.parametrize("how", ["someone else's", "writable by others"])
def test_a_state_directory_the_state_would_refuse_gets_no_cache_and_its_cache_is_not_read(state, monkeypatch, how):
    kept = FileCache(state)
    assert kept.save("rules", "k1", b"payload") and kept.load("rules", "k1") == b"payload"
    if how == "someone else's":
        give_away(state, monkeypatch)
    else:
        os.chmod(state, 0o777)
    assert FileCache(state).load("rules", "k1") is None  # what lies there is not trusted
    fresh = state / "fresh"
    fresh.mkdir(mode=0o700)
    if how == "someone else's":
        give_away(fresh, monkeypatch)
    else:
        os.chmod(fresh, 0o777)
    assert not FileCache(fresh).save("rules", "k1", b"payload")
    assert list(fresh.iterdir()) == []  # nothing created in it


# -- the configuration's parse, in the user's cache directory -----------------------------------------------

CONFIG_TEXT = """\
ad_connectors:
  - name: contoso.com
    servers: [ldaps://dc]
    account: {username: u, password_env: T_PW}
    partitions: [DC=contoso,DC=com]
entra: {tenant_id: t, client_id: c, client_secret_env: T_PW}
state: {path: state/pybridge.db}
"""


@pytest.fixture
def user_cache(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "cache-home"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.setenv("T_PW", "pw-123")
    return home / "pybridge"


class Parses:
    """Counts the configuration's YAML parses (a cache miss)."""

    def __init__(self, monkeypatch) -> None:
        self.count = 0
        real = configlib._parse_yaml

        def counting(*a, **kw):
            self.count += 1
            return real(*a, **kw)
        monkeypatch.setattr(configlib, "_parse_yaml", counting)


def write_config(tmp_path: Path, text: str = CONFIG_TEXT) -> Path:
    path = tmp_path / "pybridge.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_unchanged_configuration_is_not_parsed_again_and_reads_the_same(tmp_path, user_cache, monkeypatch):
    path = write_config(tmp_path)
    parses = Parses(monkeypatch)
    first = configlib.load(path, keep_parse=True)
    kept = list(user_cache.glob("config-*.cache"))
    assert parses.count == 1 and len(kept) == 1 and mode(kept[0]) == 0o600 and mode(user_cache) == 0o700
    assert b"pw-123" not in kept[0].read_bytes()  # secrets come from the variable, never from the file
    again = configlib.load(path, keep_parse=True)
    assert parses.count == 1 and again == first
    assert again.state_path == tmp_path / "state" / "pybridge.db"  # relative paths: still the file's directory


def test_any_change_to_the_file_is_read_from_the_yaml(tmp_path, user_cache, monkeypatch):
    path = write_config(tmp_path)
    configlib.load(path, keep_parse=True)
    parses = Parses(monkeypatch)
    path.write_text(CONFIG_TEXT.replace("tenant_id: t,", "tenant_id: t2,"), encoding="utf-8")
    assert configlib.load(path, keep_parse=True).entra.tenant_id == "t2" and parses.count == 1


def test_the_checks_run_on_a_kept_parse_too(tmp_path, user_cache, monkeypatch):
    path = write_config(tmp_path)
    configlib.load(path, keep_parse=True)
    monkeypatch.delenv("T_PW")
    with pytest.raises(configlib.ConfigError, match="T_PW"):
        configlib.load(path, keep_parse=True)


def test_what_if_keeps_nothing_but_reads_what_was_kept(tmp_path, user_cache, monkeypatch):
    path = write_config(tmp_path)
    configlib.load(path, keep_parse=False)  # sync --what-if
    assert not user_cache.exists()
    configlib.load(path)  # any other load keeps it
    parses = Parses(monkeypatch)
    configlib.load(path, keep_parse=False)
    assert parses.count == 0


def test_a_file_that_does_not_validate_is_not_kept(tmp_path, user_cache):
    with pytest.raises(configlib.ConfigError):
        configlib.load(write_config(tmp_path, CONFIG_TEXT.replace("entra:", "entra_typo:")), keep_parse=True)
    assert not list(user_cache.glob("config-*.cache"))


def test_only_what_json_gives_back_exactly_is_kept():
    import datetime as dt
    assert configlib._plain({"a": [1, 2.5, "x", True, None, {"b": {}}]})
    for value in ({"d": dt.date(2024, 1, 1)}, {1: "x"}, {"s": {1, 2}}, {"f": float("inf")}, {"t": (1,)},
                  {"b": b"x"}):
        assert not configlib._plain(value)


@pytest.mark.parametrize("payload", [b"[1, 2]", b"{not json", b'{"entra": NaN}'])
def test_a_kept_parse_of_the_wrong_shape_is_not_trusted(tmp_path, user_cache, monkeypatch, payload):
    path = write_config(tmp_path)
    configlib.load(path, keep_parse=True)
    kept = next(user_cache.glob("config-*.cache"))
    head = kept.read_bytes().split(b"\n", 1)[0].split(b" ")
    files = cachelib.user_files(writable=True)
    assert files.save(head[1].decode(), head[2].decode(), payload)  # the right kind and key, a bad payload
    parses = Parses(monkeypatch)
    assert configlib.load(path, keep_parse=True).entra.tenant_id == "t" and parses.count == 1


def test_a_user_cache_directory_others_can_write_is_not_used(tmp_path, user_cache):
    os.chmod(user_cache.parent, 0o777)
    configlib.load(write_config(tmp_path), keep_parse=True)
    assert not user_cache.exists()
